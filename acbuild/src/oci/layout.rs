//! The OCI image layout on disk: `oci-layout`, `blobs/sha256/<hex>` (layer, config, manifest)
//! and `index.json` naming the manifest with its platform and
//! `org.opencontainers.image.ref.name`; or the same files as one tar (`oci-archive`).
//!
//! Crash safety of a layout directory: every file appears through `appc::atomic_file`; the
//! blobs are written before `index.json`, which is the commit point, so a reader sees the old
//! index (whose blobs are still there) or the new one (whose blobs are complete). Only after
//! the new index is in place are blobs no index refers to removed. A path that exists but is
//! not a layout (no `oci-layout` file, not an empty directory) is refused, so a wrong `--out`
//! never prunes someone's files.
//!
//! The JSON documents are serialised compactly from structs and sorted maps: their bytes, and
//! so every digest, depend only on the image.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use appc::atomic_file::{AtomicFile, write_atomically};

use super::OciError;
use super::config::{Mapped, Platform};
use super::digest;
use super::layer::Layer;

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'static str,
    digest: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<&'a Platform>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageManifest<'a> {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor<'a>,
    layers: [Descriptor<'a>; 1],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Index<'a> {
    schema_version: u32,
    media_type: &'static str,
    manifests: [Descriptor<'a>; 1],
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// `sha256:…` of the image manifest.
    pub manifest_digest: String,
}

/// The small documents of a layout, serialised.
struct Documents {
    config_digest: String,
    manifest: Vec<u8>,
    manifest_digest: String,
    index: Vec<u8>,
}

fn documents(layer: &Layer, mapped: &Mapped) -> Result<Documents, serde_json::Error> {
    let config_digest = digest::of(&mapped.config);
    let manifest = serde_json::to_vec(&ImageManifest {
        schema_version: 2,
        media_type: MANIFEST_TYPE,
        config: Descriptor {
            media_type: CONFIG_TYPE,
            digest: &config_digest,
            size: mapped.config.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
        },
        layers: [Descriptor {
            media_type: LAYER_TYPE,
            digest: &layer.digest,
            size: layer.size,
            platform: None,
            annotations: BTreeMap::new(),
        }],
        annotations: &mapped.annotations,
    })?;
    let manifest_digest = digest::of(&manifest);
    let index = serde_json::to_vec(&Index {
        schema_version: 2,
        media_type: INDEX_TYPE,
        manifests: [Descriptor {
            media_type: MANIFEST_TYPE,
            digest: &manifest_digest,
            size: manifest.len() as u64,
            platform: Some(&mapped.platform),
            annotations: BTreeMap::from([(
                "org.opencontainers.image.ref.name".to_owned(),
                mapped.ref_name.clone(),
            )]),
        }],
    })?;
    Ok(Documents {
        config_digest,
        manifest,
        manifest_digest,
        index,
    })
}

/// Write the image as a layout directory at `out`, or as one tar there when `archive`.
pub fn write(
    out: &Path,
    layer: &Layer,
    mapped: &Mapped,
    archive: bool,
) -> Result<Written, OciError> {
    let docs = documents(layer, mapped).map_err(|e| OciError::Write {
        path: out.to_path_buf(),
        source: io::Error::other(e),
    })?;
    if archive {
        write_archive(out, layer, mapped, &docs)?;
    } else {
        write_dir(out, layer, mapped, &docs)?;
    }
    Ok(Written {
        manifest_digest: docs.manifest_digest,
    })
}

fn blob_name(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

fn write_dir(out: &Path, layer: &Layer, mapped: &Mapped, docs: &Documents) -> Result<(), OciError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OciError::Write { path, source }
    };
    if out.symlink_metadata().is_ok() {
        let is_layout = out.join("oci-layout").is_file();
        let is_empty = fs::read_dir(out).is_ok_and(|mut d| d.next().is_none());
        if !is_layout && !is_empty {
            return Err(OciError::NotALayout(out.to_path_buf()));
        }
    }
    let blobs = out.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(err(&blobs))?;
    let layout = out.join("oci-layout");
    write_atomically(&layout, OCI_LAYOUT, 0o644).map_err(err(&layout))?;
    let layer_path = blobs.join(blob_name(&layer.digest));
    copy_layer(layer, &layer_path).map_err(err(&layer_path))?;
    for (digest, bytes) in [
        (&docs.config_digest, &mapped.config),
        (&docs.manifest_digest, &docs.manifest),
    ] {
        let path = blobs.join(blob_name(digest));
        write_atomically(&path, bytes, 0o644).map_err(err(&path))?;
    }
    let index = out.join("index.json");
    write_atomically(&index, &docs.index, 0o644).map_err(err(&index))?;
    let keep = [&layer.digest, &docs.config_digest, &docs.manifest_digest].map(|d| blob_name(d));
    prune(&blobs, &keep).map_err(err(&blobs))
}

fn copy_layer(layer: &Layer, dest: &Path) -> io::Result<()> {
    let mut source = &layer.file;
    source.rewind()?;
    let mut f = AtomicFile::create(dest, 0o644)?;
    let n = io::copy(&mut source, &mut f)?;
    if n != layer.size {
        return Err(io::Error::other(format!(
            "the layer's temporary file holds {n} bytes, {} expected",
            layer.size
        )));
    }
    f.commit()
}

/// Remove blobs (64 hex digits, nothing else) that the new index does not reach.
fn prune(blobs: &Path, keep: &[&str]) -> io::Result<()> {
    for entry in fs::read_dir(blobs)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_blob = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if is_blob && !keep.contains(&name) && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

fn write_archive(
    out: &Path,
    layer: &Layer,
    mapped: &Mapped,
    docs: &Documents,
) -> Result<(), OciError> {
    let err = |source| OciError::Write {
        path: out.to_path_buf(),
        source,
    };
    let file = AtomicFile::create(out, 0o644).map_err(err)?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
    let mtime = layer.mtime;
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(size);
        h
    };
    let mut small: Vec<(PathBuf, &[u8])> = vec![
        (PathBuf::from("oci-layout"), OCI_LAYOUT),
        (PathBuf::from("index.json"), &docs.index),
    ];
    for (path, bytes) in small.drain(..) {
        let mut h = header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
        tar.append_data(&mut h, path, bytes).map_err(err)?;
    }
    for dir in ["blobs", "blobs/sha256"] {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        tar.append_data(&mut h, dir, io::empty()).map_err(err)?;
    }
    let mut blobs: Vec<(&str, Option<&[u8]>)> = vec![
        (blob_name(&layer.digest), None),
        (blob_name(&docs.config_digest), Some(&mapped.config)),
        (blob_name(&docs.manifest_digest), Some(&docs.manifest)),
    ];
    blobs.sort();
    for (name, bytes) in blobs {
        let path = format!("blobs/sha256/{name}");
        match bytes {
            Some(bytes) => {
                let mut h = header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
                tar.append_data(&mut h, &path, bytes).map_err(err)?;
            }
            None => {
                let mut source = &layer.file;
                source.rewind().map_err(err)?;
                let mut h = header(tar::EntryType::Regular, 0o644, layer.size);
                tar.append_data(&mut h, &path, io::Read::take(source, layer.size))
                    .map_err(err)?;
            }
        }
    }
    let mut buffered = tar.into_inner().map_err(err)?;
    buffered.flush().map_err(err)?;
    let file = buffered.into_inner().map_err(|e| err(e.into_error()))?;
    file.commit().map_err(err)
}

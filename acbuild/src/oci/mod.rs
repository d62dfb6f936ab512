//! OCI output: an ACI turned into an OCI image layout (or a single-tar `oci-archive`) that
//! podman, containerd, CRI-O, skopeo and umoci read.
//!
//! - [`layer`]: the ACI's rootfs entries, re-headed without the `rootfs/` prefix, as one
//!   deterministic gzip layer; the ACI is hashed again on the way and must match its first read.
//! - [`config`]: the image manifest mapped to an OCI image config, annotations and platform,
//!   with a warning for every field that has no OCI equivalent.
//! - [`layout`]: the blobs, `oci-layout` and `index.json` written crash-safely (index last), or
//!   one tar of them.
//! - [`digest`]: the SHA-256 stream every OCI digest comes from.
//!
//! Entry points: [`convert`] (one ACI → one layout, for `acbuild oci` and after a build) and
//! [`sign`] (the detached signature of the manifest digest, `LAYOUT.sig`).
//!
//! Defends against hostile ACIs: the archive is checked by `appc::aci::read` first, every name
//! is cleaned again while copying (no `..`, nothing outside `rootfs/`), whiteout names (which
//! would delete files in an OCI runtime) are refused, and the second read must hash to the
//! image ID of the first, so a file changed between the reads never yields an image. An output
//! directory that exists and is not an image layout is refused rather than filled or pruned.

pub mod config;
pub mod digest;
pub mod layer;
pub mod layout;

use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use appc::manifest::ImageManifest;
use appc::sign::SecretKey;

/// An output form of `acbuild build --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Format {
    /// `NAME.aci` (and its `.asc`).
    Aci,
    /// `NAME.oci/`, an OCI image layout directory (and `NAME.oci.sig`).
    Oci,
    /// `NAME.oci.tar`, the same layout in one tar (and `NAME.oci.tar.sig`).
    OciArchive,
}

/// How to write OCI output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OciOptions {
    /// One tar (`oci-archive`) instead of a directory.
    pub archive: bool,
    /// Gzip threads of the layer (0 = every core); the bytes are the same for every value.
    pub threads: usize,
    /// Gzip level (6 if `None`).
    pub level: Option<u32>,
}

/// What a conversion wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OciSummary {
    /// The layout directory or archive.
    pub path: PathBuf,
    /// `sha256:…` of the image manifest: the image's identity for OCI tools.
    pub manifest_digest: String,
    /// `sha256:…` of the compressed layer.
    pub layer_digest: String,
    /// `org.opencontainers.image.ref.name` (the version label, else `latest`).
    pub ref_name: String,
    /// Fields of the ACI with no OCI equivalent, one sentence each.
    pub warnings: Vec<String>,
    /// The detached signature of the manifest digest, when signed.
    pub signature: Option<PathBuf>,
}

/// A key to sign with and the signature time.
pub type Signer<'a> = (&'a SecretKey, SystemTime);

/// Why OCI output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The ACI cannot be opened or read (a missing file, a truncated stream).
    #[error("{}: {source}", path.display())]
    Open {
        /// The ACI.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The ACI breaks the archive rules.
    #[error("{}: {source}", path.display())]
    Aci {
        /// The ACI.
        path: PathBuf,
        /// What `appc::aci::read` found.
        source: appc::aci::ReadError,
    },
    /// The ACI's manifest is invalid.
    #[error("{}: manifest: {errors}", path.display())]
    Manifest {
        /// The ACI.
        path: PathBuf,
        /// Every broken rule, with its JSON path.
        errors: appc::validation::Errors,
    },
    /// An entry cannot be carried into an OCI layer.
    #[error("{}: entry {entry:?}: {reason}", path.display())]
    Entry {
        /// The ACI.
        path: PathBuf,
        /// The archive entry.
        entry: String,
        /// Why.
        reason: String,
    },
    /// The ACI changed between its check and its conversion.
    #[error("{}: the image changed while it was converted (image ID {expected}, now {found})", path.display())]
    Changed {
        /// The ACI.
        path: PathBuf,
        /// The image ID of the checked read.
        expected: String,
        /// The image ID of the converting read.
        found: String,
    },
    /// The manifest lacks what an OCI config requires, or says what it cannot express.
    #[error("{}: {json_path}: {reason}", path.display())]
    Unmappable {
        /// The ACI.
        path: PathBuf,
        /// The manifest field (`labels.os`, `app.user`).
        json_path: String,
        /// Why.
        reason: String,
    },
    /// The output path is taken by something that is not an OCI image layout.
    #[error("{}: exists and is not an OCI image layout (no oci-layout file); refusing to write into it", .0.display())]
    NotALayout(PathBuf),
    /// Writing the output failed.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Signing failed.
    #[error("signing {}: {source}", path.display())]
    Sign {
        /// The signature file.
        path: PathBuf,
        /// The cause.
        source: appc::sign::SignError,
    },
}

impl OciError {
    /// Whether the failure lies in the input (exit 2) or in the work (exit 1); exhaustive, so a
    /// new variant must be classified here.
    pub fn kind(&self) -> crate::error_kind::ErrorKind {
        use crate::error_kind::ErrorKind;
        match self {
            Self::Open { .. }
            | Self::Aci { .. }
            | Self::Manifest { .. }
            | Self::Entry { .. }
            | Self::Unmappable { .. }
            | Self::NotALayout(_) => ErrorKind::Input,
            Self::Changed { .. } | Self::Write { .. } | Self::Sign { .. } => ErrorKind::Failure,
        }
    }
}

/// The OCI output path beside an ACI: `NAME.aci` → `NAME.oci` (a layout) or `NAME.oci.tar`.
pub fn output_path(aci: &Path, archive: bool) -> PathBuf {
    let stem = match aci.extension() {
        Some(e) if e == "aci" => aci.with_extension(""),
        _ => aci.to_path_buf(),
    };
    let mut name = stem.into_os_string();
    name.push(if archive { ".oci.tar" } else { ".oci" });
    PathBuf::from(name)
}

/// The detached-signature path of a layout or archive: `PATH` → `PATH.sig`.
pub fn signature_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Convert the ACI at `aci` into an OCI image layout (or archive) at `out`.
///
/// The result is a function of the ACI's bytes and `opts.level` alone: times come from the
/// ACI (its `created` annotation, else its entries' mtime), never from the clock.
pub fn convert(aci: &Path, out: &Path, opts: &OciOptions) -> Result<OciSummary, OciError> {
    let open = |source| OciError::Open {
        path: aci.to_path_buf(),
        source,
    };
    let mut file = File::open(aci).map_err(open)?;
    let info = appc::aci::read::read(
        BufReader::with_capacity(1 << 16, &file),
        // A zstd ACI (`--compression zstd`, outside the appc spec) converts like any other.
        appc::aci::ReadOptions {
            allow_nonstandard: true,
        },
    )
    .map_err(|source| OciError::Aci {
        path: aci.to_path_buf(),
        source,
    })?;
    let manifest =
        ImageManifest::from_json(&info.manifest).map_err(|errors| OciError::Manifest {
            path: aci.to_path_buf(),
            errors,
        })?;
    file.rewind().map_err(open)?;
    let scratch = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(scratch).map_err(|source| OciError::Write {
        path: scratch.to_path_buf(),
        source,
    })?;
    let layer = layer::write(
        aci,
        BufReader::with_capacity(1 << 16, file),
        info.compression,
        scratch,
        opts,
    )?;
    if layer.image_id != info.image_id {
        return Err(OciError::Changed {
            path: aci.to_path_buf(),
            expected: info.image_id.to_string(),
            found: layer.image_id.to_string(),
        });
    }
    let mapped = config::map(&manifest, &info.entries, &layer).map_err(|(json_path, reason)| {
        OciError::Unmappable {
            path: aci.to_path_buf(),
            json_path,
            reason,
        }
    })?;
    let written = layout::write(out, &layer, &mapped, opts.archive)?;
    Ok(OciSummary {
        path: out.to_path_buf(),
        manifest_digest: written.manifest_digest,
        layer_digest: layer.digest.clone(),
        ref_name: mapped.ref_name,
        warnings: mapped.warnings,
        signature: None,
    })
}

/// [`convert`], then [`sign`] with `signer` when there is one.
pub fn convert_signed(
    aci: &Path,
    out: &Path,
    opts: &OciOptions,
    signer: Option<Signer<'_>>,
) -> Result<OciSummary, OciError> {
    let mut summary = convert(aci, out, opts)?;
    if let Some((key, created)) = signer {
        summary.signature = Some(sign(out, &summary.manifest_digest, key, created)?);
    }
    Ok(summary)
}

/// The OCI outputs of a build: for each OCI form in `formats`, convert the freshly built `aci`
/// to [`output_path`] beside it and sign it; then, when `formats` lacks [`Format::Aci`], remove
/// the ACI and its signature, which were only the way there.
pub fn emit_beside(
    aci: &Path,
    formats: &[Format],
    threads: usize,
    signer: Option<Signer<'_>>,
) -> Result<Vec<OciSummary>, OciError> {
    let done = [(Format::Oci, false), (Format::OciArchive, true)]
        .into_iter()
        .filter(|(format, _)| formats.contains(format))
        .map(|(_, archive)| {
            let opts = OciOptions {
                archive,
                threads,
                level: None,
            };
            convert_signed(aci, &output_path(aci, archive), &opts, signer)
        })
        .collect::<Result<Vec<_>, _>>();
    // Also on failure: an ACI that was not asked for is never left behind, nor, when no image
    // was written at all, the SBOM that would describe it.
    if !formats.contains(&Format::Aci) {
        let mut paths = vec![aci.to_path_buf(), appc::sign::signature_path(aci)];
        if done.is_err() {
            paths.push(crate::sbom::path_for(aci));
        }
        for path in paths {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(OciError::Write { path, source: e });
                }
                _ => {}
            }
        }
    }
    done
}

/// Sign the manifest digest of the layout at `out` (the exact ASCII text `sha256:<hex>`, no
/// newline) and write the armoured detached signature to `out.sig` atomically; returns its
/// path. `created` is the signature time (clamped to the key's own creation).
///
/// Verify with `printf %s sha256:<hex> | gpg --verify OUT.sig -`.
pub fn sign(
    out: &Path,
    manifest_digest: &str,
    key: &SecretKey,
    created: SystemTime,
) -> Result<PathBuf, OciError> {
    let sig = signature_path(out);
    let armored = key
        .sign_reader(manifest_digest.as_bytes(), created)
        .map_err(|source| OciError::Sign {
            path: sig.clone(),
            source,
        })?;
    appc::atomic_file::write_atomically(&sig, &armored, 0o644).map_err(|source| {
        OciError::Write {
            path: sig.clone(),
            source,
        }
    })?;
    Ok(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_path_replaces_the_aci_extension() {
        let aci = Path::new("out/etcd-3.4.23-linux-amd64.aci");
        assert_eq!(
            output_path(aci, false),
            Path::new("out/etcd-3.4.23-linux-amd64.oci")
        );
        assert_eq!(
            output_path(aci, true),
            Path::new("out/etcd-3.4.23-linux-amd64.oci.tar")
        );
        assert_eq!(
            output_path(Path::new("x.img"), false),
            Path::new("x.img.oci")
        );
        assert_eq!(
            signature_path(Path::new("out/a.oci")),
            Path::new("out/a.oci.sig")
        );
    }
}

//! The OCI layer of an ACI: every `rootfs/…` entry, in archive order, renamed without the
//! `rootfs/` prefix and re-headed with the same GNU header fields the ACI writer uses (type,
//! mode, owner, mtime, size, device numbers; no user or group names, no PAX), so the layer
//! holds the same file bytes, modes and owners as the ACI. The tar is gzipped with appc's
//! thread-count-independent encoder into an anonymous temporary file, hashed twice on the way
//! (diff ID of the tar, digest of the gzip), while the ACI's own tar stream is hashed again into
//! its image ID for the caller to compare with the checked first read.
//!
//! Defends against: names that leave the rootfs (`..`, absolute, outside `rootfs/`), hard links
//! to anything outside it, and OCI whiteout names (`.wh.*`), which an OCI runtime would turn
//! into deletions instead of files.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use appc::aci::Compression;
use appc::image_id::{Hashing, ImageId};

use super::digest::Sha256Stream;
use super::{OciError, OciOptions};

/// A written layer.
#[derive(Debug)]
pub struct Layer {
    /// Anonymous temporary file holding the gzip bytes (gone when dropped).
    pub file: File,
    /// `sha256:…` of the gzip bytes.
    pub digest: String,
    /// Size of the gzip bytes.
    pub size: u64,
    /// `sha256:…` of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
    /// The image ID of the ACI as read this time.
    pub image_id: ImageId,
    /// The mtime of the ACI's `manifest` entry (the build's SOURCE_DATE_EPOCH).
    pub mtime: u64,
    /// Entries in the layer.
    pub entries: usize,
}

/// What copying the entries produced.
struct Copied {
    diff_id: String,
    mtime: u64,
    entries: usize,
}

/// Read the ACI tar from `raw` (compressed as `compression`) and write its layer to a
/// temporary file in `scratch`. `aci` only names the image in errors.
pub fn write(
    aci: &Path,
    raw: impl Read,
    compression: Compression,
    scratch: &Path,
    opts: &OciOptions,
) -> Result<Layer, OciError> {
    let write_err = |source| OciError::Write {
        path: scratch.to_path_buf(),
        source,
    };
    let read_err = |source| OciError::Open {
        path: aci.to_path_buf(),
        source,
    };
    let tmp = tempfile::tempfile_in(scratch).map_err(write_err)?;
    let mut stream = Hashing::new(appc::aci::decoder(compression, raw).map_err(read_err)?);
    let sink = Sha256Stream::new(BufWriter::with_capacity(1 << 20, tmp));
    let mut copied = None;
    let (_, sink, _) =
        appc::aci::compress(sink, Compression::Gzip, opts.level, opts.threads, |gzip| {
            let mut tar_out = Sha256Stream::new(gzip);
            let result = copy_entries(aci, &mut stream, &mut tar_out);
            let (diff_id, _, _) = tar_out.finish();
            // An entry error is the one to report; the layer is thrown away with `tmp`.
            copied = Some(result.map(|(mtime, entries)| Copied {
                diff_id,
                mtime,
                entries,
            }));
            Ok(())
        })
        .map_err(write_err)?;
    let copied = copied.ok_or_else(|| write_err(io::Error::other("layer not produced")))??;
    // The tar reader stops at the end-of-archive blocks; the image ID covers the whole stream.
    io::copy(&mut stream, &mut io::sink()).map_err(read_err)?;
    let (image_id, _) = stream.finish();
    let (digest, size, buffered) = sink.finish();
    let file = buffered
        .into_inner()
        .map_err(|e| write_err(e.into_error()))?;
    Ok(Layer {
        file,
        digest,
        size,
        diff_id: copied.diff_id,
        image_id,
        mtime: copied.mtime,
        entries: copied.entries,
    })
}

/// Copy the rootfs entries of the ACI tar `input` into a layer tar on `out`; returns the
/// manifest's mtime and the number of entries copied.
fn copy_entries(
    aci: &Path,
    input: &mut impl Read,
    out: &mut impl Write,
) -> Result<(u64, usize), OciError> {
    let entry_err = |entry: &str, reason: String| OciError::Entry {
        path: aci.to_path_buf(),
        entry: entry.to_owned(),
        reason,
    };
    let read_err = |source| OciError::Open {
        path: aci.to_path_buf(),
        source,
    };
    let mut archive = tar::Archive::new(input);
    let mut builder = tar::Builder::new(out);
    let mut mtime = None;
    let mut count = 0;
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = clean(&raw).map_err(|reason| entry_err(&raw, reason.into()))?;
        if name == "manifest" {
            mtime = Some(entry.header().mtime().map_err(read_err)?);
            continue;
        }
        if name == "rootfs" {
            continue;
        }
        let rel = name
            .strip_prefix("rootfs/")
            .ok_or_else(|| entry_err(&raw, "outside rootfs/".into()))?
            .to_owned();
        if rel.split('/').any(|c| c.starts_with(".wh.")) {
            return Err(entry_err(
                &raw,
                "a `.wh.` name is a whiteout in an OCI layer and would delete instead of create"
                    .into(),
            ));
        }
        append_entry(&mut builder, &mut entry, &rel).map_err(|reason| entry_err(&raw, reason))?;
        count += 1;
    }
    let mtime = mtime.ok_or_else(|| entry_err("manifest", "missing".into()))?;
    builder
        .into_inner()
        .and_then(|out| out.flush())
        .map_err(|e| entry_err("end of archive", format!("writing the layer: {e}")))?;
    Ok((mtime, count))
}

/// Append `entry` to the layer as `rel`: a fresh GNU header with the entry's type, permission
/// bits, owner, mtime, size and device numbers; data and link targets as stored (a hard link's
/// target moved out of `rootfs/` like its name). Errors are the reason, for the caller to name.
fn append_entry<W: Write, R: Read>(
    builder: &mut tar::Builder<W>,
    entry: &mut tar::Entry<'_, R>,
    rel: &str,
) -> Result<(), String> {
    let read = |e: io::Error| format!("reading the image: {e}");
    let write = |e: io::Error| format!("writing the layer: {e}");
    let header = entry.header().clone();
    let mut h = tar::Header::new_gnu();
    h.set_mode(header.mode().map_err(read)? & 0o7777);
    h.set_uid(header.uid().map_err(read)?);
    h.set_gid(header.gid().map_err(read)?);
    h.set_mtime(header.mtime().map_err(read)?);
    h.set_size(0);
    let kind = header.entry_type();
    h.set_entry_type(kind);
    match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(entry.size());
            builder.append_data(&mut h, rel, entry).map_err(write)
        }
        tar::EntryType::Directory | tar::EntryType::Fifo => {
            builder.append_data(&mut h, rel, io::empty()).map_err(write)
        }
        tar::EntryType::Char | tar::EntryType::Block => {
            let major = header.device_major().map_err(read)?.unwrap_or(0);
            let minor = header.device_minor().map_err(read)?.unwrap_or(0);
            h.set_device_major(major).map_err(write)?;
            h.set_device_minor(minor).map_err(write)?;
            builder.append_data(&mut h, rel, io::empty()).map_err(write)
        }
        tar::EntryType::Symlink => {
            let target = entry.link_name_bytes().unwrap_or_default().into_owned();
            builder
                .append_link(&mut h, rel, OsStr::from_bytes(&target))
                .map_err(write)
        }
        tar::EntryType::Link => {
            let target = entry.link_name_bytes().unwrap_or_default();
            let target = String::from_utf8_lossy(&target).into_owned();
            let inside = clean(&target)
                .ok()
                .and_then(|t| t.strip_prefix("rootfs/").map(str::to_owned))
                .ok_or_else(|| format!("hard link target {target:?} is outside rootfs/"))?;
            builder.append_link(&mut h, rel, &inside).map_err(write)
        }
        other => Err(format!(
            "tar entry type {:?} has no place in a layer",
            other.as_byte()
        )),
    }
}

/// Clean a tar name as `appc::aci::read` does, refusing what it refuses.
fn clean(raw: &str) -> Result<String, &'static str> {
    if raw.starts_with('/') {
        return Err("absolute name");
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("name has a \"..\" component"),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err("empty name");
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use appc::aci::{Builder, Entry, EntryKind, FileSource, RootfsPath, WriteOptions};
    use std::io::Seek;

    fn entry(path: &str, kind: EntryKind, mode: u32, uid: u32) -> Entry {
        Entry {
            path: RootfsPath::new(path).unwrap(),
            kind,
            mode,
            uid,
            gid: uid,
        }
    }

    fn bytes(b: &[u8]) -> EntryKind {
        EntryKind::File(FileSource::Bytes(b.to_vec()))
    }

    /// An ACI (gzip) holding the usual kinds of entries, and its image ID.
    fn sample_aci(extra: Option<Entry>) -> (Vec<u8>, ImageId) {
        let opts = WriteOptions {
            threads: 1,
            mtime: 1_234_567_890,
            ..WriteOptions::default()
        };
        let mut b = Builder::new(br#"{"acKind":"ImageManifest"}"#.to_vec(), opts);
        let long = format!("usr/share/{}/file", "d".repeat(120));
        b.add(entry("bin/app", bytes(b"\x7fELF app"), 0o4755, 0))
            .unwrap();
        b.add(entry("bin/sh", EntryKind::Symlink("app".into()), 0o777, 0))
            .unwrap();
        let target = RootfsPath::new("bin/app").unwrap();
        b.add(entry("bin/zlink", EntryKind::Hardlink(target), 0o4755, 0))
            .unwrap();
        b.add(entry("var/lib/etcd", EntryKind::Dir, 0o700, 1000))
            .unwrap();
        b.add(entry(&long, bytes(b"long"), 0o644, 0)).unwrap();
        if let Some(e) = extra {
            b.add(e).unwrap();
        }
        let mut out = Vec::new();
        let summary = b.write_to(&mut out).unwrap();
        (out, summary.image_id)
    }

    fn layer_of(aci: &[u8]) -> Result<Layer, OciError> {
        let dir = tempfile::tempdir().unwrap();
        write(
            Path::new("t.aci"),
            aci,
            Compression::Gzip,
            dir.path(),
            &OciOptions {
                threads: 2,
                ..OciOptions::default()
            },
        )
    }

    /// (name, type, mode, uid, mtime, link, data) of every entry of a tar.
    type Row = (String, u8, u32, u64, u64, Option<String>, Vec<u8>);

    fn rows(tar_bytes: impl Read, strip: &str) -> Vec<Row> {
        let mut a = tar::Archive::new(tar_bytes);
        let mut rows = Vec::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let Some(name) = name.strip_prefix(strip) else {
                continue;
            };
            let h = e.header().clone();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().trim_start_matches(strip).to_owned());
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            rows.push((
                name.to_owned(),
                h.entry_type().as_byte(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.mtime().unwrap(),
                link,
                data,
            ));
        }
        rows
    }

    #[test]
    fn layer_holds_the_rootfs_entries_without_the_prefix() {
        let (aci, id) = sample_aci(None);
        let mut layer = layer_of(&aci).unwrap();
        assert_eq!(layer.image_id, id);
        assert_eq!(layer.mtime, 1_234_567_890);
        layer.file.rewind().unwrap();
        let mut gz = Vec::new();
        layer.file.read_to_end(&mut gz).unwrap();
        assert_eq!(super::super::digest::of(&gz), layer.digest);
        assert_eq!(gz.len() as u64, layer.size);
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut tar_bytes)
            .unwrap();
        assert_eq!(super::super::digest::of(&tar_bytes), layer.diff_id);
        let from_aci = rows(flate2::read::GzDecoder::new(&aci[..]), "rootfs/");
        let from_layer = rows(&tar_bytes[..], "");
        assert_eq!(from_layer, from_aci);
        assert_eq!(layer.entries, from_aci.len());
        assert!(from_layer.iter().any(|r| r.0 == "bin/app" && r.2 == 0o4755));
        assert!(from_layer.iter().any(|r| r.0.len() > 100));
    }

    #[test]
    fn layer_bytes_do_not_depend_on_the_thread_count() {
        let (aci, _) = sample_aci(None);
        let dir = tempfile::tempdir().unwrap();
        let digest = |threads| {
            let opts = OciOptions {
                threads,
                ..OciOptions::default()
            };
            write(
                Path::new("t"),
                &aci[..],
                Compression::Gzip,
                dir.path(),
                &opts,
            )
            .unwrap()
            .digest
        };
        assert_eq!(digest(1), digest(3));
    }

    #[test]
    fn refuses_a_whiteout_name_and_accepts_a_lookalike() {
        let wh = entry("etc/.wh.passwd", bytes(b""), 0o644, 0);
        let err = layer_of(&sample_aci(Some(wh)).0).unwrap_err();
        assert!(err.to_string().contains("rootfs/etc/.wh.passwd"), "{err}");
        assert!(err.to_string().contains("whiteout"), "{err}");
        let fine = entry("etc/wh.passwd", bytes(b""), 0o644, 0);
        assert!(layer_of(&sample_aci(Some(fine)).0).is_ok());
    }

    fn raw_tar(names: &[&str]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for name in names {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_size(0);
            // Bypass the tar crate's own `..` check, as a hostile archive would.
            let field = &mut h.as_old_mut().name;
            field[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, io::empty()).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn refuses_names_leaving_the_rootfs_and_accepts_the_same_inside() {
        let uncompressed = |t: &[u8]| {
            let dir = tempfile::tempdir().unwrap();
            write(
                Path::new("t"),
                t,
                Compression::None,
                dir.path(),
                &OciOptions::default(),
            )
        };
        for bad in ["rootfs/../etc/passwd", "etc/passwd", "/rootfs/x"] {
            let err = uncompressed(&raw_tar(&["manifest", bad])).unwrap_err();
            assert!(matches!(err, OciError::Entry { .. }), "{bad}: {err}");
        }
        let ok = uncompressed(&raw_tar(&["manifest", "rootfs/etc/passwd"])).unwrap();
        assert_eq!(ok.entries, 1);
    }
}

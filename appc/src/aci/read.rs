//! The strict ACI reader: detect the compression, stream the tar once, compute the image ID and
//! check the layout (`manifest` + `rootfs/…`, checklist §1.3, §1.4, §9.1). It does not parse the
//! manifest: it returns its bytes, checked to be a size-capped JSON object.
//!
//! Two ways in: [`read`] collects every entry's metadata; [`read_with`] hands each entry that
//! passes the layout rules, with its content, to a callback while the archive streams past (to
//! extract in the same pass as the check, without reading the image twice).
//!
//! Stricter than the Go reference: any `..` component is rejected (even one that cleans back into
//! `rootfs`), top-level names are compared by path component (`rootfs2/x` is outside `rootfs`),
//! duplicate `rootfs` and `manifest` entries are errors, hard links must point inside `rootfs/`,
//! nothing may be stored beneath a symlink entry, and the stream must end with the two zero
//! blocks and nothing but zeros after them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, Read};

use crate::aci::compression::Compression;
use crate::image_id::{Hashing, ImageId};

/// The largest manifest accepted.
pub const MANIFEST_MAX: u64 = 1024 * 1024;

/// What to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// Accept zstd, which the spec does not allow.
    pub allow_nonstandard: bool,
}

/// The kind of an archive entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
}

impl fmt::Display for EntryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntryType::File => "regular file",
            EntryType::Dir => "directory",
            EntryType::Symlink => "symlink",
            EntryType::Hardlink => "hard link",
            EntryType::Char => "character device",
            EntryType::Block => "block device",
            EntryType::Fifo => "fifo",
        })
    }
}

/// One entry as stored, with its cleaned name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// The cleaned archive name (`manifest`, `rootfs`, `rootfs/bin/sh`).
    pub path: String,
    pub kind: EntryType,
    /// The mode bits as stored (permission bits plus setuid, setgid and sticky).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
    /// Content bytes (regular files only; 0 for every other kind).
    pub size: u64,
    /// Symlink target as stored, or hard link target cleaned.
    pub link: Option<String>,
    /// `(major, minor)` of a character or block device.
    pub device: Option<(u32, u32)>,
}

/// A read and layout-checked image, with every entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AciInfo {
    pub manifest: Vec<u8>,
    pub entries: Vec<EntryInfo>,
    pub image_id: ImageId,
    pub compression: Compression,
}

/// What [`read_with`] returns for a valid image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSummary {
    pub manifest: Vec<u8>,
    pub image_id: ImageId,
    pub compression: Compression,
    /// How many entries were handed to the callback.
    pub entries: u64,
}

/// One broken layout rule; each names the entry it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("entry {0:?}: absolute name")]
    Absolute(String),
    #[error("entry {0:?}: name has a \"..\" component")]
    ParentComponent(String),
    #[error("entry {0:?}: empty name")]
    Empty(String),
    #[error("entry {0:?}: outside rootfs/ (only manifest and rootfs/… may be stored)")]
    Outside(String),
    #[error("entry {0:?}: duplicate of an earlier entry")]
    Duplicate(String),
    #[error("entry {name:?}: rootfs must be a directory, found a {kind}")]
    RootfsNotDir { name: String, kind: EntryType },
    #[error("entry {name:?}: manifest must be a regular file, found a {kind}")]
    ManifestNotFile { name: String, kind: EntryType },
    #[error("entry {name:?}: manifest is {size} bytes, more than the {MANIFEST_MAX}-byte limit")]
    ManifestTooLarge { name: String, size: u64 },
    #[error("entry {0:?}: manifest is not a JSON object")]
    ManifestNotJsonObject(String),
    #[error("entry {name:?}: hard link target {target:?} is not inside rootfs/")]
    HardlinkOutside { name: String, target: String },
    #[error("entry {name:?}: hard link target {target:?} is not an earlier entry")]
    HardlinkDangling { name: String, target: String },
    #[error("entry {name:?}: stored beneath the symlink {symlink:?}")]
    BeneathSymlink { name: String, symlink: String },
    #[error("entry {name:?}: unsupported tar entry type {typeflag:?}")]
    UnsupportedType { name: String, typeflag: char },
    #[error("entry {0:?}: name is not UTF-8")]
    NotUtf8(String),
    #[error("no manifest entry")]
    NoManifest,
    #[error("no rootfs directory entry")]
    NoRootfs,
}

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not an ACI: no gzip, bzip2, xz or tar magic at the start")]
    UnknownFormat,
    #[error("zstd-compressed image: zstd is not allowed by the appc spec")]
    Nonstandard,
    #[error("corrupt or truncated archive{}: {source}", after.as_ref().map(|a| format!(" after entry {a:?}")).unwrap_or_default())]
    Corrupt {
        after: Option<String>,
        source: io::Error,
    },
    #[error("archive does not end with two zero blocks (truncated?)")]
    NoEndOfArchive,
    #[error("data after the end of the archive")]
    TrailingData,
    #[error("invalid image layout:{}", .0.iter().map(|e| format!("\n  {e}")).collect::<String>())]
    Layout(Vec<LayoutError>),
}

impl ReadError {
    /// The layout errors, if that is what this is.
    pub fn layout_errors(&self) -> &[LayoutError] {
        match self {
            ReadError::Layout(v) => v,
            _ => &[],
        }
    }
}

/// Read a whole image from `input`, hash it and check its layout; every entry's metadata is kept.
pub fn read<R: Read>(input: R, opts: ReadOptions) -> Result<AciInfo, ReadError> {
    let mut entries = Vec::new();
    let summary = read_with(input, opts, |entry: &EntryInfo, _: &mut dyn Read| {
        entries.push(entry.clone());
        Ok::<(), ReadError>(())
    })?;
    Ok(AciInfo {
        manifest: summary.manifest,
        entries,
        image_id: summary.image_id,
        compression: summary.compression,
    })
}

/// Read a whole image from `input` in one pass, hash it and check its layout, handing every
/// entry that passes the layout rules to `visit` with a reader of its content, in archive order
/// (`manifest` and `rootfs` included).
///
/// `visit` may read as much of the content as it wants; the rest is drained (and hashed) after it
/// returns. An error from `visit` stops the read and is returned as is.
///
/// **A later entry can still make the whole image invalid** (a duplicate, a broken hard link, a
/// missing manifest, trailing data, a wrong image ID for the caller): whatever the callback
/// did with earlier entries must be discarded when this returns an error. Once the reader has
/// found any layout error it stops calling `visit` (the result is an error anyway) but keeps
/// reading to report every error.
pub fn read_with<R, E, F>(input: R, opts: ReadOptions, mut visit: F) -> Result<ReadSummary, E>
where
    R: Read,
    E: From<ReadError>,
    F: FnMut(&EntryInfo, &mut dyn Read) -> Result<(), E>,
{
    let (decoded, compression) = decoder(input, opts)?;
    let mut stream = Hashing::new(decoded);
    let (manifest, entries) = read_tar(&mut stream, &mut visit)?;
    let (image_id, _) = stream.finish();
    Ok(ReadSummary {
        manifest,
        image_id,
        compression,
        entries,
    })
}

fn decoder<'a, R: Read + 'a>(
    mut input: R,
    opts: ReadOptions,
) -> Result<(Box<dyn Read + 'a>, Compression), ReadError> {
    let mut head = Vec::with_capacity(512);
    (&mut input)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|source| ReadError::Corrupt {
            after: None,
            source,
        })?;
    let compression = Compression::detect(&head).ok_or(ReadError::UnknownFormat)?;
    if !compression.is_standard() && !opts.allow_nonstandard {
        return Err(ReadError::Nonstandard);
    }
    let raw = io::Cursor::new(head).chain(input);
    let decoded: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(raw)),
        Compression::Bzip2 => Box::new(bzip2::read::BzDecoder::new(raw)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new(raw)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(raw).map_err(|source| {
            ReadError::Corrupt {
                after: None,
                source,
            }
        })?),
        Compression::None => Box::new(raw),
    };
    Ok((decoded, compression))
}

/// Clean a tar name like Go's `filepath.Clean`, but refusing `..` and absolute names.
fn clean(raw: &str) -> Result<String, LayoutError> {
    if raw.starts_with('/') {
        return Err(LayoutError::Absolute(raw.to_owned()));
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(LayoutError::ParentComponent(raw.to_owned())),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(LayoutError::Empty(raw.to_owned()));
    }
    Ok(parts.join("/"))
}

fn entry_type(t: tar::EntryType) -> Option<EntryType> {
    Some(match t {
        tar::EntryType::Regular | tar::EntryType::Continuous => EntryType::File,
        tar::EntryType::Directory => EntryType::Dir,
        tar::EntryType::Symlink => EntryType::Symlink,
        tar::EntryType::Link => EntryType::Hardlink,
        tar::EntryType::Char => EntryType::Char,
        tar::EntryType::Block => EntryType::Block,
        tar::EntryType::Fifo => EntryType::Fifo,
        _ => return None,
    })
}

/// Passes reads through and keeps the first error, so that a truncated archive is reported as
/// such even when the callback turned the read error into its own.
struct Content<'a, R> {
    inner: &'a mut R,
    error: Option<io::ErrorKind>,
}

impl<R: Read> Read for Content<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.error.get_or_insert(e.kind());
        })
    }
}

fn read_tar<R, E, F>(stream: &mut R, visit: &mut F) -> Result<(Vec<u8>, u64), E>
where
    R: Read,
    E: From<ReadError>,
    F: FnMut(&EntryInfo, &mut dyn Read) -> Result<(), E>,
{
    let mut archive = tar::Archive::new(&mut *stream);
    let mut errors = Vec::new();
    let mut manifest: Option<Vec<u8>> = None;
    let mut seen = BTreeSet::new();
    let mut kinds: BTreeMap<String, EntryType> = BTreeMap::new();
    let mut rootfs = false;
    let mut visited = 0u64;
    let mut last: Option<String> = None;
    let corrupt = |after: &Option<String>, source| ReadError::Corrupt {
        after: after.clone(),
        source,
    };
    let entries = archive.entries().map_err(|e| corrupt(&last, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(&last, e))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        last = Some(raw.clone());
        if std::str::from_utf8(&entry.path_bytes()).is_err() {
            errors.push(LayoutError::NotUtf8(raw));
            continue;
        }
        let header = entry.header();
        let typeflag = header.entry_type();
        let Some(kind) = entry_type(typeflag) else {
            errors.push(LayoutError::UnsupportedType {
                name: raw,
                typeflag: char::from(typeflag.as_byte()),
            });
            continue;
        };
        let mode = header.mode().map_err(|e| corrupt(&last, e))?;
        let uid = header.uid().map_err(|e| corrupt(&last, e))?;
        let gid = header.gid().map_err(|e| corrupt(&last, e))?;
        let mtime = header.mtime().map_err(|e| corrupt(&last, e))?;
        let device = match kind {
            EntryType::Char | EntryType::Block => header
                .device_major()
                .and_then(|ma| Ok(ma.zip(header.device_minor()?)))
                .map_err(|e| corrupt(&last, e))?,
            _ => None,
        };
        let size = entry.size();
        let name = match clean(&raw) {
            Ok(n) => n,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if !seen.insert(name.clone()) {
            errors.push(LayoutError::Duplicate(raw));
            continue;
        }
        let mut link = None;
        match kind {
            EntryType::Hardlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                match clean(&target) {
                    Ok(t) if t.starts_with("rootfs/") => {
                        if !matches!(kinds.get(&t), Some(k) if *k != EntryType::Dir) {
                            errors.push(LayoutError::HardlinkDangling {
                                name: raw.clone(),
                                target,
                            });
                        }
                        link = Some(t);
                    }
                    _ => errors.push(LayoutError::HardlinkOutside {
                        name: raw.clone(),
                        target,
                    }),
                }
            }
            EntryType::Symlink => {
                link = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
            }
            _ => {}
        }
        let mut manifest_bytes = None;
        if name == "manifest" {
            if kind != EntryType::File {
                errors.push(LayoutError::ManifestNotFile { name: raw, kind });
                continue;
            }
            if size > MANIFEST_MAX {
                errors.push(LayoutError::ManifestTooLarge { name: raw, size });
                continue;
            }
            let mut bytes = Vec::new();
            entry
                .by_ref()
                .take(MANIFEST_MAX)
                .read_to_end(&mut bytes)
                .map_err(|e| corrupt(&last, e))?;
            if !matches!(
                serde_json::from_slice::<serde_json::Value>(&bytes),
                Ok(serde_json::Value::Object(_))
            ) {
                errors.push(LayoutError::ManifestNotJsonObject(raw.clone()));
            }
            manifest_bytes = Some(bytes);
        } else if name == "rootfs" {
            if kind != EntryType::Dir {
                errors.push(LayoutError::RootfsNotDir { name: raw, kind });
                continue;
            }
            rootfs = true;
        } else if !name.starts_with("rootfs/") {
            errors.push(LayoutError::Outside(raw));
            continue;
        } else if let Some(symlink) = symlink_ancestor(&name, &kinds) {
            errors.push(LayoutError::BeneathSymlink { name: raw, symlink });
            continue;
        }
        kinds.insert(name.clone(), kind);
        let info = EntryInfo {
            path: name,
            kind,
            mode,
            uid,
            gid,
            mtime,
            size: if kind == EntryType::File { size } else { 0 },
            link,
            device,
        };
        if errors.is_empty() {
            visited += 1;
            let mut content = Content {
                inner: &mut entry,
                error: None,
            };
            let result = match &manifest_bytes {
                Some(bytes) => visit(&info, &mut &bytes[..]),
                None => visit(&info, &mut content),
            };
            if let Err(e) = result {
                return Err(match content.error {
                    Some(kind) => corrupt(&last, io::Error::from(kind)).into(),
                    None => e,
                });
            }
        }
        if manifest_bytes.is_some() {
            manifest = manifest_bytes;
        }
        // Drain the data now so that truncation is reported against this entry.
        io::copy(&mut entry, &mut io::sink()).map_err(|e| corrupt(&last, e))?;
    }
    check_end(stream)?;
    if manifest.is_none() {
        errors.push(LayoutError::NoManifest);
    }
    if !rootfs {
        errors.push(LayoutError::NoRootfs);
    }
    match manifest {
        Some(m) if errors.is_empty() => Ok((m, visited)),
        _ => Err(ReadError::Layout(errors).into()),
    }
}

fn symlink_ancestor(name: &str, kinds: &BTreeMap<String, EntryType>) -> Option<String> {
    let mut end = name.len();
    while let Some(i) = name[..end].rfind('/') {
        let p = &name[..i];
        if kinds.get(p) == Some(&EntryType::Symlink) {
            return Some(p.to_owned());
        }
        end = i;
    }
    None
}

/// The tar reader stopped after the first zero block; the second must follow, then only zeros
/// (GNU tar pads to a 10 KiB record) up to the end of the stream.
fn check_end<R: Read>(stream: &mut R) -> Result<(), ReadError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(ReadError::Corrupt {
                    after: None,
                    source,
                });
            }
        };
        if buf[..n].iter().any(|&b| b != 0) {
            return Err(ReadError::TrailingData);
        }
        total += n as u64;
    }
    if total < 512 {
        return Err(ReadError::NoEndOfArchive);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw tar built entry by entry, names written as given (no cleaning).
    struct Raw(tar::Builder<Vec<u8>>);

    impl Raw {
        fn new() -> Raw {
            Raw(tar::Builder::new(Vec::new()))
        }
        fn put(mut self, name: &str, kind: tar::EntryType, data: &[u8], link: Option<&str>) -> Raw {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_size(data.len() as u64);
            {
                let gnu = h.as_gnu_mut().unwrap();
                gnu.name[..name.len()].copy_from_slice(name.as_bytes());
                if let Some(l) = link {
                    gnu.linkname[..l.len()].copy_from_slice(l.as_bytes());
                }
            }
            h.set_cksum();
            self.0.append(&h, data).unwrap();
            self
        }
        fn file(self, name: &str, data: &[u8]) -> Raw {
            self.put(name, tar::EntryType::Regular, data, None)
        }
        fn dir(self, name: &str) -> Raw {
            self.put(name, tar::EntryType::Directory, b"", None)
        }
        fn base(self) -> Raw {
            self.file("manifest", b"{}").dir("rootfs")
        }
        fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    fn errors(bytes: Vec<u8>) -> Vec<String> {
        match read(&bytes[..], ReadOptions::default()) {
            Err(ReadError::Layout(v)) => v.iter().map(|e| e.to_string()).collect(),
            other => panic!("expected layout errors, got {other:?}"),
        }
    }

    fn rejects(bytes: Vec<u8>, entry: &str, rule: &str) {
        let errs = errors(bytes);
        assert!(
            errs.iter()
                .any(|e| e.contains(&format!("{entry:?}")) && e.contains(rule)),
            "no error naming {entry:?} with {rule:?} in {errs:?}"
        );
    }

    #[test]
    fn accepts_a_minimal_image_with_dot_slash_names() {
        let bytes = Raw::new()
            .file("./manifest", b"{}")
            .dir("rootfs/")
            .file("rootfs//bin/./x", b"1")
            .bytes();
        let info = read(&bytes[..], ReadOptions::default()).unwrap();
        assert_eq!(info.manifest, b"{}");
        assert_eq!(info.entries[2].path, "rootfs/bin/x");
        assert_eq!(info.compression, Compression::None);
    }

    #[test]
    fn rejects_missing_manifest() {
        assert!(errors(Raw::new().dir("rootfs").bytes()).contains(&"no manifest entry".to_owned()));
    }

    #[test]
    fn rejects_missing_rootfs_dir() {
        let errs = errors(
            Raw::new()
                .file("manifest", b"{}")
                .file("rootfs/x", b"")
                .bytes(),
        );
        assert!(
            errs.contains(&"no rootfs directory entry".to_owned()),
            "{errs:?}"
        );
    }

    #[test]
    fn rejects_rootfs_that_is_a_file() {
        rejects(
            Raw::new()
                .file("manifest", b"{}")
                .file("rootfs", b"")
                .bytes(),
            "rootfs",
            "must be a directory",
        );
    }

    #[test]
    fn rejects_top_level_names_sharing_the_rootfs_prefix() {
        rejects(
            Raw::new().base().file("rootfs2/evil", b"").bytes(),
            "rootfs2/evil",
            "outside rootfs/",
        );
        rejects(
            Raw::new().base().file("rootfs.bak", b"").bytes(),
            "rootfs.bak",
            "outside rootfs/",
        );
        rejects(
            Raw::new().base().file("README", b"").bytes(),
            "README",
            "outside rootfs/",
        );
    }

    #[test]
    fn rejects_any_parent_component() {
        rejects(
            Raw::new().base().file("rootfs/../../evil", b"").bytes(),
            "rootfs/../../evil",
            "\"..\"",
        );
        rejects(
            Raw::new()
                .base()
                .file("rootfs/bin/../../rootfs/x", b"")
                .bytes(),
            "rootfs/bin/../../rootfs/x",
            "\"..\"",
        );
    }

    #[test]
    fn rejects_absolute_names() {
        rejects(
            Raw::new().base().file("/rootfs/x", b"").bytes(),
            "/rootfs/x",
            "absolute",
        );
    }

    #[test]
    fn rejects_duplicates_after_cleaning() {
        rejects(
            Raw::new()
                .base()
                .file("rootfs/bin/x", b"")
                .file("rootfs//bin/./x", b"")
                .bytes(),
            "rootfs//bin/./x",
            "duplicate",
        );
    }

    #[test]
    fn rejects_duplicate_rootfs_and_manifest() {
        rejects(
            Raw::new().base().dir("./rootfs").bytes(),
            "./rootfs",
            "duplicate",
        );
        rejects(
            Raw::new().base().file("manifest", b"{}").bytes(),
            "manifest",
            "duplicate",
        );
    }

    #[test]
    fn rejects_manifest_that_is_not_a_regular_file() {
        rejects(
            Raw::new().dir("manifest").dir("rootfs").bytes(),
            "manifest",
            "must be a regular file",
        );
        let link = Raw::new()
            .dir("rootfs")
            .put("manifest", tar::EntryType::Symlink, b"", Some("rootfs"))
            .bytes();
        rejects(link, "manifest", "must be a regular file");
    }

    #[test]
    fn rejects_manifest_that_is_not_a_json_object() {
        rejects(
            Raw::new().file("manifest", b"[1]").dir("rootfs").bytes(),
            "manifest",
            "not a JSON object",
        );
    }

    #[test]
    fn rejects_oversized_manifest() {
        let big = vec![b' '; MANIFEST_MAX as usize + 1];
        rejects(
            Raw::new().file("manifest", &big).dir("rootfs").bytes(),
            "manifest",
            "limit",
        );
    }

    #[test]
    fn rejects_hardlinks_outside_rootfs_and_dangling() {
        let hl = |target| {
            Raw::new()
                .base()
                .put("rootfs/l", tar::EntryType::Link, b"", Some(target))
                .bytes()
        };
        rejects(hl("../../etc/passwd"), "rootfs/l", "not inside rootfs/");
        rejects(hl("manifest"), "rootfs/l", "not inside rootfs/");
        rejects(hl("rootfs/nothing"), "rootfs/l", "not an earlier entry");
    }

    #[test]
    fn rejects_entries_beneath_a_symlink() {
        let bytes = Raw::new()
            .base()
            .put("rootfs/lnk", tar::EntryType::Symlink, b"", Some("/etc"))
            .file("rootfs/lnk/evil", b"")
            .bytes();
        rejects(bytes, "rootfs/lnk/evil", "beneath the symlink");
    }

    #[test]
    fn collects_every_layout_error() {
        let errs = errors(Raw::new().file("README", b"").file("/abs", b"").bytes());
        assert_eq!(errs.len(), 4, "{errs:?}");
    }

    #[test]
    fn rejects_zstd_unless_allowed_and_unknown_formats() {
        let z = zstd::encode_all(&Raw::new().base().bytes()[..], 3).unwrap();
        assert!(matches!(
            read(&z[..], ReadOptions::default()),
            Err(ReadError::Nonstandard)
        ));
        assert!(
            read(
                &z[..],
                ReadOptions {
                    allow_nonstandard: true
                }
            )
            .is_ok()
        );
        assert!(matches!(
            read(&b"hello"[..], ReadOptions::default()),
            Err(ReadError::UnknownFormat)
        ));
    }

    #[test]
    fn rejects_missing_end_blocks_and_trailing_data() {
        let good = Raw::new().base().bytes();
        let cut = &good[..good.len() - 1024];
        assert!(read(cut, ReadOptions::default()).is_err());
        let mut trailing = good.clone();
        trailing.extend_from_slice(b"junk");
        assert!(matches!(
            read(&trailing[..], ReadOptions::default()),
            Err(ReadError::TrailingData)
        ));
    }

    #[test]
    fn rejects_truncation_inside_file_data() {
        let good = Raw::new().base().file("rootfs/x", &[7u8; 4000]).bytes();
        let err = read(&good[..2500], ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("rootfs/x"), "{err}");
    }

    #[test]
    fn read_with_hands_over_each_entry_with_its_content() {
        let bytes = Raw::new().base().file("rootfs/x", b"hello").bytes();
        let mut seen = Vec::new();
        let summary = read_with(&bytes[..], ReadOptions::default(), |e, data| {
            let mut content = Vec::new();
            data.read_to_end(&mut content)
                .map_err(|source| ReadError::Corrupt {
                    after: None,
                    source,
                })?;
            seen.push((e.path.clone(), content));
            Ok::<(), ReadError>(())
        })
        .unwrap();
        assert_eq!(summary.entries, 3);
        assert_eq!(summary.manifest, b"{}");
        assert_eq!(
            seen,
            [
                ("manifest".to_owned(), b"{}".to_vec()),
                ("rootfs".to_owned(), vec![]),
                ("rootfs/x".to_owned(), b"hello".to_vec()),
            ]
        );
        assert_eq!(
            summary.image_id,
            read(&bytes[..], ReadOptions::default()).unwrap().image_id
        );
    }

    #[derive(Debug)]
    enum VisitError {
        Read(ReadError),
        Mine,
    }

    impl From<ReadError> for VisitError {
        fn from(e: ReadError) -> Self {
            VisitError::Read(e)
        }
    }

    #[test]
    fn read_with_stops_at_the_callers_error() {
        let bytes = Raw::new().base().file("rootfs/x", b"1").bytes();
        let mut calls = 0;
        let r = read_with(&bytes[..], ReadOptions::default(), |_, _| {
            calls += 1;
            if calls == 2 {
                Err(VisitError::Mine)
            } else {
                Ok(())
            }
        });
        assert!(matches!(r, Err(VisitError::Mine)), "{r:?}");
        assert_eq!(calls, 2);
        // Positive control: the same archive with an accepting callback is fine.
        assert!(
            read_with(&bytes[..], ReadOptions::default(), |_, _| Ok::<
                (),
                VisitError,
            >(()))
            .is_ok()
        );
    }

    #[test]
    fn read_with_stops_visiting_after_the_first_layout_error_but_reports_all() {
        let bytes = Raw::new()
            .base()
            .file("README", b"")
            .file("rootfs/x", b"1")
            .file("/abs", b"")
            .bytes();
        let mut visited = Vec::new();
        let r = read_with(&bytes[..], ReadOptions::default(), |e, _| {
            visited.push(e.path.clone());
            Ok::<(), ReadError>(())
        });
        assert_eq!(visited, ["manifest", "rootfs"]);
        assert_eq!(r.unwrap_err().layout_errors().len(), 2);
    }

    #[test]
    fn read_with_reports_truncation_even_if_the_caller_maps_the_read_error() {
        let good = Raw::new().base().file("rootfs/x", &[7u8; 4000]).bytes();
        let r = read_with(&good[..2500], ReadOptions::default(), |_, data| {
            io::copy(data, &mut io::sink()).map_err(|_| VisitError::Mine)?;
            Ok(())
        });
        assert!(
            matches!(r, Err(VisitError::Read(ReadError::Corrupt { .. }))),
            "{r:?}"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_random_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            let _ = read(&bytes[..], ReadOptions { allow_nonstandard: true });
        }

        #[test]
        fn never_panics_on_truncated_or_flipped_archives(cut in 0usize..3000, flip in 0usize..3000, bit in 0u8..8) {
            let mut good = Raw::new().base().file("rootfs/x", &[7u8; 900]).bytes();
            let gz = {
                use std::io::Write;
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&good).unwrap();
                e.finish().unwrap()
            };
            let f = flip % good.len();
            good[f] ^= 1 << bit;
            let _ = read(&good[..cut.min(good.len())], ReadOptions::default());
            let _ = read(&gz[..cut.min(gz.len())], ReadOptions::default());
        }
    }
}

//! The strict ACI reader: detect the compression, stream the tar once, compute the image ID and
//! check the layout (`manifest` + `rootfs/…`, checklist §1.3, §1.4, §9.1). It extracts nothing and
//! does not parse the manifest: it returns its bytes, checked to be a size-capped JSON object.
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
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// Symlink target as stored, or hard link target cleaned.
    pub link: Option<String>,
}

/// A read and layout-checked image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AciInfo {
    pub manifest: Vec<u8>,
    pub entries: Vec<EntryInfo>,
    pub image_id: ImageId,
    pub compression: Compression,
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

/// Read a whole image from `input`, hash it and check its layout.
pub fn read<R: Read>(input: R, opts: ReadOptions) -> Result<AciInfo, ReadError> {
    let mut input = input;
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
    let mut stream = Hashing::new(decoded);
    let (manifest, entries) = read_tar(&mut stream)?;
    let (image_id, _) = stream.finish();
    Ok(AciInfo {
        manifest,
        entries,
        image_id,
        compression,
    })
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

fn read_tar<R: Read>(stream: &mut R) -> Result<(Vec<u8>, Vec<EntryInfo>), ReadError> {
    let mut archive = tar::Archive::new(&mut *stream);
    let mut errors = Vec::new();
    let mut infos = Vec::new();
    let mut manifest: Option<Vec<u8>> = None;
    let mut seen = BTreeSet::new();
    let mut kinds: BTreeMap<String, EntryType> = BTreeMap::new();
    let mut rootfs = false;
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
            manifest = Some(bytes);
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
        // Drain the data now so that truncation is reported against this entry.
        io::copy(&mut entry, &mut io::sink()).map_err(|e| corrupt(&last, e))?;
        kinds.insert(name.clone(), kind);
        infos.push(EntryInfo {
            path: name,
            kind,
            mode,
            uid,
            gid,
            size,
            link,
        });
    }
    drop(archive);
    check_end(stream)?;
    if manifest.is_none() {
        errors.push(LayoutError::NoManifest);
    }
    if !rootfs {
        errors.push(LayoutError::NoRootfs);
    }
    match manifest {
        Some(m) if errors.is_empty() => Ok((m, infos)),
        _ => Err(ReadError::Layout(errors)),
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

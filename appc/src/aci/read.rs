//! The strict ACI reader: detect the compression, stream the tar once, compute the image ID and
//! check the layout (`manifest` + `rootfs/…`, checklist §1.3, §1.4, §9.1). It does not parse the
//! manifest: it returns its bytes, checked to be a size-capped JSON object (parsed strictly by
//! [`manifest::json`](crate::manifest::json): no duplicate keys).
//!
//! Two ways in: [`read`] collects every entry's metadata; [`read_with`] hands each entry that
//! passes the layout rules, with its content, to a callback while the archive streams past (to
//! extract in the same pass as the check, without reading the image twice).
//!
//! The tar headers are walked by [`tar_stream`](crate::aci::tar_stream), which bounds every
//! allocation and refuses anything two tar readers could read differently (sparse files, a name
//! given two ways, data in header-only entries); the compressed stream by
//! [`compression::Decoder`](crate::aci::compression), which refuses data after its end. Memory
//! is bounded: at most [`ENTRIES_MAX`](crate::aci::tar_stream::ENTRIES_MAX) entries whose
//! cleaned names total at most [`NAMES_MAX`] bytes are remembered (for the duplicate, hard link
//! and symlink rules), at most [`ERRORS_MAX`] errors are kept (the rest are counted), and reading
//! stops after [`ERRORS_STOP`] errors (a million copies of one entry are not all read).
//!
//! Stricter than the Go reference: any `..` component is rejected (even one that cleans back into
//! `rootfs`), top-level names are compared by path component (`rootfs2/x` is outside `rootfs`),
//! duplicate `rootfs` and `manifest` entries are errors, hard links must point to an earlier
//! non-directory entry inside `rootfs/`, nothing may be stored beneath a symlink or other
//! non-directory (a hard link to a symlink counts as a symlink, and a later symlink may not
//! replace a directory that already has entries), and the stream must end with the two zero
//! blocks and nothing but zeros after them.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufReader, Read};

use crate::aci::compression::{Compression, Decoder};
use crate::aci::tar_stream::{Header, TarError, TarStream};
use crate::image_id::{Hashing, ImageId};

/// The largest manifest accepted.
pub const MANIFEST_MAX: u64 = 1024 * 1024;
/// The most bytes of cleaned entry names (and hard link targets) remembered while reading.
pub const NAMES_MAX: u64 = 64 * 1024 * 1024;
/// The most layout errors reported one by one; the rest are counted.
pub const ERRORS_MAX: usize = 100;
/// After this many layout errors the reader stops reading: the verdict cannot change.
pub const ERRORS_STOP: u64 = 10_000;

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
    #[error("entry {name:?}: manifest: {reason}")]
    ManifestInvalidJson { name: String, reason: String },
    #[error("entry {name:?}: hard link target {target:?} is not inside rootfs/")]
    HardlinkOutside { name: String, target: String },
    #[error("entry {name:?}: hard link target {target:?} is not an earlier entry")]
    HardlinkDangling { name: String, target: String },
    #[error("entry {name:?}: hard link target {target:?} is a directory")]
    HardlinkToDir { name: String, target: String },
    #[error("entry {name:?}: stored beneath the symlink {symlink:?}")]
    BeneathSymlink { name: String, symlink: String },
    #[error("entry {name:?}: stored beneath {parent:?}, which is a {kind}, not a directory")]
    BeneathNonDir {
        name: String,
        parent: String,
        kind: EntryType,
    },
    #[error(
        "entry {name:?}: a {kind} where the earlier entry {child:?} needs a directory (order-dependent extraction)"
    )]
    ReplacesDir {
        name: String,
        kind: EntryType,
        child: String,
    },
    #[error("entry {name:?}: unsupported tar entry type {typeflag:?}")]
    UnsupportedType { name: String, typeflag: char },
    #[error("entry {0:?}: name is not UTF-8")]
    NotUtf8(String),
    #[error("entry {0:?}: link target is not UTF-8")]
    LinkNotUtf8(String),
    #[error("entry {0:?}: empty link target")]
    EmptyLink(String),
    #[error(
        "entry {0:?}: a regular file whose name ends with \"/\" (other tar readers make it a directory)"
    )]
    FileWithSlash(String),
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
    #[error("corrupt or truncated archive{}: {source}", after_entry(after))]
    Corrupt {
        after: Option<String>,
        source: io::Error,
    },
    #[error("unsafe or malformed tar stream{}: {source}", after_entry(after))]
    Tar {
        after: Option<String>,
        source: TarError,
    },
    #[error("archive does not end with two zero blocks (truncated?)")]
    NoEndOfArchive,
    #[error("data after the end of the archive")]
    TrailingData,
    #[error(
        "data after the end of the {0} stream (a second stream or garbage, refused as gzip -t and xz -t do)"
    )]
    TrailingCompressed(Compression),
    #[error("entry names total more than {NAMES_MAX} bytes")]
    NamesTooLarge,
    #[error("invalid image layout:{}{}", errors.iter().map(|e| format!("\n  {e}")).collect::<String>(), more(*omitted, *stopped))]
    Layout {
        errors: Vec<LayoutError>,
        /// Errors found beyond the first [`ERRORS_MAX`], counted only.
        omitted: u64,
        /// Whether reading stopped at [`ERRORS_STOP`] errors (there may be more).
        stopped: bool,
    },
}

fn after_entry(after: &Option<String>) -> String {
    after
        .as_ref()
        .map(|a| format!(" after entry {a:?}"))
        .unwrap_or_default()
}

fn more(omitted: u64, stopped: bool) -> String {
    match (omitted, stopped) {
        (0, _) => String::new(),
        (n, false) => format!("\n  and {n} more"),
        (n, true) => format!("\n  and {n} more (reading stopped after {ERRORS_STOP} errors)"),
    }
}

impl ReadError {
    /// The layout errors, if that is what this is.
    pub fn layout_errors(&self) -> &[LayoutError] {
        match self {
            ReadError::Layout { errors, .. } => errors,
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
    let (decoder, compression) = open(input, opts)?;
    let mut tar = TarStream::new(Hashing::new(decoder));
    let mut layout = Layout::default();
    let mut visited = 0u64;
    loop {
        let header = match tar.next_entry() {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => return Err(tar_error(e, layout.last.take()).into()),
        };
        let checked = layout.check(header, &mut tar.content())?;
        if layout.errors.len() as u64 + layout.omitted >= ERRORS_STOP {
            return Err(layout.into_error(true).into());
        }
        let Some((info, manifest)) = checked else {
            continue;
        };
        if !layout.errors.is_empty() {
            continue;
        }
        visited += 1;
        let mut content = Watched {
            inner: tar.content(),
            error: None,
        };
        let result = match &manifest {
            Some(bytes) => visit(&info, &mut &bytes[..]),
            None => visit(&info, &mut content),
        };
        if let Err(e) = result {
            return Err(match content.error {
                Some(kind) => layout.corrupt(io::Error::from(kind)).into(),
                None => e,
            });
        }
    }
    let (image_id, mut decoder) = tar.into_inner().finish();
    if decoder.has_trailing_data().map_err(|e| layout.corrupt(e))? {
        return Err(ReadError::TrailingCompressed(compression).into());
    }
    Ok(ReadSummary {
        manifest: layout.finish()?,
        image_id,
        compression,
        entries: visited,
    })
}

type Input<R> = Decoder<BufReader<io::Chain<io::Cursor<Vec<u8>>, R>>>;

fn open<R: Read>(mut input: R, opts: ReadOptions) -> Result<(Input<R>, Compression), ReadError> {
    let corrupt = |source| ReadError::Corrupt {
        after: None,
        source,
    };
    let mut head = Vec::with_capacity(512);
    (&mut input)
        .take(512)
        .read_to_end(&mut head)
        .map_err(corrupt)?;
    let compression = Compression::detect(&head).ok_or(ReadError::UnknownFormat)?;
    if !compression.is_standard() && !opts.allow_nonstandard {
        return Err(ReadError::Nonstandard);
    }
    let raw = BufReader::with_capacity(64 * 1024, io::Cursor::new(head).chain(input));
    Ok((
        Decoder::new(raw, compression).map_err(corrupt)?,
        compression,
    ))
}

fn tar_error(e: TarError, after: Option<String>) -> ReadError {
    match e {
        TarError::Io(source) => ReadError::Corrupt { after, source },
        TarError::NoEndOfArchive => ReadError::NoEndOfArchive,
        TarError::TrailingData => ReadError::TrailingData,
        source => ReadError::Tar { after, source },
    }
}

/// Passes reads through and keeps the first error, so that a truncated archive is reported as
/// such even when the callback turned the read error into its own.
struct Watched<R> {
    inner: R,
    error: Option<io::ErrorKind>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.error.get_or_insert(e.kind());
        })
    }
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

fn entry_type(typeflag: u8) -> Option<EntryType> {
    Some(match typeflag {
        b'0' | b'\0' | b'7' => EntryType::File,
        b'5' => EntryType::Dir,
        b'2' => EntryType::Symlink,
        b'1' => EntryType::Hardlink,
        b'3' => EntryType::Char,
        b'4' => EntryType::Block,
        b'6' => EntryType::Fifo,
        _ => return None,
    })
}

/// An entry that passed the layout rules, with the manifest's bytes if it is the manifest.
type Accepted = (EntryInfo, Option<Vec<u8>>);

/// The layout rules, applied entry by entry.
#[derive(Debug, Default)]
struct Layout {
    /// Every cleaned name seen so far, with what it is on disk after extraction (a hard link
    /// counts as the kind of its target).
    kinds: BTreeMap<String, EntryType>,
    name_bytes: u64,
    errors: Vec<LayoutError>,
    omitted: u64,
    manifest: Option<Vec<u8>>,
    rootfs: bool,
    /// The raw name of the last entry, for errors about the stream.
    last: Option<String>,
}

impl Layout {
    fn error(&mut self, e: LayoutError) {
        if self.errors.len() < ERRORS_MAX {
            self.errors.push(e);
        } else {
            self.omitted += 1;
        }
    }

    fn corrupt(&self, source: io::Error) -> ReadError {
        ReadError::Corrupt {
            after: self.last.clone(),
            source,
        }
    }

    /// Checks one entry; `Some` with its info (and the manifest's bytes) when it passes.
    fn check(&mut self, h: Header, content: &mut impl Read) -> Result<Option<Accepted>, ReadError> {
        let raw = String::from_utf8_lossy(&h.name).into_owned();
        self.last = Some(raw.clone());
        let Ok(utf8) = std::str::from_utf8(&h.name) else {
            self.error(LayoutError::NotUtf8(raw));
            return Ok(None);
        };
        let Some(kind) = entry_type(h.typeflag) else {
            let typeflag = char::from(h.typeflag);
            self.error(LayoutError::UnsupportedType {
                name: raw,
                typeflag,
            });
            return Ok(None);
        };
        if kind == EntryType::File && utf8.ends_with('/') {
            self.error(LayoutError::FileWithSlash(raw));
            return Ok(None);
        }
        let name = match clean(utf8) {
            Ok(n) => n,
            Err(e) => {
                self.error(e);
                return Ok(None);
            }
        };
        if self.kinds.contains_key(&name) {
            self.error(LayoutError::Duplicate(raw));
            return Ok(None);
        }
        let Some((link, on_disk)) = self.link(&raw, kind, &h.link) else {
            return Ok(None);
        };
        self.name_bytes += (name.len() + link.as_ref().map_or(0, String::len)) as u64;
        if self.name_bytes > NAMES_MAX {
            return Err(ReadError::NamesTooLarge);
        }
        self.kinds.insert(name.clone(), on_disk);
        let manifest = match name.as_str() {
            "manifest" => match self.manifest(&raw, kind, h.size, content)? {
                Some(bytes) => Some(bytes),
                None => return Ok(None),
            },
            "rootfs" if kind != EntryType::Dir => {
                self.error(LayoutError::RootfsNotDir { name: raw, kind });
                return Ok(None);
            }
            "rootfs" => {
                self.rootfs = true;
                None
            }
            n if !n.starts_with("rootfs/") => {
                self.error(LayoutError::Outside(raw));
                return Ok(None);
            }
            _ if !self.placement_ok(&name, &raw, on_disk) => return Ok(None),
            _ => None,
        };
        let device = matches!(kind, EntryType::Char | EntryType::Block).then_some(h.device);
        let info = EntryInfo {
            path: name,
            kind,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            mtime: h.mtime,
            size: if kind == EntryType::File { h.size } else { 0 },
            link,
            device,
        };
        Ok(Some((info, manifest)))
    }

    /// The link target of a link entry, checked, and what the entry is on disk; `None` after
    /// recording an error.
    fn link(
        &mut self,
        raw: &str,
        kind: EntryType,
        target: &[u8],
    ) -> Option<(Option<String>, EntryType)> {
        if !matches!(kind, EntryType::Hardlink | EntryType::Symlink) {
            return Some((None, kind));
        }
        let Ok(target) = std::str::from_utf8(target) else {
            self.error(LayoutError::LinkNotUtf8(raw.to_owned()));
            return None;
        };
        if target.is_empty() {
            self.error(LayoutError::EmptyLink(raw.to_owned()));
            return None;
        }
        if kind == EntryType::Symlink {
            return Some((Some(target.to_owned()), kind));
        }
        let name = raw.to_owned();
        let target_owned = target.to_owned();
        let cleaned = match clean(target) {
            Ok(t) if t.starts_with("rootfs/") => t,
            _ => {
                self.error(LayoutError::HardlinkOutside {
                    name,
                    target: target_owned,
                });
                return None;
            }
        };
        match self.kinds.get(&cleaned) {
            None => self.error(LayoutError::HardlinkDangling {
                name,
                target: target_owned,
            }),
            Some(EntryType::Dir) => self.error(LayoutError::HardlinkToDir {
                name,
                target: target_owned,
            }),
            Some(&on_disk) => return Some((Some(cleaned), on_disk)),
        }
        None
    }

    /// Nothing beneath a non-directory, and no non-directory where earlier entries need a
    /// directory; records the error and returns `false` otherwise.
    fn placement_ok(&mut self, name: &str, raw: &str, on_disk: EntryType) -> bool {
        let mut end = name.len();
        while let Some(i) = name[..end].rfind('/') {
            let parent = &name[..i];
            match self.kinds.get(parent) {
                Some(EntryType::Symlink) => {
                    let symlink = parent.to_owned();
                    self.error(LayoutError::BeneathSymlink {
                        name: raw.to_owned(),
                        symlink,
                    });
                    return false;
                }
                Some(&kind) if kind != EntryType::Dir => {
                    let parent = parent.to_owned();
                    let name = raw.to_owned();
                    self.error(LayoutError::BeneathNonDir { name, parent, kind });
                    return false;
                }
                _ => {}
            }
            end = i;
        }
        if on_disk != EntryType::Dir {
            let below = format!("{name}/");
            let child = self
                .kinds
                .range(below.clone()..)
                .next()
                .filter(|(k, _)| k.starts_with(&below))
                .map(|(k, _)| k.clone());
            if let Some(child) = child {
                let name = raw.to_owned();
                self.error(LayoutError::ReplacesDir {
                    name,
                    kind: on_disk,
                    child,
                });
                return false;
            }
        }
        true
    }

    /// Reads and checks the manifest entry; `None` after recording an error.
    fn manifest(
        &mut self,
        raw: &str,
        kind: EntryType,
        size: u64,
        content: &mut impl Read,
    ) -> Result<Option<Vec<u8>>, ReadError> {
        let name = raw.to_owned();
        if kind != EntryType::File {
            self.error(LayoutError::ManifestNotFile { name, kind });
            return Ok(None);
        }
        if size > MANIFEST_MAX {
            self.error(LayoutError::ManifestTooLarge { name, size });
            return Ok(None);
        }
        let mut bytes = Vec::new();
        content
            .take(MANIFEST_MAX)
            .read_to_end(&mut bytes)
            .map_err(|e| self.corrupt(e))?;
        match crate::manifest::json::parse(&bytes) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => self.error(LayoutError::ManifestNotJsonObject(name)),
            Err(e) => self.error(LayoutError::ManifestInvalidJson {
                name,
                reason: e.to_string(),
            }),
        }
        self.manifest = Some(bytes.clone());
        Ok(Some(bytes))
    }

    fn finish(mut self) -> Result<Vec<u8>, ReadError> {
        if self.manifest.is_none() {
            self.error(LayoutError::NoManifest);
        }
        if !self.rootfs {
            self.error(LayoutError::NoRootfs);
        }
        match self.manifest.take() {
            Some(m) if self.errors.is_empty() => Ok(m),
            _ => Err(self.into_error(false)),
        }
    }

    fn into_error(self, stopped: bool) -> ReadError {
        ReadError::Layout {
            errors: self.errors,
            omitted: self.omitted,
            stopped,
        }
    }
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
            Err(ReadError::Layout { errors, .. }) => errors.iter().map(|e| e.to_string()).collect(),
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

//! The deterministic ACI writer: collect rootfs entries, then stream `manifest`, `rootfs` and the
//! entries in bytewise path order into a tar built from hand-made GNU headers (no PAX, no user or
//! group names, one fixed mtime), hash it into the image ID and compress it on the way out.
//!
//! Parent directories that were not added are written as `0755 0:0` directories, so the archive
//! is always complete. File contents stream from their host path; a file whose size differs from
//! the size seen when its header was written is an error, never a silently corrupt image.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::aci::compression::{Compression, Encoder};
use crate::aci::entry::{Entry, EntryKind, FileSource, RootfsPath, implied_parents};
use crate::atomic_file::AtomicFile;
use crate::image_id::{Hashing, ImageId};

/// The mtime used when `SOURCE_DATE_EPOCH` is not set: 2000-01-01T00:00:00Z.
pub const DEFAULT_MTIME: u64 = 946_684_800;

/// How to write an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    pub compression: Compression,
    /// Codec level; `None` means [`Compression::default_level`].
    pub level: Option<u32>,
    /// Compression threads; 0 means every core. The output is the same for every value.
    pub threads: usize,
    /// The mtime of every entry, in seconds since the epoch.
    pub mtime: u64,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            compression: Compression::Gzip,
            level: None,
            threads: 0,
            mtime: DEFAULT_MTIME,
        }
    }
}

impl WriteOptions {
    /// The defaults, with `mtime` from `SOURCE_DATE_EPOCH` when it is set (see
    /// [`crate::source_date_epoch`]).
    pub fn from_env() -> Result<WriteOptions, WriteError> {
        Ok(WriteOptions {
            mtime: crate::source_date_epoch::from_env()?.unwrap_or(DEFAULT_MTIME),
            ..WriteOptions::default()
        })
    }
}

/// What a write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    pub image_id: ImageId,
    /// Bytes of the uncompressed tar stream.
    pub tar_bytes: u64,
    /// Bytes written to the output (after compression).
    pub compressed_bytes: u64,
    /// Archive entries, including `manifest`, `rootfs` and implied parent directories.
    pub entries: usize,
    pub compression: Compression,
}

/// Why an image could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    SourceDateEpoch(#[from] crate::source_date_epoch::SourceDateEpochError),
    #[error("rootfs/{0}: added twice")]
    Duplicate(RootfsPath),
    #[error("rootfs/{path}: its parent rootfs/{parent} is not a directory")]
    ParentNotDir {
        path: RootfsPath,
        parent: RootfsPath,
    },
    #[error("rootfs/{path}: hard link target rootfs/{target} is not a regular file of this image")]
    HardlinkTarget {
        path: RootfsPath,
        target: RootfsPath,
    },
    #[error(
        "rootfs/{path}: hard link target rootfs/{target} sorts after the link; a link must follow its target"
    )]
    HardlinkOrder {
        path: RootfsPath,
        target: RootfsPath,
    },
    #[error("rootfs/{path}: reading {}: {source}", source_path.display())]
    Source {
        path: RootfsPath,
        source_path: PathBuf,
        source: io::Error,
    },
    #[error("rootfs/{path}: {} changed size while it was being read", source_path.display())]
    SizeChanged {
        path: RootfsPath,
        source_path: PathBuf,
    },
    #[error("writing {name}: {source}")]
    Archive { name: String, source: io::Error },
    #[error("compressing the image: {0}")]
    Compress(io::Error),
    #[error("{}: {source}", path.display())]
    Output { path: PathBuf, source: io::Error },
}

/// Collects entries and writes them as one ACI.
#[derive(Debug)]
pub struct Builder {
    manifest: Vec<u8>,
    opts: WriteOptions,
    entries: BTreeMap<RootfsPath, Entry>,
}

impl Builder {
    /// A builder for an image with these manifest bytes (written as they are).
    pub fn new(manifest: Vec<u8>, opts: WriteOptions) -> Builder {
        Builder {
            manifest,
            opts,
            entries: BTreeMap::new(),
        }
    }

    /// Add one rootfs entry; adding a path twice is an error.
    pub fn add(&mut self, entry: Entry) -> Result<(), WriteError> {
        if self.entries.contains_key(&entry.path) {
            return Err(WriteError::Duplicate(entry.path));
        }
        self.entries.insert(entry.path.clone(), entry);
        Ok(())
    }

    /// Write the image to `path` atomically (temporary file, fsync, rename).
    pub fn write_file(self, path: &Path) -> Result<WriteSummary, WriteError> {
        let output = |source| WriteError::Output {
            path: path.to_owned(),
            source,
        };
        let file = AtomicFile::create(path, 0o644).map_err(output)?;
        let (summary, file) = self.write_into(io::BufWriter::with_capacity(1 << 20, file))?;
        let file = file.into_inner().map_err(|e| output(e.into_error()))?;
        file.commit().map_err(output)?;
        Ok(summary)
    }

    /// Write the image to `out`.
    pub fn write_to<W: Write + Send>(self, out: W) -> Result<WriteSummary, WriteError> {
        self.write_into(out).map(|(summary, _)| summary)
    }

    fn write_into<W: Write + Send>(mut self, out: W) -> Result<(WriteSummary, W), WriteError> {
        self.add_missing_parents()?;
        self.check_hardlinks()?;
        let threads = match self.opts.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let compression = self.opts.compression;
        let level = self
            .opts
            .level
            .unwrap_or_else(|| compression.default_level());
        std::thread::scope(|scope| {
            let encoder = Encoder::new(scope, out, compression, level, threads)
                .map_err(WriteError::Compress)?;
            let mut tar = tar::Builder::new(Hashing::new(encoder));
            let entries = self.append_all(&mut tar)?;
            let hashing = tar.into_inner().map_err(|source| WriteError::Archive {
                name: "end of archive".into(),
                source,
            })?;
            let tar_bytes = hashing.bytes();
            let (image_id, encoder) = hashing.finish();
            let (out, compressed_bytes) = encoder.finish().map_err(WriteError::Compress)?;
            Ok((
                WriteSummary {
                    image_id,
                    tar_bytes,
                    compressed_bytes,
                    entries,
                    compression,
                },
                out,
            ))
        })
    }

    fn add_missing_parents(&mut self) -> Result<(), WriteError> {
        let mut missing = Vec::new();
        for entry in self.entries.values() {
            let declared = |p: &str| self.entries.get(p).map(|e| e.kind == EntryKind::Dir);
            match implied_parents(entry.path.as_str(), declared) {
                Ok(parents) => missing.extend(parents.into_iter().map(str::to_owned)),
                Err(parent) => {
                    let parent = self.entries.get(parent).map_or(&entry.path, |e| &e.path);
                    return Err(WriteError::ParentNotDir {
                        path: entry.path.clone(),
                        parent: parent.clone(),
                    });
                }
            }
        }
        for path in missing {
            // Each came from a valid path, so each is a valid path.
            if let Ok(path) = RootfsPath::new(&path) {
                self.entries.entry(path.clone()).or_insert(Entry {
                    path,
                    kind: EntryKind::Dir,
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                });
            }
        }
        Ok(())
    }

    fn check_hardlinks(&self) -> Result<(), WriteError> {
        for entry in self.entries.values() {
            if let EntryKind::Hardlink(target) = &entry.kind {
                match self.entries.get(target) {
                    Some(Entry {
                        kind: EntryKind::File(_),
                        ..
                    }) => {}
                    _ => {
                        return Err(WriteError::HardlinkTarget {
                            path: entry.path.clone(),
                            target: target.clone(),
                        });
                    }
                }
                if target > &entry.path {
                    return Err(WriteError::HardlinkOrder {
                        path: entry.path.clone(),
                        target: target.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    fn append_all<W: Write>(&self, tar: &mut tar::Builder<W>) -> Result<usize, WriteError> {
        let mtime = self.opts.mtime;
        let archive = |name: &str| {
            let name = name.to_owned();
            move |source| WriteError::Archive { name, source }
        };
        let mut h = header(tar::EntryType::Regular, 0o644, 0, 0, mtime);
        h.set_size(self.manifest.len() as u64);
        tar.append_data(&mut h, "manifest", &self.manifest[..])
            .map_err(archive("manifest"))?;
        let mut h = header(tar::EntryType::Directory, 0o755, 0, 0, mtime);
        tar.append_data(&mut h, "rootfs", io::empty())
            .map_err(archive("rootfs"))?;
        for entry in self.entries.values() {
            let name = entry.path.archive_name();
            let err = archive(&name);
            let (uid, gid, mode) = (entry.uid, entry.gid, entry.mode);
            match &entry.kind {
                EntryKind::Dir => {
                    let mut h = header(tar::EntryType::Directory, mode, uid, gid, mtime);
                    tar.append_data(&mut h, &name, io::empty()).map_err(err)?;
                }
                EntryKind::File(FileSource::Bytes(bytes)) => {
                    let mut h = header(tar::EntryType::Regular, mode, uid, gid, mtime);
                    h.set_size(bytes.len() as u64);
                    tar.append_data(&mut h, &name, &bytes[..]).map_err(err)?;
                }
                EntryKind::File(FileSource::Path(source_path)) => {
                    append_host_file(tar, entry, &name, source_path, mtime)?;
                }
                EntryKind::Symlink(target) => {
                    let mut h = header(tar::EntryType::Symlink, mode, uid, gid, mtime);
                    tar.append_link(&mut h, &name, target).map_err(err)?;
                }
                EntryKind::Hardlink(target) => {
                    let mut h = header(tar::EntryType::Link, mode, uid, gid, mtime);
                    tar.append_link(&mut h, &name, target.archive_name())
                        .map_err(err)?;
                }
            }
        }
        Ok(self.entries.len() + 2)
    }
}

fn header(kind: tar::EntryType, mode: u32, uid: u32, gid: u32, mtime: u64) -> tar::Header {
    // GNU headers: long names become ././@LongLink entries, never PAX; uname/gname stay empty.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode & 0o7777);
    h.set_uid(u64::from(uid));
    h.set_gid(u64::from(gid));
    h.set_mtime(mtime);
    h.set_size(0);
    h
}

fn append_host_file<W: Write>(
    tar: &mut tar::Builder<W>,
    entry: &Entry,
    name: &str,
    source_path: &Path,
    mtime: u64,
) -> Result<(), WriteError> {
    let source = |source| WriteError::Source {
        path: entry.path.clone(),
        source_path: source_path.to_owned(),
        source,
    };
    let file = File::open(source_path).map_err(source)?;
    let size = file.metadata().map_err(source)?.len();
    let mut h = header(
        tar::EntryType::Regular,
        entry.mode,
        entry.uid,
        entry.gid,
        mtime,
    );
    h.set_size(size);
    let mut reader = ExactSize {
        inner: file,
        expected: size,
        seen: 0,
    };
    tar.append_data(&mut h, name, &mut reader).map_err(|e| {
        if e.kind() == io::ErrorKind::InvalidData && e.to_string() == SIZE_CHANGED {
            WriteError::SizeChanged {
                path: entry.path.clone(),
                source_path: source_path.to_owned(),
            }
        } else {
            WriteError::Archive {
                name: name.to_owned(),
                source: e,
            }
        }
    })
}

const SIZE_CHANGED: &str = "file changed size while being read";

/// Yields exactly `expected` bytes or fails: the tar header already promised that size.
struct ExactSize<R> {
    inner: R,
    expected: u64,
    seen: u64,
}

impl<R: Read> Read for ExactSize<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n as u64;
        if self.seen > self.expected || (n == 0 && !buf.is_empty() && self.seen < self.expected) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, SIZE_CHANGED));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aci::read::{EntryType, ReadOptions, read};

    fn opts(compression: Compression) -> WriteOptions {
        WriteOptions {
            compression,
            level: None,
            threads: 2,
            mtime: 1_700_000_000,
        }
    }

    fn file(path: &str, bytes: &[u8], mode: u32) -> Entry {
        Entry {
            path: RootfsPath::new(path).unwrap(),
            kind: EntryKind::File(FileSource::Bytes(bytes.to_vec())),
            mode,
            uid: 0,
            gid: 0,
        }
    }

    fn tar_of(b: Builder) -> Vec<u8> {
        let mut out = Vec::new();
        b.write_to(&mut out).unwrap();
        out
    }

    #[test]
    fn writes_manifest_rootfs_then_entries_in_bytewise_order_with_parents() {
        let mut b = Builder::new(b"{}".to_vec(), opts(Compression::None));
        b.add(file("usr/bin/z", b"z", 0o755)).unwrap();
        b.add(file("etc/a", b"a", 0o644)).unwrap();
        b.add(file("usr-b", b"b", 0o644)).unwrap();
        let info = read(&tar_of(b)[..], ReadOptions::default()).unwrap();
        let names: Vec<_> = info.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            names,
            [
                "manifest",
                "rootfs",
                "rootfs/etc",
                "rootfs/etc/a",
                "rootfs/usr",
                "rootfs/usr-b",
                "rootfs/usr/bin",
                "rootfs/usr/bin/z"
            ]
        );
        let usr = &info.entries[4];
        assert_eq!(
            (usr.kind, usr.mode, usr.uid, usr.gid),
            (EntryType::Dir, 0o755, 0, 0)
        );
    }

    #[test]
    fn headers_keep_setuid_owner_and_fixed_mtime_without_names() {
        let mut b = Builder::new(b"{}".to_vec(), opts(Compression::None));
        let mut e = file("bin/su", b"x", 0o4755);
        e.uid = 1000;
        e.gid = 2000;
        b.add(e).unwrap();
        let bytes = tar_of(b);
        let mut ar = tar::Archive::new(&bytes[..]);
        for entry in ar.entries().unwrap() {
            let entry = entry.unwrap();
            let h = entry.header();
            assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            assert_eq!(h.username_bytes(), Some(&b""[..]));
            assert!(h.as_gnu().is_some(), "GNU header");
            assert!(!matches!(
                h.entry_type(),
                tar::EntryType::XHeader | tar::EntryType::XGlobalHeader
            ));
            if entry.path_bytes().as_ref() == b"rootfs/bin/su" {
                assert_eq!(h.mode().unwrap(), 0o4755);
                assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (1000, 2000));
            }
        }
    }

    #[test]
    fn long_names_and_long_symlink_targets_round_trip() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(150));
        let target = format!("/{}", "t".repeat(200));
        let mut b = Builder::new(b"{}".to_vec(), opts(Compression::None));
        b.add(file(&long, b"x", 0o644)).unwrap();
        b.add(Entry {
            path: RootfsPath::new("lnk").unwrap(),
            kind: EntryKind::Symlink(target.clone().into()),
            mode: 0o777,
            uid: 0,
            gid: 0,
        })
        .unwrap();
        let info = read(&tar_of(b)[..], ReadOptions::default()).unwrap();
        assert!(
            info.entries
                .iter()
                .any(|e| e.path == format!("rootfs/{long}"))
        );
        let lnk = info
            .entries
            .iter()
            .find(|e| e.path == "rootfs/lnk")
            .unwrap();
        assert_eq!(lnk.link.as_deref(), Some(target.as_str()));
    }

    #[test]
    fn hardlinks_are_stored_as_links_to_the_archive_name() {
        let mut b = Builder::new(b"{}".to_vec(), opts(Compression::None));
        b.add(file("a", b"data", 0o644)).unwrap();
        b.add(Entry {
            path: RootfsPath::new("b").unwrap(),
            kind: EntryKind::Hardlink(RootfsPath::new("a").unwrap()),
            mode: 0o644,
            uid: 0,
            gid: 0,
        })
        .unwrap();
        let info = read(&tar_of(b)[..], ReadOptions::default()).unwrap();
        let b = info.entries.iter().find(|e| e.path == "rootfs/b").unwrap();
        assert_eq!(b.kind, EntryType::Hardlink);
        assert_eq!(b.link.as_deref(), Some("rootfs/a"));
    }

    #[test]
    fn hardlink_before_its_target_is_an_error() {
        let mut b = Builder::new(b"{}".to_vec(), opts(Compression::None));
        b.add(file("z", b"data", 0o644)).unwrap();
        b.add(Entry {
            path: RootfsPath::new("a").unwrap(),
            kind: EntryKind::Hardlink(RootfsPath::new("z").unwrap()),
            mode: 0o644,
            uid: 0,
            gid: 0,
        })
        .unwrap();
        let err = b.write_to(Vec::new()).unwrap_err();
        assert!(matches!(err, WriteError::HardlinkOrder { .. }), "{err}");
    }

    #[test]
    fn duplicate_path_is_an_error() {
        let mut b = Builder::new(b"{}".to_vec(), opts(Compression::None));
        b.add(file("a", b"1", 0o644)).unwrap();
        let err = b.add(file("a", b"2", 0o644)).unwrap_err();
        assert_eq!(err.to_string(), "rootfs/a: added twice");
    }

    #[test]
    fn image_id_is_sha512_of_the_tar_and_bytes_equal_for_any_thread_count() {
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let build = |compression, threads| {
            let mut b = Builder::new(
                b"{}".to_vec(),
                WriteOptions {
                    threads,
                    ..opts(compression)
                },
            );
            b.add(file("big", &big, 0o644)).unwrap();
            let mut out = Vec::new();
            let s = b.write_to(&mut out).unwrap();
            (out, s)
        };
        let (plain, s) = build(Compression::None, 1);
        let (tar_id, _) = {
            let mut h = Hashing::new(io::sink());
            h.write_all(&plain).unwrap();
            h.finish()
        };
        assert_eq!(s.image_id, tar_id);
        for c in [Compression::Gzip, Compression::Xz, Compression::Zstd] {
            let (one, s1) = build(c, 1);
            let (two, _) = build(c, 2);
            let (four, _) = build(c, 4);
            assert_eq!(one, two, "{c}");
            assert_eq!(one, four, "{c}");
            assert_eq!(s1.image_id, tar_id, "{c}");
            let back = read(
                &one[..],
                ReadOptions {
                    allow_nonstandard: true,
                },
            )
            .unwrap();
            assert_eq!(back.image_id, tar_id, "{c}");
            assert_eq!(back.compression, c);
        }
    }

    #[test]
    fn file_that_grows_while_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let entry = Entry {
            path: RootfsPath::new("f").unwrap(),
            kind: EntryKind::File(FileSource::Path(p.clone())),
            mode: 0o644,
            uid: 0,
            gid: 0,
        };
        let mut out = Vec::new();
        let mut tar = tar::Builder::new(&mut out);
        let file = File::open(&p).unwrap();
        std::fs::write(&p, b"abcdef").unwrap();
        drop(file);
        // The header promises 3 bytes, the file now has 6.
        let mut reader = ExactSize {
            inner: File::open(&p).unwrap(),
            expected: 3,
            seen: 0,
        };
        let mut h = header(tar::EntryType::Regular, 0o644, 0, 0, 0);
        h.set_size(3);
        let err = tar
            .append_data(&mut h, "rootfs/f", &mut reader)
            .unwrap_err();
        assert_eq!(err.to_string(), SIZE_CHANGED);
        let _ = entry;
    }

    #[test]
    fn write_file_appears_complete() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.aci");
        let mut b = Builder::new(b"{}".to_vec(), opts(Compression::Gzip));
        b.add(file("a", b"1", 0o644)).unwrap();
        let s = b.write_file(&out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(bytes.len() as u64, s.compressed_bytes);
        assert_eq!(
            read(&bytes[..], ReadOptions::default()).unwrap().image_id,
            s.image_id
        );
    }
}

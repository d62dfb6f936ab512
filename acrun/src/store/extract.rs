//! Safe extraction of the entries the archive reader accepts into a fresh directory that only
//! this import uses, in the same pass as the reader's checks and hashing.
//!
//! Every path goes through [`Root`] (directory fds beneath the tree, no symlink followed). The
//! rules, each with a clear error naming the entry (checklist §1.4, runtime-anchors
//! Recommendation 6):
//! - only `manifest` and `rootfs/…` (the reader's layout rules; checked again by [`Root`]);
//! - regular files, directories, symlinks and hard links only: device nodes, FIFOs and sockets
//!   are refused (the runtime makes `/dev`);
//! - a symlink is created as a link and never followed: nothing is created beneath one, and an
//!   existing path is never replaced (`O_EXCL`), so a later entry cannot write through it;
//! - a hard link must name a regular file of this image already extracted;
//! - caps on the number of entries, the total size of file content, and the ratio of content
//!   bytes to compressed bytes read (a gzip bomb is stopped while it inflates, not after);
//! - setuid/setgid bits are kept and listed; ownership is applied when running as root.
//!
//! Directory modes and times are applied at the end (deepest first), so a read-only directory
//! in an image does not stop its own children from being created.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use appc::aci::read::{EntryInfo, EntryType, ReadError};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, UtimensatFlags, fchmod, futimens, mkdirat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, linkat, symlinkat};

use crate::beneath::Root;

/// Limits on what one image may make the store write.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most entries in one archive.
    pub max_entries: u64,
    /// Most bytes of file content in one image.
    pub max_total: u64,
    /// Most content bytes per compressed byte read, once [`Limits::ratio_floor`] bytes are out.
    pub max_ratio: u64,
    /// Content below which the ratio is not checked (small images compress very well).
    pub ratio_floor: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_entries: 1_000_000,
            max_total: 64 << 30,
            max_ratio: 200,
            ratio_floor: 64 << 20,
        }
    }
}

/// Why an image could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The archive reader refused the image.
    #[error(transparent)]
    Archive(#[from] ReadError),
    /// An entry of a kind the store does not create.
    #[error("entry {entry:?}: {kind}s are not allowed in images (the runtime makes /dev)")]
    SpecialFile { entry: String, kind: EntryType },
    /// A hard link whose target is not a regular file extracted earlier.
    #[error("entry {entry:?}: hard link target {target:?} is not a regular file of this image")]
    BadHardlink { entry: String, target: String },
    /// A limit was reached.
    #[error("entry {entry:?}: {what}")]
    Limit { entry: String, what: String },
    /// Creating the entry failed (a symlink in the way is reported here as ELOOP).
    #[error("entry {entry:?}: {source}")]
    Io { entry: String, source: io::Error },
}

/// The result of a finished extraction.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Archive paths of files with the setuid or setgid bit.
    pub setid_files: Vec<String>,
    /// Bytes of file content written.
    pub content_bytes: u64,
    pub entries: u64,
}

struct DirMeta {
    path: String,
    mode: u32,
    mtime: u64,
    owner: (u64, u64),
}

/// Extracts entries one by one beneath a root directory.
pub struct Extractor<'c> {
    root: Root,
    limits: Limits,
    compressed: &'c dyn Fn() -> u64,
    chown: bool,
    kinds: HashMap<String, EntryType>,
    dirs: Vec<DirMeta>,
    parent: Option<(String, OwnedFd)>,
    done: Extracted,
}

impl std::fmt::Debug for Extractor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor")
            .field("root", &self.root)
            .finish()
    }
}

impl<'c> Extractor<'c> {
    /// Extract beneath `dir` (an empty directory); `compressed` tells how many compressed
    /// bytes have been read so far (for the ratio cap).
    pub fn new(dir: &Path, limits: Limits, compressed: &'c dyn Fn() -> u64) -> io::Result<Self> {
        Ok(Extractor {
            root: Root::open(dir)?,
            limits,
            compressed,
            chown: Uid::effective().is_root(),
            kinds: HashMap::new(),
            dirs: Vec::new(),
            parent: None,
            done: Extracted::default(),
        })
    }

    /// Extract one entry with its content.
    pub fn entry(&mut self, e: &EntryInfo, data: &mut dyn Read) -> Result<(), ExtractError> {
        self.done.entries += 1;
        if self.done.entries > self.limits.max_entries {
            return Err(limit(
                e,
                format!("more than {} entries", self.limits.max_entries),
            ));
        }
        let io_err = |source| ExtractError::Io {
            entry: e.path.clone(),
            source,
        };
        match e.kind {
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                return Err(ExtractError::SpecialFile {
                    entry: e.path.clone(),
                    kind: e.kind,
                });
            }
            EntryType::Dir => self.dir(e).map_err(io_err)?,
            EntryType::File => self.file(e, data)?,
            EntryType::Symlink => self.symlink(e).map_err(io_err)?,
            EntryType::Hardlink => self.hardlink(e)?,
        }
        self.kinds.insert(e.path.clone(), e.kind);
        Ok(())
    }

    /// Apply directory metadata (deepest first) and return what was extracted.
    pub fn finish(mut self) -> Result<Extracted, ExtractError> {
        self.parent = None;
        self.dirs.sort_by(|a, b| b.path.cmp(&a.path));
        for d in &self.dirs {
            let fd = self
                .root
                .open_dir(&d.path)
                .map_err(|source| ExtractError::Io {
                    entry: d.path.clone(),
                    source,
                })?;
            self.apply(&fd, d.mode, d.mtime, d.owner)
                .map_err(|source| ExtractError::Io {
                    entry: d.path.clone(),
                    source,
                })?;
        }
        Ok(self.done)
    }

    fn parent_of<'p>(&mut self, path: &'p str) -> io::Result<(&OwnedFd, &'p str)> {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let cached = matches!(&self.parent, Some((p, _)) if p == dir);
        if !cached {
            let fd = self.root.create_dir_all(dir)?;
            self.parent = Some((dir.to_owned(), fd));
        }
        match &self.parent {
            Some((_, fd)) => Ok((fd, name)),
            None => Err(io::Error::other("no parent directory")),
        }
    }

    fn dir(&mut self, e: &EntryInfo) -> io::Result<()> {
        let (parent, name) = self.parent_of(&e.path)?;
        match mkdirat(parent, name, Mode::from_bits_truncate(0o755)) {
            // Made earlier as the parent of an entry that came first: still a directory, since
            // it was opened with O_DIRECTORY | O_NOFOLLOW.
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(err) => return Err(err.into()),
        }
        self.dirs.push(DirMeta {
            path: e.path.clone(),
            mode: e.mode,
            mtime: e.mtime,
            owner: (e.uid, e.gid),
        });
        Ok(())
    }

    fn file(&mut self, e: &EntryInfo, data: &mut dyn Read) -> Result<(), ExtractError> {
        let io_err = |source| ExtractError::Io {
            entry: e.path.clone(),
            source,
        };
        if self.done.content_bytes.saturating_add(e.size) > self.limits.max_total {
            return Err(limit(
                e,
                format!("image content exceeds {} bytes", self.limits.max_total),
            ));
        }
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
        let fd = {
            let (parent, name) = self.parent_of(&e.path).map_err(io_err)?;
            openat(
                parent,
                name,
                flags | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .map_err(|err| io_err(err.into()))?
        };
        let mut file = std::fs::File::from(fd);
        self.copy(e, data, &mut file)?;
        self.apply(&file, e.mode, e.mtime, (e.uid, e.gid))
            .map_err(io_err)?;
        if e.mode & 0o6000 != 0 {
            self.done.setid_files.push(e.path.clone());
        }
        Ok(())
    }

    fn copy(
        &mut self,
        e: &EntryInfo,
        data: &mut dyn Read,
        file: &mut std::fs::File,
    ) -> Result<(), ExtractError> {
        let mut buf = vec![0u8; 256 * 1024];
        let mut left = e.size;
        while left > 0 {
            let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            let n = match data.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                // The reader reports truncation itself, naming the entry.
                Err(err) => {
                    return Err(ReadError::Corrupt {
                        after: Some(e.path.clone()),
                        source: err,
                    }
                    .into());
                }
            };
            file.write_all(&buf[..n])
                .map_err(|source| ExtractError::Io {
                    entry: e.path.clone(),
                    source,
                })?;
            left -= n as u64;
            self.done.content_bytes += n as u64;
            self.check_ratio(e)?;
        }
        Ok(())
    }

    fn check_ratio(&self, e: &EntryInfo) -> Result<(), ExtractError> {
        let out = self.done.content_bytes;
        if out > self.limits.ratio_floor {
            let read = (self.compressed)().max(1);
            if out / read > self.limits.max_ratio {
                return Err(limit(
                    e,
                    format!(
                        "compression ratio above {}:1 ({out} bytes out of {read} compressed bytes): refusing a decompression bomb",
                        self.limits.max_ratio
                    ),
                ));
            }
        }
        Ok(())
    }

    fn symlink(&mut self, e: &EntryInfo) -> io::Result<()> {
        let target = e.link.clone().unwrap_or_default();
        let chown = self.chown;
        let (parent, name) = self.parent_of(&e.path)?;
        symlinkat(target.as_str(), parent, name)?;
        if chown {
            fchownat(
                parent,
                name,
                uid(e.uid),
                gid(e.gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )?;
        }
        let t = TimeSpec::new(i64::try_from(e.mtime).unwrap_or(0), 0);
        utimensat(parent, name, &t, &t, UtimensatFlags::NoFollowSymlink)?;
        Ok(())
    }

    fn hardlink(&mut self, e: &EntryInfo) -> Result<(), ExtractError> {
        let target = e.link.clone().unwrap_or_default();
        if self.kinds.get(&target) != Some(&EntryType::File) {
            return Err(ExtractError::BadHardlink {
                entry: e.path.clone(),
                target,
            });
        }
        let io_err = |source| ExtractError::Io {
            entry: e.path.clone(),
            source,
        };
        let (tdir, tname) = self.root.parent(&target).map_err(io_err)?;
        let (parent, name) = self.parent_of(&e.path).map_err(io_err)?;
        // No AT_SYMLINK_FOLLOW: the target itself is linked, never what it might point to.
        linkat(&tdir, tname, parent, name, AtFlags::empty()).map_err(|err| io_err(err.into()))?;
        Ok(())
    }

    fn apply(&self, fd: &impl AsFd, mode: u32, mtime: u64, owner: (u64, u64)) -> io::Result<()> {
        if self.chown {
            fchown(fd, uid(owner.0), gid(owner.1))?;
        }
        // After chown, which clears setuid/setgid.
        fchmod(fd, Mode::from_bits_truncate(mode & 0o7777))?;
        let t = TimeSpec::new(i64::try_from(mtime).unwrap_or(0), 0);
        futimens(fd, &t, &t)?;
        Ok(())
    }
}

fn uid(id: u64) -> Option<Uid> {
    u32::try_from(id).ok().map(Uid::from_raw)
}

fn gid(id: u64) -> Option<Gid> {
    u32::try_from(id).ok().map(Gid::from_raw)
}

fn limit(e: &EntryInfo, what: String) -> ExtractError {
    ExtractError::Limit {
        entry: e.path.clone(),
        what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use appc::aci::ReadOptions;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn put(
        b: &mut tar::Builder<Vec<u8>>,
        name: &str,
        kind: tar::EntryType,
        mode: u32,
        data: &[u8],
        link: Option<&str>,
    ) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_000_000);
        h.set_size(data.len() as u64);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_path(name).unwrap();
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    /// Name, type, mode, content, link target.
    type Spec<'a> = (&'a str, tar::EntryType, u32, &'a [u8], Option<&'a str>);

    fn image(entries: &[Spec<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        put(
            &mut b,
            "manifest",
            tar::EntryType::Regular,
            0o644,
            b"{}",
            None,
        );
        put(
            &mut b,
            "rootfs",
            tar::EntryType::Directory,
            0o755,
            b"",
            None,
        );
        for (name, kind, mode, data, link) in entries {
            put(&mut b, name, *kind, *mode, data, *link);
        }
        b.into_inner().unwrap()
    }

    fn extract(bytes: &[u8], dir: &Path, limits: Limits) -> Result<Extracted, ExtractError> {
        let compressed = || bytes.len() as u64;
        let mut x = Extractor::new(dir, limits, &compressed).unwrap();
        appc::aci::read::read_with(bytes, ReadOptions::default(), |e, d| x.entry(e, d))?;
        x.finish()
    }

    use tar::EntryType::{Directory as D, Link as L, Regular as F, Symlink as S};

    #[test]
    fn extracts_files_links_and_read_only_directories() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = image(&[
            ("rootfs/ro", D, 0o555, b"", None),
            ("rootfs/ro/f", F, 0o4755, b"data", None),
            ("rootfs/ro/h", L, 0o644, b"", Some("rootfs/ro/f")),
            ("rootfs/s", S, 0o777, b"", Some("/etc/passwd")),
            ("rootfs/deep/er/x", F, 0o600, b"x", None),
        ]);
        let done = extract(&bytes, dir.path(), Limits::default()).unwrap();
        let root = dir.path().join("rootfs");
        let f = fs::metadata(root.join("ro/f")).unwrap();
        assert_eq!(f.permissions().mode() & 0o7777, 0o4755);
        assert_eq!(f.ino(), fs::metadata(root.join("ro/h")).unwrap().ino());
        assert_eq!(
            fs::metadata(root.join("ro")).unwrap().permissions().mode() & 0o7777,
            0o555
        );
        assert_eq!(
            fs::read_link(root.join("s")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            fs::metadata(root.join("deep"))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777,
            0o755
        );
        assert_eq!(done.setid_files, ["rootfs/ro/f"]);
        assert_eq!(done.content_bytes, 2 + 4 + 1);
    }

    #[test]
    fn refuses_a_hard_link_to_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = image(&[
            ("rootfs/s", S, 0o777, b"", Some("/etc/passwd")),
            ("rootfs/h", L, 0o644, b"", Some("rootfs/s")),
        ]);
        let err = extract(&bytes, dir.path(), Limits::default()).unwrap_err();
        assert!(
            matches!(err, ExtractError::BadHardlink { ref entry, .. } if entry == "rootfs/h"),
            "{err}"
        );
    }

    #[test]
    fn stops_at_the_entry_and_size_limits() {
        let bytes = image(&[
            ("rootfs/a", F, 0o644, b"1234", None),
            ("rootfs/b", F, 0o644, b"5678", None),
        ]);
        let limits = Limits {
            max_entries: 3,
            ..Limits::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let err = extract(&bytes, dir.path(), limits).unwrap_err();
        assert!(
            err.to_string().contains("rootfs/b") && err.to_string().contains("more than 3 entries"),
            "{err}"
        );
        let limits = Limits {
            max_total: 2 + 4 + 3,
            ..Limits::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let err = extract(&bytes, dir.path(), limits).unwrap_err();
        assert!(
            err.to_string().contains("rootfs/b") && err.to_string().contains("exceeds"),
            "{err}"
        );
        // Positive control: the default limits accept it.
        let dir = tempfile::tempdir().unwrap();
        extract(&bytes, dir.path(), Limits::default()).unwrap();
    }
}

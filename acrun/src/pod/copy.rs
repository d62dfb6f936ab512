//! Mechanism: an app's root as a plain copy of its rendered tree, for hosts where overlayfs
//! cannot be mounted ([`super::root_mode`]). The copy keeps what a root needs: file modes
//! (setuid, setgid and sticky bits too), owners, modification times, symlinks as symlinks, and
//! hard links between files of the tree as hard links; extended attributes are not copied (the
//! store does not keep them). Entries are visited in name order, so two copies of a tree are
//! made the same way.
//!
//! Everything is done beneath directory descriptors: each entry is `fstatat`ed without following
//! it and opened with `O_NOFOLLOW` relative to its parent's descriptor, a symlink is re-created
//! from `readlinkat` and never resolved, new entries are created with `O_EXCL` in the directory
//! just made, and a hard link is made from the first copy of its file, found through
//! [`crate::beneath::Root`] (no symlink followed).
//!
//! Defends against: an image symlink (`rootfs/link -> /`) making the copy read or write host
//! files, the store's tree being written (the source is only ever opened read-only), and
//! device nodes, FIFOs or sockets appearing in a root (refused: the store never holds them, the
//! runtime makes `/dev`). Directories are opened two per level, so nesting is bounded
//! ([`MAX_DEPTH`]) to stay far below the descriptor limit.

use crate::beneath::{self, Root};
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, UtimensatFlags, fstatat, mkdirat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchownat, linkat, symlinkat};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Deepest directory nesting copied (two descriptors per level stay open during the walk).
pub const MAX_DEPTH: usize = 256;

/// A copy that failed at `path` (relative to the tree).
#[derive(Debug, thiserror::Error)]
#[error("{path:?}: {source}")]
pub struct CopyError {
    /// The entry, relative to the tree's root (`""` is the root).
    pub path: String,
    /// Why.
    pub source: io::Error,
}

const DIR: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Copies the tree at `src` into the existing, empty directory `dst` (whose own mode, owner and
/// time become `src`'s).
pub fn copy_tree(src: &Path, dst: &Path) -> Result<(), CopyError> {
    let at_root = |source| CopyError {
        path: String::new(),
        source,
    };
    let from = nix::fcntl::open(src, DIR, Mode::empty()).map_err(|e| at_root(e.into()))?;
    let to = nix::fcntl::open(dst, DIR, Mode::empty()).map_err(|e| at_root(e.into()))?;
    let mut copier = Copier {
        dest: Root::open(dst).map_err(at_root)?,
        links: HashMap::new(),
    };
    copier.dir(&from, &to, "", 0)?;
    let st = nix::sys::stat::fstat(&from).map_err(|e| at_root(e.into()))?;
    apply(&to, &st).map_err(at_root)
}

struct Copier {
    /// The destination, for finding the first copy of a hard-linked file.
    dest: Root,
    /// (device, inode) of a file with several links → its first copy's path.
    links: HashMap<(u64, u64), String>,
}

impl Copier {
    fn dir(
        &mut self,
        from: &OwnedFd,
        to: &OwnedFd,
        rel: &str,
        depth: usize,
    ) -> Result<(), CopyError> {
        if depth >= MAX_DEPTH {
            return Err(CopyError {
                path: rel.to_owned(),
                source: io::Error::other(format!("nested deeper than {MAX_DEPTH} directories")),
            });
        }
        for name in sorted_names(from).map_err(|source| CopyError {
            path: rel.to_owned(),
            source,
        })? {
            let path = if rel.is_empty() {
                name.to_string_lossy().into_owned()
            } else {
                format!("{rel}/{}", name.to_string_lossy())
            };
            let at = |source| CopyError {
                path: path.clone(),
                source,
            };
            let st = fstatat(from, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(|e| at(e.into()))?;
            match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
                SFlag::S_IFDIR => {
                    mkdirat(to, name.as_os_str(), Mode::from_bits_truncate(0o700))
                        .map_err(|e| at(e.into()))?;
                    let sub_from = openat(from, name.as_os_str(), DIR, Mode::empty())
                        .map_err(|e| at(e.into()))?;
                    let sub_to = openat(to, name.as_os_str(), DIR, Mode::empty())
                        .map_err(|e| at(e.into()))?;
                    self.dir(&sub_from, &sub_to, &path, depth + 1)?;
                    // After the children: a read-only directory's time and mode come last.
                    apply(&sub_to, &st).map_err(at)?;
                }
                SFlag::S_IFREG => self.file(from, to, &name, &path, &st).map_err(at)?,
                SFlag::S_IFLNK => symlink(from, to, &name, &st).map_err(at)?,
                _ => {
                    return Err(at(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "not a file, directory or symlink",
                    )));
                }
            }
        }
        Ok(())
    }

    fn file(
        &mut self,
        from: &OwnedFd,
        to: &OwnedFd,
        name: &OsString,
        path: &str,
        st: &FileStat,
    ) -> io::Result<()> {
        if st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key) {
                let (dir, last) = self.dest.parent(first)?;
                // No AT_SYMLINK_FOLLOW: the first copy itself is linked.
                linkat(&dir, last, to, name.as_os_str(), AtFlags::empty())?;
                return Ok(());
            }
            self.links.insert(key, path.to_owned());
        }
        let source = openat(
            from,
            name.as_os_str(),
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let target = openat(
            to,
            name.as_os_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )?;
        let mut source = File::from(source);
        let mut target = File::from(target);
        // copy_file_range underneath: in the kernel, a reflink where the filesystem has them.
        io::copy(&mut source, &mut target)?;
        apply(&target, st)
    }
}

fn symlink(from: &OwnedFd, to: &OwnedFd, name: &OsString, st: &FileStat) -> io::Result<()> {
    let target = readlinkat(from, name.as_os_str())?;
    symlinkat(target.as_os_str(), to, name.as_os_str())?;
    fchownat(
        to,
        name.as_os_str(),
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    let t = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
    utimensat(
        to,
        name.as_os_str(),
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

/// Owner, then mode (chown clears setuid/setgid), then times.
fn apply(fd: &impl AsFd, st: &FileStat) -> io::Result<()> {
    nix::unistd::fchown(
        fd,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )?;
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(st.st_mode & 0o7777))?;
    let t = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
    nix::sys::stat::futimens(fd, &t, &t)?;
    Ok(())
}

/// The names in the directory `dir`, in byte order (read through the descriptor's own
/// `/proc/self/fd` entry, which names that directory and nothing else).
fn sorted_names(dir: &OwnedFd) -> io::Result<Vec<OsString>> {
    let mut names = std::fs::read_dir(beneath::fd_path(dir.as_fd()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn copies_modes_links_and_never_follows_a_symlink() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        std::fs::create_dir_all(src.join("bin")).unwrap();
        std::fs::create_dir(&dst).unwrap();
        std::fs::write(src.join("bin/su"), b"su").unwrap();
        std::fs::set_permissions(src.join("bin/su"), PermissionsExt::from_mode(0o4755)).unwrap();
        std::fs::hard_link(src.join("bin/su"), src.join("bin/su2")).unwrap();
        symlink("/", src.join("up")).unwrap();
        symlink("su", src.join("bin/link")).unwrap();
        std::fs::create_dir(src.join("ro")).unwrap();
        std::fs::set_permissions(src.join("ro"), PermissionsExt::from_mode(0o555)).unwrap();
        copy_tree(&src, &dst).unwrap();
        let su = std::fs::metadata(dst.join("bin/su")).unwrap();
        assert_eq!(su.mode() & 0o7777, 0o4755);
        assert_eq!(
            su.ino(),
            std::fs::metadata(dst.join("bin/su2")).unwrap().ino()
        );
        assert_eq!(su.nlink(), 2);
        assert_eq!(std::fs::read_link(dst.join("up")).unwrap(), Path::new("/"));
        assert_eq!(
            std::fs::read_link(dst.join("bin/link")).unwrap(),
            Path::new("su")
        );
        assert_eq!(
            std::fs::metadata(dst.join("ro")).unwrap().mode() & 0o777,
            0o555
        );
        assert_eq!(
            std::fs::metadata(dst.join("bin")).unwrap().mtime(),
            std::fs::metadata(src.join("bin")).unwrap().mtime()
        );
        // The source was only read: its file keeps its two links, no more.
        assert_eq!(std::fs::metadata(src.join("bin/su")).unwrap().nlink(), 2);
    }

    #[test]
    fn refuses_a_fifo_and_a_too_deep_tree() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir(&dst).unwrap();
        nix::unistd::mkfifo(&src.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        let err = copy_tree(&src, &dst).unwrap_err();
        assert_eq!(err.path, "fifo");
        // Positive control: the same tree without the FIFO copies.
        std::fs::remove_file(src.join("fifo")).unwrap();
        std::fs::write(src.join("file"), b"x").unwrap();
        copy_tree(&src, &dst).unwrap();
        assert!(dst.join("file").is_file());

        let deep = t.path().join("deep");
        let mut p = deep.clone();
        for _ in 0..MAX_DEPTH + 1 {
            p.push("d");
        }
        std::fs::create_dir_all(&p).unwrap();
        let out = t.path().join("out");
        std::fs::create_dir(&out).unwrap();
        assert!(copy_tree(&deep, &out).is_err());
    }
}

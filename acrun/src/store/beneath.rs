//! The one path-beneath resolver: every path an image names is opened through directory file
//! descriptors below a root the store created, never through the host's view of the filesystem.
//!
//! Parent directories are resolved with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_SYMLINKS)`; where the kernel has no `openat2` (before 5.6, or a seccomp filter
//! that hides it) the same walk is done one component at a time with `O_NOFOLLOW | O_DIRECTORY`.
//! The last component is always created or opened relative to its parent's descriptor with
//! `O_NOFOLLOW` / `O_EXCL` / `AT_SYMLINK_NOFOLLOW`, so a symlink in an image is created but never
//! followed, whatever its target, and nothing is ever written through one.
//!
//! Defends against: `rootfs/link -> /` then `rootfs/link/etc/x` (rkt #904), `..` components and
//! absolute names (refused here a second time after the archive reader), and a rename race on
//! an intermediate directory (no path string is ever resolved from the root of the host).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{Mode, fchmod, mkdirat};

/// A directory every path is resolved beneath.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    openat2: bool,
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Split a relative path into checked components (no empty, `.` or `..` component, not absolute).
pub fn components(rel: &str) -> io::Result<Vec<&str>> {
    if rel.starts_with('/') {
        return Err(invalid(rel, "absolute path"));
    }
    let parts: Vec<&str> = rel.split('/').collect();
    if parts
        .iter()
        .any(|c| c.is_empty() || *c == "." || *c == ".." || c.contains('\0'))
    {
        return Err(invalid(rel, "empty, \".\" or \"..\" component"));
    }
    Ok(parts)
}

fn invalid(rel: &str, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{rel:?}: {why}"))
}

impl Root {
    /// Open the directory `path` (which must not be a symlink) as a root.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = openat(nix::fcntl::AT_FDCWD, path, DIR_FLAGS, Mode::empty())?;
        let probe = openat2(&fd, ".", how(DIR_FLAGS));
        Ok(Root {
            fd,
            openat2: probe.is_ok(),
        })
    }

    /// Use the component-wise walk even where `openat2` exists (tests of the fallback).
    #[cfg(test)]
    pub fn without_openat2(mut self) -> Root {
        self.openat2 = false;
        self
    }

    /// The root's own descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Open the directory `rel` beneath the root (`""` is the root itself); a symlink anywhere on
    /// the way is an error (`ELOOP`), as is anything that would leave the root (`EXDEV`).
    pub fn open_dir(&self, rel: &str) -> io::Result<OwnedFd> {
        if rel.is_empty() {
            return self.fd.try_clone();
        }
        let parts = components(rel)?;
        if self.openat2 {
            return Ok(openat2(&self.fd, rel, how(DIR_FLAGS))?);
        }
        let mut cur = self.fd.try_clone()?;
        for part in parts {
            cur = openat(&cur, part, DIR_FLAGS, Mode::empty())?;
        }
        Ok(cur)
    }

    /// Open the directory `rel`, creating each missing directory (mode 0755) on the way.
    pub fn create_dir_all(&self, rel: &str) -> io::Result<OwnedFd> {
        match self.open_dir(rel) {
            Err(e) if e.raw_os_error() == Some(Errno::ENOENT as i32) => {}
            other => return other,
        }
        let mut cur = self.fd.try_clone()?;
        for part in components(rel)? {
            let made = match mkdirat(&cur, part, Mode::from_bits_truncate(0o755)) {
                Ok(()) => true,
                Err(Errno::EEXIST) => false,
                Err(e) => return Err(e.into()),
            };
            cur = openat(&cur, part, DIR_FLAGS, Mode::empty())?;
            if made {
                // 0755 whatever the umask: output must not depend on it.
                fchmod(&cur, Mode::from_bits_truncate(0o755))?;
            }
        }
        Ok(cur)
    }

    /// The parent directory of `rel` (created if missing) and the last component.
    pub fn parent<'a>(&self, rel: &'a str) -> io::Result<(OwnedFd, &'a str)> {
        components(rel)?;
        match rel.rsplit_once('/') {
            Some((dir, name)) => Ok((self.create_dir_all(dir)?, name)),
            None => Ok((self.fd.try_clone()?, rel)),
        }
    }
}

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new().flags(flags).resolve(
        ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_MAGICLINKS
            | ResolveFlag::RESOLVE_NO_SYMLINKS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn roots(dir: &Path) -> [Root; 2] {
        [
            Root::open(dir).unwrap(),
            Root::open(dir).unwrap().without_openat2(),
        ]
    }

    #[test]
    fn creates_missing_parents_beneath_the_root() {
        let dir = tempfile::tempdir().unwrap();
        for (i, root) in roots(dir.path()).into_iter().enumerate() {
            let rel = format!("a{i}/b/c");
            root.create_dir_all(&rel).unwrap();
            assert!(dir.path().join(&rel).is_dir());
            let file = format!("{rel}/file");
            let (_, name) = root.parent(&file).unwrap();
            assert_eq!(name, "file");
        }
    }

    #[test]
    fn never_follows_a_symlink_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), dir.path().join("link")).unwrap();
        symlink("/", dir.path().join("up")).unwrap();
        for root in roots(dir.path()) {
            for rel in ["link/x", "up/etc", "link"] {
                let err = root.create_dir_all(rel).unwrap_err();
                // ELOOP from openat2, ENOTDIR from O_NOFOLLOW | O_DIRECTORY on a link.
                let code = err.raw_os_error();
                assert!(
                    code == Some(Errno::ELOOP as i32) || code == Some(Errno::ENOTDIR as i32),
                    "{rel}: {err}"
                );
            }
        }
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        // Positive control: a real directory of the same shape resolves.
        std::fs::create_dir(dir.path().join("real")).unwrap();
        for root in roots(dir.path()) {
            root.create_dir_all("real/x").unwrap();
        }
    }

    #[test]
    fn refuses_parent_and_absolute_components() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        for rel in ["../x", "a/../../x", "/etc", "a//b", "./a"] {
            assert!(root.create_dir_all(rel).is_err(), "{rel}");
        }
    }
}

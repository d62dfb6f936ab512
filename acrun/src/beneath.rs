//! The one path-beneath resolver of acrun: every path an image names is opened through directory
//! file descriptors below a [`Root`], never through the host's view of the filesystem, and what
//! is then written or mounted is the opened descriptor (`/proc/self/fd/N` for `mount(2)`), never
//! a path string that could be swapped between check and use. A root resolves in one of two ways:
//!
//! - [`Root::open`] (the store, extracting and rendering trees): **no symlink is ever
//!   followed** — `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)`, or,
//!   where the kernel has no `openat2` (before 5.6, or a seccomp filter that hides it), the same
//!   walk one component at a time with `O_NOFOLLOW | O_DIRECTORY`; paths are relative.
//! - [`Root::in_root`] (the runtime, building an app's view): symlinks resolve **as if the root
//!   were `/`** — `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` — so an image's own
//!   absolute and relative links keep working inside it and can never lead out; paths are the
//!   app's absolute paths.
//!
//! In both, `..` is refused, missing directories are created one component at a time in the
//! directory the previous one resolved to, and a new file is created relative to its parent's
//! descriptor with `O_EXCL | O_NOFOLLOW`, so nothing is ever created through a symlink.
//! [`open_host_source`] opens host volume sources, refusing any that is or passes through a
//! symlink (appc's SHOULD).
//!
//! Defends against: `rootfs/link -> /` then `rootfs/link/etc/x` (rkt #904), a malicious image
//! whose mount point is a symlink to a host directory (rkt #2290/#3490, runc CVE-2021-30465),
//! `..` components and absolute names, magic links out of procfs, and a rename race on an
//! intermediate directory.

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{Mode, fchmod, mkdirat};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A directory every path is resolved beneath.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    resolve: Resolve,
}

/// How a [`Root`] resolves symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolve {
    /// Never follow one; `openat2` when the kernel has it, else a component walk.
    NoSymlinks { openat2: bool },
    /// Follow them inside the root (`RESOLVE_IN_ROOT`).
    InRoot,
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
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

/// The components of an app's absolute path (`/` is none), refusing `..`.
fn app_components(path: &str) -> io::Result<Vec<&str>> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.iter().any(|c| *c == ".." || c.contains('\0')) {
        return Err(invalid(path, "\"..\" component"));
    }
    Ok(parts)
}

fn invalid(rel: &str, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{rel:?}: {why}"))
}

impl Root {
    /// Opens the directory `path` (which must not be a symlink) as a root that never follows a
    /// symlink.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = openat(
            nix::fcntl::AT_FDCWD,
            path,
            DIR_FLAGS | OFlag::O_NOFOLLOW,
            Mode::empty(),
        )?;
        let probe = openat2(&fd, ".", how(DIR_FLAGS, ResolveFlag::RESOLVE_BENEATH));
        Ok(Root {
            fd,
            resolve: Resolve::NoSymlinks {
                openat2: probe.is_ok(),
            },
        })
    }

    /// The app root `fd`, where symlinks resolve as if it were `/` (needs `openat2`).
    pub fn in_root(fd: OwnedFd) -> Root {
        Root {
            fd,
            resolve: Resolve::InRoot,
        }
    }

    /// Use the component-wise walk even where `openat2` exists (tests of the fallback).
    #[cfg(test)]
    pub fn without_openat2(mut self) -> Root {
        if let Resolve::NoSymlinks { openat2 } = &mut self.resolve {
            *openat2 = false;
        }
        self
    }

    /// The root's own descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The root's descriptor, for good.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    fn parts<'a>(&self, path: &'a str) -> io::Result<Vec<&'a str>> {
        match self.resolve {
            Resolve::InRoot => app_components(path),
            Resolve::NoSymlinks { .. } if path.is_empty() => Ok(vec![]),
            Resolve::NoSymlinks { .. } => components(path),
        }
    }

    /// Opens `parts` with `flags`, resolved the root's way.
    fn resolve(&self, parts: &[&str], flags: OFlag) -> io::Result<OwnedFd> {
        let flags = flags | OFlag::O_CLOEXEC;
        let Some((last, dirs)) = parts.split_last() else {
            return Ok(openat(&self.fd, ".", flags, Mode::empty())?);
        };
        let rel = parts.join("/");
        match self.resolve {
            Resolve::InRoot => Ok(openat2(
                &self.fd,
                rel.as_str(),
                how(flags, ResolveFlag::RESOLVE_IN_ROOT),
            )?),
            Resolve::NoSymlinks { openat2: true } => Ok(openat2(
                &self.fd,
                rel.as_str(),
                how(
                    flags,
                    ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS,
                ),
            )?),
            Resolve::NoSymlinks { openat2: false } => {
                let mut cur = self.fd.try_clone()?;
                for part in dirs {
                    cur = openat(&cur, *part, DIR_FLAGS | OFlag::O_NOFOLLOW, Mode::empty())?;
                }
                Ok(openat(
                    &cur,
                    *last,
                    flags | OFlag::O_NOFOLLOW,
                    Mode::empty(),
                )?)
            }
        }
    }

    /// Opens the directory `path` beneath the root (`""`, or `/` in an app root, is the root
    /// itself). With a root that never follows symlinks, a symlink anywhere on the way is an
    /// error (`ELOOP` or `ENOTDIR`), as is anything that would leave the root (`EXDEV`).
    pub fn open_dir(&self, path: &str) -> io::Result<OwnedFd> {
        self.resolve(&self.parts(path)?, DIR_FLAGS)
    }

    /// Opens `path` beneath the root as an `O_PATH` descriptor (a directory when `dir`): for
    /// mounting on, or stat, without opening a device.
    pub fn open_path(&self, path: &str, dir: bool) -> io::Result<OwnedFd> {
        let mut flags = OFlag::O_PATH;
        if dir {
            flags |= OFlag::O_DIRECTORY;
        }
        self.resolve(&self.parts(path)?, flags)
    }

    /// Opens the directory `path`, creating each missing directory (mode 0755, whatever the
    /// umask) on the way, inside the directory the previous component resolved to. A component
    /// that exists but is not a directory (or, resolving in root, a link to nothing) is an error.
    pub fn create_dir_all(&self, path: &str) -> io::Result<OwnedFd> {
        self.create_parts(&self.parts(path)?)
    }

    fn create_parts(&self, parts: &[&str]) -> io::Result<OwnedFd> {
        match self.resolve(parts, DIR_FLAGS) {
            Err(e) if e.raw_os_error() == Some(Errno::ENOENT as i32) => {}
            other => return other,
        }
        let mut cur = self.fd.try_clone()?;
        for (i, part) in parts.iter().enumerate() {
            let made = match mkdirat(&cur, *part, Mode::from_bits_truncate(0o755)) {
                Ok(()) => true,
                Err(Errno::EEXIST) => false,
                Err(e) => return Err(e.into()),
            };
            cur = match self.resolve {
                // A link resolves from the root, so the whole prefix does.
                Resolve::InRoot => self.resolve(&parts[..=i], DIR_FLAGS)?,
                Resolve::NoSymlinks { .. } => {
                    openat(&cur, *part, DIR_FLAGS | OFlag::O_NOFOLLOW, Mode::empty())?
                }
            };
            if made {
                fchmod(&cur, Mode::from_bits_truncate(0o755))?;
            }
        }
        Ok(cur)
    }

    /// The parent directory of `path` (created if missing) and the last component.
    pub fn parent<'a>(&self, path: &'a str) -> io::Result<(OwnedFd, &'a str)> {
        let parts = self.parts(path)?;
        let Some((last, dirs)) = parts.split_last() else {
            return Err(invalid(path, "no file name"));
        };
        Ok((self.create_parts(dirs)?, last))
    }

    /// Opens the file `path` as an `O_PATH` descriptor, creating an empty regular file (0644)
    /// and its missing parents first if it does not exist.
    pub fn create_file(&self, path: &str) -> io::Result<OwnedFd> {
        match self.open_path(path, false) {
            Err(e) if e.raw_os_error() == Some(Errno::ENOENT as i32) => {}
            other => return other,
        }
        let (dir, name) = self.parent(path)?;
        let flags =
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        drop(openat(&dir, name, flags, Mode::from_bits_truncate(0o644))?);
        self.open_path(path, false)
    }
}

fn how(flags: OFlag, resolve: ResolveFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags)
        .resolve(resolve | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// A real (non-`O_PATH`) fd for the directory `fd`, for `*at` calls that need one.
pub fn reopen_dir(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    Ok(openat(fd, ".", DIR_FLAGS, Mode::empty())?)
}

/// The `/proc/self/fd/N` path of `fd`, to hand to `mount(2)`.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens a host path for a volume source: absolute, and no component may be a symlink.
pub fn open_host_source(source: &Path) -> io::Result<OwnedFd> {
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let rel = source.strip_prefix("/").map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "volume source must be absolute",
        )
    })?;
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS);
    openat2(root, rel, how).map_err(|e| {
        if e == Errno::ELOOP {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "volume source is or passes through a symlink",
            )
        } else {
            e.into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// The store's roots: with openat2 and with the component walk.
    fn roots(dir: &Path) -> [Root; 2] {
        [
            Root::open(dir).unwrap(),
            Root::open(dir).unwrap().without_openat2(),
        ]
    }

    fn app_root(dir: &Path) -> Root {
        let fd = nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        Root::in_root(fd)
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
            assert!(root.open_path("link/x", false).is_err());
            assert!(root.open_path("link", true).is_err());
        }
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        // Positive control: a real directory of the same shape resolves.
        std::fs::create_dir(dir.path().join("real")).unwrap();
        for root in roots(dir.path()) {
            root.create_dir_all("real/x").unwrap();
            root.open_path("real/x", true).unwrap();
        }
    }

    #[test]
    fn refuses_parent_and_absolute_components() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        for rel in ["../x", "a/../../x", "/etc", "a//b", "./a"] {
            assert!(root.create_dir_all(rel).is_err(), "{rel}");
        }
        let app = app_root(dir.path());
        assert!(app.open_path("/../etc", true).is_err());
        assert!(app.create_dir_all("/a/../../x").is_err());
    }

    #[test]
    fn in_an_app_root_symlinks_resolve_inside_it() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        symlink(outside.path(), t.path().join("evil")).unwrap();
        let r = app_root(t.path());
        // A dangling in-root target: refused (EEXIST on the link), nothing on the host.
        assert!(r.create_dir_all("/evil/x").is_err());
        assert!(!outside.path().join("x").exists());
        // The same link with its target present beneath the root: followed there, not out.
        let inside = t.path().join(outside.path().strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        r.create_dir_all("/evil/x").unwrap();
        assert!(inside.join("x").is_dir());
        assert!(!outside.path().join("x").exists());
    }

    #[test]
    fn in_an_app_root_missing_directories_and_files_are_created() {
        let t = tempfile::tempdir().unwrap();
        let r = app_root(t.path());
        r.create_dir_all("/a/b/c").unwrap();
        assert!(t.path().join("a/b/c").is_dir());
        r.create_file("/a/f").unwrap();
        assert!(t.path().join("a/f").is_file());
        r.create_file("/d/e/g").unwrap();
        assert!(t.path().join("d/e/g").is_file());
        // The root itself.
        r.open_path("/", true).unwrap();
        r.open_dir("/").unwrap();
    }

    #[test]
    fn a_new_file_is_never_created_through_a_symlink() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path().join("f"), t.path().join("f")).unwrap();
        assert!(app_root(t.path()).create_file("/f").is_err());
        assert!(!outside.path().join("f").exists());
    }

    #[test]
    fn host_sources_through_symlinks_are_refused() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("real")).unwrap();
        symlink(t.path().join("real"), t.path().join("link")).unwrap();
        let real = t.path().canonicalize().unwrap().join("real");
        assert!(open_host_source(&real).is_ok());
        let link = t.path().canonicalize().unwrap().join("link");
        assert!(open_host_source(&link).is_err());
    }
}

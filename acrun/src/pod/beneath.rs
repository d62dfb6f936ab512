//! The one path-beneath resolver of the runtime: every path an image can influence (mount targets,
//! volume targets, mask targets) is opened relative to a directory fd of the app's root with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so `..` and symlinks — absolute or relative
//! — resolve as if the app root were `/`. Mounts then target the opened fd through
//! `/proc/self/fd/N`, never a path string that could be swapped between check and use.
//! Host volume sources are opened with `RESOLVE_NO_SYMLINKS`: a source that is, or passes
//! through, a symlink is refused (appc's SHOULD).
//!
//! Defends against: a malicious image whose mount point is a symlink to a host directory
//! (rkt #2290/#3490, runc CVE-2021-30465), `..` in targets, and magic links out of procfs.

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// The relative form of an absolute in-root path, refusing `..`.
fn relative(path: &str) -> io::Result<PathBuf> {
    let mut rel = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => rel.push(n),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{path:?} contains `..`"),
                ));
            }
        }
    }
    Ok(rel)
}

/// Opens `path` beneath `root` as an `O_PATH` fd (a directory when `dir`).
pub fn open(root: BorrowedFd<'_>, path: &str, dir: bool) -> io::Result<OwnedFd> {
    let rel = relative(path)?;
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    let mut flags = OFlag::O_PATH;
    if dir {
        flags |= OFlag::O_DIRECTORY;
    }
    Ok(openat2(root, &rel, how(flags))?)
}

/// Opens the directory `path` beneath `root`, creating missing components (mode 0755, owned by
/// the caller) inside the root. A component that exists but is not a directory is an error.
pub fn open_or_create_dir(root: BorrowedFd<'_>, path: &str) -> io::Result<OwnedFd> {
    match open(root, path, true) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        other => return other,
    }
    let rel = relative(path)?;
    let mut cur = open(root, "/", true)?;
    let mut so_far = PathBuf::from("/");
    for c in rel.components() {
        so_far.push(c);
        let p = so_far.to_string_lossy().into_owned();
        cur = match open(root, &p, true) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let dirfd = reopen_dir(cur.as_fd())?;
                nix::sys::stat::mkdirat(&dirfd, c.as_os_str(), Mode::from_bits_truncate(0o755))?;
                open(root, &p, true)?
            }
            Err(e) => return Err(e),
        };
    }
    Ok(cur)
}

/// Opens the file `path` beneath `root`, creating an empty regular file (0644) if missing.
pub fn open_or_create_file(root: BorrowedFd<'_>, path: &str) -> io::Result<OwnedFd> {
    match open(root, path, false) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        other => return other,
    }
    let parent = Path::new(path)
        .parent()
        .map_or("/".into(), |p| p.to_string_lossy().into_owned());
    open_or_create_dir(root, &parent)?;
    let rel = relative(path)?;
    let how = how(OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW)
        .mode(Mode::from_bits_truncate(0o644));
    drop(openat2(root, &rel, how)?);
    open(root, path, false)
}

/// A real (non-`O_PATH`) fd for the directory `fd`, for `*at` calls that need one.
pub fn reopen_dir(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::empty());
    Ok(openat2(fd, ".", how)?)
}

/// The `/proc/self/fd/N` path of `fd`, to hand to `mount(2)`.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens a host path for a volume source: absolute, and no component may be a symlink.
pub fn open_host_source(source: &Path) -> io::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS);
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
    openat2(root, rel, how).map_err(|e| {
        if e == nix::errno::Errno::ELOOP {
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

    fn root(dir: &Path) -> OwnedFd {
        nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        symlink(outside.path(), t.path().join("evil")).unwrap();
        let r = root(t.path());
        // A dangling in-root target: refused (EEXIST on the link), nothing on the host.
        assert!(open_or_create_dir(r.as_fd(), "/evil/x").is_err());
        assert!(!outside.path().join("x").exists());
        // The same link with its target present beneath the root: followed there, not out.
        let inside = t.path().join(outside.path().strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        open_or_create_dir(r.as_fd(), "/evil/x").unwrap();
        assert!(inside.join("x").is_dir());
        assert!(!outside.path().join("x").exists());
    }

    #[test]
    fn dotdot_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let r = root(t.path());
        assert!(open(r.as_fd(), "/../etc", true).is_err());
    }

    #[test]
    fn missing_directories_are_created() {
        let t = tempfile::tempdir().unwrap();
        let r = root(t.path());
        open_or_create_dir(r.as_fd(), "/a/b/c").unwrap();
        assert!(t.path().join("a/b/c").is_dir());
        open_or_create_file(r.as_fd(), "/a/f").unwrap();
        assert!(t.path().join("a/f").is_file());
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

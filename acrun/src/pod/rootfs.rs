//! Mechanism: builds an app's root inside the app's own, private mount namespace — an overlayfs
//! over the store's rendered tree (a fresh copy per run: every write lands in the pod's upper
//! directory, the store's tree is never written), then the steps of [`super::filesystem::view`]
//! through fds from [`crate::beneath`], then `pivot_root` and a lazy detach of the old root.
//! Nothing is unmounted on the start path: the mounts die with the namespace.
//!
//! Defends against: mounts that follow image symlinks onto the host (every target is an fd
//! beneath the root), masks redirected through the image's own `/dev/null` (acrun masks with the
//! node it just created in its own tmpfs), chroot escapes (`pivot_root`, old root detached).

use super::filesystem::{self, MountOp};
use super::root_mode::{self, RootMode};
use super::spec::AppSpec;
use crate::beneath::{self, Root};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag, makedev, mknodat};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// A failed step, named.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub struct SetupError {
    /// What was being done.
    pub step: String,
    /// Why it failed.
    pub source: io::Error,
}

trait Step<T> {
    fn step(self, what: impl FnOnce() -> String) -> Result<T, SetupError>;
}

impl<T, E: Into<io::Error>> Step<T> for Result<T, E> {
    fn step(self, what: impl FnOnce() -> String) -> Result<T, SetupError> {
        self.map_err(|e| SetupError {
            step: what(),
            source: e.into(),
        })
    }
}

const NONE: Option<&str> = None;

/// Makes a fresh root at `app_dir/rootfs` (overlay or copy, [`super::root_mode`]) and builds
/// the app's view in it; returns the root fd and how the root was made.
pub fn prepare(app: &AppSpec, app_dir: &Path) -> Result<(OwnedFd, RootMode), SetupError> {
    let target = app_dir.join("rootfs");
    let mode = root_mode::make_root(app, app_dir, &target, app.root_policy)?;
    let fd = nix::fcntl::open(
        &target,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("open {}", target.display()))?;
    let root = Root::in_root(fd);
    let mut made = Made::default();
    for op in filesystem::view(app) {
        perform(&root, app, &op, &mut made)?;
    }
    if app.read_only_rootfs {
        mount(
            NONE,
            &target,
            NONE,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            NONE,
        )
        .step(|| "remount the root read-only".into())?;
    }
    Ok((root.into_fd(), mode))
}

/// Mounts an overlay over the store's tree at `target`, its upper and work directories in
/// `app_dir`.
pub fn mount_overlay(app: &AppSpec, app_dir: &Path, target: &Path) -> Result<(), SetupError> {
    let options = overlay_options(&app.rootfs, app_dir).step(|| "overlay options".into())?;
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .step(|| format!("mount overlay on {}", target.display()))
}

/// `lowerdir=…,upperdir=…,workdir=…`; paths with `,` `:` or `\` are refused (overlayfs syntax).
fn overlay_options(lower: &Path, app_dir: &Path) -> io::Result<String> {
    let parts = [
        lower.to_path_buf(),
        app_dir.join("upper"),
        app_dir.join("work"),
    ];
    let mut s = Vec::new();
    for (key, p) in ["lowerdir", "upperdir", "workdir"].iter().zip(&parts) {
        let text = p.to_str().unwrap_or(",");
        if text.contains([',', ':', '\\']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} cannot be an overlayfs path", p.display()),
            ));
        }
        s.push(format!("{key}={text}"));
    }
    // `volatile`: the upper layer is thrown away with the pod, so skip the sync that would
    // otherwise make every unmount (at namespace teardown) wait for the disk.
    s.push("volatile".to_owned());
    Ok(s.join(","))
}

/// What earlier steps made that later ones use: acrun's own `/dev/null` (masks bind it) and its
/// tmpfs `/dev` (devices and symlinks are made in it), each opened once.
#[derive(Default)]
struct Made {
    null: Option<OwnedFd>,
    dev: Option<OwnedFd>,
}

impl Made {
    /// acrun's tmpfs `/dev`, opened on first use (after the tmpfs is mounted).
    fn dev(&mut self, root: &Root) -> Result<BorrowedFd<'_>, SetupError> {
        let fd: &OwnedFd = match &mut self.dev {
            Some(fd) => fd,
            slot @ None => slot.insert(root.open_dir("/dev").step(|| "open /dev".into())?),
        };
        Ok(fd.as_fd())
    }
}

fn perform(root: &Root, app: &AppSpec, op: &MountOp, made: &mut Made) -> Result<(), SetupError> {
    let nosuid_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    match op {
        MountOp::Proc(t) => fresh(root, t, "proc", nosuid_nodev | MsFlags::MS_NOEXEC, None),
        MountOp::Sysfs(t) => fresh(
            root,
            t,
            "sysfs",
            nosuid_nodev | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY,
            None,
        ),
        MountOp::Tmpfs {
            target,
            noexec,
            options,
        } => {
            let mut flags = MsFlags::MS_NOSUID;
            if *noexec {
                flags |= MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
            }
            fresh(root, target, "tmpfs", flags, Some(options))
        }
        MountOp::Devpts(t) => fresh(
            root,
            t,
            "devpts",
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        ),
        MountOp::Device { path, major, minor } => {
            device(made.dev(root)?, path, *major, *minor)?;
            if *path == "/dev/null" {
                made.null = Some(
                    root.open_path(path, false)
                        .step(|| "open /dev/null".into())?,
                );
            }
            Ok(())
        }
        MountOp::Symlink { path, to } => {
            let name = Path::new(path).file_name().unwrap_or_default();
            nix::unistd::symlinkat(*to, made.dev(root)?, name).step(|| format!("symlink {path}"))
        }
        MountOp::Console(path) => {
            let target = root.create_file(path).step(|| format!("create {path}"))?;
            bind_null(&made.null, target.as_fd(), path)
        }
        MountOp::Volume(i) => match app.mounts.get(*i) {
            Some(v) => volume(root, v),
            None => Ok(()),
        },
        MountOp::Mask(path) => mask(root, path, &made.null),
        MountOp::ReadOnly(path) => read_only(root, path),
    }
}

/// A new filesystem instance at `target` (created beneath the root if missing).
fn fresh(
    root: &Root,
    target: &str,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), SetupError> {
    let fd = root
        .create_dir_all(target)
        .step(|| format!("mount point {target}"))?;
    mount(
        Some(fstype),
        &beneath::fd_path(fd.as_fd()),
        Some(fstype),
        flags,
        data,
    )
    .step(|| format!("mount {fstype} on {target}"))
}

fn device(dev: BorrowedFd<'_>, path: &str, major: u64, minor: u64) -> Result<(), SetupError> {
    let name = Path::new(path).file_name().unwrap_or_default();
    let mode = 0o666;
    mknodat(
        dev,
        name,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(mode),
        makedev(major, minor),
    )
    .step(|| format!("mknod {path}"))
}

fn bind_null(null: &Option<OwnedFd>, target: BorrowedFd<'_>, path: &str) -> Result<(), SetupError> {
    let Some(null) = null else {
        return Err(SetupError {
            step: format!("mask {path}"),
            source: io::Error::other("acrun's /dev/null is not ready"),
        });
    };
    mount(
        Some(&beneath::fd_path(null.as_fd())),
        &beneath::fd_path(target),
        NONE,
        MsFlags::MS_BIND,
        NONE,
    )
    .step(|| format!("mask {path}"))
}

fn mask(root: &Root, path: &str, null: &Option<OwnedFd>) -> Result<(), SetupError> {
    let fd = match root.open_path(path, false) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        other => other.step(|| format!("open {path}"))?,
    };
    let is_dir = nix::sys::stat::fstat(&fd)
        .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
        .step(|| format!("stat {path}"))?;
    if is_dir {
        mount(
            Some("tmpfs"),
            &beneath::fd_path(fd.as_fd()),
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=0,mode=000"),
        )
        .step(|| format!("mask {path}"))
    } else {
        bind_null(null, fd.as_fd(), path)
    }
}

fn read_only(root: &Root, path: &str) -> Result<(), SetupError> {
    let fd = match root.open_path(path, false) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        other => other.step(|| format!("open {path}"))?,
    };
    let p = beneath::fd_path(fd.as_fd());
    mount(Some(&p), &p, NONE, MsFlags::MS_BIND | MsFlags::MS_REC, NONE)
        .step(|| format!("bind {path}"))?;
    remount_read_only(root, path, false)
}

/// Remounts the mount now at `path` read-only (re-resolved, so the fd names the new mount).
fn remount_read_only(root: &Root, path: &str, dir: bool) -> Result<(), SetupError> {
    let fd = root.open_path(path, dir).step(|| format!("open {path}"))?;
    mount(
        NONE,
        &beneath::fd_path(fd.as_fd()),
        NONE,
        MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC,
        NONE,
    )
    .step(|| format!("remount {path} read-only"))
}

fn volume(root: &Root, v: &super::spec::VolumeMount) -> Result<(), SetupError> {
    let what = || format!("volume {} at {}", v.volume, v.target);
    let source = if v.host {
        beneath::open_host_source(&v.source)
    } else {
        nix::fcntl::open(
            &v.source,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)
    }
    .map_err(|e| SetupError {
        step: format!("{}: source {}", what(), v.source.display()),
        source: e,
    })?;
    let target = root.create_dir_all(&v.target).step(what)?;
    let mut flags = MsFlags::MS_BIND;
    if v.recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(
        Some(&beneath::fd_path(source.as_fd())),
        &beneath::fd_path(target.as_fd()),
        NONE,
        flags,
        NONE,
    )
    .step(what)?;
    if v.read_only {
        let fd = root.open_path(&v.target, true).step(what)?;
        mount(
            NONE,
            &beneath::fd_path(fd.as_fd()),
            NONE,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            NONE,
        )
        .step(what)?;
    }
    Ok(())
}

/// Makes `root` the process's `/` and detaches the old root.
pub fn pivot(root: BorrowedFd<'_>) -> Result<(), SetupError> {
    let dir = beneath::reopen_dir(root).step(|| "open the new root".into())?;
    nix::unistd::fchdir(&dir).step(|| "chdir to the new root".into())?;
    nix::unistd::pivot_root(".", ".").step(|| "pivot_root".into())?;
    umount2(".", MntFlags::MNT_DETACH).step(|| "detach the old root".into())?;
    nix::unistd::chdir("/").step(|| "chdir /".into())
}

/// Makes every mount of this namespace private, so nothing propagates to the host.
pub fn make_private() -> Result<(), SetupError> {
    mount(NONE, "/", NONE, MsFlags::MS_REC | MsFlags::MS_PRIVATE, NONE)
        .step(|| "make / private".into())
}

/// Covers the host directory `path` with an empty, read-only tmpfs in this mount namespace (the
/// supervisor's, which every app's namespace copies), so nothing in the pod can reach what is
/// under it, not even through `/proc/1/root`. A missing path needs no cover.
pub fn cover(path: &Path) -> Result<(), SetupError> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("tmpfs"),
        path,
        Some("tmpfs"),
        flags,
        Some("size=4k,mode=000"),
    )
    .step(|| format!("cover {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_options_refuse_separators() {
        assert!(overlay_options(Path::new("/s/a,b"), Path::new("/p")).is_err());
        assert_eq!(
            overlay_options(Path::new("/s/t"), Path::new("/p/a")).unwrap(),
            "lowerdir=/s/t,upperdir=/p/a/upper,workdir=/p/a/work,volatile"
        );
    }
}

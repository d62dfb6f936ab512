//! How an app's root is made a fresh copy of its rendered tree: an overlayfs over the store's
//! tree (cheap; every write lands in the pod's upper directory), or, where overlay cannot be
//! mounted, a plain copy of the tree in the pod's app directory ([`super::copy`]) bind-mounted on
//! itself. The user picks with `acrun run --root-mode=auto|overlay|copy` ([`RootPolicy`]); `auto`
//! tries overlay and falls back to the copy only on the errors that mean "no overlay here" (the
//! filesystem type is unknown, or the upper directory's filesystem cannot host an upper layer:
//! the store on overlayfs itself, on some FUSE filesystems). The mode used ([`RootMode`]) is
//! recorded in the app's record and shown by `acrun status` and `acrun list --json`.
//!
//! Defends against: a store tree written by a pod (neither mode writes it: it is overlay's
//! read-only lower layer, or the copy's read-only source), and a silent fallback that hides a
//! real failure (any other error stops the app).

use super::rootfs::SetupError;
use super::spec::AppSpec;
use nix::mount::{MsFlags, mount};
use std::path::Path;

/// What `--root-mode` asks for.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum RootPolicy {
    /// Overlay where it can be mounted, else a copy.
    #[default]
    Auto,
    /// Overlay only (a failure stops the app).
    Overlay,
    /// Always a copy.
    Copy,
}

/// How an app's root was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootMode {
    /// overlayfs over the store's tree.
    Overlay,
    /// A copy of the store's tree in the pod directory.
    Copy,
}

impl RootMode {
    /// The word `acrun status` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            RootMode::Overlay => "overlay",
            RootMode::Copy => "copy",
        }
    }
}

/// Whether an overlay mount that failed with `errno` means overlay is not usable here (rather
/// than a fault worth stopping for): `ENODEV` (no overlay filesystem), `EINVAL` (overlayfs
/// refuses the upper or lower filesystem), `EOPNOTSUPP`.
pub fn overlay_missing(errno: Option<i32>) -> bool {
    matches!(
        errno,
        Some(libc::ENODEV) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
    )
}

/// Makes `target` (`app_dir/rootfs`) the app's fresh root by `policy`; the mode used.
pub fn make_root(
    app: &AppSpec,
    app_dir: &Path,
    target: &Path,
    policy: RootPolicy,
) -> Result<RootMode, SetupError> {
    match policy {
        RootPolicy::Overlay => {
            super::rootfs::mount_overlay(app, app_dir, target).map(|()| RootMode::Overlay)
        }
        RootPolicy::Copy => copy_and_bind(app, app_dir, target).map(|()| RootMode::Copy),
        RootPolicy::Auto => match super::rootfs::mount_overlay(app, app_dir, target) {
            Ok(()) => Ok(RootMode::Overlay),
            Err(e) if overlay_missing(e.source.raw_os_error()) => {
                copy_and_bind(app, app_dir, target).map(|()| RootMode::Copy)
            }
            Err(e) => Err(e),
        },
    }
}

/// Copies the rendered tree into `target` and bind-mounts it on itself (`pivot_root` needs a
/// mount point). The app directory is closed to other host users first: the copy holds the
/// image's setuid files, which no host user may reach through the pod directory.
fn copy_and_bind(app: &AppSpec, app_dir: &Path, target: &Path) -> Result<(), SetupError> {
    let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
    std::fs::set_permissions(app_dir, private).map_err(|e| SetupError {
        step: format!("make {} private", app_dir.display()),
        source: e,
    })?;
    super::copy::copy_tree(&app.rootfs, target).map_err(|e| SetupError {
        step: format!(
            "copy {} to {}: {}",
            app.rootfs.display(),
            target.display(),
            e.path
        ),
        source: e.source,
    })?;
    let none: Option<&str> = None;
    mount(Some(target), target, none, MsFlags::MS_BIND, none).map_err(|e| SetupError {
        step: format!("bind {} on itself", target.display()),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_no_overlay_errors_fall_back() {
        for e in [libc::ENODEV, libc::EINVAL, libc::EOPNOTSUPP] {
            assert!(overlay_missing(Some(e)));
        }
        for e in [libc::ENOENT, libc::EPERM, libc::ENOSPC] {
            assert!(!overlay_missing(Some(e)));
        }
        assert!(!overlay_missing(None));
    }

    #[test]
    fn modes_are_lowercase_words() {
        assert_eq!(serde_json::to_string(&RootMode::Copy).unwrap(), "\"copy\"");
        assert_eq!(RootMode::Overlay.as_str(), "overlay");
        let p: RootPolicy = serde_json::from_str("\"auto\"").unwrap();
        assert_eq!(p, RootPolicy::Auto);
    }
}

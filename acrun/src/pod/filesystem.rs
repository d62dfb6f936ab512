//! The app's filesystem view as data: the Linux environment appc requires (`/proc`, read-only
//! `/sys`, a minimal tmpfs `/dev` with null zero full random urandom tty console ptmx pts shm), the
//! volumes, the masked and read-only `/proc` and `/sys` paths (the union of crun's and rkt's
//! lists) and the read-only root, in the order [`super::rootfs`] performs them.
//!
//! Defends against: reading host kernel state through procfs (`kcore`, `kallsyms`, `keys`,
//! `sched_debug`...), writing kernel tunables (`/proc/sys`, `sysrq-trigger`), and device access
//! beyond the harmless character devices.

use super::spec::AppSpec;

/// One step of building the app's view. Targets are absolute paths inside the app root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOp {
    /// A new procfs.
    Proc(&'static str),
    /// A new sysfs, read-only.
    Sysfs(&'static str),
    /// A tmpfs with these flags and options.
    Tmpfs {
        /// Target.
        target: &'static str,
        /// `noexec` as well as `nosuid`.
        noexec: bool,
        /// tmpfs options.
        options: &'static str,
    },
    /// A new devpts instance.
    Devpts(&'static str),
    /// A character device node.
    Device {
        /// Path.
        path: &'static str,
        /// Major number.
        major: u64,
        /// Minor number.
        minor: u64,
    },
    /// A symlink created in acrun's tmpfs `/dev`.
    Symlink {
        /// Path.
        path: &'static str,
        /// Link text.
        to: &'static str,
    },
    /// `/dev/console`: acrun's own `/dev/null` bound over an empty file (no host console).
    Console(&'static str),
    /// A volume.
    Volume(usize),
    /// Hide a path: files get acrun's `/dev/null`, directories an empty read-only tmpfs.
    Mask(&'static str),
    /// Remount a path read-only.
    ReadOnly(&'static str),
}

/// Character devices of the minimal `/dev` (major, minor as on every Linux).
pub const DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Paths hidden from the app (skipped when absent).
pub const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/config.gz",
    "/proc/kallsyms",
    "/proc/kcore",
    "/proc/keys",
    "/proc/kmem",
    "/proc/latency_stats",
    "/proc/mem",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/firmware",
    "/sys/hypervisor",
    "/sys/module",
    "/sys/power",
];

/// Paths made read-only (skipped when absent).
pub const READ_ONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The steps for `app`, in order.
pub fn view(app: &AppSpec) -> Vec<MountOp> {
    let mut ops = vec![
        MountOp::Proc("/proc"),
        MountOp::Tmpfs {
            target: "/dev",
            noexec: false,
            options: "mode=755,size=65536k",
        },
    ];
    for (path, major, minor) in DEVICES {
        ops.push(MountOp::Device {
            path,
            major: *major,
            minor: *minor,
        });
    }
    ops.extend([
        MountOp::Devpts("/dev/pts"),
        MountOp::Tmpfs {
            target: "/dev/shm",
            noexec: true,
            options: "mode=1777,size=65536k",
        },
        MountOp::Symlink {
            path: "/dev/ptmx",
            to: "pts/ptmx",
        },
        MountOp::Symlink {
            path: "/dev/fd",
            to: "/proc/self/fd",
        },
        MountOp::Symlink {
            path: "/dev/stdin",
            to: "/proc/self/fd/0",
        },
        MountOp::Symlink {
            path: "/dev/stdout",
            to: "/proc/self/fd/1",
        },
        MountOp::Symlink {
            path: "/dev/stderr",
            to: "/proc/self/fd/2",
        },
        MountOp::Console("/dev/console"),
        MountOp::Sysfs("/sys"),
    ]);
    ops.extend((0..app.mounts.len()).map(MountOp::Volume));
    ops.extend(MASKED.iter().map(|p| MountOp::Mask(p)));
    ops.extend(READ_ONLY.iter().map(|p| MountOp::ReadOnly(p)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_and_dev_come_before_masks_and_volumes_before_masks() {
        let app: AppSpec = serde_json::from_value(serde_json::json!({
            "name": "a", "image_name": "i", "image_id": "x", "rootfs": "/r", "exec": ["/x"],
            "user": "0", "group": "0", "supplementary_gids": [], "working_dir": "/", "env": [],
            "pre_start": null, "post_stop": null, "read_only_rootfs": false,
            "mounts": [{"volume": "v", "source": "/s", "host": true, "target": "/t",
                        "read_only": false, "recursive": true}],
            "isolators": {"capabilities": {"keep": []}, "seccomp": "Off",
                          "no_new_privileges": true, "oom_score_adj": null,
                          "limits": {"memory_bytes": null, "cpu_millis": null, "cpu_shares": null}}
        }))
        .unwrap();
        let ops = view(&app);
        let pos = |op: &MountOp| ops.iter().position(|o| o == op).unwrap();
        assert_eq!(pos(&MountOp::Proc("/proc")), 0);
        assert!(pos(&MountOp::Volume(0)) < pos(&MountOp::Mask("/proc/kcore")));
        assert!(pos(&MountOp::Sysfs("/sys")) < pos(&MountOp::Mask("/sys/firmware")));
        assert!(ops.contains(&MountOp::ReadOnly("/proc/sys")));
        assert_eq!(
            ops.iter()
                .filter(|o| matches!(o, MountOp::Device { .. }))
                .count(),
            6
        );
    }
}

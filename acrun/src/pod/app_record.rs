//! The record of a running app that `acrun enter` joins: `apps/<name>/app.json`, written
//! atomically by the app's runner once the app's root is built and its user resolved, just before
//! the first app process starts. It holds the policy (the [`AppSpec`]: isolator plan, environment,
//! supplementary groups, working directory), the credentials the runner resolved in the image's
//! own `/etc/passwd` at start, the resource limits the app starts with, and the runner's host pid
//! with its start time. (The runner may become the app itself: the pid and start time stay.)
//!
//! Defends against: an `enter` that runs with less confinement than the app (rkt's
//! CVE-2019-10144/10145/10147) — everything it applies is the app's own plan; an app that
//! rewrites its `/etc/passwd` to make a later `enter` run as root — the uid and gid are the ones
//! resolved before any app process ran, never looked up again; a recycled pid taken for the
//! runner — the start time must match too.

use super::root_mode::RootMode;
use super::spec::AppSpec;
use std::path::{Path, PathBuf};

/// The file name in `apps/<name>/`.
pub const FILE: &str = "app.json";

/// What `acrun enter` needs of a running app.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppRecord {
    /// The runner, as the `/proc` of `acrun run` sees it.
    pub runner: HostProcess,
    /// The app's uid, resolved at start.
    pub uid: u32,
    /// The app's gid, resolved at start.
    pub gid: u32,
    /// The app's plan.
    pub app: AppSpec,
    /// How the app's root was made (absent in records of older acrun: overlay).
    #[serde(default)]
    pub root: Option<RootMode>,
    /// The runner's resource limits at start, which the app inherits (but for RLIMIT_NOFILE,
    /// which [`super::process::exec`] sets for the app and an entered command alike). Absent in
    /// records of older acrun: `enter` reads them from the runner, which stayed root there.
    /// Recorded because reading another user's limits takes `CAP_SYS_RESOURCE`, which root may
    /// not have.
    #[serde(default)]
    pub limits: Option<Vec<Limit>>,
}

/// One resource limit, as `prlimit(2)` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limit {
    /// `RLIMIT_*` (the kernel's number).
    pub resource: u32,
    /// Soft limit (`RLIM_INFINITY` for none).
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

/// Every resource limit a process has.
const RESOURCES: [libc::__rlimit_resource_t; 16] = [
    libc::RLIMIT_AS,
    libc::RLIMIT_CORE,
    libc::RLIMIT_CPU,
    libc::RLIMIT_DATA,
    libc::RLIMIT_FSIZE,
    libc::RLIMIT_LOCKS,
    libc::RLIMIT_MEMLOCK,
    libc::RLIMIT_MSGQUEUE,
    libc::RLIMIT_NICE,
    libc::RLIMIT_NOFILE,
    libc::RLIMIT_NPROC,
    libc::RLIMIT_RSS,
    libc::RLIMIT_RTPRIO,
    libc::RLIMIT_RTTIME,
    libc::RLIMIT_SIGPENDING,
    libc::RLIMIT_STACK,
];

/// The resource limits of process `pid` (0: this one).
pub fn limits_of(pid: i32) -> std::io::Result<Vec<Limit>> {
    let mut out = Vec::new();
    for resource in RESOURCES {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: prlimit only writes the struct it is given.
        if unsafe { libc::prlimit(pid, resource, std::ptr::null(), &mut limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        out.push(Limit {
            resource,
            soft: limit.rlim_cur,
            hard: limit.rlim_max,
        });
    }
    Ok(out)
}

/// A process named by pid and start time (a pid alone can be recycled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostProcess {
    /// Its pid in the pid namespace of the `/proc` it was read from.
    pub pid: i32,
    /// Field 22 of `/proc/PID/stat`: start time in clock ticks since boot.
    pub start_time: u64,
}

/// Failure reading or writing a record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// I/O on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Unparsable content.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl HostProcess {
    /// This process, read from the `/proc` mounted at `proc_dir` (its pid in that `/proc`'s
    /// pid namespace, even from inside a child namespace).
    pub fn current(proc_dir: &Path) -> Result<HostProcess, RecordError> {
        let link = proc_dir.join("self");
        let target = std::fs::read_link(&link).map_err(|source| RecordError::Io {
            path: link.clone(),
            source,
        })?;
        let pid: i32 = target
            .to_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| RecordError::Parse {
                path: link,
                message: format!("not a pid: {}", target.display()),
            })?;
        let start_time = start_time(&proc_dir.join(pid.to_string()).join("stat"))?;
        Ok(HostProcess { pid, start_time })
    }
}

/// The start time of the process whose `stat` file is `path`.
pub fn start_time(path: &Path) -> Result<u64, RecordError> {
    let text = std::fs::read_to_string(path).map_err(|source| RecordError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_start_time(&text).ok_or_else(|| RecordError::Parse {
        path: path.to_owned(),
        message: "no start time".into(),
    })
}

/// Field 22 of a `stat` line. The command (field 2) is in parentheses and may hold spaces and
/// parentheses itself, so fields are counted after its last `)`; a zombie (`Z`) or dead (`X`)
/// process has no start time worth joining.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if matches!(fields.first(), Some(&("Z" | "X" | "x"))) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Writes the record into the directory `dir` (a path that reaches the app's directory, such as
/// `/proc/self/fd/N` of a descriptor opened before `pivot_root`).
pub fn write(dir: &Path, record: &AppRecord) -> Result<(), RecordError> {
    let path = dir.join(FILE);
    let bytes = serde_json::to_vec_pretty(record).map_err(|e| RecordError::Parse {
        path: path.clone(),
        message: e.to_string(),
    })?;
    // Not synced: the record is only valid while its runner lives (pid + start time).
    appc::atomic_file::replace_unsynced(&path, &bytes, 0o600)
        .map_err(|source| RecordError::Io { path, source })
}

/// Reads the record of the app whose directory is `app_dir`; `Ok(None)` when the app has not
/// written one (not started yet).
pub fn read(app_dir: &Path) -> Result<Option<AppRecord>, RecordError> {
    let path = app_dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(RecordError::Io { path, source }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| RecordError::Parse {
            path,
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_counted_after_the_last_parenthesis() {
        let stat = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_start_time(stat), Some(98765));
    }

    #[test]
    fn zombies_and_short_lines_have_no_start_time() {
        let zombie = "42 (sh) Z 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_start_time(zombie), None);
        assert_eq!(parse_start_time("42 (sh) S 1"), None);
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn this_process_is_found_in_proc() {
        let me = HostProcess::current(Path::new("/proc")).unwrap();
        assert_eq!(me.pid, i32::try_from(std::process::id()).unwrap());
        assert!(me.start_time > 0);
    }

    #[test]
    fn this_process_has_its_limits_read_and_an_unknown_pid_an_error() {
        let mine = limits_of(0).unwrap();
        assert_eq!(mine.len(), RESOURCES.len());
        let mut nofile = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut nofile) },
            0
        );
        let recorded = mine
            .iter()
            .find(|l| l.resource == libc::RLIMIT_NOFILE)
            .unwrap();
        assert_eq!(
            (recorded.soft, recorded.hard),
            (nofile.rlim_cur, nofile.rlim_max)
        );
        assert!(limits_of(i32::MAX).is_err());
    }

    #[test]
    fn a_missing_record_is_none_and_a_bad_one_an_error() {
        let t = tempfile::tempdir().unwrap();
        assert!(read(t.path()).unwrap().is_none());
        std::fs::write(t.path().join(FILE), "{").unwrap();
        assert!(read(t.path()).is_err());
    }
}

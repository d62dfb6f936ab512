//! Pod state on disk, so `acrun list/status/stop/gc` work from another shell: the directory
//! `<dir>/pods/<uuid>/` holds `state.json` (written once, when the supervisor exists: phase
//! running, its pid, the cgroups to remove; a pod being prepared has its lock held and no state
//! yet, and an exited one is a running one whose lock is free, its exit codes in the
//! supervisor's `apps/<name>/exit` files — [`current`]), `pod.json` (the reified pod manifest),
//! `apps/<name>/{upper,work,rootfs,exit}` and `volumes/<name>`. `state.json` is only ever
//! replaced whole (`appc::atomic_file::replace_unsynced`: no fsync — a machine crash ends the
//! pod it describes; the directory it may leave unreadable is [`abandoned`] and `acrun gc`
//! removes it). Liveness is a lock, not a pid: the `acrun run` process
//! holds an exclusive `flock` on `lock` for the pod's whole life (rkt's scheme), so a crashed run
//! is seen as exited and a recycled pid is never mistaken for the pod.
//!
//! Defends against: half-written state after a crash; signalling a process that is no longer
//! the pod's supervisor.

use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Where a pod is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Directory and cgroups made; not started. (Written by earlier versions of acrun; this one
    /// records no state before the supervisor exists.)
    Prepared,
    /// Supervisor running.
    Running,
    /// Finished (normally or not).
    Exited,
}

/// One app's record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppState {
    /// App name.
    pub name: String,
    /// Image name.
    pub image_name: String,
    /// Image ID.
    pub image_id: String,
    /// Exit code (128+N for signal N) once known.
    pub exit_code: Option<i32>,
    /// How the app's root was made, once its runner has recorded it (`overlay` or `copy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<super::root_mode::RootMode>,
}

/// `state.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PodState {
    /// UUID.
    pub uuid: String,
    /// Phase as last written.
    pub phase: Phase,
    /// Host pid of the supervisor while running.
    pub pid: Option<i32>,
    /// Seconds since the epoch.
    pub created: u64,
    /// Apps.
    pub apps: Vec<AppState>,
    /// The pod's exit code.
    pub exit_code: Option<i32>,
    /// cgroup directories to remove at gc, innermost first.
    pub cgroups: Vec<PathBuf>,
}

/// Failure reading or writing pod state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// I/O on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Unparsable state.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
    /// No such pod.
    #[error("no pod {0}")]
    NoPod(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `<dir>/pods`.
pub fn pods_dir(dir: &Path) -> PathBuf {
    dir.join("pods")
}

/// The pod's state file in its directory.
const STATE_FILE: &str = "state.json";

/// Replaces `state.json` whole (a reader sees the old or the new state), without fsync: the
/// state describes processes that a machine crash ends anyway, and [`abandoned`] finds the pod
/// directories such a crash leaves with an unreadable state.
pub fn write(pod_dir: &Path, state: &PodState) -> Result<(), StateError> {
    let path = pod_dir.join(STATE_FILE);
    let bytes = serde_json::to_vec_pretty(state).map_err(|source| StateError::Json {
        path: path.clone(),
        source,
    })?;
    appc::atomic_file::replace_unsynced(&path, &bytes, 0o644).map_err(io_err(&path))
}

/// Reads `state.json`.
pub fn read(pod_dir: &Path) -> Result<PodState, StateError> {
    let path = pod_dir.join(STATE_FILE);
    let bytes = std::fs::read(&path).map_err(io_err(&path))?;
    serde_json::from_slice(&bytes).map_err(|source| StateError::Json { path, source })
}

/// The exclusive lock that marks a live pod.
#[derive(Debug)]
pub struct PodLock(#[allow(dead_code)] Flock<File>);

/// Takes the pod's lock (creating the file).
pub fn lock(pod_dir: &Path) -> Result<PodLock, StateError> {
    let path = pod_dir.join("lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map(PodLock)
        .map_err(|(_, e)| StateError::Io {
            path,
            source: e.into(),
        })
}

/// Whether some process holds the pod's lock.
pub fn is_alive(pod_dir: &Path) -> bool {
    let Ok(file) = File::open(pod_dir.join("lock")) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockSharedNonblock).is_err()
}

/// The exit code file the supervisor writes for an app.
pub fn exit_file(pod_dir: &Path, app: &str) -> PathBuf {
    pod_dir.join("apps").join(app).join("exit")
}

/// Reads an app's exit code file.
pub fn read_exit(pod_dir: &Path, app: &str) -> Option<i32> {
    std::fs::read_to_string(exit_file(pod_dir, app))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The pod's state with what the files say now: a "running" pod whose lock is free has exited
/// (`acrun run` writes the state once, as running, and nothing when the pod ends); app exit
/// codes come from the supervisor's files when the state has none, and an exited pod's code is
/// the first non-zero app code, as `acrun run`'s own.
pub fn current(pod_dir: &Path) -> Result<PodState, StateError> {
    let mut st = read(pod_dir)?;
    if st.phase == Phase::Running && !is_alive(pod_dir) {
        st.phase = Phase::Exited;
        st.pid = None;
    }
    for a in &mut st.apps {
        if a.exit_code.is_none() {
            a.exit_code = read_exit(pod_dir, &a.name);
        }
        if a.root.is_none() {
            let app_dir = pod_dir.join("apps").join(&a.name);
            a.root = super::app_record::read(&app_dir)
                .ok()
                .flatten()
                .and_then(|r| r.root);
        }
    }
    if st.phase == Phase::Exited
        && st.exit_code.is_none()
        && st.apps.iter().all(|a| a.exit_code.is_some())
    {
        let codes: Vec<Option<i32>> = st.apps.iter().map(|a| a.exit_code).collect();
        st.exit_code = Some(crate::supervisor::pod_exit_code(&codes));
    }
    Ok(st)
}

/// Whether the pod in `pod_dir` got as far as recording a state (then `acrun gc` owns its
/// directory; before that, a failed start removes it).
pub fn pod_started(pod_dir: &Path) -> bool {
    pod_dir.join(STATE_FILE).exists()
}

/// Every pod under `dir`, sorted by UUID.
pub fn list(dir: &Path) -> Vec<(PathBuf, PodState)> {
    let Ok(entries) = std::fs::read_dir(pods_dir(dir)) else {
        return vec![];
    };
    let mut v: Vec<_> = entries
        .filter_map(Result::ok)
        .filter_map(|e| current(&e.path()).ok().map(|s| (e.path(), s)))
        .collect();
    v.sort_by(|a, b| a.1.uuid.cmp(&b.1.uuid));
    v
}

/// Pod directories under `dir` whose `state.json` is missing or unreadable although their
/// `acrun run` took the lock (the lock file exists) and no longer holds it: what a machine
/// crash leaves of a pod whose unsynced state had not reached the disk. Sorted.
pub fn abandoned(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(pods_dir(dir)) else {
        return vec![];
    };
    let mut v: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("lock").is_file() && !is_alive(p) && read(p).is_err())
        .collect();
    v.sort();
    v
}

/// Finds a pod by UUID or unique UUID prefix.
pub fn find(dir: &Path, uuid: &str) -> Result<PathBuf, StateError> {
    let matches: Vec<_> = list(dir)
        .into_iter()
        .filter(|(_, s)| s.uuid.starts_with(uuid))
        .collect();
    match matches.as_slice() {
        [(p, _)] if !uuid.is_empty() => Ok(p.clone()),
        _ => Err(StateError::NoPod(uuid.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(uuid: &str) -> PodState {
        PodState {
            uuid: uuid.into(),
            phase: Phase::Running,
            pid: Some(1),
            created: 0,
            apps: vec![AppState {
                name: "a".into(),
                image_name: "i".into(),
                image_id: "x".into(),
                exit_code: None,
                root: None,
            }],
            exit_code: None,
            cgroups: vec![],
        }
    }

    #[test]
    fn a_running_pod_without_its_lock_holder_has_exited() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("apps/a")).unwrap();
        write(t.path(), &state("u1")).unwrap();
        std::fs::write(exit_file(t.path(), "a"), "3\n").unwrap();
        let held = lock(t.path()).unwrap();
        assert!(is_alive(t.path()));
        assert_eq!(current(t.path()).unwrap().phase, Phase::Running);
        drop(held);
        let st = current(t.path()).unwrap();
        assert_eq!(st.phase, Phase::Exited);
        assert_eq!(st.apps[0].exit_code, Some(3));
        assert_eq!(st.exit_code, Some(3));
    }

    /// The pod's code is derived only when every app has one: the first non-zero, else 0.
    #[test]
    fn an_exited_pods_code_is_its_first_failing_apps() {
        let t = tempfile::tempdir().unwrap();
        let mut st = state("u2");
        st.apps.push(AppState {
            name: "b".into(),
            ..st.apps[0].clone()
        });
        for a in ["a", "b"] {
            std::fs::create_dir_all(t.path().join("apps").join(a)).unwrap();
        }
        write(t.path(), &st).unwrap();
        std::fs::write(exit_file(t.path(), "b"), "4\n").unwrap();
        assert_eq!(current(t.path()).unwrap().exit_code, None);
        std::fs::write(exit_file(t.path(), "a"), "0\n").unwrap();
        assert_eq!(current(t.path()).unwrap().exit_code, Some(4));
        std::fs::write(exit_file(t.path(), "b"), "0\n").unwrap();
        assert_eq!(current(t.path()).unwrap().exit_code, Some(0));
    }

    #[test]
    fn a_pod_left_without_readable_state_is_abandoned_once_its_lock_is_free() {
        let t = tempfile::tempdir().unwrap();
        let d = pods_dir(t.path()).join("u1");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(STATE_FILE), b"").unwrap();
        // A run that has not taken its lock yet (no lock file) is not abandoned.
        assert!(abandoned(t.path()).is_empty());
        let held = lock(&d).unwrap();
        assert!(abandoned(t.path()).is_empty());
        drop(held);
        assert_eq!(abandoned(t.path()), vec![d.clone()]);
        // Control: the same pod with a readable state is a listed pod, not an abandoned one.
        write(&d, &state("u1")).unwrap();
        assert!(abandoned(t.path()).is_empty());
        assert_eq!(list(t.path()).len(), 1);
    }

    #[test]
    fn pods_are_found_by_unique_prefix() {
        let t = tempfile::tempdir().unwrap();
        for u in ["abc1", "abd2"] {
            let d = pods_dir(t.path()).join(u);
            std::fs::create_dir_all(&d).unwrap();
            write(&d, &state(u)).unwrap();
        }
        assert!(find(t.path(), "abc").is_ok());
        assert!(find(t.path(), "ab").is_err());
        assert!(find(t.path(), "").is_err());
    }
}

//! `acrun list`, `acrun status`, `acrun stop`, `acrun gc` (pods): read and act on the pod state
//! that [`crate::pod::state`] keeps, from any shell.
//!
//! `stop` signals the supervisor through a pidfd taken while the pod's lock is seen held, so a
//! recycled pid is never signalled.

use crate::isolators::cgroup;
use crate::pod::pidfd;
use crate::pod::state::{self, Phase, PodState};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// Failure of a pod command.
#[derive(Debug, thiserror::Error)]
pub enum PodCmdError {
    /// State files.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// Signalling.
    #[error("pod {uuid}: {what}: {source}")]
    Signal {
        /// Pod.
        uuid: String,
        /// What.
        what: &'static str,
        /// Error.
        source: std::io::Error,
    },
    /// Removal.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: std::path::PathBuf,
        /// Error.
        source: std::io::Error,
    },
}

impl PodCmdError {
    /// Whether it was the user's input.
    pub fn is_usage(&self) -> bool {
        matches!(self, PodCmdError::State(state::StateError::NoPod(_)))
    }
}

fn phase(p: Phase) -> &'static str {
    match p {
        Phase::Prepared => "prepared",
        Phase::Running => "running",
        Phase::Exited => "exited",
    }
}

fn apps_line(st: &PodState) -> String {
    st.apps
        .iter()
        .map(|a| match a.exit_code {
            Some(c) => format!("{}={c}", a.name),
            None => a.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `acrun list [--json]`.
pub fn list(dir: &Path, json: bool) -> Result<String, PodCmdError> {
    let pods: Vec<PodState> = state::list(dir).into_iter().map(|(_, s)| s).collect();
    if json {
        return Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&pods).unwrap_or_default()
        ));
    }
    let mut out = String::from("UUID\tSTATE\tAPPS\tIMAGES\n");
    for p in &pods {
        let images: Vec<_> = p.apps.iter().map(|a| a.image_name.as_str()).collect();
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}",
            p.uuid,
            phase(p.phase),
            apps_line(p),
            images.join(",")
        );
    }
    Ok(out)
}

/// `acrun status UUID`.
pub fn status(dir: &Path, uuid: &str) -> Result<String, PodCmdError> {
    let st = state::current(&state::find(dir, uuid)?)?;
    let mut out = format!("uuid={}\nstate={}\n", st.uuid, phase(st.phase));
    if let Some(pid) = st.pid {
        let _ = writeln!(out, "pid={pid}");
    }
    if let Some(code) = st.exit_code {
        let _ = writeln!(out, "exit-code={code}");
    }
    for a in &st.apps {
        match a.exit_code {
            Some(c) => {
                let _ = writeln!(out, "app-{}={c}", a.name);
            }
            None => {
                let _ = writeln!(out, "app-{}=running", a.name);
            }
        }
        if let Some(root) = a.root {
            let _ = writeln!(out, "root-{}={}", a.name, root.as_str());
        }
    }
    Ok(out)
}

/// `acrun stop UUID [--timeout]`: SIGTERM to the pod (forwarded to every app), SIGKILL after
/// `timeout`.
pub fn stop(dir: &Path, uuid: &str, timeout: Duration) -> Result<String, PodCmdError> {
    let pod_dir = state::find(dir, uuid)?;
    let st = state::current(&pod_dir)?;
    let err = |what, source| PodCmdError::Signal {
        uuid: st.uuid.clone(),
        what,
        source,
    };
    let (Phase::Running, Some(pid)) = (st.phase, st.pid) else {
        return Ok(format!("{} is not running\n", st.uuid));
    };
    let fd = pidfd::open(pid).map_err(|e| err("pidfd_open", e))?;
    if !state::is_alive(&pod_dir) {
        return Ok(format!("{} is not running\n", st.uuid));
    }
    pidfd::signal(&fd, libc::SIGTERM).map_err(|e| err("SIGTERM", e))?;
    let start = Instant::now();
    while state::is_alive(&pod_dir) {
        if start.elapsed() >= timeout {
            let _ = pidfd::signal(&fd, libc::SIGKILL);
            while state::is_alive(&pod_dir) {
                std::thread::sleep(Duration::from_millis(10));
            }
            return Ok(format!("{} killed\n", st.uuid));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(format!("{} stopped\n", st.uuid))
}

/// `acrun gc`: removes exited pods (their upper layers, empty volumes and cgroups). There is
/// nothing to unmount: every mount of a pod lived in namespaces that died with it.
pub fn gc(dir: &Path) -> Result<String, PodCmdError> {
    let mut out = String::new();
    for (pod_dir, st) in state::list(dir) {
        if st.phase == Phase::Running || state::is_alive(&pod_dir) {
            continue;
        }
        cgroup::remove_dirs(&st.cgroups);
        std::fs::remove_dir_all(&pod_dir).map_err(|source| PodCmdError::Io {
            path: pod_dir.clone(),
            source,
        })?;
        let _ = writeln!(out, "removed pod {}", st.uuid);
    }
    // Its cgroups went with the crash that left it so (cgroupfs does not outlive a boot).
    for pod_dir in state::abandoned(dir) {
        std::fs::remove_dir_all(&pod_dir).map_err(|source| PodCmdError::Io {
            path: pod_dir.clone(),
            source,
        })?;
        let name = pod_dir.file_name().unwrap_or_default().to_string_lossy();
        let _ = writeln!(out, "removed abandoned pod {name}");
    }
    Ok(out)
}

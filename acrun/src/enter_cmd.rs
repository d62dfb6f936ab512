//! `acrun enter UUID [--app NAME] [--interactive] [-- CMD...]`: finds the pod, checks that it is
//! running, picks the app (`--app` is required when the pod has several) and hands over to
//! [`crate::pod::enter`]. Exits with the command's code (128+N for signal N), 254 when acrun
//! itself fails, 2 for usage errors (no such pod, no such app, `--app` missing).

use crate::pod::enter::{self, EnterError};
use crate::pod::state::{self, Phase, PodState};
use appc::untrusted_text::escape_keeping_layout;
use std::path::Path;
use std::process::ExitCode;

/// The command run when none is given.
pub const DEFAULT_COMMAND: &str = "/bin/sh";

/// Why `acrun enter` failed.
#[derive(Debug, thiserror::Error)]
pub enum EnterCmdError {
    /// Pod state (including: no such pod).
    #[error(transparent)]
    State(#[from] state::StateError),
    /// The pod is not running.
    #[error("pod {0} is not running")]
    PodNotRunning(String),
    /// Several apps and no `--app`.
    #[error("pod {uuid} has several apps ({apps}): choose one with --app")]
    AppNeeded {
        /// The pod.
        uuid: String,
        /// Its apps, comma-separated.
        apps: String,
    },
    /// `--app` names no app of the pod.
    #[error("pod {uuid} has no app {app:?} (apps: {apps})")]
    NoSuchApp {
        /// The pod.
        uuid: String,
        /// The name given.
        app: String,
        /// Its apps, comma-separated.
        apps: String,
    },
    /// Joining the app.
    #[error(transparent)]
    Enter(#[from] EnterError),
}

impl EnterCmdError {
    /// Whether it was the user's input.
    pub fn is_usage(&self) -> bool {
        match self {
            EnterCmdError::State(e) => matches!(e, state::StateError::NoPod(_)),
            EnterCmdError::AppNeeded { .. } | EnterCmdError::NoSuchApp { .. } => true,
            EnterCmdError::PodNotRunning(_) | EnterCmdError::Enter(_) => false,
        }
    }
}

/// The app to enter: `wanted`, or the pod's only app.
pub fn choose_app(st: &PodState, wanted: Option<&str>) -> Result<String, EnterCmdError> {
    let names = || {
        st.apps
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    match (wanted, st.apps.as_slice()) {
        (Some(w), apps) if apps.iter().any(|a| a.name == w) => Ok(w.to_owned()),
        (Some(w), _) => Err(EnterCmdError::NoSuchApp {
            uuid: st.uuid.clone(),
            app: w.to_owned(),
            apps: names(),
        }),
        (None, [only]) => Ok(only.name.clone()),
        (None, _) => Err(EnterCmdError::AppNeeded {
            uuid: st.uuid.clone(),
            apps: names(),
        }),
    }
}

/// Enters app `app` (or the only app) of pod `uuid` under `dir` and runs `cmd` (default
/// [`DEFAULT_COMMAND`]), on a terminal of its own when `interactive`; returns its exit code.
pub fn run(
    dir: &Path,
    uuid: &str,
    app: Option<&str>,
    interactive: bool,
    cmd: &[String],
) -> Result<i32, EnterCmdError> {
    let pod_dir = state::find(dir, uuid)?;
    let st = state::current(&pod_dir)?;
    if st.phase != Phase::Running {
        return Err(EnterCmdError::PodNotRunning(st.uuid));
    }
    let app = choose_app(&st, app)?;
    let argv = if cmd.is_empty() {
        vec![DEFAULT_COMMAND.to_owned()]
    } else {
        cmd.to_vec()
    };
    Ok(enter::run(&pod_dir, &app, &argv, interactive)?)
}

/// `acrun enter` as an exit code: the command's, 2 for usage errors, 254 for acrun's own.
pub fn main(
    dir: &Path,
    uuid: &str,
    app: Option<&str>,
    interactive: bool,
    cmd: &[String],
) -> ExitCode {
    match run(dir, uuid, app, interactive, cmd) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(254)),
        Err(e) => {
            eprintln!("acrun: {}", escape_keeping_layout(&e.to_string()));
            ExitCode::from(if e.is_usage() { 2 } else { 254 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::state::AppState;

    fn pod(apps: &[&str]) -> PodState {
        PodState {
            uuid: "u".into(),
            phase: Phase::Running,
            pid: Some(1),
            created: 0,
            apps: apps
                .iter()
                .map(|a| AppState {
                    name: (*a).into(),
                    image_name: "i".into(),
                    image_id: "x".into(),
                    exit_code: None,
                    root: None,
                })
                .collect(),
            exit_code: None,
            cgroups: vec![],
        }
    }

    #[test]
    fn the_only_app_needs_no_name() {
        assert_eq!(choose_app(&pod(&["web"]), None).unwrap(), "web");
        assert_eq!(choose_app(&pod(&["web"]), Some("web")).unwrap(), "web");
    }

    #[test]
    fn several_apps_need_app_and_it_must_exist() {
        let p = pod(&["web", "db"]);
        let e = choose_app(&p, None).unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("web,db"), "{e}");
        assert_eq!(choose_app(&p, Some("db")).unwrap(), "db");
        let e = choose_app(&p, Some("cache")).unwrap_err();
        assert!(e.is_usage() && matches!(e, EnterCmdError::NoSuchApp { .. }));
    }
}

//! The pod supervisor: acrun's own PID 1 of the pod's PID namespace (no systemd, no nspawn). It
//! makes the pod's mount tree private, covers the host paths the pod must not see (the HMAC
//! key's directory), sets the hostname, forks one runner per
//! app ([`crate::pod::runner`]), then waits for signals: SIGCHLD reaps runners and orphans (as a
//! PID 1 must), SIGTERM/SIGINT/SIGHUP/SIGQUIT are forwarded to every process of the pod. When the
//! last runner is gone it writes each app's exit code and exits with the pod's: the first
//! non-zero app code in pod order, else 0. Its exit takes down whatever is left in the pod.
//!
//! Defends against: zombie build-up and lost exit codes (rkt #1460/#3129); signals reaching an
//! app that has no handler for them as PID 1 (apps are never PID 1 here).

use crate::pod::rootfs;
use crate::pod::runner::{self, ACRUN_FAILURE, AppRuntime};
use crate::pod::spec::PodSpec;
use crate::pod::state;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use std::os::fd::OwnedFd;
use std::path::Path;

/// The signals the supervisor (and the parent `acrun run`) handle by waiting for them.
pub fn handled_signals() -> nix::sys::signal::SigSet {
    let mut set = nix::sys::signal::SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        set.add(s);
    }
    set
}

/// Output descriptors of one app: (stdout, stderr), or `None` to inherit acrun's.
pub type AppOutput = Option<(OwnedFd, OwnedFd)>;

/// Runs the pod; returns the supervisor's exit code. Signals in [`handled_signals`] must already
/// be blocked.
pub fn run(
    spec: &PodSpec,
    pod_dir: &Path,
    apps: &[AppRuntime<'_>],
    outputs: Vec<AppOutput>,
) -> i32 {
    if let Err(message) = setup(spec) {
        eprintln!("acrun: pod {}: {message}", spec.uuid);
        write_exit_files(pod_dir, apps, &vec![Some(ACRUN_FAILURE); apps.len()]);
        return ACRUN_FAILURE;
    }
    let mut running: Vec<(Pid, usize)> = Vec::new();
    let mut codes: Vec<Option<i32>> = vec![None; apps.len()];
    for (i, rt) in apps.iter().enumerate() {
        // SAFETY: the supervisor is single-threaded.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                if let Some((out, err)) = &outputs[i] {
                    let _ = nix::unistd::dup2_stdout(out);
                    let _ = nix::unistd::dup2_stderr(err);
                }
                drop(outputs);
                let code = runner::run(rt);
                // SAFETY: leave without the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            Ok(ForkResult::Parent { child }) => running.push((child, i)),
            Err(e) => {
                eprintln!("acrun: app {}: fork: {e}", rt.app.name);
                codes[i] = Some(ACRUN_FAILURE);
            }
        }
    }
    drop(outputs);
    supervise(&mut running, &mut codes);
    write_exit_files(pod_dir, apps, &codes);
    pod_exit_code(&codes)
}

/// Each app's exit code, where `acrun status` and `list` find it (`state::current`).
fn write_exit_files(pod_dir: &Path, apps: &[AppRuntime<'_>], codes: &[Option<i32>]) {
    for (rt, code) in apps.iter().zip(codes) {
        let code = code.unwrap_or(ACRUN_FAILURE);
        let path = state::exit_file(pod_dir, &rt.app.name);
        // Not synced, like the pod's state (`state::write`): whole for readers, gone in a crash.
        let _ = appc::atomic_file::replace_unsynced(&path, format!("{code}\n").as_bytes(), 0o644);
    }
}

fn setup(spec: &PodSpec) -> Result<(), String> {
    rootfs::make_private().map_err(|e| e.to_string())?;
    for path in &spec.hidden {
        rootfs::cover(path).map_err(|e| e.to_string())?;
    }
    nix::unistd::sethostname(&spec.hostname).map_err(|e| format!("hostname: {e}"))?;
    if !spec.interactive {
        let null = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| format!("/dev/null: {e}"))?;
        nix::unistd::dup2_stdin(&null).map_err(|e| format!("stdin: {e}"))?;
    }
    Ok(())
}

/// Waits for signals until every runner has exited.
fn supervise(running: &mut Vec<(Pid, usize)>, codes: &mut [Option<i32>]) {
    let set = handled_signals();
    while !running.is_empty() {
        let Ok(sig) = set.wait() else { continue };
        if sig == Signal::SIGCHLD {
            reap(running, codes);
        } else {
            // -1 from PID 1: every process of the pod namespace but the supervisor.
            let _ = kill(Pid::from_raw(-1), sig);
        }
    }
}

fn reap(running: &mut Vec<(Pid, usize)>, codes: &mut [Option<i32>]) {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(nix::sys::wait::WaitStatus::StillAlive) | Err(_) => return,
            Ok(st) => {
                let Some(pid) = st.pid() else { return };
                if let Some(pos) = running.iter().position(|(p, _)| *p == pid) {
                    let (_, i) = running.remove(pos);
                    codes[i] = runner::exit_code(st);
                }
            }
        }
    }
}

/// The first non-zero code in pod order, else 0.
pub fn pod_exit_code(codes: &[Option<i32>]) -> i32 {
    codes
        .iter()
        .map(|c| c.unwrap_or(ACRUN_FAILURE))
        .find(|c| *c != 0)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failing_app_decides() {
        assert_eq!(pod_exit_code(&[Some(0), Some(3), Some(4)]), 3);
        assert_eq!(pod_exit_code(&[Some(0), Some(0)]), 0);
        assert_eq!(pod_exit_code(&[None]), ACRUN_FAILURE);
    }
}

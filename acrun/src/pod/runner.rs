//! Mechanism: the per-app runner, a child of the supervisor. It joins the app's cgroups, enters a
//! mount namespace of its own, builds the app's root and pivots into it, resolves the user and
//! working directory there, records all that for `acrun enter` ([`super::app_record`]), then
//! runs `pre-start` to completion (a non-zero exit stops the app), the main process, and
//! `post-stop` — all three as app processes ([`super::process`]), in the same root and with the
//! same environment. Its exit code is the main process's (128+N for
//! signal N), the failing `pre-start`'s, or 254 when acrun itself could not start the app.
//! An app with no handlers and no terminal has nothing to wait for: its runner becomes the main
//! process (the same [`super::process::exec`]), and the supervisor reaps it directly — one fork
//! and one hand-over fewer per pod start (0.2–0.5 ms here, BENCHMARKS.md).
//!
//! The runner keeps SIGTERM/SIGINT blocked (the supervisor's mask), so a signal the supervisor
//! forwards to every process of the pod ends the apps while the runner lives on to run
//! `post-stop`.

use super::app_record::{self, AppRecord, HostProcess};
use super::process::{self, Credentials};
use super::spec::AppSpec;
use super::{rootfs, user};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use seccompiler::BpfProgram;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Exit code for acrun's own failures.
pub const ACRUN_FAILURE: i32 = 254;

/// What a runner needs.
#[derive(Debug)]
pub struct AppRuntime<'a> {
    /// The app.
    pub app: &'a AppSpec,
    /// `<pod>/apps/<name>`.
    pub app_dir: PathBuf,
    /// `cgroup.procs` files to join.
    pub cgroup_procs: Vec<PathBuf>,
    /// Compiled seccomp filter.
    pub filter: Option<BpfProgram>,
    /// The app's terminal to make (`--interactive` on a terminal).
    pub console: Option<super::tty::PodEnd>,
}

/// Runs the app's life; returns the runner's exit code.
pub fn run(rt: &AppRuntime<'_>) -> i32 {
    match setup(rt) {
        Ok((creds, tty)) => lifecycle(rt, creds, tty.as_ref()),
        Err(message) => {
            process::report(&rt.app.name, &message);
            ACRUN_FAILURE
        }
    }
}

fn setup(rt: &AppRuntime<'_>) -> Result<(Credentials, Option<OwnedFd>), String> {
    for f in &rt.cgroup_procs {
        std::fs::write(f, "0").map_err(|e| format!("join cgroup {}: {e}", f.display()))?;
    }
    // Read from acrun's /proc and the host's view before the app's root replaces them.
    let runner = HostProcess::current(Path::new("/proc")).map_err(|e| e.to_string())?;
    let limits = app_record::limits_of(0).map_err(|e| format!("resource limits: {e}"))?;
    let app_dir = nix::fcntl::open(
        &rt.app_dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("{}: {e}", rt.app_dir.display()))?;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("mount namespace: {e}"))?;
    let (root, root_mode) = rootfs::prepare(rt.app, &rt.app_dir).map_err(|e| e.to_string())?;
    rootfs::pivot(std::os::fd::AsFd::as_fd(&root)).map_err(|e| e.to_string())?;
    drop(root);
    let (uid, gid) =
        user::resolve_in_root(&rt.app.user, &rt.app.group).map_err(|e| e.to_string())?;
    nix::unistd::chdir(rt.app.working_dir.as_str())
        .map_err(|e| format!("working directory {}: {e}", rt.app.working_dir))?;
    // The app's directory is outside the new root: reach it through the descriptor.
    let record = AppRecord {
        runner,
        uid,
        gid,
        app: rt.app.clone(),
        root: Some(root_mode),
        limits: Some(limits),
    };
    let dir = PathBuf::from(format!("/proc/self/fd/{}", app_dir.as_raw_fd()));
    app_record::write(&dir, &record).map_err(|e| format!("app record: {e}"))?;
    drop(app_dir);
    let tty = match rt.console {
        Some(end) => Some(super::tty::open_in_pod(end, uid)?),
        None => None,
    };
    Ok((Credentials { uid, gid }, tty))
}

fn lifecycle(rt: &AppRuntime<'_>, creds: Credentials, tty: Option<&OwnedFd>) -> i32 {
    let name = &rt.app.name;
    if rt.app.pre_start.is_none() && rt.app.post_stop.is_none() && tty.is_none() {
        // Nothing to run before or after the app, and no terminal to hold: the runner becomes
        // the app, and the supervisor reaps the app itself.
        let message = process::exec(rt.app, &rt.app.exec, creds, rt.filter.as_ref());
        process::report(name, &message);
        return ACRUN_FAILURE;
    }
    if let Some(pre) = &rt.app.pre_start {
        let code = spawn_and_wait(rt, pre, creds, tty);
        if code != 0 {
            process::report(
                name,
                &format!("pre-start handler exited with {code}; app not started"),
            );
            return code;
        }
    }
    let code = spawn_and_wait(rt, &rt.app.exec, creds, tty);
    if let Some(post) = &rt.app.post_stop {
        let post_code = spawn_and_wait(rt, post, creds, tty);
        if post_code != 0 {
            process::report(name, &format!("post-stop handler exited with {post_code}"));
        }
    }
    code
}

/// The shell convention for a wait status: the exit code, or 128+N for signal N.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Waits for `pid` to end, retrying on EINTR; its exit code.
pub fn wait_for(pid: Pid) -> i32 {
    loop {
        match waitpid(pid, None) {
            Ok(st) => {
                if let Some(code) = exit_code(st) {
                    return code;
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return ACRUN_FAILURE,
        }
    }
}

fn spawn_and_wait(
    rt: &AppRuntime<'_>,
    argv: &[String],
    creds: Credentials,
    tty: Option<&OwnedFd>,
) -> i32 {
    // SAFETY: the runner is single-threaded; the child only execs or exits.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let message = match tty.map(super::tty::attach) {
                Some(Err(m)) => m,
                _ => process::exec(rt.app, argv, creds, rt.filter.as_ref()),
            };
            process::report(&rt.app.name, &message);
            // SAFETY: leave without running the parent's destructors or atexit handlers.
            unsafe { libc::_exit(ACRUN_FAILURE) }
        }
        Ok(ForkResult::Parent { child }) => wait_for(child),
        Err(e) => {
            process::report(&rt.app.name, &format!("fork: {e}"));
            ACRUN_FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn signals_become_128_plus_n() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some(137)
        );
    }
}

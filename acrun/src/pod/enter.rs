//! Mechanism of `acrun enter`: runs a command inside a running app with exactly that app's
//! confinement. The policy is the app's own record ([`super::app_record`], written by its runner
//! at start); this layer only joins and applies it, in this order:
//!
//! 1. acrun becomes non-dumpable; the runner's pidfd is taken and the process checked against
//!    the recorded start time (a recycled pid is refused), and checked again after every
//!    `/proc/PID` read, so all of them were the runner's;
//! 2. the seccomp filter is compiled from the app's plan;
//! 3. acrun moves into the runner's cgroups (every hierarchy where they differ, from the host's
//!    `/sys/fs/cgroup`, before leaving the host's mount namespace) and takes its OOM score and
//!    the resource limits it recorded at start (which the app inherited from it);
//! 4. one `setns` on the pidfd joins the runner's mount, PID, IPC, UTS and network namespaces,
//!    then `chroot` to the runner's root and `chdir` to the app's working directory;
//! 5. a fork (so the child is inside the pod's PID namespace) in a new session (so the caller's
//!    terminal is not its controlling one: no `TIOCSTI` into the host shell) — with
//!    `--interactive` on a terminal, the session of a pty opened from the app's own `/dev/ptmx`
//!    and relayed to the caller's terminal, as for `acrun run --interactive` ([`super::tty`]),
//!    so the command still never holds the caller's terminal; the child becomes
//!    an app process through [`super::process::exec`] — stray fds closed, RLIMIT_NOFILE, OOM
//!    score, capability sets, groups, gid, uid, no-new-privileges, seccomp, exec — the very path
//!    the app's own processes take;
//! 6. the parent forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT and returns the command's exit code
//!    (128+N for signal N).
//!
//! Defends against: rkt's CVE-2019-10144/10145/10147 (an enter with all capabilities, no seccomp
//! and no cgroup), host fds or a host cwd reaching the pod (CVE-2024-21626: everything past fd 2
//! is closed, the cwd is inside the app's root), and a pod process tracing acrun (non-dumpable,
//! and acrun itself stays outside the pod's PID namespace).

use super::app_record::{self, AppRecord, HostProcess, Limit, RecordError};
use super::pidfd;
use super::process::{self, Credentials};
use super::runner::{self, ACRUN_FAILURE};
use super::tty::{self, Console, RelayProcess};
use crate::isolators::{self, cgroup};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use seccompiler::BpfProgram;
use std::os::fd::OwnedFd;
use std::path::Path;

/// Why an app could not be entered.
#[derive(Debug, thiserror::Error)]
pub enum EnterError {
    /// The app has no record yet.
    #[error("app {0} has not started yet")]
    NotStarted(String),
    /// The recorded runner is gone (or its pid now names another process).
    #[error("app {0} is not running")]
    NotRunning(String),
    /// The record cannot be read.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The seccomp plan does not compile.
    #[error(transparent)]
    Plan(#[from] isolators::PlanError),
    /// Joining the cgroups.
    #[error("app {app}: {message}")]
    Cgroup {
        /// App name.
        app: String,
        /// What failed.
        message: String,
    },
    /// A system call.
    #[error("app {app}: {what}: {source}")]
    Sys {
        /// App name.
        app: String,
        /// What was being done.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// Runs `argv` in app `app` of the pod at `pod_dir`; returns its exit code. The caller has
/// checked that the pod is running. Must be called from a single-threaded process (joining a
/// mount namespace requires it); on return the process is inside the app's namespaces.
pub fn run(
    pod_dir: &Path,
    app: &str,
    argv: &[String],
    interactive: bool,
) -> Result<i32, EnterError> {
    let _ = nix::sys::prctl::set_dumpable(false);
    let record = app_record::read(&pod_dir.join("apps").join(app))?
        .ok_or_else(|| EnterError::NotStarted(app.to_owned()))?;
    let filter = record.app.isolators.seccomp.compile(app)?;
    // The terminal relay, if any, is forked first: it stays in acrun's namespaces and cgroups.
    let relay = Console::open(interactive)
        .and_then(|console| console.map(Console::start_process).transpose())
        .map_err(|source| EnterError::Sys {
            app: app.to_owned(),
            what: "the command's terminal",
            source,
        })?;
    let sys = |what| {
        move |e: std::io::Error| EnterError::Sys {
            app: app.to_owned(),
            what,
            source: e,
        }
    };
    let runner = record.runner;
    let gone = || EnterError::NotRunning(app.to_owned());
    let pidfd = pidfd::open(runner.pid).map_err(|_| gone())?;
    check(&runner).ok_or_else(gone)?;
    let proc_dir = format!("/proc/{}", runner.pid);
    let cgroups = std::fs::read_to_string(format!("{proc_dir}/cgroup")).map_err(|_| gone())?;
    let oom_score_adj =
        std::fs::read_to_string(format!("{proc_dir}/oom_score_adj")).map_err(|_| gone())?;
    let limits = match &record.limits {
        Some(l) => l.clone(),
        None => app_record::limits_of(runner.pid).map_err(|_| gone())?,
    };
    let root = nix::fcntl::open(
        format!("{proc_dir}/root").as_str(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|_| gone())?;
    check(&runner).ok_or_else(gone)?;
    cgroup::join_like(&cgroups).map_err(|message| EnterError::Cgroup {
        app: app.to_owned(),
        message,
    })?;
    std::fs::write("/proc/self/oom_score_adj", oom_score_adj.trim())
        .map_err(sys("set the runner's oom_score_adj"))?;
    set_rlimits(&limits).map_err(sys("set the runner's resource limits"))?;
    join(&pidfd, root, &record).map_err(sys("join the app"))?;
    drop(pidfd);
    let code = spawn_and_wait(&record, argv, filter.as_ref(), relay.as_ref())
        .map_err(sys("start the command"));
    drop(relay);
    code
}

/// Whether the recorded runner is still the process at its pid.
fn check(runner: &HostProcess) -> Option<()> {
    let path = format!("/proc/{}/stat", runner.pid);
    let now = app_record::start_time(Path::new(&path)).ok()?;
    (now == runner.start_time).then_some(())
}

fn set_rlimits(limits: &[Limit]) -> std::io::Result<()> {
    for l in limits {
        let limit = libc::rlimit {
            rlim_cur: l.soft,
            rlim_max: l.hard,
        };
        // SAFETY: prlimit only reads the struct it is given; pid 0 is this process.
        if unsafe { libc::prlimit(0, l.resource, &limit, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Joins the runner's namespaces and root, then the app's working directory.
fn join(pidfd: &OwnedFd, root: OwnedFd, record: &AppRecord) -> std::io::Result<()> {
    let namespaces = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWNET;
    nix::sched::setns(pidfd, namespaces)?;
    nix::unistd::fchdir(&root)?;
    nix::unistd::chroot(".")?;
    drop(root);
    nix::unistd::chdir(record.app.working_dir.as_str())?;
    Ok(())
}

fn spawn_and_wait(
    record: &AppRecord,
    argv: &[String],
    filter: Option<&BpfProgram>,
    relay: Option<&RelayProcess>,
) -> std::io::Result<i32> {
    let signals = crate::supervisor::handled_signals();
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), Some(&mut old))?;
    let creds = Credentials {
        uid: record.uid,
        gid: record.gid,
    };
    // SAFETY: acrun enter is single-threaded; the child only execs or exits.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let session = match relay {
                Some(r) => tty::open_in_pod(r.pod_end(), creds.uid).and_then(|t| tty::attach(&t)),
                None => nix::unistd::setsid()
                    .map(drop)
                    .map_err(|e| format!("setsid: {e}")),
            };
            let message = match session {
                Ok(()) => process::exec(&record.app, argv, creds, filter),
                Err(m) => m,
            };
            process::report(&record.app.name, &message);
            // SAFETY: leave without the parent's destructors.
            unsafe { libc::_exit(ACRUN_FAILURE) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            return Err(e.into());
        }
    };
    let code = wait_forwarding(child, &signals);
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    Ok(code)
}

/// Waits for `child`, forwarding every signal of `signals` but SIGCHLD; its exit code.
fn wait_forwarding(child: Pid, signals: &SigSet) -> i32 {
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(st) => {
                if let Some(code) = runner::exit_code(st) {
                    return code;
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return ACRUN_FAILURE,
        }
        match signals.wait() {
            Ok(Signal::SIGCHLD) | Err(_) => {}
            Ok(sig) => {
                let _ = nix::sys::signal::kill(child, sig);
            }
        }
    }
}

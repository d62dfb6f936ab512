//! Mechanism, host side of `acrun run`: creates the pod directory (per-app upper/work/rootfs
//! directories, empty volumes), the cgroups, compiles the seccomp filters, records the state,
//! then makes the supervisor with one `clone` into the pod's namespaces and waits for it,
//! forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT, and serves the metadata service while the pod runs.
//! When `PodSpec::prefix_output` is set (several apps, and `--output-prefix`), each app's stdout
//! and stderr come back through pipes and are printed line by line with an `[app]` prefix. While
//! an interactive pod has acrun's terminal in raw mode, the supervisor's and runners' own
//! messages come back through a pipe too, printed with CR LF line ends (raw mode does not add the
//! CR, and each line would start where the last one ended).
//!
//! acrun marks itself non-dumpable before anything else, and the supervisor and runners inherit
//! it: no app can ptrace them or open their `/proc/PID/{root,fd,exe}` (rkt #3999,
//! CVE-2019-5736).

use super::namespaces;
use super::runner::{ACRUN_FAILURE, AppRuntime};
use super::spec::PodSpec;
use super::state::{self, AppState, Phase, PodState};
use crate::isolators::cgroup::{self, Controller, PodCgroups};
use crate::isolators::{self, Limits};
use crate::metadata::routes::PodInfo;
use crate::metadata::server::{Listening, Service};
use crate::supervisor::{self, AppOutput};
use nix::sys::signal::{SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, waitpid};
use std::io::{BufRead, IsTerminal, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Why a pod could not be run.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// File system work on the host.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// State files.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// cgroups.
    #[error(transparent)]
    Cgroup(#[from] cgroup::CgroupError),
    /// Seccomp compilation.
    #[error(transparent)]
    Plan(#[from] isolators::PlanError),
    /// `--strict` and something cannot be enforced.
    #[error("--strict: {0}")]
    Strict(String),
    /// Published ports.
    #[error(transparent)]
    Ports(#[from] super::ports::PortError),
    /// A system call of the launch itself.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: nix::errno::Errno,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LaunchError + '_ {
    move |source| LaunchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What the host side serves the pod while it runs: the metadata service, bound in the pod's
/// network namespace before the pod exists (its URL is in every app's environment).
#[derive(Debug)]
pub struct Services {
    /// The service's socket and the pod's network namespace.
    pub metadata: Listening,
    /// What the service answers.
    pub pod: PodInfo,
    /// acrun's state directory (the HMAC key).
    pub dir: PathBuf,
}

/// Runs the pod to completion; returns acrun's exit code. Warnings go to stderr.
pub fn run(
    spec: &PodSpec,
    pod_dir: &Path,
    strict: bool,
    services: Services,
    lock: state::PodLock,
) -> Result<i32, LaunchError> {
    let _ = nix::sys::prctl::set_dumpable(false);
    make_dirs(spec, pod_dir)?;
    let (cgroups, unenforced) = make_cgroups(spec)?;
    let mut warnings: Vec<String> = isolators::ignored(&spec.notices)
        .map(|n| n.to_string())
        .collect();
    warnings.extend(unenforced);
    if strict && !warnings.is_empty() {
        cgroup::remove_dirs(&cgroups.dirs());
        return Err(LaunchError::Strict(warnings.join("; ")));
    }
    for w in &warnings {
        eprintln!("acrun: warning: {w}");
    }
    let console = super::tty::Console::open(spec.interactive).map_err(io(Path::new("terminal")))?;
    let mut runtimes = Vec::new();
    for (i, app) in spec.apps.iter().enumerate() {
        runtimes.push(AppRuntime {
            app,
            app_dir: pod_dir.join("apps").join(&app.name),
            cgroup_procs: cgroups.procs_files(i),
            filter: app.isolators.seccomp.compile(&app.name)?,
            console: console.as_ref().map(super::tty::Console::pod_end),
        });
    }
    let mut record = PodState {
        uuid: spec.uuid.clone(),
        phase: Phase::Running,
        pid: None,
        created: now(),
        apps: spec
            .apps
            .iter()
            .map(|a| AppState {
                name: a.name.clone(),
                image_name: a.image_name.clone(),
                image_id: a.image_id.clone(),
                exit_code: None,
                root: None,
            })
            .collect(),
        exit_code: None,
        cgroups: cgroups.dirs(),
    };
    // One state write per pod: "running", with the supervisor's pid, once it exists. Before it,
    // the held lock and the missing state say "being prepared"; after the pod, the freed lock
    // and the supervisor's exit files say "exited" and give every code (`state::current`).
    let code = start_and_wait(spec, pod_dir, &runtimes, &mut record, services, console);
    cgroup::remove_dirs(&cgroups.dirs());
    drop(lock);
    code
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn make_dirs(spec: &PodSpec, pod_dir: &Path) -> Result<(), LaunchError> {
    for app in &spec.apps {
        let d = pod_dir.join("apps").join(&app.name);
        for sub in ["upper", "work", "rootfs"] {
            let p = d.join(sub);
            std::fs::create_dir_all(&p).map_err(io(&p))?;
        }
    }
    for v in &spec.empty_volumes {
        std::fs::create_dir_all(&v.dir).map_err(io(&v.dir))?;
        std::os::unix::fs::chown(&v.dir, Some(v.uid), Some(v.gid)).map_err(io(&v.dir))?;
        let perms = std::os::unix::fs::PermissionsExt::from_mode(v.mode);
        std::fs::set_permissions(&v.dir, perms).map_err(io(&v.dir))?;
    }
    Ok(())
}

/// Creates the cgroups the limits need; returns warnings for controllers that are missing.
fn make_cgroups(spec: &PodSpec) -> Result<(PodCgroups, Vec<String>), LaunchError> {
    let mut wanted: Vec<Controller> = cgroup::needed(&spec.limits);
    for a in &spec.apps {
        wanted.extend(cgroup::needed(&a.isolators.limits));
    }
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return Ok((PodCgroups::default(), vec![]));
    }
    let mut hierarchies = Vec::new();
    let mut warnings = Vec::new();
    for (c, h) in cgroup::locate_here(&wanted) {
        match h {
            Some(h) => hierarchies.push(h),
            None => warnings.push(format!(
                "{c:?} limits NOT enforced: no {c:?} cgroup controller available to acrun"
            )),
        }
    }
    let apps: Vec<(&str, &Limits)> = spec
        .apps
        .iter()
        .map(|a| (a.name.as_str(), &a.isolators.limits))
        .collect();
    let cgroups = PodCgroups::create(&hierarchies, &spec.uuid, &spec.limits, &apps)?;
    Ok((cgroups, warnings))
}

fn start_and_wait(
    spec: &PodSpec,
    pod_dir: &Path,
    runtimes: &[AppRuntime<'_>],
    record: &mut PodState,
    services: Services,
    console: Option<super::tty::Console>,
) -> Result<i32, LaunchError> {
    let listeners = super::ports::Listeners::bind(&spec.ports)?;
    let (outputs, mut readers) = output_pipes(spec)?;
    let pod_stderr = match &console {
        Some(_) if std::io::stderr().is_terminal() => {
            let (reader, writer) = pipe()?;
            readers.push(Printer {
                fd: reader,
                prefix: String::new(),
                to_stderr: true,
                crlf: true,
            });
            Some(writer)
        }
        _ => None,
    };
    let signals = supervisor::handled_signals();
    let mut old = nix::sys::signal::SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), Some(&mut old)).map_err(|source| {
        LaunchError::Sys {
            what: "block signals",
            source,
        }
    })?;
    let mut outputs = Some(outputs);
    let mut stack = vec![0u8; 8 << 20];
    let netns = services.metadata.netns.as_ref().map(|f| f.as_raw_fd());
    let listener = services.metadata.listener.as_raw_fd();
    let callback = Box::new(|| {
        if let Some(w) = &pod_stderr {
            let _ = nix::unistd::dup2_stderr(w);
        }
        listeners.close_in_child();
        // SAFETY: in the child, closing its copies of two descriptors this process owns.
        unsafe { libc::close(listener) };
        if let Some(ns) = netns {
            // SAFETY: `ns` is open in the child (a copy of the parent's table) until closed here.
            let joined = nix::sched::setns(
                unsafe { std::os::fd::BorrowedFd::borrow_raw(ns) },
                nix::sched::CloneFlags::CLONE_NEWNET,
            );
            unsafe { libc::close(ns) };
            if let Err(e) = joined {
                eprintln!("acrun: pod {}: join the network namespace: {e}", spec.uuid);
                return ACRUN_FAILURE as isize;
            }
        }
        let outs = outputs.take().unwrap_or_default();
        supervisor::run(spec, pod_dir, runtimes, outs) as isize
    });
    // SAFETY: the child gets a copy of this single-threaded process (no CLONE_VM) and only runs
    // the supervisor, which forks and execs; the stack outlives the call in the parent.
    let child = unsafe {
        nix::sched::clone(
            callback,
            &mut stack,
            namespaces::clone_flags(),
            Some(Signal::SIGCHLD as i32),
        )
    };
    drop(outputs);
    drop(pod_stderr);
    let child = match child {
        Ok(pid) => pid,
        Err(source) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            return Err(LaunchError::Sys {
                what: "clone the pod supervisor",
                source,
            });
        }
    };
    // The app's terminal relay: the first thread (it must see SIGWINCH blocked).
    let relay = console.map(super::tty::Console::start);
    // Threads only from here on: the supervisor was cloned from a single-threaded process.
    let served = listeners
        .serve(services.metadata.netns.as_ref())
        .inspect_err(|_| {
            let _ = kill(child, Signal::SIGKILL);
        });
    let mut service = Service::new(services.metadata, services.pod, services.dir);
    record.pid = Some(child.as_raw());
    let written = state::write(pod_dir, record);
    let printers: Vec<_> = readers.into_iter().map(spawn_printer).collect();
    let code = wait_forwarding(child, &signals, &mut service);
    service.stop();
    for p in printers {
        let _ = p.join();
    }
    drop(relay);
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    written?;
    served?;
    Ok(code)
}

/// Waits for the supervisor to exit, forwarding the signals it handles, and starts the metadata
/// service on its first connection. One thread polls both (a signalfd and the service's
/// listener): a pod start makes no thread of its own.
fn wait_forwarding(
    child: nix::unistd::Pid,
    signals: &nix::sys::signal::SigSet,
    service: &mut Service,
) -> i32 {
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let Ok(sigfd) = SignalFd::with_flags(signals, SfdFlags::SFD_CLOEXEC) else {
        let _ = kill(child, Signal::SIGKILL);
        return exit_status(child);
    };
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(nix::sys::wait::WaitStatus::StillAlive) => {}
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => return code,
            Ok(_) | Err(_) => return ACRUN_FAILURE,
        }
        let (signal_ready, client_ready) = wait_for_events(&sigfd, service.waiting_fd());
        if client_ready && let Err(e) = service.serve() {
            eprintln!("acrun: metadata service: {e}");
        }
        if !signal_ready {
            continue;
        }
        if let Ok(Some(info)) = sigfd.read_signal()
            && let Ok(sig) = Signal::try_from(info.ssi_signo as i32)
            && sig != Signal::SIGCHLD
        {
            let _ = kill(child, sig);
        }
    }
}

/// Blocks until the signalfd or the listener (when there is one) is readable.
fn wait_for_events(
    sigfd: &nix::sys::signalfd::SignalFd,
    listener: Option<std::os::fd::BorrowedFd<'_>>,
) -> (bool, bool) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut fds = vec![PollFd::new(sigfd.as_fd(), PollFlags::POLLIN)];
    if let Some(l) = listener {
        fds.push(PollFd::new(l, PollFlags::POLLIN));
    }
    match poll(&mut fds, PollTimeout::NONE) {
        Ok(_) => {
            let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), fds.get(1).is_some_and(ready))
        }
        // Interrupted: look at the child again.
        Err(nix::errno::Errno::EINTR) => (false, false),
        // Anything else: block in the signalfd's read instead, which SIGCHLD still ends.
        Err(_) => (true, false),
    }
}

/// The supervisor's exit code once it is gone.
fn exit_status(child: nix::unistd::Pid) -> i32 {
    match waitpid(child, None) {
        Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => code,
        _ => ACRUN_FAILURE,
    }
}

/// A pipe the pod writes into and acrun prints from, a line at a time.
struct Printer {
    /// The reading end.
    fd: OwnedFd,
    /// Put before each line (`[app] `, or nothing).
    prefix: String,
    /// To acrun's stderr rather than its stdout.
    to_stderr: bool,
    /// Lines end in CR LF (acrun's terminal is in raw mode).
    crlf: bool,
}

fn pipe() -> Result<(OwnedFd, OwnedFd), LaunchError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|source| LaunchError::Sys {
        what: "pipe",
        source,
    })
}

fn output_pipes(spec: &PodSpec) -> Result<(Vec<AppOutput>, Vec<Printer>), LaunchError> {
    if !spec.prefix_output {
        return Ok((spec.apps.iter().map(|_| None).collect(), vec![]));
    }
    let mut outs = Vec::new();
    let mut readers = Vec::new();
    for app in &spec.apps {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        for (fd, to_stderr) in [(out_r, false), (err_r, true)] {
            readers.push(Printer {
                fd,
                prefix: format!("[{}] ", app.name),
                to_stderr,
                crlf: false,
            });
        }
        outs.push(Some((out_w, err_w)));
    }
    Ok((outs, readers))
}

fn spawn_printer(p: Printer) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut input = std::io::BufReader::new(std::fs::File::from(p.fd));
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let mut buf = p.prefix.clone().into_bytes();
            buf.extend_from_slice(&line_end(&line, p.crlf));
            let _ = if p.to_stderr {
                std::io::stderr().lock().write_all(&buf)
            } else {
                std::io::stdout().lock().write_all(&buf)
            };
        }
    })
}

/// `line` (as read, up to and with its LF if it has one) ending in LF, or in CR LF when `crlf`.
fn line_end(line: &[u8], crlf: bool) -> Vec<u8> {
    let mut text = line.strip_suffix(b"\n").unwrap_or(line);
    if crlf {
        text = text.strip_suffix(b"\r").unwrap_or(text);
    }
    let mut out = text.to_vec();
    out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_in_lf_or_in_cr_lf_on_a_raw_terminal() {
        assert_eq!(line_end(b"a\n", false), b"a\n");
        assert_eq!(line_end(b"a", false), b"a\n");
        assert_eq!(line_end(b"a\r\n", false), b"a\r\n");
        assert_eq!(line_end(b"a\n", true), b"a\r\n");
        assert_eq!(line_end(b"a", true), b"a\r\n");
        assert_eq!(line_end(b"a\r\n", true), b"a\r\n");
        assert_eq!(line_end(b"\n", true), b"\r\n");
    }
}

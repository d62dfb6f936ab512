//! Mechanism: turns a forked child (already inside the app's root) into one app process — cgroup
//! already joined by the runner, then: signal mask and dispositions reset, stray fds closed, RLIMIT_NOFILE 1024,
//! OOM score, capability bounding set, supplementary groups, gid, uid, no-new-privileges, seccomp
//! (last, so the filter never sees acrun's own calls), exec. Used for the main process and for
//! the event handlers, which therefore run with exactly the app's restrictions.
//!
//! Defends against: fds of acrun leaking into the app (CVE-2024-21626), privileges kept past the
//! uid change (credential order: bounding set while CAP_SETPCAP is held, then groups, gid, uid),
//! and setuid binaries regaining privilege (no-new-privileges).

use super::env;
use super::spec::AppSpec;
use crate::isolators::{capabilities, seccomp};
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};
use seccompiler::BpfProgram;
use std::ffi::CString;
use std::io::Write;

/// Who the app runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
}

/// Prints `acrun: app NAME: message` to stderr.
pub fn report(app: &str, message: &str) {
    let _ = writeln!(std::io::stderr(), "acrun: app {app}: {message}");
}

/// Finds `argv0` in the app's `PATH` when it has no `/` (inside the app root).
pub fn resolve_program(argv0: &str, env: &[(String, String)]) -> Option<String> {
    if argv0.contains('/') {
        return Some(argv0.to_owned());
    }
    env::path_of(env)
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{}/{argv0}", d.trim_end_matches('/')))
        .find(|p| nix::unistd::access(p.as_str(), nix::unistd::AccessFlags::X_OK).is_ok())
}

/// Applies everything and execs `argv`; returns only on failure, with the message.
pub fn exec(
    app: &AppSpec,
    argv: &[String],
    creds: Credentials,
    filter: Option<&BpfProgram>,
) -> String {
    match prepare_and_exec(app, argv, creds, filter) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

enum Never {}

fn prepare_and_exec(
    app: &AppSpec,
    argv: &[String],
    creds: Credentials,
    filter: Option<&BpfProgram>,
) -> Result<Never, String> {
    let argv0 = argv.first().ok_or("empty exec")?;
    let program = resolve_program(argv0, &app.env)
        .ok_or_else(|| format!("{argv0}: not found in PATH {}", env::path_of(&app.env)))?;
    let cstr = |s: &str| CString::new(s).map_err(|_| format!("{s:?} contains a NUL byte"));
    let c_program = cstr(&program)?;
    let c_argv = argv
        .iter()
        .map(|a| cstr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let c_env = app
        .env
        .iter()
        .map(|(k, v)| cstr(&format!("{k}={v}")))
        .collect::<Result<Vec<_>, _>>()?;
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(|e| format!("signal mask: {e}"))?;
    default_signal_dispositions();
    // SAFETY: close_range only closes descriptors; fds 0-2 stay.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let nofile = 1024;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, nofile, nofile)
        .map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
    if let Some(adj) = app.isolators.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| format!("oom_score_adj: {e}"))?;
    }
    capabilities::apply(&app.isolators.capabilities).map_err(|e| format!("capabilities: {e}"))?;
    let gids: Vec<Gid> = app
        .supplementary_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    setgroups(&gids).map_err(|e| format!("setgroups: {e}"))?;
    let gid = Gid::from_raw(creds.gid);
    setresgid(gid, gid, gid).map_err(|e| format!("setresgid {}: {e}", creds.gid))?;
    let uid = Uid::from_raw(creds.uid);
    setresuid(uid, uid, uid).map_err(|e| format!("setresuid {}: {e}", creds.uid))?;
    // A non-root process has no CAP_SYS_ADMIN left, so a seccomp filter needs NNP (as rkt did).
    let nnp = app.isolators.no_new_privileges || (filter.is_some() && creds.uid != 0);
    if nnp {
        nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
    }
    if let Some(f) = filter {
        seccomp::install(f, nnp).map_err(|e| format!("seccomp: {e}"))?;
    }
    let e = nix::unistd::execve(&c_program, &c_argv, &c_env).unwrap_err();
    Err(format!("exec {program}: {e}"))
}

/// Every signal back to its default disposition. An ignored signal stays ignored across exec,
/// and apps must not inherit what acrun or its caller ignored: Rust's runtime ignores SIGPIPE
/// (`yes | head` would never end), and a caller may ignore SIGQUIT or real-time signals. The raw
/// syscall also reaches the signals glibc reserves for itself (32, 33).
fn default_signal_dispositions() {
    /// The kernel's `struct sigaction` (x86_64 and aarch64 share it).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction {
        handler: 0, // SIG_DFL
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64i64 {
        if sig == libc::SIGKILL as i64 || sig == libc::SIGSTOP as i64 {
            continue;
        }
        // SAFETY: installs no handler; `dfl` outlives the call; the old action is not read.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_with_a_slash_are_taken_as_given() {
        assert_eq!(resolve_program("/x/y", &[]).as_deref(), Some("/x/y"));
    }

    #[test]
    fn bare_names_are_searched_in_the_app_path() {
        let env = vec![("PATH".to_owned(), "/nonexistent:/bin".to_owned())];
        assert_eq!(resolve_program("sh", &env).as_deref(), Some("/bin/sh"));
        assert_eq!(resolve_program("no-such-program-here", &env), None);
    }
}

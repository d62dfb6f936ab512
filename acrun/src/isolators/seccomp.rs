//! Seccomp: which system calls an app may make. Policy: by default a deny-list in the spirit of
//! Docker's and containers/common's default profiles (module loading, kexec, keyrings, mount and
//! namespace calls, ptrace, clock setting, bpf, perf, userfaultfd, ...) returning `EPERM`; the
//! appc `seccomp-remove-set` replaces it with its own list, `seccomp-retain-set` turns it into an
//! allow-list (plus the few calls needed to exec). The filter is compiled to BPF by
//! [`seccompiler`] in the parent, so the child only installs it, as its last act before exec.
//!
//! Defends against: kernel attack surface reachable from an app (most container breakouts through
//! the kernel go through one of the denied calls).

use super::PlanError;
use appc::isolator::SeccompSet;
use seccompiler::{BpfProgram, TargetArch};

/// What an app's seccomp filter does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SeccompPlan {
    /// No filter.
    Off,
    /// Deny these calls (errno, or kill the process when `None`).
    Deny {
        /// Syscall names.
        syscalls: Vec<String>,
        /// errno returned; `None` kills with SIGSYS.
        errno: Option<i32>,
    },
    /// Allow only these calls.
    Allow {
        /// Syscall names.
        syscalls: Vec<String>,
        /// errno returned by other calls; `None` kills with SIGSYS.
        errno: Option<i32>,
    },
}

/// Calls denied by default (names valid on every architecture acrun builds for).
const DEFAULT_DENY: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "init_module",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "syslog",
    "umount2",
    "unshare",
    "userfaultfd",
];

/// x86_64-only calls added to the default deny-list there.
#[cfg(target_arch = "x86_64")]
const DEFAULT_DENY_ARCH: &[&str] = &[
    "_sysctl",
    "create_module",
    "get_kernel_syms",
    "ioperm",
    "iopl",
    "query_module",
    "sysfs",
    "uselib",
    "ustat",
];
#[cfg(not(target_arch = "x86_64"))]
const DEFAULT_DENY_ARCH: &[&str] = &[];

/// Calls a retain-set always allows, so the app can be started and can exit.
const LIFECYCLE: &[&str] = &[
    "execve",
    "exit",
    "exit_group",
    "rt_sigreturn",
    "rt_sigprocmask",
    "rt_sigaction",
    "brk",
    "mmap",
    "munmap",
    "mprotect",
    "arch_prctl",
    "set_tid_address",
    "futex",
];

/// The implementation's wildcard for the default list.
const DEFAULT_WILDCARD: &str = "@acrun/default";

impl SeccompPlan {
    /// The default deny-list, returning EPERM.
    pub fn default_deny() -> SeccompPlan {
        SeccompPlan::Deny {
            syscalls: default_list(),
            errno: Some(libc::EPERM),
        }
    }

    /// From `os/linux/seccomp-remove-set`: deny the listed calls. `@appc.io/empty` (or
    /// `@acrun/default`) stands for the default deny-list.
    pub fn remove(app: &str, set: &SeccompSet) -> Result<SeccompPlan, PlanError> {
        let errno = errno(app, set)?;
        let mut syscalls = Vec::new();
        for name in &set.set {
            match name.as_str() {
                "@appc.io/empty" | DEFAULT_WILDCARD => syscalls.extend(default_list()),
                n if n.starts_with('@') => return Err(wildcard(app, n)),
                n => syscalls.push(n.to_owned()),
            }
        }
        syscalls.sort();
        syscalls.dedup();
        Ok(SeccompPlan::Deny { syscalls, errno })
    }

    /// From `os/linux/seccomp-retain-set`: allow only the listed calls. `@appc.io/all` turns the
    /// filter off.
    pub fn retain(app: &str, set: &SeccompSet) -> Result<SeccompPlan, PlanError> {
        let errno = errno(app, set)?;
        if set.set.iter().any(|n| n == "@appc.io/all") {
            return Ok(SeccompPlan::Off);
        }
        let mut syscalls: Vec<String> = LIFECYCLE.iter().map(|s| (*s).to_owned()).collect();
        for name in &set.set {
            if name.starts_with('@') {
                return Err(wildcard(app, name));
            }
            syscalls.push(name.clone());
        }
        syscalls.sort();
        syscalls.dedup();
        Ok(SeccompPlan::Allow { syscalls, errno })
    }

    /// Compiles the plan for this machine's architecture; `None` when there is no filter.
    pub fn compile(&self, app: &str) -> Result<Option<BpfProgram>, PlanError> {
        let (syscalls, errno, allow) = match self {
            SeccompPlan::Off => return Ok(None),
            SeccompPlan::Deny { syscalls, errno } => (syscalls, errno, false),
            SeccompPlan::Allow { syscalls, errno } => (syscalls, errno, true),
        };
        let refuse = match errno {
            Some(n) => serde_json::json!({ "errno": n }),
            None => serde_json::json!("kill_process"),
        };
        let (mismatch, matched) = if allow {
            (refuse, serde_json::json!("allow"))
        } else {
            (serde_json::json!("allow"), refuse)
        };
        let rules: Vec<_> = syscalls
            .iter()
            .map(|s| serde_json::json!({ "syscall": s }))
            .collect();
        let doc = serde_json::json!({ "app": {
            "mismatch_action": mismatch, "match_action": matched, "filter": rules } });
        let arch = host_arch().ok_or_else(|| PlanError::Seccomp {
            scope: app.to_owned(),
            message: "seccomp filters are not supported on this architecture".into(),
        })?;
        let mut map =
            seccompiler::compile_from_json(doc.to_string().as_bytes(), arch).map_err(|e| {
                PlanError::Seccomp {
                    scope: app.to_owned(),
                    message: format!("seccomp filter: {e}"),
                }
            })?;
        Ok(map.remove("app"))
    }
}

fn default_list() -> Vec<String> {
    let mut v: Vec<String> = DEFAULT_DENY
        .iter()
        .chain(DEFAULT_DENY_ARCH)
        .map(|s| (*s).to_owned())
        .collect();
    v.sort();
    v
}

fn wildcard(app: &str, name: &str) -> PlanError {
    PlanError::Seccomp {
        scope: app.to_owned(),
        message: format!(
            "unknown seccomp wildcard {name:?} (known: @appc.io/empty, @appc.io/all, {DEFAULT_WILDCARD})"
        ),
    }
}

/// The errno number of the set's `errno` name (`None`: kill).
fn errno(app: &str, set: &SeccompSet) -> Result<Option<i32>, PlanError> {
    let Some(name) = &set.errno else {
        return Ok(None);
    };
    errno_number(name)
        .map(Some)
        .ok_or_else(|| PlanError::Seccomp {
            scope: app.to_owned(),
            message: format!("unknown errno {name:?}"),
        })
}

/// The number of an errno name (`EPERM` → 1), looked up in the C library's own table.
pub fn errno_number(name: &str) -> Option<i32> {
    // Aliases the table prints under their other name.
    let name = match name {
        "ENOTSUP" => "EOPNOTSUPP",
        "EWOULDBLOCK" => "EAGAIN",
        "EDEADLOCK" => "EDEADLK",
        n => n,
    };
    (1..4096).find(|&n| format!("{:?}", nix::errno::Errno::from_raw(n)) == name)
}

fn host_arch() -> Option<TargetArch> {
    if cfg!(target_arch = "x86_64") {
        Some(TargetArch::x86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(TargetArch::aarch64)
    } else if cfg!(target_arch = "riscv64") {
        Some(TargetArch::riscv64)
    } else {
        None
    }
}

/// Installs `filter` on this thread. With `no_new_privileges` the kernel lets anyone do it;
/// without, the caller needs CAP_SYS_ADMIN (seccompiler's own installer always sets NNP, so the
/// one syscall is made here).
pub fn install(filter: &BpfProgram, no_new_privileges: bool) -> std::io::Result<()> {
    if no_new_privileges {
        nix::sys::prctl::set_no_new_privs()?;
    }
    let prog = libc::sock_fprog {
        len: u16::try_from(filter.len()).map_err(|_| std::io::Error::other("filter too long"))?,
        filter: filter.as_ptr().cast_mut().cast(),
    };
    // SAFETY: the kernel copies the program; `prog` and `filter` outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str], errno: Option<&str>) -> SeccompSet {
        SeccompSet {
            set: names.iter().map(|s| (*s).to_owned()).collect(),
            errno: errno.map(str::to_owned),
        }
    }

    #[test]
    fn default_deny_list_compiles_here() {
        let plan = SeccompPlan::default_deny();
        assert!(plan.compile("a").unwrap().is_some());
    }

    #[test]
    fn errno_names_come_from_libc() {
        assert_eq!(errno_number("EPERM"), Some(1));
        assert_eq!(errno_number("ENOTSUP"), Some(libc::ENOTSUP));
        assert_eq!(errno_number("EACCESS"), None);
    }

    #[test]
    fn remove_set_with_empty_wildcard_is_the_default() {
        let plan = SeccompPlan::remove("a", &set(&["@appc.io/empty"], None)).unwrap();
        let SeccompPlan::Deny { syscalls, errno } = plan else {
            panic!("not a deny plan")
        };
        assert_eq!(syscalls, default_list());
        assert_eq!(errno, None);
    }

    #[test]
    fn retain_all_turns_filtering_off() {
        let plan = SeccompPlan::retain("a", &set(&["@appc.io/all"], None)).unwrap();
        assert_eq!(plan, SeccompPlan::Off);
        assert_eq!(plan.compile("a").unwrap(), None);
    }

    #[test]
    fn retain_adds_the_lifecycle_calls() {
        let plan = SeccompPlan::retain("a", &set(&["read", "write"], Some("ENOSYS"))).unwrap();
        let SeccompPlan::Allow { syscalls, errno } = &plan else {
            panic!("not an allow plan")
        };
        assert!(syscalls.contains(&"execve".to_owned()));
        assert_eq!(*errno, Some(libc::ENOSYS));
        assert!(plan.compile("a").unwrap().is_some());
    }

    #[test]
    fn unknown_syscalls_and_wildcards_are_refused() {
        let plan = SeccompPlan::remove("a", &set(&["not_a_syscall"], None)).unwrap();
        assert!(plan.compile("a").is_err());
        assert!(SeccompPlan::remove("a", &set(&["@docker/default"], None)).is_err());
    }
}

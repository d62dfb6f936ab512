//! Mechanism: the pod's namespaces. The network namespace (unless `--net=host`) is made first,
//! with `lo` up (a new network namespace has only `lo`, and it is down), so that host-side
//! services — the metadata service, `--port` forwarders — can open sockets in it before any app
//! runs. Then one `clone` creates the supervisor with new PID, UTS, IPC and mount namespaces; it
//! joins the network namespace and sets the hostname.
//!
//! The calling thread makes the namespace and binds sockets in it, then returns to the network
//! namespace it came from before anything else runs ([`in_network`]). Doing this on a helper
//! thread instead cost two thread starts and two joins per pod start, each join a cross-CPU
//! wake-up that took up to 1.8 ms on the 2-vCPU VM of BENCHMARKS.md.
//!
//! Defends against: apps seeing or signalling host processes, changing the host's hostname, or
//! reaching the host's network (the default pod has loopback only).

use super::spec::Net;
use nix::sched::CloneFlags;
use std::os::fd::{AsFd, OwnedFd};

/// The clone flags of a pod's supervisor (the network namespace is made by [`new_network`]).
pub fn clone_flags() -> CloneFlags {
    CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNS
}

/// The pod's network namespace: a new one with `lo` up for [`Net::None`], none (the host's) for
/// [`Net::Host`].
pub fn new_network(net: Net) -> std::io::Result<Option<OwnedFd>> {
    if net == Net::Host {
        return Ok(None);
    }
    visiting(
        || nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from),
        || {
            loopback_up()?;
            let ns = std::fs::File::open("/proc/thread-self/ns/net")?;
            Ok(Some(ns.into()))
        },
    )
}

/// Runs `f` in the network namespace `ns` (or in the calling thread's own for `None`): sockets
/// `f` creates belong to that namespace wherever they are used later. The calling thread is back
/// in its own namespace when this returns.
pub fn in_network<T>(
    ns: Option<&OwnedFd>,
    f: impl FnOnce() -> std::io::Result<T>,
) -> std::io::Result<T> {
    match ns {
        None => f(),
        Some(ns) => visiting(
            || nix::sched::setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(Into::into),
            f,
        ),
    }
}

/// Enters another network namespace with `enter`, runs `f` there, and returns to the thread's
/// own namespace whatever `f` gave. A thread that cannot return is a thread in the wrong
/// namespace: the process aborts rather than go on there.
fn visiting<T>(
    enter: impl FnOnce() -> std::io::Result<()>,
    f: impl FnOnce() -> std::io::Result<T>,
) -> std::io::Result<T> {
    let home = std::fs::File::open("/proc/thread-self/ns/net")?;
    enter()?;
    let result = f();
    if let Err(e) = nix::sched::setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
        eprintln!("acrun: cannot return to acrun's own network namespace: {e}");
        std::process::abort();
    }
    result
}

/// Sets `IFF_UP` on `lo` with the classic `SIOCSIFFLAGS` ioctl.
pub fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain socket/ioctl calls on a zeroed ifreq whose name is NUL-terminated.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut rc = libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req);
        if rc == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            rc = libc::ioctl(sock, libc::SIOCSIFFLAGS, &req);
        }
        let err = std::io::Error::last_os_error();
        libc::close(sock);
        if rc != 0 {
            return Err(err);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supervisor_gets_its_own_pid_uts_ipc_and_mount_namespaces() {
        let f = clone_flags();
        assert!(f.contains(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS));
        assert!(!f.contains(CloneFlags::CLONE_NEWNET));
        assert!(new_network(Net::Host).unwrap().is_none());
    }

    /// Root only: the namespace is made and visited on the calling thread, which ends up where it
    /// started; a socket bound while visiting belongs to the pod's namespace.
    #[test]
    fn the_calling_thread_returns_to_its_own_network_namespace() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let own = || {
            std::fs::metadata("/proc/thread-self/ns/net")
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        };
        let before = own().unwrap();
        let ns = new_network(Net::None).unwrap().unwrap();
        assert_eq!(own().unwrap(), before);
        let pod_ino = std::os::unix::fs::MetadataExt::ino(
            &std::fs::File::from(ns.try_clone().unwrap())
                .metadata()
                .unwrap(),
        );
        assert_ne!(pod_ino, before);
        let inside = in_network(Some(&ns), own).unwrap();
        assert_eq!(inside, pod_ino);
        assert_eq!(own().unwrap(), before);
        let failed: std::io::Result<()> = in_network(Some(&ns), || Err(std::io::Error::other("x")));
        assert!(failed.is_err());
        assert_eq!(own().unwrap(), before);
    }
}

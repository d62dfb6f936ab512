//! Mechanism: the pod's namespaces. The network namespace (unless `--net=host`) is made first,
//! by a short-lived thread, with `lo` up (a new network namespace has only `lo`, and it is down),
//! so that host-side services — the metadata service, `--port` forwarders — can open sockets in
//! it before any app runs. Then one `clone` creates the supervisor with new PID, UTS, IPC and
//! mount namespaces; it joins the network namespace and sets the hostname.
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
    on_thread(|| {
        nix::sched::unshare(CloneFlags::CLONE_NEWNET)?;
        loopback_up()?;
        let ns = std::fs::File::open("/proc/thread-self/ns/net")?;
        Ok(Some(ns.into()))
    })
}

/// Runs `f` on a thread that joined the network namespace `ns` (or stays in acrun's own for
/// `None`): sockets `f` creates belong to that namespace wherever they are used later.
pub fn in_network<T: Send>(
    ns: Option<&OwnedFd>,
    f: impl FnOnce() -> std::io::Result<T> + Send,
) -> std::io::Result<T> {
    on_thread(|| {
        if let Some(ns) = ns {
            nix::sched::setns(ns.as_fd(), CloneFlags::CLONE_NEWNET)?;
        }
        f()
    })
}

/// Namespace changes of a thread die with it; acrun's main thread never changes namespace.
fn on_thread<T: Send>(f: impl FnOnce() -> std::io::Result<T> + Send) -> std::io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("namespace thread panicked")))
    })
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
}

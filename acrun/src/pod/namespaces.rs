//! Mechanism: the pod's namespaces. One `clone` creates the supervisor with new PID, UTS, IPC,
//! mount and (unless `--net=host`) network namespaces; the supervisor then sets the hostname and
//! brings `lo` up (a new network namespace has only `lo`, and it is down).
//!
//! Defends against: apps seeing or signalling host processes, changing the host's hostname, or
//! reaching the host's network (the default pod has loopback only).

use super::spec::Net;
use nix::sched::CloneFlags;

/// The clone flags of a pod.
pub fn clone_flags(net: Net) -> CloneFlags {
    let mut f = CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNS;
    if net == Net::None {
        f |= CloneFlags::CLONE_NEWNET;
    }
    f
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
    fn host_network_keeps_the_host_namespace() {
        assert!(!clone_flags(Net::Host).contains(CloneFlags::CLONE_NEWNET));
        assert!(clone_flags(Net::None).contains(CloneFlags::CLONE_NEWNET));
        assert!(clone_flags(Net::Host).contains(CloneFlags::CLONE_NEWPID));
    }
}

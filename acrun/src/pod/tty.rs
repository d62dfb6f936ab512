//! Mechanism: `acrun run --interactive` when acrun's stdin is a terminal. The app gets a pseudo
//! terminal of its own, never acrun's:
//!
//! - the runner opens the pair inside the app's root, from the pod's own `devpts` instance (so
//!   `tty` in the app names `/dev/pts/N` of its own `/dev`), sized like acrun's terminal, gives
//!   the slave to the app's user, and sends the master to `acrun run` over a socket pair
//!   (`SCM_RIGHTS`) made before the pod;
//! - each app process (`pre-start`, main, `post-stop`) starts a session and takes the slave as
//!   its controlling terminal and as fds 0-2 before it execs;
//! - `acrun run` puts its own terminal in raw mode and relays bytes between it and the master on
//!   one thread (stdin → master, master → stdout, `SIGWINCH` → `TIOCSWINSZ` through a
//!   signalfd), until the last slave is closed; the terminal's settings are restored when the
//!   relay is dropped — after the pod ends, on every return path, on unwinding, and after
//!   SIGINT/SIGTERM/SIGHUP/SIGQUIT, which `acrun run` forwards to the pod rather than dying of.
//!   (Nothing can restore after SIGKILL.) An end of input on acrun's stdin reaches the app as
//!   the terminal's end-of-file character.
//!
//! `acrun enter --interactive` does the same for the entered command, whose process opens the
//! pair once it has joined the app; the relay there is a process forked before the joins
//! ([`Console::start_process`]), which blocks the signals `acrun enter` forwards.
//!
//! Defends against: an app holding acrun's terminal (TIOCSTI injection into the user's shell,
//! reading what is typed after the pod ends) — it only ever has the slave of a pty of its own;
//! a pty from the host's `devpts` that would name a host device in the app.

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use std::io::{IoSlice, IoSliceMut, IsTerminal};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// A terminal's size (`struct winsize`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Size {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
    /// Width in pixels.
    pub xpixel: u16,
    /// Height in pixels.
    pub ypixel: u16,
}

impl Size {
    /// The size of the terminal `fd` (zeros when it has none).
    pub fn of(fd: BorrowedFd<'_>) -> Size {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one `winsize` into `ws`, which outlives the call.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
        if r != 0 {
            return Size::default();
        }
        Size {
            rows: ws.ws_row,
            cols: ws.ws_col,
            xpixel: ws.ws_xpixel,
            ypixel: ws.ws_ypixel,
        }
    }

    fn winsize(self) -> libc::winsize {
        libc::winsize {
            ws_row: self.rows,
            ws_col: self.cols,
            ws_xpixel: self.xpixel,
            ws_ypixel: self.ypixel,
        }
    }

    /// Gives the terminal `fd` this size (its foreground process group gets `SIGWINCH`).
    pub fn apply(self, fd: BorrowedFd<'_>) -> std::io::Result<()> {
        let ws = self.winsize();
        // SAFETY: TIOCSWINSZ reads one `winsize` from `ws`, which outlives the call.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// What a runner needs to make the app's terminal: the socket to send the master on (open in
/// the runner, inherited from `acrun run`) and the size to open it with.
#[derive(Debug, Clone, Copy)]
pub struct PodEnd {
    socket: RawFd,
    size: Size,
}

/// The host side of an app's terminal, made before the pod starts.
#[derive(Debug)]
pub struct Console {
    host: OwnedFd,
    pod: OwnedFd,
    size: Size,
}

impl Console {
    /// A console when the pod is interactive and acrun's stdin is a terminal; `None` otherwise
    /// (stdin is then passed through as it is, or replaced by `/dev/null`).
    pub fn open(interactive: bool) -> std::io::Result<Option<Console>> {
        let stdin = std::io::stdin();
        if !interactive || !stdin.is_terminal() {
            return Ok(None);
        }
        let (host, pod) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok(Some(Console {
            host,
            pod,
            size: Size::of(stdin.as_fd()),
        }))
    }

    /// The runner's part.
    pub fn pod_end(&self) -> PodEnd {
        PodEnd {
            socket: self.pod.as_raw_fd(),
            size: self.size,
        }
    }

    /// Once the pod's processes have their copy of the pod end, and before `acrun run` starts
    /// any thread (they inherit its signal mask): blocks `SIGWINCH` for the relay's signalfd,
    /// puts acrun's terminal in raw mode and starts the relay.
    pub fn start(self) -> Relay {
        let mut winch = SigSet::empty();
        winch.add(Signal::SIGWINCH);
        let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&winch), None);
        let saved = make_raw(std::io::stdin().as_fd());
        drop(self.pod);
        let host = self.host;
        let thread = std::thread::spawn(move || relay(host));
        Relay {
            thread: Some(thread),
            saved,
        }
    }

    /// As [`Console::start`], but the relay runs in a process of its own: for `acrun enter`, which
    /// cannot start a thread once it has joined the pod's PID namespace. Call it before joining
    /// anything (the relay stays in acrun's namespaces and cgroups). The relay process blocks the
    /// signals `acrun enter` forwards, puts acrun's terminal in raw mode once the command's
    /// terminal arrives, and restores it when that terminal is closed.
    pub fn start_process(self) -> std::io::Result<RelayProcess> {
        // SAFETY: called while acrun is single-threaded; the child only relays and exits.
        match unsafe { nix::unistd::fork() }? {
            nix::unistd::ForkResult::Child => {
                drop(self.pod);
                let mut blocked = crate::supervisor::handled_signals();
                blocked.add(Signal::SIGWINCH);
                let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), None);
                if let Some(master) = receive(&self.host) {
                    drop(self.host);
                    let stdin = std::io::stdin();
                    let saved = make_raw(stdin.as_fd());
                    pump(master);
                    if let Some(saved) = &saved {
                        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, saved);
                    }
                }
                // SAFETY: leave without the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => Ok(RelayProcess {
                child,
                pod: Some(self.pod),
                size: self.size,
            }),
        }
    }
}

/// Puts the terminal `fd` in raw mode; its settings before, to restore (`None`: not a terminal).
fn make_raw(fd: BorrowedFd<'_>) -> Option<Termios> {
    let saved = tcgetattr(fd).ok()?;
    let mut raw = saved.clone();
    cfmakeraw(&mut raw);
    let _ = tcsetattr(fd, SetArg::TCSANOW, &raw);
    Some(saved)
}

/// A relay in a process of its own ([`Console::start_process`]); dropping it closes acrun's
/// copy of the pod end and waits for the relay to finish.
#[derive(Debug)]
pub struct RelayProcess {
    child: nix::unistd::Pid,
    /// acrun's copy of the pod end, until the drop.
    pod: Option<OwnedFd>,
    size: Size,
}

impl RelayProcess {
    /// What the process that opens the command's terminal needs.
    pub fn pod_end(&self) -> PodEnd {
        PodEnd {
            socket: self.pod.as_ref().map_or(-1, AsRawFd::as_raw_fd),
            size: self.size,
        }
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        // The relay ends once the socket's last copy is closed without a terminal, or when the
        // terminal it got is closed.
        drop(self.pod.take());
        while let Err(Errno::EINTR) = nix::sys::wait::waitpid(self.child, None) {}
    }
}

/// The running relay; dropping it waits for the app's terminal to close and restores acrun's.
#[derive(Debug)]
pub struct Relay {
    thread: Option<std::thread::JoinHandle<()>>,
    saved: Option<Termios>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(saved) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

/// In the runner, inside the app's root: opens a pty from the app's own `/dev/ptmx`, gives the
/// slave to `uid`, sends the master to `acrun run`; returns the slave.
pub fn open_in_pod(end: PodEnd, uid: u32) -> Result<OwnedFd, String> {
    let size = end.size.winsize();
    let pty = nix::pty::openpty(Some(&size), None).map_err(|e| format!("openpty: {e}"))?;
    nix::unistd::fchown(&pty.slave, Some(nix::unistd::Uid::from_raw(uid)), None)
        .map_err(|e| format!("chown the terminal: {e}"))?;
    let fds = [pty.master.as_raw_fd()];
    sendmsg::<()>(
        end.socket,
        &[IoSlice::new(b"m")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("send the terminal to acrun: {e}"))?;
    Ok(pty.slave)
}

/// In an app process, before exec: a session of its own with `slave` as its controlling
/// terminal, stdin, stdout and stderr.
pub fn attach(slave: &OwnedFd) -> Result<(), String> {
    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal it from another session).
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(format!(
            "controlling terminal: {}",
            std::io::Error::last_os_error()
        ));
    }
    for target in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors of this process, about to exec.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(format!("dup2: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Receives the master; `None` when the pod ended without sending one.
fn receive(socket: &OwnedFd) -> Option<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            other => break other.ok()?,
        }
    };
    let mut master = None;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: SCM_RIGHTS just installed `fd` in this process; it is owned here.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                if master.is_none() {
                    master = Some(owned);
                }
            }
        }
    }
    master
}

/// The relay thread: waits for the master, then copies until the app's side is closed.
fn relay(socket: OwnedFd) {
    let Some(master) = receive(&socket) else {
        return;
    };
    drop(socket);
    pump(master);
}

/// Copies between acrun's terminal and `master` until the app's side is closed.
fn pump(master: OwnedFd) {
    let stdin = std::io::stdin();
    let _ = Size::of(stdin.as_fd()).apply(master.as_fd());
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGWINCH);
    let winch = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();
    let _ = nix::fcntl::fcntl(
        master.as_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let mut pump = Pump {
        master: master.as_fd(),
        stdin: stdin.as_fd(),
        stdin_open: true,
        pending: Vec::new(),
    };
    while pump.step(winch.as_ref()) {}
}

/// The relay's state between two polls.
struct Pump<'a> {
    master: BorrowedFd<'a>,
    stdin: BorrowedFd<'a>,
    stdin_open: bool,
    /// Input read from acrun's terminal, not yet taken by the master.
    pending: Vec<u8>,
}

/// The terminal's default end-of-file character (`^D`).
const VEOF: u8 = 4;

impl Pump<'_> {
    /// One poll and what it found; false when the app's side is closed.
    fn step(&mut self, winch: Option<&SignalFd>) -> bool {
        let mut master_events = PollFlags::POLLIN;
        if !self.pending.is_empty() {
            master_events |= PollFlags::POLLOUT;
        }
        let mut fds = vec![PollFd::new(self.master, master_events)];
        let read_stdin = self.stdin_open && self.pending.is_empty();
        if read_stdin {
            fds.push(PollFd::new(self.stdin, PollFlags::POLLIN));
        }
        if let Some(w) = winch {
            fds.push(PollFd::new(w.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => return true,
            Err(_) => return false,
            Ok(_) => {}
        }
        let ready: Vec<PollFlags> = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect();
        drop(fds);
        let mut i = 1;
        if read_stdin {
            if !ready[i].is_empty() {
                self.read_stdin();
            }
            i += 1;
        }
        if let (Some(w), Some(r)) = (winch, ready.get(i))
            && !r.is_empty()
        {
            while let Ok(Some(_)) = w.read_signal() {}
            let _ = Size::of(self.stdin).apply(self.master);
        }
        if ready[0].contains(PollFlags::POLLOUT) {
            self.write_pending();
        }
        if ready[0].intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            return self.copy_output();
        }
        true
    }

    fn read_stdin(&mut self) {
        let mut buf = [0u8; 4096];
        match nix::unistd::read(self.stdin, &mut buf) {
            Ok(0) => {
                self.stdin_open = false;
                self.pending.push(VEOF);
            }
            Ok(n) => self.pending.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => self.stdin_open = false,
        }
    }

    fn write_pending(&mut self) {
        match nix::unistd::write(self.master, &self.pending) {
            Ok(n) => {
                self.pending.drain(..n);
            }
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => self.pending.clear(),
        }
    }

    /// Copies what the app wrote to acrun's stdout; false once the app's side is closed.
    fn copy_output(&mut self) -> bool {
        let mut buf = [0u8; 16384];
        match nix::unistd::read(self.master, &mut buf) {
            // EIO: the last slave descriptor is closed.
            Ok(0) | Err(Errno::EIO) => false,
            Ok(n) => write_all(std::io::stdout().as_fd(), &buf[..n]),
            Err(Errno::EINTR | Errno::EAGAIN) => true,
            Err(_) => false,
        }
    }
}

/// Writes all of `bytes` to the blocking descriptor `fd`; false when it cannot.
fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(0) => return false,
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_round_trips_through_a_pty() {
        let size = Size {
            rows: 33,
            cols: 77,
            xpixel: 0,
            ypixel: 0,
        };
        let pty = nix::pty::openpty(None, None).unwrap();
        size.apply(pty.master.as_fd()).unwrap();
        assert_eq!(Size::of(pty.slave.as_fd()), size);
        // Not a terminal: no size.
        let file = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(Size::of(file.as_fd()), Size::default());
    }

    #[test]
    fn the_master_travels_over_the_socket_pair() {
        let (host, pod) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let end = PodEnd {
            socket: pod.as_raw_fd(),
            size: Size {
                rows: 10,
                cols: 20,
                ..Size::default()
            },
        };
        let slave = open_in_pod(end, 0).unwrap();
        let master = receive(&host).unwrap();
        nix::unistd::write(master.as_fd(), b"x\n").unwrap();
        let mut buf = [0u8; 8];
        let n = nix::unistd::read(slave.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"x\n");
        assert_eq!(Size::of(slave.as_fd()).rows, 10);
        // The pod end closed without sending: nothing comes.
        drop(pod);
        assert!(receive(&host).is_none());
    }
}

//! Published ports: `--port NAME:[HOSTIP:]HOSTPORT` and the pod manifest's `ports`, served by a
//! small forwarder inside the host-side `acrun run` process — no iptables, no daemon.
//!
//! Policy ([`parse_flag`], [`plan`]; plain data, unit-tested): which host address and port map
//! to which pod port. A name must be a port of exactly one app (appc: port names are unique among
//! a pod's apps) unless the pod's `podPort` defines it; the protocol is `tcp` or `udp`; two
//! forwards may not claim one host port and protocol on overlapping addresses; a pod on the
//! host's network has nothing to forward. HOSTIP defaults to 0.0.0.0, as appc ("if omitted, all
//! IPs will be used"), rkt and Docker do; the first port of a `count` range is the one forwarded.
//!
//! Mechanism ([`Listeners`]): every host socket is bound before the supervisor is cloned, so a
//! port in use is an error before any app runs, and the supervisor closes its copies. Once the
//! supervisor exists, one thread per listener accepts; each TCP connection gets a thread that
//! joins the pod's network namespace (`setns` on the namespace fd made before the pod) and connects
//! to `127.0.0.1:PODPORT` there — a socket belongs to the namespace it was created in — then
//! bytes are copied both ways, each direction half-closed on its own EOF. UDP: one pod-side
//! socket per client address, dropped after [`UDP_IDLE`] without a reply. At most
//! [`MAX_PEERS`] connections or clients per forward are served at once.
//!
//! Defends against: a forward that reaches the host instead of the pod (no connection is made
//! unless `setns` succeeded in that very thread); a port silently taken by another process (the
//! bind fails the run before anything starts); listening sockets left open in the pod after
//! acrun is gone.

use super::spec::{ImageInfo, Net};
use appc::manifest::app::Port;
use appc::manifest::pod::{ExposedPort, PodManifest};
use appc::name::AcName;
use nix::sched::CloneFlags;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a UDP client may stay silent before its pod-side socket is closed.
pub const UDP_IDLE: Duration = Duration::from_secs(120);

/// At most this many TCP connections (or UDP clients) per forward at once; more are closed (or
/// dropped) at once, so a flood from the network costs acrun a bounded number of threads.
pub const MAX_PEERS: usize = 1024;

/// A transport protocol acrun forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Streams.
    Tcp,
    /// Datagrams.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One published port: host address → `127.0.0.1:pod_port` in the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The port name.
    pub name: String,
    /// Its protocol.
    pub protocol: Protocol,
    /// Where acrun listens on the host.
    pub host: SocketAddr,
    /// The port inside the pod's network namespace.
    pub pod_port: u16,
}

/// Why ports cannot be published.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A `--port` flag that does not parse.
    #[error("--port {text:?}: {reason} (expected NAME:[HOSTIP:]HOSTPORT)")]
    Syntax {
        /// The flag's value.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// No app has a port of that name.
    #[error("port {name:?}: no app of the pod has a port of that name (ports: {known})")]
    UnknownName {
        /// The name.
        name: String,
        /// The names the apps define.
        known: String,
    },
    /// Two apps define the name.
    #[error("port {name:?}: apps {a} and {b} both define it (port names must be unique in a pod)")]
    Ambiguous {
        /// The name.
        name: String,
        /// One app.
        a: String,
        /// The other.
        b: String,
    },
    /// Neither tcp nor udp.
    #[error("port {name:?}: protocol {protocol:?} cannot be forwarded (only tcp and udp)")]
    Protocol {
        /// The name.
        name: String,
        /// Its protocol.
        protocol: String,
    },
    /// Two forwards claim one host port.
    #[error("ports {a:?} and {b:?} both claim host {protocol} port {host}")]
    HostConflict {
        /// One port name.
        a: String,
        /// The other.
        b: String,
        /// The protocol.
        protocol: Protocol,
        /// The host address of the second.
        host: SocketAddr,
    },
    /// `--net=host`.
    #[error("ports cannot be published with --net=host: the apps already listen on the host")]
    HostNetwork,
    /// Binding the host socket.
    #[error("port {name:?}: cannot listen on host {protocol} {host}: {source}")]
    Bind {
        /// The name.
        name: String,
        /// The protocol.
        protocol: Protocol,
        /// The address.
        host: SocketAddr,
        /// The error.
        source: io::Error,
    },
    /// Opening the pod's network namespace.
    #[error("{path}: {source}")]
    Namespace {
        /// What was being opened.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl PortError {
    /// Whether the user's input is at fault (exit 2) rather than the system.
    pub fn is_usage(&self) -> bool {
        match self {
            PortError::Syntax { .. }
            | PortError::UnknownName { .. }
            | PortError::Ambiguous { .. }
            | PortError::Protocol { .. }
            | PortError::HostConflict { .. }
            | PortError::HostNetwork => true,
            PortError::Bind { .. } | PortError::Namespace { .. } => false,
        }
    }
}

/// Parses `NAME:[HOSTIP:]HOSTPORT` (an IPv6 HOSTIP in brackets or bare) into the pod manifest's
/// form.
pub fn parse_flag(text: &str) -> Result<ExposedPort, PortError> {
    let bad = |reason: &str| PortError::Syntax {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let (name, rest) = text.split_once(':').ok_or_else(|| bad("no HOSTPORT"))?;
    let name = AcName::new(name).map_err(|e| bad(&format!("port name: {e}")))?;
    let (ip, port) = match rest.rsplit_once(':') {
        Some((ip, port)) => (Some(ip), port),
        None => (None, rest),
    };
    let host_port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad("HOSTPORT must be a number from 1 to 65535"))?;
    let host_ip = ip
        .map(|ip| {
            let ip = ip
                .strip_prefix('[')
                .and_then(|i| i.strip_suffix(']'))
                .unwrap_or(ip);
            ip.parse::<IpAddr>()
                .map_err(|_| bad(&format!("{ip:?} is not an IP address")))
        })
        .transpose()?;
    Ok(ExposedPort {
        name,
        host_port,
        host_ip,
        pod_port: None,
    })
}

/// The forwards of a pod: `images[i]` is the image of `pod.apps[i]` (whose `app`, when the pod
/// gives one, replaces the image's).
pub fn plan(pod: &PodManifest, images: &[ImageInfo], net: Net) -> Result<Vec<Forward>, PortError> {
    if pod.ports.is_empty() {
        return Ok(Vec::new());
    }
    if net == Net::Host {
        return Err(PortError::HostNetwork);
    }
    let mut defined: Vec<(&str, &Port)> = Vec::new();
    for (rt, image) in pod.apps.iter().zip(images) {
        let app = rt.app.as_ref().or(image.manifest.app.as_ref());
        for p in app.map(|a| a.ports.as_slice()).unwrap_or_default() {
            if let Some((other, _)) = defined.iter().find(|(_, d)| d.name == p.name) {
                return Err(PortError::Ambiguous {
                    name: p.name.as_str().to_owned(),
                    a: (*other).to_owned(),
                    b: rt.name.as_str().to_owned(),
                });
            }
            defined.push((rt.name.as_str(), p));
        }
    }
    let mut out: Vec<Forward> = Vec::new();
    for exposed in &pod.ports {
        let name = exposed.name.as_str();
        let port = match &exposed.pod_port {
            Some(p) => p,
            None => defined
                .iter()
                .find(|(_, p)| p.name == exposed.name)
                .map(|(_, p)| *p)
                .ok_or_else(|| PortError::UnknownName {
                    name: name.to_owned(),
                    known: known_names(&defined),
                })?,
        };
        let protocol = match port.protocol.as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            other => {
                return Err(PortError::Protocol {
                    name: name.to_owned(),
                    protocol: other.to_owned(),
                });
            }
        };
        let ip = exposed.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let forward = Forward {
            name: name.to_owned(),
            protocol,
            host: SocketAddr::new(ip, exposed.host_port),
            pod_port: port.port,
        };
        if let Some(prior) = out.iter().find(|f| overlaps(f, &forward)) {
            return Err(PortError::HostConflict {
                a: prior.name.clone(),
                b: forward.name,
                protocol,
                host: forward.host,
            });
        }
        out.push(forward);
    }
    Ok(out)
}

fn known_names(defined: &[(&str, &Port)]) -> String {
    if defined.is_empty() {
        return "none".into();
    }
    let mut names: Vec<&str> = defined.iter().map(|(_, p)| p.name.as_str()).collect();
    names.sort_unstable();
    names.join(", ")
}

/// Whether two forwards would need the same host socket (an unspecified address overlaps every
/// address: Linux binds `[::]` dual-stack by default).
fn overlaps(a: &Forward, b: &Forward) -> bool {
    a.protocol == b.protocol
        && a.host.port() == b.host.port()
        && (a.host.ip() == b.host.ip()
            || a.host.ip().is_unspecified()
            || b.host.ip().is_unspecified())
}

/// A bound host socket.
#[derive(Debug)]
enum HostSocket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

impl HostSocket {
    fn raw_fd(&self) -> i32 {
        match self {
            HostSocket::Tcp(s) => s.as_raw_fd(),
            HostSocket::Udp(s) => s.as_raw_fd(),
        }
    }
}

/// The host sockets of a pod's forwards, bound and not yet served.
#[derive(Debug, Default)]
pub struct Listeners {
    bound: Vec<(Forward, HostSocket)>,
}

impl Listeners {
    /// Binds every forward's host socket; the first failure is the error.
    pub fn bind(forwards: &[Forward]) -> Result<Listeners, PortError> {
        let mut bound = Vec::new();
        for f in forwards {
            let socket = match f.protocol {
                Protocol::Tcp => TcpListener::bind(f.host).map(HostSocket::Tcp),
                Protocol::Udp => UdpSocket::bind(f.host).map(HostSocket::Udp),
            }
            .map_err(|source| PortError::Bind {
                name: f.name.clone(),
                protocol: f.protocol,
                host: f.host,
                source,
            })?;
            bound.push((f.clone(), socket));
        }
        Ok(Listeners { bound })
    }

    /// In the cloned supervisor: closes its copies of the host sockets, so that only acrun's
    /// forwarder holds them (and they close when acrun is gone).
    pub fn close_in_child(&self) {
        for (_, s) in &self.bound {
            // SAFETY: the supervisor is a copy of this process that never uses, drops or returns
            // these sockets (it leaves with `_exit`); the parent's descriptors are its own.
            unsafe { libc::close(s.raw_fd()) };
        }
    }

    /// Serves every forward into the pod's network namespace `netns` (made before the pod, so
    /// there is no moment when it could still be the host's) from threads that live as long as
    /// this process. Call with the process's signals blocked: the threads inherit the mask.
    pub fn serve(self, netns: Option<&OwnedFd>) -> Result<(), PortError> {
        if self.bound.is_empty() {
            return Ok(());
        }
        let path = PathBuf::from("pod network namespace");
        let Some(netns) = netns else {
            return Err(PortError::Namespace {
                path,
                source: io::Error::other("the pod shares the host's network"),
            });
        };
        let netns = netns
            .try_clone()
            .map_err(|source| PortError::Namespace { path, source })?;
        let netns = Arc::new(File::from(netns));
        for (f, socket) in self.bound {
            let netns = Arc::clone(&netns);
            match socket {
                HostSocket::Tcp(l) => {
                    std::thread::spawn(move || accept_tcp(&l, &netns, f.pod_port));
                }
                HostSocket::Udp(s) => {
                    std::thread::spawn(move || relay_udp(s, &netns, f.pod_port));
                }
            }
        }
        Ok(())
    }
}

fn join_pod(netns: &File) -> bool {
    nix::sched::setns(netns, CloneFlags::CLONE_NEWNET).is_ok()
}

fn pod_loopback(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

fn accept_tcp(listener: &TcpListener, netns: &Arc<File>, pod_port: u16) {
    let open = Arc::new(AtomicUsize::new(0));
    for client in listener.incoming() {
        let Ok(client) = client else {
            // Out of descriptors or memory: let the pod's connections drain.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_PEERS {
            open.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let (netns, open) = (Arc::clone(netns), Arc::clone(&open));
        std::thread::spawn(move || {
            if join_pod(&netns)
                && let Ok(pod) = TcpStream::connect(pod_loopback(pod_port))
            {
                splice_both_ways(client, pod);
            }
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Copies each direction until its EOF, then half-closes the other side's write end.
fn splice_both_ways(client: TcpStream, pod: TcpStream) {
    let (Ok(client2), Ok(pod2)) = (client.try_clone(), pod.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || copy_half(client2, pod2));
    copy_half(pod, client);
    let _ = up.join();
}

fn copy_half(mut from: TcpStream, mut to: TcpStream) {
    if io::copy(&mut from, &mut to).is_err() {
        let _ = from.shutdown(Shutdown::Read);
    }
    let _ = to.shutdown(Shutdown::Write);
}

type Sessions = Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>;

fn relay_udp(host: UdpSocket, netns: &File, pod_port: u16) {
    // This thread's own sockets are made in the pod; `host` stays where it was bound.
    if !join_pod(netns) {
        return;
    }
    let host = Arc::new(host);
    let sessions: Sessions = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = host.recv_from(&mut buf) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let pod = match session(&sessions, &host, client, pod_port) {
            Some(s) => s,
            None => continue,
        };
        let _ = pod.send(&buf[..n]);
    }
}

/// The pod-side socket of `client`, made (in this thread's namespace, the pod's) on its first
/// datagram, with a thread that returns the pod's replies until [`UDP_IDLE`] passes silently.
fn session(
    sessions: &Sessions,
    host: &Arc<UdpSocket>,
    client: SocketAddr,
    pod_port: u16,
) -> Option<Arc<UdpSocket>> {
    let mut map = sessions.lock().ok()?;
    if let Some(s) = map.get(&client) {
        return Some(Arc::clone(s));
    }
    if map.len() >= MAX_PEERS {
        return None;
    }
    let pod = UdpSocket::bind(pod_loopback(0)).ok()?;
    pod.connect(pod_loopback(pod_port)).ok()?;
    pod.set_read_timeout(Some(UDP_IDLE)).ok()?;
    let pod = Arc::new(pod);
    map.insert(client, Arc::clone(&pod));
    let (sessions, host, replies) = (Arc::clone(sessions), Arc::clone(host), Arc::clone(&pod));
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = replies.recv(&mut buf) {
            let _ = host.send_to(&buf[..n], client);
        }
        if let Ok(mut map) = sessions.lock() {
            map.remove(&client);
        }
    });
    Some(pod)
}

#[cfg(test)]
mod tests {
    use super::*;
    use appc::manifest::app::App;
    use appc::manifest::image::ImageManifest;
    use appc::manifest::pod::{RuntimeApp, RuntimeImage};
    use appc::name::AcIdentifier;

    fn port(name: &str, protocol: &str, number: u16) -> Port {
        Port {
            name: AcName::new(name).unwrap(),
            protocol: protocol.into(),
            port: number,
            count: 1,
            socket_activated: false,
        }
    }

    /// A pod of apps `(name, ports)` and `--port` flags.
    fn pod(apps: &[(&str, Vec<Port>)], flags: &[&str]) -> (PodManifest, Vec<ImageInfo>) {
        let mut pod = PodManifest::new();
        let mut images = Vec::new();
        for (name, ports) in apps {
            let mut app = App::new(vec!["/bin/x".into()], "0", "0");
            app.ports = ports.clone();
            let mut manifest = ImageManifest::new(AcIdentifier::new("example.com/x").unwrap());
            manifest.app = Some(app);
            images.push(ImageInfo {
                id: "sha512-00".into(),
                manifest,
                manifest_json: vec![],
                rootfs: "/tree".into(),
            });
            pod.apps.push(RuntimeApp {
                name: AcName::new(name).unwrap(),
                image: RuntimeImage {
                    name: None,
                    id: None,
                    labels: Default::default(),
                },
                app: None,
                read_only_root_fs: false,
                mounts: vec![],
                annotations: Default::default(),
            });
        }
        for f in flags {
            pod.ports.push(parse_flag(f).unwrap());
        }
        (pod, images)
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn flags_parse_with_and_without_a_host_ip() {
        let p = parse_flag("client:2379").unwrap();
        assert_eq!(
            (p.name.as_str(), p.host_port, p.host_ip),
            ("client", 2379, None)
        );
        let p = parse_flag("client:127.0.0.1:12379").unwrap();
        assert_eq!(p.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(p.host_port, 12379);
        for v6 in ["web:[::1]:8080", "web:::1:8080"] {
            assert_eq!(
                parse_flag(v6).unwrap().host_ip,
                Some("::1".parse().unwrap())
            );
        }
        for bad in [
            "client",
            "client:0",
            "client:70000",
            "client:x:80",
            "Client:80",
            ":80",
        ] {
            assert!(
                matches!(parse_flag(bad), Err(PortError::Syntax { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_port_name_maps_to_its_app_port_on_all_addresses_by_default() {
        let (p, images) = pod(
            &[(
                "etcd",
                vec![port("client", "tcp", 2379), port("dns", "udp", 53)],
            )],
            &["client:12379", "dns:127.0.0.1:5353"],
        );
        let f = plan(&p, &images, Net::None).unwrap();
        assert_eq!(
            f,
            [
                Forward {
                    name: "client".into(),
                    protocol: Protocol::Tcp,
                    host: addr("0.0.0.0:12379"),
                    pod_port: 2379
                },
                Forward {
                    name: "dns".into(),
                    protocol: Protocol::Udp,
                    host: addr("127.0.0.1:5353"),
                    pod_port: 53
                }
            ]
        );
    }

    #[test]
    fn unknown_names_are_refused_and_a_pod_port_defines_its_own() {
        let (mut p, images) = pod(
            &[("etcd", vec![port("client", "tcp", 2379)])],
            &["peer:2380"],
        );
        let e = plan(&p, &images, Net::None).unwrap_err();
        assert!(e.is_usage());
        assert!(e.to_string().contains("(ports: client)"), "{e}");
        p.ports[0].pod_port = Some(port("peer", "tcp", 2380));
        assert_eq!(plan(&p, &images, Net::None).unwrap()[0].pod_port, 2380);
    }

    #[test]
    fn a_pod_port_overrides_the_app_port() {
        let (mut p, images) = pod(
            &[("etcd", vec![port("client", "tcp", 2379)])],
            &["client:80"],
        );
        p.ports[0].pod_port = Some(port("client", "tcp", 4001));
        assert_eq!(plan(&p, &images, Net::None).unwrap()[0].pod_port, 4001);
    }

    #[test]
    fn a_host_port_is_claimed_once_per_protocol() {
        let apps = [(
            "a",
            vec![
                port("x", "tcp", 1),
                port("y", "tcp", 2),
                port("z", "udp", 3),
            ],
        )];
        let cases: [(&[&str], bool); 5] = [
            (&["x:80", "y:80"], false),
            (&["x:127.0.0.1:80", "y:0.0.0.0:80"], false),
            (&["x:127.0.0.1:80", "y:[::]:80"], false),
            (&["x:127.0.0.1:80", "y:127.0.0.2:80"], true),
            (&["x:80", "z:80"], true),
        ];
        for (flags, ok) in cases {
            let (p, images) = pod(&apps, flags);
            let r = plan(&p, &images, Net::None);
            assert_eq!(r.is_ok(), ok, "{flags:?}: {r:?}");
            if let Err(e) = r {
                assert!(matches!(e, PortError::HostConflict { .. }), "{e}");
            }
        }
    }

    #[test]
    fn a_name_two_apps_define_is_refused() {
        let (p, images) = pod(
            &[
                ("a", vec![port("http", "tcp", 80)]),
                ("b", vec![port("http", "tcp", 81)]),
            ],
            &["http:8080"],
        );
        assert!(matches!(
            plan(&p, &images, Net::None),
            Err(PortError::Ambiguous { .. })
        ));
    }

    #[test]
    fn other_protocols_and_the_host_network_are_refused() {
        let (p, images) = pod(&[("a", vec![port("s", "sctp", 9)])], &["s:9"]);
        assert!(matches!(
            plan(&p, &images, Net::None),
            Err(PortError::Protocol { .. })
        ));
        let (p, images) = pod(&[("a", vec![port("s", "tcp", 9)])], &["s:9"]);
        assert!(matches!(
            plan(&p, &images, Net::Host),
            Err(PortError::HostNetwork)
        ));
        assert!(plan(&p, &images, Net::None).is_ok());
        let (p, images) = pod(&[("a", vec![port("s", "tcp", 9)])], &[]);
        assert!(plan(&p, &images, Net::Host).unwrap().is_empty());
    }

    #[test]
    fn a_taken_host_port_fails_to_bind() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let f = Forward {
            name: "x".into(),
            protocol: Protocol::Tcp,
            host: taken.local_addr().unwrap(),
            pod_port: 1,
        };
        let e = Listeners::bind(std::slice::from_ref(&f)).unwrap_err();
        assert!(!e.is_usage() && matches!(e, PortError::Bind { .. }), "{e}");
        drop(taken);
        assert!(Listeners::bind(&[f]).is_ok());
    }
}

//! End-to-end tests of `acrun run --port`: a pod in its own network namespace serves TCP (with
//! half-close) and UDP on host ports through acrun's forwarder; a forward never reaches the host's
//! own loopback; the refusals (unknown name, one host port twice, `--net=host`, a host port in
//! use before anything runs) each beside the same run allowed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::World;
use support::busybox::{acrun, explain, free_port, image};
use support::pod::{Pod, eventually};

/// A statically linked UDP echo server (busybox has none), built here with gcc.
fn udp_echo(w: &World) -> PathBuf {
    let out = w.path("udp-echo");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/udp-echo.c");
    let o = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .expect("gcc is needed (apt-get install gcc libc6-dev)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// An image serving TCP echo on port 7 (`nc -ll -e cat`: each connection's `cat` ends at its
/// input's EOF) and UDP echo on 53; its port `unused` is `unused_port`, where nothing in the pod
/// listens.
fn servers(w: &World, unused_port: u16) -> PathBuf {
    let app = format!(
        r#"{{"exec":["/bin/sh","-c","/bin/udp-echo 53 & exec nc -ll -p 7 -e /bin/cat"],"user":"0","group":"0",
        "ports":[{{"name":"echo","protocol":"tcp","port":7}},{{"name":"dns","protocol":"udp","port":53}},
                 {{"name":"unused","protocol":"tcp","port":{unused_port}}}]}}"#
    );
    image(w, "servers", &app, &[("bin/udp-echo", &udp_echo(w))])
}

/// Sends `data` through a TCP echo, closes the sending side, reads the answer to EOF.
fn tcp_echo(port: u16, data: &[u8]) -> Option<Vec<u8>> {
    let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut writer = s.try_clone().unwrap();
    let data = data.to_vec();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&data);
        let _ = writer.shutdown(Shutdown::Write);
    });
    let mut got = Vec::new();
    let read = (&s).read_to_end(&mut got);
    sender.join().unwrap();
    // Nothing at all: the forwarder found no listener in the pod yet and closed.
    (read.is_ok() && !got.is_empty()).then_some(got)
}

fn udp_echo_once(port: u16, data: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.send_to(data, ("127.0.0.1", port)).ok()?;
    let mut buf = [0u8; 2048];
    let n = s.recv(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

#[test]
fn tcp_and_udp_reach_the_pod_through_published_ports() {
    let w = World::new();
    let host_side = TcpListener::bind("127.0.0.1:0").unwrap();
    let unused = host_side.local_addr().unwrap().port();
    let aci = servers(&w, unused);
    let (tcp, udp, unused_fwd) = (free_port(), free_port(), free_port());
    let flags = [
        format!("echo:127.0.0.1:{tcp}"),
        format!("dns:127.0.0.1:{udp}"),
        format!("unused:127.0.0.1:{unused_fwd}"),
    ];
    let pod = Pod::start(
        &w,
        &[
            "--insecure-options=image",
            "--port",
            &flags[0],
            "--port",
            &flags[1],
            "--port",
            &flags[2],
            aci.to_str().unwrap(),
        ],
    );
    assert_eq!(
        eventually("tcp echo", || tcp_echo(tcp, b"ping\n")),
        b"ping\n"
    );
    // Both directions at once, more than any socket buffer holds; the answer ends only because
    // the client's half-close reached `cat` in the pod.
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let big: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert!(tcp_echo(tcp, &big).unwrap() == big, "1 MiB echo differs");
    assert_eq!(
        eventually("udp echo", || udp_echo_once(udp, b"hi")),
        b"echo:hi"
    );
    // `unused` is a port of the host's loopback, not the pod's: the forward must find nothing.
    host_side.set_nonblocking(true).unwrap();
    assert_eq!(tcp_echo(unused_fwd, b"x"), None);
    assert!(
        host_side.accept().is_err(),
        "the forwarder connected to the host's own 127.0.0.1:{unused}"
    );
    assert_eq!(pod.stop(), 143);
}

#[test]
fn port_refusals_and_their_controls() {
    let w = World::new();
    let aci = servers(&w, 9);
    let aci = aci.to_str().unwrap();
    let p = free_port();
    let echo = format!("echo:127.0.0.1:{p}");
    let unused_same = format!("unused:127.0.0.1:{p}");
    let unused_next = format!("unused:127.0.0.1:{}", free_port());
    let run = |pod: &[&str]| {
        let mut args = vec!["run", "--insecure-options=image"];
        args.extend_from_slice(pod);
        args.extend([aci, "--exec", "/bin/true"]);
        acrun(&w, &args)
    };
    let cases: [(&[&str], i32, &str); 6] = [
        (&["--port", &echo], 0, ""),
        (
            &["--port", "nope:8080"],
            2,
            "no app of the pod has a port of that name (ports: dns, echo, unused)",
        ),
        (
            &["--port", &echo, "--port", &unused_same],
            2,
            "both claim host tcp port",
        ),
        (&["--port", &echo, "--port", &unused_next], 0, ""),
        (&["--net=host", "--port", &echo], 2, "--net=host"),
        (&["--net=host"], 0, ""),
    ];
    for (pod, code, message) in cases {
        let o = run(pod);
        assert_eq!(o.status.code(), Some(code), "{pod:?}: {}", explain(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(message),
            "{pod:?}: {}",
            explain(&o)
        );
    }
}

#[test]
fn a_host_port_in_use_fails_the_run_before_any_app_starts() {
    let w = World::new();
    let aci = servers(&w, 9);
    let host = w.path("host");
    std::fs::create_dir(&host).unwrap();
    let vol = format!("v,kind=host,source={}", host.display());
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let run = |port: u16| {
        let flag = format!("echo:127.0.0.1:{port}");
        acrun(
            &w,
            &[
                "run",
                "--insecure-options=image",
                "--volume",
                &vol,
                "--port",
                &flag,
                aci.to_str().unwrap(),
                "--mount",
                "volume=v,target=/v",
                "--exec",
                "/bin/touch",
                "--",
                "/v/ran",
            ],
        )
    };
    let o = run(taken.local_addr().unwrap().port());
    assert_eq!(o.status.code(), Some(254), "{}", explain(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot listen on host tcp"));
    assert!(!host.join("ran").exists(), "the app ran");
    let o = run(free_port());
    assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
    assert!(host.join("ran").exists());
}

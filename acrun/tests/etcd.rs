//! Issue 10's done-when: the etcd image of `recipes/etcd.kdl`, built and signed by acbuild,
//! trusted and run by acrun in its own network namespace, serves a put and a get from the host's
//! `etcdctl` through `--port client:…`, then stops cleanly on `acrun stop`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Output};
use support::World;
use support::busybox::{acrun, explain, free_port};
use support::pod::{Pod, eventually};

fn etcdctl(port: u16, args: &[&str]) -> Output {
    Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints=http://127.0.0.1:{port}"))
        .args(["--dial-timeout=2s", "--command-timeout=5s"])
        .args(args)
        .output()
        .expect("etcdctl is needed on the host (apt-get install etcd-client)")
}

#[test]
fn etcd_serves_a_put_and_a_get_from_the_host_through_a_published_port() {
    let w = World::new();
    let key = w.root_key();
    let aci = w.etcd_image(&key);
    let port = free_port();
    let publish = format!("client:127.0.0.1:{port}");
    // etcd refuses a data directory it does not own with mode 0700.
    let pod = Pod::start(
        &w,
        &[
            "--port",
            &publish,
            "--volume",
            "data,kind=empty,uid=1000,gid=1000,mode=0700",
            aci.to_str().unwrap(),
        ],
    );
    eventually("etcdctl put", || {
        let o = etcdctl(port, &["put", "greeting", "hello from the host"]);
        o.status.success().then_some(())
    });
    let o = etcdctl(port, &["get", "greeting"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "greeting\nhello from the host\n",
        "{}\n{}",
        explain(&o),
        pod.stderr()
    );
    let uuid = pod.uuid().to_owned();
    // etcd dies of the forwarded SIGTERM after its shutdown handlers ran.
    assert_eq!(pod.stop(), 143);
    let st = acrun(&w, &["status", &uuid]);
    let st = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.contains("state=exited") && st.contains("app-etcd=143"),
        "{st}"
    );
}

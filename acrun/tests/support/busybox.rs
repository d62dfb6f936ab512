//! busybox-static images for pod tests: a root with busybox and its applets as symlinks, a
//! passwd/group pair, the app given as JSON, packed with GNU tar; and the small helpers the pod
//! tests share.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::World;

pub const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "id", "mkdir", "touch", "sleep", "hostname", "ip", "ps", "true",
    "env", "pwd", "wc", "head", "tail", "chown", "kill", "test", "dd", "wget", "grep", "find",
    "xargs", "cmp", "od", "tr", "cut", "sed", "printf", "time", "nc", "tty", "stty",
];

/// A busybox image `example.com/NAME` (written once per world) whose app is `app_json`, with
/// extra files `(rootfs path, host file)`.
pub fn image(w: &World, name: &str, app_json: &str, files: &[(&str, &Path)]) -> PathBuf {
    build(w, name, app_json, &[], files)
}

/// Like [`image`], with extra rootfs symlinks `(path, target)` instead of files.
pub fn image_with_links(w: &World, name: &str, app_json: &str, links: &[(&str, &str)]) -> PathBuf {
    build(w, name, app_json, links, &[])
}

fn build(
    w: &World,
    name: &str,
    app_json: &str,
    links: &[(&str, &str)],
    files: &[(&str, &Path)],
) -> PathBuf {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: apt-get install busybox-static"
    );
    let aci = w.path(&format!("{name}.aci"));
    if aci.exists() {
        return aci;
    }
    let src = w.path(&format!("{name}.src"));
    let root = src.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).unwrap();
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    for (path, target) in links {
        std::os::unix::fs::symlink(target, root.join(path)).unwrap();
    }
    for (path, host) in files {
        std::fs::copy(host, root.join(path)).unwrap();
    }
    let manifest = format!(
        r#"{{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/{name}","labels":[{{"name":"version","value":"1.0"}},{{"name":"os","value":"linux"}},{{"name":"arch","value":"amd64"}}],"app":{app_json}}}"#
    );
    std::fs::write(src.join("manifest"), manifest).unwrap();
    super::tar_aci(&src, &aci);
    aci
}

/// `acrun ARGS...` in this world.
pub fn acrun(w: &World, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acrun"))
        .env("ACRUN_DIR", w.path("state"))
        .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
        .args(args)
        .output()
        .unwrap()
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn explain(o: &Output) -> String {
    format!(
        "code {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A TCP port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

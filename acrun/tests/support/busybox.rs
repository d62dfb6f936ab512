//! busybox-static images for pod tests: a root with busybox, its applets as symlinks, a
//! passwd/group pair, and the app given as JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use super::World;
use std::path::{Path, PathBuf};

const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "id", "mkdir", "touch", "sleep", "hostname", "ip", "ps", "true",
    "env", "pwd", "wc", "head", "tail", "chown", "kill", "test", "dd", "wget", "grep", "find",
    "xargs", "cmp", "od", "tr", "cut", "sed", "printf", "time",
];

/// A busybox image named `example.com/NAME` whose app is `app_json` (a JSON object), with extra
/// rootfs symlinks `(path, target)`.
pub fn image(w: &World, name: &str, app_json: &str, links: &[(&str, &str)]) -> PathBuf {
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
    let manifest = format!(
        r#"{{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/{name}","labels":[{{"name":"os","value":"linux"}},{{"name":"arch","value":"amd64"}}],"app":{app_json}}}"#
    );
    std::fs::write(src.join("manifest"), manifest).unwrap();
    super::tar_aci(&src, &aci);
    aci
}

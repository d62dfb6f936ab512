//! A live pod's images are pinned: `acrun image rm` refuses them and `acrun gc` keeps their
//! trees, so a running app's files never vanish; once the pod has exited both work.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::World;
use support::running::{RunningPod, acrun, explain, image};

#[test]
fn a_running_pods_image_is_kept_until_the_pod_exits() {
    let w = World::new();
    let aci = image(
        &w,
        "pinned",
        r#"{"exec":["/bin/sh"],"user":"0","group":"0"}"#,
        &[],
    );
    let fetched = acrun(
        &w,
        &["fetch", "--insecure-options=image", aci.to_str().unwrap()],
    );
    assert_eq!(fetched.status.code(), Some(0), "{}", explain(&fetched));
    let id = String::from_utf8_lossy(&fetched.stdout).trim().to_owned();
    let tree = w.path("state/images/trees").join(&id);
    assert!(tree.is_dir());
    let pod = RunningPod::start(
        &w,
        "pinned",
        &[
            &id,
            "--mount",
            "volume=out,target=/out",
            "--",
            "-c",
            "touch /out/ready; exec sleep 1000",
        ],
    );
    // Extracted trees and pod layers are root's alone: a host user cannot reach an image's
    // programs (setuid ones included) or what the apps write. The control: the same user reaches
    // the store's records through the same (opened up) parent directories.
    let open_up = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(w.dir.path(), open_up).unwrap();
    let nobody_reaches = |path: &std::path::Path| {
        assert!(path.exists(), "{}", path.display());
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "stat"])
            .arg(path)
            .output()
            .expect("setpriv (util-linux) is required")
            .status
            .success()
    };
    assert!(nobody_reaches(&w.path("state/images/records")), "control");
    let upper = w
        .path("state/pods")
        .join(&pod.uuid)
        .join("apps/pinned/upper");
    for path in [tree.join("rootfs/bin/busybox"), upper] {
        assert!(!nobody_reaches(&path), "nobody reached {}", path.display());
    }
    let rm = acrun(&w, &["image", "rm", &id]);
    assert_eq!(rm.status.code(), Some(1), "{}", explain(&rm));
    assert!(
        String::from_utf8_lossy(&rm.stderr).contains(&format!("in use by pod {}", pod.uuid)),
        "{}",
        explain(&rm)
    );
    let gc = acrun(&w, &["gc"]);
    assert_eq!(gc.status.code(), Some(0), "{}", explain(&gc));
    assert!(
        tree.join("rootfs/bin/busybox").is_file(),
        "gc kept the tree"
    );
    let ls = pod.enter(&["--", "/bin/ls", "/bin/busybox"]);
    assert_eq!(ls.status.code(), Some(0), "{}", explain(&ls));
    drop(pod);
    // Control: the pod has exited; now the image goes.
    let rm = acrun(&w, &["image", "rm", &id]);
    assert_eq!(rm.status.code(), Some(0), "{}", explain(&rm));
    assert!(!tree.exists());
}

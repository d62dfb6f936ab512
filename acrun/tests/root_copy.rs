//! End-to-end tests of an app root made as a copy of the store's tree (`--root-mode=copy`, and
//! `auto` where overlayfs cannot be mounted): writes stay in the pod, each run starts fresh, the
//! store's tree is never written, setuid bits survive, and an image symlink to `/` is copied as a
//! symlink, never followed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::World;
use support::running::{acrun, busybox, code, explain, run, stdout};

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n";

/// Runs `script` in the busybox image with `pod` flags; returns the output and the pod's UUID.
fn sh_pod(w: &World, pod: &[&str], script: &str) -> (std::process::Output, String) {
    let aci = busybox(w);
    let uuid_file = w.path("uuid");
    let mut args: Vec<&str> = vec!["--uuid-file-save", uuid_file.to_str().unwrap()];
    args.extend_from_slice(pod);
    args.extend([aci.to_str().unwrap(), "--", "-c", script]);
    let o = run(w, &args);
    let uuid = std::fs::read_to_string(&uuid_file).unwrap_or_default();
    (o, uuid.trim().to_owned())
}

/// The app's directory in the pod directory.
fn app_dir(w: &World, uuid: &str, app: &str) -> PathBuf {
    w.path("state")
        .join("pods")
        .join(uuid)
        .join("apps")
        .join(app)
}

/// The store's rendered tree the app ran from (as its runner recorded it).
fn store_tree(w: &World, uuid: &str, app: &str) -> PathBuf {
    let record = std::fs::read(app_dir(w, uuid, app).join("app.json")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&record).unwrap();
    PathBuf::from(v["app"]["rootfs"].as_str().unwrap())
}

#[test]
fn a_copied_root_takes_the_writes_and_each_run_starts_fresh() {
    let w = World::new();
    let write = "test ! -e /marker && touch /marker && echo extra >> /etc/passwd && rm /bin/echo";
    let (o, uuid) = sh_pod(&w, &["--root-mode=copy"], write);
    assert_eq!(code(&o), 0, "{}", explain(&o));
    let status = acrun(&w, &["status", &uuid]);
    assert!(
        stdout(&status).contains("root-busybox=copy\n"),
        "{}",
        explain(&status)
    );
    let list = acrun(&w, &["list", "--json"]);
    assert!(
        stdout(&list).contains("\"root\": \"copy\""),
        "{}",
        explain(&list)
    );
    // The writes are in the pod's copy, and the store's tree is as it was.
    let copy = app_dir(&w, &uuid, "busybox").join("rootfs");
    assert!(copy.join("marker").exists());
    // The copy's setuid files are out of other host users' reach.
    let mode = std::fs::metadata(app_dir(&w, &uuid, "busybox"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let tree = store_tree(&w, &uuid, "busybox");
    assert!(
        !tree.join("marker").exists(),
        "the store's tree was written"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("etc/passwd")).unwrap(),
        PASSWD
    );
    assert!(tree.join("bin/echo").symlink_metadata().is_ok());
    let (o, _) = sh_pod(
        &w,
        &["--root-mode=copy"],
        "test ! -e /marker && test -L /bin/echo && ! grep -q extra /etc/passwd",
    );
    assert_eq!(
        code(&o),
        0,
        "the second run did not start fresh: {}",
        explain(&o)
    );
    // Control: the default mode here is overlay, and says so.
    let (o, uuid) = sh_pod(&w, &[], "true");
    assert_eq!(code(&o), 0, "{}", explain(&o));
    let status = stdout(&acrun(&w, &["status", &uuid]));
    assert!(status.contains("root-busybox=overlay\n"), "{status}");
}

#[test]
fn a_copied_root_keeps_setuid_bits_and_copies_a_link_to_slash_as_a_link() {
    let w = World::new();
    let host = w.path("suid");
    std::fs::write(&host, b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&host, PermissionsExt::from_mode(0o4755)).unwrap();
    let app = r#"{"exec":["/bin/sh","-c","ls -l /bin/suid | cut -c1-10; readlink /up"],"user":"0","group":"0"}"#;
    let aci = support::busybox::image(&w, "suidimage", app, &[("bin/suid", &host)]);
    // The link `up -> /` goes in beside the file, packed once more with it.
    std::os::unix::fs::symlink("/", w.path("suidimage.src/rootfs/up")).unwrap();
    support::tar_aci(&w.path("suidimage.src"), &aci);
    let uuid_file = w.path("uuid");
    let o = run(
        &w,
        &[
            "--root-mode=copy",
            "--uuid-file-save",
            uuid_file.to_str().unwrap(),
            aci.to_str().unwrap(),
        ],
    );
    assert_eq!(stdout(&o), "-rwsr-xr-x\n/\n", "{}", explain(&o));
    let uuid = std::fs::read_to_string(&uuid_file).unwrap();
    let copy = app_dir(&w, uuid.trim(), "suidimage").join("rootfs");
    let up = copy.join("up").symlink_metadata().unwrap();
    assert!(up.file_type().is_symlink(), "the link was followed");
    assert_eq!(std::fs::read_link(copy.join("up")).unwrap(), Path::new("/"));
    // Control: overlay shows the same root.
    let o = run(&w, &["--root-mode=overlay", aci.to_str().unwrap()]);
    assert_eq!(stdout(&o), "-rwsr-xr-x\n/\n", "{}", explain(&o));
}

/// `acrun ARGS` in a private mount namespace where `state/pods` is an overlayfs, which cannot
/// be the upper layer of another overlay (so app roots cannot be overlays there).
fn in_namespace_without_overlay(w: &World, script: &str) -> std::process::Output {
    let pods = w.path("state/pods");
    for d in ["pods-lower", "pods-upper", "pods-work"] {
        std::fs::create_dir_all(w.path(d)).unwrap();
    }
    std::fs::create_dir_all(&pods).unwrap();
    let mount = format!(
        "mount -t overlay overlay -o lowerdir={},upperdir={},workdir={} {}",
        w.path("pods-lower").display(),
        w.path("pods-upper").display(),
        w.path("pods-work").display(),
        pods.display()
    );
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-ec"])
        .arg(format!("{mount}\n{script}"))
        .env("ACRUN", env!("CARGO_BIN_EXE_acrun"))
        .env("ACRUN_DIR", w.path("state"))
        .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
        .output()
        .expect("unshare (Debian package util-linux) is required")
}

#[test]
fn auto_copies_where_overlay_cannot_be_mounted() {
    let w = World::new();
    let aci = busybox(&w);
    let script = format!(
        "\"$ACRUN\" run --insecure-options=image --uuid-file-save {uuid} {mode} {aci} -- -c 'touch /w && echo wrote'\n\
         \"$ACRUN\" status $(cat {uuid})",
        uuid = w.path("uuid").display(),
        mode = "--root-mode=auto",
        aci = aci.display(),
    );
    let o = in_namespace_without_overlay(&w, &script);
    let out = stdout(&o);
    assert!(out.starts_with("wrote\n"), "{}", explain(&o));
    assert!(out.contains("root-busybox=copy\n"), "{}", explain(&o));
    // Refusal: overlay only, in the same place, cannot start the app (254, acrun's own failure).
    let script = format!(
        "\"$ACRUN\" run --insecure-options=image --root-mode=overlay {} -- -c 'echo ran'",
        aci.display()
    );
    let o = in_namespace_without_overlay(&w, &script);
    assert_eq!(code(&o), 254, "{}", explain(&o));
    assert_eq!(stdout(&o), "");
}

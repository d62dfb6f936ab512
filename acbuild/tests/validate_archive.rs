#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The archive-layout half of validation, through `acbuild cat-manifest`: a hostile archive is an
//! input error (exit 2) whose message names the offending entry.

use std::path::Path;
use std::process::Command;

fn tar_with(names: &[&str], dir: &Path) -> std::path::PathBuf {
    let root = dir.join("src");
    std::fs::create_dir_all(root.join("rootfs")).unwrap();
    std::fs::write(root.join("manifest"), "{}").unwrap();
    let aci = dir.join("bad.aci");
    let mut c = Command::new("tar");
    c.arg("-C").arg(&root).arg("-czf").arg(&aci);
    for n in names {
        if *n != "manifest" && *n != "rootfs" {
            let p = root.join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "x").unwrap();
        }
        c.arg(n);
    }
    assert!(c.status().unwrap().success());
    aci
}

fn cat_manifest(aci: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_acbuild"))
        .arg("cat-manifest")
        .arg(aci)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn entry_sharing_the_rootfs_prefix_is_rejected_by_name() {
    let t = tempfile::tempdir().unwrap();
    let aci = tar_with(&["manifest", "rootfs", "rootfs2/evil"], t.path());
    let (code, err) = cat_manifest(&aci);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("\"rootfs2/evil\"") && err.contains("outside rootfs/"),
        "{err}"
    );
}

#[test]
fn missing_manifest_is_rejected() {
    let t = tempfile::tempdir().unwrap();
    let aci = tar_with(&["rootfs"], t.path());
    let (code, err) = cat_manifest(&aci);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no manifest entry"), "{err}");
}

#[test]
fn garbage_is_rejected_without_a_panic() {
    let t = tempfile::tempdir().unwrap();
    let aci = t.path().join("g.aci");
    std::fs::write(&aci, b"\x1f\x8bthis is not gzip at all").unwrap();
    let (code, err) = cat_manifest(&aci);
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

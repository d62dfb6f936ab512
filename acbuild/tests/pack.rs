#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `acbuild pack` end to end on a real binary: actool accepts the output, the printed image ID is
//! the SHA-512 of the decompressed stream, and the bytes do not depend on mtimes, umask, TZ or jobs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/acbuild_cmd.rs"]
mod acbuild_cmd;

const MANIFEST: &str = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/etcd","labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}]}"#;

fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: apt-get install {package}"
    );
}

/// A layout dir with etcd, libc and the loader.
fn etcd_layout(root: &Path) -> PathBuf {
    require("/usr/bin/etcd", "etcd-server");
    let dir = root.join("layout");
    let rootfs = dir.join("rootfs");
    for (src, dst) in [
        ("/usr/bin/etcd", "usr/bin/etcd"),
        (
            "/lib/x86_64-linux-gnu/libc.so.6",
            "lib/x86_64-linux-gnu/libc.so.6",
        ),
        ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2"),
    ] {
        let to = rootfs.join(dst);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src, &to).unwrap();
    }
    std::fs::write(dir.join("manifest"), MANIFEST).unwrap();
    dir
}

/// Signing uses a key made once for this test process, never the user's own.
fn acbuild(args: &[&str]) -> Command {
    acbuild_cmd::acbuild(args)
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn actool_validate(aci: &Path) {
    require("/usr/bin/actool", "actool");
    let out = Command::new("actool")
        .arg("validate")
        .arg(aci)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actool rejects {}: {}",
        aci.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn actool_accepts_the_gzip_image_and_the_id_is_the_sha512_of_the_tar() {
    let t = tempfile::tempdir().unwrap();
    let dir = etcd_layout(t.path());
    let aci = t.path().join("etcd.aci");
    let id = ok(acbuild(&["pack", s(&dir), s(&aci)]).output().unwrap());
    actool_validate(&aci);
    let sh = Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -dc '{}' | sha512sum", aci.display()))
        .output()
        .unwrap();
    let digest = String::from_utf8(sh.stdout).unwrap();
    assert_eq!(
        id.trim(),
        format!("sha512-{}", digest.split_whitespace().next().unwrap())
    );
}

#[test]
fn actool_accepts_xz_bzip2_and_uncompressed_images() {
    let t = tempfile::tempdir().unwrap();
    let dir = etcd_layout(t.path());
    for c in ["xz", "bzip2", "none"] {
        let aci = t.path().join(format!("etcd-{c}.aci"));
        ok(acbuild(&["pack", s(&dir), s(&aci), "--compression", c])
            .output()
            .unwrap());
        actool_validate(&aci);
    }
}

#[test]
fn same_bytes_after_touch_under_another_umask_tz_and_jobs() {
    let t = tempfile::tempdir().unwrap();
    let dir = etcd_layout(t.path());
    let a = t.path().join("a.aci");
    let b = t.path().join("b.aci");
    ok(acbuild(&["pack", s(&dir), s(&a), "--jobs", "1"])
        .output()
        .unwrap());
    let touched = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "find '{}' -exec touch -d '2011-01-01 00:00' {{}} +",
            dir.display()
        ))
        .status()
        .unwrap();
    assert!(touched.success());
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 077 && exec '{}' pack '{}' '{}' --jobs 4",
            env!("CARGO_BIN_EXE_acbuild"),
            dir.display(),
            b.display()
        ))
        .env("TZ", "Asia/Tokyo")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    ok(out);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn source_date_epoch_sets_the_mtime_and_a_bad_one_is_a_usage_error() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    std::fs::write(dir.join("manifest"), MANIFEST).unwrap();
    let aci = t.path().join("x.aci");
    let out = acbuild(&["pack", s(&dir), s(&aci), "--compression", "none"])
        .env("SOURCE_DATE_EPOCH", "12345")
        .output()
        .unwrap();
    ok(out);
    let bytes = std::fs::read(&aci).unwrap();
    // mtime field of the first header, octal.
    let mtime = std::str::from_utf8(&bytes[136..147]).unwrap();
    assert_eq!(u64::from_str_radix(mtime, 8).unwrap(), 12345);
    let out = acbuild(&["pack", s(&dir), s(&aci)])
        .env("SOURCE_DATE_EPOCH", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn keeps_setuid_hardlinks_and_prints_json() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    std::fs::create_dir_all(dir.join("rootfs/bin")).unwrap();
    std::fs::write(dir.join("manifest"), MANIFEST).unwrap();
    std::fs::write(dir.join("rootfs/bin/a"), "x").unwrap();
    std::fs::hard_link(dir.join("rootfs/bin/a"), dir.join("rootfs/bin/b")).unwrap();
    Command::new("chmod")
        .args(["4755", s(&dir.join("rootfs/bin/a"))])
        .status()
        .unwrap();
    let aci = t.path().join("x.aci");
    let json = ok(acbuild(&["pack", s(&dir), s(&aci), "--json"])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["entries"], 5);
    assert_eq!(v["size"], std::fs::metadata(&aci).unwrap().len());
    let list = Command::new("tar").arg("tvzf").arg(&aci).output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.contains("-rwsr-xr-x 0/0"), "{list}");
    assert!(list.contains("rootfs/bin/b link to rootfs/bin/a"), "{list}");
    actool_validate(&aci);
}

#[test]
fn refuses_an_output_without_aci_suffix() {
    let t = tempfile::tempdir().unwrap();
    let out = acbuild(&["pack", s(t.path()), s(&t.path().join("x.tar"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cat_manifest_prints_the_manifest_bytes() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    std::fs::write(dir.join("manifest"), MANIFEST).unwrap();
    let aci = t.path().join("x.aci");
    ok(acbuild(&["pack", s(&dir), s(&aci)]).output().unwrap());
    assert_eq!(
        ok(acbuild(&["cat-manifest", s(&aci)]).output().unwrap()),
        MANIFEST
    );
}

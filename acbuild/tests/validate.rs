#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `acbuild validate` end to end: hostile archives and broken manifests are rejected with a message
//! that says what and where; valid images and manifests pass; nothing panics.
//!
//! Hostile archives are crafted with Python's `tarfile` (Debian's /usr/bin/python3), which, unlike
//! our own writer, will happily store absolute names, `..` and duplicates.

use std::path::{Path, PathBuf};
use std::process::Command;

const GOOD: &str = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/hello","app":{"exec":["/bin/hello"],"user":"0","group":"0"}}"#;

/// Write a gzip'ed tar at `dir/NAME.aci` whose entries are (name, type, data): type `f` file,
/// `d` directory, `l` symlink to data, `h` hardlink to data.
fn craft(dir: &Path, name: &str, entries: &[(&str, char, &str)]) -> PathBuf {
    let out = dir.join(format!("{name}.aci"));
    let spec = serde_json::to_string(
        &entries
            .iter()
            .map(|(n, t, d)| (n.to_string(), t.to_string(), d.to_string()))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let script = r#"
import io, json, sys, tarfile
out, spec = sys.argv[1], json.loads(sys.argv[2])
with tarfile.open(out, "w:gz", format=tarfile.GNU_FORMAT) as t:
    for name, kind, data in spec:
        ti = tarfile.TarInfo(name)
        if kind == "d":
            ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
        elif kind == "l":
            ti.type = tarfile.SYMTYPE; ti.linkname = data; t.addfile(ti)
        elif kind == "h":
            ti.type = tarfile.LNKTYPE; ti.linkname = data; t.addfile(ti)
        else:
            b = data.encode(); ti.size = len(b); ti.mode = 0o644; t.addfile(ti, io.BytesIO(b))
"#;
    let st = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(&out)
        .arg(spec)
        .status()
        .expect("/usr/bin/python3 is needed to craft hostile archives: apt-get install python3");
    assert!(st.success());
    out
}

fn validate(files: &[&Path]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_acbuild"))
        .arg("validate")
        .args(files)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("panicked"), "panic: {text}");
    (out.status.code().unwrap(), text)
}

fn assert_rejected(entries: &[(&str, char, &str)], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let aci = craft(dir.path(), "bad", entries);
    let (code, text) = validate(&[&aci]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains(expect), "expected {expect:?} in:\n{text}");
}

#[test]
fn accepts_a_well_formed_image() {
    let dir = tempfile::tempdir().unwrap();
    let aci = craft(
        dir.path(),
        "good",
        &[
            ("manifest", 'f', GOOD),
            ("rootfs", 'd', ""),
            ("rootfs/bin", 'd', ""),
            ("rootfs/bin/hello", 'f', "x"),
        ],
    );
    let (code, text) = validate(&[&aci]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("valid image sha512-"), "{text}");
}

#[test]
fn rejects_absolute_names() {
    assert_rejected(
        &[
            ("manifest", 'f', GOOD),
            ("rootfs", 'd', ""),
            ("/etc/passwd", 'f', "x"),
        ],
        "\"/etc/passwd\": absolute name",
    );
}

#[test]
fn rejects_parent_components() {
    assert_rejected(
        &[
            ("manifest", 'f', GOOD),
            ("rootfs", 'd', ""),
            ("rootfs/../../evil", 'f', "x"),
        ],
        "\"rootfs/../../evil\": name has a \"..\" component",
    );
}

#[test]
fn rejects_entries_outside_rootfs_by_path_component() {
    assert_rejected(
        &[
            ("manifest", 'f', GOOD),
            ("rootfs", 'd', ""),
            ("rootfs2/evil", 'f', "x"),
        ],
        "\"rootfs2/evil\": outside rootfs/",
    );
}

#[test]
fn rejects_duplicate_entries_after_cleaning() {
    assert_rejected(
        &[
            ("manifest", 'f', GOOD),
            ("rootfs", 'd', ""),
            ("rootfs/a", 'f', "1"),
            ("rootfs//./a", 'f', "2"),
        ],
        "duplicate of an earlier entry",
    );
}

#[test]
fn rejects_a_missing_manifest() {
    assert_rejected(
        &[("rootfs", 'd', ""), ("rootfs/a", 'f', "1")],
        "no manifest entry",
    );
}

#[test]
fn rejects_a_manifest_that_is_not_json() {
    assert_rejected(
        &[("manifest", 'f', "not json"), ("rootfs", 'd', "")],
        "entry \"manifest\": manifest: invalid JSON: expected ident at line 1 column 2",
    );
    assert_rejected(
        &[("manifest", 'f', "[1]"), ("rootfs", 'd', "")],
        "manifest is not a JSON object",
    );
}

#[test]
fn rejects_a_missing_rootfs_directory_entry() {
    assert_rejected(
        &[("manifest", 'f', GOOD), ("rootfs/a", 'f', "1")],
        "no rootfs directory entry",
    );
}

#[test]
fn rejects_hardlinks_out_of_the_rootfs() {
    assert_rejected(
        &[
            ("manifest", 'f', GOOD),
            ("rootfs", 'd', ""),
            ("rootfs/pw", 'h', "../etc/passwd"),
        ],
        "rootfs/pw",
    );
}

#[test]
fn rejects_manifest_rules_with_json_paths() {
    let bad = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"Example.com/Hello","app":{"exec":["hello"],"user":"0","group":"0","mountPoints":[{"name":"data","path":"relative"}]}}"#;
    let dir = tempfile::tempdir().unwrap();
    let aci = craft(
        dir.path(),
        "bad",
        &[("manifest", 'f', bad), ("rootfs", 'd', "")],
    );
    let (code, text) = validate(&[&aci]);
    assert_eq!(code, 1, "{text}");
    for path in [
        "manifest: ",
        "name:",
        "app.exec[0]:",
        "app.mountPoints[0].path:",
    ] {
        assert!(text.contains(path), "expected {path:?} in:\n{text}");
    }
}

#[test]
fn validates_bare_image_and_pod_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image.json");
    std::fs::write(&image, GOOD).unwrap();
    let pod = dir.path().join("pod.json");
    std::fs::write(
        &pod,
        r#"{"acKind":"PodManifest","acVersion":"0.8.11","apps":[]}"#,
    )
    .unwrap();
    let (code, text) = validate(&[&image, &pod]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("valid image manifest") && text.contains("valid pod manifest"),
        "{text}"
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, r#"{"acVersion":"0.8","name":"x"}"#).unwrap();
    let (code, text) = validate(&[&broken]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("acKind") && text.contains("acVersion"),
        "{text}"
    );
}

#[test]
fn prints_every_file_and_fails_if_any_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, GOOD).unwrap();
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, [0xffu8, 0x00, 0x13, 0x37]).unwrap();
    let (code, text) = validate(&[&good, &garbage]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("good.json: valid image manifest"), "{text}");
    assert!(text.contains("garbage.bin: not an ACI"), "{text}");
}

#[test]
fn a_missing_file_is_an_input_error() {
    let (code, text) = validate(&[Path::new("/nonexistent/x.aci")]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("/nonexistent/x.aci"), "{text}");
}

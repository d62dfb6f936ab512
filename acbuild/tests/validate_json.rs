#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 8 items 8, 9 (JSON) and 12, through the real `acbuild validate`: a bare manifest is read
//! to its end (too large is said so, trailing junk is refused), JSON that serde_json cannot take
//! gets a message saying why, duplicate keys are refused — bare and inside an archive, each next
//! to the same document accepted.

#[path = "../../appc/tests/support/tar_craft.rs"]
mod tar_craft;

use std::path::Path;
use std::process::Command;

use tar_craft::{TarWriter, compress};

const GOOD: &str = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app"}"#;

fn validate(file: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_acbuild"))
        .arg("validate")
        .arg(file)
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// Writes `bytes` as a bare manifest and as the manifest of a gzip'ed image; validates both.
fn both(dir: &Path, name: &str, bytes: &[u8]) -> [(Option<i32>, String); 2] {
    let bare = dir.join(format!("{name}.json"));
    std::fs::write(&bare, bytes).unwrap();
    let mut t = TarWriter::vec();
    t.file("manifest", bytes).dir("rootfs");
    let aci = dir.join(format!("{name}.aci"));
    std::fs::write(&aci, compress("gzip", &t.finished())).unwrap();
    [validate(&bare), validate(&aci)]
}

fn assert_both_refused(dir: &Path, name: &str, bytes: &[u8], needle: &str) {
    for (code, out) in both(dir, name, bytes) {
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains(needle), "expected {needle:?} in: {out}");
    }
}

fn assert_both_valid(dir: &Path, name: &str, bytes: &[u8]) {
    for (code, out) in both(dir, name, bytes) {
        assert_eq!(code, Some(0), "{out}");
    }
}

#[test]
fn a_bare_manifest_is_read_to_its_end() {
    let t = tempfile::tempdir().unwrap();
    let mut padded = GOOD.as_bytes().to_vec();
    padded.resize(1024 * 1024 + 100, b' ');
    padded.extend_from_slice(b"THIS IS NOT JSON");
    let f = t.path().join("padded.json");
    std::fs::write(&f, &padded).unwrap();
    let (code, out) = validate(&f);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("too large for a manifest"), "{out}");
    // Junk after the value, under the size limit.
    let mut junk = GOOD.as_bytes().to_vec();
    junk.extend_from_slice(b"\n THIS IS NOT JSON");
    assert_both_refused(
        t.path(),
        "junk",
        &junk,
        "data after the end of the JSON value",
    );
    // Control: whitespace after the value.
    let mut spaces = GOOD.as_bytes().to_vec();
    spaces.resize(1000 * 1024, b' ');
    assert_both_valid(t.path(), "spaces", &spaces);
}

#[test]
fn a_valid_manifest_over_the_limit_is_too_large() {
    let t = tempfile::tempdir().unwrap();
    let with_annotation = |len: usize| {
        format!(
            r#"{{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app","annotations":[{{"name":"description","value":"{}"}}]}}"#,
            "x".repeat(len)
        )
    };
    let f = t.path().join("big.json");
    std::fs::write(&f, with_annotation(2 << 20)).unwrap();
    let (code, out) = validate(&f);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("too large for a manifest"), "{out}");
    std::fs::write(&f, with_annotation(900 << 10)).unwrap();
    let (code, out) = validate(&f);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn json_the_parser_cannot_take_is_explained() {
    let t = tempfile::tempdir().unwrap();
    let nested = |depth: usize| {
        format!(
            r#"{{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app","x":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    assert_both_refused(
        t.path(),
        "deep",
        nested(200).as_bytes(),
        "nested more than 128 levels deep",
    );
    assert_both_valid(t.path(), "shallow", nested(100).as_bytes());
    let number = |n: &str| GOOD.replace('}', &format!(r#","x":{n}}}"#));
    assert_both_refused(
        t.path(),
        "huge-number",
        number("1e400").as_bytes(),
        "number out of range",
    );
    assert_both_valid(t.path(), "big-number", number("1e300").as_bytes());
    let latin1 = GOOD.replace("example.com/app\"", "example.com/app\",\"x\":\"caf\u{e9}\"");
    // The same text with the é as one Latin-1 byte.
    let mut bytes = latin1.replace('\u{e9}', "").into_bytes();
    let at = bytes.windows(4).position(|w| w == b"caf\"").unwrap() + 3;
    bytes.insert(at, 0xe9);
    assert_both_refused(t.path(), "latin1", &bytes, "not UTF-8");
    assert_both_valid(t.path(), "utf8", latin1.as_bytes());
}

#[test]
fn duplicate_keys_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let dup = GOOD.replace('}', r#","name":"evil.com/x"}"#);
    assert_both_refused(
        t.path(),
        "dup",
        dup.as_bytes(),
        "name: key \"name\" given more than once",
    );
    let case = GOOD.replace('}', r#","Name":"evil.com/x"}"#);
    assert_both_refused(t.path(), "case", case.as_bytes(), "given more than once");
    assert_both_valid(t.path(), "single", GOOD.as_bytes());
}

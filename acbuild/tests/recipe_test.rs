#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end: `acbuild test` and `acbuild build --test` build a recipe, then run its `test`
//! blocks in the image under the real acrun (a throwaway store trusting only the signing key).
//! Needs root (acrun runs pods in namespaces), busybox-static and etcd (xtask/debian-packages.txt),
//! and acrun built beside acbuild (`cargo test --workspace` builds it).

use std::path::{Path, PathBuf};
use std::process::Output;

#[path = "support/acbuild_cmd.rs"]
mod acbuild_cmd;

/// acrun, from the same target directory as the acbuild under test.
fn acrun() -> PathBuf {
    let acrun = Path::new(env!("CARGO_BIN_EXE_acbuild")).with_file_name("acrun");
    assert!(
        acrun.is_file(),
        "{} is missing: build it first (cargo build -p acrun; cargo test --workspace does)",
        acrun.display()
    );
    acrun
}

fn require_busybox() {
    assert!(
        Path::new("/bin/busybox").is_file(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
}

/// `acbuild ARGS... --out DIR/out --acrun ACRUN` in the clean environment, from `dir`.
fn acbuild(dir: &Path, args: &[&str]) -> Output {
    let out = dir.join("out");
    acbuild_cmd::acbuild(args)
        .arg("--out")
        .arg(&out)
        .arg("--acrun")
        .arg(acrun())
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A busybox image whose tests are `tests` (KDL `test` nodes).
fn busybox_recipe(dir: &Path, tests: &str) -> PathBuf {
    require_busybox();
    let path = dir.join("bb.kdl");
    std::fs::write(
        &path,
        format!(
            "image \"example.com/bb\" version=\"1.0\" {{\n    program \"/bin/busybox\"\n{tests}}}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn the_etcd_recipe_tests_pass() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes/etcd.kdl");
    let o = acbuild(dir.path(), &["test", recipe.to_str().unwrap()]);
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    assert!(
        all.contains("test coreos.com/etcd version ... ok ("),
        "{all}"
    );
    assert!(
        all.contains("test coreos.com/etcd ctl-version ... ok ("),
        "{all}"
    );
    assert!(
        all.contains("coreos.com/etcd: tests: 2 passed, 0 failed"),
        "{all}"
    );
}

#[test]
fn a_test_expecting_the_wrong_output_fails_showing_the_expectation_and_the_real_output() {
    let dir = tempfile::tempdir().unwrap();
    // The positive control sits beside the failing test: the same command, the right text.
    let recipe = busybox_recipe(
        dir.path(),
        r#"    test "right" {
        exec "/bin/busybox" "echo" "hello from the image"
        expect-stdout-contains "hello from"
    }
    test "wrong" {
        exec "/bin/busybox" "echo" "hello from the image"
        expect-stdout-contains "goodbye"
    }
"#,
    );
    let o = acbuild(dir.path(), &["test", recipe.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(out.contains("test example.com/bb right ... ok ("), "{out}");
    assert!(
        out.contains("test example.com/bb wrong ... FAILED ("),
        "{out}"
    );
    assert!(
        out.contains("    expected: expect-stdout-contains \"goodbye\"\n    got: exit status 0\n"),
        "{out}"
    );
    assert!(
        out.contains("    stdout (last 20 lines):\n      | hello from the image\n"),
        "{out}"
    );
    assert!(
        out.contains("example.com/bb: tests: 1 passed, 1 failed"),
        "{out}"
    );
}

#[test]
fn exit_status_stderr_and_timeout_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = busybox_recipe(
        dir.path(),
        r#"    test "exit-3" {
        exec "/bin/busybox" "sh" "-c" "echo out; echo oops >&2; exit 3"
        expect-exit 3
        expect-stdout-contains "out"
        expect-stderr-contains "oops"
    }
    test "exit-3-not-4" {
        exec "/bin/busybox" "sh" "-c" "echo out; echo oops >&2; exit 3"
        expect-exit 4
    }
    test "stderr-is-not-stdout" {
        exec "/bin/busybox" "sh" "-c" "echo oops >&2"
        expect-stdout-contains "oops"
    }
    test "quick" {
        exec "/bin/busybox" "sleep" "0"
        timeout 5
    }
    test "slow" {
        exec "/bin/busybox" "sleep" "60"
        timeout 1
    }
"#,
    );
    let o = acbuild(
        dir.path(),
        &["build", "--test", "--json", recipe.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tests = summary[0]["tests"].as_array().unwrap();
    let by_name = |n: &str| tests.iter().find(|t| t["name"] == n).unwrap().clone();
    assert_eq!(by_name("exit-3")["passed"], true, "{}", text(&o));
    assert_eq!(by_name("quick")["passed"], true, "{}", text(&o));
    let wrong_exit = by_name("exit-3-not-4");
    assert_eq!(wrong_exit["passed"], false);
    assert_eq!(
        wrong_exit["unmet"],
        serde_json::json!([{"expectation": "expect-exit", "value": 4}])
    );
    assert_eq!(
        wrong_exit["ending"],
        serde_json::json!({"kind": "exit", "value": 3})
    );
    assert!(
        wrong_exit["stderr_tail"].as_str().unwrap().contains("oops"),
        "{wrong_exit}"
    );
    assert_eq!(by_name("stderr-is-not-stdout")["passed"], false);
    let slow = by_name("slow");
    assert_eq!(slow["passed"], false);
    assert_eq!(slow["ending"]["kind"], "timed-out");
    assert!(slow["duration_ms"].as_u64().unwrap() < 30_000, "{slow}");
    // In JSON mode the readable reports go to stderr.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("    expected: timeout 1 (seconds)\n"), "{err}");
}

#[test]
fn a_build_without_test_runs_no_test() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = busybox_recipe(
        dir.path(),
        "    test \"wrong\" {\n        exec \"/bin/busybox\" \"false\"\n    }\n",
    );
    let built = acbuild(dir.path(), &["build", recipe.to_str().unwrap()]);
    assert!(built.status.success(), "{}", text(&built));
    let tested = acbuild(dir.path(), &["test", recipe.to_str().unwrap()]);
    assert_eq!(tested.status.code(), Some(1), "{}", text(&tested));
}

#[test]
fn a_missing_acrun_is_an_input_error_before_anything_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = busybox_recipe(
        dir.path(),
        "    test \"t\" {\n        exec \"/bin/busybox\" \"true\"\n    }\n",
    );
    let o = acbuild_cmd::acbuild([
        "test",
        recipe.to_str().unwrap(),
        "--acrun",
        "/nonexistent/acrun",
    ])
    .arg("--out")
    .arg(dir.path().join("out"))
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--acrun /nonexistent/acrun: no such file"),
        "{}",
        text(&o)
    );
    assert!(!dir.path().join("out").exists(), "nothing is built");
    // Positive control: with the real acrun the same recipe builds and its test passes.
    let o = acbuild(dir.path(), &["test", recipe.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
}

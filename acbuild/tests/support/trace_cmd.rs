//! Running `acbuild trace` from the end-to-end tests (shared by tests/trace.rs and tests/trace_real.rs).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Output;

/// `acbuild trace ARGS...` in the tests' clean environment, whatever its outcome.
pub fn acbuild(args: &[&str]) -> Output {
    crate::acbuild_cmd::acbuild(["trace"])
        .args(args)
        .output()
        .unwrap()
}

/// The `paths` output of a trace that must succeed.
pub fn traced_paths(args: &[&str]) -> BTreeSet<PathBuf> {
    let out = acbuild(args);
    assert!(
        out.status.success(),
        "acbuild trace {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect()
}

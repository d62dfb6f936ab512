//! Test reports as text for a terminal or a CI log: one line per test; for a failure the unmet
//! expectations, how the command ended and the tails of its output.
//!
//! Output comes from the image, so control characters are escaped before they reach a terminal
//! (`appc::untrusted_text`); line breaks and tabs are kept.

use std::fmt::Write;

use appc::untrusted_text::{escape, escape_keeping_layout};

use super::{TAIL_LINES, TestReport};

/// The report of one test of `image`.
pub fn report(image: &str, r: &TestReport) -> String {
    let mut out = String::new();
    let verdict = if r.passed { "ok" } else { "FAILED" };
    let _ = writeln!(
        out,
        "test {} {} ... {verdict} ({})",
        escape(image),
        escape(&r.name),
        duration(r.duration_ms)
    );
    if r.passed {
        return out;
    }
    for unmet in &r.unmet {
        let _ = writeln!(out, "    expected: {unmet}");
    }
    let _ = writeln!(out, "    got: {}", r.ending);
    for (stream, tail) in [("stdout", &r.stdout_tail), ("stderr", &r.stderr_tail)] {
        if tail.is_empty() {
            let _ = writeln!(out, "    {stream}: (empty)");
            continue;
        }
        let _ = writeln!(out, "    {stream} (last {TAIL_LINES} lines):");
        for line in escape_keeping_layout(tail).lines() {
            let _ = writeln!(out, "      | {line}");
        }
    }
    out
}

/// The closing line: how many passed and failed.
pub fn summary(reports: &[TestReport]) -> String {
    let failed = reports.iter().filter(|r| !r.passed).count();
    format!("tests: {} passed, {failed} failed", reports.len() - failed)
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.2} s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Ending, Unmet};
    use super::*;

    fn failed() -> TestReport {
        TestReport {
            name: "version".into(),
            passed: false,
            duration_ms: 1500,
            ending: Ending::Exit(0),
            unmet: vec![Unmet::ExpectStdoutContains("9.9.9".into())],
            stdout_tail: "etcd Version: 3.4.23\n\x1b[31m".into(),
            stderr_tail: String::new(),
        }
    }

    #[test]
    fn a_failure_shows_the_expectation_the_ending_and_the_output() {
        let text = report("coreos.com/etcd", &failed());
        assert!(text.starts_with("test coreos.com/etcd version ... FAILED (1.50 s)\n"));
        assert!(text.contains("    expected: expect-stdout-contains \"9.9.9\"\n"));
        assert!(text.contains("    got: exit status 0\n"));
        assert!(text.contains("      | etcd Version: 3.4.23\n"));
        assert!(text.contains("    stderr: (empty)\n"));
        assert!(
            !text.contains('\x1b'),
            "control characters are escaped: {text}"
        );
    }

    #[test]
    fn a_pass_is_one_line() {
        let mut r = failed();
        r.passed = true;
        r.unmet.clear();
        r.duration_ms = 12;
        assert_eq!(report("a", &r), "test a version ... ok (12 ms)\n");
        assert_eq!(summary(&[r, failed()]), "tests: 1 passed, 1 failed");
    }
}

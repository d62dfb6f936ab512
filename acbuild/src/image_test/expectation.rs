//! What a recipe test expects, checked against how its command ended: pure data, no processes.
//!
//! Every expectation of the `test` block is checked, so a failure lists all that were unmet, not
//! only the first. Texts are matched as plain substrings of the whole captured stream.

use std::fmt;

use crate::recipe::Test;

use super::child::Finished;

/// acrun's exit status for its own failures (not the app's).
pub const ACRUN_FAILURE: i32 = 254;

/// How the command ended, as the test sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum Ending {
    /// Exited with this status.
    Exit(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Stopped at its time limit.
    TimedOut,
}

impl Ending {
    /// The ending of a finished process.
    pub fn of(finished: &Finished) -> Ending {
        use std::os::unix::process::ExitStatusExt;
        match finished.status {
            _ if finished.timed_out => Ending::TimedOut,
            Some(status) => match (status.code(), status.signal()) {
                (Some(code), _) => Ending::Exit(code),
                (None, Some(signal)) => Ending::Signal(signal),
                (None, None) => Ending::TimedOut,
            },
            None => Ending::TimedOut,
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Exit(ACRUN_FAILURE) => {
                write!(
                    f,
                    "exit status {ACRUN_FAILURE} (acrun's own failure: see stderr)"
                )
            }
            Ending::Exit(code) => write!(f, "exit status {code}"),
            Ending::Signal(signal) => write!(f, "killed by signal {signal}"),
            Ending::TimedOut => write!(f, "stopped at the time limit"),
        }
    }
}

/// One expectation the run did not meet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "expectation", content = "value")]
pub enum Unmet {
    /// `expect-exit N` (default 0), and the command ended otherwise.
    ExpectExit(i32),
    /// `expect-stdout-contains TEXT`.
    ExpectStdoutContains(String),
    /// `expect-stderr-contains TEXT`.
    ExpectStderrContains(String),
    /// `timeout SECS` (or the default limit) was reached.
    Timeout(u64),
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |t: &str| format!("{:?}", appc::untrusted_text::escape(t));
        match self {
            Unmet::ExpectExit(code) => write!(f, "expect-exit {code}"),
            Unmet::ExpectStdoutContains(t) => write!(f, "expect-stdout-contains {}", quoted(t)),
            Unmet::ExpectStderrContains(t) => write!(f, "expect-stderr-contains {}", quoted(t)),
            Unmet::Timeout(secs) => write!(f, "timeout {secs} (seconds)"),
        }
    }
}

/// Every expectation of `test` that `finished` does not meet (empty: the test passed).
pub fn unmet(test: &Test, finished: &Finished, limit_secs: u64) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    let ending = Ending::of(finished);
    if ending == Ending::TimedOut {
        unmet.push(Unmet::Timeout(limit_secs));
    } else if ending != Ending::Exit(test.expect_exit) {
        unmet.push(Unmet::ExpectExit(test.expect_exit));
    }
    let stdout = finished.stdout.text();
    for want in &test.expect_stdout_contains {
        if !stdout.contains(&want.value) {
            unmet.push(Unmet::ExpectStdoutContains(want.value.clone()));
        }
    }
    let stderr = finished.stderr.text();
    for want in &test.expect_stderr_contains {
        if !stderr.contains(&want.value) {
            unmet.push(Unmet::ExpectStderrContains(want.value.clone()));
        }
    }
    unmet
}

#[cfg(test)]
mod tests {
    use super::super::child::Output;
    use super::*;
    use crate::recipe::Spanned;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    use std::time::Duration;

    fn s(t: &str) -> Spanned<String> {
        Spanned::new(t.to_owned(), (0, 0).into())
    }

    fn test(exit: i32, out: &[&str], err: &[&str]) -> Test {
        Test {
            name: s("t"),
            exec: vec![s("/bin/true")],
            expect_exit: exit,
            expect_stdout_contains: out.iter().map(|t| s(t)).collect(),
            expect_stderr_contains: err.iter().map(|t| s(t)).collect(),
            timeout: None,
            span: (0, 0).into(),
        }
    }

    fn finished(code: i32, out: &str, err: &str) -> Finished {
        Finished {
            status: Some(ExitStatus::from_raw(code << 8)),
            timed_out: false,
            stdout: Output {
                bytes: out.as_bytes().to_vec(),
                dropped: 0,
            },
            stderr: Output {
                bytes: err.as_bytes().to_vec(),
                dropped: 0,
            },
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn a_run_meeting_every_expectation_passes() {
        let t = test(3, &["1.0", "ok"], &["warn"]);
        assert!(unmet(&t, &finished(3, "v1.0 ok\n", "a warning\n"), 60).is_empty());
    }

    #[test]
    fn every_unmet_expectation_is_listed() {
        let t = test(0, &["1.0", "ok"], &["warn"]);
        assert_eq!(
            unmet(&t, &finished(2, "v1.0\n", "\n"), 60),
            [
                Unmet::ExpectExit(0),
                Unmet::ExpectStdoutContains("ok".into()),
                Unmet::ExpectStderrContains("warn".into()),
            ]
        );
    }

    #[test]
    fn stdout_and_stderr_are_not_mixed_up() {
        let t = test(0, &["only-on-stderr"], &[]);
        assert_eq!(
            unmet(&t, &finished(0, "", "only-on-stderr\n"), 60),
            [Unmet::ExpectStdoutContains("only-on-stderr".into())]
        );
    }

    #[test]
    fn a_timed_out_run_fails_even_with_no_other_expectation() {
        let mut f = finished(0, "", "");
        f.status = None;
        f.timed_out = true;
        assert_eq!(unmet(&test(0, &[], &[]), &f, 5), [Unmet::Timeout(5)]);
    }

    #[test]
    fn a_signal_death_is_not_an_exit_status() {
        let mut f = finished(0, "", "");
        f.status = Some(ExitStatus::from_raw(9));
        assert_eq!(Ending::of(&f), Ending::Signal(9));
        assert_eq!(unmet(&test(0, &[], &[]), &f, 5), [Unmet::ExpectExit(0)]);
    }
}

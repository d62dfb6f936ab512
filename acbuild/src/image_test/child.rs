//! One child process run to completion or to a time limit, with its output captured.
//!
//! Defends against a test that never ends (the caller's stop action runs at the deadline, then
//! the process is killed if it still lives) and against output floods (each stream keeps at most
//! [`KEEP_BYTES`]: the first half and the last half, with the dropped middle counted).

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes kept of each output stream.
pub const KEEP_BYTES: usize = 8 << 20;

/// What the process wrote on one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The kept bytes (all of them when `dropped` is 0).
    pub bytes: Vec<u8>,
    /// Bytes dropped from the middle of a longer output.
    pub dropped: u64,
}

impl Output {
    /// The output as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Its last `lines` lines.
    pub fn tail(&self, lines: usize) -> String {
        let text = self.text();
        let trimmed = text.trim_end_matches('\n');
        let start = trimmed
            .rmatch_indices('\n')
            .nth(lines.saturating_sub(1))
            .map_or(0, |(i, _)| i + 1);
        if lines == 0 {
            return String::new();
        }
        trimmed[start..].to_owned()
    }
}

/// How the process ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status; `None` when it had to be killed after the time limit.
    pub status: Option<ExitStatus>,
    /// Whether the time limit was reached.
    pub timed_out: bool,
    /// Standard output.
    pub stdout: Output,
    /// Standard error.
    pub stderr: Output,
    /// Wall time from start to end.
    pub duration: Duration,
}

/// Run `cmd` (stdin empty, stdout and stderr captured) for at most `limit`; at the limit run
/// `stop` (which should make the process end), and kill it if it is still alive `grace` later.
pub fn run(
    cmd: &mut Command,
    limit: Duration,
    grace: Duration,
    stop: &dyn Fn(),
) -> io::Result<Finished> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = child.stdout.take().map(reader);
    let err = child.stderr.take().map(reader);
    let (status, timed_out) = match wait_until(&mut child, start + limit)? {
        Some(status) => (Some(status), false),
        None => {
            stop();
            match wait_until(&mut child, Instant::now() + grace)? {
                Some(status) => (Some(status), true),
                None => {
                    child.kill()?;
                    child.wait()?;
                    (None, true)
                }
            }
        }
    };
    let duration = start.elapsed();
    Ok(Finished {
        status: if timed_out { None } else { status },
        timed_out,
        stdout: join(out),
        stderr: join(err),
        duration,
    })
}

/// Wait for the child until `deadline`; `None` if it still runs.
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn reader(mut stream: impl Read + Send + 'static) -> JoinHandle<Output> {
    std::thread::spawn(move || {
        let mut kept = Output::default();
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        let half = KEEP_BYTES / 2;
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut chunk = &buf[..n];
            if kept.bytes.len() < half {
                let take = chunk.len().min(half - kept.bytes.len());
                kept.bytes.extend_from_slice(&chunk[..take]);
                chunk = &chunk[take..];
            }
            tail.extend_from_slice(chunk);
            if tail.len() > 2 * half {
                let excess = tail.len() - half;
                kept.dropped += excess as u64;
                tail.drain(..excess);
            }
        }
        if tail.len() > half {
            let excess = tail.len() - half;
            kept.dropped += excess as u64;
            tail.drain(..excess);
        }
        kept.bytes.extend_from_slice(&tail);
        kept
    })
}

fn join(handle: Option<JoinHandle<Output>>) -> Output {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_status_are_captured() {
        let done = run(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(30),
            Duration::ZERO,
            &|| {},
        )
        .unwrap();
        assert_eq!(done.stdout.text(), "out\n");
        assert_eq!(done.stderr.text(), "err\n");
        assert_eq!(done.status.and_then(|s| s.code()), Some(3));
        assert!(!done.timed_out);
    }

    #[test]
    fn a_process_past_its_limit_is_stopped_and_reported() {
        let stopped = std::sync::atomic::AtomicBool::new(false);
        let done = run(
            Command::new("sleep").arg("30"),
            Duration::from_millis(100),
            Duration::ZERO,
            &|| stopped.store(true, std::sync::atomic::Ordering::SeqCst),
        )
        .unwrap();
        assert!(done.timed_out);
        assert!(done.status.is_none());
        assert!(stopped.load(std::sync::atomic::Ordering::SeqCst));
        // Positive control: the same command within its limit.
        let done = run(
            Command::new("sleep").arg("0"),
            Duration::from_secs(30),
            Duration::ZERO,
            &|| {},
        )
        .unwrap();
        assert!(!done.timed_out);
    }

    #[test]
    fn a_flood_keeps_its_beginning_and_end() {
        let script = format!(
            "echo first; head -c {} /dev/zero | tr '\\0' x; echo; echo last",
            KEEP_BYTES * 2
        );
        let done = run(
            Command::new("sh").args(["-c", &script]),
            Duration::from_secs(60),
            Duration::ZERO,
            &|| {},
        )
        .unwrap();
        assert!(done.stdout.bytes.len() <= KEEP_BYTES);
        assert!(done.stdout.dropped > 0);
        assert!(done.stdout.text().starts_with("first\n"));
        assert_eq!(done.stdout.tail(1), "last");
    }

    #[test]
    fn tail_takes_the_last_lines() {
        let o = Output {
            bytes: b"a\nb\nc\n".to_vec(),
            dropped: 0,
        };
        assert_eq!(o.tail(2), "b\nc");
        assert_eq!(o.tail(10), "a\nb\nc");
        assert_eq!(o.tail(0), "");
    }
}

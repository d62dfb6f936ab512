//! A pod run in the background by a test, stopped with `acrun stop` however the test ends.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::World;
use super::busybox::{acrun, explain};

/// A pod started in the background; stopped with `acrun stop` when dropped.
pub struct Pod<'w> {
    w: &'w World,
    child: Option<Child>,
    uuid: String,
}

impl<'w> Pod<'w> {
    /// `acrun run --uuid-file-save FILE ARGS...`, returned once the pod is running.
    pub fn start(w: &'w World, args: &[&str]) -> Pod<'w> {
        let uuid_file = w.path("uuid");
        let _ = std::fs::remove_file(&uuid_file);
        let mut child = Command::new(env!("CARGO_BIN_EXE_acrun"))
            .env("ACRUN_DIR", w.path("state"))
            .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
            .args(["run", "--uuid-file-save"])
            .arg(&uuid_file)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(w.path("pod.stderr")).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(u) = std::fs::read_to_string(&uuid_file) {
                let st = acrun(w, &["status", u.trim()]);
                if String::from_utf8_lossy(&st.stdout).contains("state=running") {
                    return Pod {
                        w,
                        child: Some(child),
                        uuid: u.trim().to_owned(),
                    };
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                let err = std::fs::read_to_string(w.path("pod.stderr")).unwrap_or_default();
                panic!("the pod ended before running: {status}: {err}");
            }
            assert!(Instant::now() < deadline, "the pod did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The pod's UUID.
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// What `acrun run` wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.w.path("pod.stderr")).unwrap_or_default()
    }

    /// `acrun stop`, then acrun's exit code.
    pub fn stop(mut self) -> i32 {
        let o = acrun(self.w, &["stop", &self.uuid]);
        assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
        let status = self.child.take().unwrap().wait().unwrap();
        status.code().unwrap_or(-1)
    }
}

impl Drop for Pod<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = acrun(self.w, &["stop", "--timeout", "1", &self.uuid]);
            let _ = child.wait();
        }
    }
}

/// Retries `attempt` until it gives an answer (the app may not listen yet).
pub fn eventually<T>(what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = attempt() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: no answer in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

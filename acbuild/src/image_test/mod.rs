//! Recipe tests: each `test` block of a recipe run in the built image by `acrun`.
//!
//! acrun is a separate program run as a subprocess (beside the acbuild executable, else on
//! `PATH`): the tools stay composable and the image is tested exactly as users run it. Each
//! recipe's tests get a throwaway store — a fresh temporary `acrun --dir` and an empty
//! `--system-trust-dir` — in which only the public key that signed the image is trusted, for the
//! image's own name; the image is fetched once (signature checked, archive verified) and each test
//! is one `acrun run IMAGE-ID --exec PROGRAM -- ARGS`.
//!
//! Defends against tests that pass because of the host: no host trust store, stored image or
//! host file is consulted (the command runs in the image's root). A test that hangs is stopped at
//! its time limit (`acrun stop`, then killed); output is captured with a bound
//! ([`child::KEEP_BYTES`]). An unsigned image (`--no-sign`) is fetched with
//! `--insecure-options=image`, and the report says so.

pub mod child;
pub mod expectation;
pub mod render;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error_kind::ErrorKind;
use crate::recipe::Test;

pub use expectation::{Ending, Unmet};

/// The time limit of a test that sets no `timeout`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// Lines of each output stream shown for a failed test.
pub const TAIL_LINES: usize = 20;

/// How long a stopped pod may take to end before acrun is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// Why the tests could not be run at all (a failing test is a [`TestReport`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// No acrun beside acbuild nor on `PATH`.
    #[error("cannot find acrun beside {beside} or on PATH; install it or pass --acrun FILE")]
    NoAcrun {
        /// The directory looked in first.
        beside: String,
    },
    /// `--acrun FILE` names no file.
    #[error("--acrun {}: no such file", .0.display())]
    AcrunMissing(PathBuf),
    /// Starting a program, or a temporary directory, failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// acrun refused to set up the store (trust, fetch).
    #[error("{step} failed ({status}): {stderr}")]
    Setup {
        /// The acrun command line.
        step: String,
        /// Its exit status.
        status: String,
        /// The end of its error output.
        stderr: String,
    },
}

impl TestError {
    /// A missing acrun is the environment's (exit 2); a refused setup is a failed test run (1).
    pub fn kind(&self) -> ErrorKind {
        match self {
            TestError::NoAcrun { .. } | TestError::AcrunMissing(_) => ErrorKind::Input,
            TestError::Io { .. } | TestError::Setup { .. } => ErrorKind::Failure,
        }
    }
}

/// The outcome of one test.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestReport {
    /// The test's name.
    pub name: String,
    /// Whether every expectation was met.
    pub passed: bool,
    /// Wall time of the `acrun run`.
    pub duration_ms: u64,
    /// How the command ended.
    pub ending: Ending,
    /// The expectations not met (empty when passed).
    pub unmet: Vec<Unmet>,
    /// The last [`TAIL_LINES`] lines of standard output.
    pub stdout_tail: String,
    /// The last [`TAIL_LINES`] lines of standard error (acrun's own messages included).
    pub stderr_tail: String,
}

/// Find acrun: `explicit` if given, else beside the running executable, else on `PATH`.
pub fn locate_acrun(explicit: Option<&Path>) -> Result<PathBuf, TestError> {
    if let Some(path) = explicit {
        return match path.is_file() {
            true => Ok(path.to_owned()),
            false => Err(TestError::AcrunMissing(path.to_owned())),
        };
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("acrun")));
    if let Some(path) = beside.as_ref().filter(|p| p.is_file()) {
        return Ok(path.clone());
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("acrun"))
            .find(|p| p.is_file())
    });
    on_path.ok_or_else(|| TestError::NoAcrun {
        beside: beside
            .and_then(|p| p.parent().map(|d| d.display().to_string()))
            .unwrap_or_else(|| "acbuild".to_owned()),
    })
}

/// A throwaway acrun store holding one fetched image.
#[derive(Debug)]
pub struct Sandbox {
    dir: tempfile::TempDir,
    acrun: PathBuf,
    image_id: String,
    /// Whether the image was fetched without a signature check (`--no-sign`).
    pub insecure: bool,
}

impl Sandbox {
    /// A fresh store trusting `public_key` (armoured) for `name`, with `image` fetched into it;
    /// without a key the image is fetched unverified.
    pub fn prepare(
        acrun: &Path,
        image: &Path,
        name: &str,
        public_key: Option<&[u8]>,
    ) -> Result<Sandbox, TestError> {
        let dir = tempfile::Builder::new()
            .prefix("acbuild-test-")
            .tempdir()
            .map_err(|source| TestError::Io {
                what: "making a temporary acrun store".into(),
                source,
            })?;
        let mut sandbox = Sandbox {
            dir,
            acrun: acrun.to_owned(),
            image_id: String::new(),
            insecure: public_key.is_none(),
        };
        let system = sandbox.dir.path().join("system-trust");
        std::fs::create_dir(&system).map_err(|source| TestError::Io {
            what: format!("creating {}", system.display()),
            source,
        })?;
        let image = std::path::absolute(image).unwrap_or_else(|_| image.to_owned());
        let image = image.to_string_lossy().into_owned();
        let fetched = if let Some(key) = public_key {
            let key_file = sandbox.dir.path().join("signer.pub.asc");
            std::fs::write(&key_file, key).map_err(|source| TestError::Io {
                what: format!("writing {}", key_file.display()),
                source,
            })?;
            let key_file = key_file.to_string_lossy().into_owned();
            sandbox.acrun_ok(&["trust", "--prefix", name, &key_file])?;
            sandbox.acrun_ok(&["fetch", &image])?
        } else {
            sandbox.acrun_ok(&["fetch", "--insecure-options=image", &image])?
        };
        sandbox.image_id = fetched.trim().to_owned();
        Ok(sandbox)
    }

    /// `acrun --dir STORE --system-trust-dir EMPTY ARGS...`.
    fn acrun(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.acrun);
        cmd.arg("--dir")
            .arg(self.dir.path().join("store"))
            .arg("--system-trust-dir")
            .arg(self.dir.path().join("system-trust"))
            .args(args)
            .env_remove("ACRUN_DIR")
            .env_remove("ACRUN_SYSTEM_TRUST_DIR")
            // acrun and the pods it starts never need the signing key's secrets.
            .env_remove("ACBUILD_KEY_PASSPHRASE")
            .env_remove("ACBUILD_SIGN_KEY");
        cmd
    }

    /// Run acrun to completion; its stdout when it succeeds.
    fn acrun_ok(&self, args: &[&str]) -> Result<String, TestError> {
        let step = format!("acrun {}", args.join(" "));
        let out = self.acrun(args).output().map_err(|source| TestError::Io {
            what: format!("running {}", self.acrun.display()),
            source,
        })?;
        if !out.status.success() {
            let stderr = child::Output {
                bytes: out.stderr,
                dropped: 0,
            };
            return Err(TestError::Setup {
                step,
                status: out.status.to_string(),
                stderr: stderr.tail(TAIL_LINES),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Run one test (the `index`th of the recipe): `acrun run IMAGE --exec PROGRAM -- ARGS`,
    /// judged against its expectations. An argument `---` would end the app for acrun's command
    /// line, so it cannot be passed.
    pub fn run(&self, index: usize, test: &Test) -> Result<TestReport, TestError> {
        let limit = test.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS);
        let uuid_file = self.dir.path().join(format!("test-{index}.uuid"));
        let uuid_arg = uuid_file.to_string_lossy().into_owned();
        let mut args = vec!["run", "--uuid-file-save", &uuid_arg];
        if self.insecure {
            args.push("--insecure-options=image");
        }
        args.push(&self.image_id);
        let exec: Vec<&str> = test.exec.iter().map(|s| s.value.as_str()).collect();
        if let Some((program, rest)) = exec.split_first() {
            args.extend(["--exec", program, "--"]);
            args.extend(rest);
        }
        let stop = || {
            if let Ok(uuid) = std::fs::read_to_string(&uuid_file) {
                let _ = self
                    .acrun(&["stop", uuid.trim(), "--timeout", "5"])
                    .output();
            }
        };
        let finished = child::run(
            &mut self.acrun(&args),
            Duration::from_secs(limit),
            STOP_GRACE,
            &stop,
        )
        .map_err(|source| TestError::Io {
            what: format!("running {}", self.acrun.display()),
            source,
        })?;
        let unmet = expectation::unmet(test, &finished, limit);
        Ok(TestReport {
            name: test.name.value.clone(),
            passed: unmet.is_empty(),
            duration_ms: u64::try_from(finished.duration.as_millis()).unwrap_or(u64::MAX),
            ending: Ending::of(&finished),
            unmet,
            stdout_tail: finished.stdout.tail(TAIL_LINES),
            stderr_tail: finished.stderr.tail(TAIL_LINES),
        })
    }
}

impl Drop for Sandbox {
    /// Remove the exited pods (their cgroups live outside the temporary directory).
    fn drop(&mut self) {
        let _ = self.acrun(&["gc"]).output();
    }
}

/// Run every test of a recipe against its built image. `tests` empty: nothing is run.
pub fn run_tests(
    acrun: &Path,
    image: &Path,
    name: &str,
    tests: &[Test],
    public_key: Option<&[u8]>,
) -> Result<Vec<TestReport>, TestError> {
    if tests.is_empty() {
        return Ok(Vec::new());
    }
    let sandbox = Sandbox::prepare(acrun, image, name, public_key)?;
    tests
        .iter()
        .enumerate()
        .map(|(i, t)| sandbox.run(i, t))
        .collect()
}

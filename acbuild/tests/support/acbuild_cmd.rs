//! Running the acbuild binary from the end-to-end tests, always in one clean environment (as
//! ripgrep's `tests/util.rs` does): nothing inherited from the developer's shell can change what
//! acbuild writes or which key it signs with. Each test adds only what it is about.
#![allow(dead_code)] // each test binary uses the part it needs

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// This test process's own directory for keys, caches and a home: never the user's.
pub fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("acbuild-tests-{}", std::process::id()))
}

/// The clean environment: only `PATH` is inherited; `HOME`, `XDG_CONFIG_HOME` (where the default
/// signing key is made on first use) and `XDG_CACHE_HOME` lie in [`scratch`]; no
/// `SOURCE_DATE_EPOCH`, `ACBUILD_SIGN_KEY`, `ACBUILD_KEY_PASSPHRASE`, `TZ` or locale; stdin is
/// closed, so nothing can prompt.
pub fn clean(cmd: &mut Command) -> &mut Command {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch().join("home"))
        .env("XDG_CONFIG_HOME", scratch().join("config"))
        .env("XDG_CACHE_HOME", scratch().join("cache"))
        .stdin(Stdio::null())
}

/// `acbuild ARGS...` in the clean environment, ready for more settings.
pub fn acbuild<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_acbuild"));
    clean(&mut cmd).args(args);
    cmd
}

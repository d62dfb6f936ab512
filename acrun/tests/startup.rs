//! acrun's start-up does not load the host's `openssl.cnf` (acrun/src/main.rs): a FIFO given as
//! `OPENSSL_CONF` blocks any program that reads its OpenSSL configuration, and acrun must not be
//! one of them. The control is the `openssl` command itself, which does read it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn fifo(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("openssl.cnf");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    path
}

fn spawn(program: &str, arg: &str, conf: &std::path::Path) -> Child {
    Command::new(program)
        .arg(arg)
        .env("OPENSSL_CONF", conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Whether `child` exits within `limit`; it is killed if not.
fn exits_within(mut child: Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

#[test]
fn acrun_starts_without_reading_openssl_cnf() {
    let dir = tempfile::tempdir().unwrap();
    let conf = fifo(dir.path());
    let acrun = spawn(env!("CARGO_BIN_EXE_acrun"), "--version", &conf);
    assert!(
        exits_within(acrun, Duration::from_secs(20)),
        "acrun --version blocked on the OPENSSL_CONF FIFO: it read openssl.cnf"
    );
    // Control: a program that loads its configuration blocks on the same FIFO.
    let openssl = spawn("openssl", "version", &conf);
    assert!(
        !exits_within(openssl, Duration::from_millis(1500)),
        "openssl did not block on the FIFO: the check proves nothing"
    );
}

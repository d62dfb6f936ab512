#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end: the passphrase of an encrypted signing key is asked on the terminal without echo.
//! `script(1)` (bsdutils, essential on Debian) gives acbuild a pseudo-terminal and records every
//! byte the terminal shows; the passphrase typed must not be among them. The control: a program
//! that reads the same line with the terminal's echo on shows it in the same kind of transcript.
//! Needs gpg (gnupg) for the passphrase-protected key.

use std::path::Path;
use std::process::{Command, Stdio};

#[path = "support/acbuild_cmd.rs"]
mod acbuild_cmd;

const PASSPHRASE: &str = "typed-passphrase-1234";

/// Run `command` under `script` with `input` typed after a moment; the transcript.
fn on_terminal(dir: &Path, command: &str, input: &str) -> (bool, String) {
    let transcript = dir.join("transcript");
    let mut cmd = Command::new("script");
    acbuild_cmd::clean(&mut cmd);
    let mut child = cmd
        .args(["-qfec", command])
        .arg(&transcript)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("script(1) is missing: apt-get install bsdutils");
    // Typed once the program waits on the terminal.
    std::thread::sleep(std::time::Duration::from_secs(2));
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    let ok = child.wait().unwrap().success();
    (ok, std::fs::read_to_string(&transcript).unwrap_or_default())
}

#[test]
fn the_passphrase_prompt_does_not_echo() {
    let dir = tempfile::tempdir().unwrap();
    let gnupg = dir.path().join("gnupg");
    std::fs::create_dir(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .env("GNUPGHOME", &gnupg)
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                PASSPHRASE,
            ])
            .args(args)
            .output()
            .expect("gpg is missing: apt-get install gnupg")
    };
    assert!(
        gpg(&[
            "--quick-gen-key",
            "T <t@example.com>",
            "ed25519",
            "sign",
            "never"
        ])
        .status
        .success()
    );
    let key = gpg(&["--armor", "--export-secret-keys", "t@example.com"]);
    std::fs::write(dir.path().join("key.asc"), key.stdout).unwrap();
    std::fs::write(dir.path().join("file"), b"signed bytes").unwrap();

    let acbuild = env!("CARGO_BIN_EXE_acbuild");
    let (ok, transcript) = on_terminal(
        dir.path(),
        &format!("{acbuild} sign file --sign-key key.asc"),
        &format!("{PASSPHRASE}\n"),
    );
    assert!(ok, "{transcript}");
    assert!(
        transcript.contains("passphrase for key.asc: "),
        "{transcript}"
    );
    assert!(dir.path().join("file.asc").is_file(), "{transcript}");
    assert!(
        !transcript.contains(PASSPHRASE),
        "the passphrase was echoed:\n{transcript}"
    );

    // Control: the same line read with the terminal's echo on is in the transcript.
    let (ok, transcript) = on_terminal(
        dir.path(),
        "head -n 1 >/dev/null",
        &format!("{PASSPHRASE}\n"),
    );
    assert!(ok);
    assert!(transcript.contains(PASSPHRASE), "{transcript}");
}

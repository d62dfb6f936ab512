//! End-to-end tests of `acrun run --interactive` and `acrun enter --interactive`: on a terminal
//! (script(1) gives acrun one) the app or the entered command gets a pseudo terminal of its own —
//! `tty` names it, its size follows acrun's terminal, typed input reaches the app, acrun's
//! terminal settings come back, acrun's own lines keep their line starts — and a non-terminal
//! stdin is passed through as before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use support::World;
use support::pod::Pod;
use support::running::{busybox, code, explain, run, stdout};

/// Runs the shell command `script` on a new terminal (script(1)), with `input` as what is
/// typed; `$ACRUN` is the acrun binary, `$IMAGE` the busybox image. script's stdin stays open
/// until it exits: at its end of input script types the terminal's EOF character, which, read
/// by acrun's relay in raw mode, would reach the app's terminal and be echoed (`^@`) among the
/// app's lines, wherever the relay happened to read it.
fn on_terminal(w: &World, script: &str, input: &[u8]) -> Output {
    let aci = busybox(w);
    let mut child = Command::new("script")
        .args(["-qec", script, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env("ACRUN", env!("CARGO_BIN_EXE_acrun"))
        .env("IMAGE", &aci)
        .env("ACRUN_DIR", w.path("state"))
        .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (Debian package bsdutils) is required");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    drop(stdin);
    output
}

const RUN: &str = "\"$ACRUN\" run --insecure-options=image --interactive \"$IMAGE\"";

#[test]
fn the_app_gets_a_terminal_of_its_own_sized_like_acruns() {
    let w = World::new();
    let script = format!("stty rows 33 cols 77; {RUN} -- -c 'tty; stty size; echo done'");
    let o = on_terminal(&w, &script, b"");
    let out = stdout(&o);
    assert!(out.contains("/dev/pts/0\r\n"), "{}", explain(&o));
    assert!(out.contains("33 77\r\n"), "{}", explain(&o));
    assert!(out.contains("done"), "{}", explain(&o));
    assert_eq!(code(&o), 0, "{}", explain(&o));
}

#[test]
fn typed_input_reaches_the_app_and_the_terminal_is_restored() {
    let w = World::new();
    let script = format!(
        "stty -g > {before}; {RUN} -- -c 'read x; echo got:$x'; echo code=$?; stty -g > {after}",
        before = w.path("before").display(),
        after = w.path("after").display(),
    );
    let o = on_terminal(&w, &script, b"hello\n");
    let out = stdout(&o);
    assert!(out.contains("got:hello\r\n"), "{}", explain(&o));
    assert!(out.contains("code=0"), "{}", explain(&o));
    let before = std::fs::read_to_string(w.path("before")).unwrap();
    assert!(!before.is_empty());
    assert_eq!(
        before,
        std::fs::read_to_string(w.path("after")).unwrap(),
        "acrun left its terminal in raw mode"
    );
}

#[test]
fn a_window_size_change_reaches_the_app() {
    let w = World::new();
    let out = w.path("out");
    std::fs::create_dir(&out).unwrap();
    // acrun in the background of the terminal's shell (same process group, so it gets the
    // terminal's SIGWINCH); the shell resizes the terminal once the app has set its trap.
    let script = format!(
        "stty rows 10 cols 20; \
         \"$ACRUN\" run --insecure-options=image --interactive \
         --volume out,kind=host,source={out} \"$IMAGE\" --mount volume=out,target=/out -- -c \
         'trap \"stty size > /out/size; exit 0\" WINCH; touch /out/ready; \
          i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done' < /dev/tty & \
         n=0; while [ ! -e {out}/ready ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; \
         stty rows 40 cols 100; wait",
        out = out.display()
    );
    let o = on_terminal(&w, &script, b"");
    assert_eq!(
        std::fs::read_to_string(out.join("size")).unwrap_or_default(),
        "40 100\n",
        "{}",
        explain(&o)
    );
}

#[test]
fn a_non_terminal_stdin_is_passed_through() {
    let w = World::new();
    let aci = busybox(&w);
    let mut child = Command::new(env!("CARGO_BIN_EXE_acrun"))
        .env("ACRUN_DIR", w.path("state"))
        .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
        .args(["run", "--insecure-options=image", "--interactive"])
        .arg(&aci)
        .args(["--", "-c", "cat; tty || true"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"piped\n").unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert_eq!(stdout(&o), "piped\nnot a tty\n", "{}", explain(&o));
}

#[test]
fn interactive_refuses_a_pod_of_several_apps() {
    let w = World::new();
    let aci = busybox(&w);
    let aci = aci.to_str().unwrap();
    let o = run(&w, &["--interactive", aci, "---", aci, "--name", "second"]);
    assert_eq!(code(&o), 2, "{}", explain(&o));
    // Positive control: the same pod without --interactive runs.
    let o = run(&w, &[aci, "---", aci, "--name", "second"]);
    assert_eq!(code(&o), 0, "{}", explain(&o));
}

#[test]
fn the_terminal_is_restored_when_acrun_is_told_to_stop() {
    let w = World::new();
    let out = w.path("out");
    std::fs::create_dir(&out).unwrap();
    let script = format!(
        "stty -g > {before}; \
         \"$ACRUN\" run --insecure-options=image --interactive \
         --volume out,kind=host,source={out} \"$IMAGE\" --mount volume=out,target=/out -- -c \
         'touch /out/ready; sleep 30' < /dev/tty & \
         n=0; while [ ! -e {out}/ready ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; \
         kill -TERM $!; wait $!; echo code=$?; stty -g > {after}",
        before = w.path("before").display(),
        after = w.path("after").display(),
        out = out.display()
    );
    let o = on_terminal(&w, &script, b"");
    // SIGTERM was forwarded: the app died of it, acrun exited with 128+15 and restored.
    assert!(stdout(&o).contains("code=143"), "{}", explain(&o));
    let before = std::fs::read_to_string(w.path("before")).unwrap();
    assert!(!before.is_empty());
    assert_eq!(
        before,
        std::fs::read_to_string(w.path("after")).unwrap(),
        "acrun left its terminal in raw mode"
    );
}

#[test]
fn the_pods_own_messages_end_their_lines_while_the_terminal_is_raw() {
    let w = World::new();
    // The runner reports the unknown user while acrun's terminal is raw (the relay has started).
    let script = format!("{RUN} --user no-such-user -- -c 'echo never'; echo code=$?");
    let o = on_terminal(&w, &script, b"");
    let out = stdout(&o);
    let message = "acrun: app busybox: user \"no-such-user\" cannot be resolved";
    let at = out
        .find(message)
        .unwrap_or_else(|| panic!("{}", explain(&o)));
    let line = &out[at..out[at..].find('\n').map_or(out.len(), |n| at + n + 1)];
    assert!(
        line.ends_with("\r\n"),
        "{line:?} on a raw terminal\n{}",
        explain(&o)
    );
    assert!(out.contains("\r\ncode=254\r\n"), "{}", explain(&o));
    // The same pod with a user the image has: the app's own lines come through the app's
    // terminal as before, and only acrun's pipe ends lines itself.
    let script = format!("{RUN} --user root -- -c 'echo ran; echo two'; echo code=$?");
    let o = on_terminal(&w, &script, b"");
    assert!(stdout(&o).contains("ran\r\ntwo\r\n"), "{}", explain(&o));
    assert!(stdout(&o).contains("code=0\r\n"), "{}", explain(&o));
}

#[test]
fn enter_interactive_gives_the_command_a_terminal_of_the_pods_own() {
    let w = World::new();
    let aci = busybox(&w);
    let aci = aci.to_str().unwrap();
    let pod = Pod::start(
        &w,
        &["--insecure-options=image", aci, "--", "-c", "sleep 600"],
    );
    // tty, then the controlling terminal's number (field 7 of /proc/self/stat; 0: none).
    let probe = "tty; cut -d\\  -f7 /proc/self/stat; stty size; echo entered";
    let script = |flag: &str| {
        format!(
            "stty rows 33 cols 77; \"$ACRUN\" enter {flag} {} -- /bin/sh -c '{probe}'; echo code=$?",
            pod.uuid()
        )
    };
    let o = on_terminal(&w, &script("--interactive"), b"");
    let out = stdout(&o);
    assert!(out.contains("/dev/pts/0\r\n"), "{}", explain(&o));
    let lines: Vec<&str> = out.split("\r\n").collect();
    let at = lines.iter().position(|l| *l == "/dev/pts/0").unwrap();
    assert_ne!(
        lines[at + 1],
        "0",
        "no controlling terminal\n{}",
        explain(&o)
    );
    assert_eq!(lines[at + 2], "33 77", "{}", explain(&o));
    assert!(out.contains("entered\r\ncode=0\r\n"), "{}", explain(&o));
    // Control: without --interactive the command has the caller's terminal as stdio but not as
    // its controlling terminal (a session of its own), and no terminal of the pod's.
    let o = on_terminal(&w, &script(""), b"");
    let out = stdout(&o);
    assert!(!out.contains("/dev/pts/0\r\n"), "{}", explain(&o));
    assert!(out.split("\r\n").any(|l| l == "0"), "{}", explain(&o));
    assert!(out.contains("entered\r\n"), "{}", explain(&o));
    drop(pod);
}

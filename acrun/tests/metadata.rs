//! End-to-end tests of the metadata service, from inside real pods (busybox `wget`), and of
//! `acrun metadata` on the host. Every refusal is beside the same request allowed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use support::World;

fn busybox(w: &World) -> PathBuf {
    support::busybox::image_with_links(
        w,
        "meta",
        r#"{"exec":["/bin/sh","-c","true"],"user":"0","group":"0"}"#,
        &[],
    )
}

fn acrun(w: &World, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acrun"))
        .env("ACRUN_DIR", w.path("state"))
        .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `script` in a busybox pod with `pod` flags before the image and `app` flags after it.
fn sh(w: &World, pod: &[&str], app: &[&str], script: &str) -> Output {
    let aci = busybox(w);
    let mut args = vec!["run", "--insecure-options=image"];
    args.extend_from_slice(pod);
    args.push(aci.to_str().unwrap());
    args.extend_from_slice(app);
    args.extend(["--", "-c", script]);
    acrun(w, &args)
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn explain(o: &Output) -> String {
    format!(
        "code {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        out(o),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Prints `STATUS CONTENT-TYPE` of a request, then the body on its own line.
const REQUEST: &str = r#"
mkdir -p /tmp
req() { # PATH [POST-DATA]
  if [ -n "$2" ]; then set -- "$1" --post-data "$2"; fi
  url=$AC_METADATA_URL/acMetadata/v1$1; shift
  wget -S -O /tmp/body "$@" "$url" 2>/tmp/headers
  st=$(grep -o 'HTTP/1.1 [0-9]*' /tmp/headers | head -n1 | cut -d' ' -f2)
  ct=$(grep -i '^ *content-type:' /tmp/headers | head -n1 | sed 's/^ *[Cc]ontent-[Tt]ype: //' | tr -d '\r')
  echo "$st $ct"; cat /tmp/body 2>/dev/null; echo; rm -f /tmp/body
}
"#;

#[test]
fn the_pod_reads_its_identity_with_exact_types() {
    let w = World::new();
    let saved = w.path("uuid");
    let script = format!(
        "{REQUEST}
req /pod/uuid
req /pod/manifest >/dev/null; req /pod/manifest | head -n1
req /apps/meta/image/id
req /apps/meta/image/manifest | head -n1
req /pod/annotations
req /apps/nothere/image/id | head -n1
AC_METADATA_URL=${{AC_METADATA_URL}}x req /pod/uuid | head -n1
"
    );
    let o = sh(
        &w,
        &["--uuid-file-save", saved.to_str().unwrap()],
        &[],
        &script,
    );
    assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
    let uuid = std::fs::read_to_string(&saved).unwrap();
    let stdout = out(&o);
    let lines: Vec<&str> = stdout.lines().collect();
    let text = "text/plain; charset=us-ascii";
    assert_eq!(lines[0], format!("200 {text}"), "{}", explain(&o));
    assert_eq!(lines[1], uuid.trim_end(), "served UUID = --uuid-file-save");
    assert_eq!(lines[2], "200 application/json");
    assert_eq!(lines[3], format!("200 {text}"));
    assert!(
        lines[4].starts_with("sha512-") && lines[4].len() == 7 + 128,
        "{}",
        lines[4]
    );
    assert_eq!(lines[5], "200 application/json");
    assert_eq!(lines[6], "200 application/json");
    assert_eq!(lines[7], "null", "a pod without annotations serves null");
    // (busybox wget shows only the status line of an error response)
    assert!(lines[8].starts_with("404"), "unknown app: {}", lines[8]);
    assert!(lines[9].starts_with("401"), "wrong token: {}", lines[9]);
}

fn sign_in_a_pod(w: &World, content: &str) -> (String, String) {
    let saved = w.path("signer-uuid");
    let script = format!("{REQUEST}\nreq /pod/hmac/sign content={content}");
    let o = sh(
        w,
        &["--uuid-file-save", saved.to_str().unwrap()],
        &[],
        &script,
    );
    assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
    let text = out(&o);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("200 text/plain; charset=us-ascii"),
        "{}",
        explain(&o)
    );
    let sig = lines.next().unwrap().to_owned();
    assert_eq!(sig.len(), 88, "{sig}");
    let uuid = std::fs::read_to_string(saved).unwrap().trim().to_owned();
    (uuid, sig)
}

fn form(content: &str, uuid: &str, sig: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "content={}&uuid={}&signature={}",
        enc(content),
        enc(uuid),
        enc(sig)
    )
}

/// Verifies three forms in a fresh pod; returns the three statuses.
fn verify_in_a_pod(w: &World, forms: [&str; 3]) -> Vec<String> {
    let env: Vec<String> = forms
        .iter()
        .enumerate()
        .map(|(i, f)| format!("F{i}={f}"))
        .collect();
    let mut pod = Vec::new();
    for e in &env {
        pod.extend(["--set-env", e.as_str()]);
    }
    let script = format!(
        "{REQUEST}\nfor f in \"$F0\" \"$F1\" \"$F2\"; do req /pod/hmac/verify \"$f\" | head -n1 | cut -d' ' -f1; done"
    );
    let o = sh(w, &pod, &[], &script);
    assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
    out(&o).lines().map(str::to_owned).collect()
}

#[test]
fn a_signature_made_in_one_pod_verifies_in_another_and_on_the_host_until_rotation() {
    let w = World::new();
    let (uuid, sig) = sign_in_a_pod(&w, "hello");
    let other_uuid = "0d9b5e6c-1a2b-4c3d-8e4f-5a6b7c8d9e0f";
    let statuses = verify_in_a_pod(
        &w,
        [
            &form("hello", &uuid, &sig),
            &form("hellO", &uuid, &sig),
            &form("hello", other_uuid, &sig),
        ],
    );
    assert_eq!(statuses, ["200", "403", "403"]);

    // The host side, in a new acrun process: the key survived.
    let ok = acrun(
        &w,
        &[
            "metadata",
            "verify",
            "--uuid",
            &uuid,
            "--signature",
            &sig,
            "hello",
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", explain(&ok));
    let bad = acrun(
        &w,
        &[
            "metadata",
            "verify",
            "--uuid",
            &uuid,
            "--signature",
            &sig,
            "hellO",
        ],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", explain(&bad));
    let usage = acrun(
        &w,
        &[
            "metadata",
            "verify",
            "--uuid",
            "nope",
            "--signature",
            &sig,
            "hello",
        ],
    );
    assert_eq!(usage.status.code(), Some(2), "{}", explain(&usage));

    let rotated = acrun(&w, &["metadata", "rotate-key"]);
    assert_eq!(rotated.status.code(), Some(0), "{}", explain(&rotated));
    let old = acrun(
        &w,
        &[
            "metadata",
            "verify",
            "--uuid",
            &uuid,
            "--signature",
            &sig,
            "hello",
        ],
    );
    assert_eq!(old.status.code(), Some(1), "{}", explain(&old));
    let statuses = verify_in_a_pod(
        &w,
        [
            &form("hello", &uuid, &sig),
            &form("hello", &uuid, &sig),
            &form("hello", &uuid, &sig),
        ],
    );
    assert_eq!(
        statuses,
        ["403", "403", "403"],
        "old signatures after rotate-key"
    );
    let (uuid2, sig2) = sign_in_a_pod(&w, "again");
    let fresh = acrun(
        &w,
        &[
            "metadata",
            "verify",
            "--uuid",
            &uuid2,
            "--signature",
            &sig2,
            "again",
        ],
    );
    assert_eq!(fresh.status.code(), Some(0), "{}", explain(&fresh));
}

#[test]
fn the_hmac_key_is_not_visible_from_inside_a_pod() {
    let w = World::new();
    // A printable key of the right length, so that the pod can search for its bytes.
    let key_text = format!("{:0<64}", "acrun-metadata-test-key-5b1f0c9e7d3a");
    let state = w.path("state");
    let key_dir = state.join("metadata");
    std::fs::create_dir_all(&key_dir).unwrap();
    let key = key_dir.join("hmac.key");
    std::fs::write(&key, &key_text).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // The positive control: the same bytes in a file the pod *can* reach through /proc/1/root.
    std::fs::write(state.join("canary"), &key_text).unwrap();
    let state = state.to_str().unwrap();
    // The needle reaches the pod through a host volume (not the environment or argv, which acrun
    // records in the pod directory).
    let needle = w.path("needle");
    std::fs::create_dir_all(&needle).unwrap();
    std::fs::write(needle.join("key"), &key_text).unwrap();
    let volume = format!("needle,kind=host,source={},readOnly=true", needle.display());
    let script = format!(
        r#"
s=/proc/1/root{state}
ls $s/pods | wc -l
ls -A $s/metadata | wc -l
find / -xdev -type f | xargs grep -l -F -f /needle/key 2>/dev/null
find $s -type f | xargs grep -l -F -f /needle/key 2>/dev/null
true"#
    );
    let caps = "CAP_SYS_PTRACE,CAP_DAC_OVERRIDE,CAP_DAC_READ_SEARCH,CAP_SETUID,CAP_SETGID";
    let o = sh(
        &w,
        &["--volume", &volume],
        &[
            "--caps-retain",
            caps,
            "--mount",
            "volume=needle,target=/needle",
        ],
        &script,
    );
    assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
    let lines: Vec<String> = out(&o).lines().map(str::to_owned).collect();
    assert_eq!(
        lines[0], "1",
        "the pod sees the store through /proc/1/root: {lines:?}"
    );
    assert_eq!(lines[1], "0", "but the key directory is empty: {lines:?}");
    assert_eq!(
        lines[2..],
        [format!("/proc/1/root{state}/canary")],
        "only the canary holds the key's bytes: {}",
        explain(&o)
    );
    // Without CAP_SYS_PTRACE the supervisor's root is not reachable at all (non-dumpable).
    let o = sh(
        &w,
        &[],
        &[],
        &format!("ls /proc/1/root{state} >/dev/null 2>&1; echo $?"),
    );
    assert_eq!(out(&o).trim(), "1", "{}", explain(&o));
    // The key file itself did not change.
    assert_eq!(std::fs::read_to_string(&key).unwrap(), key_text);
}

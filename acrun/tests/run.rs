//! End-to-end tests of `acrun run` and the pod commands: real pods from busybox-static images,
//! run as root. Every refusal has its positive control beside it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use support::World;
use support::running::{acrun, busybox, code, explain, image, run, sh, stdout};

#[test]
fn exit_codes_and_signal_deaths_propagate() {
    let w = World::new();
    let ok = sh(&w, &[], &[], "true");
    assert_eq!(code(&ok), 0, "{}", explain(&ok));
    let o = sh(&w, &[], &[], "exit 7");
    assert_eq!(code(&o), 7, "{}", explain(&o));
    let o = sh(&w, &[], &[], "kill -9 $$");
    assert_eq!(code(&o), 137, "{}", explain(&o));
}

#[test]
fn apps_start_with_no_signal_ignored_or_blocked() {
    let w = World::new();
    let aci = busybox(&w);
    let o = run(
        &w,
        &[
            aci.to_str().unwrap(),
            "--exec",
            "/bin/grep",
            "--",
            "-E",
            "^Sig(Ign|Blk)",
            "/proc/self/status",
        ],
    );
    assert_eq!(code(&o), 0, "{}", explain(&o));
    assert_eq!(
        stdout(&o),
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
        "a pipe writer must die of SIGPIPE: {}",
        explain(&o)
    );
}

#[test]
fn acrun_own_failures_exit_254() {
    let w = World::new();
    let o = sh(&w, &[], &["--working-dir", "/no/such/dir"], "true");
    assert_eq!(code(&o), 254, "{}", explain(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("working directory"));
    let o = sh(&w, &[], &["--working-dir", "/etc"], "pwd");
    assert_eq!(stdout(&o), "/etc\n", "{}", explain(&o));
}

#[test]
fn the_pod_has_its_own_pid_namespace() {
    let w = World::new();
    let o = sh(&w, &[], &[], "echo $$; ps -o pid | wc -l");
    let out = stdout(&o);
    let mut lines = out.lines();
    let pid: u32 = lines.next().unwrap().parse().unwrap();
    assert!(pid < 10, "{}", explain(&o));
    // header + supervisor + runner + sh + ps
    assert!(lines.next().unwrap().trim().parse::<u32>().unwrap() <= 6);
}

#[test]
fn the_default_network_is_loopback_only_and_up() {
    let w = World::new();
    let o = sh(&w, &[], &[], "ip -o link | wc -l; ip -o link");
    let out = stdout(&o);
    assert!(out.starts_with("1\n"), "{}", explain(&o));
    assert!(out.contains("lo:") && out.contains("UP"), "{}", explain(&o));
    // Positive control: the host network shows more than lo.
    let o = sh(&w, &["--net=host"], &[], "ip -o link | wc -l");
    assert!(
        stdout(&o).trim().parse::<u32>().unwrap() > 1,
        "{}",
        explain(&o)
    );
}

#[test]
fn environment_user_and_group() {
    let w = World::new();
    let o = sh(&w, &["--set-env", "FLAG=set"], &[], "env | sort");
    let env = stdout(&o);
    for want in [
        "AC_APP_NAME=busybox",
        "container=acrun",
        "FROM_IMAGE=yes",
        "FLAG=set",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ] {
        assert!(env.lines().any(|l| l == want), "{want} missing:\n{env}");
    }
    let o = sh(
        &w,
        &[],
        &["--user", "nobody", "--group", "nogroup"],
        "id -u; id -g",
    );
    assert_eq!(stdout(&o), "65534\n65534\n", "{}", explain(&o));
    let o = sh(
        &w,
        &[],
        &["--user", "1234", "--group", "/etc/passwd"],
        "id -u; id -g",
    );
    assert_eq!(stdout(&o), "1234\n0\n", "{}", explain(&o));
    let o = sh(&w, &[], &["--user", "no-such-user"], "true");
    assert_eq!(code(&o), 254, "{}", explain(&o));
}

/// Runs an image of `app` (a manifest's app JSON that mounts volume `log` at `/log`) with a host
/// directory as that volume; the output and the directory.
fn run_with_log(w: &World, app: &str) -> (Output, PathBuf) {
    let host = w.path("log");
    std::fs::create_dir(&host).unwrap();
    let aci = image(w, "handlers", app, &[]);
    let vol = format!("log,kind=host,source={}", host.display());
    let o = run(w, &["--volume", &vol, aci.to_str().unwrap()]);
    (o, host)
}

#[test]
fn handlers_run_before_and_after_the_app() {
    let w = World::new();
    let app = r#"{"exec":["/bin/sh","-c","echo main >> /log/order"],"user":"0","group":"0",
        "eventHandlers":[{"name":"pre-start","exec":["/bin/sh","-c","echo pre > /log/order"]},
                         {"name":"post-stop","exec":["/bin/sh","-c","echo post >> /log/order"]}],
        "mountPoints":[{"name":"log","path":"/log"}]}"#;
    let (o, host) = run_with_log(&w, app);
    assert_eq!(code(&o), 0, "{}", explain(&o));
    assert_eq!(
        std::fs::read_to_string(host.join("order")).unwrap(),
        "pre\nmain\npost\n"
    );
}

#[test]
fn an_app_without_handlers_replaces_its_runner() {
    let w = World::new();
    // Nothing runs after the app: the runner execs it, so its parent is the supervisor, PID 1.
    let o = sh(&w, &[], &[], "grep PPid /proc/$$/status");
    assert_eq!(stdout(&o), "PPid:\t1\n", "{}", explain(&o));
    // Control: with a post-stop handler the runner stays between them, to run it afterwards.
    let app = r#"{"exec":["/bin/sh","-c","grep PPid /proc/$$/status > /log/ppid"],"user":"0","group":"0",
        "eventHandlers":[{"name":"post-stop","exec":["/bin/sh","-c","echo post >> /log/order"]}],
        "mountPoints":[{"name":"log","path":"/log"}]}"#;
    let (o, host) = run_with_log(&w, app);
    assert_eq!(code(&o), 0, "{}", explain(&o));
    let ppid = std::fs::read_to_string(host.join("ppid")).unwrap();
    assert!(
        ppid.starts_with("PPid:\t") && ppid != "PPid:\t1\n",
        "{ppid:?}"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("order")).unwrap(),
        "post\n"
    );
}

#[test]
fn a_failing_pre_start_stops_the_app() {
    let w = World::new();
    let app = r#"{"exec":["/bin/sh","-c","echo main >> /log/order"],"user":"0","group":"0",
        "eventHandlers":[{"name":"pre-start","exec":["/bin/sh","-c","echo pre > /log/order; exit 4"]}],
        "mountPoints":[{"name":"log","path":"/log"}]}"#;
    let (o, host) = run_with_log(&w, app);
    assert_eq!(code(&o), 4, "{}", explain(&o));
    assert_eq!(
        std::fs::read_to_string(host.join("order")).unwrap(),
        "pre\n"
    );
}

#[test]
fn host_volumes_are_writable_unless_read_only() {
    let w = World::new();
    let host = w.path("host");
    std::fs::create_dir(&host).unwrap();
    let rw = format!("v,kind=host,source={}", host.display());
    let o = sh(
        &w,
        &["--volume", &rw],
        &["--mount", "volume=v,target=/v"],
        "echo hi > /v/f",
    );
    assert_eq!(code(&o), 0, "{}", explain(&o));
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "hi\n");
    let ro = format!("{rw},readOnly=true");
    let o = sh(
        &w,
        &["--volume", &ro],
        &["--mount", "volume=v,target=/v"],
        "cat /v/f; echo x > /v/g",
    );
    assert_eq!(stdout(&o), "hi\n");
    assert_ne!(code(&o), 0, "{}", explain(&o));
    assert!(!host.join("g").exists());
}

#[test]
fn a_host_volume_source_through_a_symlink_is_refused() {
    let w = World::new();
    let host = w.path("host");
    std::fs::create_dir(&host).unwrap();
    std::os::unix::fs::symlink(&host, w.path("link")).unwrap();
    let vol = format!("v,kind=host,source={}", w.path("link").display());
    let o = sh(
        &w,
        &["--volume", &vol],
        &["--mount", "volume=v,target=/v"],
        "echo x > /v/f",
    );
    assert_eq!(code(&o), 254, "{}", explain(&o));
    assert!(!host.join("f").exists());
}

#[test]
fn an_empty_volume_is_shared_by_two_apps() {
    let w = World::new();
    let aci = busybox(&w);
    let aci = aci.to_str().unwrap();
    let o = run(
        &w,
        &[
            "--volume",
            "db,kind=empty",
            "--output-prefix=always",
            aci,
            "--name",
            "writer",
            "--mount",
            "volume=db,target=/db",
            "--",
            "-c",
            "echo shared > /db/f",
            "---",
            aci,
            "--name",
            "reader",
            "--mount",
            "volume=db,target=/db",
            "--",
            "-c",
            "while ! test -e /db/f; do sleep 0.05; done; sleep 0.1; cat /db/f",
        ],
    );
    assert_eq!(code(&o), 0, "{}", explain(&o));
    assert!(stdout(&o).contains("[reader] shared\n"), "{}", explain(&o));
}

#[test]
fn the_first_failing_app_gives_the_pod_exit_code() {
    let w = World::new();
    let aci = busybox(&w);
    let aci = aci.to_str().unwrap();
    let o = run(
        &w,
        &[
            aci, "--name", "a", "--", "-c", "exit 0", "---", aci, "--name", "b", "--", "-c",
            "exit 6",
        ],
    );
    assert_eq!(code(&o), 6, "{}", explain(&o));
}

#[test]
fn a_memory_limit_kills_an_allocation_that_succeeds_without_it() {
    let w = World::new();
    // dd fills one 64 MiB buffer.
    let script = "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null && echo allocated";
    let o = sh(&w, &[], &[], script);
    assert_eq!(stdout(&o), "allocated\n", "{}", explain(&o));
    let o = sh(&w, &[], &["--memory", "32Mi"], script);
    assert_eq!(code(&o), 137, "{}", explain(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn a_removed_capability_makes_chown_fail() {
    let w = World::new();
    let script = "touch /f && chown 65534 /f";
    let o = sh(&w, &[], &[], script);
    assert_eq!(code(&o), 0, "{}", explain(&o));
    let o = sh(&w, &[], &["--caps-remove", "CAP_CHOWN"], script);
    assert_ne!(code(&o), 0, "{}", explain(&o));
    let o = sh(&w, &[], &[], "grep CapBnd /proc/self/status");
    assert!(
        stdout(&o).contains("00000000a80425fb"),
        "appc default set: {}",
        explain(&o)
    );
}

#[test]
fn a_seccomp_remove_set_makes_mkdir_fail() {
    let w = World::new();
    let o = sh(&w, &[], &[], "mkdir /d");
    assert_eq!(code(&o), 0, "{}", explain(&o));
    let o = sh(
        &w,
        &[],
        &["--seccomp", "mode=remove,errno=EACCES,mkdir,mkdirat"],
        "mkdir /d",
    );
    assert_ne!(code(&o), 0, "{}", explain(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Permission denied"),
        "{}",
        explain(&o)
    );
}

#[test]
fn the_default_seccomp_filter_and_no_new_privileges_are_on() {
    let w = World::new();
    let o = sh(
        &w,
        &[],
        &[],
        "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status",
    );
    assert_eq!(
        stdout(&o),
        "NoNewPrivs:\t1\nSeccomp:\t2\n",
        "{}",
        explain(&o)
    );
}

#[test]
fn a_symlinked_mount_point_never_writes_on_the_host() {
    let w = World::new();
    let host = w.path("host-target");
    std::fs::create_dir(&host).unwrap();
    let app = r#"{"exec":["/bin/sh","-c","echo owned > /data/f"],"user":"0","group":"0",
        "mountPoints":[{"name":"data","path":"/data"}]}"#;
    let aci = image(&w, "evil", app, &[("data", host.to_str().unwrap())]);
    let o = run(&w, &["--volume", "data,kind=empty", aci.to_str().unwrap()]);
    assert!(
        !host.join("f").exists(),
        "the mount followed the image's symlink onto the host"
    );
    assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0);
    // Positive control: the same app with a plain directory mount point writes into the volume.
    let app_ok = app.replace("/data", "/ok");
    let aci = image(&w, "plain", &app_ok.replace("\"data\"", "\"ok\""), &[]);
    let o2 = run(&w, &["--volume", "ok,kind=empty", aci.to_str().unwrap()]);
    assert_eq!(code(&o2), 0, "{}", explain(&o2));
    let _ = o;
}

#[test]
fn a_read_only_rootfs_refuses_writes() {
    let w = World::new();
    let o = sh(&w, &[], &[], "touch /x");
    assert_eq!(code(&o), 0, "{}", explain(&o));
    let o = sh(&w, &[], &["--readonly-rootfs"], "touch /x");
    assert_ne!(code(&o), 0, "{}", explain(&o));
}

#[test]
fn writes_never_reach_the_store_and_each_run_starts_fresh() {
    let w = World::new();
    let o = sh(&w, &[], &[], "test ! -e /marker && touch /marker");
    assert_eq!(code(&o), 0, "{}", explain(&o));
    let o = sh(&w, &[], &[], "test ! -e /marker");
    assert_eq!(
        code(&o),
        0,
        "the second run saw the first run's file: {}",
        explain(&o)
    );
}

#[test]
fn proc_paths_are_masked_and_read_only() {
    let w = World::new();
    let o = sh(
        &w,
        &[],
        &[],
        "echo x > /proc/sys/kernel/hostname && echo writable; wc -c < /proc/timer_list; echo done",
    );
    assert_eq!(stdout(&o), "0\ndone\n", "{}", explain(&o));
}

#[test]
fn stop_from_another_shell_ends_the_pod() {
    let w = World::new();
    let aci = busybox(&w);
    let uuid_file = w.path("uuid");
    let mut child = Command::new(env!("CARGO_BIN_EXE_acrun"))
        .env("ACRUN_DIR", w.path("state"))
        .args(["run", "--insecure-options=image", "--uuid-file-save"])
        .arg(&uuid_file)
        .arg(&aci)
        .args(["--", "-c", "sleep 100"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let uuid = loop {
        if let Ok(u) = std::fs::read_to_string(&uuid_file) {
            let st = acrun(&w, &["status", u.trim()]);
            if stdout(&st).contains("state=running") {
                break u.trim().to_owned();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(stdout(&acrun(&w, &["list"])).contains(&uuid));
    let o = acrun(&w, &["stop", &uuid]);
    assert_eq!(code(&o), 0, "{}", explain(&o));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    let st = stdout(&acrun(&w, &["status", &uuid]));
    assert!(
        st.contains("state=exited") && st.contains("app-busybox=143"),
        "{st}"
    );
    let gc = acrun(&w, &["gc"]);
    assert!(stdout(&gc).contains(&uuid), "{}", explain(&gc));
    assert!(!stdout(&acrun(&w, &["list"])).contains(&uuid));
}

#[test]
fn unenforced_isolators_are_named_and_strict_refuses_them() {
    let w = World::new();
    let app = r#"{"exec":["/bin/sh","-c","echo ran"],"user":"0","group":"0",
        "isolators":[{"name":"resource/block-bandwidth","value":{"default":true,"limit":"1M"}}]}"#;
    let aci = image(&w, "bw", app, &[]);
    let o = run(&w, &[aci.to_str().unwrap()]);
    assert_eq!(stdout(&o), "ran\n", "{}", explain(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("resource/block-bandwidth NOT enforced"),
        "{err}"
    );
    let o = run(&w, &["--strict", aci.to_str().unwrap()]);
    assert_eq!(code(&o), 254, "{}", explain(&o));
    assert_eq!(stdout(&o), "");
}

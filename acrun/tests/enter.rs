//! End-to-end tests of `acrun enter`: a command entered into a running busybox app must carry
//! exactly the app's confinement — credentials, capability sets, seccomp filter,
//! no-new-privileges, cgroups, namespaces and root (rkt's CVE-2019-10144/10145/10147 were an
//! enter that did not). Each comparison is against what the app itself reported, and each refusal
//! has its positive control.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::World;
use support::running::{RunningPod, busybox, code, explain, image, run, stdout};

/// What the tests compare between the app and the entered command.
const PROBE: &str = "grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp[_a-z]*):' /proc/self/status; cat /proc/self/cgroup /proc/self/limits /proc/self/oom_score_adj";

/// A core-file limit and an OOM score for `acrun run` that the test process does not have, so
/// that an enter that kept its caller's would show.
const CORE_LIMIT: u64 = 1 << 20;
const OOM_SCORE_ADJ: &str = "321";

fn distinct_limits(command: &mut std::process::Command) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, || {
            let limit = libc::rlimit {
                rlim_cur: CORE_LIMIT,
                rlim_max: CORE_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, OOM_SCORE_ADJ.as_ptr().cast(), OOM_SCORE_ADJ.len()) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(fd);
            Ok(())
        });
    }
}

fn line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
}

/// Enters with [`PROBE`] and checks the output is the app's own.
fn enter_matches_the_app(pod: &RunningPod<'_>) -> String {
    let app = pod.read("app");
    let o = pod.enter(&["--", "/bin/sh", "-c", PROBE]);
    assert_eq!(code(&o), 0, "{}", explain(&o));
    assert_eq!(stdout(&o), app, "entered process differs from the app");
    app
}

#[test]
fn enter_has_the_root_apps_caps_seccomp_nnp_and_cgroup() {
    let w = World::new();
    let pod = RunningPod::busybox_with(
        &w,
        "root",
        &["--caps-remove", "CAP_CHOWN", "--memory", "64Mi"],
        &format!("({PROBE}) > /out/app"),
        distinct_limits,
    );
    let app = enter_matches_the_app(&pod);
    // The app has acrun run's limits and score, not the test's: so has the entered command.
    let core = line(&app, "Max core file size");
    assert!(core.contains(&CORE_LIMIT.to_string()), "{core}");
    assert_eq!(app.lines().last(), Some(OOM_SCORE_ADJ));
    let own = std::fs::read_to_string("/proc/self/limits").unwrap();
    assert!(!own.contains(core), "{own}");
    // The app's own values are the confined ones: appc's default set without CAP_CHOWN (bit 0),
    // the filter, NNP and the pod's memory cgroup.
    for key in ["CapEff:", "CapPrm:", "CapBnd:"] {
        assert_eq!(line(&app, key), format!("{key}\t00000000a80425fa"));
    }
    assert_eq!(line(&app, "CapInh:"), "CapInh:\t0000000000000000");
    assert_eq!(line(&app, "CapAmb:"), "CapAmb:\t0000000000000000");
    assert_eq!(line(&app, "NoNewPrivs:"), "NoNewPrivs:\t1");
    assert_eq!(line(&app, "Seccomp:"), "Seccomp:\t2");
    let memory = app.lines().find(|l| l.contains(":memory:")).unwrap();
    assert!(
        memory.ends_with(&format!("/acrun-{}/busybox", pod.uuid)),
        "{memory}"
    );
    // The entered command is not in the test's own memory cgroup: the join happened.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert!(!own.contains(memory), "{own}");
    // The capability is really gone in the entered shell...
    let chown = "touch /f && chown 65534 /f";
    let o = pod.enter(&["--", "/bin/sh", "-c", chown]);
    assert_ne!(code(&o), 0, "{}", explain(&o));
    // ...while a shell entered into an app that keeps it can chown (positive control).
    let plain = RunningPod::busybox(&w, "plain", &[], "true");
    let o = plain.enter(&["--", "/bin/sh", "-c", chown]);
    assert_eq!(code(&o), 0, "{}", explain(&o));
}

#[test]
fn enter_has_the_apps_user_groups_and_empty_capability_sets() {
    let w = World::new();
    let app =
        r#"{"exec":["/bin/sh"],"user":"nobody","group":"nogroup","supplementaryGIDs":[27,44]}"#;
    let aci = image(&w, "nobody", app, &[]);
    let script = format!("({PROBE}) > /out/app; touch /out/ready; exec sleep 1000");
    let pod = RunningPod::start(
        &w,
        "nobody",
        &[
            aci.to_str().unwrap(),
            "--mount",
            "volume=out,target=/out",
            "--",
            "-c",
            &script,
        ],
    );
    let app = enter_matches_the_app(&pod);
    assert!(line(&app, "Uid:").starts_with("Uid:\t65534\t"), "{app}");
    assert!(line(&app, "Gid:").starts_with("Gid:\t65534\t"), "{app}");
    assert_eq!(line(&app, "Groups:").trim_end(), "Groups:\t27 44");
    assert_eq!(line(&app, "CapEff:"), "CapEff:\t0000000000000000");
}

#[test]
fn enter_is_held_by_the_apps_seccomp_remove_set() {
    let w = World::new();
    let seccomp = RunningPod::busybox(
        &w,
        "seccomp",
        &["--seccomp", "mode=remove,errno=EACCES,mkdir,mkdirat"],
        "true",
    );
    let o = seccomp.enter(&["--", "/bin/sh", "-c", "mkdir /d"]);
    assert_ne!(code(&o), 0, "{}", explain(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Permission denied"),
        "{}",
        explain(&o)
    );
    // Positive control: the same command entered into a pod without the remove-set succeeds.
    let plain = RunningPod::busybox(&w, "plain", &[], "true");
    let o = plain.enter(&["--", "/bin/sh", "-c", "mkdir /d && test -d /d"]);
    assert_eq!(code(&o), 0, "{}", explain(&o));
}

#[test]
fn enter_joins_the_apps_root_and_the_pods_namespaces() {
    let w = World::new();
    let pod = RunningPod::busybox(
        &w,
        "ns",
        &["--working-dir", "/etc"],
        "echo app-was-here > /marker",
    );
    let short = pod.uuid.split('-').next().unwrap();
    let script = "cat /marker; pwd; hostname; ip -o link | wc -l; echo $$; ps -o comm | grep -c sleep; echo $AC_APP_NAME";
    let o = pod.enter(&["--", "/bin/sh", "-c", script]);
    assert_eq!(code(&o), 0, "{}", explain(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "app-was-here", "{out}");
    assert_eq!(lines[1], "/etc");
    assert_eq!(lines[2], format!("acrun-{short}"));
    assert_eq!(lines[3], "1", "only lo: {out}");
    assert!(lines[4].parse::<u32>().unwrap() < 20, "a pod pid: {out}");
    assert_eq!(lines[5], "1", "the app's sleep is visible: {out}");
    assert_eq!(lines[6], "busybox");
    // The app's masked and read-only /proc paths hold for the entered command too; positive
    // control: the host's /proc/timer_list has content.
    let o = pod.enter(&[
        "--",
        "/bin/sh",
        "-c",
        "wc -c < /proc/timer_list; echo x > /proc/sys/kernel/hostname || echo read-only",
    ]);
    assert_eq!(stdout(&o), "0\nread-only\n", "{}", explain(&o));
    assert!(!std::fs::read("/proc/timer_list").unwrap().is_empty());
}

#[test]
fn enter_exits_with_the_commands_status() {
    let w = World::new();
    let pod = RunningPod::busybox(&w, "codes", &[], "true");
    let o = pod.enter(&["--", "/bin/sh", "-c", "exit 5"]);
    assert_eq!(code(&o), 5, "{}", explain(&o));
    let o = pod.enter(&["--", "/bin/sh", "-c", "kill -9 $$"]);
    assert_eq!(code(&o), 137, "{}", explain(&o));
    let o = pod.enter(&["--", "/no/such/program"]);
    assert_eq!(code(&o), 254, "{}", explain(&o));
    // Without a command: /bin/sh, reading the commands from stdin (empty here).
    let o = pod.enter(&[]);
    assert_eq!(code(&o), 0, "{}", explain(&o));
}

#[test]
fn enter_refuses_unknown_and_exited_pods() {
    let w = World::new();
    let o = support::running::acrun(&w, &["enter", "00000000-no-such-pod"]);
    assert_eq!(code(&o), 2, "{}", explain(&o));
    let aci = busybox(&w);
    let uuid_file = w.path("exited.uuid");
    let o = run(
        &w,
        &[
            "--uuid-file-save",
            uuid_file.to_str().unwrap(),
            aci.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", explain(&o));
    let uuid = std::fs::read_to_string(&uuid_file).unwrap();
    let o = support::running::acrun(&w, &["enter", uuid.trim(), "--", "/bin/true"]);
    assert_eq!(code(&o), 254, "{}", explain(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not running"),
        "{}",
        explain(&o)
    );
    // Positive control: the same command entered into a running pod succeeds.
    let pod = RunningPod::busybox(&w, "running", &[], "true");
    let o = pod.enter(&["--", "/bin/true"]);
    assert_eq!(code(&o), 0, "{}", explain(&o));
}

#[test]
fn enter_needs_app_in_a_pod_of_several() {
    let w = World::new();
    let aci = busybox(&w);
    let aci = aci.to_str().unwrap();
    let wait = "while ! test -e /out/ready; do sleep 0.05; done; exec sleep 1000";
    let ready = "touch /out/ready; exec sleep 1000";
    let pod = RunningPod::start(
        &w,
        "two",
        &[
            aci,
            "--name",
            "one",
            "--mount",
            "volume=out,target=/out",
            "--",
            "-c",
            wait,
            "---",
            aci,
            "--name",
            "two",
            "--mount",
            "volume=out,target=/out",
            "--",
            "-c",
            ready,
        ],
    );
    let o = pod.enter(&["--", "/bin/true"]);
    assert_eq!(code(&o), 2, "{}", explain(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--app"));
    let o = pod.enter(&["--app", "three", "--", "/bin/true"]);
    assert_eq!(code(&o), 2, "{}", explain(&o));
    for name in ["one", "two"] {
        let o = pod.enter(&["--app", name, "--", "/bin/sh", "-c", "echo $AC_APP_NAME"]);
        assert_eq!(stdout(&o), format!("{name}\n"), "{}", explain(&o));
    }
}

#[test]
fn an_app_that_has_exited_cannot_be_entered_while_its_pod_runs() {
    let w = World::new();
    let aci = busybox(&w);
    let aci = aci.to_str().unwrap();
    let done = "touch /out/done";
    let wait = "while ! test -e /out/done; do sleep 0.05; done; touch /out/ready; exec sleep 1000";
    let pod = RunningPod::start(
        &w,
        "half",
        &[
            aci,
            "--name",
            "done",
            "--mount",
            "volume=out,target=/out",
            "--",
            "-c",
            done,
            "---",
            aci,
            "--name",
            "alive",
            "--mount",
            "volume=out,target=/out",
            "--",
            "-c",
            wait,
        ],
    );
    // The first app's runner may still be finishing its exit: it is gone within moments.
    let start = std::time::Instant::now();
    let o = loop {
        let o = pod.enter(&["--app", "done", "--", "/bin/true"]);
        if code(&o) != 0 || start.elapsed() > std::time::Duration::from_secs(10) {
            break o;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(code(&o), 254, "{}", explain(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("app done is not running"),
        "{}",
        explain(&o)
    );
    // Positive control: the app still running in the same pod can be entered.
    let o = pod.enter(&["--app", "alive", "--", "/bin/true"]);
    assert_eq!(code(&o), 0, "{}", explain(&o));
}

//! End-to-end tests of the isolators `acrun/tests/run.rs` does not cover: `resource/cpu`,
//! `os/linux/cpu-shares` (read from the app's own cgroup on the host while the pod runs, since a
//! pod has no cgroup filesystem) and `os/linux/oom-score-adj` (read inside the app). Each has its
//! positive control: the same app without the isolator gets the caller's values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use support::World;
use support::running::{RunningPod, code, explain, image, sh, stdout};

/// The host directory of the cgroup that a `/proc/PID/cgroup` text gives for `controller`, and
/// whether it is cgroup v2 (the controller is not on a v1 hierarchy).
fn cgroup_dir(proc_cgroup: &str, controller: &str) -> (PathBuf, bool) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let v1 = proc_cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        ctrls.split(',').any(|c| c == controller).then_some(path)
    });
    let (path, v2) = match v1 {
        Some(p) => (p, false),
        None => (
            proc_cgroup
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap(),
            true,
        ),
    };
    let mount = mountinfo
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let super_fields: Vec<&str> = right.split(' ').collect();
            let ok = if v2 {
                super_fields[0] == "cgroup2"
            } else {
                super_fields[0] == "cgroup" && super_fields[2].split(',').any(|o| o == controller)
            };
            // Only mounts of the hierarchy's root (this host's layout).
            (ok && fields[3] == "/").then(|| PathBuf::from(fields[4]))
        })
        .unwrap_or_else(|| panic!("no {controller} cgroup mount in\n{mountinfo}"));
    (mount.join(path.trim_start_matches('/')), v2)
}

/// Reads `v1_file` or `v2_file` of the `controller` cgroup named in `proc_cgroup`.
fn cgroup_value(proc_cgroup: &str, controller: &str, v1_file: &str, v2_file: &str) -> String {
    let (dir, v2) = cgroup_dir(proc_cgroup, controller);
    let file = dir.join(if v2 { v2_file } else { v1_file });
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_owned()
}

/// Starts `app_flags` on the busybox image, reads the app's cgroup file while it runs.
fn running_cgroup_value(w: &World, tag: &str, aci: &str, app_flags: &[&str]) -> (String, String) {
    let script = "cat /proc/self/cgroup > /out/app; touch /out/ready; exec sleep 1000";
    let mut args = vec![aci, "--mount", "volume=out,target=/out"];
    args.extend_from_slice(app_flags);
    args.extend(["--", "-c", script]);
    let pod = RunningPod::start(w, tag, &args);
    let cgroups = pod.read("app");
    let quota = cgroup_value(&cgroups, "cpu", "cpu.cfs_quota_us", "cpu.max");
    let shares = cgroup_value(&cgroups, "cpu", "cpu.shares", "cpu.weight");
    (quota, shares)
}

fn own_cgroup() -> String {
    std::fs::read_to_string("/proc/self/cgroup").unwrap()
}

#[test]
fn resource_cpu_sets_the_cfs_quota() {
    let w = World::new();
    let aci = support::running::busybox(&w);
    let aci = aci.to_str().unwrap();
    let (quota, _) = running_cgroup_value(&w, "limited", aci, &["--cpu", "500m"]);
    assert!(
        quota == "50000" || quota == "50000 100000",
        "500m is half of each 100 ms period: {quota}"
    );
    // Positive control: without the isolator, the app has the caller's (unlimited) quota.
    let (quota, _) = running_cgroup_value(&w, "free", aci, &[]);
    let caller = cgroup_value(&own_cgroup(), "cpu", "cpu.cfs_quota_us", "cpu.max");
    assert_eq!(quota, caller);
    assert!(quota == "-1" || quota.starts_with("max"), "{quota}");
}

#[test]
fn os_linux_cpu_shares_sets_the_cgroup_weight() {
    let w = World::new();
    let with = r#"{"exec":["/bin/sh"],"user":"0","group":"0",
        "isolators":[{"name":"os/linux/cpu-shares","value":512}]}"#;
    let aci = image(&w, "shares", with, &[]);
    let (_, shares) = running_cgroup_value(&w, "shares", aci.to_str().unwrap(), &[]);
    // v1 takes the shares as they are; v2 maps 2..262144 onto weights 1..10000.
    assert!(shares == "512" || shares == "20", "{shares}");
    // Positive control: the same app without the isolator has the caller's shares.
    let without = with.replace(r#"{"name":"os/linux/cpu-shares","value":512}"#, "");
    let aci = image(&w, "noshares", &without, &[]);
    let (_, shares) = running_cgroup_value(&w, "noshares", aci.to_str().unwrap(), &[]);
    assert_eq!(
        shares,
        cgroup_value(&own_cgroup(), "cpu", "cpu.shares", "cpu.weight")
    );
    assert_ne!(shares, "512");
}

#[test]
fn os_linux_oom_score_adj_is_set_in_the_app() {
    let w = World::new();
    let app = r#"{"exec":["/bin/sh","-c","cat /proc/self/oom_score_adj"],"user":"nobody","group":"nogroup",
        "isolators":[{"name":"os/linux/oom-score-adj","value":500}]}"#;
    let aci = image(&w, "oom", app, &[]);
    let o = support::running::run(&w, &[aci.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", explain(&o));
    assert_eq!(stdout(&o), "500\n");
    // Positive control: without the isolator the app inherits the caller's score.
    let own = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
    assert_ne!(own.trim(), "500");
    let o = sh(&w, &[], &[], "cat /proc/self/oom_score_adj");
    assert_eq!(stdout(&o), own, "{}", explain(&o));
}

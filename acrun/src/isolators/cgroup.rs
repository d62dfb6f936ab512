//! Cgroups: memory and CPU limits for a pod and its apps, nested under acrun's **own** cgroup
//! (read from `/proc/self/cgroup`), so a pod never escapes the limits acrun itself runs under.
//! The tree is `<own>/acrun-<uuid>/<app>`: the pod directory carries the pod-level isolators (the
//! bound), each app directory its own. cgroup v2 is used for a controller it offers at acrun's
//! cgroup; otherwise the v1 hierarchy of that controller (this host: v1 memory and cpu, a v2
//! mount holding only hugetlb — a hybrid layout acrun does not refuse, unlike crun).
//!
//! Defends against: a pod exhausting the host's memory or CPU; a pod placed at the hierarchy's
//! root and so outside its caller's limits.

use super::Limits;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A controller acrun uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Controller {
    /// `memory`.
    Memory,
    /// `cpu`.
    Cpu,
}

impl Controller {
    fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
        }
    }
}

/// Where one controller lives for acrun: its own cgroup directory and the cgroup version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// The controller.
    pub controller: Controller,
    /// acrun's own cgroup directory in that hierarchy.
    pub own_dir: PathBuf,
    /// Whether it is a cgroup v2 (unified) hierarchy.
    pub v2: bool,
}

/// A cgroup mount from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup path the mount shows as its root.
    pub root: String,
    /// v1 controllers from the super options (empty for v2).
    pub controllers: Vec<String>,
    /// `cgroup2`.
    pub v2: bool,
}

/// Parses `/proc/self/mountinfo` for cgroup mounts.
pub fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let (root, mount_point) = (unescape(l[3]), PathBuf::from(unescape(l[4])));
        match r[0] {
            "cgroup2" => out.push(CgroupMount {
                mount_point,
                root,
                controllers: vec![],
                v2: true,
            }),
            "cgroup" => out.push(CgroupMount {
                mount_point,
                root,
                controllers: r[2].split(',').map(str::to_owned).collect(),
                v2: false,
            }),
            _ => {}
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && let Ok(n) = u8::from_str_radix(&s[i + 1..i + 4], 8)
        {
            out.push(n);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/cgroup`: `(controllers, path)` per line; v2 has no controllers.
pub fn parse_proc_cgroup(text: &str) -> Vec<(Vec<String>, String)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrls = it.next()?;
            let path = it.next()?;
            let ctrls = ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            Some((ctrls, path.to_owned()))
        })
        .collect()
}

/// The directory of `own` (a cgroup path) below a mount whose root is `root`.
fn below(mount: &CgroupMount, own: &str) -> Option<PathBuf> {
    let rel = own.strip_prefix(mount.root.trim_end_matches('/'))?;
    let rel = rel.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return None;
    }
    Some(mount.mount_point.join(rel))
}

/// Finds where `controller` is available to acrun: v2 when the unified hierarchy offers it at
/// acrun's cgroup, else v1. `None` when neither has it.
pub fn locate(
    mounts: &[CgroupMount],
    own: &[(Vec<String>, String)],
    controller: Controller,
    v2_controllers: impl Fn(&Path) -> Vec<String>,
) -> Option<Hierarchy> {
    let name = controller.name();
    if let Some((_, path)) = own.iter().find(|(c, _)| c.is_empty())
        && let Some(m) = mounts.iter().find(|m| m.v2)
        && let Some(dir) = below(m, path)
        && v2_controllers(&dir).iter().any(|c| c == name)
    {
        return Some(Hierarchy {
            controller,
            own_dir: dir,
            v2: true,
        });
    }
    let (_, path) = own.iter().find(|(c, _)| c.iter().any(|c| c == name))?;
    let m = mounts
        .iter()
        .find(|m| !m.v2 && m.controllers.iter().any(|c| c == name))?;
    Some(Hierarchy {
        controller,
        own_dir: below(m, path)?,
        v2: false,
    })
}

/// The (file, value) writes that apply `limits` in a cgroup of `h`.
pub fn limit_writes(h: &Hierarchy, limits: &Limits) -> Vec<(&'static str, String)> {
    let mut w = Vec::new();
    match (h.controller, h.v2) {
        (Controller::Memory, false) => {
            if let Some(b) = limits.memory_bytes {
                w.push(("memory.limit_in_bytes", b.to_string()));
                w.push(("memory.memsw.limit_in_bytes", b.to_string()));
            }
        }
        (Controller::Memory, true) => {
            if let Some(b) = limits.memory_bytes {
                w.push(("memory.max", b.to_string()));
                w.push(("memory.swap.max", "0".to_owned()));
            }
        }
        (Controller::Cpu, false) => {
            if let Some(m) = limits.cpu_millis {
                w.push(("cpu.cfs_period_us", "100000".to_owned()));
                w.push(("cpu.cfs_quota_us", (m * 100).max(1000).to_string()));
            }
            if let Some(s) = limits.cpu_shares {
                w.push(("cpu.shares", s.to_string()));
            }
        }
        (Controller::Cpu, true) => {
            if let Some(m) = limits.cpu_millis {
                w.push(("cpu.max", format!("{} 100000", (m * 100).max(1000))));
            }
            if let Some(s) = limits.cpu_shares {
                let weight = 1 + (u64::from(s).saturating_sub(2) * 9999) / 262_142;
                w.push(("cpu.weight", weight.to_string()));
            }
        }
    }
    w
}

/// Which controllers `limits` needs.
pub fn needed(limits: &Limits) -> Vec<Controller> {
    let mut v = Vec::new();
    if limits.memory_bytes.is_some() {
        v.push(Controller::Memory);
    }
    if limits.cpu_millis.is_some() || limits.cpu_shares.is_some() {
        v.push(Controller::Cpu);
    }
    v
}

/// The cgroups of one pod.
#[derive(Debug, Default)]
pub struct PodCgroups {
    /// Per hierarchy: the pod directory, and the app directories in app order.
    created: Vec<(PathBuf, Vec<PathBuf>)>,
}

/// Failure to set a cgroup up.
#[derive(Debug, thiserror::Error)]
#[error("cgroup {path}: {source}")]
pub struct CgroupError {
    /// The file or directory.
    pub path: PathBuf,
    /// The OS error.
    pub source: io::Error,
}

fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(|source| CgroupError {
        path: path.to_owned(),
        source,
    })
}

fn mkdir(path: &Path) -> Result<(), CgroupError> {
    match fs::create_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(CgroupError {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

impl PodCgroups {
    /// Creates `<own>/acrun-<uuid>/<app>` in each hierarchy and writes the limits. Optional
    /// files (`memory.memsw.*`, `memory.swap.max`) that do not exist are skipped.
    pub fn create(
        hierarchies: &[Hierarchy],
        uuid: &str,
        pod: &Limits,
        apps: &[(&str, &Limits)],
    ) -> Result<PodCgroups, CgroupError> {
        let mut out = PodCgroups::default();
        for h in hierarchies {
            let pod_dir = h.own_dir.join(format!("acrun-{uuid}"));
            mkdir(&pod_dir)?;
            out.created.push((pod_dir.clone(), Vec::new()));
            if h.v2 {
                let ctl = format!("+{}", h.controller.name());
                write_file(&pod_dir.join("cgroup.subtree_control"), &ctl)?;
            }
            write_limits(h, &pod_dir, pod)?;
            for (name, limits) in apps {
                let dir = pod_dir.join(name);
                mkdir(&dir)?;
                if let Some(last) = out.created.last_mut() {
                    last.1.push(dir.clone());
                }
                write_limits(h, &dir, limits)?;
            }
        }
        Ok(out)
    }

    /// The `cgroup.procs` files app number `index` joins.
    pub fn procs_files(&self, index: usize) -> Vec<PathBuf> {
        self.created
            .iter()
            .filter_map(|(_, apps)| apps.get(index).map(|d| d.join("cgroup.procs")))
            .collect()
    }

    /// The directories, innermost first (for removal by `acrun gc` too).
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for (pod, apps) in &self.created {
            v.extend(apps.iter().cloned());
            v.push(pod.clone());
        }
        v
    }
}

fn write_limits(h: &Hierarchy, dir: &Path, limits: &Limits) -> Result<(), CgroupError> {
    for (file, value) in limit_writes(h, limits) {
        let path = dir.join(file);
        let optional = file.contains("swap") || file.contains("memsw");
        if optional && !path.exists() {
            continue;
        }
        write_file(&path, &value)?;
    }
    Ok(())
}

/// Removes cgroup directories (innermost first); ones already gone are fine.
pub fn remove_dirs(dirs: &[PathBuf]) {
    for d in dirs {
        let _ = fs::remove_dir(d);
    }
}

/// The directories a process must join to be in the same cgroups as another (`acrun enter`):
/// for each hierarchy of `target` (its `/proc/PID/cgroup`) where `own` differs, the target's
/// directory under the hierarchy's mount. A hierarchy that differs but is not mounted here is an
/// error naming it: joining only some of an app's cgroups would escape the others' limits.
pub fn join_dirs(
    mounts: &[CgroupMount],
    own: &[(Vec<String>, String)],
    target: &[(Vec<String>, String)],
) -> Result<Vec<PathBuf>, String> {
    let mut dirs = Vec::new();
    for (controllers, path) in target {
        if own.iter().any(|(c, p)| c == controllers && p == path) {
            continue;
        }
        let mount = mounts.iter().find(|m| {
            m.v2 == controllers.is_empty() && controllers.iter().all(|c| m.controllers.contains(c))
        });
        let name = if controllers.is_empty() {
            "cgroup2".to_owned()
        } else {
            controllers.join(",")
        };
        let dir = mount
            .and_then(|m| below(m, path))
            .ok_or_else(|| format!("cgroup {name}:{path} is not reachable from here"))?;
        dirs.push(dir);
    }
    Ok(dirs)
}

/// Moves this process into the cgroups that `target` (another process's `/proc/PID/cgroup`)
/// lists (see [`join_dirs`]).
pub fn join_like(target: &str) -> Result<(), String> {
    let read = |p: &str| fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let mounts = parse_mountinfo(&read("/proc/self/mountinfo")?);
    let own = parse_proc_cgroup(&read("/proc/self/cgroup")?);
    for dir in join_dirs(&mounts, &own, &parse_proc_cgroup(target))? {
        let procs = dir.join("cgroup.procs");
        write_file(&procs, "0").map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Finds the hierarchies for `controllers` on this host.
pub fn locate_here(controllers: &[Controller]) -> Vec<(Controller, Option<Hierarchy>)> {
    let mounts = fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_mountinfo(&t))
        .unwrap_or_default();
    let own = fs::read_to_string("/proc/self/cgroup")
        .map(|t| parse_proc_cgroup(&t))
        .unwrap_or_default();
    let v2 = |dir: &Path| {
        fs::read_to_string(dir.join("cgroup.controllers"))
            .map(|t| t.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    controllers
        .iter()
        .map(|c| (*c, locate(&mounts, &own, *c, v2)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 1 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
";
    const PROC_CGROUP: &str = "\
5:memory:/process_api/x
4:cpu,cpuacct:/
0::/process_api/x
";

    #[test]
    fn hybrid_host_uses_v1_when_v2_lacks_the_controller() {
        let mounts = parse_mountinfo(MOUNTINFO);
        let own = parse_proc_cgroup(PROC_CGROUP);
        let only_hugetlb = |_: &Path| vec!["hugetlb".to_owned()];
        let mem = locate(&mounts, &own, Controller::Memory, only_hugetlb).unwrap();
        assert_eq!(
            mem.own_dir,
            Path::new("/sys/fs/cgroup/memory/process_api/x")
        );
        assert!(!mem.v2);
        let cpu = locate(&mounts, &own, Controller::Cpu, only_hugetlb).unwrap();
        assert_eq!(cpu.own_dir, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
    }

    #[test]
    fn v2_is_preferred_when_it_offers_the_controller() {
        let mounts = parse_mountinfo(MOUNTINFO);
        let own = parse_proc_cgroup(PROC_CGROUP);
        let all = |_: &Path| vec!["memory".to_owned(), "cpu".to_owned()];
        let mem = locate(&mounts, &own, Controller::Memory, all).unwrap();
        assert!(mem.v2);
        assert_eq!(
            mem.own_dir,
            Path::new("/sys/fs/cgroup/unified/process_api/x")
        );
    }

    #[test]
    fn missing_controller_is_none() {
        let own = parse_proc_cgroup(PROC_CGROUP);
        assert!(locate(&[], &own, Controller::Memory, |_: &Path| vec![]).is_none());
    }

    #[test]
    fn limits_become_v1_and_v2_files() {
        let limits = Limits {
            memory_bytes: Some(1 << 20),
            cpu_millis: Some(500),
            cpu_shares: Some(1024),
        };
        let h = |controller, v2| Hierarchy {
            controller,
            own_dir: PathBuf::new(),
            v2,
        };
        assert_eq!(
            limit_writes(&h(Controller::Cpu, false), &limits)[1],
            ("cpu.cfs_quota_us", "50000".to_owned())
        );
        assert_eq!(
            limit_writes(&h(Controller::Cpu, true), &limits)[0],
            ("cpu.max", "50000 100000".to_owned())
        );
        assert_eq!(
            limit_writes(&h(Controller::Memory, true), &limits)[0],
            ("memory.max", "1048576".to_owned())
        );
    }

    #[test]
    fn enter_joins_only_the_hierarchies_that_differ() {
        let mounts = parse_mountinfo(MOUNTINFO);
        let own = parse_proc_cgroup(PROC_CGROUP);
        let app = parse_proc_cgroup(
            "5:memory:/process_api/x/acrun-u/web\n4:cpu,cpuacct:/acrun-u/web\n0::/process_api/x\n",
        );
        assert_eq!(
            join_dirs(&mounts, &own, &app).unwrap(),
            [
                Path::new("/sys/fs/cgroup/memory/process_api/x/acrun-u/web"),
                Path::new("/sys/fs/cgroup/cpu,cpuacct/acrun-u/web"),
            ]
        );
        assert_eq!(
            join_dirs(&mounts, &own, &own).unwrap(),
            Vec::<PathBuf>::new()
        );
    }

    #[test]
    fn enter_refuses_a_hierarchy_it_cannot_reach() {
        let mounts = parse_mountinfo(MOUNTINFO);
        let own = parse_proc_cgroup(PROC_CGROUP);
        let app = parse_proc_cgroup("6:pids:/acrun-u/web\n");
        assert!(join_dirs(&mounts, &own, &app).unwrap_err().contains("pids"));
        let dotdot = parse_proc_cgroup("5:memory:/process_api/x/../../etc\n");
        assert!(join_dirs(&mounts, &own, &dotdot).is_err());
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}

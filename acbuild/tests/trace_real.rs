//! `acbuild trace` on the machine's real programs: against lddtree, inside a sysroot, and by
//! running the traced closure under chroot. Needs root, gcc, chroot, pax-utils (lddtree),
//! etcd-server and crun (all in xtask/debian-packages.txt); a missing tool fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/acbuild_cmd.rs"]
mod acbuild_cmd;
#[path = "support/trace_cmd.rs"]
mod trace_cmd;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use std::process::{Command, Output};
use trace_cmd::{acbuild, traced_paths};

fn require(program: &str, package: &str) {
    assert!(
        Path::new(program).exists(),
        "{program} is missing: apt-get install {package}"
    );
}

/// Copy in-root `paths` from `root` into `dest`, keeping symlinks as symlinks.
fn copy_closure(root: &Path, paths: &BTreeSet<PathBuf>, dest: &Path) {
    for path in paths {
        let from = root.join(path.strip_prefix("/").unwrap());
        let to = dest.join(path.strip_prefix("/").unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let meta = std::fs::symlink_metadata(&from).unwrap();
        if meta.file_type().is_symlink() {
            symlink(std::fs::read_link(&from).unwrap(), &to).unwrap();
        } else {
            std::fs::copy(&from, &to).unwrap();
        }
    }
}

fn chroot(dir: &Path, args: &[&str]) -> Output {
    require("/usr/sbin/chroot", "coreutils");
    Command::new("/usr/sbin/chroot")
        .arg(dir)
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

/// Copy `program`'s closure into an empty directory and run it there under chroot. With
/// `with_proc`, a private /proc is mounted first (in a new mount namespace).
fn assert_closure_runs(program: &str, args: &[&str], with_proc: bool) {
    let dir = tempfile::tempdir().unwrap();
    let paths = traced_paths(&[program]);
    copy_closure(Path::new("/"), &paths, dir.path());
    let mut argv = vec![program];
    argv.extend(args);
    let out = if with_proc {
        require("/usr/bin/unshare", "util-linux");
        std::fs::create_dir(dir.path().join("proc")).unwrap();
        let script = r#"mount -t proc proc "$1/proc" && shift && exec /usr/sbin/chroot "$@""#;
        Command::new("/usr/bin/unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                script,
                "sh",
            ])
            .arg(dir.path())
            .arg(dir.path())
            .args(&argv)
            .env_clear()
            .output()
            .unwrap()
    } else {
        chroot(dir.path(), &argv)
    };
    assert!(
        out.status.success(),
        "{program} does not start from its traced closure {paths:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn etcd_starts_from_its_traced_closure_alone() {
    require("/usr/bin/etcd", "etcd-server");
    assert_closure_runs("/usr/bin/etcd", &["--version"], false);
}

#[test]
fn crun_starts_from_its_traced_closure_alone() {
    require("/usr/bin/crun", "crun");
    // crun re-executes itself from /proc/self/exe (a CVE-2019-5736 defence), so it needs /proc
    // at run time — a mount, not a file of its closure.
    assert_closure_runs("/usr/bin/crun", &["--version"], true);
}

/// A merged-/usr sysroot holding the host's libc and loader, with `/lib` and `/lib64` as
/// relative directory links and the loader reached through an *absolute* symlink.
fn sysroot() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let multiarch = root.join("usr/lib/x86_64-linux-gnu");
    std::fs::create_dir_all(&multiarch).unwrap();
    std::fs::create_dir_all(root.join("usr/lib64")).unwrap();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    for lib in ["libc.so.6", "ld-linux-x86-64.so.2"] {
        let host = std::fs::canonicalize(Path::new("/lib/x86_64-linux-gnu").join(lib)).unwrap();
        std::fs::copy(host, multiarch.join(lib)).unwrap();
    }
    symlink("usr/lib", root.join("lib")).unwrap();
    symlink("usr/lib64", root.join("lib64")).unwrap();
    symlink(
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        root.join("usr/lib64/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    let hello = root.join("usr/bin/hello");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/trace/hello.c");
    let out = Command::new("gcc")
        .args(["-o", hello.to_str().unwrap(), source])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn sysroot_trace_stays_inside_the_root_and_reroots_absolute_links() {
    let dir = sysroot();
    let root = dir.path().to_str().unwrap();
    let paths = traced_paths(&["--root", root, "/usr/bin/hello"]);
    let want: BTreeSet<PathBuf> = [
        "/lib",
        "/lib64",
        "/usr/bin/hello",
        "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib64/ld-linux-x86-64.so.2",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(paths, want);
}

#[test]
fn sysroot_closure_runs_under_chroot() {
    let dir = sysroot();
    let root = dir.path().to_str().unwrap();
    let paths = traced_paths(&["--root", root, "/usr/bin/hello"]);
    let copy = tempfile::tempdir().unwrap();
    copy_closure(dir.path(), &paths, copy.path());
    let out = chroot(copy.path(), &["/usr/bin/hello"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hello\n");
}

#[test]
fn sysroot_symlink_climbing_out_of_the_root_stays_inside() {
    let dir = sysroot();
    // On the host this would reach /usr/bin/crun; inside the root there is no such file.
    symlink(
        "../../../../../../usr/bin/crun",
        dir.path().join("usr/bin/escape"),
    )
    .unwrap();
    let out = acbuild(&["--root", dir.path().to_str().unwrap(), "/usr/bin/escape"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// Every file named in a list, with symlinks resolved. Directory symlinks (`/lib -> usr/lib`),
/// which only our list holds, resolve to directories and are left out.
fn real_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> BTreeSet<PathBuf> {
    paths
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| std::fs::canonicalize(l).unwrap())
        .filter(|p| !p.is_dir())
        .collect()
}

#[test]
fn agrees_with_lddtree_on_real_programs() {
    require("/usr/bin/lddtree", "pax-utils python3-pyelftools");
    let probe = Command::new("/usr/bin/python3")
        .args(["/usr/bin/lddtree", "-l", "/usr/bin/env"])
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "lddtree does not run: apt-get install pax-utils python3-pyelftools"
    );
    let mut programs: Vec<PathBuf> = std::fs::read_dir("/usr/bin")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.is_symlink() && is_elf(p))
        .collect();
    programs.sort();
    // A spread over the whole directory, plus the two programs our images ship.
    let step = (programs.len() / 40).max(1);
    let mut chosen: Vec<PathBuf> = programs.iter().step_by(step).cloned().collect();
    chosen.extend([
        PathBuf::from("/usr/bin/etcd"),
        PathBuf::from("/usr/bin/crun"),
    ]);
    assert!(
        chosen.len() >= 30,
        "only {} ELF programs in /usr/bin",
        chosen.len()
    );
    for program in &chosen {
        let program = program.to_str().unwrap();
        let lddtree = Command::new("/usr/bin/python3")
            .args(["/usr/bin/lddtree", "-l", program])
            .output()
            .unwrap();
        assert!(
            lddtree.status.success(),
            "lddtree {program}: {}",
            String::from_utf8_lossy(&lddtree.stderr)
        );
        let theirs = real_paths(String::from_utf8(lddtree.stdout).unwrap().lines());
        let ours_list = traced_paths(&[program]);
        // Our list also holds the symlinks met (/lib, /lib64, soname links); resolved, each
        // names a file lddtree lists too, so after resolving the sets must be equal.
        let ours = real_paths(ours_list.iter().map(|p| p.to_str().unwrap()));
        assert_eq!(
            ours, theirs,
            "acbuild trace and lddtree disagree on {program}"
        );
    }
}

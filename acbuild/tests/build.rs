#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end: `acbuild RECIPE` writes a valid, runnable, minimal and reproducible ACI.
//! Needs root (chroot), `actool` (appc-spec), `tar`, and the programs of the recipes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/acbuild_cmd.rs"]
mod acbuild_cmd;
#[path = "support/aci_tar.rs"]
mod aci_tar;
use aci_tar::extract;

fn recipe(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../recipes")
        .join(name)
}

fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "this test needs `{tool}` (see xtask/debian-packages.txt)"
    );
}

/// Runs acbuild with its cache in `cwd/cache`, so tests never share or pollute a cache. Builds
/// sign with a key made once for this test process, never the user's own.
fn acbuild(cwd: &Path, args: &[&str]) -> Output {
    acbuild_cmd::acbuild(args)
        .current_dir(cwd)
        .env("XDG_CACHE_HOME", cwd.join("cache"))
        .output()
        .unwrap()
}

fn build(cwd: &Path, recipe: &Path, out: &Path) -> PathBuf {
    let o = acbuild(
        cwd,
        &[
            "build",
            recipe.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    PathBuf::from(summary[0]["path"].as_str().unwrap())
}

fn listing(rootfs: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(rootfs)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            format!(
                "/{}",
                e.unwrap().path().strip_prefix(rootfs).unwrap().display()
            )
        })
        .collect()
}

#[test]
fn the_etcd_image_validates_runs_and_holds_only_its_closure_and_declared_entries() {
    require("actool");
    let tmp = tempfile::tempdir().unwrap();
    let aci = build(tmp.path(), &recipe("etcd.kdl"), &tmp.path().join("out"));
    assert_eq!(aci.file_name().unwrap(), "etcd-3.4.23-linux-amd64.aci");
    let v = Command::new("actool")
        .arg("validate")
        .arg(&aci)
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "actool: {}",
        String::from_utf8_lossy(&v.stderr)
    );

    let x = tmp.path().join("x");
    std::fs::create_dir(&x).unwrap();
    extract(&aci, &x);
    let rootfs = x.join("rootfs");
    let run = Command::new("chroot")
        .arg(&rootfs)
        .args(["/usr/bin/etcd", "--version"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("3.4.23"));

    // Expected: the trace (inside the image: the recipe is in package mode) of the programs and
    // the NSS modules in the image, the declared entries, the NSS configuration, and their
    // parents. The sysroot has no netbase, so no /etc/services.
    let got = listing(&rootfs);
    let mut traced: Vec<String> = vec!["/usr/bin/etcd".into(), "/usr/bin/etcdctl".into()];
    traced.extend(got.iter().filter(|p| p.contains("/libnss_")).cloned());
    let root = rootfs.to_str().unwrap().to_owned();
    let mut args = vec!["trace", "--root", &root];
    args.extend(traced.iter().map(String::as_str));
    let t = acbuild(tmp.path(), &args);
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let mut want: BTreeSet<String> = String::from_utf8_lossy(&t.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    for p in [
        "/etc/passwd",
        "/etc/group",
        "/etc/nsswitch.conf",
        "/var/lib/etcd",
    ] {
        want.insert(p.to_owned());
    }
    let mut parents = BTreeSet::new();
    for p in &want {
        let mut a = Path::new(p).parent();
        while let Some(d) = a.filter(|d| *d != Path::new("/")) {
            parents.insert(d.display().to_string());
            a = d.parent();
        }
    }
    want.extend(parents);
    assert_eq!(got, want);
}

fn build_with(
    recipe: &Path,
    out: &Path,
    cwd: &Path,
    env: &[(&str, &str)],
    umask: &str,
    jobs: &str,
) -> Vec<u8> {
    let cmd =
        format!("umask {umask}; exec \"$0\" build \"$1\" --out \"$2\" --jobs {jobs} --no-cache");
    let mut c = Command::new("sh");
    acbuild_cmd::clean(&mut c)
        .arg("-c")
        .arg(cmd)
        .arg(env!("CARGO_BIN_EXE_acbuild"))
        .arg(recipe)
        .arg(out)
        .current_dir(cwd);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let aci = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "aci"))
        .unwrap();
    std::fs::read(aci).unwrap()
}

#[test]
fn every_recipe_builds_to_the_same_bytes_whatever_the_environment() {
    for name in ["etcd.kdl", "getent.kdl", "curl.kdl"] {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(b.join("deep/cwd")).unwrap();
        let first = build_with(
            &recipe(name),
            &a.join("out"),
            tmp.path(),
            &[("TZ", "UTC"), ("LANG", "C")],
            "022",
            "1",
        );
        let second = build_with(
            &recipe(name),
            &b.join("out"),
            &b.join("deep/cwd"),
            &[
                ("TZ", "Asia/Kolkata"),
                ("LANG", "de_DE.UTF-8"),
                ("LC_ALL", "de_DE.UTF-8"),
            ],
            "077",
            "3",
        );
        assert!(first == second, "{name}: builds differ");
    }
}

#[test]
fn input_mtimes_and_owners_do_not_change_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("static/sub")).unwrap();
    std::fs::write(src.join("static/sub/a.txt"), "a").unwrap();
    std::fs::write(src.join("conf"), "c").unwrap();
    std::fs::write(
        src.join("r.kdl"),
        "image \"example.com/t\" version=\"1\" {\n    tree \"static\" to=\"/srv\"\n    file \"conf\" to=\"/etc/conf\"\n}\n",
    )
    .unwrap();
    let first = build_with(
        &src.join("r.kdl"),
        &tmp.path().join("o1"),
        tmp.path(),
        &[],
        "022",
        "0",
    );
    for f in ["static/sub/a.txt", "conf", "static/sub"] {
        let st = Command::new("touch")
            .args(["-d", "2001-02-03"])
            .arg(src.join(f))
            .status()
            .unwrap();
        assert!(st.success());
        std::os::unix::fs::chown(src.join(f), Some(4242), Some(4242)).unwrap();
    }
    let second = build_with(
        &src.join("r.kdl"),
        &tmp.path().join("o2"),
        tmp.path(),
        &[],
        "022",
        "0",
    );
    assert!(first == second);
}

#[test]
fn source_date_epoch_sets_the_entry_times() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("r.kdl"),
        "image \"example.com/t\" {\n    text \"/a\" \"x\"\n}\n",
    )
    .unwrap();
    let a = build_with(
        &tmp.path().join("r.kdl"),
        &tmp.path().join("o1"),
        tmp.path(),
        &[("SOURCE_DATE_EPOCH", "1000")],
        "022",
        "0",
    );
    let b = build_with(
        &tmp.path().join("r.kdl"),
        &tmp.path().join("o2"),
        tmp.path(),
        &[("SOURCE_DATE_EPOCH", "2000")],
        "022",
        "0",
    );
    assert!(a != b);
}

#[test]
fn a_malformed_recipe_exits_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("r.kdl"),
        "image \"a\" {\n    progam \"/usr/bin/etcd\"\n}\n",
    )
    .unwrap();
    let o = acbuild(tmp.path(), &["r.kdl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `program`?"));
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn a_program_needing_nss_without_the_runtime_set_warns_at_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("r.kdl"),
        "image \"example.com/g\" {\n    program \"/usr/bin/getent\"\n}\n",
    )
    .unwrap();
    let o = acbuild(tmp.path(), &["check", "r.kdl"]);
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("r.kdl:2:5: warning:") && stderr.contains("runtime \"nss\""),
        "{stderr}"
    );
}

#[test]
fn the_getent_image_resolves_localhost_through_nss() {
    let tmp = tempfile::tempdir().unwrap();
    let aci = build(tmp.path(), &recipe("getent.kdl"), &tmp.path().join("out"));
    extract(&aci, tmp.path());
    let run = Command::new("chroot")
        .arg(tmp.path().join("rootfs"))
        .args(["/usr/bin/getent", "hosts", "localhost"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // glibc answers ::1 or 127.0.0.1 first depending on the host; either came from /etc/hosts.
    assert!(String::from_utf8_lossy(&run.stdout).contains("localhost"));
}

#[test]
fn the_curl_image_carries_the_ca_bundle_and_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let aci = build(tmp.path(), &recipe("curl.kdl"), &tmp.path().join("out"));
    extract(&aci, tmp.path());
    let rootfs = tmp.path().join("rootfs");
    assert!(rootfs.join("etc/ssl/certs/ca-certificates.crt").is_file());
    let run = Command::new("chroot")
        .arg(&rootfs)
        .args(["/usr/bin/curl", "--version"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn a_second_build_with_nothing_changed_comes_from_the_cache_and_a_change_rebuilds() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("conf");
    std::fs::write(&input, "one").unwrap();
    let recipe = tmp.path().join("r.kdl");
    std::fs::write(
        &recipe,
        "image \"example.com/t\" version=\"1\" {\n    file \"conf\" to=\"/etc/conf\"\n}\n",
    )
    .unwrap();
    let first = build(tmp.path(), &recipe, &tmp.path().join("o1"));
    let second = build(tmp.path(), &recipe, &tmp.path().join("o2"));
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap()
    );
    // Served from the cache: the output is a hard link to the cached image.
    assert!(std::fs::metadata(&second).unwrap().nlink() > 1);
    std::fs::write(&input, "two").unwrap();
    let third = build(tmp.path(), &recipe, &tmp.path().join("o3"));
    assert_ne!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&third).unwrap()
    );
}

#[test]
fn build_signs_its_image_and_no_sign_leaves_it_unsigned() {
    let t = tempfile::tempdir().unwrap();
    let recipe = t.path().join("hello.kdl");
    std::fs::write(
        &recipe,
        "image \"example.com/hello\" version=\"1.0\" {\n    text \"/etc/motd\" \"hello\"\n}\n",
    )
    .unwrap();
    let out = acbuild(
        t.path(),
        &[
            "build",
            recipe.to_str().unwrap(),
            "--out",
            "signed",
            "--no-cache",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let asc = t.path().join("signed/hello-1.0-linux-amd64.aci.asc");
    let sig = std::fs::read_to_string(&asc).unwrap();
    assert!(sig.starts_with("-----BEGIN PGP SIGNATURE-----"), "{sig}");

    let out = acbuild(
        t.path(),
        &[
            "build",
            recipe.to_str().unwrap(),
            "--out",
            "unsigned",
            "--no-cache",
            "--no-sign",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-sign"));
    assert!(t.path().join("unsigned/hello-1.0-linux-amd64.aci").exists());
    assert!(
        !t.path()
            .join("unsigned/hello-1.0-linux-amd64.aci.asc")
            .exists()
    );
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end: `cargo xtask release` in a temporary `git archive` copy of the repository, signed
//! with a passphrase-protected gpg key made for the test (the CI setup of docs/ci.md:
//! `ACBUILD_SIGN_KEY` + `ACBUILD_KEY_PASSPHRASE`). The result is checked with other tools:
//! `sha512sum -c`, `gpg --verify`, `actool validate`, the site's discovery tags. Then a recipe
//! input rewritten between the two builds (`--between-builds`) must fail the release, naming the
//! entry; the first run, where the same recipe is left alone, is its positive control.
//!
//! Slow: it builds acbuild and acrun in release mode. Cargo's target directory is this test's
//! own (`CARGO_TARGET_DIR` = the directory holding target/debug), so the dependencies are built
//! once and shared with `cargo xtask release` and the benchmarks. Needs root (the recipe tests
//! run pods), git, gpg, actool (appc-spec), busybox-static and the recipes' programs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PASSPHRASE: &str = "release test passphrase";

fn require(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "this test needs `{tool}`: apt-get install {package}");
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}\n{}", explain(&out));
    out
}

fn explain(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The target directory this test binary was built in (target/debug/deps/THIS → target).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// A copy of the repository's tracked files (`git archive` of `git stash create`, which is HEAD
/// plus the uncommitted changes to tracked files, or HEAD when there are none) in `dir/repo`.
fn archive_copy(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).unwrap();
    let stash = run(Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["stash", "create"]));
    let stash = String::from_utf8_lossy(&stash.stdout).trim().to_owned();
    let tree = if stash.is_empty() {
        "HEAD".to_owned()
    } else {
        stash
    };
    let tar = dir.join("repo.tar");
    run(Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["archive", "--format=tar", "-o"])
        .arg(&tar)
        .arg(&tree));
    run(Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&repo));
    repo
}

/// A passphrase-protected Ed25519 key in `gnupg`, exported armoured to `dir/release-key.asc`.
fn gpg_key(dir: &Path, gnupg: &Path) -> PathBuf {
    std::fs::create_dir(gnupg).unwrap();
    std::fs::set_permissions(gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = || {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", gnupg).args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            PASSPHRASE,
        ]);
        c
    };
    run(gpg().args([
        "--quick-gen-key",
        "Release Test <release@example.com>",
        "ed25519",
        "sign",
        "never",
    ]));
    let out = run(gpg().args(["--armor", "--export-secret-keys", "release@example.com"]));
    let key = dir.join("release-key.asc");
    std::fs::write(&key, out.stdout).unwrap();
    key
}

/// `cargo xtask release ARGS...` in `repo` (the xtask binary built from this same tree).
fn release(repo: &Path, key: &Path, gnupg: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("release")
        .args(args)
        .current_dir(repo)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("ACBUILD_SIGN_KEY", key)
        .env("ACBUILD_KEY_PASSPHRASE", PASSPHRASE)
        .env("GNUPGHOME", gnupg)
        .env("XDG_CONFIG_HOME", repo.join("../config"))
        .env("XDG_CACHE_HOME", repo.join("../cache"))
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A busybox recipe with one file from the recipe directory: the input the second run rewrites.
fn add_probe_recipe(repo: &Path) {
    std::fs::write(repo.join("recipes/probe.txt"), "probe input\n").unwrap();
    std::fs::write(
        repo.join("recipes/probe.kdl"),
        r#"image "example.com/probe" version="1.0" {
    program "/bin/busybox"
    file "probe.txt" to="/etc/probe.txt"
    test "reads-its-file" {
        exec "/bin/busybox" "cat" "/etc/probe.txt"
        expect-stdout-contains "probe input"
    }
}
"#,
    )
    .unwrap();
}

fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    v.sort();
    v
}

#[test]
fn release_in_a_git_archive_copy_is_signed_checked_and_reproducible() {
    for (tool, package) in [
        ("git", "git"),
        ("gpg", "gnupg"),
        ("actool", "appc-spec"),
        ("sha512sum", "coreutils"),
        ("busybox", "busybox-static"),
    ] {
        require(tool, package);
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = archive_copy(dir.path());
    add_probe_recipe(&repo);
    let gnupg = dir.path().join("gnupg");
    let key = gpg_key(dir.path(), &gnupg);

    let out = release(
        &repo,
        &key,
        &gnupg,
        &[
            "--base-url",
            "https://example.com",
            "--base-url",
            "https://coreos.com",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", explain(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", explain(&out)));
    assert_eq!(summary["ok"], true, "{summary}");
    let images = summary["images"].as_array().unwrap();
    let recipes = files_with_extension(&repo.join("recipes"), ".kdl").len();
    assert_eq!(images.len(), recipes, "{summary}");
    for image in images {
        assert!(image["difference"].is_null(), "{image}");
        assert!(image["tests_failed"] == 0, "{image}");
        assert!(image["tests_passed"].as_u64().unwrap() >= 1, "{image}");
        assert!(image["site"].is_string(), "{image}");
    }

    let dist = repo.join("dist");
    let version = env!("CARGO_PKG_VERSION");
    let arch = std::env::consts::ARCH;
    for tool in ["acbuild", "acrun"] {
        let tarball = dist.join(format!("{tool}-{version}-{arch}-linux.tar.gz"));
        let listing = run(Command::new("tar").arg("-tzf").arg(&tarball));
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(
            listing.contains(&format!("{tool}-{version}-{arch}-linux/{tool}\n")),
            "{listing}"
        );
    }
    run(Command::new("sha512sum")
        .args(["-c", "--strict", "SHA512SUMS"])
        .current_dir(&dist));
    let sums = std::fs::read_to_string(dist.join("SHA512SUMS")).unwrap();
    let gpg_verify = |sig: &Path, file: &Path| {
        run(Command::new("gpg")
            .env("GNUPGHOME", &gnupg)
            .args(["--batch", "--verify"])
            .arg(sig)
            .arg(file));
    };
    gpg_verify(&dist.join("SHA512SUMS.asc"), &dist.join("SHA512SUMS"));
    let acis = files_with_extension(&dist.join("images"), ".aci");
    assert_eq!(acis.len(), recipes);
    for aci in &acis {
        let name = aci.file_name().unwrap().to_string_lossy().into_owned();
        assert!(sums.contains(&format!("  images/{name}\n")), "{sums}");
        assert!(sums.contains(&format!("  images/{name}.asc\n")), "{sums}");
        gpg_verify(&aci.with_extension("aci.asc"), aci);
        run(Command::new("actool").arg("validate").arg(aci));
    }
    for (site, name) in [
        ("example.com", "example.com/probe"),
        ("coreos.com", "coreos.com/etcd"),
    ] {
        let page =
            std::fs::read_to_string(dist.join("site").join(site).join("index.html")).unwrap();
        assert!(
            page.contains(&format!(
                "<meta name=\"ac-discovery\" content=\"{site} https://{site}/"
            )),
            "{page}"
        );
        assert!(
            page.contains("<meta name=\"ac-discovery-pubkeys\""),
            "{page}"
        );
        let deepest = name.split_once('/').unwrap().1;
        assert!(
            dist.join("site")
                .join(site)
                .join(deepest)
                .join("index.html")
                .is_file(),
            "no discovery page for {name}"
        );
    }

    // The same release, with the probe's input rewritten between the two builds.
    let out = release(
        &repo,
        &key,
        &gnupg,
        &[
            "--skip-tests",
            "--between-builds",
            "echo rewritten >> recipes/probe.txt",
        ],
    );
    let all = explain(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("not reproducible: probe-1.0-linux-")
            && all.contains(": entry rootfs/etc/probe.txt: content (12 vs 22 bytes) differs"),
        "{all}"
    );
    assert!(all.contains("nothing was signed or published"), "{all}");
    assert!(
        !dist.join("SHA512SUMS").exists(),
        "a failed release signs nothing"
    );
}

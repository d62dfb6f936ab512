#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end: package mode. `acbuild recipes/etcd.kdl` takes etcd and its libraries from the
//! Debian packages pinned in `recipes/etcd.lock` (fetched by `apt-get download` through the
//! machine's configured sources), never from the host; the lockfile pins every package and file.
//! Needs root (a private mount namespace, chroot), `unshare` (util-linux), `apt-get` with
//! package lists (`apt-get update`) and network access to the Debian mirror.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/acbuild_cmd.rs"]
mod acbuild_cmd;
#[path = "support/aci_tar.rs"]
mod aci_tar;
use aci_tar::extract;

fn require(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "this test needs `{tool}`: apt-get install {package}");
}

/// A copy of a recipe of `recipes/` and its lockfile in `dir`, so that builds never rewrite the
/// committed files.
fn recipe_copy(dir: &Path, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes");
    let kdl = dir.join(format!("{name}.kdl"));
    fs::copy(src.join(format!("{name}.kdl")), &kdl).unwrap();
    fs::copy(
        src.join(format!("{name}.lock")),
        dir.join(format!("{name}.lock")),
    )
    .unwrap();
    kdl
}

/// `acbuild ARGS` with its cache in `cache`.
fn acbuild(cache: &Path, args: &[&str]) -> Output {
    acbuild_cmd::acbuild(args)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap()
}

fn build(cache: &Path, recipe: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "build",
        recipe.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-sign",
        "--json",
    ];
    args.extend(extra);
    acbuild(cache, &args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ACI: &str = "etcd-3.4.23-linux-amd64.aci";

/// The first "Done when" of issue 14: with the host's etcd and etcdctl hidden (empty files
/// bind-mounted over them in a private mount namespace), the etcd recipe builds and its etcd
/// runs. The positive control of the hiding: the same recipe in host mode fails there.
#[test]
fn the_etcd_recipe_builds_and_runs_with_the_hosts_etcd_hidden() {
    require("unshare", "util-linux");
    require("chroot", "coreutils");
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let host_mode = tmp.path().join("host-mode.kdl");
    let text = fs::read_to_string(&recipe).unwrap();
    let without_packages: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("package "))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&host_mode, without_packages).unwrap();
    let empty = tmp.path().join("empty");
    fs::write(&empty, "").unwrap();
    let script = r#"set -e
mount --bind "$EMPTY" /usr/bin/etcd
mount --bind "$EMPTY" /usr/bin/etcdctl
test ! -s /usr/bin/etcd && test ! -s /usr/bin/etcdctl
if "$ACBUILD" build "$HOST_MODE" --out "$TMP/host-out" --no-sign 2>"$TMP/host-mode.err"; then
    echo "host mode built with etcd hidden" >&2; exit 3
fi
"$ACBUILD" build "$RECIPE" --out "$TMP/out" --no-sign --json
"#;
    let o = acbuild_cmd::clean(&mut Command::new("unshare"))
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("EMPTY", &empty)
        .env("ACBUILD", env!("CARGO_BIN_EXE_acbuild"))
        .env("HOST_MODE", &host_mode)
        .env("RECIPE", &recipe)
        .env("TMP", tmp.path())
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let host_err = fs::read_to_string(tmp.path().join("host-mode.err")).unwrap();
    assert!(host_err.contains("/usr/bin/etcd"), "{host_err}");
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary[0]["inputs"], "packages");
    let image = tmp.path().join("image");
    extract(&tmp.path().join("out").join(ACI), &image);
    let run = Command::new("chroot")
        .arg(image.join("rootfs"))
        .args(["/usr/bin/etcd", "--version"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && out.contains("3.4.23"),
        "{out}{}",
        stderr(&run)
    );
}

/// Reproducibility across machines: two builds, each with its own empty cache and its own
/// directory, give the same bytes; host mode reports itself as such.
#[test]
fn two_builds_with_two_empty_caches_give_identical_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut images = Vec::new();
    let mut sboms = Vec::new();
    for dir in [a.path(), b.path()] {
        let recipe = recipe_copy(dir, "etcd");
        let o = build(&dir.join("cache"), &recipe, &dir.join("out"), &["--locked"]);
        assert!(o.status.success(), "{}", stderr(&o));
        images.push(fs::read(dir.join("out").join(ACI)).unwrap());
        sboms.push(fs::read(dir.join("out/etcd-3.4.23-linux-amd64.spdx.json")).unwrap());
    }
    assert!(images[0] == images[1], "the two builds differ");
    assert!(sboms[0] == sboms[1], "the two SBOMs differ");
    let host = a.path().join("host.kdl");
    fs::write(
        &host,
        "image \"example.com/sh\" {\n    program \"/bin/sh\"\n}\n",
    )
    .unwrap();
    let o = build(&a.path().join("cache"), &host, &a.path().join("out"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary[0]["inputs"], "host");
}

/// A cached `.deb` whose bytes changed is never unpacked: it is fetched again, verified, and the
/// build gives the same image. A changed file in the unpacked sysroot is refused, naming its
/// package.
#[test]
fn a_tampered_cache_is_never_used() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let cache = tmp.path().join("cache");
    let o = build(&cache, &recipe, &tmp.path().join("out1"), &["--locked"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = fs::read(tmp.path().join("out1").join(ACI)).unwrap();

    let lock: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join("etcd.lock")).unwrap()).unwrap();
    let sha = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "etcd-server")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let deb = cache.join(format!("acbuild/debs/{sha}.deb"));
    let mut bytes = fs::read(&deb).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0xff;
    fs::write(&deb, &bytes).unwrap();
    fs::remove_dir_all(cache.join("acbuild/sysroots")).unwrap();
    let o = build(
        &cache,
        &recipe,
        &tmp.path().join("out2"),
        &["--locked", "--no-cache"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(fs::read(tmp.path().join("out2").join(ACI)).unwrap() == first);
    assert_ne!(
        fs::read(&deb).unwrap(),
        bytes,
        "the tampered file is still cached"
    );

    let sysroot = fs::read_dir(cache.join("acbuild/sysroots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("root").is_dir())
        .unwrap();
    let etcd = sysroot.join("root/usr/bin/etcd");
    let mut program = fs::read(&etcd).unwrap();
    program.push(0);
    fs::write(&etcd, program).unwrap();
    let out3 = tmp.path().join("out3");
    let o = build(&cache, &recipe, &out3, &["--no-cache"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("`/usr/bin/etcd` of package `etcd-server`"),
        "{err}"
    );
    assert!(!out3.join(ACI).exists());
}

/// `--locked` refuses a lockfile with one package hash changed, naming the package, and writes
/// nothing; it refuses a missing lockfile; the unchanged lockfile builds (the positive control).
#[test]
fn locked_refuses_a_changed_hash_and_a_missing_lockfile() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let cache = tmp.path().join("cache");
    let lock_path = tmp.path().join("etcd.lock");
    let good = fs::read_to_string(&lock_path).unwrap();
    let mut lock: serde_json::Value = serde_json::from_str(&good).unwrap();
    let pkgs = lock["packages"].as_array_mut().unwrap();
    let server = pkgs
        .iter_mut()
        .find(|p| p["name"] == "etcd-server")
        .unwrap();
    let sha = server["sha256"].as_str().unwrap().to_owned();
    let changed = format!(
        "{}{}",
        if sha.starts_with('0') { "1" } else { "0" },
        &sha[1..]
    );
    server["sha256"] = serde_json::Value::String(changed);
    let bad = serde_json::to_string_pretty(&lock).unwrap() + "\n";
    fs::write(&lock_path, &bad).unwrap();
    let out = tmp.path().join("out");
    let o = build(&cache, &recipe, &out, &["--locked"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("etcd-server"), "{}", stderr(&o));
    assert!(!out.join(ACI).exists());
    assert_eq!(fs::read_to_string(&lock_path).unwrap(), bad);

    fs::remove_file(&lock_path).unwrap();
    let o = build(&cache, &recipe, &out, &["--locked"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no lockfile"), "{}", stderr(&o));
    assert!(!lock_path.exists() && !out.join(ACI).exists());

    fs::write(&lock_path, &good).unwrap();
    let o = build(&cache, &recipe, &out, &["--locked"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&lock_path).unwrap(), good);
}

/// `acbuild lock` writes the lockfile a build then uses unchanged; it lists every package of the
/// closure and every file taken, and two runs write the same bytes.
#[test]
fn acbuild_lock_writes_a_deterministic_lockfile() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let lock_path = tmp.path().join("etcd.lock");
    fs::remove_file(&lock_path).unwrap();
    let cache = tmp.path().join("cache");
    let o = acbuild(&cache, &["lock", recipe.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = fs::read(&lock_path).unwrap();
    let o = acbuild(&cache, &["lock", recipe.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read(&lock_path).unwrap(), first);
    let lock: serde_json::Value = serde_json::from_slice(&first).unwrap();
    let names: Vec<&str> = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for n in ["etcd-client", "etcd-server", "libc6"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let files: Vec<&str> = lock["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"/usr/bin/etcd") && files.contains(&"/lib/x86_64-linux-gnu/libc.so.6"));
}

/// No host configuration leaks in: the etcd image holds its ELF closure and, beyond it, less
/// than 64 KiB of configuration; the NSS configuration is the container's own (files, dns) and
/// no module it does not name (such as the host's libnss_systemd) is shipped.
#[test]
fn the_etcd_image_holds_its_closure_and_under_64_kib_more() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let o = build(
        &tmp.path().join("cache"),
        &recipe,
        &tmp.path().join("out"),
        &["--locked"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let image = tmp.path().join("image");
    extract(&tmp.path().join("out").join(ACI), &image);
    let rootfs = image.join("rootfs");
    let o = acbuild(
        &tmp.path().join("cache"),
        &[
            "trace",
            "--root",
            rootfs.to_str().unwrap(),
            "/usr/bin/etcd",
            "/usr/bin/etcdctl",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let closure: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let mut beyond = 0u64;
    let mut names = Vec::new();
    for e in walkdir::WalkDir::new(&rootfs) {
        let e = e.unwrap();
        if !e.file_type().is_file() {
            continue;
        }
        let path = format!("/{}", e.path().strip_prefix(&rootfs).unwrap().display());
        if !closure.contains(&path) {
            beyond += e.metadata().unwrap().len();
            names.push(path);
        }
    }
    assert!(
        beyond < 64 * 1024,
        "{beyond} bytes beyond the closure: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("libnss_systemd")),
        "{names:?}"
    );
    let nsswitch = fs::read_to_string(rootfs.join("etc/nsswitch.conf")).unwrap();
    assert!(nsswitch.contains("hosts:          files dns"), "{nsswitch}");
    assert!(!nsswitch.contains("systemd"), "{nsswitch}");
}

/// The SBOM beside the image validates against the SPDX 2.3 JSON schema (vendored from
/// spdx/spdx-spec, `tests/fixtures/spdx/`), names etcd-server with its version, license and hash,
/// and lists every file of the rootfs with its SHA-256 and origin. The control: the same
/// document without a file's checksums is refused by the validator.
#[test]
fn the_sbom_validates_against_the_spdx_2_3_schema_and_names_etcd_server() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let out = tmp.path().join("out");
    let o = build(&tmp.path().join("cache"), &recipe, &out, &["--locked"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sbom_path = PathBuf::from(summary[0]["sbom"].as_str().unwrap());
    assert_eq!(sbom_path, out.join("etcd-3.4.23-linux-amd64.spdx.json"));
    let sbom: serde_json::Value = serde_json::from_slice(&fs::read(&sbom_path).unwrap()).unwrap();

    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spdx/spdx-schema-2.3.json");
    let schema: serde_json::Value =
        serde_json::from_slice(&fs::read(schema_path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let url = "http://spdx.org/rdf/terms/2.3";
    compiler.add_resource(url, schema).unwrap();
    let index = compiler.compile(url, &mut schemas).unwrap();
    if let Err(e) = schemas.validate(&sbom, index) {
        panic!("the SBOM does not validate: {e:#}");
    }
    let mut broken = sbom.clone();
    broken["files"][0]
        .as_object_mut()
        .unwrap()
        .remove("checksums");
    assert!(schemas.validate(&broken, index).is_err());

    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    let server = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "etcd-server")
        .expect("etcd-server is named");
    assert_eq!(server["versionInfo"], "3.4.23-4+b4");
    assert_eq!(server["licenseDeclared"], "Apache-2.0");
    assert_eq!(server["checksums"][0]["algorithm"], "SHA256");
    let files = sbom["files"].as_array().unwrap();
    let etcd = files
        .iter()
        .find(|f| f["fileName"] == "./usr/bin/etcd")
        .unwrap();
    assert_eq!(etcd["comment"], "origin: Debian package etcd-server");
    let lock: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join("etcd.lock")).unwrap()).unwrap();
    let pinned = lock["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/usr/bin/etcd")
        .unwrap();
    assert_eq!(etcd["checksums"][0]["checksumValue"], pinned["sha256"]);
    let image = tmp.path().join("image");
    extract(&out.join(ACI), &image);
    let regular = walkdir::WalkDir::new(image.join("rootfs"))
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_type().is_file())
        .count();
    assert_eq!(files.len(), regular);
}

/// `--deb-dir` offers `.deb` files before the Debian sources: with the packages of a filled
/// cache in a directory and no `apt-get` on PATH, an empty cache still builds the same image;
/// without `--deb-dir` the same build fails, saying it cannot run apt-get.
#[test]
fn deb_dir_builds_without_apt_and_without_it_the_build_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let filled = tmp.path().join("filled");
    let o = build(&filled, &recipe, &tmp.path().join("out1"), &["--locked"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let debs = filled.join("acbuild/debs");
    let no_apt = tmp.path().join("bin");
    fs::create_dir(&no_apt).unwrap();
    let offline = |cache: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "build",
            recipe.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-sign",
            "--locked",
        ];
        args.extend(extra);
        acbuild_cmd::acbuild(args)
            .env("XDG_CACHE_HOME", cache)
            .env("PATH", &no_apt)
            .output()
            .unwrap()
    };
    let o = offline(&tmp.path().join("c2"), &tmp.path().join("out2"), &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot run apt-get"), "{}", stderr(&o));
    let o = offline(
        &tmp.path().join("c3"),
        &tmp.path().join("out3"),
        &["--deb-dir", debs.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        fs::read(tmp.path().join("out3").join(ACI)).unwrap()
            == fs::read(tmp.path().join("out1").join(ACI)).unwrap()
    );
}

/// A package the recipe names but the lockfile does not pin is drift: `--locked` refuses it,
/// naming the package, with exit 2 and nothing written; without `--locked` the build resolves
/// afresh and pins it (the positive control).
#[test]
fn locked_refuses_a_package_the_lockfile_does_not_pin() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let text = fs::read_to_string(&recipe).unwrap();
    let more = text.replacen(
        "package \"etcd-client\"",
        "package \"etcd-client\"\n    package \"tzdata\"",
        1,
    );
    assert_ne!(more, text);
    fs::write(&recipe, more).unwrap();
    let lock = fs::read(tmp.path().join("etcd.lock")).unwrap();
    let out = tmp.path().join("out");
    let o = build(&tmp.path().join("cache"), &recipe, &out, &["--locked"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("package `tzdata`: not in the lockfile"),
        "{}",
        stderr(&o)
    );
    assert!(!out.join(ACI).exists());
    assert_eq!(fs::read(tmp.path().join("etcd.lock")).unwrap(), lock);

    let o = build(&tmp.path().join("cache"), &recipe, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lock = fs::read_to_string(tmp.path().join("etcd.lock")).unwrap();
    assert!(lock.contains("\"name\": \"tzdata\""), "{lock}");
}

/// A pinned version the Debian sources no longer offer (a changed version in the lockfile, as
/// after a point release): `--locked` refuses it naming the package and writes nothing; a plain
/// build warns, resolves afresh and rewrites the lockfile (so a fresh machine can always build).
#[test]
fn a_pinned_version_the_sources_do_not_offer_is_refused_locked_and_re_resolved_unlocked() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let lock_path = tmp.path().join("etcd.lock");
    let good = fs::read_to_string(&lock_path).unwrap();
    let gone = good.replace("\"3.4.23-4+b4\"", "\"3.4.23-0~gone1\"");
    assert_ne!(gone, good);
    fs::write(&lock_path, &gone).unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("out");
    let o = build(&cache, &recipe, &out, &["--locked"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("etcd-"), "{}", stderr(&o));
    assert!(!out.join(ACI).exists());
    assert_eq!(fs::read_to_string(&lock_path).unwrap(), gone);

    let o = build(&cache, &recipe, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("resolving afresh"), "{}", stderr(&o));
    let rewritten = fs::read_to_string(&lock_path).unwrap();
    assert!(!rewritten.contains("gone1"), "{rewritten}");
    assert!(
        rewritten.contains("\"name\": \"etcd-server\""),
        "{rewritten}"
    );
}

/// `runtime "locale"` brings C.UTF-8: `locale charmap` says UTF-8 with it and falls back to
/// ASCII without it (the control), both built from the same package.
#[test]
fn the_locale_runtime_set_brings_c_utf8() {
    require("chroot", "coreutils");
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let mut charmaps = Vec::new();
    for (name, runtime) in [("with", "    runtime \"locale\"\n"), ("without", "")] {
        let recipe = tmp.path().join(format!("{name}.kdl"));
        let text = format!(
            "image \"example.com/{name}\" {{\n    package \"libc-bin\"\n    program \"/usr/bin/locale\"\n{runtime}}}\n"
        );
        fs::write(&recipe, text).unwrap();
        let out = tmp.path().join(format!("out-{name}"));
        let o = build(&cache, &recipe, &out, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let image = tmp.path().join(format!("image-{name}"));
        let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        extract(Path::new(summary[0]["path"].as_str().unwrap()), &image);
        let run = Command::new("chroot")
            .arg(image.join("rootfs"))
            .args(["/usr/bin/locale", "charmap"])
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL")
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", stderr(&run));
        charmaps.push(String::from_utf8_lossy(&run.stdout).trim().to_owned());
    }
    assert_eq!(charmaps[0], "UTF-8");
    assert_ne!(charmaps[1], "UTF-8");
}

/// In package mode a program no package ships is an input error at its line (exit 2, nothing
/// written), with a hint to add the package; adding the package builds (the control).
#[test]
fn a_program_no_package_ships_is_reported_at_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let recipe = tmp.path().join("r.kdl");
    let text =
        "image \"example.com/r\" {\n    package \"libc-bin\"\n    program \"/usr/bin/etcd\"\n}\n";
    fs::write(&recipe, text).unwrap();
    let out = tmp.path().join("out");
    let o = build(&cache, &recipe, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("r.kdl:3:"), "{err}");
    assert!(err.contains("no package of the recipe ships it"), "{err}");
    assert!(!out.exists());
    fs::write(&recipe, text.replace("\"libc-bin\"", "\"etcd-server\"")).unwrap();
    let o = build(&cache, &recipe, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `runtime "tzdata"` in package mode takes the zone files from the tzdata package and keeps
/// its symlinks as symlinks: `zoneinfo/localtime -> /etc/localtime` is never followed to the
/// host's own file.
#[test]
fn tzdata_comes_from_the_package_with_its_symlinks_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = tmp.path().join("tz.kdl");
    let text = "image \"example.com/tz\" {\n    package \"libc-bin\"\n    package \"tzdata\"\n    program \"/usr/bin/getent\"\n    runtime \"tzdata\" \"nss\"\n}\n";
    fs::write(&recipe, text).unwrap();
    let out = tmp.path().join("out");
    let o = build(&tmp.path().join("cache"), &recipe, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let image = tmp.path().join("image");
    extract(Path::new(summary[0]["path"].as_str().unwrap()), &image);
    let zoneinfo = image.join("rootfs/usr/share/zoneinfo");
    assert!(fs::metadata(zoneinfo.join("Europe/Berlin")).unwrap().len() > 0);
    assert_eq!(
        fs::read_link(zoneinfo.join("localtime")).unwrap(),
        Path::new("/etc/localtime")
    );
}

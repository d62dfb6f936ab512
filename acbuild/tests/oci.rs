#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end (issue 15): `acbuild build --format oci` and `acbuild oci` write OCI image layouts
//! that the ecosystem's own tools read and run: skopeo (inspect, copy to docker-archive), umoci
//! (unpack to a runtime bundle), crun (runs etcd from it), gpg (checks the `.sig`).
//! Needs root, and the Debian packages skopeo, umoci, crun, gnupg, etcd-server.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn recipe(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../recipes")
        .join(name)
}

/// Fails (never skips) when a Debian tool is missing, naming its package.
fn require(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "this test needs `{tool}`: apt-get install {package} (see xtask/debian-packages.txt)"
    );
}

/// Builds sign with a key made once for this test process (before any build, so that parallel
/// builds never each make their own default key), never the user's own.
fn signing_config() -> PathBuf {
    static CONFIG: OnceLock<PathBuf> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let dir =
                std::env::temp_dir().join(format!("acbuild-oci-tests-{}", std::process::id()));
            let o = Command::new(env!("CARGO_BIN_EXE_acbuild"))
                .args(["keygen", "--out"])
                .arg(dir.join("acbuild"))
                .output()
                .unwrap();
            ok("acbuild keygen", &o);
            dir
        })
        .clone()
}

fn acbuild(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_acbuild"));
    c.args(args)
        .current_dir(cwd)
        .env("XDG_CACHE_HOME", cwd.join("cache"))
        .env("XDG_CONFIG_HOME", signing_config())
        .env_remove("ACBUILD_SIGN_KEY");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(what: &str, o: &Output) -> String {
    assert!(
        o.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

/// The etcd image, built once for every test: ACI, layout, archive, signatures.
struct Built {
    dir: PathBuf,
    stderr: String,
}

impl Built {
    fn aci(&self) -> PathBuf {
        self.dir.join("out/etcd-3.4.23-linux-amd64.aci")
    }
    fn layout(&self) -> PathBuf {
        self.dir.join("out/etcd-3.4.23-linux-amd64.oci")
    }
    fn archive(&self) -> PathBuf {
        self.dir.join("out/etcd-3.4.23-linux-amd64.oci.tar")
    }
    fn oci_ref(&self) -> String {
        format!("oci:{}:3.4.23", self.layout().display())
    }
}

fn etcd() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let o = acbuild(
            &dir,
            &[
                "build",
                recipe("etcd.kdl").to_str().unwrap(),
                "--format",
                "aci,oci,oci-archive",
                "--out",
                "out",
            ],
            &[],
        );
        ok("acbuild build --format aci,oci,oci-archive", &o);
        Built {
            dir,
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    })
}

fn index(layout: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap()
}

fn manifest_digest(layout: &Path) -> String {
    index(layout)["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn skopeo_inspect_reads_the_entrypoint_ports_user_and_reference() {
    require("skopeo", "skopeo");
    let built = etcd();
    let config: serde_json::Value = serde_json::from_str(&ok(
        "skopeo inspect --config",
        &run("skopeo", &["inspect", "--config", &built.oci_ref()]),
    ))
    .unwrap();
    let c = &config["config"];
    assert_eq!(c["Entrypoint"][0], "/usr/bin/etcd");
    assert_eq!(c["Entrypoint"][1], "--data-dir=/var/lib/etcd");
    assert!(c["ExposedPorts"]["2379/tcp"].is_object(), "{c}");
    assert!(c["ExposedPorts"]["2380/tcp"].is_object(), "{c}");
    assert_eq!(c["User"], "etcd:etcd");
    assert_eq!(c["WorkingDir"], "/var/lib/etcd");
    assert_eq!(config["os"], "linux");
    let inspect: serde_json::Value = serde_json::from_str(&ok(
        "skopeo inspect",
        &run("skopeo", &["inspect", &built.oci_ref()]),
    ))
    .unwrap();
    assert_eq!(inspect["Digest"], manifest_digest(&built.layout()));
    // The archive holds the same image.
    let archive = format!("oci-archive:{}", built.archive().display());
    let from_archive: serde_json::Value = serde_json::from_str(&ok(
        "skopeo inspect oci-archive",
        &run("skopeo", &["inspect", &archive]),
    ))
    .unwrap();
    assert_eq!(from_archive["Digest"], inspect["Digest"]);
}

#[test]
fn the_build_warns_about_the_isolator_and_port_names_oci_cannot_carry() {
    let built = etcd();
    assert!(
        built.stderr.contains("app.isolators: resource/memory"),
        "{}",
        built.stderr
    );
    assert!(built.stderr.contains("client, peer"), "{}", built.stderr);
}

#[test]
fn skopeo_copies_the_layout_to_a_docker_archive() {
    require("skopeo", "skopeo");
    let built = etcd();
    let tmp = tempfile::tempdir().unwrap();
    let dest = format!(
        "docker-archive:{}:coreos.com/etcd:3.4.23",
        tmp.path().join("etcd.tar").display()
    );
    ok(
        "skopeo copy",
        &run("skopeo", &["copy", &built.oci_ref(), &dest]),
    );
    let config: serde_json::Value = serde_json::from_str(&ok(
        "skopeo inspect docker-archive",
        &run(
            "skopeo",
            &[
                "inspect",
                "--config",
                &format!("docker-archive:{}", tmp.path().join("etcd.tar").display()),
            ],
        ),
    ))
    .unwrap();
    assert_eq!(config["config"]["Entrypoint"][0], "/usr/bin/etcd");
}

/// `crun run` inside a private mount namespace in which cgroup2's controller list is empty:
/// crun refuses a hybrid layout whose cgroup2 lists a controller (this host's hugetlb).
fn crun_run(bundle: &Path, state: &Path, name: &str) -> Output {
    let controllers = Path::new("/sys/fs/cgroup/unified/cgroup.controllers");
    let empty = state.join("empty");
    std::fs::write(&empty, b"").unwrap();
    let hide = if controllers.exists() {
        format!(
            "mount --bind '{}' {} && ",
            empty.display(),
            controllers.display()
        )
    } else {
        String::new()
    };
    let script = format!(
        "mount --make-rprivate / && {hide}exec crun --root '{}' run --bundle '{}' {name}",
        state.display(),
        bundle.display()
    );
    Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap()
}

#[test]
fn umoci_unpacks_a_bundle_and_crun_runs_etcd_from_it() {
    require("umoci", "umoci");
    require("crun", "crun");
    let built = etcd();
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    let image = format!("{}:3.4.23", built.layout().display());
    ok(
        "umoci unpack",
        &run(
            "umoci",
            &["unpack", "--image", &image, bundle.to_str().unwrap()],
        ),
    );
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    // umoci resolved User etcd:etcd against the image's own /etc/passwd and /etc/group.
    assert_eq!(config["process"]["user"]["uid"], 1000);
    assert_eq!(config["process"]["user"]["gid"], 1000);
    assert_eq!(config["process"]["args"][0], "/usr/bin/etcd");
    config["process"]["args"] = serde_json::json!(["/usr/bin/etcd", "--version"]);
    config["process"]["terminal"] = serde_json::json!(false);
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let state = tmp.path().join("crun");
    std::fs::create_dir(&state).unwrap();
    let name = format!("acbuild-oci-test-{}", std::process::id());
    let out = crun_run(&bundle, &state, &name);
    let stdout = ok("crun run", &out);
    assert!(stdout.contains("etcd Version: 3.4.23"), "{stdout}");
}

#[test]
fn the_signature_is_of_the_manifest_digest_and_gpg_checks_it() {
    require("gpg", "gnupg");
    let built = etcd();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let public = signing_config().join("acbuild/signing-key.pub.asc");
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--no-tty"])
            .args(args)
            .output()
            .unwrap()
    };
    ok(
        "gpg --import",
        &gpg(&["--import", public.to_str().unwrap()]),
    );
    let digest = manifest_digest(&built.layout());
    let payload = tmp.path().join("digest");
    let sig = PathBuf::from(format!("{}.sig", built.layout().display()));
    std::fs::write(&payload, &digest).unwrap();
    ok(
        "gpg --verify (the manifest digest)",
        &gpg(&["--verify", sig.to_str().unwrap(), payload.to_str().unwrap()]),
    );
    // The same signature over any other digest is refused.
    let mut other = digest.clone().into_bytes();
    let last = other.len() - 1;
    other[last] = if other[last] == b'0' { b'1' } else { b'0' };
    std::fs::write(&payload, &other).unwrap();
    let refused = gpg(&["--verify", sig.to_str().unwrap(), payload.to_str().unwrap()]);
    assert!(!refused.status.success(), "a changed digest verified");
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", &home)
        .args(["--kill", "gpg-agent"])
        .output();
}

/// (name, type, mode, uid, gid, mtime, data) of one tar entry.
type Row = (String, u8, u32, u64, u64, u64, Vec<u8>);

/// The rows of each entry of a gzip tar whose name is under `strip`, without it.
fn entries(gz: &Path, strip: &str) -> Vec<Row> {
    let file = std::fs::File::open(gz).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut rows = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let Some(name) = name.strip_prefix(strip) else {
            continue;
        };
        let h = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        rows.push((
            name.to_owned(),
            h.entry_type().as_byte(),
            h.mode().unwrap(),
            h.uid().unwrap(),
            h.gid().unwrap(),
            h.mtime().unwrap(),
            data,
        ));
    }
    rows
}

#[test]
fn the_layer_holds_the_same_rootfs_as_the_aci() {
    let built = etcd();
    let manifest_blob = |layout: &Path, digest: &str| {
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let layout = built.layout();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(manifest_blob(&layout, &manifest_digest(&layout))).unwrap(),
    )
    .unwrap();
    let layer = manifest_blob(&layout, manifest["layers"][0]["digest"].as_str().unwrap());
    let from_aci = entries(&built.aci(), "rootfs/");
    // etcd, etcdctl, the loader, libc, NSS modules, accounts, directories.
    assert!(from_aci.len() > 15);
    assert_eq!(entries(&layer, ""), from_aci);
}

fn build_oci(cwd: &Path, out: &Path, env: &[(&str, &str)], umask: &str, jobs: &str) {
    let cmd = format!(
        "umask {umask}; exec \"$0\" build \"$1\" --format oci --out \"$2\" --jobs {jobs} --no-cache"
    );
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(cmd)
        .arg(env!("CARGO_BIN_EXE_acbuild"))
        .arg(recipe("etcd.kdl"))
        .arg(out)
        .current_dir(cwd)
        .env("XDG_CONFIG_HOME", signing_config())
        .env("XDG_CACHE_HOME", cwd.join("cache"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env_remove("ACBUILD_SIGN_KEY");
    for (k, v) in env {
        c.env(k, v);
    }
    ok("acbuild build --format oci", &c.output().unwrap());
}

#[test]
fn two_builds_in_different_environments_give_the_same_index_and_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    build_oci(tmp.path(), &a, &[("TZ", "UTC"), ("LANG", "C")], "022", "1");
    build_oci(
        tmp.path(),
        &b,
        &[("TZ", "Asia/Kolkata"), ("LC_ALL", "C.UTF-8")],
        "077",
        "2",
    );
    let name = "etcd-3.4.23-linux-amd64.oci";
    let read = |dir: &Path, file: &str| std::fs::read(dir.join(file)).unwrap();
    assert_eq!(
        read(&a, &format!("{name}/index.json")),
        read(&b, &format!("{name}/index.json"))
    );
    assert_eq!(
        read(&a, &format!("{name}.sig")),
        read(&b, &format!("{name}.sig"))
    );
    let blobs = |dir: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(dir.join(name).join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(blobs(&a), blobs(&b));
    assert_eq!(blobs(&a).len(), 3);
    // --format oci alone keeps no ACI; the shared build, with aci, keeps it.
    assert!(!a.join("etcd-3.4.23-linux-amd64.aci").exists());
    assert!(etcd().aci().is_file());
}

#[test]
fn converting_the_aci_gives_the_layout_the_build_wrote() {
    let built = etcd();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("converted");
    let o = acbuild(
        tmp.path(),
        &[
            "oci",
            built.aci().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--jobs",
            "1",
            "--no-sign",
        ],
        &[],
    );
    ok("acbuild oci", &o);
    assert_eq!(
        std::fs::read(out.join("index.json")).unwrap(),
        std::fs::read(built.layout().join("index.json")).unwrap()
    );
}

#[test]
fn convert_refuses_a_directory_that_is_not_a_layout_and_replaces_a_layout() {
    let built = etcd();
    let tmp = tempfile::tempdir().unwrap();
    let convert = |out: &Path| {
        acbuild(
            tmp.path(),
            &[
                "oci",
                built.aci().to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--no-sign",
            ],
            &[],
        )
    };
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("notes.txt"), b"mine").unwrap();
    let refused = convert(&home);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not an OCI image layout"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(std::fs::read(home.join("notes.txt")).unwrap(), b"mine");
    assert!(!home.join("index.json").exists());

    // Positive control: a layout is rewritten in place, and a blob no index reaches goes.
    let layout = tmp.path().join("layout");
    ok("acbuild oci (new layout)", &convert(&layout));
    let stale = layout.join("blobs/sha256").join("ab".repeat(32));
    std::fs::write(&stale, b"old image").unwrap();
    ok("acbuild oci (over a layout)", &convert(&layout));
    assert!(!stale.exists());
    assert_eq!(manifest_digest(&layout), manifest_digest(&built.layout()));
}

/// A packed (not built) ACI: `/bin/tool` owned by 4242:4343, the app running as its owner.
fn packed_aci(dir: &Path, labels: &str, compression: &str) -> PathBuf {
    let layout = dir.join("layout");
    let bin = layout.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("tool"), b"#!/bin/sh\n").unwrap();
    std::os::unix::fs::chown(bin.join("tool"), Some(4242), Some(4343)).unwrap();
    let manifest = format!(
        r#"{{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/tool",
        "labels":[{labels}],
        "app":{{"exec":["/bin/tool"],"user":"/bin/tool","group":"/bin/tool",
          "ports":[{{"name":"dns","protocol":"udp","port":5353,"count":2}}]}}}}"#
    );
    std::fs::write(layout.join("manifest"), manifest).unwrap();
    let aci = dir.join("tool.aci");
    let o = acbuild(
        dir,
        &[
            "pack",
            layout.to_str().unwrap(),
            aci.to_str().unwrap(),
            "--keep-owner",
            "--no-sign",
            "--compression",
            compression,
        ],
        &[],
    );
    ok("acbuild pack", &o);
    aci
}

#[test]
fn a_packed_zstd_aci_converts_and_its_path_user_becomes_the_file_owner() {
    require("skopeo", "skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let labels = r#"{"name":"os","value":"linux"},{"name":"arch","value":"aarch64"}"#;
    let aci = packed_aci(tmp.path(), labels, "zstd");
    let out = tmp.path().join("tool.oci");
    let o = acbuild(
        tmp.path(),
        &[
            "oci",
            aci.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-sign",
        ],
        &[],
    );
    ok("acbuild oci", &o);
    let config: serde_json::Value = serde_json::from_str(&ok(
        "skopeo inspect --config",
        &run(
            "skopeo",
            &[
                "inspect",
                "--config",
                &format!("oci:{}:latest", out.display()),
            ],
        ),
    ))
    .unwrap();
    assert_eq!(config["config"]["User"], "4242:4343");
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(config["variant"], "v8");
    assert!(config["config"]["ExposedPorts"]["5353/udp"].is_object());
    assert!(config["config"]["ExposedPorts"]["5354/udp"].is_object());
}

#[test]
fn an_aci_without_an_os_label_is_refused_with_exit_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let aci = packed_aci(tmp.path(), r#"{"name":"arch","value":"amd64"}"#, "gzip");
    let out = tmp.path().join("tool.oci");
    let o = acbuild(
        tmp.path(),
        &[
            "oci",
            aci.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-sign",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("labels.os"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists());
    // Positive control: the same image with its os converts.
    let tmp = tempfile::tempdir().unwrap();
    let labels = r#"{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}"#;
    let aci = packed_aci(tmp.path(), labels, "gzip");
    let o = acbuild(
        tmp.path(),
        &[
            "oci",
            aci.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-sign",
        ],
        &[],
    );
    ok("acbuild oci", &o);
    assert!(out.join("index.json").is_file());
}

#[test]
fn a_build_refused_at_its_oci_output_exits_2_and_leaves_no_aci_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let arch = acbuild::image_manifest::host_arch();
    let layout = out.join(format!("getent-2.36-linux-{arch}.oci"));
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::write(layout.join("mine"), b"mine").unwrap();
    let build = || {
        acbuild(
            tmp.path(),
            &[
                "build",
                recipe("getent.kdl").to_str().unwrap(),
                "--format",
                "oci",
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        )
    };
    let refused = build();
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![layout.file_name().unwrap().to_owned()]);
    assert_eq!(std::fs::read(layout.join("mine")).unwrap(), b"mine");
    // Positive control: with the path free, the same build writes the layout, its signature and
    // the image's SBOM.
    std::fs::remove_dir_all(&layout).unwrap();
    ok("acbuild build --format oci", &build());
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let name = layout.file_name().unwrap().to_str().unwrap();
    let sbom = format!("{}.spdx.json", name.trim_end_matches(".oci"));
    assert_eq!(names, vec![name.to_owned(), format!("{name}.sig"), sbom]);
}

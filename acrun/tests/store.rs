//! End-to-end tests of the image store: the etcd image as the positive control (fetch, list,
//! render, export byte-identical, verify), fetch over http from a server started here,
//! concurrent fetches into one store, and imports killed at random points.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::World;
use support::store::{Key, Tar, acbuild_ok};

fn world() -> (World, Key) {
    let w = World::new();
    let key = w.root_key();
    (w, key)
}

/// The image of `acbuild recipes/etcd.kdl`, signed by `key`.
fn etcd_image(w: &World, key: &Key) -> PathBuf {
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes/etcd.kdl");
    let out = w.path("out");
    acbuild_ok(&[&recipe, &"--out", &out, &"--sign-key", &key.secret]);
    let aci = out.join("etcd-3.4.23-linux-amd64.aci");
    assert!(aci.exists(), "acbuild wrote no {}", aci.display());
    aci
}

/// An image of `files` pseudo-random MiB-sized files (slow to compress, slow to extract).
fn bulky_image(w: &World, key: &Key, name: &str, files: usize) -> PathBuf {
    let mut tar = Tar::image(name);
    let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ name.len() as u64;
    for i in 0..files {
        let data: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        tar = tar.file(&format!("rootfs/f{i}"), &data);
    }
    let file = format!("{}.aci", name.replace('/', "_"));
    w.signed_aci(&file, &tar.bytes(), key)
}

#[test]
fn etcd_fetches_lists_renders_exports_and_verifies() {
    let (w, key) = world();
    let aci = etcd_image(&w, &key);
    let id = w.acrun_ok(&[&"fetch", &aci]).trim().to_owned();
    assert!(id.starts_with("sha512-"), "{id}");
    let listed = w.listed();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "coreos.com/etcd");
    assert_eq!(listed[0]["admissions"][0]["kind"], "signed");
    let text = w.acrun_ok(&[&"image", &"list"]);
    assert!(text.contains("coreos.com/etcd"), "{text}");

    let rootfs = w.path("rendered");
    w.acrun_ok(&[&"image", &"render", &"coreos.com/etcd:3.4.23", &rootfs]);
    assert_eq!(
        std::fs::read(rootfs.join("usr/bin/etcd")).unwrap(),
        std::fs::read("/usr/bin/etcd").expect("etcd (Debian package etcd-server) is required")
    );
    let manifest = w.acrun_ok(&[&"image", &"cat-manifest", &"coreos.com/etcd"]);
    assert!(manifest.contains("\"coreos.com/etcd\""), "{manifest}");

    let exported = w.path("exported.aci");
    w.acrun_ok(&[&"image", &"export", &id, &exported]);
    assert_eq!(
        std::fs::read(&exported).unwrap(),
        std::fs::read(&aci).unwrap()
    );
    assert_eq!(
        std::fs::read(w.path("exported.aci.asc")).unwrap(),
        std::fs::read(appc::sign::signature_path(&aci)).unwrap()
    );
    w.acrun_ok(&[&"image", &"verify", &"coreos.com/etcd"]);
}

#[test]
fn verify_finds_a_tampered_tree() {
    let (w, key) = world();
    let aci = w.signed_aci(
        "t.aci",
        &Tar::image("example.com/t")
            .file("rootfs/x", b"good")
            .bytes(),
        &key,
    );
    let id = w.acrun_ok(&[&"fetch", &aci]).trim().to_owned();
    w.acrun_ok(&[&"image", &"verify", &id]);
    let file = w.path("state/images/trees").join(&id).join("rootfs/x");
    std::fs::write(&file, b"evil").unwrap();
    let err = w.acrun_fails(1, &[&"image", &"verify", &id]);
    assert!(
        err.contains("rootfs/x") && err.contains("content differs"),
        "{err}"
    );
}

#[test]
fn an_insecure_import_does_not_satisfy_a_verified_lookup() {
    let w = World::new();
    let key = w.key("untrusted");
    let aci = w.signed_aci(
        "u.aci",
        &Tar::image("example.com/u").file("rootfs/x", b"1").bytes(),
        &key,
    );
    let err = w.acrun_fails(1, &[&"fetch", &aci]);
    assert!(err.contains("not a trusted key"), "{err}");
    let out = w.acrun(&[&"fetch", &"--insecure-options=image", &aci]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT verified"));
    let dest = w.path("r");
    let err = w.acrun_fails(1, &[&"image", &"render", &"example.com/u", &dest]);
    assert!(
        err.contains("not verified under the current trust policy"),
        "{err}"
    );
    // Positive control: once the key is trusted and the image fetched with its signature.
    w.acrun_ok(&[&"trust", &"--root", &key.public]);
    w.acrun_ok(&[&"fetch", &aci]);
    w.acrun_ok(&[&"image", &"render", &"example.com/u", &dest]);
}

struct Server {
    child: std::process::Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
        .arg(dir)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 (Debian package python3) is required");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "http server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, port }
}

#[test]
fn fetches_from_a_file_and_from_http() {
    let (w, key) = world();
    let aci = w.signed_aci(
        "web.aci",
        &Tar::image("example.com/web")
            .file("rootfs/index", b"hi")
            .bytes(),
        &key,
    );
    let server = serve(w.dir.path());
    let url = format!("http://127.0.0.1:{}/web.aci", server.port);
    let err = w.acrun_fails(1, &[&"fetch", &url]);
    assert!(err.contains("plain http is refused"), "{err}");
    assert!(w.listed().is_empty());
    let from_http = w.acrun_ok(&[&"fetch", &"--insecure-options=http", &url]);
    let from_file = w.acrun_ok(&[&"fetch", &aci]);
    assert_eq!(from_http, from_file);
    let listed = w.listed();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["source"], url.as_str());
    // A tampered download is refused by its signature.
    std::fs::write(w.path("web.aci"), b"not the signed bytes").unwrap();
    let err = w.acrun_fails(1, &[&"fetch", &"--insecure-options=http", &url]);
    assert!(err.contains("signature"), "{err}");
}

#[test]
fn eight_concurrent_fetches_of_two_images_into_one_store() {
    let (w, key) = world();
    let a = bulky_image(&w, &key, "example.com/a", 4);
    let b = bulky_image(&w, &key, "example.com/b", 4);
    let children: Vec<_> = (0..8)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_acrun"))
                .env("ACRUN_DIR", w.path("state"))
                .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
                .arg("fetch")
                .arg(if i % 2 == 0 { &a } else { &b })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = w.listed();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for r in &listed {
        let id = r["id"].as_str().unwrap();
        w.acrun_ok(&[&"image", &"verify", &id]);
    }
}

#[test]
fn imports_killed_at_random_points_leave_a_consistent_store() {
    let (w, key) = world();
    let aci = bulky_image(&w, &key, "example.com/killed", 8);
    // How long one import takes here, to spread the kills over it.
    let start = Instant::now();
    let id = w.acrun_ok(&[&"fetch", &aci]).trim().to_owned();
    let span = start.elapsed().as_micros().max(1000) as u64;
    w.acrun_ok(&[&"image", &"rm", &id]);
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..15 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = Duration::from_micros(x % (span * 11 / 10));
        let mut child = Command::new(env!("CARGO_BIN_EXE_acrun"))
            .env("ACRUN_DIR", w.path("state"))
            .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
            .arg("fetch")
            .arg(&aci)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap();
        child.wait().unwrap();
        // Consistent after every kill: the image is either absent or complete.
        for r in w.listed() {
            w.acrun_ok(&[&"image", &"verify", &r["id"].as_str().unwrap()]);
        }
        // A killed import never blocks the next one: rm works, the lock is free.
        if !w.listed().is_empty() {
            w.acrun_ok(&[&"image", &"rm", &id]);
        }
    }
    w.acrun_ok(&[&"gc"]);
    let tmp = w.path("state/images/tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    assert_eq!(w.acrun_ok(&[&"fetch", &aci]).trim(), id);
    w.acrun_ok(&[&"image", &"verify", &id]);
    for sub in ["trees", "blobs", "records"] {
        let n = std::fs::read_dir(w.path("state/images").join(sub))
            .unwrap()
            .count();
        assert!((1..=2).contains(&n), "{sub}: {n} entries");
    }
}

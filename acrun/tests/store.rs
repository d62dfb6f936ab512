//! End-to-end tests of the image store: the etcd image as the positive control (fetch, list,
//! render, export byte-identical, verify), fetch over http from a server started here,
//! concurrent fetches into one store, and imports killed at random points.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::World;
use support::store::{Key, Tar};

fn world() -> (World, Key) {
    let w = World::new();
    let key = w.root_key();
    (w, key)
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
    let aci = w.etcd_image(&key);
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
    // A dependency is fetched from the same URL base, with its own signature.
    let base = Tar::image("example.com/webbase").file("rootfs/base", b"b");
    w.signed_aci("webbase-linux-amd64.aci", &base.bytes(), &key);
    let top = Tar::new()
        .file(
            "manifest",
            support::store::manifest(
                "example.com/webtop",
                r#","dependencies":[{"imageName":"example.com/webbase"}]"#,
            )
            .as_bytes(),
        )
        .dir("rootfs");
    w.signed_aci("webtop.aci", &top.bytes(), &key);
    let top_url = format!("http://127.0.0.1:{}/webtop.aci", server.port);
    w.acrun_ok(&[&"fetch", &"--insecure-options=http", &top_url]);
    let names: Vec<String> = w
        .listed()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "example.com/web",
            "example.com/webbase",
            "example.com/webtop"
        ]
    );
    // A tampered download is refused by its signature.
    std::fs::write(w.path("web.aci"), b"not the signed bytes").unwrap();
    let err = w.acrun_fails(1, &[&"fetch", &"--insecure-options=http", &url]);
    assert!(err.contains("signature"), "{err}");
}

/// An https server on 127.0.0.1 with a certificate from a throw-away CA (returned as a PEM file).
fn serve_tls(dir: &Path, work: &Path) -> (Server, PathBuf) {
    let cert = work.join("cert.pem");
    let key = work.join("key.pem");
    let ca = work.join("ca.pem");
    let ext = work.join("leaf.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let w = |p: &Path| p.to_str().unwrap().to_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let steps: [Vec<String>; 3] = [
        ["req", "-x509"]
            .iter()
            .chain(&ec)
            .map(|s| s.to_string())
            .chain(["-days", "2", "-subj", "/CN=acrun test CA", "-keyout"].map(String::from))
            .chain([w(&work.join("ca.key")), "-out".into(), w(&ca)])
            .collect(),
        ["req"]
            .iter()
            .chain(&ec)
            .map(|s| s.to_string())
            .chain(["-subj", "/CN=127.0.0.1", "-keyout"].map(String::from))
            .chain([w(&key), "-out".into(), w(&work.join("leaf.csr"))])
            .collect(),
        ["x509", "-req", "-days", "2", "-CAcreateserial", "-in"]
            .map(String::from)
            .into_iter()
            .chain([
                w(&work.join("leaf.csr")),
                "-CA".into(),
                w(&ca),
                "-CAkey".into(),
                w(&work.join("ca.key")),
                "-extfile".into(),
                w(&ext),
                "-out".into(),
                w(&cert),
            ])
            .collect(),
    ];
    for args in steps {
        let status = Command::new("openssl")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl (Debian package openssl) is required");
        assert!(status.success(), "openssl {args:?}");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = "import http.server, ssl, sys, functools\n\
        h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\n\
        s = http.server.HTTPServer(('127.0.0.1', int(sys.argv[2])), h)\n\
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
        c.load_cert_chain(sys.argv[3], sys.argv[4])\n\
        s.socket = c.wrap_socket(s.socket, server_side=True)\n\
        s.serve_forever()\n";
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .arg(port.to_string())
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 (Debian package python3) is required");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "https server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Server { child, port }, ca)
}

#[test]
fn fetches_over_https_trusting_the_ca_in_ssl_cert_file() {
    let (w, key) = world();
    let site = w.path("site");
    std::fs::create_dir(&site).unwrap();
    let tar = Tar::image("example.com/tls")
        .file("rootfs/x", b"tls")
        .bytes();
    std::fs::write(site.join("tls.aci"), support::store::gzip(&tar)).unwrap();
    w.sign(&site.join("tls.aci"), &key);
    let (server, cert) = serve_tls(&site, w.dir.path());
    let url = format!("https://127.0.0.1:{}/tls.aci", server.port);
    let run = |ca: &Path| {
        Command::new(env!("CARGO_BIN_EXE_acrun"))
            .env("ACRUN_DIR", w.path("state"))
            .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
            .env("SSL_CERT_FILE", ca)
            .env_remove("SSL_CERT_DIR")
            .args(["fetch", &url])
            .output()
            .unwrap()
    };
    // The system CA store does not know this certificate: refused.
    let out = run(Path::new("/etc/ssl/certs/ca-certificates.crt"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(w.listed().is_empty());
    // Positive control: SSL_CERT_FILE names it.
    let out = run(&cert);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.listed().len(), 1);
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
    // The kills did land inside imports: some left a work directory behind.
    let tmp = w.path("state/images/tmp");
    assert!(
        std::fs::read_dir(&tmp).unwrap().count() > 0,
        "no kill hit an import in progress"
    );
    w.acrun_ok(&[&"gc"]);
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

#[test]
fn setuid_bits_are_kept_and_listed() {
    use std::os::unix::fs::PermissionsExt;
    let (w, key) = world();
    let tar = Tar::image("example.com/suid")
        .put("rootfs/su", tar::EntryType::Regular, 0o4755, b"#!", None)
        .put("rootfs/sg", tar::EntryType::Regular, 0o2755, b"#!", None)
        .file("rootfs/plain", b"x");
    let aci = w.signed_aci("suid.aci", &tar.bytes(), &key);
    w.acrun_ok(&[&"fetch", &aci]);
    let out = w.acrun_ok(&[&"image", &"cat-manifest", &"--files", &"example.com/suid"]);
    assert!(out.contains("setuid/setgid files: 2"), "{out}");
    assert!(
        out.contains("rootfs/su") && out.contains("rootfs/sg"),
        "{out}"
    );
    assert!(!out.contains("rootfs/plain"), "{out}");
    let dest = w.path("r");
    w.acrun_ok(&[&"image", &"render", &"example.com/suid", &dest]);
    let mode = |p: &str| {
        std::fs::metadata(dest.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("su"), 0o4755);
    assert_eq!(mode("sg"), 0o2755);
    assert_eq!(mode("plain"), 0o644);
}

//! `acbuild publish`: the static site it lays out is read back with appc's discovery (the same
//! code acrun uses), every discovered URL must map to a file of the site, and the signatures must
//! verify with the published keys. Refusals each come with their allowed twin.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use appc::discovery::{App, endpoints};

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            dir: tempfile::tempdir().unwrap(),
        };
        for who in ["alice", "mallory"] {
            let out = acbuild(
                &w,
                &[
                    "keygen",
                    "--uid",
                    who,
                    "--out",
                    w.path(who).to_str().unwrap(),
                ],
                &[],
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        w
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn secret(&self, who: &str) -> PathBuf {
        self.path(who).join("signing-key.asc")
    }

    fn public(&self, who: &str) -> PathBuf {
        self.path(who).join("signing-key.pub.asc")
    }

    /// A signed image `name` with labels version/os/arch (+ `extra`), signed by `who`.
    fn image(&self, name: &str, version: &str, who: &str) -> PathBuf {
        let tag = format!("{}-{version}-{who}", name.replace('/', "_"));
        let dir = self.path(&format!("src/{tag}"));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        std::fs::write(
            dir.join("rootfs/hello"),
            format!("{name} {version} {who}\n"),
        )
        .unwrap();
        let manifest = serde_json::json!({
            "acKind": "ImageManifest",
            "acVersion": "0.8.11",
            "name": name,
            "labels": [
                {"name": "version", "value": version},
                {"name": "os", "value": "linux"},
                {"name": "arch", "value": "amd64"},
            ],
        });
        std::fs::write(dir.join("manifest"), manifest.to_string()).unwrap();
        let aci = self.path(&format!("images/{tag}.aci"));
        std::fs::create_dir_all(aci.parent().unwrap()).unwrap();
        let secret = self.secret(who);
        let out = acbuild(
            self,
            &[
                "pack",
                dir.to_str().unwrap(),
                aci.to_str().unwrap(),
                "--sign-key",
                secret.to_str().unwrap(),
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        aci
    }

    fn publish(&self, base: &str, site: &str, extra: &[&str], images: &[&Path]) -> Output {
        let site = self.path(site);
        let mut args = vec![
            "publish",
            "--base-url",
            base,
            "--out",
            site.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.extend(images.iter().map(|p| p.to_str().unwrap()));
        let secret = self.secret("alice");
        acbuild(self, &args, &[("ACBUILD_SIGN_KEY", secret.as_os_str())])
    }
}

fn acbuild(w: &World, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acbuild"))
        .args(args)
        .env_remove("ACBUILD_SIGN_KEY")
        .env("HOME", w.dir.path())
        .env("XDG_CONFIG_HOME", w.path("config"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn refused(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

/// Every file below `dir`, relative, with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            out.insert(rel, std::fs::read(e.path()).unwrap());
        }
    }
    out
}

/// Resolves a discovered URL to the site file it names.
fn site_file(site: &Path, base: &str, url: &str) -> PathBuf {
    site.join(
        url.strip_prefix(&format!("{base}/"))
            .unwrap_or_else(|| panic!("{url} not under {base}")),
    )
}

fn verify(site: &Path, base: &str, aci_url: &str, asc_url: &str, key_url: &str) -> String {
    let key = std::fs::read(site_file(site, base, key_url)).unwrap();
    let key = appc::sign::PublicKey::from_bytes(&key).unwrap();
    let data = std::fs::File::open(site_file(site, base, aci_url)).unwrap();
    let sig = std::fs::read(site_file(site, base, asc_url)).unwrap();
    appc::sign::verify_detached(&[key], data, &sig, std::time::SystemTime::now())
        .unwrap()
        .signer
}

#[test]
fn site_is_discoverable_at_every_level_and_verifies() {
    let w = World::new();
    let base = "https://example.com/images";
    let app = w.image("example.com/images/group/app", "1.0", "alice");
    ok(&w.publish(base, "site", &[], &[&app]));
    let site = w.path("site");
    for level in ["index.html", "group/index.html", "group/app/index.html"] {
        let page = std::fs::read_to_string(site.join(level)).unwrap();
        let req = App::parse("example.com/images/group/app:1.0")
            .unwrap()
            .with_platform("linux", "amd64");
        let found = endpoints(&page, &req);
        assert_eq!(found.aci.len(), 1, "{level}");
        assert_eq!(found.pubkeys.len(), 1, "{level}");
        let signer = verify(
            &site,
            base,
            &found.aci[0].aci,
            &found.aci[0].asc,
            &found.pubkeys[0],
        );
        let alice =
            appc::sign::PublicKey::from_bytes(&std::fs::read(w.public("alice")).unwrap()).unwrap();
        assert_eq!(signer, alice.fingerprint());
        assert!(
            page.contains("example.com/images/group/app</a>"),
            "human-readable list in {level}"
        );
    }
    // Asking without a version finds the `latest` copy.
    let page = std::fs::read_to_string(site.join("group/app/index.html")).unwrap();
    let latest = endpoints(
        &page,
        &App::parse("example.com/images/group/app")
            .unwrap()
            .with_platform("linux", "amd64"),
    );
    assert_eq!(
        std::fs::read(site_file(&site, base, &latest.aci[0].aci)).unwrap(),
        std::fs::read(&app).unwrap()
    );
}

#[test]
fn publishing_again_adds_and_moves_latest() {
    let w = World::new();
    let base = "https://example.com";
    let v1 = w.image("example.com/app", "1.9", "alice");
    let v2 = w.image("example.com/app", "1.10", "alice");
    let other = w.image("example.com/tools/other", "3", "alice");
    ok(&w.publish(base, "site", &[], &[&v1]));
    let first = tree(&w.path("site"));
    ok(&w.publish(base, "site", &[], &[&v2, &other]));
    let second = tree(&w.path("site"));
    for (rel, bytes) in &first {
        if !rel.contains("latest") && !rel.ends_with(".html") && rel != "images.json" {
            assert_eq!(second.get(rel), Some(bytes), "{rel} lost or changed");
        }
    }
    assert_eq!(
        second["example.com/app-1.9-linux-amd64.aci"],
        std::fs::read(&v1).unwrap()
    );
    assert_eq!(
        second["example.com/app-latest-linux-amd64.aci"],
        std::fs::read(&v2).unwrap(),
        "1.10 > 1.9"
    );
    assert!(second.contains_key("tools/other/index.html"));
    let root = String::from_utf8(second["index.html"].clone()).unwrap();
    for listed in [
        "example.com/app</a>",
        "example.com/tools/other</a>",
        "<td>1.9</td>",
        "<td>1.10</td>",
    ] {
        assert!(root.contains(listed), "{listed}");
    }
    // Publishing the same image again changes nothing.
    ok(&w.publish(base, "site", &[], &[&v1]));
    assert_eq!(tree(&w.path("site")), second);
}

#[test]
fn output_is_deterministic() {
    let w = World::new();
    let a = w.image("example.com/app", "1", "alice");
    let b = w.image("example.com/b", "2", "alice");
    ok(&w.publish("https://example.com", "one", &[], &[&a, &b]));
    ok(&w.publish("https://example.com", "two", &[], &[&b, &a]));
    assert_eq!(tree(&w.path("one")), tree(&w.path("two")));
}

#[test]
fn name_outside_the_base_is_refused() {
    let w = World::new();
    let app = w.image("example.com/app", "1", "alice");
    refused(
        &w.publish("https://example.com/images", "site", &[], &[&app]),
        "not under the base URL",
    );
    refused(
        &w.publish("https://example.com/ap", "site", &[], &[&app]),
        "not under the base URL",
    );
    assert!(!w.path("site").exists(), "nothing written");
    ok(&w.publish("https://example.com", "site", &[], &[&app]));
}

#[test]
fn missing_or_foreign_signature_is_refused() {
    let w = World::new();
    let app = w.image("example.com/app", "1", "alice");
    let asc = PathBuf::from(format!("{}.asc", app.display()));
    let kept = w.path("kept.asc");
    std::fs::rename(&asc, &kept).unwrap();
    refused(
        &w.publish("https://example.com", "site", &[], &[&app]),
        "no signature",
    );
    std::fs::rename(&kept, &asc).unwrap();
    // Signed by mallory, but only alice's key is published.
    let evil = w.image("example.com/evil", "1", "mallory");
    refused(
        &w.publish("https://example.com", "site", &[], &[&evil]),
        "not a good signature by a published key",
    );
    assert!(!w.path("site").exists(), "nothing written");
    // Controls: alice's image; mallory's with mallory's key given explicitly.
    ok(&w.publish("https://example.com", "site", &[], &[&app]));
    let mallory = w.public("mallory");
    ok(&w.publish(
        "https://example.com",
        "site2",
        &["--pubkey", mallory.to_str().unwrap()],
        &[&evil],
    ));
}

#[test]
fn another_image_at_a_published_version_is_refused() {
    let w = World::new();
    let first = w.image("example.com/app", "1", "alice");
    ok(&w.publish("https://example.com", "site", &[], &[&first]));
    let before = tree(&w.path("site"));
    // Same name and version, other content (signed by mallory, whose key is also given).
    let second = w.image("example.com/app", "1", "mallory");
    let mallory = w.public("mallory");
    refused(
        &w.publish(
            "https://example.com",
            "site",
            &["--pubkey", mallory.to_str().unwrap()],
            &[&second],
        ),
        "already published",
    );
    assert_eq!(tree(&w.path("site")), before);
    let third = w.image("example.com/app", "2", "mallory");
    ok(&w.publish(
        "https://example.com",
        "site",
        &["--pubkey", mallory.to_str().unwrap()],
        &[&third],
    ));
}

#[test]
fn unsafe_labels_and_another_base_are_refused() {
    let w = World::new();
    let app = w.image("example.com/app", "1", "alice");
    refused(
        &w.publish("ftp://example.com", "site", &[], &[&app]),
        "must start with https://",
    );
    ok(&w.publish("https://example.com", "site", &[], &[&app]));
    refused(
        &w.publish("https://example.com:8443", "site", &[], &[&app]),
        "was published for https://example.com",
    );
    let dots = w.image("example.com/app", "..", "alice");
    refused(
        &w.publish("https://example.com", "site", &[], &[&dots]),
        "cannot be part of a URL path",
    );
}

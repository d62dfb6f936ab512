//! acbuild's keys and signatures, checked by gpg as the independent peer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/acbuild_cmd.rs"]
mod acbuild_cmd;

struct World {
    dir: tempfile::TempDir,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.gnupghome())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

impl World {
    fn new() -> World {
        let w = World {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(w.gnupghome()).unwrap();
        let mut perms = std::fs::metadata(w.gnupghome()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
        std::fs::set_permissions(w.gnupghome(), perms).unwrap();
        w
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn gnupghome(&self) -> PathBuf {
        self.path("gnupg")
    }

    fn gpg(&self, args: &[&str]) -> Output {
        let out = Command::new("gpg")
            .env("GNUPGHOME", self.gnupghome())
            .args(["--batch", "--yes", "--pinentry-mode", "loopback"])
            .args(args)
            .output()
            .expect("gpg (Debian package gnupg) is required for these tests");
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A gpg key for `uid` (protected by `passphrase` if not empty), exported with
    /// `--export-secret-keys --armor`; returns the exported file.
    fn gpg_secret_key(&self, uid: &str, algo: &str, passphrase: &str) -> PathBuf {
        self.gpg(&[
            "--passphrase",
            passphrase,
            "--quick-gen-key",
            uid,
            algo,
            "sign",
            "never",
        ]);
        let secret = self.path("exported.sec.asc");
        self.gpg(&[
            "--passphrase",
            passphrase,
            "--armor",
            "--output",
            secret.to_str().unwrap(),
            "--export-secret-keys",
            uid,
        ]);
        secret
    }

    /// An 8 KiB file standing in for an image (signing is over raw bytes).
    fn image(&self) -> PathBuf {
        let path = self.path("app.aci");
        let bytes: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// acbuild with HOME and XDG_CONFIG_HOME inside the world and no inherited key settings.
    fn acbuild(&self, args: &[&dyn AsRef<std::ffi::OsStr>], env: &[(&str, &str)]) -> Output {
        let mut cmd = acbuild_cmd::acbuild(args);
        cmd.env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn acbuild_ok(&self, args: &[&dyn AsRef<std::ffi::OsStr>], env: &[(&str, &str)]) -> Output {
        let out = self.acbuild(args, env);
        assert!(
            out.status.success(),
            "acbuild failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn gpg_verifies(&self, aci: &Path) {
        let asc = format!("{}.asc", aci.display());
        let out = Command::new("gpg")
            .env("GNUPGHOME", self.gnupghome())
            .args(["--batch", "--verify", &asc, aci.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.contains("Good signature"),
            "{stderr}"
        );
    }
}

#[test]
fn keygen_writes_secret_and_public_key_and_says_how_to_trust_it() {
    let w = World::new();
    let keys = w.path("keys");
    let out = w.acbuild_ok(
        &[&"keygen", &"--uid", &"Me <me@example.com>", &"--out", &keys],
        &[],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let public = keys.join("signing-key.pub.asc");
    let secret = std::fs::read_to_string(keys.join("signing-key.asc")).unwrap();
    assert!(secret.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"));
    assert!(
        stdout.contains(&format!("acrun trust --root {}", public.display())),
        "{stdout}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(keys.join("signing-key.asc"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn keygen_shows_the_user_id_with_control_characters_escaped() {
    let w = World::new();
    let forged = "Mallory\nremoved key 0000 (all images)\x1b[2K";
    let out = w.acbuild_ok(
        &[&"keygen", &"--uid", &forged, &"--out", &w.path("evil")],
        &[],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(r"Mallory\nremoved key 0000 (all images)\x1b[2K"),
        "{stdout}"
    );
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
    assert!(
        !stdout.lines().any(|l| l.starts_with("removed key")),
        "{stdout}"
    );
    // Control: an ordinary user ID is shown as it is.
    let out = w.acbuild_ok(
        &[
            &"keygen",
            &"--uid",
            &"Zoë <zoe@example.com>",
            &"--out",
            &w.path("ok"),
        ],
        &[],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("Zoë <zoe@example.com>"), "{stdout}");
}

#[test]
fn keygen_refuses_to_overwrite_a_key() {
    let w = World::new();
    w.acbuild_ok(&[&"keygen", &"--out", &w.path("keys")], &[]);
    let out = w.acbuild(&[&"keygen", &"--out", &w.path("keys")], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
}

#[test]
fn gpg_accepts_signature_made_with_acbuild_key() {
    let w = World::new();
    w.acbuild_ok(&[&"keygen", &"--out", &w.path("keys")], &[]);
    w.gpg(&[
        "--import",
        w.path("keys/signing-key.pub.asc").to_str().unwrap(),
    ]);
    let aci = w.image();
    let key = w.path("keys/signing-key.asc");
    let out = w.acbuild_ok(&[&"sign", &aci, &"--sign-key", &key], &[]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("{}.asc", aci.display())
    );
    let asc = std::fs::read_to_string(format!("{}.asc", aci.display())).unwrap();
    assert!(asc.starts_with("-----BEGIN PGP SIGNATURE-----"), "{asc}");
    w.gpg_verifies(&aci);
}

#[test]
fn gpg_accepts_signature_made_with_gpg_exported_secret_key() {
    let w = World::new();
    let secret = w.gpg_secret_key("G <g@example.com>", "ed25519", "");
    let aci = w.image();
    w.acbuild_ok(
        &[&"sign", &aci],
        &[("ACBUILD_SIGN_KEY", secret.to_str().unwrap())],
    );
    w.gpg_verifies(&aci);
}

#[test]
fn passphrase_protected_gpg_rsa_key_is_unlocked_by_environment() {
    let w = World::new();
    let secret = w.gpg_secret_key("R <r@example.com>", "rsa3072", "s3cret");
    let aci = w.image();
    w.acbuild_ok(
        &[&"sign", &aci, &"--sign-key", &secret],
        &[("ACBUILD_KEY_PASSPHRASE", "s3cret")],
    );
    w.gpg_verifies(&aci);
}

#[test]
fn protected_key_without_passphrase_or_terminal_is_a_usage_error() {
    let w = World::new();
    let secret = w.gpg_secret_key("R <r@example.com>", "ed25519", "s3cret");
    let out = w.acbuild(&[&"sign", &w.image(), &"--sign-key", &secret], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ACBUILD_KEY_PASSPHRASE"));
}

#[test]
fn wrong_passphrase_is_refused() {
    let w = World::new();
    let secret = w.gpg_secret_key("R <r@example.com>", "ed25519", "s3cret");
    let out = w.acbuild(
        &[&"sign", &w.image(), &"--sign-key", &secret],
        &[("ACBUILD_KEY_PASSPHRASE", "nope")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
}

#[test]
fn same_source_date_epoch_gives_identical_signatures() {
    let w = World::new();
    w.acbuild_ok(&[&"keygen", &"--out", &w.path("keys")], &[]);
    let key = w.path("keys/signing-key.asc");
    let aci = w.image();
    let asc = format!("{}.asc", aci.display());
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    w.acbuild_ok(&[&"sign", &aci, &"--sign-key", &key], &epoch);
    let first = std::fs::read(&asc).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    w.acbuild_ok(&[&"sign", &aci, &"--sign-key", &key], &epoch);
    assert_eq!(first, std::fs::read(&asc).unwrap());
    // The reproducible signature is still one gpg accepts.
    w.gpg(&[
        "--import",
        w.path("keys/signing-key.pub.asc").to_str().unwrap(),
    ]);
    w.gpg_verifies(&aci);
}

#[test]
fn default_key_is_created_once_and_announced() {
    let w = World::new();
    let aci = w.image();
    let first = w.acbuild_ok(&[&"sign", &aci], &[]);
    let notice = String::from_utf8(first.stderr).unwrap();
    let public = w.path("config/acbuild/signing-key.pub.asc");
    assert!(notice.contains("created signing key"), "{notice}");
    assert!(
        notice.contains(&format!("acrun trust --root {}", public.display())),
        "{notice}"
    );
    let second = w.acbuild_ok(&[&"sign", &aci], &[]);
    assert!(String::from_utf8(second.stderr).unwrap().is_empty());
    w.gpg(&["--import", public.to_str().unwrap()]);
    w.gpg_verifies(&aci);
}

/// An image directory for `acbuild pack`.
fn image_dir(w: &World) -> PathBuf {
    let dir = w.path("image");
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    std::fs::write(dir.join("rootfs/hello"), b"hello\n").unwrap();
    std::fs::write(
        dir.join("manifest"),
        r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app"}"#,
    )
    .unwrap();
    dir
}

#[test]
fn pack_signs_the_image_it_writes() {
    let w = World::new();
    w.acbuild_ok(&[&"keygen", &"--out", &w.path("keys")], &[]);
    w.gpg(&[
        "--import",
        w.path("keys/signing-key.pub.asc").to_str().unwrap(),
    ]);
    let out = w.path("app.aci");
    let key = w.path("keys/signing-key.asc");
    w.acbuild_ok(&[&"pack", &image_dir(&w), &out, &"--sign-key", &key], &[]);
    w.gpg_verifies(&out);
}

#[test]
fn pack_with_no_sign_writes_no_signature_and_warns() {
    let w = World::new();
    let out = w.path("app.aci");
    let done = w.acbuild_ok(&[&"pack", &image_dir(&w), &out, &"--no-sign"], &[]);
    assert!(!w.path("app.aci.asc").exists());
    assert!(String::from_utf8_lossy(&done.stderr).contains("warning: --no-sign"));
}

/// reproducible-builds.org: an empty SOURCE_DATE_EPOCH is "not set"; any other non-number is
/// refused, by `sign` exactly as by `pack` (one rule, `appc::source_date_epoch`).
#[test]
fn sign_treats_an_empty_source_date_epoch_as_unset_and_refuses_a_bad_one() {
    let w = World::new();
    w.acbuild_ok(&[&"keygen", &"--out", &w.path("keys")], &[]);
    w.gpg(&[
        "--import",
        w.path("keys/signing-key.pub.asc").to_str().unwrap(),
    ]);
    let key = w.path("keys/signing-key.asc");
    let aci = w.image();
    w.acbuild_ok(
        &[&"sign", &aci, &"--sign-key", &key],
        &[("SOURCE_DATE_EPOCH", "")],
    );
    w.gpg_verifies(&aci);
    std::fs::remove_file(format!("{}.asc", aci.display())).unwrap();
    let out = w.acbuild(
        &[&"sign", &aci, &"--sign-key", &key],
        &[("SOURCE_DATE_EPOCH", " 10")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SOURCE_DATE_EPOCH"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!Path::new(&format!("{}.asc", aci.display())).exists());
}

/// The same rule for `pack`: empty is unset (the default mtime), not an error.
#[test]
fn pack_treats_an_empty_source_date_epoch_as_unset() {
    let w = World::new();
    let unset = w.path("unset.aci");
    let empty = w.path("empty.aci");
    let dir = image_dir(&w);
    w.acbuild_ok(&[&"pack", &dir, &unset, &"--no-sign"], &[]);
    w.acbuild_ok(
        &[&"pack", &dir, &empty, &"--no-sign"],
        &[("SOURCE_DATE_EPOCH", "")],
    );
    assert_eq!(
        std::fs::read(&unset).unwrap(),
        std::fs::read(&empty).unwrap()
    );
    let out = w.acbuild(
        &[&"pack", &dir, &w.path("bad.aci"), &"--no-sign"],
        &[("SOURCE_DATE_EPOCH", "1e9")],
    );
    assert_eq!(out.status.code(), Some(2));
}

//! Fixtures for acrun's end-to-end tests: a private gpg home, hand-made ACIs, the acrun binary
//! with its state and system trust directories in a temp dir.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod busybox;
pub mod pod;
pub mod running;
pub mod store;

/// A world for one test: temp dir, gpg home, acrun state.
pub struct World {
    pub dir: tempfile::TempDir,
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
    pub fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let world = World { dir };
        std::fs::create_dir(world.gnupghome()).unwrap();
        let mut perms = std::fs::metadata(world.gnupghome()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
        std::fs::set_permissions(world.gnupghome(), perms).unwrap();
        world
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn gnupghome(&self) -> PathBuf {
        self.path("gnupg")
    }

    /// Run gpg in the private home; panics with gpg's stderr on failure.
    pub fn gpg(&self, args: &[&str]) -> Output {
        let out = Command::new("gpg")
            .env("GNUPGHOME", self.gnupghome())
            .arg("--batch")
            .arg("--yes")
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

    /// Make an Ed25519 signing key with gpg; returns its fingerprint.
    pub fn gpg_key(&self, uid: &str, extra: &[&str], expiry: &str) -> String {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend([
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "ed25519",
            "sign",
            expiry,
        ]);
        self.gpg(&args);
        self.fingerprint(uid)
    }

    pub fn fingerprint(&self, uid: &str) -> String {
        let out = self.gpg(&["--with-colons", "--list-keys", uid]);
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .map(|rest| rest.trim_matches(':').to_owned())
            .unwrap()
    }

    /// Export the public key of `uid` to a file.
    pub fn export(&self, uid: &str, file: &str) -> PathBuf {
        let path = self.path(file);
        self.gpg(&[
            "--armor",
            "--output",
            path.to_str().unwrap(),
            "--export",
            uid,
        ]);
        path
    }

    /// `gpg --armor --detach-sign` of `file` by `uid`, written to `file.asc`.
    pub fn gpg_sign(&self, uid: &str, file: &Path, extra: &[&str]) -> PathBuf {
        let sig = PathBuf::from(format!("{}.asc", file.display()));
        let mut args: Vec<&str> = extra.to_vec();
        args.extend([
            "--local-user",
            uid,
            "--armor",
            "--output",
            sig.to_str().unwrap(),
        ]);
        args.extend(["--detach-sign", file.to_str().unwrap()]);
        self.gpg(&args);
        sig
    }

    /// A gzip-compressed ACI named `name` with a one-file rootfs, made with tar(1).
    pub fn aci(&self, file: &str, name: &str) -> PathBuf {
        let src = self.path(&format!("{file}.src"));
        std::fs::create_dir_all(src.join("rootfs")).unwrap();
        std::fs::write(src.join("rootfs/hello"), b"hello\n").unwrap();
        let manifest = format!(
            r#"{{"acKind":"ImageManifest","acVersion":"0.8.11","name":"{name}","labels":[{{"name":"os","value":"linux"}},{{"name":"arch","value":"amd64"}}]}}"#
        );
        std::fs::write(src.join("manifest"), manifest).unwrap();
        let aci = self.path(file);
        tar_aci(&src, &aci);
        aci
    }

    /// An uncompressed ACI like [`World::aci`] (tar's default 10 KiB records, so the archive ends
    /// in many zero bytes).
    pub fn aci_plain(&self, file: &str, name: &str) -> PathBuf {
        let gz = self.aci(&format!("{file}.gz"), name);
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(&gz)
            .output()
            .expect("gzip is required");
        assert!(out.status.success());
        let aci = self.path(file);
        std::fs::write(&aci, out.stdout).unwrap();
        aci
    }

    /// Run acrun with this world's state and system trust directories.
    pub fn acrun(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_acrun"))
            .env("ACRUN_DIR", self.path("state"))
            .env("ACRUN_SYSTEM_TRUST_DIR", self.path("system-trust"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Run acrun and require success; returns stdout.
    pub fn acrun_ok(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
        let out = self.acrun(args);
        assert!(
            out.status.success(),
            "acrun failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run acrun and require exit code `code`; returns stderr.
    pub fn acrun_fails(&self, code: i32, args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
        let out = self.acrun(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "stdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

/// Pack `src/manifest` and `src/rootfs` into the gzip ACI `aci` with GNU tar (an archive made by
/// another tool than ours, as images from elsewhere are).
pub fn tar_aci(src: &Path, aci: &Path) {
    let status = Command::new("tar")
        .arg("-C")
        .arg(src)
        .arg("-czf")
        .arg(aci)
        .args(["manifest", "rootfs"])
        .status()
        .expect("tar is required");
    assert!(status.success());
}

//! Fixtures for the store tests: signing keys and signatures made by the real acbuild binary,
//! raw tar archives built header by header (so hostile names and types can be written as is).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::World;

/// The acbuild binary beside acrun's (built on first use).
pub fn acbuild() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_acrun")).with_file_name("acbuild");
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "acbuild"])
            .status()
            .unwrap();
        assert!(status.success(), "cargo build -p acbuild failed");
    }
    path
}

/// Run acbuild; panics with its stderr on failure; returns stdout.
pub fn acbuild_ok(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = Command::new(acbuild()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "acbuild failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A signing key made by `acbuild keygen`.
pub struct Key {
    pub secret: PathBuf,
    pub public: PathBuf,
}

impl World {
    /// A new signing key in `keys-NAME/`.
    pub fn key(&self, name: &str) -> Key {
        let dir = self.path(&format!("keys-{name}"));
        acbuild_ok(&[
            &"keygen",
            &"--uid",
            &format!("{name} <{name}@store.test>"),
            &"--out",
            &dir,
        ]);
        Key {
            secret: dir.join("signing-key.asc"),
            public: dir.join("signing-key.pub.asc"),
        }
    }

    /// A key trusted for every image.
    pub fn root_key(&self) -> Key {
        let key = self.key("root");
        self.acrun_ok(&[&"trust", &"--root", &key.public]);
        key
    }

    /// The image of `acbuild recipes/etcd.kdl`, signed by `key`.
    pub fn etcd_image(&self, key: &Key) -> PathBuf {
        let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes/etcd.kdl");
        let out = self.path("out");
        acbuild_ok(&[&recipe, &"--out", &out, &"--sign-key", &key.secret]);
        let aci = out.join("etcd-3.4.23-linux-amd64.aci");
        assert!(aci.exists(), "acbuild wrote no {}", aci.display());
        aci
    }

    /// Sign `aci` with `key` (writes `aci.asc`).
    pub fn sign(&self, aci: &Path, key: &Key) {
        acbuild_ok(&[&"sign", &aci, &"--sign-key", &key.secret]);
    }

    /// Write `tar` gzip-compressed to `file` and sign it.
    pub fn signed_aci(&self, file: &str, tar: &[u8], key: &Key) -> PathBuf {
        let path = self.path(file);
        std::fs::write(&path, gzip(tar)).unwrap();
        self.sign(&path, key);
        path
    }

    /// The records `acrun image list --json` shows.
    pub fn listed(&self) -> Vec<serde_json::Value> {
        let out = self.acrun_ok(&[&"image", &"list", &"--json"]);
        serde_json::from_str(&out).unwrap()
    }
}

/// Gzip `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An image manifest named `name`, with `extra` JSON members appended.
pub fn manifest(name: &str, extra: &str) -> String {
    format!(
        r#"{{"acKind":"ImageManifest","acVersion":"0.8.11","name":"{name}","labels":[{{"name":"os","value":"linux"}},{{"name":"arch","value":"amd64"}}]{extra}}}"#
    )
}

/// A tar archive built entry by entry; names and link targets are written as given.
pub struct Tar(tar::Builder<Vec<u8>>);

impl Default for Tar {
    fn default() -> Self {
        Tar::new()
    }
}

impl Tar {
    pub fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    /// `manifest` (named `name`) and the `rootfs` directory.
    pub fn image(name: &str) -> Tar {
        Tar::new()
            .file("manifest", manifest(name, "").as_bytes())
            .dir("rootfs")
    }

    pub fn put(
        mut self,
        name: &str,
        kind: tar::EntryType,
        mode: u32,
        data: &[u8],
        link: Option<&str>,
    ) -> Tar {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_000_000);
        h.set_size(data.len() as u64);
        if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
            h.set_device_major(1).unwrap();
            h.set_device_minor(1).unwrap();
        }
        {
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                gnu.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    pub fn file(self, name: &str, data: &[u8]) -> Tar {
        self.put(name, tar::EntryType::Regular, 0o644, data, None)
    }

    pub fn dir(self, name: &str) -> Tar {
        self.put(name, tar::EntryType::Directory, 0o755, b"", None)
    }

    pub fn symlink(self, name: &str, target: &str) -> Tar {
        self.put(name, tar::EntryType::Symlink, 0o777, b"", Some(target))
    }

    pub fn hardlink(self, name: &str, target: &str) -> Tar {
        self.put(name, tar::EntryType::Link, 0o644, b"", Some(target))
    }

    pub fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A snapshot of every path, type and content below `dir` (to prove nothing changed).
pub fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let what = if meta.is_dir() {
                stack.push(p.clone());
                "dir".to_owned()
            } else if meta.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&p).unwrap())
            } else {
                format!("file {:?}", std::fs::read(&p).unwrap())
            };
            out.push((p.display().to_string(), what));
        }
    }
    out
}

/// A header for `tar::Builder::append_data` with every numeric field set.
pub fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_000_000);
    h.set_size(size);
    h.set_cksum();
    h
}

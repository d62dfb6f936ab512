//! The sysroot: a build's packages unpacked into one tree, which the tracer resolves programs
//! and libraries in (`trace::Root::new`) instead of the host.
//!
//! A sysroot is kept under `$XDG_CACHE_HOME/acbuild/sysroots/KEY/`, KEY being the SHA-256 of
//! the sorted package hashes, so a warm build unpacks nothing. It is built in a temporary
//! directory beside it and renamed into place whole: a half-unpacked sysroot is never seen. Its
//! contents are not trusted on reuse: every file a build takes from it is hashed and compared
//! with the lockfile (see `crate::lockfile`); a build without pins unpacks afresh.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::DebError;
use super::archive::Deb;
use super::cache::Cached;
use super::unpack::{Kind, unpack};

/// An unpacked closure.
#[derive(Debug, Clone)]
pub struct Sysroot {
    /// The tree (the `/` programs and libraries are resolved in).
    pub root: PathBuf,
    /// For each file and symlink, the package that put it there (the last one, in name order).
    pub origin: BTreeMap<String, String>,
}

/// The sysroot of `packages` (sorted by name), from `cache_root/sysroots/` when `reuse`, else
/// (a build whose files no lockfile pins yet, so nothing could detect a changed sysroot)
/// unpacked afresh in place of the cached one.
pub fn sysroot(packages: &[Cached], cache_root: &Path, reuse: bool) -> Result<Sysroot, DebError> {
    let mut h = Sha256::new();
    h.update(b"acbuild-sysroot-v1\n");
    for p in packages {
        h.update(format!("{} {}\n", p.control.package, p.sha256).as_bytes());
    }
    let key = hex::encode(h.finalize());
    let base = cache_root.join("sysroots");
    let dir = base.join(&key);
    if reuse && let Some(s) = load(&dir) {
        return Ok(s);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(DebError::io(&dir))?;
    }
    fs::create_dir_all(&base).map_err(DebError::io(&base))?;
    let tmp = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(&base)
        .map_err(DebError::io(&base))?;
    let root = tmp.path().join("root");
    fs::create_dir(&root).map_err(DebError::io(&root))?;
    let mut origin = BTreeMap::new();
    for p in packages {
        for u in unpack(&Deb::open(&p.path)?, &root)? {
            if u.kind != Kind::Dir {
                origin.insert(u.path, p.control.package.clone());
            }
        }
    }
    let json = serde_json::to_vec(&origin).map_err(|e| DebError::Io {
        path: dir.clone(),
        source: std::io::Error::other(e),
    })?;
    let origin_path = tmp.path().join("origin.json");
    appc::atomic_file::write_atomically(&origin_path, &json, 0o644)
        .map_err(DebError::io(&origin_path))?;
    let kept = tmp.keep();
    if let Err(e) = fs::rename(&kept, &dir) {
        let _ = fs::remove_dir_all(&kept);
        // Another build may have put the same sysroot there first.
        return load(&dir).ok_or(DebError::Io {
            path: dir.clone(),
            source: e,
        });
    }
    load(&dir).ok_or_else(|| DebError::format(&dir, "sysroot vanished after unpacking"))
}

fn load(dir: &Path) -> Option<Sysroot> {
    let bytes = fs::read(dir.join("origin.json")).ok()?;
    let origin = serde_json::from_slice(&bytes).ok()?;
    let root = dir.join("root");
    root.is_dir().then_some(Sysroot { root, origin })
}

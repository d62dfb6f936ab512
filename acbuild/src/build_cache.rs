//! The build cache: a rebuild with nothing changed copies the previous image instead of building.
//!
//! An entry is keyed by a SHA-256 of the recipe bytes, the acbuild binary's identity and the
//! output-affecting options (compression, level, time stamp — not the thread count, which never
//! changes the output). It records the metadata (size, mtime, inode, device, mode) of every host
//! input the build read: files and symlinks of the plan, the directories of trees, and the library
//! directories runtime modules are looked up in. A hit re-checks all of them with `lstat`; any
//! difference is a miss. The cached image is published with a hard link into the output
//! directory and an atomic rename (a copy through `AtomicFile` across file systems), so nothing
//! half-written is ever visible. A cache that cannot be read or written is treated as a miss.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What is compared for each input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    path: PathBuf,
    size: u64,
    mtime_ns: i128,
    ino: u64,
    dev: u64,
    mode: u32,
}

impl Stamp {
    /// The `lstat` stamp of `path`, or `None` if it cannot be read.
    pub fn of(path: &Path) -> Option<Stamp> {
        let m = fs::symlink_metadata(path).ok()?;
        Some(Stamp {
            path: path.to_path_buf(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ino: m.ino(),
            dev: m.dev(),
            mode: m.mode(),
        })
    }
}

impl Stamp {
    /// Whether this is the stamp of `path`.
    pub fn is(&self, path: &Path) -> bool {
        self.path == path
    }
}

/// A cache record: the inputs as they were, and the summary of the build.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Input stamps.
    pub inputs: Vec<Stamp>,
    /// The image file name in the output directory.
    pub file_name: String,
    /// `sha512-…`.
    pub image_id: String,
    /// Archive entries.
    pub entries: usize,
    /// The SPDX document written beside the image.
    #[serde(default)]
    pub sbom: String,
}

/// The cache directory: `$XDG_CACHE_HOME/acbuild`, else `~/.cache/acbuild`.
pub fn dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("acbuild"))
}

/// The key of a build of `recipe_bytes` with the given option string.
pub fn key(recipe_bytes: &[u8], recipe_path: &Path, options: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"acbuild-cache-v1\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    // A rebuilt acbuild binary is a different tool even at the same version.
    if let Some(s) = std::env::current_exe().ok().and_then(|e| Stamp::of(&e)) {
        h.update(format!("{}:{}:{}\0", s.size, s.mtime_ns, s.ino).as_bytes());
    }
    h.update(recipe_path.as_os_str().as_encoded_bytes());
    h.update(b"\0");
    h.update(options.as_bytes());
    h.update(b"\0");
    h.update(recipe_bytes);
    hex::encode(h.finalize())
}

/// The record under `key` if every input still has its stamp.
pub fn lookup(cache: &Path, key: &str) -> Option<Record> {
    let bytes = fs::read(cache.join(format!("{key}.json"))).ok()?;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    let fresh = record
        .inputs
        .iter()
        .all(|s| Stamp::of(&s.path).as_ref() == Some(s));
    fresh.then_some(record)
}

/// Publish the cached image of `key` as `out` (atomically).
pub fn publish(cache: &Path, key: &str, out: &Path) -> io::Result<()> {
    let cached = cache.join(format!("{key}.aci"));
    let dir = out.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{key}.tmp"));
    let _ = fs::remove_file(&tmp);
    match fs::hard_link(&cached, &tmp) {
        Ok(()) => fs::rename(&tmp, out),
        Err(_) => {
            let bytes = fs::read(&cached)?;
            appc::atomic_file::write_atomically(out, &bytes, 0o644)
        }
    }
}

/// Store the image at `built` and its record under `key`. Errors are returned for the caller
/// to ignore: a cache is an optimisation.
pub fn store(cache: &Path, key: &str, built: &Path, record: &Record) -> io::Result<()> {
    fs::create_dir_all(cache)?;
    let cached = cache.join(format!("{key}.aci"));
    let tmp = cache.join(format!(".{key}.aci.tmp"));
    let _ = fs::remove_file(&tmp);
    if fs::hard_link(built, &tmp).is_ok() {
        fs::rename(&tmp, &cached)?;
    } else {
        appc::atomic_file::write_atomically(&cached, &fs::read(built)?, 0o644)?;
    }
    let json = serde_json::to_vec(record).map_err(io::Error::other)?;
    appc::atomic_file::write_atomically(&cache.join(format!("{key}.json")), &json, 0o644)
}

/// Whether the detached signature of `aci` was written after it, and so still signs these bytes:
/// a cached rebuild republishes the same image file (a hard link keeps its mtime), and its
/// signature stays current. Any change to the image is a new file with a newer mtime.
pub fn signature_is_current(aci: &Path) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(aci), modified(&appc::sign::signature_path(aci))) {
        (Some(image), Some(sig)) => sig >= image,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_stale_once_an_input_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in");
        fs::write(&input, "a").unwrap();
        let record = Record {
            inputs: vec![Stamp::of(&input).unwrap()],
            file_name: "x.aci".into(),
            image_id: "sha512-0".into(),
            entries: 1,
            sbom: "{}".into(),
        };
        let built = tmp.path().join("built.aci");
        fs::write(&built, "aci").unwrap();
        store(tmp.path(), "k", &built, &record).unwrap();
        assert!(lookup(tmp.path(), "k").is_some());
        fs::write(&input, "bb").unwrap();
        assert!(lookup(tmp.path(), "k").is_none());
    }

    #[test]
    fn publish_places_the_cached_bytes_at_the_output() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("k.aci"), "aci").unwrap();
        let out = tmp.path().join("out/x.aci");
        publish(tmp.path(), "k", &out).unwrap();
        assert_eq!(fs::read(out).unwrap(), b"aci");
    }

    #[test]
    fn keys_differ_with_options_and_recipe_bytes() {
        let p = Path::new("/r.kdl");
        assert_ne!(key(b"a", p, "gzip"), key(b"a", p, "xz"));
        assert_ne!(key(b"a", p, "gzip"), key(b"b", p, "gzip"));
    }
}

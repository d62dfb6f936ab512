//! The store's HMAC key: 64 random bytes in `DIR/metadata/hmac.key` (directory 0700, file 0600),
//! created on first use, kept across restarts, replaced by `acrun metadata rotate-key`.
//!
//! The key is read by acrun's host-side process only: it lives outside every pod's root, and the
//! pod supervisor covers its directory with an empty tmpfs before any app starts
//! (`PodSpec::hidden`), so not even `/proc/1/root` leads to it from inside a pod.
//!
//! Defends against: a key readable by other users (mode checked on every read), a symlink
//! planted at the key's path (opened with `O_NOFOLLOW`), two first runs racing to create two
//! different keys (creation under an flock), a half-written key (temp file + rename).

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Length of the key in bytes.
pub const KEY_LEN: usize = 64;

/// The HMAC key.
#[derive(Clone)]
pub struct HmacKey(pub(crate) [u8; KEY_LEN]);

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

/// Why the key could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// File system failure.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not what acrun writes.
    #[error("{path}: {problem}; remove it or run `acrun metadata rotate-key`")]
    Unsafe {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// No randomness.
    #[error("random bytes: {0}")]
    Random(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The directory holding the key under the acrun state directory `dir`.
pub fn key_dir(dir: &Path) -> PathBuf {
    dir.join("metadata")
}

/// The key file under the acrun state directory `dir`.
pub fn key_path(dir: &Path) -> PathBuf {
    key_dir(dir).join("hmac.key")
}

/// Fills `buf` from the kernel's random source.
pub fn random(buf: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(buf).map_err(|e| KeyError::Random(e.to_string()))
}

/// Reads the key, creating it if there is none.
pub fn load_or_create(dir: &Path) -> Result<HmacKey, KeyError> {
    let _lock = lock(dir)?;
    match read(&key_path(dir)) {
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            write_new(dir)
        }
        other => other,
    }
}

/// Replaces the key with a new random one; signatures made with the old key stop verifying.
pub fn rotate(dir: &Path) -> Result<HmacKey, KeyError> {
    let _lock = lock(dir)?;
    write_new(dir)
}

/// Reads an existing key.
pub fn load(dir: &Path) -> Result<HmacKey, KeyError> {
    read(&key_path(dir))
}

fn lock(dir: &Path) -> Result<crate::store::lock::Held, KeyError> {
    let kd = key_dir(dir);
    std::fs::create_dir_all(&kd).map_err(io(&kd))?;
    std::fs::set_permissions(&kd, std::fs::Permissions::from_mode(0o700)).map_err(io(&kd))?;
    let lock = kd.join("lock");
    crate::store::lock::exclusive(&lock).map_err(io(&lock))
}

fn write_new(dir: &Path) -> Result<HmacKey, KeyError> {
    let mut key = [0u8; KEY_LEN];
    random(&mut key)?;
    let path = key_path(dir);
    appc::atomic_file::write_atomically(&path, &key, 0o600).map_err(io(&path))?;
    Ok(HmacKey(key))
}

fn read(path: &Path) -> Result<HmacKey, KeyError> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io(path))?;
    let meta = file.metadata().map_err(io(path))?;
    let unsafe_because = |problem: String| KeyError::Unsafe {
        path: path.to_owned(),
        problem,
    };
    if !meta.is_file() {
        return Err(unsafe_because("not a regular file".into()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(unsafe_because(format!(
            "mode {:o} lets other users read it (want 600)",
            meta.mode() & 0o777
        )));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(unsafe_because(format!("owned by uid {}", meta.uid())));
    }
    let mut bytes = Vec::with_capacity(KEY_LEN + 1);
    (&mut file)
        .take(KEY_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    let key: [u8; KEY_LEN] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| unsafe_because(format!("{} bytes, not {KEY_LEN}", bytes.len())))?;
    Ok(HmacKey(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_kept() {
        let d = tempfile::tempdir().unwrap();
        let a = load_or_create(d.path()).unwrap();
        let b = load_or_create(d.path()).unwrap();
        assert_eq!(a.0, b.0);
        let mode = std::fs::metadata(key_path(d.path())).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let c = rotate(d.path()).unwrap();
        assert_ne!(a.0, c.0);
        assert_eq!(load(d.path()).unwrap().0, c.0);
    }

    #[test]
    fn a_readable_or_linked_or_short_key_is_refused() {
        let d = tempfile::tempdir().unwrap();
        load_or_create(d.path()).unwrap();
        let p = key_path(d.path());
        assert!(load(d.path()).is_ok(), "positive control");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(load(d.path()), Err(KeyError::Unsafe { .. })));
        std::fs::remove_file(&p).unwrap();
        std::fs::write(d.path().join("other"), [0u8; KEY_LEN]).unwrap();
        std::os::unix::fs::symlink(d.path().join("other"), &p).unwrap();
        assert!(load(d.path()).is_err());
        std::fs::remove_file(&p).unwrap();
        appc::atomic_file::write_atomically(&p, &[1u8; 10], 0o600).unwrap();
        assert!(matches!(load(d.path()), Err(KeyError::Unsafe { .. })));
    }
}

//! The lockfile `NAME.lock` beside a package-mode recipe: every package of the closure with its
//! version, architecture and SHA-256, and every file the image takes from them with its SHA-256.
//!
//! It is JSON with a fixed field order, packages sorted by name and files by path, so the same
//! inputs always give the same bytes (reviewable in a pull request). It is written atomically,
//! never by a `--locked` build. What it defends against: a mirror or cache serving other bytes
//! for a pinned version (package hash), and a tampered unpacked sysroot (file hash) — both are
//! refused naming the package; and silent drift between the recipe and the pins.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lockfile format version written.
pub const FORMAT: u32 = 1;

/// A lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    /// [`FORMAT`].
    pub format: u32,
    /// The packages, sorted by name.
    pub packages: Vec<LockedPackage>,
    /// The files taken from them, sorted by image path.
    pub files: Vec<LockedFile>,
}

/// One pinned package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Architecture.
    pub architecture: String,
    /// SHA-256 of the `.deb`.
    pub sha256: String,
}

/// One file of the image taken from a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedFile {
    /// The path in the image.
    pub path: String,
    /// The package it comes from.
    pub package: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// Why a lockfile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The lockfile.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The lockfile is not a lockfile.
    #[error("{}: not a lockfile: {reason}", path.display())]
    Parse {
        /// The lockfile.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `--locked` and the lockfile does not exist.
    #[error("{}: no lockfile (run `acbuild lock RECIPE`), and --locked forbids writing one", path.display())]
    Missing {
        /// The lockfile.
        path: PathBuf,
    },
    /// `--locked` and the build's inputs differ from the lockfile.
    #[error("{}: package `{package}`: {what} (--locked: nothing written)", path.display())]
    Drift {
        /// The lockfile.
        path: PathBuf,
        /// The package that drifted.
        package: String,
        /// What changed.
        what: String,
    },
    /// A file taken from a package does not have the bytes the lockfile pins although the
    /// package does: the unpacked sysroot was changed.
    #[error(
        "{}: `{file}` of package `{package}` has SHA-256 {found}, the lockfile pins {expected}",
        path.display()
    )]
    FileHash {
        /// The lockfile.
        path: PathBuf,
        /// The image path.
        file: String,
        /// Its package.
        package: String,
        /// Pinned.
        expected: String,
        /// Found.
        found: String,
    },
}

/// `recipes/etcd.kdl` → `recipes/etcd.lock`.
pub fn path_for(recipe: &Path) -> PathBuf {
    recipe.with_extension("lock")
}

impl Lockfile {
    /// Read the lockfile at `path`; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Lockfile>, LockError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LockError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let lock: Lockfile = serde_json::from_slice(&bytes).map_err(|e| LockError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if lock.format != FORMAT {
            return Err(LockError::Parse {
                path: path.to_path_buf(),
                reason: format!("format {} (this acbuild writes {FORMAT})", lock.format),
            });
        }
        Ok(Some(lock))
    }

    /// The bytes written: pretty JSON and a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Write atomically to `path`.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        appc::atomic_file::write_atomically(path, &self.to_bytes(), 0o644).map_err(|source| {
            LockError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// The first difference between the files pinned here and `files` found now, as a
    /// [`LockError::Drift`] naming the package.
    pub fn file_drift(&self, path: &Path, files: &[LockedFile]) -> Option<LockError> {
        let drift = |package: &str, what: String| LockError::Drift {
            path: path.to_path_buf(),
            package: package.to_owned(),
            what,
        };
        for f in files {
            match self.files.iter().find(|l| l.path == f.path) {
                None => {
                    return Some(drift(
                        &f.package,
                        format!("`{}` is not in the lockfile", f.path),
                    ));
                }
                Some(l) if l.sha256 != f.sha256 || l.package != f.package => {
                    return Some(LockError::FileHash {
                        path: path.to_path_buf(),
                        file: f.path.clone(),
                        package: f.package.clone(),
                        expected: l.sha256.clone(),
                        found: f.sha256.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        self.files
            .iter()
            .find(|l| !files.iter().any(|f| f.path == l.path))
            .map(|l| drift(&l.package, format!("`{}` is no longer taken", l.path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock() -> Lockfile {
        Lockfile {
            format: FORMAT,
            packages: vec![LockedPackage {
                name: "etcd-server".into(),
                version: "3.4.23-4+b4".into(),
                architecture: "amd64".into(),
                sha256: "aa".into(),
            }],
            files: vec![LockedFile {
                path: "/usr/bin/etcd".into(),
                package: "etcd-server".into(),
                sha256: "bb".into(),
            }],
        }
    }

    #[test]
    fn a_lockfile_round_trips_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        lock().write(&p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(Lockfile::read(&p).unwrap().unwrap(), lock());
        assert_eq!(bytes, lock().to_bytes());
        assert!(bytes.ends_with(b"}\n"));
    }

    #[test]
    fn a_changed_file_hash_names_the_package_and_the_same_files_pass() {
        let l = lock();
        assert!(l.file_drift(Path::new("x"), &l.files).is_none());
        let mut changed = l.files.clone();
        changed[0].sha256 = "cc".into();
        let err = l.file_drift(Path::new("x"), &changed).unwrap().to_string();
        assert!(
            err.contains("`/usr/bin/etcd` of package `etcd-server`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_and_other_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        std::fs::write(&p, r#"{"format":2,"packages":[],"files":[]}"#).unwrap();
        assert!(matches!(Lockfile::read(&p), Err(LockError::Parse { .. })));
        std::fs::write(&p, r#"{"format":1,"packages":[],"files":[],"x":1}"#).unwrap();
        assert!(matches!(Lockfile::read(&p), Err(LockError::Parse { .. })));
        std::fs::write(&p, r#"{"format":1,"packages":[],"files":[]}"#).unwrap();
        assert!(Lockfile::read(&p).unwrap().is_some());
    }
}

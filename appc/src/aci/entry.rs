//! What goes into an image's `rootfs/`: checked rootfs-relative paths and the entries the writer
//! accepts. The writer owns the archive names (`rootfs/` + path); callers only ever name paths
//! inside the root filesystem, so they cannot write `manifest` or escape `rootfs/`.

use std::fmt;
use std::path::PathBuf;

/// Why a string is not a valid path inside the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootfsPathError {
    #[error("rootfs path is empty")]
    Empty,
    #[error("rootfs path {0:?} is absolute")]
    Absolute(String),
    #[error("rootfs path {0:?} has a \"..\" component")]
    ParentComponent(String),
    #[error("rootfs path {0:?} has a NUL byte")]
    Nul(String),
}

/// A relative path inside the root filesystem, in clean form: components joined by one `/`, no
/// `.`, no `..`, no empty component, not absolute, not empty. Ordering is bytewise, which is the
/// order entries appear in an archive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RootfsPath(String);

impl RootfsPath {
    /// Check and clean `s`: `a//b/./c/` becomes `a/b/c`; `..` anywhere, a leading `/` or an
    /// empty result are errors.
    pub fn new(s: &str) -> Result<RootfsPath, RootfsPathError> {
        if s.contains('\0') {
            return Err(RootfsPathError::Nul(s.to_owned()));
        }
        if s.starts_with('/') {
            return Err(RootfsPathError::Absolute(s.to_owned()));
        }
        let mut parts = Vec::new();
        for c in s.split('/') {
            match c {
                "" | "." => {}
                ".." => return Err(RootfsPathError::ParentComponent(s.to_owned())),
                c => parts.push(c),
            }
        }
        if parts.is_empty() {
            return Err(RootfsPathError::Empty);
        }
        Ok(RootfsPath(parts.join("/")))
    }

    /// The clean path, without a leading or trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The enclosing directory, or `None` for a top-level entry.
    pub fn parent(&self) -> Option<RootfsPath> {
        self.0
            .rfind('/')
            .map(|i| RootfsPath(self.0[..i].to_owned()))
    }

    /// The name of this entry inside the ACI: `rootfs/` + path.
    pub fn archive_name(&self) -> String {
        format!("rootfs/{}", self.0)
    }
}

// Ordering and equality are the inner string's, so maps keyed by `RootfsPath` can be queried by
// `&str`.
impl std::borrow::Borrow<str> for RootfsPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// The parent directories a `/`-separated path (relative, or absolute with a leading `/`)
/// implies, nearest first, checked against what is declared: `declared(parent)` is `None` for an
/// undeclared path, `Some(true)` for a declared directory, `Some(false)` for anything else.
/// Returns the undeclared parents, which the caller creates as directories, or the first
/// declared parent that is not a directory. The writer and acbuild's plan both complete their
/// trees by this one rule, so an archive never lacks a parent.
pub fn implied_parents(
    path: &str,
    declared: impl Fn(&str) -> Option<bool>,
) -> Result<Vec<&str>, &str> {
    let mut missing = Vec::new();
    let mut parent = path;
    while let Some(cut) = parent.rfind('/').filter(|&c| c > 0) {
        parent = &path[..cut];
        match declared(parent) {
            None => missing.push(parent),
            Some(true) => {}
            Some(false) => return Err(parent),
        }
    }
    Ok(missing)
}

impl fmt::Display for RootfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RootfsPath {
    type Err = RootfsPathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RootfsPath::new(s)
    }
}

/// Where a regular file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// Streamed from this host path at write time (never copied first). Its size must not change
    /// between the header and the end of its data.
    Path(PathBuf),
    /// These bytes.
    Bytes(Vec<u8>),
}

/// The kind of a rootfs entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File(FileSource),
    /// A symbolic link; the target is stored as given (it is resolved inside the rootfs at run time).
    Symlink(PathBuf),
    /// A hard link to another entry of the same image, stored as its archive name `rootfs/…`.
    Hardlink(RootfsPath),
}

/// One entry of the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: RootfsPath,
    pub kind: EntryKind,
    /// Permission bits including setuid, setgid and sticky (`0o7777` is kept, the rest ignored).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_repeated_slashes_and_dots() {
        assert_eq!(RootfsPath::new("a//b/./c/").unwrap().as_str(), "a/b/c");
    }

    #[test]
    fn implied_parents_are_the_undeclared_ancestors_and_stop_at_a_non_directory() {
        let declared = |p: &str| match p {
            "/a" | "a" => Some(true),
            "/f" => Some(false),
            _ => None,
        };
        assert_eq!(implied_parents("a/b/c", declared), Ok(vec!["a/b"]));
        assert_eq!(implied_parents("/a/b/c", declared), Ok(vec!["/a/b"]));
        assert_eq!(implied_parents("/x/y", declared), Ok(vec!["/x"]));
        assert_eq!(implied_parents("top", declared), Ok(vec![]));
        assert_eq!(implied_parents("/f/g/h", declared), Err("/f"));
    }

    #[test]
    fn rejects_parent_components_even_when_they_stay_inside() {
        assert!(matches!(
            RootfsPath::new("a/../b"),
            Err(RootfsPathError::ParentComponent(_))
        ));
    }

    #[test]
    fn rejects_absolute_and_empty_paths() {
        assert!(matches!(
            RootfsPath::new("/etc"),
            Err(RootfsPathError::Absolute(_))
        ));
        assert_eq!(RootfsPath::new("./"), Err(RootfsPathError::Empty));
        assert_eq!(RootfsPath::new(""), Err(RootfsPathError::Empty));
    }

    #[test]
    fn parent_and_archive_name() {
        let p = RootfsPath::new("usr/bin/x").unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "usr/bin");
        assert_eq!(RootfsPath::new("usr").unwrap().parent(), None);
        assert_eq!(p.archive_name(), "rootfs/usr/bin/x");
    }
}

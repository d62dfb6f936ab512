//! The filesystem view the tracer resolves paths in: the host (`/`) or a sysroot directory.
//!
//! Every path handed to a [`Root`] is an absolute path *inside* the root. Resolution walks it one
//! component at a time with `lstat`, so symlinks are followed by us, never by the kernel: an
//! absolute link target restarts at the root, and `..` at the root stays at the root. A sysroot can
//! therefore never make the tracer read a host file outside it. Every symlink met on the way (file
//! or directory) is recorded, because copying a tree needs them all.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Linux gives up after 40 symlinks in one lookup; so do we.
const MAX_SYMLINKS: usize = 40;

/// A path resolved inside a [`Root`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The in-root path with every symlink resolved.
    pub real: PathBuf,
    /// In-root paths of every symlink followed on the way, in the order met.
    pub links: Vec<PathBuf>,
}

/// A directory tree that in-root absolute paths are resolved against.
#[derive(Debug)]
pub struct Root {
    dir: PathBuf,
    cache: Mutex<HashMap<PathBuf, Result<Arc<Resolved>, io::ErrorKind>>>,
}

impl Root {
    /// The host filesystem.
    pub fn host() -> Root {
        Root {
            dir: PathBuf::from("/"),
            cache: Mutex::default(),
        }
    }

    /// The tree below `dir` (a sysroot).
    pub fn new(dir: &Path) -> io::Result<Root> {
        let dir = dir.canonicalize()?;
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "root is not a directory",
            ));
        }
        Ok(Root {
            dir,
            cache: Mutex::default(),
        })
    }

    /// The host directory this root stands for.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where an in-root path lives on the host. Only meaningful for a [`Resolved::real`] path.
    pub fn host_path(&self, in_root: &Path) -> PathBuf {
        let relative = in_root.strip_prefix("/").unwrap_or(in_root);
        if relative.as_os_str().is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(relative)
        }
    }

    /// Resolve an in-root path (relative paths count from the root) following symlinks inside
    /// the root. Fails like `open` would: not found, not a directory, too many links.
    pub fn resolve(&self, path: &Path) -> io::Result<Arc<Resolved>> {
        let key = Path::new("/").join(path);
        if let Some(hit) = self.lock_cache().get(&key) {
            return hit.clone().map_err(io::Error::from);
        }
        let outcome = self.walk(&key).map(Arc::new);
        self.lock_cache().insert(
            key,
            outcome.as_ref().map(Arc::clone).map_err(io::Error::kind),
        );
        outcome
    }

    fn lock_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Result<Arc<Resolved>, io::ErrorKind>>> {
        // A poisoned cache only means another thread panicked mid-insert; the map is still valid.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn walk(&self, path: &Path) -> io::Result<Resolved> {
        let mut pending: VecDeque<OsString> = VecDeque::new();
        push_front(&mut pending, path);
        let mut current = PathBuf::from("/");
        let mut links = Vec::new();
        while let Some(name) = pending.pop_front() {
            if name == ".." {
                current.pop();
                continue;
            }
            let candidate = current.join(&name);
            let meta = std::fs::symlink_metadata(self.host_path(&candidate))?;
            if meta.file_type().is_symlink() {
                if links.len() == MAX_SYMLINKS {
                    return Err(io::Error::other("too many levels of symbolic links"));
                }
                let target = std::fs::read_link(self.host_path(&candidate))?;
                links.push(candidate);
                if target.is_absolute() {
                    current = PathBuf::from("/");
                }
                push_front(&mut pending, &target);
            } else if !pending.is_empty() && !meta.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    "not a directory",
                ));
            } else {
                current = candidate;
            }
        }
        Ok(Resolved {
            real: current,
            links,
        })
    }
}

/// Queue the normal and `..` components of `path` ahead of what is pending.
fn push_front(pending: &mut VecDeque<OsString>, path: &Path) {
    for component in path.components().rev() {
        match component {
            Component::Normal(name) => pending.push_front(name.to_os_string()),
            Component::ParentDir => pending.push_front(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        std::fs::write(dir.path().join("usr/lib/libx.so.1.2"), b"x").unwrap();
        symlink("usr/lib", dir.path().join("lib")).unwrap();
        symlink("libx.so.1.2", dir.path().join("usr/lib/libx.so.1")).unwrap();
        let root = Root::new(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn records_directory_and_file_symlinks_in_order() {
        let (_dir, root) = tree();
        let resolved = root.resolve(Path::new("/lib/libx.so.1")).unwrap();
        assert_eq!(resolved.real, Path::new("/usr/lib/libx.so.1.2"));
        assert_eq!(
            resolved.links,
            [Path::new("/lib"), Path::new("/usr/lib/libx.so.1")]
        );
    }

    #[test]
    fn absolute_symlink_is_rerooted() {
        let (dir, root) = tree();
        symlink("/usr/lib/libx.so.1", dir.path().join("abs")).unwrap();
        assert_eq!(
            root.resolve(Path::new("/abs")).unwrap().real,
            Path::new("/usr/lib/libx.so.1.2")
        );
    }

    #[test]
    fn dotdot_at_the_root_stays_at_the_root() {
        let (dir, root) = tree();
        symlink("../../../../usr/lib/libx.so.1", dir.path().join("up")).unwrap();
        assert_eq!(
            root.resolve(Path::new("/up")).unwrap().real,
            Path::new("/usr/lib/libx.so.1.2")
        );
        assert_eq!(
            root.resolve(Path::new("/../../usr")).unwrap().real,
            Path::new("/usr")
        );
    }

    #[test]
    fn symlink_loop_is_an_error() {
        let (dir, root) = tree();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        assert!(root.resolve(Path::new("/a")).is_err());
    }

    #[test]
    fn file_used_as_directory_is_an_error() {
        let (_dir, root) = tree();
        let err = root
            .resolve(Path::new("/usr/lib/libx.so.1.2/y"))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory);
    }
}

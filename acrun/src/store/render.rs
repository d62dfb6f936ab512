//! Rendering: the rootfs of an image with its dependencies applied, built from the extracted
//! trees in the store (checklist §1.7–1.8, runtime-anchors A6 and Recommendation 7).
//!
//! The dependency list ([`super::deps`]) is walked front to back and the first image that
//! provides a path wins. A path is skipped when an ancestor of it was already claimed as a
//! non-directory (a symlink to a directory is replaced, never followed). `pathWhitelist`: an
//! image's own list filters its non-directories; the lists of its true ancestors (every one of
//! them, not the Go renderer's single, sometimes sibling, list) filter all its entries, and a
//! directory filtered out is still made, plainly, when something beneath it is kept.
//!
//! Sources are read from the store's own trees without following symlinks; everything is
//! created beneath the destination through [`Root`], so an image cannot make the renderer
//! write outside it.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, UtimensatFlags, fchmod, futimens, mkdirat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, linkat, symlinkat};

use super::deps::Layer;
use crate::beneath::Root;

/// How regular files reach the rendered tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    /// Hard links to the store's trees (the store's own rendered cache: same filesystem,
    /// read-only use).
    Link,
    /// Copies (a directory given by the user, which they may change).
    Copy,
}

/// A render failure, naming the path and the image it came from.
#[derive(Debug, thiserror::Error)]
#[error("rendering {path:?} from {image}: {source}")]
pub struct RenderError {
    pub path: String,
    pub image: String,
    pub source: io::Error,
}

struct Renderer<'a> {
    dest: Root,
    files: Files,
    claimed: HashMap<String, bool>,
    dirs: Vec<(String, fs::Metadata)>,
    layer: &'a Layer,
}

/// Render `layers` (from [`super::deps::dep_list`]) into the empty directory `dest`;
/// `rootfs_of` gives the extracted `rootfs/` of an image.
pub fn render(
    layers: &[Layer],
    rootfs_of: &dyn Fn(&Layer) -> PathBuf,
    dest: &Path,
    files: Files,
) -> Result<(), RenderError> {
    let root = Root::open(dest).map_err(|source| RenderError {
        path: String::new(),
        image: String::new(),
        source,
    })?;
    let Some(top) = layers.first() else {
        return Ok(());
    };
    let mut r = Renderer {
        dest: root,
        files,
        claimed: HashMap::new(),
        dirs: Vec::new(),
        layer: top,
    };
    for layer in layers {
        r.layer = layer;
        let src = rootfs_of(layer);
        if layer.level == 0 {
            let meta = fs::symlink_metadata(&src).map_err(|e| r.err("", e))?;
            r.dirs.push((String::new(), meta));
        }
        r.walk(&src, "")?;
    }
    r.finish_dirs()
}

impl Renderer<'_> {
    fn err(&self, path: &str, source: io::Error) -> RenderError {
        RenderError {
            path: path.to_owned(),
            image: self.layer.manifest.name.as_str().to_owned(),
            source,
        }
    }

    fn under_non_dir(&self, rel: &str) -> bool {
        let mut end = 0;
        while let Some(i) = rel[end..].find('/') {
            let p = &rel[..end + i];
            if self.claimed.get(p) == Some(&false) {
                return true;
            }
            end += i + 1;
        }
        false
    }

    fn allowed(&self, rel: &str, is_dir: bool) -> bool {
        let own = &self.layer.manifest.path_whitelist;
        if !is_dir && !own.is_empty() && !own.iter().any(|p| super::deps::normalise(p) == rel) {
            return false;
        }
        self.layer
            .inherited
            .iter()
            .all(|list| list.iter().any(|p| p == rel))
    }

    fn walk(&mut self, src: &Path, rel: &str) -> Result<(), RenderError> {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(src)
            .map_err(|e| self.err(rel, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(rel, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = if rel.is_empty() {
                name.to_owned()
            } else {
                format!("{rel}/{name}")
            };
            let meta = entry.metadata().map_err(|e| self.err(&path, e))?;
            let is_dir = meta.file_type().is_dir();
            if self.under_non_dir(&path) {
                continue;
            }
            match self.claimed.get(&path) {
                Some(true) if is_dir => {}
                Some(_) => continue,
                None if self.allowed(&path, is_dir) => {
                    self.create(&entry.path(), &path, &meta)
                        .map_err(|e| self.err(&path, e))?;
                    self.claimed.insert(path.clone(), is_dir);
                }
                None if is_dir => {}
                None => continue,
            }
            if is_dir {
                self.walk(&entry.path(), &path)?;
            }
        }
        Ok(())
    }

    fn create(&mut self, src: &Path, rel: &str, meta: &fs::Metadata) -> io::Result<()> {
        let (parent, name) = self.dest.parent(rel)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            match mkdirat(&parent, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e.into()),
            }
            self.dirs.push((rel.to_owned(), meta.clone()));
        } else if ft.is_symlink() {
            let target = fs::read_link(src)?;
            symlinkat(target.as_os_str(), &parent, name)?;
            fchownat(
                &parent,
                name,
                Some(Uid::from_raw(meta.uid())),
                Some(Gid::from_raw(meta.gid())),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .or_else(not_root)?;
            let t = TimeSpec::new(meta.mtime(), 0);
            utimensat(&parent, name, &t, &t, UtimensatFlags::NoFollowSymlink)?;
        } else if ft.is_file() {
            if self.files == Files::Link {
                match linkat(AT_FDCWD, src, &parent, name, AtFlags::empty()) {
                    Ok(()) => return Ok(()),
                    Err(Errno::EXDEV) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            copy_file(src, &parent, name, meta)?;
        }
        // Other kinds never reach a store tree (extraction refuses them).
        Ok(())
    }

    fn finish_dirs(&mut self) -> Result<(), RenderError> {
        self.dirs.sort_by(|a, b| b.0.cmp(&a.0));
        for (rel, meta) in std::mem::take(&mut self.dirs) {
            let fd = self.dest.open_dir(&rel).map_err(|e| self.err(&rel, e))?;
            apply(&fd, meta.mode(), meta.uid(), meta.gid(), meta.mtime())
                .map_err(|e| self.err(&rel, e))?;
        }
        Ok(())
    }
}

fn not_root(e: Errno) -> nix::Result<()> {
    // Without CAP_CHOWN the files stay the renderer's own.
    if e == Errno::EPERM { Ok(()) } else { Err(e) }
}

fn copy_file(src: &Path, parent: &impl AsFd, name: &str, meta: &fs::Metadata) -> io::Result<()> {
    let mut from = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_nofollow())
        .open(src)?;
    let fd = openat(
        parent,
        OsStr::new(name),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    let mut to = fs::File::from(fd);
    io::copy(&mut from, &mut to)?;
    apply(&to, meta.mode(), meta.uid(), meta.gid(), meta.mtime())
}

fn libc_nofollow() -> i32 {
    OFlag::O_NOFOLLOW.bits()
}

/// Owner (when permitted), mode and mtime, in that order (chown clears setuid).
pub fn apply(fd: &impl AsFd, mode: u32, uid: u32, gid: u32, mtime: i64) -> io::Result<()> {
    fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).or_else(not_root)?;
    fchmod(fd, Mode::from_bits_truncate(mode & 0o7777))?;
    let t = TimeSpec::new(mtime, 0);
    futimens(fd, &t, &t)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::deps::{Node, dep_list};
    use appc::ImageId;
    use appc::manifest::{Dependency, ImageManifest};
    use appc::name::AcIdentifier;
    use std::os::unix::fs::symlink;

    fn node(name: &str, n: u8, deps: &[&str], whitelist: &[&str]) -> Node {
        let mut m = ImageManifest::new(AcIdentifier::new(name).unwrap());
        for d in deps {
            m.dependencies.push(Dependency {
                image_name: AcIdentifier::new(d).unwrap(),
                image_id: None,
                labels: Default::default(),
                size: None,
            });
        }
        m.path_whitelist = whitelist.iter().map(|s| s.to_string()).collect();
        Node {
            id: ImageId::from_digest([n; 64]),
            manifest: m,
            size: 1000,
        }
    }

    #[test]
    fn first_image_wins_whitelists_filter_and_symlinked_dirs_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        let top = dir.path().join("top");
        fs::create_dir_all(base.join("etc")).unwrap();
        fs::create_dir_all(base.join("lib")).unwrap();
        fs::write(base.join("etc/a"), b"base a").unwrap();
        fs::write(base.join("etc/b"), b"base b").unwrap();
        fs::write(base.join("lib/x"), b"base x").unwrap();
        fs::create_dir_all(top.join("etc")).unwrap();
        fs::write(top.join("etc/a"), b"top a").unwrap();
        fs::write(top.join("etc/extra"), b"not whitelisted").unwrap();
        symlink(outside.path(), top.join("lib")).unwrap();

        let t = node(
            "example.com/top",
            1,
            &["example.com/base"],
            &["/etc/a", "/lib/"],
        );
        let b = node("example.com/base", 2, &[], &[]);
        let layers = dep_list(t, &mut |_| Ok(b.clone())).unwrap();
        let dest = dir.path().join("dest");
        fs::create_dir(&dest).unwrap();
        let rootfs_of = |l: &Layer| {
            if l.level == 0 {
                top.clone()
            } else {
                base.clone()
            }
        };
        for files in [Files::Copy, Files::Link] {
            let _ = fs::remove_dir_all(&dest);
            fs::create_dir(&dest).unwrap();
            render(&layers, &rootfs_of, &dest, files).unwrap();
            assert_eq!(fs::read(dest.join("etc/a")).unwrap(), b"top a");
            assert!(
                !dest.join("etc/b").exists(),
                "inherited whitelist drops base's etc/b"
            );
            assert!(
                !dest.join("etc/extra").exists(),
                "own whitelist drops top's etc/extra"
            );
            assert!(
                fs::symlink_metadata(dest.join("lib"))
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
        }
    }
}

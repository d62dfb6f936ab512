//! `data.tar` of a package into a directory, with the rules the image store applies to images.
//!
//! Defends against: names with `..` or that are not UTF-8, writing through a symlink (every
//! parent of an entry must be a real directory created by an earlier entry — a symlink there is
//! refused, never followed), hard links to anything but a regular file of the same package,
//! device nodes, FIFOs and sockets (refused), setuid/setgid bits (dropped: the sysroot is only
//! read by the tracer and the archive writer), and archive bombs (appc's bounded tar walker).
//! A file a later package ships again replaces the earlier one, as dpkg does with `Replaces`;
//! a directory never becomes a file or the other way round.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::DebError;
use super::archive::Deb;

/// The kind of an unpacked entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file (or a hard link to one).
    File,
    /// A symbolic link.
    Symlink,
}

/// One unpacked entry: its absolute path inside the tree and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// `/usr/bin/etcd`.
    pub path: String,
    /// What it is.
    pub kind: Kind,
    /// Permission bits as the package ships them (before setuid/setgid are dropped).
    pub mode: u32,
}

/// Unpack the data of `deb` below `dest` (an existing directory); returns the entries in
/// archive order.
pub fn unpack(deb: &Deb, dest: &Path) -> Result<Vec<Unpacked>, DebError> {
    let mut tar = deb.data_tar()?;
    let mut out: Vec<Unpacked> = Vec::new();
    let bad = |r: String| DebError::format(deb.path(), format!("data.tar: {r}"));
    while let Some(h) = tar.next_entry().map_err(|e| bad(e.to_string()))? {
        let Some(path) = normalise(&h.name).map_err(&bad)? else {
            continue;
        };
        let target = dest.join(path.trim_start_matches('/'));
        parents(dest, &path).map_err(|e| bad(format!("{path}: {e}")))?;
        let mode = h.mode & 0o7777;
        let kind = match h.typeflag {
            b'5' => {
                directory(&target, mode).map_err(|e| bad(format!("{path}: {e}")))?;
                Kind::Dir
            }
            b'0' | 0 | b'7' => {
                replace(&target).map_err(|e| bad(format!("{path}: {e}")))?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(file_mode(mode))
                    .open(&target)
                    .map_err(|e| bad(format!("{path}: {e}")))?;
                io::copy(&mut tar.content(), &mut file).map_err(|e| bad(format!("{path}: {e}")))?;
                fs::set_permissions(&target, fs::Permissions::from_mode(file_mode(mode)))
                    .map_err(|e| bad(format!("{path}: {e}")))?;
                Kind::File
            }
            b'2' => {
                let link = std::str::from_utf8(&h.link)
                    .map_err(|_| bad(format!("{path}: link target is not UTF-8")))?;
                replace(&target).map_err(|e| bad(format!("{path}: {e}")))?;
                std::os::unix::fs::symlink(link, &target)
                    .map_err(|e| bad(format!("{path}: {e}")))?;
                Kind::Symlink
            }
            b'1' => {
                let Some(source) = normalise(&h.link).map_err(&bad)? else {
                    return Err(bad(format!("{path}: hard link to the root")));
                };
                if !out.iter().any(|u| u.path == source && u.kind == Kind::File) {
                    return Err(bad(format!(
                        "{path}: hard link to `{source}`, not an earlier file of this package"
                    )));
                }
                replace(&target).map_err(|e| bad(format!("{path}: {e}")))?;
                fs::hard_link(dest.join(source.trim_start_matches('/')), &target)
                    .map_err(|e| bad(format!("{path}: {e}")))?;
                Kind::File
            }
            t => {
                return Err(bad(format!(
                    "{path}: entry of type {:?} (devices, FIFOs and sockets are refused)",
                    t as char
                )));
            }
        };
        out.push(Unpacked { path, kind, mode });
    }
    Ok(out)
}

/// Files stay readable by their owner and lose setuid/setgid/sticky.
fn file_mode(mode: u32) -> u32 {
    (mode & 0o777) | 0o600
}

/// `./usr/bin/x` → `/usr/bin/x`; `None` for the root itself.
fn normalise(name: &[u8]) -> Result<Option<String>, String> {
    let name = std::str::from_utf8(name).map_err(|_| "a name is not UTF-8".to_owned())?;
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(format!("`{name}` has a `..` component")),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!("/{}", parts.join("/"))))
}

/// Make every missing parent of `path` below `dest`; an existing parent must be a real
/// directory (a symlink is refused, never followed).
fn parents(dest: &Path, path: &str) -> io::Result<()> {
    let mut at: PathBuf = dest.to_path_buf();
    let components: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for c in &components[..components.len().saturating_sub(1)] {
        at.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(io::Error::other(format!(
                    "parent `{}` is a symlink (writing through it is refused)",
                    at.strip_prefix(dest).unwrap_or(&at).display()
                )));
            }
            Ok(_) => {
                return Err(io::Error::other(format!(
                    "parent `{}` is not a directory",
                    at.strip_prefix(dest).unwrap_or(&at).display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => directory(&at, 0o755)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn directory(path: &Path, mode: u32) -> io::Result<()> {
    let mode = (mode & 0o777) | 0o700;
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(io::Error::other(
                "a directory where an earlier package put a file",
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(path)?,
        Err(e) => return Err(e),
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Remove a file or symlink an earlier entry left at `path`; a directory there is an error.
fn replace(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(io::Error::other(
            "a file where an earlier package put a directory",
        )),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_dot_dot_refused() {
        assert_eq!(normalise(b"./usr/bin/x").unwrap().unwrap(), "/usr/bin/x");
        assert_eq!(normalise(b"./").unwrap(), None);
        assert!(normalise(b"./usr/../../etc/passwd").is_err());
    }

    /// A `.deb` whose data.tar is built by `entries` (uncompressed).
    fn deb(dir: &Path, entries: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Deb {
        let mut b = tar::Builder::new(Vec::new());
        entries(&mut b);
        let data = b.into_inner().unwrap();
        let bytes = crate::deb::archive::tests::ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", b""),
            ("data.tar", &data),
        ]);
        let path = dir.join("p.deb");
        fs::write(&path, bytes).unwrap();
        Deb::open(&path).unwrap()
    }

    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o4755);
        h
    }

    #[test]
    fn a_file_below_a_packaged_symlink_is_refused_and_below_a_directory_unpacked() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().to_str().unwrap().to_owned();
        let bad = deb(dir.path(), |b| {
            let mut h = header(tar::EntryType::Symlink, 0);
            b.append_link(&mut h, "./etc", &target).unwrap();
            let mut h = header(tar::EntryType::Regular, 1);
            b.append_data(&mut h, "./etc/x", &b"x"[..]).unwrap();
        });
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        let err = unpack(&bad, &root).unwrap_err().to_string();
        assert!(err.contains("is a symlink"), "{err}");
        assert!(!outside.path().join("x").exists());

        let good = deb(dir.path(), |b| {
            let mut h = header(tar::EntryType::Directory, 0);
            b.append_data(&mut h, "./etc/", &b""[..]).unwrap();
            let mut h = header(tar::EntryType::Regular, 1);
            b.append_data(&mut h, "./etc/x", &b"x"[..]).unwrap();
        });
        let root = dir.path().join("root2");
        fs::create_dir(&root).unwrap();
        let got = unpack(&good, &root).unwrap();
        assert_eq!(got[1].path, "/etc/x");
        // setuid is dropped in the sysroot, kept in what the package says.
        assert_eq!(got[1].mode, 0o4755);
        let mode = fs::metadata(root.join("etc/x"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755);
    }

    #[test]
    fn devices_and_foreign_hard_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dev = deb(dir.path(), |b| {
            let mut h = header(tar::EntryType::Char, 0);
            b.append_data(&mut h, "./dev/null", &b""[..]).unwrap();
        });
        let root = dir.path().join("r1");
        fs::create_dir(&root).unwrap();
        assert!(
            unpack(&dev, &root)
                .unwrap_err()
                .to_string()
                .contains("devices")
        );
        let link = deb(dir.path(), |b| {
            let mut h = header(tar::EntryType::Link, 0);
            b.append_link(&mut h, "./x", "/etc/shadow").unwrap();
        });
        let root = dir.path().join("r2");
        fs::create_dir(&root).unwrap();
        let err = unpack(&link, &root).unwrap_err().to_string();
        assert!(err.contains("not an earlier file"), "{err}");
    }

    #[test]
    fn a_symlinked_parent_is_refused_and_a_real_one_accepted() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink("/tmp", dir.path().join("link")).unwrap();
        assert!(parents(dir.path(), "/link/x").is_err());
        parents(dir.path(), "/real/sub/x").unwrap();
        assert!(dir.path().join("real/sub").is_dir());
    }
}

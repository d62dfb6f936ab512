//! The checks a trust-store path must pass before anything in it is believed or written.
//!
//! Whoever can write in a trust store decides which images run. So, as ssh does for
//! `~/.ssh/authorized_keys` and rkt for its keystore, a store directory or key file is refused when
//! it is a symbolic link (a planted `root.d -> /tmp/evil` would grant trust from a directory
//! anyone controls, and a link is never needed: the store paths are configurable) or when it is
//! writable by its group or by everyone (any local user could add a key). Each refusal names
//! the path and says how to fix it. The ancestors of the store directory are the system's
//! business and are not checked.

use std::fs::{self, DirBuilder, Metadata};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Why a store path is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unsafe {
    /// It is a symbolic link.
    Symlink,
    /// It is not the kind of file expected.
    WrongKind(&'static str),
    /// Group or others may write it.
    Writable(u32),
}

impl std::fmt::Display for Unsafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsafe::Symlink => f.write_str(
                "is a symbolic link; trust-store directories and key files must not be links \
                 (point the store option at the real directory instead)",
            ),
            Unsafe::WrongKind(expected) => write!(f, "is not a {expected}"),
            Unsafe::Writable(mode) => write!(
                f,
                "is writable by group or others (mode {mode:04o}), so anyone could add a \
                 trusted key; fix with chmod go-w"
            ),
        }
    }
}

/// The outcome of checking one path: missing, or present and safe, or unsafe.
pub(crate) type Checked = Result<Option<Metadata>, CheckError>;

/// A failed check: an unsafe path or an I/O error.
#[derive(Debug)]
pub(crate) enum CheckError {
    Unsafe(Unsafe),
    Io(io::Error),
}

fn check(path: &Path, want_dir: bool) -> Checked {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CheckError::Io(e)),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(CheckError::Unsafe(Unsafe::Symlink));
    }
    if want_dir && !kind.is_dir() {
        return Err(CheckError::Unsafe(Unsafe::WrongKind("directory")));
    }
    if !want_dir && !kind.is_file() {
        return Err(CheckError::Unsafe(Unsafe::WrongKind("regular file")));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(CheckError::Unsafe(Unsafe::Writable(mode)));
    }
    Ok(Some(meta))
}

/// Check a store directory (`None`: it does not exist).
pub(crate) fn check_dir(path: &Path) -> Checked {
    check(path, true)
}

/// Check a key file (`None`: it does not exist).
pub(crate) fn check_file(path: &Path) -> Checked {
    check(path, false)
}

/// Make sure `dir` exists as a safe directory, creating it and, first, every missing component
/// between `top` and it (mode 0755; the umask can only remove bits, so never group-writable).
/// `top` itself is checked too; its ancestors are created if missing but not checked.
/// On error, returns the path that failed with its cause.
pub(crate) fn ensure_dir(top: &Path, dir: &Path) -> Result<(), (std::path::PathBuf, CheckError)> {
    if let Some(parent) = top.parent()
        && !parent.as_os_str().is_empty()
    {
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(|e| (parent.to_owned(), CheckError::Io(e)))?;
    }
    let rel = dir.strip_prefix(top).unwrap_or(Path::new(""));
    let mut current = top.to_owned();
    let mut components = rel.components();
    loop {
        match check_dir(&current) {
            Ok(Some(_)) => {}
            Ok(None) => match DirBuilder::new().mode(0o755).create(&current) {
                Ok(()) => {}
                // Made by someone else in between: check it on the next turn.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err((current, CheckError::Io(e))),
            },
            Err(e) => return Err((current, e)),
        }
        match components.next() {
            Some(c) => current.push(c),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn private_and_world_readable_dirs_pass_writable_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o700, 0o755, 0o555] {
            chmod(dir.path(), mode);
            assert!(check_dir(dir.path()).unwrap().is_some(), "{mode:o}");
        }
        for mode in [0o775, 0o777, 0o757, 0o1777] {
            chmod(dir.path(), mode);
            assert!(
                matches!(
                    check_dir(dir.path()),
                    Err(CheckError::Unsafe(Unsafe::Writable(_)))
                ),
                "{mode:o}"
            );
        }
        chmod(dir.path(), 0o700);
    }

    #[test]
    fn links_and_wrong_kinds_are_refused_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(check_dir(&real).unwrap().is_some());
        assert!(matches!(
            check_dir(&link),
            Err(CheckError::Unsafe(Unsafe::Symlink))
        ));
        assert!(matches!(
            check_file(&real),
            Err(CheckError::Unsafe(Unsafe::WrongKind(_)))
        ));
        assert!(check_dir(&dir.path().join("missing")).unwrap().is_none());
    }

    #[test]
    fn ensure_dir_creates_safe_dirs_and_stops_at_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("state/trustedkeys");
        let want = top.join("prefix.d/example.com/app");
        ensure_dir(&top, &want).unwrap();
        assert!(check_dir(&want).unwrap().is_some());
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, top.join("root.d")).unwrap();
        let (path, err) = ensure_dir(&top, &top.join("root.d")).unwrap_err();
        assert_eq!(path, top.join("root.d"));
        assert!(matches!(err, CheckError::Unsafe(Unsafe::Symlink)));
    }
}

//! Users and groups of an app (appc §2.9): a name looked up in the image's **own** `/etc/passwd`
//! or `/etc/group`, else an all-digit string as the number, else an absolute path whose owner
//! (inside the app's root) is used. The lookup runs inside the app's mount namespace after
//! `pivot_root`, so `/etc/passwd` can only be the image's, never the host's.
//!
//! Defends against: an image naming a host account, or a passwd that is a symlink to a host file.

use std::os::unix::fs::MetadataExt;

/// Why a user or group cannot be resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{what} {spec:?} cannot be resolved: {why}")]
pub struct ResolveError {
    /// `user` or `group`.
    pub what: &'static str,
    /// The string from the manifest.
    pub spec: String,
    /// Why.
    pub why: String,
}

/// The id of `name` in a passwd- or group-format file (`name:x:ID:...`).
pub fn lookup(file: &str, name: &str) -> Option<u32> {
    file.lines().find_map(|line| {
        let mut f = line.split(':');
        (f.next()? == name).then_some(())?;
        f.next()?;
        f.next()?.parse().ok()
    })
}

/// Resolves `spec` with the spec's order. `file` is the passwd/group text (if the image has one),
/// `owner` gives the uid or gid of an absolute path inside the root.
pub fn resolve(
    what: &'static str,
    spec: &str,
    file: Option<&str>,
    owner: impl Fn(&str) -> std::io::Result<u32>,
) -> Result<u32, ResolveError> {
    let err = |why: String| ResolveError {
        what,
        spec: spec.to_owned(),
        why,
    };
    if let Some(id) = file.and_then(|f| lookup(f, spec)) {
        return Ok(id);
    }
    if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
        return spec.parse().map_err(|_| err("number out of range".into()));
    }
    if spec.starts_with('/') {
        return owner(spec).map_err(|e| err(e.to_string()));
    }
    Err(err(format!(
        "no such name in the image's {}",
        if what == "user" {
            "/etc/passwd"
        } else {
            "/etc/group"
        }
    )))
}

/// Resolves user and group inside the current root (called after `pivot_root`).
pub fn resolve_in_root(user: &str, group: &str) -> Result<(u32, u32), ResolveError> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok();
    let groups = std::fs::read_to_string("/etc/group").ok();
    let uid = resolve("user", user, passwd.as_deref(), |p| {
        std::fs::metadata(p).map(|m| m.uid())
    })?;
    let gid = resolve("group", group, groups.as_deref(), |p| {
        std::fs::metadata(p).map(|m| m.gid())
    })?;
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n42:x:7:7::/:/bin/false\n";

    fn no_files(_: &str) -> std::io::Result<u32> {
        Err(std::io::Error::other("no file"))
    }

    #[test]
    fn names_come_from_the_image_file() {
        assert_eq!(resolve("user", "nobody", Some(PASSWD), no_files), Ok(65534));
    }

    #[test]
    fn an_all_digit_name_in_the_file_wins_over_the_number() {
        assert_eq!(resolve("user", "42", Some(PASSWD), no_files), Ok(7));
        assert_eq!(resolve("user", "43", Some(PASSWD), no_files), Ok(43));
    }

    #[test]
    fn a_path_gives_its_owner() {
        assert_eq!(resolve("user", "/bin/ping", None, |_| Ok(12)), Ok(12));
    }

    #[test]
    fn unknown_names_are_refused() {
        let e = resolve("group", "wheel", Some(""), no_files).unwrap_err();
        assert!(e.to_string().contains("/etc/group"));
        assert!(resolve("user", "/missing", None, no_files).is_err());
    }
}

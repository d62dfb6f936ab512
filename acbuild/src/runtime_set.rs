//! Runtime sets: the files programs load at run time that no ELF trace can see (NSS modules named
//! in `nsswitch.conf`, gconv modules, the CA bundle, time zones).
//!
//! [`resolve`] lists a set's files under a host root (`/` for the host, a directory in tests), in
//! sorted order. It does not trace: entries marked `trace` are shared objects whose ELF closure the
//! trace step adds.

use std::path::{Path, PathBuf};

use crate::recipe::RuntimeSet;

/// Directories searched for NSS modules and gconv, in glibc's order for Debian multiarch.
const LIB_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// One file a runtime set brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeFile {
    /// Where it goes in the image (the same path as on the host).
    pub image_path: String,
    /// The host file (under the root).
    pub host_path: PathBuf,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Whether its ELF closure must be traced (NSS and gconv modules).
    pub trace: bool,
}

/// What a set could not find; the build reports it as a warning, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What was looked for, e.g. `libnss_systemd.so.2 (nsswitch.conf: passwd)`.
    pub what: String,
}

/// A resolved runtime set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// The files, sorted by image path.
    pub files: Vec<RuntimeFile>,
    /// What was named but not found.
    pub missing: Vec<Missing>,
}

/// Why a runtime set could not be resolved at all.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeSetError {
    /// A file the set cannot do without is missing or unreadable.
    #[error("runtime set `{set}`: cannot read {}: {source}", path.display())]
    Read {
        /// The set.
        set: &'static str,
        /// The host file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The library directories that exist under `root`, as canonical image paths (so that on a
/// merged-/usr host `/lib/x86_64-linux-gnu` is reported as `/usr/lib/x86_64-linux-gnu`), in
/// search order without repeats.
pub fn lib_dirs(root: &Path) -> Vec<String> {
    let Ok(canonical_root) = root.canonicalize() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for dir in LIB_DIRS {
        let Ok(real) = host(root, dir).canonicalize() else {
            continue;
        };
        let Ok(rel) = real.strip_prefix(&canonical_root) else {
            continue;
        };
        let image = format!("/{}", rel.display());
        if image != "/" && !out.contains(&image) {
            out.push(image);
        }
    }
    out
}

fn host(root: &Path, image_path: &str) -> PathBuf {
    root.join(image_path.trim_start_matches('/'))
}

fn file(root: &Path, image_path: &str, trace: bool) -> RuntimeFile {
    RuntimeFile {
        image_path: image_path.to_owned(),
        host_path: host(root, image_path),
        is_dir: false,
        trace,
    }
}

/// List the files of `set` under `root`.
pub fn resolve(set: RuntimeSet, root: &Path) -> Result<Resolved, RuntimeSetError> {
    let mut out = match set {
        RuntimeSet::Nss => nss(root)?,
        RuntimeSet::Gconv => gconv(root),
        RuntimeSet::Certs => certs(root)?,
        RuntimeSet::Tzdata => tzdata(root)?,
    };
    out.files.sort_by(|a, b| a.image_path.cmp(&b.image_path));
    out.files.dedup_by(|a, b| a.image_path == b.image_path);
    Ok(out)
}

/// The NSS service names of an `nsswitch.conf`, each with the first database naming it.
pub fn nss_services(conf: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in conf.lines() {
        let line = line.split('#').next().unwrap_or("");
        let Some((db, services)) = line.split_once(':') else {
            continue;
        };
        let mut in_action = false;
        for word in services.split_whitespace() {
            // `[NOTFOUND=return]` actions may contain spaces inside the brackets.
            if word.starts_with('[') {
                in_action = !word.ends_with(']');
                continue;
            }
            if in_action {
                in_action = !word.ends_with(']');
                continue;
            }
            if !out.iter().any(|(s, _)| s == word) {
                out.push((word.to_owned(), db.trim().to_owned()));
            }
        }
    }
    out
}

fn nss(root: &Path) -> Result<Resolved, RuntimeSetError> {
    let conf_path = host(root, "/etc/nsswitch.conf");
    let conf = std::fs::read_to_string(&conf_path).map_err(|source| RuntimeSetError::Read {
        set: "nss",
        path: conf_path,
        source,
    })?;
    let mut out = Resolved::default();
    out.files.push(file(root, "/etc/nsswitch.conf", false));
    // Not /etc/resolv.conf: it is host state, and the runtime provides it.
    for optional in ["/etc/host.conf", "/etc/services", "/etc/protocols"] {
        if host(root, optional).is_file() {
            out.files.push(file(root, optional, false));
        }
    }
    for (service, db) in nss_services(&conf) {
        let name = format!("libnss_{service}.so.2");
        let found = lib_dirs(root)
            .iter()
            .map(|dir| format!("{dir}/{name}"))
            .find(|p| host(root, p).exists());
        match found {
            Some(p) => out.files.push(file(root, &p, true)),
            None => out.missing.push(Missing {
                what: format!("{name} (nsswitch.conf: {db})"),
            }),
        }
    }
    Ok(out)
}

fn walk_into(out: &mut Resolved, root: &Path, image_dir: &str, trace_so: bool) {
    let base = host(root, image_dir);
    for entry in walkdir::WalkDir::new(&base).sort_by_file_name() {
        let Ok(entry) = entry else {
            out.missing.push(Missing {
                what: format!("unreadable entry under {image_dir}"),
            });
            continue;
        };
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let image_path = format!("/{}", rel.display());
        let is_dir = entry.file_type().is_dir();
        let trace = trace_so && image_path.ends_with(".so");
        out.files.push(RuntimeFile {
            image_path,
            host_path: entry.path().to_path_buf(),
            is_dir,
            trace,
        });
    }
}

fn gconv(root: &Path) -> Resolved {
    let mut out = Resolved::default();
    let dir = lib_dirs(root)
        .iter()
        .map(|d| format!("{d}/gconv"))
        .find(|d| host(root, d).is_dir());
    match dir {
        Some(dir) => walk_into(&mut out, root, &dir, true),
        None => out.missing.push(Missing {
            what: "a gconv directory (is libc6 installed?)".to_owned(),
        }),
    }
    out
}

fn certs(root: &Path) -> Result<Resolved, RuntimeSetError> {
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    let path = host(root, bundle);
    std::fs::metadata(&path).map_err(|source| RuntimeSetError::Read {
        set: "certs",
        path: path.clone(),
        source,
    })?;
    Ok(Resolved {
        files: vec![file(root, bundle, false)],
        missing: Vec::new(),
    })
}

fn tzdata(root: &Path) -> Result<Resolved, RuntimeSetError> {
    let dir = "/usr/share/zoneinfo";
    let path = host(root, dir);
    std::fs::metadata(&path).map_err(|source| RuntimeSetError::Read {
        set: "tzdata",
        path,
        source,
    })?;
    let mut out = Resolved::default();
    walk_into(&mut out, root, dir, false);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nss_services_skip_actions_and_repeat_names() {
        let conf = "passwd: files systemd\nhosts: files [NOTFOUND=return] dns # comment\n";
        let got = nss_services(conf);
        let names: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["files", "systemd", "dns"]);
    }

    #[test]
    fn nss_services_skip_actions_with_spaces() {
        let got = nss_services("hosts: files [ NOTFOUND = return ] dns\n");
        let names: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["files", "dns"]);
    }

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let p = dir.path().join(f.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        dir
    }

    #[test]
    fn nss_brings_the_named_modules_and_reports_missing_ones() {
        let root = tree(&[
            "/etc/nsswitch.conf",
            "/lib/x86_64-linux-gnu/libnss_files.so.2",
        ]);
        std::fs::write(
            root.path().join("etc/nsswitch.conf"),
            "passwd: files systemd\n",
        )
        .unwrap();
        let got = resolve(RuntimeSet::Nss, root.path()).unwrap();
        let paths: Vec<(&str, bool)> = got
            .files
            .iter()
            .map(|f| (f.image_path.as_str(), f.trace))
            .collect();
        assert_eq!(
            paths,
            [
                ("/etc/nsswitch.conf", false),
                ("/lib/x86_64-linux-gnu/libnss_files.so.2", true)
            ]
        );
        assert_eq!(
            got.missing[0].what,
            "libnss_systemd.so.2 (nsswitch.conf: passwd)"
        );
    }

    #[test]
    fn nss_without_nsswitch_conf_is_an_error() {
        let root = tree(&[]);
        assert!(matches!(
            resolve(RuntimeSet::Nss, root.path()),
            Err(RuntimeSetError::Read { set: "nss", .. })
        ));
    }

    #[test]
    fn tzdata_walks_zoneinfo_in_sorted_order() {
        let root = tree(&[
            "/usr/share/zoneinfo/UTC",
            "/usr/share/zoneinfo/Europe/Berlin",
        ]);
        let got = resolve(RuntimeSet::Tzdata, root.path()).unwrap();
        let paths: Vec<&str> = got.files.iter().map(|f| f.image_path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/usr/share/zoneinfo",
                "/usr/share/zoneinfo/Europe",
                "/usr/share/zoneinfo/Europe/Berlin",
                "/usr/share/zoneinfo/UTC"
            ]
        );
    }

    #[test]
    fn certs_bring_the_bundle() {
        let root = tree(&["/etc/ssl/certs/ca-certificates.crt"]);
        let got = resolve(RuntimeSet::Certs, root.path()).unwrap();
        assert_eq!(
            got.files[0].image_path,
            "/etc/ssl/certs/ca-certificates.crt"
        );
    }
}

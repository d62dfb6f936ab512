//! Where ld.so looks for a library: dynamic string tokens (`$ORIGIN`, `$LIB`, `$PLATFORM`),
//! `/etc/ld.so.conf` (with `include` globs) standing in for `ld.so.cache`, and the built-in
//! system directories, multiarch first. All reads go through the [`Root`].

use std::path::{Path, PathBuf};

use super::object::Abi;
use super::root::Root;

const EM_386: u16 = 3;
const EM_ARM: u16 = 40;
const EM_PPC: u16 = 20;
const EM_PPC64: u16 = 21;
const EM_S390: u16 = 22;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const EM_RISCV: u16 = 243;

/// `include` nesting deeper than this is treated as a loop.
const MAX_INCLUDE_DEPTH: usize = 16;

/// The Debian multiarch tuple and the `$PLATFORM` value for an ABI.
fn multiarch(abi: &Abi) -> Option<(&'static str, &'static str)> {
    Some(match (abi.machine, abi.is_64, abi.little_endian) {
        (EM_X86_64, true, _) => ("x86_64-linux-gnu", "x86_64"),
        (EM_X86_64, false, _) => ("x86_64-linux-gnux32", "x86_64"),
        (EM_386, false, _) => ("i386-linux-gnu", "i686"),
        (EM_AARCH64, true, true) => ("aarch64-linux-gnu", "aarch64"),
        (EM_ARM, false, true) => ("arm-linux-gnueabihf", "v7l"),
        (EM_PPC64, true, true) => ("powerpc64le-linux-gnu", "powerpc64le"),
        (EM_PPC64, true, false) => ("powerpc64-linux-gnu", "powerpc64"),
        (EM_PPC, false, false) => ("powerpc-linux-gnu", "powerpc"),
        (EM_S390, true, false) => ("s390x-linux-gnu", "s390x"),
        (EM_RISCV, true, true) => ("riscv64-linux-gnu", "riscv64"),
        _ => return None,
    })
}

/// ld.so's built-in trusted directories for an ABI, as Debian's glibc has them; `lib64`
/// variants follow for sysroots of distributions without multiarch.
pub fn system_dirs(abi: &Abi) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some((tuple, _)) = multiarch(abi) {
        dirs.push(PathBuf::from(format!("/lib/{tuple}")));
        dirs.push(PathBuf::from(format!("/usr/lib/{tuple}")));
    }
    dirs.push(PathBuf::from("/lib"));
    dirs.push(PathBuf::from("/usr/lib"));
    if abi.is_64 {
        dirs.push(PathBuf::from("/lib64"));
        dirs.push(PathBuf::from("/usr/lib64"));
    }
    dirs
}

/// Expand `$ORIGIN`, `$LIB` and `$PLATFORM` (braced or not) in one search-path entry.
/// Returns `None` for an unknown token, which ld.so treats as an entry that matches nothing.
pub fn expand_tokens(entry: &str, origin: &Path, abi: &Abi) -> Option<String> {
    if !entry.contains('$') {
        return Some(entry.to_string());
    }
    let (lib, platform) = match multiarch(abi) {
        Some((tuple, platform)) => (format!("lib/{tuple}"), platform.to_string()),
        None => (
            (if abi.is_64 { "lib64" } else { "lib" }).to_string(),
            String::new(),
        ),
    };
    let mut out = String::new();
    let mut rest = entry;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (token, tail) = if let Some(braced) = after.strip_prefix('{') {
            let close = braced.find('}')?;
            (&braced[..close], &braced[close + 1..])
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..len], &after[len..])
        };
        match token {
            "ORIGIN" => out.push_str(&origin.to_string_lossy()),
            "LIB" => out.push_str(&lib),
            "PLATFORM" if !platform.is_empty() => out.push_str(&platform),
            _ => return None,
        }
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// The directories listed by `/etc/ld.so.conf` inside `root`, in file order, includes expanded
/// in place (their globs sorted). A missing file yields no directories.
pub fn ld_so_conf_dirs(root: &Root) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    read_conf(root, Path::new("/etc/ld.so.conf"), 0, &mut dirs);
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

fn read_conf(root: &Root, file: &Path, depth: usize, dirs: &mut Vec<PathBuf>) {
    if depth > MAX_INCLUDE_DEPTH {
        return;
    }
    let Ok(resolved) = root.resolve(file) else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(root.host_path(&resolved.real)) else {
        return;
    };
    let base = file.parent().unwrap_or(Path::new("/"));
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if let Some(pattern) = line
            .strip_prefix("include")
            .filter(|p| p.starts_with([' ', '\t']))
        {
            for pattern in pattern.split_whitespace() {
                for included in glob(root, &base.join(pattern)) {
                    read_conf(root, &included, depth + 1, dirs);
                }
            }
        } else if line.starts_with("hwcap") {
            continue;
        } else {
            for dir in line
                .split([' ', '\t', ':', ',', '='])
                .filter(|d| d.starts_with('/'))
            {
                dirs.push(PathBuf::from(dir.trim_end_matches('/')));
            }
        }
    }
}

/// In-root paths matching a pattern whose components may hold `*` and `?`, sorted per level.
fn glob(root: &Root, pattern: &Path) -> Vec<PathBuf> {
    let mut matches = vec![PathBuf::from("/")];
    for component in pattern.components().skip(1) {
        let part = component.as_os_str().to_string_lossy();
        if !part.contains(['*', '?']) {
            matches.iter_mut().for_each(|m| m.push(&*part));
            continue;
        }
        let mut next = Vec::new();
        for dir in &matches {
            let Ok(resolved) = root.resolve(dir) else {
                continue;
            };
            let Ok(entries) = std::fs::read_dir(root.host_path(&resolved.real)) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && wildcard_match(part.as_bytes(), n.as_bytes()))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| dir.join(n)));
        }
        matches = next;
    }
    matches
}

fn wildcard_match(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard_match(&pattern[1..], name)
                || (!name.is_empty() && wildcard_match(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard_match(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => wildcard_match(&pattern[1..], &name[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86_64: Abi = Abi {
        is_64: true,
        little_endian: true,
        machine: EM_X86_64,
        os_abi: 0,
    };

    #[test]
    fn expands_origin_lib_and_platform_braced_or_not() {
        let got = expand_tokens(
            "$ORIGIN/../${LIB}/$PLATFORM",
            Path::new("/opt/app/bin"),
            &X86_64,
        );
        assert_eq!(
            got.as_deref(),
            Some("/opt/app/bin/../lib/x86_64-linux-gnu/x86_64")
        );
    }

    #[test]
    fn unknown_token_discards_the_entry() {
        assert_eq!(expand_tokens("$FOO/lib", Path::new("/"), &X86_64), None);
    }

    #[test]
    fn system_dirs_put_multiarch_first() {
        let dirs = system_dirs(&X86_64);
        assert_eq!(dirs[0], Path::new("/lib/x86_64-linux-gnu"));
        assert_eq!(dirs[1], Path::new("/usr/lib/x86_64-linux-gnu"));
    }

    #[test]
    fn ld_so_conf_follows_include_globs_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/ld.so.conf.d")).unwrap();
        std::fs::write(
            dir.path().join("etc/ld.so.conf"),
            "/first # comment\ninclude ld.so.conf.d/*.conf\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/ld.so.conf.d/b.conf"), "/b1:/b2\n").unwrap();
        std::fs::write(dir.path().join("etc/ld.so.conf.d/a.conf"), "/a\n").unwrap();
        std::fs::write(dir.path().join("etc/ld.so.conf.d/skip.txt"), "/nope\n").unwrap();
        let root = Root::new(dir.path()).unwrap();
        let want: Vec<PathBuf> = ["/first", "/a", "/b1", "/b2"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(ld_so_conf_dirs(&root), want);
    }
}

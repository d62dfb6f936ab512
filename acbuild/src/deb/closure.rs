//! The packages of a build: those the recipe names and everything they `Depends` or
//! `Pre-Depends` on, transitively.
//!
//! Resolution asks the configured sources for each name (apt picks its candidate version; a
//! recipe may pin `version=` and `arch=`), reads each fetched package's own `control`, and
//! follows its dependencies layer by layer; of a group of alternatives the first one that can be
//! fetched is taken unless another is already chosen. Version constraints are not re-checked:
//! the lockfile records what was chosen, and [`fetch_locked`] reproduces exactly that set,
//! verifying every file's SHA-256.

use std::collections::BTreeMap;

use super::DebError;
use super::cache::{Cached, Source};

/// A `package` node: a name with an optional version and architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The package name.
    pub name: String,
    /// `version=`.
    pub version: Option<String>,
    /// `arch=`.
    pub arch: Option<String>,
}

impl Request {
    /// As `apt-get download` takes it: `NAME[:ARCH][=VERSION]`.
    pub fn spec(&self) -> String {
        spec(&self.name, self.arch.as_deref(), self.version.as_deref())
    }

    /// Whether `c` is this package (same name, and version and architecture when pinned).
    pub fn matches(&self, name: &str, version: &str, arch: &str) -> bool {
        self.name == name
            && self.version.as_deref().is_none_or(|v| v == version)
            && self.arch.as_deref().is_none_or(|a| a == arch)
    }
}

/// `NAME[:ARCH][=VERSION]`.
pub fn spec(name: &str, arch: Option<&str>, version: Option<&str>) -> String {
    let mut s = name.to_owned();
    if let Some(a) = arch {
        s.push(':');
        s.push_str(a);
    }
    if let Some(v) = version {
        s.push('=');
        s.push_str(v);
    }
    s
}

/// A package pinned by the lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Architecture.
    pub arch: String,
    /// SHA-256 of the `.deb`.
    pub sha256: String,
}

/// Resolve the closure of `requests`; the packages come back sorted by name.
pub fn resolve(requests: &[Request], source: &Source) -> Result<Vec<Cached>, DebError> {
    let mut chosen: BTreeMap<String, Cached> = BTreeMap::new();
    let specs: Vec<String> = requests.iter().map(Request::spec).collect();
    let mut pending: Vec<(String, Vec<String>)> = Vec::new();
    for c in source.fetch(&specs)? {
        choose(c, &mut chosen, &mut pending);
    }
    loop {
        let open: Vec<(String, Vec<String>)> = pending
            .drain(..)
            .filter(|(_, g)| !g.iter().any(|n| chosen.contains_key(n)))
            .collect();
        if open.is_empty() {
            break;
        }
        let mut first: Vec<String> = open.iter().map(|(_, g)| g[0].clone()).collect();
        first.sort();
        first.dedup();
        let fetched = match source.fetch(&first) {
            Ok(f) => f,
            Err(_) => one_by_one(&open, source, &chosen)?,
        };
        for c in fetched {
            if !chosen.contains_key(&c.control.package) {
                choose(c, &mut chosen, &mut pending);
            }
        }
    }
    Ok(chosen.into_values().collect())
}

/// Takes package `c` into the closure; its dependency groups become pending.
fn choose(
    c: Cached,
    chosen: &mut BTreeMap<String, Cached>,
    pending: &mut Vec<(String, Vec<String>)>,
) {
    pending.extend(
        c.control
            .depends
            .iter()
            .map(|g| (c.control.package.clone(), g.clone())),
    );
    chosen.insert(c.control.package.clone(), c);
}

/// Each open group on its own, trying its alternatives in order.
fn one_by_one(
    open: &[(String, Vec<String>)],
    source: &Source,
    chosen: &BTreeMap<String, Cached>,
) -> Result<Vec<Cached>, DebError> {
    let mut out: Vec<Cached> = Vec::new();
    for (by, group) in open {
        if group
            .iter()
            .any(|n| chosen.contains_key(n) || out.iter().any(|c| c.control.package == *n))
        {
            continue;
        }
        let mut last = None;
        for name in group {
            match source.fetch(std::slice::from_ref(name)) {
                Ok(f) => {
                    out.extend(f);
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(DebError::Fetch {
                package: by.clone(),
                reason: format!(
                    "no alternative of `{}` can be fetched: {e}",
                    group.join(" | ")
                ),
            });
        }
    }
    Ok(out)
}

/// Fetch exactly the pinned packages: from the cache when a file with the pinned SHA-256 is
/// there (hashed again now), else from the sources, refused unless the bytes match the pin.
pub fn fetch_locked(pins: &[Pin], source: &Source) -> Result<Vec<Cached>, DebError> {
    let mut out = Vec::new();
    let mut missing: Vec<&Pin> = Vec::new();
    for pin in pins {
        match source.cached(&pin.sha256)? {
            Some(c) => out.push(c),
            None => missing.push(pin),
        }
    }
    if !missing.is_empty() {
        let specs: Vec<String> = missing
            .iter()
            .map(|p| spec(&p.name, Some(&p.arch), Some(&p.version)))
            .collect();
        let fetched = source.fetch(&specs)?;
        for pin in missing {
            let got = fetched.iter().find(|c| c.control.package == pin.name);
            match got {
                Some(c) if c.sha256 == pin.sha256 => out.push(c.clone()),
                Some(c) => {
                    return Err(DebError::Hash {
                        package: pin.name.clone(),
                        version: pin.version.clone(),
                        expected: pin.sha256.clone(),
                        found: c.sha256.clone(),
                    });
                }
                None => {
                    return Err(DebError::Fetch {
                        package: spec(&pin.name, Some(&pin.arch), Some(&pin.version)),
                        reason: "not among the fetched packages".to_owned(),
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| a.control.package.cmp(&b.control.package));
    Ok(out)
}

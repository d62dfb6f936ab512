//! Package mode: a recipe with `package` nodes takes its programs and libraries from Debian
//! packages instead of the host.
//!
//! [`prepare`] turns the recipe's packages into a sysroot: from the lockfile's pins when they
//! cover the recipe (each `.deb` verified against its pinned SHA-256), else by resolving the
//! `Depends` closure afresh (refused under `--locked`). [`finish`] hashes every file the plan
//! takes from the sysroot, checks it against the lockfile (a changed file of an unchanged package
//! means a tampered sysroot: refused, naming the package), and writes the new lockfile unless
//! `--locked` or nothing changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::deb::DebError;
use crate::deb::cache::{Cached, Source, sha256_file};
use crate::deb::closure::{Pin, Request, fetch_locked, resolve};
use crate::deb::sysroot::{Sysroot, sysroot};
use crate::lockfile::{FORMAT, LockError, LockedFile, LockedPackage, Lockfile, path_for};
use crate::plan::{Content, Plan};
use crate::recipe::Recipe;
use crate::trace::Root;

/// How package mode finds and pins its inputs.
#[derive(Debug, Clone, Default)]
pub struct PackageOptions {
    /// Fail on any difference from the lockfile, and never write it.
    pub locked: bool,
    /// Take `.deb` files from this directory before the Debian sources.
    pub deb_dir: Option<PathBuf>,
    /// Resolve afresh even when the lockfile covers the recipe (`acbuild lock`).
    pub refresh: bool,
}

/// Why package mode could not prepare its inputs.
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    /// A package could not be fetched, verified or unpacked.
    #[error(transparent)]
    Deb(#[from] DebError),
    /// The lockfile refused the build.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Neither `$XDG_CACHE_HOME` nor `$HOME` is set.
    #[error("no cache directory: set XDG_CACHE_HOME or HOME")]
    NoCache,
}

impl InputsError {
    /// Whether the user's input (recipe, lockfile) is at fault rather than the build.
    pub fn is_input(&self) -> bool {
        match self {
            Self::Lock(LockError::Io { .. }) | Self::Deb(_) | Self::NoCache => false,
            Self::Lock(
                LockError::Parse { .. }
                | LockError::Missing { .. }
                | LockError::Drift { .. }
                | LockError::FileHash { .. },
            ) => true,
        }
    }
}

/// A prepared package-mode build.
#[derive(Debug)]
pub struct Prepared {
    /// The sysroot as a tracer root.
    pub root: Root,
    /// The unpacked closure and the origin of each file.
    pub sysroot: Sysroot,
    /// The packages, sorted by name.
    pub packages: Vec<Cached>,
    /// `NAME.lock`.
    pub lock_path: PathBuf,
    /// The lockfile as it was, if any.
    pub existing: Option<Lockfile>,
    /// Whether the packages are the lockfile's pins.
    pub pinned: bool,
    /// What the user should know (a pin that could not be fetched).
    pub warnings: Vec<String>,
}

/// The recipe's packages as requests.
pub fn requests(recipe: &Recipe) -> Vec<Request> {
    recipe
        .image
        .packages
        .iter()
        .map(|p| Request {
            name: p.name.value.clone(),
            version: p.version.as_ref().map(|v| v.value.clone()),
            arch: p.arch.as_ref().map(|a| a.value.clone()),
        })
        .collect()
}

/// Fetch, verify and unpack the recipe's packages.
pub fn prepare(recipe: &Recipe, options: &PackageOptions) -> Result<Prepared, InputsError> {
    let cache_root = crate::build_cache::dir().ok_or(InputsError::NoCache)?;
    let source = Source::new(&cache_root, options.deb_dir.as_deref())?;
    let lock_path = path_for(&recipe.path);
    let existing = Lockfile::read(&lock_path)?;
    let requests = requests(recipe);
    let drift = |package: &str, what: String| LockError::Drift {
        path: lock_path.clone(),
        package: package.to_owned(),
        what,
    };
    let mut packages = None;
    let mut warnings = Vec::new();
    match &existing {
        None if options.locked => {
            return Err(LockError::Missing {
                path: lock_path.clone(),
            }
            .into());
        }
        Some(lock) if !options.refresh => match uncovered(&requests, lock) {
            Some((package, what)) if options.locked => return Err(drift(&package, what).into()),
            Some(_) => {}
            None => {
                let got = match fetch_locked(&pins(lock), &source) {
                    Ok(got) => got,
                    // A pinned version the sources no longer offer (Debian keeps one version
                    // per suite): re-resolve unless --locked. Other bytes are never accepted.
                    Err(DebError::Fetch { package, reason }) if !options.locked => {
                        warnings.push(format!(
                            "the lockfile's `{package}` cannot be fetched ({reason}); resolving \
                             afresh and rewriting {}",
                            lock_path.display()
                        ));
                        Vec::new()
                    }
                    Err(e) => return Err(e.into()),
                };
                match unreachable(&requests, &got) {
                    _ if got.is_empty() => {}
                    Some(package) if options.locked => {
                        let what = "pinned but no longer needed by the recipe".to_owned();
                        return Err(drift(&package, what).into());
                    }
                    Some(_) => {}
                    None => packages = Some(got),
                }
            }
        },
        _ => {}
    }
    let pinned = packages.is_some();
    let packages = match packages {
        Some(p) => p,
        None => resolve(&requests, &source)?,
    };
    let sysroot = sysroot(&packages, &cache_root, pinned)?;
    let root = Root::new(&sysroot.root).map_err(DebError::io(&sysroot.root))?;
    Ok(Prepared {
        root,
        sysroot,
        packages,
        lock_path,
        existing,
        pinned,
        warnings,
    })
}

fn pins(lock: &Lockfile) -> Vec<Pin> {
    lock.packages
        .iter()
        .map(|p| Pin {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.architecture.clone(),
            sha256: p.sha256.clone(),
        })
        .collect()
}

/// The first request the lockfile does not pin as asked.
fn uncovered(requests: &[Request], lock: &Lockfile) -> Option<(String, String)> {
    for r in requests {
        let Some(p) = lock.packages.iter().find(|p| p.name == r.name) else {
            return Some((r.name.clone(), "not in the lockfile".to_owned()));
        };
        if !r.matches(&p.name, &p.version, &p.architecture) {
            return Some((
                r.name.clone(),
                format!(
                    "the recipe asks for {}, the lockfile pins {} {}",
                    r.spec(),
                    p.version,
                    p.architecture
                ),
            ));
        }
    }
    None
}

/// A pinned package the requests no longer reach through `Depends`, or a dependency none of
/// whose alternatives is pinned.
fn unreachable(requests: &[Request], packages: &[Cached]) -> Option<String> {
    let by_name: BTreeMap<&str, &Cached> = packages
        .iter()
        .map(|c| (c.control.package.as_str(), c))
        .collect();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = requests.iter().map(|r| r.name.as_str()).collect();
    while let Some(name) = stack.pop() {
        let Some(c) = by_name.get(name) else {
            return Some(name.to_owned());
        };
        if !seen.insert(name) {
            continue;
        }
        for group in &c.control.depends {
            match group.iter().find(|n| by_name.contains_key(n.as_str())) {
                Some(n) => stack.push(n),
                None => return Some(c.control.package.clone()),
            }
        }
    }
    by_name
        .keys()
        .find(|n| !seen.contains(*n))
        .map(|n| (*n).to_owned())
}

/// Hash the files `plan` takes from the sysroot, check them against the lockfile, and write the
/// new lockfile when `write` (and not `--locked`) and it changed. Returns the lockfile of this
/// build.
pub fn finish(
    prepared: &Prepared,
    plan: &Plan,
    options: &PackageOptions,
    write: bool,
) -> Result<Lockfile, InputsError> {
    let mut files = Vec::new();
    for entry in plan.entries.values() {
        let Content::HostFile { source, .. } = &entry.content else {
            continue;
        };
        let Ok(rel) = source.strip_prefix(prepared.root.dir()) else {
            continue;
        };
        let in_root = format!("/{}", rel.display());
        let package = prepared
            .sysroot
            .origin
            .get(&in_root)
            .cloned()
            .unwrap_or_default();
        files.push(LockedFile {
            path: entry.path.clone(),
            package,
            sha256: sha256_file(source)?,
        });
    }
    let lock = Lockfile {
        format: FORMAT,
        packages: prepared
            .packages
            .iter()
            .map(|c| LockedPackage {
                name: c.control.package.clone(),
                version: c.control.version.clone(),
                architecture: c.control.architecture.clone(),
                sha256: c.sha256.clone(),
            })
            .collect(),
        files,
    };
    if let (true, Some(old)) = (prepared.pinned, &prepared.existing)
        && let Some(err) = old.file_drift(&prepared.lock_path, &lock.files)
        && (options.locked || matches!(err, LockError::FileHash { .. }))
    {
        return Err(err.into());
    }
    if options.locked && prepared.existing.as_ref() != Some(&lock) {
        let package = lock
            .packages
            .first()
            .map(|p| p.name.clone())
            .unwrap_or_default();
        return Err(LockError::Drift {
            path: prepared.lock_path.clone(),
            package,
            what: "the lockfile is out of date".to_owned(),
        }
        .into());
    }
    if write && !options.locked && prepared.existing.as_ref() != Some(&lock) {
        lock.write(&prepared.lock_path)?;
    }
    Ok(lock)
}

/// The lockfile path of a recipe (re-exported for the CLI).
pub fn lock_path(recipe: &Path) -> PathBuf {
    path_for(recipe)
}

//! The build: recipe → plan → trace → ACI, written atomically.
//!
//! [`build`] runs the whole pipeline for one recipe: load and check it, build and validate the
//! manifest, plan the rootfs, trace the ELF closure of every program and runtime module, warn
//! about runtime needs the recipe does not cover (pointing at the program's line), then stream the
//! entries straight from the host files into `appc::aci::Builder` (no temporary rootfs). The
//! output is a pure function of the recipe, the input bytes and the options: entry order is path
//! order, owners come from the recipe, times from `SOURCE_DATE_EPOCH`. [`build_signed`] ends
//! with the signing step ([`crate::signature`]), which keeps a cached image's current signature.
//!
//! A recipe with `package` nodes is built in package mode ([`crate::package_mode`]): its inputs
//! are read from, and traced in, a sysroot unpacked from the packages' closure; the lockfile is
//! checked (and written) before anything else is, and the image carries the list of its
//! packages in the `acbuild/inputs` annotation.

use std::path::{Path, PathBuf};

use appc::aci::{Builder, Entry, EntryKind, FileSource, RootfsPath, WriteOptions};

use crate::build_cache;
use crate::error_kind::ErrorKind;
use crate::image_manifest::image_manifest;
use crate::lockfile::Lockfile;
use crate::package_mode::{self, InputsError, PackageOptions};
use crate::plan::{Content, Inputs, Plan, plan};
use crate::recipe::{self, EntryKind as RecipeEntry, Recipe, RuntimeSet, line_col};
use crate::signature::{self, Reuse, Signature};
use crate::signing_key::{KeyError, SigningKey};
use crate::trace::{self, Hint, Root, TraceOptions};

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Directory the `.aci` is written to (created if missing).
    pub out_dir: PathBuf,
    /// Compression and time stamps of the archive.
    pub write: WriteOptions,
    /// Reuse the previous image when nothing changed (see [`crate::build_cache`]).
    pub cache: bool,
    /// Package mode: `--locked`, `--deb-dir`.
    pub packages: PackageOptions,
}

/// What a build produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuildSummary {
    /// The recipe.
    pub recipe: PathBuf,
    /// The written image.
    pub path: PathBuf,
    /// `sha512-…` of the uncompressed tar.
    pub image_id: String,
    /// Size of the written file in bytes.
    pub size: u64,
    /// Number of archive entries.
    pub entries: usize,
    /// Warnings (`file:line:col: message`).
    pub warnings: Vec<String>,
    /// Where the inputs came from: `host`, or `packages` (package mode).
    pub inputs: &'static str,
    /// The lockfile of a package-mode build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lockfile: Option<PathBuf>,
    /// The SPDX 2.3 SBOM beside the image.
    pub sbom: PathBuf,
    /// What the signing step did (not part of the JSON summary).
    #[serde(skip)]
    pub signature: Signature,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BuildError {
    /// The recipe cannot be read or is invalid (an input error: exit 2).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Recipe(#[from] recipe::LoadError),
    /// The recipe breaks a rule found while planning (an input error: exit 2).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] recipe::RecipeErrors),
    /// Tracing failed.
    #[error("{recipe}: tracing failed: {source}")]
    Trace {
        /// The recipe.
        recipe: PathBuf,
        /// The tracer's error.
        source: trace::Error,
    },
    /// A path cannot be stored in an ACI.
    #[error("{recipe}: `{path}` cannot be stored in an ACI: {reason}")]
    Path {
        /// The recipe.
        recipe: PathBuf,
        /// The image path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Reading the host or writing the image failed.
    #[error("{}: {message}", recipe.display())]
    Io {
        /// The recipe.
        recipe: PathBuf,
        /// What failed.
        message: String,
    },
    /// Package mode: fetching, verifying or unpacking packages, or the lockfile, failed.
    #[error("{}: {source}", recipe.display())]
    Inputs {
        /// The recipe.
        recipe: PathBuf,
        /// Why.
        source: Box<InputsError>,
    },
    /// The image was written but could not be signed.
    #[error("signing {}: {source}", path.display())]
    Sign {
        /// The image.
        path: PathBuf,
        /// Why.
        source: KeyError,
    },
}

impl BuildError {
    /// Whether the failure lies in the user's input or in the build.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Recipe(_) | Self::Invalid(_) => ErrorKind::Input,
            Self::Inputs { source, .. } if source.is_input() => ErrorKind::Input,
            Self::Inputs { .. } => ErrorKind::Failure,
            // The key was resolved and SOURCE_DATE_EPOCH read before the build: what fails now
            // is the build's own work.
            Self::Trace { .. } | Self::Path { .. } | Self::Io { .. } | Self::Sign { .. } => {
                ErrorKind::Failure
            }
        }
    }
}

/// The file name of an image: `NAME-VERSION-OS-ARCH.aci` after the name's last component.
pub fn output_name(manifest: &appc::manifest::ImageManifest) -> String {
    let name = manifest.name.as_str();
    let base = name.rsplit('/').next().unwrap_or(name);
    let mut parts = vec![base.to_owned()];
    for label in ["version", "os", "arch"] {
        if let Some(v) = manifest.labels.get(label) {
            parts.push(v.replace('/', "_"));
        }
    }
    format!("{}.aci", parts.join("-"))
}

/// Check a recipe without writing: load, manifest, plan and trace. Returns the warnings.
pub fn check(recipe_path: &Path) -> Result<Vec<String>, BuildError> {
    let prepared = prepare(recipe_path, &PackageOptions::default(), false)?;
    Ok(prepared.warnings)
}

/// Write or refresh the lockfile of a package-mode recipe (`acbuild lock`): resolve the
/// closure afresh, plan and trace, and write `NAME.lock`. Returns its path.
pub fn lock(recipe_path: &Path, deb_dir: Option<&Path>) -> Result<PathBuf, BuildError> {
    let options = PackageOptions {
        locked: false,
        deb_dir: deb_dir.map(Path::to_path_buf),
        refresh: true,
    };
    let prepared = prepare(recipe_path, &options, true)?;
    if prepared.lock.is_none() {
        return Err(BuildError::Io {
            recipe: recipe_path.to_path_buf(),
            message: "has no `package` node: a host-mode recipe has no lockfile".to_owned(),
        });
    }
    Ok(package_mode::lock_path(recipe_path))
}

/// A recipe ready to be written.
struct Prepared {
    recipe: Recipe,
    manifest: appc::manifest::ImageManifest,
    plan: Plan,
    warnings: Vec<String>,
    /// The lockfile of a package-mode build.
    lock: Option<Lockfile>,
    /// The sysroot of a package-mode build.
    sysroot: Option<PathBuf>,
}

fn prepare(
    recipe_path: &Path,
    packages: &PackageOptions,
    write_lock: bool,
) -> Result<Prepared, BuildError> {
    let recipe = recipe::load(recipe_path)?;
    let mut manifest = image_manifest(&recipe)?;
    let inputs_error = |source| BuildError::Inputs {
        recipe: recipe_path.to_path_buf(),
        source: Box::new(source),
    };
    let sysroot = if recipe.image.packages.is_empty() {
        None
    } else {
        Some(package_mode::prepare(&recipe, packages).map_err(inputs_error)?)
    };
    let host = Root::host();
    let (root, inputs) = match &sysroot {
        Some(s) => (&s.root, Inputs::Sysroot(&s.root)),
        None => (&host, Inputs::Host),
    };
    if sysroot.is_some() {
        recipe::check_inputs_with(&recipe, &|p| inputs.path(&recipe, p))
            .map_err(|e| BuildError::Recipe(e.into()))?;
    }
    let mut plan = plan(&recipe, inputs)?;
    let at = |offset: usize| {
        let (line, col) = line_col(&recipe.source, offset);
        format!("{}:{line}:{col}", recipe_path.display())
    };
    let mut warnings: Vec<String> = plan
        .warnings
        .iter()
        .map(|(span, w)| format!("{}: warning: {w}", at(span.offset())))
        .collect();
    if let Some(s) = &sysroot {
        let recipe_at = recipe_path.display();
        warnings.extend(
            s.warnings
                .iter()
                .map(|w| format!("{recipe_at}: warning: {w}")),
        );
    }
    let traced = traced_inputs(&plan, root, recipe_path)?;
    let closure = trace::trace(root, &traced, &TraceOptions::default()).map_err(|source| {
        BuildError::Trace {
            recipe: recipe_path.to_path_buf(),
            source,
        }
    })?;
    // Programs placed elsewhere with `to=` must not also appear at their host path.
    let moved: Vec<&Path> = recipe
        .image
        .entries
        .iter()
        .filter_map(|e| match &e.kind {
            RecipeEntry::Program { source }
                if source.value.as_os_str() != e.path.value.as_str() =>
            {
                Some(source.value.as_path())
            }
            _ => None,
        })
        .collect();
    plan.add_closure(closure.paths().iter().map(PathBuf::as_path), &moved, root)
        .map_err(|e| BuildError::Io {
            recipe: recipe_path.to_path_buf(),
            message: format!("reading the traced closure: {e}"),
        })?;
    warnings.extend(hint_warnings(&recipe, &closure, &at));
    let lock = match &sysroot {
        Some(s) => {
            Some(package_mode::finish(s, &plan, packages, write_lock).map_err(inputs_error)?)
        }
        None => None,
    };
    if let Some(lock) = &lock {
        annotate_inputs(&mut manifest, lock);
    }
    Ok(Prepared {
        recipe,
        manifest,
        plan,
        warnings,
        lock,
        sysroot: sysroot.map(|s| s.root.dir().to_path_buf()),
    })
}

/// The in-root paths of the plan's entries to trace; in package mode each must lie in the
/// sysroot (its libraries are resolved there).
fn traced_inputs(plan: &Plan, root: &Root, recipe_path: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let mut traced: Vec<PathBuf> = Vec::new();
    for e in plan.entries.values().filter(|e| e.trace) {
        let Content::HostFile { source, .. } = &e.content else {
            continue;
        };
        match in_root(root, source) {
            Some(p) => traced.push(p),
            None => {
                return Err(BuildError::Io {
                    recipe: recipe_path.to_path_buf(),
                    message: format!(
                        "`{}` is not in the packages: in package mode a program's libraries are \
                         traced in the sysroot, so the program must come from a package",
                        source.display()
                    ),
                });
            }
        }
    }
    Ok(traced)
}

/// Warnings for the run-time needs the tracer saw (NSS, gconv, certificates, dlopen), each at
/// its program's line, unless a runtime set of the recipe covers it.
fn hint_warnings(
    recipe: &Recipe,
    closure: &trace::Closure,
    at: &dyn Fn(usize) -> String,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let covered: Vec<RuntimeSet> = recipe.image.runtime.iter().map(|s| s.value).collect();
    for (program, hints) in closure.hints() {
        let line = recipe
            .image
            .entries
            .iter()
            .find(
                |e| matches!(&e.kind, RecipeEntry::Program { source } if source.value == *program),
            )
            .map(|e| at(e.span.offset()))
            .unwrap_or_else(|| recipe.path.display().to_string());
        for hint in hints {
            let needed = match hint {
                Hint::Nss { .. } => Some(RuntimeSet::Nss),
                Hint::Gconv { .. } => Some(RuntimeSet::Gconv),
                Hint::TlsCertificates { .. } => Some(RuntimeSet::Certs),
                _ => None,
            };
            match needed {
                Some(set) if covered.contains(&set) => {}
                Some(set) => warnings.push(format!(
                    "{line}: warning: {hint}; add `runtime \"{}\"` to the image",
                    set.name()
                )),
                None => warnings.push(format!("{line}: warning: {hint}")),
            }
        }
    }
    warnings
}

/// The in-root path of a file read from `root` (`None` for a file outside it, such as a file of
/// the recipe's own directory, which is not traced in package mode).
fn in_root(root: &Root, host: &Path) -> Option<PathBuf> {
    if root.dir() == Path::new("/") {
        return Some(host.to_path_buf());
    }
    let rel = host.strip_prefix(root.dir()).ok()?;
    Some(Path::new("/").join(rel))
}

/// The `acbuild/inputs` annotation: one line per package, `NAME VERSION ARCH sha256:HEX`.
fn annotate_inputs(manifest: &mut appc::manifest::ImageManifest, lock: &Lockfile) {
    let value: Vec<String> = lock
        .packages
        .iter()
        .map(|p| {
            format!(
                "{} {} {} sha256:{}",
                p.name, p.version, p.architecture, p.sha256
            )
        })
        .collect();
    if let Ok(name) = appc::name::AcIdentifier::new("acbuild/inputs") {
        manifest
            .annotations
            .0
            .retain(|a| a.name.as_str() != "acbuild/inputs");
        manifest.annotations.0.push(appc::manifest::Annotation {
            name,
            value: value.join("\n"),
        });
    }
}

/// Build one recipe into `options.out_dir`, from the cache when nothing changed.
pub fn build(recipe_path: &Path, options: &BuildOptions) -> Result<BuildSummary, BuildError> {
    // `--locked` always checks the lockfile, which the cache shortcut would skip.
    let cached = (options.cache && !options.packages.locked)
        .then(|| {
            let bytes = std::fs::read(recipe_path).ok()?;
            let w = &options.write;
            let opts = format!("{}:{:?}:{}", w.compression.name(), w.level, w.mtime);
            let canonical = std::path::absolute(recipe_path).ok()?;
            Some((
                build_cache::dir()?,
                build_cache::key(&bytes, &canonical, &opts),
            ))
        })
        .flatten();
    if let Some((cache, key)) = &cached
        && let Some(record) = build_cache::lookup(cache, key)
    {
        let out = options.out_dir.join(&record.file_name);
        let sbom = crate::sbom::path_for(&out);
        if build_cache::publish(cache, key, &out).is_ok()
            && appc::atomic_file::write_atomically(&sbom, record.sbom.as_bytes(), 0o644).is_ok()
            && let Ok(meta) = std::fs::metadata(&out)
        {
            let lock = package_mode::lock_path(recipe_path);
            let package_mode = record.inputs.iter().any(|s| s.is(&lock));
            return Ok(BuildSummary {
                recipe: recipe_path.to_path_buf(),
                path: out,
                image_id: record.image_id,
                size: meta.len(),
                entries: record.entries,
                warnings: Vec::new(),
                inputs: if package_mode { "packages" } else { "host" },
                lockfile: package_mode.then_some(lock),
                sbom,
                signature: Signature::Unsigned,
            });
        }
    }
    let Prepared {
        recipe,
        manifest,
        plan,
        warnings,
        lock,
        sysroot,
    } = prepare(recipe_path, &options.packages, true)?;
    let io = |message: String| BuildError::Io {
        recipe: recipe_path.to_path_buf(),
        message,
    };
    let mut builder = Builder::new(manifest.to_json_pretty(), options.write.clone());
    for entry in plan.entries.values() {
        let path =
            RootfsPath::new(entry.path.trim_start_matches('/')).map_err(|e| BuildError::Path {
                recipe: recipe_path.to_path_buf(),
                path: entry.path.clone(),
                reason: e.to_string(),
            })?;
        let kind = match &entry.content {
            Content::Dir => EntryKind::Dir,
            Content::HostFile { source, .. } => EntryKind::File(FileSource::Path(source.clone())),
            Content::Bytes(b) => EntryKind::File(FileSource::Bytes(b.clone())),
            Content::Symlink(t) => EntryKind::Symlink(PathBuf::from(t)),
        };
        builder
            .add(Entry {
                path,
                kind,
                mode: entry.mode,
                uid: entry.uid,
                gid: entry.gid,
            })
            .map_err(|e| io(format!("{}: {e}", entry.path)))?;
    }
    std::fs::create_dir_all(&options.out_dir)
        .map_err(|e| io(format!("creating {}: {e}", options.out_dir.display())))?;
    let out = options.out_dir.join(output_name(&manifest));
    let summary = builder
        .write_file(&out)
        .map_err(|e| io(format!("writing {}: {e}", out.display())))?;
    let size = std::fs::metadata(&out)
        .map_err(|e| io(format!("{}: {e}", out.display())))?
        .len();
    let subject = crate::sbom::Subject {
        name: manifest.name.as_str(),
        version: manifest.labels.get("version"),
        image_id: &summary.image_id.to_string(),
        created: options.write.mtime,
    };
    let sbom = crate::sbom::document(&subject, &plan, lock.as_ref(), sysroot.as_deref())
        .map_err(|e| io(format!("writing the SBOM: {e}")))?;
    let sbom_bytes = crate::sbom::to_bytes(&sbom);
    let sbom_path = crate::sbom::path_for(&out);
    appc::atomic_file::write_atomically(&sbom_path, &sbom_bytes, 0o644)
        .map_err(|e| io(format!("writing {}: {e}", sbom_path.display())))?;
    if let Some((cache, key)) = &cached {
        let mut stamps = inputs(&recipe, &plan);
        if lock.is_some() {
            stamps.extend(build_cache::Stamp::of(&package_mode::lock_path(
                recipe_path,
            )));
        }
        let record = build_cache::Record {
            inputs: stamps,
            file_name: output_name(&manifest),
            image_id: summary.image_id.to_string(),
            entries: summary.entries,
            sbom: String::from_utf8_lossy(&sbom_bytes).into_owned(),
        };
        // A cache that cannot be written only costs the next build its shortcut.
        let _ = build_cache::store(cache, key, &out, &record);
    }
    Ok(BuildSummary {
        recipe: recipe_path.to_path_buf(),
        path: out,
        image_id: summary.image_id.to_string(),
        size,
        entries: summary.entries,
        warnings,
        inputs: if lock.is_some() { "packages" } else { "host" },
        lockfile: lock.map(|_| package_mode::lock_path(recipe_path)),
        sbom: sbom_path,
        signature: Signature::Unsigned,
    })
}

/// [`build`], then the signing step with `key` (`None`: leave the image unsigned).
pub fn build_signed(
    recipe_path: &Path,
    options: &BuildOptions,
    key: Option<&SigningKey>,
) -> Result<BuildSummary, BuildError> {
    let mut summary = build(recipe_path, options)?;
    summary.signature =
        signature::sign_image(key, &summary.path, Reuse::KeepCurrent).map_err(|source| {
            BuildError::Sign {
                path: summary.path.clone(),
                source,
            }
        })?;
    Ok(summary)
}

/// Every host path whose change could change the image: the plan's host files, the traced
/// symlinks, every directory of the trees (an added file changes its directory), the library
/// directories runtime modules are looked up in, and the dynamic linker's configuration.
fn inputs(recipe: &Recipe, plan: &Plan) -> Vec<build_cache::Stamp> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for e in plan.entries.values() {
        match &e.content {
            Content::HostFile { source, .. } => paths.push(source.clone()),
            Content::Symlink(_) if e.origin == crate::plan::Origin::Traced => {
                paths.push(PathBuf::from(&e.path));
            }
            _ => {}
        }
    }
    for e in &recipe.image.entries {
        if let RecipeEntry::Tree { source } = &e.kind {
            for d in walkdir::WalkDir::new(&source.value).into_iter().flatten() {
                if d.file_type().is_dir() || d.file_type().is_symlink() {
                    paths.push(d.path().to_path_buf());
                }
            }
        }
    }
    paths.extend(
        crate::runtime_set::lib_dirs(Path::new("/"))
            .into_iter()
            .map(PathBuf::from),
    );
    paths.push(PathBuf::from("/etc/ld.so.conf"));
    paths.push(PathBuf::from("/etc/ld.so.conf.d"));
    paths.sort();
    paths.dedup();
    // A path that cannot be stamped now is recorded as absent by leaving it out; its later
    // appearance is caught through its directory's stamp.
    paths
        .iter()
        .filter_map(|p| build_cache::Stamp::of(p))
        .collect()
}

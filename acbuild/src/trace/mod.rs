//! ELF closure tracer: every file an image needs so that given programs start, resolved the way
//! glibc's `ld.so` resolves them (DT_NEEDED breadth-first in load order, DT_RPATH inherited from
//! loaders unless DT_RUNPATH is present, DT_RUNPATH for direct needs only, `$ORIGIN`/`$LIB`/
//! `$PLATFORM`, `ld.so.conf`, system and multiarch directories, wrong-ABI candidates skipped,
//! already-loaded sonames reused; LD_LIBRARY_PATH ignored).
//!
//! The tracer is a resolver over a filesystem view ([`Root`]): the host and a sysroot are the same
//! code. Files are memory-mapped and parsed once per (device, inode); inputs are traced in
//! parallel and merged in input order, so the result never depends on the thread count.
//!
//! Boundaries: this module reads files and never runs them; it prints nothing (see
//! [`render`] for text forms) and knows nothing of recipes.

mod hint;
mod object;
pub mod render;
mod root;
mod search;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rayon::prelude::*;
use serde::Serialize;

pub use hint::Hint;
pub use object::ParseError;
pub use root::{Resolved, Root};

use object::{Abi, ElfObject, Object};

/// The PATH a `#!/usr/bin/env NAME` line is looked up on (Debian's default for root).
const STANDARD_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The kernel follows at most a few nested `#!` interpreters; so do we.
const MAX_INTERPRETER_DEPTH: usize = 5;

/// How to trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceOptions {
    /// Record unresolved needs in [`Closure::missing`] instead of failing.
    pub allow_missing: bool,
}

/// A need that no directory satisfied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Missing {
    /// The object (or script) that needs it.
    pub object: PathBuf,
    /// The soname, path or interpreter asked for.
    pub name: String,
    /// Directories searched, in order.
    pub searched: Vec<PathBuf>,
}

/// One DT_NEEDED entry (or interpreter) and where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Need {
    pub name: String,
    /// The in-root path it was loaded from (as found, before resolving symlinks).
    pub path: Option<PathBuf>,
}

/// What one object needs, in load order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Node {
    /// PT_INTERP, or a script's `#!` interpreter.
    pub interpreter: Option<PathBuf>,
    pub needs: Vec<Need>,
}

/// The result of a trace: files, graph, hints and missing needs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Closure {
    programs: Vec<PathBuf>,
    paths: BTreeSet<PathBuf>,
    graph: BTreeMap<PathBuf, Node>,
    hints: BTreeMap<PathBuf, BTreeSet<Hint>>,
    missing: BTreeSet<Missing>,
}

impl Closure {
    /// The traced inputs, in the order given.
    pub fn programs(&self) -> &[PathBuf] {
        &self.programs
    }
    /// Absolute in-root paths of every file and every symlink (file or directory) met.
    pub fn paths(&self) -> &BTreeSet<PathBuf> {
        &self.paths
    }
    /// Who needs whom: object path (as found) → its interpreter and needs.
    pub fn graph(&self) -> &BTreeMap<PathBuf, Node> {
        &self.graph
    }
    /// Runtime-loading warnings, per traced program.
    pub fn hints(&self) -> &BTreeMap<PathBuf, BTreeSet<Hint>> {
        &self.hints
    }
    /// Needs that were not found (only non-empty with [`TraceOptions::allow_missing`]).
    pub fn missing(&self) -> &BTreeSet<Missing> {
        &self.missing
    }

    fn merge(&mut self, other: Closure) {
        for program in other.programs {
            if !self.programs.contains(&program) {
                self.programs.push(program);
            }
        }
        self.paths.extend(other.paths);
        for (path, node) in other.graph {
            self.graph.entry(path).or_insert(node);
        }
        for (program, hints) in other.hints {
            self.hints.entry(program).or_default().extend(hints);
        }
        self.missing.extend(other.missing);
    }
}

/// Why a trace failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{}: neither an ELF file nor a #! script", path.display())]
    NotExecutable { path: PathBuf },
    #[error("{}: #! interpreters nest deeper than {MAX_INTERPRETER_DEPTH}", path.display())]
    InterpreterLoop { path: PathBuf },
    #[error("{}", describe_missing(.0))]
    Missing(Vec<Missing>),
}

impl Error {
    /// Unreadable or unusable inputs are the user's; unresolved libraries and interpreter loops
    /// are what the trace found.
    pub fn kind(&self) -> crate::error_kind::ErrorKind {
        use crate::error_kind::ErrorKind;
        match self {
            Error::Io { .. } | Error::NotExecutable { .. } | Error::Parse(_) => ErrorKind::Input,
            Error::Missing(_) | Error::InterpreterLoop { .. } => ErrorKind::Failure,
        }
    }
}

fn describe_missing(missing: &[Missing]) -> String {
    let lines: Vec<String> = missing.iter().map(describe_one_missing).collect();
    lines.join("\n")
}

/// `OBJECT: NAME not found (searched DIR:DIR:...)`.
pub fn describe_one_missing(m: &Missing) -> String {
    let dirs: Vec<String> = m.searched.iter().map(|d| d.display().to_string()).collect();
    format!(
        "{}: {} not found (searched {})",
        m.object.display(),
        m.name,
        dirs.join(":")
    )
}

/// Trace `files` (absolute in-root paths) in `root`.
pub fn trace(root: &Root, files: &[PathBuf], options: &TraceOptions) -> Result<Closure, Error> {
    let mut tracer = Tracer::new(root, *options);
    tracer.trace(files)?;
    Ok(tracer.into_closure())
}

type ParsedCell = Arc<OnceLock<Result<Arc<Object>, String>>>;

/// A tracer that keeps its caches and its closure, so more files (NSS or gconv modules added
/// later) can be traced into the same closure without parsing anything twice.
#[derive(Debug)]
pub struct Tracer<'r> {
    root: &'r Root,
    options: TraceOptions,
    conf_dirs: OnceLock<Vec<PathBuf>>,
    parsed: Mutex<HashMap<(u64, u64), ParsedCell>>,
    closure: Closure,
}

/// A file opened through the root.
struct Loaded {
    /// In-root path as asked for.
    path: PathBuf,
    resolved: Arc<Resolved>,
    object: Arc<Object>,
}

/// One object in a program's load order, with the DT_RPATH directories of its loader chain.
struct Queued {
    path: PathBuf,
    elf: Arc<Object>,
    origin: PathBuf,
    inherited_rpath: Arc<Vec<PathBuf>>,
}

impl<'r> Tracer<'r> {
    pub fn new(root: &'r Root, options: TraceOptions) -> Tracer<'r> {
        Tracer {
            root,
            options,
            conf_dirs: OnceLock::new(),
            parsed: Mutex::default(),
            closure: Closure::default(),
        }
    }

    /// Trace more files into the closure. Executables and shared objects (traced as if
    /// `dlopen`ed) are both accepted, as are `#!` scripts. Fails on the first input (in input
    /// order) that cannot be traced, or — unless missing needs are allowed — lists them all.
    pub fn trace(&mut self, files: &[PathBuf]) -> Result<(), Error> {
        let this = &*self;
        let results: Vec<Result<Closure, Error>> =
            files.par_iter().map(|f| this.trace_program(f)).collect();
        let mut merged = Closure::default();
        for result in results {
            merged.merge(result?);
        }
        if !self.options.allow_missing && !merged.missing.is_empty() {
            return Err(Error::Missing(merged.missing.into_iter().collect()));
        }
        self.closure.merge(merged);
        Ok(())
    }

    pub fn closure(&self) -> &Closure {
        &self.closure
    }

    pub fn into_closure(self) -> Closure {
        self.closure
    }

    fn conf_dirs(&self) -> &[PathBuf] {
        self.conf_dirs
            .get_or_init(|| search::ld_so_conf_dirs(self.root))
    }

    fn load(&self, path: &Path) -> Result<Loaded, Error> {
        let io_error = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let resolved = self.root.resolve(path).map_err(io_error)?;
        let host = self.root.host_path(&resolved.real);
        let meta = std::fs::metadata(&host).map_err(io_error)?;
        if !meta.is_file() {
            return Err(io_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        let cell = {
            let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(parsed.entry((meta.dev(), meta.ino())).or_default())
        };
        let object = cell
            .get_or_init(|| {
                Object::read(&host, &resolved.real)
                    .map(Arc::new)
                    .map_err(|e| e.reason)
            })
            .clone()
            .map_err(|reason| ParseError {
                path: path.to_path_buf(),
                reason,
            })?;
        Ok(Loaded {
            path: path.to_path_buf(),
            resolved,
            object,
        })
    }

    /// Trace one input and everything it starts, into a closure of its own.
    fn trace_program(&self, input: &Path) -> Result<Closure, Error> {
        let input = Path::new("/").join(input);
        let mut closure = Closure {
            programs: vec![input.clone()],
            ..Closure::default()
        };
        let mut pending = VecDeque::from([(input.clone(), 0usize)]);
        while let Some((file, depth)) = pending.pop_front() {
            if depth > MAX_INTERPRETER_DEPTH {
                return Err(Error::InterpreterLoop { path: input });
            }
            let loaded = self.load(&file)?;
            record_paths(&mut closure, &loaded);
            match &*loaded.object {
                Object::Elf(elf) => self.trace_elf(&input, &loaded, elf, &mut closure)?,
                Object::Script {
                    interpreter,
                    argument,
                } => {
                    let interpreter = PathBuf::from(interpreter);
                    closure.graph.insert(
                        file.clone(),
                        Node {
                            interpreter: Some(interpreter.clone()),
                            needs: Vec::new(),
                        },
                    );
                    let is_env = interpreter.file_name().is_some_and(|n| n == "env");
                    let name = argument.as_deref().and_then(|a| {
                        a.split_whitespace()
                            .find(|w| !w.starts_with('-') && !w.contains('='))
                    });
                    if is_env && let Some(name) = name {
                        let found = self.find_on_path(name);
                        let hint = Hint::EnvLookup {
                            script: file.clone(),
                            name: name.to_string(),
                            found: found.clone(),
                        };
                        closure.hints.entry(input.clone()).or_default().insert(hint);
                        match found {
                            Some(found) => pending.push_back((found, depth + 1)),
                            None => {
                                let searched = STANDARD_PATH.iter().map(PathBuf::from).collect();
                                closure.missing.insert(Missing {
                                    object: file.clone(),
                                    name: name.to_string(),
                                    searched,
                                });
                            }
                        }
                    }
                    match self.root.resolve(&interpreter) {
                        Ok(_) => pending.push_back((interpreter, depth + 1)),
                        Err(_) => {
                            let name = interpreter.display().to_string();
                            closure.missing.insert(Missing {
                                object: file.clone(),
                                name,
                                searched: Vec::new(),
                            });
                        }
                    }
                }
                Object::Other => return Err(Error::NotExecutable { path: file }),
            }
        }
        Ok(closure)
    }

    fn find_on_path(&self, name: &str) -> Option<PathBuf> {
        if name.contains('/') {
            return Some(Path::new("/").join(name));
        }
        STANDARD_PATH
            .iter()
            .map(|dir| Path::new(dir).join(name))
            .find(|candidate| {
                self.root.resolve(candidate).is_ok_and(|r| {
                    std::fs::metadata(self.root.host_path(&r.real)).is_ok_and(|m| m.is_file())
                })
            })
    }

    /// Emulate ld.so for one ELF program (or a shared object opened as if by `dlopen`).
    fn trace_elf(
        &self,
        program: &Path,
        main: &Loaded,
        elf: &ElfObject,
        closure: &mut Closure,
    ) -> Result<(), Error> {
        let abi = elf.abi;
        // Names (requested names, sonames, paths) of objects already in the process.
        let mut loaded: HashMap<String, PathBuf> = HashMap::new();
        let mut main_node = Node::default();
        if let Some(interp) = &elf.interpreter {
            let interp_path = PathBuf::from(interp);
            main_node.interpreter = Some(interp_path.clone());
            match self.load(&interp_path) {
                Ok(interp_loaded) => {
                    record_paths(closure, &interp_loaded);
                    loaded.insert(interp.clone(), interp_path.clone());
                    if let Object::Elf(interp_elf) = &*interp_loaded.object {
                        if let Some(soname) = &interp_elf.soname {
                            loaded.insert(soname.clone(), interp_path.clone());
                        }
                        closure.graph.entry(interp_path).or_default();
                    }
                }
                Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    closure.missing.insert(Missing {
                        object: main.path.clone(),
                        name: interp.clone(),
                        searched: Vec::new(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        loaded.insert(main.path.display().to_string(), main.path.clone());
        if let Some(soname) = &elf.soname {
            loaded.insert(soname.clone(), main.path.clone());
        }
        closure.graph.insert(main.path.clone(), main_node);

        // ld.so takes the executable's $ORIGIN from /proc/self/exe: symlinks resolved.
        let main_origin = main
            .resolved
            .real
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        let mut queue = VecDeque::from([Queued {
            path: main.path.clone(),
            elf: Arc::clone(&main.object),
            origin: main_origin,
            inherited_rpath: Arc::new(Vec::new()),
        }]);
        let mut linked_names = BTreeSet::new();
        while let Some(item) = queue.pop_front() {
            let Object::Elf(object) = &*item.elf else {
                continue;
            };
            let expand = |entries: &[String]| -> Vec<PathBuf> {
                entries
                    .iter()
                    .filter_map(|e| search::expand_tokens(e, &item.origin, &abi))
                    .map(|e| Path::new("/").join(e))
                    .collect()
            };
            let own_rpath = expand(&object.rpath);
            let runpath = expand(&object.runpath);
            let mut chain_rpath = own_rpath.clone();
            chain_rpath.extend(item.inherited_rpath.iter().cloned());
            let chain_rpath = Arc::new(chain_rpath);
            let mut dirs: Vec<PathBuf> = Vec::new();
            if object.runpath.is_empty() {
                dirs.extend(chain_rpath.iter().cloned());
            }
            dirs.extend(runpath);
            if !object.nodeflib {
                dirs.extend(self.conf_dirs().iter().cloned());
                dirs.extend(search::system_dirs(&abi));
            }
            dedup_in_order(&mut dirs);

            let mut needs = Vec::new();
            for name in &object.needed {
                linked_names.insert(name.clone());
                if let Some(path) = loaded.get(name) {
                    needs.push(Need {
                        name: name.clone(),
                        path: Some(path.clone()),
                    });
                    continue;
                }
                let found = if name.contains('/') {
                    search::expand_tokens(name, &item.origin, &abi)
                        .map(|n| Path::new("/").join(n))
                        .and_then(|p| self.load_library(&p, &abi))
                } else {
                    dirs.iter()
                        .find_map(|dir| self.load_library(&dir.join(name), &abi))
                };
                let Some(lib) = found else {
                    let searched = if name.contains('/') {
                        Vec::new()
                    } else {
                        dirs.clone()
                    };
                    closure.missing.insert(Missing {
                        object: item.path.clone(),
                        name: name.clone(),
                        searched,
                    });
                    needs.push(Need {
                        name: name.clone(),
                        path: None,
                    });
                    continue;
                };
                record_paths(closure, &lib);
                loaded.insert(name.clone(), lib.path.clone());
                loaded.insert(lib.path.display().to_string(), lib.path.clone());
                if let Object::Elf(lib_elf) = &*lib.object {
                    if let Some(soname) = &lib_elf.soname {
                        linked_names.insert(soname.clone());
                        loaded
                            .entry(soname.clone())
                            .or_insert_with(|| lib.path.clone());
                    }
                    self.add_library_hints(program, &lib.path, lib_elf, closure);
                }
                needs.push(Need {
                    name: name.clone(),
                    path: Some(lib.path.clone()),
                });
                queue.push_back(Queued {
                    origin: lib.path.parent().unwrap_or(Path::new("/")).to_path_buf(),
                    path: lib.path,
                    elf: lib.object,
                    inherited_rpath: Arc::clone(&chain_rpath),
                });
            }
            closure.graph.entry(item.path.clone()).or_default().needs = needs;
        }

        self.add_library_hints(program, &main.path, elf, closure);
        let unlinked: BTreeSet<String> = elf
            .library_strings
            .difference(&linked_names)
            .cloned()
            .collect();
        if !unlinked.is_empty() {
            closure
                .hints
                .entry(program.to_path_buf())
                .or_default()
                .insert(Hint::Dlopen {
                    object: main.path.clone(),
                    names: unlinked,
                });
        }
        Ok(())
    }

    /// Open a library candidate the way ld.so's `open_verify` does: it must exist, be ELF,
    /// be a shared object and match the process ABI; anything else is skipped.
    fn load_library(&self, path: &Path, abi: &Abi) -> Option<Loaded> {
        let lib = self.load(path).ok()?;
        match &*lib.object {
            Object::Elf(elf) if elf.is_shared && abi.accepts(&elf.abi) => Some(lib),
            _ => None,
        }
    }

    fn add_library_hints(
        &self,
        program: &Path,
        path: &Path,
        elf: &ElfObject,
        closure: &mut Closure,
    ) {
        let hints = closure.hints.entry(program.to_path_buf()).or_default();
        if !elf.nss_imports.is_empty() {
            hints.insert(Hint::Nss {
                object: path.to_path_buf(),
                symbols: elf.nss_imports.clone(),
            });
        }
        if !elf.gconv_imports.is_empty() {
            hints.insert(Hint::Gconv {
                object: path.to_path_buf(),
                symbols: elf.gconv_imports.clone(),
            });
        }
        if let Some(soname) = &elf.soname
            && hint::TLS_LIBRARIES
                .iter()
                .any(|prefix| soname.starts_with(prefix))
        {
            hints.insert(Hint::TlsCertificates {
                library: soname.clone(),
            });
        }
        if hints.is_empty() {
            closure.hints.remove(program);
        }
    }
}

fn record_paths(closure: &mut Closure, loaded: &Loaded) {
    closure.paths.extend(loaded.resolved.links.iter().cloned());
    closure.paths.insert(loaded.resolved.real.clone());
}

fn dedup_in_order(dirs: &mut Vec<PathBuf>) {
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
}

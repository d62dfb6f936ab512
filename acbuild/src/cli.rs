//! Command-line surface of acbuild: clap definitions, and the one place where errors become
//! messages and exit codes (0 success, 1 failure, 2 usage or input error).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rayon::prelude::*;

use crate::build::{self, BuildOptions};
use crate::signing_key::{self, KeyChoice, KeyError, KeySource, SigningKey};
use crate::trace;

use appc::aci::{Compression, ReadOptions, WriteOptions};

/// Build minimal, reproducible, signed App Container Images.
///
/// `acbuild RECIPE...` is short for `acbuild build RECIPE...`.
#[derive(Debug, Parser)]
#[command(
    name = "acbuild",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub build: BuildArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build recipes into `.aci` files.
    Build(BuildArgs),
    /// Parse, validate, plan and trace recipes without writing anything.
    Check {
        /// Recipe files.
        #[arg(required = true)]
        recipes: Vec<PathBuf>,
    },
    /// Make an Ed25519 signing key (secret and public, armoured).
    Keygen {
        /// User ID of the key.
        #[arg(long, default_value = signing_key::DEFAULT_UID)]
        uid: String,
        /// Directory for signing-key.asc and signing-key.pub.asc (default: the acbuild config
        /// directory, $XDG_CONFIG_HOME/acbuild or ~/.config/acbuild).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign an existing image: writes IMAGE.asc beside it (dated SOURCE_DATE_EPOCH if set).
    Sign {
        /// The image.
        aci: PathBuf,
        /// Secret key file (default: $ACBUILD_SIGN_KEY, then the user's default key).
        #[arg(long)]
        sign_key: Option<PathBuf>,
    },
    /// List every file (and symlink) the given programs need to start, as ld.so resolves them.
    Trace {
        /// Trace inside this sysroot; paths never escape it.
        #[arg(long)]
        root: Option<PathBuf>,
        /// Output form.
        #[arg(long, value_enum, default_value_t = TraceFormat::Paths)]
        format: TraceFormat,
        /// Report unresolved libraries as warnings instead of failing.
        #[arg(long)]
        allow_missing: bool,
        /// Programs, scripts or shared objects (absolute paths inside the root).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Pack DIR (manifest + rootfs/) into a reproducible ACI; prints its image ID.
    Pack {
        dir: PathBuf,
        out: PathBuf,
        /// gzip (default), xz, bzip2, none, or zstd (not allowed by the appc spec).
        #[arg(long, default_value = "gzip")]
        compression: Compression,
        /// Compression level (codec default if omitted).
        #[arg(long)]
        level: Option<u32>,
        /// Compression threads (0 = all cores); the output is the same for any value.
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        /// Keep the files' numeric owners instead of 0:0.
        #[arg(long)]
        keep_owner: bool,
        /// Print {path, image_id, size, entries} as JSON.
        #[arg(long)]
        json: bool,
        /// Secret key to sign OUT with (writes OUT.asc; default: $ACBUILD_SIGN_KEY, then the
        /// user's default key, created on first use).
        #[arg(long, conflicts_with = "no_sign")]
        sign_key: Option<PathBuf>,
        /// Do not sign the image.
        #[arg(long)]
        no_sign: bool,
    },
    /// Check ACIs, image manifests and pod manifests; print every error; exit 1 if any.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the manifest of an ACI (after checking the archive layout).
    CatManifest { file: PathBuf },
    /// Lay out a static site serving signed images by appc discovery (see docs/publishing.md).
    Publish(PublishArgs),
}

/// Options of `acbuild build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Recipe files; several are built in parallel.
    pub recipes: Vec<PathBuf>,
    /// Output directory (relative to the current directory).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Compression: gzip (the spec's default), xz, none, or zstd (not in the spec).
    #[arg(long, default_value = "gzip")]
    pub compression: appc::aci::Compression,
    /// Compression threads (0 = every core); the output is the same for every value.
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Print a JSON summary (path, image ID, size, entries) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Always build, even when the cache holds the image of unchanged inputs.
    #[arg(long)]
    pub no_cache: bool,
    /// Sign with this secret key (else ACBUILD_SIGN_KEY, else the default key, made on first use).
    #[arg(long, conflicts_with = "no_sign")]
    pub sign_key: Option<PathBuf>,
    /// Do not sign (acrun refuses unsigned images).
    #[arg(long)]
    pub no_sign: bool,
}

/// Output forms of `acbuild trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    Paths,
    Tree,
    Json,
}

/// Parse the command line, run, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(command) => run(command),
        None if cli.build.recipes.is_empty() => {
            eprintln!("acbuild: give a recipe to build, or a subcommand (see --help)");
            ExitCode::from(2)
        }
        None => run_build(&cli.build),
    }
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("acbuild: {msg}");
    ExitCode::from(code)
}

fn run(command: Command) -> ExitCode {
    match command {
        Command::Build(args) => run_build(&args),
        Command::Check { recipes } => run_check(&recipes),
        Command::Keygen { uid, out } => {
            let dir = match out {
                Some(dir) => dir,
                None => match signing_key::config_dir(&|n| std::env::var_os(n)) {
                    Ok(dir) => dir,
                    Err(e) => return fail_key(&e),
                },
            };
            match signing_key::generate(&uid, &dir) {
                Ok(made) => {
                    println!("{}", made.notice());
                    ExitCode::SUCCESS
                }
                Err(e) => fail_key(&e),
            }
        }
        Command::Sign { aci, sign_key } => {
            let choice = KeyChoice {
                flag: sign_key,
                no_sign: false,
            };
            let key = match SigningKey::resolve(&choice) {
                Ok(Some(key)) => key,
                Ok(None) => return ExitCode::SUCCESS,
                Err(e) => return fail_key(&e),
            };
            announce_new_key(&key);
            match key.sign(&aci) {
                Ok(asc) => {
                    println!("{}", asc.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail_key(&e),
            }
        }
        Command::Trace {
            root,
            format,
            allow_missing,
            files,
        } => run_trace(root, format, allow_missing, &files),
        Command::Pack {
            dir,
            out,
            compression,
            level,
            jobs,
            keep_owner,
            json,
            sign_key,
            no_sign,
        } => {
            // Resolve (and unlock) the key before the work, so a bad key fails fast.
            let choice = KeyChoice {
                flag: sign_key,
                no_sign,
            };
            let key = match SigningKey::resolve(&choice) {
                Ok(key) => key,
                Err(e) => return fail_key(&e),
            };
            if out.extension().is_none_or(|e| e != "aci") {
                return fail(2, format!("{}: output must end in .aci", out.display()));
            }
            let mut opts = match WriteOptions::from_env() {
                Ok(o) => o,
                Err(e) => return fail(2, e),
            };
            opts.compression = compression;
            opts.level = level;
            opts.threads = jobs;
            if !compression.is_standard() {
                eprintln!(
                    "acbuild: warning: {compression} is not an appc compression; actool and rkt reject it"
                );
            }
            let packed = crate::pack::pack(&dir, &out, opts, keep_owner);
            if packed.is_ok() {
                match &key {
                    Some(key) => {
                        announce_new_key(key);
                        if let Err(e) = key.sign(&out) {
                            return fail_key(&e);
                        }
                    }
                    None => eprintln!(
                        "acbuild: warning: --no-sign: {} is not signed; acrun will refuse it",
                        out.display()
                    ),
                }
            }
            match packed {
                Ok(s) if json => {
                    let v = serde_json::json!({
                        "path": out.display().to_string(),
                        "image_id": s.image_id.to_string(),
                        "size": s.compressed_bytes,
                        "entries": s.entries,
                    });
                    println!("{v}");
                    ExitCode::SUCCESS
                }
                Ok(s) => {
                    println!("{}", s.image_id);
                    ExitCode::SUCCESS
                }
                Err(
                    e @ (crate::pack::PackError::NoRootfs(_)
                    | crate::pack::PackError::Special(_)
                    | crate::pack::PackError::Path { .. }
                    | crate::pack::PackError::NotUtf8(_)
                    | crate::pack::PackError::Manifest { .. }),
                ) => fail(2, e),
                Err(e) => fail(1, e),
            }
        }
        Command::Validate { files } => {
            let mut code = ExitCode::SUCCESS;
            for file in &files {
                match crate::validate::validate(file) {
                    Ok(what) => println!("{}: valid {what}", file.display()),
                    Err(e @ crate::validate::Invalid::Unreadable { .. }) => {
                        eprintln!("acbuild validate: {e}");
                        code = ExitCode::from(2);
                    }
                    Err(e) => {
                        for line in e.to_string().lines() {
                            eprintln!("{}: {line}", file.display());
                        }
                        if code == ExitCode::SUCCESS {
                            code = ExitCode::FAILURE;
                        }
                    }
                }
            }
            code
        }
        Command::Publish(args) => run_publish(&args),
        Command::CatManifest { file } => {
            let f = match std::fs::File::open(&file) {
                Ok(f) => f,
                Err(e) => return fail(2, format!("{}: {e}", file.display())),
            };
            match appc::aci::read::read(std::io::BufReader::new(f), ReadOptions::default()) {
                Ok(info) => match std::io::stdout().write_all(&info.manifest) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => fail(1, e),
                },
                Err(e) => fail(2, format!("{}: {e}", file.display())),
            }
        }
    }
}

fn run_check(recipes: &[PathBuf]) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for path in recipes {
        match build::check(path) {
            Ok(warnings) => warnings.iter().for_each(|w| eprintln!("{w}")),
            Err(err) => {
                code = ExitCode::from(if err.is_input_error() { 2 } else { 1 });
                eprintln!("{:?}", miette::Report::new(err));
            }
        }
    }
    code
}

fn run_build(args: &BuildArgs) -> ExitCode {
    if args.recipes.is_empty() {
        eprintln!("acbuild build: give at least one recipe");
        return ExitCode::from(2);
    }
    let mut write = match appc::aci::WriteOptions::from_env() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("acbuild: {e}");
            return ExitCode::from(2);
        }
    };
    write.compression = args.compression;
    write.threads = args.jobs;
    // Resolve (and unlock) the key before the work, so a bad key fails fast.
    let key = match SigningKey::resolve(&KeyChoice {
        flag: args.sign_key.clone(),
        no_sign: args.no_sign,
    }) {
        Ok(key) => key,
        Err(e) => return fail_key(&e),
    };
    if let Some(key) = &key {
        announce_new_key(key);
    }
    let options = BuildOptions {
        out_dir: args.out.clone(),
        write,
        cache: !args.no_cache,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(args.recipes.len() as u64);
        bar.set_message("building");
        bar
    });
    let results: Vec<_> = args
        .recipes
        .par_iter()
        .map(|r| {
            let result = build::build(r, &options);
            if let Some(bar) = &bar {
                bar.inc(1);
            }
            result
        })
        .collect();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut code = ExitCode::SUCCESS;
    let mut summaries = Vec::new();
    for result in results {
        match result {
            Ok(summary) => {
                summary.warnings.iter().for_each(|w| eprintln!("{w}"));
                match &key {
                    Some(key) if !signature_is_current(&summary.path) => {
                        if let Err(e) = key.sign(&summary.path) {
                            eprintln!("acbuild: signing {}: {e}", summary.path.display());
                            code = ExitCode::FAILURE;
                            continue;
                        }
                    }
                    Some(_) => {}
                    None => eprintln!(
                        "acbuild: warning: --no-sign: {} is not signed; acrun will refuse it",
                        summary.path.display()
                    ),
                }
                if !args.json {
                    println!(
                        "{} {} ({} bytes, {} entries)",
                        summary.path.display(),
                        summary.image_id,
                        summary.size,
                        summary.entries
                    );
                }
                summaries.push(summary);
            }
            Err(err) => {
                let this = if err.is_input_error() { 2 } else { 1 };
                if code == ExitCode::SUCCESS || this == 2 {
                    code = ExitCode::from(this);
                }
                eprintln!("{:?}", miette::Report::new(err));
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summaries).unwrap_or_default()
        );
    }
    code
}

fn run_trace(
    root: Option<PathBuf>,
    format: TraceFormat,
    allow_missing: bool,
    files: &[PathBuf],
) -> ExitCode {
    let root = match root {
        None => trace::Root::host(),
        Some(dir) => match trace::Root::new(&dir) {
            Ok(root) => root,
            Err(e) => {
                eprintln!("acbuild trace: --root {}: {e}", dir.display());
                return ExitCode::from(2);
            }
        },
    };
    let closure = match trace::trace(&root, files, &trace::TraceOptions { allow_missing }) {
        Ok(closure) => closure,
        Err(e) => {
            eprintln!("acbuild trace: {e}");
            return ExitCode::from(match e {
                trace::Error::Missing(_) => 1,
                trace::Error::Io { .. }
                | trace::Error::NotExecutable { .. }
                | trace::Error::Parse(_) => 2,
                trace::Error::InterpreterLoop { .. } => 1,
            });
        }
    };
    if format != TraceFormat::Json {
        for (program, hints) in closure.hints() {
            for hint in hints {
                eprintln!("acbuild trace: warning: {}: {hint}", program.display());
            }
        }
        for missing in closure.missing() {
            eprintln!(
                "acbuild trace: warning: {}",
                trace::describe_one_missing(missing)
            );
        }
    }
    let text = match format {
        TraceFormat::Paths => trace::render::paths(&closure),
        TraceFormat::Tree => trace::render::tree(&closure),
        TraceFormat::Json => trace::render::json(&closure),
    };
    print!("{text}");
    ExitCode::SUCCESS
}

/// A cached rebuild republishes the same image file; its signature, written after it, is then
/// still current and signing again would only cost time.
fn signature_is_current(aci: &std::path::Path) -> bool {
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(aci), modified(&appc::sign::signature_path(aci))) {
        (Some(image), Some(sig)) => sig >= image,
        _ => false,
    }
}

/// Tell the user about a default key created on first use (stderr: stdout is for results).
fn announce_new_key(key: &SigningKey) {
    if let KeySource::Created(made) = &key.source {
        eprintln!("acbuild: {}", made.notice());
    }
}

fn fail_key(e: &KeyError) -> ExitCode {
    let usage = matches!(
        e,
        KeyError::BadSourceDateEpoch(_) | KeyError::NoConfigDir | KeyError::NoPassphrase { .. }
    );
    fail(if usage { 2 } else { 1 }, e)
}

// ---- acbuild publish ---------------------------------------------------------------------------

/// Options of `acbuild publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// URL the site will be served at, e.g. https://example.com; image names must lie under its
    /// host and path.
    #[arg(long)]
    pub base_url: String,
    /// Site directory (created; an existing site is added to).
    #[arg(long)]
    pub out: PathBuf,
    /// Armoured public key to publish (repeatable; default: the public half of the signing key,
    /// $ACBUILD_SIGN_KEY or the default key).
    #[arg(long = "pubkey")]
    pub pubkeys: Vec<PathBuf>,
    /// Images, each with its IMAGE.aci.asc signature beside it.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

fn run_publish(args: &PublishArgs) -> ExitCode {
    use crate::publish::{self, BaseUrl, PublishError};
    let base = match BaseUrl::parse(&args.base_url) {
        Ok(b) => b,
        Err(e) => return fail(2, e),
    };
    let mut keys = Vec::new();
    for path in &args.pubkeys {
        match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| appc::sign::PublicKey::from_bytes(&b))
        {
            Ok(k) => keys.push((path.clone(), k)),
            Err(e) => return fail(2, format!("{}: {e}", path.display())),
        }
    }
    if keys.is_empty() {
        match signing_key::current_public(&|n| std::env::var_os(n)) {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {}
            Err(e) => return fail_key(&e),
        }
    }
    match publish::publish(
        &base,
        &args.out,
        &keys,
        &args.images,
        std::time::SystemTime::now(),
    ) {
        Ok(done) => {
            for e in &done.added {
                println!(
                    "{} {} {}/{} -> {}/{}",
                    e.name,
                    e.version,
                    e.os,
                    e.arch,
                    base.as_str(),
                    e.aci
                );
            }
            ExitCode::SUCCESS
        }
        Err(e @ PublishError::Refused { .. }) => fail(2, e),
        Err(e) => fail(1, e),
    }
}

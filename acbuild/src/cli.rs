//! Command-line surface of acbuild: clap definitions, and the one place where errors become
//! messages and exit codes (0 success, 1 failure, 2 usage or input error: [`exit_code`]).
//!
//! Each command parses its flags, calls one library function and renders the result; signing,
//! caching and error kinds live in the library ([`crate::signature`], [`crate::error_kind`]).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rayon::prelude::*;

use crate::build::{self, BuildError, BuildOptions, BuildSummary};
use crate::error_kind::ErrorKind;
use crate::signature::Signature;
use crate::signing_key::{self, KeyChoice, KeySource, SigningKey};
use crate::trace;

use appc::aci::write::DEFAULT_MTIME;
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
    /// Build recipes, then run each `test` block in the image under acrun (a throwaway store
    /// trusting only the signing key); exit 1 if any test fails.
    Test(BuildArgs),
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
    Pack(PackArgs),
    /// Check ACIs, image manifests and pod manifests; print every error; exit 1 if any.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the manifest of an ACI (after checking the archive layout).
    CatManifest { file: PathBuf },
    /// Convert an ACI into an OCI image layout; signs the manifest digest into OUT.sig.
    Oci(OciArgs),
    /// Lay out a static site serving signed images by appc discovery (see docs/publishing.md).
    Publish(PublishArgs),
    /// Create or refresh the lockfile (NAME.lock) of package-mode recipes.
    Lock {
        /// Recipe files.
        #[arg(required = true)]
        recipes: Vec<PathBuf>,
        /// Take .deb files from this directory before the configured Debian sources.
        #[arg(long)]
        deb_dir: Option<PathBuf>,
    },
}

/// Options of `acbuild oci` (issue 15).
#[derive(Debug, Args)]
pub struct OciArgs {
    /// The ACI to convert.
    pub aci: PathBuf,
    /// The layout directory (default: IMAGE.oci beside IMAGE.aci, IMAGE.oci.tar with --archive).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the layout as one tar (what skopeo calls oci-archive).
    #[arg(long)]
    pub archive: bool,
    /// Compression threads (0 = every core); the output is the same for every value.
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Print {path, manifest_digest, layer_digest, ref_name, warnings, signature} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Sign with this secret key (else ACBUILD_SIGN_KEY, else the default key).
    #[arg(long, conflicts_with = "no_sign")]
    pub sign_key: Option<PathBuf>,
    /// Do not sign.
    #[arg(long)]
    pub no_sign: bool,
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
    /// Outputs, comma-separated: aci, oci (an OCI image layout directory NAME.oci),
    /// oci-archive (the same layout as one tar, NAME.oci.tar).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "aci")]
    pub format: Vec<crate::oci::Format>,
    /// After building, run the recipes' `test` blocks under acrun (as `acbuild test` does).
    #[arg(long)]
    pub test: bool,
    /// The acrun program tests run (default: beside acbuild, else on PATH).
    #[arg(long, value_name = "FILE")]
    pub acrun: Option<PathBuf>,
    /// Package mode: fail when the lockfile (NAME.lock beside the recipe) is missing or differs
    /// from the build's inputs; never write it.
    #[arg(long)]
    pub locked: bool,
    /// Package mode: take .deb files from this directory before the configured Debian sources.
    #[arg(long)]
    pub deb_dir: Option<PathBuf>,
}

/// Options of `acbuild pack`.
#[derive(Debug, Args)]
pub struct PackArgs {
    /// The layout directory: `manifest` and `rootfs/`.
    pub dir: PathBuf,
    /// The image to write (`.aci`).
    pub out: PathBuf,
    /// gzip (default), xz, bzip2, none, or zstd (not allowed by the appc spec).
    #[arg(long, default_value = "gzip")]
    pub compression: Compression,
    /// Compression level (codec default if omitted).
    #[arg(long)]
    pub level: Option<u32>,
    /// Compression threads (0 = all cores); the output is the same for any value.
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Keep the files' numeric owners instead of 0:0.
    #[arg(long)]
    pub keep_owner: bool,
    /// Print {path, image_id, size, entries} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Secret key to sign OUT with (writes OUT.asc; default: $ACBUILD_SIGN_KEY, then the
    /// user's default key, created on first use).
    #[arg(long, conflicts_with = "no_sign")]
    pub sign_key: Option<PathBuf>,
    /// Do not sign the image.
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
            exit_code(ErrorKind::Input)
        }
        None => run_build(&cli.build),
    }
}

/// The one mapping from error kinds to exit codes.
fn exit_code(kind: ErrorKind) -> ExitCode {
    ExitCode::from(match kind {
        ErrorKind::Failure => 1,
        ErrorKind::Input => 2,
    })
}

fn fail(kind: ErrorKind, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("acbuild: {msg}");
    exit_code(kind)
}

/// The outcome of a command over several inputs: the worst kind of failure seen, if any.
#[derive(Debug, Default)]
struct Outcome(Option<ErrorKind>);

impl Outcome {
    fn record(&mut self, kind: ErrorKind) {
        self.0 = self.0.max(Some(kind));
    }

    fn exit_code(&self) -> ExitCode {
        self.0.map_or(ExitCode::SUCCESS, exit_code)
    }
}

fn run(command: Command) -> ExitCode {
    match command {
        Command::Build(args) => run_build(&args),
        Command::Test(mut args) => {
            args.test = true;
            run_build(&args)
        }
        Command::Check { recipes } => run_check(&recipes),
        Command::Keygen { uid, out } => run_keygen(&uid, out),
        Command::Sign { aci, sign_key } => run_sign(&aci, sign_key),
        Command::Trace {
            root,
            format,
            allow_missing,
            files,
        } => run_trace(root, format, allow_missing, &files),
        Command::Pack(args) => run_pack(&args),
        Command::Validate { files } => run_validate(&files),
        Command::CatManifest { file } => run_cat_manifest(&file),
        Command::Oci(args) => run_oci(&args),
        Command::Publish(args) => run_publish(&args),
        Command::Lock { recipes, deb_dir } => run_lock(&recipes, deb_dir.as_deref()),
    }
}

fn run_lock(recipes: &[PathBuf], deb_dir: Option<&std::path::Path>) -> ExitCode {
    let mut outcome = Outcome::default();
    for recipe in recipes {
        match build::lock(recipe, deb_dir) {
            Ok(path) => println!("{}", path.display()),
            Err(err) => {
                outcome.record(err.kind());
                render_build_error(err);
            }
        }
    }
    outcome.exit_code()
}

fn run_keygen(uid: &str, out: Option<PathBuf>) -> ExitCode {
    let dir = match out.map_or_else(|| signing_key::config_dir(&|n| std::env::var_os(n)), Ok) {
        Ok(dir) => dir,
        Err(e) => return fail(e.kind(), e),
    };
    match signing_key::generate(uid, &dir) {
        Ok(made) => {
            println!("{}", made.notice());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.kind(), e),
    }
}

fn run_sign(aci: &Path, flag: Option<PathBuf>) -> ExitCode {
    let key = match signing_key_of(flag, false) {
        Ok(Some(key)) => key,
        Ok(None) => return ExitCode::SUCCESS,
        Err(code) => return code,
    };
    match key.sign(aci) {
        Ok(asc) => {
            println!("{}", asc.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.kind(), e),
    }
}

/// Resolve (and unlock) the key before the work, so a bad key fails fast; announce a key made
/// on first use. `None` with `--no-sign`.
fn signing_key_of(flag: Option<PathBuf>, no_sign: bool) -> Result<Option<SigningKey>, ExitCode> {
    let key = SigningKey::resolve(&KeyChoice { flag, no_sign }).map_err(|e| fail(e.kind(), e))?;
    if let Some(SigningKey {
        source: KeySource::Created(made),
        ..
    }) = &key
    {
        // stderr: stdout is for results.
        eprintln!("acbuild: {}", made.notice());
    }
    Ok(key)
}

/// Write options from the flags, dated `SOURCE_DATE_EPOCH` when it is set.
fn write_options(
    compression: Compression,
    level: Option<u32>,
    jobs: usize,
) -> Result<WriteOptions, ExitCode> {
    let mtime = appc::source_date_epoch::from_env().map_err(|e| fail(ErrorKind::Input, e))?;
    Ok(WriteOptions {
        compression,
        level,
        threads: jobs,
        mtime: mtime.unwrap_or(DEFAULT_MTIME),
    })
}

/// acrun refuses unsigned images; say so whenever one is written.
fn warn_if_unsigned(signature: &Signature, aci: &Path) {
    if *signature == Signature::Unsigned {
        eprintln!(
            "acbuild: warning: --no-sign: {} is not signed; acrun will refuse it",
            aci.display()
        );
    }
}

fn run_pack(args: &PackArgs) -> ExitCode {
    let key = match signing_key_of(args.sign_key.clone(), args.no_sign) {
        Ok(key) => key,
        Err(code) => return code,
    };
    let opts = match write_options(args.compression, args.level, args.jobs) {
        Ok(opts) => opts,
        Err(code) => return code,
    };
    if !args.compression.is_standard() {
        eprintln!(
            "acbuild: warning: {} is not an appc compression; actool and rkt reject it",
            args.compression
        );
    }
    let packed =
        crate::pack::pack_signed(&args.dir, &args.out, opts, args.keep_owner, key.as_ref());
    match packed {
        Ok(packed) => {
            warn_if_unsigned(&packed.signature, &args.out);
            if args.json {
                let v = serde_json::json!({
                    "path": args.out.display().to_string(),
                    "image_id": packed.summary.image_id.to_string(),
                    "size": packed.summary.compressed_bytes,
                    "entries": packed.summary.entries,
                });
                println!("{v}");
            } else {
                println!("{}", packed.summary.image_id);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.kind(), e),
    }
}

fn run_validate(files: &[PathBuf]) -> ExitCode {
    let mut outcome = Outcome::default();
    for file in files {
        match crate::validate::validate(file) {
            Ok(what) => println!("{}: valid {what}", file.display()),
            Err(e @ crate::validate::Invalid::Unreadable { .. }) => {
                eprintln!("acbuild validate: {e}");
                outcome.record(e.kind());
            }
            Err(e) => {
                for line in e.to_string().lines() {
                    eprintln!("{}: {line}", file.display());
                }
                outcome.record(e.kind());
            }
        }
    }
    outcome.exit_code()
}

fn run_cat_manifest(file: &Path) -> ExitCode {
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) => return fail(ErrorKind::Input, format!("{}: {e}", file.display())),
    };
    match appc::aci::read::read(std::io::BufReader::new(f), ReadOptions::default()) {
        Ok(info) => match std::io::stdout().write_all(&info.manifest) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(ErrorKind::Failure, e),
        },
        Err(e) => fail(ErrorKind::Input, format!("{}: {e}", file.display())),
    }
}

fn run_check(recipes: &[PathBuf]) -> ExitCode {
    let mut outcome = Outcome::default();
    for path in recipes {
        match build::check(path) {
            Ok(warnings) => warnings.iter().for_each(|w| eprintln!("{w}")),
            Err(err) => {
                outcome.record(err.kind());
                render_build_error(err);
            }
        }
    }
    outcome.exit_code()
}

/// Recipe and build errors are shown with their source (miette); a failed signing as a line.
fn render_build_error(err: BuildError) {
    match err {
        e @ BuildError::Sign { .. } => eprintln!("acbuild: {e}"),
        e => eprintln!("{:?}", miette::Report::new(e)),
    }
}

fn run_build(args: &BuildArgs) -> ExitCode {
    if args.recipes.is_empty() {
        eprintln!("acbuild build: give at least one recipe");
        return exit_code(ErrorKind::Input);
    }
    let write = match write_options(args.compression, None, args.jobs) {
        Ok(write) => write,
        Err(code) => return code,
    };
    let acrun = match args
        .test
        .then(|| crate::image_test::locate_acrun(args.acrun.as_deref()))
        .transpose()
    {
        Ok(acrun) => acrun,
        Err(e) => return fail(e.kind(), e),
    };
    let key = match signing_key_of(args.sign_key.clone(), args.no_sign) {
        Ok(key) => key,
        Err(code) => return code,
    };
    let options = BuildOptions {
        out_dir: args.out.clone(),
        write,
        cache: !args.no_cache,
        packages: crate::package_mode::PackageOptions {
            locked: args.locked,
            deb_dir: args.deb_dir.clone(),
            refresh: false,
        },
    };
    let results = build_with_progress(&args.recipes, &options, key.as_ref());
    render_builds(results, args, key.as_ref(), acrun.as_deref())
}

/// Build every recipe in parallel; on a terminal, a progress bar naming the recipes being built
/// and a line for each one finished.
fn build_with_progress(
    recipes: &[PathBuf],
    options: &BuildOptions,
    key: Option<&SigningKey>,
) -> Vec<Result<BuildSummary, BuildError>> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(recipes.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{elapsed:>4} [{bar:24}] {pos}/{len} {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    });
    let building = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let show = |bar: &indicatif::ProgressBar,
                change: &dyn Fn(&mut std::collections::BTreeSet<String>)| {
        if let Ok(mut set) = building.lock() {
            change(&mut set);
            let names: Vec<&str> = set.iter().map(String::as_str).collect();
            bar.set_message(format!("building {}", names.join(", ")));
        }
    };
    let results = recipes
        .par_iter()
        .map(|r| {
            let name = r.display().to_string();
            let started = std::time::Instant::now();
            if let Some(bar) = &bar {
                show(bar, &|set| {
                    set.insert(name.clone());
                });
            }
            let result = build::build_signed(r, options, key);
            if let Some(bar) = &bar {
                let verdict = if result.is_ok() { "built" } else { "failed" };
                bar.println(format!(
                    "{verdict} {name} in {:.1} s",
                    started.elapsed().as_secs_f64()
                ));
                show(bar, &|set| {
                    set.remove(&name);
                });
                bar.inc(1);
            }
            result
        })
        .collect();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    results
}

fn render_builds(
    results: Vec<Result<BuildSummary, BuildError>>,
    args: &BuildArgs,
    key: Option<&SigningKey>,
    acrun: Option<&Path>,
) -> ExitCode {
    let mut outcome = Outcome::default();
    let signer_time = match oci_signature_time(key) {
        Ok(t) => t,
        Err(e) => return fail(e.kind(), e),
    };
    let mut summaries = Vec::new();
    for result in results {
        match result {
            Ok(summary) => {
                let (json, worst) = render_build(&summary, args, key, signer_time, acrun);
                if let Some(kind) = worst {
                    outcome.record(kind);
                }
                summaries.extend(json);
            }
            Err(err) => {
                outcome.record(err.kind());
                render_build_error(err);
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summaries).unwrap_or_default()
        );
    }
    outcome.exit_code()
}

/// Report one built image: warnings, its tests (before an OCI conversion that may remove the
/// ACI), its OCI forms, its line; its JSON summary (`None` when the OCI step failed) and the
/// worst failure met.
fn render_build(
    summary: &BuildSummary,
    args: &BuildArgs,
    key: Option<&SigningKey>,
    signer_time: Option<std::time::SystemTime>,
    acrun: Option<&Path>,
) -> (Option<serde_json::Value>, Option<ErrorKind>) {
    let keep_aci = args.format.contains(&crate::oci::Format::Aci);
    summary.warnings.iter().for_each(|w| eprintln!("{w}"));
    if keep_aci {
        warn_if_unsigned(&summary.signature, &summary.path);
    }
    let mut worst = None;
    let tests = match acrun.map(|acrun| test_image(acrun, summary, key, args.json)) {
        Some(Ok(reports)) => {
            if reports.iter().any(|r| !r.passed) {
                worst = Some(ErrorKind::Failure);
            }
            Some(reports)
        }
        Some(Err(kind)) => {
            worst = Some(kind);
            None
        }
        None => None,
    };
    let signer = key.zip(signer_time).map(|(k, t)| (&k.key, t));
    let oci = match emit_oci(summary, args, signer) {
        Ok(oci) => oci,
        Err(kind) => return (None, worst.max(Some(kind))),
    };
    if !args.json {
        if keep_aci {
            println!(
                "{} {} ({} bytes, {} entries)",
                summary.path.display(),
                summary.image_id,
                summary.size,
                summary.entries
            );
        }
        oci.iter().for_each(print_oci);
    }
    let mut json = build_json(summary, &oci, keep_aci);
    if let Some(reports) = tests {
        json["tests"] = serde_json::to_value(&reports).unwrap_or_default();
    }
    (Some(json), worst)
}

/// Run the recipe's tests against its built image under acrun; print each report (on stderr
/// when stdout carries JSON).
fn test_image(
    acrun: &Path,
    summary: &BuildSummary,
    key: Option<&SigningKey>,
    json: bool,
) -> Result<Vec<crate::image_test::TestReport>, ErrorKind> {
    use crate::image_test::{self, render};
    let recipe = crate::recipe::load(&summary.recipe).map_err(|e| {
        eprintln!("{:?}", miette::Report::new(e));
        ErrorKind::Input
    })?;
    let public = key
        .map(|k| k.key.armored_public())
        .transpose()
        .map_err(|e| {
            eprintln!("acbuild: the public half of the signing key: {e}");
            ErrorKind::Failure
        })?;
    let name = &recipe.image.name.value;
    if public.is_none() && !recipe.image.tests.is_empty() {
        eprintln!(
            "acbuild: warning: --no-sign: {name}'s tests run it with --insecure-options=image"
        );
    }
    let reports = image_test::run_tests(
        acrun,
        &summary.path,
        name,
        &recipe.image.tests,
        public.as_deref(),
    )
    .map_err(|e| {
        eprintln!("acbuild: testing {}: {e}", summary.path.display());
        e.kind()
    })?;
    let text: String = reports.iter().map(|r| render::report(name, r)).collect();
    let text = format!("{text}{}: {}\n", name, render::summary(&reports));
    if json {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    Ok(reports)
}

/// The OCI forms `--format` asks for, converted from the built ACI and signed; warnings printed.
fn emit_oci(
    summary: &BuildSummary,
    args: &BuildArgs,
    signer: Option<crate::oci::Signer<'_>>,
) -> Result<Vec<crate::oci::OciSummary>, ErrorKind> {
    let oci =
        crate::oci::emit_beside(&summary.path, &args.format, args.jobs, signer).map_err(|e| {
            eprintln!("acbuild: {e}");
            e.kind()
        })?;
    print_oci_warnings(&oci);
    if signer.is_none() {
        for o in &oci {
            eprintln!(
                "acbuild: warning: --no-sign: {} is not signed",
                o.path.display()
            );
        }
    }
    Ok(oci)
}

/// One build's JSON summary: the ACI's (without `path` when the ACI was not kept) and its OCI forms.
fn build_json(
    summary: &BuildSummary,
    oci: &[crate::oci::OciSummary],
    keep_aci: bool,
) -> serde_json::Value {
    let mut value = serde_json::to_value(summary).unwrap_or_default();
    if !oci.is_empty() {
        value["oci"] = serde_json::to_value(oci).unwrap_or_default();
    }
    if !keep_aci && let Some(v) = value.as_object_mut() {
        v.remove("path");
    }
    value
}

/// `acbuild oci` (issue 15): convert, sign, report.
fn run_oci(args: &OciArgs) -> ExitCode {
    let key = match signing_key_of(args.sign_key.clone(), args.no_sign) {
        Ok(key) => key,
        Err(code) => return code,
    };
    let time = match oci_signature_time(key.as_ref()) {
        Ok(t) => t,
        Err(e) => return fail(e.kind(), e),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| crate::oci::output_path(&args.aci, args.archive));
    let opts = crate::oci::OciOptions {
        archive: args.archive,
        threads: args.jobs,
        level: None,
    };
    let signer = key.as_ref().zip(time).map(|(k, t)| (&k.key, t));
    match crate::oci::convert_signed(&args.aci, &out, &opts, signer) {
        Ok(summary) => {
            print_oci_warnings(std::slice::from_ref(&summary));
            if args.json {
                println!("{}", serde_json::to_value(&summary).unwrap_or_default());
            } else {
                print_oci(&summary);
            }
            if key.is_none() {
                eprintln!(
                    "acbuild: warning: --no-sign: {} is not signed",
                    out.display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.kind(), e),
    }
}

/// The signature time of OCI signatures when there is a key (SOURCE_DATE_EPOCH, else now).
fn oci_signature_time(
    key: Option<&SigningKey>,
) -> Result<Option<std::time::SystemTime>, signing_key::KeyError> {
    key.map(|_| signing_key::signature_time(std::env::var_os("SOURCE_DATE_EPOCH")))
        .transpose()
}

/// The warnings of the first OCI output (every form of one image has the same).
fn print_oci_warnings(outputs: &[crate::oci::OciSummary]) {
    if let Some(first) = outputs.first() {
        for w in &first.warnings {
            eprintln!("acbuild: warning: {}: {w}", first.path.display());
        }
    }
}

fn print_oci(summary: &crate::oci::OciSummary) {
    println!(
        "{} {} (ref {})",
        summary.path.display(),
        summary.manifest_digest,
        summary.ref_name
    );
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
                return exit_code(ErrorKind::Input);
            }
        },
    };
    let closure = match trace::trace(&root, files, &trace::TraceOptions { allow_missing }) {
        Ok(closure) => closure,
        Err(e) => {
            eprintln!("acbuild trace: {e}");
            return exit_code(e.kind());
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
    use crate::publish::{self, BaseUrl};
    let base = match BaseUrl::parse(&args.base_url) {
        Ok(b) => b,
        Err(e) => return fail(ErrorKind::Input, e),
    };
    let mut keys = Vec::new();
    for path in &args.pubkeys {
        match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| appc::sign::PublicKey::from_bytes(&b))
        {
            Ok(k) => keys.push((path.clone(), k)),
            Err(e) => return fail(ErrorKind::Input, format!("{}: {e}", path.display())),
        }
    }
    if keys.is_empty() {
        match signing_key::current_public(&|n| std::env::var_os(n)) {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {}
            Err(e) => return fail(e.kind(), e),
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
        Err(e) => fail(e.kind(), e),
    }
}

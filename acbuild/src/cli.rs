//! Command-line surface of acbuild: clap definitions, and the one place where errors become
//! messages and exit codes (0 success, 1 failure, 2 usage or input error).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rayon::prelude::*;

use crate::build::{self, BuildOptions};
use crate::trace;

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
    #[arg(long, default_value = "gzip", value_parser = build::parse_compression)]
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

fn run(command: Command) -> ExitCode {
    match command {
        Command::Build(args) => run_build(&args),
        Command::Check { recipes } => run_check(&recipes),
        Command::Trace {
            root,
            format,
            allow_missing,
            files,
        } => run_trace(root, format, allow_missing, &files),
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

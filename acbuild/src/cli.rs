//! Command-line surface of acbuild: clap definitions, and the one place where errors become
//! messages and exit codes (0 success, 1 failure, 2 usage or input error).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::trace;

/// Build minimal, reproducible, signed App Container Images.
#[derive(Debug, Parser)]
#[command(name = "acbuild", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
    run(cli.command)
}

fn run(command: Command) -> ExitCode {
    match command {
        Command::Trace {
            root,
            format,
            allow_missing,
            files,
        } => run_trace(root, format, allow_missing, &files),
    }
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

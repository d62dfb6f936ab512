//! Command-line surface of acbuild: clap definitions, and the one place where errors become
//! messages and exit codes (0 success, 1 failure, 2 usage or input error).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::recipe;

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
    /// Parse and check recipes (syntax, language rules, manifest rules, host inputs, the rootfs
    /// plan) without writing anything.
    Check {
        /// Recipe files.
        #[arg(required = true)]
        recipes: Vec<PathBuf>,
    },
}

/// Parse the command line, run, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli.command)
}

fn run(command: Command) -> ExitCode {
    match command {
        Command::Check { recipes } => check(&recipes),
    }
}

fn check(recipes: &[PathBuf]) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for path in recipes {
        // Every failure here is a problem with the user's input: exit 2.
        if let Err(report) = check_one(path) {
            code = ExitCode::from(2);
            eprintln!("{report:?}");
        }
    }
    code
}

fn check_one(path: &std::path::Path) -> Result<(), miette::Report> {
    let recipe = recipe::load(path)?;
    crate::image_manifest::image_manifest(&recipe)?;
    let plan = crate::plan::plan(&recipe, std::path::Path::new("/"))?;
    for (span, warning) in &plan.warnings {
        let (line, col) = recipe::line_col(&recipe.source, span.offset());
        eprintln!("warning: {}:{line}:{col}: {warning}", path.display());
    }
    Ok(())
}

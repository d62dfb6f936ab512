//! Command-line surface of acbuild: clap definitions, and the one place where errors become
//! messages and exit codes (0 success, 1 failure, 2 usage or input error).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build minimal, reproducible, signed App Container Images.
#[derive(Debug, Parser)]
#[command(name = "acbuild", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {}

/// Parse the command line, run, and map the outcome to an exit code.
#[allow(unreachable_code, unused_variables)] // until the first subcommand lands
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli.command)
}

fn run(command: Command) -> ExitCode {
    match command {}
}

//! Command-line surface of acbuild: clap definitions, and the one place where errors become
//! messages and exit codes (0 success, 1 failure, 2 usage or input error).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::signing_key::{self, KeyChoice, KeyError, KeySource, SigningKey};

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
}

/// Parse the command line, run, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli.command)
}

fn run(command: Command) -> ExitCode {
    match command {
        Command::Keygen { uid, out } => {
            let dir = match out {
                Some(dir) => dir,
                None => match signing_key::config_dir(&|n| std::env::var_os(n)) {
                    Ok(dir) => dir,
                    Err(e) => return fail(&e),
                },
            };
            match signing_key::generate(&uid, &dir) {
                Ok(made) => {
                    println!("{}", made.notice());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
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
                Err(e) => return fail(&e),
            };
            announce_new_key(&key);
            match key.sign(&aci) {
                Ok(asc) => {
                    println!("{}", asc.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
    }
}

/// Tell the user about a default key created on first use (stderr: stdout is for results).
fn announce_new_key(key: &SigningKey) {
    if let KeySource::Created(made) = &key.source {
        eprintln!("acbuild: {}", made.notice());
    }
}

fn fail(e: &KeyError) -> ExitCode {
    eprintln!("acbuild: {e}");
    let usage = matches!(
        e,
        KeyError::BadSourceDateEpoch(_) | KeyError::NoConfigDir | KeyError::NoPassphrase { .. }
    );
    ExitCode::from(if usage { 2 } else { 1 })
}

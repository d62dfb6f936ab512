//! Command-line surface of acrun: clap definitions, and the one place where errors become
//! messages and exit codes (0 success, 1 failure, 2 usage or input error).

use std::path::PathBuf;
use std::process::ExitCode;

use appc::untrusted_text::escape_keeping_layout;
use clap::{Args, Parser, Subcommand};

use crate::trust_cmd::{self, TrustAction};
use crate::verify_cmd;

/// Verify, store and run App Container Images.
#[derive(Debug, Parser)]
#[command(name = "acrun", version, about)]
pub struct Cli {
    /// State directory (trust store, image store, pods).
    #[arg(
        long,
        global = true,
        env = "ACRUN_DIR",
        default_value = "/var/lib/acrun"
    )]
    pub dir: PathBuf,
    /// Read-only system trust store.
    #[arg(
        long,
        global = true,
        env = "ACRUN_SYSTEM_TRUST_DIR",
        default_value = "/etc/acrun/trustedkeys"
    )]
    pub system_trust_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Trust a public key for an image-name prefix or for all images; list or remove trust.
    Trust(TrustArgs),
    /// Check an image's signature against the trust policy (nothing is stored or run).
    Verify {
        /// The image.
        aci: PathBuf,
        /// The detached signature (default: IMAGE.asc beside the image).
        #[arg(long)]
        signature: Option<PathBuf>,
    },
}

/// `acrun trust` flags: exactly one action.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["prefix", "root", "list", "remove"])))]
pub struct TrustArgs {
    /// Trust KEYFILE for images whose name is PREFIX or below it (on `/` boundaries).
    #[arg(long, requires = "keyfile")]
    pub prefix: Option<String>,
    /// Trust KEYFILE for all images.
    #[arg(long, requires = "keyfile")]
    pub root: bool,
    /// List trusted keys (system store first).
    #[arg(long)]
    pub list: bool,
    /// Remove every trust of the key with this fingerprint from the writable store.
    #[arg(long, value_name = "FINGERPRINT")]
    pub remove: Option<String>,
    /// Armoured or binary OpenPGP public key.
    #[arg(conflicts_with_all = ["list", "remove"])]
    pub keyfile: Option<PathBuf>,
}

/// Parse the command line, run, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let trust_dir = cli.dir.join("trustedkeys");
    let store = appc::trust::TrustStore::new(trust_dir, Some(cli.system_trust_dir));
    let outcome = match cli.command {
        Command::Trust(args) => {
            let action = match (args.prefix, args.root, args.list, args.remove, args.keyfile) {
                (Some(prefix), _, _, _, Some(key)) => TrustAction::Prefix { prefix, key },
                (None, true, _, _, Some(key)) => TrustAction::Root { key },
                (_, _, true, _, _) => TrustAction::List,
                (_, _, _, Some(fingerprint), _) => TrustAction::Remove { fingerprint },
                _ => {
                    eprintln!(
                        "acrun trust: give --prefix PREFIX KEYFILE, --root KEYFILE, --list or --remove FINGERPRINT"
                    );
                    return ExitCode::from(2);
                }
            };
            trust_cmd::run(&store, action).map_err(Failure::from)
        }
        Command::Verify { aci, signature } => {
            verify_cmd::run(&store, &aci, signature.as_deref()).map_err(Failure::from)
        }
    };
    match outcome {
        // Untrusted parts (user IDs, store file names, revocation reasons) are escaped where
        // they are formatted; escaping the whole text again is the second line of defence.
        Ok(report) => {
            print!("{}", escape_keeping_layout(&report));
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("acrun: {}", escape_keeping_layout(&failure.message));
            ExitCode::from(if failure.usage { 2 } else { 1 })
        }
    }
}

/// An error on its way to the user: its message and whether it was the user's input.
#[derive(Debug)]
struct Failure {
    message: String,
    usage: bool,
}

impl From<trust_cmd::TrustCmdError> for Failure {
    fn from(e: trust_cmd::TrustCmdError) -> Failure {
        Failure {
            usage: e.is_usage(),
            message: e.to_string(),
        }
    }
}

impl From<verify_cmd::VerifyError> for Failure {
    fn from(e: verify_cmd::VerifyError) -> Failure {
        Failure {
            usage: e.is_usage(),
            message: e.to_string(),
        }
    }
}

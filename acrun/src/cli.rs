//! Command-line surface of acrun: clap definitions, and the one place where errors become
//! messages and exit codes (0 success, 1 failure, 2 usage or input error).

use std::path::PathBuf;
use std::process::ExitCode;

use appc::untrusted_text::escape_keeping_layout;
use clap::{Args, Parser, Subcommand};

use crate::fetch::FetchOptions;
use crate::image_cmd::{self, Insecure};
use crate::pod::spec::ImageInfo;
use crate::pod_cmd;
use crate::run_cmd::{self, RunArgs};
use crate::store::Store;
use crate::trust_cmd::{self, TrustAction};
use crate::verify_cmd;

/// Verify, store and run App Container Images.
#[derive(Debug, Parser)]
#[command(name = "acrun", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// `acrun run` on its own: the same global options and the same `run` subcommand as [`Cli`],
/// parsed without building clap's description of every other subcommand, which cost 0.3 ms of
/// each pod start. [`main`] uses it when `run` is the first argument; anything else (global
/// options first, another subcommand, `--help`) goes through [`Cli`].
#[derive(Debug, Parser)]
#[command(name = "acrun", version, about)]
struct RunCli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: RunOnly,
}

#[derive(Debug, Subcommand)]
enum RunOnly {
    #[command(about = RUN_ABOUT)]
    Run(RunCommand),
}

const RUN_ABOUT: &str = "Run a pod: `[POD FLAGS] IMAGE [APP FLAGS] [-- ARGS] [--- IMAGE ...]`; \
exits with the (first failing) app's code, 128+N for signal N, 254 for acrun's own failures";

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Global {
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
        /// Also decompress and check every entry of the archive (by default it is read up to
        /// the manifest; the rest is hashed for the signature, as gpg does).
        #[arg(long)]
        full: bool,
    },
    /// Fetch images (file paths or http(s) URLs) into the store, verified; prints each image ID.
    Fetch {
        /// `.aci` files, `https://` URLs (signature at IMAGE.asc), or image names
        /// `NAME[:VERSION][,LABEL=VALUE]...` found by appc discovery.
        #[arg(required = true)]
        images: Vec<String>,
        /// For names: `missing` (the store first), `always` or `never` (store only).
        #[arg(long, value_enum, default_value = "missing")]
        pull: crate::discovery::Pull,
        /// The detached signature of the image (only with one IMAGE).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Comma-separated checks to turn off: `http` (allow plain http), `image` (no signature).
        #[arg(long, value_name = "OPTIONS", value_parser = Insecure::parse, default_value = "")]
        insecure_options: Insecure,
        /// Print JSON records instead of IDs.
        #[arg(long)]
        json: bool,
    },
    /// Inspect and manage stored images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Remove exited pods, then unreferenced trees and blobs and dead imports' temporary files.
    Gc,
    // --- pods (issue 10: run, list, status, stop; gc above also removes exited pods) ---
    #[command(about = RUN_ABOUT)]
    Run(RunCommand),
    /// List pods.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a pod's state and per-app exit codes.
    Status {
        /// Pod UUID (or unique prefix).
        uuid: String,
    },
    /// Pod identity on the host: verify a pod's HMAC signature, rotate the store's key.
    #[command(subcommand)]
    Metadata(crate::metadata_cmd::MetadataCommand),
    /// Stop a pod: SIGTERM to its apps, SIGKILL after the timeout.
    Stop {
        /// Pod UUID (or unique prefix).
        uuid: String,
        /// Seconds to wait before SIGKILL.
        #[arg(long, default_value = "10")]
        timeout: u64,
    },
    /// Run a command in a running app with exactly its namespaces, root, user, capabilities,
    /// seccomp filter, no-new-privileges and cgroups; exits with the command's code.
    Enter {
        /// Pod UUID (or unique prefix).
        uuid: String,
        /// The app (required when the pod has several).
        #[arg(long)]
        app: Option<String>,
        /// Give the command a terminal of the pod's own, relayed to acrun's (when acrun's stdin
        /// is a terminal), as `acrun run --interactive` does.
        #[arg(long)]
        interactive: bool,
        /// The command and its arguments (default: /bin/sh).
        #[arg(last = true, value_name = "CMD")]
        cmd: Vec<String>,
    },
}

/// `acrun image` subcommands. IMAGE is an image ID, a unique ID prefix, NAME[,LABEL=VALUE...]
/// or NAME:VERSION.
/// `acrun run`'s arguments.
#[derive(Debug, Args)]
pub struct RunCommand {
    #[command(flatten)]
    pod: RunArgs,
    /// For images given by name: `missing` (the store first, then discovery), `always`
    /// (discover and fetch) or `never` (the store only).
    #[arg(long, value_enum, default_value = "missing")]
    pull: crate::discovery::Pull,
    /// Comma-separated checks to turn off: `http` (allow plain http), `image` (no signature).
    #[arg(long, value_name = "OPTIONS", value_parser = Insecure::parse, default_value = "")]
    insecure_options: Insecure,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List stored images.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove images.
    Rm {
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Print an image's manifest.
    CatManifest {
        image: String,
        /// Also list the image's setuid and setgid files.
        #[arg(long)]
        files: bool,
    },
    /// Write the image exactly as fetched (and its signature beside it).
    Export { image: String, out: PathBuf },
    /// Write the image's root filesystem, dependencies applied, into DIR (new or empty).
    Render {
        image: String,
        #[arg(value_name = "DIR")]
        dest: PathBuf,
        /// `image`: accept an image that the current trust policy does not admit.
        #[arg(long, value_name = "OPTIONS", value_parser = Insecure::parse, default_value = "")]
        insecure_options: Insecure,
    },
    /// Re-check the stored tree against the stored archive.
    Verify { image: String },
}

/// `acrun trust` flags: exactly one action.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["prefix", "root", "list", "remove"])))]
pub struct TrustArgs {
    /// Trust KEYFILE for images whose name is PREFIX or below it (on `/` boundaries); without
    /// KEYFILE, discover the keys PREFIX publishes (ac-discovery-pubkeys) and ask.
    #[arg(long)]
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
    /// Trust discovered keys without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// `http`: allow plain http for key discovery.
    #[arg(long, value_name = "OPTIONS", value_parser = Insecure::parse, default_value = "")]
    pub insecure_options: Insecure,
}

/// Parse the command line, run, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "run") {
        let RunCli {
            global,
            command: RunOnly::Run(run),
        } = RunCli::parse();
        let store = trust_store(&global);
        return run_pod(&global.dir, &store, &run);
    }
    let cli = Cli::parse();
    let store = trust_store(&cli.global);
    let dir = cli.global.dir;
    let outcome = match cli.command {
        Command::Trust(args) if args.prefix.is_some() && args.keyfile.is_none() => {
            let prefix = args.prefix.unwrap_or_default();
            crate::auth::Credentials::load(&dir.join("auth.d"))
                .map_err(crate::discovery::DiscoverError::from)
                .and_then(|auth| {
                    crate::discovery::trust_by_discovery(
                        &store,
                        &prefix,
                        args.yes,
                        args.insecure_options.http,
                        &auth,
                    )
                })
                .map_err(Failure::from)
        }
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
        Command::Verify {
            aci,
            signature,
            full,
        } => verify_cmd::run(&store, &aci, signature.as_deref(), full).map_err(Failure::from),
        Command::Fetch {
            images,
            signature,
            pull,
            insecure_options,
            json,
        } if images.iter().any(|i| crate::discovery::is_name(i)) => {
            if signature.is_some() {
                eprintln!("acrun fetch: --signature is for files and URLs, not names");
                return ExitCode::from(2);
            }
            let auth = match crate::auth::Credentials::load(&dir.join("auth.d")) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("acrun: {e}");
                    return ExitCode::from(2);
                }
            };
            let opts = FetchOptions {
                signature: None,
                insecure_http: insecure_options.http,
                progress: !json,
                auth,
            };
            open_store(&dir).and_then(|images_store| {
                fetch_names(
                    &images_store,
                    &store,
                    &images,
                    pull,
                    &opts,
                    insecure_options,
                    json,
                )
            })
        }
        Command::Fetch {
            images,
            signature,
            pull: _,
            insecure_options,
            json,
        } => {
            if signature.is_some() && images.len() != 1 {
                eprintln!("acrun fetch: --signature needs exactly one IMAGE");
                return ExitCode::from(2);
            }
            let auth = match crate::auth::Credentials::load(&dir.join("auth.d")) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("acrun: {e}");
                    return ExitCode::from(2);
                }
            };
            let opts = FetchOptions {
                signature,
                insecure_http: insecure_options.http,
                progress: !json,
                auth,
            };
            open_store(&dir).and_then(|images_store| {
                image_cmd::fetch(
                    &images_store,
                    &store,
                    &images,
                    &opts,
                    insecure_options,
                    json,
                )
                .map_err(Failure::from)
            })
        }
        Command::Image(cmd) => open_store(&dir)
            .and_then(|images| image(&dir, &images, &store, cmd).map_err(Failure::from)),
        Command::Gc => pod_cmd::gc(&dir).map_err(Failure::from).and_then(|pods| {
            open_store(&dir)
                .and_then(|images| {
                    let in_use = crate::pod::pins::in_use(&dir);
                    image_cmd::gc(&images, &in_use).map_err(Failure::from)
                })
                .map(|images| pods + &images)
        }),
        // --- pods ---
        Command::Run(run) => return run_pod(&dir, &store, &run),
        Command::List { json } => pod_cmd::list(&dir, json).map_err(Failure::from),
        Command::Metadata(cmd) => crate::metadata_cmd::run(&dir, &cmd).map_err(|e| Failure {
            usage: e.is_usage(),
            message: e.to_string(),
        }),
        Command::Status { uuid } => pod_cmd::status(&dir, &uuid).map_err(Failure::from),
        Command::Stop { uuid, timeout } => {
            pod_cmd::stop(&dir, &uuid, std::time::Duration::from_secs(timeout))
                .map_err(Failure::from)
        }
        Command::Enter {
            uuid,
            app,
            interactive,
            cmd,
        } => {
            return crate::enter_cmd::main(&dir, &uuid, app.as_deref(), interactive, &cmd);
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

/// `acrun run`: resolves images as `acrun fetch` does ([`crate::discovery::obtain`]: names
/// through the store, then discovery per `pull`; paths and URLs fetched), runs the pod and exits
/// with its code; 254 for acrun's own failures, 2 for usage errors.
fn run_pod(dir: &std::path::Path, trust: &appc::trust::TrustStore, run: &RunCommand) -> ExitCode {
    let (args, pull, insecure) = (&run.pod, run.pull, run.insecure_options);
    let fail = |code: u8, message: String| {
        eprintln!("acrun: {message}");
        ExitCode::from(code)
    };
    let images = match Store::open(dir) {
        Ok(s) => s,
        Err(e) => return fail(254, e.to_string()),
    };
    let judge = match image_cmd::judge(trust, insecure) {
        Ok(j) => j,
        Err(e) => return fail(254, e.to_string()),
    };
    let auth = match crate::auth::Credentials::load(&dir.join("auth.d")) {
        Ok(a) => a,
        Err(e) => return fail(2, e.to_string()),
    };
    let opts = FetchOptions {
        insecure_http: insecure.http,
        auth,
        ..FetchOptions::default()
    };
    let mut resolve = |reference: &str| -> Result<ImageInfo, String> {
        let record = crate::discovery::obtain(&images, judge.as_ref(), reference, pull, &opts)
            .map_err(|e| e.to_string())?;
        let r = images
            .render(&record.id, judge.as_ref())
            .map_err(|e| e.to_string())?;
        let stored = images.layout().tree(&r.id).join("manifest");
        let manifest_json =
            std::fs::read(&stored).map_err(|e| format!("{}: {e}", stored.display()))?;
        Ok(ImageInfo {
            id: r.id.to_string(),
            manifest: r.manifest,
            manifest_json,
            rootfs: r.rootfs,
        })
    };
    match run_cmd::run(dir, args, &mut resolve) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(254)),
        Err(e) if e.is_usage() => fail(2, e.to_string()),
        Err(e) => fail(254, e.to_string()),
    }
}

/// The trust store under `--dir`, with the system one beside it.
fn trust_store(global: &Global) -> appc::trust::TrustStore {
    appc::trust::TrustStore::new(
        global.dir.join("trustedkeys"),
        Some(global.system_trust_dir.clone()),
    )
}

fn open_store(dir: &std::path::Path) -> Result<Store, Failure> {
    Store::open(dir).map_err(|e| Failure {
        usage: false,
        message: e.to_string(),
    })
}

fn image(
    dir: &std::path::Path,
    images: &Store,
    trust: &appc::trust::TrustStore,
    cmd: ImageCommand,
) -> Result<String, image_cmd::ImageCmdError> {
    match cmd {
        ImageCommand::List { json } => image_cmd::list(images, json),
        ImageCommand::Rm { images: refs } => {
            image_cmd::remove(images, &refs, &crate::pod::pins::in_use(dir))
        }
        ImageCommand::CatManifest { image, files } => {
            image_cmd::cat_manifest(images, &image, files)
        }
        ImageCommand::Export { image, out } => image_cmd::export(images, &image, &out),
        ImageCommand::Render {
            image,
            dest,
            insecure_options,
        } => image_cmd::render(images, trust, &image, &dest, insecure_options),
        ImageCommand::Verify { image } => image_cmd::verify(images, &image),
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

impl From<image_cmd::ImageCmdError> for Failure {
    fn from(e: image_cmd::ImageCmdError) -> Failure {
        Failure {
            usage: e.is_usage(),
            message: e.to_string(),
        }
    }
}

// ---- fetch by name (appc discovery) -------------------------------------------------------------

/// Fetches each argument: names through discovery, files and URLs as `acrun fetch` always did.
fn fetch_names(
    images: &Store,
    trust: &appc::trust::TrustStore,
    args: &[String],
    pull: crate::discovery::Pull,
    opts: &FetchOptions,
    insecure: Insecure,
    json: bool,
) -> Result<String, Failure> {
    let judge = image_cmd::judge(trust, insecure).map_err(Failure::from)?;
    let mut records = Vec::new();
    for arg in args {
        let record = crate::discovery::obtain(images, judge.as_ref(), arg, pull, opts)
            .map_err(Failure::from)?;
        records.push(record);
    }
    if json {
        let mut text = serde_json::to_string_pretty(&records).unwrap_or_default();
        text.push('\n');
        return Ok(text);
    }
    Ok(records.iter().map(|r| format!("{}\n", r.id)).collect())
}

impl From<crate::discovery::DiscoverError> for Failure {
    fn from(e: crate::discovery::DiscoverError) -> Failure {
        Failure {
            usage: e.is_usage(),
            message: e.to_string(),
        }
    }
}

impl From<pod_cmd::PodCmdError> for Failure {
    fn from(e: pod_cmd::PodCmdError) -> Failure {
        Failure {
            usage: e.is_usage(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn run_help(mut root: clap::Command) -> String {
        root.build();
        let run = root.find_subcommand_mut("run").expect("a run subcommand");
        run.render_long_help().to_string()
    }

    /// The fast path for `acrun run` accepts and documents exactly what the full parser does.
    #[test]
    fn run_alone_parses_like_the_full_command_line() {
        assert_eq!(run_help(RunCli::command()), run_help(Cli::command()));
        let args = [
            "acrun",
            "run",
            "--net=host",
            "--insecure-options=image",
            "example.com/a",
            "--exec=/x",
            "---",
            "example.com/b",
        ];
        let RunCli {
            command: RunOnly::Run(fast),
            global,
        } = RunCli::try_parse_from(args).unwrap();
        let Ok(Cli {
            command: Command::Run(full),
            global: full_global,
        }) = Cli::try_parse_from(args)
        else {
            panic!("the full parser took another subcommand");
        };
        assert_eq!(format!("{fast:?}"), format!("{full:?}"));
        assert_eq!(format!("{global:?}"), format!("{full_global:?}"));
        // A control: the comparison sees a difference in the arguments.
        let other = RunCli::try_parse_from(["acrun", "run", "example.com/a"]).unwrap();
        assert_ne!(
            format!("{:?}", other.command),
            format!("{:?}", RunOnly::Run(full))
        );
    }
}

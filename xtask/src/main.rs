//! Project automation, run as `cargo xtask TASK` (alias in `.cargo/config.toml`).
//!
//! - `deps [--install]`: check (or, as root, install) the Debian packages in `debian-packages.txt`.
//! - `test`: arrange the packages, then run the whole test suite (`cargo test --workspace`), then
//!   the appc ACE validator pod under the shipped `acrun` ([`shipped`];
//!   `../shared/conformance/ace/run.sh`).
//! - `image RECIPE...`: arrange the packages, build acbuild in release mode and build the recipes.
//! - `release [--sign-key FILE] [--base-url URL]... [--skip-tests] [--json]`: see [`release`].
//! - `bench [NAME...]`: release binaries (and the shipped ones, [`shipped`]), then the side-by-side
//!   benchmarks, BENCHMARKS.md's tables rewritten: see [`bench`].
//!
//! The workspace is the nearest directory above the current one holding
//! `xtask/debian-packages.txt` (so a copy of the repository releases itself), else the one this
//! program was built from.

mod bench;
mod release;
mod shipped;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

const PACKAGES: &str = include_str!("../debian-packages.txt");

/// Project automation.
#[derive(Debug, Parser)]
#[command(name = "xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Check (with --install: install, as root) the Debian packages the workspace needs.
    Deps {
        #[arg(long)]
        install: bool,
    },
    /// Arrange the packages, then run the whole test suite.
    Test,
    /// Build acbuild in release mode, then `acbuild ARGS...`.
    Image {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build, test, check and sign a release into dist/ (tarballs, images, SHA512SUMS, site).
    Release(release::ReleaseArgs),
    /// Run side-by-side benchmarks (default: all) and rewrite their tables in BENCHMARKS.md.
    Bench { names: Vec<String> },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> Result<()> {
    let root = workspace_root();
    match task {
        Task::Deps { install } => ensure_packages(install),
        Task::Test => {
            ensure_packages(true)?;
            cargo(&root, &["test", "--workspace"])?;
            ace_validator(&root)
        }
        Task::Image { args } => {
            ensure_packages(true)?;
            cargo(&root, &["build", "--release", "-p", "acbuild"])?;
            let acbuild = target_dir(&root).join("release/acbuild");
            status(Command::new(acbuild).args(&args))
        }
        Task::Release(args) => {
            ensure_packages(true)?;
            release::run(&root, &args)
        }
        Task::Bench { names } => {
            ensure_packages(true)?;
            cargo(&root, &["build", "--release", "--workspace"])?;
            let shipped = shipped::build(&root, &["acrun", "acbuild"])?;
            bench::run(&root, &names, &shipped)
        }
    }
}

/// The appc ACE validator (main + sidekick pod, pre-start and post-stop, the metadata service)
/// from the project's shared conformance kit beside the checkout (or, for a checkout elsewhere,
/// its copy in `testdata/ace-kit`), run under a release acrun.
fn ace_validator(root: &Path) -> Result<()> {
    let shared = root.join("../shared/conformance/ace/run.sh");
    let script = if shared.is_file() {
        shared
    } else {
        let copy = root.join("testdata/ace-kit/run.sh");
        eprintln!(
            "xtask: {} is not beside this checkout; running the kit's copy {}",
            shared.display(),
            copy.display()
        );
        copy
    };
    // Both packages, as `release` builds them: the same units, so the release test's build (in
    // the same target directory) is reused instead of compiled again with other features.
    let bin = shipped::build(root, &["acbuild", "acrun"])?;
    status(
        Command::new("bash")
            .arg(script)
            .arg(bin.join("acrun"))
            .current_dir(root),
    )
}

fn workspace_root() -> PathBuf {
    let here = std::env::current_dir().ok();
    let found = here.as_deref().and_then(|dir| {
        dir.ancestors()
            .find(|d| {
                d.join("xtask/debian-packages.txt").is_file() && d.join("Cargo.toml").is_file()
            })
            .map(Path::to_path_buf)
    });
    found.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    })
}

/// Cargo's target directory for the workspace at `root`: `$CARGO_TARGET_DIR` (relative to
/// `root`, where cargo runs) or `root/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Write `path` atomically: a temporary file beside it, synced, renamed over it.
fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

fn packages() -> Vec<&'static str> {
    PACKAGES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn missing_packages() -> Result<Vec<&'static str>> {
    let mut missing = Vec::new();
    for p in packages() {
        let out = Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", p])
            .output()
            .context("running dpkg-query (is this a Debian machine?)")?;
        if !String::from_utf8_lossy(&out.stdout).contains("install ok installed") {
            missing.push(p);
        }
    }
    Ok(missing)
}

/// Make sure every Debian package the build and tests need is installed; install the missing ones when
/// allowed and running as root, otherwise say exactly what to run.
fn ensure_packages(install: bool) -> Result<()> {
    let missing = missing_packages()?;
    if missing.is_empty() {
        return Ok(());
    }
    let line = format!(
        "apt-get update && apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !install || !is_root() {
        bail!(
            "missing Debian packages: {}\n  run as root: {line}",
            missing.join(" ")
        );
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    status(Command::new("apt-get").arg("update").arg("-qq"))?;
    status(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .with_context(|| format!("could not install the packages; try: {line}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    status(cargo_command(root).args(args))
}

/// `$CARGO` (or `cargo`), run in `root`.
fn cargo_command(root: &Path) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root);
    cmd
}

fn status(cmd: &mut Command) -> Result<()> {
    let st = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !st.success() {
        bail!("{cmd:?} failed ({st})");
    }
    Ok(())
}

//! Project automation, run as `cargo xtask TASK` (alias in `.cargo/config.toml`).
//!
//! - `deps [--install]`: check (or, as root, install) the Debian packages in `debian-packages.txt`.
//! - `test`: arrange the packages, then run the whole test suite (`cargo test --workspace`), then
//!   the appc ACE validator pod under a release `acrun` (`../shared/conformance/ace/run.sh`).
//! - `image RECIPE...`: arrange the packages, build acbuild in release mode and build the recipes.
//! - `bench NAME`: build release binaries and run `xtask/bench/NAME.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const PACKAGES: &str = include_str!("../debian-packages.txt");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("deps") => ensure_packages(args.get(1).map(String::as_str) == Some("--install")),
        Some("test") => {
            ensure_packages(true)?;
            cargo(&root, &["test", "--workspace"])?;
            ace_validator(&root)
        }
        Some("image") if args.len() > 1 => {
            ensure_packages(true)?;
            cargo(&root, &["build", "--release", "-p", "acbuild"])?;
            let acbuild = root.join("target/release/acbuild");
            status(Command::new(acbuild).args(&args[1..]))
        }
        Some("bench") if args.len() == 2 => {
            ensure_packages(true)?;
            cargo(&root, &["build", "--release", "--workspace"])?;
            let script = root.join("xtask/bench").join(format!("{}.sh", args[1]));
            if !script.is_file() {
                bail!("no benchmark script {}", script.display());
            }
            status(Command::new("bash").arg(script).current_dir(&root))
        }
        _ => {
            eprintln!("usage: cargo xtask deps [--install] | test | image RECIPE... | bench NAME");
            std::process::exit(2);
        }
    }
}

/// The appc ACE validator (main + sidekick pod, pre-start and post-stop, the metadata service)
/// from the project's shared conformance kit beside the checkout, run under a release acrun.
fn ace_validator(root: &Path) -> Result<()> {
    let script = root.join("../shared/conformance/ace/run.sh");
    if !script.is_file() {
        bail!(
            "the ACE validator kit is missing: expected {} beside the checkout",
            script.display()
        );
    }
    cargo(root, &["build", "--release", "-p", "acrun"])?;
    status(
        Command::new(script)
            .arg(root.join("target/release/acrun"))
            .current_dir(root),
    )
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
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
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    status(Command::new(cargo).args(args).current_dir(root))
}

fn status(cmd: &mut Command) -> Result<()> {
    let st = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !st.success() {
        bail!("{cmd:?} failed ({st})");
    }
    Ok(())
}

//! The binaries as a release ships them: `acrun` and `acbuild` linked statically (glibc and
//! OpenSSL included; still position-independent, `static-pie`, so ASLR stays), built for the
//! host's target with `+crt-static`.
//!
//! Why: a dynamic acrun spent 1.2 ms of every `acrun run` in the loader before `main` (binding
//! libcrypto's symbols, relocating it and libssl), a fifth of a pod start (BENCHMARKS.md, pod
//! start). A static executable has no loader and no shared-library dependencies to match on the
//! machine it is copied to. The cost: a fix in the system's OpenSSL or glibc reaches acrun with
//! its next release, as for every Rust crate it links already.
//!
//! `--target` is what keeps `+crt-static` off the build scripts and proc-macros (which must stay
//! dynamic); so the binaries land in `target/<host triple>/release/`, beside the ordinary
//! `target/release/` that `cargo build --release` keeps making for development.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `packages` as shipped; returns the directory holding their binaries.
pub fn build(root: &Path, packages: &[&str]) -> Result<PathBuf> {
    let triple = host_triple()?;
    let mut args = vec![
        "build",
        "--release",
        "--locked",
        "--target",
        triple.as_str(),
    ];
    for p in packages {
        args.extend(["-p", p]);
    }
    let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
    flags.push_str(" -C target-feature=+crt-static");
    crate::status(
        crate::cargo_command(root)
            .args(&args)
            .env("RUSTFLAGS", flags.trim()),
    )?;
    Ok(crate::target_dir(root).join(&triple).join("release"))
}

/// The host's target triple, as `rustc -vV` reports it.
fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("running {rustc} -vV"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().find_map(|l| l.strip_prefix("host: ")) {
        Some(t) => Ok(t.trim().to_owned()),
        None => bail!("{rustc} -vV printed no host line"),
    }
}

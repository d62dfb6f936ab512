//! Debian binary packages as build inputs: reading a `.deb` (never installing it), fetching and
//! caching them by SHA-256, resolving a `Depends` closure and unpacking it into a sysroot.
//!
//! A `.deb` is hostile input, read with the same rules as an image: [`archive`] walks the `ar`
//! container itself with bounded headers and a fixed member order, decompresses each tar with
//! appc's single-stream, memory-capped decoders and reads it with appc's bounded tar walker;
//! [`unpack`] writes entries beneath the sysroot without following any symlink.
//!
//! - [`archive`]: the `ar` container and its members.
//! - [`control`]: the `control` paragraph (name, version, architecture, dependencies).
//! - [`unpack`]: `data.tar` into a directory.
//! - [`cache`]: `$XDG_CACHE_HOME/acbuild/debs/SHA256.deb`, filled by `apt-get download` or
//!   from a `--deb-dir`.
//! - [`closure`]: the packages a recipe names and everything they depend on.
//! - [`sysroot`]: the closure unpacked into one tree the tracer resolves libraries in.

pub mod archive;
pub mod cache;
pub mod closure;
pub mod control;
pub mod sysroot;
pub mod unpack;

use std::path::PathBuf;

/// Why a package could not be read, fetched or unpacked.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    /// The `.deb` breaks the format or a safety rule.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The `.deb` file.
        path: PathBuf,
        /// What is wrong (with the member or entry name).
        reason: String,
    },
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A package could not be fetched.
    #[error("package `{package}`: {reason}")]
    Fetch {
        /// The package (NAME, NAME=VERSION or NAME:ARCH=VERSION).
        package: String,
        /// Why.
        reason: String,
    },
    /// A cached or fetched package does not have the bytes the lockfile pins.
    #[error(
        "package `{package}` {version}: SHA-256 {found} does not match the lockfile's {expected}"
    )]
    Hash {
        /// The package name.
        package: String,
        /// Its version.
        version: String,
        /// The lockfile's SHA-256.
        expected: String,
        /// The file's SHA-256.
        found: String,
    },
}

impl DebError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DebError {
        let path = path.into();
        move |source| DebError::Io { path, source }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> DebError {
        DebError::Format {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

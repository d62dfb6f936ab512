//! The image name of an ACI: the archive is read and its layout checked by `appc::aci::read`,
//! then its manifest parsed and validated by `appc::manifest::ImageManifest`. The name is what the
//! trust policy matches prefixes against, so an image whose archive or manifest is invalid is
//! refused before any signature is looked at.
//!
//! [`open_image`] opens an image once and refuses what cannot be read as one consistent stream
//! (directories, devices, sockets); `acrun verify` then hashes and parses the bytes of that one
//! read ([`read_image_name_from`]), so a FIFO or a file swapped between two opens cannot show the
//! signature check one image and the name check another.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use appc::aci::ReadOptions;
use appc::aci::read::ReadError;
use appc::manifest::ImageManifest;

/// Why the name could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// The path is not a regular file or a pipe.
    #[error("{path}: is a {kind}, not an image file (a regular file or a pipe)")]
    NotAFile { path: PathBuf, kind: &'static str },
    /// The archive is not a valid ACI.
    #[error("{path}: {source}")]
    Archive { path: PathBuf, source: ReadError },
    /// The manifest is not a valid image manifest.
    #[error("{path}: manifest: {reason}")]
    BadManifest { path: PathBuf, reason: String },
}

/// Open the image at `path` for one sequential read: a regular file or a FIFO (read once, so a
/// pipe is as good as a file); anything else is refused.
pub fn open_image(path: &Path) -> Result<File, NameError> {
    let io_err = |source| NameError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    // fstat of what was opened, not a second lookup of the path.
    let kind = file.metadata().map_err(io_err)?.file_type();
    let refused = if kind.is_file() || kind.is_fifo() {
        None
    } else if kind.is_dir() {
        Some("directory")
    } else if kind.is_char_device() {
        Some("character device")
    } else if kind.is_block_device() {
        Some("block device")
    } else if kind.is_socket() {
        Some("socket")
    } else {
        Some("special file")
    };
    match refused {
        Some(kind) => Err(NameError::NotAFile {
            path: path.to_owned(),
            kind,
        }),
        None => Ok(file),
    }
}

/// Read the image name from the ACI bytes `input` yields (named `path` in errors). Reads to the
/// end of the archive, not necessarily to the end of `input`.
pub fn read_image_name_from(input: impl Read, path: &Path) -> Result<String, NameError> {
    let info = appc::aci::read::read(input, ReadOptions::default()).map_err(|source| {
        NameError::Archive {
            path: path.to_owned(),
            source,
        }
    })?;
    let manifest =
        ImageManifest::from_json(&info.manifest).map_err(|e| NameError::BadManifest {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(manifest.name.as_str().to_owned())
}

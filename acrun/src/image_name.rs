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
/// end of the archive, not necessarily to the end of `input`, and checks the whole layout.
pub fn read_image_name_from(input: impl Read, path: &Path) -> Result<String, NameError> {
    let info = appc::aci::read::read(input, ReadOptions::default()).map_err(|source| {
        NameError::Archive {
            path: path.to_owned(),
            source,
        }
    })?;
    name_of(&info.manifest, path)
}

/// Like [`read_image_name_from`], but stops decompressing at the manifest: the entries before it
/// are checked by the same rules, the ones after it are not read. For a signature check, which
/// needs the name and the exact bytes (the caller hashes the rest of the file raw), not the
/// validity of every entry — which `acrun fetch` checks when it extracts.
pub fn read_image_name_until_manifest(input: impl Read, path: &Path) -> Result<String, NameError> {
    enum Stop {
        Manifest(Vec<u8>),
        Read(ReadError),
    }
    impl From<ReadError> for Stop {
        fn from(e: ReadError) -> Stop {
            Stop::Read(e)
        }
    }
    let found = appc::aci::read::read_with(input, ReadOptions::default(), |entry, data| {
        if entry.path != "manifest" {
            return Ok(());
        }
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes).map_err(|source| {
            Stop::Read(ReadError::Corrupt {
                after: None,
                source,
            })
        })?;
        Err(Stop::Manifest(bytes))
    });
    let manifest = match found {
        Ok(summary) => summary.manifest,
        Err(Stop::Manifest(bytes)) => bytes,
        Err(Stop::Read(source)) => {
            return Err(NameError::Archive {
                path: path.to_owned(),
                source,
            });
        }
    };
    name_of(&manifest, path)
}

fn name_of(manifest: &[u8], path: &Path) -> Result<String, NameError> {
    let manifest = ImageManifest::from_json(manifest).map_err(|e| NameError::BadManifest {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(manifest.name.as_str().to_owned())
}

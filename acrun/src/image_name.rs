//! The image name of an ACI: the archive is read and its layout checked by `appc::aci::read`,
//! then its manifest parsed and validated by `appc::manifest::ImageManifest`. The name is what the
//! trust policy matches prefixes against, so an image whose archive or manifest is invalid is
//! refused before any signature is looked at.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use appc::aci::ReadOptions;
use appc::aci::read::ReadError;
use appc::manifest::ImageManifest;

/// Why the name could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// The file could not be opened.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// The archive is not a valid ACI.
    #[error("{path}: {source}")]
    Archive { path: PathBuf, source: ReadError },
    /// The manifest is not a valid image manifest.
    #[error("{path}: manifest: {reason}")]
    BadManifest { path: PathBuf, reason: String },
}

/// Read the image name from the ACI at `path`.
pub fn read_image_name(path: &Path) -> Result<String, NameError> {
    let file = File::open(path).map_err(|source| NameError::Io {
        path: path.to_owned(),
        source,
    })?;
    let info = appc::aci::read::read(
        BufReader::with_capacity(1 << 16, file),
        ReadOptions::default(),
    )
    .map_err(|source| NameError::Archive {
        path: path.to_owned(),
        source,
    })?;
    let manifest =
        ImageManifest::from_json(&info.manifest).map_err(|e| NameError::BadManifest {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(manifest.name.as_str().to_owned())
}

//! Interim: the image name of an ACI, read from its `manifest` entry.
//!
//! TEMPORARY until `appc::aci::read` lands on main: this finds the first `manifest` entry (after
//! cleaning `./`) with the tar crate, detecting gzip, bzip2, xz and zstd by magic bytes, and parses
//! it with `appc::manifest::ImageManifest::from_json` (full validation). Replace the archive walk
//! with the ACI reader once it exists.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use appc::manifest::ImageManifest;

/// Why the name could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// Reading the archive failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// No `manifest` entry.
    #[error("{path}: no manifest entry in the image")]
    NoManifest { path: PathBuf },
    /// The manifest is not a valid image manifest.
    #[error("{path}: manifest: {reason}")]
    BadManifest { path: PathBuf, reason: String },
}

/// Read the image name from the ACI at `path`.
pub fn read_image_name(path: &Path) -> Result<String, NameError> {
    let io_err = |source| NameError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let mut input = BufReader::new(file);
    let magic = input.fill_buf().map_err(io_err)?.to_vec();
    let reader: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    } else if magic.starts_with(b"BZh") {
        Box::new(bzip2::read::MultiBzDecoder::new(input))
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(liblzma::read::XzDecoder::new_multi_decoder(input))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(input).map_err(io_err)?)
    } else {
        Box::new(input)
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let entry_path = entry.path().map_err(io_err)?;
        let clean: PathBuf = entry_path
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        if clean != Path::new("manifest") {
            continue;
        }
        if !entry.header().entry_type().is_file() {
            return Err(NameError::BadManifest {
                path: path.to_owned(),
                reason: "the manifest entry is not a regular file".into(),
            });
        }
        let mut json = Vec::new();
        // A manifest is small; refuse to buffer a hostile giant.
        entry
            .take(16 << 20)
            .read_to_end(&mut json)
            .map_err(io_err)?;
        let manifest = ImageManifest::from_json(&json).map_err(|e| NameError::BadManifest {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        return Ok(manifest.name.as_str().to_owned());
    }
    Err(NameError::NoManifest {
        path: path.to_owned(),
    })
}

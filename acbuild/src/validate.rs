//! `acbuild validate`: decide what a file is (an ACI by its compression or tar magic, else a JSON
//! manifest by its `acKind`) and check it completely — archive layout first, then the manifest rules.
//! Every broken rule is reported, each naming the archive entry or the JSON path.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use appc::aci::{Compression, ReadError, ReadOptions};
use appc::manifest::{ImageManifest, Kind, PodManifest};
use appc::validation::Errors;

/// What a valid file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Valid {
    /// An ACI, with its image ID.
    Image(appc::ImageId),
    /// A bare image manifest.
    ImageManifest,
    /// A pod manifest.
    PodManifest,
}

impl std::fmt::Display for Valid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Valid::Image(id) => write!(f, "image {id}"),
            Valid::ImageManifest => f.write_str("image manifest"),
            Valid::PodManifest => f.write_str("pod manifest"),
        }
    }
}

/// Why a file is not valid.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    #[error("{}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Archive(ReadError),
    #[error("manifest: {0}")]
    ImageInArchive(Errors),
    #[error("{0}")]
    Manifest(Errors),
    #[error("{0}")]
    Json(appc::manifest::json::JsonError),
    #[error(
        "too large for a manifest (more than {} bytes)",
        appc::aci::read::MANIFEST_MAX
    )]
    TooLarge,
    #[error(
        "not an ACI (no gzip, bzip2, xz or tar magic) and not a JSON manifest with acKind ImageManifest or PodManifest"
    )]
    Unknown,
}

/// Validate one file.
pub fn validate(path: &Path) -> Result<Valid, Invalid> {
    let unreadable = |source| Invalid::Unreadable {
        path: path.to_owned(),
        source,
    };
    let mut file = BufReader::new(File::open(path).map_err(unreadable)?);
    let mut head = Vec::with_capacity(512);
    (&mut file)
        .take(512)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    if Compression::detect(&head).is_some() {
        let input = std::io::Cursor::new(head).chain(file);
        // Entries are checked as they stream past and not kept: memory stays bounded.
        let info = appc::aci::read::read_with(input, ReadOptions::default(), |_, _| Ok(()))
            .map_err(Invalid::Archive)?;
        ImageManifest::from_json(&info.manifest).map_err(Invalid::ImageInArchive)?;
        return Ok(Valid::Image(info.image_id));
    }
    let mut bytes = head;
    // Read the whole file, up to one byte more than a manifest may have: a manifest is judged on
    // all of its bytes, and a huge non-archive cannot exhaust memory.
    let limit = appc::aci::read::MANIFEST_MAX;
    (&mut file)
        .take((limit + 1).saturating_sub(bytes.len() as u64))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(Invalid::TooLarge);
    }
    match appc::manifest::json::parse(&bytes) {
        Ok(serde_json::Value::Object(_)) => match Kind::detect(&bytes) {
            Some(Kind::PodManifest) => PodManifest::from_json(&bytes)
                .map(|_| Valid::PodManifest)
                .map_err(Invalid::Manifest),
            // A JSON object without a usable acKind is checked as an image manifest, so the
            // reply names what is missing rather than just "unknown".
            Some(Kind::ImageManifest) | None => ImageManifest::from_json(&bytes)
                .map(|_| Valid::ImageManifest)
                .map_err(Invalid::Manifest),
        },
        // Bytes that start like a JSON object are a manifest with a syntax problem.
        Err(e) if bytes.trim_ascii_start().starts_with(b"{") => Err(Invalid::Json(e)),
        _ => Err(Invalid::Unknown),
    }
}

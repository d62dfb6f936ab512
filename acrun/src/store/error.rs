//! The store's errors: each names the image (by where it came from, its ID or its name) and,
//! for archive problems, the entry.

use std::io;
use std::path::PathBuf;

use appc::ImageId;

use super::admission::AdmissionError;
use super::deps::DepError;
use super::extract::ExtractError;
use super::render::RenderError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file of the store (or given to it) could not be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// The archive was refused while reading or extracting it.
    #[error("{origin}: {error}")]
    Archive {
        origin: String,
        error: Box<ExtractError>,
    },
    /// The manifest is not a valid image manifest.
    #[error("{origin}: manifest: {errors}")]
    Manifest { origin: String, errors: String },
    /// The signature or the trust policy refused the image.
    #[error("{origin}: {error}")]
    Admission {
        origin: String,
        error: Box<AdmissionError>,
    },
    /// A dependency could not be resolved.
    #[error(transparent)]
    Dependency(Box<DepError>),
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// No stored image matches.
    #[error("no image {0} in the store")]
    NotFound(String),
    /// Several stored images match an ID prefix.
    #[error("image ID prefix {reference} is ambiguous: {}", .ids.join(", "))]
    Ambiguous { reference: String, ids: Vec<String> },
    /// The image is stored, but no admission of it holds under the current trust policy.
    #[error(
        "image {reference} ({id}) is in the store but not verified under the current trust policy (imported with --insecure-options=image, or its signer is no longer trusted for {name}); fetch it again with its signature, or pass --insecure-options=image"
    )]
    NotAdmitted {
        reference: String,
        id: ImageId,
        name: String,
    },
    /// The stored tree or blob does not match the image ID.
    #[error("image {id}: {what}")]
    Corrupt { id: ImageId, what: String },
    /// A reference that is neither an image ID nor a name with labels.
    #[error("{0}")]
    BadReference(String),
}

impl From<DepError> for StoreError {
    fn from(e: DepError) -> StoreError {
        StoreError::Dependency(Box::new(e))
    }
}

impl StoreError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }

    /// Whether the user's input is at fault (a bad reference or an unreadable input file).
    pub fn is_usage(&self) -> bool {
        matches!(self, StoreError::BadReference(_))
    }
}

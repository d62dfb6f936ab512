//! `acrun verify`: run the signature policy on one image without storing or running it.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use appc::trust::{Refusal, TrustError, TrustStore};

use crate::image_name::{NameError, read_image_name};

/// Failures of `acrun verify`.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The image could not be read or has no usable name.
    #[error(transparent)]
    Image(#[from] NameError),
    /// There is no signature file.
    #[error("image {name} ({aci}): no signature: {sig}: {source}")]
    NoSignature {
        name: String,
        aci: PathBuf,
        sig: PathBuf,
        source: std::io::Error,
    },
    /// The trust store could not be loaded.
    #[error(transparent)]
    Store(#[from] TrustError),
    /// The policy refused the image.
    #[error("{aci}: {refusal}")]
    Refused { aci: PathBuf, refusal: Refusal },
    /// The image file could not be opened.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl VerifyError {
    /// Input errors (unreadable image) versus verification failures. Every variant is named, so
    /// a new one must be classified here.
    pub fn is_usage(&self) -> bool {
        match self {
            VerifyError::Image(NameError::Io { .. }) | VerifyError::Io { .. } => true,
            VerifyError::Image(NameError::Archive { .. } | NameError::BadManifest { .. })
            | VerifyError::NoSignature { .. }
            | VerifyError::Store(_)
            | VerifyError::Refused { .. } => false,
        }
    }
}

/// Verify `aci` with its signature (default `aci.asc`); returns the text to print.
pub fn run(
    store: &TrustStore,
    aci: &Path,
    signature: Option<&Path>,
) -> Result<String, VerifyError> {
    let name = read_image_name(aci)?;
    let sig_path = signature
        .map(Path::to_owned)
        .unwrap_or_else(|| appc::sign::signature_path(aci));
    let sig = std::fs::read(&sig_path).map_err(|source| VerifyError::NoSignature {
        name: name.clone(),
        aci: aci.to_owned(),
        sig: sig_path.clone(),
        source,
    })?;
    let policy = store.policy()?;
    let file = File::open(aci).map_err(|source| VerifyError::Io {
        path: aci.to_owned(),
        source,
    })?;
    let verified = policy
        .verify(&name, BufReader::with_capacity(1 << 16, file), &sig)
        .map_err(|refusal| VerifyError::Refused {
            aci: aci.to_owned(),
            refusal,
        })?;
    Ok(format!(
        "{}: image {name} verified: signed by {}, trusted for {}\n",
        aci.display(),
        verified.signer,
        verified.scope
    ))
}

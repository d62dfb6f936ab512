//! `acrun metadata`: the host side of pod identity. `verify` lets a service on the host check a
//! pod's signature (from the pod's `/pod/hmac/sign`) without speaking HTTP; `rotate-key`
//! replaces the store's HMAC key, after which every earlier signature fails.

use crate::metadata::{key, signer};
use std::path::Path;

/// `acrun metadata` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MetadataCommand {
    /// Check that SIGNATURE is pod UUID's signature of CONTENT: exit 0 if it is, 1 if not.
    Verify {
        /// The pod that claims to have signed.
        #[arg(long)]
        uuid: String,
        /// The signature (base64, as `/pod/hmac/sign` returned it).
        #[arg(long)]
        signature: String,
        /// The signed content.
        content: String,
    },
    /// Replace the store's HMAC key with a new random one; earlier signatures stop verifying.
    RotateKey,
}

/// Why `acrun metadata` failed.
#[derive(Debug, thiserror::Error)]
pub enum MetadataCmdError {
    /// A UUID that is not one (exit 2).
    #[error("--uuid {0:?} is not a UUID")]
    Uuid(String),
    /// The signature does not verify (exit 1).
    #[error("signature does not match: pod {uuid} did not sign this content with the current key")]
    Mismatch {
        /// The claimed signer.
        uuid: String,
    },
    /// The key.
    #[error(transparent)]
    Key(#[from] key::KeyError),
}

impl MetadataCmdError {
    /// Whether it was the user's input.
    pub fn is_usage(&self) -> bool {
        matches!(self, MetadataCmdError::Uuid(_))
    }
}

/// Runs a subcommand with the store under `dir`; returns what to print.
pub fn run(dir: &Path, cmd: &MetadataCommand) -> Result<String, MetadataCmdError> {
    match cmd {
        MetadataCommand::Verify {
            uuid,
            signature,
            content,
        } => {
            let parsed = uuid
                .parse()
                .map_err(|_| MetadataCmdError::Uuid(uuid.clone()))?;
            let key = key::load(dir)?;
            if signer::verify(&key, &parsed, content.as_bytes(), signature) {
                Ok(format!("valid: signed by pod {parsed}\n"))
            } else {
                Err(MetadataCmdError::Mismatch { uuid: uuid.clone() })
            }
        }
        MetadataCommand::RotateKey => {
            key::rotate(dir)?;
            Ok(format!(
                "rotated {}: signatures made before now no longer verify\n",
                key::key_path(dir).display()
            ))
        }
    }
}

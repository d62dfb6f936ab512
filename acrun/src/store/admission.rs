//! Admission: the one place the store calls `appc::sign` and `appc::trust`.
//!
//! Two steps, in this order (runtime-anchors, Recommendation 4):
//! 1. [`Judge::signature`]: the detached signature is checked over the exact fetched bytes
//!    against every trusted key, before anything is decompressed or parsed;
//! 2. [`Judge::name`]: once the manifest is read, the signer must be trusted for the image's name
//!    (a root key, or a prefix covering the name on `/` boundaries).
//!
//! [`Judge::admits`] re-judges a stored image under the *current* policy, so an insecure import,
//! or an image whose signer has since been removed from the trust store, never satisfies a
//! lookup that asks for a verified image.

use std::io::Read;

use appc::sign::BadSignature;
use appc::trust::{Policy, Refusal, Scope, TrustError, TrustStore, TrustedKey};

use super::record::Admission;

/// Why an image was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// The trust store could not be read.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// No signature was given and verification was not turned off.
    #[error("no signature (give one, or pass --insecure-options=image to skip verification)")]
    Unsigned,
    /// The signature does not verify with any trusted key.
    #[error("signature: {0}")]
    Signature(BadSignature),
    /// A trusted key signed, but it is not trusted for this name.
    #[error(
        "image {name}: signer {signer} is trusted only for {trusted}, which does not cover {name}"
    )]
    NotTrustedForName {
        name: String,
        signer: String,
        trusted: String,
    },
}

/// The trust policy as loaded at one moment.
#[derive(Debug)]
pub struct Judge {
    keys: Vec<TrustedKey>,
    policy: Policy,
}

impl Judge {
    /// Load every trusted key (user and system stores).
    pub fn load(trust: &TrustStore) -> Result<Judge, AdmissionError> {
        Ok(Judge {
            keys: trust.list()?,
            policy: trust.policy()?,
        })
    }

    /// Step 1: the fingerprint of a trusted key that made a good `signature` of `data`.
    pub fn signature(
        &self,
        data: impl Read + Send + Sync,
        signature: &[u8],
    ) -> Result<String, AdmissionError> {
        // appc::trust checks the signature and the name in one call; the name is not known yet
        // (nothing has been decompressed), so ask for the empty name, which only a root key
        // covers: a good signature by a prefix key comes back as "not trusted for this name",
        // with its signer. Step 2 then judges the real name.
        match self.policy.verify("", data, signature) {
            Ok(verified) => Ok(verified.signer),
            Err(Refusal::NotTrustedForName { signer, .. }) => Ok(signer),
            Err(Refusal::Signature { reason, .. }) => Err(AdmissionError::Signature(reason)),
        }
    }

    /// Step 2: the admission of an image called `name` signed by `signer`.
    pub fn name(&self, signer: &str, name: &str) -> Result<Admission, AdmissionError> {
        let scopes: Vec<_> = self
            .keys
            .iter()
            .filter(|k| k.fingerprint == signer)
            .map(|k| &k.scope)
            .collect();
        match scopes.iter().find(|s| covers(s, name)) {
            Some(scope) => Ok(Admission::Signed {
                signer: signer.to_owned(),
                scope: scope.to_string(),
            }),
            None => Err(AdmissionError::NotTrustedForName {
                name: name.to_owned(),
                signer: signer.to_owned(),
                trusted: scopes
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Whether any of `admissions` still holds for an image called `name` under this policy.
    pub fn admits(&self, admissions: &[Admission], name: &str) -> bool {
        admissions.iter().any(|a| match a {
            Admission::Signed { signer, .. } => self.name(signer, name).is_ok(),
            Admission::Insecure => false,
        })
    }
}

fn covers(scope: &Scope, name: &str) -> bool {
    match scope {
        Scope::Root => true,
        Scope::Prefix(p) => p.covers(name),
    }
}

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
use std::time::SystemTime;

use appc::detached_signature::DetachedSignatures;
use appc::sign::BadSignature;
use appc::trust::{Policy, Scope, TrustError, TrustStore, TrustedKey};

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
    /// No signature in the file verifies with a trusted key (each one's reason, in file order).
    #[error("signature: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Signature(Vec<BadSignature>),
    /// Reading the image to check its signature failed.
    #[error("reading the image to check its signature: {0}")]
    Read(std::io::Error),
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

    /// Step 1: the fingerprints of the trusted keys that made a good signature of `data`
    /// (any number of signatures in the file, in any order). The name is not known yet — nothing
    /// has been decompressed — so step 2 judges it against these signers' scopes.
    pub fn signature(
        &self,
        mut data: impl Read,
        signature: &[u8],
    ) -> Result<Vec<String>, AdmissionError> {
        let now = SystemTime::now();
        let mut sigs = DetachedSignatures::parse(signature, now)
            .map_err(|e| AdmissionError::Signature(vec![e]))?;
        std::io::copy(&mut data, &mut sigs).map_err(AdmissionError::Read)?;
        self.policy
            .good_signers(&sigs, now)
            .map_err(AdmissionError::Signature)
    }

    /// Step 2: the admission of an image called `name` signed by `signers`: the first signer
    /// trusted for the name wins.
    pub fn name(&self, signers: &[String], name: &str) -> Result<Admission, AdmissionError> {
        let mut trusted = Vec::new();
        for signer in signers {
            let scopes: Vec<_> = self
                .keys
                .iter()
                .filter(|k| &k.fingerprint == signer)
                .map(|k| &k.scope)
                .collect();
            if let Some(scope) = scopes.iter().find(|s| covers(s, name)) {
                return Ok(Admission::Signed {
                    signer: signer.clone(),
                    scope: scope.to_string(),
                });
            }
            trusted.extend(scopes.iter().map(|s| s.to_string()));
        }
        Err(AdmissionError::NotTrustedForName {
            name: name.to_owned(),
            signer: signers.join(", "),
            trusted: trusted.join(", "),
        })
    }

    /// Whether any of `admissions` still holds for an image called `name` under this policy.
    pub fn admits(&self, admissions: &[Admission], name: &str) -> bool {
        admissions.iter().any(|a| match a {
            Admission::Signed { signer, .. } => {
                self.name(std::slice::from_ref(signer), name).is_ok()
            }
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

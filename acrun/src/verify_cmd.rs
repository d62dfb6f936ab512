//! `acrun verify`: run the signature policy on one image without storing or running it.
//!
//! The image is opened once and read once: every byte goes both into the signatures' digests
//! and into the archive reader that finds the manifest and the name (a tee), and the rest of the
//! file is hashed too. The name the policy matches and the bytes the signature covers are
//! therefore the same bytes, even for a FIFO or a file replaced while we read it.
//!
//! By default the archive is decompressed only up to its manifest (the policy needs the name,
//! nothing more; the rest is hashed raw, as `gpg --verify` does), so verifying costs about what
//! gpg's check does. `--full` also decompresses and checks every entry (what `acrun fetch` does
//! before anything is extracted).

use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use appc::detached_signature::{DetachedSignatures, MAX_SIGNATURE_FILE};
use appc::trust::{Refusal, TrustError, TrustStore};

use crate::image_name::{
    NameError, open_image, read_image_name_from, read_image_name_until_manifest,
};

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
        source: io::Error,
    },
    /// The trust store could not be loaded.
    #[error(transparent)]
    Store(#[from] TrustError),
    /// The policy refused the image.
    #[error("{aci}: {refusal}")]
    Refused { aci: PathBuf, refusal: Refusal },
    /// The image could not be read to its end.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl VerifyError {
    /// Input errors (unreadable image) versus verification failures. Every variant is named, so
    /// a new one must be classified here.
    pub fn is_usage(&self) -> bool {
        match self {
            VerifyError::Image(NameError::Io { .. } | NameError::NotAFile { .. })
            | VerifyError::Io { .. } => true,
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
    full: bool,
) -> Result<String, VerifyError> {
    let now = SystemTime::now();
    let sig_path = signature
        .map(Path::to_owned)
        .unwrap_or_else(|| appc::sign::signature_path(aci));
    let policy = store.policy()?;
    let mut parsed = read_signature(&sig_path).map(|bytes| DetachedSignatures::parse(&bytes, now));
    let sigs_to_feed = parsed.as_mut().ok().and_then(|p| p.as_mut().ok());
    let name = read_once(aci, sigs_to_feed, full)?;
    let sigs = match parsed {
        Err(source) => {
            return Err(VerifyError::NoSignature {
                name,
                aci: aci.to_owned(),
                sig: sig_path,
                source,
            });
        }
        Ok(Err(reason)) => {
            return Err(VerifyError::Refused {
                aci: aci.to_owned(),
                refusal: Refusal::Signature {
                    image: name,
                    reason,
                },
            });
        }
        Ok(Ok(sigs)) => sigs,
    };
    let verified = policy
        .judge(&name, &sigs, now)
        .map_err(|refusal| VerifyError::Refused {
            aci: aci.to_owned(),
            refusal,
        })?;
    let mut out = format!(
        "{}: image {name} verified: signed by {}, trusted for {}\n",
        aci.display(),
        verified.signer,
        verified.scope
    );
    for note in &verified.others {
        out.push_str(&format!("  {note}\n"));
    }
    Ok(out)
}

/// A signature file read whole, at most [`MAX_SIGNATURE_FILE`] bytes.
fn read_signature(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_SIGNATURE_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SIGNATURE_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_SIGNATURE_FILE} bytes; not a detached signature"),
        ));
    }
    Ok(bytes)
}

/// Open `aci` once, read its name (`full`: checking every entry of the archive), and feed every
/// byte of the file into `sigs` when given.
fn read_once(
    aci: &Path,
    sigs: Option<&mut DetachedSignatures>,
    full: bool,
) -> Result<String, VerifyError> {
    let input = BufReader::with_capacity(1 << 16, open_image(aci)?);
    let read_name = |input: &mut dyn Read| {
        if full {
            read_image_name_from(input, aci)
        } else {
            read_image_name_until_manifest(input, aci)
        }
    };
    let Some(sigs) = sigs else {
        let mut input = input;
        return Ok(read_name(&mut input)?);
    };
    let mut tee = sigs.reader(input);
    let name = read_name(&mut tee)?;
    io::copy(&mut tee, &mut io::sink()).map_err(|source| VerifyError::Io {
        path: aci.to_owned(),
        source,
    })?;
    Ok(name)
}

//! The signing step, the last step of `pack` and `build`: sign the written image with the
//! resolved key, keep a signature that is still current, or record that the image is unsigned.
//!
//! The key is resolved (and unlocked) by the caller before any work, so a bad key fails fast;
//! this step only uses it. A signature is current when it was written after its image: a cached
//! rebuild republishes the same image file, and signing it again would only cost time (see
//! [`crate::build_cache::signature_is_current`]). Nothing here prints; the caller renders the
//! outcome (acrun refuses unsigned images, so the CLI warns about them).

use std::path::{Path, PathBuf};

use crate::build_cache;
use crate::signing_key::{KeyError, SigningKey};

/// What the signing step did for one image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Signature {
    /// A new detached signature was written here.
    Written(PathBuf),
    /// The signature here was already current and was kept.
    Kept(PathBuf),
    /// No key was given (`--no-sign`): the image is not signed.
    #[default]
    Unsigned,
}

/// Whether an existing current signature may be kept instead of signing again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Keep a signature written after the image (builds, which may republish a cached image).
    KeepCurrent,
    /// Always sign (pack writes a new image every time).
    Never,
}

/// Sign `aci` with `key` (writing `aci.asc`), or keep its current signature, or do nothing
/// without a key.
pub fn sign_image(
    key: Option<&SigningKey>,
    aci: &Path,
    reuse: Reuse,
) -> Result<Signature, KeyError> {
    let Some(key) = key else {
        return Ok(Signature::Unsigned);
    };
    if reuse == Reuse::KeepCurrent && build_cache::signature_is_current(aci) {
        return Ok(Signature::Kept(appc::sign::signature_path(aci)));
    }
    key.sign(aci).map(Signature::Written)
}

//! OpenPGP detached signatures of ACIs: keys and signing.
//!
//! The spec's signature is an ASCII-armoured detached OpenPGP signature of the exact `.aci` bytes,
//! stored beside the image as `IMAGE.aci.asc`. This module makes such signatures with sequoia (no
//! `gpg` subprocess); checking them is [`crate::detached_signature`] (re-exported here). It knows nothing about *who* may sign *what*: that is
//! [`crate::trust`]. It reads no environment: callers pass the creation time and the passphrase.
//!
//! Signatures are reproducible: a v4 binary signature over SHA-512 whose hashed area holds only
//! the creation time and the issuer, so with a fixed time and a deterministic algorithm (Ed25519,
//! RSA PKCS#1 v1.5) the same key and bytes give the same `.asc`. (sequoia's streaming signer adds a
//! random salt notation to every v4 signature, which is why the packet is assembled here.)

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use openpgp::cert::prelude::*;
use openpgp::crypto::hash::Hash as _;
use openpgp::crypto::{KeyPair, Password, Signer as _, mpi};
use openpgp::packet::Signature;
use openpgp::packet::signature::Signature4;
use openpgp::packet::signature::subpacket::{Subpacket, SubpacketArea, SubpacketValue};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::{Serialize as _, SerializeInto as _};
use openpgp::types::{HashAlgorithm, KeyFlags, RevocationStatus, SignatureType, Timestamp};
use sequoia_openpgp as openpgp;

pub use crate::detached_signature::{BadSignature, GoodSignature, verify_detached};

/// The hash every signature made here uses.
const HASH: HashAlgorithm = HashAlgorithm::SHA512;

/// What went wrong while loading a key or making a signature.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file is not an OpenPGP key (or not one sequoia can use).
    #[error("{path}: not an OpenPGP key: {reason}")]
    NotAKey {
        /// The file.
        path: PathBuf,
        /// Why parsing failed.
        reason: String,
    },
    /// The file holds only a public key.
    #[error("{path}: holds no secret key (a public key cannot sign)")]
    NoSecret {
        /// The file.
        path: PathBuf,
    },
    /// The secret key is encrypted and no passphrase was given.
    #[error("{path}: the secret key is protected by a passphrase")]
    PassphraseRequired {
        /// The file.
        path: PathBuf,
    },
    /// The passphrase did not decrypt the secret key.
    #[error("{path}: wrong passphrase for key {fingerprint}")]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
        /// The key that did not unlock.
        fingerprint: String,
    },
    /// No valid, unexpired, unrevoked signing-capable key is in the file.
    #[error("{path}: key {fingerprint} has no usable signing key ({reason})")]
    NoSigningKey {
        /// The file.
        path: PathBuf,
        /// The certificate's fingerprint.
        fingerprint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Key generation or the signature operation itself failed.
    #[error("{what}: {reason}")]
    Crypto {
        /// What was being done.
        what: String,
        /// The cause.
        reason: String,
    },
}

fn crypto(what: impl Into<String>) -> impl FnOnce(anyhow::Error) -> SignError {
    let what = what.into();
    move |e| SignError::Crypto {
        what,
        reason: format!("{e:#}"),
    }
}

/// A secret key, unlocked and ready to sign.
pub struct SecretKey {
    cert: Cert,
    keypair: KeyPair,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// Generate an Ed25519 key whose primary key both certifies and signs (so the fingerprint a
    /// user trusts is the one that appears on signatures), valid forever, for `user_id`.
    pub fn generate(user_id: &str) -> Result<SecretKey, SignError> {
        SecretKey::generate_at(user_id, SystemTime::now(), None)
    }

    /// [`SecretKey::generate`] with an explicit creation time and an optional validity period
    /// (keys that expire; tests use this to make keys that have already expired).
    pub fn generate_at(
        user_id: &str,
        created: SystemTime,
        validity: Option<Duration>,
    ) -> Result<SecretKey, SignError> {
        let (cert, _revocation) = CertBuilder::new()
            .set_cipher_suite(CipherSuite::Cv25519)
            .set_creation_time(created)
            .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
            .set_validity_period(validity)
            .add_userid(user_id)
            .generate()
            .map_err(crypto("generating an Ed25519 key"))?;
        SecretKey::from_cert(cert, Path::new("<generated>"), None, created)
    }

    /// Read an armoured (or binary) transferable secret key, e.g. `gpg --export-secret-keys
    /// --armor`. An encrypted key needs `passphrase`; without one the error is
    /// [`SignError::PassphraseRequired`] so the caller may ask and retry.
    pub fn from_file(path: &Path, passphrase: Option<&str>) -> Result<SecretKey, SignError> {
        let bytes = std::fs::read(path).map_err(|source| SignError::Io {
            path: path.to_owned(),
            source,
        })?;
        SecretKey::from_bytes(&bytes, path, passphrase)
    }

    /// [`SecretKey::from_file`] on bytes already read; `path` names them in errors.
    pub fn from_bytes(
        bytes: &[u8],
        path: &Path,
        passphrase: Option<&str>,
    ) -> Result<SecretKey, SignError> {
        let cert = Cert::from_bytes(bytes).map_err(|e| SignError::NotAKey {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        })?;
        SecretKey::from_cert(cert, path, passphrase, SystemTime::now())
    }

    fn from_cert(
        cert: Cert,
        path: &Path,
        passphrase: Option<&str>,
        now: SystemTime,
    ) -> Result<SecretKey, SignError> {
        if !cert.is_tsk() {
            return Err(SignError::NoSecret {
                path: path.to_owned(),
            });
        }
        let fingerprint = cert.fingerprint().to_hex();
        let no_key = |reason: String| SignError::NoSigningKey {
            path: path.to_owned(),
            fingerprint: fingerprint.clone(),
            reason,
        };
        let policy = StandardPolicy::new();
        let valid = cert
            .with_policy(&policy, now)
            .map_err(|e| no_key(format!("{e:#}")))?;
        if let RevocationStatus::Revoked(_) = valid.revocation_status() {
            return Err(no_key("the key is revoked".into()));
        }
        valid
            .alive()
            .map_err(|e| no_key(format!("the key is not alive: {e:#}")))?;
        let key = valid
            .keys()
            .secret()
            .supported()
            .alive()
            .revoked(false)
            .for_signing()
            .next()
            .ok_or_else(|| no_key("no secret key is valid for signing now".into()))?
            .key()
            .clone();
        let key = if key.has_unencrypted_secret() {
            key
        } else {
            let Some(passphrase) = passphrase else {
                return Err(SignError::PassphraseRequired {
                    path: path.to_owned(),
                });
            };
            key.decrypt_secret(&Password::from(passphrase))
                .map_err(|_| SignError::WrongPassphrase {
                    path: path.to_owned(),
                    fingerprint: fingerprint.clone(),
                })?
        };
        let keypair = key
            .into_keypair()
            .map_err(crypto(format!("{}: preparing key", path.display())))?;
        Ok(SecretKey { cert, keypair })
    }

    /// The certificate's (primary key's) fingerprint, upper-case hex without spaces.
    pub fn fingerprint(&self) -> String {
        self.cert.fingerprint().to_hex()
    }

    /// When the signing key was created; signatures are never dated before it.
    pub fn signing_key_created(&self) -> SystemTime {
        self.keypair.public().creation_time()
    }

    /// The armoured public certificate, to give to `acrun trust` or `gpg --import`.
    pub fn armored_public(&self) -> Result<Vec<u8>, SignError> {
        self.cert
            .armored()
            .to_vec()
            .map_err(crypto("serialising the public key"))
    }

    /// The armoured transferable secret key, to store.
    pub fn armored_secret(&self) -> Result<Vec<u8>, SignError> {
        self.cert
            .as_tsk()
            .armored()
            .to_vec()
            .map_err(crypto("serialising the secret key"))
    }

    /// Sign everything `data` yields; returns the armoured detached signature.
    ///
    /// The creation time is `created`, but never earlier than the signing key's own creation
    /// (a signature older than its key is rejected by gpg and sequoia), so a fixed
    /// SOURCE_DATE_EPOCH predating the key still gives a reproducible, valid signature.
    pub fn sign_reader(
        &self,
        mut data: impl Read,
        created: SystemTime,
    ) -> Result<Vec<u8>, SignError> {
        let created = created.max(self.signing_key_created());
        let timestamp = Timestamp::try_from(created).map_err(crypto("signature time"))?;
        let public = self.keypair.public();
        let hashed = SubpacketArea::new(vec![
            Subpacket::new(SubpacketValue::SignatureCreationTime(timestamp), false)
                .map_err(crypto("signature subpacket"))?,
            Subpacket::new(
                SubpacketValue::IssuerFingerprint(public.fingerprint()),
                false,
            )
            .map_err(crypto("signature subpacket"))?,
            Subpacket::new(SubpacketValue::Issuer(public.keyid()), false)
                .map_err(crypto("signature subpacket"))?,
        ])
        .map_err(crypto("signature subpackets"))?;
        let unhashed = SubpacketArea::new(Vec::new()).map_err(crypto("signature subpackets"))?;
        let template = Signature4::new(
            SignatureType::Binary,
            public.pk_algo(),
            HASH,
            hashed.clone(),
            unhashed.clone(),
            [0, 0],
            mpi::Signature::Unknown {
                mpis: Box::new([]),
                rest: Box::new([]),
            },
        );
        let mut hash = HASH.context().map_err(crypto("SHA-512"))?.for_signature(4);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(SignError::Io {
                        path: PathBuf::from("<data>"),
                        source: e,
                    });
                }
            };
            hash.update(&buf[..n]);
        }
        template.hash(&mut hash).map_err(crypto("hashing"))?;
        let mut digest = vec![0u8; hash.digest_size()];
        hash.digest(&mut digest).map_err(crypto("hashing"))?;
        let mut keypair = self.keypair.clone();
        let mpis = keypair.sign(HASH, &digest).map_err(crypto("signing"))?;
        let signature: Signature = Signature4::new(
            SignatureType::Binary,
            public.pk_algo(),
            HASH,
            hashed,
            unhashed,
            [digest[0], digest[1]],
            mpis,
        )
        .into();
        let packet = openpgp::Packet::from(signature);
        let mut out = Vec::new();
        {
            let mut writer = openpgp::armor::Writer::new(&mut out, openpgp::armor::Kind::Signature)
                .map_err(|e| crypto("armouring")(e.into()))?;
            packet
                .serialize(&mut writer)
                .map_err(crypto("serialising the signature"))?;
            writer
                .finalize()
                .map_err(|e| crypto("armouring")(e.into()))?;
        }
        Ok(out)
    }
}

/// The conventional signature path of an image: `IMAGE.aci` → `IMAGE.aci.asc`.
pub fn signature_path(aci: &Path) -> PathBuf {
    let mut name = aci.as_os_str().to_owned();
    name.push(".asc");
    PathBuf::from(name)
}

/// Sign the file `aci` (streamed, not loaded) and write the armoured detached signature
/// atomically to `aci.asc`; returns that path. `created` is the signature time (see
/// [`SecretKey::sign_reader`]).
pub fn sign_file(aci: &Path, key: &SecretKey, created: SystemTime) -> Result<PathBuf, SignError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| SignError::Io { path, source }
    };
    let file = File::open(aci).map_err(io_err(aci))?;
    let armored = key
        .sign_reader(BufReader::with_capacity(1 << 16, file), created)
        .map_err(|e| match e {
            SignError::Io { source, .. } => SignError::Io {
                path: aci.to_owned(),
                source,
            },
            other => other,
        })?;
    let asc = signature_path(aci);
    let mut out = crate::atomic_file::AtomicFile::create(&asc, 0o644).map_err(io_err(&asc))?;
    out.write_all(&armored).map_err(io_err(&asc))?;
    out.commit().map_err(io_err(&asc))?;
    Ok(asc)
}

/// A public certificate (an OpenPGP "key" as users speak of it).
#[derive(Debug, Clone)]
pub struct PublicKey {
    cert: Cert,
}

impl PublicKey {
    /// Parse an armoured or binary certificate. Secret parts, if any, are dropped.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, String> {
        let cert = Cert::from_bytes(bytes).map_err(|e| format!("{e:#}"))?;
        Ok(PublicKey {
            cert: cert.strip_secret_key_material(),
        })
    }

    /// The primary key's fingerprint, upper-case hex without spaces.
    pub fn fingerprint(&self) -> String {
        self.cert.fingerprint().to_hex()
    }

    pub(crate) fn cert(&self) -> &Cert {
        &self.cert
    }

    /// The user IDs, as written (untrusted text: escape before showing, see
    /// [`crate::untrusted_text`]) in the certificate.
    pub fn user_ids(&self) -> Vec<String> {
        self.cert
            .userids()
            .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
            .collect()
    }

    /// Combine with a newer copy of the same certificate (e.g. one carrying a revocation).
    /// Returns `None` when the fingerprints differ.
    pub fn merge(self, newer: PublicKey) -> Option<PublicKey> {
        if self.cert.fingerprint() != newer.cert.fingerprint() {
            return None;
        }
        let (cert, _) = self.cert.insert_packets(newer.cert.into_packets()).ok()?;
        Some(PublicKey { cert })
    }

    /// The armoured certificate.
    pub fn armored(&self) -> Result<Vec<u8>, String> {
        self.cert.armored().to_vec().map_err(|e| format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn public(key: &SecretKey) -> PublicKey {
        PublicKey::from_bytes(&key.armored_public().unwrap()).unwrap()
    }

    #[test]
    fn signature_verifies_with_the_signers_public_key() {
        let key = SecretKey::generate("Test <t@example.com>").unwrap();
        let sig = key
            .sign_reader(&b"image bytes"[..], SystemTime::now())
            .unwrap();
        let good = verify_detached(
            &[public(&key)],
            &b"image bytes"[..],
            &sig,
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(good.signer, key.fingerprint());
    }

    #[test]
    fn same_key_data_and_time_give_identical_signatures() {
        let key = SecretKey::generate_at("T <t@example.com>", epoch(1_600_000_000), None).unwrap();
        let a = key.sign_reader(&b"x"[..], epoch(1_700_000_000)).unwrap();
        let b = key.sign_reader(&b"x"[..], epoch(1_700_000_000)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn signature_is_never_dated_before_its_key() {
        let key = SecretKey::generate_at("T <t@example.com>", epoch(1_600_000_000), None).unwrap();
        let sig = key.sign_reader(&b"x"[..], epoch(1_000)).unwrap();
        assert!(verify_detached(&[public(&key)], &b"x"[..], &sig, SystemTime::now()).is_ok());
    }

    #[test]
    fn changed_data_is_a_mismatch() {
        let key = SecretKey::generate("T <t@example.com>").unwrap();
        let sig = key.sign_reader(&b"x"[..], SystemTime::now()).unwrap();
        let err = verify_detached(&[public(&key)], &b"y"[..], &sig, SystemTime::now()).unwrap_err();
        assert!(matches!(err, BadSignature::Mismatch { .. }), "{err}");
    }

    #[test]
    fn unknown_signer_is_named_by_fingerprint() {
        let key = SecretKey::generate("T <t@example.com>").unwrap();
        let other = SecretKey::generate("O <o@example.com>").unwrap();
        let sig = key.sign_reader(&b"x"[..], SystemTime::now()).unwrap();
        let err =
            verify_detached(&[public(&other)], &b"x"[..], &sig, SystemTime::now()).unwrap_err();
        assert_eq!(
            err,
            BadSignature::UnknownSigner {
                issuer: key.fingerprint()
            }
        );
    }

    #[test]
    fn expired_key_is_refused() {
        let day = Duration::from_secs(86_400);
        let created = SystemTime::now() - 10 * day;
        let key = SecretKey::generate_at("T <t@example.com>", created, Some(day)).unwrap();
        let sig = key.sign_reader(&b"x"[..], created + day / 2).unwrap();
        let err = verify_detached(&[public(&key)], &b"x"[..], &sig, SystemTime::now()).unwrap_err();
        assert!(matches!(err, BadSignature::Expired { .. }), "{err}");
    }

    #[test]
    fn garbage_signature_is_malformed() {
        let key = SecretKey::generate("T <t@example.com>").unwrap();
        let err = verify_detached(
            &[public(&key)],
            &b"x"[..],
            b"not a signature",
            SystemTime::now(),
        )
        .unwrap_err();
        assert!(matches!(err, BadSignature::Malformed(_)), "{err}");
    }

    #[test]
    fn public_key_cannot_sign() {
        let key = SecretKey::generate("T <t@example.com>").unwrap();
        let err = SecretKey::from_bytes(&key.armored_public().unwrap(), Path::new("k.asc"), None)
            .unwrap_err();
        assert!(matches!(err, SignError::NoSecret { .. }), "{err}");
    }
}

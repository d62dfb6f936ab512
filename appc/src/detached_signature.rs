//! A detached signature file (`IMAGE.aci.asc`): its signatures, the digests of the signed bytes
//! computed in one pass, and the cryptographic verdict on each signature.
//!
//! The flow is split so that the image is read exactly once: [`DetachedSignatures::parse`] reads
//! the signature file first; the caller then streams the image through
//! [`DetachedSignatures::reader`] (a tee: every byte read from the image also goes into each
//! signature's hash) while parsing the same bytes for the manifest; finally
//! [`DetachedSignatures::check`] judges every signature against the digests. Nothing can change
//! between the bytes that were hashed and the bytes whose manifest was read (a FIFO or a file
//! swapped between two opens).
//!
//! Attacks this refuses, each with a message saying what is wrong:
//! - text-mode (0x01) signatures, which verify bytes with line endings changed, and every other
//!   non-binary type (standalone, timestamp, certifications…): only type 0x00 is accepted;
//! - signatures over weak hashes (MD5, SHA-1, RIPEMD-160), which can be collided;
//! - signatures dated in the future (beyond [`CLOCK_SKEW`]) or past their expiration time;
//! - files that hold anything but signature packets, or more than [`MAX_SIGNATURES`] of them.
//!
//! Several signatures in one file are each judged on their own; which one counts is the trust
//! policy's decision ([`crate::trust`]), independent of their order.

use std::io::{self, Read, Write};
use std::time::{Duration, SystemTime};

use openpgp::Packet;
use openpgp::cert::prelude::*;
use openpgp::crypto::hash::Context;
use openpgp::packet::Signature;
use openpgp::parse::{PacketParser, PacketParserResult, Parse};
use openpgp::policy::{HashAlgoSecurity, Policy as _, StandardPolicy};
use openpgp::types::{HashAlgorithm, RevocationStatus, SignatureType};
use sequoia_openpgp as openpgp;

use crate::sign::PublicKey;
use crate::untrusted_text::escape;

/// The most signatures one detached-signature file may hold.
pub const MAX_SIGNATURES: usize = 16;

/// The largest detached-signature file read (a signature is a few hundred bytes).
pub const MAX_SIGNATURE_FILE: u64 = 1 << 20;

/// How far in the future a signature's creation time may lie (clocks disagree a little).
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// A signature that checked out: who made it and with which (sub)key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoodSignature {
    /// The signer certificate's primary fingerprint.
    pub signer: String,
    /// The fingerprint of the key that made the signature (the primary or a subkey).
    pub signing_key: String,
}

/// Why a detached signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSignature {
    /// The signature file is not an OpenPGP signature.
    #[error("the signature is not a valid OpenPGP detached signature: {0}")]
    Malformed(String),
    /// No certificate given to the verifier made the signature.
    #[error("signed by {issuer}, which is not a trusted key")]
    UnknownSigner {
        /// Issuer fingerprint (or key ID) named in the signature.
        issuer: String,
    },
    /// The signature is not over a binary document (type 0x00).
    #[error(
        "signature by {issuer} is a {kind} signature (type {code:#04x}); only binary-document \
         signatures (type 0x00) are accepted"
    )]
    NotBinary {
        /// Issuer named in the signature.
        issuer: String,
        /// What kind of signature it is.
        kind: String,
        /// The signature type octet.
        code: u8,
    },
    /// The signature uses a hash that can be collided (or one not supported).
    #[error(
        "signature by {issuer} uses the {algorithm} hash, which is not accepted \
         (collisions can be made); sign with SHA-256 or stronger"
    )]
    WeakHash {
        /// Issuer named in the signature.
        issuer: String,
        /// The hash algorithm.
        algorithm: String,
    },
    /// The signature's creation time is in the future.
    #[error("signature by {issuer} is dated {created}, in the future (check the signer's clock)")]
    FutureDated {
        /// Issuer named in the signature.
        issuer: String,
        /// Its creation time, UTC.
        created: String,
    },
    /// The signature itself has expired (its own expiration time, not the key's).
    #[error("signature by {issuer} expired at {expired}")]
    SignatureExpired {
        /// Issuer named in the signature.
        issuer: String,
        /// When it expired, UTC.
        expired: String,
    },
    /// The signature breaks another rule of the OpenPGP policy.
    #[error("signature by {issuer} is not acceptable: {reason}")]
    Refused {
        /// Issuer named in the signature.
        issuer: String,
        /// The rule broken.
        reason: String,
    },
    /// The signature does not match the data (or is corrupt).
    #[error(
        "signature by {signer} does not match the image (tampered image or signature): {reason}"
    )]
    Mismatch {
        /// Signer certificate fingerprint.
        signer: String,
        /// Detail from the cryptographic check.
        reason: String,
    },
    /// The signer's key has expired.
    #[error("signer {signer}'s key has expired: {reason}")]
    Expired {
        /// Signer certificate fingerprint.
        signer: String,
        /// Detail.
        reason: String,
    },
    /// The signer's key has been revoked.
    #[error("signer {signer}'s key is revoked: {reason}")]
    Revoked {
        /// Signer certificate fingerprint.
        signer: String,
        /// Detail (the revocation reason is escaped: it is the key owner's text).
        reason: String,
    },
    /// The signer's key is not valid for signing for another reason (weak algorithm, unbound
    /// subkey, not signing-capable).
    #[error("signer {signer}'s key is not valid for signing: {reason}")]
    InvalidKey {
        /// Signer certificate fingerprint.
        signer: String,
        /// Detail.
        reason: String,
    },
}

impl BadSignature {
    /// The fingerprint of the signer (or the issuer named in the signature), when known.
    pub fn signer(&self) -> Option<&str> {
        match self {
            BadSignature::Malformed(_) => None,
            BadSignature::UnknownSigner { issuer }
            | BadSignature::NotBinary { issuer, .. }
            | BadSignature::WeakHash { issuer, .. }
            | BadSignature::FutureDated { issuer, .. }
            | BadSignature::SignatureExpired { issuer, .. }
            | BadSignature::Refused { issuer, .. } => Some(issuer),
            BadSignature::Mismatch { signer, .. }
            | BadSignature::Expired { signer, .. }
            | BadSignature::Revoked { signer, .. }
            | BadSignature::InvalidKey { signer, .. } => Some(signer),
        }
    }
}

fn malformed(e: impl std::fmt::Display) -> BadSignature {
    BadSignature::Malformed(escape(&e.to_string()).into_owned())
}

/// The signatures of one detached-signature file, with the running digests of the signed data.
#[derive(Clone)]
pub struct DetachedSignatures {
    signatures: Vec<Signature>,
    /// Per signature: the verdict reached without the data (type, hash, dates), or the index of
    /// its hash context in `hashes`.
    plan: Vec<Result<usize, BadSignature>>,
    /// One context per distinct (algorithm, version, salt), fed every byte of the data.
    hashes: Vec<(HashKey, Context)>,
}

impl std::fmt::Debug for DetachedSignatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetachedSignatures")
            .field("signatures", &self.signatures.len())
            .field("hashes", &self.hashes.len())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq)]
struct HashKey {
    algorithm: HashAlgorithm,
    version: u8,
    salt: Vec<u8>,
}

impl DetachedSignatures {
    /// Parse an armoured (one or several concatenated blocks) or binary signature file. Only
    /// signature packets are allowed, at most [`MAX_SIGNATURES`]. Each signature's type, hash
    /// and dates are judged now, at `now`; those that pass get a hash context.
    pub fn parse(bytes: &[u8], now: SystemTime) -> Result<DetachedSignatures, BadSignature> {
        let mut signatures = Vec::new();
        for block in armor_blocks(bytes) {
            read_packets(block, &mut signatures)?;
        }
        if signatures.is_empty() {
            return Err(BadSignature::Malformed("no signature found".into()));
        }
        let mut hashes: Vec<(HashKey, Context)> = Vec::new();
        let mut plan = Vec::with_capacity(signatures.len());
        for sig in &signatures {
            plan.push(precheck(sig, now).and_then(|key| {
                if let Some(i) = hashes.iter().position(|(k, _)| *k == key) {
                    return Ok(i);
                }
                let mut context = key
                    .algorithm
                    .context()
                    .map_err(|_| BadSignature::WeakHash {
                        issuer: issuer_of(sig),
                        algorithm: key.algorithm.to_string(),
                    })?
                    .for_signature(key.version);
                context.update(&key.salt);
                hashes.push((key, context));
                Ok(hashes.len() - 1)
            }));
        }
        Ok(DetachedSignatures {
            signatures,
            plan,
            hashes,
        })
    }

    /// How many signatures the file holds.
    pub fn len(&self) -> usize {
        self.signatures.len()
    }

    /// Whether the file holds no signature (never true for a parsed file).
    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty()
    }

    /// Feed the next bytes of the signed data.
    pub fn update(&mut self, data: &[u8]) {
        for (_, context) in &mut self.hashes {
            context.update(data);
        }
    }

    /// A reader that passes `inner`'s bytes through and feeds each of them, once, into the
    /// signatures' digests.
    pub fn reader<R: Read>(&mut self, inner: R) -> Digesting<'_, R> {
        Digesting { inner, sigs: self }
    }

    /// Judge every signature, in file order, against the data fed so far: made by a key of one
    /// of `certs` whose binding was valid when the signature was made, that key neither expired
    /// nor revoked at `now`, and the digest matching.
    pub fn check(
        &self,
        certs: &[PublicKey],
        now: SystemTime,
    ) -> Vec<Result<GoodSignature, BadSignature>> {
        self.signatures
            .iter()
            .zip(&self.plan)
            .map(|(sig, plan)| match plan {
                Err(e) => Err(e.clone()),
                Ok(i) => check_one(sig, &self.hashes[*i].1, certs, now),
            })
            .collect()
    }
}

impl Write for DetachedSignatures {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// See [`DetachedSignatures::reader`].
#[derive(Debug)]
pub struct Digesting<'a, R> {
    inner: R,
    sigs: &'a mut DetachedSignatures,
}

impl<R: Read> Read for Digesting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sigs.update(&buf[..n]);
        Ok(n)
    }
}

/// Split an armoured file into its blocks (`cat a.asc b.asc` is a valid file of two
/// signatures); a binary file is one block.
fn armor_blocks(bytes: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PGP ";
    let starts: Vec<usize> = (0..bytes.len())
        .filter(|&i| (i == 0 || bytes[i - 1] == b'\n') && bytes[i..].starts_with(BEGIN))
        .collect();
    if starts.len() < 2 {
        return vec![bytes];
    }
    let mut blocks = vec![&bytes[..starts[0]]];
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(bytes.len());
        blocks.push(&bytes[start..end]);
    }
    // Text before the first block is allowed by the armour format only as whitespace.
    blocks.retain(|b| !b.iter().all(u8::is_ascii_whitespace));
    blocks
}

fn read_packets(block: &[u8], out: &mut Vec<Signature>) -> Result<(), BadSignature> {
    let mut ppr = PacketParser::from_bytes(block).map_err(malformed)?;
    while let PacketParserResult::Some(pp) = ppr {
        let (packet, next) = pp.next().map_err(malformed)?;
        match packet {
            Packet::Signature(sig) => {
                if out.len() == MAX_SIGNATURES {
                    return Err(BadSignature::Malformed(format!(
                        "more than {MAX_SIGNATURES} signatures in one file"
                    )));
                }
                out.push(sig);
            }
            Packet::Unknown(u) => {
                return Err(BadSignature::Malformed(format!(
                    "unreadable {} packet: {}",
                    u.tag(),
                    escape(&u.error().to_string())
                )));
            }
            other => {
                return Err(BadSignature::Malformed(format!(
                    "holds a {} packet; a detached signature holds only signature packets",
                    other.tag()
                )));
            }
        }
        ppr = next;
    }
    Ok(())
}

/// What can be said of a signature without the data: its type, hash and dates. On success, the
/// hash context it needs.
fn precheck(sig: &Signature, now: SystemTime) -> Result<HashKey, BadSignature> {
    let issuer = issuer_of(sig);
    let typ = sig.typ();
    if typ != SignatureType::Binary {
        return Err(BadSignature::NotBinary {
            issuer,
            kind: type_name(typ).into(),
            code: u8::from(typ),
        });
    }
    let algorithm = sig.hash_algo();
    if matches!(
        algorithm,
        HashAlgorithm::MD5 | HashAlgorithm::SHA1 | HashAlgorithm::RipeMD
    ) || !algorithm.is_supported()
    {
        return Err(BadSignature::WeakHash {
            issuer,
            algorithm: algorithm.to_string(),
        });
    }
    let Some(created) = sig.signature_creation_time() else {
        return Err(BadSignature::Malformed(format!(
            "signature by {issuer} has no creation time"
        )));
    };
    if created > now + CLOCK_SKEW {
        return Err(BadSignature::FutureDated {
            issuer,
            created: utc(created),
        });
    }
    if let Some(expires) = sig.signature_expiration_time()
        && expires <= now
    {
        return Err(BadSignature::SignatureExpired {
            issuer,
            expired: utc(expires),
        });
    }
    StandardPolicy::new()
        .signature(sig, HashAlgoSecurity::CollisionResistance)
        .map_err(|e| BadSignature::Refused {
            issuer: issuer.clone(),
            reason: escape(&format!("{e:#}")).into_owned(),
        })?;
    Ok(HashKey {
        algorithm,
        version: sig.version(),
        salt: sig.salt().map(<[u8]>::to_vec).unwrap_or_default(),
    })
}

fn type_name(typ: SignatureType) -> &'static str {
    match typ {
        SignatureType::Binary => "binary-document",
        SignatureType::Text => "text-mode document",
        SignatureType::Standalone => "standalone",
        SignatureType::GenericCertification
        | SignatureType::PersonaCertification
        | SignatureType::CasualCertification
        | SignatureType::PositiveCertification => "certification",
        SignatureType::CertificationApproval => "certification approval",
        SignatureType::SubkeyBinding | SignatureType::PrimaryKeyBinding => "key binding",
        SignatureType::DirectKey => "direct-key",
        SignatureType::KeyRevocation
        | SignatureType::SubkeyRevocation
        | SignatureType::CertificationRevocation => "revocation",
        SignatureType::Timestamp => "timestamp",
        SignatureType::Confirmation => "third-party confirmation",
        _ => "unknown",
    }
}

/// Verify one signature that passed [`precheck`] against the digest context `hash`.
fn check_one(
    sig: &Signature,
    hash: &Context,
    certs: &[PublicKey],
    now: SystemTime,
) -> Result<GoodSignature, BadSignature> {
    let issuers = sig.get_issuers();
    let mut mismatch = None;
    for cert in certs.iter().map(PublicKey::cert) {
        for ka in cert.keys() {
            let handle = ka.key().key_handle();
            if !issuers.is_empty() && !issuers.iter().any(|i| i.aliases(&handle)) {
                continue;
            }
            match sig.verify_hash(ka.key(), hash.clone()) {
                Ok(()) => {
                    let key = ka.key().fingerprint();
                    key_valid_when_signed(cert, &key, sig)?;
                    key_state_at(cert, &key, now)?;
                    return Ok(GoodSignature {
                        signer: cert.fingerprint().to_hex(),
                        signing_key: key.to_hex(),
                    });
                }
                Err(e) => {
                    mismatch.get_or_insert(BadSignature::Mismatch {
                        signer: cert.fingerprint().to_hex(),
                        reason: escape(&format!("{e:#}")).into_owned(),
                    });
                }
            }
        }
    }
    Err(mismatch.unwrap_or_else(|| BadSignature::UnknownSigner {
        issuer: issuer_of(sig),
    }))
}

/// Was `key` a signing-capable key of `cert`, under the policy, when `sig` was made?
fn key_valid_when_signed(
    cert: &Cert,
    key: &openpgp::Fingerprint,
    sig: &Signature,
) -> Result<(), BadSignature> {
    let policy = StandardPolicy::new();
    let signer = cert.fingerprint().to_hex();
    let invalid = |reason: String| BadSignature::InvalidKey {
        signer: signer.clone(),
        reason: escape(&reason).into_owned(),
    };
    let when = sig.signature_creation_time();
    let valid = cert
        .with_policy(&policy, when)
        .map_err(|e| invalid(format!("{e:#}")))?;
    let ka = valid.keys().key_handle(key.clone()).next().ok_or_else(|| {
        invalid(format!(
            "key {key} was not bound to the certificate when it signed"
        ))
    })?;
    if !ka.for_signing() {
        return Err(invalid(format!("key {key} is not signing-capable")));
    }
    Ok(())
}

/// Is the certificate, and its key `key`, alive and unrevoked at `now`?
fn key_state_at(
    cert: &Cert,
    key: &openpgp::Fingerprint,
    now: SystemTime,
) -> Result<(), BadSignature> {
    let policy = StandardPolicy::new();
    let signer = cert.fingerprint().to_hex();
    let invalid = |reason: String| BadSignature::InvalidKey {
        signer: signer.clone(),
        reason: escape(&reason).into_owned(),
    };
    if let RevocationStatus::Revoked(sigs) = cert.revocation_status(&policy, now) {
        return Err(BadSignature::Revoked {
            signer: signer.clone(),
            reason: revocation_reason(&sigs),
        });
    }
    let valid = cert
        .with_policy(&policy, now)
        .map_err(|e| invalid(format!("{e:#}")))?;
    valid.alive().map_err(|e| BadSignature::Expired {
        signer: signer.clone(),
        reason: escape(&format!("{e:#}")).into_owned(),
    })?;
    let ka = valid.keys().key_handle(key.clone()).next().ok_or_else(|| {
        invalid(format!(
            "signing key {key} is not bound to the certificate now"
        ))
    })?;
    if let RevocationStatus::Revoked(sigs) = ka.revocation_status() {
        return Err(BadSignature::Revoked {
            signer: signer.clone(),
            reason: format!("signing key {key}: {}", revocation_reason(&sigs)),
        });
    }
    ka.alive().map_err(|e| BadSignature::Expired {
        signer: signer.clone(),
        reason: escape(&format!("signing key {key}: {e:#}")).into_owned(),
    })?;
    if !ka.for_signing() {
        return Err(invalid(format!("key {key} is not signing-capable")));
    }
    Ok(())
}

/// The reason a revocation gives, escaped: it is free text chosen by whoever revoked.
fn revocation_reason(sigs: &[&Signature]) -> String {
    sigs.iter()
        .find_map(|s| s.reason_for_revocation())
        .map(|(code, text)| {
            let text = String::from_utf8_lossy(text);
            if text.is_empty() {
                escape(&code.to_string()).into_owned()
            } else {
                escape(&format!("{code}: {text}")).into_owned()
            }
        })
        .unwrap_or_else(|| "a revocation certificate was imported".into())
}

fn issuer_of(sig: &Signature) -> String {
    sig.get_issuers()
        .first()
        .map(|h| match h {
            openpgp::KeyHandle::Fingerprint(f) => f.to_hex(),
            openpgp::KeyHandle::KeyID(k) => k.to_hex(),
        })
        .unwrap_or_else(|| "an unnamed issuer".into())
}

/// `time` as `YYYY-MM-DD HH:MM:SS UTC` (no time-zone database, no locale).
pub fn utc(time: SystemTime) -> String {
    let secs = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => crate::utc::secs(d.as_secs()),
        Err(e) => -crate::utc::secs(e.duration().as_secs()),
    };
    let (y, mo, d, h, mi, s) = crate::utc::civil(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// Check that `signature` (armoured or binary) holds a good detached signature of `data` by one
/// of `certs`, valid at `now`. The first good signature wins, whatever its position; otherwise
/// the first failure is reported. (Which signer is *trusted for what* is [`crate::trust`]'s job.)
pub fn verify_detached(
    certs: &[PublicKey],
    mut data: impl Read,
    signature: &[u8],
    now: SystemTime,
) -> Result<GoodSignature, BadSignature> {
    let mut sigs = DetachedSignatures::parse(signature, now)?;
    io::copy(&mut data, &mut sigs)
        .map_err(|e| BadSignature::Malformed(format!("reading the signed data: {e}")))?;
    let mut first_error = None;
    for verdict in sigs.check(certs, now) {
        match verdict {
            Ok(good) => return Ok(good),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| BadSignature::Malformed("no signature found".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(utc(at(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(at(951_782_400)), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(at(1_893_456_000 + 3_723)), "2030-01-01 01:02:03 UTC");
    }

    #[test]
    fn concatenated_armour_blocks_are_split_and_binary_is_one_block() {
        let two = b"-----BEGIN PGP SIGNATURE-----\nA\n-----END PGP SIGNATURE-----\n\
                    -----BEGIN PGP SIGNATURE-----\nB\n-----END PGP SIGNATURE-----\n";
        assert_eq!(armor_blocks(two).len(), 2);
        assert_eq!(armor_blocks(&[0x88, 0x75, 0x04]).len(), 1);
    }
}

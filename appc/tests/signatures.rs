//! Detached-signature verdicts against signatures crafted here with sequoia: every kind the
//! verifier must refuse, each next to its positive control (the same data and key, with the
//! one property that makes it acceptable).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use appc::detached_signature::{BadSignature, DetachedSignatures, MAX_SIGNATURES};
use appc::sign::{PublicKey, verify_detached};
use appc::trust::{Prefix, Refusal, Scope, TrustStore};
use openpgp::cert::prelude::*;
use openpgp::crypto::KeyPair;
use openpgp::packet::UserID;
use openpgp::packet::signature::SignatureBuilder;
use openpgp::serialize::SerializeInto as _;
use openpgp::types::{HashAlgorithm, KeyFlags, SignatureType};
use sequoia_openpgp as openpgp;

const DAY: Duration = Duration::from_secs(86_400);

/// A signing certificate made a week ago, and its key pair.
fn signer(uid: &str) -> (Cert, KeyPair) {
    let (cert, _) = CertBuilder::new()
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_creation_time(SystemTime::now() - 7 * DAY)
        .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
        .add_userid(uid)
        .generate()
        .unwrap();
    let pair = cert
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .unwrap()
        .into_keypair()
        .unwrap();
    (cert, pair)
}

fn public(cert: &Cert) -> PublicKey {
    PublicKey::from_bytes(&cert.armored().to_vec().unwrap()).unwrap()
}

/// What to vary in a crafted signature.
struct Spec {
    typ: SignatureType,
    hash: HashAlgorithm,
    created: SystemTime,
    validity: Option<Duration>,
}

impl Spec {
    fn good() -> Spec {
        Spec {
            typ: SignatureType::Binary,
            hash: HashAlgorithm::SHA512,
            created: SystemTime::now() - DAY,
            validity: None,
        }
    }
}

/// One signature packet per `spec` over `data`, binary.
fn sign(pair: &mut KeyPair, data: &[u8], spec: &Spec) -> Vec<u8> {
    let mut builder = SignatureBuilder::new(spec.typ)
        .set_hash_algo(spec.hash)
        .set_signature_creation_time(spec.created)
        .unwrap();
    if let Some(v) = spec.validity {
        builder = builder.set_signature_validity_period(v).unwrap();
    }
    let sig = match spec.typ {
        SignatureType::Binary | SignatureType::Text => builder.sign_message(pair, data),
        SignatureType::Standalone => builder.sign_standalone(pair),
        SignatureType::Timestamp => builder.sign_timestamp(pair),
        _ => {
            let key = pair.public().clone().role_into_primary();
            builder.sign_userid_binding(pair, &key, &UserID::from("x"))
        }
    }
    .unwrap();
    openpgp::Packet::from(sig).to_vec().unwrap()
}

fn armour(packets: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = openpgp::armor::Writer::new(&mut out, openpgp::armor::Kind::Signature).unwrap();
    std::io::Write::write_all(&mut w, packets).unwrap();
    w.finalize().unwrap();
    out
}

fn verify(cert: &Cert, data: &[u8], sig: &[u8]) -> Result<String, BadSignature> {
    verify_detached(&[public(cert)], data, sig, SystemTime::now()).map(|g| g.signer)
}

#[test]
fn binary_signature_verifies_in_armour_and_binary() {
    let (cert, mut pair) = signer("A <a@example.com>");
    let sig = sign(&mut pair, b"image", &Spec::good());
    assert_eq!(
        verify(&cert, b"image", &sig).unwrap(),
        cert.fingerprint().to_hex()
    );
    assert!(verify(&cert, b"image", &armour(&sig)).is_ok());
}

#[test]
fn text_mode_signature_is_refused_as_such_even_over_the_signed_bytes() {
    let (cert, mut pair) = signer("A <a@example.com>");
    let data = b"manifest\nrootfs/etc/passwd\n";
    let text = sign(
        &mut pair,
        data,
        &Spec {
            typ: SignatureType::Text,
            ..Spec::good()
        },
    );
    // The attack: a text signature also "verifies" the bytes with \r inserted before \n.
    let changed = b"manifest\r\nrootfs/etc/passwd\r\n";
    for bytes in [&data[..], &changed[..]] {
        let err = verify(&cert, bytes, &text).unwrap_err();
        assert!(
            matches!(err, BadSignature::NotBinary { code: 0x01, .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("text-mode") && msg.contains("type 0x00"),
            "{msg}"
        );
    }
    // Control: the binary signature of the same bytes verifies, and not the changed bytes.
    let binary = sign(&mut pair, data, &Spec::good());
    assert!(verify(&cert, data, &binary).is_ok());
    assert!(matches!(
        verify(&cert, changed, &binary),
        Err(BadSignature::Mismatch { .. })
    ));
}

#[test]
fn standalone_timestamp_and_certification_signatures_say_their_type() {
    let (cert, mut pair) = signer("A <a@example.com>");
    for (typ, kind, code) in [
        (SignatureType::Standalone, "standalone", 0x02),
        (SignatureType::Timestamp, "timestamp", 0x40),
        (SignatureType::GenericCertification, "certification", 0x10),
        (SignatureType::PositiveCertification, "certification", 0x13),
    ] {
        let sig = sign(
            &mut pair,
            b"image",
            &Spec {
                typ,
                ..Spec::good()
            },
        );
        let err = verify(&cert, b"image", &sig).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(kind) && msg.contains(&format!("{code:#04x}")),
            "{msg}"
        );
        assert!(!msg.contains("does not match"), "{msg}");
    }
}

#[test]
fn weak_hashes_are_named() {
    let (cert, mut pair) = signer("A <a@example.com>");
    for (hash, name) in [(HashAlgorithm::SHA1, "SHA1"), (HashAlgorithm::MD5, "MD5")] {
        let sig = sign(
            &mut pair,
            b"image",
            &Spec {
                hash,
                ..Spec::good()
            },
        );
        let err = verify(&cert, b"image", &sig).unwrap_err();
        assert!(matches!(err, BadSignature::WeakHash { .. }), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    for hash in [HashAlgorithm::SHA256, HashAlgorithm::SHA384] {
        let sig = sign(
            &mut pair,
            b"image",
            &Spec {
                hash,
                ..Spec::good()
            },
        );
        assert!(verify(&cert, b"image", &sig).is_ok(), "{hash}");
    }
}

#[test]
fn future_dated_and_expired_signatures_are_named() {
    let (cert, mut pair) = signer("A <a@example.com>");
    let future = sign(
        &mut pair,
        b"image",
        &Spec {
            created: SystemTime::now() + 30 * DAY,
            ..Spec::good()
        },
    );
    let err = verify(&cert, b"image", &future).unwrap_err();
    assert!(matches!(err, BadSignature::FutureDated { .. }), "{err}");
    assert!(err.to_string().contains("in the future"), "{err}");

    let expired = sign(
        &mut pair,
        b"image",
        &Spec {
            created: SystemTime::now() - 3 * DAY,
            validity: Some(DAY),
            ..Spec::good()
        },
    );
    let err = verify(&cert, b"image", &expired).unwrap_err();
    assert!(
        matches!(err, BadSignature::SignatureExpired { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("expired at"), "{err}");

    // Controls: a minute ahead is clock skew; a signature valid for a month has not expired.
    for spec in [
        Spec {
            created: SystemTime::now() + Duration::from_secs(60),
            ..Spec::good()
        },
        Spec {
            validity: Some(30 * DAY),
            ..Spec::good()
        },
    ] {
        let sig = sign(&mut pair, b"image", &spec);
        assert!(verify(&cert, b"image", &sig).is_ok());
    }
}

#[test]
fn other_packets_and_too_many_signatures_are_malformed() {
    let (cert, mut pair) = signer("A <a@example.com>");
    let good = sign(&mut pair, b"image", &Spec::good());
    let mut with_key = good.clone();
    with_key.extend(cert.to_vec().unwrap());
    assert!(matches!(
        verify(&cert, b"image", &with_key),
        Err(BadSignature::Malformed(m)) if m.contains("only signature packets")
    ));
    let many = good.repeat(MAX_SIGNATURES + 1);
    assert!(matches!(
        verify(&cert, b"image", &many),
        Err(BadSignature::Malformed(m)) if m.contains("more than")
    ));
    // Control: the most signatures allowed.
    assert!(verify(&cert, b"image", &good.repeat(MAX_SIGNATURES)).is_ok());
}

#[test]
fn one_pass_digest_equals_hashing_afterwards() {
    let (cert, mut pair) = signer("A <a@example.com>");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let sig = sign(&mut pair, &data, &Spec::good());
    let mut sigs = DetachedSignatures::parse(&sig, SystemTime::now()).unwrap();
    let mut tee = sigs.reader(&data[..]);
    let mut copy = Vec::new();
    std::io::Read::read_to_end(&mut tee, &mut copy).unwrap();
    assert_eq!(copy, data);
    let verdicts = sigs.check(&[public(&cert)], SystemTime::now());
    assert!(verdicts[0].is_ok(), "{:?}", verdicts[0]);
}

/// A store trusting `a` for `example.com/app` and `b` for `example.org`.
fn two_key_store(a: &Cert, b: &Cert) -> (tempfile::TempDir, TrustStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = TrustStore::new(dir.path().join("trustedkeys"), None);
    let scope = |p: &str| Scope::Prefix(Prefix::parse(p).unwrap());
    store
        .trust(
            &scope("example.com/app"),
            &a.armored().to_vec().unwrap(),
            Path::new("a"),
        )
        .unwrap();
    store
        .trust(
            &scope("example.org"),
            &b.armored().to_vec().unwrap(),
            Path::new("b"),
        )
        .unwrap();
    (dir, store)
}

#[test]
fn any_good_trusted_signature_suffices_whatever_the_order() {
    let (a, mut pa) = signer("A <a@example.com>");
    let (b, mut pb) = signer("B <b@example.org>");
    let (_c, mut pc) = signer("C <c@untrusted.net>");
    let (_dir, store) = two_key_store(&a, &b);
    let policy = store.policy().unwrap();
    let good = sign(&mut pa, b"image", &Spec::good());
    let other_prefix = sign(&mut pb, b"image", &Spec::good());
    let untrusted = sign(&mut pc, b"image", &Spec::good());
    let tampered = sign(&mut pa, b"other image", &Spec::good());
    let text = sign(
        &mut pa,
        b"image",
        &Spec {
            typ: SignatureType::Text,
            ..Spec::good()
        },
    );
    let bad = [&other_prefix, &untrusted, &tampered, &text];
    for first in bad {
        for (sig, what) in [
            ([first.clone(), good.clone()].concat(), "bad first"),
            ([good.clone(), first.clone()].concat(), "good first"),
            ([armour(first), armour(&good)].concat(), "two armour blocks"),
        ] {
            let v = policy
                .verify("example.com/app", &b"image"[..], &sig)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(v.signer, a.fingerprint().to_hex(), "{what}");
            assert_eq!(v.others.len(), 1, "{what}: {:?}", v.others);
        }
    }
    // Control: without the good signature, every combination of the bad ones is refused, and
    // each is reported.
    let all_bad = bad.iter().copied().flatten().copied().collect::<Vec<u8>>();
    let err = policy
        .verify("example.com/app", &b"image"[..], &all_bad)
        .unwrap_err();
    assert!(matches!(err, Refusal::NoTrustedSignature { ref each, .. } if each.len() == 4));
    let msg = err.to_string();
    for needle in [
        "signature 1: signer",
        "trusted only for prefix example.org",
        "signature 2: signed by",
        "not a trusted key",
        "signature 3: signature by",
        "does not match",
        "signature 4:",
        "text-mode",
    ] {
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
}

//! The pod identity signer (appc §5.2, rkt's construction): HMAC-SHA512 keyed with the store's
//! key over the 16 raw bytes of the signing pod's UUID followed by the content, sent as standard
//! padded base64 (88 characters). Verification recomputes the MAC for the UUID the verifier
//! names and compares in constant time, so any pod (or `acrun metadata verify` on the host) can
//! check another pod's claim without ever holding the key.

use super::key::HmacKey;
use appc::uuid::Uuid;
use base64::Engine;
use hmac::{KeyInit, Mac};

type HmacSha512 = hmac::Hmac<sha2::Sha512>;

fn mac(key: &HmacKey, uuid: &Uuid, content: &[u8]) -> HmacSha512 {
    // An HMAC accepts keys of any length; 64 bytes cannot fail.
    let mut m = match HmacSha512::new_from_slice(&key.0) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    m.update(uuid.as_bytes());
    m.update(content);
    m
}

/// The signature of `content` by the pod `uuid`, base64.
pub fn sign(key: &HmacKey, uuid: &Uuid, content: &[u8]) -> String {
    let tag = mac(key, uuid, content).finalize().into_bytes();
    base64::engine::general_purpose::STANDARD.encode(tag)
}

/// Whether `signature` (base64) is the pod `uuid`'s signature of `content`. A signature that
/// is not base64 is simply not valid.
pub fn verify(key: &HmacKey, uuid: &Uuid, content: &[u8], signature: &str) -> bool {
    let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    mac(key, uuid, content).verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::key::KEY_LEN;

    fn uuid(s: &str) -> Uuid {
        s.parse().unwrap()
    }

    #[test]
    fn a_signature_verifies_only_for_its_pod_content_and_key() {
        let key = HmacKey([7; KEY_LEN]);
        let a = uuid("6733c9a7-dc5b-4cfd-b3d8-1d4d0d5e3a11");
        let b = uuid("0d9b5e6c-1a2b-4c3d-8e4f-5a6b7c8d9e0f");
        let sig = sign(&key, &a, b"Old MacDonald Had A Farm");
        assert_eq!(sig.len(), 88);
        assert!(verify(&key, &a, b"Old MacDonald Had A Farm", &sig));
        assert!(!verify(&key, &a, b"Old MacDonald Had A Farm!", &sig));
        assert!(!verify(&key, &b, b"Old MacDonald Had A Farm", &sig));
        assert!(!verify(
            &HmacKey([8; KEY_LEN]),
            &a,
            b"Old MacDonald Had A Farm",
            &sig
        ));
        assert!(!verify(
            &key,
            &a,
            b"Old MacDonald Had A Farm",
            "not base64!"
        ));
        assert!(!verify(&key, &a, b"Old MacDonald Had A Farm", &sig[..40]));
    }

    #[test]
    fn the_mac_covers_the_raw_uuid_bytes_then_the_content() {
        // HMAC-SHA512 with key 0x07*64 over uuid bytes ‖ "x", computed independently with
        // `openssl dgst -sha512 -mac HMAC -macopt hexkey:07…07`.
        let key = HmacKey([7; KEY_LEN]);
        let u = uuid("00000000-0000-4000-8000-000000000000");
        let sig = sign(&key, &u, b"x");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sig)
            .unwrap();
        assert_eq!(hex(&raw), EXPECTED_HEX);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    const EXPECTED_HEX: &str = "97473dba79c4feda9405c4e8e30249fdc6e95010f0bbeb1e64a82d0f08abfb223920f13770fa08ef2b8c22217c867644b4eb7f6044a1c82a2b3f45ac4aa2ddde";
}

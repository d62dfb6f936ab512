//! Image IDs: `sha512-` followed by the 128 lowercase hex digits of the SHA-512 of an ACI's
//! uncompressed tar stream (spec: "Image ID"). Parsing is strict: exactly the `sha512` algorithm,
//! exactly 128 hex digits, lowercase only — stricter than the Go reference, which accepts any
//! non-empty value after `sha512-`.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha512};

/// The prefix every image ID carries.
pub const PREFIX: &str = "sha512-";

/// A valid image ID. Can only be built from a digest or a checked string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageId([u8; 64]);

/// Why a string is not an image ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageIdError {
    #[error("image ID must start with \"sha512-\" (the only algorithm the spec allows)")]
    Algorithm,
    #[error("image ID must have exactly 128 hex digits after \"sha512-\", found {0}")]
    Length(usize),
    #[error("image ID must be lowercase hex digits after \"sha512-\"")]
    Digits,
}

impl ImageId {
    /// The ID of a finished SHA-512 digest.
    pub fn from_digest(digest: [u8; 64]) -> Self {
        ImageId(digest)
    }

    /// The raw 64-byte digest.
    pub fn digest(&self) -> &[u8; 64] {
        &self.0
    }

    /// The short form rkt shows: `sha512-` and the first 32 hex digits.
    pub fn short(&self) -> String {
        let full = self.to_string();
        full[..PREFIX.len() + 32].to_string()
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageId({self})")
    }
}

impl FromStr for ImageId {
    type Err = ImageIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex_part = s.strip_prefix(PREFIX).ok_or(ImageIdError::Algorithm)?;
        if hex_part.len() != 128 {
            return Err(ImageIdError::Length(hex_part.len()));
        }
        if !hex_part
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ImageIdError::Digits);
        }
        let mut out = [0u8; 64];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| ImageIdError::Digits)?;
        Ok(ImageId(out))
    }
}

impl Serialize for ImageId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Hashes every byte that passes through it, in either direction: wrap the uncompressed tar
/// stream (a writer when building, a reader when checking) and call [`Hashing::finish`] at the end.
#[derive(Debug)]
pub struct Hashing<T> {
    inner: T,
    hasher: Sha512,
    bytes: u64,
}

impl<T> Hashing<T> {
    /// Start hashing what flows through `inner`.
    pub fn new(inner: T) -> Self {
        Hashing {
            inner,
            hasher: Sha512::new(),
            bytes: 0,
        }
    }

    /// How many bytes have passed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The image ID of everything that passed, and the wrapped value back.
    pub fn finish(self) -> (ImageId, T) {
        let digest: [u8; 64] = self.hasher.finalize().into();
        (ImageId(digest), self.inner)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_passes_and_matches_sha512() {
        let mut h = Hashing::new(Vec::new());
        h.write_all(b"abc").unwrap();
        let (id, inner) = h.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(
            id.to_string(),
            "sha512-ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    #[test]
    fn round_trips_through_string_and_json() {
        let id = ImageId::from_digest([0xab; 64]);
        let s = id.to_string();
        assert_eq!(s.len(), 135);
        assert_eq!(s.parse::<ImageId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<ImageId>(&json).unwrap(), id);
        assert_eq!(id.short().len(), 39);
    }

    #[test]
    fn rejects_other_algorithms_lengths_and_case() {
        assert_eq!(
            "sha256-abcd".parse::<ImageId>(),
            Err(ImageIdError::Algorithm)
        );
        assert_eq!("abcdef".parse::<ImageId>(), Err(ImageIdError::Algorithm));
        assert_eq!("sha512-zz".parse::<ImageId>(), Err(ImageIdError::Length(2)));
        let upper = format!("sha512-{}", "A".repeat(128));
        assert_eq!(upper.parse::<ImageId>(), Err(ImageIdError::Digits));
        let bad = format!("sha512-{}g", "a".repeat(127));
        assert_eq!(bad.parse::<ImageId>(), Err(ImageIdError::Digits));
    }
}

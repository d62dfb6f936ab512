//! Pod UUIDs (RFC 4122). Parsing follows the Go reference — dashes are ignored, 32 hex digits in
//! any case — but rejects the all-zero UUID; output is always lower-case 8-4-4-4-12.

use std::fmt;

/// Why a string is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UuidError {
    /// Not 32 hex digits (after removing dashes).
    #[error("{0:?} is not a UUID (32 hex digits, optionally dashed 8-4-4-4-12)")]
    Syntax(String),
    /// `00000000-0000-0000-0000-000000000000`.
    #[error("the nil UUID is not allowed")]
    Nil,
}

/// A non-nil UUID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid([u8; 16]);

impl Uuid {
    /// Parses `s`.
    pub fn new(s: &str) -> Result<Self, UuidError> {
        let hex_digits: String = s.chars().filter(|c| *c != '-').collect();
        let mut out = [0u8; 16];
        if hex_digits.len() != 32 || hex::decode_to_slice(&hex_digits, &mut out).is_err() {
            return Err(UuidError::Syntax(s.to_owned()));
        }
        Self::from_bytes(out)
    }

    /// From raw bytes; the nil UUID is refused.
    pub fn from_bytes(bytes: [u8; 16]) -> Result<Self, UuidError> {
        if bytes == [0; 16] {
            Err(UuidError::Nil)
        } else {
            Ok(Uuid(bytes))
        }
    }

    /// The 16 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = hex::encode(self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

impl std::str::FromStr for Uuid {
    type Err = UuidError;
    fn from_str(s: &str) -> Result<Self, UuidError> {
        Uuid::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go_and_prints_canonically() {
        let u = Uuid::new("6733C088-A507-4694-AABF-EDBE4FC5266F").unwrap();
        assert_eq!(u.to_string(), "6733c088-a507-4694-aabf-edbe4fc5266f");
        assert_eq!(Uuid::new("6733c088a5074694aabfedbe4fc5266f").unwrap(), u);
    }

    #[test]
    fn rejects_wrappers_and_nil() {
        for bad in [
            "{6733c088-a507-4694-aabf-edbe4fc5266f}",
            "urn:uuid:6733c088-a507-4694-aabf-edbe4fc5266f",
            "6733c088-a507-4694-aabf-edbe4fc5266f\n",
            "xyz",
            "",
        ] {
            assert!(
                matches!(Uuid::new(bad), Err(UuidError::Syntax(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            Uuid::new("00000000-0000-0000-0000-000000000000"),
            Err(UuidError::Nil)
        );
    }
}

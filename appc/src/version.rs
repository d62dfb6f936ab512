//! The AC version: a SemVer 2.0.0 string (`0.8.11`, `1.0.0-rc.1+build.5`), never `0.0.0`.

use serde::{Serialize, Serializer};
use std::fmt;

/// The spec version this crate implements and writes into manifests.
pub const CURRENT: &str = "0.8.11";

/// Why a string is not a valid AC version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Not SemVer 2.0.0 (`0.8`, `01.0.0`, `1.0.0-`, ...).
    #[error("{0:?} is not a SemVer 2.0.0 version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])")]
    NotSemVer(String),
    /// `0.0.0`, which the spec reserves as "unset".
    #[error("must not be 0.0.0")]
    Zero,
}

/// A SemVer 2.0.0 version as written (`acVersion`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AcVersion {
    text: String,
    major: u64,
    minor: u64,
    patch: u64,
}

fn numeric(s: &str) -> Option<u64> {
    let leading_zero = s.len() > 1 && s.starts_with('0');
    if s.is_empty() || leading_zero || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn identifiers_ok(s: &str, prerelease: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(prerelease
                && id.len() > 1
                && id.starts_with('0')
                && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

impl AcVersion {
    /// Parses a SemVer 2.0.0 version; `0.0.0` is refused.
    pub fn new(s: &str) -> Result<Self, VersionError> {
        let bad = || VersionError::NotSemVer(s.to_owned());
        let (rest, build) = match s.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (s, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        if build.is_some_and(|b| !identifiers_ok(b, false))
            || pre.is_some_and(|p| !identifiers_ok(p, true))
        {
            return Err(bad());
        }
        let mut parts = core.split('.');
        let (Some(ma), Some(mi), Some(pa), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let (Some(major), Some(minor), Some(patch)) = (numeric(ma), numeric(mi), numeric(pa))
        else {
            return Err(bad());
        };
        if (major, minor, patch) == (0, 0, 0) {
            return Err(VersionError::Zero);
        }
        Ok(AcVersion {
            text: s.to_owned(),
            major,
            minor,
            patch,
        })
    }

    /// The version this crate implements, `0.8.11`.
    pub fn current() -> Self {
        AcVersion {
            text: CURRENT.to_owned(),
            major: 0,
            minor: 8,
            patch: 11,
        }
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `(major, minor, patch)`.
    pub fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

impl fmt::Display for AcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for AcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AcVersion({:?})", self.text)
    }
}

impl Serialize for AcVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_semver() {
        for ok in [
            "0.8.11",
            "0.8.11+git",
            "99.0.0",
            "1.0.0-rc.1+build.5",
            "0.3.0",
            "1.0.0-0a",
        ] {
            assert!(AcVersion::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(AcVersion::new("0.8.11").unwrap().triple(), (0, 8, 11));
    }

    #[test]
    fn rejects_non_semver_and_zero() {
        for bad in [
            "", "0.8", "v0.8.11", "01.0.0", "1.0.0-", "1.0.0+", "1.0.0-01", "1.2.3.4", "1..3",
            "a.b.c",
        ] {
            assert!(
                matches!(AcVersion::new(bad), Err(VersionError::NotSemVer(_))),
                "{bad}"
            );
        }
        assert_eq!(AcVersion::new("0.0.0"), Err(VersionError::Zero));
    }
}

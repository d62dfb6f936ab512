//! The two name types of appc: [`AcIdentifier`] (image names, label, annotation and isolator names)
//! and [`AcName`] (app, volume, mount point and port names).
//!
//! Both enforce the spec's regular expression exactly — stricter than the Go reference, which only
//! checks the alphabet and the first and last character (so it lets `a..b` or `a--b` through).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a string is not a valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The empty string.
    #[error("must not be empty")]
    Empty,
    /// Anything that does not match the type's regular expression.
    #[error("{value:?} is not a valid {kind}: must match {pattern}")]
    Invalid {
        /// The rejected text.
        value: String,
        /// `ACIdentifier` or `ACName`.
        kind: &'static str,
        /// The regular expression it must match.
        pattern: &'static str,
    },
}

/// Checks `^[a-z0-9]+([<seps>][a-z0-9]+)*$`: alphanumeric runs joined by single separators.
fn matches(s: &str, separators: &[u8]) -> bool {
    let mut previous_was_separator = true; // forbids a leading separator
    for b in s.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            previous_was_separator = false;
        } else if separators.contains(&b) && !previous_was_separator {
            previous_was_separator = true;
        } else {
            return false;
        }
    }
    !previous_was_separator // forbids a trailing separator (and the empty string)
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $kind:literal, $pattern:literal, $seps:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(String);

        impl $ty {
            /// The regular expression every value matches.
            pub const PATTERN: &'static str = $pattern;

            /// Checks `s` against [`Self::PATTERN`].
            pub fn new(s: &str) -> Result<Self, NameError> {
                if s.is_empty() {
                    return Err(NameError::Empty);
                }
                if matches(s, $seps) {
                    Ok($ty(s.to_owned()))
                } else {
                    Err(NameError::Invalid { value: s.to_owned(), kind: $kind, pattern: $pattern })
                }
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($ty), self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                $ty::new(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $ty::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// An ACIdentifier: `^[a-z0-9]+([-._~/][a-z0-9]+)*$`, e.g. `example.com/reduce-worker`.
    AcIdentifier,
    "ACIdentifier",
    "^[a-z0-9]+([-._~/][a-z0-9]+)*$",
    b"-._~/"
);

name_type!(
    /// An ACName: `^[a-z0-9]+([-][a-z0-9]+)*$`, e.g. `reduce-worker`.
    AcName,
    "ACName",
    "^[a-z0-9]+([-][a-z0-9]+)*$",
    b"-"
);

impl From<AcName> for AcIdentifier {
    /// Every ACName is an ACIdentifier.
    fn from(n: AcName) -> Self {
        AcIdentifier(n.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_accepts_spec_shapes() {
        for ok in [
            "example.com/reduce-worker",
            "a",
            "0",
            "a.b-c_d~e/f",
            "coreos.com/etcd",
            "os",
        ] {
            assert!(AcIdentifier::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn identifier_rejects_what_the_regex_rejects() {
        for bad in [
            "",
            "Example.com/Hello",
            "-x",
            "x/",
            "example.com:8080/x",
            "example.com//x",
            "a..b",
            "a/-b",
            "a__b",
            "a b",
            "é",
        ] {
            assert!(AcIdentifier::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn name_accepts_dashes_only() {
        assert!(AcName::new("reduce-worker").is_ok());
        assert!(AcName::new("a1-b2-3").is_ok());
        for bad in [
            "",
            "Work",
            "a.b",
            "a--b",
            "-a",
            "a-",
            "example.com/app1",
            "App1",
            "a_b",
        ] {
            assert!(AcName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_goes_through_the_checked_constructor() {
        assert!(serde_json::from_str::<AcName>("\"Bad\"").is_err());
        let n: AcName = serde_json::from_str("\"good\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"good\"");
    }

    #[test]
    fn error_names_the_type_and_pattern() {
        let e = AcName::new("a.b").unwrap_err().to_string();
        assert!(
            e.contains("ACName") && e.contains("^[a-z0-9]+([-][a-z0-9]+)*$"),
            "{e}"
        );
    }
}

//! `SOURCE_DATE_EPOCH`, the one time stamp of a reproducible build, read by one rule.
//!
//! The rule is reproducible-builds.org's: the variable unset or set to the empty string means "not
//! set" (the caller picks its default); any other value must be a decimal integer of seconds since
//! 1970 written in ASCII digits only (no sign, no spaces, no exponent), else it is an error, never
//! silently replaced by a default — a build that asked for a fixed time must not quietly get
//! another one. Both the archive writer (entry mtimes) and signing (signature time) use it.

use std::ffi::OsStr;

/// The environment variable.
pub const VARIABLE: &str = "SOURCE_DATE_EPOCH";

/// A set `SOURCE_DATE_EPOCH` that is not a decimal number of seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SOURCE_DATE_EPOCH={0:?} is not a number of seconds since 1970 (decimal digits only)")]
pub struct SourceDateEpochError(pub String);

/// Seconds since 1970 from a value of `SOURCE_DATE_EPOCH`; `None` when unset or empty.
pub fn parse(value: Option<&OsStr>) -> Result<Option<u64>, SourceDateEpochError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SourceDateEpochError(text.into_owned()));
    }
    text.parse()
        .map(Some)
        .map_err(|_| SourceDateEpochError(text.into_owned()))
}

/// [`parse`] of the process's `SOURCE_DATE_EPOCH`.
pub fn from_env() -> Result<Option<u64>, SourceDateEpochError> {
    parse(std::env::var_os(VARIABLE).as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(s: &str) -> Result<Option<u64>, SourceDateEpochError> {
        parse(Some(OsStr::new(s)))
    }

    #[test]
    fn unset_and_empty_mean_not_set() {
        assert_eq!(parse(None), Ok(None));
        assert_eq!(of(""), Ok(None));
    }

    #[test]
    fn decimal_digits_are_seconds() {
        assert_eq!(of("1700000000"), Ok(Some(1_700_000_000)));
        assert_eq!(of("0"), Ok(Some(0)));
    }

    #[test]
    fn anything_else_is_an_error() {
        for bad in [
            "17e9",
            " 10",
            "10 ",
            "-1",
            "+1",
            "1.5",
            "soon",
            "99999999999999999999999",
        ] {
            assert_eq!(
                of(bad),
                Err(SourceDateEpochError(bad.to_owned())),
                "{bad:?}"
            );
        }
    }
}

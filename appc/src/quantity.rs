//! Resource quantities (`500m`, `1G`, `128Mi`, `1e3`): the Kubernetes grammar the Go reference uses,
//! turned into exact integers.
//!
//! Grammar: an unsigned decimal number (`1`, `0.5`, `.5`) followed by at most one suffix — binary
//! `Ki Mi Gi Ti Pi Ei`, decimal `n u m k M G T P E`, or an exponent `e<int>`/`E<int>`. Decisions:
//! - upper-case `K` is refused, as in Go, although the prose lists it (`k` is the decimal kilo);
//! - negative quantities are refused (Go accepts `-1G`; a negative limit means nothing);
//! - values are held exactly in nano-units (`u128`); anything beyond 2^64 base units is refused
//!   instead of saturating.

use serde::{Serialize, Serializer};
use std::fmt;

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Does not match the grammar.
    #[error(
        "{0:?} is not a quantity (a number with an optional suffix: m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or e<exp>)"
    )]
    Syntax(String),
    /// A leading `-`.
    #[error("{0:?} is negative")]
    Negative(String),
    /// More than 2^64 base units.
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// A non-negative quantity, kept as written and as an exact number of nano-units.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Quantity {
    text: String,
    nanos: u128,
}

const NANOS_PER_UNIT: u128 = 1_000_000_000;

impl Quantity {
    /// Parses a quantity (surrounding whitespace is not allowed here).
    pub fn new(s: &str) -> Result<Self, QuantityError> {
        let syntax = || QuantityError::Syntax(s.to_owned());
        let too_large = || QuantityError::TooLarge(s.to_owned());
        let body = match s.as_bytes().first() {
            Some(b'-') => return Err(QuantityError::Negative(s.to_owned())),
            Some(b'+') => &s[1..],
            _ => s,
        };
        let number_len = body
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (number, suffix) = body.split_at(number_len);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
            return Err(syntax());
        }
        // Numerator: all digits as one integer; denominator: 10^(fraction digits).
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return Err(too_large());
        }
        let mantissa: u128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| syntax())?
        };
        let mut pow10: i64 = -i64::try_from(frac_part.len()).map_err(|_| syntax())?;
        let mut pow2: u32 = 0;
        match suffix {
            "" => {}
            "n" => pow10 -= 9,
            "u" => pow10 -= 6,
            "m" => pow10 -= 3,
            "k" => pow10 += 3,
            "M" => pow10 += 6,
            "G" => pow10 += 9,
            "T" => pow10 += 12,
            "P" => pow10 += 15,
            "E" => pow10 += 18,
            "Ki" => pow2 = 10,
            "Mi" => pow2 = 20,
            "Gi" => pow2 = 30,
            "Ti" => pow2 = 40,
            "Pi" => pow2 = 50,
            "Ei" => pow2 = 60,
            exp => {
                let rest = exp.strip_prefix(['e', 'E']).ok_or_else(syntax)?;
                let unsigned = rest.strip_prefix(['+', '-']).unwrap_or(rest);
                if unsigned.is_empty()
                    || unsigned.len() > 3
                    || !unsigned.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(syntax());
                }
                pow10 += rest.parse::<i64>().map_err(|_| syntax())?;
            }
        }
        pow10 += 9; // to nano-units
        let mut nanos = mantissa.checked_mul(1u128 << pow2).ok_or_else(too_large)?;
        if mantissa != 0 {
            if pow10 >= 0 {
                let scale = 10u128
                    .checked_pow(u32::try_from(pow10).map_err(|_| too_large())?)
                    .ok_or_else(too_large)?;
                nanos = nanos.checked_mul(scale).ok_or_else(too_large)?;
            } else {
                // Below one nano-unit: round up, as Kubernetes does.
                let scale = u32::try_from(-pow10)
                    .ok()
                    .and_then(|p| 10u128.checked_pow(p));
                nanos = match scale {
                    Some(scale) => nanos.div_ceil(scale),
                    None => 1,
                };
            }
        }
        if nanos / NANOS_PER_UNIT > u128::from(u64::MAX) {
            return Err(too_large());
        }
        Ok(Quantity {
            text: s.to_owned(),
            nanos,
        })
    }

    /// The quantity as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The exact value in nano-units (`1` → 1_000_000_000).
    pub fn nanos(&self) -> u128 {
        self.nanos
    }

    /// The value in base units (bytes, cores, ops/s), rounded up.
    pub fn units_ceil(&self) -> u64 {
        u64::try_from(self.nanos.div_ceil(NANOS_PER_UNIT)).unwrap_or(u64::MAX)
    }

    /// The value in thousandths of a unit (millicores for CPU), rounded up.
    pub fn millis_ceil(&self) -> u64 {
        u64::try_from(self.nanos.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({:?})", self.text)
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, QuantityError> {
        Quantity::new(s)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> u64 {
        Quantity::new(s).unwrap().units_ceil()
    }

    #[test]
    fn binary_and_decimal_suffixes() {
        assert_eq!(units("125952Ki"), 128_974_848);
        assert_eq!(units("123Mi"), 128_974_848);
        assert_eq!(units("1G"), 1_000_000_000);
        assert_eq!(units("1k"), 1000);
        assert_eq!(units("4Gi"), 4 << 30);
        assert_eq!(units("1e3"), 1000);
        assert_eq!(units("1E3"), 1000);
        assert_eq!(units("2"), 2);
        assert_eq!(units("9Ei"), 9 << 60);
    }

    #[test]
    fn fractions_and_millis() {
        assert_eq!(Quantity::new("250m").unwrap().millis_ceil(), 250);
        assert_eq!(Quantity::new("0.3").unwrap().millis_ceil(), 300);
        assert_eq!(Quantity::new(".5").unwrap().millis_ceil(), 500);
        assert_eq!(Quantity::new("20m").unwrap().units_ceil(), 1, "rounds up");
        assert_eq!(Quantity::new("1n").unwrap().nanos(), 1);
        assert_eq!(
            Quantity::new("0.0000000001").unwrap().nanos(),
            1,
            "sub-nano rounds up"
        );
        assert_eq!(Quantity::new("1e-3").unwrap().millis_ceil(), 1);
        assert!(Quantity::new("0").unwrap().is_zero());
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "", "1 core", "1K", "1KiB", "G", ".", "1.2.3", "1e", "1e+", "0x10", " 1G", "1G ",
            "1ki", "1e9999",
        ] {
            assert!(Quantity::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_negative_and_huge() {
        assert!(matches!(
            Quantity::new("-1G"),
            Err(QuantityError::Negative(_))
        ));
        assert!(matches!(
            Quantity::new("100Ei"),
            Err(QuantityError::TooLarge(_))
        ));
        assert!(matches!(
            Quantity::new("1e30"),
            Err(QuantityError::TooLarge(_))
        ));
    }
}

//! Annotations: `[{name, value}]` free-form metadata. Names are ACIdentifiers and unique; the
//! well-known `created` must be an RFC 3339 date-time and `homepage`/`documentation` http(s) URLs.

use super::decode::{self, Decoder};
use crate::name::AcIdentifier;
use crate::validation::{Error, index, join};
use serde::Serialize;
use serde_json::Value;

/// One annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub name: AcIdentifier,
    pub value: String,
}

/// An ordered list of annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Annotations(pub Vec<Annotation>);

impl Annotations {
    /// The value of annotation `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every broken rule, with paths under `path`.
    pub fn problems(&self, path: &str) -> Vec<Error> {
        let mut errs = Vec::new();
        for (i, a) in self.0.iter().enumerate() {
            let at = index(path, i);
            if self.0[..i].iter().any(|o| o.name == a.name) {
                errs.push(Error::new(
                    join(&at, "name"),
                    format!("duplicate annotation {:?}", a.name.as_str()),
                ));
            }
            let problem = match a.name.as_str() {
                "created" => (!is_rfc3339(&a.value))
                    .then_some("must be an RFC 3339 date-time (2014-10-27T19:32:27Z)"),
                "homepage" | "documentation" => {
                    (!is_http_url(&a.value)).then_some("must be an absolute http or https URL")
                }
                _ => None,
            };
            if let Some(msg) = problem {
                errs.push(Error::new(join(&at, "value"), msg));
            }
        }
        errs
    }

    pub(crate) fn decode(d: &mut Decoder, v: &Value, path: &str) -> Option<Annotations> {
        let m = d.mark();
        let list = decode::array(d, v, path, |d, v, p| {
            let o = d.object(v, p)?;
            let name = o.required(d, "name", decode::identifier);
            let value = o.required(d, "value", decode::string);
            Some(Annotation {
                name: name?,
                value: value?,
            })
        })?;
        d.clean_since(m).then_some(Annotations(list))
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// RFC 3339 `date-time` with a `T` separator (as Go's `time.RFC3339` parse), e.g. `2014-10-27T19:32:27.67Z`.
pub fn is_rfc3339(s: &str) -> bool {
    let Some((date, time)) = s.split_once(['T', 't']) else {
        return false;
    };
    let mut d = date.split('-');
    let (Some(y), Some(mo), Some(da), None) = (d.next(), d.next(), d.next(), d.next()) else {
        return false;
    };
    let (Some(y), Some(mo), Some(da)) = (digits(y, 4), digits(mo, 2), digits(da, 2)) else {
        return false;
    };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo) || da == 0 || da > days[(mo - 1) as usize] {
        return false;
    }
    let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, None)
    } else if let Some(pos) = time.rfind(['+', '-']) {
        (&time[..pos], Some(&time[pos + 1..]))
    } else {
        return false;
    };
    if let Some(off) = offset {
        let Some((oh, om)) = off.split_once(':') else {
            return false;
        };
        let offset_ok =
            digits(oh, 2).is_some_and(|h| h < 24) && digits(om, 2).is_some_and(|m| m < 60);
        if !offset_ok {
            return false;
        }
    }
    let (hms, frac) = match clock.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (clock, None),
    };
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let mut t = hms.split(':');
    let (Some(h), Some(mi), Some(se), None) = (t.next(), t.next(), t.next(), t.next()) else {
        return false;
    };
    digits(h, 2).is_some_and(|h| h < 24)
        && digits(mi, 2).is_some_and(|m| m < 60)
        && digits(se, 2).is_some_and(|s| s < 61)
}

/// An absolute `http://` or `https://` URL with a non-empty host.
pub fn is_http_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty()
        && !s
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, value: &str) -> Annotations {
        Annotations(vec![Annotation {
            name: AcIdentifier::new(name).unwrap(),
            value: value.into(),
        }])
    }

    #[test]
    fn created_must_be_rfc3339() {
        for ok in [
            "2014-10-27T19:32:27.67021798Z",
            "2014-10-27T19:32:27+01:00",
            "2016-02-29T00:00:00Z",
        ] {
            assert!(one("created", ok).problems("a").is_empty(), "{ok}");
        }
        for bad in [
            "2014-10-27 19:32:27Z",
            "2014-10-27",
            "2015-02-29T00:00:00Z",
            "2014-13-01T00:00:00Z",
            "2014-10-27T19:32:27",
            "x",
        ] {
            assert_eq!(
                one("created", bad).problems("a")[0].path,
                "a[0].value",
                "{bad}"
            );
        }
    }

    #[test]
    fn homepage_and_documentation_must_be_http_urls() {
        assert!(
            one("homepage", "https://example.com")
                .problems("a")
                .is_empty()
        );
        assert!(
            one("documentation", "http://example.com/docs")
                .problems("a")
                .is_empty()
        );
        for bad in [
            "ftp://example.com",
            "/docs",
            "example.com",
            "https://",
            "https://a b",
        ] {
            assert!(!one("homepage", bad).problems("a").is_empty(), "{bad}");
            assert!(!one("documentation", bad).problems("a").is_empty(), "{bad}");
        }
        assert!(one("authors", "anything at all").problems("a").is_empty());
    }

    #[test]
    fn duplicates_rejected() {
        let mut a = one("authors", "x");
        a.0.push(a.0[0].clone());
        assert_eq!(a.problems("annotations")[0].path, "annotations[1].name");
    }
}

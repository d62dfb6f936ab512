//! `images.json`: the site's record of what it holds, so publishing again adds to it.
//!
//! It is read back on every publish (the pages are regenerated from it, never patched), written
//! last and atomically, and sorted, so the same inputs always give the same bytes. A catalogue made
//! for another base URL is refused rather than mixed with this one.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// File name of the catalogue at the site root.
pub const FILE: &str = "images.json";

/// One published image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    /// Image name.
    pub name: String,
    /// `version` label.
    pub version: String,
    /// `os` label.
    pub os: String,
    /// `arch` label.
    pub arch: String,
    /// Image file, relative to the site root.
    pub aci: String,
    /// Image ID (`sha512-…` of the uncompressed archive).
    pub image_id: String,
    /// Fingerprint of the key that signed it.
    pub signer: String,
}

impl Entry {
    /// The image's path relative to the site root, from the site's one template.
    pub fn file_stem(name: &str, version: &str, os: &str, arch: &str) -> String {
        format!("{name}-{version}-{os}-{arch}")
    }
}

/// The whole catalogue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The base URL the site was published for.
    pub base_url: String,
    /// Fingerprints of the published keys, sorted.
    pub keys: Vec<String>,
    /// Images, sorted.
    pub images: Vec<Entry>,
}

impl Catalogue {
    /// Reads `SITE/images.json`; `None` when the site is new.
    pub fn load(site: &Path) -> Result<Option<Catalogue>, String> {
        let path = site.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Sorted, deduplicated, pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut c = self.clone();
        c.keys.sort();
        c.keys.dedup();
        c.images.sort();
        c.images.dedup();
        let mut out = serde_json::to_vec_pretty(&c).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The entry published at `aci`, if any.
    pub fn at(&self, aci: &str) -> Option<&Entry> {
        self.images.iter().find(|e| e.aci == aci)
    }
}

/// Orders versions as people do: runs of digits compare as numbers (`1.10` > `1.9`), other runs as
/// text; `latest` is never a candidate (it is what this ordering chooses).
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (runs(a), runs(b));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u128>(), y.parse::<u128>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n).then(x.len().cmp(&y.len())),
                    _ => x.cmp(y),
                };
                if o.is_ne() {
                    return o;
                }
            }
        }
    }
}

fn runs(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let digit = first.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn versions_compare_numerically_by_runs() {
        assert_eq!(version_order("1.10.0", "1.9.3"), Greater);
        assert_eq!(version_order("1.0", "1.0.1"), Less);
        assert_eq!(version_order("2.0-rc1", "2.0-rc2"), Less);
        assert_eq!(version_order("1.0", "1.0"), Equal);
        assert_eq!(version_order("01", "1"), Greater);
    }

    #[test]
    fn bytes_are_sorted_and_stable() {
        let e = |v: &str| Entry {
            name: "example.com/app".into(),
            version: v.into(),
            os: "linux".into(),
            arch: "amd64".into(),
            aci: format!("example.com/app-{v}-linux-amd64.aci"),
            image_id: "sha512-0".into(),
            signer: "AB".into(),
        };
        let a = Catalogue {
            base_url: "https://example.com".into(),
            keys: vec!["B".into(), "A".into()],
            images: vec![e("2"), e("1")],
        };
        let b = Catalogue {
            keys: vec!["A".into(), "B".into(), "A".into()],
            images: vec![e("1"), e("2"), e("1")],
            ..a.clone()
        };
        assert_eq!(a.to_bytes(), b.to_bytes());
    }
}

//! Finding stored images: by image ID (or a unique prefix of one), or by name and labels among
//! the images the current trust policy admits.
//!
//! Defends against cache contamination (runtime-anchors A4): a lookup by name given a
//! [`Judge`] only sees images with an admission that still holds — an image imported with
//! `--insecure-options=image`, or signed by a key no longer trusted for its name, is reported
//! as present but not verified, never silently used. A lookup by full ID names exact content
//! and needs no signature.

use std::fs;

use appc::ImageId;
use appc::name::AcIdentifier;

use super::admission::Judge;
use super::error::StoreError;
use super::layout::Layout;
use super::record::Record;

/// What a user may name an image by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A full image ID.
    Id(ImageId),
    /// `sha512-` and at least 8 hex digits.
    IdPrefix(String),
    /// A name and the labels the image must have.
    Name {
        name: String,
        labels: Vec<(String, String)>,
    },
}

impl Reference {
    /// Parse `ID`, `ID-PREFIX`, `NAME[,LABEL=VALUE...]` or `NAME:VERSION[,LABEL=VALUE...]`.
    pub fn parse(text: &str) -> Result<Reference, StoreError> {
        let bad = |why: &str| StoreError::BadReference(format!("image reference {text:?}: {why}"));
        if let Some(hex) = text.strip_prefix(appc::image_id::PREFIX) {
            if hex.len() == 128 {
                return text
                    .parse()
                    .map(Reference::Id)
                    .map_err(|e| bad(&e.to_string()));
            }
            if hex.len() < 8
                || hex.len() > 128
                || !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(bad(
                    "an image ID prefix needs 8 to 128 lowercase hex digits",
                ));
            }
            return Ok(Reference::IdPrefix(text.to_owned()));
        }
        let mut parts = text.split(',');
        let head = parts.next().unwrap_or_default();
        let mut labels = Vec::new();
        let name = match head.split_once(':') {
            Some((name, version)) => {
                labels.push(("version".to_owned(), version.to_owned()));
                name
            }
            None => head,
        };
        AcIdentifier::new(name).map_err(|e| bad(&e.to_string()))?;
        for part in parts {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad("labels are LABEL=VALUE"))?;
            AcIdentifier::new(k).map_err(|e| bad(&e.to_string()))?;
            labels.push((k.to_owned(), v.to_owned()));
        }
        Ok(Reference::Name {
            name: name.to_owned(),
            labels,
        })
    }
}

/// Every record, sorted by name, import time and ID. Files that are not records of the ID in
/// their name (temporary files, damage) are skipped.
pub fn records(layout: &Layout) -> Result<Vec<Record>, StoreError> {
    let dir = layout.records();
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).map_err(StoreError::io(&dir))? {
        let entry = entry.map_err(StoreError::io(&dir))?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<ImageId>().ok())
        else {
            continue;
        };
        if let Some(r) = Record::read(&entry.path(), &id) {
            out.push(r);
        }
    }
    out.sort_by(|a, b| (&a.name, a.imported, a.id).cmp(&(&b.name, b.imported, b.id)));
    Ok(out)
}

/// Resolve `text` to one stored image.
pub fn find(layout: &Layout, text: &str, judge: Option<&Judge>) -> Result<Record, StoreError> {
    match Reference::parse(text)? {
        Reference::Id(id) => Record::read(&layout.record(&id), &id)
            .ok_or_else(|| StoreError::NotFound(text.to_owned())),
        Reference::IdPrefix(prefix) => {
            let mut hits: Vec<Record> = records(layout)?
                .into_iter()
                .filter(|r| r.id.to_string().starts_with(&prefix))
                .collect();
            match hits.len() {
                0 => Err(StoreError::NotFound(text.to_owned())),
                1 => Ok(hits.remove(0)),
                _ => Err(StoreError::Ambiguous {
                    reference: text.to_owned(),
                    ids: hits.iter().map(|r| r.id.to_string()).collect(),
                }),
            }
        }
        Reference::Name { name, labels } => by_name(layout, text, &name, &labels, judge),
    }
}

/// The newest stored image called `name` with `labels` that `judge` admits.
pub fn by_name(
    layout: &Layout,
    text: &str,
    name: &str,
    labels: &[(String, String)],
    judge: Option<&Judge>,
) -> Result<Record, StoreError> {
    let candidates: Vec<Record> = records(layout)?
        .into_iter()
        .filter(|r| r.name == name && r.has_labels(labels))
        .collect();
    let admitted = candidates
        .iter()
        .filter(|r| judge.is_none_or(|j| j.admits(&r.admissions, &r.name)))
        .max_by_key(|r| (r.imported, r.id));
    match (admitted, candidates.last()) {
        (Some(r), _) => Ok(r.clone()),
        (None, Some(r)) => Err(StoreError::NotAdmitted {
            reference: text.to_owned(),
            id: r.id,
            name: r.name.clone(),
        }),
        (None, None) => Err(StoreError::NotFound(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_of_reference() {
        assert_eq!(
            Reference::parse("example.com/app:1.0,os=linux").unwrap(),
            Reference::Name {
                name: "example.com/app".into(),
                labels: vec![
                    ("version".into(), "1.0".into()),
                    ("os".into(), "linux".into())
                ]
            }
        );
        assert!(matches!(
            Reference::parse("sha512-0123abcd").unwrap(),
            Reference::IdPrefix(_)
        ));
        let full = ImageId::from_digest([1; 64]).to_string();
        assert!(matches!(Reference::parse(&full).unwrap(), Reference::Id(_)));
        for bad in ["sha512-12", "sha512-XYZ12345", "Bad Name", "a,b"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}

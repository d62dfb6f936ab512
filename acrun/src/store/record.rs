//! The record of one stored image (`records/ID.json`): what the index knows about it and how it
//! was admitted. Records are the store's index: a lookup by name reads them all (a store holds
//! tens to thousands of images; each record is a few hundred bytes).
//!
//! Defends against: a record that lies about its file name (the ID inside must match the file
//! name, or the record is ignored as corrupt) and against insecure imports satisfying verified
//! lookups later (every admission is recorded, and re-judged under the current policy).

use std::path::Path;

use appc::ImageId;
use serde::{Deserialize, Serialize};

/// One label of a stored image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLabel {
    pub name: String,
    pub value: String,
}

/// How an image was let in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Admission {
    /// A good signature by `signer`, trusted for `scope` (`root` or `prefix NAME`) at import time.
    Signed { signer: String, scope: String },
    /// Imported with `--insecure-options=image`: no signature was checked.
    Insecure,
}

impl std::fmt::Display for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Admission::Signed { signer, .. } => f.write_str(signer),
            Admission::Insecure => f.write_str("insecure"),
        }
    }
}

/// What the store knows about one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The image ID (SHA-512 of the uncompressed tar).
    pub id: ImageId,
    /// The image name from its manifest.
    pub name: String,
    pub labels: Vec<StoredLabel>,
    /// Size of the compressed bytes as fetched.
    pub size: u64,
    /// Bytes of file content in the extracted tree.
    pub tree_size: u64,
    /// The compression of the fetched file.
    pub compression: String,
    /// Unix seconds of the first import.
    pub imported: u64,
    /// Where it was first fetched from.
    pub source: String,
    /// Every way it was admitted, oldest first (a later verified fetch adds to an insecure one).
    pub admissions: Vec<Admission>,
    /// Archive paths of setuid or setgid files, kept as stored.
    pub setid_files: Vec<String>,
    /// The image IDs of its dependencies' names are resolved at render time; these are only the
    /// names, for `image list`.
    pub dependencies: Vec<String>,
}

impl Record {
    /// Whether the labels of this image include every `(name, value)` in `wanted`.
    pub fn has_labels(&self, wanted: &[(String, String)]) -> bool {
        wanted
            .iter()
            .all(|(n, v)| self.labels.iter().any(|l| &l.name == n && &l.value == v))
    }

    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }

    /// Read a record; `None` when it is missing, unreadable or not the record of `id`.
    pub fn read(path: &Path, id: &ImageId) -> Option<Record> {
        let bytes = std::fs::read(path).ok()?;
        let record: Record = serde_json::from_slice(&bytes).ok()?;
        (record.id == *id).then_some(record)
    }

    /// The JSON bytes written to disk.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_the_id() {
        let id = ImageId::from_digest([7; 64]);
        let r = Record {
            id,
            name: "example.com/a".into(),
            labels: vec![StoredLabel {
                name: "version".into(),
                value: "1".into(),
            }],
            size: 1,
            tree_size: 2,
            compression: "gzip".into(),
            imported: 3,
            source: "file:///x.aci".into(),
            admissions: vec![
                Admission::Insecure,
                Admission::Signed {
                    signer: "AB".into(),
                    scope: "root".into(),
                },
            ],
            setid_files: vec![],
            dependencies: vec![],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, r.to_json()).unwrap();
        assert_eq!(Record::read(&path, &id), Some(r.clone()));
        assert_eq!(Record::read(&path, &ImageId::from_digest([8; 64])), None);
        assert!(r.has_labels(&[("version".into(), "1".into())]));
        assert!(!r.has_labels(&[("version".into(), "2".into())]));
    }
}

//! Removing images and collecting garbage, both under the exclusive store lock.
//!
//! `remove` deletes the record first — from then on the image is gone for every reader — and
//! then its tree and blob; a crash in between leaves garbage, never a half image. Deleting
//! needs no free space (#2782 in rkt). `collect` removes: temporary directories whose owner is
//! dead (their lock can be taken) or that have no lock, trees and blobs without a record,
//! rendered trees that use an image no longer stored, and temporary record files.

use std::fs;
use std::path::Path;

use appc::ImageId;

use super::Store;
use super::error::StoreError;
use super::import::remove_tree;
use super::lock;
use super::record::Record;

/// What `gc` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub temporary: usize,
    pub trees: usize,
    pub blobs: usize,
    pub rendered: usize,
}

/// Remove the image `id`.
pub fn remove(store: &Store, id: &ImageId) -> Result<(), StoreError> {
    let layout = store.layout();
    let _write = lock::exclusive(&layout.lock()).map_err(StoreError::io(layout.lock()))?;
    let record = layout.record(id);
    match fs::remove_file(&record) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::NotFound(id.to_string()));
        }
        other => other.map_err(StoreError::io(&record))?,
    }
    remove_tree(&layout.tree(id), layout)?;
    for path in [layout.blob(id), layout.signature(id)] {
        let _ = fs::remove_file(path);
    }
    Ok(())
}

fn stored(store: &Store, id: &str) -> bool {
    id.parse::<ImageId>()
        .ok()
        .is_some_and(|id| Record::read(&store.layout().record(&id), &id).is_some())
}

fn names(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(StoreError::io(dir))? {
        let entry = entry.map_err(StoreError::io(dir))?;
        if let Ok(name) = entry.file_name().into_string() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Collect garbage.
/// What `collect` must leave in place whatever the records say: the trees of images live pods
/// run on, and every rendered tree made from them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Keep {
    /// Image IDs in use.
    pub ids: Vec<String>,
    /// Keep every tree and rendered tree (a pod has not said yet which images it uses).
    pub all: bool,
}

impl Keep {
    fn tree(&self, id: &str) -> bool {
        self.all || self.ids.iter().any(|k| k == id)
    }
}

pub fn collect(store: &Store, keep: &Keep) -> Result<GcReport, StoreError> {
    let layout = store.layout();
    let _write = lock::exclusive(&layout.lock()).map_err(StoreError::io(layout.lock()))?;
    let mut report = GcReport::default();
    for name in names(&layout.tmp())? {
        let path = layout.tmp().join(&name);
        let lock_path = path.join("lock");
        // Work directories are made and locked under the shared store lock, so under the
        // exclusive one a directory without a lock file is a dead import's.
        let dead = match lock::try_exclusive(&lock_path) {
            Ok(held) => held.is_some(),
            Err(_) => true,
        };
        if dead {
            fs::remove_dir_all(&path).map_err(StoreError::io(&path))?;
            report.temporary += 1;
        }
    }
    for name in names(&layout.trees())? {
        if !stored(store, &name) && !keep.tree(&name) {
            remove_tree(&layout.trees().join(&name), layout)?;
            report.trees += 1;
        }
    }
    for name in names(&layout.blobs())? {
        let id = name.trim_end_matches(".asc").trim_end_matches(".aci");
        if !stored(store, id) {
            let path = layout.blobs().join(&name);
            fs::remove_file(&path).map_err(StoreError::io(&path))?;
            report.blobs += 1;
        }
    }
    for name in names(&layout.records())? {
        if name.starts_with('.') {
            let path = layout.records().join(&name);
            fs::remove_file(&path).map_err(StoreError::io(&path))?;
            report.temporary += 1;
        }
    }
    for name in names(&layout.rendered())? {
        let path = layout.rendered().join(&name);
        let ids: Vec<String> = fs::read(path.join("images.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let pinned = ids.iter().any(|id| keep.tree(id));
        if !pinned && (ids.is_empty() || !ids.iter().all(|id| stored(store, id))) {
            remove_tree(&path, layout)?;
            report.rendered += 1;
        }
    }
    Ok(report)
}

//! acrun's image store: plain files, JSON records, `flock` and atomic renames — no daemon, no
//! embedded database. The on-disk layout is in [`layout`] and `docs/store.md`.
//!
//! The API the rest of acrun uses:
//! - [`Store::open`]`(dir)` — the store under `dir/images` (made if missing).
//! - [`Store::import_file`]`(aci, signature, judge, origin)` — verify the signature over the
//!   exact bytes, then in one pass decompress, validate, hash and extract, then publish
//!   atomically. `judge` is `None` only for `--insecure-options=image`. For images with
//!   dependencies, [`crate::fetch`] uses [`Store::begin`] / [`Store::prepare`] /
//!   [`Store::publish`] so that nothing is published until the whole closure resolves.
//! - [`Store::find`]`(reference, judge)` — an image by ID (or unique ID prefix), or by
//!   `NAME[,LABEL=VALUE...]` (or `NAME:VERSION`) among the images that the *current* trust
//!   policy admits (any image when `judge` is `None`).
//! - [`Store::render`]`(id, judge)` — the rendered rootfs (dependencies applied, read-only use:
//!   it is shared) and the image manifest.
//! - [`Store::records`], [`Store::remove`], [`Store::export`], [`Store::verify`], [`Store::gc`].
//!
//! Concurrency: any number of acrun processes may use one store. Imports extract in private
//! temporary directories without a lock and take the store lock only to rename into place;
//! readers of a record always find its tree and blob complete, because the record is written
//! last. Defends against the failures rkt's store had: a corrupt embedded database (#3843),
//! "already locked" errors between concurrent users (#1986), `rm` needing disk space (#2782),
//! and insecure imports satisfying verified lookups (A4).

pub mod admission;
pub mod check;
pub mod deps;
pub mod error;
pub mod extract;
pub mod gc;
pub mod import;
pub mod layout;
pub mod lock;
pub mod lookup;
pub mod record;
pub mod render;
pub mod rendered;

use std::fs;
use std::path::{Path, PathBuf};

use appc::ImageId;
use appc::manifest::ImageManifest;

pub use admission::Judge;
pub use error::StoreError;
pub use extract::Limits;
pub use import::{Prepared, Work};
pub use layout::Layout;
pub use record::{Admission, Record};

/// An image store.
#[derive(Debug, Clone)]
pub struct Store {
    layout: Layout,
    limits: Limits,
}

/// A rendered image: where its root filesystem is, and its manifest.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub id: ImageId,
    /// The rendered root filesystem. Shared by every user of the store: mount it read-only or
    /// as an overlay lower layer, never write to it.
    pub rootfs: PathBuf,
    pub manifest: ImageManifest,
    /// The images rendered, in dependency-list order (the top image first).
    pub images: Vec<ImageId>,
}

impl Store {
    /// The store under `dir/images`, created if missing.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let layout = Layout::create(dir).map_err(StoreError::io(dir.join("images")))?;
        Ok(Store {
            layout,
            limits: Limits::default(),
        })
    }

    /// Use other extraction limits.
    pub fn with_limits(mut self, limits: Limits) -> Store {
        self.limits = limits;
        self
    }

    /// The paths of this store.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// A private work directory for one import (download into [`Work::blob`]).
    pub fn begin(&self) -> Result<Work, StoreError> {
        Work::new(&self.layout)
    }

    /// Admit and extract the bytes in `work`, without publishing.
    pub fn prepare(
        &self,
        work: Work,
        signature: Option<Vec<u8>>,
        judge: Option<&Judge>,
        origin: &str,
    ) -> Result<Prepared, StoreError> {
        import::prepare(work, signature, judge, origin, self.limits)
    }

    /// Make a prepared image visible; returns its record.
    pub fn publish(&self, prepared: Prepared) -> Result<Record, StoreError> {
        import::publish(&self.layout, prepared)
    }

    /// Import the local file `aci` (no dependency resolution; see [`crate::fetch`]).
    pub fn import_file(
        &self,
        aci: &Path,
        signature: Option<Vec<u8>>,
        judge: Option<&Judge>,
        origin: &str,
    ) -> Result<Record, StoreError> {
        let work = self.begin()?;
        import::copy_in(&work, aci)?;
        let prepared = self.prepare(work, signature, judge, origin)?;
        self.publish(prepared)
    }

    /// Every stored image, sorted by name, then import time, then ID.
    pub fn records(&self) -> Result<Vec<Record>, StoreError> {
        lookup::records(&self.layout)
    }

    /// The record of `id`, if stored.
    pub fn get(&self, id: &ImageId) -> Option<Record> {
        Record::read(&self.layout.record(id), id)
    }

    /// Resolve a reference (ID, ID prefix, `NAME[,LABEL=VALUE...]`, `NAME:VERSION`).
    pub fn find(&self, reference: &str, judge: Option<&Judge>) -> Result<Record, StoreError> {
        lookup::find(&self.layout, reference, judge)
    }

    /// The manifest of a stored image.
    pub fn manifest(&self, id: &ImageId) -> Result<ImageManifest, StoreError> {
        let path = self.layout.tree(id).join("manifest");
        let bytes = fs::read(&path).map_err(StoreError::io(&path))?;
        ImageManifest::from_json(&bytes).map_err(|e| StoreError::Manifest {
            origin: id.to_string(),
            errors: e.to_string(),
        })
    }

    /// Render `id` with its dependencies (from the store only; `judge` as for [`Store::find`]).
    pub fn render(&self, id: &ImageId, judge: Option<&Judge>) -> Result<Rendered, StoreError> {
        rendered::cached(self, id, judge)
    }

    /// Render `id` into the new or empty directory `dest` (copies, which the user may change).
    pub fn render_to(
        &self,
        id: &ImageId,
        judge: Option<&Judge>,
        dest: &Path,
    ) -> Result<Rendered, StoreError> {
        rendered::copy(self, id, judge, dest)
    }

    /// Write the bytes as fetched to `out` (atomically); the signature beside it if stored.
    pub fn export(&self, id: &ImageId, out: &Path) -> Result<(), StoreError> {
        let _read =
            lock::shared(&self.layout.lock()).map_err(StoreError::io(self.layout.lock()))?;
        let blob = self.layout.blob(id);
        let mut from = fs::File::open(&blob).map_err(StoreError::io(&blob))?;
        let mut to =
            appc::atomic_file::AtomicFile::create(out, 0o644).map_err(StoreError::io(out))?;
        std::io::copy(&mut from, &mut to).map_err(StoreError::io(out))?;
        to.commit().map_err(StoreError::io(out))?;
        let sig = self.layout.signature(id);
        if let Ok(bytes) = fs::read(&sig) {
            let dest = appc::sign::signature_path(out);
            appc::atomic_file::write_atomically(&dest, &bytes, 0o644)
                .map_err(StoreError::io(&dest))?;
        }
        Ok(())
    }

    /// Remove an image: its record first (then it is gone), then its tree and blob.
    pub fn remove(&self, id: &ImageId) -> Result<(), StoreError> {
        gc::remove(self, id)
    }

    /// Re-read the stored blob and check its image ID and that the tree matches the archive.
    pub fn verify(&self, id: &ImageId) -> Result<check::VerifyReport, StoreError> {
        check::verify(self, id)
    }

    /// Remove what no record references and dead imports' temporary directories, but never
    /// what `keep` names (the images live pods run on).
    pub fn gc(&self, keep: &gc::Keep) -> Result<gc::GcReport, StoreError> {
        gc::collect(self, keep)
    }
}

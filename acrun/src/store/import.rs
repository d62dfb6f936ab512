//! Import: admit and extract one image into a private temporary directory, then publish it.
//!
//! Order (crash-safety in `docs/store.md`):
//! 1. [`Work`]: `tmp/NAME/` with its lock held; the fetched bytes are copied (or downloaded)
//!    into `tmp/NAME/blob`, a private copy nobody else can change between the checks below.
//! 2. The detached signature is checked over those exact bytes (admission step 1) before
//!    anything is decompressed.
//! 3. One pass over the blob: decompress, check the layout, hash (the image ID), and extract
//!    each accepted entry into `tmp/NAME/tree/` ([`super::extract`]); then `syncfs`.
//! 4. The manifest is parsed and the signer must be trusted for its name (admission step 2).
//! 5. [`publish`]: under the store lock, rename the tree and the blob into place and write the
//!    record last. If the record already exists, only the new admission is added.
//!
//! A refusal or a kill at any step leaves only `tmp/NAME/`, which nothing reads and `gc` (or
//! the next import's clean-up) removes once its lock is free.

use std::cell::Cell;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use appc::ImageId;
use appc::aci::ReadOptions;
use appc::manifest::ImageManifest;

use super::admission::{AdmissionError, Judge};
use super::error::StoreError;
use super::extract::{ExtractError, Extractor, Limits};
use super::layout::Layout;
use super::lock::{self, Held};
use super::record::{Admission, Record, StoredLabel};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A private temporary directory under `tmp/`, locked while this value lives and removed on drop.
#[derive(Debug)]
pub struct Work {
    dir: PathBuf,
    _lock: Held,
}

impl Work {
    /// Make a new work directory. The store lock is held (shared) while it is made and locked,
    /// so `gc` never sees it unlocked.
    pub fn new(layout: &Layout) -> Result<Work, StoreError> {
        let _store = lock::shared(&layout.lock()).map_err(StoreError::io(layout.lock()))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = layout
            .tmp()
            .join(format!("{}-{nanos}-{n}", std::process::id()));
        fs::create_dir(&dir).map_err(StoreError::io(&dir))?;
        let lock_path = dir.join("lock");
        let held = lock::exclusive(&lock_path).map_err(StoreError::io(&lock_path))?;
        Ok(Work { dir, _lock: held })
    }

    /// Where the fetched bytes go.
    pub fn blob(&self) -> PathBuf {
        self.dir.join("blob")
    }

    /// Where the image is extracted.
    pub fn tree(&self) -> PathBuf {
        self.dir.join("tree")
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// An image admitted and extracted, not yet visible.
#[derive(Debug)]
pub struct Prepared {
    pub work: Work,
    pub id: ImageId,
    pub manifest: ImageManifest,
    pub admission: Admission,
    pub signature: Option<Vec<u8>>,
    pub record: Record,
}

/// Copy the local file `aci` into `work` (a private copy; regular files only).
pub fn copy_in(work: &Work, aci: &Path) -> Result<(), StoreError> {
    let mut from = File::open(aci).map_err(StoreError::io(aci))?;
    let meta = from.metadata().map_err(StoreError::io(aci))?;
    if !meta.is_file() {
        return Err(StoreError::Io {
            path: aci.to_owned(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    let blob = work.blob();
    let mut to = File::create_new(&blob).map_err(StoreError::io(&blob))?;
    io::copy(&mut from, &mut to).map_err(StoreError::io(aci))?;
    Ok(())
}

/// Admit and extract the bytes in `work.blob()`. `judge` is `None` for an insecure import.
pub fn prepare(
    work: Work,
    signature: Option<Vec<u8>>,
    judge: Option<&Judge>,
    origin: &str,
    limits: Limits,
) -> Result<Prepared, StoreError> {
    let blob = work.blob();
    let admission_err = |error| StoreError::Admission {
        origin: origin.to_owned(),
        error: Box::new(error),
    };
    let signer = match (judge, &signature) {
        (Some(judge), Some(sig)) => {
            let file = File::open(&blob).map_err(StoreError::io(&blob))?;
            Some(
                judge
                    .signature(BufReader::with_capacity(1 << 18, file), sig)
                    .map_err(admission_err)?,
            )
        }
        (Some(_), None) => {
            return Err(StoreError::Admission {
                origin: origin.to_owned(),
                error: Box::new(AdmissionError::Unsigned),
            });
        }
        (None, _) => None,
    };
    let tree = work.tree();
    fs::create_dir(&tree).map_err(StoreError::io(&tree))?;
    let (summary, extracted, size) =
        extract(&blob, &tree, limits).map_err(|error| StoreError::Archive {
            origin: origin.to_owned(),
            error: Box::new(error),
        })?;
    let manifest =
        ImageManifest::from_json(&summary.manifest).map_err(|e| StoreError::Manifest {
            origin: origin.to_owned(),
            errors: e.to_string(),
        })?;
    let name = manifest.name.as_str().to_owned();
    let admission = match (judge, signer) {
        (Some(judge), Some(signer)) => judge.name(&signer, &name).map_err(admission_err)?,
        _ => Admission::Insecure,
    };
    let record = Record {
        id: summary.image_id,
        name,
        labels: manifest
            .labels
            .iter()
            .map(|l| StoredLabel {
                name: l.name.as_str().to_owned(),
                value: l.value.clone(),
            })
            .collect(),
        size,
        tree_size: extracted.content_bytes,
        compression: summary.compression.name().to_owned(),
        imported: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        source: origin.to_owned(),
        admissions: vec![admission.clone()],
        setid_files: extracted.setid_files,
        dependencies: manifest
            .dependencies
            .iter()
            .map(|d| d.image_name.as_str().to_owned())
            .collect(),
    };
    Ok(Prepared {
        work,
        id: summary.image_id,
        manifest,
        admission,
        signature,
        record,
    })
}

/// Counts the compressed bytes read, for the extractor's ratio cap.
struct Counting<'a, R> {
    inner: R,
    count: &'a Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

type Extraction = (appc::aci::read::ReadSummary, super::extract::Extracted, u64);

fn extract(blob: &Path, tree: &Path, limits: Limits) -> Result<Extraction, ExtractError> {
    let io_err = |source| ExtractError::Io {
        entry: String::new(),
        source,
    };
    let file = File::open(blob).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    let count = Cell::new(0u64);
    let compressed = || count.get();
    let mut extractor = Extractor::new(tree, limits, &compressed).map_err(io_err)?;
    let input = Counting {
        inner: BufReader::with_capacity(1 << 18, file),
        count: &count,
    };
    let summary = appc::aci::read::read_with(input, ReadOptions::default(), |e, data| {
        extractor.entry(e, data)
    })?;
    let extracted = extractor.finish()?;
    // One flush of the filesystem instead of one fsync per file: the tree is durable before
    // its record can exist.
    let dir = File::open(tree).map_err(io_err)?;
    nix::unistd::syncfs(&dir).map_err(|e| io_err(e.into()))?;
    Ok((summary, extracted, size))
}

/// Make `prepared` visible: tree, blob and signature renamed into place, record written last.
pub fn publish(layout: &Layout, prepared: Prepared) -> Result<Record, StoreError> {
    let _store = lock::exclusive(&layout.lock()).map_err(StoreError::io(layout.lock()))?;
    let id = prepared.id;
    let record_path = layout.record(&id);
    if let Some(mut existing) = Record::read(&record_path, &id) {
        if !existing.admissions.contains(&prepared.admission) {
            existing.admissions.push(prepared.admission.clone());
            write_record(layout, &existing)?;
        }
        if let Some(sig) = &prepared.signature
            && !layout.signature(&id).exists()
        {
            let path = layout.signature(&id);
            appc::atomic_file::write_atomically(&path, sig, 0o644)
                .map_err(StoreError::io(&path))?;
        }
        return Ok(existing);
    }
    // Leftovers of an earlier import killed between its renames and its record.
    remove_tree(&layout.tree(&id), layout)?;
    let tree = layout.tree(&id);
    fs::rename(prepared.work.tree(), &tree).map_err(StoreError::io(&tree))?;
    let blob = layout.blob(&id);
    fs::rename(prepared.work.blob(), &blob).map_err(StoreError::io(&blob))?;
    let sig_path = layout.signature(&id);
    match &prepared.signature {
        Some(sig) => appc::atomic_file::write_atomically(&sig_path, sig, 0o644)
            .map_err(StoreError::io(&sig_path))?,
        None => match fs::remove_file(&sig_path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(StoreError::io(&sig_path)(e));
            }
            _ => {}
        },
    }
    sync_dir(&layout.trees())?;
    sync_dir(&layout.blobs())?;
    write_record(layout, &prepared.record)?;
    Ok(prepared.record)
}

/// Write a record atomically (the commit point of an import).
pub fn write_record(layout: &Layout, record: &Record) -> Result<(), StoreError> {
    let path = layout.record(&record.id);
    appc::atomic_file::write_atomically(&path, &record.to_json(), 0o644)
        .map_err(StoreError::io(&path))
}

/// Remove a directory tree of the store if it exists: first renamed into `tmp/` (one atomic
/// step), then deleted.
pub fn remove_tree(path: &Path, layout: &Layout) -> Result<(), StoreError> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let trash = layout
        .tmp()
        .join(format!("trash-{}-{n}", std::process::id()));
    fs::rename(path, &trash).map_err(StoreError::io(path))?;
    fs::remove_dir_all(&trash).map_err(StoreError::io(&trash))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io(dir))
}

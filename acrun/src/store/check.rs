//! `image verify`: re-read a stored image's blob (one pass: decompress, hash, layout) and
//! compare every entry with the extracted tree — kind, mode, size, content, link target — then
//! look for files in the tree that the archive does not have. Catches store corruption and
//! tampering with the extracted tree (rkt checked a tree hash at render time, A5).

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use appc::ImageId;
use appc::aci::ReadOptions;
use appc::aci::read::{EntryInfo, EntryType};

use super::Store;
use super::error::StoreError;
use super::extract::ExtractError;
use super::lock;

/// The outcome of a verification that found the image intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub id: ImageId,
    pub entries: u64,
}

/// Check image `id`.
pub fn verify(store: &Store, id: &ImageId) -> Result<VerifyReport, StoreError> {
    let layout = store.layout();
    let _read = lock::shared(&layout.lock()).map_err(StoreError::io(layout.lock()))?;
    if store.get(id).is_none() {
        return Err(StoreError::NotFound(id.to_string()));
    }
    let tree = layout.tree(id);
    let blob = layout.blob(id);
    let file = File::open(&blob).map_err(StoreError::io(&blob))?;
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let summary = appc::aci::read::read_with(
        BufReader::with_capacity(1 << 18, file),
        ReadOptions::default(),
        |e: &EntryInfo, data: &mut dyn Read| {
            seen.insert(e.path.clone());
            if let Err(p) = compare(&tree, e, data) {
                problems.push(format!("{}: {p}", e.path));
            }
            Ok::<(), ExtractError>(())
        },
    )
    .map_err(|error| StoreError::Archive {
        origin: blob.display().to_string(),
        error: Box::new(error),
    })?;
    if summary.image_id != *id {
        problems.push(format!("blob hashes to {}", summary.image_id));
    }
    extra_files(&tree, "", &seen, &mut problems).map_err(StoreError::io(&tree))?;
    if problems.is_empty() {
        Ok(VerifyReport {
            id: *id,
            entries: summary.entries,
        })
    } else {
        Err(StoreError::Corrupt {
            id: *id,
            what: format!(
                "the stored tree does not match the archive:\n  {}",
                problems.join("\n  ")
            ),
        })
    }
}

fn compare(tree: &Path, e: &EntryInfo, data: &mut dyn Read) -> Result<(), String> {
    let path = tree.join(&e.path);
    let meta = fs::symlink_metadata(&path).map_err(|err| err.to_string())?;
    let ft = meta.file_type();
    let kind_ok = match e.kind {
        EntryType::File | EntryType::Hardlink => ft.is_file(),
        EntryType::Dir => ft.is_dir(),
        EntryType::Symlink => ft.is_symlink(),
        _ => false,
    };
    if !kind_ok {
        return Err(format!("is not a {}", e.kind));
    }
    match e.kind {
        EntryType::File => {
            if meta.permissions().mode() & 0o7777 != e.mode & 0o7777 {
                return Err(format!(
                    "mode {:o}, archive says {:o}",
                    meta.permissions().mode() & 0o7777,
                    e.mode & 0o7777
                ));
            }
            if meta.len() != e.size {
                return Err(format!("{} bytes, archive says {}", meta.len(), e.size));
            }
            same_content(&path, data).map_err(|err| err.to_string())
        }
        EntryType::Symlink => {
            let target = fs::read_link(&path).map_err(|err| err.to_string())?;
            if Some(target.to_string_lossy().as_ref()) != e.link.as_deref() {
                return Err(format!("links to {target:?}, archive says {:?}", e.link));
            }
            Ok(())
        }
        EntryType::Hardlink => {
            let target = tree.join(e.link.as_deref().unwrap_or_default());
            let t = fs::symlink_metadata(&target).map_err(|err| err.to_string())?;
            if (t.dev(), t.ino()) != (meta.dev(), meta.ino()) {
                return Err("is not a hard link to its target".to_owned());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn same_content(path: &Path, data: &mut dyn Read) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut a = vec![0u8; 1 << 16];
    let mut b = vec![0u8; 1 << 16];
    loop {
        let n = data.read(&mut a)?;
        if n == 0 {
            return Ok(());
        }
        file.read_exact(&mut b[..n])?;
        if a[..n] != b[..n] {
            return Err(io::Error::other("content differs from the archive"));
        }
    }
}

fn extra_files(
    tree: &Path,
    rel: &str,
    seen: &BTreeSet<String>,
    problems: &mut Vec<String>,
) -> io::Result<()> {
    let dir = if rel.is_empty() {
        tree.to_owned()
    } else {
        tree.join(rel)
    };
    let mut names: Vec<_> = fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
    names.sort_by_key(|e| e.file_name());
    for entry in names {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let is_dir = entry.file_type()?.is_dir();
        if !seen.contains(&path) && !is_dir {
            problems.push(format!("{path}: not in the archive"));
        }
        if is_dir {
            extra_files(tree, &path, seen, problems)?;
        }
    }
    Ok(())
}

//! Rendered trees: an image over its dependencies, either cached in the store
//! (`rendered/KEY/rootfs`, hard links to the extracted trees; KEY hashes the resolved dependency
//! list, so a different resolution gives a different tree) or copied to a user's directory.
//!
//! An image without dependencies is not copied at all: its rendered rootfs is its extracted
//! `trees/ID/rootfs`. Trees are read under the shared store lock (no `rm` or `gc` meanwhile); a
//! cached tree is built in a private work directory and renamed into place under the exclusive
//! lock, so a reader sees either no tree or a complete one.

use std::fs;
use std::io::Write;
use std::path::Path;

use appc::ImageId;
use appc::image_id::Hashing;

use super::admission::Judge;
use super::deps::{Layer, Node, dep_list};
use super::error::StoreError;
use super::lock;
use super::lookup;
use super::render::{Files, render};
use super::{Rendered, Store};

/// The dependency list of a stored image, resolved from the store.
pub fn layers(
    store: &Store,
    id: &ImageId,
    judge: Option<&Judge>,
) -> Result<Vec<Layer>, StoreError> {
    let layout = store.layout();
    let Some(top_record) = store.get(id) else {
        return Err(StoreError::NotFound(id.to_string()));
    };
    let top = Node {
        id: *id,
        manifest: store.manifest(id)?,
        size: top_record.size,
    };
    let mut resolve = |dep: &appc::manifest::Dependency| -> Result<Node, String> {
        let record = match dep.image_id {
            Some(dep_id) => store
                .get(&dep_id)
                .ok_or_else(|| format!("image {dep_id} is not in the store"))?,
            None => {
                let labels: Vec<(String, String)> = dep
                    .labels
                    .iter()
                    .map(|l| (l.name.as_str().to_owned(), l.value.clone()))
                    .collect();
                let name = dep.image_name.as_str();
                lookup::by_name(layout, name, name, &labels, judge).map_err(|e| e.to_string())?
            }
        };
        let manifest = store.manifest(&record.id).map_err(|e| e.to_string())?;
        Ok(Node {
            id: record.id,
            manifest,
            size: record.size,
        })
    };
    Ok(dep_list(top, &mut resolve)?)
}

fn key(layers: &[Layer]) -> String {
    let mut h = Hashing::new(std::io::sink());
    for l in layers {
        let _ = writeln!(h, "{} {}", l.id, l.level);
    }
    let (digest, _) = h.finish();
    let hex = digest.to_string();
    format!("deps-{}", &hex[appc::image_id::PREFIX.len()..][..64])
}

/// The rendered rootfs of `id`, from the store's cache (made if missing).
pub fn cached(store: &Store, id: &ImageId, judge: Option<&Judge>) -> Result<Rendered, StoreError> {
    let layers = layers(store, id, judge)?;
    let layout = store.layout();
    let manifest = layers[0].manifest.clone();
    let images = layers.iter().map(|l| l.id).collect();
    if layers.len() == 1 {
        return Ok(Rendered {
            id: *id,
            rootfs: layout.tree(id).join("rootfs"),
            manifest,
            images,
        });
    }
    let dest = layout.rendered().join(key(&layers));
    if !dest.join("rootfs").is_dir() {
        let work = store.begin()?;
        let tree = work.tree();
        let rootfs = tree.join("rootfs");
        fs::create_dir_all(&rootfs).map_err(StoreError::io(&rootfs))?;
        {
            let _read = lock::shared(&layout.lock()).map_err(StoreError::io(layout.lock()))?;
            render(
                &layers,
                &|l| layout.tree(&l.id).join("rootfs"),
                &rootfs,
                Files::Link,
            )?;
        }
        let list: Vec<String> = layers.iter().map(|l| l.id.to_string()).collect();
        let list_path = tree.join("images.json");
        fs::write(&list_path, serde_json::to_vec(&list).unwrap_or_default())
            .map_err(StoreError::io(&list_path))?;
        let _write = lock::exclusive(&layout.lock()).map_err(StoreError::io(layout.lock()))?;
        if !dest.exists() {
            fs::rename(&tree, &dest).map_err(StoreError::io(&dest))?;
        }
    }
    Ok(Rendered {
        id: *id,
        rootfs: dest.join("rootfs"),
        manifest,
        images,
    })
}

/// Render `id` into `dest` (created if missing; must be empty) as plain copies.
pub fn copy(
    store: &Store,
    id: &ImageId,
    judge: Option<&Judge>,
    dest: &Path,
) -> Result<Rendered, StoreError> {
    let layers = layers(store, id, judge)?;
    let layout = store.layout();
    fs::create_dir_all(dest).map_err(StoreError::io(dest))?;
    if fs::read_dir(dest)
        .map_err(StoreError::io(dest))?
        .next()
        .is_some()
    {
        return Err(StoreError::Io {
            path: dest.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "directory is not empty",
            ),
        });
    }
    let _read = lock::shared(&layout.lock()).map_err(StoreError::io(layout.lock()))?;
    render(
        &layers,
        &|l| layout.tree(&l.id).join("rootfs"),
        dest,
        Files::Copy,
    )?;
    Ok(Rendered {
        id: *id,
        rootfs: dest.to_owned(),
        manifest: layers[0].manifest.clone(),
        images: layers.iter().map(|l| l.id).collect(),
    })
}

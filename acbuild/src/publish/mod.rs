//! `acbuild publish`: lay out a static site that serves images by appc meta discovery.
//!
//! The site needs no server logic: images and signatures sit at the paths of one `ac-discovery`
//! template (`BASE/{name}-{version}-{os}-{arch}.{ext}`), every level from each name up to the base
//! has an `index.html` with the discovery tags, the public keys are under `keys/`, and
//! `images.json` records what was published so that publishing again adds to the site. For each
//! name/os/arch the highest version is also copied to `-latest-`, the version a client asks for
//! when it names none.
//!
//! Defends against publishing something clients would refuse or that could overwrite the site:
//! every image is read and checked (archive layout, manifest) and its detached signature verified
//! against the published keys *before* anything is written; a name outside the base URL, labels
//! that are not plain path text (no `/`, no `..`), a missing signature, or a different image at an
//! already published version are refused. Each file appears atomically; the catalogue last.

pub mod base_url;
pub mod catalogue;
pub mod page;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use appc::aci::ReadOptions;
use appc::atomic_file::{AtomicFile, write_atomically};
use appc::manifest::ImageManifest;
use appc::sign::{self, PublicKey};

pub use base_url::{BadBaseUrl, BaseUrl};
use catalogue::{Catalogue, Entry};

/// Why publishing failed; nothing was written unless the error is [`PublishError::Io`].
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Reading an input or writing the site failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// An image, its signature, a key or the existing site is not acceptable.
    #[error("{path}: {reason}")]
    Refused {
        /// The file at fault.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl PublishError {
    /// A refused input is the user's (exit 2); a failed read or write is a failure (exit 1).
    pub fn kind(&self) -> crate::error_kind::ErrorKind {
        match self {
            PublishError::Refused { .. } => crate::error_kind::ErrorKind::Input,
            PublishError::Io { .. } => crate::error_kind::ErrorKind::Failure,
        }
    }

    fn refused(path: &Path, reason: impl Into<String>) -> PublishError {
        PublishError::Refused {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The entries added by this run (already present identical images included).
    pub added: Vec<Entry>,
    /// Every file written, relative to the site, sorted.
    pub files: Vec<String>,
}

/// One image checked and ready to copy.
struct Checked {
    source: PathBuf,
    entry: Entry,
}

/// Publishes `images` (each with `IMAGE.asc` beside it) signed by one of `keys` into `site`, served
/// at `base`. Keys already on the site stay published.
pub fn publish(
    base: &BaseUrl,
    site: &Path,
    keys: &[(PathBuf, PublicKey)],
    images: &[PathBuf],
    now: SystemTime,
) -> Result<Published, PublishError> {
    let mut cat = load_catalogue(base, site)?;
    let mut all_keys = load_site_keys(site, &cat)?;
    for (_, k) in keys {
        all_keys.insert(k.fingerprint(), k.clone());
    }
    if all_keys.is_empty() {
        return Err(PublishError::refused(
            site,
            "no public key to publish: pass --pubkey FILE",
        ));
    }
    let certs: Vec<PublicKey> = all_keys.values().cloned().collect();
    let mut checked = Vec::new();
    for image in images {
        let c = check_image(base, image, &certs, now)?;
        if let Some(old) = cat
            .at(&c.entry.aci)
            .filter(|old| old.image_id != c.entry.image_id)
        {
            return Err(PublishError::refused(
                image,
                format!(
                    "{} {} is already published as {} ({}); publish a new version instead",
                    c.entry.name, c.entry.version, old.aci, old.image_id
                ),
            ));
        }
        if checked.iter().any(|o: &Checked| o.entry.aci == c.entry.aci) {
            return Err(PublishError::refused(
                image,
                format!("{} given twice", c.entry.aci),
            ));
        }
        checked.push(c);
    }
    let mut files = BTreeSet::new();
    for c in &checked {
        copy_into(site, &c.source, &c.entry.aci, &mut files)?;
        let asc = sign::signature_path(&c.source);
        copy_into(site, &asc, &format!("{}.asc", c.entry.aci), &mut files)?;
        cat.images.retain(|e| e.aci != c.entry.aci);
        cat.images.push(c.entry.clone());
    }
    cat.keys = all_keys.keys().cloned().collect();
    write_keys(site, &all_keys, &mut files)?;
    write_latest(site, &cat, &mut files)?;
    write_pages(base, site, &cat, &mut files)?;
    let path = site.join(catalogue::FILE);
    write_atomically(&path, &cat.to_bytes(), 0o644).map_err(io_err(&path))?;
    files.insert(catalogue::FILE.to_owned());
    Ok(Published {
        added: checked.into_iter().map(|c| c.entry).collect(),
        files: files.into_iter().collect(),
    })
}

fn load_catalogue(base: &BaseUrl, site: &Path) -> Result<Catalogue, PublishError> {
    let cat = Catalogue::load(site).map_err(|e| PublishError::refused(site, e))?;
    match cat {
        None => Ok(Catalogue {
            base_url: base.as_str().to_owned(),
            ..Catalogue::default()
        }),
        Some(c) if c.base_url == base.as_str() => Ok(c),
        Some(c) => Err(PublishError::refused(
            &site.join(catalogue::FILE),
            format!(
                "the site was published for {}, not {}; use another --out",
                c.base_url,
                base.as_str()
            ),
        )),
    }
}

fn load_site_keys(
    site: &Path,
    cat: &Catalogue,
) -> Result<BTreeMap<String, PublicKey>, PublishError> {
    let mut keys = BTreeMap::new();
    for fp in &cat.keys {
        let path = site.join(page::key_path(fp));
        let bytes = std::fs::read(&path).map_err(io_err(&path))?;
        let key = PublicKey::from_bytes(&bytes).map_err(|e| PublishError::refused(&path, e))?;
        if key.fingerprint() != *fp {
            return Err(PublishError::refused(
                &path,
                format!("holds key {}, not {fp}", key.fingerprint()),
            ));
        }
        keys.insert(fp.clone(), key);
    }
    Ok(keys)
}

/// Reads the image, checks its name, labels and signature.
fn check_image(
    base: &BaseUrl,
    image: &Path,
    certs: &[PublicKey],
    now: SystemTime,
) -> Result<Checked, PublishError> {
    let file = File::open(image).map_err(io_err(image))?;
    let info = appc::aci::read::read(BufReader::new(file), ReadOptions::default())
        .map_err(|e| PublishError::refused(image, e.to_string()))?;
    let manifest = ImageManifest::from_json(&info.manifest)
        .map_err(|e| PublishError::refused(image, format!("manifest: {e}")))?;
    let name = manifest.name.as_str();
    if base.relative(name).is_none() {
        return Err(PublishError::refused(
            image,
            format!(
                "image name {name} is not under the base URL's host and path {}: clients \
                 discover it at https://{name}, which this site does not serve",
                base.host_path()
            ),
        ));
    }
    let label = |l: &str| path_label(image, &manifest, l);
    let (version, os, arch) = (label("version")?, label("os")?, label("arch")?);
    let asc = sign::signature_path(image);
    let signature = match std::fs::read(&asc) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PublishError::refused(
                image,
                format!(
                    "no signature {} (sign it with `acbuild sign`)",
                    asc.display()
                ),
            ));
        }
        Err(e) => return Err(io_err(&asc)(e)),
    };
    let data = File::open(image).map_err(io_err(image))?;
    let good =
        sign::verify_detached(certs, BufReader::new(data), &signature, now).map_err(|e| {
            PublishError::refused(
                &asc,
                format!("not a good signature by a published key: {e}"),
            )
        })?;
    let stem = Entry::file_stem(name, version, os, arch);
    Ok(Checked {
        source: image.to_owned(),
        entry: Entry {
            name: name.to_owned(),
            version: version.to_owned(),
            os: os.to_owned(),
            arch: arch.to_owned(),
            aci: format!("{stem}.aci"),
            image_id: info.image_id.to_string(),
            signer: good.signer,
        },
    })
}

/// A label that fills the template and so becomes part of a file name: required, and plain text.
fn path_label<'m>(
    image: &Path,
    m: &'m ImageManifest,
    label: &str,
) -> Result<&'m str, PublishError> {
    let value = m.labels.get(label).ok_or_else(|| {
        PublishError::refused(
            image,
            format!("no `{label}` label: the site's template needs version, os and arch"),
        )
    })?;
    let plain = !value.is_empty()
        && !value.starts_with('.')
        && value != "latest"
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~-".contains(&b));
    if !plain {
        return Err(PublishError::refused(
            image,
            format!(
                "label {label}={value:?} cannot be part of a URL path (use A-Z a-z 0-9 . _ + ~ -, \
                 not starting with `.`; `latest` is chosen by publish)"
            ),
        ));
    }
    Ok(value)
}

/// Copies `from` to `site/rel` atomically (directories created).
fn copy_into(
    site: &Path,
    from: &Path,
    rel: &str,
    files: &mut BTreeSet<String>,
) -> Result<(), PublishError> {
    let dest = site.join(rel);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let mut input = File::open(from).map_err(io_err(from))?;
    let mut out = AtomicFile::create(&dest, 0o644).map_err(io_err(&dest))?;
    io::copy(&mut input, &mut out).map_err(io_err(&dest))?;
    out.commit().map_err(io_err(&dest))?;
    files.insert(rel.to_owned());
    Ok(())
}

fn write_keys(
    site: &Path,
    keys: &BTreeMap<String, PublicKey>,
    files: &mut BTreeSet<String>,
) -> Result<(), PublishError> {
    for (fp, key) in keys {
        let rel = page::key_path(fp);
        let path = site.join(&rel);
        let armored = key.armored().map_err(|e| PublishError::refused(&path, e))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        write_atomically(&path, &armored, 0o644).map_err(io_err(&path))?;
        files.insert(rel);
    }
    Ok(())
}

/// For each name/os/arch, copies the highest version to `-latest-` (image and signature).
fn write_latest(
    site: &Path,
    cat: &Catalogue,
    files: &mut BTreeSet<String>,
) -> Result<(), PublishError> {
    let mut best: BTreeMap<(&str, &str, &str), &Entry> = BTreeMap::new();
    for e in &cat.images {
        let slot = best.entry((&e.name, &e.os, &e.arch)).or_insert(e);
        if catalogue::version_order(&e.version, &slot.version).is_gt() {
            *slot = e;
        }
    }
    for ((name, os, arch), e) in best {
        let latest = format!("{}.aci", Entry::file_stem(name, "latest", os, arch));
        copy_into(site, &site.join(&e.aci), &latest, files)?;
        copy_into(
            site,
            &site.join(format!("{}.asc", e.aci)),
            &format!("{latest}.asc"),
            files,
        )?;
    }
    Ok(())
}

/// Writes `index.html` for the base and every level from each name up to it.
fn write_pages(
    base: &BaseUrl,
    site: &Path,
    cat: &Catalogue,
    files: &mut BTreeSet<String>,
) -> Result<(), PublishError> {
    let mut levels = BTreeSet::from([String::new()]);
    for e in &cat.images {
        let rel = base.relative(&e.name).unwrap_or_default();
        let mut path = String::new();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(part);
            levels.insert(path.clone());
        }
    }
    let mut images: Vec<&Entry> = cat.images.iter().collect();
    images.sort();
    for rel in levels {
        let level = if rel.is_empty() {
            base.host_path().to_owned()
        } else {
            format!("{}/{rel}", base.host_path())
        };
        let below: Vec<&Entry> = images
            .iter()
            .copied()
            .filter(|e| e.name == level || e.name.starts_with(&format!("{level}/")))
            .collect();
        let html = page::render(base, &level, &cat.keys, &below);
        let file = if rel.is_empty() {
            "index.html".to_owned()
        } else {
            format!("{rel}/index.html")
        };
        let path = site.join(&file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        write_atomically(&path, html.as_bytes(), 0o644).map_err(io_err(&path))?;
        files.insert(file);
    }
    Ok(())
}

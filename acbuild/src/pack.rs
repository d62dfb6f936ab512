//! `acbuild pack`: turn a directory holding `manifest` and `rootfs/` into a reproducible ACI,
//! like `actool build --owner-root` but bit-for-bit deterministic. The rootfs is walked in sorted
//! order without following symlinks; modes (setuid included) are kept; owners are 0:0 unless
//! `keep_owner`; files sharing a (device, inode) are stored once and then as hard links to the
//! first path. The manifest is validated against the spec and then stored byte for byte as given.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use appc::aci::{
    Builder, Entry, EntryKind, FileSource, RootfsPath, WriteError, WriteOptions, WriteSummary,
};

use crate::error_kind::ErrorKind;
use crate::signature::{self, Reuse, Signature};
use crate::signing_key::{KeyError, SigningKey};

/// Why a directory could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a directory (the layout needs manifest and rootfs/)", .0.display())]
    NoRootfs(PathBuf),
    #[error("{}: sockets, devices and fifos are not packed", .0.display())]
    Special(PathBuf),
    #[error("{}: {source}", path.display())]
    Path {
        path: PathBuf,
        source: appc::aci::RootfsPathError,
    },
    #[error("{}: name is not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("{}: invalid image manifest:\n{errors}", path.display())]
    Manifest {
        path: PathBuf,
        errors: appc::validation::Errors,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("{}: output must end in .aci", .0.display())]
    NotAci(PathBuf),
    #[error(transparent)]
    Sign(#[from] KeyError),
}

impl PackError {
    /// Whether the layout, the output name or the key is at fault, or the packing itself.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PackError::NoRootfs(_)
            | PackError::Special(_)
            | PackError::Path { .. }
            | PackError::NotUtf8(_)
            | PackError::Manifest { .. }
            | PackError::NotAci(_) => ErrorKind::Input,
            PackError::Io { .. } | PackError::Write(_) => ErrorKind::Failure,
            PackError::Sign(e) => e.kind(),
        }
    }
}

/// What [`pack_signed`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The written image.
    pub summary: WriteSummary,
    /// What the signing step did.
    pub signature: Signature,
}

/// Pack `dir` into `out` (which must end in `.aci`), then sign it with `key` (`None`: unsigned).
pub fn pack_signed(
    dir: &Path,
    out: &Path,
    opts: WriteOptions,
    keep_owner: bool,
    key: Option<&SigningKey>,
) -> Result<Packed, PackError> {
    if out.extension().is_none_or(|e| e != "aci") {
        return Err(PackError::NotAci(out.to_owned()));
    }
    let summary = pack(dir, out, opts, keep_owner)?;
    let signature = signature::sign_image(key, out, Reuse::Never)?;
    Ok(Packed { summary, signature })
}

/// Pack `dir` (with `manifest` and `rootfs/`) into `out`.
pub fn pack(
    dir: &Path,
    out: &Path,
    opts: WriteOptions,
    keep_owner: bool,
) -> Result<WriteSummary, PackError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PackError::Io { path, source }
    };
    let manifest_path = dir.join("manifest");
    let manifest = std::fs::read(&manifest_path).map_err(io(&manifest_path))?;
    if let Err(errors) = appc::manifest::ImageManifest::from_json(&manifest) {
        return Err(PackError::Manifest {
            path: manifest_path,
            errors,
        });
    }
    let rootfs = dir.join("rootfs");
    let md = std::fs::symlink_metadata(&rootfs).map_err(io(&rootfs))?;
    if !md.is_dir() {
        return Err(PackError::NoRootfs(rootfs));
    }
    let mut builder = Builder::new(manifest, opts);
    let mut inodes: HashMap<(u64, u64), RootfsPath> = HashMap::new();
    let walk = walkdir::WalkDir::new(&rootfs)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1);
    for item in walk {
        let item = item.map_err(|e| {
            let path = e.path().map_or_else(|| rootfs.clone(), Path::to_owned);
            PackError::Io {
                path,
                source: e.into(),
            }
        })?;
        let host = item.path();
        let md = std::fs::symlink_metadata(host).map_err(io(host))?;
        let rel = host.strip_prefix(&rootfs).unwrap_or(host);
        let rel = rel
            .to_str()
            .ok_or_else(|| PackError::NotUtf8(host.to_owned()))?;
        let path = RootfsPath::new(rel).map_err(|source| PackError::Path {
            path: host.to_owned(),
            source,
        })?;
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_symlink() {
            EntryKind::Symlink(std::fs::read_link(host).map_err(io(host))?)
        } else if ft.is_file() {
            if md.nlink() > 1 {
                match inodes.get(&(md.dev(), md.ino())) {
                    Some(first) => EntryKind::Hardlink(first.clone()),
                    None => {
                        inodes.insert((md.dev(), md.ino()), path.clone());
                        EntryKind::File(FileSource::Path(host.to_owned()))
                    }
                }
            } else {
                EntryKind::File(FileSource::Path(host.to_owned()))
            }
        } else {
            // sockets, fifos, devices
            return Err(PackError::Special(host.to_owned()));
        };
        let (uid, gid) = if keep_owner {
            (md.uid(), md.gid())
        } else {
            (0, 0)
        };
        builder.add(Entry {
            path,
            kind,
            mode: md.mode() & 0o7777,
            uid,
            gid,
        })?;
    }
    Ok(builder.write_file(out)?)
}

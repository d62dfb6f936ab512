//! Where each thing lives in a store directory (`docs/store.md` is the prose version).
//!
//! ```text
//! DIR/images/lock                   flock: exclusive to publish, remove and collect; shared to read trees
//! DIR/images/records/ID.json        the index: one record per image (name, labels, admission, ...)
//! DIR/images/blobs/ID.aci           the compressed bytes exactly as fetched (for `image export`)
//! DIR/images/blobs/ID.aci.asc       the detached signature they were admitted with, if any
//! DIR/images/trees/ID/              the extracted image: `manifest` and `rootfs/`
//! DIR/images/rendered/KEY/          an image rendered over its dependencies (KEY = hash of the closure)
//! DIR/images/tmp/NAME/              one import or render in progress (its `lock` is held while alive)
//! ```
//!
//! A record is written last, so a record's presence means its blob and tree are complete; a file
//! or directory without a record is garbage that `gc` removes. `ID` is the full image ID
//! (`sha512-` + 128 hex digits), which is also how file names are checked: nothing read from a
//! directory listing is used as a path before it parses as an image ID.

use std::io;
use std::path::{Path, PathBuf};

use appc::ImageId;

/// The paths of one store.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout under `dir/images`; creates the directories that are missing. The ones that
    /// hold extracted root filesystems (`trees`, `rendered`, `tmp`) are 0700: an image's
    /// setuid-root program must not be something any host user can run.
    pub fn create(dir: &Path) -> io::Result<Layout> {
        let layout = Layout {
            root: dir.join("images"),
        };
        for sub in ["records", "blobs", "trees", "rendered", "tmp"] {
            std::fs::create_dir_all(layout.root.join(sub))?;
        }
        for sub in ["trees", "rendered", "tmp"] {
            private_dir(&layout.root.join(sub))?;
        }
        Ok(layout)
    }

    /// `DIR/images`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store lock file.
    pub fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// The records directory.
    pub fn records(&self) -> PathBuf {
        self.root.join("records")
    }

    /// The record of `id`.
    pub fn record(&self, id: &ImageId) -> PathBuf {
        self.records().join(format!("{id}.json"))
    }

    /// The blobs directory.
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// The compressed bytes of `id`.
    pub fn blob(&self, id: &ImageId) -> PathBuf {
        self.blobs().join(format!("{id}.aci"))
    }

    /// The signature stored beside the blob of `id`.
    pub fn signature(&self, id: &ImageId) -> PathBuf {
        self.blobs().join(format!("{id}.aci.asc"))
    }

    /// The trees directory.
    pub fn trees(&self) -> PathBuf {
        self.root.join("trees")
    }

    /// The extracted tree of `id` (holding `manifest` and `rootfs/`).
    pub fn tree(&self, id: &ImageId) -> PathBuf {
        self.trees().join(id.to_string())
    }

    /// The rendered-trees directory.
    pub fn rendered(&self) -> PathBuf {
        self.root.join("rendered")
    }

    /// The temporary directory.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
}

/// Sets `dir` to 0700 unless it already is (only its owner, root, may traverse it).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(dir)?.permissions().mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

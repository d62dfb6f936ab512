//! The one way this project makes a file appear: write a temporary file in the destination's
//! directory, fsync it, rename it over the destination, fsync the directory. A reader sees either
//! the old file or the complete new one, never a half-written file; a crash leaves at most a
//! `.NAME.tmp-*` file behind, which the next successful write of NAME does not depend on.
//!
//! [`replace_unsynced`] is the same rename without the two fsyncs: concurrent readers still see
//! the old or the complete new file, but after a machine crash the file may be old, empty or
//! missing. It is for files whose meaning ends with the processes that write them (a running
//! pod's state, which a crash ends anyway), never for anything that must survive a crash.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A file being written; it becomes visible at its final path only on [`AtomicFile::commit`].
/// Dropped without commit, the temporary file is removed.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl AtomicFile {
    /// Create a temporary file beside `dest` with the given permission bits (before umask).
    pub fn create(dest: &Path, mode: u32) -> io::Result<AtomicFile> {
        let dir = parent_dir(dest);
        let name = dest.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a file path", dest.display()),
            )
        })?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{n}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        Ok(AtomicFile {
            file: Some(file),
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.dest
    }

    /// fsync, rename into place, fsync the directory.
    pub fn commit(mut self) -> io::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("atomic file already committed"))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.dest)?;
        File::open(parent_dir(&self.dest))?.sync_all()
    }

    /// Rename into place without fsync (see [`replace_unsynced`]).
    pub fn commit_unsynced(mut self) -> io::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("atomic file already committed"))?;
        drop(file);
        fs::rename(&self.tmp, &self.dest)
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("atomic file already committed"))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file()?.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Write `bytes` to `dest` atomically with permission bits `mode` (before umask).
pub fn write_atomically(dest: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = AtomicFile::create(dest, mode)?;
    f.write_all(bytes)?;
    f.commit()
}

/// Replace `dest` with `bytes` (permission bits `mode`, before umask) by a rename, without
/// fsync: readers never see a half-written file, but the write is not durable across a crash.
pub fn replace_unsynced(dest: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = AtomicFile::create(dest, mode)?;
    f.write_all(bytes)?;
    f.commit_unsynced()
}

fn parent_dir(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.aci");
        let mut f = AtomicFile::create(&dest, 0o644).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!dest.exists());
        f.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"hello");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_without_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.aci");
        {
            let mut f = AtomicFile::create(&dest, 0o644).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn replaces_an_existing_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x");
        write_atomically(&dest, b"old", 0o600).unwrap();
        write_atomically(&dest, b"new contents", 0o600).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new contents");
    }

    #[test]
    fn unsynced_replacement_is_still_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("state.json");
        replace_unsynced(&dest, b"old", 0o644).unwrap();
        replace_unsynced(&dest, b"new contents", 0o644).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new contents");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

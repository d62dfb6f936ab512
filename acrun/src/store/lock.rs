//! Locks between acrun processes sharing one store: `flock(2)` on plain files, released by the
//! kernel when a process dies, so a killed import never leaves a lock that blocks the next one.
//!
//! - The store lock (`images/lock`): exclusive while publishing, removing or collecting garbage
//!   (short: renames and small files only), shared while a tree is read (render, verify, export).
//! - A work lock (`tmp/NAME/lock`): held by the import or render that owns `tmp/NAME` for as long
//!   as it runs; `gc` removes a temporary directory only when it can take that lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::Path;

/// A held flock; released on drop.
#[derive(Debug)]
pub struct Held {
    _file: File,
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Take an exclusive lock on `path` (created if missing), waiting for it.
pub fn exclusive(path: &Path) -> io::Result<Held> {
    let file = open(path)?;
    file.lock()?;
    Ok(Held { _file: file })
}

/// Take a shared lock on `path` (created if missing), waiting for it.
pub fn shared(path: &Path) -> io::Result<Held> {
    let file = open(path)?;
    file.lock_shared()?;
    Ok(Held { _file: file })
}

/// Take an exclusive lock on an existing `path` without waiting; `None` if someone holds it.
pub fn try_exclusive(path: &Path) -> io::Result<Option<Held>> {
    let file = OpenOptions::new().read(true).open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Held { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_cannot_be_taken_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = exclusive(&path).unwrap();
        assert!(try_exclusive(&path).unwrap().is_none());
        drop(held);
        assert!(try_exclusive(&path).unwrap().is_some());
    }
}

//! Unpacking an image the tests built, with the system's `tar` (an independent reader).
#![allow(dead_code)] // each test binary uses the part it needs

use std::path::Path;
use std::process::Command;

/// Extracts the gzip ACI `aci` into `dir` (made if missing).
pub fn extract(aci: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(aci)
        .arg("-C")
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success(), "tar -xzf {}", aci.display());
}

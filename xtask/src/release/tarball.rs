//! Reproducible `.tar.gz` of a release binary: `NAME-VERSION-ARCH-linux/{NAME,README.md}`, owned
//! by root, dated `SOURCE_DATE_EPOCH` (else 0), sorted, gzip without a name or time stamp.
//!
//! Defends against archives that differ by who built them, when, or under which umask: no host
//! metadata reaches a header.

use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};

/// One file of a tarball: its name inside the top directory, its source and its mode.
pub struct Member<'a> {
    pub name: &'a str,
    pub source: &'a Path,
    pub mode: u32,
}

/// Write `out` holding `top/` and the members beneath it.
pub fn write(out: &Path, top: &str, members: &[Member<'_>], mtime: u64) -> Result<()> {
    let dir = out.parent().unwrap_or(Path::new("."));
    let file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(BufWriter::new(file), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    let mut dir = header(tar::EntryType::Directory, 0o755, 0, mtime);
    tar.append_data(&mut dir, format!("{top}/"), std::io::empty())?;
    let mut sorted: Vec<&Member<'_>> = members.iter().collect();
    sorted.sort_by_key(|m| m.name);
    for m in sorted {
        let data =
            std::fs::read(m.source).with_context(|| format!("reading {}", m.source.display()))?;
        let mut h = header(tar::EntryType::Regular, m.mode, data.len() as u64, mtime);
        tar.append_data(&mut h, format!("{top}/{}", m.name), data.as_slice())?;
    }
    let gz = tar.into_inner()?;
    let mut writer = gz.finish()?;
    std::io::Write::flush(&mut writer)?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.as_file().sync_all()?;
    file.persist(out)
        .with_context(|| format!("renaming into {}", out.display()))?;
    Ok(())
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_size(size);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_inputs_make_the_same_bytes_whatever_the_file_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"program").unwrap();
        let members = [Member {
            name: "prog",
            source: &a,
            mode: 0o755,
        }];
        write(&dir.path().join("1.tar.gz"), "prog-1", &members, 0).unwrap();
        std::fs::set_permissions(&a, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        write(&dir.path().join("2.tar.gz"), "prog-1", &members, 0).unwrap();
        let one = std::fs::read(dir.path().join("1.tar.gz")).unwrap();
        assert_eq!(one, std::fs::read(dir.path().join("2.tar.gz")).unwrap());
        // Positive control: another date makes other bytes.
        write(&dir.path().join("3.tar.gz"), "prog-1", &members, 1).unwrap();
        assert_ne!(one, std::fs::read(dir.path().join("3.tar.gz")).unwrap());
    }
}

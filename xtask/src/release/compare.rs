//! Two builds of one image compared byte for byte; when they differ, the first archive entry
//! that differs (its path, and whether the header, the pax records or the content differ).
//!
//! Both files are untrusted only in the sense that they may differ: they are read as streams,
//! entry by entry, never extracted.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result};

/// `None` when the files are identical, else what differs first.
pub fn first_difference(a: &Path, b: &Path) -> Result<Option<String>> {
    let bytes_a = std::fs::read(a).with_context(|| format!("reading {}", a.display()))?;
    let bytes_b = std::fs::read(b).with_context(|| format!("reading {}", b.display()))?;
    if bytes_a == bytes_b {
        return Ok(None);
    }
    let entry = first_entry_difference(a, b)?;
    let offset = bytes_a
        .iter()
        .zip(&bytes_b)
        .position(|(x, y)| x != y)
        .unwrap_or(bytes_a.len().min(bytes_b.len()));
    Ok(Some(match entry {
        Some(entry) => entry,
        None => format!(
            "every archive entry is equal, but the compressed files differ from byte {offset} \
             ({} vs {} bytes)",
            bytes_a.len(),
            bytes_b.len()
        ),
    }))
}

/// The archive behind a gzip (or uncompressed) image file.
fn open(path: &Path) -> Result<tar::Archive<Box<dyn Read>>> {
    let mut file =
        BufReader::new(File::open(path).with_context(|| format!("opening {}", path.display()))?);
    let mut magic = [0u8; 2];
    file.read_exact(&mut magic)
        .with_context(|| format!("reading {}", path.display()))?;
    let stream = std::io::Cursor::new(magic).chain(file);
    let reader: Box<dyn Read> = if magic == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(stream))
    } else {
        Box::new(stream)
    };
    Ok(tar::Archive::new(reader))
}

/// One entry as compared: path, header block, pax records, content.
struct Seen {
    path: String,
    header: Vec<u8>,
    pax: Vec<(String, Vec<u8>)>,
    content: Vec<u8>,
}

fn read_entry(entry: std::io::Result<tar::Entry<'_, Box<dyn Read>>>) -> Result<Seen> {
    let mut entry = entry?;
    let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let header = entry.header().as_bytes().to_vec();
    let mut pax = Vec::new();
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            pax.push((
                String::from_utf8_lossy(ext.key_bytes()).into_owned(),
                ext.value_bytes().to_vec(),
            ));
        }
    }
    let mut content = Vec::new();
    entry.read_to_end(&mut content)?;
    Ok(Seen {
        path,
        header,
        pax,
        content,
    })
}

fn first_entry_difference(a: &Path, b: &Path) -> Result<Option<String>> {
    let mut archive_a = open(a)?;
    let mut archive_b = open(b)?;
    let mut entries_a = archive_a.entries()?;
    let mut entries_b = archive_b.entries()?;
    loop {
        match (entries_a.next(), entries_b.next()) {
            (None, None) => return Ok(None),
            (Some(x), None) => {
                let x = read_entry(x)?;
                return Ok(Some(format!("entry {}: only in the first build", x.path)));
            }
            (None, Some(y)) => {
                let y = read_entry(y)?;
                return Ok(Some(format!("entry {}: only in the second build", y.path)));
            }
            (Some(x), Some(y)) => {
                let (x, y) = (read_entry(x)?, read_entry(y)?);
                if x.path != y.path {
                    return Ok(Some(format!(
                        "entry {} in the first build where the second has {}",
                        x.path, y.path
                    )));
                }
                let what = if x.content != y.content {
                    format!("content ({} vs {} bytes)", x.content.len(), y.content.len())
                } else if x.header != y.header {
                    "header (mode, owner, time or size)".to_owned()
                } else if x.pax != y.pax {
                    "pax records".to_owned()
                } else {
                    continue;
                };
                return Ok(Some(format!("entry {}: {what} differs", x.path)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(path: &Path, files: &[(&str, &[u8])]) {
        let gz = flate2::write::GzEncoder::new(
            File::create(path).unwrap(),
            flate2::Compression::default(),
        );
        let mut t = tar::Builder::new(gz);
        for (name, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            t.append_data(&mut h, name, *data).unwrap();
        }
        t.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn the_first_differing_entry_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        archive(
            &p("a"),
            &[
                ("manifest", b"{}"),
                ("rootfs/etc/x", b"one"),
                ("rootfs/z", b"1"),
            ],
        );
        archive(
            &p("b"),
            &[
                ("manifest", b"{}"),
                ("rootfs/etc/x", b"two!"),
                ("rootfs/z", b"2"),
            ],
        );
        archive(
            &p("c"),
            &[
                ("manifest", b"{}"),
                ("rootfs/etc/x", b"one"),
                ("rootfs/z", b"1"),
            ],
        );
        assert_eq!(
            first_difference(&p("a"), &p("b")).unwrap().as_deref(),
            Some("entry rootfs/etc/x: content (3 vs 4 bytes) differs")
        );
        // Positive control: the same entries give the same bytes.
        assert_eq!(first_difference(&p("a"), &p("c")).unwrap(), None);
        archive(&p("d"), &[("manifest", b"{}"), ("rootfs/etc/x", b"one")]);
        assert_eq!(
            first_difference(&p("a"), &p("d")).unwrap().as_deref(),
            Some("entry rootfs/z: only in the first build")
        );
    }
}

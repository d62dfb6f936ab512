//! `SHA512SUMS`: one `HASH  PATH` line per released file (paths relative to `dist/`, sorted), the
//! format `sha512sum -c` checks.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha512};

/// The checksum file's text for `files` (each beneath `dist`).
pub fn text(dist: &Path, files: &[PathBuf]) -> Result<String> {
    let mut lines = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(dist)
            .with_context(|| format!("{} is not beneath {}", file.display(), dist.display()))?;
        lines.push(format!("{}  {}\n", sha512(file)?, relative.display()));
    }
    lines.sort_by(|a, b| a[130..].cmp(&b[130..]));
    Ok(lines.concat())
}

fn sha512(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha512::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_sha512sum_lines_sorted_by_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("images")).unwrap();
        let b = dir.path().join("images/b");
        let a = dir.path().join("a");
        std::fs::write(&a, b"").unwrap();
        std::fs::write(&b, b"abc").unwrap();
        let text = text(dir.path(), &[b, a]).unwrap();
        let empty = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
        assert!(text.starts_with(&format!("{empty}  a\n")), "{text}");
        assert!(text.ends_with("  images/b\n"));
    }
}

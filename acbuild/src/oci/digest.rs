//! OCI digests: `sha256:<hex>` of bytes, or of everything written through a [`Sha256Stream`]
//! (the layer is hashed twice on its way out: as a tar for its diff ID, compressed for its
//! digest), so no blob is read back to be named.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of `bytes`.
pub fn of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Hashes and counts every byte written through it.
#[derive(Debug)]
pub struct Sha256Stream<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W> Sha256Stream<W> {
    /// Start hashing what is written to `inner`.
    pub fn new(inner: W) -> Self {
        Sha256Stream {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// `sha256:<hex>` of everything written, the byte count, and the writer back.
    pub fn finish(self) -> (String, u64, W) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (digest, self.bytes, self.inner)
    }
}

impl<W: Write> Write for Sha256Stream<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_and_bytes_agree_with_the_known_digest() {
        let empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(of(b""), empty);
        let mut s = Sha256Stream::new(Vec::new());
        s.write_all(b"abc").unwrap();
        let (d, n, inner) = s.finish();
        assert_eq!(d, of(b"abc"));
        assert_eq!(
            d,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!((n, inner), (3, b"abc".to_vec()));
    }
}

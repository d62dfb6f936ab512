//! Hand-made tar streams for tests: raw 512-byte headers written exactly as asked (no cleaning, no
//! limits), GNU long names, pax headers, and huge runs of one byte streamed without holding them,
//! so that tests can build the hostile archives a real writer would refuse to produce.
//! Shared by appc's and acbuild's tests (`#[path]`), test code only.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, Write};

/// The header layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `ustar  \0` (GNU tar's default).
    Gnu,
    /// `ustar\0` `00` (POSIX ustar / pax), with a `prefix` field.
    Ustar,
}

/// One header block, fields as given.
#[derive(Debug, Clone)]
pub struct Head<'a> {
    pub name: &'a [u8],
    pub typeflag: u8,
    pub size: u64,
    pub link: &'a [u8],
    pub mode: u32,
    pub format: Format,
    pub prefix: &'a [u8],
}

impl<'a> Head<'a> {
    pub fn new(name: &'a [u8], typeflag: u8, size: u64) -> Self {
        Head {
            name,
            typeflag,
            size,
            link: b"",
            mode: 0o644,
            format: Format::Gnu,
            prefix: b"",
        }
    }

    pub fn block(&self) -> [u8; 512] {
        let mut b = [0u8; 512];
        let n = self.name.len().min(100);
        b[..n].copy_from_slice(&self.name[..n]);
        octal(&mut b[100..108], u64::from(self.mode));
        octal(&mut b[108..116], 0);
        octal(&mut b[116..124], 0);
        if self.size < 0o77777777777 {
            octal(&mut b[124..136], self.size);
        } else {
            b[124] = 0x80;
            b[128..136].copy_from_slice(&self.size.to_be_bytes());
        }
        octal(&mut b[136..148], 1_700_000_000);
        b[156] = self.typeflag;
        let l = self.link.len().min(100);
        b[157..157 + l].copy_from_slice(&self.link[..l]);
        match self.format {
            Format::Gnu => b[257..265].copy_from_slice(b"ustar  \0"),
            Format::Ustar => {
                b[257..265].copy_from_slice(b"ustar\x0000");
                let p = self.prefix.len().min(155);
                b[345..345 + p].copy_from_slice(&self.prefix[..p]);
            }
        }
        b[148..156].fill(b' ');
        let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
        octal(&mut b[148..155], sum);
        b
    }
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{v:0width$o}", width = field.len() - 1);
    field[..s.len()].copy_from_slice(s.as_bytes());
    field[s.len()..].fill(0);
}

/// A pax header's data: `LEN KEY=VALUE\n` records.
pub fn pax_data(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let body = k.len() + v.len() + 3;
        let mut len = body + body.to_string().len();
        if len.to_string().len() != body.to_string().len() {
            len += 1;
        }
        out.extend_from_slice(format!("{len} {k}=").as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

/// Writes tar blocks into `W`.
#[derive(Debug)]
pub struct TarWriter<W: Write> {
    pub w: W,
}

impl<W: Write> TarWriter<W> {
    pub fn new(w: W) -> Self {
        TarWriter { w }
    }

    /// A header and its data (padded to the block).
    pub fn put(&mut self, head: &Head<'_>, data: &[u8]) -> &mut Self {
        self.w.write_all(&head.block()).unwrap();
        self.w.write_all(data).unwrap();
        self.pad(data.len() as u64);
        self
    }

    fn pad(&mut self, len: u64) {
        let rem = (512 - len % 512) % 512;
        self.w.write_all(&vec![0u8; rem as usize]).unwrap();
    }

    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.put(&Head::new(name.as_bytes(), b'0', data.len() as u64), data)
    }

    pub fn dir(&mut self, name: &str) -> &mut Self {
        let mut h = Head::new(name.as_bytes(), b'5', 0);
        h.mode = 0o755;
        self.put(&h, b"")
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = Head::new(name.as_bytes(), b'2', 0);
        h.link = target.as_bytes();
        self.put(&h, b"")
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = Head::new(name.as_bytes(), b'1', 0);
        h.link = target.as_bytes();
        self.put(&h, b"")
    }

    /// `manifest` (a valid image manifest) and `rootfs`.
    pub fn base(&mut self) -> &mut Self {
        self.file("manifest", MANIFEST.as_bytes()).dir("rootfs")
    }

    /// A GNU long name (`L`) or long link name (`K`) entry.
    pub fn long(&mut self, typeflag: u8, name: &[u8]) -> &mut Self {
        let mut data = name.to_vec();
        data.push(0);
        self.put(
            &Head::new(b"././@LongLink", typeflag, data.len() as u64),
            &data,
        )
    }

    /// A pax header (`x` local, `g` global).
    pub fn pax(&mut self, typeflag: u8, records: &[(&str, &[u8])]) -> &mut Self {
        let data = pax_data(records);
        self.put(
            &Head::new(b"PaxHeaders/x", typeflag, data.len() as u64),
            &data,
        )
    }

    /// A header whose data is `size` copies of `byte`, streamed.
    pub fn put_run(&mut self, head: &Head<'_>, byte: u8) -> &mut Self {
        self.w.write_all(&head.block()).unwrap();
        self.run(head.size, byte);
        self.pad(head.size);
        self
    }

    /// `len` copies of `byte`, streamed in 1 MiB pieces.
    pub fn run(&mut self, len: u64, byte: u8) -> &mut Self {
        let chunk = vec![byte; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            self.w.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
        self
    }

    /// The end-of-archive marker (two zero blocks).
    pub fn end(&mut self) -> &mut Self {
        self.w.write_all(&[0u8; 1024]).unwrap();
        self
    }
}

impl TarWriter<Vec<u8>> {
    pub fn vec() -> Self {
        TarWriter::new(Vec::new())
    }

    pub fn bytes(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.w)
    }

    /// The stream so far plus the end-of-archive marker.
    pub fn finished(&mut self) -> Vec<u8> {
        self.end();
        self.bytes()
    }
}

/// A valid image manifest.
pub const MANIFEST: &str = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app","labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}]}"#;

/// Compressors by name, as a boxed writer with a finishing step.
pub enum Packer<W: Write> {
    Gzip(flate2::write::GzEncoder<W>),
    Bzip2(bzip2::write::BzEncoder<W>),
    Xz(liblzma::write::XzEncoder<W>),
    Zstd(zstd::stream::Encoder<'static, W>),
    None(W),
}

impl<W: Write> Packer<W> {
    pub fn new(kind: &str, w: W) -> Self {
        match kind {
            "gzip" => Packer::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::fast(),
            )),
            "bzip2" => Packer::Bzip2(bzip2::write::BzEncoder::new(w, bzip2::Compression::fast())),
            "xz" => Packer::Xz(liblzma::write::XzEncoder::new(w, 0)),
            "zstd" => Packer::Zstd(zstd::stream::Encoder::new(w, 1).unwrap()),
            _ => Packer::None(w),
        }
    }

    pub fn finish(self) -> W {
        match self {
            Packer::Gzip(e) => e.finish().unwrap(),
            Packer::Bzip2(e) => e.finish().unwrap(),
            Packer::Xz(e) => e.finish().unwrap(),
            Packer::Zstd(e) => e.finish().unwrap(),
            Packer::None(w) => w,
        }
    }
}

impl<W: Write> Write for Packer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Packer::Gzip(e) => e.write(buf),
            Packer::Bzip2(e) => e.write(buf),
            Packer::Xz(e) => e.write(buf),
            Packer::Zstd(e) => e.write(buf),
            Packer::None(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Packer::Gzip(e) => e.flush(),
            Packer::Bzip2(e) => e.flush(),
            Packer::Xz(e) => e.flush(),
            Packer::Zstd(e) => e.flush(),
            Packer::None(w) => w.flush(),
        }
    }
}

/// `bytes` compressed with `kind` (gzip, bzip2, xz, zstd or none).
pub fn compress(kind: &str, bytes: &[u8]) -> Vec<u8> {
    let mut p = Packer::new(kind, Vec::new());
    p.write_all(bytes).unwrap();
    p.finish()
}

//! A bounded tar reader: walks the 512-byte headers itself and resolves GNU long names and pax
//! extended headers into one logical entry, never holding more than a fixed amount in memory.
//!
//! Why not the `tar` crate here: it reads GNU long names (`L`/`K`) and pax records whole before the
//! caller sees them (a 1 KB bzip2 file can make it allocate gigabytes), and it reads some
//! constructions differently from GNU tar, Go's archive/tar and Python's tarfile. The reader of an
//! archive we are about to trust must see exactly the entries every other reader sees, so anything
//! two readers could disagree on is refused rather than interpreted:
//!
//! - **memory bombs**: names and link targets longer than [`PATH_MAX`], GNU long name entries
//!   bigger than that, pax headers bigger than [`PAX_MAX`], more than [`ENTRIES_MAX`] entries,
//!   more than [`PADDING_MAX`] zero bytes after the end-of-archive marker;
//! - **a name given two ways**: a GNU long name together with a pax `path` (either order), a
//!   long link name together with a pax `linkpath`, two long names or two pax headers for one
//!   entry, a global pax header that sets names, sizes or owners, an empty pax `path`;
//! - **sparse files** (type `S`, pax `GNU.sparse.*` and the star/Solaris sparse keys): their
//!   stored name and content differ between readers (`GNU.sparse.name` renames the entry);
//! - **data where other readers see none**: a link, directory, device or fifo header with a
//!   nonzero size (Go's reader skips no data for these, the `tar` crate skips `size` bytes);
//! - **ambiguous encodings**: a NUL inside a name (C readers stop there, others keep it), header
//!   checksums that do not match, number fields that are not octal or base-256, formats other
//!   than POSIX ustar/pax and GNU (v7 and star put the name prefix elsewhere).

use std::io::{self, Read};

/// The longest name or link target, in bytes, including the terminating NUL of a GNU long name
/// (Linux `PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// The largest pax extended header (local or global), in bytes (Go's archive/tar limit).
pub const PAX_MAX: u64 = 1024 * 1024;
/// The most entries an archive may have.
pub const ENTRIES_MAX: u64 = 1_000_000;
/// The most bytes after the first zero block of the end-of-archive marker (the second zero block
/// and the padding of a tape record; GNU tar writes 10 KiB records).
pub const PADDING_MAX: u64 = 1024 * 1024;

const BLOCK: usize = 512;

/// One logical entry: a header with its long name and pax records applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The entry name, as stored (not normalised).
    pub name: Vec<u8>,
    /// The link target of a symlink or hard link.
    pub link: Vec<u8>,
    /// The tar type flag (`b'0'` file, `b'5'` directory, `b'2'` symlink, `b'1'` hard link, ...).
    pub typeflag: u8,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Modification time (seconds).
    pub mtime: u64,
    /// Content bytes.
    pub size: u64,
    /// Device major and minor.
    pub device: (u32, u32),
}

/// Why the tar stream cannot be read safely.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("truncated (the stream ends inside a header or its data)")]
    Truncated,
    #[error("header checksum does not match")]
    Checksum,
    #[error("not a POSIX ustar/pax or GNU tar header (magic {0:?})")]
    Format(String),
    #[error("header field {0} is not a valid number")]
    Number(&'static str),
    #[error("GNU long name entry of {0} bytes, more than PATH_MAX ({PATH_MAX})")]
    LongNameTooLong(u64),
    #[error("pax header of {0} bytes, more than the {PAX_MAX}-byte limit")]
    PaxTooLarge(u64),
    #[error("malformed pax record")]
    PaxRecord,
    #[error("{what} of {len} bytes, more than PATH_MAX ({PATH_MAX})")]
    NameTooLong { what: &'static str, len: usize },
    #[error("{0} contains a NUL byte (tar readers disagree on where it ends)")]
    Nul(&'static str),
    #[error(
        "{0} is given twice (GNU long name and pax record): other tar readers may use the other one"
    )]
    GivenTwice(&'static str),
    #[error("two {0} headers for one entry")]
    Repeated(&'static str),
    #[error("pax record {0:?} has an empty value")]
    EmptyPaxValue(String),
    #[error("sparse file ({0}): refused, other tar readers see a different name or content for it")]
    Sparse(String),
    #[error(
        "global pax header sets {0:?}: refused, it would change later entries for other readers"
    )]
    GlobalPax(String),
    #[error(
        "entry of type {typeflag:?} has {size} bytes of data: refused, other tar readers skip none for this type"
    )]
    DataInHeaderOnlyType { typeflag: char, size: u64 },
    #[error("extended header at the end of the archive, with no entry after it")]
    DanglingExtension,
    #[error(
        "global pax header between an entry's extended headers and the entry: GNU tar applies them to the entry, Go's reader drops them, the tar crate gives them to the global header"
    )]
    GlobalAmidExtensions,
    #[error("more than {0} entries")]
    TooManyEntries(u64),
    #[error("data after the end of the archive")]
    TrailingData,
    #[error("more than {PADDING_MAX} bytes of padding after the end-of-archive marker")]
    PaddingTooLong,
    #[error("archive does not end with two zero blocks (truncated?)")]
    NoEndOfArchive,
}

/// What the extension headers before an entry set.
#[derive(Debug, Default)]
struct Extensions {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Pax>,
}

#[derive(Debug, Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<u64>,
}

/// Walks a tar stream entry by entry; see the module documentation.
#[derive(Debug)]
pub struct TarStream<R> {
    inner: R,
    /// Content bytes of the current entry not read yet, then the padding to the next block.
    remaining: u64,
    padding: u64,
    entries: u64,
    entries_max: u64,
}

impl<R: Read> TarStream<R> {
    /// Walk the tar stream `inner` (already decompressed).
    pub fn new(inner: R) -> Self {
        TarStream {
            inner,
            remaining: 0,
            padding: 0,
            entries: 0,
            entries_max: ENTRIES_MAX,
        }
    }

    /// The next entry, or `None` after the end-of-archive marker and the zero padding after it
    /// (everything up to the end of the stream has then been read and checked).
    pub fn next_entry(&mut self) -> Result<Option<Header>, TarError> {
        self.skip_rest()?;
        let mut ext = Extensions::default();
        loop {
            let mut block = [0u8; BLOCK];
            if !self.read_block(&mut block)? {
                return Err(TarError::NoEndOfArchive);
            }
            if block.iter().all(|&b| b == 0) {
                if ext.long_name.is_some() || ext.long_link.is_some() || ext.pax.is_some() {
                    return Err(TarError::DanglingExtension);
                }
                self.check_end()?;
                return Ok(None);
            }
            let raw = RawHeader::parse(&block)?;
            match raw.typeflag {
                b'L' => {
                    let name = self.long_name(&raw)?;
                    set_once(&mut ext.long_name, name, "GNU long name")?;
                }
                b'K' => {
                    let name = self.long_name(&raw)?;
                    set_once(&mut ext.long_link, name, "GNU long link name")?;
                }
                b'x' => {
                    let records = self.pax_header(&raw)?;
                    set_once(&mut ext.pax, local_pax(&records)?, "pax")?;
                }
                b'g' => {
                    if ext.long_name.is_some() || ext.long_link.is_some() || ext.pax.is_some() {
                        return Err(TarError::GlobalAmidExtensions);
                    }
                    let records = self.pax_header(&raw)?;
                    check_global_pax(&records)?;
                }
                b'S' => return Err(TarError::Sparse("GNU type S".to_owned())),
                _ => {
                    self.entries += 1;
                    if self.entries > self.entries_max {
                        return Err(TarError::TooManyEntries(self.entries_max));
                    }
                    let header = resolve(raw, ext)?;
                    self.start_data(header.size)?;
                    return Ok(Some(header));
                }
            }
        }
    }

    /// Reads the content of the current entry.
    pub fn content(&mut self) -> Content<'_, R> {
        Content { stream: self }
    }

    /// The wrapped stream, after [`TarStream::next_entry`] returned `None`.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn start_data(&mut self, size: u64) -> Result<(), TarError> {
        let rounded = size
            .checked_next_multiple_of(BLOCK as u64)
            .ok_or(TarError::Number("size"))?;
        self.remaining = size;
        self.padding = rounded - size;
        Ok(())
    }

    fn skip_rest(&mut self) -> Result<(), TarError> {
        let n = self.remaining + self.padding;
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        self.remaining = 0;
        self.padding = 0;
        if copied < n {
            return Err(TarError::Truncated);
        }
        Ok(())
    }

    /// Reads one block; `false` at a clean end of stream, an error inside a block.
    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<bool, TarError> {
        let mut filled = 0;
        while filled < BLOCK {
            match self.inner.read(&mut block[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => return Err(TarError::Truncated),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    /// Reads the (size-checked) data of an extension header whole.
    fn small_data(&mut self, size: u64) -> Result<Vec<u8>, TarError> {
        self.start_data(size)?;
        let mut data = Vec::new();
        (&mut self.inner).take(size).read_to_end(&mut data)?;
        if data.len() as u64 != size {
            return Err(TarError::Truncated);
        }
        self.remaining = 0;
        self.skip_rest()?;
        Ok(data)
    }

    fn long_name(&mut self, raw: &RawHeader) -> Result<Vec<u8>, TarError> {
        if raw.size > PATH_MAX as u64 {
            return Err(TarError::LongNameTooLong(raw.size));
        }
        let mut name = self.small_data(raw.size)?;
        if name.last() == Some(&0) {
            name.pop();
        }
        no_nul(&name, "GNU long name")?;
        Ok(name)
    }

    fn pax_header(&mut self, raw: &RawHeader) -> Result<Vec<(String, Vec<u8>)>, TarError> {
        if raw.size > PAX_MAX {
            return Err(TarError::PaxTooLarge(raw.size));
        }
        let data = self.small_data(raw.size)?;
        pax_records(&data)
    }

    /// After the first zero block: the second one, then nothing but zeros up to the end of the
    /// stream, at most [`PADDING_MAX`] bytes in all.
    fn check_end(&mut self) -> Result<(), TarError> {
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0u64;
        loop {
            let n = match self.inner.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if buf[..n].iter().any(|&b| b != 0) {
                return Err(TarError::TrailingData);
            }
            total += n as u64;
            if total > PADDING_MAX {
                return Err(TarError::PaddingTooLong);
            }
        }
        if total < BLOCK as u64 {
            return Err(TarError::NoEndOfArchive);
        }
        Ok(())
    }
}

/// The content of the current entry; reads end at its size.
#[derive(Debug)]
pub struct Content<'a, R> {
    stream: &'a mut TarStream<R>,
}

impl<R: Read> Read for Content<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let s = &mut *self.stream;
        if s.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(s.remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let n = s.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside the entry's data",
            ));
        }
        s.remaining -= n as u64;
        Ok(n)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, what: &'static str) -> Result<(), TarError> {
    if slot.is_some() {
        return Err(TarError::Repeated(what));
    }
    *slot = Some(value);
    Ok(())
}

fn no_nul(bytes: &[u8], what: &'static str) -> Result<(), TarError> {
    if bytes.contains(&0) {
        return Err(TarError::Nul(what));
    }
    Ok(())
}

/// The fields of one 512-byte header block.
#[derive(Debug)]
struct RawHeader {
    name: Vec<u8>,
    link: Vec<u8>,
    typeflag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    size: u64,
    device: (u32, u32),
}

impl RawHeader {
    fn parse(b: &[u8; BLOCK]) -> Result<RawHeader, TarError> {
        let stored = number(&b[148..156], "chksum")?;
        let sum: u64 = b
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(x)
                }
            })
            .sum();
        if stored != sum {
            return Err(TarError::Checksum);
        }
        let ustar = match (&b[257..263], &b[263..265]) {
            (b"ustar\0", b"00") => true,
            (b"ustar ", b" \0") => false,
            (magic, _) => return Err(TarError::Format(String::from_utf8_lossy(magic).into())),
        };
        let mut name = c_string(&b[0..100]).to_vec();
        let prefix = c_string(&b[345..500]);
        if ustar && !prefix.is_empty() {
            name = [prefix, b"/", &name].concat();
        }
        let device = (
            u32::try_from(number(&b[329..337], "devmajor")?)
                .map_err(|_| TarError::Number("devmajor"))?,
            u32::try_from(number(&b[337..345], "devminor")?)
                .map_err(|_| TarError::Number("devminor"))?,
        );
        Ok(RawHeader {
            name,
            link: c_string(&b[157..257]).to_vec(),
            typeflag: b[156],
            mode: u32::try_from(number(&b[100..108], "mode")?)
                .map_err(|_| TarError::Number("mode"))?,
            uid: number(&b[108..116], "uid")?,
            gid: number(&b[116..124], "gid")?,
            size: number(&b[124..136], "size")?,
            mtime: number(&b[136..148], "mtime")?,
            device,
        })
    }
}

/// The bytes of a NUL-terminated field up to its first NUL.
fn c_string(field: &[u8]) -> &[u8] {
    field
        .iter()
        .position(|&c| c == 0)
        .map_or(field, |i| &field[..i])
}

/// An octal field (leading spaces, then digits, then only spaces or NULs; empty means 0) or a
/// positive base-256 one (first byte 0x80).
fn number(field: &[u8], what: &'static str) -> Result<u64, TarError> {
    let bad = || TarError::Number(what);
    if field[0] & 0x80 != 0 {
        if field[0] != 0x80 {
            return Err(bad());
        }
        return field[1..].iter().try_fold(0u64, |acc, &b| {
            acc.checked_mul(256)
                .map(|v| v | u64::from(b))
                .ok_or_else(bad)
        });
    }
    let start = field.iter().position(|&c| c != b' ').unwrap_or(field.len());
    let rest = &field[start..];
    let len = rest
        .iter()
        .position(|c| !(b'0'..=b'7').contains(c))
        .unwrap_or(rest.len());
    let (digits, tail) = rest.split_at(len);
    if tail.iter().any(|&c| c != 0 && c != b' ') {
        return Err(bad());
    }
    digits.iter().try_fold(0u64, |acc, &c| {
        acc.checked_mul(8)
            .map(|v| v + u64::from(c - b'0'))
            .ok_or_else(bad)
    })
}

/// Splits a pax header into its `LEN KEY=VALUE\n` records.
fn pax_records(mut data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, TarError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let space = data
            .iter()
            .position(|&c| c == b' ')
            .ok_or(TarError::PaxRecord)?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or(TarError::PaxRecord)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(TarError::PaxRecord);
        }
        let record = &data[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&c| c == b'=')
            .ok_or(TarError::PaxRecord)?;
        let key = std::str::from_utf8(&record[..eq]).map_err(|_| TarError::PaxRecord)?;
        out.push((key.to_owned(), record[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

fn is_sparse_key(key: &str) -> bool {
    key.to_ascii_lowercase().contains("sparse")
        || key == "SCHILY.realsize"
        || key == "SUN.holesdata"
}

fn decimal(value: &[u8], key: &str) -> Result<u64, TarError> {
    std::str::from_utf8(value)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| TarError::Number(pax_key_name(key)))
}

fn pax_key_name(key: &str) -> &'static str {
    match key {
        "size" => "pax size",
        "uid" => "pax uid",
        "gid" => "pax gid",
        _ => "pax mtime",
    }
}

/// The records of a local (`x`) pax header that change how the entry is read.
fn local_pax(records: &[(String, Vec<u8>)]) -> Result<Pax, TarError> {
    let mut pax = Pax::default();
    for (key, value) in records {
        if is_sparse_key(key) {
            return Err(TarError::Sparse(format!("pax record {key:?}")));
        }
        match key.as_str() {
            "path" | "linkpath" => {
                if value.is_empty() {
                    return Err(TarError::EmptyPaxValue(key.clone()));
                }
                let what = if key == "path" {
                    "pax path"
                } else {
                    "pax linkpath"
                };
                no_nul(value, what)?;
                let slot = if key == "path" {
                    &mut pax.path
                } else {
                    &mut pax.linkpath
                };
                set_once(slot, value.clone(), what)?;
            }
            "size" => set_once(&mut pax.size, decimal(value, key)?, "pax size")?,
            "uid" => set_once(&mut pax.uid, decimal(value, key)?, "pax uid")?,
            "gid" => set_once(&mut pax.gid, decimal(value, key)?, "pax gid")?,
            "mtime" => {
                // Seconds with an optional fraction; times before 1970 are read as 0.
                let whole = value.split(|&c| c == b'.').next().unwrap_or_default();
                let secs = if whole.first() == Some(&b'-') {
                    0
                } else {
                    decimal(whole, key)?
                };
                set_once(&mut pax.mtime, secs, "pax mtime")?;
            }
            _ => {}
        }
    }
    Ok(pax)
}

fn check_global_pax(records: &[(String, Vec<u8>)]) -> Result<(), TarError> {
    for (key, _) in records {
        if is_sparse_key(key)
            || matches!(
                key.as_str(),
                "path" | "linkpath" | "size" | "uid" | "gid" | "uname" | "gname"
            )
        {
            return Err(TarError::GlobalPax(key.clone()));
        }
    }
    Ok(())
}

/// Applies the extensions to an entry's own header.
fn resolve(raw: RawHeader, ext: Extensions) -> Result<Header, TarError> {
    let pax = ext.pax.unwrap_or_default();
    let name = match (ext.long_name, pax.path) {
        (Some(_), Some(_)) => return Err(TarError::GivenTwice("name")),
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => raw.name,
    };
    let link = match (ext.long_link, pax.linkpath) {
        (Some(_), Some(_)) => return Err(TarError::GivenTwice("link target")),
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => raw.link,
    };
    for (what, value) in [("name", &name), ("link target", &link)] {
        if value.len() >= PATH_MAX {
            return Err(TarError::NameTooLong {
                what,
                len: value.len(),
            });
        }
    }
    let size = pax.size.unwrap_or(raw.size);
    if matches!(raw.typeflag, b'1'..=b'6') && size != 0 {
        return Err(TarError::DataInHeaderOnlyType {
            typeflag: char::from(raw.typeflag),
            size,
        });
    }
    Ok(Header {
        name,
        link,
        typeflag: raw.typeflag,
        mode: raw.mode,
        uid: pax.uid.unwrap_or(raw.uid),
        gid: pax.gid.unwrap_or(raw.gid),
        mtime: pax.mtime.unwrap_or(raw.mtime),
        size,
        device: raw.device,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_octal_with_padding_and_base_256() {
        assert_eq!(number(b"0000644\0", "mode").unwrap(), 0o644);
        assert_eq!(number(b"  644 \0\0", "mode").unwrap(), 0o644);
        assert_eq!(number(b"\0\0\0\0\0\0\0\0", "devmajor").unwrap(), 0);
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 1, 0], "size").unwrap(), 256);
        assert!(number(b"0009\0\0\0\0", "mode").is_err());
        assert!(number(b"12 3\0\0\0\0", "mode").is_err());
        assert!(number(&[0xff; 8], "mtime").is_err());
        assert!(number(&[0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "size").is_err());
    }

    /// `n` empty GNU file headers named `f0`, `f1`, … and the end marker.
    fn files(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            let mut h = tar::Header::new_gnu();
            h.set_path(format!("f{i}")).unwrap();
            h.set_size(0);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
        }
        out.extend_from_slice(&[0; 1024]);
        out
    }

    fn count(bytes: &[u8], max: u64) -> Result<u64, TarError> {
        let mut t = TarStream::new(bytes);
        t.entries_max = max;
        let mut n = 0;
        while t.next_entry()?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    #[test]
    fn entries_beyond_the_limit_are_refused() {
        // The real limit (ENTRIES_MAX) is too many entries for a debug-build test; the count is
        // the same code with a smaller bound.
        assert!(matches!(
            count(&files(6), 5),
            Err(TarError::TooManyEntries(5))
        ));
        assert_eq!(count(&files(5), 5).unwrap(), 5);
    }

    #[test]
    fn pax_records_must_be_well_formed() {
        assert_eq!(
            pax_records(b"12 path=abc\n").unwrap(),
            [("path".to_owned(), b"abc".to_vec())]
        );
        for bad in [
            &b"13 path=abc\n"[..],
            b"12 pathabc\n\n",
            b"x path=a\n",
            b"99 path=a\n",
        ] {
            assert!(pax_records(bad).is_err(), "{bad:?}");
        }
    }
}

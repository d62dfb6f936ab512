//! Compression of the ACI tar stream: the codecs, their detection by magic bytes, and encoders
//! whose output does not depend on the thread count.
//!
//! Gzip is compressed pigz-style: the stream is cut into fixed [`GZIP_BLOCK`]-sized blocks, each
//! deflated on a worker thread as raw deflate primed with the previous block's last 32 KiB and
//! ended with a sync flush; the blocks are concatenated in order under one gzip header (mtime 0,
//! no name) and one trailer (CRC32 combined from the blocks'). The block boundaries depend only on
//! the input, so 1 or N threads give the same bytes. Xz uses liblzma's multithreaded encoder with a
//! fixed block size (also always multithreaded, never the single-thread encoder, whose output
//! differs), zstd its multithreaded mode with at least one worker. Bzip2 runs on one thread.
//!
//! Reading ([`Decoder`]) decodes exactly one compressed stream and then reports whether anything
//! follows it: a second gzip member, a second xz, bzip2 or zstd stream, or plain garbage would be
//! ignored by a reader that stops at the first end but seen by `zcat | tar` (and refused by
//! `gzip -t` and `xz -t`), so the ACI reader refuses them. Decoder memory is capped (xz
//! dictionary, zstd window) so a crafted header cannot make it allocate gigabytes.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};

use flate2::{Compress, Crc, FlushCompress, Status};

/// Uncompressed bytes per gzip block. Changing it changes the compressed bytes (not the image ID,
/// which is of the tar stream), so it is fixed.
pub const GZIP_BLOCK: usize = 512 * 1024;
const GZIP_WINDOW: usize = 32 * 1024;
/// Uncompressed bytes per xz block (fixed so that the output is the same for any thread count).
pub const XZ_BLOCK: u64 = 8 * 1024 * 1024;

/// The compression of an ACI file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// The spec's default.
    #[default]
    Gzip,
    Xz,
    Bzip2,
    /// A plain tar file.
    None,
    /// Not in the appc spec (actool and rkt reject it); only on explicit request.
    Zstd,
}

impl Compression {
    /// Whether the appc spec allows this compression (everything but zstd).
    pub fn is_standard(self) -> bool {
        self != Compression::Zstd
    }

    /// The lowercase name used on command lines and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
            Compression::None => "none",
            Compression::Zstd => "zstd",
        }
    }

    /// The level used when none is given.
    pub fn default_level(self) -> u32 {
        match self {
            Compression::Gzip => 6,
            Compression::Xz => 6,
            Compression::Bzip2 => 9,
            Compression::None => 0,
            Compression::Zstd => 3,
        }
    }

    /// The compression whose magic bytes start `head`, or `None` if no known magic matches.
    /// A plain tar is recognised by `ustar` at offset 257.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.get(257..262) == Some(b"ustar") {
            Some(Compression::None)
        } else {
            None
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown compression name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression {0:?} (expected gzip, xz, bzip2, none or zstd)")]
pub struct UnknownCompression(pub String);

impl std::str::FromStr for Compression {
    type Err = UnknownCompression;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "gzip" => Compression::Gzip,
            "xz" => Compression::Xz,
            "bzip2" => Compression::Bzip2,
            "none" => Compression::None,
            "zstd" => Compression::Zstd,
            other => return Err(UnknownCompression(other.to_owned())),
        })
    }
}

/// The most memory the xz decoder may use: enough for `xz -9` (64 MiB dictionary).
pub const XZ_MEMLIMIT: u64 = 96 * 1024 * 1024;
/// The largest zstd window accepted (log2): 128 MiB, zstd's own default limit.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// A reader of exactly one compressed stream over a buffered input; see the module docs.
pub(crate) enum Decoder<R: BufRead> {
    Gzip(flate2::bufread::GzDecoder<R>),
    Bzip2(bzip2::bufread::BzDecoder<R>),
    Xz(liblzma::bufread::XzDecoder<R>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
    None(R),
}

impl<R: BufRead> fmt::Debug for Decoder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Decoder")
    }
}

impl<R: BufRead> Decoder<R> {
    /// Start decoding `input` as `compression` (single stream, memory-capped).
    pub(crate) fn new(input: R, compression: Compression) -> io::Result<Self> {
        Ok(match compression {
            Compression::Gzip => Decoder::Gzip(flate2::bufread::GzDecoder::new(input)),
            Compression::Bzip2 => Decoder::Bzip2(bzip2::bufread::BzDecoder::new(input)),
            Compression::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, 0)
                    .map_err(io::Error::other)?;
                Decoder::Xz(liblzma::bufread::XzDecoder::new_stream(input, stream))
            }
            Compression::Zstd => {
                let mut d = zstd::stream::read::Decoder::with_buffer(input)?.single_frame();
                d.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
                Decoder::Zstd(d)
            }
            Compression::None => Decoder::None(input),
        })
    }

    /// Call after this reader returned end of stream: whether any input follows the compressed
    /// stream (always `false` for an uncompressed input, whose end is the end of the input).
    pub(crate) fn has_trailing_data(&mut self) -> io::Result<bool> {
        let rest = match self {
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Bzip2(d) => d.get_mut(),
            Decoder::Xz(d) => d.get_mut(),
            Decoder::Zstd(d) => {
                d.finish_frame()?;
                d.get_mut()
            }
            Decoder::None(r) => r,
        };
        Ok(!rest.fill_buf()?.is_empty())
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Bzip2(d) => d.read(buf),
            Decoder::Xz(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::None(r) => r.read(buf),
        }
    }
}

/// Compress everything `produce` writes into `out`, with the same bytes for every `threads`
/// value (0 = every core); `level` `None` is [`Compression::default_level`]. Returns what
/// `produce` returned, `out`, and the number of compressed bytes. The ACI writer's codecs, open
/// to any tar stream (an OCI layer is one).
pub fn compress<W, T>(
    out: W,
    compression: Compression,
    level: Option<u32>,
    threads: usize,
    produce: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<(T, W, u64)>
where
    W: Write + Send,
{
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let level = level.unwrap_or_else(|| compression.default_level());
    std::thread::scope(|scope| {
        let mut encoder = Encoder::new(scope, out, compression, level, threads)?;
        let produced = produce(&mut encoder)?;
        let (out, bytes) = encoder.finish()?;
        Ok((produced, out, bytes))
    })
}

/// A reader that decompresses `raw` as `compression`: one stream, memory-capped, as the strict
/// reader decodes it (refusing data after the stream is the reader's check, not this one's).
pub fn decoder<'a, R: Read + 'a>(
    compression: Compression,
    raw: R,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(Box::new(Decoder::new(
        io::BufReader::new(raw),
        compression,
    )?))
}

/// Like [`decoder`], but the reader also fails at the end of the stream when anything follows
/// it (a second gzip member, another xz or zstd stream, garbage): the rule the ACI reader
/// applies, for other archives read as hostile input (the members of a `.deb`).
pub fn strict_decoder<'a, R: Read + 'a>(
    compression: Compression,
    raw: R,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(Box::new(Strict {
        inner: Decoder::new(io::BufReader::new(raw), compression)?,
        checked: false,
    }))
}

/// A [`Decoder`] that checks, once at its end, that nothing follows the stream.
struct Strict<R: BufRead> {
    inner: Decoder<R>,
    checked: bool,
}

impl<R: BufRead> Read for Strict<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && !self.checked {
            self.checked = true;
            if self.inner.has_trailing_data()? {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "data after the end of the compressed stream",
                ));
            }
        }
        Ok(n)
    }
}

/// An encoder for one of the compressions, writing into `W`; [`Encoder::finish`] ends the stream
/// and returns the writer and the number of compressed bytes.
pub(crate) enum Encoder<'scope, W: Write + Send + 'scope> {
    Gzip(ParallelGzip<'scope, W>),
    Xz(liblzma::write::XzEncoder<Counting<W>>),
    Bzip2(bzip2::write::BzEncoder<Counting<W>>),
    Zstd(zstd::stream::Encoder<'static, Counting<W>>),
    None(Counting<W>),
}

impl<'scope, W: Write + Send + 'scope> Encoder<'scope, W> {
    /// Start compressing into `out`; `threads` ≥ 1 (the caller resolves "all cores").
    pub(crate) fn new<'env>(
        scope: &'scope Scope<'scope, 'env>,
        out: W,
        compression: Compression,
        level: u32,
        threads: usize,
    ) -> io::Result<Self> {
        let threads = threads.max(1);
        let out = Counting {
            inner: out,
            bytes: 0,
        };
        Ok(match compression {
            Compression::Gzip => {
                Encoder::Gzip(ParallelGzip::new(scope, out, level.min(9), threads))
            }
            Compression::Xz => {
                let stream = liblzma::stream::MtStreamBuilder::new()
                    .preset(level.min(9))
                    .threads(u32::try_from(threads).unwrap_or(u32::MAX))
                    .block_size(XZ_BLOCK)
                    .check(liblzma::stream::Check::Crc64)
                    .encoder()
                    .map_err(io::Error::other)?;
                Encoder::Xz(liblzma::write::XzEncoder::new_stream(out, stream))
            }
            Compression::Bzip2 => Encoder::Bzip2(bzip2::write::BzEncoder::new(
                out,
                bzip2::Compression::new(level.clamp(1, 9)),
            )),
            Compression::Zstd => {
                let level = i32::try_from(level.min(22)).unwrap_or(3);
                let mut enc = zstd::stream::Encoder::new(out, level)?;
                enc.multithread(u32::try_from(threads).unwrap_or(u32::MAX))?;
                enc.include_checksum(true)?;
                Encoder::Zstd(enc)
            }
            Compression::None => Encoder::None(out),
        })
    }

    pub(crate) fn finish(self) -> io::Result<(W, u64)> {
        let c = match self {
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Xz(e) => e.finish()?,
            Encoder::Bzip2(e) => e.finish()?,
            Encoder::Zstd(e) => e.finish()?,
            Encoder::None(c) => c,
        };
        Ok((c.inner, c.bytes))
    }
}

impl<'scope, W: Write + Send + 'scope> Write for Encoder<'scope, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Bzip2(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::None(e) => e.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        // Flushing mid-stream would change the compressed bytes; output is complete at finish().
        Ok(())
    }
}

/// Counts the bytes written through it.
#[derive(Debug)]
pub(crate) struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Job {
    seq: u64,
    dict: Vec<u8>,
    data: Vec<u8>,
    last: bool,
}

struct Done {
    seq: u64,
    deflated: Vec<u8>,
    crc: Crc,
    last: bool,
}

/// Gzip with the deflate work spread over worker threads; see the module docs for the format.
pub(crate) struct ParallelGzip<'scope, W: Write + Send + 'scope> {
    block: Vec<u8>,
    dict: Vec<u8>,
    seq: u64,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<ScopedJoinHandle<'scope, ()>>,
    writer: Option<ScopedJoinHandle<'scope, io::Result<Counting<W>>>>,
}

impl<'scope, W: Write + Send + 'scope> ParallelGzip<'scope, W> {
    fn new<'env>(
        scope: &'scope Scope<'scope, 'env>,
        out: Counting<W>,
        level: u32,
        threads: usize,
    ) -> Self {
        let (job_tx, job_rx) = sync_channel::<Job>(threads * 2);
        let (done_tx, done_rx) = sync_channel::<io::Result<Done>>(threads * 4);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let workers = (0..threads)
            .map(|_| {
                let job_rx = Arc::clone(&job_rx);
                let done_tx = done_tx.clone();
                scope.spawn(move || deflate_worker(&job_rx, &done_tx, level))
            })
            .collect();
        drop(done_tx);
        let writer = scope.spawn(move || write_in_order(out, &done_rx));
        ParallelGzip {
            block: Vec::with_capacity(GZIP_BLOCK),
            dict: Vec::new(),
            seq: 0,
            jobs: Some(job_tx),
            workers,
            writer: Some(writer),
        }
    }

    fn send_block(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(GZIP_BLOCK));
        let dict = std::mem::take(&mut self.dict);
        self.dict = data[data.len().saturating_sub(GZIP_WINDOW)..].to_vec();
        let job = Job {
            seq: self.seq,
            dict,
            data,
            last,
        };
        self.seq += 1;
        let sent = self.jobs.as_ref().map(|tx| tx.send(job).is_ok());
        if sent == Some(true) {
            Ok(())
        } else {
            // The writer stopped early; its error is the one to report.
            self.jobs = None;
            Err(self
                .join()
                .err()
                .unwrap_or_else(|| io::Error::other("gzip writer stopped")))
        }
    }

    fn join(&mut self) -> io::Result<Counting<W>> {
        self.jobs = None;
        for w in self.workers.drain(..) {
            w.join()
                .map_err(|_| io::Error::other("gzip worker panicked"))?;
        }
        match self.writer.take() {
            Some(h) => h
                .join()
                .map_err(|_| io::Error::other("gzip writer panicked"))?,
            None => Err(io::Error::other("gzip writer already finished")),
        }
    }

    fn finish(mut self) -> io::Result<Counting<W>> {
        self.send_block(true)?;
        self.join()
    }
}

impl<'scope, W: Write + Send + 'scope> Write for ParallelGzip<'scope, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = GZIP_BLOCK - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == GZIP_BLOCK {
            self.send_block(false)?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'scope, W: Write + Send + 'scope> Drop for ParallelGzip<'scope, W> {
    fn drop(&mut self) {
        // Close the job queue so the scoped threads end; errors were already reported or are moot.
        self.jobs = None;
    }
}

fn deflate_worker(jobs: &Mutex<Receiver<Job>>, done: &SyncSender<io::Result<Done>>, level: u32) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let result = deflate_block(&job, level).map(|deflated| {
            let mut crc = Crc::new();
            crc.update(&job.data);
            Done {
                seq: job.seq,
                deflated,
                crc,
                last: job.last,
            }
        });
        if done.send(result).is_err() {
            return;
        }
    }
}

/// Raw deflate of one block, primed with `dict`, ending in a sync flush (or the final block).
pub(crate) fn deflate_block_with(
    dict: &[u8],
    data: &[u8],
    level: u32,
    last: bool,
) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(flate2::Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 4096);
    let mut consumed = 0usize;
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let before = c.total_in();
        let status = c
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        consumed += usize::try_from(c.total_in() - before).map_err(io::Error::other)?;
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                if !last && consumed == data.len() && out.len() < out.capacity() {
                    break;
                }
            }
        }
    }
    Ok(out)
}

fn deflate_block(job: &Job, level: u32) -> io::Result<Vec<u8>> {
    deflate_block_with(&job.dict, &job.data, level, job.last)
}

fn write_in_order<W: Write>(
    mut out: Counting<W>,
    done: &Receiver<io::Result<Done>>,
) -> io::Result<Counting<W>> {
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown): constant.
    out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
    let mut pending = BTreeMap::new();
    let mut next = 0u64;
    let mut crc = Crc::new();
    for d in done {
        let d = d?;
        pending.insert(d.seq, d);
        while let Some(d) = pending.remove(&next) {
            out.write_all(&d.deflated)?;
            crc.combine(&d.crc);
            next += 1;
            if d.last {
                out.write_all(&crc.sum().to_le_bytes())?;
                out.write_all(&crc.amount().to_le_bytes())?;
                out.flush()?;
                return Ok(out);
            }
        }
    }
    Err(io::Error::other("gzip stream ended before its last block"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8], threads: usize) -> Vec<u8> {
        std::thread::scope(|s| {
            let mut e = Encoder::new(s, Vec::new(), Compression::Gzip, 6, threads).unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap().0
        })
    }

    fn sample(len: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 3 == 0 {
                    (x % 7) as u8
                } else {
                    b"abcdefgh"[i % 8]
                }
            })
            .collect()
    }

    #[test]
    fn gzip_bytes_are_the_same_for_one_two_and_four_threads() {
        let data = sample(3 * GZIP_BLOCK + 12345);
        let one = gzip(&data, 1);
        assert_eq!(one, gzip(&data, 2));
        assert_eq!(one, gzip(&data, 4));
    }

    #[test]
    fn gzip_output_decompresses_to_the_input() {
        for len in [0, 1, GZIP_BLOCK, 2 * GZIP_BLOCK + 7] {
            let data = sample(len);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gzip(&data, 2)[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "length {len}");
        }
    }

    #[test]
    fn xz_bytes_are_the_same_for_one_and_two_threads() {
        let data = sample(XZ_BLOCK as usize + 1000);
        let xz = |threads| {
            std::thread::scope(|s| {
                let mut e = Encoder::new(s, Vec::new(), Compression::Xz, 0, threads).unwrap();
                e.write_all(&data).unwrap();
                e.finish().unwrap().0
            })
        };
        let one = xz(1);
        assert_eq!(one, xz(2));
        let mut back = Vec::new();
        liblzma::read::XzDecoder::new(&one[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn detects_each_magic() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(Compression::detect(&tar), Some(Compression::None));
        assert_eq!(
            Compression::detect(&[0x1f, 0x8b, 8]),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::detect(b"BZh9"), Some(Compression::Bzip2));
        assert_eq!(
            Compression::detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            Some(Compression::Xz)
        );
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::detect(b"garbage"), None);
    }

    #[test]
    fn compress_and_decoder_round_trip_every_codec() {
        let data = sample(GZIP_BLOCK + 99);
        for c in [
            Compression::Gzip,
            Compression::Xz,
            Compression::Bzip2,
            Compression::Zstd,
            Compression::None,
        ] {
            let ((), out, bytes) =
                compress(Vec::new(), c, None, 2, |w| w.write_all(&data)).unwrap();
            assert_eq!(bytes, out.len() as u64, "{c}");
            if c != Compression::None {
                assert_eq!(Compression::detect(&out), Some(c), "{c}");
            }
            let mut back = Vec::new();
            decoder(c, &out[..])
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "{c}");
        }
    }

    #[test]
    fn compress_gives_the_encoders_bytes_for_any_thread_count() {
        let data = sample(2 * GZIP_BLOCK + 5);
        let run = |threads| {
            compress(Vec::new(), Compression::Gzip, Some(6), threads, |w| {
                w.write_all(&data)
            })
            .unwrap()
            .1
        };
        assert_eq!(run(1), gzip(&data, 3));
        assert_eq!(run(1), run(0));
    }
}

//! The ACI archive format: a tar stream of `manifest` and `rootfs/…`, optionally compressed.
//!
//! - [`entry`]: checked rootfs paths and the entries the writer takes.
//! - [`write`]: the deterministic, parallel-compressing writer ([`Builder`]).
//! - [`read`]: the strict reader and layout check ([`read()`](read::read)); [`read_with`](read::read_with) streams each accepted entry to a callback (extract in the same pass).
//! - [`compression`]: the codecs, magic detection, thread-count-independent encoders and
//!   single-stream, memory-capped decoders.
//! - [`tar_stream`]: the bounded tar header walker the reader stands on.

pub mod compression;
pub mod entry;
pub mod read;
pub mod tar_stream;
pub mod write;

pub use compression::{Compression, compress, decoder, strict_decoder};
pub use entry::{Entry, EntryKind, FileSource, RootfsPath, RootfsPathError, implied_parents};
pub use read::{AciInfo, EntryInfo, EntryType, LayoutError, ReadError, ReadOptions, ReadSummary};
pub use write::{Builder, WriteError, WriteOptions, WriteSummary};

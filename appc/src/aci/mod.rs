//! The ACI archive format: a tar stream of `manifest` and `rootfs/…`, optionally compressed.
//!
//! - [`entry`]: checked rootfs paths and the entries the writer takes.
//! - [`write`]: the deterministic, parallel-compressing writer ([`Builder`]).
//! - [`read`]: the strict reader and layout check ([`read()`](read::read)); [`read_with`](read::read_with) streams each accepted entry to a callback (extract in the same pass).
//! - [`compression`]: the codecs, magic detection and thread-count-independent encoders.

pub mod compression;
pub mod entry;
pub mod read;
pub mod write;

pub use compression::Compression;
pub use entry::{Entry, EntryKind, FileSource, RootfsPath, RootfsPathError};
pub use read::{AciInfo, EntryInfo, EntryType, LayoutError, ReadError, ReadOptions, ReadSummary};
pub use write::{Builder, WriteError, WriteOptions, WriteSummary};

//! Meta discovery (appc spec `discovery.md`, checklist §6): from an image name to the URLs of the
//! image, its signature and the keys that sign it, with no registry in between.
//!
//! The pieces, each in its own file:
//! - [`app`]: app strings `name[:version][,label=value]...` and the labels a request carries;
//! - [`platform`]: the host's `os`/`arch` in appc spelling (the defaults for a request);
//! - [`meta`]: `<meta name="ac-discovery…">` tags found by a real HTML tokenizer;
//! - [`template`]: rendering a URL template as the Go reference does;
//! - [`walk`]: `https://NAME?ac-discovery=1`, walking up the name's path, ACI and key endpoints
//!   discovered independently;
//! - [`agreement`]: after fetching, the manifest must agree with the request.
//!
//! This module does no I/O: the caller hands [`walk::discover_aci`] and [`walk::discover_pubkeys`]
//! a [`walk::PageSource`] that fetches a discovery page, and so owns the transport, redirects,
//! credentials, size limits and whether plain HTTP is ever acceptable.

pub mod agreement;
pub mod app;
pub mod meta;
pub mod platform;
pub mod template;
pub mod walk;

pub use agreement::{Disagreement, check_manifest};
pub use app::{App, AppError};
pub use meta::{MetaKind, MetaTag, meta_tags};
pub use platform::{host_arch, host_os};
pub use template::render;
pub use template::{EXT_ACI, EXT_SIGNATURE};
pub use walk::{
    AciEndpoint, Discovered, DiscoveryError, Endpoints, FailedAttempt, PageSource, discover_aci,
    discover_pubkeys, discovery_url, endpoints, prefixes,
};

//! Image and pod manifests: typed values, strict parsing and deterministic JSON.
//!
//! Parsing ([`ImageManifest::from_json`], [`PodManifest::from_json`]) parses strictly ([`json`]:
//! no duplicate keys, clear messages), then decodes by hand (see `decode`) so keys match case-insensitively like the Go reference and every problem is reported
//! with its JSON path. Values built in code are checked with `validate`. Serialization writes the
//! spec's field names in a fixed order and leaves out absent or empty optional fields.

pub mod annotations;
pub mod app;
pub(crate) mod decode;
pub mod image;
pub mod json;
pub mod pod;

pub use annotations::{Annotation, Annotations};
pub use app::{App, EnvVar, Event, EventHandler, MountPoint, Port};
pub use image::{Dependency, ImageManifest};
pub use pod::{ExposedPort, Mount, PodManifest, RuntimeApp, RuntimeImage, Volume, VolumeKind};

use crate::validation::{Error, Errors};
use crate::version::AcVersion;
use decode::{Decoder, Object};
use serde_json::Value;

/// What a JSON document claims to be, from its `acKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    #[allow(missing_docs)]
    ImageManifest,
    #[allow(missing_docs)]
    PodManifest,
}

impl Kind {
    /// Reads `acKind` (key matched case-insensitively, value exactly); `None` for anything else,
    /// including bytes that are not a JSON object.
    pub fn detect(bytes: &[u8]) -> Option<Kind> {
        let Value::Object(map) = json::parse(bytes).ok()? else {
            return None;
        };
        let mut kinds = map.iter().filter(|(k, _)| k.eq_ignore_ascii_case("acKind"));
        let (_, kind) = kinds.next()?;
        if kinds.next().is_some() {
            return None;
        }
        match kind.as_str()? {
            "ImageManifest" => Some(Kind::ImageManifest),
            "PodManifest" => Some(Kind::PodManifest),
            _ => None,
        }
    }

    /// The `acKind` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ImageManifest => "ImageManifest",
            Kind::PodManifest => "PodManifest",
        }
    }
}

fn ac_kind(d: &mut Decoder, o: &Object<'_>, expected: &str) {
    if let Some(kind) = o.required(d, "acKind", decode::string)
        && kind != expected
    {
        d.fail(
            &o.path_of("acKind"),
            format!("must be {expected:?} (case-sensitive), found {kind:?}"),
        );
    }
}

fn ac_version(d: &mut Decoder, v: &Value, path: &str) -> Option<AcVersion> {
    let s = decode::string(d, v, path)?;
    AcVersion::new(&s)
        .map_err(|e| d.fail(path, e.to_string()))
        .ok()
}

fn finish<T>(value: Option<T>, d: Decoder) -> Result<T, Errors> {
    Errors::check(d.into_errors())?;
    value.ok_or_else(|| Error::new("", "invalid manifest").into())
}

fn to_json_pretty<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing our own types into a Vec cannot fail: every map key is a string.
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
    out.push(b'\n');
    out
}

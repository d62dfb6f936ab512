//! The image manifest (`manifest` inside an ACI): name, labels, app, annotations, dependencies
//! and path whitelist.

use super::annotations::Annotations;
use super::app::App;
use super::decode::{self, Decoder, absolute_clean_path_problem};
use super::{ac_kind, ac_version, finish, to_json_pretty};
use crate::ImageId;
use crate::labels::Labels;
use crate::name::AcIdentifier;
use crate::validation::{Error, Errors, index, join};
use crate::version::AcVersion;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// An image manifest (`acKind: ImageManifest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    #[allow(missing_docs)]
    pub ac_version: AcVersion,
    /// The image name, e.g. `example.com/reduce-worker`.
    pub name: AcIdentifier,
    #[allow(missing_docs)]
    pub labels: Labels,
    /// How to run the image; `None` for dependency-only images.
    pub app: Option<App>,
    #[allow(missing_docs)]
    pub annotations: Annotations,
    /// Images to render beneath this one.
    pub dependencies: Vec<Dependency>,
    /// When non-empty, the only paths that survive rendering; each absolute, without `..`.
    pub path_whitelist: Vec<String>,
}

/// An image this one is rendered on top of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    #[allow(missing_docs)]
    pub image_name: AcIdentifier,
    /// When set, the fetched image must hash to it.
    #[serde(rename = "imageID", skip_serializing_if = "Option::is_none")]
    pub image_id: Option<ImageId>,
    #[allow(missing_docs)]
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// Expected size in bytes, to bound downloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl ImageManifest {
    /// A manifest with the current AC version, the given name and nothing else.
    pub fn new(name: AcIdentifier) -> Self {
        ImageManifest {
            ac_version: AcVersion::current(),
            name,
            labels: Labels::default(),
            app: None,
            annotations: Annotations::default(),
            dependencies: Vec::new(),
            path_whitelist: Vec::new(),
        }
    }

    /// Parses and fully validates manifest bytes; reports every problem with its JSON path.
    pub fn from_json(bytes: &[u8]) -> Result<ImageManifest, Errors> {
        let v = decode::parse_document(bytes)?;
        let mut d = Decoder::default();
        let m = Self::decode(&mut d, &v);
        finish(m, d)
    }

    /// Checks every rule on a manifest built in code.
    pub fn validate(&self) -> Result<(), Errors> {
        let mut errs = Vec::new();
        self.check_own(&mut errs);
        if let Some(app) = &self.app {
            app.check_tree("app", &mut errs);
        }
        Errors::check(errs)
    }

    /// Deterministic pretty JSON: spec field names in a fixed order, no nulls, trailing newline.
    pub fn to_json_pretty(&self) -> Vec<u8> {
        to_json_pretty(self)
    }

    fn check_own(&self, errs: &mut Vec<Error>) {
        errs.extend(self.labels.problems("labels"));
        errs.extend(self.annotations.problems("annotations"));
        for (i, dep) in self.dependencies.iter().enumerate() {
            errs.extend(
                dep.labels
                    .problems(&join(&index("dependencies", i), "labels")),
            );
        }
        for (i, p) in self.path_whitelist.iter().enumerate() {
            if let Some(msg) = absolute_clean_path_problem(p) {
                errs.push(Error::new(index("pathWhitelist", i), msg));
            }
        }
    }

    fn decode(d: &mut Decoder, v: &Value) -> Option<ImageManifest> {
        let m = d.mark();
        let o = d.object(v, "")?;
        ac_kind(d, &o, "ImageManifest");
        let ac_version = o.required(d, "acVersion", ac_version);
        let name = o.required(d, "name", decode::identifier);
        let labels = o.field(d, "labels", Labels::decode).unwrap_or_default();
        let app = o.field(d, "app", App::decode);
        let annotations = o
            .field(d, "annotations", Annotations::decode)
            .unwrap_or_default();
        let dependencies = o.list(d, "dependencies", |d, v, p| {
            let dep = d.object(v, p)?;
            let image_name = dep.required(d, "imageName", decode::identifier);
            let image_id = dep.field(d, "imageID", image_id);
            let labels = dep.field(d, "labels", Labels::decode).unwrap_or_default();
            let size = dep.field(d, "size", decode::unsigned);
            Some(Dependency {
                image_name: image_name?,
                image_id,
                labels,
                size,
            })
        });
        let path_whitelist = o.list(d, "pathWhitelist", decode::string);
        let (ac_version, name) = (ac_version?, name?);
        if !d.clean_since(m) {
            // Still apply the top-level rules to what did decode, so every problem is reported.
            let partial = ImageManifest {
                ac_version,
                name,
                labels,
                app: None,
                annotations,
                dependencies,
                path_whitelist,
            };
            partial.check_own(&mut d.errors);
            return None;
        }
        let manifest = ImageManifest {
            ac_version,
            name,
            labels,
            app,
            annotations,
            dependencies,
            path_whitelist,
        };
        manifest.check_own(&mut d.errors);
        Some(manifest)
    }
}

pub(crate) fn image_id(d: &mut Decoder, v: &Value, path: &str) -> Option<ImageId> {
    let s = decode::string(d, v, path)?;
    s.parse::<ImageId>()
        .map_err(|e| {
            d.fail(
                path,
                format!("{s:?} is not an image ID (sha512- and 128 lower-case hex digits): {e}"),
            )
        })
        .ok()
}

impl Serialize for ImageManifest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ImageManifest", 8)?;
        st.serialize_field("acKind", "ImageManifest")?;
        st.serialize_field("acVersion", &self.ac_version)?;
        st.serialize_field("name", &self.name)?;
        if !self.labels.is_empty() {
            st.serialize_field("labels", &self.labels)?;
        }
        if let Some(app) = &self.app {
            st.serialize_field("app", app)?;
        }
        if !self.annotations.is_empty() {
            st.serialize_field("annotations", &self.annotations)?;
        }
        if !self.dependencies.is_empty() {
            st.serialize_field("dependencies", &self.dependencies)?;
        }
        if !self.path_whitelist.is_empty() {
            st.serialize_field("pathWhitelist", &self.path_whitelist)?;
        }
        st.end()
    }
}

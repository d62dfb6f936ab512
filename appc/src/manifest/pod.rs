//! The pod manifest: the apps of a pod, their images, volumes, pod-level isolators, annotations
//! and exposed ports.
//!
//! A pod manifest may be a template (apps named by image name and labels, no image ID yet) or
//! reified (every app pinned by ID); parsing accepts both, [`PodManifest::check_reified`] demands
//! the second. Stricter than the Go reference: app names and image IDs must be present where the
//! prose says so, mounts must name a declared volume and have an absolute path, empty-volume
//! `mode` must be octal, uid/gid not negative, `hostPort` in 1..=65535, `acVersion` required.

use super::annotations::Annotations;
use super::app::{App, Port, port_problems};
use super::decode::{self, Decoder, absolute_clean_path_problem};
use super::image::image_id;
use super::{ac_kind, ac_version, finish, to_json_pretty};
use crate::ImageId;
use crate::isolator::{self, Isolator};
use crate::labels::Labels;
use crate::name::{AcIdentifier, AcName};
use crate::validation::{Error, Errors, index, join};
use crate::version::AcVersion;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A pod manifest (`acKind: PodManifest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodManifest {
    #[allow(missing_docs)]
    pub ac_version: AcVersion,
    /// The apps, with unique names.
    pub apps: Vec<RuntimeApp>,
    /// Volumes, with unique names.
    pub volumes: Vec<Volume>,
    /// Pod-level isolators (they bound the apps' ones).
    pub isolators: Vec<Isolator>,
    #[allow(missing_docs)]
    pub annotations: Annotations,
    /// Ports exposed on the host.
    pub ports: Vec<ExposedPort>,
    /// Inert user metadata.
    pub user_annotations: BTreeMap<String, String>,
    /// Inert user metadata.
    pub user_labels: BTreeMap<String, String>,
}

/// One app of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeApp {
    /// Unique in the pod; also the `AC_APP_NAME`.
    pub name: AcName,
    #[allow(missing_docs)]
    pub image: RuntimeImage,
    /// Replaces the image's `app` entirely when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<App>,
    #[allow(missing_docs)]
    #[serde(rename = "readOnlyRootFS", skip_serializing_if = "std::ops::Not::not")]
    pub read_only_root_fs: bool,
    #[allow(missing_docs)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[allow(missing_docs)]
    #[serde(skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
}

/// The image of a pod app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeImage {
    #[allow(missing_docs)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<AcIdentifier>,
    /// Required once the pod is reified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<ImageId>,
    #[allow(missing_docs)]
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
}

/// Mounts a pod volume into an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    /// A volume of the pod (or of `app_volume`).
    pub volume: AcName,
    /// Target inside the app: absolute, without `..`.
    pub path: String,
    /// A volume given inline instead of by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_volume: Option<Volume>,
}

/// A pod volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    #[allow(missing_docs)]
    pub name: AcName,
    #[allow(missing_docs)]
    pub read_only: bool,
    #[allow(missing_docs)]
    pub kind: VolumeKind,
}

/// What backs a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeKind {
    /// A bind of a host path.
    Host {
        /// Absolute host path without `..`.
        source: String,
        /// Recursive bind; `None` means the default (recursive).
        recursive: Option<bool>,
    },
    /// A fresh per-pod directory.
    Empty {
        /// Octal permission bits (`"0755"` when `None`).
        mode: Option<String>,
        /// Owner uid (0 when `None`).
        uid: Option<u32>,
        /// Owner gid (0 when `None`).
        gid: Option<u32>,
    },
}

/// A port exposed on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExposedPort {
    /// Names an app port.
    pub name: AcName,
    /// 1..=65535.
    pub host_port: u16,
    #[allow(missing_docs)]
    #[serde(rename = "hostIP", skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    /// Overrides the app's port definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_port: Option<Port>,
}

impl PodManifest {
    /// An empty pod of the current AC version.
    pub fn new() -> Self {
        PodManifest {
            ac_version: AcVersion::current(),
            apps: Vec::new(),
            volumes: Vec::new(),
            isolators: Vec::new(),
            annotations: Annotations::default(),
            ports: Vec::new(),
            user_annotations: BTreeMap::new(),
            user_labels: BTreeMap::new(),
        }
    }

    /// Parses and fully validates a pod manifest (template or reified).
    pub fn from_json(bytes: &[u8]) -> Result<PodManifest, Errors> {
        let v = decode::parse_document(bytes)?;
        let mut d = Decoder::default();
        let m = Self::decode(&mut d, &v);
        finish(m, d)
    }

    /// Checks every rule on a manifest built in code.
    pub fn validate(&self) -> Result<(), Errors> {
        let mut errs = Vec::new();
        self.check_own(&mut errs);
        for (i, a) in self.apps.iter().enumerate() {
            if let Some(app) = &a.app {
                app.check_tree(&join(&index("apps", i), "app"), &mut errs);
            }
        }
        let isos = "isolators";
        for (i, iso) in self.isolators.iter().enumerate() {
            errs.extend(super::app::isolator_value_problems(iso, &index(isos, i)));
        }
        Errors::check(errs)
    }

    /// Whether the pod is ready to run: every app pinned by image ID.
    pub fn check_reified(&self) -> Result<(), Errors> {
        let errs = (self.apps.iter().enumerate())
            .filter(|(_, a)| a.image.id.is_none())
            .map(|(i, _)| {
                Error::new(
                    join(&index("apps", i), "image.id"),
                    "is required to run the pod",
                )
            })
            .collect();
        Errors::check(errs)
    }

    /// Deterministic pretty JSON: spec field names in a fixed order, no nulls, trailing newline.
    pub fn to_json_pretty(&self) -> Vec<u8> {
        to_json_pretty(self)
    }

    fn check_own(&self, errs: &mut Vec<Error>) {
        for (i, a) in self.apps.iter().enumerate() {
            let at = index("apps", i);
            if self.apps[..i].iter().any(|o| o.name == a.name) {
                errs.push(Error::new(
                    join(&at, "name"),
                    format!("duplicate app {:?}", a.name.as_str()),
                ));
            }
            errs.extend(a.image.labels.problems(&join(&at, "image.labels")));
            errs.extend(a.annotations.problems(&join(&at, "annotations")));
            for (j, m) in a.mounts.iter().enumerate() {
                let mat = index(&join(&at, "mounts"), j);
                if let Some(msg) = absolute_clean_path_problem(&m.path) {
                    errs.push(Error::new(join(&mat, "path"), msg));
                }
                match &m.app_volume {
                    Some(v) => volume_problems(v, &join(&mat, "appVolume"), errs),
                    None if !self.volumes.iter().any(|v| v.name == m.volume) => {
                        errs.push(Error::new(
                            join(&mat, "volume"),
                            format!("no volume named {:?} in the pod", m.volume.as_str()),
                        ))
                    }
                    None => {}
                }
            }
        }
        for (i, v) in self.volumes.iter().enumerate() {
            let at = index("volumes", i);
            if self.volumes[..i].iter().any(|o| o.name == v.name) {
                errs.push(Error::new(
                    join(&at, "name"),
                    format!("duplicate volume {:?}", v.name.as_str()),
                ));
            }
            volume_problems(v, &at, errs);
        }
        errs.extend(isolator::list_problems(&self.isolators, "isolators"));
        errs.extend(self.annotations.problems("annotations"));
        for (i, p) in self.ports.iter().enumerate() {
            let at = index("ports", i);
            if self.ports[..i].iter().any(|o| o.name == p.name) {
                errs.push(Error::new(
                    join(&at, "name"),
                    format!("duplicate port {:?}", p.name.as_str()),
                ));
            }
            if p.host_port == 0 {
                errs.push(Error::new(join(&at, "hostPort"), "must be from 1 to 65535"));
            }
            if let Some(pp) = &p.pod_port {
                port_problems(pp, &join(&at, "podPort"), errs);
            }
        }
    }

    fn decode(d: &mut Decoder, v: &Value) -> Option<PodManifest> {
        let m = d.mark();
        let o = d.object(v, "")?;
        ac_kind(d, &o, "PodManifest");
        let ac_version = o.required(d, "acVersion", ac_version);
        let apps = o.list(d, "apps", RuntimeApp::decode);
        let volumes = o.list(d, "volumes", Volume::decode);
        let isolators = o.list(d, "isolators", Isolator::decode);
        let annotations = o
            .field(d, "annotations", Annotations::decode)
            .unwrap_or_default();
        let ports = o.list(d, "ports", |d, v, p| {
            let po = d.object(v, p)?;
            let name = po.required(d, "name", decode::ac_name);
            let host_port =
                po.required(d, "hostPort", |d, v, p| decode::integer(d, v, p, 1, 65535));
            let host_ip = po.field(d, "hostIP", |d, v, p| {
                let s = decode::string(d, v, p)?;
                s.parse::<IpAddr>()
                    .map_err(|_| d.fail(p, format!("{s:?} is not an IP address")))
                    .ok()
            });
            let pod_port = po.field(d, "podPort", Port::decode);
            Some(ExposedPort {
                name: name?,
                host_port: u16::try_from(host_port?).ok()?,
                host_ip,
                pod_port,
            })
        });
        let user_annotations = o
            .field(d, "userAnnotations", decode::string_map)
            .unwrap_or_default();
        let user_labels = o
            .field(d, "userLabels", decode::string_map)
            .unwrap_or_default();
        let ac_version = ac_version?;
        if !d.clean_since(m) {
            return None;
        }
        let pod = PodManifest {
            ac_version,
            apps,
            volumes,
            isolators,
            annotations,
            ports,
            user_annotations,
            user_labels,
        };
        pod.check_own(&mut d.errors);
        Some(pod)
    }
}

impl Default for PodManifest {
    fn default() -> Self {
        PodManifest::new()
    }
}

impl RuntimeApp {
    fn decode(d: &mut Decoder, v: &Value, path: &str) -> Option<RuntimeApp> {
        let m = d.mark();
        let o = d.object(v, path)?;
        let name = o.required(d, "name", decode::ac_name);
        let image = o.required(d, "image", |d, v, p| {
            let io = d.object(v, p)?;
            let name = io.field(d, "name", decode::identifier);
            let id = io.field(d, "id", image_id);
            let labels = io.field(d, "labels", Labels::decode).unwrap_or_default();
            Some(RuntimeImage { name, id, labels })
        });
        let app = o.field(d, "app", App::decode);
        let read_only_root_fs = o
            .field(d, "readOnlyRootFS", decode::boolean)
            .unwrap_or(false);
        let mounts = o.list(d, "mounts", |d, v, p| {
            let mo = d.object(v, p)?;
            let volume = mo.required(d, "volume", decode::ac_name);
            let path = mo.required(d, "path", decode::string);
            let app_volume = mo.field(d, "appVolume", Volume::decode);
            Some(Mount {
                volume: volume?,
                path: path?,
                app_volume,
            })
        });
        let annotations = o
            .field(d, "annotations", Annotations::decode)
            .unwrap_or_default();
        let (name, image) = (name?, image?);
        d.clean_since(m).then_some(RuntimeApp {
            name,
            image,
            app,
            read_only_root_fs,
            mounts,
            annotations,
        })
    }
}

fn volume_problems(v: &Volume, path: &str, errs: &mut Vec<Error>) {
    match &v.kind {
        VolumeKind::Host { source, .. } => {
            if let Some(msg) = absolute_clean_path_problem(source) {
                errs.push(Error::new(join(path, "source"), msg));
            }
        }
        VolumeKind::Empty {
            mode: Some(mode), ..
        } => {
            let octal =
                (1..=4).contains(&mode.len()) && mode.bytes().all(|b| (b'0'..=b'7').contains(&b));
            if !octal {
                errs.push(Error::new(
                    join(path, "mode"),
                    format!("{mode:?} is not an octal mode like \"0755\""),
                ));
            }
        }
        VolumeKind::Empty { .. } => {}
    }
}

impl Volume {
    fn decode(d: &mut Decoder, v: &Value, path: &str) -> Option<Volume> {
        let m = d.mark();
        let o = d.object(v, path)?;
        let name = o.required(d, "name", decode::ac_name);
        let read_only = o.field(d, "readOnly", decode::boolean).unwrap_or(false);
        let id = |d: &mut Decoder, v: &Value, p: &str| {
            u32::try_from(decode::integer(d, v, p, 0, u32::MAX.into())?).ok()
        };
        let kind = match o.required(d, "kind", decode::string)?.as_str() {
            "host" => {
                for key in ["mode", "uid", "gid"] {
                    if o.has(key) {
                        d.fail(&o.path_of(key), "is not allowed for a host volume");
                    }
                }
                let source = o.required(d, "source", decode::string);
                let recursive = o.field(d, "recursive", decode::boolean);
                VolumeKind::Host {
                    source: source?,
                    recursive,
                }
            }
            "empty" => {
                if o.has("source") {
                    d.fail(&o.path_of("source"), "is not allowed for an empty volume");
                }
                let mode = o.field(d, "mode", decode::string);
                let uid = o.field(d, "uid", id);
                let gid = o.field(d, "gid", id);
                VolumeKind::Empty { mode, uid, gid }
            }
            other => {
                d.fail(
                    &o.path_of("kind"),
                    format!("{other:?} is not a volume kind (host or empty)"),
                );
                return None;
            }
        };
        let vol = Volume {
            name: name?,
            read_only,
            kind,
        };
        if !d.clean_since(m) {
            return None;
        }
        Some(vol)
    }
}

impl Serialize for Volume {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Volume", 7)?;
        st.serialize_field("name", &self.name)?;
        match &self.kind {
            VolumeKind::Host { source, recursive } => {
                st.serialize_field("kind", "host")?;
                st.serialize_field("source", source)?;
                if self.read_only {
                    st.serialize_field("readOnly", &true)?;
                }
                if let Some(r) = recursive {
                    st.serialize_field("recursive", r)?;
                }
            }
            VolumeKind::Empty { mode, uid, gid } => {
                st.serialize_field("kind", "empty")?;
                if self.read_only {
                    st.serialize_field("readOnly", &true)?;
                }
                if let Some(m) = mode {
                    st.serialize_field("mode", m)?;
                }
                if let Some(u) = uid {
                    st.serialize_field("uid", u)?;
                }
                if let Some(g) = gid {
                    st.serialize_field("gid", g)?;
                }
            }
        }
        st.end()
    }
}

impl Serialize for PodManifest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("PodManifest", 9)?;
        st.serialize_field("acKind", "PodManifest")?;
        st.serialize_field("acVersion", &self.ac_version)?;
        st.serialize_field("apps", &self.apps)?;
        if !self.volumes.is_empty() {
            st.serialize_field("volumes", &self.volumes)?;
        }
        if !self.isolators.is_empty() {
            st.serialize_field("isolators", &self.isolators)?;
        }
        if !self.annotations.is_empty() {
            st.serialize_field("annotations", &self.annotations)?;
        }
        if !self.ports.is_empty() {
            st.serialize_field("ports", &self.ports)?;
        }
        if !self.user_annotations.is_empty() {
            st.serialize_field("userAnnotations", &self.user_annotations)?;
        }
        if !self.user_labels.is_empty() {
            st.serialize_field("userLabels", &self.user_labels)?;
        }
        st.end()
    }
}

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
    pub ac_version: AcVersion,
    /// The apps, with unique names.
    pub apps: Vec<RuntimeApp>,
    /// Volumes, with unique names.
    pub volumes: Vec<Volume>,
    /// Pod-level isolators (they bound the apps' ones).
    pub isolators: Vec<Isolator>,
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
    pub image: RuntimeImage,
    /// Replaces the image's `app` entirely when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<App>,
    #[serde(rename = "readOnlyRootFS", skip_serializing_if = "std::ops::Not::not")]
    pub read_only_root_fs: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[serde(skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
}

/// The image of a pod app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeImage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<AcIdentifier>,
    /// Required once the pod is reified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<ImageId>,
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
    pub name: AcName,
    pub read_only: bool,
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
        // Built even when parts failed, so the pod-level rules still run on the rest (see
        // `Decoder::into_errors`); the stand-in version is never returned.
        let ac_version = ac_version.unwrap_or_else(AcVersion::current);
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
        d.clean_since(m).then_some(pod)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "sha512-8d3fffddf79e9a232ffd19f9ccaa4d6b37a6a243dbe0f23137b108a043d9da13121a9b505c804956b22e93c7f93969f4a7ba8ddea45bf4aab0bebc8f814e0990";

    fn base() -> Value {
        json!({
            "acKind": "PodManifest",
            "acVersion": "0.8.11",
            "apps": [
                {"name": "web", "image": {"name": "example.com/web", "id": ID},
                 "app": {"exec": ["/bin/web"], "user": "0", "group": "0"},
                 "readOnlyRootFS": true,
                 "mounts": [{"volume": "data", "path": "/data"}],
                 "annotations": [{"name": "foo", "value": "bar"}]},
                {"name": "db", "image": {"id": ID, "labels": [{"name": "version", "value": "1"}]},
                 "mounts": [{"volume": "scratch", "path": "/tmp/s",
                             "appVolume": {"name": "scratch", "kind": "empty"}}]}
            ],
            "volumes": [
                {"name": "data", "kind": "host", "source": "/srv/data", "readOnly": true, "recursive": false},
                {"name": "cache", "kind": "empty", "mode": "0700", "uid": 1, "gid": 2}
            ],
            "isolators": [{"name": "resource/memory", "value": {"limit": "4G"}},
                          {"name": "os/unix/sysctl", "value": {"net.ipv4.ip_forward": "1"}}],
            "annotations": [{"name": "ip-address", "value": "10.1.2.3"}],
            "ports": [{"name": "http", "hostPort": 8080, "hostIP": "127.0.0.1",
                       "podPort": {"name": "http", "protocol": "tcp", "port": 80}}],
            "userAnnotations": {"k": "v"},
            "userLabels": {"l": "w"}
        })
    }

    fn set(mut v: Value, pointer: &str, new: Value) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        match v.pointer_mut(parent).unwrap() {
            Value::Object(m) => {
                m.insert(key.to_owned(), new);
            }
            Value::Array(a) => {
                let i: usize = key.parse().unwrap();
                if i < a.len() { a[i] = new } else { a.push(new) }
            }
            _ => panic!("{pointer}"),
        }
        v
    }

    fn remove(mut v: Value, pointer: &str) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        if let Value::Object(m) = v.pointer_mut(parent).unwrap() {
            m.remove(key);
        }
        v
    }

    fn parse(v: &Value) -> Result<PodManifest, Errors> {
        PodManifest::from_json(&serde_json::to_vec(v).unwrap())
    }

    fn rejected_at(v: Value, path: &str) {
        let errs = parse(&v).expect_err(&format!("must reject {v}"));
        assert!(
            errs.has_path(path),
            "expected an error at {path:?}, got:\n{errs}"
        );
    }

    #[test]
    fn base_pod_is_valid_and_reified() {
        let p = parse(&base()).unwrap();
        assert!(p.validate().is_ok());
        assert!(p.check_reified().is_ok());
        assert_eq!(p.apps[0].name.as_str(), "web");
        assert!(matches!(
            p.volumes[1].kind,
            VolumeKind::Empty { uid: Some(1), .. }
        ));
    }

    #[test]
    fn kind_and_version() {
        rejected_at(set(base(), "/acKind", json!("ImageManifest")), "acKind");
        rejected_at(remove(base(), "/acVersion"), "acVersion");
    }

    #[test]
    fn p1_duplicate_app_and_volume_names() {
        let dup = json!({"name": "web", "image": {"id": ID}});
        rejected_at(set(base(), "/apps/2", dup), "apps[2].name");
        let vol = json!({"name": "data", "kind": "empty"});
        rejected_at(set(base(), "/volumes/2", vol), "volumes[2].name");
    }

    #[test]
    fn p2_p3_app_names() {
        rejected_at(set(base(), "/apps/0/name", json!("App1")), "apps[0].name");
        rejected_at(
            set(base(), "/apps/0/name", json!("example.com/app1")),
            "apps[0].name",
        );
        rejected_at(remove(base(), "/apps/0/name"), "apps[0].name");
    }

    #[test]
    fn p3_template_without_image_id_parses_but_is_not_reified() {
        let p = parse(&remove(base(), "/apps/1/image/id")).unwrap();
        let errs = p.check_reified().unwrap_err();
        assert_eq!(
            errs.to_string(),
            "apps[1].image.id: is required to run the pod"
        );
    }

    #[test]
    fn p4_image_id_must_be_sha512() {
        rejected_at(
            set(base(), "/apps/0/image/id", json!("sha256-abcd")),
            "apps[0].image.id",
        );
    }

    #[test]
    fn p5_app_override_validated_like_an_image_app() {
        rejected_at(remove(base(), "/apps/0/app/user"), "apps[0].app.user");
        let unknown = json!([{"name": "example.com/x", "value": 1}]);
        assert!(
            parse(&set(base(), "/apps/0/app/isolators", unknown)).is_ok(),
            "unknown isolators are kept"
        );
    }

    #[test]
    fn p6_mounts() {
        rejected_at(
            set(base(), "/apps/0/mounts/0/volume", json!("nope")),
            "apps[0].mounts[0].volume",
        );
        rejected_at(
            remove(base(), "/apps/0/mounts/0/path"),
            "apps[0].mounts[0].path",
        );
        rejected_at(
            set(base(), "/apps/0/mounts/0/path", json!("data")),
            "apps[0].mounts[0].path",
        );
    }

    #[test]
    fn p7_volume_kinds() {
        rejected_at(
            set(base(), "/volumes/0/kind", json!("tmpfs")),
            "volumes[0].kind",
        );
        rejected_at(remove(base(), "/volumes/0/kind"), "volumes[0].kind");
        rejected_at(remove(base(), "/volumes/0/source"), "volumes[0].source");
        rejected_at(
            set(base(), "/volumes/0/source", json!("srv")),
            "volumes[0].source",
        );
        rejected_at(
            set(base(), "/volumes/0/mode", json!("0755")),
            "volumes[0].mode",
        );
        rejected_at(set(base(), "/volumes/0/uid", json!(0)), "volumes[0].uid");
        rejected_at(
            set(base(), "/volumes/1/source", json!("/x")),
            "volumes[1].source",
        );
    }

    #[test]
    fn p8_empty_volume_mode_and_ids() {
        rejected_at(
            set(base(), "/volumes/1/mode", json!("rwx")),
            "volumes[1].mode",
        );
        rejected_at(set(base(), "/volumes/1/uid", json!(-5)), "volumes[1].uid");
        rejected_at(set(base(), "/volumes/1/gid", json!(-5)), "volumes[1].gid");
    }

    #[test]
    fn p9_p10_exposed_ports() {
        rejected_at(
            set(base(), "/ports/0/hostPort", json!(0)),
            "ports[0].hostPort",
        );
        rejected_at(
            set(base(), "/ports/0/hostPort", json!(70000)),
            "ports[0].hostPort",
        );
        rejected_at(
            set(base(), "/ports/0/hostIP", json!("not-an-ip")),
            "ports[0].hostIP",
        );
        assert!(parse(&set(base(), "/ports/0/hostIP", json!("::1"))).is_ok());
        rejected_at(
            set(base(), "/ports/0/podPort/port", json!(0)),
            "ports[0].podPort.port",
        );
        let dup = json!({"name": "http", "hostPort": 8081});
        rejected_at(set(base(), "/ports/1", dup), "ports[1].name");
    }

    #[test]
    fn p11_pod_isolators() {
        let unknown = json!({"name": "example.com/x", "value": {}});
        assert!(parse(&set(base(), "/isolators/2", unknown)).is_ok());
        let sysctl = json!({"name": "os/unix/sysctl", "value": {"a.b": "1"}});
        rejected_at(set(base(), "/isolators/2", sysctl), "isolators[2].name");
        rejected_at(
            set(base(), "/isolators/1/value/net.ipv4.ip_forward", json!(1)),
            "isolators[1].value.net.ipv4.ip_forward",
        );
    }

    #[test]
    fn annotations_and_labels_inside_apps() {
        rejected_at(
            set(
                base(),
                "/annotations/1",
                json!({"name": "ip-address", "value": "x"}),
            ),
            "annotations[1].name",
        );
        rejected_at(
            set(base(), "/apps/0/annotations/0/name", json!("Foo")),
            "apps[0].annotations[0].name",
        );
        rejected_at(
            set(
                base(),
                "/apps/1/image/labels/1",
                json!({"name": "version", "value": "2"}),
            ),
            "apps[1].image.labels[1].name",
        );
    }

    #[test]
    fn a_broken_app_does_not_hide_pod_level_errors() {
        let v = set(
            set(base(), "/apps/0/app/user", json!(5)),
            "/volumes/1/mode",
            json!("rwx"),
        );
        let errs = parse(&v).unwrap_err();
        assert!(
            errs.has_path("apps[0].app.user") && errs.has_path("volumes[1].mode"),
            "{errs}"
        );
        assert_eq!(errs.as_slice().len(), 2, "{errs}");
    }

    #[test]
    fn round_trips_deterministically() {
        let p = parse(&base()).unwrap();
        let out = p.to_json_pretty();
        assert!(!String::from_utf8(out.clone()).unwrap().contains("null"));
        let again = PodManifest::from_json(&out).unwrap();
        assert_eq!(again, p);
        assert_eq!(again.to_json_pretty(), out);
    }

    #[test]
    fn validate_checks_pods_built_in_code() {
        let mut p = PodManifest::new();
        p.apps.push(RuntimeApp {
            name: AcName::new("a").unwrap(),
            image: RuntimeImage {
                name: None,
                id: None,
                labels: Labels::default(),
            },
            app: None,
            read_only_root_fs: false,
            mounts: vec![Mount {
                volume: AcName::new("v").unwrap(),
                path: "/v".into(),
                app_volume: None,
            }],
            annotations: Annotations::default(),
        });
        let errs = p.validate().unwrap_err();
        assert!(errs.has_path("apps[0].mounts[0].volume"), "{errs}");
    }
}

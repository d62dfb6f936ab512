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
    pub ac_version: AcVersion,
    /// The image name, e.g. `example.com/reduce-worker`.
    pub name: AcIdentifier,
    pub labels: Labels,
    /// How to run the image; `None` for dependency-only images.
    pub app: Option<App>,
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
    pub image_name: AcIdentifier,
    /// When set, the fetched image must hash to it.
    #[serde(rename = "imageID", skip_serializing_if = "Option::is_none")]
    pub image_id: Option<ImageId>,
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
        Self::top_level_problems(
            &self.labels,
            &self.annotations,
            &self.dependencies,
            &self.path_whitelist,
            errs,
        );
    }

    /// The rules between top-level fields; separate so they also run when `name` is broken.
    fn top_level_problems(
        labels: &Labels,
        annotations: &Annotations,
        dependencies: &[Dependency],
        path_whitelist: &[String],
        errs: &mut Vec<Error>,
    ) {
        errs.extend(labels.problems("labels"));
        errs.extend(annotations.problems("annotations"));
        for (i, dep) in dependencies.iter().enumerate() {
            errs.extend(
                dep.labels
                    .problems(&join(&index("dependencies", i), "labels")),
            );
        }
        for (i, p) in path_whitelist.iter().enumerate() {
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
        let (Some(ac_version), Some(name), true) = (ac_version, name, d.clean_since(m)) else {
            // Still apply the top-level rules to what did decode, so every problem is reported.
            Self::top_level_problems(
                &labels,
                &annotations,
                &dependencies,
                &path_whitelist,
                &mut d.errors,
            );
            return None;
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "sha512-8d3fffddf79e9a232ffd19f9ccaa4d6b37a6a243dbe0f23137b108a043d9da13121a9b505c804956b22e93c7f93969f4a7ba8ddea45bf4aab0bebc8f814e0990";

    fn base() -> Value {
        json!({
            "acKind": "ImageManifest",
            "acVersion": "0.8.11",
            "name": "example.com/app",
            "labels": [{"name": "version", "value": "1.0.0"}, {"name": "os", "value": "linux"}, {"name": "arch", "value": "amd64"}],
            "app": {
                "exec": ["/bin/app", "--flag"],
                "user": "0",
                "group": "0",
                "supplementaryGIDs": [1, 2],
                "workingDirectory": "/srv",
                "eventHandlers": [{"name": "pre-start", "exec": ["/bin/pre"]}, {"name": "post-stop", "exec": ["/bin/post"]}],
                "environment": [{"name": "A_B.c-1", "value": "x"}, {"name": "_X", "value": ""}],
                "mountPoints": [{"name": "data", "path": "/data", "readOnly": true}, {"name": "work", "path": "/work"}],
                "ports": [{"name": "http", "protocol": "tcp", "port": 80, "count": 2, "socketActivated": true}],
                "isolators": [{"name": "resource/memory", "value": {"limit": "1G"}}],
                "userAnnotations": {"a": "b"},
                "userLabels": {"c": "d"}
            },
            "annotations": [
                {"name": "created", "value": "2014-10-27T19:32:27Z"},
                {"name": "homepage", "value": "https://example.com"},
                {"name": "documentation", "value": "https://example.com/docs"},
                {"name": "authors", "value": "someone"}
            ],
            "dependencies": [{"imageName": "example.com/base", "imageID": ID, "labels": [{"name": "os", "value": "linux"}], "size": 10}],
            "pathWhitelist": ["/bin/app", "/etc/"]
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
        match v.pointer_mut(parent).unwrap() {
            Value::Object(m) => {
                m.remove(key);
            }
            Value::Array(a) => {
                a.remove(key.parse().unwrap());
            }
            _ => panic!("{pointer}"),
        }
        v
    }

    fn parse(v: &Value) -> Result<ImageManifest, Errors> {
        ImageManifest::from_json(&serde_json::to_vec(v).unwrap())
    }

    fn rejected_at(v: Value, path: &str) {
        let errs = parse(&v).expect_err(&format!("must reject {v}"));
        assert!(
            errs.has_path(path),
            "expected an error at {path:?}, got:\n{errs}"
        );
    }

    #[test]
    fn base_manifest_is_valid() {
        let m = parse(&base()).unwrap();
        assert_eq!(m.name.as_str(), "example.com/app");
        assert_eq!(m.labels.get("version"), Some("1.0.0"));
        assert_eq!(m.app.as_ref().unwrap().ports[0].count, 2);
        assert!(m.validate().is_ok());
    }

    #[test]
    fn m1_ac_kind() {
        rejected_at(remove(base(), "/acKind"), "acKind");
        rejected_at(set(base(), "/acKind", json!("imagemanifest")), "acKind");
        rejected_at(set(base(), "/acKind", json!("Foo")), "acKind");
        rejected_at(set(base(), "/acKind", json!("PodManifest")), "acKind");
    }

    #[test]
    fn m2_ac_version() {
        rejected_at(remove(base(), "/acVersion"), "acVersion");
        for bad in ["", "0.8", "0.0.0"] {
            rejected_at(set(base(), "/acVersion", json!(bad)), "acVersion");
        }
        assert!(parse(&set(base(), "/acVersion", json!("0.8.11+git"))).is_ok());
    }

    #[test]
    fn m3_m4_name_follows_the_regex() {
        rejected_at(remove(base(), "/name"), "name");
        for bad in [
            "Example.com/Hello",
            "-x",
            "x/",
            "example.com:8080/x",
            "example.com//x",
            "a..b",
        ] {
            rejected_at(set(base(), "/name", json!(bad)), "name");
        }
    }

    #[test]
    fn m5_m6_labels() {
        rejected_at(
            set(base(), "/labels/3", json!({"name": "name", "value": "x"})),
            "labels[3].name",
        );
        rejected_at(
            set(
                base(),
                "/labels/3",
                json!({"name": "version", "value": "2"}),
            ),
            "labels[3].name",
        );
        rejected_at(
            set(base(), "/labels/1/value", json!("windows")),
            "labels[1].value",
        );
        rejected_at(
            set(base(), "/labels/1/value", json!("Linux")),
            "labels[1].value",
        );
        rejected_at(
            set(base(), "/labels/2/value", json!("x86_64")),
            "labels[2].value",
        );
        let darwin = set(
            set(base(), "/labels/1/value", json!("darwin")),
            "/labels/2/value",
            json!("amd64"),
        );
        rejected_at(darwin, "labels[2].value");
        assert!(
            parse(&remove(base(), "/labels/1")).is_ok(),
            "arch without os"
        );
        rejected_at(
            set(base(), "/labels/0/name", json!("Version")),
            "labels[0].name",
        );
        rejected_at(
            set(base(), "/dependencies/0/labels/0/value", json!("plan9")),
            "dependencies[0].labels[0].value",
        );
    }

    #[test]
    fn m7_user_and_group_required() {
        rejected_at(remove(base(), "/app/user"), "app.user");
        rejected_at(remove(base(), "/app/group"), "app.group");
        rejected_at(set(base(), "/app/user", json!("")), "app.user");
    }

    #[test]
    fn m8_working_directory_absolute_without_dotdot() {
        rejected_at(
            set(base(), "/app/workingDirectory", json!("srv")),
            "app.workingDirectory",
        );
        rejected_at(
            set(base(), "/app/workingDirectory", json!("/srv/../etc")),
            "app.workingDirectory",
        );
    }

    #[test]
    fn exec_zero_must_be_absolute() {
        rejected_at(set(base(), "/app/exec/0", json!("app")), "app.exec[0]");
        rejected_at(
            set(base(), "/app/exec/0", json!("/bin/../app")),
            "app.exec[0]",
        );
        assert!(
            parse(&remove(base(), "/app/exec")).is_ok(),
            "exec is optional"
        );
    }

    #[test]
    fn m9_environment_names() {
        for bad in ["1A", "-A", ".A", "A=B", ""] {
            rejected_at(
                set(base(), "/app/environment/0/name", json!(bad)),
                "app.environment[0].name",
            );
        }
        rejected_at(
            set(
                base(),
                "/app/environment/2",
                json!({"name": "_X", "value": "y"}),
            ),
            "app.environment[2].name",
        );
    }

    #[test]
    fn m10_event_handlers() {
        rejected_at(
            set(base(), "/app/eventHandlers/0/name", json!("pre-stop")),
            "app.eventHandlers[0].name",
        );
        rejected_at(
            set(base(), "/app/eventHandlers/1/name", json!("pre-start")),
            "app.eventHandlers[1].name",
        );
        rejected_at(
            set(base(), "/app/eventHandlers/0/exec", json!(["pre"])),
            "app.eventHandlers[0].exec[0]",
        );
        rejected_at(
            remove(base(), "/app/eventHandlers/0/exec"),
            "app.eventHandlers[0].exec",
        );
    }

    #[test]
    fn m11_m12_mount_points() {
        rejected_at(
            set(base(), "/app/mountPoints/0/name", json!("Work")),
            "app.mountPoints[0].name",
        );
        rejected_at(
            set(base(), "/app/mountPoints/0/name", json!("a.b")),
            "app.mountPoints[0].name",
        );
        rejected_at(
            remove(base(), "/app/mountPoints/0/name"),
            "app.mountPoints[0].name",
        );
        rejected_at(
            remove(base(), "/app/mountPoints/1/path"),
            "app.mountPoints[1].path",
        );
        rejected_at(
            set(base(), "/app/mountPoints/1/path", json!("work")),
            "app.mountPoints[1].path",
        );
        rejected_at(
            set(base(), "/app/mountPoints/1/path", json!("/a/../../etc")),
            "app.mountPoints[1].path",
        );
        rejected_at(
            set(base(), "/app/mountPoints/1/name", json!("data")),
            "app.mountPoints[1].name",
        );
        let errs = parse(&set(base(), "/app/mountPoints/1/path", json!("work"))).unwrap_err();
        assert_eq!(
            errs.to_string(),
            "app.mountPoints[1].path: must be an absolute path"
        );
    }

    #[test]
    fn m13_m14_ports() {
        for bad in [json!(0), json!(65536), json!(-1), json!("80"), json!(80.5)] {
            rejected_at(set(base(), "/app/ports/0/port", bad), "app.ports[0].port");
        }
        let wide = set(
            set(base(), "/app/ports/0/port", json!(65000)),
            "/app/ports/0/count",
            json!(1000),
        );
        rejected_at(wide, "app.ports[0].count");
        assert!(
            parse(&set(
                set(base(), "/app/ports/0/port", json!(65000)),
                "/app/ports/0/count",
                json!(536)
            ))
            .is_ok()
        );
        rejected_at(
            set(base(), "/app/ports/0/count", json!(0)),
            "app.ports[0].count",
        );
        rejected_at(remove(base(), "/app/ports/0/name"), "app.ports[0].name");
        rejected_at(
            remove(base(), "/app/ports/0/protocol"),
            "app.ports[0].protocol",
        );
        let dup = json!({"name": "http", "protocol": "udp", "port": 90});
        rejected_at(set(base(), "/app/ports/1", dup), "app.ports[1].name");
        let m = parse(&remove(base(), "/app/ports/0/count")).unwrap();
        assert_eq!(m.app.unwrap().ports[0].count, 1, "count defaults to 1");
    }

    #[test]
    fn m15_annotations() {
        rejected_at(
            set(
                base(),
                "/annotations/0/value",
                json!("2014-10-27 19:32:27Z"),
            ),
            "annotations[0].value",
        );
        rejected_at(
            set(base(), "/annotations/1/value", json!("ftp://example.com")),
            "annotations[1].value",
        );
        rejected_at(
            set(base(), "/annotations/2/value", json!("/docs")),
            "annotations[2].value",
        );
        rejected_at(
            set(
                base(),
                "/annotations/4",
                json!({"name": "authors", "value": "x"}),
            ),
            "annotations[4].name",
        );
        rejected_at(
            set(base(), "/annotations/3/name", json!("A")),
            "annotations[3].name",
        );
    }

    #[test]
    fn m16_m17_dependencies() {
        rejected_at(
            remove(base(), "/dependencies/0/imageName"),
            "dependencies[0].imageName",
        );
        rejected_at(
            set(base(), "/dependencies/0/imageName", json!("Bad")),
            "dependencies[0].imageName",
        );
        for bad in [
            "sha256-abcd",
            "abcdef",
            "sha512-ab-cd",
            "sha512-zz",
            "sha512-...",
        ] {
            rejected_at(
                set(base(), "/dependencies/0/imageID", json!(bad)),
                "dependencies[0].imageID",
            );
        }
        rejected_at(
            set(base(), "/dependencies/0/size", json!(-1)),
            "dependencies[0].size",
        );
        assert!(parse(&remove(base(), "/dependencies/0/imageID")).is_ok());
    }

    #[test]
    fn m18_path_whitelist_absolute() {
        rejected_at(
            set(base(), "/pathWhitelist/0", json!("bin/app")),
            "pathWhitelist[0]",
        );
        rejected_at(
            set(base(), "/pathWhitelist/0", json!("/bin/../../x")),
            "pathWhitelist[0]",
        );
    }

    #[test]
    fn m19_negative_supplementary_gids() {
        rejected_at(
            set(base(), "/app/supplementaryGIDs/1", json!(-1)),
            "app.supplementaryGIDs[1]",
        );
    }

    #[test]
    fn m20_trailing_bytes() {
        let mut bytes = serde_json::to_vec(&base()).unwrap();
        bytes.extend_from_slice(b" {}");
        let errs = ImageManifest::from_json(&bytes).unwrap_err();
        assert!(errs.to_string().starts_with("invalid JSON"), "{errs}");
        assert!(ImageManifest::from_json(b"[]").is_err());
        assert!(ImageManifest::from_json(b"").is_err());
    }

    #[test]
    fn m21_keys_match_case_insensitively() {
        let v = json!({"ACKIND": "ImageManifest", "acversion": "0.8.11", "NAME": "x",
            "app": {"user": "0", "group": "0", "supplementaryGids": [5]}});
        let m = parse(&v).unwrap();
        assert_eq!(m.app.unwrap().supplementary_gids, vec![5]);
        let clash =
            json!({"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "x", "NAME": "y"});
        rejected_at(clash, "name");
    }

    #[test]
    fn m22_user_annotations_are_strings() {
        rejected_at(
            set(base(), "/app/userAnnotations/a", json!(1)),
            "app.userAnnotations.a",
        );
        rejected_at(set(base(), "/app/userLabels", json!([])), "app.userLabels");
    }

    #[test]
    fn i1_unknown_isolator_accepted_and_kept() {
        let v = set(
            base(),
            "/app/isolators/1",
            json!({"name": "example.com/foo", "value": {"x": 1}}),
        );
        let m = parse(&v).unwrap();
        assert!(!m.app.as_ref().unwrap().isolators[1].is_known());
        assert!(
            String::from_utf8(m.to_json_pretty())
                .unwrap()
                .contains("example.com/foo")
        );
    }

    #[test]
    fn isolator_errors_carry_the_app_path() {
        let v = set(base(), "/app/isolators/0/value/limit", json!("-1G"));
        rejected_at(v, "app.isolators[0].value.limit");
        let two = set(
            base(),
            "/app/isolators/1",
            json!({"name": "resource/memory", "value": {"limit": "2G"}}),
        );
        rejected_at(two, "app.isolators[1].name");
    }

    #[test]
    fn every_error_is_reported_not_just_the_first() {
        let v = set(
            set(
                set(base(), "/name", json!("Bad")),
                "/app/workingDirectory",
                json!("rel"),
            ),
            "/labels/1/value",
            json!("beos"),
        );
        let errs = parse(&v).unwrap_err();
        for p in ["name", "app.workingDirectory", "labels[1].value"] {
            assert!(errs.has_path(p), "{p} missing from:\n{errs}");
        }
        assert_eq!(errs.to_string().lines().count(), errs.as_slice().len());
    }

    #[test]
    fn a_broken_field_does_not_hide_the_rest_of_its_app() {
        let v = set(
            set(base(), "/app/user", json!(5)),
            "/app/workingDirectory",
            json!("rel"),
        );
        let v = set(v, "/app/environment/0/value", json!(1));
        let v = set(v, "/app/environment/1/name", json!("1X"));
        let errs = parse(&v).unwrap_err();
        assert_eq!(
            errs.to_string(),
            "app.user: must be a string, found a number\n\
             app.environment[0].value: must be a string, found a number\n\
             app.workingDirectory: must be an absolute path\n\
             app.environment[1].name: \"1X\" is not a valid variable name (^[A-Za-z_][A-Za-z_0-9.-]*$)"
        );
        let dropped_item = set(base(), "/app/mountPoints/0/name", json!("Bad"));
        let dropped_item = set(dropped_item, "/app/mountPoints/1/path", json!("/data"));
        let errs = parse(&dropped_item).unwrap_err();
        assert_eq!(
            errs.as_slice().len(),
            1,
            "no duplicate-path finding on shifted indices: {errs}"
        );
    }

    #[test]
    fn sibling_errors_survive_a_broken_app() {
        let v = set(
            set(base(), "/app/user", json!(5)),
            "/pathWhitelist/0",
            json!("rel"),
        );
        let errs = parse(&v).unwrap_err();
        assert!(
            errs.has_path("app.user") && errs.has_path("pathWhitelist[0]"),
            "{errs}"
        );
    }

    #[test]
    fn serialization_is_deterministic_in_spec_order_without_nulls() {
        let m = parse(&base()).unwrap();
        let out = String::from_utf8(m.to_json_pretty()).unwrap();
        assert!(!out.contains("null"));
        let keys = [
            "\"acKind\"",
            "\"acVersion\"",
            "\"name\"",
            "\"labels\"",
            "\"app\"",
            "\"annotations\"",
            "\"dependencies\"",
            "\"pathWhitelist\"",
        ];
        let positions: Vec<usize> = keys.iter().map(|k| out.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
        assert!(out.contains("\"supplementaryGIDs\"") && out.contains("\"imageID\""));
        assert_eq!(parse(&serde_json::from_str(&out).unwrap()).unwrap(), m);
        assert_eq!(
            m.to_json_pretty(),
            parse(&serde_json::from_str(&out).unwrap())
                .unwrap()
                .to_json_pretty()
        );
    }

    #[test]
    fn validate_checks_manifests_built_in_code() {
        let mut m = ImageManifest::new(AcIdentifier::new("example.com/x").unwrap());
        let mut app = App::new(vec!["/bin/x".into()], "0", "0");
        assert!(m.validate().is_ok());
        app.working_directory = Some("relative".into());
        app.isolators.push(
            crate::isolator::Isolator::new(crate::isolator::IsolatorValue::CapabilitiesRetain(
                vec![],
            ))
            .unwrap(),
        );
        m.app = Some(app);
        m.path_whitelist.push("x".into());
        let errs = m.validate().unwrap_err();
        for p in [
            "app.workingDirectory",
            "app.isolators[0].value.set",
            "pathWhitelist[0]",
        ] {
            assert!(errs.has_path(p), "{p}: {errs}");
        }
    }
}

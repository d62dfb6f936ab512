//! Policy of the metadata service: what each request gets (appc §5.2–5.3 plus rkt's extras), as
//! a pure function of the pod's data, the key and the request — unit-tested without sockets.
//!
//! Every path starts with the pod's token (`/TOKEN/acMetadata/v1/...`): the token, not a form
//! field, tells the service which pod is asking, and a wrong token gets 401 before anything else
//! is looked at. Content types are byte-exact (`application/json`,
//! `text/plain; charset=us-ascii`); the UUID and image ID have no trailing newline.
//!
//! Defends against: a pod signing as another pod (the signer's UUID is the token's pod, never a
//! form field), token guessing by timing (constant-time comparison), oversized or malformed
//! forms (the server caps bodies; missing fields are 400).

use super::key::HmacKey;
use super::signer;
use appc::manifest::annotations::Annotations;
use appc::manifest::pod::PodManifest;
use appc::uuid::Uuid;
use subtle::ConstantTimeEq;

/// Where the signing routes get the key (read when needed, so a rotation takes effect).
pub type KeySource<'a> = &'a dyn Fn() -> Result<HmacKey, String>;

/// `application/json`.
pub const JSON: &str = "application/json";
/// `text/plain; charset=us-ascii`.
pub const TEXT: &str = "text/plain; charset=us-ascii";

/// What the service knows of one app.
#[derive(Debug, Clone)]
pub struct AppInfo {
    /// Pod app name.
    pub name: String,
    /// The image manifest as stored.
    pub image_manifest: Vec<u8>,
    /// The image ID as written in the pod manifest.
    pub image_id: String,
    /// Image annotations overridden by the pod's app annotations (§5.3).
    pub annotations: Vec<(String, String)>,
}

/// What the service knows of its pod.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// The pod's UUID.
    pub uuid: Uuid,
    /// The pod's secret token (hex).
    pub token: String,
    /// The reified pod manifest as served.
    pub manifest: Vec<u8>,
    /// The `annotations` value of that manifest (`null` when absent).
    pub annotations: Vec<u8>,
    /// Pod annotations, for `/pod/annotations/NAME`.
    pub annotation_list: Vec<(String, String)>,
    /// The apps.
    pub apps: Vec<AppInfo>,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

fn text(status: u16, body: impl Into<Vec<u8>>) -> Reply {
    Reply {
        status,
        content_type: TEXT,
        body: body.into(),
    }
}

fn json(body: Vec<u8>) -> Reply {
    Reply {
        status: 200,
        content_type: JSON,
        body,
    }
}

/// The image annotations with the pod app's annotations applied: replaced in place when the
/// name exists, appended otherwise.
pub fn merge_annotations(image: &Annotations, pod_app: &Annotations) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = image
        .0
        .iter()
        .map(|a| (a.name.as_str().to_owned(), a.value.clone()))
        .collect();
    for a in &pod_app.0 {
        match out.iter_mut().find(|(n, _)| n == a.name.as_str()) {
            Some(slot) => slot.1 = a.value.clone(),
            None => out.push((a.name.as_str().to_owned(), a.value.clone())),
        }
    }
    out
}

fn annotations_json(list: &[(String, String)]) -> Vec<u8> {
    let items: Vec<serde_json::Value> = list
        .iter()
        .map(|(n, v)| serde_json::json!({ "name": n, "value": v }))
        .collect();
    serde_json::to_vec(&items).unwrap_or_else(|_| b"[]".to_vec())
}

impl PodInfo {
    /// The service's view of a pod. `images[i]` is `(stored manifest bytes, parsed manifest)`
    /// of `pod.apps[i]`.
    pub fn new(
        uuid: Uuid,
        token: String,
        pod: &PodManifest,
        images: &[(Vec<u8>, &appc::manifest::image::ImageManifest)],
    ) -> PodInfo {
        let manifest = pod.to_json_pretty();
        let annotations = serde_json::from_slice::<serde_json::Value>(&manifest)
            .ok()
            .and_then(|v| v.get("annotations").cloned())
            .and_then(|v| serde_json::to_vec(&v).ok())
            .unwrap_or_else(|| b"null".to_vec());
        let apps = pod
            .apps
            .iter()
            .zip(images)
            .map(|(rt, (bytes, image))| AppInfo {
                name: rt.name.as_str().to_owned(),
                image_manifest: bytes.clone(),
                image_id: rt
                    .image
                    .id
                    .as_ref()
                    .map(|i| i.to_string())
                    .unwrap_or_default(),
                annotations: merge_annotations(&image.annotations, &rt.annotations),
            })
            .collect();
        PodInfo {
            uuid,
            token,
            manifest,
            annotations,
            annotation_list: merge_annotations(&pod.annotations, &Annotations::default()),
            apps,
        }
    }

    /// The answer to `method url` with `body` (an `application/x-www-form-urlencoded` form for
    /// the POST routes). `key` is called only by the signing routes.
    pub fn answer(&self, key: KeySource<'_>, method: &str, url: &str, body: &[u8]) -> Reply {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let token = parts.next().unwrap_or_default();
        if !bool::from(token.as_bytes().ct_eq(self.token.as_bytes())) {
            return text(401, "unknown pod token\n");
        }
        let Some(route) = parts.next().and_then(|r| r.strip_prefix("acMetadata/v1/")) else {
            return text(404, "not a metadata path\n");
        };
        let route: Vec<&str> = route.trim_end_matches('/').split('/').collect();
        match (method, route.as_slice()) {
            ("GET", ["pod", "manifest"]) => json(self.manifest.clone()),
            ("GET", ["pod", "uuid"]) => text(200, self.uuid.to_string()),
            ("GET", ["pod", "annotations"]) => json(self.annotations.clone()),
            ("GET", ["pod", "annotations", name]) => value_of(&self.annotation_list, name),
            ("GET", ["apps", app, rest @ ..]) => match self.apps.iter().find(|a| a.name == *app) {
                None => text(404, format!("no app {app:?} in this pod\n")),
                Some(a) => app_route(a, rest),
            },
            ("POST", ["pod", "hmac", "sign"]) => match key() {
                Ok(k) => self.sign(&k, body),
                Err(e) => text(500, format!("{e}\n")),
            },
            ("POST", ["pod", "hmac", "verify"]) => match key() {
                Ok(k) => verify(&k, body),
                Err(e) => text(500, format!("{e}\n")),
            },
            (_, ["pod", "manifest" | "uuid" | "annotations", ..] | ["apps", ..])
            | (_, ["pod", "hmac", "sign" | "verify"]) => text(405, "method not allowed\n"),
            _ => text(404, "no such metadata path\n"),
        }
    }

    fn sign(&self, key: &HmacKey, body: &[u8]) -> Reply {
        match field(body, "content") {
            Some(content) if !content.is_empty() => {
                text(200, signer::sign(key, &self.uuid, content.as_bytes()))
            }
            _ => text(400, "form field content is missing or empty\n"),
        }
    }
}

fn app_route(app: &AppInfo, rest: &[&str]) -> Reply {
    match rest {
        ["image", "manifest"] => json(app.image_manifest.clone()),
        ["image", "id"] => text(200, app.image_id.clone()),
        ["annotations"] => json(annotations_json(&app.annotations)),
        ["annotations", name] => value_of(&app.annotations, name),
        _ => text(404, "no such metadata path\n"),
    }
}

fn value_of(list: &[(String, String)], name: &str) -> Reply {
    match list.iter().find(|(n, _)| n == name) {
        Some((_, v)) => text(200, v.clone()),
        None => text(404, format!("no annotation {name:?}\n")),
    }
}

fn verify(key: &HmacKey, body: &[u8]) -> Reply {
    let (Some(content), Some(uuid), Some(signature)) = (
        field(body, "content"),
        field(body, "uuid"),
        field(body, "signature"),
    ) else {
        return text(
            400,
            "form fields content, uuid and signature are required\n",
        );
    };
    let Ok(uuid) = uuid.parse::<Uuid>() else {
        return text(400, "uuid is not a UUID\n");
    };
    if signer::verify(key, &uuid, content.as_bytes(), &signature) {
        text(200, "")
    } else {
        text(403, "signature does not match\n")
    }
}

/// The first value of `name` in a urlencoded form.
fn field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::key::KEY_LEN;

    const POD: &str = r#"{"acKind":"PodManifest","acVersion":"0.8.11",
        "apps":[{"name":"web","image":{"id":"sha512-IMAGEID"},
                 "annotations":[{"name":"b","value":"pod"},{"name":"c","value":"new"}]}],
        "annotations":[{"name":"team","value":"blue"}]}"#;
    const IMAGE: &str = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/web",
        "annotations":[{"name":"a","value":"1"},{"name":"b","value":"image"}]}"#;

    fn id() -> String {
        format!("sha512-{}", "a".repeat(128))
    }

    fn info() -> PodInfo {
        let pod = PodManifest::from_json(POD.replace("sha512-IMAGEID", &id()).as_bytes()).unwrap();
        let image = appc::manifest::image::ImageManifest::from_json(IMAGE.as_bytes()).unwrap();
        PodInfo::new(
            "6733c9a7-dc5b-4cfd-b3d8-1d4d0d5e3a11".parse().unwrap(),
            "t0k3n".into(),
            &pod,
            &[(IMAGE.as_bytes().to_vec(), &image)],
        )
    }

    fn get(i: &PodInfo, path: &str) -> Reply {
        i.answer(&|| Ok(HmacKey([1; KEY_LEN])), "GET", path, b"")
    }

    #[test]
    fn text_routes_are_exact() {
        let i = info();
        let r = get(&i, "/t0k3n/acMetadata/v1/pod/uuid");
        assert_eq!((r.status, r.content_type), (200, TEXT));
        assert_eq!(r.body, b"6733c9a7-dc5b-4cfd-b3d8-1d4d0d5e3a11");
        let r = get(&i, "/t0k3n/acMetadata/v1/apps/web/image/id");
        assert_eq!(r.body, id().as_bytes());
        let r = get(&i, "/t0k3n/acMetadata/v1/pod/annotations/team");
        assert_eq!(r.body, b"blue");
    }

    #[test]
    fn json_routes_serve_the_manifests_and_merged_annotations() {
        let i = info();
        let r = get(&i, "/t0k3n/acMetadata/v1/pod/manifest");
        assert_eq!(r.content_type, JSON);
        assert!(PodManifest::from_json(&r.body).is_ok());
        let r = get(&i, "/t0k3n/acMetadata/v1/pod/annotations");
        assert_eq!(r.body, br#"[{"name":"team","value":"blue"}]"#);
        let r = get(&i, "/t0k3n/acMetadata/v1/apps/web/annotations");
        assert_eq!(
            r.body,
            br#"[{"name":"a","value":"1"},{"name":"b","value":"pod"},{"name":"c","value":"new"}]"#
        );
        let r = get(&i, "/t0k3n/acMetadata/v1/apps/web/image/manifest");
        assert_eq!(r.body, IMAGE.as_bytes());
    }

    #[test]
    fn wrong_token_unknown_app_and_path_are_refused() {
        let i = info();
        assert_eq!(get(&i, "/t0k3n/acMetadata/v1/pod/uuid").status, 200);
        assert_eq!(get(&i, "/t0k3m/acMetadata/v1/pod/uuid").status, 401);
        assert_eq!(get(&i, "/acMetadata/v1/pod/uuid").status, 401);
        assert_eq!(get(&i, "/t0k3n/acMetadata/v1/apps/db/image/id").status, 404);
        assert_eq!(get(&i, "/t0k3n/acMetadata/v1/pod/nothing").status, 404);
        assert_eq!(
            i.answer(
                &|| Ok(HmacKey([1; KEY_LEN])),
                "DELETE",
                "/t0k3n/acMetadata/v1/pod/uuid",
                b""
            )
            .status,
            405
        );
    }

    #[test]
    fn sign_then_verify_with_forms() {
        let i = info();
        let key = || Ok(HmacKey([1; KEY_LEN]));
        let post = |path: &str, body: &str| {
            i.answer(
                &key,
                "POST",
                &format!("/t0k3n/acMetadata/v1{path}"),
                body.as_bytes(),
            )
        };
        let sig = post("/pod/hmac/sign", "content=Old+MacDonald");
        assert_eq!((sig.status, sig.content_type), (200, TEXT));
        let sig = String::from_utf8(sig.body).unwrap();
        let form = |content: &str, uuid: &str| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("content", content)
                .append_pair("uuid", uuid)
                .append_pair("signature", &sig)
                .finish()
        };
        let me = "6733c9a7-dc5b-4cfd-b3d8-1d4d0d5e3a11";
        assert_eq!(
            post("/pod/hmac/verify", &form("Old MacDonald", me)).status,
            200
        );
        assert_eq!(
            post("/pod/hmac/verify", &form("Old McDonald", me)).status,
            403
        );
        let other = "0d9b5e6c-1a2b-4c3d-8e4f-5a6b7c8d9e0f";
        assert_eq!(
            post("/pod/hmac/verify", &form("Old MacDonald", other)).status,
            403
        );
        assert_eq!(
            post("/pod/hmac/verify", &form("Old MacDonald", "x")).status,
            400
        );
        assert_eq!(post("/pod/hmac/verify", "content=a").status, 400);
        assert_eq!(post("/pod/hmac/sign", "content=").status, 400);
        assert_eq!(post("/pod/hmac/sign", "").status, 400);
    }
}

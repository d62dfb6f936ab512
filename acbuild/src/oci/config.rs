//! The image manifest as OCI metadata: the image config (`Entrypoint`, `Env`, `User`,
//! `WorkingDir`, `ExposedPorts`, `Volumes`, `Labels`, os/architecture, the layer's diff ID),
//! the manifest annotations (`org.opencontainers.image.*` for the well-known appc annotations),
//! the platform and the reference name (the `version` label). What the OCI config cannot say
//! (isolators, event handlers, supplementary groups, read-only mount points, socket
//! activation, port names, dependencies, path whitelists) is listed as warnings, never dropped
//! silently.
//!
//! Everything here is a pure function of the manifest, the ACI's entry list and the layer, so
//! the same ACI always gives the same config bytes. An `app.user`/`app.group` given as a path
//! (appc: "the owner of this file") is resolved against the image's own entries, never the host.

use std::collections::BTreeMap;

use appc::aci::EntryInfo;
use appc::manifest::ImageManifest;
use serde::Serialize;

use super::layer::Layer;

/// The `PATH` an appc executor gives an app that sets none (checklist §6).
const APPC_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A manifest field that cannot be mapped: (JSON path, reason).
pub type Unmappable = (String, String);

/// The OCI view of an image manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The image config JSON (compact, fields in a fixed order).
    pub config: Vec<u8>,
    /// Annotations of the OCI image manifest.
    pub annotations: BTreeMap<String, String>,
    /// Where the image runs.
    pub platform: Platform,
    /// `org.opencontainers.image.ref.name`: the `version` label, else `latest`.
    pub ref_name: String,
    /// One sentence per field with no OCI equivalent.
    pub warnings: Vec<String>,
}

/// An OCI platform (GOOS/GOARCH names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform {
    /// GOARCH name (`amd64`, `arm64`, `386`).
    pub architecture: String,
    /// GOOS name.
    pub os: String,
    /// `v6`, `v7`, `v8` for ARM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Serialize)]
struct ImageConfig<'a> {
    created: &'a str,
    architecture: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    os: &'a str,
    config: RunConfig,
    rootfs: RootFs<'a>,
    history: [History<'a>; 1],
}

type Set = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RunConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    exposed_ports: Set,
    env: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: Set,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct RootFs<'a> {
    r#type: &'static str,
    diff_ids: [&'a str; 1],
}

#[derive(Serialize)]
struct History<'a> {
    created: &'a str,
    created_by: &'static str,
    comment: String,
}

/// Map `manifest` (whose archive entries are `entries`, whose layer is `layer`).
pub fn map(
    manifest: &ImageManifest,
    entries: &[EntryInfo],
    layer: &Layer,
) -> Result<Mapped, Unmappable> {
    let platform = platform(manifest)?;
    let mut warnings = Vec::new();
    let created = manifest
        .annotations
        .get("created")
        .map_or_else(|| rfc3339(layer.mtime), str::to_owned);
    let mut run = match &manifest.app {
        Some(app) => run_config(app, entries, &mut warnings)?,
        None => RunConfig::default(),
    };
    if !run.env.iter().any(|e| e.starts_with("PATH=")) {
        run.env.insert(0, format!("PATH={APPC_PATH}"));
    }
    for label in manifest.labels.iter() {
        if !matches!(label.name.as_str(), "os" | "arch") {
            run.labels
                .insert(label.name.as_str().to_owned(), label.value.clone());
        }
    }
    if !manifest.dependencies.is_empty() {
        let names: Vec<&str> = manifest
            .dependencies
            .iter()
            .map(|d| d.image_name.as_str())
            .collect();
        warnings.push(format!(
            "dependencies ({}): not included; the OCI image holds only this image's own rootfs",
            names.join(", ")
        ));
    }
    if !manifest.path_whitelist.is_empty() {
        warnings.push("pathWhitelist: no OCI equivalent; the whole rootfs is kept".into());
    }
    let config = ImageConfig {
        created: &created,
        architecture: &platform.architecture,
        variant: platform.variant.as_deref(),
        os: &platform.os,
        config: run,
        rootfs: RootFs {
            r#type: "layers",
            diff_ids: [&layer.diff_id],
        },
        history: [History {
            created: &created,
            created_by: "acbuild",
            comment: format!("from the ACI {} {}", manifest.name.as_str(), layer.image_id),
        }],
    };
    let config = serde_json::to_vec(&config)
        .map_err(|e| ("(config)".to_owned(), format!("serialising: {e}")))?;
    Ok(Mapped {
        config,
        annotations: annotations(manifest, &created),
        platform,
        ref_name: manifest
            .labels
            .get("version")
            .unwrap_or("latest")
            .to_owned(),
        warnings,
    })
}

fn run_config(
    app: &appc::manifest::App,
    entries: &[EntryInfo],
    warnings: &mut Vec<String>,
) -> Result<RunConfig, Unmappable> {
    let user = owner(&app.user, "app.user", entries, |e| e.uid)?;
    let group = owner(&app.group, "app.group", entries, |e| e.gid)?;
    let mut run = RunConfig {
        user: Some(format!("{user}:{group}")),
        env: app
            .environment
            .iter()
            .map(|e| format!("{}={}", e.name, e.value))
            .collect(),
        entrypoint: app.exec.clone(),
        working_dir: app.working_directory.clone(),
        labels: app.user_labels.clone(),
        ..RunConfig::default()
    };
    run.exposed_ports = exposed_ports(&app.ports, warnings);
    for mount in &app.mount_points {
        run.volumes.insert(mount.path.clone(), BTreeMap::new());
        if mount.read_only {
            warnings.push(format!(
                "app.mountPoints[{}].readOnly: an OCI volume cannot be read-only; mount it read-only where the container runs",
                mount.name.as_str()
            ));
        }
    }
    for isolator in &app.isolators {
        warnings.push(format!(
            "app.isolators: {} {} has no OCI image equivalent; set it where the container runs (Kubernetes resources or securityContext, podman run options)",
            isolator.name().as_str(),
            isolator.value().to_json()
        ));
    }
    if !app.event_handlers.is_empty() {
        let names: Vec<&str> = app.event_handlers.iter().map(|h| h.name.as_str()).collect();
        warnings.push(format!(
            "app.eventHandlers ({}): no OCI equivalent; not run",
            names.join(", ")
        ));
    }
    if !app.supplementary_gids.is_empty() {
        warnings.push(
            "app.supplementaryGIDs: no OCI image equivalent; set them where the container runs"
                .into(),
        );
    }
    if !app.user_annotations.is_empty() {
        warnings.push("app.userAnnotations: kept as image labels".into());
        for (k, v) in &app.user_annotations {
            run.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(run)
}

/// `ExposedPorts` (`2379/tcp`, a `count` expanded to its range); warns about what is lost.
fn exposed_ports(ports: &[appc::manifest::Port], warnings: &mut Vec<String>) -> Set {
    let mut exposed = Set::new();
    for port in ports {
        let protocol = port.protocol.to_ascii_lowercase();
        if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
            warnings.push(format!(
                "app.ports[{}]: protocol {:?} cannot be exposed in OCI (tcp, udp, sctp); left out",
                port.name.as_str(),
                port.protocol
            ));
            continue;
        }
        for n in 0..port.count.max(1) {
            let Some(number) = port.port.checked_add(n) else {
                break;
            };
            exposed.insert(format!("{number}/{protocol}"), BTreeMap::new());
        }
        if port.socket_activated {
            warnings.push(format!(
                "app.ports[{}].socketActivated: no OCI equivalent; the app must listen itself",
                port.name.as_str()
            ));
        }
    }
    if !ports.is_empty() {
        let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
        warnings.push(format!(
            "app.ports: names ({}) are not kept; name the ports where the container runs",
            names.join(", ")
        ));
    }
    exposed
}

/// The OCI form of an appc user or group: names and numbers as they are, a path as the numeric
/// owner of that entry of the image.
fn owner(
    value: &str,
    field: &str,
    entries: &[EntryInfo],
    id: impl Fn(&EntryInfo) -> u64,
) -> Result<String, Unmappable> {
    if value.contains(':') {
        return Err((field.into(), format!("{value:?} contains `:`")));
    }
    if !value.starts_with('/') {
        return Ok(value.to_owned());
    }
    let inside: Vec<&str> = value.split('/').filter(|c| !c.is_empty()).collect();
    let wanted = format!("rootfs/{}", inside.join("/"));
    entries
        .iter()
        .find(|e| e.path == wanted)
        .map(|e| id(e).to_string())
        .ok_or_else(|| {
            (
                field.into(),
                format!("{value:?} names no file of the image, so it has no owner to run as"),
            )
        })
}

fn annotations(manifest: &ImageManifest, created: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for a in &manifest.annotations.0 {
        let key = match a.name.as_str() {
            "created" => "org.opencontainers.image.created",
            "authors" => "org.opencontainers.image.authors",
            "homepage" => "org.opencontainers.image.url",
            "documentation" => "org.opencontainers.image.documentation",
            "description" => "org.opencontainers.image.description",
            other => other,
        };
        out.insert(key.to_owned(), a.value.clone());
    }
    out.insert(
        "org.opencontainers.image.title".into(),
        manifest.name.as_str().to_owned(),
    );
    out.insert(
        "org.opencontainers.image.created".into(),
        created.to_owned(),
    );
    if let Some(v) = manifest.labels.get("version") {
        out.insert("org.opencontainers.image.version".into(), v.to_owned());
    }
    out
}

fn platform(manifest: &ImageManifest) -> Result<Platform, Unmappable> {
    let missing = |label: &str| {
        (
            format!("labels.{label}"),
            format!("missing; an OCI image needs an {label} (add the `{label}` label)"),
        )
    };
    let os = manifest.labels.get("os").ok_or_else(|| missing("os"))?;
    let arch = manifest.labels.get("arch").ok_or_else(|| missing("arch"))?;
    let (architecture, variant) = match arch {
        "amd64" | "x86_64" => ("amd64", None),
        "i386" => ("386", None),
        "aarch64" => ("arm64", Some("v8")),
        "aarch64_be" => ("arm64be", Some("v8")),
        "armv6l" => ("arm", Some("v6")),
        "armv7l" => ("arm", Some("v7")),
        "armv7b" => ("armbe", Some("v7")),
        other => (other, None),
    };
    Ok(Platform {
        architecture: architecture.to_owned(),
        os: os.to_owned(),
        variant: variant.map(str::to_owned),
    })
}

/// `secs` after the epoch as an RFC 3339 UTC date-time (`2000-01-01T00:00:00Z`).
pub fn rfc3339(secs: u64) -> String {
    appc::utc::rfc3339(appc::utc::secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use appc::aci::EntryType;

    fn manifest(json: &str) -> ImageManifest {
        ImageManifest::from_json(json.as_bytes()).unwrap()
    }

    fn layer() -> Layer {
        Layer {
            file: tempfile::tempfile().unwrap(),
            digest: "sha256:aa".into(),
            size: 1,
            diff_id: "sha256:bb".into(),
            image_id: appc::image_id::ImageId::from_digest([7; 64]),
            mtime: 946_684_800,
            entries: 0,
        }
    }

    fn file(path: &str, uid: u64, gid: u64) -> EntryInfo {
        EntryInfo {
            path: path.into(),
            kind: EntryType::File,
            mode: 0o644,
            uid,
            gid,
            mtime: 0,
            size: 0,
            link: None,
            device: None,
        }
    }

    const ETCD: &str = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"coreos.com/etcd",
      "labels":[{"name":"version","value":"3.4.23"},{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}],
      "annotations":[{"name":"homepage","value":"https://etcd.io"}],
      "app":{"exec":["/usr/bin/etcd","--data-dir=/var/lib/etcd"],"user":"etcd","group":"etcd",
        "workingDirectory":"/var/lib/etcd","environment":[{"name":"ETCD_NAME","value":"default"}],
        "ports":[{"name":"client","protocol":"tcp","port":2379},{"name":"peer","protocol":"tcp","port":2380}],
        "mountPoints":[{"name":"data","path":"/var/lib/etcd"}],
        "isolators":[{"name":"resource/memory","value":{"limit":"1G"}}]}}"#;

    fn config_of(m: &Mapped) -> serde_json::Value {
        serde_json::from_slice(&m.config).unwrap()
    }

    #[test]
    fn maps_the_app_to_the_oci_config() {
        let m = map(&manifest(ETCD), &[], &layer()).unwrap();
        let c = config_of(&m);
        assert_eq!(c["os"], "linux");
        assert_eq!(c["architecture"], "amd64");
        assert_eq!(c["created"], "2000-01-01T00:00:00Z");
        assert_eq!(c["rootfs"]["diff_ids"][0], "sha256:bb");
        let run = &c["config"];
        assert_eq!(run["Entrypoint"][0], "/usr/bin/etcd");
        assert_eq!(run["Entrypoint"][1], "--data-dir=/var/lib/etcd");
        assert_eq!(run["User"], "etcd:etcd");
        assert_eq!(run["WorkingDir"], "/var/lib/etcd");
        assert_eq!(run["Env"][0], format!("PATH={APPC_PATH}"));
        assert_eq!(run["Env"][1], "ETCD_NAME=default");
        assert!(run["ExposedPorts"]["2379/tcp"].is_object());
        assert!(run["ExposedPorts"]["2380/tcp"].is_object());
        assert!(run["Volumes"]["/var/lib/etcd"].is_object());
        assert_eq!(run["Labels"]["version"], "3.4.23");
        assert!(run["Labels"].get("os").is_none());
        assert_eq!(m.ref_name, "3.4.23");
        assert_eq!(
            m.annotations["org.opencontainers.image.url"],
            "https://etcd.io"
        );
        assert_eq!(m.annotations["org.opencontainers.image.version"], "3.4.23");
        assert_eq!(
            m.annotations["org.opencontainers.image.title"],
            "coreos.com/etcd"
        );
    }

    #[test]
    fn warns_about_each_field_without_an_oci_equivalent() {
        let m = map(&manifest(ETCD), &[], &layer()).unwrap();
        let all = m.warnings.join("\n");
        assert!(all.contains("resource/memory"), "{all}");
        assert!(all.contains("client, peer"), "{all}");
        assert_eq!(m.warnings.len(), 2, "{all}");
    }

    #[test]
    fn warns_about_handlers_groups_read_only_mounts_and_socket_activation() {
        let json = ETCD
            .replace(
                r#""mountPoints":[{"name":"data","path":"/var/lib/etcd"}]"#,
                r#""mountPoints":[{"name":"data","path":"/var/lib/etcd","readOnly":true}],
                "eventHandlers":[{"name":"pre-start","exec":["/bin/true"]}],
                "supplementaryGIDs":[7]"#,
            )
            .replace(r#""port":2380}"#, r#""port":2380,"socketActivated":true}"#);
        let m = map(&manifest(&json), &[], &layer()).unwrap();
        let all = m.warnings.join("\n");
        for field in [
            "app.eventHandlers (pre-start)",
            "app.supplementaryGIDs",
            "app.mountPoints[data].readOnly",
            "app.ports[peer].socketActivated",
        ] {
            assert!(all.contains(field), "{field} missing from:\n{all}");
        }
        // Positive control: the plain manifest warns about none of these.
        let plain = map(&manifest(ETCD), &[], &layer())
            .unwrap()
            .warnings
            .join("\n");
        assert!(
            !plain.contains("eventHandlers") && !plain.contains("readOnly"),
            "{plain}"
        );
    }

    #[test]
    fn a_user_given_as_a_path_becomes_the_owner_of_that_entry() {
        let json = ETCD.replace(r#""user":"etcd""#, r#""user":"/usr/bin/etcd""#);
        let entries = [file("rootfs/usr/bin/etcd", 1000, 1001)];
        let m = map(&manifest(&json), &entries, &layer()).unwrap();
        assert_eq!(config_of(&m)["config"]["User"], "1000:etcd");
        let (field, reason) = map(&manifest(&json), &[], &layer()).unwrap_err();
        assert_eq!(field, "app.user");
        assert!(reason.contains("/usr/bin/etcd"), "{reason}");
    }

    #[test]
    fn refuses_an_image_without_os_and_maps_one_with_it() {
        let json = ETCD.replace(r#"{"name":"os","value":"linux"},"#, "");
        let (field, _) = map(&manifest(&json), &[], &layer()).unwrap_err();
        assert_eq!(field, "labels.os");
        let arm = ETCD.replace(r#""value":"amd64""#, r#""value":"armv7l""#);
        let m = map(&manifest(&arm), &[], &layer()).unwrap();
        assert_eq!(m.platform.architecture, "arm");
        assert_eq!(m.platform.variant.as_deref(), Some("v7"));
    }

    #[test]
    fn the_version_label_is_the_reference_else_latest() {
        let json = ETCD.replace(r#"{"name":"version","value":"3.4.23"},"#, "");
        assert_eq!(
            map(&manifest(&json), &[], &layer()).unwrap().ref_name,
            "latest"
        );
    }

    #[test]
    fn formats_rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }
}

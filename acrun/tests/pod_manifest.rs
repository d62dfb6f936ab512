//! End-to-end tests of `acrun run --pod-manifest FILE`: a two-app pod described only by an appc
//! pod manifest — images by name and labels and by ID, app overrides, an empty volume shared by
//! both apps, a read-only host volume, app and pod isolators, annotations and ports — and the
//! refusals (an invalid manifest, an ID whose image has another name, IMAGE arguments beside the
//! file), each beside the same manifest allowed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use std::process::Output;
use support::World;
use support::busybox::{acrun, explain, free_port, image};

/// Fetches the busybox images `example.com/web` and `example.com/tool`; returns web's ID.
fn stored_images(w: &World) -> String {
    let app = r#"{"exec":["/bin/true"],"user":"0","group":"0"}"#;
    let mut ids = Vec::new();
    for name in ["web", "tool"] {
        let aci = image(w, name, app, &[]);
        let o = acrun(
            w,
            &["fetch", "--insecure-options=image", aci.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
        ids.push(String::from_utf8(o.stdout).unwrap().trim().to_owned());
    }
    ids.remove(0)
}

fn sh_app(script: &str) -> Value {
    json!({"exec": ["/bin/sh", "-c", script], "user": "0", "group": "0"})
}

/// The two-app pod: `writer` (by name and labels) fills the shared empty volume, `reader` (by
/// ID, without CAP_CHOWN) reads it and the read-only host volume.
fn two_app_pod(w: &World, web_id: &str) -> Value {
    let host = w.path("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from-host\n").unwrap();
    let mut writer = sh_app("echo $GREETING > /shared/f && chown 65534 /shared/f && echo written");
    writer["environment"] = json!([{"name": "GREETING", "value": "hello"}]);
    let mut reader = sh_app(
        "while ! test -e /shared/f; do sleep 0.05; done; sleep 0.1; cat /shared/f /host/in; \
         chown 0 /shared/f 2>/dev/null || echo chown-refused; echo x > /host/out || echo host-read-only",
    );
    reader["isolators"] = json!([{"name": "os/linux/capabilities-remove-set",
                                  "value": {"set": ["CAP_CHOWN"]}}]);
    reader["ports"] = json!([{"name": "echo", "protocol": "tcp", "port": 7}]);
    json!({
        "acKind": "PodManifest",
        "acVersion": "0.8.11",
        "apps": [
            {"name": "writer",
             "image": {"name": "example.com/tool", "labels": [{"name": "version", "value": "1.0"}]},
             "app": writer,
             "mounts": [{"volume": "shared", "path": "/shared"}]},
            {"name": "reader",
             "image": {"id": web_id},
             "app": reader,
             "mounts": [{"volume": "shared", "path": "/shared"}, {"volume": "host", "path": "/host"}],
             "annotations": [{"name": "example.com/role", "value": "reader"}]}
        ],
        "volumes": [
            {"name": "shared", "kind": "empty"},
            {"name": "host", "kind": "host", "source": host.to_str().unwrap(), "readOnly": true}
        ],
        "annotations": [{"name": "example.com/owner", "value": "pod-test"}],
        "ports": [{"name": "echo", "hostPort": free_port(), "hostIP": "127.0.0.1"}]
    })
}

fn run_manifest(w: &World, manifest: &Value, extra: &[&str]) -> Output {
    let file = w.path("pod.json");
    std::fs::write(&file, serde_json::to_vec_pretty(manifest).unwrap()).unwrap();
    let uuid_file = w.path("uuid");
    let mut args = vec![
        "run",
        "--insecure-options=image",
        "--uuid-file-save",
        uuid_file.to_str().unwrap(),
        "--output-prefix=always",
        "--pod-manifest",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    acrun(w, &args)
}

#[test]
fn a_pod_manifest_runs_its_apps_volumes_isolators_and_ports() {
    let w = World::new();
    let web_id = stored_images(&w);
    let o = run_manifest(&w, &two_app_pod(&w, &web_id), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for line in [
        "[writer] written",
        "[reader] hello",
        "[reader] from-host",
        "[reader] chown-refused",
        "[reader] host-read-only",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "{line} missing: {}",
            explain(&o)
        );
    }
    assert!(!w.path("host/out").exists());
    // The pod record is the reified manifest: IDs and names filled in, the rest kept.
    let uuid = std::fs::read_to_string(w.path("uuid")).unwrap();
    let pod = w.path("state/pods").join(uuid.trim()).join("pod.json");
    let pod: Value = serde_json::from_slice(&std::fs::read(pod).unwrap()).unwrap();
    assert_eq!(pod["apps"][0]["image"]["name"], "example.com/tool");
    assert!(
        pod["apps"][0]["image"]["id"]
            .as_str()
            .unwrap()
            .starts_with("sha512-")
    );
    assert_eq!(pod["apps"][1]["image"]["name"], "example.com/web");
    assert_eq!(pod["apps"][1]["annotations"][0]["value"], "reader");
    assert_eq!(pod["annotations"][0]["value"], "pod-test");
    assert_eq!(pod["ports"][0]["hostIP"], "127.0.0.1");
}

#[test]
fn a_pod_level_memory_isolator_bounds_the_apps() {
    let w = World::new();
    let web_id = stored_images(&w);
    let alloc = "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null && echo allocated";
    let pod = |isolators: Value| {
        json!({"acKind": "PodManifest", "acVersion": "0.8.11",
               "apps": [{"name": "a", "image": {"id": web_id}, "app": sh_app(alloc)}],
               "isolators": isolators})
    };
    let o = run_manifest(&w, &pod(json!([])), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "allocated\n");
    let limit = json!([{"name": "resource/memory", "value": {"limit": "32Mi"}}]);
    let o = run_manifest(&w, &pod(limit), &[]);
    assert_eq!(o.status.code(), Some(137), "{}", explain(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "");
}

#[test]
fn manifest_refusals_and_their_controls() {
    let w = World::new();
    let web_id = stored_images(&w);
    let one_app = |image: Value, mounts: Value, volumes: Value| {
        json!({"acKind": "PodManifest", "acVersion": "0.8.11",
               "apps": [{"name": "a", "image": image, "app": sh_app("echo ran"), "mounts": mounts}],
               "volumes": volumes})
    };
    let by_id = json!({"id": web_id});
    let mount = json!([{"volume": "data", "path": "/data"}]);
    let data = json!([{"name": "data", "kind": "empty"}]);
    let cases: [(Value, &[&str], i32, &str); 6] = [
        // A mount of a volume the pod does not declare: appc's decoder names the JSON path.
        (
            one_app(by_id.clone(), mount.clone(), json!([])),
            &[],
            2,
            "apps[0].mounts[0].volume",
        ),
        (
            one_app(by_id.clone(), mount.clone(), data.clone()),
            &[],
            0,
            "ran",
        ),
        // The ID's image is example.com/web, not example.com/tool.
        (
            one_app(
                json!({"id": web_id, "name": "example.com/tool"}),
                json!([]),
                json!([]),
            ),
            &[],
            2,
            "is named example.com/web, not example.com/tool",
        ),
        (
            one_app(
                json!({"id": web_id, "name": "example.com/web"}),
                json!([]),
                json!([]),
            ),
            &[],
            0,
            "ran",
        ),
        // IMAGE arguments and the file exclude each other (clap's usage error).
        (
            one_app(by_id.clone(), json!([]), json!([])),
            &["example.com/web"],
            2,
            "cannot be used with",
        ),
        (one_app(by_id.clone(), json!([]), json!([])), &[], 0, "ran"),
    ];
    for (manifest, extra, code, text) in cases {
        let o = run_manifest(&w, &manifest, extra);
        assert_eq!(o.status.code(), Some(code), "{manifest}: {}", explain(&o));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(all.contains(text), "{text:?} missing: {}", explain(&o));
    }
}

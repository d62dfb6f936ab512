//! Property tests: hostile bytes and mutated manifests never panic the parsers, anything they
//! accept passes `validate`, and accepted manifests round-trip through `to_json_pretty`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use appc::manifest::{ImageManifest, Kind, PodManifest};
use proptest::prelude::*;
use serde_json::{Value, json};

const ID: &str = "sha512-8d3fffddf79e9a232ffd19f9ccaa4d6b37a6a243dbe0f23137b108a043d9da13121a9b505c804956b22e93c7f93969f4a7ba8ddea45bf4aab0bebc8f814e0990";

fn image_seed() -> Value {
    json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/app",
        "labels": [{"name": "os", "value": "linux"}, {"name": "arch", "value": "amd64"}, {"name": "version", "value": "1"}],
        "app": {
            "exec": ["/bin/app"], "user": "0", "group": "0", "supplementaryGIDs": [1],
            "workingDirectory": "/", "environment": [{"name": "A", "value": "b"}],
            "eventHandlers": [{"name": "pre-start", "exec": ["/bin/pre"]}],
            "mountPoints": [{"name": "data", "path": "/data", "readOnly": true}],
            "ports": [{"name": "http", "protocol": "tcp", "port": 80, "count": 1}],
            "isolators": [
                {"name": "resource/cpu", "value": {"request": "250m", "limit": "1"}},
                {"name": "resource/memory", "value": {"limit": "1G"}},
                {"name": "resource/block-bandwidth", "value": {"default": true, "limit": "10M"}},
                {"name": "os/linux/capabilities-retain-set", "value": {"set": ["CAP_KILL"]}},
                {"name": "os/linux/no-new-privileges", "value": true},
                {"name": "os/linux/seccomp-remove-set", "value": {"set": ["reboot"], "errno": "EPERM"}},
                {"name": "os/linux/selinux-context", "value": {"user": "u", "role": "r", "type": "t", "level": "s0"}},
                {"name": "os/linux/oom-score-adj", "value": 10},
                {"name": "os/linux/cpu-shares", "value": 512},
                {"name": "example.com/custom", "value": {"x": [1, 2]}}
            ],
            "userAnnotations": {"a": "b"}
        },
        "annotations": [{"name": "created", "value": "2014-10-27T19:32:27Z"}, {"name": "homepage", "value": "https://e.com"}],
        "dependencies": [{"imageName": "example.com/base", "imageID": ID, "size": 5}],
        "pathWhitelist": ["/bin/app"]
    })
}

fn pod_seed() -> Value {
    json!({
        "acKind": "PodManifest", "acVersion": "0.8.11",
        "apps": [{"name": "web", "image": {"name": "example.com/web", "id": ID},
                  "app": {"exec": ["/bin/web"], "user": "0", "group": "0"},
                  "mounts": [{"volume": "data", "path": "/data"}]}],
        "volumes": [{"name": "data", "kind": "host", "source": "/srv"}, {"name": "e", "kind": "empty", "mode": "0755"}],
        "isolators": [{"name": "os/unix/sysctl", "value": {"net.core.somaxconn": "1024"}}],
        "annotations": [{"name": "a", "value": "b"}],
        "ports": [{"name": "http", "hostPort": 8080}]
    })
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(-1i64),
            Just(0),
            Just(1),
            Just(65535),
            Just(65536),
            any::<i64>()
        ]
        .prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            "[a-zA-Z0-9/._~ :-]{0,12}",
            Just("/abs/path".to_owned()),
            Just("..".to_owned()),
            Just(ID.to_owned()),
            Just("linux".to_owned()),
            Just("1G".to_owned()),
            Just("-1".to_owned()),
            Just("CAP_KILL".to_owned()),
            Just("post-stop".to_owned()),
        ]
        .prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
    UpperCaseKey(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::UpperCaseKey),
    ]
}

/// Every JSON pointer in `v` (the root excluded).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{at}/{k}");
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        _ => {}
    }
}

fn apply(mut v: Value, m: &Mutation) -> Value {
    let mut all = Vec::new();
    pointers(&v, String::new(), &mut all);
    if all.is_empty() {
        return v;
    }
    let pick = |i: usize| all[i % all.len()].clone();
    match m {
        Mutation::Replace(i, new) => {
            if let Some(slot) = v.pointer_mut(&pick(*i)) {
                *slot = new.clone();
            }
        }
        Mutation::Remove(i) | Mutation::UpperCaseKey(i) => {
            let p = pick(*i);
            let (parent, key) = p.rsplit_once('/').unwrap();
            match v.pointer_mut(parent) {
                Some(Value::Object(o)) => {
                    if let Some(old) = o.remove(key)
                        && matches!(m, Mutation::UpperCaseKey(_))
                    {
                        o.insert(key.to_uppercase(), old);
                    }
                }
                Some(Value::Array(a)) => {
                    a.remove(key.parse::<usize>().unwrap());
                }
                _ => {}
            }
        }
    }
    v
}

fn check_image(bytes: &[u8]) {
    let _ = Kind::detect(bytes);
    if let Ok(m) = ImageManifest::from_json(bytes) {
        assert_eq!(m.validate(), Ok(()), "accepted manifest fails validate");
        let out = m.to_json_pretty();
        let again =
            ImageManifest::from_json(&out).unwrap_or_else(|e| panic!("re-parse failed: {e}"));
        assert_eq!(again, m);
        assert_eq!(again.to_json_pretty(), out);
    }
}

fn check_pod(bytes: &[u8]) {
    if let Ok(p) = PodManifest::from_json(bytes) {
        assert_eq!(p.validate(), Ok(()), "accepted pod fails validate");
        let out = p.to_json_pretty();
        let again = PodManifest::from_json(&out).unwrap_or_else(|e| panic!("re-parse failed: {e}"));
        assert_eq!(again, p);
        assert_eq!(again.to_json_pretty(), out);
    }
}

#[test]
fn seeds_are_valid_and_round_trip() {
    let image = serde_json::to_vec(&image_seed()).unwrap();
    let pod = serde_json::to_vec(&pod_seed()).unwrap();
    ImageManifest::from_json(&image).unwrap();
    PodManifest::from_json(&pod).unwrap();
    check_image(&image);
    check_pod(&pod);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_image(&bytes);
        check_pod(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        check_image(&bytes);
        check_pod(&bytes);
    }

    #[test]
    fn mutated_image_manifests_never_panic_and_round_trip(ms in prop::collection::vec(mutation(), 1..4)) {
        let v = ms.iter().fold(image_seed(), apply);
        check_image(&serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn mutated_pod_manifests_never_panic_and_round_trip(ms in prop::collection::vec(mutation(), 1..4)) {
        let v = ms.iter().fold(pod_seed(), apply);
        check_pod(&serde_json::to_vec(&v).unwrap());
    }
}

/// Found by the mutation property: opaque isolator values must keep floats bit-exact.
#[test]
fn unknown_isolator_floats_round_trip_exactly() {
    let mut v = image_seed();
    v["app"]["isolators"][9]["value"] = json!({"x": [5.915858609081133e-215, 0.1, 1e300]});
    check_image(&serde_json::to_vec(&v).unwrap());
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Well-formed recipes: what each node becomes in the model.

use std::path::{Path, PathBuf};

use acbuild::recipe::{EntryKind, RuntimeSet, load, parse_str};

#[path = "support/acbuild_cmd.rs"]
mod acbuild_cmd;

fn parse(text: &str) -> acbuild::recipe::Recipe {
    parse_str(text, Path::new("t.kdl"), Path::new("/recipes")).unwrap()
}

#[test]
fn the_etcd_recipe_declares_programs_account_data_dir_and_app() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes/etcd.kdl");
    let recipe = load(&path).unwrap();
    let image = &recipe.image;
    assert_eq!(image.name.value, "coreos.com/etcd");
    assert_eq!(image.version.as_ref().unwrap().value, "3.4.23");
    let paths: Vec<&str> = image
        .entries
        .iter()
        .map(|e| e.path.value.as_str())
        .collect();
    assert_eq!(
        paths,
        ["/usr/bin/etcd", "/usr/bin/etcdctl", "/var/lib/etcd"]
    );
    assert_eq!(image.entries[2].attributes.mode, Some(0o700));
    assert_eq!(image.users[0].name.value, "etcd");
    assert_eq!(image.runtime[0].value, RuntimeSet::Nss);
    let app = image.app.as_ref().unwrap();
    assert_eq!(app.exec[0].value, "/usr/bin/etcd");
    let ports: Vec<u16> = app.ports.iter().map(|p| p.port).collect();
    assert_eq!(ports, [2379, 2380]);
    assert_eq!(app.mount_points[0].path.value, "/var/lib/etcd");
    assert_eq!(image.tests.len(), 2);
}

#[test]
fn every_shipped_recipe_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    names.sort();
    assert!(names.len() >= 3);
    for path in names {
        if let Err(e) = load(&path) {
            panic!("{}: {:?}", path.display(), miette::Report::new(e));
        }
    }
}

#[test]
fn relative_host_paths_resolve_against_the_recipe_directory() {
    let recipe = parse("image \"a\" {\n    tree \"./static\" to=\"/srv\"\n}\n");
    match &recipe.image.entries[0].kind {
        EntryKind::Tree { source } => assert_eq!(source.value, Path::new("/recipes/static")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn load_is_independent_of_the_cwd() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("static")).unwrap();
    let recipe = dir.path().join("r.kdl");
    std::fs::write(
        &recipe,
        "image \"a\" {\n    tree \"static\" to=\"/srv\"\n}\n",
    )
    .unwrap();
    let out = acbuild_cmd::acbuild(["check"])
        .arg(&recipe)
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_host_path_without_to_lands_at_the_same_image_path() {
    let recipe = parse("image \"a\" {\n    file \"/etc/hosts\"\n}\n");
    assert_eq!(recipe.image.entries[0].path.value, "/etc/hosts");
}

#[test]
fn to_places_a_host_file_elsewhere_with_its_attributes() {
    let recipe =
        parse("image \"a\" {\n    file \"/etc/hosts\" to=\"/h\" mode=0o600 uid=7 gid=8\n}\n");
    let e = &recipe.image.entries[0];
    assert_eq!(e.path.value, "/h");
    assert_eq!(
        (e.attributes.mode, e.attributes.uid, e.attributes.gid),
        (Some(0o600), Some(7), Some(8))
    );
}

#[test]
fn user_defaults_group_to_its_name_and_gid_to_its_uid() {
    let recipe = parse("image \"a\" {\n    user \"svc\" uid=42\n}\n");
    let u = &recipe.image.users[0];
    assert_eq!((u.group.as_str(), u.gid, u.home.as_str()), ("svc", 42, "/"));
}

#[test]
fn app_user_and_group_may_be_numbers() {
    let recipe = parse(
        "image \"a\" {\n    app {\n        exec \"/a\"\n        user 1000\n        group \"0\"\n    }\n}\n",
    );
    let app = recipe.image.app.unwrap();
    assert_eq!(app.user.unwrap().value, "1000");
    assert_eq!(app.group.unwrap().value, "0");
}

#[test]
fn isolator_properties_become_fields_and_children_become_lists() {
    let recipe = parse(
        "image \"a\" {\n    app {\n        exec \"/a\"\n        isolator \"resource/cpu\" request=\"250m\" limit=\"500m\"\n        isolator \"os/linux/capabilities-retain-set\" {\n            set \"CAP_NET_BIND_SERVICE\"\n        }\n    }\n}\n",
    );
    let app = recipe.image.app.unwrap();
    assert_eq!(
        app.isolators[0].value,
        serde_json::json!({"request": "250m", "limit": "500m"})
    );
    assert_eq!(
        app.isolators[1].value,
        serde_json::json!({"set": ["CAP_NET_BIND_SERVICE"]})
    );
}

#[test]
fn dependency_properties_other_than_image_id_and_size_are_labels() {
    let recipe = parse(
        "image \"a\" {\n    dependency \"example.com/base\" version=\"1.0\" os=\"linux\" size=10\n}\n",
    );
    let d = &recipe.image.dependencies[0];
    let labels: Vec<(&str, &str)> = d
        .labels
        .iter()
        .map(|kv| (kv.key.value.as_str(), kv.value.value.as_str()))
        .collect();
    assert_eq!(labels, [("version", "1.0"), ("os", "linux")]);
    assert_eq!(d.size, Some(10));
}

//! The image manifest of a recipe: the recipe's manifest nodes as an [`ImageManifest`], validated
//! by `appc`, with every broken spec rule reported at the recipe line that wrote the value.
//!
//! The manifest is assembled as spec JSON while a table maps each JSON path to its recipe span;
//! `ImageManifest::from_json` then applies every rule once (one way to validate), and its errors'
//! JSON paths are mapped back to recipe spans.

use appc::manifest::ImageManifest;
use miette::SourceSpan;
use serde_json::{Map, Value, json};

use crate::recipe::{KeyValue, Recipe, RecipeErrors, Reporter};

/// The appc architecture name of the machine acbuild runs on.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "i386",
        "arm" => "armv7l",
        "powerpc64" => "ppc64",
        other => other,
    }
}

/// Build and validate the manifest of `recipe`. `os` and `arch` labels default to the host's.
pub fn image_manifest(recipe: &Recipe) -> Result<ImageManifest, RecipeErrors> {
    let image = &recipe.image;
    let mut spans: Vec<(String, SourceSpan)> = vec![("name".to_owned(), image.name.span)];
    let mut labels = Vec::new();
    let push_label = |labels: &mut Vec<Value>, spans: &mut Vec<_>, key: &str, value: &str, span| {
        spans.push((format!("labels[{}]", labels.len()), span));
        labels.push(json!({"name": key, "value": value}));
    };
    if let Some(v) = &image.version {
        push_label(&mut labels, &mut spans, "version", &v.value, v.span);
    }
    for kv in &image.labels {
        push_label(
            &mut labels,
            &mut spans,
            &kv.key.value,
            &kv.value.value,
            kv.value.span,
        );
    }
    for (key, default) in [("os", std::env::consts::OS), ("arch", host_arch())] {
        if !image.labels.iter().any(|kv| kv.key.value == key) {
            push_label(&mut labels, &mut spans, key, default, image.span);
        }
    }
    let mut doc = Map::new();
    doc.insert("acKind".into(), json!("ImageManifest"));
    doc.insert(
        "acVersion".into(),
        json!(appc::version::AcVersion::current().to_string()),
    );
    doc.insert("name".into(), json!(image.name.value));
    doc.insert("labels".into(), Value::Array(labels));
    if !image.annotations.is_empty() {
        doc.insert(
            "annotations".into(),
            pairs(&image.annotations, "annotations", &mut spans),
        );
    }
    if !image.dependencies.is_empty() {
        let deps: Vec<Value> = image
            .dependencies
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let at = format!("dependencies[{i}]");
                spans.push((at.clone(), d.span));
                let mut o = Map::new();
                o.insert("imageName".into(), json!(d.name.value));
                if let Some(id) = &d.image_id {
                    spans.push((format!("{at}.imageID"), id.span));
                    o.insert("imageID".into(), json!(id.value));
                }
                if !d.labels.is_empty() {
                    o.insert(
                        "labels".into(),
                        pairs(&d.labels, &format!("{at}.labels"), &mut spans),
                    );
                }
                if let Some(size) = d.size {
                    o.insert("size".into(), json!(size));
                }
                Value::Object(o)
            })
            .collect();
        doc.insert("dependencies".into(), Value::Array(deps));
    }
    if !image.path_whitelist.is_empty() {
        for (i, p) in image.path_whitelist.iter().enumerate() {
            spans.push((format!("pathWhitelist[{i}]"), p.span));
        }
        let list: Vec<&str> = image
            .path_whitelist
            .iter()
            .map(|p| p.value.as_str())
            .collect();
        doc.insert("pathWhitelist".into(), json!(list));
    }
    if let Some(app) = &image.app {
        spans.push(("app".to_owned(), app.span));
        let exec: Vec<&str> = app.exec.iter().map(|s| s.value.as_str()).collect();
        for (i, s) in app.exec.iter().enumerate() {
            spans.push((format!("app.exec[{i}]"), s.span));
        }
        let mut o = Map::new();
        o.insert("exec".into(), json!(exec));
        let user = app.user.as_ref().map_or("0", |u| u.value.as_str());
        let group = app.group.as_ref().map_or("0", |g| g.value.as_str());
        if let Some(u) = &app.user {
            spans.push(("app.user".to_owned(), u.span));
        }
        if let Some(g) = &app.group {
            spans.push(("app.group".to_owned(), g.span));
        }
        o.insert("user".into(), json!(user));
        o.insert("group".into(), json!(group));
        if !app.supplementary_gids.is_empty() {
            o.insert("supplementaryGIDs".into(), json!(app.supplementary_gids));
        }
        if let Some(w) = &app.working_directory {
            spans.push(("app.workingDirectory".to_owned(), w.span));
            o.insert("workingDirectory".into(), json!(w.value));
        }
        if !app.environment.is_empty() {
            let env: Vec<Value> = app
                .environment
                .iter()
                .enumerate()
                .map(|(i, kv)| {
                    spans.push((format!("app.environment[{i}]"), kv.key.span));
                    json!({"name": kv.key.value, "value": kv.value.value})
                })
                .collect();
            o.insert("environment".into(), Value::Array(env));
        }
        if !app.event_handlers.is_empty() {
            let ev: Vec<Value> = app
                .event_handlers
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    spans.push((format!("app.eventHandlers[{i}]"), e.span));
                    let exec: Vec<&str> = e.exec.iter().map(|s| s.value.as_str()).collect();
                    json!({"name": e.name.value, "exec": exec})
                })
                .collect();
            o.insert("eventHandlers".into(), Value::Array(ev));
        }
        if !app.mount_points.is_empty() {
            let mp: Vec<Value> = app
                .mount_points
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    spans.push((format!("app.mountPoints[{i}]"), m.span));
                    spans.push((format!("app.mountPoints[{i}].name"), m.name.span));
                    spans.push((format!("app.mountPoints[{i}].path"), m.path.span));
                    json!({"name": m.name.value, "path": m.path.value, "readOnly": m.read_only})
                })
                .collect();
            o.insert("mountPoints".into(), Value::Array(mp));
        }
        if !app.ports.is_empty() {
            let ports: Vec<Value> = app
                .ports
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    spans.push((format!("app.ports[{i}]"), p.span));
                    spans.push((format!("app.ports[{i}].name"), p.name.span));
                    json!({"name": p.name.value, "protocol": p.protocol.value, "port": p.port,
                           "count": p.count, "socketActivated": p.socket_activated})
                })
                .collect();
            o.insert("ports".into(), Value::Array(ports));
        }
        if !app.isolators.is_empty() {
            let iso: Vec<Value> = app
                .isolators
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    spans.push((format!("app.isolators[{i}]"), x.span));
                    spans.push((format!("app.isolators[{i}].name"), x.name.span));
                    json!({"name": x.name.value, "value": x.value})
                })
                .collect();
            o.insert("isolators".into(), Value::Array(iso));
        }
        doc.insert("app".into(), Value::Object(o));
    }
    let bytes = serde_json::to_vec(&Value::Object(doc)).unwrap_or_default();
    match ImageManifest::from_json(&bytes) {
        Ok(m) => Ok(m),
        Err(errors) => {
            let mut r = Reporter::new(&recipe.path.display().to_string(), &recipe.source);
            for e in errors.iter() {
                let span = span_of(&spans, &e.path).unwrap_or(image.span);
                r.error(
                    span,
                    format!("manifest rule broken at `{}`: {}", e.path, e.message),
                    "breaks the appc spec",
                    None,
                );
            }
            Err(r.into_errors())
        }
    }
}

fn pairs(kvs: &[KeyValue], at: &str, spans: &mut Vec<(String, SourceSpan)>) -> Value {
    let list: Vec<Value> = kvs
        .iter()
        .enumerate()
        .map(|(i, kv)| {
            spans.push((format!("{at}[{i}]"), kv.key.span));
            json!({"name": kv.key.value, "value": kv.value.value})
        })
        .collect();
    Value::Array(list)
}

/// The span recorded for `path` or its longest recorded prefix.
fn span_of(spans: &[(String, SourceSpan)], path: &str) -> Option<SourceSpan> {
    spans
        .iter()
        .filter(|(p, _)| {
            path == p
                || path.starts_with(p.as_str())
                    && matches!(path.as_bytes().get(p.len()), Some(b'.' | b'['))
        })
        .max_by_key(|(p, _)| p.len())
        .map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::parse_str;
    use std::path::Path;

    fn manifest(text: &str) -> Result<ImageManifest, RecipeErrors> {
        image_manifest(&parse_str(text, Path::new("t.kdl"), Path::new("/")).unwrap())
    }

    #[test]
    fn os_and_arch_default_to_the_host() {
        let m = manifest("image \"example.com/a\" version=\"1\"\n").unwrap();
        assert_eq!(m.labels.get("version"), Some("1"));
        assert_eq!(m.labels.get("os"), Some("linux"));
        assert_eq!(m.labels.get("arch"), Some(host_arch()));
    }

    #[test]
    fn the_etcd_recipe_yields_a_valid_manifest() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes/etcd.kdl");
        let recipe = crate::recipe::load(&path).unwrap();
        let m = image_manifest(&recipe).unwrap();
        m.validate().unwrap();
        let app = m.app.unwrap();
        assert_eq!(app.user, "etcd");
        assert_eq!(app.ports.len(), 2);
        assert_eq!(app.isolators.len(), 1);
    }

    #[test]
    fn a_bad_image_name_is_reported_at_the_name() {
        let errs = manifest("image \"Not A Name\"\n").unwrap_err();
        assert_eq!(errs.errors()[0].line_col(), (1, 7));
        assert!(
            errs.errors()[0].message().contains("`name`"),
            "{}",
            errs.errors()[0].message()
        );
    }

    #[test]
    fn a_bad_isolator_value_is_reported_at_the_isolator() {
        let text = "image \"a\" {\n    app {\n        exec \"/a\"\n        isolator \"resource/memory\" limit=\"lots\"\n    }\n}\n";
        let errs = manifest(text).unwrap_err();
        assert_eq!(errs.errors()[0].line_col().0, 4);
    }

    #[test]
    fn a_bad_mount_name_is_reported_at_the_name() {
        let text = "image \"a\" {\n    app {\n        exec \"/a\"\n        mount \"Data!\" path=\"/d\"\n    }\n}\n";
        let errs = manifest(text).unwrap_err();
        assert_eq!(errs.errors()[0].line_col(), (4, 15));
    }
}

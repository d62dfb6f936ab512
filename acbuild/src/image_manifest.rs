//! The image manifest of a recipe: the recipe's manifest nodes as a typed [`ImageManifest`],
//! with every broken spec rule reported at the recipe node that wrote the value.
//!
//! The manifest is built node by node through `appc`'s typed constructors ([`AcIdentifier::new`],
//! [`AcName::new`], [`Isolator::from_json`], ...), each beside the span of the node that set it:
//! a value that cannot be typed is reported at that span at once, and is left out. The rules
//! between values (duplicates, the os/arch table, isolator sets, port ranges, absolute paths) are
//! `appc`'s own [`ImageManifest::validate`], run again after each node's value is added: a finding
//! that appears with a node is reported at that node. No JSON is written and no error path is
//! read back, so a diagnostic cannot drift from the field that caused it.

use std::fmt::Display;

use appc::ImageId;
use appc::isolator::Isolator;
use appc::labels::{Label, Labels};
use appc::manifest::{
    self, Annotation, EnvVar, Event, EventHandler, ImageManifest, MountPoint, Port,
};
use appc::name::{AcIdentifier, AcName};
use appc::validation::Error;
use miette::SourceSpan;

use crate::recipe::{self, Recipe, RecipeErrors, Reporter};

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
    let mut reporter = Reporter::new(&recipe.path.display().to_string(), &recipe.source);
    let name = AcIdentifier::new(&image.name.value);
    if let Err(e) = &name {
        fail(&mut reporter, image.name.span, "name", e);
    }
    // The rules between fields never involve the name: while a broken one is reported, a
    // stand-in lets them still be checked.
    let Ok(name) = name.or_else(|_| AcIdentifier::new("stand-in")) else {
        return Err(reporter.into_errors());
    };
    let mut b = Builder {
        manifest: ImageManifest::new(name),
        reporter,
        findings: Vec::new(),
    };
    b.labels(image);
    if let Some(app) = &image.app {
        b.app(app);
    }
    for (i, kv) in image.annotations.iter().enumerate() {
        let at = format!("annotations[{i}].name");
        if let Some(name) = b.typed(kv.key.span, &at, AcIdentifier::new(&kv.key.value)) {
            let value = kv.value.value.clone();
            b.add(kv.key.span, |m| {
                m.annotations.0.push(Annotation { name, value })
            });
        }
    }
    for (i, d) in image.dependencies.iter().enumerate() {
        b.dependency(i, d);
    }
    for p in &image.path_whitelist {
        b.add(p.span, |m| m.path_whitelist.push(p.value.clone()));
    }
    b.reporter.finish(b.manifest)
}

/// Reports a broken rule of the value at the JSON path `path`, set by the node at `span`.
fn fail(reporter: &mut Reporter, span: SourceSpan, path: &str, message: impl Display) {
    reporter.error(
        span,
        format!("manifest rule broken at `{path}`: {message}"),
        "breaks the appc spec",
        None,
    );
}

/// A manifest under construction and the problems found so far.
struct Builder {
    manifest: ImageManifest,
    reporter: Reporter,
    /// What [`ImageManifest::validate`] reported after the last node was added.
    findings: Vec<Error>,
}

impl Builder {
    fn fail(&mut self, span: SourceSpan, path: &str, message: impl Display) {
        fail(&mut self.reporter, span, path, message);
    }

    /// The typed value, or `None` after reporting why it cannot be one.
    fn typed<T, E: Display>(&mut self, span: SourceSpan, path: &str, r: Result<T, E>) -> Option<T> {
        r.map_err(|e| self.fail(span, path, e)).ok()
    }

    /// Adds the value of the node at `span`, then reports there every rule it broke: each finding
    /// of [`ImageManifest::validate`] that was not there before.
    fn add(&mut self, span: SourceSpan, change: impl FnOnce(&mut ImageManifest)) {
        change(&mut self.manifest);
        let now: Vec<Error> = match self.manifest.validate() {
            Ok(()) => Vec::new(),
            Err(errors) => errors.into_iter().collect(),
        };
        let mut before = std::mem::take(&mut self.findings);
        for e in &now {
            match before.iter().position(|b| b == e) {
                Some(i) => {
                    before.swap_remove(i);
                }
                None => self.fail(span, &e.path, &e.message),
            }
        }
        self.findings = now;
    }

    /// The typed label `key`=`value` for the list position `at`, or `None` after reporting at
    /// `span` why its name is not an AC identifier.
    fn label(&mut self, span: SourceSpan, at: &str, key: &str, value: &str) -> Option<Label> {
        let name = self.typed(span, &format!("{at}.name"), AcIdentifier::new(key))?;
        Some(Label {
            name,
            value: value.to_owned(),
        })
    }

    /// The image's labels in manifest order: `version`, the recipe's, then the host's os and arch
    /// where the recipe gives none.
    fn labels(&mut self, image: &recipe::Image) {
        let mut list: Vec<(&str, &str, SourceSpan)> = Vec::new();
        if let Some(v) = &image.version {
            list.push(("version", &v.value, v.span));
        }
        for kv in &image.labels {
            list.push((&kv.key.value, &kv.value.value, kv.value.span));
        }
        let given = |key: &str| image.labels.iter().rfind(|kv| kv.key.value == key);
        // The host's os and arch are a valid pair, so the default os can only conflict with an
        // arch the recipe gave: that node is where the fix goes. A default arch conflicts with
        // the recipe's os, and is reported at the image that took the host's arch.
        let os_span = given("arch").map_or(image.span, |kv| kv.value.span);
        for (key, default, span) in [
            ("os", std::env::consts::OS, os_span),
            ("arch", host_arch(), image.span),
        ] {
            if given(key).is_none() {
                list.push((key, default, span));
            }
        }
        for (i, (key, value, span)) in list.into_iter().enumerate() {
            if let Some(l) = self.label(span, &format!("labels[{i}]"), key, value) {
                self.add(span, |m| m.labels.0.push(l));
            }
        }
    }

    /// The app: argv, user and group first (`0` unless set), then each node of its block.
    fn app(&mut self, app: &recipe::App) {
        let exec: Vec<String> = app.exec.iter().map(|s| s.value.clone()).collect();
        let span = app.exec.first().map_or(app.span, |s| s.span);
        let gids = app.supplementary_gids.clone();
        self.add(span, |m| {
            let mut typed = manifest::App::new(exec, "0", "0");
            typed.supplementary_gids = gids;
            m.app = Some(typed);
        });
        if let Some(u) = &app.user {
            self.add_to_app(u.span, |a| a.user = u.value.clone());
        }
        if let Some(g) = &app.group {
            self.add_to_app(g.span, |a| a.group = g.value.clone());
        }
        if let Some(w) = &app.working_directory {
            self.add_to_app(w.span, |a| a.working_directory = Some(w.value.clone()));
        }
        for kv in &app.environment {
            let var = EnvVar {
                name: kv.key.value.clone(),
                value: kv.value.value.clone(),
            };
            self.add_to_app(kv.key.span, |a| a.environment.push(var));
        }
        for (i, e) in app.event_handlers.iter().enumerate() {
            self.event_handler(i, e);
        }
        for (i, mp) in app.mount_points.iter().enumerate() {
            let at = format!("app.mountPoints[{i}].name");
            if let Some(name) = self.typed(mp.name.span, &at, AcName::new(&mp.name.value)) {
                let (path, read_only) = (mp.path.value.clone(), mp.read_only);
                let point = MountPoint {
                    name,
                    path,
                    read_only,
                };
                self.add_to_app(mp.path.span, |a| a.mount_points.push(point));
            }
        }
        for (i, p) in app.ports.iter().enumerate() {
            self.port(i, p);
        }
        for (i, x) in app.isolators.iter().enumerate() {
            self.isolator(i, x);
        }
    }

    /// Like [`Builder::add`], for the app (which [`Builder::app`] has set).
    fn add_to_app(&mut self, span: SourceSpan, change: impl FnOnce(&mut manifest::App)) {
        self.add(span, |m| {
            if let Some(app) = &mut m.app {
                change(app);
            }
        });
    }

    fn event_handler(&mut self, i: usize, e: &recipe::EventHandler) {
        let at = format!("app.eventHandlers[{i}].name");
        let event = Event::from_name(&e.name.value).ok_or_else(|| {
            format!(
                "{:?} is not an event (pre-start or post-stop)",
                e.name.value
            )
        });
        if let Some(name) = self.typed(e.name.span, &at, event) {
            let exec = e.exec.iter().map(|s| s.value.clone()).collect();
            self.add_to_app(e.span, |a| {
                a.event_handlers.push(EventHandler { name, exec })
            });
        }
    }

    fn port(&mut self, i: usize, p: &recipe::Port) {
        let at = format!("app.ports[{i}].name");
        if let Some(name) = self.typed(p.name.span, &at, AcName::new(&p.name.value)) {
            let port = Port {
                name,
                protocol: p.protocol.value.clone(),
                port: p.port,
                count: p.count,
                socket_activated: p.socket_activated,
            };
            self.add_to_app(p.span, |a| a.ports.push(port));
        }
    }

    /// An isolator: its name at the name's span, its value (checked by `appc`'s isolator rules) at
    /// the node's.
    fn isolator(&mut self, i: usize, x: &recipe::Isolator) {
        let at = format!("app.isolators[{i}]");
        let name = AcIdentifier::new(&x.name.value);
        if self
            .typed(x.name.span, &format!("{at}.name"), name)
            .is_none()
        {
            return;
        }
        match Isolator::from_json(&x.name.value, &x.value) {
            Ok(iso) => self.add_to_app(x.name.span, |a| a.isolators.push(iso)),
            Err(errors) => {
                for e in errors.iter() {
                    self.fail(x.span, &format!("{at}.{}", e.path), &e.message);
                }
            }
        }
    }

    fn dependency(&mut self, i: usize, d: &recipe::Dependency) {
        let at = format!("dependencies[{i}]");
        let name = AcIdentifier::new(&d.name.value);
        let image_name = self.typed(d.span, &format!("{at}.imageName"), name);
        let image_id = d.image_id.as_ref().and_then(|id| {
            let parsed = id.value.parse::<ImageId>().map_err(|e| {
                format!(
                    "{:?} is not an image ID (sha512- and 128 lower-case hex digits): {e}",
                    id.value
                )
            });
            self.typed(id.span, &format!("{at}.imageID"), parsed)
        });
        let labels: Vec<Option<Label>> = (d.labels.iter().enumerate())
            .map(|(j, kv)| {
                let label_at = format!("{at}.labels[{j}]");
                self.label(kv.key.span, &label_at, &kv.key.value, &kv.value.value)
            })
            .collect();
        let Some(image_name) = image_name else {
            return;
        };
        if d.image_id.is_some() && image_id.is_none() {
            return;
        }
        let dependency = manifest::Dependency {
            image_name,
            image_id,
            labels: Labels::default(),
            size: d.size,
        };
        self.add(d.span, |m| m.dependencies.push(dependency));
        for (label, kv) in labels.into_iter().zip(&d.labels) {
            if let Some(label) = label {
                self.add(kv.key.span, |m| {
                    if let Some(dependency) = m.dependencies.last_mut() {
                        dependency.labels.0.push(label);
                    }
                });
            }
        }
    }
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

    /// Where each kind of broken rule is reported, and what it says (pinned from the JSON-path
    /// mapping this module replaced).
    #[test]
    fn each_broken_rule_is_reported_at_the_node_that_set_the_value() {
        let app = |body: &str| format!("image \"a\" {{\n    app {{\n{body}    }}\n}}\n");
        let cases: Vec<(String, usize, &str)> = vec![
            (
                "image \"a\" {\n    label os=\"plan9\"\n}\n".into(),
                2,
                "`labels[0].value`: unknown os \"plan9\"",
            ),
            (
                "image \"a\" {\n    label arch=\"x86_64\"\n}\n".into(),
                2,
                "`labels[0].value`: arch \"x86_64\" is not valid for os \"linux\"",
            ),
            (
                "image \"a\" {\n    label Bad=\"x\"\n}\n".into(),
                2,
                "`labels[0].name`",
            ),
            (
                "image \"a\" {\n    annotation created=\"yesterday\"\n}\n".into(),
                2,
                "`annotations[0].value`: must be an RFC 3339 date-time",
            ),
            (
                "image \"a\" {\n    annotation homepage=\"x\"\n}\n".into(),
                2,
                "`annotations[0].value`: must be an absolute http or https URL",
            ),
            (
                "image \"a\" {\n    dependency \"example.com/base\" os=\"plan9\"\n}\n".into(),
                2,
                "`dependencies[0].labels[0].value`: unknown os",
            ),
            (
                "image \"a\" {\n    dependency \"Base\"\n}\n".into(),
                2,
                "`dependencies[0].imageName`",
            ),
            (
                "image \"a\" {\n    dependency \"example.com/base\" image-id=\"sha512-0\"\n}\n"
                    .into(),
                2,
                "`dependencies[0].imageID`: \"sha512-0\" is not an image ID",
            ),
            (
                app("        exec \"/a\"\n        env \"1A\"=\"x\"\n"),
                4,
                "`app.environment[0].name`: \"1A\" is not a valid variable name",
            ),
            (
                app(
                    "        exec \"/a\"\n        mount \"d\" path=\"/d\"\n        mount \"e\" path=\"/d\"\n",
                ),
                5,
                "`app.mountPoints[1].path`: another mount point has the same path",
            ),
            (
                app(
                    "        exec \"/a\"\n        isolator \"resource/memory\" limit=\"1G\"\n        isolator \"resource/memory\" limit=\"2G\"\n",
                ),
                5,
                "`app.isolators[1].name`: only one resource/memory isolator is allowed",
            ),
            (
                app("        exec \"/a\"\n        isolator \"Bad\" value=1\n"),
                4,
                "`app.isolators[0].name`",
            ),
        ];
        let mut wrong = Vec::new();
        for (text, line, message) in cases {
            let Ok(recipe) = parse_str(&text, Path::new("t.kdl"), Path::new("/")) else {
                wrong.push(format!("{text}is refused by the parser"));
                continue;
            };
            let got = match image_manifest(&recipe) {
                Ok(_) => "accepted".to_owned(),
                Err(errs) => {
                    let e = &errs.errors()[0];
                    if e.line_col().0 == line && e.message().contains(message) {
                        continue;
                    }
                    format!("{:?} {:?}", e.line_col(), e.message())
                }
            };
            wrong.push(format!("{text}want line {line} {message:?}, got {got}"));
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
        // Control: the same nodes with valid values make a manifest.
        let ok = "image \"a\" {\n    label os=\"linux\"\n    annotation created=\"2014-10-27T19:32:27Z\"\n    dependency \"example.com/base\" os=\"linux\"\n    path-whitelist \"/a\"\n    app {\n        exec \"/a\"\n        working-directory \"/b\"\n        env A=\"x\"\n        port \"p\" port=65534 count=2\n        mount \"d\" path=\"/d\"\n        mount \"e\" path=\"/e\"\n        isolator \"resource/memory\" limit=\"1G\"\n    }\n}\n";
        let m = manifest(ok).unwrap();
        assert_eq!(m.app.unwrap().mount_points.len(), 2);
    }
}

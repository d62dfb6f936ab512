//! From recipe text to [`Recipe`]: KDL syntax, then the recipe language's shape and rules.
//!
//! Checks here need only the text: node and property names, value types, required parts, image
//! paths, duplicate declarations and path conflicts. Checks that need the host (does an input exist,
//! is a program ELF) live in [`super::inputs`]; manifest rules (AC names, isolator values) are
//! checked when the plan converts the model to appc types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::diagnostic::{RecipeErrors, Reporter, did_you_mean};
use super::model::*;

const TOP_NODES: &[&str] = &["image"];
const IMAGE_NODES: &[&str] = &[
    "label",
    "annotation",
    "program",
    "file",
    "tree",
    "dir",
    "symlink",
    "text",
    "user",
    "group",
    "runtime",
    "dependency",
    "path-whitelist",
    "app",
    "test",
];
const APP_NODES: &[&str] = &[
    "exec",
    "user",
    "group",
    "supplementary-gids",
    "working-directory",
    "env",
    "port",
    "mount",
    "isolator",
    "event",
];
const TEST_NODES: &[&str] = &["exec", "expect-exit", "expect-stdout-contains"];
const ATTRIBUTE_PROPS: &[&str] = &["mode", "uid", "gid"];

/// Parse recipe text. `name` is the file name shown in diagnostics; `base_dir` is the directory
/// relative host paths are resolved against.
pub fn parse_str(source: &str, name: &Path, base_dir: &Path) -> Result<Recipe, RecipeErrors> {
    let mut r = Reporter::new(&name.display().to_string(), source);
    let doc: KdlDocument = match source.parse() {
        Ok(doc) => doc,
        Err(err) => {
            let err: kdl::KdlError = err;
            for d in &err.diagnostics {
                let message = d
                    .message
                    .clone()
                    .unwrap_or_else(|| "invalid KDL".to_owned());
                let label = d.label.clone().unwrap_or_else(|| "here".to_owned());
                r.error(d.span, format!("syntax: {message}"), label, d.help.clone());
            }
            if !r.has_errors() {
                r.error(SourceSpan::from(0..0), "syntax: invalid KDL", "here", None);
            }
            return Err(r.into_errors());
        }
    };
    let mut walker = Walker {
        r,
        base_dir: base_dir.to_path_buf(),
    };
    let image = walker.document(&doc);
    let recipe = image.map(|image| Recipe {
        path: name.to_path_buf(),
        base_dir: base_dir.to_path_buf(),
        source: source.to_owned(),
        image,
    });
    match recipe {
        Some(recipe) => walker.r.finish(recipe),
        None => Err(walker.r.into_errors()),
    }
}

struct Walker {
    r: Reporter,
    base_dir: PathBuf,
}

fn args(node: &KdlNode) -> Vec<&KdlEntry> {
    node.entries()
        .iter()
        .filter(|e| e.name().is_none())
        .collect()
}

fn props(node: &KdlNode) -> Vec<(&str, &KdlEntry)> {
    node.entries()
        .iter()
        .filter_map(|e| e.name().map(|n| (n.value(), e)))
        .collect()
}

fn type_name(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

fn node_name(node: &KdlNode) -> &str {
    node.name().value()
}

impl Walker {
    fn unknown_node(&mut self, node: &KdlNode, context: &str, known: &[&str]) {
        let name = node_name(node);
        let help = match did_you_mean(name, known) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("{context} may contain: {}", known.join(", ")),
        };
        self.r.error(
            node.name().span(),
            format!("unknown node `{name}` in {context}"),
            "unknown node",
            Some(help),
        );
    }

    /// Check a node's shape: argument count, known property names, no duplicates, children.
    /// Property names of `open_props` nodes are free (labels, env, …).
    fn shape(
        &mut self,
        node: &KdlNode,
        min_args: usize,
        max_args: Option<usize>,
        known_props: Option<&[&str]>,
        children: bool,
    ) {
        let name = node_name(node);
        for entry in node.entries() {
            if entry.ty().is_some() {
                self.r.error(
                    entry.span(),
                    "type annotations are not used in recipes",
                    "type annotation",
                    Some("remove the `(type)` prefix".to_owned()),
                );
            }
        }
        if node.ty().is_some() {
            self.r.error(
                node.span(),
                "type annotations are not used in recipes",
                "type annotation",
                Some("remove the `(type)` prefix".to_owned()),
            );
        }
        let a = args(node);
        if a.len() < min_args {
            let what = if min_args == 1 {
                "an argument".to_owned()
            } else {
                format!("{min_args} arguments")
            };
            self.r.error(
                node.name().span(),
                format!("`{name}` needs {what}"),
                "missing argument",
                Some(usage(name).to_owned()),
            );
        }
        if let Some(max) = max_args
            && let Some(extra) = a.get(max)
        {
            self.r.error(
                extra.span(),
                format!(
                    "`{name}` takes at most {max} argument{}",
                    if max == 1 { "" } else { "s" }
                ),
                "unexpected argument",
                Some(usage(name).to_owned()),
            );
        }
        let mut seen: BTreeMap<&str, SourceSpan> = BTreeMap::new();
        for (key, entry) in props(node) {
            if let Some(first) = seen.get(key) {
                self.r.conflict(
                    entry.span(),
                    *first,
                    format!("property `{key}` is given twice"),
                    Some("keep one of them".to_owned()),
                );
            } else {
                seen.insert(key, entry.span());
            }
            if let Some(known) = known_props
                && !known.contains(&key)
            {
                let help = match did_you_mean(key, known) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if known.is_empty() => format!("`{name}` takes no properties"),
                    None => format!("`{name}` accepts: {}", known.join(", ")),
                };
                self.r.error(
                    entry.span(),
                    format!("unknown property `{key}` on `{name}`"),
                    "unknown property",
                    Some(help),
                );
            }
        }
        if !children && node.children().is_some() {
            self.r.error(
                node.name().span(),
                format!("`{name}` takes no children block"),
                "unexpected block",
                Some(usage(name).to_owned()),
            );
        }
    }

    fn string_value(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        match entry.value() {
            KdlValue::String(s) => Some(Spanned::new(s.clone(), entry.span())),
            other => {
                self.r.error(
                    entry.span(),
                    format!("{what} must be a string, found {}", type_name(other)),
                    "expected a string",
                    Some("quote it: \"...\"".to_owned()),
                );
                None
            }
        }
    }

    fn arg_string(&mut self, node: &KdlNode, index: usize, what: &str) -> Option<Spanned<String>> {
        let entry = *args(node).get(index)?;
        self.string_value(entry, what)
    }

    fn prop<'n>(node: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
        // The last occurrence wins, as in KDL; duplicates are reported by `shape`.
        node.entries()
            .iter()
            .rev()
            .find(|e| e.name().is_some_and(|n| n.value() == key))
    }

    fn prop_string(&mut self, node: &KdlNode, key: &str) -> Option<Spanned<String>> {
        let entry = Self::prop(node, key)?;
        self.string_value(entry, &format!("`{key}`"))
    }

    fn integer(&mut self, entry: &KdlEntry, what: &str, min: i128, max: i128) -> Option<i128> {
        match entry.value() {
            KdlValue::Integer(i) if (min..=max).contains(i) => Some(*i),
            KdlValue::Integer(i) => {
                self.r.error(
                    entry.span(),
                    format!("{what} {i} is out of range"),
                    "out of range",
                    Some(format!("allowed: {min} to {max}")),
                );
                None
            }
            other => {
                let help = if what == "`mode`" {
                    "write the mode as an octal integer, e.g. mode=0o644".to_owned()
                } else {
                    "write an integer without quotes".to_owned()
                };
                self.r.error(
                    entry.span(),
                    format!("{what} must be an integer, found {}", type_name(other)),
                    "expected an integer",
                    Some(help),
                );
                None
            }
        }
    }

    fn prop_integer(&mut self, node: &KdlNode, key: &str, min: i128, max: i128) -> Option<i128> {
        let entry = Self::prop(node, key)?;
        self.integer(entry, &format!("`{key}`"), min, max)
    }

    fn prop_u32(&mut self, node: &KdlNode, key: &str) -> Option<u32> {
        self.prop_integer(node, key, 0, i128::from(u32::MAX))
            .and_then(|i| u32::try_from(i).ok())
    }

    fn prop_bool(&mut self, node: &KdlNode, key: &str) -> Option<bool> {
        let entry = Self::prop(node, key)?;
        match entry.value() {
            KdlValue::Bool(b) => Some(*b),
            other => {
                self.r.error(
                    entry.span(),
                    format!("`{key}` must be a boolean, found {}", type_name(other)),
                    "expected #true or #false",
                    Some("KDL 2 booleans are written #true and #false".to_owned()),
                );
                None
            }
        }
    }

    /// An absolute, normalised path inside the image. `allow_root` admits `/`.
    fn image_path(&mut self, value: Spanned<String>, allow_root: bool) -> Option<Spanned<String>> {
        let p = value.value.as_str();
        let problem = if !p.starts_with('/') {
            Some("must be absolute (start with `/`)")
        } else if p.contains('\0') {
            Some("must not contain NUL")
        } else if p == "/" && !allow_root {
            Some("must not be `/` itself")
        } else if p != "/" && p.ends_with('/') {
            Some("must not end with `/`")
        } else if p[1..]
            .split('/')
            .any(|c| c.is_empty() && p != "/" || c == "." || c == "..")
        {
            Some("must be normalised (no empty, `.` or `..` components)")
        } else {
            None
        };
        match problem {
            Some(problem) => {
                self.r.error(
                    value.span,
                    format!("image path `{p}` {problem}"),
                    "invalid image path",
                    Some("write paths inside the image like /usr/bin/etcd".to_owned()),
                );
                None
            }
            None => Some(value),
        }
    }

    fn host_path(&self, value: &Spanned<String>) -> Spanned<PathBuf> {
        // `components()` drops `.` components; `..` is kept, since it may cross a symlink.
        let joined: PathBuf = self.base_dir.join(&value.value).components().collect();
        Spanned::new(joined, value.span)
    }

    fn document(&mut self, doc: &KdlDocument) -> Option<Image> {
        let mut image = None;
        for node in doc.nodes() {
            if node_name(node) != "image" {
                self.unknown_node(node, "a recipe", TOP_NODES);
                continue;
            }
            if image.is_some() {
                self.r.error(
                    node.name().span(),
                    "a recipe describes exactly one image",
                    "second image",
                    Some("put each image in its own recipe file".to_owned()),
                );
                continue;
            }
            image = Some(self.image(node));
        }
        if image.is_none() && !self.r.has_errors() {
            self.r.error(
                SourceSpan::from(0..0),
                "the recipe has no `image` node",
                "empty recipe",
                Some(usage("image").to_owned()),
            );
        }
        image.flatten()
    }

    fn image(&mut self, node: &KdlNode) -> Option<Image> {
        self.shape(node, 1, Some(1), Some(&["version"]), true);
        let name = self.arg_string(node, 0, "the image name");
        let version = self.prop_string(node, "version");
        let mut image = Image {
            name: name
                .clone()
                .unwrap_or_else(|| Spanned::new(String::new(), node.span())),
            version,
            labels: Vec::new(),
            annotations: Vec::new(),
            entries: Vec::new(),
            users: Vec::new(),
            groups: Vec::new(),
            runtime: Vec::new(),
            dependencies: Vec::new(),
            path_whitelist: Vec::new(),
            app: None,
            tests: Vec::new(),
            span: node.span(),
        };
        let mut app_span: Option<SourceSpan> = None;
        let mut test_names: BTreeMap<String, SourceSpan> = BTreeMap::new();
        for child in node.iter_children() {
            match node_name(child) {
                "label" => {
                    let pairs = self.key_values(child, "label");
                    image.labels.extend(pairs);
                }
                "annotation" => {
                    let pairs = self.key_values(child, "annotation");
                    image.annotations.extend(pairs);
                }
                "program" | "file" | "tree" | "dir" | "symlink" | "text" => {
                    if let Some(entry) = self.entry(child) {
                        image.entries.push(entry);
                    }
                }
                "user" => {
                    if let Some(user) = self.user(child) {
                        image.users.push(user);
                    }
                }
                "group" => {
                    self.shape(child, 1, Some(1), Some(&["gid"]), false);
                    let name = self.arg_string(child, 0, "the group name");
                    let gid = self.prop_u32(child, "gid");
                    if Self::prop(child, "gid").is_none() {
                        self.missing_prop(child, "gid");
                    }
                    if let (Some(name), Some(gid)) = (name, gid) {
                        self.account_name(&name);
                        image.groups.push(Group {
                            name,
                            gid,
                            span: child.span(),
                        });
                    }
                }
                "runtime" => {
                    self.shape(child, 1, None, Some(&[]), false);
                    for entry in args(child) {
                        if let Some(s) = self.string_value(entry, "a runtime set") {
                            match RuntimeSet::ALL.iter().find(|r| r.name() == s.value) {
                                Some(set) => image.runtime.push(Spanned::new(*set, s.span)),
                                None => {
                                    let names: Vec<&str> =
                                        RuntimeSet::ALL.iter().map(|r| r.name()).collect();
                                    let help = match did_you_mean(&s.value, &names) {
                                        Some(n) => format!("did you mean `{n}`?"),
                                        None => format!("known sets: {}", names.join(", ")),
                                    };
                                    self.r.error(
                                        s.span,
                                        format!("unknown runtime set `{}`", s.value),
                                        "unknown set",
                                        Some(help),
                                    );
                                }
                            }
                        }
                    }
                }
                "dependency" => {
                    if let Some(dep) = self.dependency(child) {
                        image.dependencies.push(dep);
                    }
                }
                "path-whitelist" => {
                    self.shape(child, 1, None, Some(&[]), false);
                    for entry in args(child) {
                        if let Some(p) = self.string_value(entry, "a whitelisted path")
                            && let Some(p) = self.image_path(p, false)
                        {
                            image.path_whitelist.push(p);
                        }
                    }
                }
                "app" => {
                    if let Some(first) = app_span {
                        self.r.conflict(
                            child.name().span(),
                            first,
                            "an image has at most one `app`",
                            Some("merge the two `app` blocks".to_owned()),
                        );
                        continue;
                    }
                    app_span = Some(child.name().span());
                    image.app = self.app(child);
                }
                "test" => {
                    if let Some(test) = self.test(child) {
                        if let Some(first) = test_names.get(&test.name.value) {
                            self.r.conflict(
                                test.name.span,
                                *first,
                                format!("test `{}` is declared twice", test.name.value),
                                Some("give each test its own name".to_owned()),
                            );
                        } else {
                            test_names.insert(test.name.value.clone(), test.name.span);
                            image.tests.push(test);
                        }
                    }
                }
                _ => self.unknown_node(child, "`image`", IMAGE_NODES),
            }
        }
        self.image_rules(&mut image);
        name.map(|_| image)
    }

    fn missing_prop(&mut self, node: &KdlNode, key: &str) {
        let name = node_name(node);
        self.r.error(
            node.name().span(),
            format!("`{name}` needs the property `{key}`"),
            format!("`{key}=` missing"),
            Some(usage(name).to_owned()),
        );
    }

    /// `label`/`annotation`/`env`: any property names, string values, no arguments.
    fn key_values(&mut self, node: &KdlNode, what: &str) -> Vec<KeyValue> {
        self.shape(node, 0, Some(0), None, false);
        let mut out = Vec::new();
        let pairs = props(node);
        if pairs.is_empty() {
            self.r.error(
                node.name().span(),
                format!("`{what}` needs at least one key=\"value\" property"),
                "nothing declared",
                Some(usage(what).to_owned()),
            );
        }
        for (key, entry) in pairs {
            let key_span = entry.name().map_or(entry.span(), |n| n.span());
            if let Some(value) = self.string_value(entry, &format!("{what} `{key}`")) {
                out.push(KeyValue {
                    key: Spanned::new(key.to_owned(), key_span),
                    value,
                });
            }
        }
        out
    }

    fn attributes(&mut self, node: &KdlNode) -> Attributes {
        Attributes {
            mode: self
                .prop_integer(node, "mode", 0, 0o7777)
                .and_then(|m| u32::try_from(m).ok()),
            uid: self.prop_u32(node, "uid"),
            gid: self.prop_u32(node, "gid"),
        }
    }

    fn entry(&mut self, node: &KdlNode) -> Option<Entry> {
        let name = node_name(node);
        let with_attrs = |extra: &[&'static str]| -> Vec<&'static str> {
            extra.iter().chain(ATTRIBUTE_PROPS).copied().collect()
        };
        let (kind, path) = match name {
            "program" | "file" | "tree" => {
                let known = with_attrs(&["to"]);
                self.shape(node, 1, Some(1), Some(&known), false);
                let source = self.arg_string(node, 0, "the host path")?;
                let to = match self.prop_string(node, "to") {
                    Some(to) => to,
                    None if source.value.starts_with('/') => source.clone(),
                    None => {
                        self.r.error(
                            source.span,
                            format!("`{name}` with a relative host path needs `to=`"),
                            "relative host path",
                            Some(format!(
                                "say where it goes in the image: {name} \"{}\" to=\"/...\"",
                                source.value
                            )),
                        );
                        return None;
                    }
                };
                let host = self.host_path(&source);
                let kind = match name {
                    "program" => EntryKind::Program { source: host },
                    "file" => EntryKind::File { source: host },
                    _ => EntryKind::Tree { source: host },
                };
                (kind, to)
            }
            "dir" => {
                self.shape(node, 1, Some(1), Some(ATTRIBUTE_PROPS), false);
                (
                    EntryKind::Dir,
                    self.arg_string(node, 0, "the directory path")?,
                )
            }
            "symlink" => {
                self.shape(node, 1, Some(1), Some(&["target"]), false);
                let path = self.arg_string(node, 0, "the link path");
                let target = self.prop_string(node, "target");
                if Self::prop(node, "target").is_none() {
                    self.missing_prop(node, "target");
                }
                let target = target?;
                if target.value.is_empty() || target.value.contains('\0') {
                    self.r.error(
                        target.span,
                        "a symlink target must be non-empty and contain no NUL",
                        "invalid target",
                        None,
                    );
                    return None;
                }
                (EntryKind::Symlink { target }, path?)
            }
            _ => {
                self.shape(node, 2, Some(2), Some(ATTRIBUTE_PROPS), false);
                let path = self.arg_string(node, 0, "the file path");
                let content = self.arg_string(node, 1, "the file content");
                (EntryKind::Text { content: content? }, path?)
            }
        };
        let attributes = self.attributes(node);
        let path = self.image_path(path, false)?;
        Some(Entry {
            kind,
            path,
            attributes,
            span: node.span(),
        })
    }

    fn account_name(&mut self, name: &Spanned<String>) {
        let ok = !name.value.is_empty()
            && name.value.len() <= 32
            && !name.value.starts_with('-')
            && name
                .value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !ok {
            self.r.error(
                name.span,
                format!("`{}` is not a valid account name", name.value),
                "invalid name",
                Some("use 1-32 of a-z, 0-9, `_`, `-`, `.`, not starting with `-`".to_owned()),
            );
        }
    }

    fn passwd_field(&mut self, value: &Spanned<String>) {
        if value.value.contains([':', '\n']) {
            self.r.error(
                value.span,
                "passwd fields must not contain `:` or a newline",
                "invalid field",
                None,
            );
        }
    }

    fn user(&mut self, node: &KdlNode) -> Option<User> {
        self.shape(
            node,
            1,
            Some(1),
            Some(&["uid", "group", "gid", "home", "shell"]),
            false,
        );
        let name = self.arg_string(node, 0, "the user name");
        if Self::prop(node, "uid").is_none() {
            self.missing_prop(node, "uid");
        }
        let uid = self.prop_u32(node, "uid");
        let group = self.prop_string(node, "group");
        let gid = self.prop_u32(node, "gid");
        let home = self.prop_string(node, "home");
        let shell = self.prop_string(node, "shell");
        let name = name?;
        self.account_name(&name);
        if let Some(g) = &group {
            self.account_name(g);
        }
        for field in [&home, &shell].into_iter().flatten() {
            self.passwd_field(field);
        }
        if let Some(home) = &home {
            self.image_path(home.clone(), true);
        }
        let uid = uid?;
        Some(User {
            group: group.map_or_else(|| name.value.clone(), |g| g.value),
            gid: gid.unwrap_or(uid),
            home: home.map_or_else(|| "/".to_owned(), |h| h.value),
            shell: shell.map_or_else(|| "/sbin/nologin".to_owned(), |s| s.value),
            name,
            uid,
            span: node.span(),
        })
    }

    fn dependency(&mut self, node: &KdlNode) -> Option<Dependency> {
        self.shape(node, 1, Some(1), None, false);
        let name = self.arg_string(node, 0, "the dependency's image name")?;
        let mut dep = Dependency {
            name,
            image_id: None,
            labels: Vec::new(),
            size: None,
            span: node.span(),
        };
        for (key, entry) in props(node) {
            match key {
                "image-id" => dep.image_id = self.string_value(entry, "`image-id`"),
                "size" => {
                    dep.size = self
                        .integer(entry, "`size`", 0, i128::from(u64::MAX))
                        .and_then(|s| u64::try_from(s).ok());
                }
                _ => {
                    let key_span = entry.name().map_or(entry.span(), |n| n.span());
                    if let Some(value) = self.string_value(entry, &format!("label `{key}`")) {
                        dep.labels.push(KeyValue {
                            key: Spanned::new(key.to_owned(), key_span),
                            value,
                        });
                    }
                }
            }
        }
        Some(dep)
    }

    fn exec(&mut self, node: &KdlNode) -> Vec<Spanned<String>> {
        self.shape(node, 1, None, Some(&[]), false);
        let mut out = Vec::new();
        for (i, entry) in args(node).into_iter().enumerate() {
            let what = if i == 0 { "the program" } else { "an argument" };
            if let Some(s) = self.string_value(entry, what) {
                out.push(s);
            }
        }
        if let Some(program) = out.first()
            && !program.value.starts_with('/')
        {
            self.r.error(
                program.span,
                format!("the program `{}` must be an absolute path", program.value),
                "relative program",
                Some("there is no PATH lookup in an ACI: write /usr/bin/...".to_owned()),
            );
        }
        out
    }

    fn id_or_name(&mut self, node: &KdlNode) -> Option<Spanned<String>> {
        self.shape(node, 1, Some(1), Some(&[]), false);
        let entry = *args(node).first()?;
        match entry.value() {
            KdlValue::String(s) => Some(Spanned::new(s.clone(), entry.span())),
            KdlValue::Integer(i) if (0..=i128::from(u32::MAX)).contains(i) => {
                Some(Spanned::new(i.to_string(), entry.span()))
            }
            other => {
                self.r.error(
                    entry.span(),
                    format!(
                        "`{}` must be a name or a number, found {}",
                        node_name(node),
                        type_name(other)
                    ),
                    "expected a name or id",
                    None,
                );
                None
            }
        }
    }

    fn once(
        &mut self,
        seen: &mut BTreeMap<&'static str, SourceSpan>,
        key: &'static str,
        node: &KdlNode,
    ) -> bool {
        if let Some(first) = seen.get(key) {
            self.r.conflict(
                node.name().span(),
                *first,
                format!("`{key}` is given twice"),
                Some("keep one of them".to_owned()),
            );
            return false;
        }
        seen.insert(key, node.name().span());
        true
    }

    fn app(&mut self, node: &KdlNode) -> Option<App> {
        self.shape(node, 0, Some(0), Some(&[]), true);
        let mut app = App {
            exec: Vec::new(),
            user: None,
            group: None,
            supplementary_gids: Vec::new(),
            working_directory: None,
            environment: Vec::new(),
            ports: Vec::new(),
            mount_points: Vec::new(),
            isolators: Vec::new(),
            event_handlers: Vec::new(),
            span: node.span(),
        };
        let mut seen = BTreeMap::new();
        let mut env_keys: BTreeMap<String, SourceSpan> = BTreeMap::new();
        let mut port_names: BTreeMap<String, SourceSpan> = BTreeMap::new();
        let mut mount_names: BTreeMap<String, SourceSpan> = BTreeMap::new();
        let mut events: BTreeMap<String, SourceSpan> = BTreeMap::new();
        for child in node.iter_children() {
            match node_name(child) {
                "exec" => {
                    if self.once(&mut seen, "exec", child) {
                        app.exec = self.exec(child);
                    }
                }
                "user" => {
                    if self.once(&mut seen, "user", child) {
                        app.user = self.id_or_name(child);
                    }
                }
                "group" => {
                    if self.once(&mut seen, "group", child) {
                        app.group = self.id_or_name(child);
                    }
                }
                "supplementary-gids" => {
                    self.shape(child, 1, None, Some(&[]), false);
                    for entry in args(child) {
                        if let Some(g) = self.integer(entry, "a gid", 0, i128::from(u32::MAX)) {
                            app.supplementary_gids.extend(u32::try_from(g).ok());
                        }
                    }
                }
                "working-directory" => {
                    if self.once(&mut seen, "working-directory", child) {
                        self.shape(child, 1, Some(1), Some(&[]), false);
                        app.working_directory = self
                            .arg_string(child, 0, "the working directory")
                            .and_then(|p| self.image_path(p, true));
                    }
                }
                "env" => {
                    for kv in self.key_values(child, "env") {
                        if let Some(first) = env_keys.get(&kv.key.value) {
                            self.r.conflict(
                                kv.key.span,
                                *first,
                                format!("environment variable `{}` is set twice", kv.key.value),
                                Some("keep one of them".to_owned()),
                            );
                        } else {
                            env_keys.insert(kv.key.value.clone(), kv.key.span);
                            app.environment.push(kv);
                        }
                    }
                }
                "port" => {
                    if let Some(port) = self.port(child) {
                        if let Some(first) = port_names.get(&port.name.value) {
                            self.r.conflict(
                                port.name.span,
                                *first,
                                format!("port `{}` is declared twice", port.name.value),
                                None,
                            );
                        } else {
                            port_names.insert(port.name.value.clone(), port.name.span);
                            app.ports.push(port);
                        }
                    }
                }
                "mount" => {
                    self.shape(child, 1, Some(1), Some(&["path", "read-only"]), false);
                    let name = self.arg_string(child, 0, "the mount point name");
                    if Self::prop(child, "path").is_none() {
                        self.missing_prop(child, "path");
                    }
                    let path = self
                        .prop_string(child, "path")
                        .and_then(|p| self.image_path(p, false));
                    let read_only = self.prop_bool(child, "read-only").unwrap_or(false);
                    if let (Some(name), Some(path)) = (name, path) {
                        if let Some(first) = mount_names.get(&name.value) {
                            self.r.conflict(
                                name.span,
                                *first,
                                format!("mount point `{}` is declared twice", name.value),
                                None,
                            );
                        } else {
                            mount_names.insert(name.value.clone(), name.span);
                            app.mount_points.push(MountPoint {
                                name,
                                path,
                                read_only,
                                span: child.span(),
                            });
                        }
                    }
                }
                "isolator" => {
                    if let Some(isolator) = self.isolator(child) {
                        app.isolators.push(isolator);
                    }
                }
                "event" => {
                    self.shape(child, 2, None, Some(&[]), false);
                    let name = self.arg_string(child, 0, "the event name");
                    let exec: Vec<Spanned<String>> = args(child)
                        .into_iter()
                        .skip(1)
                        .filter_map(|e| self.string_value(e, "an argument"))
                        .collect();
                    let Some(name) = name else { continue };
                    if !matches!(name.value.as_str(), "pre-start" | "post-stop") {
                        let help = match did_you_mean(&name.value, &["pre-start", "post-stop"]) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "events are `pre-start` and `post-stop`".to_owned(),
                        };
                        self.r.error(
                            name.span,
                            format!("unknown event `{}`", name.value),
                            "unknown event",
                            Some(help),
                        );
                        continue;
                    }
                    if let Some(first) = events.get(&name.value) {
                        self.r.conflict(
                            name.span,
                            *first,
                            format!("event `{}` has two handlers", name.value),
                            None,
                        );
                        continue;
                    }
                    if let Some(program) = exec.first()
                        && !program.value.starts_with('/')
                    {
                        self.r.error(
                            program.span,
                            format!("the program `{}` must be an absolute path", program.value),
                            "relative program",
                            None,
                        );
                    }
                    events.insert(name.value.clone(), name.span);
                    app.event_handlers.push(EventHandler {
                        name,
                        exec,
                        span: child.span(),
                    });
                }
                _ => self.unknown_node(child, "`app`", APP_NODES),
            }
        }
        if !seen.contains_key("exec") {
            self.r.error(
                node.name().span(),
                "`app` needs an `exec`",
                "no exec",
                Some("add: exec \"/usr/bin/program\" \"--flag\"".to_owned()),
            );
            return None;
        }
        Some(app)
    }

    fn port(&mut self, node: &KdlNode) -> Option<Port> {
        self.shape(
            node,
            1,
            Some(1),
            Some(&["protocol", "port", "count", "socket-activated"]),
            false,
        );
        let name = self.arg_string(node, 0, "the port name");
        if Self::prop(node, "port").is_none() {
            self.missing_prop(node, "port");
        }
        let port = self.prop_integer(node, "port", 1, 65535);
        let count = self.prop_integer(node, "count", 1, 65535).unwrap_or(1);
        let protocol = self
            .prop_string(node, "protocol")
            .unwrap_or_else(|| Spanned::new("tcp".to_owned(), node.span()));
        if !matches!(protocol.value.as_str(), "tcp" | "udp") {
            self.r.error(
                protocol.span,
                format!("unknown protocol `{}`", protocol.value),
                "unknown protocol",
                Some("use protocol=\"tcp\" or protocol=\"udp\"".to_owned()),
            );
        }
        let socket_activated = self.prop_bool(node, "socket-activated").unwrap_or(false);
        let port = u16::try_from(port?).ok()?;
        if i128::from(port) + count - 1 > 65535 {
            self.r.error(
                node.span(),
                "the port range runs past 65535",
                "port + count too large",
                None,
            );
        }
        Some(Port {
            name: name?,
            protocol,
            port,
            count: u16::try_from(count).ok()?,
            socket_activated,
            span: node.span(),
        })
    }

    fn json_value(&mut self, entry: &KdlEntry) -> Option<serde_json::Value> {
        match entry.value() {
            KdlValue::String(s) => Some(serde_json::Value::String(s.clone())),
            KdlValue::Integer(i) => match i64::try_from(*i) {
                Ok(i) => Some(serde_json::Value::from(i)),
                Err(_) => {
                    self.r
                        .error(entry.span(), "integer out of range", "too large", None);
                    None
                }
            },
            KdlValue::Float(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number),
            KdlValue::Bool(b) => Some(serde_json::Value::Bool(*b)),
            KdlValue::Null => Some(serde_json::Value::Null),
        }
    }

    /// Properties become object fields; each child `key a b c` becomes a list field.
    fn isolator(&mut self, node: &KdlNode) -> Option<Isolator> {
        self.shape(node, 1, Some(1), None, true);
        let name = self.arg_string(node, 0, "the isolator name")?;
        let mut value = serde_json::Map::new();
        for (key, entry) in props(node) {
            if let Some(v) = self.json_value(entry) {
                value.insert(key.to_owned(), v);
            }
        }
        for child in node.iter_children() {
            self.shape(child, 0, None, Some(&[]), false);
            let list: Vec<serde_json::Value> = args(child)
                .into_iter()
                .filter_map(|e| self.json_value(e))
                .collect();
            let key = node_name(child).to_owned();
            if value.contains_key(&key) {
                self.r.error(
                    child.name().span(),
                    format!("isolator field `{key}` is given twice"),
                    "duplicate field",
                    None,
                );
            }
            value.insert(key, serde_json::Value::Array(list));
        }
        Some(Isolator {
            name,
            value: serde_json::Value::Object(value),
            span: node.span(),
        })
    }

    fn test(&mut self, node: &KdlNode) -> Option<Test> {
        self.shape(node, 1, Some(1), Some(&[]), true);
        let name = self.arg_string(node, 0, "the test name");
        let mut exec = None;
        let mut expect_exit = 0;
        let mut contains = Vec::new();
        let mut seen = BTreeMap::new();
        for child in node.iter_children() {
            match node_name(child) {
                "exec" => {
                    if self.once(&mut seen, "exec", child) {
                        exec = Some(self.exec(child));
                    }
                }
                "expect-exit" => {
                    if self.once(&mut seen, "expect-exit", child) {
                        self.shape(child, 1, Some(1), Some(&[]), false);
                        if let Some(e) = args(child).first() {
                            expect_exit = self
                                .integer(e, "the exit status", 0, 255)
                                .and_then(|i| i32::try_from(i).ok())
                                .unwrap_or(0);
                        }
                    }
                }
                "expect-stdout-contains" => {
                    self.shape(child, 1, Some(1), Some(&[]), false);
                    contains.extend(self.arg_string(child, 0, "the expected text"));
                }
                _ => self.unknown_node(child, "`test`", TEST_NODES),
            }
        }
        let name = name?;
        let Some(exec) = exec else {
            self.r.error(
                node.name().span(),
                format!("test `{}` needs an `exec`", name.value),
                "no exec",
                Some("add: exec \"/usr/bin/program\" \"--version\"".to_owned()),
            );
            return None;
        };
        Some(Test {
            name,
            exec,
            expect_exit,
            expect_stdout_contains: contains,
            span: node.span(),
        })
    }

    /// Rules across nodes: labels, path claims, accounts, the app's user and group.
    fn image_rules(&mut self, image: &mut Image) {
        let mut labels: BTreeMap<String, SourceSpan> = BTreeMap::new();
        if let Some(v) = &image.version {
            labels.insert("version".to_owned(), v.span);
        }
        for kv in &image.labels {
            if let Some(first) = labels.get(&kv.key.value) {
                self.r.conflict(
                    kv.key.span,
                    *first,
                    format!("label `{}` is given twice", kv.key.value),
                    Some("keep one of them".to_owned()),
                );
            } else {
                labels.insert(kv.key.value.clone(), kv.key.span);
            }
        }
        let mut annotations: BTreeMap<String, SourceSpan> = BTreeMap::new();
        for kv in &image.annotations {
            if let Some(first) = annotations.get(&kv.key.value) {
                self.r.conflict(
                    kv.key.span,
                    *first,
                    format!("annotation `{}` is given twice", kv.key.value),
                    Some("keep one of them".to_owned()),
                );
            } else {
                annotations.insert(kv.key.value.clone(), kv.key.span);
            }
        }
        self.accounts(image);
        self.path_claims(image);
        if let Some(app) = &image.app {
            let users: Vec<&str> = image.users.iter().map(|u| u.name.value.as_str()).collect();
            let mut groups: Vec<&str> = image.users.iter().map(|u| u.group.as_str()).collect();
            groups.extend(image.groups.iter().map(|g| g.name.value.as_str()));
            for (who, value, known, node) in [
                ("user", &app.user, &users, "user \"NAME\" uid=1000"),
                ("group", &app.group, &groups, "group \"NAME\" gid=1000"),
            ] {
                if let Some(v) = value
                    && !v.value.bytes().all(|b| b.is_ascii_digit())
                    && !known.contains(&v.value.as_str())
                {
                    self.r.error(
                        v.span,
                        format!("the app's {who} `{}` is not declared in the image", v.value),
                        format!("unknown {who}"),
                        Some(format!(
                            "declare it in `image` ({}) or use a number",
                            node.replace("NAME", &v.value)
                        )),
                    );
                }
            }
        }
    }

    fn accounts(&mut self, image: &Image) {
        let mut user_names: BTreeMap<&str, SourceSpan> = BTreeMap::new();
        let mut uids: BTreeMap<u32, SourceSpan> = BTreeMap::new();
        // Group name -> (gid, span) from user primary groups and explicit groups.
        let mut groups: BTreeMap<&str, (u32, SourceSpan)> = BTreeMap::new();
        for user in &image.users {
            if let Some(first) = user_names.get(user.name.value.as_str()) {
                self.r.conflict(
                    user.name.span,
                    *first,
                    format!("user `{}` is declared twice", user.name.value),
                    None,
                );
                continue;
            }
            user_names.insert(&user.name.value, user.name.span);
            if let Some(first) = uids.get(&user.uid) {
                self.r.conflict(
                    user.span,
                    *first,
                    format!("uid {} is used by two users", user.uid),
                    Some("give each user its own uid".to_owned()),
                );
            }
            uids.insert(user.uid, user.span);
            match groups.get(user.group.as_str()) {
                Some((gid, first)) if *gid != user.gid => self.r.conflict(
                    user.span,
                    *first,
                    format!(
                        "group `{}` is given gid {} here and gid {gid} before",
                        user.group, user.gid
                    ),
                    None,
                ),
                Some(_) => {}
                None => {
                    groups.insert(&user.group, (user.gid, user.span));
                }
            }
        }
        for group in &image.groups {
            match groups.get(group.name.value.as_str()) {
                Some((gid, first)) if *gid != group.gid => self.r.conflict(
                    group.span,
                    *first,
                    format!(
                        "group `{}` is given gid {} here and gid {gid} before",
                        group.name.value, group.gid
                    ),
                    None,
                ),
                Some(_) => {}
                None => {
                    groups.insert(&group.name.value, (group.gid, group.span));
                }
            }
        }
    }

    /// Two declarations of one image path must agree; a path below a non-directory is an error.
    fn path_claims(&mut self, image: &mut Image) {
        #[derive(PartialEq)]
        enum Claim<'a> {
            Entry(&'a EntryKind, Attributes),
            Accounts,
        }
        let mut claims: BTreeMap<&str, (Claim<'_>, SourceSpan)> = BTreeMap::new();
        let mut duplicates = Vec::new();
        if let Some(first) = image
            .users
            .first()
            .map(|u| u.span)
            .or(image.groups.first().map(|g| g.span))
        {
            claims.insert("/etc/passwd", (Claim::Accounts, first));
            claims.insert("/etc/group", (Claim::Accounts, first));
        }
        let mut problems = Vec::new();
        for (i, entry) in image.entries.iter().enumerate() {
            let claim = Claim::Entry(&entry.kind, entry.attributes);
            match claims.get(entry.path.value.as_str()) {
                Some((existing, _)) if *existing == claim => duplicates.push(i),
                Some((existing, first)) => {
                    let why = match existing {
                        Claim::Accounts => " (written from the `user`/`group` nodes)",
                        Claim::Entry(..) => "",
                    };
                    problems.push((
                        entry.path.span,
                        *first,
                        format!(
                            "`{}` is declared twice with different content{why}",
                            entry.path.value
                        ),
                    ));
                }
                None => {
                    claims.insert(&entry.path.value, (claim, entry.path.span));
                }
            }
        }
        for (path, (claim, span)) in &claims {
            let mut parent = *path;
            while let Some(cut) = parent.rfind('/').filter(|c| *c > 0) {
                parent = &parent[..cut];
                if let Some((parent_claim, parent_span)) = claims.get(parent) {
                    let is_dir = matches!(
                        parent_claim,
                        Claim::Entry(EntryKind::Dir | EntryKind::Tree { .. }, _)
                    );
                    if !is_dir {
                        let _ = claim;
                        problems.push((
                            *span,
                            *parent_span,
                            format!("`{path}` lies below `{parent}`, which is not a directory"),
                        ));
                    }
                }
            }
        }
        problems.sort_by_key(|(span, _, _)| span.offset());
        for (span, first, message) in problems {
            self.r.conflict(
                span,
                first,
                message,
                Some("keep one declaration per path".to_owned()),
            );
        }
        for i in duplicates.into_iter().rev() {
            image.entries.remove(i);
        }
    }
}

/// A one-line usage example for each node, shown as a hint.
fn usage(node: &str) -> &'static str {
    match node {
        "image" => "image \"example.com/name\" version=\"1.0\" { ... }",
        "label" => "label os=\"linux\" arch=\"amd64\"",
        "annotation" => "annotation homepage=\"https://example.com\"",
        "program" => "program \"/usr/bin/prog\" (optionally to=\"/bin/prog\" mode=0o755)",
        "file" => "file \"/etc/file\" (optionally to=\"/path\" mode=0o644 uid=0 gid=0)",
        "tree" => "tree \"./dir\" to=\"/srv/dir\"",
        "dir" => "dir \"/var/lib/app\" mode=0o700 uid=1000 gid=1000",
        "symlink" => "symlink \"/bin/app\" target=\"/usr/bin/app\"",
        "text" => "text \"/etc/motd\" \"hello\\n\" mode=0o644",
        "user" => "user \"app\" uid=1000 group=\"app\" gid=1000 home=\"/var/lib/app\"",
        "group" => "group \"app\" gid=1000",
        "runtime" => "runtime \"nss\" \"certs\" (sets: nss, gconv, certs, tzdata)",
        "dependency" => "dependency \"example.com/base\" version=\"1.0\"",
        "path-whitelist" => "path-whitelist \"/usr/bin/prog\" \"/etc/file\"",
        "app" => "app { exec \"/usr/bin/prog\"; user \"0\"; group \"0\" }",
        "exec" => "exec \"/usr/bin/prog\" \"--flag\"",
        "port" => "port \"http\" protocol=\"tcp\" port=8080",
        "mount" => "mount \"data\" path=\"/var/lib/app\" read-only=#false",
        "event" => "event \"pre-start\" \"/usr/bin/prog\" \"--check\"",
        "env" => "env NAME=\"value\"",
        "isolator" => "isolator \"resource/memory\" limit=\"1G\"",
        "test" => "test \"version\" { exec \"/usr/bin/prog\" \"--version\"; expect-exit 0 }",
        "expect-exit" => "expect-exit 0",
        "expect-stdout-contains" => "expect-stdout-contains \"1.0\"",
        "working-directory" => "working-directory \"/var/lib/app\"",
        "user-or-group" | "supplementary-gids" => "supplementary-gids 10 20",
        _ => "see docs/recipe.md",
    }
}

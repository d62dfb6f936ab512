//! From recipe text to [`Recipe`]: KDL syntax, then the recipe language's shape and rules.
//!
//! Checks here need only the text: node and property names, value types, required parts, image
//! paths, duplicate declarations and path conflicts. Checks that need the host (does an input exist,
//! is a program ELF) live in [`super::inputs`]; manifest rules (AC names, isolator values) are
//! checked when the plan converts the model to appc types.
//!
//! What each node is (its shape, how often it may appear, its usage line, its reader) is defined
//! once in [`super::nodes`]; this file is the walker those definitions use, and the rules that
//! span several nodes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::diagnostic::{RecipeErrors, Reporter, did_you_mean};
use super::model::*;
use super::nodes::{self, Context, NodeDef, Props, RecipeScope, Scope, Shape};

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

/// The state of one parse: the problems found so far and where host paths are relative to.
#[derive(Debug)]
pub struct Walker {
    pub(super) r: Reporter,
    base_dir: PathBuf,
}

/// First declarations by key: a second declaration is reported against the first. The one
/// "declared twice" check of the recipe language.
#[derive(Debug)]
pub struct Seen<K>(BTreeMap<K, SourceSpan>);

impl<K> Default for Seen<K> {
    fn default() -> Self {
        Seen(BTreeMap::new())
    }
}

impl<K: Ord + Clone> Seen<K> {
    /// Record `key`; when it was seen before, report `message` at both places and return false.
    pub(super) fn first(
        &mut self,
        r: &mut Reporter,
        key: &Spanned<K>,
        message: impl FnOnce() -> String,
        help: Option<&str>,
    ) -> bool {
        match self.0.get(&key.value) {
            Some(first) => {
                r.conflict(key.span, *first, message(), help.map(str::to_owned));
                false
            }
            None => {
                self.0.insert(key.value.clone(), key.span);
                true
            }
        }
    }
}

pub(super) fn args(node: &KdlNode) -> Vec<&KdlEntry> {
    node.entries()
        .iter()
        .filter(|e| e.name().is_none())
        .collect()
}

pub(super) fn props(node: &KdlNode) -> Vec<(&str, &KdlEntry)> {
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

pub(super) fn node_name(node: &KdlNode) -> &str {
    node.name().value()
}

impl Walker {
    pub(super) fn unknown_node(&mut self, node: &KdlNode, context: &str, known: &[&str]) {
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
    pub(super) fn shape(&mut self, node: &KdlNode, name: &str, shape: &Shape, usage: &str) {
        let Shape {
            min_args,
            max_args,
            props: known_props,
            children,
        } = *shape;
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
                Some(usage.to_owned()),
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
                Some(usage.to_owned()),
            );
        }
        let mut seen = Seen::default();
        for (key, entry) in props(node) {
            let message = || format!("property `{key}` is given twice");
            seen.first(
                &mut self.r,
                &Spanned::new(key, entry.span()),
                message,
                Some("keep one of them"),
            );
            if let Props::Only(known) = known_props
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
                Some(usage.to_owned()),
            );
        }
    }

    pub(super) fn string_value(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
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

    pub(super) fn arg_string(
        &mut self,
        node: &KdlNode,
        index: usize,
        what: &str,
    ) -> Option<Spanned<String>> {
        let entry = *args(node).get(index)?;
        self.string_value(entry, what)
    }

    pub(super) fn prop<'n>(node: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
        // The last occurrence wins, as in KDL; duplicates are reported by `shape`.
        node.entries()
            .iter()
            .rev()
            .find(|e| e.name().is_some_and(|n| n.value() == key))
    }

    pub(super) fn prop_string(&mut self, node: &KdlNode, key: &str) -> Option<Spanned<String>> {
        let entry = Self::prop(node, key)?;
        self.string_value(entry, &format!("`{key}`"))
    }

    pub(super) fn integer(
        &mut self,
        entry: &KdlEntry,
        what: &str,
        min: i128,
        max: i128,
    ) -> Option<i128> {
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

    pub(super) fn prop_integer(
        &mut self,
        node: &KdlNode,
        key: &str,
        min: i128,
        max: i128,
    ) -> Option<i128> {
        let entry = Self::prop(node, key)?;
        self.integer(entry, &format!("`{key}`"), min, max)
    }

    pub(super) fn prop_u32(&mut self, node: &KdlNode, key: &str) -> Option<u32> {
        self.prop_integer(node, key, 0, i128::from(u32::MAX))
            .and_then(|i| u32::try_from(i).ok())
    }

    pub(super) fn prop_bool(&mut self, node: &KdlNode, key: &str) -> Option<bool> {
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
    pub(super) fn image_path(
        &mut self,
        value: Spanned<String>,
        allow_root: bool,
    ) -> Option<Spanned<String>> {
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

    pub(super) fn host_path(&self, value: &Spanned<String>) -> Spanned<PathBuf> {
        // `components()` drops `.` components; `..` is kept, since it may cross a symlink.
        let joined: PathBuf = self.base_dir.join(&value.value).components().collect();
        Spanned::new(joined, value.span)
    }

    fn document(&mut self, doc: &KdlDocument) -> Option<Image> {
        let mut scope = RecipeScope::default();
        self.nodes(doc.nodes().iter(), &mut scope);
        if scope.image.is_none() && !self.r.has_errors() {
            let usage = nodes::find(Context::Recipe, "image").map_or("", |d| d.usage);
            self.r.error(
                SourceSpan::from(0..0),
                "the recipe has no `image` node",
                "empty recipe",
                Some(usage.to_owned()),
            );
        }
        scope.image.flatten()
    }

    /// Read the children of `parent` into `scope`, each by its definition in [`nodes::NODES`].
    pub(super) fn children<S: Scope>(&mut self, parent: &KdlNode, scope: &mut S) {
        self.nodes(parent.iter_children(), scope);
    }

    fn nodes<'a, S: Scope>(&mut self, nodes: impl Iterator<Item = &'a KdlNode>, scope: &mut S) {
        let mut once = Seen::default();
        for node in nodes {
            let name = node_name(node);
            let found = nodes::find(S::CONTEXT, name).and_then(|d| Some((d, S::reader(d)?)));
            let Some((def, read)) = found else {
                self.unknown_node(node, S::CONTEXT.describe(), &nodes::names(S::CONTEXT));
                continue;
            };
            if !self.first_of_its_kind(&mut once, def, node) {
                continue;
            }
            self.shape(node, def.name, &def.shape, def.usage);
            read(self, def, node, scope);
        }
    }

    /// The "given twice" check of nodes that may appear once in their parent.
    fn first_of_its_kind(
        &mut self,
        once: &mut Seen<&'static str>,
        def: &NodeDef,
        node: &KdlNode,
    ) -> bool {
        let key = Spanned::new(def.name, node.name().span());
        match def.repeat {
            nodes::Repeat::Many => true,
            nodes::Repeat::Once => {
                let message = || format!("`{}` is given twice", def.name);
                once.first(&mut self.r, &key, message, Some("keep one of them"))
            }
            nodes::Repeat::OnceWith { message, help } => {
                once.first(&mut self.r, &key, || message.to_owned(), Some(help))
            }
        }
    }

    pub(super) fn missing_prop(&mut self, def: &NodeDef, node: &KdlNode, key: &str) {
        self.r.error(
            node.name().span(),
            format!("`{}` needs the property `{key}`", def.name),
            format!("`{key}=` missing"),
            Some(def.usage.to_owned()),
        );
    }

    /// A string property the node cannot do without: reported when missing.
    pub(super) fn required_prop_string(
        &mut self,
        def: &NodeDef,
        node: &KdlNode,
        key: &str,
    ) -> Option<Spanned<String>> {
        if Self::prop(node, key).is_none() {
            self.missing_prop(def, node, key);
        }
        self.prop_string(node, key)
    }

    /// `label`/`annotation`/`env`: any property names, string values, no arguments.
    pub(super) fn key_values(&mut self, def: &NodeDef, node: &KdlNode) -> Vec<KeyValue> {
        let pairs = props(node);
        if pairs.is_empty() {
            self.r.error(
                node.name().span(),
                format!("`{}` needs at least one key=\"value\" property", def.name),
                "nothing declared",
                Some(def.usage.to_owned()),
            );
        }
        pairs
            .into_iter()
            .filter_map(|(key, entry)| self.key_value(key, entry, def.name))
            .collect()
    }

    /// One `key="value"` property of a `what` (label, annotation, env).
    pub(super) fn key_value(
        &mut self,
        key: &str,
        entry: &KdlEntry,
        what: &str,
    ) -> Option<KeyValue> {
        let key_span = entry.name().map_or(entry.span(), |n| n.span());
        let value = self.string_value(entry, &format!("{what} `{key}`"))?;
        Some(KeyValue {
            key: Spanned::new(key.to_owned(), key_span),
            value,
        })
    }

    /// A value that is not one of `known`: "did you mean", else `fallback`.
    pub(super) fn unknown_value(
        &mut self,
        value: &Spanned<String>,
        what: &str,
        label: &str,
        known: &[&str],
        fallback: &str,
    ) {
        let help = match did_you_mean(&value.value, known) {
            Some(s) => format!("did you mean `{s}`?"),
            None => fallback.to_owned(),
        };
        self.r.error(
            value.span,
            format!("unknown {what} `{}`", value.value),
            label.to_owned(),
            Some(help),
        );
    }

    /// There is no PATH lookup in an ACI: a program is an absolute path.
    pub(super) fn absolute_program(&mut self, program: &Spanned<String>, help: Option<&str>) {
        if !program.value.starts_with('/') {
            self.r.error(
                program.span,
                format!("the program `{}` must be an absolute path", program.value),
                "relative program",
                help.map(str::to_owned),
            );
        }
    }

    pub(super) fn attributes(&mut self, node: &KdlNode) -> Attributes {
        Attributes {
            mode: self
                .prop_integer(node, "mode", 0, 0o7777)
                .and_then(|m| u32::try_from(m).ok()),
            uid: self.prop_u32(node, "uid"),
            gid: self.prop_u32(node, "gid"),
        }
    }

    pub(super) fn account_name(&mut self, name: &Spanned<String>) {
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

    pub(super) fn passwd_field(&mut self, value: &Spanned<String>) {
        if value.value.contains([':', '\n']) {
            self.r.error(
                value.span,
                "passwd fields must not contain `:` or a newline",
                "invalid field",
                None,
            );
        }
    }

    pub(super) fn exec(&mut self, node: &KdlNode) -> Vec<Spanned<String>> {
        let mut out = Vec::new();
        for (i, entry) in args(node).into_iter().enumerate() {
            let what = if i == 0 { "the program" } else { "an argument" };
            if let Some(s) = self.string_value(entry, what) {
                out.push(s);
            }
        }
        if let Some(program) = out.first() {
            let help = "there is no PATH lookup in an ACI: write /usr/bin/...";
            self.absolute_program(&program.clone(), Some(help));
        }
        out
    }

    pub(super) fn id_or_name(&mut self, node: &KdlNode) -> Option<Spanned<String>> {
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

    pub(super) fn port(&mut self, def: &NodeDef, node: &KdlNode) -> Option<Port> {
        let name = self.arg_string(node, 0, "the port name");
        if Self::prop(node, "port").is_none() {
            self.missing_prop(def, node, "port");
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

    pub(super) fn json_value(&mut self, entry: &KdlEntry) -> Option<serde_json::Value> {
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

    /// Rules across nodes: labels, path claims, accounts, the app's user and group.
    pub(super) fn image_rules(&mut self, image: &mut Image) {
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

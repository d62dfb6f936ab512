//! The recipe nodes, each defined once: its name, where it may appear, its arguments and
//! properties, whether it may be given twice, a usage line, a one-line description, and the
//! function that reads it into the model.
//!
//! The table [`NODES`] drives everything that used to spell a node several times: dispatch by
//! context and name, the shape checks (argument count, known properties, children), the "given
//! twice" check of single nodes, "unknown node" suggestions, the usage hints of diagnostics, and
//! the node reference in `docs/recipe.md` (a test keeps the two equal). Adding a node is one
//! entry here and its reader below, plus what it puts in the rootfs (`plan.rs`) and its docs.
//! Rules across nodes (path claims, accounts, labels) stay in `parse.rs`.

use kdl::KdlNode;
use serde_json::Value;

use super::model::*;
use super::parse::{Seen, Walker, args, node_name, props};

/// Where a node may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The top level of the recipe file.
    Recipe,
    /// Inside `image { ... }`.
    Image,
    /// Inside `app { ... }`.
    App,
    /// Inside `test "name" { ... }`.
    Test,
}

impl Context {
    /// How diagnostics name the context.
    pub fn describe(self) -> &'static str {
        match self {
            Context::Recipe => "a recipe",
            Context::Image => "`image`",
            Context::App => "`app`",
            Context::Test => "`test`",
        }
    }
}

/// The properties a node accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Props {
    /// Only these names (none when empty).
    Only(&'static [&'static str]),
    /// Any name: the properties are the node's data (labels, environment, isolator fields).
    Any,
}

/// The syntactic shape of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Fewest arguments.
    pub min_args: usize,
    /// Most arguments (`None`: no limit).
    pub max_args: Option<usize>,
    /// Accepted properties.
    pub props: Props,
    /// Whether a `{ ... }` block is allowed.
    pub children: bool,
}

/// How often a node may appear in one parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Any number of times.
    Many,
    /// At most once: "`NAME` is given twice".
    Once,
    /// At most once, with its own message and hint.
    OnceWith {
        /// The message at the second node.
        message: &'static str,
        /// The hint.
        help: &'static str,
    },
}

/// A reader: the node's values into the parent's scope.
pub type ReadFn<S> = fn(&mut Walker, &NodeDef, &KdlNode, &mut S);

/// The reader of a node, by the scope it writes into.
#[derive(Debug, Clone, Copy)]
pub enum Read {
    /// A top-level node.
    Recipe(ReadFn<RecipeScope>),
    /// A node inside `image`.
    Image(ReadFn<ImageScope>),
    /// A node inside `app`.
    App(ReadFn<AppScope>),
    /// A node inside `test`.
    Test(ReadFn<TestScope>),
}

/// One recipe node.
#[derive(Debug)]
pub struct NodeDef {
    /// The node name.
    pub name: &'static str,
    /// Where it may appear.
    pub context: Context,
    /// Its arguments, properties and block.
    pub shape: Shape,
    /// Whether it may repeat.
    pub repeat: Repeat,
    /// A one-line example, shown as a hint.
    pub usage: &'static str,
    /// What it declares, for the node reference.
    pub doc: &'static str,
    /// How it is read.
    pub read: Read,
}

/// The scopes node readers write into; each names its context and picks its readers.
pub trait Scope: Sized {
    /// The context of the scope's children.
    const CONTEXT: Context;
    /// The reader of `def` if it reads into this scope.
    fn reader(def: &NodeDef) -> Option<ReadFn<Self>>;
}

/// The top level: at most one image.
#[derive(Debug, Default)]
pub struct RecipeScope {
    /// The image node, once read (`Some(None)` when it had errors).
    pub image: Option<Option<Image>>,
}

/// Inside `image`.
#[derive(Debug)]
pub struct ImageScope {
    /// The image being read.
    pub image: Image,
    tests: Seen<String>,
}

/// Inside `app`.
#[derive(Debug)]
pub struct AppScope {
    /// The app being read.
    pub app: App,
    /// Whether an `exec` node was given.
    pub has_exec: bool,
    env: Seen<String>,
    ports: Seen<String>,
    mounts: Seen<String>,
    events: Seen<String>,
}

/// Inside `test`.
#[derive(Debug, Default)]
pub struct TestScope {
    /// The command, if given.
    pub exec: Option<Vec<Spanned<String>>>,
    /// The expected exit status.
    pub expect_exit: i32,
    /// Texts the output must contain.
    pub contains: Vec<Spanned<String>>,
    /// Texts the error output must contain.
    pub stderr_contains: Vec<Spanned<String>>,
    /// The time limit in seconds, if given.
    pub timeout: Option<u64>,
}

impl Scope for RecipeScope {
    const CONTEXT: Context = Context::Recipe;
    fn reader(def: &NodeDef) -> Option<ReadFn<Self>> {
        match def.read {
            Read::Recipe(f) => Some(f),
            _ => None,
        }
    }
}

impl Scope for ImageScope {
    const CONTEXT: Context = Context::Image;
    fn reader(def: &NodeDef) -> Option<ReadFn<Self>> {
        match def.read {
            Read::Image(f) => Some(f),
            _ => None,
        }
    }
}

impl Scope for AppScope {
    const CONTEXT: Context = Context::App;
    fn reader(def: &NodeDef) -> Option<ReadFn<Self>> {
        match def.read {
            Read::App(f) => Some(f),
            _ => None,
        }
    }
}

impl Scope for TestScope {
    const CONTEXT: Context = Context::Test;
    fn reader(def: &NodeDef) -> Option<ReadFn<Self>> {
        match def.read {
            Read::Test(f) => Some(f),
            _ => None,
        }
    }
}

/// The node `name` in `context`.
pub fn find(context: Context, name: &str) -> Option<&'static NodeDef> {
    NODES
        .iter()
        .find(|d| d.context == context && d.name == name)
}

/// The names of the nodes allowed in `context`, in table order.
pub fn names(context: Context) -> Vec<&'static str> {
    NODES
        .iter()
        .filter(|d| d.context == context)
        .map(|d| d.name)
        .collect()
}

const ATTRIBUTES: &[&str] = &["mode", "uid", "gid"];
const HOST_ENTRY: &[&str] = &["to", "mode", "uid", "gid"];

const fn shape(min_args: usize, max_args: Option<usize>, props: Props, children: bool) -> Shape {
    Shape {
        min_args,
        max_args,
        props,
        children,
    }
}

const NONE: Props = Props::Only(&[]);

/// Every recipe node.
pub static NODES: &[NodeDef] = &[
    NodeDef {
        name: "image",
        context: Context::Recipe,
        shape: shape(1, Some(1), Props::Only(&["version"]), true),
        repeat: Repeat::OnceWith {
            message: "a recipe describes exactly one image",
            help: "put each image in its own recipe file",
        },
        usage: "image \"example.com/name\" version=\"1.0\" { ... }",
        doc: "the image: its name (an AC identifier), `version` label, and the nodes below",
        read: Read::Recipe(read_image),
    },
    NodeDef {
        name: "label",
        context: Context::Image,
        shape: shape(0, Some(0), Props::Any, false),
        repeat: Repeat::Many,
        usage: "label os=\"linux\" arch=\"amd64\"",
        doc: "image labels (`os` and `arch` default to the host's)",
        read: Read::Image(read_label),
    },
    NodeDef {
        name: "annotation",
        context: Context::Image,
        shape: shape(0, Some(0), Props::Any, false),
        repeat: Repeat::Many,
        usage: "annotation homepage=\"https://example.com\"",
        doc: "image annotations",
        read: Read::Image(read_annotation),
    },
    NodeDef {
        name: "program",
        context: Context::Image,
        shape: shape(1, Some(1), Props::Only(HOST_ENTRY), false),
        repeat: Repeat::Many,
        usage: "program \"/usr/bin/prog\" (optionally to=\"/bin/prog\" mode=0o755)",
        doc: "an ELF program from the host, with every library it loads",
        read: Read::Image(read_entry),
    },
    NodeDef {
        name: "file",
        context: Context::Image,
        shape: shape(1, Some(1), Props::Only(HOST_ENTRY), false),
        repeat: Repeat::Many,
        usage: "file \"/etc/file\" (optionally to=\"/path\" mode=0o644 uid=0 gid=0)",
        doc: "a host file copied as is",
        read: Read::Image(read_entry),
    },
    NodeDef {
        name: "tree",
        context: Context::Image,
        shape: shape(1, Some(1), Props::Only(HOST_ENTRY), false),
        repeat: Repeat::Many,
        usage: "tree \"./dir\" to=\"/srv/dir\"",
        doc: "a host directory copied recursively",
        read: Read::Image(read_entry),
    },
    NodeDef {
        name: "dir",
        context: Context::Image,
        shape: shape(1, Some(1), Props::Only(ATTRIBUTES), false),
        repeat: Repeat::Many,
        usage: "dir \"/var/lib/app\" mode=0o700 uid=1000 gid=1000",
        doc: "an empty directory",
        read: Read::Image(read_entry),
    },
    NodeDef {
        name: "symlink",
        context: Context::Image,
        shape: shape(1, Some(1), Props::Only(&["target"]), false),
        repeat: Repeat::Many,
        usage: "symlink \"/bin/app\" target=\"/usr/bin/app\"",
        doc: "a symbolic link",
        read: Read::Image(read_entry),
    },
    NodeDef {
        name: "text",
        context: Context::Image,
        shape: shape(2, Some(2), Props::Only(ATTRIBUTES), false),
        repeat: Repeat::Many,
        usage: "text \"/etc/motd\" \"hello\\n\" mode=0o644",
        doc: "a file whose content is written in the recipe",
        read: Read::Image(read_entry),
    },
    NodeDef {
        name: "empty",
        context: Context::Image,
        shape: shape(1, Some(1), Props::Only(ATTRIBUTES), false),
        repeat: Repeat::Many,
        usage: "empty \"/etc/machine-id\" mode=0o444",
        doc: "an empty file (a file programs expect to exist, such as `/etc/machine-id`)",
        read: Read::Image(read_empty),
    },
    NodeDef {
        name: "user",
        context: Context::Image,
        shape: shape(
            1,
            Some(1),
            Props::Only(&["uid", "group", "gid", "home", "shell"]),
            false,
        ),
        repeat: Repeat::Many,
        usage: "user \"app\" uid=1000 group=\"app\" gid=1000 home=\"/var/lib/app\"",
        doc: "an account in `/etc/passwd` (and its group in `/etc/group`)",
        read: Read::Image(read_user),
    },
    NodeDef {
        name: "group",
        context: Context::Image,
        shape: shape(1, Some(1), Props::Only(&["gid"]), false),
        repeat: Repeat::Many,
        usage: "group \"app\" gid=1000",
        doc: "a group in `/etc/group`",
        read: Read::Image(read_group),
    },
    NodeDef {
        name: "package",
        context: Context::Image,
        shape: shape(1, Some(1), Props::Only(&["version", "arch"]), false),
        repeat: Repeat::Many,
        usage: "package \"etcd-server\" version=\"3.4.23-4+b4\" arch=\"amd64\"",
        doc: "a Debian package the image's programs and libraries come from (package mode)",
        read: Read::Image(read_package),
    },
    NodeDef {
        name: "runtime",
        context: Context::Image,
        shape: shape(1, None, NONE, false),
        repeat: Repeat::Many,
        usage: "runtime \"nss\" \"certs\" (sets: nss, gconv, certs, tzdata, locale)",
        doc: "file sets loaded at run time, which tracing cannot see",
        read: Read::Image(read_runtime),
    },
    NodeDef {
        name: "dependency",
        context: Context::Image,
        shape: shape(1, Some(1), Props::Any, false),
        repeat: Repeat::Many,
        usage: "dependency \"example.com/base\" version=\"1.0\"",
        doc: "an image this one layers on (`image-id`, `size`, other properties are labels)",
        read: Read::Image(read_dependency),
    },
    NodeDef {
        name: "path-whitelist",
        context: Context::Image,
        shape: shape(1, None, NONE, false),
        repeat: Repeat::Many,
        usage: "path-whitelist \"/usr/bin/prog\" \"/etc/file\"",
        doc: "the manifest's `pathWhitelist`",
        read: Read::Image(read_path_whitelist),
    },
    NodeDef {
        name: "app",
        context: Context::Image,
        shape: shape(0, Some(0), NONE, true),
        repeat: Repeat::OnceWith {
            message: "an image has at most one `app`",
            help: "merge the two `app` blocks",
        },
        usage: "app { exec \"/usr/bin/prog\"; user \"0\"; group \"0\" }",
        doc: "what runs: the manifest's `app`",
        read: Read::Image(read_app),
    },
    NodeDef {
        name: "test",
        context: Context::Image,
        shape: shape(1, Some(1), NONE, true),
        repeat: Repeat::Many,
        usage: "test \"version\" { exec \"/usr/bin/prog\" \"--version\"; expect-exit 0 }",
        doc: "a smoke test run against the built image",
        read: Read::Image(read_test),
    },
    NodeDef {
        name: "exec",
        context: Context::App,
        shape: shape(1, None, NONE, false),
        repeat: Repeat::Once,
        usage: "exec \"/usr/bin/prog\" \"--flag\"",
        doc: "the program (an absolute path) and its arguments",
        read: Read::App(read_app_exec),
    },
    NodeDef {
        name: "user",
        context: Context::App,
        shape: shape(1, Some(1), NONE, false),
        repeat: Repeat::Once,
        usage: "user \"app\" uid=1000 group=\"app\" gid=1000 home=\"/var/lib/app\"",
        doc: "the user the app runs as: a declared name or a number",
        read: Read::App(read_app_user),
    },
    NodeDef {
        name: "group",
        context: Context::App,
        shape: shape(1, Some(1), NONE, false),
        repeat: Repeat::Once,
        usage: "group \"app\" gid=1000",
        doc: "the app's group: a declared name or a number",
        read: Read::App(read_app_group),
    },
    NodeDef {
        name: "supplementary-gids",
        context: Context::App,
        shape: shape(1, None, NONE, false),
        repeat: Repeat::Many,
        usage: "supplementary-gids 10 20",
        doc: "more group IDs",
        read: Read::App(read_supplementary_gids),
    },
    NodeDef {
        name: "working-directory",
        context: Context::App,
        shape: shape(1, Some(1), NONE, false),
        repeat: Repeat::Once,
        usage: "working-directory \"/var/lib/app\"",
        doc: "the app's working directory",
        read: Read::App(read_working_directory),
    },
    NodeDef {
        name: "env",
        context: Context::App,
        shape: shape(0, Some(0), Props::Any, false),
        repeat: Repeat::Many,
        usage: "env NAME=\"value\"",
        doc: "environment variables",
        read: Read::App(read_env),
    },
    NodeDef {
        name: "port",
        context: Context::App,
        shape: shape(
            1,
            Some(1),
            Props::Only(&["protocol", "port", "count", "socket-activated"]),
            false,
        ),
        repeat: Repeat::Many,
        usage: "port \"http\" protocol=\"tcp\" port=8080",
        doc: "a port the app listens on",
        read: Read::App(read_port),
    },
    NodeDef {
        name: "mount",
        context: Context::App,
        shape: shape(1, Some(1), Props::Only(&["path", "read-only"]), false),
        repeat: Repeat::Many,
        usage: "mount \"data\" path=\"/var/lib/app\" read-only=#false",
        doc: "a mount point (its directory is created in the image)",
        read: Read::App(read_mount),
    },
    NodeDef {
        name: "isolator",
        context: Context::App,
        shape: shape(1, Some(1), Props::Any, true),
        repeat: Repeat::Many,
        usage: "isolator \"resource/memory\" limit=\"1G\"",
        doc: "an isolator: properties are fields, each child `key a b` a list field",
        read: Read::App(read_isolator),
    },
    NodeDef {
        name: "event",
        context: Context::App,
        shape: shape(2, None, NONE, false),
        repeat: Repeat::Many,
        usage: "event \"pre-start\" \"/usr/bin/prog\" \"--check\"",
        doc: "an event handler: `pre-start` or `post-stop`, then the command",
        read: Read::App(read_event),
    },
    NodeDef {
        name: "exec",
        context: Context::Test,
        shape: shape(1, None, NONE, false),
        repeat: Repeat::Once,
        usage: "exec \"/usr/bin/prog\" \"--flag\"",
        doc: "the command the test runs in the image",
        read: Read::Test(read_test_exec),
    },
    NodeDef {
        name: "expect-exit",
        context: Context::Test,
        shape: shape(1, Some(1), NONE, false),
        repeat: Repeat::Once,
        usage: "expect-exit 0",
        doc: "the expected exit status (default 0)",
        read: Read::Test(read_expect_exit),
    },
    NodeDef {
        name: "expect-stdout-contains",
        context: Context::Test,
        shape: shape(1, Some(1), NONE, false),
        repeat: Repeat::Many,
        usage: "expect-stdout-contains \"1.0\"",
        doc: "a text the output must contain",
        read: Read::Test(read_expect_stdout_contains),
    },
    NodeDef {
        name: "expect-stderr-contains",
        context: Context::Test,
        shape: shape(1, Some(1), NONE, false),
        repeat: Repeat::Many,
        usage: "expect-stderr-contains \"usage:\"",
        doc: "a text the error output must contain",
        read: Read::Test(read_expect_stderr_contains),
    },
    NodeDef {
        name: "timeout",
        context: Context::Test,
        shape: shape(1, Some(1), NONE, false),
        repeat: Repeat::Once,
        usage: "timeout 30",
        doc: "seconds the test may run before it is stopped and fails (default 60)",
        read: Read::Test(read_timeout),
    },
];

fn read_image(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut RecipeScope) {
    let name = w.arg_string(node, 0, "the image name");
    let version = w.prop_string(node, "version");
    let mut inner = ImageScope {
        image: Image {
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
            packages: Vec::new(),
            app: None,
            tests: Vec::new(),
            span: node.span(),
        },
        tests: Seen::default(),
    };
    w.children(node, &mut inner);
    w.image_rules(&mut inner.image);
    scope.image = Some(name.map(|_| inner.image));
}

fn read_label(w: &mut Walker, def: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    let pairs = w.key_values(def, node);
    scope.image.labels.extend(pairs);
}

fn read_annotation(w: &mut Walker, def: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    let pairs = w.key_values(def, node);
    scope.image.annotations.extend(pairs);
}

fn read_entry(w: &mut Walker, def: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    if let Some(entry) = entry(w, def, node) {
        scope.image.entries.push(entry);
    }
}

/// The rootfs entry of a `program`, `file`, `tree`, `dir`, `symlink` or `text` node.
fn entry(w: &mut Walker, def: &NodeDef, node: &KdlNode) -> Option<Entry> {
    let name = def.name;
    let (kind, path) = match name {
        "program" | "file" | "tree" => {
            let source = w.arg_string(node, 0, "the host path")?;
            let to = match w.prop_string(node, "to") {
                Some(to) => to,
                None if source.value.starts_with('/') => source.clone(),
                None => {
                    w.r.error(
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
            let host = w.host_path(&source);
            let kind = match name {
                "program" => EntryKind::Program { source: host },
                "file" => EntryKind::File { source: host },
                _ => EntryKind::Tree { source: host },
            };
            (kind, to)
        }
        "dir" => (EntryKind::Dir, w.arg_string(node, 0, "the directory path")?),
        "symlink" => {
            let path = w.arg_string(node, 0, "the link path");
            let target = w.required_prop_string(def, node, "target")?;
            if target.value.is_empty() || target.value.contains('\0') {
                w.r.error(
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
            let path = w.arg_string(node, 0, "the file path");
            let content = w.arg_string(node, 1, "the file content");
            (EntryKind::Text { content: content? }, path?)
        }
    };
    let attributes = w.attributes(node);
    let path = w.image_path(path, false)?;
    Some(Entry {
        kind,
        path,
        attributes,
        span: node.span(),
    })
}

fn read_empty(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    let Some(path) = w.arg_string(node, 0, "the file path") else {
        return;
    };
    let attributes = w.attributes(node);
    let Some(path) = w.image_path(path, false) else {
        return;
    };
    // An empty text: the plan writes it as a file of no bytes (0o644 unless `mode` says).
    let content = Spanned::new(String::new(), node.span());
    scope.image.entries.push(Entry {
        kind: EntryKind::Text { content },
        path,
        attributes,
        span: node.span(),
    });
}

fn read_user(w: &mut Walker, def: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    let name = w.arg_string(node, 0, "the user name");
    if Walker::prop(node, "uid").is_none() {
        w.missing_prop(def, node, "uid");
    }
    let uid = w.prop_u32(node, "uid");
    let group = w.prop_string(node, "group");
    let gid = w.prop_u32(node, "gid");
    let home = w.prop_string(node, "home");
    let shell = w.prop_string(node, "shell");
    let Some(name) = name else { return };
    w.account_name(&name);
    if let Some(g) = &group {
        w.account_name(g);
    }
    for field in [&home, &shell].into_iter().flatten() {
        w.passwd_field(field);
    }
    if let Some(home) = &home {
        w.image_path(home.clone(), true);
    }
    let Some(uid) = uid else { return };
    scope.image.users.push(User {
        group: group.map_or_else(|| name.value.clone(), |g| g.value),
        gid: gid.unwrap_or(uid),
        home: home.map_or_else(|| "/".to_owned(), |h| h.value),
        shell: shell.map_or_else(|| "/sbin/nologin".to_owned(), |s| s.value),
        name,
        uid,
        span: node.span(),
    });
}

fn read_group(w: &mut Walker, def: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    let name = w.arg_string(node, 0, "the group name");
    let gid = w.prop_u32(node, "gid");
    if Walker::prop(node, "gid").is_none() {
        w.missing_prop(def, node, "gid");
    }
    if let (Some(name), Some(gid)) = (name, gid) {
        w.account_name(&name);
        scope.image.groups.push(Group {
            name,
            gid,
            span: node.span(),
        });
    }
}

fn read_runtime(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    for entry in args(node) {
        let Some(s) = w.string_value(entry, "a runtime set") else {
            continue;
        };
        match RuntimeSet::ALL.iter().find(|r| r.name() == s.value) {
            Some(set) => scope.image.runtime.push(Spanned::new(*set, s.span)),
            None => {
                let names: Vec<&str> = RuntimeSet::ALL.iter().map(|r| r.name()).collect();
                let known = format!("known sets: {}", names.join(", "));
                w.unknown_value(&s, "runtime set", "unknown set", &names, &known);
            }
        }
    }
}

fn read_package(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    let Some(name) = w.arg_string(node, 0, "the package name") else {
        return;
    };
    let version = w.prop_string(node, "version");
    let arch = w.prop_string(node, "arch");
    let checks = [
        (
            Some(&name),
            crate::deb::control::check_name as fn(&str) -> Result<(), String>,
        ),
        (version.as_ref(), crate::deb::control::check_version),
        (arch.as_ref(), crate::deb::control::check_name),
    ];
    for (value, check) in checks {
        if let Some(v) = value
            && let Err(e) = check(&v.value)
        {
            w.r.error(
                v.span,
                e,
                "invalid package field",
                Some("Debian policy 5.6: lower-case names, versions like 1.2-3".to_owned()),
            );
        }
    }
    if let Some(first) = scope
        .image
        .packages
        .iter()
        .find(|p| p.name.value == name.value)
    {
        let first = first.name.span;
        let message = format!("package `{}` is named twice", name.value);
        w.r.conflict(name.span, first, message, None);
        return;
    }
    scope.image.packages.push(Package {
        name,
        version,
        arch,
        span: node.span(),
    });
}

fn read_dependency(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    let Some(name) = w.arg_string(node, 0, "the dependency's image name") else {
        return;
    };
    let mut dep = Dependency {
        name,
        image_id: None,
        labels: Vec::new(),
        size: None,
        span: node.span(),
    };
    for (key, entry) in props(node) {
        match key {
            "image-id" => dep.image_id = w.string_value(entry, "`image-id`"),
            "size" => {
                dep.size = w
                    .integer(entry, "`size`", 0, i128::from(u64::MAX))
                    .and_then(|s| u64::try_from(s).ok());
            }
            _ => dep.labels.extend(w.key_value(key, entry, "label")),
        }
    }
    scope.image.dependencies.push(dep);
}

fn read_path_whitelist(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    for entry in args(node) {
        if let Some(p) = w.string_value(entry, "a whitelisted path")
            && let Some(p) = w.image_path(p, false)
        {
            scope.image.path_whitelist.push(p);
        }
    }
}

fn read_app(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    let mut inner = AppScope {
        app: App {
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
        },
        has_exec: false,
        env: Seen::default(),
        ports: Seen::default(),
        mounts: Seen::default(),
        events: Seen::default(),
    };
    w.children(node, &mut inner);
    if !inner.has_exec {
        w.r.error(
            node.name().span(),
            "`app` needs an `exec`",
            "no exec",
            Some("add: exec \"/usr/bin/program\" \"--flag\"".to_owned()),
        );
        return;
    }
    scope.image.app = Some(inner.app);
}

fn read_test(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut ImageScope) {
    let name = w.arg_string(node, 0, "the test name");
    let mut inner = TestScope::default();
    w.children(node, &mut inner);
    let Some(name) = name else { return };
    let Some(exec) = inner.exec else {
        w.r.error(
            node.name().span(),
            format!("test `{}` needs an `exec`", name.value),
            "no exec",
            Some("add: exec \"/usr/bin/program\" \"--version\"".to_owned()),
        );
        return;
    };
    let message = || format!("test `{}` is declared twice", name.value);
    if scope.tests.first(
        &mut w.r,
        &name,
        message,
        Some("give each test its own name"),
    ) {
        scope.image.tests.push(Test {
            name,
            exec,
            expect_exit: inner.expect_exit,
            expect_stdout_contains: inner.contains,
            expect_stderr_contains: inner.stderr_contains,
            timeout: inner.timeout,
            span: node.span(),
        });
    }
}

fn read_app_exec(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut AppScope) {
    scope.has_exec = true;
    scope.app.exec = w.exec(node);
}

fn read_app_user(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut AppScope) {
    scope.app.user = w.id_or_name(node);
}

fn read_app_group(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut AppScope) {
    scope.app.group = w.id_or_name(node);
}

fn read_supplementary_gids(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut AppScope) {
    for entry in args(node) {
        if let Some(g) = w.integer(entry, "a gid", 0, i128::from(u32::MAX)) {
            scope.app.supplementary_gids.extend(u32::try_from(g).ok());
        }
    }
}

fn read_working_directory(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut AppScope) {
    scope.app.working_directory = w
        .arg_string(node, 0, "the working directory")
        .and_then(|p| w.image_path(p, true));
}

fn read_env(w: &mut Walker, def: &NodeDef, node: &KdlNode, scope: &mut AppScope) {
    for kv in w.key_values(def, node) {
        let message = || format!("environment variable `{}` is set twice", kv.key.value);
        if scope
            .env
            .first(&mut w.r, &kv.key, message, Some("keep one of them"))
        {
            scope.app.environment.push(kv);
        }
    }
}

fn read_port(w: &mut Walker, def: &NodeDef, node: &KdlNode, scope: &mut AppScope) {
    let Some(port) = w.port(def, node) else {
        return;
    };
    let message = || format!("port `{}` is declared twice", port.name.value);
    if scope.ports.first(&mut w.r, &port.name, message, None) {
        scope.app.ports.push(port);
    }
}

fn read_mount(w: &mut Walker, def: &NodeDef, node: &KdlNode, scope: &mut AppScope) {
    let name = w.arg_string(node, 0, "the mount point name");
    let path = w
        .required_prop_string(def, node, "path")
        .and_then(|p| w.image_path(p, false));
    let read_only = w.prop_bool(node, "read-only").unwrap_or(false);
    let (Some(name), Some(path)) = (name, path) else {
        return;
    };
    let message = || format!("mount point `{}` is declared twice", name.value);
    if scope.mounts.first(&mut w.r, &name, message, None) {
        scope.app.mount_points.push(MountPoint {
            name,
            path,
            read_only,
            span: node.span(),
        });
    }
}

/// Properties become object fields; each child `key a b c` becomes a list field.
fn read_isolator(w: &mut Walker, def: &NodeDef, node: &KdlNode, scope: &mut AppScope) {
    let Some(name) = w.arg_string(node, 0, "the isolator name") else {
        return;
    };
    let mut value = serde_json::Map::new();
    for (key, entry) in props(node) {
        if let Some(v) = w.json_value(entry) {
            value.insert(key.to_owned(), v);
        }
    }
    let field = shape(0, None, NONE, false);
    for child in node.iter_children() {
        w.shape(child, node_name(child), &field, def.usage);
        let list: Vec<Value> = args(child)
            .into_iter()
            .filter_map(|e| w.json_value(e))
            .collect();
        let key = Spanned::new(node_name(child).to_owned(), child.name().span());
        if value.contains_key(&key.value) {
            w.r.error(
                key.span,
                format!("isolator field `{}` is given twice", key.value),
                "duplicate field",
                None,
            );
        }
        value.insert(key.value, Value::Array(list));
    }
    scope.app.isolators.push(Isolator {
        name,
        value: Value::Object(value),
        span: node.span(),
    });
}

fn read_event(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut AppScope) {
    let name = w.arg_string(node, 0, "the event name");
    let exec: Vec<Spanned<String>> = args(node)
        .into_iter()
        .skip(1)
        .filter_map(|e| w.string_value(e, "an argument"))
        .collect();
    let Some(name) = name else { return };
    const EVENTS: &[&str] = &["pre-start", "post-stop"];
    if !EVENTS.contains(&name.value.as_str()) {
        let known = "events are `pre-start` and `post-stop`";
        w.unknown_value(&name, "event", "unknown event", EVENTS, known);
        return;
    }
    let message = || format!("event `{}` has two handlers", name.value);
    if !scope.events.first(&mut w.r, &name, message, None) {
        return;
    }
    if let Some(program) = exec.first() {
        w.absolute_program(program, None);
    }
    scope.app.event_handlers.push(EventHandler {
        name,
        exec,
        span: node.span(),
    });
}

fn read_test_exec(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut TestScope) {
    scope.exec = Some(w.exec(node));
}

fn read_expect_exit(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut TestScope) {
    if let Some(e) = args(node).first() {
        scope.expect_exit = w
            .integer(e, "the exit status", 0, 255)
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(0);
    }
}

fn read_expect_stdout_contains(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut TestScope) {
    scope
        .contains
        .extend(w.arg_string(node, 0, "the expected text"));
}

fn read_expect_stderr_contains(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut TestScope) {
    scope
        .stderr_contains
        .extend(w.arg_string(node, 0, "the expected text"));
}

fn read_timeout(w: &mut Walker, _: &NodeDef, node: &KdlNode, scope: &mut TestScope) {
    if let Some(e) = args(node).first() {
        scope.timeout = w
            .integer(e, "the time limit in seconds", 1, 3600)
            .and_then(|i| u64::try_from(i).ok());
    }
}

/// The node reference of `docs/recipe.md`: one table row per node, from [`NODES`].
pub fn reference() -> String {
    let mut out = String::from("| node | in | arguments | properties | declares |\n");
    out.push_str("|---|---|---|---|---|\n");
    for def in NODES {
        let arguments = match (def.shape.min_args, def.shape.max_args) {
            (0, Some(0)) => "none".to_owned(),
            (min, Some(max)) if min == max => min.to_string(),
            (min, Some(max)) => format!("{min} to {max}"),
            (min, None) => format!("{min} or more"),
        };
        let properties = match def.shape.props {
            Props::Only([]) => "none".to_owned(),
            Props::Only(names) => names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            Props::Any => "any `key=\"value\"`".to_owned(),
        };
        let block = if def.shape.children { " `{ ... }`" } else { "" };
        let once = if def.repeat == Repeat::Many {
            ""
        } else {
            " (at most one)"
        };
        out.push_str(&format!(
            "| `{}`{block} | {} | {arguments} | {properties} | {}{once} |\n",
            def.name,
            match def.context {
                Context::Recipe => "top level",
                Context::Image => "image",
                Context::App => "app",
                Context::Test => "test",
            },
            def.doc,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_is_unique_in_its_context() {
        for (i, a) in NODES.iter().enumerate() {
            for b in &NODES[i + 1..] {
                assert!(
                    a.context != b.context || a.name != b.name,
                    "{} twice in {:?}",
                    a.name,
                    a.context
                );
            }
        }
    }

    #[test]
    fn empty_declares_a_file_of_no_bytes_and_takes_one_path() {
        let parse = |text: &str| {
            super::super::parse_str(
                text,
                std::path::Path::new("t.kdl"),
                std::path::Path::new("/"),
            )
        };
        let recipe = parse("image \"a\" {\n    empty \"/etc/machine-id\" mode=0o444\n}\n").unwrap();
        let entry = &recipe.image.entries[0];
        assert_eq!(entry.path.value, "/etc/machine-id");
        assert_eq!(entry.attributes.mode, Some(0o444));
        assert!(matches!(&entry.kind, EntryKind::Text { content } if content.value.is_empty()));
        let errs = parse("image \"a\" {\n    empty \"/a\" \"/b\"\n}\n").unwrap_err();
        assert!(
            errs.errors()[0]
                .message()
                .contains("`empty` takes at most 1 argument")
        );
    }

    #[test]
    fn the_docs_node_reference_is_the_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/recipe.md");
        let docs = std::fs::read_to_string(path).unwrap();
        let begin = "<!-- node-reference: generated from acbuild/src/recipe/nodes.rs -->\n";
        let end = "<!-- end of node-reference -->";
        let start = docs.find(begin).map(|i| i + begin.len());
        let stop = docs.find(end);
        let table = match (start, stop) {
            (Some(start), Some(stop)) => &docs[start..stop],
            _ => "",
        };
        assert_eq!(
            table,
            reference(),
            "docs/recipe.md's node reference differs from the node table; paste this between \
             the markers:\n{}",
            reference()
        );
    }
}

//! The recipe as plain data: what the author asked for, each part with the source span that asked.
//!
//! Nothing here knows appc types or the host filesystem; the plan step converts this model into
//! image-manifest types and rootfs entries, and reports problems against the spans kept here.

use std::path::PathBuf;

use miette::SourceSpan;

/// A value together with the byte range of the recipe text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where in the recipe text it was written.
    pub span: SourceSpan,
}

impl<T> Spanned<T> {
    /// Pair a value with its span.
    pub fn new(value: T, span: SourceSpan) -> Self {
        Self { value, span }
    }
}

/// A parsed recipe: one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// The recipe file, as given.
    pub path: PathBuf,
    /// The directory relative host paths are resolved against (the recipe file's directory).
    pub base_dir: PathBuf,
    /// The full recipe text, for diagnostics raised by later steps.
    pub source: String,
    /// The image the recipe describes.
    pub image: Image,
}

/// The `image` node: the manifest fields and the rootfs contents.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// The image name (an AC identifier, checked in the plan step).
    pub name: Spanned<String>,
    /// The `version` label, if given.
    pub version: Option<Spanned<String>>,
    /// Labels other than `version`, in recipe order (`os` and `arch` default to the host's).
    pub labels: Vec<KeyValue>,
    /// Annotations, in recipe order.
    pub annotations: Vec<KeyValue>,
    /// The rootfs entries the recipe declares, in recipe order.
    pub entries: Vec<Entry>,
    /// Accounts written to `/etc/passwd` and `/etc/group`.
    pub users: Vec<User>,
    /// Groups without a user of the same name, written to `/etc/group`.
    pub groups: Vec<Group>,
    /// Runtime-loaded file sets that tracing cannot see.
    pub runtime: Vec<Spanned<RuntimeSet>>,
    /// Images this one layers on.
    pub dependencies: Vec<Dependency>,
    /// The manifest's `pathWhitelist`.
    pub path_whitelist: Vec<Spanned<String>>,
    /// Debian packages the rootfs inputs come from (empty: host mode).
    pub packages: Vec<Package>,
    /// The app, if the image is runnable.
    pub app: Option<App>,
    /// Smoke tests run against the built image.
    pub tests: Vec<Test>,
    /// The span of the `image` node.
    pub span: SourceSpan,
}

/// A `key=value` pair of a `label` or `annotation` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: Spanned<String>,
    /// The value.
    pub value: Spanned<String>,
}

/// Ownership and permission bits of an entry; `None` means the kind's default (root, 0755/0644).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attributes {
    /// Permission bits (including setuid, setgid and sticky), at most `0o7777`.
    pub mode: Option<u32>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
}

/// One rootfs entry the recipe declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// What the entry is and where its bytes come from.
    pub kind: EntryKind,
    /// The absolute, normalised path inside the image.
    pub path: Spanned<String>,
    /// Ownership and mode.
    pub attributes: Attributes,
    /// The span of the whole node.
    pub span: SourceSpan,
}

/// The kinds of declared entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// An ELF program copied from the host together with its traced closure.
    Program {
        /// The host file.
        source: Spanned<PathBuf>,
    },
    /// A host file copied as is.
    File {
        /// The host file.
        source: Spanned<PathBuf>,
    },
    /// A host directory copied recursively, in sorted order.
    Tree {
        /// The host directory.
        source: Spanned<PathBuf>,
    },
    /// An empty directory.
    Dir,
    /// A symbolic link.
    Symlink {
        /// The link target, verbatim.
        target: Spanned<String>,
    },
    /// A file whose content is written in the recipe.
    Text {
        /// The content.
        content: Spanned<String>,
    },
}

impl EntryKind {
    /// The node name that declares this kind.
    pub fn node_name(&self) -> &'static str {
        match self {
            Self::Program { .. } => "program",
            Self::File { .. } => "file",
            Self::Tree { .. } => "tree",
            Self::Dir => "dir",
            Self::Symlink { .. } => "symlink",
            Self::Text { .. } => "text",
        }
    }
}

/// A `user` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: Spanned<String>,
    /// User ID.
    pub uid: u32,
    /// Primary group name (defaults to the user name).
    pub group: String,
    /// Primary group ID (defaults to the uid).
    pub gid: u32,
    /// Home directory (defaults to `/`).
    pub home: String,
    /// Login shell (defaults to `/sbin/nologin`).
    pub shell: String,
    /// The span of the node.
    pub span: SourceSpan,
}

/// A `group` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Group name.
    pub name: Spanned<String>,
    /// Group ID.
    pub gid: u32,
    /// The span of the node.
    pub span: SourceSpan,
}

/// Runtime-loaded file sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuntimeSet {
    /// `/etc/nsswitch.conf`, the `libnss_*` modules it names, and their closure.
    Nss,
    /// glibc's gconv modules and `gconv-modules` cache.
    Gconv,
    /// The CA certificate bundle and directory.
    Certs,
    /// `/usr/share/zoneinfo`.
    Tzdata,
    /// The C.UTF-8 locale (`/usr/lib/locale/C.utf8`).
    Locale,
}

impl RuntimeSet {
    /// Every set, in the order the documentation lists them.
    pub const ALL: [RuntimeSet; 5] = [
        Self::Nss,
        Self::Gconv,
        Self::Certs,
        Self::Tzdata,
        Self::Locale,
    ];

    /// The name used in recipes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nss => "nss",
            Self::Gconv => "gconv",
            Self::Certs => "certs",
            Self::Tzdata => "tzdata",
            Self::Locale => "locale",
        }
    }
}

/// A `package` node: a Debian package whose files (and whose dependencies' libraries) the
/// image's inputs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The package name.
    pub name: Spanned<String>,
    /// `version=`: the exact Debian version.
    pub version: Option<Spanned<String>>,
    /// `arch=`: the Debian architecture.
    pub arch: Option<Spanned<String>>,
    /// The span of the node.
    pub span: SourceSpan,
}

/// A `dependency` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The image name.
    pub name: Spanned<String>,
    /// `imageID`, if pinned.
    pub image_id: Option<Spanned<String>>,
    /// Labels (`version=`, `os=`, … properties).
    pub labels: Vec<KeyValue>,
    /// Expected size in bytes.
    pub size: Option<u64>,
    /// The span of the node.
    pub span: SourceSpan,
}

/// The `app` node.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// Program and arguments.
    pub exec: Vec<Spanned<String>>,
    /// User to run as (name or number), default `0`.
    pub user: Option<Spanned<String>>,
    /// Group to run as (name or number), default `0`.
    pub group: Option<Spanned<String>>,
    /// `supplementaryGIDs`.
    pub supplementary_gids: Vec<u32>,
    /// `workingDirectory`.
    pub working_directory: Option<Spanned<String>>,
    /// Environment, in recipe order.
    pub environment: Vec<KeyValue>,
    /// Exposed ports.
    pub ports: Vec<Port>,
    /// Mount points.
    pub mount_points: Vec<MountPoint>,
    /// Isolators.
    pub isolators: Vec<Isolator>,
    /// Event handlers.
    pub event_handlers: Vec<EventHandler>,
    /// The span of the node.
    pub span: SourceSpan,
}

/// A `port` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Port name.
    pub name: Spanned<String>,
    /// `tcp` or `udp`.
    pub protocol: Spanned<String>,
    /// Port number.
    pub port: u16,
    /// Number of consecutive ports (default 1).
    pub count: u16,
    /// Whether the app expects a socket-activated file descriptor.
    pub socket_activated: bool,
    /// The span of the node.
    pub span: SourceSpan,
}

/// A `mount` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPoint {
    /// Mount point name.
    pub name: Spanned<String>,
    /// Path inside the image.
    pub path: Spanned<String>,
    /// Whether the volume is mounted read-only.
    pub read_only: bool,
    /// The span of the node.
    pub span: SourceSpan,
}

/// An `isolator` node: a name and its value, kept as JSON for the manifest layer to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Isolator {
    /// Isolator name, e.g. `resource/memory`.
    pub name: Spanned<String>,
    /// The isolator value object built from the node's properties and children.
    pub value: serde_json::Value,
    /// The span of the node.
    pub span: SourceSpan,
}

/// An `event` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHandler {
    /// `pre-start` or `post-stop`.
    pub name: Spanned<String>,
    /// Program and arguments.
    pub exec: Vec<Spanned<String>>,
    /// The span of the node.
    pub span: SourceSpan,
}

/// A `test` node: a command run in the built image and what it must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    /// Test name.
    pub name: Spanned<String>,
    /// Program and arguments.
    pub exec: Vec<Spanned<String>>,
    /// Expected exit status (default 0).
    pub expect_exit: i32,
    /// Substrings the standard output must contain.
    pub expect_stdout_contains: Vec<Spanned<String>>,
    /// Substrings the standard error must contain.
    pub expect_stderr_contains: Vec<Spanned<String>>,
    /// Seconds the test may run before it is stopped and fails (`None`: the runner's default).
    pub timeout: Option<u64>,
    /// The span of the node.
    pub span: SourceSpan,
}

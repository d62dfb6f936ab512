//! `acrun run`: rkt's command shape — `[POD FLAGS] IMAGE [APP FLAGS] [-- ARGS] [--- IMAGE ...]`
//! (images may also simply follow one another) — turned into a reified pod manifest, then a
//! [`crate::pod::spec::PodSpec`], then a running pod. This file parses and combines flags; the
//! work is in [`crate::pod`].

use crate::metadata::routes::PodInfo;
use crate::metadata::server::Listening;
use crate::pod::launch::{self, Services};
use crate::pod::namespaces;
use crate::pod::ports;
use crate::pod::spec::{self, ImageInfo, Net, PodOptions};
use crate::pod::state;
use appc::isolator::{Isolator, IsolatorValue, RequestLimit, SeccompSet};
use appc::manifest::app::App;
use appc::manifest::pod::{Mount, PodManifest, RuntimeApp, RuntimeImage, Volume, VolumeKind};
use appc::name::AcName;
use appc::quantity::Quantity;
use clap::Parser;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Pod-level flags of `acrun run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// A pod volume: `NAME,kind=host,source=PATH[,readOnly=BOOL][,recursive=BOOL]` or
    /// `NAME,kind=empty[,mode=0755][,uid=N][,gid=N][,readOnly=BOOL]`.
    #[arg(long = "volume", value_name = "VOLUME")]
    pub volumes: Vec<String>,
    /// `none` (own network namespace, loopback only) or `host`.
    #[arg(long, default_value = "none", value_parser = ["none", "host"])]
    pub net: String,
    /// Hostname inside the pod (default `acrun-` + the first UUID group).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Write the pod UUID to this file (atomically) before the pod starts.
    #[arg(long)]
    pub uuid_file_save: Option<PathBuf>,
    /// `K=V` added to every app's environment (after the image's).
    #[arg(long = "set-env", value_name = "K=V")]
    pub set_env: Vec<String>,
    /// Pass acrun's stdin to the app (a pod of one app); when stdin is a terminal, the app gets a
    /// pseudo terminal of its own, relayed to it.
    #[arg(long)]
    pub interactive: bool,
    /// Refuse to run when an isolator cannot be enforced.
    #[arg(long)]
    pub strict: bool,
    /// In a pod of several apps, prefix each output line with `[APP] `: `auto` (when stdout is
    /// a terminal; piped output stays byte-exact), `always` or `never`.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub output_prefix: String,
    /// Publish an app's port: `NAME:[HOSTIP:]HOSTPORT` (HOSTIP default 0.0.0.0, as in appc,
    /// rkt and Docker); forwarded to 127.0.0.1:PORT in the pod. Not with `--net=host`.
    #[arg(long = "port", value_name = "NAME:[HOSTIP:]HOSTPORT")]
    pub ports: Vec<String>,
    /// Run the pod an appc pod manifest describes (apps, overrides, volumes, mounts, ports,
    /// isolators, annotations) instead of IMAGE arguments.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["apps", "volumes", "ports"])]
    pub pod_manifest: Option<PathBuf>,
    /// How each app's fresh root is made: `overlay` over the store's tree, a `copy` of it in
    /// the pod directory, or `auto` (overlay where it can be mounted, else a copy).
    #[arg(long, value_enum, default_value = "auto")]
    pub root_mode: crate::pod::root_mode::RootPolicy,
    /// IMAGE [APP FLAGS] [-- ARGS] [--- IMAGE ...]
    #[arg(
        required_unless_present = "pod_manifest",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub apps: Vec<String>,
}

/// Per-app flags (after an IMAGE).
#[derive(Debug, Clone, Default, Parser)]
#[command(no_binary_name = true, disable_help_flag = true)]
pub struct AppFlags {
    /// Program to run instead of the image's `exec[0]`.
    #[arg(long)]
    pub exec: Option<String>,
    /// App name (default: the last path segment of the image name).
    #[arg(long)]
    pub name: Option<String>,
    /// User (name in the image's /etc/passwd, number, or a file whose owner is used).
    #[arg(long)]
    pub user: Option<String>,
    /// Group.
    #[arg(long)]
    pub group: Option<String>,
    /// Working directory (must exist in the app).
    #[arg(long)]
    pub working_dir: Option<String>,
    /// `volume=NAME,target=PATH`.
    #[arg(long = "mount")]
    pub mounts: Vec<String>,
    /// Memory limit (appc quantity, e.g. `64Mi`).
    #[arg(long)]
    pub memory: Option<String>,
    /// CPU limit (appc quantity in cores, e.g. `500m`).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Capabilities to keep, comma-separated.
    #[arg(long)]
    pub caps_retain: Option<String>,
    /// Capabilities to remove from the default set, comma-separated.
    #[arg(long)]
    pub caps_remove: Option<String>,
    /// `mode=retain|remove[,errno=ENAME],SYSCALL...`.
    #[arg(long)]
    pub seccomp: Option<String>,
    /// Mount the app's root read-only.
    #[arg(long)]
    pub readonly_rootfs: bool,
}

/// App flags that take a value (to tell a flag's value from the next IMAGE).
const VALUE_FLAGS: &[&str] = &[
    "--exec",
    "--name",
    "--user",
    "--group",
    "--working-dir",
    "--mount",
    "--memory",
    "--cpu",
    "--caps-retain",
    "--caps-remove",
    "--seccomp",
];

/// One app of the command line.
#[derive(Debug, Clone)]
pub struct AppRequest {
    /// The image reference (ID, name with labels, path or URL).
    pub image: String,
    /// Its flags.
    pub flags: AppFlags,
    /// Arguments after `--`.
    pub args: Option<Vec<String>>,
}

/// Why `acrun run` failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad flags or input (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Could not find, fetch or render an image.
    #[error("{0}")]
    Image(String),
    /// Planning the pod.
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    /// Starting the pod.
    #[error(transparent)]
    Launch(#[from] launch::LaunchError),
    /// The metadata service's key or token.
    #[error("metadata service: {0}")]
    Metadata(#[from] crate::metadata::key::KeyError),
    /// Pod directory.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
}

impl RunError {
    /// Whether it was the user's input.
    pub fn is_usage(&self) -> bool {
        matches!(self, RunError::Usage(_))
    }
}

fn usage(m: impl Into<String>) -> RunError {
    RunError::Usage(m.into())
}

/// Splits the words after the pod flags into apps.
pub fn split_apps(words: &[String]) -> Result<Vec<AppRequest>, RunError> {
    let mut apps: Vec<(String, Vec<String>, Option<Vec<String>>)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        if w == "---" {
            continue;
        }
        if w == "--" {
            let Some(last) = apps.last_mut() else {
                return Err(usage("`--` before any IMAGE"));
            };
            let end = words[i..]
                .iter()
                .position(|x| x == "---")
                .map_or(words.len(), |p| i + p);
            last.2 = Some(words[i..end].to_vec());
            i = end;
            continue;
        }
        if w.starts_with('-') {
            let Some(last) = apps.last_mut() else {
                return Err(usage(format!(
                    "pod flag {w} must come before the first IMAGE"
                )));
            };
            last.1.push(w.clone());
            if VALUE_FLAGS.contains(&w.as_str()) && i < words.len() {
                last.1.push(words[i].clone());
                i += 1;
            }
            continue;
        }
        apps.push((w.clone(), Vec::new(), None));
    }
    if apps.is_empty() {
        return Err(usage("no IMAGE given"));
    }
    apps.into_iter()
        .map(|(image, flags, args)| {
            let flags = AppFlags::try_parse_from(&flags)
                .map_err(|e| usage(format!("{image}: {}", e.render().to_string().trim())))?;
            Ok(AppRequest { image, flags, args })
        })
        .collect()
}

/// Parses `--volume`.
pub fn parse_volume(text: &str) -> Result<Volume, RunError> {
    let mut parts = text.split(',');
    let name = parts.next().unwrap_or_default();
    let name = AcName::new(name).map_err(|e| usage(format!("--volume {text:?}: {e}")))?;
    let mut kv = std::collections::BTreeMap::new();
    for p in parts {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| usage(format!("--volume {text:?}: {p:?} is not KEY=VALUE")))?;
        kv.insert(k.to_owned(), v.to_owned());
    }
    let flag = |k: &str| -> Result<Option<bool>, RunError> {
        kv.get(k)
            .map(|v| {
                v.parse()
                    .map_err(|_| usage(format!("--volume {text:?}: {k} must be true or false")))
            })
            .transpose()
    };
    let num = |k: &str| -> Result<Option<u32>, RunError> {
        kv.get(k)
            .map(|v| {
                v.parse()
                    .map_err(|_| usage(format!("--volume {text:?}: bad {k}")))
            })
            .transpose()
    };
    let kind = match kv.get("kind").map(String::as_str) {
        Some("host") => VolumeKind::Host {
            source: kv
                .get("source")
                .cloned()
                .ok_or_else(|| usage(format!("--volume {text:?}: kind=host needs source=PATH")))?,
            recursive: flag("recursive")?,
        },
        Some("empty") => VolumeKind::Empty {
            mode: kv.get("mode").cloned(),
            uid: num("uid")?,
            gid: num("gid")?,
        },
        _ => {
            return Err(usage(format!(
                "--volume {text:?}: kind must be host or empty"
            )));
        }
    };
    Ok(Volume {
        name,
        read_only: flag("readOnly")?.unwrap_or(false),
        kind,
    })
}

/// Parses `--mount volume=NAME,target=PATH`.
pub fn parse_mount(text: &str) -> Result<Mount, RunError> {
    let mut volume = None;
    let mut target = None;
    for p in text.split(',') {
        match p.split_once('=') {
            Some(("volume", v)) => volume = Some(v),
            Some(("target", t)) => target = Some(t),
            _ => {
                return Err(usage(format!(
                    "--mount {text:?}: expected volume=NAME,target=PATH"
                )));
            }
        }
    }
    let (Some(volume), Some(path)) = (volume, target) else {
        return Err(usage(format!(
            "--mount {text:?}: expected volume=NAME,target=PATH"
        )));
    };
    Ok(Mount {
        volume: AcName::new(volume).map_err(|e| usage(format!("--mount {text:?}: {e}")))?,
        path: path.to_owned(),
        app_volume: None,
    })
}

/// Parses `--seccomp mode=retain|remove[,errno=E],SYSCALL...`.
pub fn parse_seccomp(text: &str) -> Result<IsolatorValue, RunError> {
    let mut mode = None;
    let mut errno = None;
    let mut set = Vec::new();
    for p in text.split(',') {
        match p.split_once('=') {
            Some(("mode", m)) => mode = Some(m.to_owned()),
            Some(("errno", e)) => errno = Some(e.to_owned()),
            Some(_) => return Err(usage(format!("--seccomp {text:?}: unknown option {p:?}"))),
            None if !p.is_empty() => set.push(p.to_owned()),
            None => {}
        }
    }
    if set.is_empty() {
        return Err(usage(format!("--seccomp {text:?}: no syscalls given")));
    }
    let s = SeccompSet { set, errno };
    match mode.as_deref() {
        Some("remove") => Ok(IsolatorValue::SeccompRemove(s)),
        Some("retain") => Ok(IsolatorValue::SeccompRetain(s)),
        _ => Err(usage(format!(
            "--seccomp {text:?}: mode must be retain or remove"
        ))),
    }
}

fn caps_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn quantity(flag: &str, text: &str) -> Result<RequestLimit, RunError> {
    let q = Quantity::new(text).map_err(|e| usage(format!("{flag} {text:?}: {e}")))?;
    Ok(RequestLimit {
        request: None,
        limit: Some(q),
    })
}

/// Replaces isolators of the same kind with `value`.
fn set_isolator(app: &mut App, value: IsolatorValue, same: &[&str]) {
    app.isolators.retain(|i| !same.contains(&i.name().as_str()));
    if let Some(i) = Isolator::new(value) {
        app.isolators.push(i);
    }
}

/// The image's app with the flags applied.
pub fn effective_app(image_app: Option<&App>, req: &AppRequest) -> Result<App, RunError> {
    use appc::isolator::names;
    let f = &req.flags;
    let mut app = match image_app {
        Some(a) => a.clone(),
        None => App::new(vec![], "0", "0"),
    };
    if let Some(exec) = &f.exec {
        app.exec = vec![exec.clone()];
    }
    if let Some(args) = &req.args {
        app.exec.truncate(1);
        app.exec.extend(args.iter().cloned());
    }
    if let Some(u) = &f.user {
        app.user = u.clone();
    }
    if let Some(g) = &f.group {
        app.group = g.clone();
    }
    if let Some(w) = &f.working_dir {
        app.working_directory = Some(w.clone());
    }
    if let Some(m) = &f.memory {
        set_isolator(
            &mut app,
            IsolatorValue::Memory(quantity("--memory", m)?),
            &[names::MEMORY],
        );
    }
    if let Some(c) = &f.cpu {
        set_isolator(
            &mut app,
            IsolatorValue::Cpu(quantity("--cpu", c)?),
            &[names::CPU],
        );
    }
    let caps = [names::CAPS_RETAIN, names::CAPS_REMOVE];
    if let Some(c) = &f.caps_retain {
        set_isolator(
            &mut app,
            IsolatorValue::CapabilitiesRetain(caps_list(c)),
            &caps,
        );
    }
    if let Some(c) = &f.caps_remove {
        set_isolator(
            &mut app,
            IsolatorValue::CapabilitiesRemove(caps_list(c)),
            &caps,
        );
    }
    if let Some(s) = &f.seccomp {
        let v = parse_seccomp(s)?;
        set_isolator(&mut app, v, &[names::SECCOMP_REMOVE, names::SECCOMP_RETAIN]);
    }
    Ok(app)
}

/// The app name: `--name`, else the last segment of the image name.
fn app_name(image: &ImageInfo, req: &AppRequest) -> Result<AcName, RunError> {
    let text = match &req.flags.name {
        Some(n) => n.clone(),
        None => image
            .manifest
            .name
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    AcName::new(&text).map_err(|e| usage(format!("app name {text:?}: {e} (use --name)")))
}

/// Builds the reified pod manifest.
pub fn pod_manifest(
    args: &RunArgs,
    requests: &[AppRequest],
    images: &[ImageInfo],
) -> Result<PodManifest, RunError> {
    let mut pod = PodManifest::new();
    for v in &args.volumes {
        pod.volumes.push(parse_volume(v)?);
    }
    for p in &args.ports {
        pod.ports
            .push(ports::parse_flag(p).map_err(|e| usage(e.to_string()))?);
    }
    for (req, image) in requests.iter().zip(images) {
        let name = app_name(image, req)?;
        if pod.apps.iter().any(|a| a.name == name) {
            return Err(usage(format!("two apps are named {name}: give one --name")));
        }
        let app = effective_app(image.manifest.app.as_ref(), req)?;
        let id = image
            .id
            .parse()
            .map_err(|_| RunError::Image(format!("bad image ID {}", image.id)))?;
        pod.apps.push(RuntimeApp {
            name,
            image: RuntimeImage {
                name: Some(image.manifest.name.clone()),
                id: Some(id),
                labels: image.manifest.labels.clone(),
            },
            app: Some(app),
            read_only_root_fs: req.flags.readonly_rootfs,
            mounts: req
                .flags
                .mounts
                .iter()
                .map(|m| parse_mount(m))
                .collect::<Result<_, _>>()?,
            annotations: Default::default(),
        });
    }
    pod.validate()
        .map_err(|e| usage(format!("the pod is invalid: {e}")))?;
    Ok(pod)
}

/// A fresh random (version 4) UUID.
pub fn new_uuid() -> Result<String, RunError> {
    let mut b = [0u8; 16];
    // The same kernel source as the metadata service's token and key (getrandom(2)).
    getrandom::fill(&mut b).map_err(|e| RunError::Io {
        path: "getrandom(2)".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    appc::uuid::Uuid::from_bytes(b)
        .map(|u| u.to_string())
        .map_err(|e| RunError::Image(e.to_string()))
}

/// Runs the pod; `resolve` turns an image reference into a rendered image. Returns the pod's
/// exit code.
pub fn run(
    dir: &Path,
    args: &RunArgs,
    resolve: &mut dyn FnMut(&str) -> Result<ImageInfo, String>,
) -> Result<i32, RunError> {
    let mut set_env = Vec::new();
    for kv in &args.set_env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| usage(format!("--set-env {kv:?}: expected K=V")))?;
        if !appc::manifest::app::is_env_name(k) {
            return Err(usage(format!("--set-env {kv:?}: bad variable name")));
        }
        set_env.push((k.to_owned(), v.to_owned()));
    }
    // The pod directory and its lock come first: from here until the pod has exited, the
    // images this pod resolves are pinned against `image rm` and `gc` (`pod::pins`).
    let uuid = new_uuid()?;
    let pod_dir = state::pods_dir(dir).join(&uuid);
    std::fs::create_dir_all(&pod_dir).map_err(|source| RunError::Io {
        path: pod_dir.clone(),
        source,
    })?;
    // Upper layers hold whatever the apps write, setuid-root files included: host users must
    // not reach them.
    let pods = state::pods_dir(dir);
    crate::store::layout::private_dir(&pods)
        .map_err(|source| RunError::Io { path: pods, source })?;
    let lock = state::lock(&pod_dir).map_err(launch::LaunchError::from)?;
    let started = start(dir, args, resolve, set_env, &uuid, &pod_dir, lock);
    if started.is_err() && !state::pod_started(&pod_dir) {
        let _ = std::fs::remove_dir_all(&pod_dir);
    }
    started
}

/// Resolves the images, plans and launches the pod in `pod_dir` (locked by `lock`).
fn start(
    dir: &Path,
    args: &RunArgs,
    resolve: &mut dyn FnMut(&str) -> Result<ImageInfo, String>,
    set_env: Vec<(String, String)>,
    uuid: &str,
    pod_dir: &Path,
    lock: state::PodLock,
) -> Result<i32, RunError> {
    let (pod, images) = match &args.pod_manifest {
        Some(file) => crate::pod_manifest_file::load(file, resolve)?,
        None => {
            let requests = split_apps(&args.apps)?;
            let images = requests
                .iter()
                .map(|r| resolve(&r.image).map_err(RunError::Image))
                .collect::<Result<Vec<_>, _>>()?;
            (pod_manifest(args, &requests, &images)?, images)
        }
    };
    if args.interactive && pod.apps.len() > 1 {
        return Err(usage(
            "--interactive needs a pod of one app (its stdin and terminal are that app's)",
        ));
    }
    let net = if args.net == "host" {
        Net::Host
    } else {
        Net::None
    };
    let forwards = ports::plan(&pod, &images, net).map_err(|e| usage(e.to_string()))?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RunError::Io { path, source }
    };
    let pod_json = pod_dir.join("pod.json");
    // Not synced, like the pod's state (`state::write`).
    appc::atomic_file::replace_unsynced(&pod_json, &pod.to_json_pretty(), 0o644)
        .map_err(io(&pod_json))?;
    crate::metadata::key::load_or_create(dir)?;
    let netns = namespaces::new_network(net).map_err(io(Path::new("network namespace")))?;
    let listening = Listening::new(netns).map_err(io(Path::new("metadata service socket")))?;
    let token = crate::metadata::new_token()?;
    let metadata_url = listening
        .url(&token)
        .map_err(io(Path::new("metadata service socket")))?;
    let uuid_value = uuid
        .parse()
        .map_err(|_| RunError::Image(format!("bad pod UUID {uuid}")))?;
    let served: Vec<_> = images
        .iter()
        .map(|i| (i.manifest_json.clone(), &i.manifest))
        .collect();
    let info = PodInfo::new(uuid_value, token, &pod, &served);
    let opts = PodOptions {
        uuid: uuid.to_owned(),
        hostname: args.hostname.clone(),
        net,
        set_env,
        pod_dir: pod_dir.to_owned(),
        interactive: args.interactive,
        metadata_url,
        hidden: vec![crate::metadata::key::key_dir(dir)],
        prefix_output: match args.output_prefix.as_str() {
            "always" => true,
            "never" => false,
            _ => std::io::stdout().is_terminal(),
        },
        ports: forwards,
        root_policy: args.root_mode,
    };
    let spec = spec::build(&pod, &images, &opts)?;
    if let Some(f) = &args.uuid_file_save {
        appc::atomic_file::write_atomically(f, format!("{uuid}\n").as_bytes(), 0o644)
            .map_err(io(f))?;
    }
    let services = Services {
        metadata: listening,
        pod: info,
        dir: dir.to_owned(),
    };
    Ok(launch::run(&spec, pod_dir, args.strict, services, lock)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn images_follow_one_another_or_are_separated() {
        let apps = split_apps(&words("a --exec /bin/x b --user 1 -- x y --- c")).unwrap();
        assert_eq!(apps.len(), 3);
        assert_eq!(apps[0].flags.exec.as_deref(), Some("/bin/x"));
        assert_eq!(apps[1].flags.user.as_deref(), Some("1"));
        assert_eq!(apps[1].args.as_deref(), Some(&words("x y")[..]));
        assert_eq!(apps[2].image, "c");
    }

    #[test]
    fn app_flags_before_an_image_are_refused() {
        assert!(split_apps(&words("--exec /x a")).is_err());
        assert!(split_apps(&words("a --bogus")).is_err());
    }

    #[test]
    fn exec_and_args_replace_the_image_exec() {
        let image = App::new(words("/bin/sh -c true"), "0", "0");
        let req = |s: &str| split_apps(&words(s)).unwrap().remove(0);
        assert_eq!(
            effective_app(Some(&image), &req("a -- echo hi"))
                .unwrap()
                .exec,
            words("/bin/sh echo hi")
        );
        assert_eq!(
            effective_app(Some(&image), &req("a --exec /x"))
                .unwrap()
                .exec,
            words("/x")
        );
        assert_eq!(
            effective_app(Some(&image), &req("a --exec /x -- 1"))
                .unwrap()
                .exec,
            words("/x 1")
        );
    }

    #[test]
    fn isolator_flags_replace_image_isolators() {
        let req = split_apps(&words(
            "a --memory 32Mi --caps-remove CAP_NET_RAW --seccomp mode=remove,errno=EPERM,mkdir",
        ))
        .unwrap()
        .remove(0);
        let app = effective_app(None, &req).unwrap();
        let names: Vec<_> = app
            .isolators
            .iter()
            .map(|i| i.name().as_str().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "resource/memory",
                "os/linux/capabilities-remove-set",
                "os/linux/seccomp-remove-set"
            ]
        );
    }

    #[test]
    fn volumes_parse_like_rkt() {
        let v = parse_volume("data,kind=host,source=/srv,readOnly=true").unwrap();
        assert!(v.read_only);
        assert!(matches!(v.kind, VolumeKind::Host { .. }));
        assert!(parse_volume("data,kind=host").is_err());
        assert!(parse_volume("data,kind=tmpfs").is_err());
        let m = parse_mount("volume=data,target=/d").unwrap();
        assert_eq!(m.path, "/d");
        assert!(parse_mount("volume=data").is_err());
    }

    #[test]
    fn seccomp_flag_needs_a_mode_and_syscalls() {
        assert!(matches!(
            parse_seccomp("mode=retain,read,write").unwrap(),
            IsolatorValue::SeccompRetain(_)
        ));
        assert!(parse_seccomp("read").is_err());
        assert!(parse_seccomp("mode=remove").is_err());
    }

    #[test]
    fn uuids_are_version_4() {
        let u = new_uuid().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}

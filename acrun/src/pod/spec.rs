//! The pod as plain data: for each app its rendered tree, argv, user, environment, working
//! directory, handlers, volume mounts and isolator plan — everything the mechanism needs, computed
//! from the (reified) pod manifest and the image manifests without touching the system, so every
//! rule here is unit-tested without root.
//!
//! Defends against: mount targets that overlap (one volume hiding another), volumes that name
//! nothing, relative or `..` paths reaching the mechanism (appc's types already refuse them; the
//! checks here are on how the pieces combine).

use super::env;
use super::root_mode::RootPolicy;
use crate::isolators::{self, IsolatorPlan, Limits, Notice};
use appc::manifest::app::{App, Event};
use appc::manifest::image::ImageManifest;
use appc::manifest::pod::{PodManifest, VolumeKind};
use std::path::{Path, PathBuf};

/// Network mode of the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Net {
    /// Own network namespace with only `lo`, up.
    None,
    /// The host's network namespace.
    Host,
}

/// A rendered image, ready to be an app's lower layer.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// `sha512-…`.
    pub id: String,
    /// Its manifest.
    pub manifest: ImageManifest,
    /// The manifest's bytes as stored (served by the metadata service).
    pub manifest_json: Vec<u8>,
    /// The rendered rootfs directory (read-only; never written).
    pub rootfs: PathBuf,
}

/// Pod-wide choices that are not in the pod manifest.
#[derive(Debug, Clone)]
pub struct PodOptions {
    /// The pod UUID.
    pub uuid: String,
    /// Hostname inside the pod (default: `acrun-` + first UUID group).
    pub hostname: Option<String>,
    /// Network mode.
    pub net: Net,
    /// `--set-env` for every app.
    pub set_env: Vec<(String, String)>,
    /// The pod directory (empty volumes, upper layers).
    pub pod_dir: PathBuf,
    /// Pass stdin through.
    pub interactive: bool,
    /// `AC_METADATA_URL` of every app.
    pub metadata_url: String,
    /// Host paths the pod must never see (covered in the supervisor's mount namespace).
    pub hidden: Vec<PathBuf>,
    /// Prefix each line of output with its app's name when there are several apps.
    pub prefix_output: bool,
    /// Published ports ([`super::ports::plan`]).
    pub ports: Vec<super::ports::Forward>,
    /// How each app's fresh root is made (`--root-mode`).
    pub root_policy: RootPolicy,
}

/// One volume mounted into one app.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VolumeMount {
    /// The volume name.
    pub volume: String,
    /// Host directory bound (a host source, or the pod's empty-volume directory).
    pub source: PathBuf,
    /// Whether `source` comes from the user (`host` volume) and must be checked for symlinks.
    pub host: bool,
    /// Target inside the app (absolute, clean).
    pub target: String,
    /// Read-only bind.
    pub read_only: bool,
    /// Recursive bind.
    pub recursive: bool,
}

/// An empty volume to create before the pod starts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmptyVolume {
    /// Its directory in the pod directory.
    pub dir: PathBuf,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// One app, ready to run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppSpec {
    /// Pod app name (also `AC_APP_NAME`).
    pub name: String,
    /// Image name, for `acrun list`.
    pub image_name: String,
    /// Image ID.
    pub image_id: String,
    /// The rendered tree (overlay lower layer).
    pub rootfs: PathBuf,
    /// argv.
    pub exec: Vec<String>,
    /// User spec (name, number or path), resolved inside the root.
    pub user: String,
    /// Group spec.
    pub group: String,
    /// Supplementary groups.
    pub supplementary_gids: Vec<u32>,
    /// Working directory (must exist).
    pub working_dir: String,
    /// Environment, sorted.
    pub env: Vec<(String, String)>,
    /// `pre-start` argv.
    pub pre_start: Option<Vec<String>>,
    /// `post-stop` argv.
    pub post_stop: Option<Vec<String>>,
    /// Volumes, in mount order (parents before children).
    pub mounts: Vec<VolumeMount>,
    /// Read-only root.
    pub read_only_rootfs: bool,
    /// Capabilities, seccomp, NNP, limits.
    pub isolators: IsolatorPlan,
    /// Overlay, copy, or overlay where it can be mounted.
    #[serde(default)]
    pub root_policy: RootPolicy,
}

/// The whole pod.
#[derive(Debug, Clone)]
pub struct PodSpec {
    /// UUID.
    pub uuid: String,
    /// Hostname.
    pub hostname: String,
    /// Network mode.
    pub net: Net,
    /// The apps, in pod order.
    pub apps: Vec<AppSpec>,
    /// Empty volumes to create.
    pub empty_volumes: Vec<EmptyVolume>,
    /// Pod-level cgroup limits (bounds on the apps).
    pub limits: Limits,
    /// Pass stdin through.
    pub interactive: bool,
    /// What became of every isolator.
    pub notices: Vec<Notice>,
    /// Host paths covered with an empty tmpfs in the pod's mount namespace (the HMAC key).
    pub hidden: Vec<PathBuf>,
    /// Print each app's output lines with an `[app]` prefix.
    pub prefix_output: bool,
    /// Published ports.
    pub ports: Vec<super::ports::Forward>,
}

/// Why a pod cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The image has no `app` and the pod gives none.
    #[error("app {0}: the image has no app to run (give --exec or use another image)")]
    NoApp(String),
    /// Nothing to exec.
    #[error("app {0}: no exec given")]
    NoExec(String),
    /// A mount names a volume the pod does not have.
    #[error("app {app}: mount names unknown volume {volume:?}")]
    UnknownVolume {
        /// App name.
        app: String,
        /// Volume name.
        volume: String,
    },
    /// Two targets overlap.
    #[error("app {app}: mount targets {a} and {b} overlap")]
    Overlap {
        /// App name.
        app: String,
        /// One target.
        a: String,
        /// The other.
        b: String,
    },
    /// A bad empty-volume mode.
    #[error("volume {0}: mode must be octal")]
    Mode(String),
    /// An isolator that cannot be planned.
    #[error(transparent)]
    Isolator(#[from] isolators::PlanError),
    /// The pod and image lists differ.
    #[error("internal: {0} apps but {1} images")]
    Mismatch(usize, usize),
}

/// Plans the pod. `images[i]` is the image of `pod.apps[i]`.
pub fn build(
    pod: &PodManifest,
    images: &[ImageInfo],
    opts: &PodOptions,
) -> Result<PodSpec, SpecError> {
    if pod.apps.len() != images.len() {
        return Err(SpecError::Mismatch(pod.apps.len(), images.len()));
    }
    let mut notices = Vec::new();
    let limits = isolators::plan_pod(&pod.isolators, &mut notices);
    let mut empty_volumes = Vec::new();
    for v in &pod.volumes {
        if let VolumeKind::Empty { mode, uid, gid } = &v.kind {
            empty_volumes.push(empty_volume(opts, v.name.as_str(), mode, *uid, *gid)?);
        }
    }
    let mut apps = Vec::new();
    for (rt, image) in pod.apps.iter().zip(images) {
        let name = rt.name.as_str().to_owned();
        let app = rt
            .app
            .as_ref()
            .or(image.manifest.app.as_ref())
            .ok_or_else(|| SpecError::NoApp(name.clone()))?;
        if app.exec.is_empty() {
            return Err(SpecError::NoExec(name));
        }
        let mounts = volume_mounts(pod, rt, app, opts, &mut empty_volumes)?;
        let isolators = isolators::plan_app(&name, &app.isolators, &mut notices)?;
        apps.push(app_spec(
            &name,
            image,
            app,
            rt.read_only_root_fs,
            mounts,
            isolators,
            opts,
        ));
    }
    let short = opts.uuid.split('-').next().unwrap_or("pod");
    Ok(PodSpec {
        uuid: opts.uuid.clone(),
        hostname: opts
            .hostname
            .clone()
            .unwrap_or_else(|| format!("acrun-{short}")),
        net: opts.net,
        empty_volumes,
        limits,
        interactive: opts.interactive,
        notices,
        hidden: opts.hidden.clone(),
        prefix_output: opts.prefix_output && apps.len() > 1,
        apps,
        ports: opts.ports.clone(),
    })
}

fn app_spec(
    name: &str,
    image: &ImageInfo,
    app: &App,
    read_only_rootfs: bool,
    mounts: Vec<VolumeMount>,
    isolators: IsolatorPlan,
    opts: &PodOptions,
) -> AppSpec {
    let image_env: Vec<(String, String)> = app
        .environment
        .iter()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    let handler = |event: Event| {
        app.event_handlers
            .iter()
            .find(|h| h.name == event)
            .map(|h| h.exec.clone())
    };
    AppSpec {
        name: name.to_owned(),
        image_name: image.manifest.name.as_str().to_owned(),
        image_id: image.id.clone(),
        rootfs: image.rootfs.clone(),
        exec: app.exec.clone(),
        user: app.user.clone(),
        group: app.group.clone(),
        supplementary_gids: app.supplementary_gids.clone(),
        working_dir: app.working_directory.clone().unwrap_or_else(|| "/".into()),
        env: env::app_environment(name, &opts.metadata_url, &image_env, &opts.set_env),
        pre_start: handler(Event::PreStart),
        post_stop: handler(Event::PostStop),
        mounts,
        read_only_rootfs,
        isolators,
        root_policy: opts.root_policy,
    }
}

fn empty_volume(
    opts: &PodOptions,
    name: &str,
    mode: &Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<EmptyVolume, SpecError> {
    let mode = match mode {
        None => 0o755,
        Some(m) => u32::from_str_radix(m, 8).map_err(|_| SpecError::Mode(name.to_owned()))?,
    };
    Ok(EmptyVolume {
        dir: opts.pod_dir.join("volumes").join(name),
        mode: mode & 0o7777,
        uid: uid.unwrap_or(0),
        gid: gid.unwrap_or(0),
    })
}

/// The app's volume mounts: the pod's explicit `mounts`, else mount points matched by name; a
/// mount point no volume satisfies gets an implicit empty volume (as rkt did).
fn volume_mounts(
    pod: &PodManifest,
    rt: &appc::manifest::pod::RuntimeApp,
    app: &App,
    opts: &PodOptions,
    empty_volumes: &mut Vec<EmptyVolume>,
) -> Result<Vec<VolumeMount>, SpecError> {
    let app_name = rt.name.as_str();
    let mut wanted: Vec<(String, String, bool)> = rt
        .mounts
        .iter()
        .map(|m| (m.volume.as_str().to_owned(), m.path.clone(), false))
        .collect();
    for mp in &app.mount_points {
        if !wanted.iter().any(|(v, _, _)| v == mp.name.as_str()) {
            wanted.push((mp.name.as_str().to_owned(), mp.path.clone(), mp.read_only));
        }
    }
    let mut out = Vec::new();
    for (volume, target, mp_ro) in wanted {
        let ro = mp_ro
            || app
                .mount_points
                .iter()
                .any(|mp| mp.name.as_str() == volume && mp.read_only);
        let mount = match pod.volumes.iter().find(|v| v.name.as_str() == volume) {
            Some(v) => match &v.kind {
                VolumeKind::Host { source, recursive } => VolumeMount {
                    volume,
                    source: PathBuf::from(source),
                    host: true,
                    target,
                    read_only: ro || v.read_only,
                    recursive: recursive.unwrap_or(true),
                },
                VolumeKind::Empty { .. } => VolumeMount {
                    source: opts.pod_dir.join("volumes").join(&volume),
                    volume,
                    host: false,
                    target,
                    read_only: ro || v.read_only,
                    recursive: false,
                },
            },
            None if rt.mounts.iter().any(|m| m.volume.as_str() == volume) => {
                return Err(SpecError::UnknownVolume {
                    app: app_name.to_owned(),
                    volume,
                });
            }
            None => {
                let implicit = empty_volume(opts, &volume, &None, None, None)?;
                let source = implicit.dir.clone();
                if !empty_volumes.iter().any(|e| e.dir == source) {
                    empty_volumes.push(implicit);
                }
                VolumeMount {
                    volume,
                    source,
                    host: false,
                    target,
                    read_only: ro,
                    recursive: false,
                }
            }
        };
        out.push(mount);
    }
    check_overlaps(app_name, &out)?;
    out.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(out)
}

fn check_overlaps(app: &str, mounts: &[VolumeMount]) -> Result<(), SpecError> {
    for (i, a) in mounts.iter().enumerate() {
        for b in &mounts[i + 1..] {
            let (pa, pb) = (Path::new(&a.target), Path::new(&b.target));
            if pa.starts_with(pb) || pb.starts_with(pa) {
                return Err(SpecError::Overlap {
                    app: app.to_owned(),
                    a: a.target.clone(),
                    b: b.target.clone(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use appc::manifest::app::{EventHandler, MountPoint};
    use appc::manifest::pod::{Mount, RuntimeApp, RuntimeImage, Volume};
    use appc::name::{AcIdentifier, AcName};

    fn image(app: Option<App>) -> ImageInfo {
        let mut manifest = ImageManifest::new(AcIdentifier::new("example.com/web").unwrap());
        manifest.app = app;
        ImageInfo {
            id: "sha512-00".into(),
            manifest,
            manifest_json: vec![],
            rootfs: "/store/tree".into(),
        }
    }

    fn pod(apps: &[&str]) -> PodManifest {
        let mut pod = PodManifest::new();
        for a in apps {
            pod.apps.push(RuntimeApp {
                name: AcName::new(a).unwrap(),
                image: RuntimeImage {
                    name: None,
                    id: None,
                    labels: Default::default(),
                },
                app: None,
                read_only_root_fs: false,
                mounts: vec![],
                annotations: Default::default(),
            });
        }
        pod
    }

    fn opts() -> PodOptions {
        PodOptions {
            uuid: "0a1b2c3d-0000-4000-8000-000000000001".into(),
            hostname: None,
            net: Net::None,
            set_env: vec![("X".into(), "1".into())],
            pod_dir: "/pods/p".into(),
            interactive: false,
            metadata_url: "http://127.0.0.1:9/t".into(),
            hidden: vec![],
            prefix_output: true,
            ports: vec![],
            root_policy: RootPolicy::Auto,
        }
    }

    fn sh_app() -> App {
        App::new(vec!["/bin/sh".into()], "0", "0")
    }

    #[test]
    fn an_app_gets_its_image_app_env_and_defaults() {
        let mut app = sh_app();
        app.event_handlers.push(EventHandler {
            name: Event::PreStart,
            exec: vec!["/bin/true".into()],
        });
        let spec = build(&pod(&["web"]), &[image(Some(app))], &opts()).unwrap();
        let a = &spec.apps[0];
        assert_eq!(a.working_dir, "/");
        assert_eq!(a.pre_start.as_deref(), Some(&["/bin/true".to_owned()][..]));
        assert!(a.post_stop.is_none());
        assert!(a.env.contains(&("X".into(), "1".into())));
        assert_eq!(spec.hostname, "acrun-0a1b2c3d");
    }

    #[test]
    fn an_image_without_app_is_refused() {
        assert!(matches!(
            build(&pod(&["web"]), &[image(None)], &opts()),
            Err(SpecError::NoApp(_))
        ));
    }

    #[test]
    fn mount_points_without_volume_get_an_implicit_empty_volume() {
        let mut app = sh_app();
        app.mount_points.push(MountPoint {
            name: AcName::new("data").unwrap(),
            path: "/data".into(),
            read_only: false,
        });
        let spec = build(&pod(&["web"]), &[image(Some(app))], &opts()).unwrap();
        assert_eq!(spec.empty_volumes.len(), 1);
        assert_eq!(
            spec.apps[0].mounts[0].source,
            Path::new("/pods/p/volumes/data")
        );
        assert!(!spec.apps[0].mounts[0].host);
    }

    #[test]
    fn host_volumes_and_read_only_combine() {
        let mut p = pod(&["web"]);
        p.volumes.push(Volume {
            name: AcName::new("src").unwrap(),
            read_only: true,
            kind: VolumeKind::Host {
                source: "/srv".into(),
                recursive: None,
            },
        });
        p.apps[0].mounts.push(Mount {
            volume: AcName::new("src").unwrap(),
            path: "/mnt".into(),
            app_volume: None,
        });
        let spec = build(&p, &[image(Some(sh_app()))], &opts()).unwrap();
        let m = &spec.apps[0].mounts[0];
        assert!(m.host && m.read_only && m.recursive);
        assert_eq!(m.target, "/mnt");
    }

    #[test]
    fn overlapping_targets_are_refused() {
        let mut p = pod(&["web"]);
        for (v, t) in [("a", "/db"), ("b", "/db/x")] {
            p.volumes.push(Volume {
                name: AcName::new(v).unwrap(),
                read_only: false,
                kind: VolumeKind::Empty {
                    mode: None,
                    uid: None,
                    gid: None,
                },
            });
            p.apps[0].mounts.push(Mount {
                volume: AcName::new(v).unwrap(),
                path: t.into(),
                app_volume: None,
            });
        }
        assert!(matches!(
            build(&p, &[image(Some(sh_app()))], &opts()),
            Err(SpecError::Overlap { .. })
        ));
    }

    #[test]
    fn unknown_volume_is_refused() {
        let mut p = pod(&["web"]);
        p.apps[0].mounts.push(Mount {
            volume: AcName::new("nope").unwrap(),
            path: "/x".into(),
            app_volume: None,
        });
        assert!(matches!(
            build(&p, &[image(Some(sh_app()))], &opts()),
            Err(SpecError::UnknownVolume { .. })
        ));
    }
}

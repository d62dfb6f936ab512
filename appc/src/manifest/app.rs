//! The `app` object: how to run an image (exec, user, environment, mount points, ports,
//! isolators, event handlers). Used by image manifests and, as a full override, by pod apps.
//!
//! Stricter than the Go reference: `exec[0]` and event handler executables must be absolute paths,
//! `workingDirectory` and mount point paths must be absolute without `..`, supplementary GIDs must
//! not be negative, mount point and port names must be present and unique, ports need a protocol,
//! and isolator set rules apply (see [`crate::isolator`]).

use super::decode::{self, Decoder, absolute_clean_path_problem};
use crate::isolator::{self, Isolator};
use crate::name::AcName;
use crate::validation::{Error, index, join};
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// How to run the image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    /// argv; empty means "not given". `exec[0]` must be an absolute path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event_handlers: Vec<EventHandler>,
    /// User name, numeric uid, or an absolute path whose owner is the user (non-empty).
    pub user: String,
    /// Group name, numeric gid, or an absolute path whose group is used (non-empty).
    pub group: String,
    #[serde(rename = "supplementaryGIDs", skip_serializing_if = "Vec::is_empty")]
    pub supplementary_gids: Vec<u32>,
    /// Absolute, without `..`; `None` means `/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mount_points: Vec<MountPoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub isolators: Vec<Isolator>,
    /// Inert metadata for the user; must not change how the app runs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub user_annotations: BTreeMap<String, String>,
    /// Inert metadata for the user.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub user_labels: BTreeMap<String, String>,
}

/// When an event handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Event {
    /// `pre-start`: before the app's main process.
    PreStart,
    /// `post-stop`: after the main process ended.
    PostStop,
}

impl Event {
    /// The event named `name` (`pre-start` or `post-stop`), if any.
    pub fn from_name(name: &str) -> Option<Event> {
        match name {
            "pre-start" => Some(Event::PreStart),
            "post-stop" => Some(Event::PostStop),
            _ => None,
        }
    }

    /// The spec's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::PreStart => "pre-start",
            Event::PostStop => "post-stop",
        }
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A command run at an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventHandler {
    pub name: Event,
    /// argv, non-empty, `exec[0]` absolute.
    pub exec: Vec<String>,
}

/// One environment variable; name matches `^[A-Za-z_][A-Za-z_0-9.-]*$`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    pub name: String,
    /// Used verbatim (no substitution).
    pub value: String,
}

/// A place in the app's filesystem where a volume may be mounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    pub name: AcName,
    /// Absolute, without `..`.
    pub path: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// A port the app listens on: `port .. port+count-1` (all within 1..=65535).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    pub name: AcName,
    /// Usually `tcp` or `udp`; non-empty.
    pub protocol: String,
    pub port: u16,
    /// At least 1.
    pub count: u16,
    /// Whether the executor hands over listening sockets (sd_listen_fds).
    pub socket_activated: bool,
}

/// Whether `s` matches `^[A-Za-z_][A-Za-z_0-9.-]*$`.
pub fn is_env_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
}

fn exec_problems(exec: &[String], path: &str, required: bool, errs: &mut Vec<Error>) {
    match exec.first() {
        None if required => errs.push(Error::new(path, "must not be empty")),
        None => {}
        Some(first) => {
            if let Some(msg) = absolute_clean_path_problem(first) {
                errs.push(Error::new(index(path, 0), msg));
            }
        }
    }
}

impl App {
    /// An app running `exec` as `user`:`group`, everything else empty.
    pub fn new(exec: Vec<String>, user: impl Into<String>, group: impl Into<String>) -> App {
        App {
            exec,
            user: user.into(),
            group: group.into(),
            ..App::default()
        }
    }

    /// The rules of this app's own fields (not re-checking isolator values).
    pub(crate) fn check_own(&self, path: &str, errs: &mut Vec<Error>) {
        exec_problems(&self.exec, &join(path, "exec"), false, errs);
        for (key, v) in [("user", &self.user), ("group", &self.group)] {
            if v.is_empty() {
                errs.push(Error::new(join(path, key), "must not be empty"));
            }
        }
        if let Some(wd) = &self.working_directory
            && let Some(msg) = absolute_clean_path_problem(wd)
        {
            errs.push(Error::new(join(path, "workingDirectory"), msg));
        }
        let handlers = join(path, "eventHandlers");
        for (i, h) in self.event_handlers.iter().enumerate() {
            let at = index(&handlers, i);
            if self.event_handlers[..i].iter().any(|o| o.name == h.name) {
                errs.push(Error::new(
                    join(&at, "name"),
                    format!("only one {} handler is allowed", h.name.as_str()),
                ));
            }
            exec_problems(&h.exec, &join(&at, "exec"), true, errs);
        }
        let env = join(path, "environment");
        for (i, e) in self.environment.iter().enumerate() {
            let at = join(&index(&env, i), "name");
            if !is_env_name(&e.name) {
                errs.push(Error::new(
                    &at,
                    format!(
                        "{:?} is not a valid variable name (^[A-Za-z_][A-Za-z_0-9.-]*$)",
                        e.name
                    ),
                ));
            } else if self.environment[..i].iter().any(|o| o.name == e.name) {
                errs.push(Error::new(&at, format!("duplicate variable {:?}", e.name)));
            }
        }
        let mps = join(path, "mountPoints");
        for (i, mp) in self.mount_points.iter().enumerate() {
            let at = index(&mps, i);
            if self.mount_points[..i].iter().any(|o| o.name == mp.name) {
                errs.push(Error::new(
                    join(&at, "name"),
                    format!("duplicate mount point {:?}", mp.name.as_str()),
                ));
            }
            if let Some(msg) = absolute_clean_path_problem(&mp.path) {
                errs.push(Error::new(join(&at, "path"), msg));
            } else if self.mount_points[..i].iter().any(|o| o.path == mp.path) {
                errs.push(Error::new(
                    join(&at, "path"),
                    "another mount point has the same path",
                ));
            }
        }
        let ports = join(path, "ports");
        for (i, p) in self.ports.iter().enumerate() {
            port_problems(p, &index(&ports, i), errs);
            if self.ports[..i].iter().any(|o| o.name == p.name) {
                errs.push(Error::new(
                    join(&index(&ports, i), "name"),
                    format!("duplicate port {:?}", p.name.as_str()),
                ));
            }
        }
        errs.extend(isolator::list_problems(
            &self.isolators,
            &join(path, "isolators"),
        ));
    }

    /// Everything: own rules plus each isolator value (which code may have built by hand).
    pub(crate) fn check_tree(&self, path: &str, errs: &mut Vec<Error>) {
        self.check_own(path, errs);
        let isos = join(path, "isolators");
        for (i, iso) in self.isolators.iter().enumerate() {
            errs.extend(isolator_value_problems(iso, &index(&isos, i)));
        }
    }

    /// Checks every rule; errors are under the path `app`.
    pub fn validate(&self) -> Result<(), crate::validation::Errors> {
        let mut errs = Vec::new();
        self.check_tree("app", &mut errs);
        crate::validation::Errors::check(errs)
    }

    pub(crate) fn decode(d: &mut Decoder, v: &Value, path: &str) -> Option<App> {
        let m = d.mark();
        let o = d.object(v, path)?;
        let exec = o.list(d, "exec", decode::string);
        let event_handlers = o.list(d, "eventHandlers", |d, v, p| {
            let h = d.object(v, p)?;
            let name = h.required(d, "name", |d, v, p| {
                let name = decode::string(d, v, p)?;
                let event = Event::from_name(&name);
                if event.is_none() {
                    d.fail(
                        p,
                        format!("{name:?} is not an event (pre-start or post-stop)"),
                    );
                }
                event
            });
            let exec = h.list(d, "exec", decode::string);
            Some(EventHandler { name: name?, exec })
        });
        let user = o.required(d, "user", decode::nonempty_string);
        let group = o.required(d, "group", decode::nonempty_string);
        let supplementary_gids = o.list(d, "supplementaryGIDs", |d, v, p| {
            u32::try_from(decode::integer(d, v, p, 0, u32::MAX.into())?).ok()
        });
        let working_directory = o.field(d, "workingDirectory", decode::string);
        let environment = o.list(d, "environment", |d, v, p| {
            let e = d.object(v, p)?;
            let name = e.required(d, "name", decode::string);
            let value = e.field(d, "value", decode::string).unwrap_or_default();
            Some(EnvVar { name: name?, value })
        });
        let mount_points = o.list(d, "mountPoints", |d, v, p| {
            let mp = d.object(v, p)?;
            let name = mp.required(d, "name", decode::ac_name);
            let path = mp.required(d, "path", decode::string);
            let read_only = mp.field(d, "readOnly", decode::boolean).unwrap_or(false);
            Some(MountPoint {
                name: name?,
                path: path?,
                read_only,
            })
        });
        let ports = o.list(d, "ports", Port::decode);
        let isolators = o.list(d, "isolators", Isolator::decode);
        let user_annotations = o
            .field(d, "userAnnotations", decode::string_map)
            .unwrap_or_default();
        let user_labels = o
            .field(d, "userLabels", decode::string_map)
            .unwrap_or_default();
        // Built even when parts failed (with "" or empty stand-ins), so the rules still run on
        // the rest; findings about the stand-ins are dropped by `Decoder::into_errors`.
        let (user, group) = (user.unwrap_or_default(), group.unwrap_or_default());
        let app = App {
            exec,
            event_handlers,
            user,
            group,
            supplementary_gids,
            working_directory,
            environment,
            mount_points,
            ports,
            isolators,
            user_annotations,
            user_labels,
        };
        app.check_own(path, &mut d.errors);
        d.clean_since(m).then_some(app)
    }
}

impl Port {
    pub(crate) fn decode(d: &mut Decoder, v: &Value, path: &str) -> Option<Port> {
        let m = d.mark();
        let o = d.object(v, path)?;
        let name = o.required(d, "name", decode::ac_name);
        let protocol = o.required(d, "protocol", decode::nonempty_string);
        let port = o.required(d, "port", |d, v, p| decode::integer(d, v, p, 1, 65535));
        // Go turns an absent or zero count into 1; zero is refused here, absent still means 1.
        let count = o
            .field(d, "count", |d, v, p| decode::integer(d, v, p, 1, 65535))
            .unwrap_or(1);
        let socket_activated = o
            .field(d, "socketActivated", decode::boolean)
            .unwrap_or(false);
        let (name, protocol, port) = (name?, protocol?, u16::try_from(port?).ok()?);
        let port = Port {
            name,
            protocol,
            port,
            count: u16::try_from(count).ok()?,
            socket_activated,
        };
        // The cross-field rules (`port + count`) are checked by the owner, so they run once.
        d.clean_since(m).then_some(port)
    }
}

pub(crate) fn port_problems(p: &Port, path: &str, errs: &mut Vec<Error>) {
    if p.protocol.is_empty() {
        errs.push(Error::new(join(path, "protocol"), "must not be empty"));
    }
    if p.port == 0 {
        errs.push(Error::new(join(path, "port"), "must be from 1 to 65535"));
    }
    if p.count == 0 {
        errs.push(Error::new(join(path, "count"), "must be at least 1"));
    } else if u32::from(p.port) + u32::from(p.count) - 1 > 65535 {
        errs.push(Error::new(
            join(path, "count"),
            format!("port {} + count {} runs past 65535", p.port, p.count),
        ));
    }
}

/// Re-checks a (possibly hand-built) isolator by decoding its JSON form.
pub(crate) fn isolator_value_problems(iso: &Isolator, path: &str) -> Vec<Error> {
    let mut d = Decoder::default();
    let json = serde_json::json!({"name": iso.name().as_str(), "value": iso.value().to_json()});
    let _ = Isolator::decode(&mut d, &json, path);
    d.errors
}

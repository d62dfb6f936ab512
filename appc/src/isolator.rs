//! Isolators: `{name, value}` pairs that ask the executor for resource limits and security
//! settings. Every isolator of appc 0.8.11 has a typed value here; any other name is kept as an
//! opaque [`IsolatorValue::Unknown`] (the spec says executors MAY ignore unknown isolators but must
//! say so — the Go reference instead rejects them inside an app, which contradicts the prose).
//!
//! `os/linux/apparmor-profile` is not in 0.8.11 (it came later, on the spec's main branch). We accept
//! and type it, because an image asking for an AppArmor profile must not have that request
//! silently turned into an "unknown isolator"; `actool` 0.8.11 rejects such manifests.
//!
//! Set rules (checked over an isolator list, see [`list_problems`]): capabilities retain and remove
//! sets exclude each other, so do the seccomp sets; seccomp, SELinux, AppArmor, oom-score-adj,
//! cpu-shares and sysctl appear at most once. Stricter than Go: a list may also hold at most one
//! capabilities set, one no-new-privileges, one `resource/cpu` and one `resource/memory` (two
//! limits for one resource are ambiguous). Other rules stricter than Go: capability names must be
//! real Linux capabilities, syscall names must look like syscall names, quantities must not be
//! negative, limits not zero and `request` not above `limit`.

use crate::manifest::decode::{self, Decoder, Object};
use crate::name::AcIdentifier;
use crate::quantity::Quantity;
use crate::validation::{Error, Errors, index, join};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Linux capability names accepted in capability sets.
pub const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The bounding set an executor grants when no capability isolator is given (spec, 14 names).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETFCAP",
    "CAP_SYS_CHROOT",
];

/// Isolator names of the spec.
pub mod names {
    pub const CPU: &str = "resource/cpu";
    pub const MEMORY: &str = "resource/memory";
    pub const BLOCK_BANDWIDTH: &str = "resource/block-bandwidth";
    pub const BLOCK_IOPS: &str = "resource/block-iops";
    pub const NETWORK_BANDWIDTH: &str = "resource/network-bandwidth";
    pub const CAPS_RETAIN: &str = "os/linux/capabilities-retain-set";
    pub const CAPS_REMOVE: &str = "os/linux/capabilities-remove-set";
    pub const NO_NEW_PRIVILEGES: &str = "os/linux/no-new-privileges";
    pub const SECCOMP_REMOVE: &str = "os/linux/seccomp-remove-set";
    pub const SECCOMP_RETAIN: &str = "os/linux/seccomp-retain-set";
    pub const SELINUX: &str = "os/linux/selinux-context";
    pub const APPARMOR: &str = "os/linux/apparmor-profile";
    pub const OOM_SCORE_ADJ: &str = "os/linux/oom-score-adj";
    pub const CPU_SHARES: &str = "os/linux/cpu-shares";
    pub const SYSCTL: &str = "os/unix/sysctl";
}

/// One isolator. Build one with [`Isolator::new`], which derives the name from the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolator {
    name: AcIdentifier,
    value: IsolatorValue,
}

/// `request`/`limit` pair of `resource/cpu` and `resource/memory`; at least one is set and
/// `request ≤ limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLimit {
    /// Guaranteed amount (defaults to `limit` at run time).
    pub request: Option<Quantity>,
    /// Hard limit, never zero.
    pub limit: Option<Quantity>,
}

/// A seccomp set: syscall names or `@`-wildcards, and the errno to return (`None`: kill with SIGSYS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompSet {
    /// Non-empty list of syscall names (`reboot`) or wildcards (`@appc.io/all`).
    pub set: Vec<String>,
    /// `E` followed by upper-case letters and digits. Not checked against an errno table: the spec's
    /// own example uses `EACCESS`, which is no errno.
    pub errno: Option<String>,
}

/// An SELinux context; user, role and type contain no `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelinuxContext {
    pub user: String,
    pub role: String,
    pub r#type: String,
    /// The MLS level (may contain `:`).
    pub level: String,
}

/// The typed value of an isolator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsolatorValue {
    /// `resource/cpu`, in cores (`1` = 1000m).
    Cpu(RequestLimit),
    /// `resource/memory`, in bytes.
    Memory(RequestLimit),
    /// `resource/block-bandwidth` limit in bytes/s (`default` is always true).
    BlockBandwidth(Quantity),
    /// `resource/block-iops` limit in operations/s.
    BlockIops(Quantity),
    /// `resource/network-bandwidth` limit in bytes/s.
    NetworkBandwidth(Quantity),
    /// `os/linux/capabilities-retain-set`: exactly these capabilities.
    CapabilitiesRetain(Vec<String>),
    /// `os/linux/capabilities-remove-set`: the default set minus these.
    CapabilitiesRemove(Vec<String>),
    /// `os/linux/no-new-privileges`.
    NoNewPrivileges(bool),
    /// `os/linux/seccomp-remove-set`: block these syscalls.
    SeccompRemove(SeccompSet),
    /// `os/linux/seccomp-retain-set`: allow only these syscalls.
    SeccompRetain(SeccompSet),
    /// `os/linux/selinux-context`.
    SelinuxContext(SelinuxContext),
    /// `os/linux/apparmor-profile` (spec HEAD, see the module docs).
    ApparmorProfile(String),
    /// `os/linux/oom-score-adj`, −1000..=1000.
    OomScoreAdj(i16),
    /// `os/linux/cpu-shares`, 2..=262144.
    CpuShares(u32),
    /// `os/unix/sysctl`: key → value.
    Sysctl(BTreeMap<String, String>),
    /// Any other isolator name: kept verbatim, for the executor to report as ignored.
    Unknown(Value),
}

impl IsolatorValue {
    /// The isolator name of this value, `None` for [`IsolatorValue::Unknown`].
    pub fn known_name(&self) -> Option<&'static str> {
        use IsolatorValue::*;
        Some(match self {
            Cpu(_) => names::CPU,
            Memory(_) => names::MEMORY,
            BlockBandwidth(_) => names::BLOCK_BANDWIDTH,
            BlockIops(_) => names::BLOCK_IOPS,
            NetworkBandwidth(_) => names::NETWORK_BANDWIDTH,
            CapabilitiesRetain(_) => names::CAPS_RETAIN,
            CapabilitiesRemove(_) => names::CAPS_REMOVE,
            NoNewPrivileges(_) => names::NO_NEW_PRIVILEGES,
            SeccompRemove(_) => names::SECCOMP_REMOVE,
            SeccompRetain(_) => names::SECCOMP_RETAIN,
            SelinuxContext(_) => names::SELINUX,
            ApparmorProfile(_) => names::APPARMOR,
            OomScoreAdj(_) => names::OOM_SCORE_ADJ,
            CpuShares(_) => names::CPU_SHARES,
            Sysctl(_) => names::SYSCTL,
            Unknown(_) => return None,
        })
    }

    /// The JSON form of the value.
    pub fn to_json(&self) -> Value {
        use IsolatorValue::*;
        let q = |q: &Quantity| Value::String(q.as_str().to_owned());
        let strings = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
        let mut m = Map::new();
        match self {
            Cpu(rl) | Memory(rl) => {
                if let Some(r) = &rl.request {
                    m.insert("request".into(), q(r));
                }
                if let Some(l) = &rl.limit {
                    m.insert("limit".into(), q(l));
                }
            }
            BlockBandwidth(l) | BlockIops(l) | NetworkBandwidth(l) => {
                m.insert("default".into(), Value::Bool(true));
                m.insert("limit".into(), q(l));
            }
            CapabilitiesRetain(set) | CapabilitiesRemove(set) => {
                m.insert("set".into(), strings(set));
            }
            NoNewPrivileges(b) => return Value::Bool(*b),
            SeccompRemove(s) | SeccompRetain(s) => {
                m.insert("set".into(), strings(&s.set));
                if let Some(e) = &s.errno {
                    m.insert("errno".into(), Value::String(e.clone()));
                }
            }
            SelinuxContext(c) => {
                for (k, v) in [
                    ("user", &c.user),
                    ("role", &c.role),
                    ("type", &c.r#type),
                    ("level", &c.level),
                ] {
                    m.insert(k.into(), Value::String(v.clone()));
                }
            }
            ApparmorProfile(p) => {
                m.insert("profile".into(), Value::String(p.clone()));
            }
            OomScoreAdj(n) => return Value::from(*n),
            CpuShares(n) => return Value::from(*n),
            Sysctl(map) => {
                for (k, v) in map {
                    m.insert(k.clone(), Value::String(v.clone()));
                }
            }
            Unknown(v) => return v.clone(),
        }
        Value::Object(m)
    }
}

impl Isolator {
    /// A known isolator, named after its value.
    pub fn new(value: IsolatorValue) -> Option<Isolator> {
        let name = AcIdentifier::new(value.known_name()?).ok()?;
        Some(Isolator { name, value })
    }

    /// An isolator whose name is not one of the spec's; `None` if `name` is a known name.
    pub fn unknown(name: AcIdentifier, value: Value) -> Option<Isolator> {
        (!is_known_name(name.as_str())).then_some(Isolator {
            name,
            value: IsolatorValue::Unknown(value),
        })
    }

    /// The isolator's name.
    pub fn name(&self) -> &AcIdentifier {
        &self.name
    }

    /// The typed value.
    pub fn value(&self) -> &IsolatorValue {
        &self.value
    }

    /// Whether the name is one of the spec's isolators.
    pub fn is_known(&self) -> bool {
        !matches!(self.value, IsolatorValue::Unknown(_))
    }

    /// The isolator named `name` with the JSON `value`, checked by the same rules as a manifest's
    /// isolators (a known name gets its typed value, any other an [`IsolatorValue::Unknown`]).
    /// Errors' paths are relative to the isolator object: `name`, `value`, `value.limit`.
    pub fn from_json(name: &str, value: &Value) -> Result<Isolator, Errors> {
        let mut d = Decoder::default();
        let json = serde_json::json!({"name": name, "value": value});
        let iso = Isolator::decode(&mut d, &json, "");
        Errors::check(d.into_errors())?;
        iso.ok_or_else(|| Error::new("", "invalid isolator").into())
    }

    pub(crate) fn decode(d: &mut Decoder, v: &Value, path: &str) -> Option<Isolator> {
        let m = d.mark();
        let o = d.object(v, path)?;
        let name = o.required(d, "name", decode::identifier)?;
        let vpath = o.path_of("value");
        let value = match o.get(d, "value") {
            Some(value) => decode_value(d, name.as_str(), value, &vpath),
            None => {
                d.fail(&vpath, "is required");
                None
            }
        };
        let value = value?;
        d.clean_since(m).then_some(Isolator { name, value })
    }
}

impl Serialize for Isolator {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Isolator", 2)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("value", &self.value.to_json())?;
        st.end()
    }
}

/// Whether `name` is one of the isolators this crate types.
pub fn is_known_name(name: &str) -> bool {
    [
        names::CPU,
        names::MEMORY,
        names::BLOCK_BANDWIDTH,
        names::BLOCK_IOPS,
        names::NETWORK_BANDWIDTH,
        names::CAPS_RETAIN,
        names::CAPS_REMOVE,
        names::NO_NEW_PRIVILEGES,
        names::SECCOMP_REMOVE,
        names::SECCOMP_RETAIN,
        names::SELINUX,
        names::APPARMOR,
        names::OOM_SCORE_ADJ,
        names::CPU_SHARES,
        names::SYSCTL,
    ]
    .contains(&name)
}

/// Decodes `value` for isolator `name`; unknown names keep the value verbatim.
fn decode_value(d: &mut Decoder, name: &str, v: &Value, path: &str) -> Option<IsolatorValue> {
    use IsolatorValue as V;
    if !is_known_name(name) {
        return Some(V::Unknown(v.clone()));
    }
    if v.is_null() {
        d.fail(path, "is required");
        return None;
    }
    let m = d.mark();
    let value = match name {
        names::CPU => V::Cpu(request_limit(d, v, path)?),
        names::MEMORY => V::Memory(request_limit(d, v, path)?),
        names::BLOCK_BANDWIDTH => V::BlockBandwidth(default_limit(d, v, path)?),
        names::BLOCK_IOPS => V::BlockIops(default_limit(d, v, path)?),
        names::NETWORK_BANDWIDTH => V::NetworkBandwidth(default_limit(d, v, path)?),
        names::CAPS_RETAIN => V::CapabilitiesRetain(capability_set(d, v, path)?),
        names::CAPS_REMOVE => V::CapabilitiesRemove(capability_set(d, v, path)?),
        names::NO_NEW_PRIVILEGES => V::NoNewPrivileges(decode::boolean(d, v, path)?),
        names::SECCOMP_REMOVE => V::SeccompRemove(seccomp_set(d, v, path)?),
        names::SECCOMP_RETAIN => V::SeccompRetain(seccomp_set(d, v, path)?),
        names::SELINUX => V::SelinuxContext(selinux(d, v, path)?),
        names::APPARMOR => {
            let o = d.object(v, path)?;
            V::ApparmorProfile(o.required(d, "profile", decode::nonempty_string)?)
        }
        names::OOM_SCORE_ADJ => {
            V::OomScoreAdj(i16::try_from(decode::integer(d, v, path, -1000, 1000)?).ok()?)
        }
        names::CPU_SHARES => {
            V::CpuShares(u32::try_from(decode::integer(d, v, path, 2, 262_144)?).ok()?)
        }
        _ => V::Sysctl(sysctl(d, v, path)?),
    };
    d.clean_since(m).then_some(value)
}

fn quantity(d: &mut Decoder, v: &Value, path: &str) -> Option<Quantity> {
    let text = match v {
        Value::String(s) => s.trim().to_owned(), // as Go's JSON path does
        Value::Number(n) => n.to_string(),
        other => {
            d.fail(
                path,
                format!("must be a quantity string, found {}", decode::kind(other)),
            );
            return None;
        }
    };
    Quantity::new(&text)
        .map_err(|e| d.fail(path, e.to_string()))
        .ok()
}

fn default_flag(d: &mut Decoder, o: &Object<'_>) -> Option<bool> {
    o.field(d, "default", decode::boolean)
}

fn request_limit(d: &mut Decoder, v: &Value, path: &str) -> Option<RequestLimit> {
    let o = d.object(v, path)?;
    if default_flag(d, &o) == Some(true) {
        d.fail(&o.path_of("default"), "must not be true for this resource");
    }
    let request = o.field(d, "request", quantity);
    let limit = o.field(d, "limit", quantity);
    if !o.has("request") && !o.has("limit") {
        d.fail(path, "must set `request` or `limit`");
    }
    if limit.as_ref().is_some_and(Quantity::is_zero) {
        d.fail(&o.path_of("limit"), "must not be zero");
    }
    if let (Some(r), Some(l)) = (&request, &limit)
        && r.nanos() > l.nanos()
    {
        d.fail(
            &o.path_of("request"),
            format!("must not exceed the limit {l}"),
        );
    }
    Some(RequestLimit { request, limit })
}

fn default_limit(d: &mut Decoder, v: &Value, path: &str) -> Option<Quantity> {
    let o = d.object(v, path)?;
    if default_flag(d, &o) != Some(true) {
        d.fail(&o.path_of("default"), "must be true for this resource");
    }
    if o.has("request") {
        d.fail(&o.path_of("request"), "is not allowed for this resource");
    }
    let limit = o.required(d, "limit", quantity)?;
    if limit.is_zero() {
        d.fail(&o.path_of("limit"), "must not be zero");
    }
    Some(limit)
}

fn nonempty_set(
    d: &mut Decoder,
    o: &Object<'_>,
    item_ok: impl Fn(&str) -> Option<String>,
) -> Option<Vec<String>> {
    let set = o.required(d, "set", |d, v, p| {
        decode::array(d, v, p, |d, v, p| {
            let s = decode::string(d, v, p)?;
            match item_ok(&s) {
                None => Some(s),
                Some(msg) => {
                    d.fail(p, msg);
                    None
                }
            }
        })
    })?;
    if set.is_empty() {
        d.fail(&o.path_of("set"), "must not be empty");
    }
    Some(set)
}

fn capability_set(d: &mut Decoder, v: &Value, path: &str) -> Option<Vec<String>> {
    let o = d.object(v, path)?;
    nonempty_set(d, &o, |c| {
        (!CAPABILITIES.contains(&c))
            .then(|| format!("{c:?} is not a Linux capability (e.g. CAP_NET_ADMIN)"))
    })
}

fn is_syscall_name(s: &str) -> bool {
    if let Some(wildcard) = s.strip_prefix('@') {
        return AcIdentifier::new(wildcard).is_ok();
    }
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn seccomp_set(d: &mut Decoder, v: &Value, path: &str) -> Option<SeccompSet> {
    let o = d.object(v, path)?;
    let set = nonempty_set(d, &o, |s| {
        (!is_syscall_name(s)).then(|| format!("{s:?} is not a syscall name or @-wildcard"))
    });
    let errno = o
        .field(d, "errno", decode::string)
        .filter(|e| !e.is_empty());
    if let Some(e) = &errno {
        let ok = e.len() > 1
            && e.starts_with('E')
            && e.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !ok {
            d.fail(
                &o.path_of("errno"),
                format!("{e:?} is not an errno name (E followed by A-Z or 0-9)"),
            );
        }
    }
    Some(SeccompSet { set: set?, errno })
}

fn selinux(d: &mut Decoder, v: &Value, path: &str) -> Option<SelinuxContext> {
    let o = d.object(v, path)?;
    let mut part = |key: &str, colon_ok: bool| {
        let s = o.required(d, key, decode::nonempty_string)?;
        if !colon_ok && s.contains(':') {
            d.fail(&o.path_of(key), "must not contain `:`");
        }
        Some(s)
    };
    let (user, role, ty, level) = (
        part("user", false),
        part("role", false),
        part("type", false),
        part("level", true),
    );
    Some(SelinuxContext {
        user: user?,
        role: role?,
        r#type: ty?,
        level: level?,
    })
}

fn sysctl(d: &mut Decoder, v: &Value, path: &str) -> Option<BTreeMap<String, String>> {
    let map = decode::string_map(d, v, path)?;
    for k in map.keys() {
        let ok = !k.is_empty()
            && !k.starts_with('.')
            && !k.ends_with('.')
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
        if !ok {
            d.fail(&join(path, k), "is not a sysctl key");
        }
    }
    Some(map)
}

/// The set rules of an isolator list (an app's or a pod's), with paths under `path`.
pub fn list_problems(isolators: &[Isolator], path: &str) -> Vec<Error> {
    use IsolatorValue as V;
    let mut errs = Vec::new();
    let mut single = |i: usize, what: &str, pred: &dyn Fn(&IsolatorValue) -> bool| {
        if isolators[..i].iter().any(|o| pred(&o.value)) {
            errs.push(Error::new(
                join(&index(path, i), "name"),
                format!("only one {what} isolator is allowed"),
            ));
        }
    };
    for (i, iso) in isolators.iter().enumerate() {
        match &iso.value {
            V::CapabilitiesRetain(_) | V::CapabilitiesRemove(_) => {
                single(i, "capabilities set", &|v| {
                    matches!(v, V::CapabilitiesRetain(_) | V::CapabilitiesRemove(_))
                })
            }
            V::SeccompRemove(_) | V::SeccompRetain(_) => single(i, "seccomp set", &|v| {
                matches!(v, V::SeccompRemove(_) | V::SeccompRetain(_))
            }),
            V::SelinuxContext(_) => {
                single(i, "selinux-context", &|v| matches!(v, V::SelinuxContext(_)))
            }
            V::ApparmorProfile(_) => single(i, "apparmor-profile", &|v| {
                matches!(v, V::ApparmorProfile(_))
            }),
            V::OomScoreAdj(_) => single(i, "oom-score-adj", &|v| matches!(v, V::OomScoreAdj(_))),
            V::CpuShares(_) => single(i, "cpu-shares", &|v| matches!(v, V::CpuShares(_))),
            V::Sysctl(_) => single(i, "sysctl", &|v| matches!(v, V::Sysctl(_))),
            V::NoNewPrivileges(_) => single(i, "no-new-privileges", &|v| {
                matches!(v, V::NoNewPrivileges(_))
            }),
            V::Cpu(_) => single(i, "resource/cpu", &|v| matches!(v, V::Cpu(_))),
            V::Memory(_) => single(i, "resource/memory", &|v| matches!(v, V::Memory(_))),
            _ => {}
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(name: &str, value: Value) -> Result<Isolator, Vec<Error>> {
        let mut d = Decoder::default();
        let iso = Isolator::decode(
            &mut d,
            &json!({"name": name, "value": value}),
            "isolators[0]",
        );
        match iso {
            Some(i) if d.errors.is_empty() => Ok(i),
            _ => Err(d.errors),
        }
    }

    #[test]
    fn from_json_types_a_valid_isolator_and_reports_a_broken_one_relative_to_it() {
        let iso = Isolator::from_json(names::MEMORY, &json!({"limit": "1G"})).unwrap();
        assert!(matches!(iso.value(), IsolatorValue::Memory(_)));
        let unknown = Isolator::from_json("example.com/x", &json!([1])).unwrap();
        assert!(!unknown.is_known());
        let errs = Isolator::from_json(names::MEMORY, &json!({"limit": "lots"})).unwrap_err();
        assert!(errs.has_path("value.limit"), "{errs}");
        let errs = Isolator::from_json("Not A Name", &json!(true)).unwrap_err();
        assert!(errs.has_path("name"), "{errs}");
    }

    fn rejects(name: &str, value: Value, path: &str) {
        let errs =
            decode(name, value.clone()).expect_err(&format!("{name} {value} must be rejected"));
        assert!(
            errs.iter().any(|e| e.path == path),
            "{name} {value}: expected an error at {path}, got {errs:?}"
        );
    }

    #[test]
    fn resources_typed() {
        let cpu = decode("resource/cpu", json!({"request": "250m", "limit": 2})).unwrap();
        let IsolatorValue::Cpu(rl) = cpu.value() else {
            panic!()
        };
        assert_eq!(rl.request.as_ref().unwrap().millis_ceil(), 250);
        assert_eq!(rl.limit.as_ref().unwrap().millis_ceil(), 2000);
        let mem = decode("resource/memory", json!({"limit": " 1G"})).unwrap();
        assert_eq!(
            mem.value(),
            &IsolatorValue::Memory(RequestLimit {
                request: None,
                limit: Some(Quantity::new("1G").unwrap())
            })
        );
        for n in [
            "resource/block-bandwidth",
            "resource/block-iops",
            "resource/network-bandwidth",
        ] {
            assert!(
                decode(n, json!({"default": true, "limit": "10M"})).is_ok(),
                "{n}"
            );
        }
    }

    #[test]
    fn resource_rules() {
        rejects(
            "resource/cpu",
            json!({"default": true, "limit": "1"}),
            "isolators[0].value.default",
        );
        rejects(
            "resource/memory",
            json!({"default": true, "limit": "1G"}),
            "isolators[0].value.default",
        );
        rejects("resource/memory", json!({}), "isolators[0].value");
        rejects(
            "resource/memory",
            json!({"limit": "0"}),
            "isolators[0].value.limit",
        );
        rejects(
            "resource/memory",
            json!({"limit": "-1G"}),
            "isolators[0].value.limit",
        );
        rejects(
            "resource/memory",
            json!({"limit": "1K"}),
            "isolators[0].value.limit",
        );
        rejects(
            "resource/cpu",
            json!({"limit": "1 core"}),
            "isolators[0].value.limit",
        );
        rejects(
            "resource/cpu",
            json!({"request": "2", "limit": "1"}),
            "isolators[0].value.request",
        );
        rejects(
            "resource/block-bandwidth",
            json!({"limit": "1M"}),
            "isolators[0].value.default",
        );
        rejects(
            "resource/block-iops",
            json!({"default": true, "request": "1", "limit": "1"}),
            "isolators[0].value.request",
        );
        rejects(
            "resource/network-bandwidth",
            json!({"default": true}),
            "isolators[0].value.limit",
        );
    }

    #[test]
    fn missing_or_null_value_rejected() {
        let errs = decode("resource/cpu", Value::Null).unwrap_err();
        assert_eq!(errs[0].path, "isolators[0].value");
        let mut d = Decoder::default();
        assert!(
            Isolator::decode(&mut d, &json!({"name": "os/linux/no-new-privileges"}), "i").is_none()
        );
        assert_eq!(d.errors[0].to_string(), "i.value: is required");
    }

    #[test]
    fn bad_isolator_name_rejected() {
        rejects("Bad Name", json!(1), "isolators[0].name");
    }

    #[test]
    fn unknown_isolator_kept_verbatim() {
        let iso = decode("example.com/foo", json!({"x": [1]})).unwrap();
        assert!(!iso.is_known());
        assert_eq!(iso.value().to_json(), json!({"x": [1]}));
        assert!(Isolator::unknown(AcIdentifier::new("resource/cpu").unwrap(), json!({})).is_none());
        assert!(
            Isolator::unknown(AcIdentifier::new("example.com/foo").unwrap(), json!({})).is_some()
        );
    }

    #[test]
    fn capabilities() {
        assert!(
            decode(
                "os/linux/capabilities-retain-set",
                json!({"set": ["CAP_NET_ADMIN"]})
            )
            .is_ok()
        );
        assert!(
            decode(
                "os/linux/capabilities-remove-set",
                json!({"set": ["CAP_KILL"]})
            )
            .is_ok()
        );
        rejects(
            "os/linux/capabilities-retain-set",
            json!({"set": []}),
            "isolators[0].value.set",
        );
        rejects(
            "os/linux/capabilities-remove-set",
            json!({}),
            "isolators[0].value.set",
        );
        rejects(
            "os/linux/capabilities-retain-set",
            json!({"set": ["NOT_A_CAP"]}),
            "isolators[0].value.set[0]",
        );
        assert_eq!(DEFAULT_CAPABILITIES.len(), 14);
        assert!(
            DEFAULT_CAPABILITIES
                .iter()
                .all(|c| CAPABILITIES.contains(c))
        );
    }

    #[test]
    fn no_new_privileges_is_a_bare_bool() {
        assert_eq!(
            decode("os/linux/no-new-privileges", json!(true))
                .unwrap()
                .value(),
            &IsolatorValue::NoNewPrivileges(true)
        );
        rejects(
            "os/linux/no-new-privileges",
            json!("true"),
            "isolators[0].value",
        );
        rejects(
            "os/linux/no-new-privileges",
            json!({}),
            "isolators[0].value",
        );
    }

    #[test]
    fn seccomp() {
        let ok = decode(
            "os/linux/seccomp-remove-set",
            json!({"set": ["reboot", "@appc.io/empty"], "errno": "EACCESS"}),
        );
        assert!(ok.is_ok());
        assert!(
            decode(
                "os/linux/seccomp-retain-set",
                json!({"set": ["@appc.io/all"]})
            )
            .is_ok()
        );
        rejects(
            "os/linux/seccomp-retain-set",
            json!({"set": []}),
            "isolators[0].value.set",
        );
        for errno in ["enotsup", "XNOTSUP", "E_X", "E"] {
            rejects(
                "os/linux/seccomp-remove-set",
                json!({"set": ["reboot"], "errno": errno}),
                "isolators[0].value.errno",
            );
        }
        rejects(
            "os/linux/seccomp-remove-set",
            json!({"set": ["re boot"]}),
            "isolators[0].value.set[0]",
        );
    }

    #[test]
    fn selinux() {
        let v = json!({"user": "system_u", "role": "system_r", "type": "svirt_lxc_net_t", "level": "s0:c1,c2"});
        assert!(decode("os/linux/selinux-context", v).is_ok());
        rejects(
            "os/linux/selinux-context",
            json!({"user": "a:b", "role": "r", "type": "t", "level": "s0"}),
            "isolators[0].value.user",
        );
        rejects(
            "os/linux/selinux-context",
            json!({"user": "u", "role": "r", "type": "t"}),
            "isolators[0].value.level",
        );
    }

    #[test]
    fn apparmor_accepted_from_spec_head() {
        assert!(decode("os/linux/apparmor-profile", json!({"profile": "x"})).is_ok());
        rejects(
            "os/linux/apparmor-profile",
            json!({"profile": ""}),
            "isolators[0].value.profile",
        );
    }

    #[test]
    fn oom_and_cpu_shares_ranges() {
        assert!(decode("os/linux/oom-score-adj", json!(-1000)).is_ok());
        assert!(decode("os/linux/oom-score-adj", json!(1000)).is_ok());
        rejects("os/linux/oom-score-adj", json!(1001), "isolators[0].value");
        rejects("os/linux/oom-score-adj", json!("100"), "isolators[0].value");
        assert!(decode("os/linux/cpu-shares", json!(2)).is_ok());
        assert!(decode("os/linux/cpu-shares", json!(262_144)).is_ok());
        rejects("os/linux/cpu-shares", json!(1), "isolators[0].value");
        rejects("os/linux/cpu-shares", json!(262_145), "isolators[0].value");
    }

    #[test]
    fn sysctl_values_are_strings() {
        assert!(decode("os/unix/sysctl", json!({"net.ipv4.tcp_fin_timeout": "6"})).is_ok());
        rejects(
            "os/unix/sysctl",
            json!({"net.ipv4.tcp_fin_timeout": 6}),
            "isolators[0].value.net.ipv4.tcp_fin_timeout",
        );
    }

    #[test]
    fn set_rules() {
        let iso = |name: &str, v: Value| decode(name, v).unwrap();
        let caps_retain = iso(
            "os/linux/capabilities-retain-set",
            json!({"set": ["CAP_KILL"]}),
        );
        let caps_remove = iso(
            "os/linux/capabilities-remove-set",
            json!({"set": ["CAP_KILL"]}),
        );
        let sc_retain = iso("os/linux/seccomp-retain-set", json!({"set": ["read"]}));
        let sc_remove = iso("os/linux/seccomp-remove-set", json!({"set": ["reboot"]}));
        let sysctl = iso("os/unix/sysctl", json!({"a.b": "1"}));
        let shares = iso("os/linux/cpu-shares", json!(100));
        let bw = iso(
            "resource/block-bandwidth",
            json!({"default": true, "limit": "1M"}),
        );
        for pair in [
            [caps_retain.clone(), caps_remove.clone()],
            [sc_retain.clone(), sc_remove.clone()],
            [sc_retain.clone(), sc_retain.clone()],
            [sysctl.clone(), sysctl.clone()],
            [shares.clone(), shares.clone()],
        ] {
            let p = list_problems(&pair, "app.isolators");
            assert_eq!(p.len(), 1, "{pair:?}");
            assert_eq!(p[0].path, "app.isolators[1].name");
        }
        assert!(
            list_problems(
                &[caps_retain, sc_remove, sysctl, shares, bw.clone(), bw],
                "i"
            )
            .is_empty()
        );
    }

    #[test]
    fn json_form_round_trips() {
        for (n, v) in [
            ("resource/cpu", json!({"request": "250m", "limit": "1"})),
            (
                "resource/network-bandwidth",
                json!({"default": true, "limit": "1M"}),
            ),
            (
                "os/linux/seccomp-remove-set",
                json!({"set": ["reboot"], "errno": "EPERM"}),
            ),
            ("os/linux/oom-score-adj", json!(-5)),
            ("os/unix/sysctl", json!({"k.a": "1"})),
        ] {
            assert_eq!(decode(n, v.clone()).unwrap().value().to_json(), v, "{n}");
        }
    }
}

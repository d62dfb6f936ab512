//! Isolators as policy: the appc isolators of an app (and the pod-level ones that bound them) turned
//! into plain data — capability set, seccomp plan, cgroup limits, no-new-privileges, OOM score —
//! plus a report naming every isolator as enforced or ignored (the spec's MUST).
//!
//! Nothing here touches the system; [`cgroup`], [`capabilities`] and [`seccomp`] hold the thin
//! mechanism that applies the plan. Defends against: an image silently running with more privilege
//! than it asked for (defaults are the appc capability set, no-new-privileges on, a seccomp
//! deny-list), and a user believing a limit is enforced when it is not (`--strict`).

pub mod capabilities;
pub mod cgroup;
pub mod seccomp;

use appc::isolator::{Isolator, IsolatorValue};
use std::fmt;

pub use capabilities::CapabilityPlan;
pub use seccomp::SeccompPlan;

/// Resource limits for one cgroup; `None` means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// `resource/memory` limit in bytes.
    pub memory_bytes: Option<u64>,
    /// `resource/cpu` limit in millicores.
    pub cpu_millis: Option<u64>,
    /// `os/linux/cpu-shares`.
    pub cpu_shares: Option<u32>,
}

impl Limits {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}

/// Everything the isolators of one app ask for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IsolatorPlan {
    /// The capability bounding set.
    pub capabilities: CapabilityPlan,
    /// The seccomp filter.
    pub seccomp: SeccompPlan,
    /// `PR_SET_NO_NEW_PRIVS` (on by default).
    pub no_new_privileges: bool,
    /// `/proc/self/oom_score_adj`.
    pub oom_score_adj: Option<i16>,
    /// The app's own cgroup limits.
    pub limits: Limits,
}

/// What became of one isolator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Where the isolator came from: `pod` or the app name.
    pub scope: String,
    /// The isolator name.
    pub isolator: String,
    /// `None` when enforced; otherwise why it was ignored.
    pub ignored: Option<String>,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.ignored {
            None => write!(f, "{}: isolator {} enforced", self.scope, self.isolator),
            Some(why) => write!(
                f,
                "{}: isolator {} NOT enforced: {why}",
                self.scope, self.isolator
            ),
        }
    }
}

/// Why an isolator list cannot be turned into a plan.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// A capability name the host's capability library does not know.
    #[error("{scope}: unknown capability {name:?}")]
    Capability {
        /// App name.
        scope: String,
        /// The name.
        name: String,
    },
    /// A seccomp set that cannot be compiled.
    #[error("{scope}: {message}")]
    Seccomp {
        /// App name.
        scope: String,
        /// What is wrong.
        message: String,
    },
}

/// Plans the pod-level isolators: the pod cgroup's limits and the notices.
pub fn plan_pod(isolators: &[Isolator], notices: &mut Vec<Notice>) -> Limits {
    let mut limits = Limits::default();
    for iso in isolators {
        let ignored = apply_limit(&mut limits, iso.value());
        notices.push(Notice {
            scope: "pod".into(),
            isolator: iso.name().as_str().to_owned(),
            ignored: if ignored {
                Some("not supported at pod level".into())
            } else {
                None
            },
        });
    }
    limits
}

/// Records a cgroup limit from `value`; `true` when `value` is not a cgroup limit.
fn apply_limit(limits: &mut Limits, value: &IsolatorValue) -> bool {
    match value {
        IsolatorValue::Memory(rl) => {
            if let Some(l) = &rl.limit {
                limits.memory_bytes = Some(l.units_ceil());
            }
        }
        IsolatorValue::Cpu(rl) => {
            if let Some(l) = &rl.limit {
                limits.cpu_millis = Some(l.millis_ceil().max(1));
            }
        }
        IsolatorValue::CpuShares(n) => limits.cpu_shares = Some(*n),
        _ => return true,
    }
    false
}

/// Plans one app's isolators. Every isolator gets a notice; unknown and unsupported ones are
/// reported as ignored.
pub fn plan_app(
    app: &str,
    isolators: &[Isolator],
    notices: &mut Vec<Notice>,
) -> Result<IsolatorPlan, PlanError> {
    let mut plan = IsolatorPlan {
        capabilities: CapabilityPlan::default_set(),
        seccomp: SeccompPlan::default_deny(),
        no_new_privileges: true,
        oom_score_adj: None,
        limits: Limits::default(),
    };
    for iso in isolators {
        let name = iso.name().as_str().to_owned();
        let ignored = match iso.value() {
            IsolatorValue::CapabilitiesRetain(set) => {
                plan.capabilities = CapabilityPlan::retain(app, set)?;
                None
            }
            IsolatorValue::CapabilitiesRemove(set) => {
                plan.capabilities = CapabilityPlan::remove(app, set)?;
                None
            }
            IsolatorValue::SeccompRemove(set) => {
                plan.seccomp = SeccompPlan::remove(app, set)?;
                None
            }
            IsolatorValue::SeccompRetain(set) => {
                plan.seccomp = SeccompPlan::retain(app, set)?;
                None
            }
            IsolatorValue::NoNewPrivileges(b) => {
                plan.no_new_privileges = *b;
                None
            }
            IsolatorValue::OomScoreAdj(n) => {
                plan.oom_score_adj = Some(*n);
                None
            }
            v
            @ (IsolatorValue::Memory(_) | IsolatorValue::Cpu(_) | IsolatorValue::CpuShares(_)) => {
                apply_limit(&mut plan.limits, v);
                None
            }
            IsolatorValue::Unknown(_) => Some("unknown isolator".to_owned()),
            _ => Some("not supported by acrun".to_owned()),
        };
        notices.push(Notice {
            scope: app.to_owned(),
            isolator: name,
            ignored,
        });
    }
    Ok(plan)
}

/// The notices that name an ignored isolator.
pub fn ignored(notices: &[Notice]) -> impl Iterator<Item = &Notice> {
    notices.iter().filter(|n| n.ignored.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use appc::isolator::{RequestLimit, SeccompSet};
    use appc::quantity::Quantity;

    fn iso(v: IsolatorValue) -> Isolator {
        Isolator::new(v).unwrap()
    }

    #[test]
    fn defaults_are_appc_caps_nnp_and_the_deny_list() {
        let mut notices = vec![];
        let plan = plan_app("a", &[], &mut notices).unwrap();
        assert_eq!(plan.capabilities, CapabilityPlan::default_set());
        assert_eq!(plan.seccomp, SeccompPlan::default_deny());
        assert!(plan.no_new_privileges);
        assert!(plan.limits.is_empty());
        assert!(notices.is_empty());
    }

    #[test]
    fn memory_and_cpu_become_cgroup_limits() {
        let mut notices = vec![];
        let mem = RequestLimit {
            request: None,
            limit: Some(Quantity::new("32Mi").unwrap()),
        };
        let cpu = RequestLimit {
            request: None,
            limit: Some(Quantity::new("500m").unwrap()),
        };
        let plan = plan_app(
            "a",
            &[
                iso(IsolatorValue::Memory(mem)),
                iso(IsolatorValue::Cpu(cpu)),
                iso(IsolatorValue::CpuShares(512)),
            ],
            &mut notices,
        )
        .unwrap();
        assert_eq!(
            plan.limits,
            Limits {
                memory_bytes: Some(32 << 20),
                cpu_millis: Some(500),
                cpu_shares: Some(512)
            }
        );
        assert!(ignored(&notices).next().is_none());
        assert_eq!(notices.len(), 3);
    }

    #[test]
    fn unsupported_isolators_are_reported_as_ignored() {
        let mut notices = vec![];
        let bw = iso(IsolatorValue::BlockBandwidth(Quantity::new("1M").unwrap()));
        let unknown = Isolator::unknown(
            appc::name::AcIdentifier::new("example.com/x").unwrap(),
            serde_json::json!({}),
        )
        .unwrap();
        plan_app("a", &[bw, unknown], &mut notices).unwrap();
        let names: Vec<_> = ignored(&notices).map(|n| n.isolator.as_str()).collect();
        assert_eq!(names, ["resource/block-bandwidth", "example.com/x"]);
        assert!(notices[0].to_string().contains("NOT enforced"));
    }

    #[test]
    fn nnp_can_be_turned_off_and_seccomp_replaced() {
        let mut notices = vec![];
        let set = SeccompSet {
            set: vec!["mkdir".into()],
            errno: Some("EACCES".into()),
        };
        let plan = plan_app(
            "a",
            &[
                iso(IsolatorValue::NoNewPrivileges(false)),
                iso(IsolatorValue::SeccompRemove(set)),
            ],
            &mut notices,
        )
        .unwrap();
        assert!(!plan.no_new_privileges);
        assert_eq!(
            plan.seccomp,
            SeccompPlan::Deny {
                syscalls: vec!["mkdir".into()],
                errno: Some(libc::EACCES)
            }
        );
    }

    #[test]
    fn pod_limits_come_from_pod_isolators() {
        let mut notices = vec![];
        let mem = RequestLimit {
            request: None,
            limit: Some(Quantity::new("1Gi").unwrap()),
        };
        let limits = plan_pod(
            &[
                iso(IsolatorValue::Memory(mem)),
                iso(IsolatorValue::NoNewPrivileges(true)),
            ],
            &mut notices,
        );
        assert_eq!(limits.memory_bytes, Some(1 << 30));
        assert_eq!(ignored(&notices).count(), 1);
    }
}

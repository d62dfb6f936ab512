//! Capabilities: the bounding set an app runs with. Policy: the appc default set (14 names) unless
//! a retain-set (exactly these) or a remove-set (default minus these) says otherwise. Mechanism:
//! drop every other capability from the bounding, inheritable and ambient sets before exec, so
//! neither the app nor anything it executes can regain them (a root app's permitted set after
//! exec is its bounding set).
//!
//! Defends against: an image gaining CAP_SYS_ADMIN and friends (mount, namespace and module
//! tricks that break out of a container).

use super::PlanError;
use appc::isolator::DEFAULT_CAPABILITIES;
use caps::{CapSet, Capability};
use std::collections::BTreeSet;
use std::str::FromStr;

/// The capability names an app keeps (`CAP_…`), sorted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CapabilityPlan {
    /// Capabilities kept in the bounding set.
    pub keep: BTreeSet<String>,
}

impl CapabilityPlan {
    /// The appc default set.
    pub fn default_set() -> CapabilityPlan {
        CapabilityPlan {
            keep: DEFAULT_CAPABILITIES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }

    /// Exactly `set`.
    pub fn retain(app: &str, set: &[String]) -> Result<CapabilityPlan, PlanError> {
        let keep = set
            .iter()
            .map(|n| normalize(app, n))
            .collect::<Result<_, _>>()?;
        Ok(CapabilityPlan { keep })
    }

    /// The default set without `set` (naming a capability outside the default is a no-op).
    pub fn remove(app: &str, set: &[String]) -> Result<CapabilityPlan, PlanError> {
        let mut plan = CapabilityPlan::default_set();
        for n in set {
            plan.keep.remove(&normalize(app, n)?);
        }
        Ok(plan)
    }

    /// Whether `cap` is kept.
    pub fn keeps(&self, cap: Capability) -> bool {
        self.keep.contains(&cap.to_string())
    }
}

/// `CAP_X` for `cap_x` or `x`, checked against the capability library.
fn normalize(app: &str, name: &str) -> Result<String, PlanError> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    Capability::from_str(&full)
        .map(|c| c.to_string())
        .map_err(|_| PlanError::Capability {
            scope: app.to_owned(),
            name: name.to_owned(),
        })
}

/// Drops every capability not in `plan` from the bounding, inheritable and ambient sets of this
/// process. Needs CAP_SETPCAP, so it runs before the uid changes.
///
/// One `prctl` per dropped bounding capability and one read and one write of the inheritable
/// set: no probing of which capabilities the kernel knows first (a capability the kernel does
/// not know is in no set, and dropping it from the bounding set is refused with EINVAL).
pub fn apply(plan: &CapabilityPlan) -> Result<(), caps::errors::CapsError> {
    caps::clear(None, CapSet::Ambient)?;
    for cap in caps::all() {
        if plan.keeps(cap) {
            continue;
        }
        // SAFETY: PR_CAPBSET_DROP takes a capability number and changes only this thread.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap.index())) };
        match nix::errno::Errno::result(rc) {
            Ok(_) | Err(nix::errno::Errno::EINVAL) => {}
            Err(e) => {
                return Err(caps::errors::CapsError::from(format!(
                    "PR_CAPBSET_DROP {cap}: {e}"
                )));
            }
        }
    }
    let inheritable: caps::CapsHashSet = caps::read(None, CapSet::Inheritable)?
        .into_iter()
        .filter(|c| plan.keeps(*c))
        .collect();
    caps::set(None, CapSet::Inheritable, &inheritable)
}

/// Narrows the effective and permitted sets to the plan (for a process that keeps running as root
/// without exec, e.g. a handler runner).
pub fn restrict_effective(plan: &CapabilityPlan) -> Result<(), caps::errors::CapsError> {
    for set in [CapSet::Effective, CapSet::Permitted] {
        let current = caps::read(None, set)?;
        for cap in current {
            if !plan.keeps(cap) {
                caps::drop(None, set, cap)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_fourteen_appc_capabilities() {
        let plan = CapabilityPlan::default_set();
        assert_eq!(plan.keep.len(), 14);
        assert!(plan.keeps(Capability::CAP_NET_RAW));
        assert!(!plan.keeps(Capability::CAP_SYS_ADMIN));
    }

    #[test]
    fn remove_takes_from_the_default() {
        let plan =
            CapabilityPlan::remove("a", &["CAP_NET_RAW".into(), "sys_admin".into()]).unwrap();
        assert_eq!(plan.keep.len(), 13);
        assert!(!plan.keeps(Capability::CAP_NET_RAW));
    }

    #[test]
    fn retain_is_exact() {
        let plan = CapabilityPlan::retain("a", &["CAP_SYS_TIME".into()]).unwrap();
        assert_eq!(plan.keep.iter().collect::<Vec<_>>(), ["CAP_SYS_TIME"]);
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!(CapabilityPlan::retain("a", &["CAP_NOT_A_CAP".into()]).is_err());
    }
}

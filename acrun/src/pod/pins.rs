//! Which stored images pods still need. A pod's apps run on overlays whose lower layer is the
//! store's tree of their image (or its rendered tree with dependencies): `acrun image rm` and
//! `acrun gc` must not pull those from under a live pod, or its files vanish while it runs.
//!
//! A pod needs its images from the moment `acrun run` resolves them until it has exited. The
//! pod directory is made and its lock taken before any image is resolved, and the lock is held
//! until the pod has exited; `pod.json` (the reified manifest, with every image ID) is written
//! once the images are resolved. So a pod directory is:
//! - unlocked: exited, or a start that died — it needs nothing;
//! - locked with a `pod.json`: it needs the IDs in it;
//! - locked without a `pod.json` yet: still resolving — which images it will use is unknown,
//!   so nothing may be collected ([`InUse::unknown`]).

use super::state;
use std::path::Path;

/// The images live pods use.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InUse {
    /// `(image ID, pod UUID)`, sorted.
    pub images: Vec<(String, String)>,
    /// A pod is still resolving its images.
    pub unknown: bool,
}

impl InUse {
    /// The first pod using image `id`, if any.
    pub fn pod_using(&self, id: &str) -> Option<&str> {
        self.images
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, pod)| pod.as_str())
    }

    /// The pinned image IDs.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.images.iter().map(|(i, _)| i.clone()).collect();
        ids.dedup();
        ids
    }
}

/// What the pods under acrun's state directory `dir` use now.
pub fn in_use(dir: &Path) -> InUse {
    let mut out = InUse::default();
    let Ok(entries) = std::fs::read_dir(state::pods_dir(dir)) else {
        return out;
    };
    for entry in entries.filter_map(Result::ok) {
        let pod_dir = entry.path();
        let uuid = entry.file_name().to_string_lossy().into_owned();
        if !state::is_alive(&pod_dir) {
            continue;
        }
        match image_ids(&pod_dir.join("pod.json")) {
            Some(ids) => out
                .images
                .extend(ids.into_iter().map(|i| (i, uuid.clone()))),
            None => out.unknown = true,
        }
    }
    out.images.sort();
    out
}

/// The image IDs of a pod manifest file; `None` when it cannot be read yet.
fn image_ids(path: &Path) -> Option<Vec<String>> {
    let bytes = std::fs::read(path).ok()?;
    let pod = appc::manifest::pod::PodManifest::from_json(&bytes).ok()?;
    Some(
        pod.apps
            .iter()
            .filter_map(|a| a.image.id.as_ref().map(|i| i.to_string()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_pods_pin_nothing() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(in_use(d.path()), InUse::default());
    }

    #[test]
    fn a_starting_pod_without_a_manifest_pins_everything() {
        let d = tempfile::tempdir().unwrap();
        let pod = state::pods_dir(d.path()).join("6733c9a7-dc5b-4cfd-b3d8-1d4d0d5e3a11");
        std::fs::create_dir_all(&pod).unwrap();
        // Not locked: a start that died before writing anything; it pins nothing.
        assert!(!in_use(d.path()).unknown);
        let _lock = state::lock(&pod).unwrap();
        assert!(in_use(d.path()).unknown);
    }

    #[test]
    fn a_starting_pod_pins_the_images_of_its_manifest() {
        let d = tempfile::tempdir().unwrap();
        let pod = state::pods_dir(d.path()).join("6733c9a7-dc5b-4cfd-b3d8-1d4d0d5e3a11");
        std::fs::create_dir_all(&pod).unwrap();
        let id = format!("sha512-{}", "a".repeat(128));
        let manifest = format!(
            r#"{{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{{"name":"a","image":{{"id":"{id}"}}}}]}}"#
        );
        std::fs::write(pod.join("pod.json"), manifest).unwrap();
        assert_eq!(in_use(d.path()), InUse::default(), "unlocked: exited");
        let _lock = state::lock(&pod).unwrap();
        let used = in_use(d.path());
        assert_eq!(
            used.pod_using(&id),
            Some("6733c9a7-dc5b-4cfd-b3d8-1d4d0d5e3a11")
        );
        assert!(!used.unknown);
    }
}

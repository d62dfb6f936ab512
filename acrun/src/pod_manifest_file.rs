//! `acrun run --pod-manifest FILE`: an appc pod manifest, template or reified, read with appc's
//! own decoder and reified against the store — each app's image resolved by ID, else by name and
//! labels, exactly as an IMAGE argument is — so that the rest of `acrun run` sees the same
//! reified [`PodManifest`] it builds from flags.
//!
//! Defends against: a manifest whose image ID and name disagree (an image named `A` in the
//! manifest, running as the stored image of `B`); an oversized file (read up to
//! [`MAX_MANIFEST`]); label values that would smuggle extra labels into a name lookup.

use crate::pod::spec::ImageInfo;
use crate::run_cmd::RunError;
use appc::manifest::pod::{PodManifest, RuntimeImage};
use std::io::Read;
use std::path::Path;

/// The largest pod manifest acrun reads.
pub const MAX_MANIFEST: u64 = 1 << 20;

fn usage(file: &Path, m: impl std::fmt::Display) -> RunError {
    RunError::Usage(format!("{}: {m}", file.display()))
}

/// Reads, validates and reifies the pod manifest in `file`; returns it with `images[i]` the
/// image of `apps[i]`.
pub fn load(
    file: &Path,
    resolve: &mut dyn FnMut(&str) -> Result<ImageInfo, String>,
) -> Result<(PodManifest, Vec<ImageInfo>), RunError> {
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_MANIFEST + 1).read_to_end(&mut bytes))
        .map_err(|e| usage(file, e))?;
    if bytes.len() as u64 > MAX_MANIFEST {
        return Err(usage(file, format!("larger than {MAX_MANIFEST} bytes")));
    }
    let mut pod = PodManifest::from_json(&bytes).map_err(|e| usage(file, e))?;
    if pod.apps.is_empty() {
        return Err(usage(file, "apps: the pod has no app"));
    }
    let mut images = Vec::new();
    for (i, rt) in pod.apps.iter_mut().enumerate() {
        let at = format!("apps[{i}].image");
        let reference = reference(&rt.image).map_err(|m| usage(file, format!("{at}: {m}")))?;
        let image = resolve(&reference).map_err(RunError::Image)?;
        check(&rt.image, &image).map_err(|m| usage(file, format!("{at}: {m}")))?;
        rt.image.id = Some(
            image
                .id
                .parse()
                .map_err(|_| RunError::Image(format!("bad image ID {}", image.id)))?,
        );
        rt.image.name = Some(image.manifest.name.clone());
        images.push(image);
    }
    pod.check_reified().map_err(|e| usage(file, e))?;
    Ok((pod, images))
}

/// What to look the image up by: its ID, else `NAME,LABEL=VALUE,...` as on the command line.
fn reference(image: &RuntimeImage) -> Result<String, String> {
    if let Some(id) = &image.id {
        return Ok(id.to_string());
    }
    let Some(name) = &image.name else {
        return Err("needs an id or a name".into());
    };
    let mut text = name.as_str().to_owned();
    for l in image.labels.iter() {
        if l.value.contains([',', ':', '=']) {
            return Err(format!(
                "label {}: value {:?} cannot be looked up (contains , : or =)",
                l.name.as_str(),
                l.value
            ));
        }
        text.push_str(&format!(",{}={}", l.name.as_str(), l.value));
    }
    Ok(text)
}

/// The resolved image must be the one the manifest names: same ID, name and labels.
fn check(wanted: &RuntimeImage, got: &ImageInfo) -> Result<(), String> {
    if let Some(id) = &wanted.id
        && id.to_string() != got.id
    {
        return Err(format!("found image {} instead of {id}", got.id));
    }
    if let Some(name) = &wanted.name
        && *name != got.manifest.name
    {
        return Err(format!(
            "image {} is named {}, not {}",
            got.id,
            got.manifest.name.as_str(),
            name.as_str()
        ));
    }
    for l in wanted.labels.iter() {
        let have = got.manifest.labels.get(l.name.as_str());
        if have != Some(l.value.as_str()) {
            return Err(format!(
                "image {} has label {}={:?}, not {:?}",
                got.id,
                l.name.as_str(),
                have.unwrap_or(""),
                l.value
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use appc::labels::Labels;
    use appc::manifest::image::ImageManifest;
    use appc::name::AcIdentifier;

    fn runtime(name: Option<&str>, labels: &[(&str, &str)]) -> RuntimeImage {
        let mut l = Labels::default();
        for (k, v) in labels {
            l.push(AcIdentifier::new(k).unwrap(), *v);
        }
        RuntimeImage {
            name: name.map(|n| AcIdentifier::new(n).unwrap()),
            id: None,
            labels: l,
        }
    }

    #[test]
    fn names_and_labels_become_a_lookup() {
        let r = runtime(
            Some("example.com/web"),
            &[("version", "1.0"), ("os", "linux")],
        );
        assert_eq!(
            reference(&r).unwrap(),
            "example.com/web,version=1.0,os=linux"
        );
        assert!(reference(&runtime(None, &[])).is_err());
        assert!(reference(&runtime(Some("a.com/x"), &[("version", "1,arch=x")])).is_err());
    }

    #[test]
    fn the_resolved_image_must_match_name_and_labels() {
        let mut manifest = ImageManifest::new(AcIdentifier::new("example.com/web").unwrap());
        manifest
            .labels
            .push(AcIdentifier::new("version").unwrap(), "1.0");
        let got = ImageInfo {
            id: "sha512-00".into(),
            manifest,
            manifest_json: vec![],
            rootfs: "/t".into(),
        };
        assert!(
            check(
                &runtime(Some("example.com/web"), &[("version", "1.0")]),
                &got
            )
            .is_ok()
        );
        assert!(check(&runtime(Some("example.com/db"), &[]), &got).is_err());
        assert!(
            check(
                &runtime(Some("example.com/web"), &[("version", "2.0")]),
                &got
            )
            .is_err()
        );
    }
}

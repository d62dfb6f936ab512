//! After fetching, the image must be what was asked for (spec `discovery.md`, checklist §6.1).
//!
//! Defends against a discovery page (or a compromised mirror) serving a validly signed image of
//! another name, or of another version or channel than the one requested: the manifest's `name`
//! must equal the requested name and every requested label must be present with an identical
//! value (extra labels are fine). Of the defaults, `version` = `latest` is a moving tag and is not
//! checked, while a default `os`/`arch` is checked only when the manifest declares that label: an
//! image without `arch` runs anywhere, an image for another architecture does not run here.

use super::app::App;
use crate::manifest::ImageManifest;

/// How a fetched manifest differs from the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disagreement {
    /// The manifest names another image.
    #[error("asked for image {wanted}, got a manifest named {got}")]
    Name {
        /// Requested name.
        wanted: String,
        /// Manifest name.
        got: String,
    },
    /// A requested label is missing or has another value.
    #[error("asked for {label}={wanted:?}, the manifest has {}", got.as_ref().map_or("no such label".to_owned(), |g| format!("{label}={g:?}")))]
    Label {
        /// The label.
        label: String,
        /// The requested (or default platform) value.
        wanted: String,
        /// The manifest's value, if any.
        got: Option<String>,
    },
}

/// Checks that `manifest` is an answer to `app`.
pub fn check_manifest(app: &App, manifest: &ImageManifest) -> Result<(), Disagreement> {
    if manifest.name != *app.name() {
        return Err(Disagreement::Name {
            wanted: app.name().to_string(),
            got: manifest.name.to_string(),
        });
    }
    for (label, wanted) in app.requested() {
        let got = manifest.labels.get(label.as_str());
        if got != Some(wanted.as_str()) {
            return Err(Disagreement::Label {
                label: label.to_string(),
                wanted: wanted.clone(),
                got: got.map(str::to_owned),
            });
        }
    }
    for (label, wanted) in app.defaults().filter(|(l, _)| *l == "os" || *l == "arch") {
        if let Some(got) = manifest.labels.get(label.as_str())
            && got != wanted
        {
            return Err(Disagreement::Label {
                label: label.to_string(),
                wanted: wanted.to_owned(),
                got: Some(got.to_owned()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::AcIdentifier;

    fn manifest(name: &str, labels: &[(&str, &str)]) -> ImageManifest {
        let mut m = ImageManifest::new(AcIdentifier::new(name).unwrap());
        for (k, v) in labels {
            m.labels.push(AcIdentifier::new(k).unwrap(), *v);
        }
        m
    }

    fn app(s: &str) -> App {
        App::parse(s).unwrap().with_platform("linux", "amd64")
    }

    #[test]
    fn same_name_and_every_requested_label_agree() {
        let m = manifest(
            "example.com/app",
            &[
                ("version", "1.0"),
                ("channel", "beta"),
                ("os", "linux"),
                ("arch", "amd64"),
            ],
        );
        assert_eq!(
            check_manifest(&app("example.com/app:1.0,channel=beta"), &m),
            Ok(())
        );
        // Extra labels and a default `latest` do not matter.
        assert_eq!(check_manifest(&app("example.com/app"), &m), Ok(()));
    }

    #[test]
    fn another_name_is_refused() {
        let m = manifest("example.com/other", &[]);
        assert!(matches!(
            check_manifest(&app("example.com/app"), &m),
            Err(Disagreement::Name { .. })
        ));
        assert_eq!(check_manifest(&app("example.com/other"), &m), Ok(()));
    }

    #[test]
    fn a_missing_or_different_requested_label_is_refused() {
        let m = manifest("example.com/app", &[("version", "1.0")]);
        let missing = check_manifest(&app("example.com/app:1.0,channel=beta"), &m).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "asked for channel=\"beta\", the manifest has no such label"
        );
        let other = check_manifest(&app("example.com/app:2.0"), &m).unwrap_err();
        assert_eq!(
            other.to_string(),
            "asked for version=\"2.0\", the manifest has version=\"1.0\""
        );
        assert_eq!(check_manifest(&app("example.com/app:1.0"), &m), Ok(()));
    }

    #[test]
    fn default_platform_is_checked_only_when_declared() {
        let arm = manifest("example.com/app", &[("os", "linux"), ("arch", "aarch64")]);
        assert!(check_manifest(&app("example.com/app"), &arm).is_err());
        let anywhere = manifest("example.com/app", &[]);
        assert_eq!(check_manifest(&app("example.com/app"), &anywhere), Ok(()));
        // Asking for the arch explicitly makes it a requirement.
        let explicit = App::parse("example.com/app,arch=amd64").unwrap();
        assert!(check_manifest(&explicit, &anywhere).is_err());
        assert_eq!(
            check_manifest(&App::parse("example.com/app,arch=aarch64").unwrap(), &arm),
            Ok(())
        );
    }
}

//! App strings (`name[:version][,label=value]...`) and the request they make.
//!
//! Grammar as the Go reference parses it (`discovery/parse.go`, checklist §6.2): at most one `:`,
//! and only before the first `,`; it means `,version=`. Every other part is `label=value`, where the
//! label is an ACIdentifier (never `name`), is given once, and the value may hold `=` but not `,`
//! (nor `:`, by the colon rule). Values are taken byte for byte: nothing is unescaped.
//!
//! A request carries the labels the user *asked for* and *defaults*: `version` = `latest` when no
//! version (or an empty one) is given, and optionally the host's `os`/`arch`. Both fill URL
//! templates, but only what was asked for must be matched exactly by the fetched manifest
//! ([`super::agreement`]): a default `latest` is a moving tag, not a version.

use std::collections::BTreeMap;
use std::fmt;

use crate::name::{AcIdentifier, NameError};

/// The version used in templates when the request names none.
pub const DEFAULT_VERSION: &str = "latest";

/// Why an app string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The image name is not an ACIdentifier.
    #[error("app string {app:?}: image name: {source}")]
    Name {
        /// The whole app string.
        app: String,
        /// The rule broken.
        source: NameError,
    },
    /// A `:` after the first `,`, or more than one `:`.
    #[error(
        "app string {app:?}: a single `:` may only follow the image name (name:version,label=value)"
    )]
    Colon {
        /// The whole app string.
        app: String,
    },
    /// A `,`-separated part without `=`.
    #[error("app string {app:?}: {part:?} has no `=value`")]
    NoValue {
        /// The whole app string.
        app: String,
        /// The offending part.
        part: String,
    },
    /// A label name that is not an ACIdentifier.
    #[error("app string {app:?}: label {label:?}: {source}")]
    Label {
        /// The whole app string.
        app: String,
        /// The label name as written.
        label: String,
        /// The rule broken.
        source: NameError,
    },
    /// A label given twice (`version` counts once for `:` and once for `,version=`; `name` is the
    /// image name itself).
    #[error("app string {app:?}: label {label:?} given more than once")]
    Repeated {
        /// The whole app string.
        app: String,
        /// The repeated label.
        label: String,
    },
}

/// What to discover: an image name, the labels asked for, and the defaults that fill templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    name: AcIdentifier,
    requested: BTreeMap<AcIdentifier, String>,
    defaults: BTreeMap<AcIdentifier, String>,
}

impl App {
    /// A request for `name` with `labels` (an empty `version` counts as none).
    pub fn new(name: AcIdentifier, labels: BTreeMap<AcIdentifier, String>) -> App {
        let mut requested = labels;
        if requested
            .get(&ident("version"))
            .is_some_and(String::is_empty)
        {
            requested.remove(&ident("version"));
        }
        let mut defaults = BTreeMap::new();
        defaults.insert(ident("version"), DEFAULT_VERSION.to_owned());
        App {
            name,
            requested,
            defaults,
        }
    }

    /// Parses `name[:version][,label=value]...`.
    pub fn parse(app: &str) -> Result<App, AppError> {
        let first_comma = app.find(',');
        let first_colon = app.find(':');
        let colon_late = matches!((first_colon, first_comma), (Some(c), Some(m)) if c > m);
        if colon_late || app.matches(':').count() > 1 {
            return Err(AppError::Colon { app: app.into() });
        }
        let (head, rest) = match first_comma {
            Some(i) => (&app[..i], Some(&app[i + 1..])),
            None => (app, None),
        };
        let (name, version) = match head.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (head, None),
        };
        let name = AcIdentifier::new(name).map_err(|source| AppError::Name {
            app: app.into(),
            source,
        })?;
        let mut labels = BTreeMap::new();
        if let Some(v) = version {
            labels.insert(ident("version"), v.to_owned());
        }
        for part in rest.into_iter().flat_map(|r| r.split(',')) {
            let (label, value) = parse_label(app, part)?;
            if labels.insert(label, value.to_owned()).is_some() {
                return Err(repeated(app, part));
            }
        }
        Ok(App::new(name, labels))
    }

    /// The same request with `os` and `arch` defaults (used when the request does not name them).
    pub fn with_platform(mut self, os: &str, arch: &str) -> App {
        self.defaults.insert(ident("os"), os.to_owned());
        self.defaults.insert(ident("arch"), arch.to_owned());
        self
    }

    /// [`App::with_platform`] with the host's os and arch ([`super::platform`]).
    pub fn with_host_platform(self) -> App {
        self.with_platform(super::host_os(), super::host_arch())
    }

    /// The image name.
    pub fn name(&self) -> &AcIdentifier {
        &self.name
    }

    /// The labels asked for (not the defaults), sorted by name.
    pub fn requested(&self) -> &BTreeMap<AcIdentifier, String> {
        &self.requested
    }

    /// Defaults the request did not override (e.g. `version` = `latest`, `os`, `arch`).
    pub fn defaults(&self) -> impl Iterator<Item = (&AcIdentifier, &str)> {
        self.defaults
            .iter()
            .filter(|(k, _)| !self.requested.contains_key(*k))
            .map(|(k, v)| (k, v.as_str()))
    }

    /// Every label that fills templates: the requested ones over the defaults, sorted by name.
    pub fn template_labels(&self) -> BTreeMap<&AcIdentifier, &str> {
        let mut all: BTreeMap<&AcIdentifier, &str> = self.defaults().collect();
        all.extend(self.requested.iter().map(|(k, v)| (k, v.as_str())));
        all
    }
}

/// `name[:version][,label=value]...` of what was asked for, labels sorted: parses back to `self`
/// (defaults aside).
impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name.as_str())?;
        if let Some(v) = self.requested.get(&ident("version")) {
            write!(f, ":{v}")?;
        }
        for (k, v) in self.requested.iter().filter(|(k, _)| *k != "version") {
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
}

fn parse_label<'a>(app: &str, part: &'a str) -> Result<(AcIdentifier, &'a str), AppError> {
    let Some((label, value)) = part.split_once('=') else {
        return Err(AppError::NoValue {
            app: app.into(),
            part: part.into(),
        });
    };
    if label == "name" {
        return Err(repeated(app, label));
    }
    let label = AcIdentifier::new(label).map_err(|source| AppError::Label {
        app: app.into(),
        label: label.into(),
        source,
    })?;
    Ok((label, value))
}

fn repeated(app: &str, part: &str) -> AppError {
    let label = part.split_once('=').map_or(part, |(l, _)| l);
    AppError::Repeated {
        app: app.into(),
        label: label.into(),
    }
}

/// A label name known to be valid.
fn ident(s: &'static str) -> AcIdentifier {
    AcIdentifier::new(s).unwrap_or_else(|_| unreachable!("{s} is a valid ACIdentifier"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(app: &App) -> Vec<(String, String)> {
        app.requested()
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn colon_is_the_version() {
        let app = App::parse("example.com/reduce-worker:1.0.0").unwrap();
        assert_eq!(app.name().as_str(), "example.com/reduce-worker");
        assert_eq!(labels(&app), pairs(&[("version", "1.0.0")]));
        assert_eq!(app.to_string(), "example.com/reduce-worker:1.0.0");
    }

    #[test]
    fn labels_after_commas_and_values_are_taken_verbatim() {
        let app =
            App::parse("example.com/app:1.2.3,special=!*'();@&+$/?#[]=x,channel=beta").unwrap();
        assert_eq!(
            labels(&app),
            pairs(&[
                ("channel", "beta"),
                ("special", "!*'();@&+$/?#[]=x"),
                ("version", "1.2.3")
            ])
        );
        let again = App::parse(&app.to_string()).unwrap();
        assert_eq!(again, app);
    }

    #[test]
    fn version_defaults_to_latest_but_is_not_requested() {
        for s in [
            "example.com/app",
            "example.com/app:",
            "example.com/app,version=",
        ] {
            let app = App::parse(s).unwrap();
            assert!(app.requested().is_empty(), "{s}");
            assert_eq!(
                app.template_labels().get(&ident("version")),
                Some(&"latest"),
                "{s}"
            );
        }
        let app = App::parse("example.com/app:2").unwrap();
        assert_eq!(app.template_labels().get(&ident("version")), Some(&"2"));
        assert_eq!(app.defaults().count(), 0);
    }

    #[test]
    fn platform_defaults_yield_to_requested_labels() {
        let app = App::parse("example.com/app,arch=armv7l")
            .unwrap()
            .with_platform("linux", "amd64");
        let t = app.template_labels();
        assert_eq!(t.get(&ident("os")), Some(&"linux"));
        assert_eq!(t.get(&ident("arch")), Some(&"armv7l"));
        let defaults: Vec<_> = app.defaults().map(|(k, v)| (k.to_string(), v)).collect();
        assert_eq!(
            defaults,
            [
                ("os".to_string(), "linux"),
                ("version".to_string(), "latest")
            ]
        );
    }

    #[test]
    fn refusals() {
        type Is = fn(&AppError) -> bool;
        let cases: &[(&str, Is)] = &[
            ("not an app name", |e| matches!(e, AppError::Name { .. })),
            ("", |e| matches!(e, AppError::Name { .. })),
            ("example.com/garbage%8 939", |e| {
                matches!(e, AppError::Name { .. })
            }),
            ("example.com/app,channel=beta:1.2.3", |e| {
                matches!(e, AppError::Colon { .. })
            }),
            ("example.com/app:3.2.1,channel=beta:1.2.3", |e| {
                matches!(e, AppError::Colon { .. })
            }),
            ("example.com/app:1:2", |e| {
                matches!(e, AppError::Colon { .. })
            }),
            (
                "foo.com/bar,channel=alpha,dog=woof,channel=beta",
                |e| matches!(e, AppError::Repeated { label, .. } if label == "channel"),
            ),
            (
                "example.com/app:3.2.1,version=1.2.3",
                |e| matches!(e, AppError::Repeated { label, .. } if label == "version"),
            ),
            ("example.com/app,name=other.com/x", |e| {
                matches!(e, AppError::Repeated { .. })
            }),
            ("example.com/app,channel", |e| {
                matches!(e, AppError::NoValue { .. })
            }),
            ("example.com/app,", |e| {
                matches!(e, AppError::NoValue { .. })
            }),
            ("example.com/app,=v", |e| {
                matches!(e, AppError::Label { .. })
            }),
            ("example.com/app,Chan=v", |e| {
                matches!(e, AppError::Label { .. })
            }),
        ];
        for (s, is) in cases {
            let err = App::parse(s).expect_err(s);
            assert!(is(&err), "{s}: {err:?}");
        }
        // Positive controls of the same shapes.
        for s in [
            "example.com/app",
            "example.com/app:1.2.3,channel=beta",
            "foo.com/bar,channel=alpha,dog=woof",
            "example.com/app,channel=",
            "example.com/app,chan=v",
        ] {
            App::parse(s).expect(s);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_app_string_parses_or_is_refused_and_round_trips(s in "[a-z0-9.:,=/ %-]{0,40}") {
            if let Ok(app) = App::parse(&s) {
                proptest::prop_assert_eq!(App::parse(&app.to_string()), Ok(app));
            }
        }
    }
}

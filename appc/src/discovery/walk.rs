//! The discovery walk: which pages to ask for, in which order, and what each page yields.
//!
//! For `example.com/group/app` the pages are `https://example.com/group/app?ac-discovery=1`, then
//! `…/group?ac-discovery=1`, then `https://example.com?ac-discovery=1`. A level that fails (any
//! error, as in the reference; the prose names 4xx) or that yields nothing of the kind sought moves
//! the walk to the parent. Image endpoints and public keys are discovered independently: each walk
//! stops at the first level with at least one result of its kind (checklist §6.2), so keys may live
//! at the host while images live deeper.
//!
//! Defends against: a tag for another name (its prefix must be a prefix of the requested name,
//! compared as plain strings as in the reference, so `example.com` also covers
//! `example.commerce/x`: trust, not discovery, decides what is accepted); templates that do not
//! fit the request (skipped). Fetching, and so transport security, is the [`PageSource`]'s job.

use std::fmt;

use super::app::App;
use super::meta::{MetaKind, meta_tags};
use super::template::{EXT_ACI, EXT_SIGNATURE, render};
use crate::name::AcIdentifier;

/// Fetches discovery pages: implemented by the caller, which owns transport and policy.
pub trait PageSource {
    /// Why a page could not be had (network error, non-success status, too large, ...).
    type Error: fmt::Display;

    /// The discovery page for `prefix` (`host` or `host/path`), normally fetched from
    /// [`discovery_url`]`(prefix, "https")`. Returning `Err` moves the walk to the parent.
    fn page(&mut self, prefix: &str) -> Result<String, Self::Error>;
}

/// Where an image and its signature are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AciEndpoint {
    /// The image URL (`{ext}` = `aci`).
    pub aci: String,
    /// The detached signature URL (`{ext}` = `aci.asc`).
    pub asc: String,
}

/// What one discovery page offers a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// Image endpoints from matching `ac-discovery` templates that rendered fully, in page order.
    pub aci: Vec<AciEndpoint>,
    /// URLs from matching `ac-discovery-pubkeys` tags, in page order.
    pub pubkeys: Vec<String>,
}

/// A level of the walk that yielded nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The prefix tried.
    pub prefix: String,
    /// The fetch error, or which tag the page lacked.
    pub reason: String,
}

/// The result of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered<T> {
    /// The prefix whose page gave the results.
    pub prefix: String,
    /// The results, in page order (never empty).
    pub found: Vec<T>,
    /// The levels tried before it.
    pub attempts: Vec<FailedAttempt>,
}

/// No level of the walk yielded anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("discovery of {what} for {name} failed:{}", render_attempts(.attempts))]
pub struct DiscoveryError {
    /// The name discovered.
    pub name: String,
    /// `image endpoints` or `public keys`.
    pub what: &'static str,
    /// Every level tried, from the full name up to the host.
    pub attempts: Vec<FailedAttempt>,
}

fn render_attempts(attempts: &[FailedAttempt]) -> String {
    attempts
        .iter()
        .map(|a| format!("\n  {}: {}", discovery_url(&a.prefix, "https"), a.reason))
        .collect()
}

/// The levels of the walk for `name`: the name, then each parent path, down to the host.
pub fn prefixes(name: &AcIdentifier) -> Vec<String> {
    let parts: Vec<&str> = name.as_str().split('/').collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("/"))
        .collect()
}

/// `SCHEME://PREFIX?ac-discovery=1`.
pub fn discovery_url(prefix: &str, scheme: &str) -> String {
    format!("{scheme}://{prefix}?ac-discovery=1")
}

/// What `page` offers `app`: tags whose prefix starts the name, templates rendered.
pub fn endpoints(page: &str, app: &App) -> Endpoints {
    let mut out = Endpoints::default();
    for tag in meta_tags(page) {
        if !app.name().as_str().starts_with(&tag.prefix) {
            continue;
        }
        match tag.kind {
            MetaKind::Discovery => {
                let aci = render(&tag.uri, app, EXT_ACI);
                let asc = render(&tag.uri, app, EXT_SIGNATURE);
                if let (Some(aci), Some(asc)) = (aci, asc) {
                    out.aci.push(AciEndpoint { aci, asc });
                }
            }
            MetaKind::Pubkeys => out.pubkeys.push(tag.uri),
            MetaKind::Other => {}
        }
    }
    out
}

/// Walks up from `app`'s name to the first page with image endpoints for it.
pub fn discover_aci<S: PageSource>(
    app: &App,
    source: &mut S,
) -> Result<Discovered<AciEndpoint>, DiscoveryError> {
    walk(app, source, "image endpoints", "ac-discovery", |e| e.aci)
}

/// Walks up from `app`'s name to the first page with public key URLs for it.
pub fn discover_pubkeys<S: PageSource>(
    app: &App,
    source: &mut S,
) -> Result<Discovered<String>, DiscoveryError> {
    walk(app, source, "public keys", "ac-discovery-pubkeys", |e| {
        e.pubkeys
    })
}

fn walk<S: PageSource, T>(
    app: &App,
    source: &mut S,
    what: &'static str,
    tag: &str,
    pick: impl Fn(Endpoints) -> Vec<T>,
) -> Result<Discovered<T>, DiscoveryError> {
    let mut attempts = Vec::new();
    for prefix in prefixes(app.name()) {
        let reason = match source.page(&prefix) {
            Err(e) => e.to_string(),
            Ok(page) => {
                let found = pick(endpoints(&page, app));
                if !found.is_empty() {
                    return Ok(Discovered {
                        prefix,
                        found,
                        attempts,
                    });
                }
                format!("no usable {tag} tag for {}", app.name())
            }
        };
        attempts.push(FailedAttempt { prefix, reason });
    }
    Err(DiscoveryError {
        name: app.name().to_string(),
        what,
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Pages by prefix; a missing prefix answers like a 404. Records the order of requests.
    struct Site {
        pages: BTreeMap<&'static str, &'static str>,
        asked: Vec<String>,
    }

    impl PageSource for Site {
        type Error = String;
        fn page(&mut self, prefix: &str) -> Result<String, String> {
            self.asked.push(prefix.to_owned());
            self.pages
                .get(prefix)
                .map(|p| p.to_string())
                .ok_or_else(|| "404 Not Found".to_owned())
        }
    }

    fn site(pages: &[(&'static str, &'static str)]) -> Site {
        Site {
            pages: pages.iter().copied().collect(),
            asked: Vec::new(),
        }
    }

    fn app(s: &str) -> App {
        App::parse(s).unwrap().with_platform("linux", "amd64")
    }

    const HOST_PAGE: &str = r#"<meta name="ac-discovery" content="example.com https://example.com/{name}-{version}-{os}-{arch}.{ext}">
<meta name="ac-discovery-pubkeys" content="example.com https://example.com/pubkeys.gpg">"#;

    #[test]
    fn prefixes_walk_up_to_the_host() {
        let name = AcIdentifier::new("example.com/group/sub/app").unwrap();
        assert_eq!(
            prefixes(&name),
            [
                "example.com/group/sub/app",
                "example.com/group/sub",
                "example.com/group",
                "example.com"
            ]
        );
        assert_eq!(
            prefixes(&AcIdentifier::new("example.com").unwrap()),
            ["example.com"]
        );
        assert_eq!(
            discovery_url("example.com/a", "https"),
            "https://example.com/a?ac-discovery=1"
        );
    }

    #[test]
    fn walks_up_past_errors_and_pages_without_tags() {
        let mut s = site(&[
            (
                "example.com/group",
                "<html><body>no tags here</body></html>",
            ),
            ("example.com", HOST_PAGE),
        ]);
        let d = discover_aci(&app("example.com/group/app:1.0"), &mut s).unwrap();
        assert_eq!(
            s.asked,
            ["example.com/group/app", "example.com/group", "example.com"]
        );
        assert_eq!(d.prefix, "example.com");
        assert_eq!(
            d.found,
            [AciEndpoint {
                aci: "https://example.com/example.com/group/app-1.0-linux-amd64.aci".into(),
                asc: "https://example.com/example.com/group/app-1.0-linux-amd64.aci.asc".into(),
            }]
        );
        let reasons: Vec<_> = d.attempts.iter().map(|a| a.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "404 Not Found",
                "no usable ac-discovery tag for example.com/group/app"
            ]
        );
    }

    #[test]
    fn stops_at_the_first_level_with_results() {
        let deep = r#"<meta name="ac-discovery" content="example.com/app https://cdn.example.com/{name}.{ext}">"#;
        let mut s = site(&[("example.com/app", deep), ("example.com", HOST_PAGE)]);
        let d = discover_aci(&app("example.com/app"), &mut s).unwrap();
        assert_eq!(s.asked, ["example.com/app"]);
        assert_eq!(
            d.found[0].aci,
            "https://cdn.example.com/example.com/app.aci"
        );
    }

    #[test]
    fn image_and_key_endpoints_are_discovered_independently() {
        let deep = r#"<meta name="ac-discovery" content="example.com/app https://cdn.example.com/{name}.{ext}">"#;
        let mut s = site(&[("example.com/app", deep), ("example.com", HOST_PAGE)]);
        let keys = discover_pubkeys(&app("example.com/app"), &mut s).unwrap();
        assert_eq!(s.asked, ["example.com/app", "example.com"]);
        assert_eq!(keys.found, ["https://example.com/pubkeys.gpg"]);
        assert_eq!(keys.prefix, "example.com");
    }

    #[test]
    fn tags_for_other_prefixes_and_unfillable_templates_are_ignored() {
        let page = r#"<meta name="ac-discovery" content="other.com https://other.com/{name}.{ext}">
<meta name="ac-discovery" content="example.com https://a/{name}-{channel}.{ext}">
<meta name="ac-discovery" content="example.com/app/longer https://b/{name}.{ext}">
<meta name="ac-discovery" content="example.com https://c/{name}-{os}.{ext}">"#;
        let e = endpoints(page, &app("example.com/app"));
        assert_eq!(
            e.aci.iter().map(|a| a.aci.as_str()).collect::<Vec<_>>(),
            ["https://c/example.com/app-linux.aci"]
        );
        // Without the platform defaults the `{os}` template is skipped too: nothing at all.
        let bare = App::parse("example.com/app").unwrap();
        assert_eq!(endpoints(page, &bare), Endpoints::default());
        // A plain string prefix, as in the reference.
        let e = endpoints(page, &app("other.commerce/x"));
        assert_eq!(e.aci.len(), 1);
    }

    #[test]
    fn every_level_failing_is_an_error_listing_each_url() {
        let mut s = site(&[(
            "example.com",
            "<meta name=\"ac-discovery-pubkeys\" content=\"example.com https://k\">",
        )]);
        let err = discover_aci(&app("example.com/a/b"), &mut s).unwrap_err();
        assert_eq!(err.attempts.len(), 3);
        let text = err.to_string();
        assert!(
            text.contains("https://example.com/a/b?ac-discovery=1: 404 Not Found"),
            "{text}"
        );
        assert!(
            text.contains("https://example.com?ac-discovery=1: no usable ac-discovery tag"),
            "{text}"
        );
        // Positive control: the same site has keys.
        assert!(discover_pubkeys(&app("example.com/a/b"), &mut s).is_ok());
    }
}

//! Finding images and keys by name: HTTP and policy around `appc::discovery`.
//!
//! `appc::discovery` decides which pages to ask for and what they mean; this module fetches them
//! over HTTPS (rustls, system CAs honouring `SSL_CERT_FILE` / `SSL_CERT_DIR`, redirects followed
//! up to ureq's bound of 10), falls back to plain HTTP only with `--insecure-options=http`, bounds
//! every body it reads, and never uses an `http://` endpoint unless that option is given.
//!
//! Defends against: downgrade to plain HTTP; oversized pages or keys (1 MiB cap); images that are
//! not what was asked for (the manifest is checked against the request before it is stored, in
//! [`crate::fetch::fetch_discovered`]); trust on first use (keys are trusted only by `acrun trust`,
//! after the user saw each fingerprint and said yes, or passed `--yes`).

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;

use appc::discovery::{self, App, PageSource};
use appc::sign::PublicKey;
use appc::trust::{Prefix, Scope, TrustStore};

use crate::auth::Credentials;
use crate::fetch::{self, FetchError, FetchOptions};
use crate::store::{Judge, Record, Store, StoreError, lookup};

/// Largest discovery page or key file read.
const MAX_BODY: u64 = 1 << 20;

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(transparent)]
    App(#[from] appc::discovery::AppError),
    #[error(transparent)]
    Walk(#[from] appc::discovery::DiscoveryError),
    #[error(
        "{name}: every discovered endpoint is plain http ({urls}); pass --insecure-options=http to use it"
    )]
    OnlyHttp { name: String, urls: String },
    #[error("{url}: {reason}")]
    Key { url: String, reason: String },
    #[error(transparent)]
    Trust(#[from] appc::trust::TrustError),
    #[error("refusing to trust keys without confirmation: stdin is not a terminal (pass --yes)")]
    NotConfirmed,
    #[error("not trusted: the answer was not yes")]
    Declined,
    #[error(transparent)]
    Fetch(Box<FetchError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{image}: {source}\n  if you trust the publisher of {name}, run: acrun trust --prefix {name}"
    )]
    Untrusted {
        image: String,
        name: String,
        source: Box<FetchError>,
    },
    #[error("{0}: not in the store and --pull=never")]
    NotStored(String),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

impl DiscoverError {
    /// Whether the user's input is at fault.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            DiscoverError::App(_) | DiscoverError::NotConfirmed | DiscoverError::NotStored(_)
        ) || matches!(self, DiscoverError::Fetch(e) if e.is_usage())
            || matches!(self, DiscoverError::Store(e) if e.is_usage())
    }
}

/// When to ask the network for an image given by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pull {
    /// Always discover and fetch.
    Always,
    /// Only when the store has no matching image (the default).
    Missing,
    /// Never: the store must have it.
    Never,
}

/// Discovery pages fetched over HTTPS (HTTP only as the insecure fallback).
struct Pages<'a> {
    agent: ureq::Agent,
    insecure_http: bool,
    auth: &'a Credentials,
}

impl PageSource for Pages<'_> {
    type Error = String;

    fn page(&mut self, prefix: &str) -> Result<String, String> {
        let https = discovery::discovery_url(prefix, "https");
        match get(&self.agent, self.auth, &https) {
            Ok(body) => Ok(String::from_utf8_lossy(&body).into_owned()),
            Err(e) if !self.insecure_http => Err(e),
            Err(e) => get(
                &self.agent,
                self.auth,
                &discovery::discovery_url(prefix, "http"),
            )
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e2| format!("{e}; over http: {e2}")),
        }
    }
}

fn get(agent: &ureq::Agent, auth: &Credentials, url: &str) -> Result<Vec<u8>, String> {
    let mut req = agent.get(url);
    if let Some(h) = auth.header_for(url) {
        req = req.header("Authorization", h);
    }
    let resp = req.call().map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    resp.into_body()
        .into_with_config()
        .limit(MAX_BODY)
        .reader()
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    Ok(body)
}

/// Whether a `fetch` argument is an image name (not a URL, not an existing file, not `*.aci`).
pub fn is_name(arg: &str) -> bool {
    !arg.contains("://")
        && !arg.ends_with(".aci")
        && !Path::new(arg).exists()
        && App::parse(arg).is_ok()
}

/// Turns an `acrun fetch` or `acrun run` argument into a stored image: a name goes to
/// [`fetch_by_name`] (the store first, per `pull`, then discovery), a file or URL is fetched and
/// verified, anything else (an image ID or a unique prefix of one) is looked up in the store.
pub fn obtain(
    store: &Store,
    judge: Option<&Judge>,
    arg: &str,
    pull: Pull,
    opts: &FetchOptions,
) -> Result<Record, DiscoverError> {
    if is_name(arg) && !arg.starts_with(appc::image_id::PREFIX) {
        return fetch_by_name(store, judge, arg, pull, opts);
    }
    if arg.contains("://") || arg.ends_with(".aci") || Path::new(arg).is_file() {
        let fetched = fetch::fetch(store, judge, &[arg.to_owned()], opts)
            .map_err(|e| DiscoverError::Fetch(Box::new(e)))?;
        return fetched
            .into_iter()
            .next()
            .ok_or_else(|| DiscoverError::NotStored(arg.to_owned()));
    }
    Ok(store.find(arg, judge)?)
}

/// `acrun fetch NAME[:VERSION][,LABEL=VALUE]...`: the store first (per `pull`), then discovery.
pub fn fetch_by_name(
    store: &Store,
    judge: Option<&Judge>,
    arg: &str,
    pull: Pull,
    opts: &FetchOptions,
) -> Result<Record, DiscoverError> {
    let app = App::parse(arg)?.with_host_platform();
    if pull != Pull::Always {
        let labels: Vec<(String, String)> = app
            .requested()
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        if let Ok(r) = lookup::by_name(store.layout(), arg, app.name().as_str(), &labels, judge) {
            return Ok(r);
        }
        if pull == Pull::Never {
            return Err(DiscoverError::NotStored(arg.to_owned()));
        }
    }
    let mut pages = Pages {
        agent: fetch::agent(),
        insecure_http: opts.insecure_http,
        auth: &opts.auth,
    };
    let found = discovery::discover_aci(&app, &mut pages)?;
    let usable: Vec<_> = found
        .found
        .iter()
        .filter(|e| {
            e.aci.starts_with("https://") || (opts.insecure_http && e.aci.starts_with("http://"))
        })
        .collect();
    let Some(endpoint) = usable.first() else {
        let urls: Vec<&str> = found.found.iter().map(|e| e.aci.as_str()).collect();
        return Err(DiscoverError::OnlyHttp {
            name: app.name().to_string(),
            urls: urls.join(", "),
        });
    };
    fetch::fetch_discovered(store, judge, &endpoint.aci, &endpoint.asc, &app, opts).map_err(|e| {
        match e {
            FetchError::Store(StoreError::Admission { .. }) => DiscoverError::Untrusted {
                image: endpoint.aci.clone(),
                name: app.name().to_string(),
                source: Box::new(e),
            },
            other => DiscoverError::Fetch(Box::new(other)),
        }
    })
}

/// `acrun trust --prefix NAME` without a key file: discover `ac-discovery-pubkeys`, show each key,
/// and trust the ones confirmed.
pub fn trust_by_discovery(
    trust: &TrustStore,
    prefix: &str,
    yes: bool,
    insecure_http: bool,
    auth: &Credentials,
) -> Result<String, DiscoverError> {
    let scope = Scope::Prefix(Prefix::parse(prefix)?);
    let app = App::parse(prefix)?;
    let agent = fetch::agent();
    let mut pages = Pages {
        agent: agent.clone(),
        insecure_http,
        auth,
    };
    let found = discovery::discover_pubkeys(&app, &mut pages)?;
    let mut keys = Vec::new();
    for url in &found.found {
        if !(url.starts_with("https://") || (insecure_http && url.starts_with("http://"))) {
            return Err(DiscoverError::Key {
                url: url.clone(),
                reason: "not an https:// URL (pass --insecure-options=http to allow http)".into(),
            });
        }
        let bytes = get(&agent, auth, url).map_err(|reason| DiscoverError::Key {
            url: url.clone(),
            reason,
        })?;
        let key = PublicKey::from_bytes(&bytes).map_err(|reason| DiscoverError::Key {
            url: url.clone(),
            reason,
        })?;
        keys.push((url, bytes, key));
    }
    let mut out = String::new();
    for (url, bytes, key) in keys {
        let mut shown = format!(
            "prefix: {prefix}\nkey: {url}\n  fingerprint: {}\n",
            key.fingerprint()
        );
        for uid in key.user_ids() {
            shown.push_str(&format!("  user ID: {uid}\n"));
        }
        if !yes {
            confirm(&shown)?;
        }
        let added = trust.trust(&scope, &bytes, Path::new(url.as_str()))?;
        out.push_str(&shown);
        out.push_str(&format!(
            "trusted key {} for prefix {prefix}\n  stored in {}\n",
            added.fingerprint,
            added.path.display()
        ));
    }
    Ok(out)
}

/// Shows `what` on stderr and asks; only a terminal can answer.
fn confirm(what: &str) -> Result<(), DiscoverError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(DiscoverError::NotConfirmed);
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{what}Trust this key? [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    let _ = stdin.lock().read_line(&mut line);
    match line.trim() {
        "y" | "Y" | "yes" => Ok(()),
        _ => Err(DiscoverError::Declined),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_told_from_files_and_urls() {
        assert!(is_name("example.com/app:1.0"));
        assert!(is_name("example.com/app,channel=beta"));
        assert!(!is_name("https://example.com/app.aci"));
        assert!(!is_name("out/app-1.0-linux-amd64.aci"));
        assert!(!is_name("/"));
        assert!(!is_name("Not A Name"));
    }
}

//! `acrun fetch`: bring images into the store from a file path or an `http(s)://` URL, with
//! their dependencies, and publish them all only when the whole dependency closure resolved.
//!
//! Each image goes: bytes into a private work directory (copied, or downloaded with rustls and
//! the system CA store — `SSL_CERT_FILE` / `SSL_CERT_DIR` honoured; plain `http://` only with
//! `--insecure-options=http`) → the store's admission (signature over the exact bytes, then the
//! name) and one-pass extraction ([`crate::store::import`]). Dependencies come from images
//! fetched in the same run, then from the store (by image ID, or by name and labels under the
//! current policy), then from the directory or URL base of the image that needs them, as
//! `NAME-VERSION-OS-ARCH.aci` (acbuild's output name; missing `os`/`arch` are the host's).
//! A [`Location`] is where discovery by name will slot in later.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use appc::manifest::Dependency;

use crate::store::deps::{Node, dep_list};
use crate::store::{Judge, Prepared, Record, Store, StoreError, Work, import, lookup};

/// How to fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// The signature of the (single) image given, instead of `IMAGE.asc`.
    pub signature: Option<PathBuf>,
    /// Allow plain `http://`.
    pub insecure_http: bool,
    /// Show download progress (on a terminal).
    pub progress: bool,
    /// Per-host credentials (`--dir/auth.d`), sent only over https.
    pub auth: crate::auth::Credentials,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}: plain http is refused; pass --insecure-options=http to allow it")]
    PlainHttp(String),
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    #[error(
        "{image}: no signature at {signature}: {reason} (pass --insecure-options=image to skip verification)"
    )]
    NoSignature {
        image: String,
        signature: String,
        reason: String,
    },
    #[error("{0}: not a file path or an http(s):// URL")]
    BadLocation(String),
    /// An image found by discovery is not the one asked for (checked before it is stored).
    #[error("{url}: {reason}")]
    NotAsked {
        url: String,
        reason: appc::discovery::Disagreement,
    },
}

impl FetchError {
    /// Whether the user's input is at fault.
    pub fn is_usage(&self) -> bool {
        matches!(self, FetchError::BadLocation(_))
    }
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Url(String),
}

impl Location {
    /// A path, or an `http://` / `https://` URL.
    pub fn parse(text: &str) -> Result<Location, FetchError> {
        if text.starts_with("https://") || text.starts_with("http://") {
            Ok(Location::Url(text.to_owned()))
        } else if text.contains("://") || text.is_empty() {
            Err(FetchError::BadLocation(text.to_owned()))
        } else {
            Ok(Location::File(PathBuf::from(text)))
        }
    }

    /// The file `name` in the same directory (or under the same URL base).
    pub fn sibling(&self, name: &str) -> Location {
        match self {
            Location::File(p) => Location::File(p.with_file_name(name)),
            Location::Url(u) => {
                let base = u.rsplit_once('/').map(|(b, _)| b).unwrap_or(u);
                Location::Url(format!("{base}/{name}"))
            }
        }
    }

    fn signature(&self) -> Location {
        match self {
            Location::File(p) => Location::File(appc::sign::signature_path(p)),
            Location::Url(u) => Location::Url(format!("{u}.asc")),
        }
    }

    /// How records name it (`file:///abs/path` or the URL).
    pub fn origin(&self) -> String {
        match self {
            Location::File(p) => {
                let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
                format!("file://{}", abs.display())
            }
            Location::Url(u) => u.clone(),
        }
    }
}

/// Fetch each of `images`; returns their records in order. `judge` is `None` for
/// `--insecure-options=image`.
pub fn fetch(
    store: &Store,
    judge: Option<&Judge>,
    images: &[String],
    opts: &FetchOptions,
) -> Result<Vec<Record>, FetchError> {
    let mut out = Vec::new();
    for image in images {
        let location = Location::parse(image)?;
        out.push(fetch_one(store, judge, &location, opts)?);
    }
    Ok(out)
}

struct Fetcher<'a> {
    store: &'a Store,
    judge: Option<&'a Judge>,
    opts: &'a FetchOptions,
    agent: Option<ureq::Agent>,
    /// The signature URL of the top image when discovery named it.
    signature_url: Option<String>,
}

fn fetch_one(
    store: &Store,
    judge: Option<&Judge>,
    location: &Location,
    opts: &FetchOptions,
) -> Result<Record, FetchError> {
    fetch_checked(store, judge, location, None, opts)
}

/// Fetch an image found by discovery at `aci` (signature at `asc`): its manifest must agree with
/// `app` (name and every requested label) before anything is stored.
pub fn fetch_discovered(
    store: &Store,
    judge: Option<&Judge>,
    aci: &str,
    asc: &str,
    app: &appc::discovery::App,
    opts: &FetchOptions,
) -> Result<Record, FetchError> {
    let location = Location::Url(aci.to_owned());
    fetch_checked(store, judge, &location, Some((asc, app)), opts)
}

fn fetch_checked(
    store: &Store,
    judge: Option<&Judge>,
    location: &Location,
    discovered: Option<(&str, &appc::discovery::App)>,
    opts: &FetchOptions,
) -> Result<Record, FetchError> {
    let mut f = Fetcher {
        store,
        judge,
        opts,
        agent: None,
        signature_url: discovered.map(|(asc, _)| asc.to_owned()),
    };
    let top = f.prepare(location, opts.signature.as_deref())?;
    f.signature_url = None;
    if let Some((_, app)) = discovered {
        appc::discovery::check_manifest(app, &top.manifest).map_err(|reason| {
            FetchError::NotAsked {
                url: location.origin(),
                reason,
            }
        })?;
    }
    let node = Node {
        id: top.id,
        manifest: top.manifest.clone(),
        size: top.record.size,
    };
    let mut pending = vec![top];
    let mut failure = None;
    let mut resolve = |dep: &Dependency| match f.dependency(location, dep, &mut pending) {
        Ok(node) => Ok(node),
        Err(e) => {
            let text = e.to_string();
            failure.get_or_insert(e);
            Err(text)
        }
    };
    let result = dep_list(node, &mut resolve);
    if let (Err(_), Some(e)) = (&result, failure) {
        return Err(e);
    }
    result.map_err(StoreError::from)?;
    // Dependencies first, the image asked for last.
    let mut last = None;
    for p in pending.into_iter().rev() {
        last = Some(store.publish(p)?);
    }
    last.ok_or_else(|| FetchError::BadLocation(location.origin()))
}

impl Fetcher<'_> {
    fn prepare(
        &mut self,
        location: &Location,
        signature: Option<&Path>,
    ) -> Result<Prepared, FetchError> {
        let work = self.store.begin()?;
        self.get(location, &work)?;
        let sig = match (self.judge, signature) {
            (None, _) => None,
            (Some(_), Some(path)) => {
                Some(std::fs::read(path).map_err(|e| FetchError::NoSignature {
                    image: location.origin(),
                    signature: path.display().to_string(),
                    reason: e.to_string(),
                })?)
            }
            (Some(_), None) => Some(self.get_signature(location)?),
        };
        Ok(self
            .store
            .prepare(work, sig, self.judge, &location.origin())?)
    }

    fn dependency(
        &mut self,
        base: &Location,
        dep: &Dependency,
        pending: &mut Vec<Prepared>,
    ) -> Result<Node, FetchError> {
        let name = dep.image_name.as_str();
        let labels: Vec<(String, String)> = dep
            .labels
            .iter()
            .map(|l| (l.name.as_str().to_owned(), l.value.clone()))
            .collect();
        let wanted = |id: &appc::ImageId, rec_name: &str, rec: &Record| match dep.image_id {
            Some(pinned) => pinned == *id,
            None => rec_name == name && rec.has_labels(&labels),
        };
        if let Some(p) = pending
            .iter()
            .find(|p| wanted(&p.id, &p.record.name, &p.record))
        {
            return Ok(node(p));
        }
        let stored = match dep.image_id {
            Some(id) => self.store.get(&id),
            None => lookup::by_name(self.store.layout(), name, name, &labels, self.judge).ok(),
        };
        if let Some(r) = stored {
            return Ok(Node {
                id: r.id,
                manifest: self.store.manifest(&r.id)?,
                size: r.size,
            });
        }
        let mut last_error = None;
        for file in candidate_names(dep) {
            match self.prepare(&base.sibling(&file), None) {
                Ok(p) => {
                    let n = node(&p);
                    pending.push(p);
                    return Ok(n);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| FetchError::BadLocation(name.to_owned())))
    }

    fn agent(&mut self) -> &ureq::Agent {
        self.agent.get_or_insert_with(agent)
    }

    fn request(&mut self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let header = self.opts.auth.header_for(url).map(str::to_owned);
        let req = self.agent().get(url);
        match header {
            Some(h) => req.header("Authorization", h),
            None => req,
        }
    }

    fn check_scheme(&self, url: &str) -> Result<(), FetchError> {
        if url.starts_with("http://") && !self.opts.insecure_http {
            return Err(FetchError::PlainHttp(url.to_owned()));
        }
        Ok(())
    }

    fn get(&mut self, location: &Location, work: &Work) -> Result<(), FetchError> {
        match location {
            Location::File(path) => Ok(import::copy_in(work, path)?),
            Location::Url(url) => {
                self.check_scheme(url)?;
                let http = |reason: String| FetchError::Http {
                    url: url.clone(),
                    reason,
                };
                let resp = self.request(url).call().map_err(|e| http(e.to_string()))?;
                let total = resp
                    .headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let mut body = resp.into_body().into_with_config().reader();
                let blob = work.blob();
                let mut file = std::fs::File::create_new(&blob).map_err(StoreError::io(&blob))?;
                let bar = self.progress_bar(total);
                copy_with_progress(&mut body, &mut file, bar.as_ref())
                    .map_err(|e| http(e.to_string()))?;
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
                Ok(())
            }
        }
    }

    fn get_signature(&mut self, image: &Location) -> Result<Vec<u8>, FetchError> {
        let sig = match &self.signature_url {
            Some(url) => Location::Url(url.clone()),
            None => image.signature(),
        };
        let missing = |reason: String| FetchError::NoSignature {
            image: image.origin(),
            signature: sig.origin(),
            reason,
        };
        match &sig {
            Location::File(p) => std::fs::read(p).map_err(|e| missing(e.to_string())),
            Location::Url(url) => {
                self.check_scheme(url)?;
                let resp = self
                    .request(url)
                    .call()
                    .map_err(|e| missing(e.to_string()))?;
                let mut bytes = Vec::new();
                resp.into_body()
                    .into_with_config()
                    .limit(1 << 20)
                    .reader()
                    .read_to_end(&mut bytes)
                    .map_err(|e| missing(e.to_string()))?;
                Ok(bytes)
            }
        }
    }

    fn progress_bar(&self, total: Option<u64>) -> Option<indicatif::ProgressBar> {
        if !self.opts.progress || !io::stderr().is_terminal() {
            return None;
        }
        let bar = match total {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bytes}/{total_bytes} {bar:30} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    }
}

fn node(p: &Prepared) -> Node {
    Node {
        id: p.id,
        manifest: p.manifest.clone(),
        size: p.record.size,
    }
}

fn copy_with_progress(
    from: &mut dyn Read,
    to: &mut std::fs::File,
    bar: Option<&indicatif::ProgressBar>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return to.sync_all(),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        if let Some(b) = bar {
            b.inc(n as u64);
        }
    }
}

/// The file names a dependency is looked for under (acbuild's `NAME-VERSION-OS-ARCH.aci`).
pub fn candidate_names(dep: &Dependency) -> Vec<String> {
    let name = dep.image_name.as_str();
    let base = name.rsplit('/').next().unwrap_or(name);
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        other => other,
    };
    let label = |n: &str| dep.labels.get(n).map(|v| v.replace('/', "_"));
    let mut with_host = vec![base.to_owned()];
    let mut exact = vec![base.to_owned()];
    if let Some(v) = label("version") {
        with_host.push(v.clone());
        exact.push(v);
    }
    for (l, host) in [("os", std::env::consts::OS), ("arch", host_arch)] {
        match label(l) {
            Some(v) => {
                with_host.push(v.clone());
                exact.push(v);
            }
            None => with_host.push(host.to_owned()),
        }
    }
    let mut names = vec![format!("{}.aci", with_host.join("-"))];
    let exact = format!("{}.aci", exact.join("-"));
    if !names.contains(&exact) {
        names.push(exact);
    }
    names
}

/// The HTTP client: rustls with the system CA store (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured).
pub(crate) fn agent() -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let found = rustls_native_certs::load_native_certs();
    let certs: Vec<Certificate<'static>> = found
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&certs))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

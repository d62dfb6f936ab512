//! Per-host credentials for discovery and fetching: `--dir/auth.d/*.json`.
//!
//! Each file: `{"domains": ["example.com", ...], "type": "basic", "credentials": {"user": "...",
//! "password": "..."}}` or `"type": "bearer"` with `{"token": "..."}` (rkt's `auth.d` shape; its
//! `rktKind`/`rktVersion` fields are accepted and ignored). Files are read in name order; the first
//! file naming a host wins.
//!
//! Defends against credential leaks: a header is produced only for an `https://` URL whose host
//! (port ignored, case-insensitive) is listed, so it never crosses plain HTTP; ureq drops
//! `Authorization` on redirects (its default `RedirectAuthHeaders::Never`), so a redirect to another
//! host never receives it. Secrets are never part of an error message.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

/// Why the credentials could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "rktKind")]
    _kind: Option<String>,
    #[serde(default, rename = "rktVersion")]
    _version: Option<String>,
    domains: Vec<String>,
    #[serde(rename = "type")]
    kind: String,
    credentials: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Secret {
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Loaded credentials: host → `Authorization` header value.
#[derive(Clone, Default)]
pub struct Credentials {
    hosts: Vec<(String, String)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<&str> = self.hosts.iter().map(|(h, _)| h.as_str()).collect();
        f.debug_struct("Credentials")
            .field("hosts", &hosts)
            .finish()
    }
}

impl Credentials {
    /// Reads every `*.json` in `dir` (none when the directory does not exist).
    pub fn load(dir: &Path) -> Result<Credentials, AuthError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| AuthError::Io { path, source }
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::default()),
            Err(e) => return Err(io(dir)(e)),
        };
        let mut files = Vec::new();
        for e in entries {
            let path = e.map_err(io(dir))?.path();
            if path.extension().is_some_and(|x| x == "json") {
                files.push(path);
            }
        }
        files.sort();
        let mut creds = Credentials::default();
        for path in files {
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            creds.add(&path, &bytes)?;
        }
        Ok(creds)
    }

    fn add(&mut self, path: &Path, bytes: &[u8]) -> Result<(), AuthError> {
        let invalid = |reason: String| AuthError::Invalid {
            path: path.to_owned(),
            reason,
        };
        // serde's messages may quote values, and values here are secrets: report only where.
        let f: File = serde_json::from_slice(bytes).map_err(|e| {
            invalid(format!(
                "not a valid auth file (line {}, column {}): expected domains, type and credentials",
                e.line(),
                e.column()
            ))
        })?;
        let c = f.credentials;
        let header = match (f.kind.as_str(), c.user, c.password, c.token) {
            ("basic", Some(u), Some(p), None) => {
                let raw = format!("{u}:{p}");
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            }
            ("bearer", None, None, Some(t)) => format!("Bearer {t}"),
            (kind, ..) => {
                return Err(invalid(format!(
                    "type {kind:?}: expected \"basic\" with user and password, or \"bearer\" with token"
                )));
            }
        };
        for d in f.domains {
            let host = d.to_ascii_lowercase();
            if !self.hosts.iter().any(|(h, _)| *h == host) {
                self.hosts.push((host, header.clone()));
            }
        }
        Ok(())
    }

    /// The `Authorization` value for `url`: only for `https://` URLs of a listed host.
    pub fn header_for(&self, url: &str) -> Option<&str> {
        let rest = url.strip_prefix("https://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let host_port = authority.rsplit('@').next()?;
        let host = host_port.split(':').next()?.to_ascii_lowercase();
        self.hosts
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(json: &str) -> Result<Credentials, AuthError> {
        let mut c = Credentials::default();
        c.add(Path::new("t.json"), json.as_bytes())?;
        Ok(c)
    }

    #[test]
    fn basic_and_bearer_only_over_https_to_listed_hosts() {
        let c = creds(r#"{"rktKind":"auth","domains":["Example.com"],"type":"basic","credentials":{"user":"u","password":"p"}}"#).unwrap();
        assert_eq!(
            c.header_for("https://example.com/a?ac-discovery=1"),
            Some("Basic dTpw")
        );
        assert_eq!(
            c.header_for("https://EXAMPLE.com:8443/x"),
            Some("Basic dTpw")
        );
        assert_eq!(
            c.header_for("http://example.com/a"),
            None,
            "never over plain http"
        );
        assert_eq!(c.header_for("https://example.com.evil.org/a"), None);
        assert_eq!(c.header_for("https://evil.org/?example.com"), None);
        let b =
            creds(r#"{"domains":["a.org"],"type":"bearer","credentials":{"token":"t"}}"#).unwrap();
        assert_eq!(b.header_for("https://a.org/"), Some("Bearer t"));
    }

    #[test]
    fn malformed_files_are_refused_without_echoing_secrets() {
        let e = creds(r#"{"domains":["a"],"type":"basic","credentials":{"token":"hunter2"}}"#)
            .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(creds(r#"{"domains":["a"],"type":"digest","credentials":{}}"#).is_err());
        assert!(creds(r#"{"domains":["a"],"type":"basic","credentials":{"user":"u","password":"p"},"x":1}"#).is_err());
        // Control: the same shape, well-formed.
        assert!(
            creds(r#"{"domains":["a"],"type":"basic","credentials":{"user":"u","password":"p"}}"#)
                .is_ok()
        );
    }

    #[test]
    fn serde_errors_do_not_quote_values() {
        let e = creds(r#"{"domains":["a"],"type":"basic","credentials":"hunter2"}"#).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn a_missing_directory_means_no_credentials() {
        let c = Credentials::load(Path::new("/nonexistent/auth.d")).unwrap();
        assert_eq!(c.header_for("https://example.com/"), None);
    }
}

//! `acrun trust`: add, list and remove trusted keys; the text the user sees for each.

use std::fmt::Write as _;
use std::path::PathBuf;

use appc::trust::{Prefix, Scope, TrustError, TrustStore, TrustedKey};
use appc::untrusted_text::Escaped;

/// One trust operation.
#[derive(Debug)]
pub enum TrustAction {
    /// Trust `key` for images under `prefix`.
    Prefix { prefix: String, key: PathBuf },
    /// Trust `key` for all images.
    Root { key: PathBuf },
    /// List every trusted key.
    List,
    /// Remove a key's trust.
    Remove { fingerprint: String },
}

/// Failures of `acrun trust`.
#[derive(Debug, thiserror::Error)]
pub enum TrustCmdError {
    /// The key file could not be read.
    #[error("{path}: {source}")]
    ReadKey {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The key file is not an OpenPGP public key.
    #[error(transparent)]
    BadKeyFile(TrustError),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] TrustError),
}

impl TrustCmdError {
    /// Was it the user's input (bad prefix, fingerprint or key file)? Every variant is named,
    /// so a new one must be classified here.
    pub fn is_usage(&self) -> bool {
        match self {
            TrustCmdError::ReadKey { .. } | TrustCmdError::BadKeyFile(_) => true,
            TrustCmdError::Store(e) => match e {
                TrustError::InvalidPrefix { .. }
                | TrustError::InvalidFingerprint(_)
                | TrustError::NotTrusted { .. } => true,
                TrustError::NotAKey { .. } | TrustError::Io { .. } | TrustError::Unsafe { .. } => {
                    false
                }
            },
        }
    }
}

/// The fingerprint and first user ID of a key. The user ID is the key owner's text, so it is
/// escaped: a newline or terminal escape in it cannot forge or erase a line of our output.
fn describe(key: &TrustedKey) -> String {
    match key.user_ids.first() {
        Some(uid) => format!("{} {}", key.fingerprint, Escaped(uid)),
        None => format!("{} (no user ID)", key.fingerprint),
    }
}

/// Run one action; returns what to print on success.
pub fn run(store: &TrustStore, action: TrustAction) -> Result<String, TrustCmdError> {
    let mut out = String::new();
    match action {
        TrustAction::Prefix { prefix, key } => {
            let scope = Scope::Prefix(Prefix::parse(&prefix)?);
            let added = trust(store, &scope, &key)?;
            let _ = writeln!(
                out,
                "trusted key {} for prefix {}\n  stored in {}",
                describe(&added),
                prefix,
                added.path.display()
            );
        }
        TrustAction::Root { key } => {
            let added = trust(store, &Scope::Root, &key)?;
            let _ = writeln!(
                out,
                "trusted key {} for all images (root)\n  stored in {}",
                describe(&added),
                added.path.display()
            );
        }
        TrustAction::List => {
            for key in store.list()? {
                let origin = if key.system { " [system]" } else { "" };
                let scope = match &key.scope {
                    Scope::Root => "root".to_owned(),
                    Scope::Prefix(p) => format!("prefix {p}"),
                };
                let _ = writeln!(out, "{}\t{scope}{origin}", describe(&key));
            }
        }
        TrustAction::Remove { fingerprint } => {
            for key in store.remove(&fingerprint)? {
                let _ = writeln!(out, "removed key {} ({})", describe(&key), key.scope);
            }
        }
    }
    Ok(out)
}

fn trust(store: &TrustStore, scope: &Scope, key: &PathBuf) -> Result<TrustedKey, TrustCmdError> {
    let bytes = std::fs::read(key).map_err(|source| TrustCmdError::ReadKey {
        path: key.clone(),
        source,
    })?;
    store.trust(scope, &bytes, key).map_err(|e| match e {
        TrustError::NotAKey { ref path, .. } if path == key => TrustCmdError::BadKeyFile(e),
        other => TrustCmdError::Store(other),
    })
}

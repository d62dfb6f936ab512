//! Which keys may sign which images: the trust store and the verification policy.
//!
//! Layout (rkt's): under a `trustedkeys` directory, `prefix.d/<prefix path>/<FINGERPRINT>` trusts a
//! key for every image whose name is the prefix or lies below it on `/` boundaries, and
//! `root.d/<FINGERPRINT>` trusts a key for every image. Each file holds the armoured certificate.
//! A store is the user's writable directory plus an optional read-only system directory; both
//! are read, only the user's is written. Paths are given by the caller (no defaults here).
//!
//! Policy: an image verifies only if its detached signature is good, made by a key that is
//! trusted for a prefix of the image's name (from its manifest) or for all images, and the key
//! is neither expired nor revoked now ([`crate::sign::verify_detached`]).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::detached_signature::DetachedSignatures;
use crate::sign::{BadSignature, PublicKey};
use crate::trusted_path::{self, CheckError};
use crate::untrusted_text::Escaped;

const PREFIX_DIR: &str = "prefix.d";
const ROOT_DIR: &str = "root.d";

/// Errors of the trust store.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The prefix is not an ACIdentifier (and so could not be a directory path below the store).
    #[error("invalid prefix {prefix:?}: {reason}")]
    InvalidPrefix {
        /// The rejected text.
        prefix: String,
        /// The rule broken.
        reason: String,
    },
    /// A fingerprint argument is not 40 or 64 hex digits.
    #[error("invalid fingerprint {0:?}: expected 40 (v4) or 64 (v6) hex digits")]
    InvalidFingerprint(String),
    /// A key file could not be parsed as an OpenPGP certificate.
    #[error("{path}: not an OpenPGP public key: {reason}")]
    NotAKey {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Reading or writing the store failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A store directory or key file is a symbolic link, the wrong kind of file, or writable by
    /// group or others.
    #[error("{}: refusing to use the trust store: {reason}", Escaped(&path.to_string_lossy()))]
    Unsafe {
        /// The offending path.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// `remove` found no such key in the writable store.
    #[error("no trusted key with fingerprint {fingerprint} in {store}{system}")]
    NotTrusted {
        /// The fingerprint asked for.
        fingerprint: String,
        /// The user store searched.
        store: PathBuf,
        /// A note when the key is only in the read-only system store.
        system: String,
    },
}

fn checked(path: &Path) -> impl FnOnce(CheckError) -> TrustError + '_ {
    move |e| match e {
        CheckError::Io(source) => TrustError::Io {
            path: path.to_owned(),
            source,
        },
        CheckError::Unsafe(why) => TrustError::Unsafe {
            path: path.to_owned(),
            reason: why.to_string(),
        },
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> TrustError + '_ {
    move |source| TrustError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An image-name prefix a key is trusted for: an ACIdentifier, hence a relative path without
/// `.`, `..` or empty components.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix(String);

impl Prefix {
    /// Parse `text` as an ACIdentifier (`^[a-z0-9]+([-._~/][a-z0-9]+)*$`), which also makes it a
    /// relative path with no `.`, `..`, empty or absolute components.
    pub fn parse(text: &str) -> Result<Prefix, TrustError> {
        match crate::name::AcIdentifier::new(text) {
            Ok(id) => Ok(Prefix(id.as_str().to_owned())),
            Err(e) => Err(TrustError::InvalidPrefix {
                prefix: text.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    /// The prefix text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Does this prefix cover `name`? Only on whole path components: `example.com/app` covers
    /// `example.com/app` and `example.com/app/db`, not `example.com/apple`.
    pub fn covers(&self, name: &str) -> bool {
        name == self.0
            || name
                .strip_prefix(&self.0)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a key is trusted for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Every image.
    Root,
    /// Images named by this prefix or below it.
    Prefix(Prefix),
}

impl Scope {
    fn covers(&self, name: &str) -> bool {
        match self {
            Scope::Root => true,
            Scope::Prefix(p) => p.covers(name),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Root => f.write_str("all images (root)"),
            Scope::Prefix(p) => write!(f, "prefix {p}"),
        }
    }
}

/// One trust decision recorded in a store.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// What the key is trusted for.
    pub scope: Scope,
    /// The certificate's fingerprint (upper-case hex).
    pub fingerprint: String,
    /// Its user IDs.
    pub user_ids: Vec<String>,
    /// The file holding it.
    pub path: PathBuf,
    /// Whether it comes from the read-only system store.
    pub system: bool,
    key: PublicKey,
}

/// The user's writable trust directory plus an optional read-only system one.
#[derive(Debug, Clone)]
pub struct TrustStore {
    user: PathBuf,
    system: Option<PathBuf>,
}

impl TrustStore {
    /// A store whose writable `trustedkeys` directory is `user` and whose read-only one is
    /// `system` (missing directories are simply empty).
    pub fn new(user: PathBuf, system: Option<PathBuf>) -> TrustStore {
        TrustStore { user, system }
    }

    /// The writable directory.
    pub fn user_dir(&self) -> &Path {
        &self.user
    }

    /// Trust the certificate in `key_bytes` (read from `source`, named in errors) for `scope`.
    /// Trusting a key again merges the new copy into the stored one, which is how a revocation
    /// is imported. The file is replaced atomically.
    pub fn trust(
        &self,
        scope: &Scope,
        key_bytes: &[u8],
        source: &Path,
    ) -> Result<TrustedKey, TrustError> {
        let key = PublicKey::from_bytes(key_bytes).map_err(|reason| TrustError::NotAKey {
            path: source.to_owned(),
            reason,
        })?;
        let fingerprint = key.fingerprint();
        let dir = match scope {
            Scope::Root => self.user.join(ROOT_DIR),
            Scope::Prefix(p) => self.user.join(PREFIX_DIR).join(p.as_str()),
        };
        trusted_path::ensure_dir(&self.user, &dir).map_err(|(path, e)| checked(&path)(e))?;
        let path = dir.join(&fingerprint);
        let key = match trusted_path::check_file(&path).map_err(checked(&path))? {
            Some(_) => {
                let old = fs::read(&path).map_err(io_err(&path))?;
                let old = PublicKey::from_bytes(&old).map_err(|reason| TrustError::NotAKey {
                    path: path.clone(),
                    reason,
                })?;
                old.merge(key.clone()).unwrap_or(key)
            }
            None => key,
        };
        let armored = key.armored().map_err(|reason| TrustError::NotAKey {
            path: source.to_owned(),
            reason,
        })?;
        crate::atomic_file::write_atomically(&path, &armored, 0o644).map_err(io_err(&path))?;
        Ok(TrustedKey {
            scope: scope.clone(),
            user_ids: key.user_ids(),
            fingerprint,
            path,
            system: false,
            key,
        })
    }

    /// Every trusted key of both stores, system first, each sorted by scope then fingerprint.
    pub fn list(&self) -> Result<Vec<TrustedKey>, TrustError> {
        let mut all = Vec::new();
        if let Some(system) = &self.system {
            all.extend(read_store(system, true)?);
        }
        all.extend(read_store(&self.user, false)?);
        Ok(all)
    }

    /// Remove every trust of the key `fingerprint` from the writable store; returns what was
    /// removed. Keys in the system store cannot be removed here.
    pub fn remove(&self, fingerprint: &str) -> Result<Vec<TrustedKey>, TrustError> {
        let wanted = normalise_fingerprint(fingerprint)?;
        let removed: Vec<TrustedKey> = read_store(&self.user, false)?
            .into_iter()
            .filter(|k| k.fingerprint == wanted)
            .collect();
        if removed.is_empty() {
            let in_system = match &self.system {
                Some(dir) => read_store(dir, true)?
                    .iter()
                    .any(|k| k.fingerprint == wanted),
                None => false,
            };
            return Err(TrustError::NotTrusted {
                fingerprint: wanted,
                store: self.user.clone(),
                system: if in_system {
                    " (it is in the read-only system store)".into()
                } else {
                    String::new()
                },
            });
        }
        for key in &removed {
            fs::remove_file(&key.path).map_err(io_err(&key.path))?;
        }
        Ok(removed)
    }

    /// Load the policy: every trusted key with its scopes.
    pub fn policy(&self) -> Result<Policy, TrustError> {
        Ok(Policy { keys: self.list()? })
    }
}

fn normalise_fingerprint(text: &str) -> Result<String, TrustError> {
    let hex: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let hex = hex.strip_prefix("0x").unwrap_or(&hex).to_ascii_uppercase();
    if (hex.len() == 40 || hex.len() == 64) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(TrustError::InvalidFingerprint(text.to_owned()))
    }
}

fn is_fingerprint_name(name: &str) -> bool {
    (name.len() == 40 || name.len() == 64)
        && name
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
}

/// Read one `trustedkeys` directory. Entries that are neither prefix directories nor
/// fingerprint-named files are ignored; a fingerprint-named file that is not that key is an error,
/// and so is any symbolic link, or a directory or key file writable by group or others
/// (see [`crate::trusted_path`]).
fn read_store(dir: &Path, system: bool) -> Result<Vec<TrustedKey>, TrustError> {
    let mut found = Vec::new();
    if trusted_path::check_dir(dir)
        .map_err(checked(dir))?
        .is_none()
    {
        return Ok(found);
    }
    read_key_dir(&dir.join(ROOT_DIR), &Scope::Root, system, &mut found)?;
    let prefixes = dir.join(PREFIX_DIR);
    let mut pending = vec![prefixes.clone()];
    while let Some(current) = pending.pop() {
        for (name, path, file_type) in sorted_entries(&current)?.unwrap_or_default() {
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file() && is_fingerprint_name(&name) {
                let rel = current
                    .strip_prefix(&prefixes)
                    .ok()
                    .and_then(|p| p.to_str())
                    .unwrap_or("");
                // Files directly in prefix.d, or under a directory path that is not a valid
                // prefix, belong to no prefix and are ignored.
                if let Ok(prefix) = Prefix::parse(rel) {
                    found.push(read_key(&path, &name, Scope::Prefix(prefix), system)?);
                }
            }
        }
    }
    found.sort_by(|a, b| (&a.scope, &a.fingerprint).cmp(&(&b.scope, &b.fingerprint)));
    Ok(found)
}

fn read_key_dir(
    dir: &Path,
    scope: &Scope,
    system: bool,
    found: &mut Vec<TrustedKey>,
) -> Result<(), TrustError> {
    for (name, path, file_type) in sorted_entries(dir)?.unwrap_or_default() {
        if file_type.is_file() && is_fingerprint_name(&name) {
            found.push(read_key(&path, &name, scope.clone(), system)?);
        }
    }
    Ok(())
}

type Entry = (String, PathBuf, fs::FileType);

/// The entries of the store directory `dir` (`None` if it does not exist), sorted by name,
/// after checking `dir` itself; a symbolic link among them is an error, wherever it points. Only
/// directories and regular files with UTF-8 names are returned (nothing else can be a prefix
/// component or a fingerprint).
fn sorted_entries(dir: &Path) -> Result<Option<Vec<Entry>>, TrustError> {
    if trusted_path::check_dir(dir)
        .map_err(checked(dir))?
        .is_none()
    {
        return Ok(None);
    }
    let read = fs::read_dir(dir).map_err(io_err(dir))?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        // Not followed: a link's own type.
        let file_type = entry.file_type().map_err(io_err(&path))?;
        if file_type.is_symlink() {
            return Err(TrustError::Unsafe {
                path,
                reason: trusted_path::Unsafe::Symlink.to_string(),
            });
        }
        if !(file_type.is_dir() || file_type.is_file()) {
            continue;
        }
        if let Ok(name) = entry.file_name().into_string() {
            entries.push((name, path, file_type));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(entries))
}

fn read_key(path: &Path, name: &str, scope: Scope, system: bool) -> Result<TrustedKey, TrustError> {
    trusted_path::check_file(path).map_err(checked(path))?;
    let bytes = fs::read(path).map_err(io_err(path))?;
    let key = PublicKey::from_bytes(&bytes).map_err(|reason| TrustError::NotAKey {
        path: path.to_owned(),
        reason,
    })?;
    if key.fingerprint() != name {
        return Err(TrustError::NotAKey {
            path: path.to_owned(),
            reason: format!("file name says {name} but the key is {}", key.fingerprint()),
        });
    }
    Ok(TrustedKey {
        scope,
        fingerprint: name.to_owned(),
        user_ids: key.user_ids(),
        path: path.to_owned(),
        system,
        key,
    })
}

/// A verified image: who signed it and which trust made that enough.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signer's certificate fingerprint.
    pub signer: String,
    /// The trust that covers the image name.
    pub scope: Scope,
    /// What became of the file's other signatures, in file order ("signature 2: …"); they
    /// neither help nor hurt.
    pub others: Vec<String>,
}

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The signature itself failed (bad, unknown signer, expired, revoked…).
    #[error("image {image}: {reason}")]
    Signature {
        /// The image name.
        image: String,
        /// The cryptographic verdict.
        reason: BadSignature,
    },
    /// The signer is trusted, but not for this name.
    #[error(
        "image {image}: signer {signer} is trusted only for {trusted}, which does not cover {image}"
    )]
    NotTrustedForName {
        /// The image name.
        image: String,
        /// The signer's fingerprint.
        signer: String,
        /// The scopes the signer is trusted for, comma-separated.
        trusted: String,
    },
    /// The file holds several signatures and none is good and by a key trusted for the name.
    #[error(
        "image {image}: none of its {} signatures is good and by a key trusted for it:{}",
        .each.len(),
        .each.iter().enumerate().map(|(i, r)| format!("\n  signature {}: {}", i + 1, r.reason())).collect::<String>()
    )]
    NoTrustedSignature {
        /// The image name.
        image: String,
        /// Each signature's refusal, in file order.
        each: Vec<Refusal>,
    },
}

impl Refusal {
    /// The signer fingerprint, when known (for several signatures: the first one named).
    pub fn signer(&self) -> Option<&str> {
        match self {
            Refusal::Signature { reason, .. } => reason.signer(),
            Refusal::NotTrustedForName { signer, .. } => Some(signer),
            Refusal::NoTrustedSignature { each, .. } => each.iter().find_map(Refusal::signer),
        }
    }

    /// The refusal without the leading "image NAME: ".
    pub fn reason(&self) -> String {
        let text = self.to_string();
        match self {
            Refusal::Signature { image, .. }
            | Refusal::NotTrustedForName { image, .. }
            | Refusal::NoTrustedSignature { image, .. } => text
                .strip_prefix(&format!("image {image}: "))
                .map(str::to_owned)
                .unwrap_or(text),
        }
    }
}

/// The loaded trust store, ready to judge images.
#[derive(Debug, Clone)]
pub struct Policy {
    keys: Vec<TrustedKey>,
}

impl Policy {
    /// Verify that `signature` is a good signature of the bytes `aci` yields, by a key trusted
    /// for `name` (the image name from its manifest), valid now. For `acrun verify`, which must
    /// read the name from the same bytes it hashes, see [`Policy::judge`].
    pub fn verify(
        &self,
        name: &str,
        aci: impl Read,
        signature: &[u8],
    ) -> Result<Verified, Refusal> {
        self.verify_at(name, aci, signature, SystemTime::now())
    }

    /// [`Policy::verify`] at a given time.
    pub fn verify_at(
        &self,
        name: &str,
        mut aci: impl Read,
        signature: &[u8],
        now: SystemTime,
    ) -> Result<Verified, Refusal> {
        let refuse = |reason| Refusal::Signature {
            image: name.to_owned(),
            reason,
        };
        let mut sigs = DetachedSignatures::parse(signature, now).map_err(refuse)?;
        io::copy(&mut aci, &mut sigs)
            .map_err(|e| refuse(BadSignature::Malformed(format!("reading the image: {e}"))))?;
        self.judge(name, &sigs, now)
    }

    /// Judge `signatures`, already fed every byte of the image named `name`, at `now`: the
    /// image is verified when any one signature is good and made by a key trusted for a prefix
    /// of `name` (or for all images), whatever the other signatures are and in whatever order.
    pub fn judge(
        &self,
        name: &str,
        signatures: &DetachedSignatures,
        now: SystemTime,
    ) -> Result<Verified, Refusal> {
        let verdicts: Vec<Result<Verified, Refusal>> = signatures
            .check(&self.certs(), now)
            .into_iter()
            .map(|verdict| match verdict {
                Ok(good) => self.scope_for(name, &good.signer),
                Err(reason) => Err(Refusal::Signature {
                    image: name.to_owned(),
                    reason,
                }),
            })
            .collect();
        let mut chosen = None;
        let mut others = Vec::new();
        let mut refusals = Vec::new();
        for (i, verdict) in verdicts.into_iter().enumerate() {
            match verdict {
                Ok(verified) if chosen.is_none() => chosen = Some(verified),
                Ok(v) => others.push(format!(
                    "signature {}: also good, by {} trusted for {}",
                    i + 1,
                    v.signer,
                    v.scope
                )),
                Err(refusal) => {
                    others.push(format!("signature {}: {}", i + 1, refusal.reason()));
                    refusals.push(refusal);
                }
            }
        }
        match chosen {
            Some(verified) => Ok(Verified { others, ..verified }),
            None if refusals.len() == 1 => Err(refusals.remove(0)),
            None => Err(Refusal::NoTrustedSignature {
                image: name.to_owned(),
                each: refusals,
            }),
        }
    }

    /// The fingerprints of the trusted keys that made a good signature among `signatures`
    /// (already fed every byte of the image), in file order and without repeats; or, when none
    /// did, why each signature failed. For a store that must check the signature over the exact
    /// bytes before it decompresses anything, and so before it knows the image's name: the name
    /// is judged afterwards against the scopes of these signers.
    pub fn good_signers(
        &self,
        signatures: &DetachedSignatures,
        now: SystemTime,
    ) -> Result<Vec<String>, Vec<BadSignature>> {
        let mut signers: Vec<String> = Vec::new();
        let mut bad = Vec::new();
        for verdict in signatures.check(&self.certs(), now) {
            match verdict {
                Ok(good) if !signers.contains(&good.signer) => signers.push(good.signer),
                Ok(_) => {}
                Err(reason) => bad.push(reason),
            }
        }
        if signers.is_empty() {
            Err(bad)
        } else {
            Ok(signers)
        }
    }

    /// Every trusted certificate once: the same certificate may be stored under several scopes
    /// or in both stores, and the copies are merged so that a revocation imported anywhere
    /// counts everywhere.
    fn certs(&self) -> Vec<PublicKey> {
        let mut certs: BTreeMap<&str, PublicKey> = BTreeMap::new();
        for key in &self.keys {
            let merged = match certs.remove(key.fingerprint.as_str()) {
                Some(existing) => existing.clone().merge(key.key.clone()).unwrap_or(existing),
                None => key.key.clone(),
            };
            certs.insert(&key.fingerprint, merged);
        }
        certs.into_values().collect()
    }

    /// The trust of `signer` that covers `name`.
    fn scope_for(&self, name: &str, signer: &str) -> Result<Verified, Refusal> {
        let scopes: Vec<&Scope> = self
            .keys
            .iter()
            .filter(|k| k.fingerprint == signer)
            .map(|k| &k.scope)
            .collect();
        match scopes.iter().find(|s| s.covers(name)) {
            Some(scope) => Ok(Verified {
                signer: signer.to_owned(),
                scope: (*scope).clone(),
                others: Vec::new(),
            }),
            None => Err(Refusal::NotTrustedForName {
                image: name.to_owned(),
                signer: signer.to_owned(),
                trusted: scopes
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::SecretKey;

    fn store() -> (tempfile::TempDir, TrustStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = TrustStore::new(dir.path().join("user"), Some(dir.path().join("system")));
        (dir, store)
    }

    fn prefix(p: &str) -> Scope {
        Scope::Prefix(Prefix::parse(p).unwrap())
    }

    #[test]
    fn prefix_covers_whole_components_only() {
        let p = Prefix::parse("example.com/app").unwrap();
        assert!(p.covers("example.com/app"));
        assert!(p.covers("example.com/app/db"));
        assert!(!p.covers("example.com/apple"));
        assert!(!p.covers("example.com"));
    }

    #[test]
    fn prefix_rejects_escapes_and_bad_characters() {
        for bad in [
            "",
            "/etc",
            "a/../b",
            "..",
            "a//b",
            "a/",
            "Example.com",
            "a b",
            "a/./b",
        ] {
            assert!(Prefix::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn trusted_key_is_listed_under_its_prefix() {
        let (_dir, store) = store();
        let key = SecretKey::generate("T <t@example.com>").unwrap();
        let added = store
            .trust(
                &prefix("example.com/app"),
                &key.armored_public().unwrap(),
                Path::new("k"),
            )
            .unwrap();
        assert!(
            added
                .path
                .ends_with(format!("prefix.d/example.com/app/{}", key.fingerprint()))
        );
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].scope, prefix("example.com/app"));
    }

    #[test]
    fn remove_deletes_every_trust_of_a_key() {
        let (_dir, store) = store();
        let key = SecretKey::generate("T <t@example.com>").unwrap();
        let public = key.armored_public().unwrap();
        store.trust(&Scope::Root, &public, Path::new("k")).unwrap();
        store.trust(&prefix("a"), &public, Path::new("k")).unwrap();
        assert_eq!(
            store
                .remove(&key.fingerprint().to_lowercase())
                .unwrap()
                .len(),
            2
        );
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn policy_refuses_a_key_trusted_for_a_sibling_name() {
        let (_dir, store) = store();
        let key = SecretKey::generate("T <t@example.com>").unwrap();
        store
            .trust(
                &prefix("example.com/app"),
                &key.armored_public().unwrap(),
                Path::new("k"),
            )
            .unwrap();
        let sig = key.sign_reader(&b"aci"[..], SystemTime::now()).unwrap();
        let policy = store.policy().unwrap();
        assert!(policy.verify("example.com/app", &b"aci"[..], &sig).is_ok());
        let err = policy
            .verify("example.com/apple", &b"aci"[..], &sig)
            .unwrap_err();
        assert!(matches!(err, Refusal::NotTrustedForName { .. }), "{err}");
    }

    #[test]
    fn system_store_keys_count_for_the_policy() {
        let (dir, store) = store();
        let key = SecretKey::generate("T <t@example.com>").unwrap();
        let system = TrustStore::new(dir.path().join("system"), None);
        system
            .trust(&Scope::Root, &key.armored_public().unwrap(), Path::new("k"))
            .unwrap();
        let sig = key.sign_reader(&b"aci"[..], SystemTime::now()).unwrap();
        let verified = store
            .policy()
            .unwrap()
            .verify("any/name", &b"aci"[..], &sig)
            .unwrap();
        assert_eq!(verified.scope, Scope::Root);
        assert!(store.remove(&key.fingerprint()).is_err());
    }
}

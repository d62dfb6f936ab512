//! Which key acbuild signs with, and making new ones.
//!
//! Resolution order: `--sign-key FILE`, else `$ACBUILD_SIGN_KEY`, else the user's default key
//! `signing-key.asc` in `$XDG_CONFIG_HOME/acbuild/` (or `~/.config/acbuild/`), created on first use.
//! An encrypted key (e.g. `gpg --export-secret-keys --armor` of a protected key) is unlocked with
//! `$ACBUILD_KEY_PASSPHRASE`, else by a prompt (not echoed) when stdin is a terminal. The signature time is
//! `$SOURCE_DATE_EPOCH` when set, so signatures are reproducible. This module reads the
//! environment and may prompt; it never prints: the notices it wants shown are returned.

use std::ffi::OsString;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use appc::sign::{SecretKey, SignError};
use appc::source_date_epoch::{self, SourceDateEpochError};

use crate::error_kind::ErrorKind;

/// The file name of the default secret key in the config directory.
pub const DEFAULT_SECRET: &str = "signing-key.asc";
/// The file name of the default key's public half.
pub const DEFAULT_PUBLIC: &str = "signing-key.pub.asc";
/// The user ID given to keys made without `--uid`.
pub const DEFAULT_UID: &str = "acbuild signing key";

/// Failures while finding, unlocking or making a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Loading or using the key failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// A key is encrypted and there is neither `ACBUILD_KEY_PASSPHRASE` nor a terminal.
    #[error(
        "{path}: the key is protected by a passphrase; set ACBUILD_KEY_PASSPHRASE or run on a terminal"
    )]
    NoPassphrase {
        /// The key file.
        path: PathBuf,
    },
    /// Neither `XDG_CONFIG_HOME` nor `HOME` is set, so there is no default key location.
    #[error("no default key location: set XDG_CONFIG_HOME or HOME, or pass --sign-key FILE")]
    NoConfigDir,
    /// `SOURCE_DATE_EPOCH` is set and not a decimal number of seconds.
    #[error(transparent)]
    BadSourceDateEpoch(#[from] SourceDateEpochError),
    /// keygen would overwrite an existing key.
    #[error("{0}: already exists; refusing to overwrite a key")]
    Exists(PathBuf),
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl KeyError {
    /// Whether the user can fix it (a flag, the environment, a passphrase) or the work failed.
    pub fn kind(&self) -> ErrorKind {
        match self {
            KeyError::NoPassphrase { .. }
            | KeyError::NoConfigDir
            | KeyError::BadSourceDateEpoch(_) => ErrorKind::Input,
            KeyError::Sign(_) | KeyError::Exists(_) | KeyError::Io { .. } => ErrorKind::Failure,
        }
    }
}

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct KeyChoice {
    /// `--sign-key FILE`.
    pub flag: Option<PathBuf>,
    /// `--no-sign`.
    pub no_sign: bool,
}

/// Where the key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `--sign-key`.
    Flag(PathBuf),
    /// `ACBUILD_SIGN_KEY`.
    Env(PathBuf),
    /// The existing default key.
    Default(PathBuf),
    /// The default key, created just now (the user should be told).
    Created(Generated),
}

/// A key written by [`generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The secret key file (mode 0600).
    pub secret: PathBuf,
    /// The public key file, to give to `acrun trust`.
    pub public: PathBuf,
    /// The key's fingerprint.
    pub fingerprint: String,
    /// The user ID it was made for.
    pub user_id: String,
}

impl Generated {
    /// What to tell the user about a new key: where it is, its fingerprint, how to trust it.
    /// The user ID is shown escaped (control characters visible), as acrun shows it.
    pub fn notice(&self) -> String {
        format!(
            "created signing key {fp} {uid}\n  secret key: {secret}\n  public key: {public}\n  \
             trust it with: acrun trust --root {public}\n  \
             (or limit it to your images: acrun trust --prefix YOUR.DOMAIN/NAME {public})",
            fp = self.fingerprint,
            uid = appc::untrusted_text::Escaped(&self.user_id),
            secret = self.secret.display(),
            public = self.public.display(),
        )
    }
}

/// A resolved, unlocked signing key.
#[derive(Debug)]
pub struct SigningKey {
    /// The key.
    pub key: SecretKey,
    /// Where it came from.
    pub source: KeySource,
}

impl SigningKey {
    /// Resolve the key to sign with from the process environment; `None` with `--no-sign`.
    pub fn resolve(choice: &KeyChoice) -> Result<Option<SigningKey>, KeyError> {
        SigningKey::resolve_with(choice, &|name| std::env::var_os(name))
    }

    /// [`SigningKey::resolve`] reading variables through `env` (tests pass their own).
    pub fn resolve_with(
        choice: &KeyChoice,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Option<SigningKey>, KeyError> {
        if choice.no_sign {
            return Ok(None);
        }
        let passphrase = env("ACBUILD_KEY_PASSPHRASE").map(|p| p.to_string_lossy().into_owned());
        let (path, source) = if let Some(flag) = &choice.flag {
            (flag.clone(), KeySource::Flag(flag.clone()))
        } else if let Some(from_env) = env("ACBUILD_SIGN_KEY").filter(|v| !v.is_empty()) {
            let p = PathBuf::from(from_env);
            (p.clone(), KeySource::Env(p))
        } else {
            let dir = config_dir(env)?;
            let secret = dir.join(DEFAULT_SECRET);
            if secret.exists() {
                (secret.clone(), KeySource::Default(secret))
            } else {
                let made = generate(DEFAULT_UID, &dir)?;
                (made.secret.clone(), KeySource::Created(made))
            }
        };
        let key = load(&path, passphrase.as_deref())?;
        Ok(Some(SigningKey { key, source }))
    }

    /// Sign `aci`, writing `aci.asc` atomically, dated `$SOURCE_DATE_EPOCH` (or now).
    pub fn sign(&self, aci: &Path) -> Result<PathBuf, KeyError> {
        let when = signature_time(std::env::var_os(source_date_epoch::VARIABLE))?;
        Ok(appc::sign::sign_file(aci, &self.key, when)?)
    }
}

/// The signature time for a `SOURCE_DATE_EPOCH` value: now when unset or empty (the rule of
/// [`appc::source_date_epoch`]).
pub fn signature_time(source_date_epoch: Option<OsString>) -> Result<SystemTime, KeyError> {
    Ok(
        match source_date_epoch::parse(source_date_epoch.as_deref())? {
            Some(secs) => SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            None => SystemTime::now(),
        },
    )
}

/// The public half of the key `acbuild` signs with (`$ACBUILD_SIGN_KEY`, else the default key),
/// without unlocking it and without making one: `None` when there is no key yet.
pub fn current_public(
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Option<(PathBuf, appc::sign::PublicKey)>, KeyError> {
    let path = match env("ACBUILD_SIGN_KEY").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => config_dir(env)?.join(DEFAULT_SECRET),
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(KeyError::Io { path, source }),
    };
    match appc::sign::PublicKey::from_bytes(&bytes) {
        Ok(key) => Ok(Some((path, key))),
        Err(reason) => Err(KeyError::Io {
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an OpenPGP key: {reason}"),
            ),
            path,
        }),
    }
}

/// `$XDG_CONFIG_HOME/acbuild`, else `$HOME/.config/acbuild`.
pub fn config_dir(env: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf, KeyError> {
    if let Some(xdg) = env("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        let xdg = PathBuf::from(xdg);
        // The XDG spec says relative values are invalid and must be ignored.
        if xdg.is_absolute() {
            return Ok(xdg.join("acbuild"));
        }
    }
    match env("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("acbuild")),
        None => Err(KeyError::NoConfigDir),
    }
}

/// Make a new Ed25519 key for `uid` in `dir` (created if needed): `signing-key.asc` (0600) and
/// `signing-key.pub.asc`. Refuses to overwrite an existing secret key.
pub fn generate(uid: &str, dir: &Path) -> Result<Generated, KeyError> {
    let secret = dir.join(DEFAULT_SECRET);
    let public = dir.join(DEFAULT_PUBLIC);
    // The secret file is what makes a key exist; a lone public file is a crash leftover.
    if secret.exists() {
        return Err(KeyError::Exists(secret));
    }
    std::fs::create_dir_all(dir).map_err(|source| KeyError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let key = SecretKey::generate(uid)?;
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Io { path, source }
    };
    // Public first, secret last: a crash in between leaves no secret without its public half.
    appc::atomic_file::write_atomically(&public, &key.armored_public()?, 0o644)
        .map_err(io_err(&public))?;
    appc::atomic_file::write_atomically(&secret, &key.armored_secret()?, 0o600)
        .map_err(io_err(&secret))?;
    Ok(Generated {
        secret,
        public,
        fingerprint: key.fingerprint(),
        user_id: uid.to_owned(),
    })
}

/// Load a secret key, asking for the passphrase on the terminal when needed and not given.
fn load(path: &Path, passphrase: Option<&str>) -> Result<SecretKey, KeyError> {
    match SecretKey::from_file(path, passphrase) {
        Err(SignError::PassphraseRequired { .. }) => {
            let typed = prompt_passphrase(path)?;
            Ok(SecretKey::from_file(path, Some(&typed))?)
        }
        other => Ok(other?),
    }
}

/// Ask on the terminal without echoing what is typed (rpassword); only when stdin is a terminal.
fn prompt_passphrase(path: &Path) -> Result<String, KeyError> {
    if !io::stdin().is_terminal() {
        return Err(KeyError::NoPassphrase {
            path: path.to_owned(),
        });
    }
    rpassword::prompt_password(format!("passphrase for {}: ", path.display())).map_err(|source| {
        KeyError::Io {
            path: PathBuf::from("/dev/tty"),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let pairs: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn no_sign_resolves_to_no_key() {
        let choice = KeyChoice {
            flag: None,
            no_sign: true,
        };
        assert!(
            SigningKey::resolve_with(&choice, &|_| None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn default_key_is_created_once_in_the_xdg_config_dir() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_of(&[("XDG_CONFIG_HOME", dir.path())]);
        let first = SigningKey::resolve_with(&KeyChoice::default(), &env)
            .unwrap()
            .unwrap();
        assert!(matches!(first.source, KeySource::Created(_)));
        assert!(dir.path().join("acbuild").join(DEFAULT_SECRET).is_file());
        let second = SigningKey::resolve_with(&KeyChoice::default(), &env)
            .unwrap()
            .unwrap();
        assert!(matches!(second.source, KeySource::Default(_)));
        assert_eq!(first.key.fingerprint(), second.key.fingerprint());
    }

    #[test]
    fn flag_wins_over_environment() {
        let dir = tempfile::tempdir().unwrap();
        let a = generate("A", &dir.path().join("a")).unwrap();
        let b = generate("B", &dir.path().join("b")).unwrap();
        let env = env_of(&[("ACBUILD_SIGN_KEY", &b.secret)]);
        let choice = KeyChoice {
            flag: Some(a.secret.clone()),
            no_sign: false,
        };
        let key = SigningKey::resolve_with(&choice, &env).unwrap().unwrap();
        assert_eq!(key.key.fingerprint(), a.fingerprint);
        let key = SigningKey::resolve_with(&KeyChoice::default(), &env)
            .unwrap()
            .unwrap();
        assert_eq!(key.key.fingerprint(), b.fingerprint);
    }

    #[test]
    fn generate_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        generate("A", dir.path()).unwrap();
        assert!(matches!(
            generate("A", dir.path()),
            Err(KeyError::Exists(_))
        ));
    }

    #[test]
    fn source_date_epoch_must_be_a_number() {
        assert!(signature_time(Some("yesterday".into())).is_err());
        assert_eq!(
            signature_time(Some("10".into())).unwrap(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(10)
        );
    }
}

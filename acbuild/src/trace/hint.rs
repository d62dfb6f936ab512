//! Typed warnings about files a program loads at run time, which DT_NEEDED cannot show.
//! The recipe pipeline turns each into a declaration (NSS modules, gconv modules, CA
//! certificates, dlopen'ed libraries); the CLI prints them.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Library name prefixes of TLS implementations, which read CA certificates at run time.
pub(crate) const TLS_LIBRARIES: &[&str] = &[
    "libssl.so",
    "libgnutls.so",
    "libnss3.so",
    "libmbedtls.so",
    "libwolfssl.so",
];

/// One reason a traced program may need files its closure does not list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hint {
    /// `object` imports glibc functions that load NSS modules (`libnss_*.so.2`, nsswitch.conf).
    Nss {
        object: PathBuf,
        symbols: BTreeSet<String>,
    },
    /// `object` imports iconv, which loads gconv modules.
    Gconv {
        object: PathBuf,
        symbols: BTreeSet<String>,
    },
    /// The program links a TLS library, which needs CA certificates.
    TlsCertificates { library: String },
    /// `lib*.so*` names in `object`'s read-only data that it does not link: likely `dlopen`.
    Dlopen {
        object: PathBuf,
        names: BTreeSet<String>,
    },
    /// A `#!/usr/bin/env NAME` script: NAME was looked up on the standard PATH.
    EnvLookup {
        script: PathBuf,
        name: String,
        found: Option<PathBuf>,
    },
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
        match self {
            Hint::Nss { object, symbols } => {
                write!(
                    f,
                    "{} imports {} (loads NSS modules at run time)",
                    object.display(),
                    join(symbols)
                )
            }
            Hint::Gconv { object, symbols } => {
                write!(
                    f,
                    "{} imports {} (loads gconv modules at run time)",
                    object.display(),
                    join(symbols)
                )
            }
            Hint::TlsCertificates { library } => {
                write!(f, "links the TLS library {library} (needs CA certificates)")
            }
            Hint::Dlopen { object, names } => {
                write!(
                    f,
                    "{} mentions {} without linking it (likely dlopen)",
                    object.display(),
                    join(names)
                )
            }
            Hint::EnvLookup {
                script,
                name,
                found: Some(found),
            } => write!(
                f,
                "{} runs `env {name}`: assumed {} from the standard PATH",
                script.display(),
                found.display()
            ),
            Hint::EnvLookup {
                script,
                name,
                found: None,
            } => {
                write!(
                    f,
                    "{} runs `env {name}`: not found on the standard PATH",
                    script.display()
                )
            }
        }
    }
}

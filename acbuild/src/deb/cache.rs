//! The package cache: `$XDG_CACHE_HOME/acbuild/debs/SHA256.deb`, content-addressed.
//!
//! Packages come from a `--deb-dir` (any `*.deb` in it, identified by its own `control`) or from
//! the machine's configured Debian sources through `apt-get download` run in a private temporary
//! directory (no host name appears in acbuild). A file enters the cache only under the SHA-256 of
//! its bytes, by an atomic rename; a cached file is hashed again before every use and compared
//! with the hash the lockfile pins, so a tampered cache entry is never unpacked.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::DebError;
use super::archive::Deb;
use super::control::Control;

/// A package file in the cache, with its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// The cached `.deb`.
    pub path: PathBuf,
    /// SHA-256 of its bytes (hex).
    pub sha256: String,
    /// Its `control` paragraph.
    pub control: Control,
}

/// Where packages come from and are kept.
#[derive(Debug, Clone)]
pub struct Source {
    /// The cache's `debs/` directory.
    pub cache: PathBuf,
    /// Packages offered by `--deb-dir`, looked at before the Debian sources.
    pub deb_dir: Vec<Cached>,
}

impl Source {
    /// The cache below `cache_root` (`$XDG_CACHE_HOME/acbuild`), and the packages of `deb_dir`.
    pub fn new(cache_root: &Path, deb_dir: Option<&Path>) -> Result<Source, DebError> {
        let cache = cache_root.join("debs");
        fs::create_dir_all(&cache).map_err(DebError::io(&cache))?;
        let mut offered = Vec::new();
        if let Some(dir) = deb_dir {
            let mut files: Vec<PathBuf> = fs::read_dir(dir)
                .map_err(DebError::io(dir))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "deb"))
                .collect();
            files.sort();
            for f in files {
                offered.push(identify(&f)?);
            }
        }
        Ok(Source {
            cache,
            deb_dir: offered,
        })
    }

    /// The cached file with this SHA-256, re-hashed now; `None` when absent or when its bytes
    /// no longer match (the bad file is removed so that it is fetched again).
    pub fn cached(&self, sha256: &str) -> Result<Option<Cached>, DebError> {
        let path = self.cache.join(format!("{sha256}.deb"));
        if !path.exists() {
            return Ok(None);
        }
        // Hash before parsing: a tampered file is never read as a package.
        if sha256_file(&path)? != sha256 {
            fs::remove_file(&path).map_err(DebError::io(&path))?;
            return Ok(None);
        }
        let control = Control::of(&Deb::open(&path)?)?;
        Ok(Some(Cached {
            path,
            sha256: sha256.to_owned(),
            control,
        }))
    }

    /// Fetch packages given as apt arguments (`NAME`, `NAME:ARCH`, `NAME=VERSION`); each comes
    /// back in the cache. `--deb-dir` packages are taken first (by name, and version if given).
    pub fn fetch(&self, specs: &[String]) -> Result<Vec<Cached>, DebError> {
        let mut out = Vec::new();
        let mut from_apt = Vec::new();
        for spec in specs {
            match self.offered(spec) {
                Some(c) => out.push(self.admit(&c.path)?),
                None => from_apt.push(spec.clone()),
            }
        }
        if !from_apt.is_empty() {
            out.extend(self.apt_download(&from_apt)?);
        }
        Ok(out)
    }

    fn offered(&self, spec: &str) -> Option<&Cached> {
        let (name_arch, version) = match spec.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        };
        let (name, arch) = match name_arch.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (name_arch, None),
        };
        self.deb_dir.iter().find(|c| {
            c.control.package == name
                && version.is_none_or(|v| c.control.version == v)
                && arch.is_none_or(|a| c.control.architecture == a)
        })
    }

    fn apt_download(&self, specs: &[String]) -> Result<Vec<Cached>, DebError> {
        let tmp = tempfile::Builder::new()
            .prefix(".download-")
            .tempdir_in(&self.cache)
            .map_err(DebError::io(&self.cache))?;
        let output = Command::new("apt-get")
            .arg("download")
            .arg("-q")
            .args(specs)
            .current_dir(tmp.path())
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| DebError::Fetch {
                package: specs.join(" "),
                reason: format!("cannot run apt-get (install apt): {e}"),
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason = stderr
                .lines()
                .filter(|l| l.starts_with("E:"))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(DebError::Fetch {
                package: specs.join(" "),
                reason: format!("apt-get download failed: {reason}"),
            });
        }
        let mut files: Vec<PathBuf> = fs::read_dir(tmp.path())
            .map_err(DebError::io(tmp.path()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "deb"))
            .collect();
        files.sort();
        files.iter().map(|f| self.admit(f)).collect()
    }

    /// Copy (or move, from the download directory) `file` into the cache under its SHA-256.
    fn admit(&self, file: &Path) -> Result<Cached, DebError> {
        let c = identify(file)?;
        let dest = self.cache.join(format!("{}.deb", c.sha256));
        // A cached file is only kept when its bytes still have the hash it is named by.
        if dest.exists() && sha256_file(&dest)? != c.sha256 {
            fs::remove_file(&dest).map_err(DebError::io(&dest))?;
        }
        if !dest.exists() {
            let mut w =
                appc::atomic_file::AtomicFile::create(&dest, 0o644).map_err(DebError::io(&dest))?;
            let mut r = fs::File::open(file).map_err(DebError::io(file))?;
            std::io::copy(&mut r, &mut w).map_err(DebError::io(&dest))?;
            w.commit().map_err(DebError::io(&dest))?;
        }
        Ok(Cached { path: dest, ..c })
    }
}

/// Hash and read the control paragraph of a `.deb`.
pub fn identify(path: &Path) -> Result<Cached, DebError> {
    let sha256 = sha256_file(path)?;
    let control = Control::of(&Deb::open(path)?)?;
    Ok(Cached {
        path: path.to_path_buf(),
        sha256,
        control,
    })
}

/// SHA-256 (hex) of a file's bytes.
pub fn sha256_file(path: &Path) -> Result<String, DebError> {
    let mut f = fs::File::open(path).map_err(DebError::io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(DebError::io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

//! The `control` file of a package: one deb822 paragraph with its name, version, architecture
//! and dependencies.
//!
//! Defends against: a control file bigger than [`CONTROL_MAX`] (read bounded), a missing or
//! repeated `control` entry, names and versions with characters Debian policy does not allow
//! (they end up in file names, lockfiles and SBOMs).

use std::io::Read;

use super::DebError;
use super::archive::Deb;

/// The largest `control` file read.
pub const CONTROL_MAX: u64 = 1024 * 1024;

/// What a package says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// `Package`.
    pub package: String,
    /// `Version`.
    pub version: String,
    /// `Architecture` (`amd64`, `all`, …).
    pub architecture: String,
    /// `Pre-Depends` then `Depends`: groups of alternatives (any one satisfies the group).
    pub depends: Vec<Vec<String>>,
    /// `Homepage`, if given.
    pub homepage: Option<String>,
}

impl Control {
    /// Read the `control` file of `deb`.
    pub fn of(deb: &Deb) -> Result<Control, DebError> {
        let mut tar = deb.control_tar()?;
        let mut text: Option<String> = None;
        let bad = |r: String| DebError::format(deb.path(), r);
        while let Some(h) = tar
            .next_entry()
            .map_err(|e| bad(format!("control.tar: {e}")))?
        {
            let name = String::from_utf8_lossy(&h.name);
            if name.trim_start_matches("./") != "control" {
                continue;
            }
            if text.is_some() {
                return Err(bad("control.tar holds two `control` files".to_owned()));
            }
            if h.size > CONTROL_MAX {
                return Err(bad(format!("control file of {} bytes", h.size)));
            }
            let mut s = String::new();
            tar.content()
                .read_to_string(&mut s)
                .map_err(|e| bad(format!("control: {e}")))?;
            text = Some(s);
        }
        let text = text.ok_or_else(|| bad("control.tar has no `control` file".to_owned()))?;
        Control::parse(&text).map_err(bad)
    }

    /// Parse a control paragraph.
    pub fn parse(text: &str) -> Result<Control, String> {
        let field = |name: &str| -> Option<String> {
            let mut value: Option<String> = None;
            for line in text.lines() {
                if let Some(v) = value.as_mut() {
                    if line.starts_with([' ', '\t']) {
                        v.push(' ');
                        v.push_str(line.trim());
                        continue;
                    }
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case(name)
                {
                    value = Some(v.trim().to_owned());
                }
            }
            value
        };
        let required = |name: &str| field(name).ok_or_else(|| format!("control has no {name}"));
        let package = required("Package")?;
        let version = required("Version")?;
        let architecture = required("Architecture")?;
        check_name(&package)?;
        check_version(&version)?;
        check_name(&architecture)?;
        let mut depends = Vec::new();
        for f in ["Pre-Depends", "Depends"] {
            if let Some(v) = field(f) {
                depends.extend(parse_depends(&v)?);
            }
        }
        Ok(Control {
            package,
            version,
            architecture,
            depends,
            homepage: field("Homepage"),
        })
    }
}

/// `a (>= 1) | b, c:any` → `[[a, b], [c]]`: the package names, without versions or qualifiers.
pub fn parse_depends(value: &str) -> Result<Vec<Vec<String>>, String> {
    let mut out = Vec::new();
    for group in value.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let mut alternatives = Vec::new();
        for alt in group.split('|') {
            let name = alt.trim().split(['(', '[', '<', ' ']).next().unwrap_or("");
            let name = name.split(':').next().unwrap_or("");
            check_name(name)?;
            alternatives.push(name.to_owned());
        }
        out.push(alternatives);
    }
    Ok(out)
}

/// A package (or architecture) name: lower-case letters, digits, `+ - .`, Debian policy 5.6.1.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a Debian package name"))
    }
}

/// A version: alphanumerics and `. + ~ - :` (Debian policy 5.6.12).
pub fn check_version(version: &str) -> Result<(), String> {
    let ok = !version.is_empty()
        && version.len() <= 128
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~-:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("{version:?} is not a Debian version"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETCD: &str = "Package: etcd-server\nVersion: 3.4.23-4+b4\nArchitecture: amd64\n\
        Pre-Depends: init-system-helpers (>= 1.54~)\nDepends: adduser,\n libc6 (>= 2.34)\n\
        Description: x\n more\n";

    #[test]
    fn fields_and_folded_dependencies_are_read() {
        let c = Control::parse(ETCD).unwrap();
        assert_eq!(c.package, "etcd-server");
        assert_eq!(c.version, "3.4.23-4+b4");
        assert_eq!(
            c.depends,
            [vec!["init-system-helpers"], vec!["adduser"], vec!["libc6"]]
        );
    }

    #[test]
    fn alternatives_and_qualifiers() {
        let d = parse_depends("debconf (>= 0.5) | debconf-2.0, perl:any").unwrap();
        assert_eq!(
            parse_depends("usrmerge | usr-is-merged").unwrap(),
            [vec!["usrmerge", "usr-is-merged"]]
        );
        assert_eq!(d, [vec!["debconf", "debconf-2.0"], vec!["perl"]]);
    }

    #[test]
    fn names_with_path_characters_are_refused() {
        assert!(Control::parse("Package: ../x\nVersion: 1\nArchitecture: amd64\n").is_err());
        assert!(Control::parse("Package: x\nVersion: 1/2\nArchitecture: amd64\n").is_err());
        assert!(Control::parse("Package: x\nVersion: 1:2.0-1~b\nArchitecture: amd64\n").is_ok());
    }
}

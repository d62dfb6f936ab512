//! Labels: `[{name, value}]` lists that tell images apart (`version`, `os`, `arch`, ...).
//!
//! Rules: names are ACIdentifiers, unique, and never `name`; when `os` is present the os/arch
//! pair must be in the table below (the Go reference's table, a superset of the prose's list).
//! `arch` without `os` is allowed (checklist §2.3).

use crate::manifest::decode::{self, Decoder};
use crate::name::AcIdentifier;
use crate::validation::{Error, index, join};
use serde::Serialize;
use serde_json::Value;

/// Allowed `arch` values for each `os` (values are case-sensitive).
pub const OS_ARCH: &[(&str, &[&str])] = &[
    (
        "linux",
        &[
            "amd64",
            "i386",
            "aarch64",
            "aarch64_be",
            "armv6l",
            "armv7l",
            "armv7b",
            "ppc64",
            "ppc64le",
            "s390x",
        ],
    ),
    ("freebsd", &["amd64", "i386", "arm"]),
    ("darwin", &["x86_64", "i386"]),
];

/// One label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// The label's name.
    pub name: AcIdentifier,
    /// Its value (a missing value decodes as "", as in Go).
    pub value: String,
}

/// An ordered list of labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Labels(pub Vec<Label>);

impl Labels {
    /// The value of the label `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }

    /// Appends a label (does not check: [`Labels::problems`] and the manifests' `validate` do).
    pub fn push(&mut self, name: AcIdentifier, value: impl Into<String>) {
        self.0.push(Label {
            name,
            value: value.into(),
        });
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates the labels in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// Every broken rule, with paths under `path` (e.g. `labels`).
    pub fn problems(&self, path: &str) -> Vec<Error> {
        let mut errs = Vec::new();
        for (i, l) in self.0.iter().enumerate() {
            let p = join(&index(path, i), "name");
            if l.name == "name" {
                errs.push(Error::new(&p, "`name` is reserved and cannot be a label"));
            }
            if self.0[..i].iter().any(|o| o.name == l.name) {
                errs.push(Error::new(
                    &p,
                    format!("duplicate label {:?}", l.name.as_str()),
                ));
            }
        }
        let os = self.0.iter().rposition(|l| l.name == "os");
        if let Some(os_i) = os {
            let os = self.0[os_i].value.as_str();
            match OS_ARCH.iter().find(|(o, _)| *o == os) {
                None => errs.push(Error::new(
                    join(&index(path, os_i), "value"),
                    format!("unknown os {os:?} (known: linux, freebsd, darwin)"),
                )),
                Some((_, arches)) => {
                    if let Some(arch_i) = self.0.iter().rposition(|l| l.name == "arch") {
                        let arch = self.0[arch_i].value.as_str();
                        if !arches.contains(&arch) {
                            errs.push(Error::new(
                                join(&index(path, arch_i), "value"),
                                format!(
                                    "arch {arch:?} is not valid for os {os:?} (valid: {})",
                                    arches.join(", ")
                                ),
                            ));
                        }
                    }
                }
            }
        }
        errs
    }

    pub(crate) fn decode(d: &mut Decoder, v: &Value, path: &str) -> Option<Labels> {
        let m = d.mark();
        let list = decode::array(d, v, path, |d, v, p| {
            let o = d.object(v, p)?;
            let name = o.required(d, "name", decode::identifier);
            let value = o.field(d, "value", decode::string).unwrap_or_default();
            Some(Label { name: name?, value })
        })?;
        d.clean_since(m).then_some(Labels(list))
    }
}

impl FromIterator<Label> for Labels {
    fn from_iter<I: IntoIterator<Item = Label>>(iter: I) -> Self {
        Labels(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(n, v)| Label {
                name: AcIdentifier::new(n).unwrap(),
                value: (*v).to_owned(),
            })
            .collect()
    }

    #[test]
    fn get_finds_by_name() {
        assert_eq!(
            labels(&[("version", "1.0.0")]).get("version"),
            Some("1.0.0")
        );
        assert_eq!(labels(&[]).get("version"), None);
    }

    #[test]
    fn os_arch_table() {
        let ok: &[&[(&str, &str)]] = &[
            &[("os", "linux"), ("arch", "amd64")],
            &[("os", "linux"), ("arch", "aarch64")],
            &[("os", "freebsd"), ("arch", "arm")],
            &[("os", "darwin"), ("arch", "x86_64")],
            &[("os", "linux")],
            &[("arch", "anything")],
        ];
        for l in ok {
            assert!(labels(l).problems("labels").is_empty(), "{l:?}");
        }
        let bad: &[(&[(&str, &str)], &str)] = &[
            (&[("os", "windows")], "labels[0].value"),
            (&[("os", "Linux")], "labels[0].value"),
            (&[("os", "linux"), ("arch", "x86_64")], "labels[1].value"),
            (&[("arch", "amd64"), ("os", "darwin")], "labels[0].value"),
        ];
        for (l, path) in bad {
            let p = labels(l).problems("labels");
            assert_eq!(p.len(), 1, "{l:?}");
            assert_eq!(p[0].path, *path);
        }
    }

    #[test]
    fn reserved_and_duplicate_names_rejected() {
        assert_eq!(
            labels(&[("name", "x")]).problems("labels")[0].path,
            "labels[0].name"
        );
        let p = labels(&[("version", "1"), ("version", "2")]).problems("labels");
        assert_eq!(p[0].path, "labels[1].name");
        assert!(
            labels(&[("version", "1"), ("env", "canary")])
                .problems("labels")
                .is_empty()
        );
    }
}

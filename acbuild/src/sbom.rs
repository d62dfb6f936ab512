//! The SBOM written beside each image: `NAME.spdx.json`, an SPDX 2.3 JSON document naming the
//! image, every Debian package the build took inputs from (version, architecture, SHA-256, the
//! license its machine-readable copyright file declares, a purl) and every file of the rootfs
//! with its SHA-256 and origin (the package it was taken from, the host, or acbuild itself).
//!
//! It is reproducible: no clock (the creation time is the archive's time stamp), no random
//! namespace (it is derived from the image ID), everything sorted. Text from packages (license
//! names) is only ever copied after checking it against a small, fixed table of SPDX identifiers.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::deb::cache::sha256_file;
use crate::lockfile::Lockfile;
use crate::plan::{Content, Origin, Plan};

/// Debian copyright short names that are SPDX identifiers as written, or their SPDX form.
const LICENSES: &[(&str, &str)] = &[
    ("Apache-2.0", "Apache-2.0"),
    ("MIT", "MIT"),
    ("Expat", "MIT"),
    ("ISC", "ISC"),
    ("Zlib", "Zlib"),
    ("BSD-2-clause", "BSD-2-Clause"),
    ("BSD-3-clause", "BSD-3-Clause"),
    ("BSD-4-clause", "BSD-4-Clause"),
    ("GPL-2", "GPL-2.0-only"),
    ("GPL-2+", "GPL-2.0-or-later"),
    ("GPL-3", "GPL-3.0-only"),
    ("GPL-3+", "GPL-3.0-or-later"),
    ("LGPL-2.1", "LGPL-2.1-only"),
    ("LGPL-2.1+", "LGPL-2.1-or-later"),
    ("LGPL-3", "LGPL-3.0-only"),
    ("LGPL-3+", "LGPL-3.0-or-later"),
    ("MPL-2.0", "MPL-2.0"),
    ("curl", "curl"),
    ("OpenSSL", "OpenSSL"),
    ("public-domain", "LicenseRef-public-domain"),
];

/// What the SBOM describes.
#[derive(Debug)]
pub struct Subject<'a> {
    /// The image name.
    pub name: &'a str,
    /// Its version label, if any.
    pub version: Option<&'a str>,
    /// `sha512-…`.
    pub image_id: &'a str,
    /// The archive time stamp (seconds), used as the creation time.
    pub created: u64,
}

/// The SBOM of an image built from `plan`; `lock` (package mode) names the packages and the
/// origin and hash of every file taken from them; `sysroot` is where their copyright files are.
pub fn document(
    subject: &Subject<'_>,
    plan: &Plan,
    lock: Option<&Lockfile>,
    sysroot: Option<&Path>,
) -> std::io::Result<Value> {
    let mut packages = vec![image_package(subject)];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    let mut taken: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    if let Some(lock) = lock {
        for p in &lock.packages {
            packages.push(deb_package(p, sysroot));
            relationships.push(json!({
                "spdxElementId": "SPDXRef-Image",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": package_id(&p.name),
            }));
        }
        for f in &lock.files {
            taken.insert(&f.path, (&f.package, &f.sha256));
        }
    }
    let mut files = Vec::new();
    for (n, entry) in plan.entries.values().enumerate() {
        let (sha256, origin) = match (&entry.content, taken.get(entry.path.as_str())) {
            (Content::HostFile { .. }, Some((package, sha))) => {
                ((*sha).to_owned(), format!("Debian package {package}"))
            }
            (Content::HostFile { source, .. }, None) => (
                sha256_file(source).map_err(std::io::Error::other)?,
                format!("host file {}", source.display()),
            ),
            (Content::Bytes(b), _) => (hex::encode(Sha256::digest(b)), generated(entry.origin)),
            _ => continue,
        };
        let id = format!("SPDXRef-File-{n}");
        files.push(json!({
            "SPDXID": id,
            "fileName": format!(".{}", entry.path),
            "checksums": [{"algorithm": "SHA256", "checksumValue": sha256}],
            "licenseConcluded": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "comment": format!("origin: {origin}"),
        }));
        let container = match taken.get(entry.path.as_str()) {
            Some((package, _)) => package_id(package),
            None => "SPDXRef-Image".to_owned(),
        };
        relationships.push(json!({
            "spdxElementId": container,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    Ok(json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": subject.name,
        "documentNamespace": format!("urn:appc:image:{}", subject.image_id),
        "creationInfo": {
            "created": appc::utc::rfc3339(appc::utc::secs(subject.created)),
            "creators": [format!("Tool: acbuild-{}", env!("CARGO_PKG_VERSION"))],
        },
        "documentDescribes": ["SPDXRef-Image"],
        "packages": packages,
        "files": files,
        "relationships": relationships,
    }))
}

/// The bytes of the document: pretty JSON with a final newline.
pub fn to_bytes(document: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(document).unwrap_or_default();
    out.push(b'\n');
    out
}

/// `out/etcd-3.4.23-linux-amd64.aci` → `out/etcd-3.4.23-linux-amd64.spdx.json`.
pub fn path_for(image: &Path) -> std::path::PathBuf {
    image.with_extension("spdx.json")
}

/// The SPDX package of one Debian package of the lockfile.
fn deb_package(p: &crate::lockfile::LockedPackage, sysroot: Option<&Path>) -> Value {
    let license = sysroot
        .and_then(|r| declared_license(r, &p.name))
        .unwrap_or_else(|| "NOASSERTION".to_owned());
    json!({
        "SPDXID": package_id(&p.name),
        "name": p.name,
        "versionInfo": p.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "checksums": [{"algorithm": "SHA256", "checksumValue": p.sha256}],
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": license,
        "copyrightText": "NOASSERTION",
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl(&p.name, &p.version, &p.architecture),
        }],
    })
}

fn image_package(subject: &Subject<'_>) -> Value {
    let digest = subject.image_id.trim_start_matches("sha512-");
    let mut p = json!({
        "SPDXID": "SPDXRef-Image",
        "name": subject.name,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "checksums": [{"algorithm": "SHA512", "checksumValue": digest}],
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
        "comment": "the App Container Image; its checksum is the image ID (SHA-512 of the uncompressed tar)",
    });
    if let Some(v) = subject.version {
        p["versionInfo"] = Value::String(v.to_owned());
    }
    p
}

fn generated(origin: Origin) -> String {
    match origin {
        Origin::Runtime(set, _) => format!("written by acbuild (runtime set {})", set.name()),
        Origin::Accounts(_) => "written by acbuild (user and group nodes)".to_owned(),
        _ => "written by acbuild from the recipe".to_owned(),
    }
}

/// An SPDX element ID for a package: letters, digits, `.` and `-` only.
fn package_id(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-Package-deb-{clean}")
}

/// `pkg:deb/debian/NAME@VERSION?arch=ARCH`, with the version percent-encoded.
fn purl(name: &str, version: &str, arch: &str) -> String {
    let mut v = String::new();
    for b in version.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            v.push(b as char);
        } else {
            v.push_str(&format!("%{b:02X}"));
        }
    }
    format!("pkg:deb/debian/{name}@{v}?arch={arch}")
}

/// The license of the `Files: *` paragraph of a machine-readable `copyright` file, when it is one
/// the fixed table knows (with ` or ` / ` and ` between known names).
fn declared_license(sysroot: &Path, package: &str) -> Option<String> {
    let path = sysroot.join(format!("usr/share/doc/{package}/copyright"));
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 4 * 1024 * 1024 {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    if !text
        .starts_with("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0")
    {
        return None;
    }
    let paragraph = text
        .split("\n\n")
        .find(|p| p.lines().any(|l| l.trim() == "Files: *"))?;
    let license = paragraph
        .lines()
        .find_map(|l| l.strip_prefix("License:"))?
        .trim();
    let mut out = Vec::new();
    for word in license.split_whitespace() {
        match word {
            "or" => out.push("OR".to_owned()),
            "and" => out.push("AND".to_owned()),
            w => out.push(LICENSES.iter().find(|(d, _)| *d == w)?.1.to_owned()),
        }
    }
    (!out.is_empty()).then(|| out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_encode_the_version() {
        assert_eq!(
            purl("libaudit1", "1:3.0.9-1+b1", "amd64"),
            "pkg:deb/debian/libaudit1@1%3A3.0.9-1%2Bb1?arch=amd64"
        );
    }

    #[test]
    fn only_known_licenses_of_files_star_are_declared() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("usr/share/doc/p");
        std::fs::create_dir_all(&doc).unwrap();
        let head = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n";
        std::fs::write(
            doc.join("copyright"),
            format!("{head}Files: *\nLicense: GPL-2+ or MIT\n"),
        )
        .unwrap();
        assert_eq!(
            declared_license(dir.path(), "p").as_deref(),
            Some("GPL-2.0-or-later OR MIT")
        );
        std::fs::write(
            doc.join("copyright"),
            format!("{head}Files: *\nLicense: Weird-1\n"),
        )
        .unwrap();
        assert_eq!(declared_license(dir.path(), "p"), None);
        std::fs::write(doc.join("copyright"), "Files: *\nLicense: MIT\n").unwrap();
        assert_eq!(declared_license(dir.path(), "p"), None);
    }
}

//! `acrun fetch`, `acrun image …` and `acrun gc`: the text and JSON the user sees for the
//! store's operations. The work is in [`crate::store`] and [`crate::fetch`].

use std::fmt::Write as _;
use std::path::Path;

use appc::trust::TrustStore;

use crate::fetch::{self, FetchError, FetchOptions};
use crate::pod::pins::InUse;
use crate::store::gc::Keep;
use crate::store::{Judge, Record, Store, StoreError};

/// What `--insecure-options` turned off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Insecure {
    /// Plain http allowed.
    pub http: bool,
    /// No signature verification.
    pub image: bool,
}

impl Insecure {
    /// Parse a comma-separated list of `http` and `image`.
    pub fn parse(text: &str) -> Result<Insecure, String> {
        let mut out = Insecure::default();
        for part in text.split(',').filter(|p| !p.is_empty()) {
            match part {
                "http" => out.http = true,
                "image" => out.image = true,
                other => {
                    return Err(format!(
                        "unknown insecure option {other:?} (expected http or image)"
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// Failures of the image commands.
#[derive(Debug, thiserror::Error)]
pub enum ImageCmdError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Admission(#[from] crate::store::admission::AdmissionError),
    /// A live pod runs on the image.
    #[error("image {id} is in use by pod {pod}: stop it first (`acrun stop {pod}`)")]
    InUse { id: String, pod: String },
    /// A pod is resolving its images right now.
    #[error("a pod is starting and has not yet recorded its images; try again")]
    PodStarting,
}

impl ImageCmdError {
    /// Whether the user's input is at fault.
    pub fn is_usage(&self) -> bool {
        match self {
            ImageCmdError::Store(e) => e.is_usage(),
            ImageCmdError::Fetch(e) => e.is_usage(),
            ImageCmdError::Admission(_) | ImageCmdError::InUse { .. } => false,
            ImageCmdError::PodStarting => false,
        }
    }
}

/// The policy to judge with, or `None` (with a warning) when verification is off.
pub fn judge(trust: &TrustStore, insecure: Insecure) -> Result<Option<Judge>, ImageCmdError> {
    if insecure.image {
        eprintln!(
            "acrun: WARNING: --insecure-options=image: signatures are NOT verified; the image is recorded as insecure and will not satisfy verified lookups"
        );
        return Ok(None);
    }
    Ok(Some(Judge::load(trust)?))
}

/// `acrun fetch`.
pub fn fetch(
    store: &Store,
    trust: &TrustStore,
    images: &[String],
    opts: &FetchOptions,
    insecure: Insecure,
    json: bool,
) -> Result<String, ImageCmdError> {
    let judge = judge(trust, insecure)?;
    let mut opts = opts.clone();
    opts.insecure_http = insecure.http;
    let records = fetch::fetch(store, judge.as_ref(), images, &opts)?;
    if json {
        return Ok(to_json(&records));
    }
    Ok(records.iter().map(|r| format!("{}\n", r.id)).collect())
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}

/// `acrun image list`.
pub fn list(store: &Store, json: bool) -> Result<String, ImageCmdError> {
    let records = store.records()?;
    if json {
        return Ok(to_json(&records));
    }
    let mut out = String::from("ID\tNAME\tLABELS\tSIZE\tIMPORTED\tSIGNER\n");
    for r in &records {
        let labels: Vec<String> = r
            .labels
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect();
        let signers: Vec<String> = r.admissions.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            r.id.short(),
            r.name,
            labels.join(","),
            r.size,
            utc(r.imported),
            signers.join(",")
        );
    }
    Ok(out)
}

/// Find `reference` for the inspection commands (any stored image, admitted or not).
fn find(store: &Store, reference: &str) -> Result<Record, ImageCmdError> {
    Ok(store.find(reference, None)?)
}

/// `acrun image rm`: refused for an image a live pod runs on.
pub fn remove(
    store: &Store,
    references: &[String],
    in_use: &InUse,
) -> Result<String, ImageCmdError> {
    let mut out = String::new();
    for reference in references {
        let r = find(store, reference)?;
        if let Some(pod) = in_use.pod_using(&r.id.to_string()) {
            return Err(ImageCmdError::InUse {
                id: r.id.to_string(),
                pod: pod.to_owned(),
            });
        }
        if in_use.unknown {
            return Err(ImageCmdError::PodStarting);
        }
        store.remove(&r.id)?;
        let _ = writeln!(out, "removed {} ({})", r.id, r.name);
    }
    Ok(out)
}

/// `acrun image cat-manifest`.
pub fn cat_manifest(store: &Store, reference: &str, files: bool) -> Result<String, ImageCmdError> {
    let r = find(store, reference)?;
    let path = store.layout().tree(&r.id).join("manifest");
    let bytes = std::fs::read(&path).map_err(StoreError::io(&path))?;
    let mut out = String::from_utf8_lossy(&bytes).into_owned();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if files {
        let _ = writeln!(out, "setuid/setgid files: {}", r.setid_files.len());
        for f in &r.setid_files {
            let _ = writeln!(out, "  {f}");
        }
    }
    Ok(out)
}

/// `acrun image export`.
pub fn export(store: &Store, reference: &str, out: &Path) -> Result<String, ImageCmdError> {
    let r = find(store, reference)?;
    store.export(&r.id, out)?;
    Ok(format!("{}\n", out.display()))
}

/// `acrun image render`.
pub fn render(
    store: &Store,
    trust: &TrustStore,
    reference: &str,
    dest: &Path,
    insecure: Insecure,
) -> Result<String, ImageCmdError> {
    let judge = judge(trust, insecure)?;
    let r = store.find(reference, judge.as_ref())?;
    let rendered = store.render_to(&r.id, judge.as_ref(), dest)?;
    Ok(format!(
        "{}: {} rendered from {} image(s)\n",
        rendered.rootfs.display(),
        r.name,
        rendered.images.len()
    ))
}

/// `acrun image verify`.
pub fn verify(store: &Store, reference: &str) -> Result<String, ImageCmdError> {
    let r = find(store, reference)?;
    let report = store.verify(&r.id)?;
    Ok(format!(
        "{} ({}): tree matches the archive ({} entries)\n",
        report.id, r.name, report.entries
    ))
}

/// `acrun gc`: keeps what live pods run on.
pub fn gc(store: &Store, in_use: &InUse) -> Result<String, ImageCmdError> {
    let g = store.gc(&Keep {
        ids: in_use.ids(),
        all: in_use.unknown,
    })?;
    Ok(format!(
        "removed {} temporary, {} tree(s), {} blob(s), {} rendered tree(s)\n",
        g.temporary, g.trees, g.blobs, g.rendered
    ))
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds.
pub fn utc(secs: u64) -> String {
    appc::utc::rfc3339(appc::utc::secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_764_374_400), "2025-11-29T00:00:00Z");
    }

    #[test]
    fn parses_insecure_options() {
        assert_eq!(
            Insecure::parse("http,image").unwrap(),
            Insecure {
                http: true,
                image: true
            }
        );
        assert!(Insecure::parse("tls").is_err());
    }
}

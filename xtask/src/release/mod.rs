//! `cargo xtask release`: everything a release publishes, built, tested and checked in one run.
//!
//! 1. `acbuild` and `acrun` built `--release --locked` as shipped (static, [`crate::shipped`]),
//!    packed into reproducible
//!    `dist/NAME-VERSION-ARCH-linux.tar.gz` ([`tarball`]).
//! 2. Every `recipes/*.kdl` built into `dist/images/` and signed, then tested (`acbuild build
//!    --test`: each `test` block under the release acrun) unless `--skip-tests`.
//! 3. Every recipe built a second time, unsigned, in a temporary directory as the current
//!    directory, under umask 077 instead of 022, `TZ=Pacific/Chatham` instead of UTC,
//!    `LC_ALL=C` instead of `C.UTF-8` and `--jobs 1` instead of every core; each image must be
//!    byte-identical to the first, else the release fails naming the first differing entry
//!    ([`compare`]).
//! 4. `dist/SHA512SUMS` ([`sums`]) and its detached signature `SHA512SUMS.asc` (`acbuild sign`).
//! 5. `dist/site/HOST[/PATH]/`: a discovery site per base URL (`acbuild publish`).
//!
//! Defends against releasing what was not tested, an image that depends on the build machine's
//! state, and signing with a key made on the fly: the key must be named (`--sign-key` or
//! `ACBUILD_SIGN_KEY`). Nothing is signed or published when a test or the comparison fails.

pub mod compare;
pub mod sums;
pub mod tarball;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Options of `cargo xtask release`.
#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    /// Secret key that signs the images and SHA512SUMS (default: $ACBUILD_SIGN_KEY; an
    /// encrypted key is unlocked with $ACBUILD_KEY_PASSPHRASE or a prompt).
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// URL a site is served from (repeatable); each image goes to the first whose host and path
    /// hold its name. Default: https://HOST for each image name's host.
    #[arg(long, value_name = "URL")]
    pub base_url: Vec<String>,
    /// Do not run the recipes' tests (the images are still built twice and compared).
    #[arg(long)]
    pub skip_tests: bool,
    /// Print the summary as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Test hook: a shell command run in the workspace root after the first build and before
    /// the second. It exists so that a test can rewrite a recipe input between the builds and
    /// see the release fail; a real release never needs it.
    #[arg(long, value_name = "SHELL COMMAND")]
    pub between_builds: Option<String>,
}

/// One released image, as the summary shows it.
#[derive(Debug, Clone, serde::Serialize)]
struct Image {
    name: String,
    file: String,
    size: u64,
    image_id: String,
    tests_passed: Option<usize>,
    tests_failed: Option<usize>,
    difference: Option<String>,
    site: Option<String>,
}

/// How one of the two builds is run: the settings that must not change the output.
struct BuildEnv<'a> {
    cwd: &'a Path,
    out: &'a Path,
    umask: &'a str,
    tz: &'a str,
    locale: &'a str,
    jobs: &'a str,
    sign_key: Option<&'a Path>,
    test: bool,
}

/// Run the release in `root`; the summary is printed, and an error returned if anything failed.
pub fn run(root: &Path, args: &ReleaseArgs) -> Result<()> {
    let key = signing_key(args)?;
    let bin = crate::shipped::build(root, &["acbuild", "acrun"])?;
    let dist = root.join("dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist).with_context(|| format!("removing {}", dist.display()))?;
    }
    let images_dir = dist.join("images");
    std::fs::create_dir_all(&images_dir)?;
    let tarballs = write_tarballs(root, &bin, &dist)?;
    let recipes = recipes(root)?;
    let first = build(
        &bin,
        &recipes,
        &BuildEnv {
            cwd: root,
            out: &images_dir,
            umask: "022",
            tz: "UTC",
            locale: "C.UTF-8",
            jobs: "0",
            sign_key: Some(&key),
            test: !args.skip_tests,
        },
    )?;
    if let Some(hook) = &args.between_builds {
        eprintln!("xtask: --between-builds: {hook}");
        crate::status(
            Command::new("sh")
                .args(["-c", hook])
                .current_dir(root)
                .stdout(std::io::stderr()),
        )?;
    }
    let second_dir = tempfile::Builder::new()
        .prefix("xtask-release-")
        .tempdir()?;
    let second_out = second_dir.path().join("images");
    build(
        &bin,
        &recipes,
        &BuildEnv {
            cwd: second_dir.path(),
            out: &second_out,
            umask: "077",
            tz: "Pacific/Chatham",
            locale: "C",
            jobs: "1",
            sign_key: None,
            test: false,
        },
    )?;
    let mut images = Vec::new();
    for built in &first {
        images.push(describe(&bin, built, &second_out)?);
    }
    let mut failures = failures(&images, recipes.len());
    if failures.is_empty() {
        let sums = dist.join("SHA512SUMS");
        let mut files = tarballs.clone();
        files.extend(list_images(&images_dir)?);
        crate::atomic_write(&sums, sums::text(&dist, &files)?.as_bytes())?;
        let mut sign = Command::new(bin.join("acbuild"));
        sign.arg("sign")
            .arg(&sums)
            .arg("--sign-key")
            .arg(&key)
            .stdout(Stdio::null());
        crate::status(&mut sign)?;
        publish(&bin, &key, &dist, &args.base_url, &mut images)?;
    } else {
        failures.push("nothing was signed or published".to_owned());
    }
    report(args.json, &tarballs, &dist, &images, &failures);
    if !failures.is_empty() {
        bail!("release failed:\n  {}", failures.join("\n  "));
    }
    Ok(())
}

/// The key named by `--sign-key` or `ACBUILD_SIGN_KEY`, made absolute.
fn signing_key(args: &ReleaseArgs) -> Result<PathBuf> {
    let key = args
        .sign_key
        .clone()
        .or_else(|| {
            std::env::var_os("ACBUILD_SIGN_KEY")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .context("a release is signed with a key you name: --sign-key FILE or ACBUILD_SIGN_KEY")?;
    if !key.is_file() {
        bail!("signing key {}: no such file", key.display());
    }
    Ok(std::path::absolute(&key)?)
}

/// `dist/NAME-VERSION-ARCH-linux.tar.gz` for acbuild and acrun.
fn write_tarballs(root: &Path, bin: &Path, dist: &Path) -> Result<Vec<PathBuf>> {
    let version = env!("CARGO_PKG_VERSION");
    let arch = std::env::consts::ARCH;
    let mtime = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v.parse().context("SOURCE_DATE_EPOCH must be a number")?,
        _ => 0,
    };
    let readme = root.join("README.md");
    let mut out = Vec::new();
    for tool in ["acbuild", "acrun"] {
        let top = format!("{tool}-{version}-{arch}-linux");
        let path = dist.join(format!("{top}.tar.gz"));
        let program = bin.join(tool);
        let members = [
            tarball::Member {
                name: tool,
                source: &program,
                mode: 0o755,
            },
            tarball::Member {
                name: "README.md",
                source: &readme,
                mode: 0o644,
            },
        ];
        tarball::write(&path, &top, &members, mtime)?;
        out.push(path);
    }
    Ok(out)
}

/// `recipes/*.kdl`, sorted, absolute.
fn recipes(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join("recipes");
    let mut recipes: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    recipes.sort();
    if recipes.is_empty() {
        bail!("no recipes in {}", dir.display());
    }
    Ok(recipes)
}

/// One `acbuild build --json --no-cache` of every recipe; its JSON summaries. A run whose only
/// failures are failed tests still returns the summaries (the tests are in them).
fn build(bin: &Path, recipes: &[PathBuf], env: &BuildEnv<'_>) -> Result<Vec<Value>> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask {} && exec \"$0\" \"$@\"", env.umask))
        .arg(bin.join("acbuild"))
        .args(["build", "--json", "--no-cache", "--jobs", env.jobs, "--out"])
        .arg(env.out)
        .args(recipes)
        .current_dir(env.cwd)
        .env("TZ", env.tz)
        .env("LC_ALL", env.locale)
        // A terminal stays acbuild's, for the passphrase prompt (`output` would close stdin).
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped());
    match env.sign_key {
        Some(key) => cmd.arg("--sign-key").arg(key),
        None => cmd.arg("--no-sign"),
    };
    if env.test {
        cmd.arg("--test").arg("--acrun").arg(bin.join("acrun"));
    }
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let summaries: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let tests_failed = summaries.iter().any(|s| {
        s["tests"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["passed"] == false))
    });
    let only_tests_failed = tests_failed && out.status.code() == Some(1);
    if !(out.status.success() || only_tests_failed) {
        bail!("{cmd:?} failed ({})", out.status);
    }
    Ok(summaries)
}

/// What the summary says of one image of the first build: name, tests, and its comparison with
/// the second build's image of the same file name.
fn describe(bin: &Path, built: &Value, second_out: &Path) -> Result<Image> {
    let path = PathBuf::from(
        built["path"]
            .as_str()
            .context("acbuild summary without path")?,
    );
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest = Command::new(bin.join("acbuild"))
        .arg("cat-manifest")
        .arg(&path)
        .output()?;
    let manifest: Value = serde_json::from_slice(&manifest.stdout)
        .with_context(|| format!("the manifest of {}", path.display()))?;
    let tests = built["tests"].as_array();
    let count = |passed: bool| tests.map(|t| t.iter().filter(|t| t["passed"] == passed).count());
    let difference =
        compare::first_difference(&path, &second_out.join(&file))?.map(|d| format!("{file}: {d}"));
    Ok(Image {
        name: manifest["name"].as_str().unwrap_or_default().to_owned(),
        file,
        size: built["size"].as_u64().unwrap_or_default(),
        image_id: built["image_id"].as_str().unwrap_or_default().to_owned(),
        tests_passed: count(true),
        tests_failed: count(false),
        difference,
        site: None,
    })
}

fn failures(images: &[Image], recipes: usize) -> Vec<String> {
    let mut failures = Vec::new();
    if images.len() != recipes {
        failures.push(format!("{} of {recipes} recipes built", images.len()));
    }
    for image in images {
        if let Some(n) = image.tests_failed.filter(|n| *n > 0) {
            failures.push(format!("{}: {n} test(s) failed", image.name));
        }
        if let Some(d) = &image.difference {
            failures.push(format!("not reproducible: {d}"));
        }
    }
    failures
}

/// The images and their signatures in `dir`, sorted.
fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The base URL an image name goes to: the first given whose host and path hold it, else (with
/// none given) `https://HOST`.
fn base_url_for(name: &str, given: &[String]) -> Option<String> {
    if given.is_empty() {
        return name.split('/').next().map(|host| format!("https://{host}"));
    }
    given
        .iter()
        .find(|url| {
            let host_path = site_dir_of(url);
            name == host_path || name.starts_with(&format!("{host_path}/"))
        })
        .cloned()
}

/// `https://example.com/images/` → `example.com/images`.
fn site_dir_of(url: &str) -> &str {
    url.trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
}

/// `acbuild publish` per base URL into `dist/site/HOST[/PATH]`, publishing the signing key.
fn publish(
    bin: &Path,
    key: &Path,
    dist: &Path,
    given: &[String],
    images: &mut [Image],
) -> Result<()> {
    let mut by_url: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (i, image) in images.iter().enumerate() {
        match base_url_for(&image.name, given) {
            Some(url) => by_url.entry(url).or_default().push(i),
            None => eprintln!(
                "xtask: {} lies under no --base-url: not published",
                image.name
            ),
        }
    }
    for (url, members) in by_url {
        let out = dist.join("site").join(site_dir_of(&url));
        let mut cmd = Command::new(bin.join("acbuild"));
        cmd.args(["publish", "--base-url", &url, "--out"])
            .arg(&out)
            .env("ACBUILD_SIGN_KEY", key)
            .stdout(Stdio::null());
        for &i in &members {
            cmd.arg(dist.join("images").join(&images[i].file));
        }
        crate::status(&mut cmd)?;
        for i in members {
            images[i].site = Some(url.clone());
        }
    }
    Ok(())
}

/// The summary: a table on stderr (or JSON on stdout with `--json`).
fn report(
    json_out: bool,
    tarballs: &[PathBuf],
    dist: &Path,
    images: &[Image],
    failures: &[String],
) {
    if json_out {
        let rel = |p: &PathBuf| p.strip_prefix(dist).unwrap_or(p).display().to_string();
        let v = json!({
            "version": env!("CARGO_PKG_VERSION"),
            "dist": dist.display().to_string(),
            "tarballs": tarballs.iter().map(rel).collect::<Vec<_>>(),
            "images": images,
            "ok": failures.is_empty(),
            "failures": failures,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    let rows: Vec<[String; 6]> = images
        .iter()
        .map(|i| {
            let tests = match (i.tests_passed, i.tests_failed) {
                (Some(p), Some(0)) => format!("{p} passed"),
                (Some(p), Some(f)) => format!("{f} FAILED, {p} passed"),
                _ => "skipped".to_owned(),
            };
            let reproducible = if i.difference.is_some() { "NO" } else { "yes" };
            [
                i.name.clone(),
                i.size.to_string(),
                i.image_id.chars().take(19).collect(),
                tests,
                reproducible.to_owned(),
                i.site.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let header = ["image", "size", "image ID", "tests", "reproducible", "site"];
    let width = |c: usize| {
        rows.iter()
            .map(|r| r[c].len())
            .chain([header[c].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        eprintln!("{}", padded.join("  ").trim_end());
    };
    line(&header);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&cells);
    }
    for t in tarballs {
        eprintln!("{}", t.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_go_to_the_first_base_url_holding_their_name() {
        let given = [
            "https://example.com/tools".to_owned(),
            "https://example.com".to_owned(),
        ];
        assert_eq!(
            base_url_for("example.com/tools/hello", &given).as_deref(),
            Some("https://example.com/tools")
        );
        assert_eq!(
            base_url_for("example.com/toolsx", &given).as_deref(),
            Some("https://example.com")
        );
        assert_eq!(base_url_for("coreos.com/etcd", &given), None);
        assert_eq!(
            base_url_for("coreos.com/etcd", &[]).as_deref(),
            Some("https://coreos.com")
        );
    }
}

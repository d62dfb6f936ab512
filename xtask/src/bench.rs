//! `cargo xtask bench [NAME...]`: run the side-by-side benchmark scripts (`xtask/bench/NAME.sh`)
//! and rewrite their generated tables in BENCHMARKS.md with this run's medians and ratios, the
//! date, the machine's core count and its load.
//!
//! Each script passes `--export-json "$BENCH_JSON_DIR/NAME[-PART].json"` to hyperfine when
//! `BENCH_JSON_DIR` is set; this module reads those files, never hyperfine's text output. A table
//! lives between `<!-- bench:NAME -->` and `<!-- end bench:NAME -->` in BENCHMARKS.md (appended at
//! the end when the markers are missing); the prose around it is written by people and kept.
//! Nothing is written for a script that failed: a table only ever holds a measured run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The side-by-side benchmarks `cargo xtask bench` runs when no name is given.
pub const SIDE_BY_SIDE: &[&str] = &[
    "pack", "build", "sign", "verify", "fetch", "trace", "run", "hermetic",
];

/// Run the scripts `names` (all side-by-side ones when empty) and rewrite their tables.
/// `shipped` holds the binaries as released ([`crate::shipped`]): the scripts get them as `ACRUN`
/// and `ACBUILD`.
pub fn run(root: &Path, names: &[String], shipped: &Path) -> Result<()> {
    let names: Vec<String> = if names.is_empty() {
        SIDE_BY_SIDE.iter().map(|s| (*s).to_owned()).collect()
    } else {
        names.to_vec()
    };
    for name in &names {
        if !root
            .join("xtask/bench")
            .join(format!("{name}.sh"))
            .is_file()
        {
            bail!("no benchmark script xtask/bench/{name}.sh");
        }
    }
    let json_dir = crate::target_dir(root).join("bench-json");
    let doc_path = root.join("BENCHMARKS.md");
    for name in &names {
        let load = load_average();
        let date = utc_now()?;
        if json_dir.exists() {
            std::fs::remove_dir_all(&json_dir)?;
        }
        std::fs::create_dir_all(&json_dir)?;
        let script = root.join("xtask/bench").join(format!("{name}.sh"));
        eprintln!("xtask: bench {name}");
        crate::status(
            Command::new("bash")
                .arg(&script)
                .current_dir(root)
                .env("BENCH_JSON_DIR", &json_dir)
                .env("ACBUILD", shipped.join("acbuild"))
                .env("ACRUN", shipped.join("acrun")),
        )?;
        let tables = tables(&json_dir, name)?;
        if tables.is_empty() {
            bail!("xtask/bench/{name}.sh wrote no hyperfine JSON into $BENCH_JSON_DIR");
        }
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let block = format!(
            "Measured {date} by `cargo xtask bench {name}` (shipped static build): {cores} cores, \
             load average {load} when it started.\n\n{}",
            tables.join("\n")
        );
        let doc = std::fs::read_to_string(&doc_path)
            .with_context(|| format!("reading {}", doc_path.display()))?;
        crate::atomic_write(&doc_path, replace_block(&doc, name, &block).as_bytes())?;
    }
    Ok(())
}

/// The table of each hyperfine JSON file the script `name` wrote, in file-name order.
fn tables(dir: &Path, name: &str) -> Result<Vec<String>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with(name) && f.ends_with(".json"))
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let v: Value = serde_json::from_slice(&std::fs::read(&file)?)
            .with_context(|| format!("parsing {}", file.display()))?;
        out.push(table(&v)?);
    }
    Ok(out)
}

/// One markdown table: every command's median, mean ± σ, min, max, and its median's ratio to
/// the fastest median (hyperfine's "relative", on medians).
pub fn table(hyperfine: &Value) -> Result<String> {
    let results = hyperfine["results"]
        .as_array()
        .context("hyperfine JSON without results")?;
    let median = |r: &Value| r["median"].as_f64().unwrap_or(f64::NAN);
    let base = results.iter().map(median).fold(f64::INFINITY, f64::min);
    let mut t = String::from(
        "| Command | Median | Mean ± σ | Min | Max | Runs | × fastest (median) |\n\
         |:---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        let runs = r["times"].as_array().map_or(0, Vec::len);
        t.push_str(&format!(
            "| `{}` | {} | {} ± {} | {} | {} | {runs} | {:.2} |\n",
            r["command"].as_str().unwrap_or("?"),
            seconds(median(r)),
            seconds(f("mean")),
            seconds(f("stddev")),
            seconds(f("min")),
            seconds(f("max")),
            median(r) / base,
        ));
    }
    Ok(t)
}

/// A duration in seconds as ms below 1 s, else s.
fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.3} s")
    }
}

/// `doc` with the block of `name` replaced by `body` (appended as a new section if absent).
pub fn replace_block(doc: &str, name: &str, body: &str) -> String {
    let begin = format!("<!-- bench:{name} -->\n");
    let end = format!("<!-- end bench:{name} -->");
    let block = format!("{begin}{body}{end}");
    match (doc.find(&begin), doc.find(&end)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &doc[..b], &doc[e + end.len()..]),
        _ => format!(
            "{}\n## `{name}` (generated by `cargo xtask bench {name}`)\n\n{block}\n",
            doc.trim_end()
        ),
    }
}

/// `/proc/loadavg`'s three averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The current UTC time, `YYYY-MM-DD HH:MM UTC` (date(1) does the calendar).
fn utc_now() -> Result<String> {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .context("running date")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_replaced_in_place_and_the_prose_kept() {
        let doc = "# B\n\nprose\n<!-- bench:pack -->\nold\n<!-- end bench:pack -->\nmore prose\n";
        let new = replace_block(doc, "pack", "new\n");
        assert_eq!(
            new,
            "# B\n\nprose\n<!-- bench:pack -->\nnew\n<!-- end bench:pack -->\nmore prose\n"
        );
        let appended = replace_block("# B\n", "run", "t\n");
        assert!(appended.ends_with("<!-- bench:run -->\nt\n<!-- end bench:run -->\n"));
    }

    #[test]
    fn the_table_gives_medians_and_ratios_to_the_fastest() {
        let v = serde_json::json!({"results": [
            {"command": "ours", "median": 0.5, "mean": 0.5, "stddev": 0.01, "min": 0.49, "max": 0.52, "times": [0.5, 0.5]},
            {"command": "theirs", "median": 1.5, "mean": 1.6, "stddev": 0.1, "min": 1.4, "max": 1.8, "times": [1.5, 1.5]}
        ]});
        let t = table(&v).unwrap();
        assert!(
            t.contains(
                "| `ours` | 500.0 ms | 500.0 ms ± 10.0 ms | 490.0 ms | 520.0 ms | 2 | 1.00 |"
            ),
            "{t}"
        );
        assert!(
            t.contains(
                "| `theirs` | 1.500 s | 1.600 s ± 100.0 ms | 1.400 s | 1.800 s | 2 | 3.00 |"
            ),
            "{t}"
        );
    }
}

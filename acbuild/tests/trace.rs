//! `acbuild trace` end to end: C fixtures built with gcc at test time, resolved the way ld.so
//! resolves them. Where it can, a test also runs the fixture, so the real loader confirms the
//! expectation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/acbuild_cmd.rs"]
mod acbuild_cmd;
#[path = "support/trace_cmd.rs"]
mod trace_cmd;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use std::process::Command;
use trace_cmd::{acbuild, traced_paths};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/trace");

fn gcc(args: &[&str]) {
    let out = Command::new("gcc").args(args).output().unwrap_or_else(|e| {
        panic!("gcc is needed for these tests (apt-get install gcc libc6-dev): {e}")
    });
    assert!(
        out.status.success(),
        "gcc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

/// Build a shared library `out` with soname `soname` exporting `func`, which returns `value`
/// or, with `next`, calls `next` + 1. `link` adds linker arguments (needs, rpaths).
fn library(out: &Path, soname: &str, func: &str, next: Result<&str, i32>, link: &[&str]) {
    let func = format!("-DFUNC={func}");
    let body = match next {
        Ok(next) => format!("-DNEXT={next}"),
        Err(value) => format!("-DVALUE={value}"),
    };
    let soname = format!("-Wl,-soname,{soname}");
    let mut args = vec![
        "-shared",
        "-fPIC",
        "-o",
        out.to_str().unwrap(),
        &soname,
        &func,
        &body,
    ];
    let lib_c = fixture("lib.c");
    args.push(&lib_c);
    args.extend(link);
    gcc(&args);
}

/// Build a program calling `func` that exits 0 when it returns `expect`.
fn program(out: &Path, func: &str, expect: i32, link: &[&str]) {
    let func = format!("-DFUNC={func}");
    let expect = format!("-DEXPECT={expect}");
    let main_c = fixture("main.c");
    let mut args = vec!["-o", out.to_str().unwrap(), &func, &expect, &main_c];
    args.extend(link);
    gcc(&args);
}

fn runs(program: &Path) -> bool {
    Command::new(program)
        .env_remove("LD_LIBRARY_PATH")
        .status()
        .unwrap()
        .success()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// bin/main → liba.so.1 → libb.so.1 → libc3.so.1, found through RPATH `$ORIGIN/../lib`; each
/// library is a real file `libX.so.1.0` behind its soname link `libX.so.1` and a dev link.
fn chain_of_three(dir: &Path) -> PathBuf {
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let libs = [
        ("c3", "c3", Err(1)),
        ("b", "b", Ok("c3")),
        ("a", "a", Ok("b")),
    ];
    let mut previous: Option<&str> = None;
    for (name, func, next) in libs {
        let real = lib.join(format!("lib{name}.so.1.0"));
        let mut link = vec![format!("-L{}", p(&lib))];
        if let Some(prev) = previous {
            link.push(format!("-l{prev}"));
        }
        let link: Vec<&str> = link.iter().map(String::as_str).collect();
        library(&real, &format!("lib{name}.so.1"), func, next, &link);
        std::os::unix::fs::symlink(
            format!("lib{name}.so.1.0"),
            lib.join(format!("lib{name}.so.1")),
        )
        .unwrap();
        std::os::unix::fs::symlink(format!("lib{name}.so.1"), lib.join(format!("lib{name}.so")))
            .unwrap();
        previous = Some(name);
    }
    let main = dir.join("bin/main");
    let libdir = format!("-L{}", p(&lib));
    program(
        &main,
        "a",
        3,
        &[
            &libdir,
            "-la",
            "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib",
        ],
    );
    main
}

#[test]
fn origin_rpath_resolves_a_chain_of_three_libraries() {
    let dir = tempfile::tempdir().unwrap();
    let main = chain_of_three(dir.path());
    assert!(runs(&main), "the fixture itself does not start");
    let paths = traced_paths(&[p(&main)]);
    for name in ["liba.so.1.0", "libb.so.1.0", "libc3.so.1.0"] {
        assert!(
            paths.contains(&dir.path().join("lib").join(name)),
            "{name} missing from {paths:?}"
        );
    }
    assert!(paths.contains(&main));
}

#[test]
fn soname_links_and_their_targets_are_listed_but_dev_links_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let main = chain_of_three(dir.path());
    let paths = traced_paths(&[p(&main)]);
    let lib = dir.path().join("lib");
    assert!(paths.contains(&lib.join("libb.so.1")));
    assert!(paths.contains(&lib.join("libb.so.1.0")));
    assert!(!paths.contains(&lib.join("libb.so")));
}

#[test]
fn output_is_sorted_and_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    let main = chain_of_three(dir.path());
    let out = acbuild(&[p(&main), p(&main)]);
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut sorted = lines.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(lines, sorted);
}

/// a/liba.so needs libb.so, which exists in one/ (value 1) and two/ (value 2). The program has
/// RPATH a:one. Returns the program path.
fn rpath_fixture(dir: &Path, liba_link: &[&str], main_dtags: &str, expect: i32) -> PathBuf {
    for sub in ["a", "one", "two"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    library(&dir.join("one/libb.so"), "libb.so", "b", Err(1), &[]);
    library(&dir.join("two/libb.so"), "libb.so", "b", Err(2), &[]);
    let one = format!("-L{}", p(&dir.join("one")));
    let mut link = vec![one.as_str(), "-lb"];
    link.extend(liba_link);
    library(&dir.join("a/liba.so"), "liba.so", "a", Ok("b"), &link);
    let main = dir.join("main");
    let la = format!("-L{}", p(&dir.join("a")));
    let rpath = format!(
        "-Wl,{main_dtags},-rpath,{}:{}",
        p(&dir.join("a")),
        p(&dir.join("one"))
    );
    program(&main, "a", expect, &[&la, "-la", &rpath]);
    main
}

#[test]
fn rpath_of_the_program_is_inherited_by_its_libraries() {
    let dir = tempfile::tempdir().unwrap();
    let main = rpath_fixture(dir.path(), &[], "--disable-new-dtags", 2);
    assert!(runs(&main), "ld.so disagrees with the fixture");
    let paths = traced_paths(&[p(&main)]);
    assert!(paths.contains(&dir.path().join("one/libb.so")));
    assert!(!paths.contains(&dir.path().join("two/libb.so")));
}

#[test]
fn runpath_of_a_library_cancels_the_inherited_rpath() {
    let dir = tempfile::tempdir().unwrap();
    let two = format!(
        "-Wl,--enable-new-dtags,-rpath,{}",
        p(&dir.path().join("two"))
    );
    let main = rpath_fixture(dir.path(), &[&two], "--disable-new-dtags", 3);
    assert!(runs(&main), "ld.so disagrees with the fixture");
    let paths = traced_paths(&[p(&main)]);
    assert!(paths.contains(&dir.path().join("two/libb.so")));
    assert!(!paths.contains(&dir.path().join("one/libb.so")));
}

#[test]
fn runpath_of_the_program_serves_only_its_direct_needs() {
    let dir = tempfile::tempdir().unwrap();
    let main = rpath_fixture(dir.path(), &[], "--enable-new-dtags", 2);
    assert!(!runs(&main), "ld.so found libb.so after all");
    let out = acbuild(&[p(&main)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: libb.so not found",
            p(&dir.path().join("a/liba.so"))
        )),
        "{stderr}"
    );
}

#[test]
fn missing_library_fails_naming_object_soname_and_searched_directories() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("libgone.so");
    library(&gone, "libgone.so", "gone", Err(0), &[]);
    let main = dir.path().join("main");
    let l = format!("-L{}", p(dir.path()));
    program(&main, "gone", 0, &[&l, "-lgone"]);
    std::fs::remove_file(&gone).unwrap();
    let out = acbuild(&[p(&main)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: libgone.so not found (searched ", p(&main))),
        "{stderr}"
    );
    assert!(stderr.contains("/usr/lib/x86_64-linux-gnu"), "{stderr}");
}

#[test]
fn allow_missing_turns_a_missing_library_into_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("libgone.so");
    library(&gone, "libgone.so", "gone", Err(0), &[]);
    let main = dir.path().join("main");
    let l = format!("-L{}", p(dir.path()));
    program(&main, "gone", 0, &[&l, "-lgone"]);
    std::fs::remove_file(&gone).unwrap();
    let out = acbuild(&["--allow-missing", p(&main)]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: "));
    assert!(String::from_utf8_lossy(&out.stdout).contains(p(&main)));
}

#[test]
fn static_binary_needs_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let hello = dir.path().join("hello");
    gcc(&["-static", "-o", p(&hello), &fixture("hello.c")]);
    assert_eq!(traced_paths(&[p(&hello)]), BTreeSet::from([hello]));
}

#[test]
fn static_pie_binary_needs_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let hello = dir.path().join("hello");
    gcc(&["-static-pie", "-fPIE", "-o", p(&hello), &fixture("hello.c")]);
    assert!(runs(&hello));
    assert_eq!(traced_paths(&[p(&hello)]), BTreeSet::from([hello]));
}

#[test]
fn script_adds_its_interpreter_and_the_interpreters_closure() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("run.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let paths = traced_paths(&[p(&script)]);
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    for want in [
        Path::new("/bin"),
        sh.as_path(),
        &script,
        Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6"),
    ] {
        assert!(
            paths.contains(want),
            "{} missing from {paths:?}",
            want.display()
        );
    }
}

#[test]
fn env_script_resolves_its_command_on_the_standard_path_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("run");
    std::fs::write(&script, "#!/usr/bin/env sh\necho hi\n").unwrap();
    let out = acbuild(&[p(&script)]);
    assert!(out.status.success());
    let paths: BTreeSet<PathBuf> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    assert!(paths.contains(Path::new("/usr/bin/env")));
    assert!(paths.contains(&std::fs::canonicalize("/usr/bin/sh").unwrap()));
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs `env sh`"));
}

#[test]
fn json_lists_nss_and_dlopen_hints_for_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("lookup");
    gcc(&["-o", p(&prog), &fixture("runtime_loading.c")]);
    let out = acbuild(&["--format", "json", p(&prog)]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hints = json["hints"][p(&prog)].as_array().unwrap();
    assert!(
        hints
            .iter()
            .any(|h| h["kind"] == "nss" && h["symbols"][0] == "getpwnam"),
        "{hints:?}"
    );
    assert!(
        hints
            .iter()
            .any(|h| h["kind"] == "dlopen" && h["names"][0] == "libplugin-extra.so.3"),
        "{hints:?}"
    );
}

#[test]
fn tree_shows_who_needs_whom() {
    let dir = tempfile::tempdir().unwrap();
    let main = chain_of_three(dir.path());
    let out = acbuild(&["--format", "tree", p(&main)]);
    let text = String::from_utf8(out.stdout).unwrap();
    // Found paths are kept as ld.so names them: `$ORIGIN/../lib` is not normalised.
    let lib = format!("{}/bin/../lib", p(dir.path()));
    assert!(
        text.contains(&format!("\n    liba.so.1 => {lib}/liba.so.1\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("\n        libb.so.1 => {lib}/libb.so.1\n")),
        "{text}"
    );
}

#[test]
fn not_an_executable_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.txt");
    std::fs::write(&data, "just text").unwrap();
    assert_eq!(acbuild(&[p(&data)]).status.code(), Some(2));
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Malformed recipes: each yields a diagnostic at the right line and column with the right message,
//! and `acbuild check` exits 2 for it.

use std::path::Path;

use acbuild::recipe::{RecipeError, parse_str};

#[path = "support/acbuild_cmd.rs"]
mod acbuild_cmd;

/// (recipe text, line, column, message fragment, hint fragment or "").
const CASES: &[(&str, usize, usize, &str, &str)] = &[
    // 1 syntax
    ("image \"a\" {\n  dir \"/x\n}\n", 2, 7, "syntax", ""),
    // 2 no image
    ("// nothing\n", 1, 1, "no `image` node", "image \""),
    // 3 unknown top-level node
    (
        "imag \"a\"\n",
        1,
        1,
        "unknown node `imag` in a recipe",
        "did you mean `image`?",
    ),
    // 4 two images
    ("image \"a\"\nimage \"b\"\n", 2, 1, "exactly one image", ""),
    // 5 image without name
    (
        "image {\n}\n",
        1,
        1,
        "`image` needs an argument",
        "image \"example.com/name\"",
    ),
    // 6 unknown image child with suggestion
    (
        "image \"a\" {\n    progam \"/bin/true\"\n}\n",
        2,
        5,
        "unknown node `progam` in `image`",
        "did you mean `program`?",
    ),
    // 7 unknown property with suggestion
    (
        "image \"a\" {\n    dir \"/x\" mdoe=0o700\n}\n",
        2,
        14,
        "unknown property `mdoe` on `dir`",
        "did you mean `mode`?",
    ),
    // 8 unknown property on image
    (
        "image \"a\" verison=\"1\"\n",
        1,
        11,
        "unknown property `verison` on `image`",
        "did you mean `version`?",
    ),
    // 9 mode as string
    (
        "image \"a\" {\n    dir \"/x\" mode=\"0700\"\n}\n",
        2,
        14,
        "`mode` must be an integer, found a string",
        "0o644",
    ),
    // 10 mode out of range
    (
        "image \"a\" {\n    dir \"/x\" mode=0o17777\n}\n",
        2,
        14,
        "`mode` 8191 is out of range",
        "0 to 4095",
    ),
    // 11 relative image path
    (
        "image \"a\" {\n    dir \"var/lib\"\n}\n",
        2,
        9,
        "image path `var/lib` must be absolute",
        "",
    ),
    // 12 dot-dot in image path
    (
        "image \"a\" {\n    dir \"/var/../etc\"\n}\n",
        2,
        9,
        "must be normalised",
        "",
    ),
    // 13 root as entry
    (
        "image \"a\" {\n    dir \"/\"\n}\n",
        2,
        9,
        "must not be `/` itself",
        "",
    ),
    // 14 trailing slash
    (
        "image \"a\" {\n    dir \"/var/\"\n}\n",
        2,
        9,
        "must not end with `/`",
        "",
    ),
    // 15 symlink without target
    (
        "image \"a\" {\n    symlink \"/bin/sh\"\n}\n",
        2,
        5,
        "`symlink` needs the property `target`",
        "target=",
    ),
    // 16 text without content
    (
        "image \"a\" {\n    text \"/etc/motd\"\n}\n",
        2,
        5,
        "`text` needs 2 arguments",
        "",
    ),
    // 17 too many arguments
    (
        "image \"a\" {\n    dir \"/x\" \"/y\"\n}\n",
        2,
        14,
        "`dir` takes at most 1 argument",
        "",
    ),
    // 18 path declared twice with different content
    (
        "image \"a\" {\n    text \"/etc/motd\" \"a\"\n    text \"/etc/motd\" \"b\"\n}\n",
        3,
        10,
        "`/etc/motd` is declared twice with different content",
        "",
    ),
    // 19 user files conflict with a declared file
    (
        "image \"a\" {\n    user \"u\" uid=1\n    text \"/etc/passwd\" \"root:x:0:0::/:/bin/sh\\n\"\n}\n",
        3,
        10,
        "`/etc/passwd` is declared twice with different content (written from the `user`/`group` nodes)",
        "",
    ),
    // 20 entry below a non-directory
    (
        "image \"a\" {\n    text \"/etc\" \"x\"\n    dir \"/etc/ssl\"\n}\n",
        3,
        9,
        "lies below `/etc`, which is not a directory",
        "",
    ),
    // 21 relative host path without to=
    (
        "image \"a\" {\n    tree \"./static\"\n}\n",
        2,
        10,
        "relative host path needs `to=`",
        "to=\"/...\"",
    ),
    // 22 unknown runtime set
    (
        "image \"a\" {\n    runtime \"nsss\"\n}\n",
        2,
        13,
        "unknown runtime set `nsss`",
        "did you mean `nss`?",
    ),
    // 23 user without uid
    (
        "image \"a\" {\n    user \"etcd\"\n}\n",
        2,
        5,
        "`user` needs the property `uid`",
        "",
    ),
    // 24 uid negative
    (
        "image \"a\" {\n    user \"etcd\" uid=-1\n}\n",
        2,
        17,
        "`uid` -1 is out of range",
        "",
    ),
    // 25 bad account name
    (
        "image \"a\" {\n    user \"et:cd\" uid=5\n}\n",
        2,
        10,
        "`et:cd` is not a valid account name",
        "",
    ),
    // 26 duplicate uid
    (
        "image \"a\" {\n    user \"a\" uid=5\n    user \"b\" uid=5\n}\n",
        3,
        5,
        "uid 5 is used by two users",
        "",
    ),
    // 27 app without exec
    (
        "image \"a\" {\n    app {\n        user \"0\"\n    }\n}\n",
        2,
        5,
        "`app` needs an `exec`",
        "exec \"",
    ),
    // 28 relative exec
    (
        "image \"a\" {\n    app {\n        exec \"etcd\"\n    }\n}\n",
        3,
        14,
        "the program `etcd` must be an absolute path",
        "PATH",
    ),
    // 29 app user not declared
    (
        "image \"a\" {\n    app {\n        exec \"/bin/x\"\n        user \"etcd\"\n    }\n}\n",
        4,
        14,
        "the app's user `etcd` is not declared in the image",
        "user \"etcd\" uid=1000",
    ),
    // 30 two apps
    (
        "image \"a\" {\n    app {\n        exec \"/a\"\n    }\n    app {\n        exec \"/b\"\n    }\n}\n",
        5,
        5,
        "an image has at most one `app`",
        "",
    ),
    // 31 port out of range
    (
        "image \"a\" {\n    app {\n        exec \"/a\"\n        port \"p\" port=70000\n    }\n}\n",
        4,
        18,
        "`port` 70000 is out of range",
        "",
    ),
    // 32 unknown protocol
    (
        "image \"a\" {\n    app {\n        exec \"/a\"\n        port \"p\" protocol=\"sctp\" port=1\n    }\n}\n",
        4,
        18,
        "unknown protocol `sctp`",
        "udp",
    ),
    // 33 mount without path
    (
        "image \"a\" {\n    app {\n        exec \"/a\"\n        mount \"data\"\n    }\n}\n",
        4,
        9,
        "`mount` needs the property `path`",
        "",
    ),
    // 34 boolean written KDL-1 style is a syntax error in KDL 2
    (
        "image \"a\" {\n    app {\n        exec \"/a\"\n        mount \"d\" path=\"/d\" read-only=\"yes\"\n    }\n}\n",
        4,
        29,
        "`read-only` must be a boolean, found a string",
        "#true",
    ),
    // 35 unknown event
    (
        "image \"a\" {\n    app {\n        exec \"/a\"\n        event \"pre-stat\" \"/a\"\n    }\n}\n",
        4,
        15,
        "unknown event `pre-stat`",
        "did you mean `pre-start`?",
    ),
    // 36 duplicate env
    (
        "image \"a\" {\n    app {\n        exec \"/a\"\n        env A=\"1\"\n        env A=\"2\"\n    }\n}\n",
        5,
        13,
        "environment variable `A` is set twice",
        "",
    ),
    // 37 duplicate label, version given twice
    (
        "image \"a\" version=\"1\" {\n    label version=\"2\"\n}\n",
        2,
        11,
        "label `version` is given twice",
        "",
    ),
    // 38 property given twice
    (
        "image \"a\" {\n    dir \"/x\" mode=0o700 mode=0o755\n}\n",
        2,
        25,
        "property `mode` is given twice",
        "",
    ),
    // 39 test without exec
    (
        "image \"a\" {\n    test \"v\" {\n        expect-exit 0\n    }\n}\n",
        2,
        5,
        "test `v` needs an `exec`",
        "",
    ),
    // 40 unknown node in test
    (
        "image \"a\" {\n    test \"v\" {\n        exec \"/a\"\n        expect-stdout \"x\"\n    }\n}\n",
        4,
        9,
        "unknown node `expect-stdout` in `test`",
        "expect-stdout-contains",
    ),
    // 41 type annotation
    (
        "image \"a\" {\n    dir \"/x\" mode=(u16)0o700\n}\n",
        2,
        14,
        "type annotations are not used",
        "",
    ),
    // 42 children on a leaf node
    (
        "image \"a\" {\n    dir \"/x\" {\n        y\n    }\n}\n",
        2,
        5,
        "`dir` takes no children block",
        "",
    ),
    // 43 a wrong value type for an argument
    (
        "image \"a\" {\n    symlink 5 target=\"/b\"\n}\n",
        2,
        13,
        "the link path must be a string, found an integer",
        "",
    ),
    // 44 group with a conflicting gid
    (
        "image \"a\" {\n    user \"u\" uid=5\n    group \"u\" gid=6\n}\n",
        3,
        5,
        "group `u` is given gid 6 here and gid 5 before",
        "",
    ),
];

fn first_error(text: &str) -> RecipeError {
    let errs = parse_str(text, Path::new("t.kdl"), Path::new("/nonexistent"))
        .expect_err(&format!("recipe should be rejected:\n{text}"));
    errs.errors()[0].clone()
}

#[test]
fn every_malformed_recipe_reports_line_column_and_message() {
    assert!(CASES.len() >= 25);
    let mut failures = Vec::new();
    for (i, (text, line, col, message, hint)) in CASES.iter().enumerate() {
        let err = first_error(text);
        let got = (
            err.line_col(),
            err.message().to_owned(),
            err.hint().unwrap_or("").to_owned(),
        );
        if got.0 != (*line, *col) || !got.1.contains(message) || !got.2.contains(hint) {
            failures.push(format!(
                "case {}: want {line}:{col} {message:?} hint {hint:?}, got {}:{} {:?} hint {:?}",
                i + 1,
                got.0.0,
                got.0.1,
                got.1,
                got.2
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn conflicts_point_at_both_declarations() {
    let err = first_error(
        "image \"a\" {\n    text \"/etc/motd\" \"a\"\n    text \"/etc/motd\" \"b\"\n}\n",
    );
    assert_eq!(err.line_col(), (3, 10));
    assert_eq!(err.related_line_col(), Some((2, 10)));
}

#[test]
fn identical_declarations_of_one_path_are_merged() {
    let text = "image \"a\" {\n    dir \"/x\" mode=0o700\n    dir \"/x\" mode=0o700\n}\n";
    let recipe = parse_str(text, Path::new("t.kdl"), Path::new("/")).unwrap();
    assert_eq!(recipe.image.entries.len(), 1);
}

#[test]
fn all_problems_are_reported_at_once_in_source_order() {
    let text = "image \"a\" {\n    progam \"/a\"\n    dir \"rel\"\n    runtime \"tz\"\n}\n";
    let errs = parse_str(text, Path::new("t.kdl"), Path::new("/")).unwrap_err();
    let lines: Vec<usize> = errs.errors().iter().map(|e| e.line_col().0).collect();
    assert_eq!(lines, vec![2, 3, 4]);
}

#[test]
fn columns_count_characters_after_non_ascii_text() {
    let err = first_error("image \"a\" {\n    text \"/motd\" \"привет\" mdoe=1\n}\n");
    assert_eq!(err.line_col(), (2, 27));
}

fn check(dir: &Path, text: &str) -> std::process::Output {
    let recipe = dir.join("r.kdl");
    std::fs::write(&recipe, text).unwrap();
    acbuild_cmd::acbuild(["check"])
        .arg(&recipe)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn check_exits_2_and_shows_file_line_and_hint_for_every_malformed_recipe() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (text, line, col, message, _)) in CASES.iter().enumerate() {
        let out = check(dir.path(), text);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {}: {stderr}", i + 1);
        assert!(
            stderr.contains(&format!("r.kdl:{line}:{col}")),
            "case {}: {stderr}",
            i + 1
        );
        let first_word = message.split('`').next().unwrap_or(message);
        assert!(stderr.contains(first_word), "case {}: {stderr}", i + 1);
        let written: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(written.len(), 1, "case {}: check wrote files", i + 1);
    }
}

#[test]
fn check_reports_a_missing_input_relative_to_the_recipe_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(
        dir.path(),
        "image \"a\" {\n    file \"./nope\" to=\"/nope\"\n}\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("r.kdl:2:10"), "{stderr}");
    assert!(stderr.contains("cannot be read"), "{stderr}");
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "{stderr}"
    );
}

#[test]
fn check_rejects_a_program_that_is_not_elf() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("script.sh"), "#!/bin/sh\necho hi\n").unwrap();
    let out = check(
        dir.path(),
        "image \"a\" {\n    program \"script.sh\" to=\"/bin/s\"\n}\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("r.kdl:2:13"), "{stderr}");
    assert!(stderr.contains("is not an ELF program"), "{stderr}");
}

#[test]
fn check_rejects_a_tree_that_is_a_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "x").unwrap();
    let out = check(dir.path(), "image \"a\" {\n    tree \"f\" to=\"/srv\"\n}\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("is not a directory"), "{stderr}");
}

#[test]
fn check_exits_2_for_a_recipe_that_does_not_exist() {
    let out = acbuild_cmd::acbuild(["check", "/nonexistent/r.kdl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/r.kdl"));
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The recipe parser never panics: not on arbitrary text, not on mutations of a real recipe.
//! Every rejection carries at least one diagnostic whose span lies inside the text.

use std::path::Path;

use acbuild::recipe::parse_str;
use proptest::prelude::*;

const SEED: &str = include_str!("../../recipes/etcd.kdl");

fn parse_checked(text: &str) {
    match parse_str(text, Path::new("f.kdl"), Path::new("/base")) {
        Ok(recipe) => assert!(!recipe.image.name.value.is_empty() || text.contains("\"\"")),
        Err(errs) => {
            assert!(!errs.errors().is_empty());
            for e in errs.errors() {
                assert!(e.span().offset() <= text.len(), "span past the end: {e:?}");
                let (line, col) = e.line_col();
                assert!(line >= 1 && col >= 1);
            }
        }
    }
}

/// Byte-level edits of the seed recipe, kept as valid UTF-8 by operating on chars.
fn mutated() -> impl Strategy<Value = String> {
    let chars: Vec<char> = SEED.chars().collect();
    let n = chars.len();
    let tokens = prop::sample::select(vec![
        "{",
        "}",
        "\"",
        "=",
        ";",
        "#true",
        "#null",
        "0o7777",
        "-1",
        "/",
        "..",
        "\\",
        "image",
        "app",
        "program",
        "user",
        "dir",
        "text",
        "(u8)",
        "r#\"",
        "\n",
        "//",
        "/*",
        "\u{0}",
        "ж",
        "9999999999999999999999999999999999999999",
    ]);
    prop::collection::vec((0..n, 0..8usize, tokens, 0..3u8), 1..8).prop_map(move |edits| {
        let mut c = chars.clone();
        for (at, len, token, op) in edits {
            let at = at.min(c.len());
            match op {
                0 => {
                    let end = (at + len).min(c.len());
                    c.drain(at..end);
                }
                1 => {
                    for (i, ch) in token.chars().enumerate() {
                        c.insert(at + i, ch);
                    }
                }
                _ => {
                    let end = (at + len).min(c.len());
                    c.splice(at..end, token.chars());
                }
            }
        }
        c.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        parse_checked(&text);
    }

    #[test]
    fn kdl_shaped_text_never_panics(text in "(image|app|dir|user|text|\"[a-z/]{0,6}\"|[a-z]{1,5}=[0-9\"a-z#]{1,4}|[{};\n ]){0,60}") {
        parse_checked(&text);
    }

    #[test]
    fn mutated_recipes_never_panic(text in mutated()) {
        parse_checked(&text);
    }
}

#[test]
fn the_seed_recipe_itself_parses() {
    parse_str(SEED, Path::new("etcd.kdl"), Path::new("/")).unwrap();
}

//! `<meta name="ac-discovery" content="PREFIX TEMPLATE">` and `ac-discovery-pubkeys` tags.
//!
//! The page is hostile input from the network, so it is read by a WHATWG tokenizer (`html5gum`,
//! no `unsafe`, no dependencies) rather than by pattern matching: a tag counts wherever it is in the
//! document (the reference does not stop at `<head>`), attributes may be quoted either way or not
//! at all, names are case-insensitive, and text inside `<script>`, `<style>`, `<textarea>`,
//! `<title>` or a comment is never mistaken for a tag (the tokenizer switches to raw-text states
//! as a browser would, like Go's `x/net/html`).
//!
//! Content rules (checklist §6.2): the `name` attribute must start with `ac-`; `content` is trimmed
//! and split at its first whitespace into a prefix and a URI (trimmed); both must be non-empty.
//! The reference splits only at a space; splitting at any whitespace differs only for prefixes
//! holding a tab or newline, which no image name can match, so it accepts the same tags plus
//! multi-line `content` values. Of two `name`/`content` attributes in one tag the first counts
//! (WHATWG); Go keeps the last.

use html5gum::{DefaultEmitter, Token, Tokenizer};

/// Which kind of discovery tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKind {
    /// `ac-discovery`: a URL template for images and signatures.
    Discovery,
    /// `ac-discovery-pubkeys`: a URL serving the signing keys.
    Pubkeys,
    /// Another `ac-` name, kept so callers can report it; discovery ignores it.
    Other,
}

/// One discovery tag, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaTag {
    /// Its kind, from the `name` attribute.
    pub kind: MetaKind,
    /// The name prefix it applies to (a plain string prefix of the image name).
    pub prefix: String,
    /// The URL template (`Discovery`) or URL (`Pubkeys`).
    pub uri: String,
}

/// Every well-formed `ac-*` meta tag of `page`, in document order.
pub fn meta_tags(page: &str) -> Vec<MetaTag> {
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut tags = Vec::new();
    for token in Tokenizer::new_with_emitter(page, emitter) {
        let Ok(Token::StartTag(tag)) = token else {
            continue;
        };
        if tag.name.as_slice() != b"meta" {
            continue;
        }
        let attr = |key: &str| {
            tag.attributes
                .get(key.as_bytes())
                .map(|v| String::from_utf8_lossy(v.as_slice()).into_owned())
        };
        let (Some(name), Some(content)) = (attr("name"), attr("content")) else {
            continue;
        };
        if let Some(t) = tag_of(&name, &content) {
            tags.push(t);
        }
    }
    tags
}

fn tag_of(name: &str, content: &str) -> Option<MetaTag> {
    let kind = match name {
        "ac-discovery" => MetaKind::Discovery,
        "ac-discovery-pubkeys" => MetaKind::Pubkeys,
        n if n.starts_with("ac-") => MetaKind::Other,
        _ => return None,
    };
    let (prefix, uri) = content.trim().split_once(char::is_whitespace)?;
    let uri = uri.trim();
    (!prefix.is_empty() && !uri.is_empty()).then(|| MetaTag {
        kind,
        prefix: prefix.to_owned(),
        uri: uri.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(kind: MetaKind, prefix: &str, uri: &str) -> MetaTag {
        MetaTag {
            kind,
            prefix: prefix.into(),
            uri: uri.into(),
        }
    }

    #[test]
    fn finds_tags_anywhere_with_any_quoting_and_case() {
        let page = r#"<!DOCTYPE html>
<html><head><title>x</title>
<META NAME="ac-discovery" CONTENT="example.com https://example.com/{name}-{version}.{ext}">
</head><body><p>text
<meta name='ac-discovery-pubkeys' content='example.com https://example.com/pubkeys.gpg'/>
<div><meta content="example.com/a https://a/keys" name=ac-discovery-pubkeys ></div>
<meta
   name="ac-discovery"
   content="
     example.com/b
        hdfs://example.com/{name}.{ext}
   ">
</body></html>"#;
        assert_eq!(
            meta_tags(page),
            [
                tag(
                    MetaKind::Discovery,
                    "example.com",
                    "https://example.com/{name}-{version}.{ext}"
                ),
                tag(
                    MetaKind::Pubkeys,
                    "example.com",
                    "https://example.com/pubkeys.gpg"
                ),
                tag(MetaKind::Pubkeys, "example.com/a", "https://a/keys"),
                tag(
                    MetaKind::Discovery,
                    "example.com/b",
                    "hdfs://example.com/{name}.{ext}"
                ),
            ]
        );
    }

    #[test]
    fn unquoted_attribute_value_ends_at_whitespace() {
        // `content=example.com/a` has no URI part: the tag is dropped, as in the reference.
        let page = "<meta content=example.com/a name=ac-discovery-pubkeys>\
                    <meta content='example.com/a https://k' name=ac-discovery-pubkeys>";
        assert_eq!(
            meta_tags(page),
            [tag(MetaKind::Pubkeys, "example.com/a", "https://k")]
        );
    }

    #[test]
    fn text_that_only_looks_like_a_tag_is_ignored() {
        let fake = r#"<meta name="ac-discovery" content="evil.com https://evil.com/{name}.{ext}">"#;
        let page = format!(
            "<script>var s = '{fake}';</script><style>/* {fake} */</style>\
             <textarea>{fake}</textarea><title>{fake}</title><!-- {fake} -->\
             <p>&lt;meta name=\"ac-discovery\" content=\"a b\"&gt;</p>"
        );
        assert_eq!(meta_tags(&page), []);
        // Positive control: the same tag outside those contexts is found.
        assert_eq!(meta_tags(fake).len(), 1);
    }

    #[test]
    fn name_and_content_rules() {
        let page = r#"
<meta name="description" content="example.com https://x/{ext}">
<meta name="ac-discovery" content="example.com">
<meta name="ac-discovery" content="   ">
<meta name="ac-discovery">
<meta content="example.com https://x/{ext}">
<meta name="ac-other" content="example.com  https://x/{ext} ">
<meta name="ac-discovery" content="example.com&#9;https://x/{name}.{ext}">
<meta name="ac-discovery" content="example.com https://x/a&amp;b/{ext}">
"#;
        assert_eq!(
            meta_tags(page),
            [
                tag(MetaKind::Other, "example.com", "https://x/{ext}"),
                tag(MetaKind::Discovery, "example.com", "https://x/{name}.{ext}"),
                tag(MetaKind::Discovery, "example.com", "https://x/a&b/{ext}"),
            ]
        );
    }

    #[test]
    fn hostile_bytes_never_panic() {
        for page in [
            "<",
            "<meta",
            "<meta name=\"ac-discovery\" content=\"a b",
            "\0<meta\u{fffd}>",
            "<<<>>>",
        ] {
            let _ = meta_tags(page);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_page_tokenizes_without_panic(page in "(<|>|meta|name=|content=|ac-discovery|\"|'| |\\{|\\}|[a-z./])*") {
            for t in meta_tags(&page) {
                proptest::prop_assert!(!t.prefix.is_empty() && !t.uri.is_empty());
            }
        }
    }
}

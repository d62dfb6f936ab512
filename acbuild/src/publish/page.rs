//! The `index.html` discovery page of one level of a site.
//!
//! Every level (the base, each parent path of a name, each name) gets the same two kinds of tag,
//! both with the base's `HOST/PATH` as prefix: the site's one `ac-discovery` template and one
//! `ac-discovery-pubkeys` tag per published key. Clients stop walking at the deepest level that has
//! tags, so any level works. The body lists the images at or below the level for people. Every
//! value written into the page is HTML-escaped; the output depends only on its inputs.

use super::base_url::BaseUrl;
use super::catalogue::Entry;

/// Where a published key lives, relative to the site root.
pub fn key_path(fingerprint: &str) -> String {
    format!("keys/{fingerprint}.asc")
}

/// The page for `level` (a name or name prefix at or below the base).
pub fn render(base: &BaseUrl, level: &str, keys: &[String], images: &[&Entry]) -> String {
    let prefix = base.host_path();
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<title>{} - App Container Images</title>\n",
        escape(level)
    ));
    out.push_str(&format!(
        "<meta name=\"ac-discovery\" content=\"{} {}\">\n",
        escape(prefix),
        escape(&base.template())
    ));
    for fp in keys {
        out.push_str(&format!(
            "<meta name=\"ac-discovery-pubkeys\" content=\"{} {}/{}\">\n",
            escape(prefix),
            escape(base.as_str()),
            escape(&key_path(fp))
        ));
    }
    out.push_str("</head>\n<body>\n");
    out.push_str(&format!("<h1>{}</h1>\n", escape(level)));
    out.push_str(&format!(
        "<p>Trust the signing keys with <code>acrun trust --prefix {}</code>, then fetch an image \
         with <code>acrun fetch NAME:VERSION</code>.</p>\n",
        escape(prefix)
    ));
    out.push_str("<h2>Signing keys</h2>\n<ul>\n");
    for fp in keys {
        let href = format!("{}/{}", base.as_str(), key_path(fp));
        out.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>\n",
            escape(&href),
            escape(fp)
        ));
    }
    out.push_str("</ul>\n<h2>Images</h2>\n<table>\n");
    out.push_str("<tr><th>name</th><th>version</th><th>os</th><th>arch</th><th>image ID</th><th>signed by</th></tr>\n");
    for e in images {
        let href = format!("{}/{}", base.as_str(), e.aci);
        out.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a> (<a href=\"{}.asc\">signature</a>)</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>\n",
            escape(&href),
            escape(&e.name),
            escape(&href),
            escape(&e.version),
            escape(&e.os),
            escape(&e.arch),
            escape(&e.image_id),
            escape(&e.signer),
        ));
    }
    out.push_str("</table>\n</body>\n</html>\n");
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use appc::discovery::{App, endpoints};

    #[test]
    fn the_page_discovers_the_published_paths() {
        let base = BaseUrl::parse("https://example.com/images").unwrap();
        let e = Entry {
            name: "example.com/images/app".into(),
            version: "1.0".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            aci: "example.com/images/app-1.0-linux-amd64.aci".into(),
            image_id: "sha512-00".into(),
            signer: "ABCD".into(),
        };
        let page = render(&base, "example.com/images/app", &["ABCD".into()], &[&e]);
        let app = App::parse("example.com/images/app:1.0")
            .unwrap()
            .with_platform("linux", "amd64");
        let found = endpoints(&page, &app);
        assert_eq!(found.aci.len(), 1);
        assert_eq!(
            found.aci[0].aci,
            format!("https://example.com/images/{}", e.aci)
        );
        assert_eq!(found.pubkeys, ["https://example.com/images/keys/ABCD.asc"]);
        // A name outside the base is not served by these tags.
        let other = App::parse("example.com/other:1.0").unwrap();
        assert!(endpoints(&page, &other).aci.is_empty());
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    }
}

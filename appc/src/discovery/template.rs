//! Rendering an `ac-discovery` URL template, exactly as the Go reference does (checklist §6.2).
//!
//! The prose calls templates RFC 6570, but the reference does plain string replacement, and
//! publishers write for the reference: `{name}` first, then `{LABEL}` for every label (here in
//! sorted order, so the result never depends on map order), then `{ext}`. If anything of the form
//! `{…}` (on one line) is left, the template does not apply to this request and is skipped: a
//! template using `{os}` when the request has no `os` is not an error, just not a match.
//! Values are inserted verbatim (not URL-escaped), as in the reference.

use super::app::App;

/// The extension of an image.
pub const EXT_ACI: &str = "aci";
/// The extension of its detached signature.
pub const EXT_SIGNATURE: &str = "aci.asc";

/// `template` with the request's name, labels (requested over defaults) and `ext` substituted, or
/// `None` if some `{…}` is left unfilled.
pub fn render(template: &str, app: &App, ext: &str) -> Option<String> {
    let mut out = template.replace("{name}", app.name().as_str());
    for (label, value) in app.template_labels() {
        out = out.replace(&format!("{{{label}}}"), value);
    }
    out = out.replace("{ext}", ext);
    (!has_expression(&out)).then_some(out)
}

/// Whether `s` still holds `{…}` (a `{` followed by a `}` on the same line: Go's `{.*?}`).
fn has_expression(s: &str) -> bool {
    s.lines()
        .any(|line| line.find('{').is_some_and(|i| line[i..].contains('}')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(s: &str) -> App {
        App::parse(s).unwrap()
    }

    #[test]
    fn fills_name_labels_version_default_and_ext() {
        let a = app("example.com/app,channel=beta").with_platform("linux", "amd64");
        let t = "https://example.com/{name}/{channel}/{name}-{version}-{os}-{arch}.{ext}";
        assert_eq!(
            render(t, &a, EXT_ACI).as_deref(),
            Some("https://example.com/example.com/app/beta/example.com/app-latest-linux-amd64.aci")
        );
        assert_eq!(
            render(t, &a, EXT_SIGNATURE).as_deref(),
            Some(
                "https://example.com/example.com/app/beta/example.com/app-latest-linux-amd64.aci.asc"
            )
        );
    }

    #[test]
    fn any_unfilled_expression_skips_the_template() {
        let no_platform = app("example.com/app:1.0");
        assert_eq!(
            render("https://x/{name}-{os}.{ext}", &no_platform, EXT_ACI),
            None
        );
        assert_eq!(
            render("https://x/{name}-{version}.{ext}{}", &no_platform, EXT_ACI),
            None
        );
        assert_eq!(
            render(
                "https://x/{unknown label}/{name}.{ext}",
                &no_platform,
                EXT_ACI
            ),
            None
        );
        // Positive controls: the same templates once the variables exist.
        let with = app("example.com/app:1.0").with_platform("linux", "amd64");
        assert_eq!(
            render("https://x/{name}-{os}.{ext}", &with, EXT_ACI).as_deref(),
            Some("https://x/example.com/app-linux.aci")
        );
        // `{` and `}` on different lines is not an expression (Go's `.` stops at a newline).
        assert_eq!(
            render("https://x/{\n}/{name}.{ext}", &no_platform, EXT_ACI).as_deref(),
            Some("https://x/{\n}/example.com/app.aci")
        );
    }

    #[test]
    fn values_are_not_escaped_and_a_value_with_braces_skips() {
        let a = app("example.com/app:1 2&3");
        assert_eq!(
            render("https://x/{version}.{ext}", &a, EXT_ACI).as_deref(),
            Some("https://x/1 2&3.aci")
        );
        let braces = app("example.com/app:{x}");
        assert_eq!(render("https://x/{version}.{ext}", &braces, EXT_ACI), None);
    }

    #[test]
    fn a_label_named_ext_wins_over_the_extension_as_in_the_reference() {
        let a = app("example.com/app,ext=tar");
        assert_eq!(
            render("https://x/a.{ext}", &a, EXT_ACI).as_deref(),
            Some("https://x/a.tar")
        );
    }
}

//! Untrusted text made safe to show on a terminal.
//!
//! A key's user ID, a revocation reason, a file name found in a trust store: any of these may hold
//! a newline (to forge a second line of output, e.g. a fake "removed key" notice), a carriage
//! return or ANSI escape sequences (to erase or recolour what was printed), or Unicode
//! bidirectional overrides (to make text read differently than it is). [`escape`] renders every
//! such character visibly as an escape (`\n`, `\r`, `\t`, `\x1b`, `\u{202e}`), so what the user
//! reads is one line and exactly what the text contains. Printable text, including non-ASCII
//! letters, is kept as it is.
//!
//! Both binaries use it for every piece of text that did not come from the user's own command line.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Is `c` rendered as an escape: C0 and C1 controls, DEL, and the invisible formatting characters
/// that change how surrounding text is displayed (bidirectional overrides and isolates, line and
/// paragraph separators, zero-width and byte-order marks).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `text` with every control or display-changing character replaced by a visible escape.
/// Borrowed when nothing needed escaping.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Like [`escape`], but keeps `\n` and `\t`: for whole messages whose own layout uses line
/// breaks and tabs and whose untrusted parts were already escaped with [`escape`]. A second line
/// of defence against terminal escape sequences, not a substitute for escaping each part.
pub fn escape_keeping_layout(text: &str) -> Cow<'_, str> {
    let layout = |c| c == '\n' || c == '\t';
    if !text.chars().any(|c| !layout(c) && needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if layout(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if !needs_escape(c) => out.push(c),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Displays its text escaped (see [`escape`]): `format!("{}", Escaped(uid))`.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_line_and_terminal_escapes_are_made_visible() {
        let uid = "Mallory\nremoved key ABCD (all images)\x1b[2K\r";
        assert_eq!(
            escape(uid),
            "Mallory\\nremoved key ABCD (all images)\\x1b[2K\\r"
        );
        assert!(!escape(uid).chars().any(char::is_control));
    }

    #[test]
    fn c1_controls_del_and_bidi_overrides_are_escaped() {
        assert_eq!(escape("a\u{7f}b\u{9b}c"), "a\\x7fb\\x9bc");
        assert_eq!(escape("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(escape("x\u{2066}y\u{feff}"), "x\\u{2066}y\\u{feff}");
    }

    #[test]
    fn printable_text_is_kept_and_borrowed() {
        let uid = "Zoë Ünïcode <zoe@example.com> — 署名";
        assert!(matches!(escape(uid), Cow::Borrowed(_)));
        assert_eq!(Escaped(uid).to_string(), uid);
    }

    #[test]
    fn messages_keep_their_own_line_breaks_and_tabs_only() {
        assert_eq!(
            escape_keeping_layout("line 1\nline\x1b[2K\r 2\n"),
            "line 1\nline\\x1b[2K\\r 2\n"
        );
        assert!(matches!(escape_keeping_layout("a\nb\tc"), Cow::Borrowed(_)));
    }
}

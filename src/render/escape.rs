//! Event text is untrusted: these functions make it safe for a terminal.
//!
//! Control characters (C0, DEL, C1 — which includes the 8-bit CSI), the bidi
//! formatting characters that reorder what a reader sees (U+202A–U+202E,
//! U+2066–U+2069, U+200E/U+200F) and the Unicode line separators are never
//! printed raw.

use std::borrow::Cow;

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// For table cells: `\n`, `\r`, `\t` as such, others as `\u{..}`.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A file's name (the journal's own files are named by name, not path), for
/// messages: a session file's or a topic's name is input, escaped like text.
pub fn escape_name(path: &std::path::Path) -> String {
    escape_text(&crate::journal::segment::file_name_lossy(path)).into_owned()
}

/// A path from the command line or the directory, for messages: its
/// characters escaped like event text (a directory name can hold a newline
/// or an escape sequence as well as any event can).
pub fn escape_path(path: &std::path::Path) -> String {
    escape_text(&path.display().to_string()).into_owned()
}

/// For JSON lines shown on a terminal: characters JSON allows raw inside
/// strings (DEL, C1, bidi, separators) become `\uXXXX`, which is still valid
/// JSON for the same string. C0 characters cannot occur raw in valid JSON.
pub fn escape_json_line(line: &[u8]) -> Cow<'_, [u8]> {
    let Ok(s) = std::str::from_utf8(line) else {
        return Cow::Borrowed(line);
    };
    if line.is_ascii() && !line.contains(&0x7f) || !s.chars().any(is_unsafe) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_obey() {
        assert_eq!(
            escape_text("a\u{1b}[31mb\r\n\u{9b}2J\u{202e}x"),
            "a\\u{1b}[31mb\\r\\n\\u{9b}2J\\u{202e}x"
        );
        assert_eq!(escape_text("plain ünïcödé 🚀"), "plain ünïcödé 🚀");
        let j = escape_json_line("{\"a\":\"\u{9b}\u{7f}\"}".as_bytes());
        assert_eq!(&*j, b"{\"a\":\"\\u009b\\u007f\"}");
        let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
        assert_eq!(v["a"], "\u{9b}\u{7f}");
    }
}

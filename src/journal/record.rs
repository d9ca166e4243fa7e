//! A parsed journal line: seq, ts, session_id, event type, and the raw bytes.
//!
//! Parsing is two-speed. [`fast_seq`] reads the leading `{"seq":N` that the
//! engine always writes first, without parsing JSON, so seq filters and
//! recovery touch a line only briefly. [`parse_line`] is the full check: UTF-8,
//! JSON, a JSON object, a numeric `seq`; it borrows from the line and does not
//! allocate for the common case. A line that fails is a [`LineFault`], never a panic.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A valid journal line.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub seq: u64,
    /// The `ts` field as written (RFC 3339), if present and a string.
    pub ts: Option<Cow<'a, str>>,
    pub session_id: Option<Cow<'a, str>>,
    /// `event.type`, if the line has an event object with a string type.
    pub event_type: Option<Cow<'a, str>>,
    /// The line as stored (without `\n` and `\r`).
    pub raw: &'a [u8],
}

impl Record<'_> {
    /// The timestamp, parsed; `None` when absent or not RFC 3339.
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        parse_ts(self.ts.as_deref()?)
    }

    /// The whole line as a JSON value (for field matches and rendering).
    pub fn value(&self) -> serde_json::Value {
        // parse_line accepted the line, so it is valid JSON.
        serde_json::from_slice(self.raw).unwrap_or(serde_json::Value::Null)
    }
}

pub fn parse_ts(ts: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Why a line is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineFault {
    /// The line holds NUL bytes (a filesystem that extended the file but lost
    /// the data): `at` is the offset of the first NUL within the line, `run` the
    /// length of that run.
    Nul { at: usize, run: usize },
    /// Not UTF-8: `at` is the offset of the first bad byte within the line.
    InvalidUtf8 { at: usize },
    /// UTF-8 but not JSON (or trailing garbage after the value).
    NotJson { message: String },
    /// JSON, but not an object with an unsigned integer `seq`.
    NoSeq { message: String },
}

impl LineFault {
    pub fn describe(&self) -> String {
        match self {
            LineFault::Nul { at, run } => format!("{run} NUL byte(s) at byte {at} of the line"),
            LineFault::InvalidUtf8 { at } => format!("invalid UTF-8 at byte {at} of the line"),
            LineFault::NotJson { message } => format!("not JSON: {message}"),
            LineFault::NoSeq { message } => format!("no numeric seq: {message}"),
        }
    }
}

#[derive(Deserialize)]
struct EventHead<'a> {
    #[serde(rename = "type", borrow, default)]
    event_type: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RecordHead<'a> {
    seq: u64,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    ts: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_event")]
    event: Option<EventHead<'a>>,
}

/// Accepts any JSON value; keeps it only when it is a string. A record with an
/// odd `ts` is still a record (verify flags it against the engine's schema).
fn opt_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrOther<'a> {
        Str(#[serde(borrow)] Cow<'a, str>),
        Other(serde::de::IgnoredAny),
    }
    Ok(match StrOrOther::deserialize(d)? {
        StrOrOther::Str(s) => Some(s),
        StrOrOther::Other(_) => None,
    })
}

fn opt_event<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<EventHead<'de>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum EventOrOther<'a> {
        Event(#[serde(borrow)] EventHead<'a>),
        Other(serde::de::IgnoredAny),
    }
    Ok(match EventOrOther::deserialize(d)? {
        EventOrOther::Event(e) => Some(e),
        EventOrOther::Other(_) => None,
    })
}

/// Fully checks a line (without `\n`; a trailing `\r` is ignored).
pub fn parse_line(line: &[u8]) -> Result<Record<'_>, LineFault> {
    let line = crate::journal::lines::strip_cr(line);
    if let Some(at) = memchr::memchr(0, line) {
        let run = line[at..].iter().take_while(|&&b| b == 0).count();
        return Err(LineFault::Nul { at, run });
    }
    let text = std::str::from_utf8(line).map_err(|e| LineFault::InvalidUtf8 {
        at: e.valid_up_to(),
    })?;
    // serde accepts a JSON array for a struct; a record must be an object.
    if text.trim_start().as_bytes().first() != Some(&b'{') {
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => LineFault::NoSeq {
                message: "not a JSON object".to_owned(),
            },
            Err(e) => LineFault::NotJson {
                message: e.to_string(),
            },
        });
    }
    // Syntax errors and shape errors are told apart: "not JSON" vs "no seq".
    match serde_json::from_str::<RecordHead>(text) {
        Ok(head) => Ok(Record {
            seq: head.seq,
            ts: head.ts,
            session_id: head.session_id,
            event_type: head.event.and_then(|e| e.event_type),
            raw: line,
        }),
        Err(e) if e.is_data() => Err(LineFault::NoSeq {
            message: e.to_string(),
        }),
        Err(e) => Err(LineFault::NotJson {
            message: e.to_string(),
        }),
    }
}

/// Reads the seq of a line written as `{"seq":N,...` without parsing JSON.
/// `None` means "not in the engine's shape": fall back to [`parse_line`].
pub fn fast_seq(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 20 || rest.get(digits).is_none_or(|&b| b != b',' && b != b'}') {
        return None;
    }
    if digits > 1 && rest[0] == b'0' {
        return None; // a leading zero is not JSON
    }
    let mut n: u64 = 0;
    for &b in &rest[..digits] {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Reads the `ts` string that follows the leading seq in the engine's shape
/// (`{"seq":N,"ts":"..."`) without parsing the rest of the line.
pub(crate) fn fast_ts(line: &[u8]) -> Option<&str> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = rest[digits..].strip_prefix(b",\"ts\":\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engine_line() {
        let line = br#"{"seq":42,"ts":"2026-11-22T10:15:03.123456789Z","session_id":"sess-7","event":{"type":"message_appended","content":"hi \"x\""}}"#;
        let r = parse_line(line).unwrap();
        assert_eq!(r.seq, 42);
        assert_eq!(r.session_id.as_deref(), Some("sess-7"));
        assert_eq!(r.event_type.as_deref(), Some("message_appended"));
        assert_eq!(r.timestamp().unwrap().timestamp_subsec_nanos(), 123_456_789);
        assert_eq!(fast_seq(line), Some(42));
        assert_eq!(fast_ts(line), Some("2026-11-22T10:15:03.123456789Z"));
    }

    #[test]
    fn tells_faults_apart() {
        assert!(matches!(
            parse_line(b"{\"seq\":1,\"ev"),
            Err(LineFault::NotJson { .. })
        ));
        assert!(matches!(
            parse_line(b"{\"seq\":\"1\"}"),
            Err(LineFault::NoSeq { .. })
        ));
        assert!(matches!(parse_line(b"[1,2]"), Err(LineFault::NoSeq { .. })));
        assert!(matches!(
            parse_line(b"{\"seq\":-1}"),
            Err(LineFault::NoSeq { .. })
        ));
        assert_eq!(
            parse_line(b"{\"seq\":1,\"x\":\"\xff\"}").unwrap_err(),
            LineFault::InvalidUtf8 { at: 14 }
        );
        assert_eq!(
            parse_line(b"\0\0\0").unwrap_err(),
            LineFault::Nul { at: 0, run: 3 }
        );
        assert!(matches!(
            parse_line(b"{\"seq\":1} x"),
            Err(LineFault::NotJson { .. })
        ));
    }

    #[test]
    fn accepts_reordered_and_extra_fields() {
        let r = parse_line(b"{\"event\":{\"type\":\"x\"},\"extra\":[1],\"seq\":7}\r").unwrap();
        assert_eq!(r.seq, 7);
        assert_eq!(r.event_type.as_deref(), Some("x"));
        assert_eq!(r.session_id, None);
        assert_eq!(fast_seq(b"{\"event\":1,\"seq\":7}"), None);
    }

    #[test]
    fn fast_seq_rejects_what_json_rejects() {
        assert_eq!(fast_seq(b"{\"seq\":01,"), None);
        assert_eq!(fast_seq(b"{\"seq\":99999999999999999999,"), None);
        assert_eq!(fast_seq(b"{\"seq\":18446744073709551615}"), Some(u64::MAX));
        assert_eq!(fast_seq(b"{\"seq\":1.5,"), None);
    }
}

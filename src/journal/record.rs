//! A parsed journal line: seq, ts, session_id, event type, and the raw bytes.
//!
//! This is the one place that decides whether a line is a record, for every
//! command. A line is a record when it is UTF-8 without NUL bytes, exactly one
//! JSON value that `serde_json::Value` accepts (so every `\uXXXX` escape is a
//! valid scalar or surrogate pair and every number is a finite double), an
//! object, with an unsigned integer `seq`, and with no key the record head
//! reads (`seq`, `ts`, `session_id`, `event`, and `type` inside `event`)
//! written twice: readers disagree on which of two copies counts (the engine's
//! serde derive refuses them), so such a line is damage, not a record.
//!
//! Two speeds, one answer. [`parse_line`] first tries the fast path
//! ([`fastline`]: the engine's field order, plain strings, one validating
//! pass); anything else goes to the exact parser behind it (a serde visitor
//! over borrowed input, gated by the same validator). A property test holds
//! both to a serde_json reference. [`fast_seq`] and the `ts` probe only read
//! the leading `{"seq":N` of the engine's shape: they are hints for
//! prefilters, never a verdict on the line. A line that fails is a
//! [`LineFault`], never a panic.
//!
//! [`fastline`]: crate::journal::fastline

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::journal::fastline::{fast_record, valid_json};
use crate::journal::schema::{EngineProblem, type_fields};

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

pub use crate::journal::defect::LineFault;

/// Fully checks a line (without `\n`; a trailing `\r` is ignored).
pub fn parse_line(line: &[u8]) -> Result<Record<'_>, LineFault> {
    let line = crate::journal::lines::strip_cr(line);
    if let Some(f) = fast_record(line) {
        return Ok(Record {
            seq: f.seq,
            ts: Some(Cow::Borrowed(f.ts)),
            session_id: f.session_id.map(Cow::Borrowed),
            event_type: Some(Cow::Borrowed(f.event_type)),
            raw: line,
        });
    }
    let head = parse_head(line)?;
    Ok(Record {
        seq: head.seq,
        ts: head.ts,
        session_id: head.session_id,
        event_type: match head.event {
            Some(EventRead::Object {
                ty: TypeRead::Str(t),
                ..
            }) => Some(t),
            _ => None,
        },
        raw: line,
    })
}

/// [`parse_line`] for a line whose bytes `fast_record` already accepted (on
/// another thread, see [`scan_parallel`]), with where it found the head:
/// the line is neither validated nor read again. Any other line (`head`
/// `None`) is parsed in full.
///
/// [`scan_parallel`]: crate::journal::scan::scan_parallel
pub(crate) fn parse_prechecked_line(
    line: &[u8],
    head: Option<crate::journal::fastline::HeadSpans>,
) -> Result<Record<'_>, LineFault> {
    let stripped = crate::journal::lines::strip_cr(line);
    if let Some(f) = head.and_then(|h| h.record(stripped)) {
        return Ok(Record {
            seq: f.seq,
            ts: Some(Cow::Borrowed(f.ts)),
            session_id: f.session_id.map(Cow::Borrowed),
            event_type: Some(Cow::Borrowed(f.event_type)),
            raw: stripped,
        });
    }
    parse_line(line)
}

/// The exact parser: the record head of `line` (a trailing `\r` is
/// ignored), with what the engine needs of the event. Every fault is named.
pub(crate) fn parse_head(line: &[u8]) -> Result<Head<'_>, LineFault> {
    let line = crate::journal::lines::strip_cr(line);
    if let Some(at) = memchr::memchr(0, line) {
        let run = line[at..].iter().take_while(|&&b| b == 0).count();
        return Err(LineFault::Nul { at, run });
    }
    // SIMD validation first: std's is the slowest step on non-ASCII text.
    let text = match simdutf8::basic::from_utf8(line) {
        Ok(text) => text,
        Err(_) => {
            let at = std::str::from_utf8(line).map_or_else(|e| e.valid_up_to(), |_| 0);
            return Err(LineFault::InvalidUtf8 { at });
        }
    };
    // serde accepts a JSON array for a struct; a record must be an object.
    if text.trim_start().as_bytes().first() != Some(&b'{') {
        if !valid_json(line) {
            return Err(not_json(text));
        }
        return Err(LineFault::NoSeq {
            message: "not a JSON object".to_owned(),
        });
    }
    match serde_json::from_str::<Head>(text) {
        // serde skips unread values without checking what `Value` refuses
        // (lone surrogates, numbers out of range): the validator decides.
        // Only lines off the fast path come here, so the second pass is rare.
        Ok(_) if !valid_json(line) => Err(not_json(text)),
        Ok(head) => match head.duplicate {
            Some(key) => Err(LineFault::DuplicateKey { key }),
            None => Ok(head),
        },
        Err(_) if !valid_json(line) => Err(not_json(text)),
        Err(e) if e.is_data() => Err(LineFault::NoSeq {
            message: e.to_string(),
        }),
        Err(e) => Err(LineFault::NotJson {
            message: e.to_string(),
        }),
    }
}

/// The fault of a line the validator refuses, in serde_json's words.
fn not_json(text: &str) -> LineFault {
    let message = match serde_json::from_str::<serde_json::Value>(text) {
        Err(e) => e.to_string(),
        Ok(_) => "invalid JSON".to_owned(),
    };
    LineFault::NotJson { message }
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

/// The record head as the exact parser reads it. Unknown fields are
/// skipped unparsed (the validator has checked them).
pub(crate) struct Head<'a> {
    pub(crate) seq: u64,
    /// `ts`, when present and a string.
    pub(crate) ts: Option<Cow<'a, str>>,
    pub(crate) session_id: Option<Cow<'a, str>>,
    pub(crate) event: Option<EventRead<'a>>,
    /// The first head key found twice (the line is then not a record).
    duplicate: Option<&'static str>,
}

impl<'de> Deserialize<'de> for Head<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HeadVisitor)
    }
}

struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Head<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a journal record")
    }

    // A repeated head key is not an error here: its value is read (so the
    // syntax is still checked) and the key reported, so the caller can name it.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head<'de>, A::Error> {
        let mut seq: Option<u64> = None;
        let mut ts: Option<Option<Cow<'de, str>>> = None;
        let mut session_id: Option<Option<Cow<'de, str>>> = None;
        let mut event: Option<Option<EventRead<'de>>> = None;
        let mut duplicate: Option<&'static str> = None;
        let mut twice = |key: &'static str| {
            duplicate.get_or_insert(key);
        };
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match &*key.0 {
                "seq" => {
                    let v = map.next_value::<StrictSeq>()?.0;
                    match (seq, v) {
                        (Some(_), _) => twice("seq"),
                        (None, Ok(v)) => seq = Some(v),
                        (None, Err(message)) => {
                            return Err(de::Error::custom(message));
                        }
                    }
                }
                "ts" => {
                    let v = map.next_value::<StrProbe<'de>>()?.0;
                    if ts.replace(v).is_some() {
                        twice("ts");
                    }
                }
                "session_id" => {
                    let v = map.next_value::<StrProbe<'de>>()?.0;
                    if session_id.replace(v).is_some() {
                        twice("session_id");
                    }
                }
                "event" => {
                    let v = map.next_value::<Option<EventRead<'de>>>()?;
                    if let Some(EventRead::Object {
                        duplicate_type: true,
                        ..
                    }) = &v
                    {
                        twice("event.type");
                    }
                    if event.replace(v).is_some() {
                        twice("event");
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if duplicate.is_none() && seq.is_none() {
            return Err(de::Error::missing_field("seq"));
        }
        Ok(Head {
            seq: seq.unwrap_or(0),
            ts: ts.flatten(),
            session_id: session_id.flatten(),
            event: event.flatten(),
            duplicate,
        })
    }
}

impl<'a> Head<'a> {
    /// The head the fast path read, with the schema's verdict on the event.
    pub(crate) fn from_fast(
        f: crate::journal::fastline::FastRecord<'a>,
        problem: Option<EngineProblem>,
    ) -> Head<'a> {
        Head {
            seq: f.seq,
            ts: Some(Cow::Borrowed(f.ts)),
            session_id: f.session_id.map(Cow::Borrowed),
            event: Some(EventRead::Object {
                ty: TypeRead::Str(Cow::Borrowed(f.event_type)),
                problem,
                duplicate_type: false,
            }),
            duplicate: None,
        }
    }
}

/// The `seq` value: an unsigned integer, or why not (any other value is read
/// whole, so a later duplicate key is still found).
struct StrictSeq(Result<u64, String>);

impl<'de> Deserialize<'de> for StrictSeq {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictSeq;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("u64")
            }
            fn visit_u64<E>(self, v: u64) -> Result<StrictSeq, E> {
                Ok(StrictSeq(Ok(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<StrictSeq, E> {
                Ok(StrictSeq(Err(format!(
                    "invalid value: integer `{v}`, expected u64"
                ))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<StrictSeq, E> {
                // serde_json reads an integer beyond u64 as a double: say so,
                // rather than call `18446744073709551616` floating point.
                Ok(StrictSeq(Err(
                    if v.fract() == 0.0 && v >= 18_446_744_073_709_551_616.0 {
                        format!("seq {v:.0} is beyond the largest seq, {}", u64::MAX)
                    } else {
                        format!("invalid type: floating point `{v}`, expected u64")
                    },
                )))
            }
            fn visit_bool<E>(self, v: bool) -> Result<StrictSeq, E> {
                Ok(StrictSeq(Err(format!(
                    "invalid type: boolean `{v}`, expected u64"
                ))))
            }
            fn visit_str<E>(self, v: &str) -> Result<StrictSeq, E> {
                Ok(StrictSeq(Err(format!(
                    "invalid type: string {v:?}, expected u64"
                ))))
            }
            fn visit_unit<E>(self) -> Result<StrictSeq, E> {
                Ok(StrictSeq(
                    Err("invalid type: null, expected u64".to_owned()),
                ))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictSeq, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StrictSeq(Err(
                    "invalid type: sequence, expected u64".to_owned()
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictSeq, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StrictSeq(Err("invalid type: map, expected u64".to_owned())))
            }
        }
        d.deserialize_any(V)
    }
}

/// A map key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value; `Some` with the text when it is a string.
struct StrProbe<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for StrProbe<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrProbe<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(Some(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_unit<E>(self) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_none<E>(self) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrProbe<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StrProbe(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrProbe<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StrProbe(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `event` value, checked against the engine's schema as it is read.
pub(crate) enum EventRead<'a> {
    NotObject,
    Object {
        ty: TypeRead<'a>,
        /// The schema's verdict, when the type is a string.
        problem: Option<EngineProblem>,
        /// `type` appears twice in the event.
        duplicate_type: bool,
    },
}

pub(crate) enum TypeRead<'a> {
    Absent,
    NotString,
    Str(Cow<'a, str>),
}

fn mark(required: &[String], key: &str, seen: &mut u64) {
    if let Some(i) = required.iter().position(|f| *f == key) {
        *seen |= 1 << (i % 64);
    }
}

impl<'de> Deserialize<'de> for EventRead<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EventRead<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event")
            }
            fn visit_bool<E>(self, _: bool) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_i64<E>(self, _: i64) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_u64<E>(self, _: u64) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_f64<E>(self, _: f64) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_str<E>(self, _: &str) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_unit<E>(self) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EventRead<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(EventRead::NotObject)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventRead<'de>, A::Error> {
                // The engine writes `type` first; keys met before it are kept
                // (the only allocation, and only for events in another order).
                let mut before_type: Vec<Cow<'de, str>> = Vec::new();
                let mut ty: Option<TypeRead<'de>> = None;
                let mut required: Option<&'static [String]> = None;
                let mut seen: u64 = 0;
                let mut duplicate_type = false;
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    if key.0 == "type" && ty.is_some() {
                        duplicate_type = true;
                    }
                    if key.0 == "type" && ty.is_none() {
                        let t = match map.next_value::<StrProbe<'de>>()?.0 {
                            Some(t) => {
                                required = type_fields(&t).map(|f| f.required.as_slice());
                                if let Some(req) = required {
                                    for k in &before_type {
                                        mark(req, k, &mut seen);
                                    }
                                }
                                TypeRead::Str(t)
                            }
                            None => TypeRead::NotString,
                        };
                        ty = Some(t);
                        continue;
                    }
                    match (required, &ty) {
                        (Some(req), _) => mark(req, &key.0, &mut seen),
                        (None, None) => before_type.push(key.0),
                        (None, Some(_)) => {}
                    }
                    map.next_value::<IgnoredAny>()?;
                }
                let ty = ty.unwrap_or(TypeRead::Absent);
                let problem = match (&ty, required) {
                    (TypeRead::Str(t), None) => Some(EngineProblem::UnknownType {
                        event_type: t.to_string(),
                    }),
                    (TypeRead::Str(t), Some(req)) if seen.count_ones() as usize != req.len() => {
                        Some(EngineProblem::MissingFields {
                            event_type: t.to_string(),
                            fields: req
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| seen & (1 << (i % 64)) == 0)
                                .map(|(_, f)| f.clone())
                                .collect(),
                        })
                    }
                    _ => None,
                };
                Ok(EventRead::Object {
                    ty,
                    problem,
                    duplicate_type,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    /// What a line holds according to serde_json alone: `None` unless it is a
    /// `Value` object with an unsigned integer `seq` and no head key twice.
    type Reference = (u64, Option<String>, Option<String>, Option<String>);

    /// An object's members in order, duplicates kept.
    struct Pairs(Vec<(String, Box<serde_json::value::RawValue>)>);

    impl<'de> Deserialize<'de> for Pairs {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Pairs;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                    let mut v = Vec::new();
                    while let Some(e) = map.next_entry()? {
                        v.push(e);
                    }
                    Ok(Pairs(v))
                }
            }
            d.deserialize_map(V)
        }
    }

    fn reference(text: &str) -> Option<Reference> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        value.as_object()?;
        let pairs = serde_json::from_str::<Pairs>(text).ok()?.0;
        let one =
            |pairs: &[(String, Box<serde_json::value::RawValue>)], key: &str| {
                let mut found = pairs.iter().filter(|(k, _)| k == key);
                let first = found.next();
                match found.next() {
                    Some(_) => Err(()),
                    None => Ok(first
                        .map(|(_, v)| serde_json::from_str::<serde_json::Value>(v.get()).unwrap())),
                }
            };
        let seq = one(&pairs, "seq").ok()??.as_u64()?;
        let string = |v: Option<serde_json::Value>| v.and_then(|v| v.as_str().map(str::to_owned));
        let ts = string(one(&pairs, "ts").ok()?);
        let session = string(one(&pairs, "session_id").ok()?);
        let event = pairs.iter().find(|(k, _)| k == "event");
        one(&pairs, "event").ok()?;
        let ty = match event {
            Some((_, raw)) if raw.get().starts_with('{') => {
                let inner = serde_json::from_str::<Pairs>(raw.get()).unwrap().0;
                string(one(&inner, "type").ok()?)
            }
            _ => None,
        };
        Some((seq, ts, session, ty))
    }

    fn ours(text: &str) -> Option<Reference> {
        let r = parse_line(text.as_bytes()).ok()?;
        let own = |c: Option<Cow<'_, str>>| c.map(Cow::into_owned);
        Some((r.seq, own(r.ts), own(r.session_id), own(r.event_type)))
    }

    fn check(text: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let want = reference(text);
        prop_assert_eq!(ours(text), want.clone(), "parse_line on {}", text);
        let exact = parse_head(text.as_bytes()).ok().map(|h| h.seq);
        prop_assert_eq!(exact, want.as_ref().map(|w| w.0), "parse_head on {}", text);
        if let Some(f) = crate::journal::fastline::fast_record(text.as_bytes()) {
            let w = want.unwrap();
            prop_assert_eq!(
                (f.seq, Some(f.ts), f.session_id, Some(f.event_type)),
                (w.0, w.1.as_deref(), w.2.as_deref(), w.3.as_deref()),
                "fast_record on {}",
                text
            );
        }
        Ok(())
    }

    /// A JSON-ish string literal, escapes of every kind included.
    fn string_lit() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(r#""x""#.to_owned()),
            Just(r#""error""#.to_owned()),
            Just(r#""a\/b""#.to_owned()),
            Just(r#""\ud800""#.to_owned()),
            Just(r#""\udc00""#.to_owned()),
            Just(r#""\ud83d\ude80""#.to_owned()),
            Just(r#""\ud83dx""#.to_owned()),
            Just(r#""\u00e9\n\t\"\\\b\f\r""#.to_owned()),
            Just(r#""caf\u00E9 ∀""#.to_owned()),
            Just("\"2026-11-20T09:00:00Z\"".to_owned()),
            Just(r#""\q""#.to_owned()),
            "[a-z]{0,3}".prop_map(|s| format!("\"{s}\"")),
        ]
    }

    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            string_lit(),
            Just("1".to_owned()),
            Just("0".to_owned()),
            Just("-1".to_owned()),
            Just("1.0".to_owned()),
            Just("1e5".to_owned()),
            Just("1e400".to_owned()),
            Just("-1E-400".to_owned()),
            Just("18446744073709551615".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("1".repeat(320)),
            Just("01".to_owned()),
            Just("null".to_owned()),
            Just("true".to_owned()),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        scalar().prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec((key(), inner), 0..4).prop_map(|v| {
                    let members: Vec<String> =
                        v.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(r#""seq""#.to_owned()),
            Just(r#""ts""#.to_owned()),
            Just(r#""session_id""#.to_owned()),
            Just(r#""event""#.to_owned()),
            Just(r#""type""#.to_owned()),
            Just(r#""s\u0065q""#.to_owned()),
            Just(r#""t\u0079pe""#.to_owned()),
            Just(r#""other""#.to_owned()),
        ]
    }

    /// Lines in the engine's shape, with extra (possibly repeated) members.
    fn engine_line() -> impl Strategy<Value = String> {
        (
            0u64..5,
            string_lit(),
            proptest::option::of(string_lit()),
            string_lit(),
            proptest::collection::vec((key(), value()), 0..3),
            proptest::collection::vec((key(), value()), 0..3),
        )
            .prop_map(|(seq, ts, session, ty, event_extra, extra)| {
                let mut line = format!("{{\"seq\":{seq},\"ts\":{ts}");
                if let Some(s) = session {
                    line.push_str(&format!(",\"session_id\":{s}"));
                }
                line.push_str(&format!(",\"event\":{{\"type\":{ty}"));
                for (k, v) in event_extra {
                    line.push_str(&format!(",{k}:{v}"));
                }
                line.push('}');
                for (k, v) in extra {
                    line.push_str(&format!(",{k}:{v}"));
                }
                line.push('}');
                line
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn every_reader_agrees_with_serde_json_on_generated_lines(line in engine_line()) {
            check(&line)?;
        }

        #[test]
        fn every_reader_agrees_with_serde_json_on_mutated_lines(
            line in engine_line(),
            at in any::<proptest::sample::Index>(),
            with in prop_oneof![
                Just(""), Just("\""), Just("\\"), Just("}"), Just(","), Just(" "), Just("\\u"),
                Just("e9"), Just("\u{e9}"), Just("\0"), Just("{\"seq\":1,"),
            ],
            cut in any::<bool>(),
        ) {
            let mut at = at.index(line.len() + 1);
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            let mutated = if cut {
                format!("{}{with}", &line[..at])
            } else {
                format!("{}{with}{}", &line[..at], &line[at..])
            };
            check(&mutated)?;
        }

        #[test]
        fn every_reader_agrees_with_serde_json_on_any_object(
            members in proptest::collection::vec((key(), value()), 0..5),
        ) {
            let members: Vec<String> = members.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            check(&format!("{{{}}}", members.join(",")))?;
        }
    }

    #[test]
    fn a_seq_beyond_u64_is_not_called_floating_point() {
        let LineFault::NoSeq { message } =
            parse_line(b"{\"seq\":18446744073709551616}").unwrap_err()
        else {
            panic!("not no-seq");
        };
        assert!(
            message.contains("seq 18446744073709551616 is beyond the largest seq"),
            "{message}"
        );
    }

    #[test]
    fn duplicate_head_keys_are_refused_by_every_reader() {
        for line in [
            r#"{"seq":1,"ts":"t","event":{"type":"x"},"seq":2}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"x"},"ts":"u"}"#,
            r#"{"seq":1,"ts":"t","session_id":"a","event":{"type":"x"},"session_id":"b"}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"x","type":"y"}}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"x"},"event":{"type":"y"}}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"x"},"s\u0065q":2}"#,
        ] {
            assert!(
                matches!(
                    parse_line(line.as_bytes()),
                    Err(LineFault::DuplicateKey { .. })
                ),
                "{line}"
            );
            assert_eq!(crate::journal::fastline::fast_record(line.as_bytes()), None);
            assert!(
                LineFault::DuplicateKey { key: "seq" }
                    .describe()
                    .contains("twice")
            );
        }
    }

    #[test]
    fn escapes_are_judged_like_serde_json_values() {
        let ok = r#"{"seq":1,"ts":"t","event":{"type":"x","url":"a\/b","e":"\ud83d\ude80"}}"#;
        assert_eq!(parse_line(ok.as_bytes()).unwrap().seq, 1);
        for bad in [
            r#"{"seq":1,"ts":"t","event":{"type":"x","c":"\ud800"}}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"x","c":"\udc00"}}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"x","c":"\ud800\u0041"}}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"x","n":1e400}}"#,
            r#"{"ts":"t","seq":1,"c":"\ud800"}"#,
        ] {
            assert!(
                matches!(parse_line(bad.as_bytes()), Err(LineFault::NotJson { .. })),
                "{bad}"
            );
        }
    }
}

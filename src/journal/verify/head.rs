//! The per-line check: everything verify needs from a valid line, in one
//! serde_json pass over borrowed input, without allocating unless something
//! is wrong. Any failure falls back to `parse_line`, so faults are named
//! exactly as every other command names them.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::journal::defect::DefectKind;
use crate::journal::record::{LineFault, parse_line};
use crate::journal::schema::{EngineProblem, type_fields};

/// A valid record, and whether the engine could read it back.
pub(super) struct Checked {
    pub(super) seq: u64,
    pub(super) engine: Result<(), EngineIssue>,
}

/// Why the engine would skip a valid record.
#[derive(Debug)]
pub(super) struct EngineIssue {
    pub(super) kind: DefectKind,
    /// `(none)` when the record has no readable event type.
    pub(super) event_type: String,
    pub(super) detail: String,
}

pub(super) fn check_record(content: &[u8]) -> Result<Checked, LineFault> {
    let fast = (|| {
        if memchr::memchr(0, content).is_some() {
            return None;
        }
        // SIMD validation: std's is the slowest step on non-ASCII text.
        let text = simdutf8::basic::from_utf8(content).ok()?;
        if text.trim_start().as_bytes().first() != Some(&b'{') {
            return None;
        }
        serde_json::from_str::<VerifyHead>(text).ok()
    })();
    let Some(head) = fast else {
        // The slow path names the fault; it accepts exactly what the fast one does.
        let record = parse_line(content)?;
        return Ok(Checked {
            seq: record.seq,
            engine: Ok(()),
        });
    };
    Ok(Checked {
        seq: head.seq,
        engine: engine_verdict(head),
    })
}

fn engine_verdict(head: VerifyHead<'_>) -> Result<(), EngineIssue> {
    let mut missing: Vec<String> = Vec::new();
    if !head.ts {
        missing.push("ts".to_owned());
    }
    let mut unknown = false;
    let mut event_type = None;
    match head.event {
        None => missing.push("event".to_owned()),
        Some(EventRead::NotObject) => missing.push("event (not an object)".to_owned()),
        Some(EventRead::Object { ty, problem }) => match ty {
            TypeRead::Absent => missing.push("event.type".to_owned()),
            TypeRead::NotString => missing.push("event.type (not a string)".to_owned()),
            TypeRead::Str(t) => {
                event_type = Some(t);
                match problem {
                    None => {}
                    Some(EngineProblem::UnknownType { .. }) => unknown = true,
                    Some(EngineProblem::MissingFields { fields, .. }) => missing.extend(fields),
                }
            }
        },
    }
    if !unknown && missing.is_empty() {
        return Ok(());
    }
    let s = if missing.len() == 1 { "" } else { "s" };
    let detail = match (&event_type, unknown) {
        (Some(t), true) if missing.is_empty() => {
            format!("event type \"{t}\" is unknown to the engine: it skips the line")
        }
        (Some(t), true) => format!(
            "event type \"{t}\" is unknown to the engine and the record lacks field{s} {}: \
             it skips the line",
            missing.join(", ")
        ),
        (Some(t), false) => format!(
            "the \"{t}\" record lacks required field{s} {}: the engine skips the line",
            missing.join(", ")
        ),
        (None, _) => format!(
            "the record lacks required field{s} {}: the engine skips the line",
            missing.join(", ")
        ),
    };
    Err(EngineIssue {
        kind: if unknown {
            DefectKind::EngineUnknownType
        } else {
            DefectKind::EngineMissingField
        },
        event_type: event_type.map_or_else(|| "(none)".to_owned(), Cow::into_owned),
        detail,
    })
}

/// The record as verify reads it. Unknown fields are skipped unparsed.
struct VerifyHead<'a> {
    seq: u64,
    /// `ts` is present and a string.
    ts: bool,
    event: Option<EventRead<'a>>,
}

impl<'de> Deserialize<'de> for VerifyHead<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HeadVisitor)
    }
}

struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = VerifyHead<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a journal record")
    }

    // Mirrors the derived `RecordHead` of `record.rs`: the same fields are
    // required and the same duplicates rejected, so both accept the same lines.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VerifyHead<'de>, A::Error> {
        let mut seq: Option<u64> = None;
        let mut ts = None;
        let mut session_id = false;
        let mut event: Option<Option<EventRead<'de>>> = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match &*key.0 {
                "seq" => {
                    if seq.is_some() {
                        return Err(de::Error::duplicate_field("seq"));
                    }
                    seq = Some(map.next_value()?);
                }
                "ts" => {
                    if ts.is_some() {
                        return Err(de::Error::duplicate_field("ts"));
                    }
                    ts = Some(map.next_value::<StrProbe<'de>>()?.0.is_some());
                }
                "session_id" => {
                    if session_id {
                        return Err(de::Error::duplicate_field("session_id"));
                    }
                    session_id = true;
                    map.next_value::<IgnoredAny>()?;
                }
                "event" => {
                    if event.is_some() {
                        return Err(de::Error::duplicate_field("event"));
                    }
                    event = Some(map.next_value::<Option<EventRead<'de>>>()?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(VerifyHead {
            seq: seq.ok_or_else(|| de::Error::missing_field("seq"))?,
            ts: ts.unwrap_or(false),
            event: event.flatten(),
        })
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
enum EventRead<'a> {
    NotObject,
    Object {
        ty: TypeRead<'a>,
        /// The schema's verdict, when the type is a string.
        problem: Option<EngineProblem>,
    },
}

enum TypeRead<'a> {
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
                while let Some(key) = map.next_key::<Key<'de>>()? {
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
                Ok(EventRead::Object { ty, problem })
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
    fn fast_check_accepts_exactly_what_parse_line_accepts() {
        for text in [
            &b"{\"seq\":1}"[..],
            b"{\"seq\":1,\"seq\":2}",
            b"{\"seq\":1,\"session_id\":1,\"session_id\":2}",
            b"{\"seq\":1,\"ts\":1,\"ts\":2}",
            b"{\"seq\":1,\"event\":1,\"event\":2}",
            b"{\"seq\":1,\"event\":{\"type\":1,\"type\":\"x\"}}",
            b"{\"s\\u0065q\":1}",
            b"{\"seq\":1.0}",
            b"{\"seq\":1} ",
            b" {\"seq\":1}\r",
            b"[1]",
            b"{\"seq\":18446744073709551616}",
            b"{\"seq\":1,\"event\":null,\"ts\":null}",
        ] {
            let fast = check_record(text).map(|c| c.seq);
            let slow = parse_line(text).map(|r| r.seq);
            assert_eq!(fast, slow, "{}", String::from_utf8_lossy(text));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn fast_check_agrees_with_parse_line_on_noise(
            parts in proptest::collection::vec(prop_oneof![
                Just("{"), Just("}"), Just("\"seq\""), Just(":"), Just("1"), Just(","),
                Just("\"ts\""), Just("\"event\""), Just("\"type\""), Just("\"error\""),
                Just("\"message\""), Just("null"), Just("["), Just("]"), Just("\"x\""),
                Just("\\u0000"), Just("\0"), Just("\u{e9}"), Just(" "),
            ], 0..24)
        ) {
            let text = parts.concat();
            let fast = check_record(text.as_bytes()).map(|c| c.seq);
            let slow = parse_line(text.as_bytes()).map(|r| r.seq);
            prop_assert_eq!(fast, slow, "{}", text);
        }
    }
}

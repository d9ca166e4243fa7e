//! The per-line check: verify reads each line with the exact parser every
//! command shares ([`parse_head`]), which also tells what the engine needs of
//! the event, and turns that into the engine's verdict.
//!
//! [`parse_head`]: crate::journal::record::parse_head

use std::borrow::Cow;

use crate::journal::defect::DefectKind;
use crate::journal::fastline::fast_record_keys;
use crate::journal::record::{EventRead, Head, LineFault, TypeRead, parse_head};
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

/// `keys` is scratch space the caller keeps from line to line.
pub(super) fn check_record(
    content: &[u8],
    keys: &mut Vec<(usize, usize)>,
) -> Result<Checked, LineFault> {
    let content = crate::journal::lines::strip_cr(content);
    // The shared fast path, which also notes the event's keys: one pass.
    if let Some(f) = fast_record_keys(content, Some(keys)) {
        let problem = match type_fields(f.event_type) {
            None => Some(EngineProblem::UnknownType {
                event_type: f.event_type.to_owned(),
            }),
            Some(fields) => {
                let missing: Vec<String> = fields
                    .required
                    .iter()
                    .filter(|r| !keys.iter().any(|&(a, b)| content[a..b] == *r.as_bytes()))
                    .cloned()
                    .collect();
                (!missing.is_empty()).then(|| EngineProblem::MissingFields {
                    event_type: f.event_type.to_owned(),
                    fields: missing,
                })
            }
        };
        let head = Head::from_fast(f, problem);
        return Ok(Checked {
            seq: head.seq,
            engine: engine_verdict(head),
        });
    }
    let head = parse_head(content)?;
    Ok(Checked {
        seq: head.seq,
        engine: engine_verdict(head),
    })
}

fn engine_verdict(head: Head<'_>) -> Result<(), EngineIssue> {
    let mut missing: Vec<String> = Vec::new();
    if head.ts.is_none() {
        missing.push("ts".to_owned());
    }
    let mut unknown = false;
    let mut event_type = None;
    match head.event {
        None => missing.push("event".to_owned()),
        Some(EventRead::NotObject) => missing.push("event (not an object)".to_owned()),
        Some(EventRead::Object { ty, problem, .. }) => match ty {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::parse_line;
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
            let fast = check_record(text, &mut Vec::new()).map(|c| c.seq);
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
            let fast = check_record(text.as_bytes(), &mut Vec::new()).map(|c| c.seq);
            let slow = parse_line(text.as_bytes()).map(|r| r.seq);
            prop_assert_eq!(fast, slow, "{}", text);
        }
    }

    #[test]
    fn the_fast_path_and_the_exact_parser_give_the_same_engine_verdict() {
        for line in [
            r#"{"seq":1,"ts":"t","event":{"type":"error","message":"m"}}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"error"}}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"nope","message":"m"}}"#,
            r#"{"seq":1,"ts":"t","session_id":"s","event":{"type":"execution_started","run_id":"r"}}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"execution_started","session_id":"s","run_id":"r","started_at":"t"}}"#,
            r#"{"seq":1,"ts":"t","event":{"type":"error","nested":{"message":"m"}}}"#,
        ] {
            let fast = check_record(line.as_bytes(), &mut Vec::new()).unwrap();
            assert!(crate::journal::fastline::fast_record(line.as_bytes()).is_some());
            let exact = engine_verdict(parse_head(line.as_bytes()).unwrap());
            let show = |e: &Result<(), EngineIssue>| {
                e.as_ref()
                    .err()
                    .map(|i| (i.kind, i.event_type.clone(), i.detail.clone()))
            };
            assert_eq!(show(&fast.engine), show(&exact), "{line}");
        }
    }
}

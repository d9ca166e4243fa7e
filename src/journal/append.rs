//! Appending a batch of events given as text (what `journal append` reads on
//! stdin): each input line is checked and turned into an event the writer can
//! store, then the whole batch is written under one claim.
//!
//! Checking happens before the claim is taken, so invalid input never touches
//! the journal and the claim is held only while writing.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::Path;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::journal::error::JournalError;
pub use crate::journal::schema::EngineProblem;
use crate::journal::schema::engine_check;
use crate::journal::writer::{EventJson, Opened, Writer, WriterOptions, compact_json};

/// How input lines are read.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// Each line is a whole record (`session_id`, `event`; `seq` and `ts` are
    /// replaced). Default: each line is an event object.
    pub records: bool,
    /// The session_id given to every event (event mode only). Default none.
    pub session: Option<String>,
    /// Accept events the engine cannot read back. Default off.
    pub any_type: bool,
}

/// One event ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub session_id: Option<String>,
    /// The `seq` the input record carried (`--records` mode), if any: a copy
    /// must keep the records in order, so the caller checks these increase.
    pub orig_seq: Option<u64>,
    pub event_type: String,
    pub event: EventJson,
}

/// Why an input line cannot be appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputProblem {
    #[error("invalid UTF-8 at byte {at}")]
    NotUtf8 { at: usize },
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a JSON object")]
    NotAnObject,
    #[error("the event has no string \"type\"")]
    NoType,
    #[error("the record has no \"event\" object")]
    NoEvent,
    #[error("\"session_id\" must be a string")]
    BadSessionId,
    #[error("\"{0}\" is not a field of a record (seq, ts, session_id, event)")]
    ExtraField(String),
    #[error("{0} (--any-type to append it anyway)")]
    Engine(EngineProblem),
    #[error("longer than {limit} bytes: every reader would skip it as line-too-long")]
    TooLong { limit: usize },
}

/// The longest input line `append` takes: what the readers accept, less room
/// for the record head the writer adds.
pub const MAX_INPUT_LINE: usize = crate::journal::lines::ReadOptions::DEFAULT_MAX_LINE - 4096;

/// Reads one input line into `buf` (cleared first), holding at most `limit`
/// bytes of it: a longer line is read through to its end without being kept,
/// and is `Err(TooLong)`. `Ok(false)` at the end of the input.
pub fn read_input_line(
    input: &mut impl std::io::BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Result<bool, InputProblem>> {
    use std::io::{BufRead, Read};
    buf.clear();
    let n = input
        .by_ref()
        .take(limit as u64 + 1)
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(Ok(false));
    }
    let body = buf.strip_suffix(b"\n").unwrap_or(buf);
    if body.len() > limit {
        if !buf.ends_with(b"\n") {
            input.skip_until(b'\n')?;
        }
        buf.clear();
        return Ok(Err(InputProblem::TooLong { limit }));
    }
    Ok(Ok(true))
}

/// Checks one input line (without its `\n`; a `\r` is ignored). A blank line
/// is `Ok(None)`.
pub fn prepare(line: &[u8], opts: &InputOptions) -> Result<Option<Prepared>, InputProblem> {
    let line = crate::journal::lines::strip_cr(line);
    let text = std::str::from_utf8(line).map_err(|e| InputProblem::NotUtf8 {
        at: e.valid_up_to(),
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut orig_seq = None;
    let (session_id, event_raw) = if opts.records {
        let fields: HashMap<String, &RawValue> = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) if e.is_data() => return Err(InputProblem::NotAnObject),
            Err(e) => return Err(InputProblem::NotJson(e.to_string())),
        };
        if let Some(extra) = fields
            .keys()
            .filter(|k| !matches!(k.as_str(), "seq" | "ts" | "session_id" | "event"))
            .min()
        {
            return Err(InputProblem::ExtraField(extra.clone()));
        }
        let session = match fields.get("session_id").map(|r| r.get()) {
            None | Some("null") => None,
            Some(raw) => {
                Some(serde_json::from_str::<String>(raw).map_err(|_| InputProblem::BadSessionId)?)
            }
        };
        orig_seq = fields
            .get("seq")
            .and_then(|r| serde_json::from_str::<u64>(r.get()).ok());
        let event = fields.get("event").ok_or(InputProblem::NoEvent)?.get();
        if !event.starts_with('{') {
            return Err(InputProblem::NoEvent);
        }
        (session, event)
    } else {
        let raw: &RawValue =
            serde_json::from_str(text).map_err(|e| InputProblem::NotJson(e.to_string()))?;
        if !raw.get().starts_with('{') {
            return Err(InputProblem::NotAnObject);
        }
        (opts.session.clone(), raw.get())
    };
    // The raw text is valid JSON (serde checked it); the map is for the checks.
    let map: Map<String, Value> =
        serde_json::from_str(event_raw).map_err(|e| InputProblem::NotJson(e.to_string()))?;
    let Some(Value::String(event_type)) = map.get("type") else {
        return Err(InputProblem::NoType);
    };
    if !opts.any_type {
        engine_check(event_type, &map).map_err(InputProblem::Engine)?;
    }
    Ok(Some(Prepared {
        session_id,
        orig_seq,
        event_type: event_type.clone(),
        event: EventJson::from_compact_unchecked(compact_json(event_raw)),
    }))
}

/// What a batch did.
#[derive(Debug, Clone)]
pub struct BatchDone {
    /// What opening the journal found and did (a tail cut, the max seq).
    pub opened: Opened,
    /// The seqs appended; `None` for an empty batch.
    pub seqs: Option<RangeInclusive<u64>>,
}

/// Appends `events` to the journal in `dir` under one claim, stamped now,
/// and commits (fsync when `opts.fsync`) before returning.
pub fn append_batch(
    dir: &Path,
    events: &[Prepared],
    opts: WriterOptions,
) -> Result<BatchDone, JournalError> {
    let mut writer = Writer::open(dir, opts)?;
    let mut first = None;
    let mut last = 0;
    for ev in events {
        let done = writer.append(ev.session_id.as_deref(), &ev.event)?;
        first.get_or_insert(done.seq);
        last = done.seq;
    }
    writer.commit()?;
    Ok(BatchDone {
        opened: writer.opened().clone(),
        seqs: first.map(|f| f..=last),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str, opts: &InputOptions) -> Prepared {
        prepare(line.as_bytes(), opts).unwrap().unwrap()
    }

    #[test]
    fn events_keep_their_field_order_and_get_the_session() {
        let opts = InputOptions {
            session: Some("s-1".into()),
            ..InputOptions::default()
        };
        let p = ok(
            "{\"type\": \"error\", \"z\": 1, \"message\": \"a \\\"b\\\"\"}\r",
            &opts,
        );
        assert_eq!(
            p.event.as_str(),
            r#"{"type":"error","z":1,"message":"a \"b\""}"#
        );
        assert_eq!(p.session_id.as_deref(), Some("s-1"));
        assert_eq!(p.event_type, "error");
        assert_eq!(prepare(b"  ", &opts), Ok(None));
    }

    #[test]
    fn records_keep_their_session_and_lose_seq_and_ts() {
        let opts = InputOptions {
            records: true,
            ..InputOptions::default()
        };
        let p = ok(
            r#"{"seq":9,"ts":"x","session_id":"s-2","event":{"type":"cancelled"}}"#,
            &opts,
        );
        assert_eq!(p.session_id.as_deref(), Some("s-2"));
        assert_eq!(p.orig_seq, Some(9));
        assert_eq!(p.event.as_str(), r#"{"type":"cancelled"}"#);
        let p = ok(r#"{"event":{"type":"cancelled"},"session_id":null}"#, &opts);
        assert_eq!(p.session_id, None);
        for (line, problem) in [
            (
                r#"{"event":{"type":"cancelled"},"x":1}"#,
                InputProblem::ExtraField("x".into()),
            ),
            (r#"{"session_id":"s"}"#, InputProblem::NoEvent),
            (r#"{"event":[1]}"#, InputProblem::NoEvent),
            (
                r#"{"event":{"type":"cancelled"},"session_id":3}"#,
                InputProblem::BadSessionId,
            ),
            ("[1]", InputProblem::NotAnObject),
        ] {
            assert_eq!(prepare(line.as_bytes(), &opts), Err(problem), "{line}");
        }
    }

    #[test]
    fn invalid_events_are_told_apart() {
        let opts = InputOptions::default();
        assert_eq!(prepare(b"[1]", &opts), Err(InputProblem::NotAnObject));
        assert_eq!(prepare(b"{\"type\":1}", &opts), Err(InputProblem::NoType));
        assert_eq!(
            prepare(b"{\"a\":\"\xff\"}", &opts),
            Err(InputProblem::NotUtf8 { at: 6 })
        );
        assert!(matches!(
            prepare(b"{\"type\":", &opts),
            Err(InputProblem::NotJson(_))
        ));
        assert!(matches!(
            prepare(b"{\"type\":\"made_up\"}", &opts),
            Err(InputProblem::Engine(EngineProblem::UnknownType { .. }))
        ));
        assert!(matches!(
            prepare(b"{\"type\":\"error\"}", &opts),
            Err(InputProblem::Engine(EngineProblem::MissingFields { .. }))
        ));
        let any = InputOptions {
            any_type: true,
            ..InputOptions::default()
        };
        assert_eq!(ok("{\"type\":\"made_up\"}", &any).event_type, "made_up");
    }

    #[test]
    fn input_lines_are_capped_without_being_held() {
        let mut input = std::io::Cursor::new(b"short\n0123456789abcdef\nnext\nlast".to_vec());
        let mut buf = Vec::new();
        let mut got = Vec::new();
        loop {
            match read_input_line(&mut input, &mut buf, 10).unwrap() {
                Ok(false) => break,
                Ok(true) => got.push(String::from_utf8(buf.clone()).unwrap()),
                Err(p) => {
                    assert!(buf.capacity() <= 64, "the long line was not held whole");
                    got.push(p.to_string());
                }
            }
        }
        assert_eq!(
            got,
            [
                "short\n",
                "longer than 10 bytes: every reader would skip it as line-too-long",
                "next\n",
                "last"
            ]
        );
    }
}

//! The per-topic log's tamper evidence: each event's
//! `harn.provenance.record_hash` is `"sha256:" + hex(sha256(C))`, where C is
//! the canonical JSON of `{"topic","event_id","kind","payload","headers",
//! "occurred_at_ms"}` with `headers` minus `record_hash` itself (object keys
//! sorted by UTF-8 bytes at every depth, array order kept, serde_json's number
//! and string encoding, no whitespace); `harn.provenance.prev_hash` links it to
//! the previous event of the same topic.

use serde_json::Value;
use sha2::{Digest, Sha256};

pub const SCHEMA_HEADER: &str = "harn.provenance.schema";
pub const PREV_HASH_HEADER: &str = "harn.provenance.prev_hash";
pub const RECORD_HASH_HEADER: &str = "harn.provenance.record_hash";

/// Writes `value` as canonical JSON: keys sorted by their UTF-8 bytes at
/// every depth (whatever order the map keeps), no whitespace.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // `str`'s order is the order of its UTF-8 bytes.
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        // Scalars: serde_json's own encoding.
        other => serde_json::to_writer(&mut *out, other).expect("writing to a Vec"),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec");
}

/// What the chain says about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The hash recomputed from the event.
    pub computed: String,
    /// `record_hash` as stored.
    pub stored: Option<String>,
    /// `prev_hash` as stored.
    pub prev: Option<String>,
    /// Whether the event carries the provenance schema header at all.
    pub chained: bool,
}

/// Recomputes one event's record hash from its stored line
/// `{"id":N,"event":{"kind","payload","headers","occurred_at_ms"}}`.
///
/// The runtime writes its maps sorted and without whitespace, so the parts
/// of C are usually already canonical in the line: they are then checked as
/// such and spliced ([`fast_canonical`]) instead of being parsed into values
/// and written again. Anything else (a float, an escaped key, whitespace,
/// keys out of order) takes the general path; both give the same bytes.
pub fn link(topic: &str, line: &[u8]) -> Result<Link, String> {
    if let Some(fast) = fast_link(topic, line) {
        return Ok(fast);
    }
    slow_link(topic, line)
}

fn slow_link(topic: &str, line: &[u8]) -> Result<Link, String> {
    let mut line: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let id = line.get("id").cloned().ok_or("no id")?;
    let Some(Value::Object(mut event)) = line.get_mut("event").map(Value::take) else {
        return Err("no event object".to_owned());
    };
    let mut headers = match event.remove("headers") {
        Some(Value::Object(h)) => h,
        _ => return Err("no headers object".to_owned()),
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let stored = text(headers.get(RECORD_HASH_HEADER));
    let prev = text(headers.get(PREV_HASH_HEADER));
    let chained = headers.contains_key(SCHEMA_HEADER) || stored.is_some();
    headers.remove(RECORD_HASH_HEADER);
    let mut c = serde_json::Map::new();
    c.insert("topic".to_owned(), Value::String(topic.to_owned()));
    c.insert("event_id".to_owned(), id);
    c.insert("kind".to_owned(), event.remove("kind").ok_or("no kind")?);
    c.insert(
        "payload".to_owned(),
        event.remove("payload").ok_or("no payload")?,
    );
    c.insert("headers".to_owned(), Value::Object(headers));
    c.insert(
        "occurred_at_ms".to_owned(),
        event.remove("occurred_at_ms").ok_or("no occurred_at_ms")?,
    );
    let mut canonical = Vec::with_capacity(256);
    write_canonical(&Value::Object(c), &mut canonical);
    Ok(Link {
        computed: hash_of(&canonical),
        stored,
        prev,
        chained,
    })
}

#[derive(serde::Deserialize)]
struct RawLine<'a> {
    #[serde(borrow)]
    id: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    event: RawEvent<'a>,
}

#[derive(serde::Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow)]
    kind: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    payload: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    headers: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    occurred_at_ms: &'a serde_json::value::RawValue,
}

/// [`link`] for a line whose parts are already canonical; `None` when any
/// is not (the general path then decides).
fn fast_link(topic: &str, line: &[u8]) -> Option<Link> {
    let (canonical, stored, prev, chained) = fast_canonical(topic, line)?;
    Some(Link {
        computed: hash_of(&canonical),
        stored,
        prev,
        chained,
    })
}

type Fast = (Vec<u8>, Option<String>, Option<String>, bool);

/// C spliced from the line's own bytes, with `record_hash`, `prev_hash` and
/// whether the schema header is there.
pub fn fast_canonical(topic: &str, line: &[u8]) -> Option<Fast> {
    let raw: RawLine = serde_json::from_slice(line).ok()?;
    let part = |v: &serde_json::value::RawValue| -> Option<Vec<u8>> {
        let b = v.get().as_bytes();
        (skip_canonical(b, 0, &mut None)? == b.len()).then(|| b.to_vec())
    };
    let id = part(raw.id)?;
    let kind = part(raw.event.kind)?;
    let ms = part(raw.event.occurred_at_ms)?;
    let payload = raw.event.payload.get().as_bytes();
    if skip_canonical(payload, 0, &mut None)? != payload.len() {
        return None;
    }
    let headers = raw.event.headers.get().as_bytes();
    let mut members = Some(Vec::new());
    if headers.first() != Some(&b'{') || skip_canonical(headers, 0, &mut members)? != headers.len()
    {
        return None;
    }
    let members = members?;
    let mut stored = None;
    let mut prev = None;
    let mut chained = false;
    let mut kept: Vec<&[u8]> = Vec::with_capacity(members.len());
    for m in &members {
        let key = &headers[m.key.0..m.key.1];
        let value = &headers[m.value.0..m.value.1];
        let text = || -> Option<String> {
            let inner = value.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
            (!inner.contains(&b'\\')).then(|| String::from_utf8_lossy(inner).into_owned())
        };
        match key {
            b"harn.provenance.record_hash" => {
                stored = Some(text()?);
                chained = true;
                continue;
            }
            b"harn.provenance.prev_hash" => prev = Some(text()?),
            b"harn.provenance.schema" => chained = true,
            _ => {}
        }
        kept.push(&headers[m.key.0 - 1..m.value.1]);
    }
    let mut c = Vec::with_capacity(line.len() + topic.len() + 32);
    c.extend_from_slice(b"{\"event_id\":");
    c.extend_from_slice(&id);
    c.extend_from_slice(b",\"headers\":{");
    for (i, m) in kept.iter().enumerate() {
        if i > 0 {
            c.push(b',');
        }
        c.extend_from_slice(m);
    }
    c.extend_from_slice(b"},\"kind\":");
    c.extend_from_slice(&kind);
    c.extend_from_slice(b",\"occurred_at_ms\":");
    c.extend_from_slice(&ms);
    c.extend_from_slice(b",\"payload\":");
    c.extend_from_slice(payload);
    c.extend_from_slice(b",\"topic\":");
    write_string(topic, &mut c);
    c.push(b'}');
    Some((c, stored, prev, chained))
}

/// One member of the top-level object: its key's bytes (inside the quotes)
/// and its value's span.
struct Member {
    key: (usize, usize),
    value: (usize, usize),
}

/// The end of the canonical JSON value at `b[at..]`, or `None` when it is
/// not exactly what [`write_canonical`] writes (whitespace, keys not in
/// strictly ascending byte order, an escaped key, a float, an escape
/// serde_json would not write). With `members`, the top-level object's
/// members are recorded.
fn skip_canonical(b: &[u8], at: usize, members: &mut Option<Vec<Member>>) -> Option<usize> {
    match *b.get(at)? {
        b'{' => {
            let mut i = at + 1;
            if *b.get(i)? == b'}' {
                return Some(i + 1);
            }
            let mut last: Option<(usize, usize)> = None;
            loop {
                if *b.get(i)? != b'"' {
                    return None;
                }
                let key_end = skip_string(b, i)?;
                let key = (i + 1, key_end - 1);
                if b[key.0..key.1].contains(&b'\\') {
                    return None;
                }
                if let Some(l) = last
                    && b[l.0..l.1] >= b[key.0..key.1]
                {
                    return None;
                }
                last = Some(key);
                if *b.get(key_end)? != b':' {
                    return None;
                }
                let value_end = skip_canonical(b, key_end + 1, &mut None)?;
                if let Some(m) = members.as_mut() {
                    m.push(Member {
                        key,
                        value: (key_end + 1, value_end),
                    });
                }
                match *b.get(value_end)? {
                    b',' => i = value_end + 1,
                    b'}' => return Some(value_end + 1),
                    _ => return None,
                }
            }
        }
        b'[' => {
            let mut i = at + 1;
            if *b.get(i)? == b']' {
                return Some(i + 1);
            }
            loop {
                let end = skip_canonical(b, i, &mut None)?;
                match *b.get(end)? {
                    b',' => i = end + 1,
                    b']' => return Some(end + 1),
                    _ => return None,
                }
            }
        }
        b'"' => skip_string(b, at),
        b't' => b[at..].starts_with(b"true").then_some(at + 4),
        b'f' => b[at..].starts_with(b"false").then_some(at + 5),
        b'n' => b[at..].starts_with(b"null").then_some(at + 4),
        b'-' | b'0'..=b'9' => {
            let digits_at = at + usize::from(b[at] == b'-');
            let end = digits_at
                + b[digits_at..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
            let digits = &b[digits_at..end];
            // Integers only, as serde_json writes them: no leading zero, no
            // -0, and short enough to be an i64/u64 whatever their value.
            let ok = !digits.is_empty()
                && digits.len() <= 18
                && (digits[0] != b'0' || digits.len() == 1)
                && !(b[at] == b'-' && digits == b"0")
                && !matches!(b.get(end), Some(b'.' | b'e' | b'E'));
            ok.then_some(end)
        }
        _ => None,
    }
}

/// The end of the string at `b[at]` (a `"`), if its escapes are exactly
/// serde_json's (`\"`, `\\`, `\b\f\n\r\t`, `\u00xx` for the other control
/// characters, lowercase) and it holds no raw control character.
fn skip_string(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        let rest = b.get(i..)?;
        let j = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        i += j;
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => match *b.get(i + 1)? {
                b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = b.get(i + 2..i + 6)?;
                    let is_lower_hex = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
                    if hex[0] != b'0' || hex[1] != b'0' || !hex.iter().all(is_lower_hex) {
                        return None;
                    }
                    let v = u8::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()?;
                    if v >= 0x20 || matches!(v, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            },
            _ => return None,
        }
    }
}

/// `"sha256:" + hex(sha256(bytes))`.
pub fn hash_of(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        use std::fmt::Write;
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_keys_by_bytes_at_every_depth_and_keeps_arrays() {
        let v: Value =
            serde_json::from_str(r#"{"b":1,"a":{"z":[3,{"y":1,"x":"é\n"}],"Z":null},"é":1.5}"#)
                .unwrap();
        let mut out = Vec::new();
        write_canonical(&v, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":{"Z":null,"z":[3,{"x":"é\n","y":1}]},"b":1,"é":1.5}"#
        );
    }

    /// The general path's C, for comparing with the fast path.
    fn slow_canonical(topic: &str, line: &[u8]) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(line).unwrap();
        let mut event = v["event"].take();
        event["headers"]
            .as_object_mut()
            .unwrap()
            .remove(RECORD_HASH_HEADER);
        let c = serde_json::json!({
            "topic": topic, "event_id": v["id"], "kind": event["kind"],
            "payload": event["payload"], "headers": event["headers"],
            "occurred_at_ms": event["occurred_at_ms"],
        });
        let mut out = Vec::new();
        write_canonical(&c, &mut out);
        out
    }

    fn line_with(payload: &str, headers: &str) -> Vec<u8> {
        format!(
            r#"{{"id":7,"event":{{"kind":"k","payload":{payload},"headers":{headers},"occurred_at_ms":12}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn the_fast_path_splices_exactly_what_the_general_path_writes() {
        let h = r#"{"a":"x","harn.provenance.record_hash":"sha256:00","z":"\n"}"#;
        for payload in [
            r#"{}"#,
            r#"[]"#,
            r#"{"a":[1,-2,true,false,null,"é\u001f\"\\"],"b":{"c":{}}}"#,
            r#"{"n":123456789012345678}"#,
            r#""plain""#,
        ] {
            let line = line_with(payload, h);
            let (fast, stored, _, chained) = fast_canonical("t.x", &line).expect(payload);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow_canonical("t.x", &line)).unwrap()
            );
            assert_eq!(stored.as_deref(), Some("sha256:00"));
            assert!(chained);
        }
    }

    #[test]
    fn anything_not_already_canonical_takes_the_general_path() {
        let h = r#"{"harn.provenance.record_hash":"sha256:00"}"#;
        for payload in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{ "a":1}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":12345678901234567890}"#,
            r#"{"\u0061":1}"#,
            r#""\u00e9""#,
            r#""\/""#,
            r#""\u000a""#,
            r#""\u001F""#,
        ] {
            let line = line_with(payload, h);
            assert!(fast_canonical("t", &line).is_none(), "{payload}");
            // The general path still answers, and link() agrees with it.
            let mut expected = Vec::new();
            expected.extend_from_slice(&slow_canonical("t", &line));
            assert_eq!(link("t", &line).unwrap().computed, hash_of(&expected));
        }
    }

    #[test]
    fn the_first_probe_event_hashes_as_the_runtime_wrote_it() {
        let line = br#"{"id":1,"event":{"kind":"k","payload":{"i":0},"headers":{"harn.provenance.record_hash":"sha256:1792037ff055a4a65634a01e8949ea1e5b723f08c1c528944da2dc18bd7a3a74","harn.provenance.schema":"harn-eventlog-provenance-v1"},"occurred_at_ms":1795683600000}}"#;
        let link = link("probe.topic", line).unwrap();
        assert_eq!(link.stored.as_deref(), Some(link.computed.as_str()));
        assert_eq!(link.prev, None);
        assert!(link.chained);
    }
}

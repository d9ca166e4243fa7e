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
pub fn link(topic: &str, line: &[u8]) -> Result<Link, String> {
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

    #[test]
    fn the_first_probe_event_hashes_as_the_runtime_wrote_it() {
        let line = br#"{"id":1,"event":{"kind":"k","payload":{"i":0},"headers":{"harn.provenance.record_hash":"sha256:1792037ff055a4a65634a01e8949ea1e5b723f08c1c528944da2dc18bd7a3a74","harn.provenance.schema":"harn-eventlog-provenance-v1"},"occurred_at_ms":1795683600000}}"#;
        let link = link("probe.topic", line).unwrap();
        assert_eq!(link.stored.as_deref(), Some(link.computed.as_str()));
        assert_eq!(link.prev, None);
        assert!(link.chained);
    }
}

//! `recover`'s report: the max seq on stdout and notes on stderr, or the
//! `journal-recover/1` object.

use crate::render::escape::escape_name;
use std::io::{self, Write};
use std::path::Path;

use serde_json::Value;

use crate::recover::{MaxSeqSource, Recovery};

/// The max seq (a script reads it), then what a person should know on stderr.
pub fn write_text(out: &mut dyn Write, recovery: &Recovery) -> io::Result<()> {
    writeln!(out, "{}", recovery.max_seq)?;
    let from = match recovery.max_seq_source {
        MaxSeqSource::Line => "the max seq comes from an older segment",
        _ => "no segment holds one: the max seq continues from the newest segment's name",
    };
    for seg in &recovery.segments_without_valid_line {
        say!(
            "journal: note: {} holds no complete valid line; {from}",
            escape_name(seg)
        );
    }
    if let Some(t) = &recovery.torn_tail {
        say!(
            "journal: note: {} has {} bytes after its last complete valid line (from byte {}): \
             a torn tail that a restarting writer cuts",
            escape_name(&t.segment),
            t.bytes,
            t.offset
        );
    }
    Ok(())
}

/// The `--json` object, schema [`RECOVER_SCHEMA`](super::RECOVER_SCHEMA): the
/// core's [`Recovery`] and `dir`.
pub fn json(dir: &Path, recovery: &Recovery) -> serde_json::Result<Value> {
    let mut value = serde_json::to_value(recovery)?;
    value["dir"] = Value::String(dir.display().to_string());
    value["format"] = Value::String("segments".to_owned());
    Ok(value)
}

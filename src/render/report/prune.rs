//! `prune`'s report: each segment deleted and what is left, warnings on
//! stderr; or the `journal-prune/1` object.

use crate::render::escape::escape_name;
use std::io::{self, Write};
use std::path::Path;

use serde_json::Value;

use super::human_bytes;
use crate::prune::PruneReport;

/// What did not stop the prune but a person should know, on stderr.
pub fn warnings(r: &PruneReport) {
    for w in &r.warnings {
        say!(
            "journal: warning: {}: {}",
            escape_name(&w.segment),
            w.message
        );
    }
    for h in &r.held_back {
        if h.cursor.is_none() {
            say!(
                "journal: warning: --keep-unread {}: no such file yet: that reader has not \
                 started and will read from the oldest event, so every segment is kept",
                h.cursor_file.display()
            );
        }
    }
}

/// The `--json` object, schema [`PRUNE_SCHEMA`](super::PRUNE_SCHEMA): the
/// core's [`PruneReport`] and `dir`.
pub fn json(dir: &Path, r: &PruneReport) -> serde_json::Result<Value> {
    let mut value = serde_json::to_value(r)?;
    value["dir"] = Value::String(dir.display().to_string());
    value["format"] = Value::String("segments".to_owned());
    Ok(value)
}

/// What was (or would be) deleted and what is left, for people.
pub fn write_text(out: &mut dyn Write, r: &PruneReport) -> io::Result<()> {
    let verb = if r.dry_run { "would delete" } else { "deleted" };
    for p in &r.deleted {
        writeln!(
            out,
            "{verb} {}  seqs {}..{}  {}",
            escape_name(&p.segment),
            p.start_seq,
            p.last_seq,
            human_bytes(p.bytes)
        )?;
    }
    for q in &r.quarantine_deleted {
        writeln!(
            out,
            "{verb} {}  {}",
            escape_name(&q.path),
            human_bytes(q.bytes)
        )?;
    }
    for h in r.held_back.iter().filter(|h| !h.segments.is_empty()) {
        let n = h.segments.len();
        let at = h.cursor.map_or_else(
            || "has not started".to_owned(),
            |c| format!("is at seq {c}"),
        );
        writeln!(
            out,
            "kept {n} segment{} ({} .. {}) for {}: its reader {at}",
            if n == 1 { "" } else { "s" },
            escape_name(&h.segments[0]),
            escape_name(&h.segments[n - 1]),
            h.cursor_file.display()
        )?;
    }
    let oldest = r
        .oldest_seq
        .map_or_else(|| "none".to_owned(), |s| s.to_string());
    if r.deleted.is_empty() {
        writeln!(
            out,
            "nothing to prune: {} segment(s), {}, oldest seq {oldest}",
            r.segments_kept,
            human_bytes(r.bytes_kept)
        )?;
    } else {
        let s = if r.deleted.len() == 1 { "" } else { "s" };
        writeln!(
            out,
            "{} {} segment{s}, {} freed; {} segment(s) left, {}, oldest seq now {oldest}",
            if r.dry_run { "would prune" } else { "pruned" },
            r.deleted.len(),
            human_bytes(r.bytes_freed),
            r.segments_kept,
            human_bytes(r.bytes_kept)
        )?;
    }
    Ok(())
}

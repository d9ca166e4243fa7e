//! `append`'s report: the seq range appended on stdout; invalid input lines
//! and what opening the journal cut, on stderr; or the `journal-append/1`
//! object.

use crate::render::escape::escape_name;
use std::fmt::Display;
use std::io::{self, Write};
use std::path::Path;

use serde_json::{Value, json};

use crate::append::BatchDone;
use crate::segment::file_name_lossy;

/// An input line that was not appended (`verb`: "invalid" or "skipped").
pub fn problem(verb: &str, number: u64, problem: &dyn Display) {
    say!("journal: {verb}: stdin:{number}: {problem}");
}

/// How many more such lines were not shown.
pub fn more_problems(verb: &str, more: usize) {
    say!("journal: ... and {more} more {verb} line(s)");
}

pub fn nothing_to_append() {
    say!("journal: nothing to append: no event on stdin");
}

/// What opening the journal cut before appending, and where the bytes went.
pub fn notes(done: &BatchDone) {
    if let Some((segment, _, bytes)) = &done.opened.tail_cut.truncate() {
        say!(
            "journal: note: cut a torn tail of {bytes} bytes from {} before appending",
            escape_name(segment)
        );
    }
    for segment in done.opened.tail_cut.delete() {
        say!(
            "journal: note: removed {}, which held no complete line",
            escape_name(segment)
        );
    }
    for q in &done.opened.quarantined {
        say!(
            "journal: note: the removed bytes are saved in {}",
            crate::render::escape::escape_path(q)
        );
    }
}

/// `FIRST..LAST`; nothing for an empty batch.
pub fn write_text(out: &mut dyn Write, done: &BatchDone) -> io::Result<()> {
    if let Some(seqs) = &done.seqs {
        writeln!(out, "{}..{}", seqs.start(), seqs.end())?;
    }
    Ok(())
}

/// The `--json` object, schema [`APPEND_SCHEMA`](super::APPEND_SCHEMA).
/// `done` is `None` when stdin held no event (nothing was opened);
/// `skipped` counts the invalid lines left out (`--skip-invalid`).
pub fn json(dir: &Path, done: Option<&BatchDone>, skipped: usize) -> Value {
    let seqs = done.and_then(|d| d.seqs.clone());
    let appended = seqs.as_ref().map_or(0, |r| r.end() - r.start() + 1);
    let delete: Vec<String> = done.map_or_else(Vec::new, |d| {
        d.opened
            .tail_cut
            .delete()
            .iter()
            .map(|p| file_name_lossy(p))
            .collect()
    });
    let truncate = done
        .and_then(|d| d.opened.tail_cut.truncate())
        .map(|(p, new_len, removed)| {
            json!({"segment": file_name_lossy(p), "new_len": new_len, "removed": removed})
        });
    let quarantine: Vec<String> = done.map_or_else(Vec::new, |d| {
        d.opened
            .quarantined
            .iter()
            .map(|q| q.display().to_string())
            .collect()
    });
    json!({
        "dir": dir.display().to_string(),
        "appended": appended,
        "first_seq": seqs.as_ref().map(|r| *r.start()),
        "last_seq": seqs.as_ref().map(|r| *r.end()),
        "skipped": skipped,
        "max_seq_before": done.map(|d| d.opened.max_seq),
        "tail_cut": {"delete": delete, "truncate": truncate},
        "quarantine": quarantine,
    })
}

//! `append`'s report: the seq range appended on stdout; invalid input lines
//! and what opening the journal cut, on stderr.

use std::fmt::Display;
use std::io::{self, Write};

use crate::append::BatchDone;
use crate::segment::file_name_lossy;

/// An input line that was not appended (`verb`: "invalid" or "skipped").
pub fn problem(verb: &str, number: u64, problem: &dyn Display) {
    eprintln!("journal: {verb}: stdin:{number}: {problem}");
}

/// How many more such lines were not shown.
pub fn more_problems(verb: &str, more: usize) {
    eprintln!("journal: ... and {more} more {verb} line(s)");
}

pub fn nothing_to_append() {
    eprintln!("journal: nothing to append: no event on stdin");
}

/// What opening the journal cut before appending, and where the bytes went.
pub fn notes(done: &BatchDone) {
    if let Some((segment, _, bytes)) = &done.opened.tail_cut.truncate {
        eprintln!(
            "journal: note: cut a torn tail of {bytes} bytes from {} before appending",
            file_name_lossy(segment)
        );
    }
    for segment in &done.opened.tail_cut.delete {
        eprintln!(
            "journal: note: removed {}, which held no complete line",
            file_name_lossy(segment)
        );
    }
    for q in &done.opened.quarantined {
        eprintln!(
            "journal: note: the removed bytes are saved in {}",
            q.display()
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

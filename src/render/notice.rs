//! Notices and warnings on stderr (`journal: note: ...`, `journal: warning:
//! ...`): what a reader met besides the records it prints.

use crate::render::escape::escape_name;
use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

use crate::defect::{Defect, DefectKind};
use crate::follow::Notice;
use crate::render::escape::{escape_path, escape_text};
use crate::segment::Irregular;

/// Writes `args` and a newline to stderr in one write (see `say!`).
pub fn say_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut line = args.to_string();
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The error a command stopped on (with its causes), before the exit status.
pub fn error(error: &dyn Display) {
    // Paths and event text in messages come from input: escaped.
    say!("journal: {}", escape_text(&error.to_string()));
}

/// An entry named like a segment that every reader skips.
pub fn irregular(irr: &Irregular) {
    say!(
        "journal: warning: {} is named like a segment but is {}: skipped",
        escape_path(&irr.path),
        irr.kind.describe()
    );
}

/// `inspect` stopped at its limit: said, so nobody takes the first N for
/// everything (the scan stops there, so whether more exist is unknown).
pub fn limit_reached(shown: usize, explicit: bool) {
    say!(
        "journal: note: showed {shown} events, the limit{}; there may be more \
         (-n N for more, --all for every one)",
        if explicit { " (-n)" } else { " by default" }
    );
}

/// `inspect` on a terminal found nothing: an empty screen would leave the
/// user guessing whether it ran (a pipe gets nothing, as grep does).
pub fn no_match() {
    say!("journal: no events match");
}

/// The directory cannot be watched; polling instead.
pub fn cannot_watch(dir: &Path, error: &dyn Display, poll: Duration) {
    say!(
        "journal: warning: cannot watch {} for changes ({error}); polling every {} instead",
        escape_path(dir),
        humantime::format_duration(poll)
    );
}

/// `tail -f --retry` on a missing directory.
pub fn waiting_for_dir(dir: &Path) {
    say!(
        "journal: {}: no such directory; waiting for it to appear (--retry)",
        escape_path(dir)
    );
}

/// What a follower met (tail -f), one line on stderr.
pub fn follow(notice: &Notice) {
    match notice {
        Notice::Pruned { first, last } => {
            say!("journal: warning: seqs {first}..{last} were pruned before they could be read");
        }
        Notice::Gap {
            segment,
            offset,
            expected,
            found,
            segment_start: true,
        } => say!(
            "journal: warning: {} starts at seq {found} (byte {offset}) where seq {expected} \
             was due: seqs {expected}..{} are missing from the journal",
            escape_name(segment),
            found - 1
        ),
        Notice::Gap {
            segment,
            offset,
            expected,
            found,
            segment_start: false,
        } => say!(
            "journal: warning: {}: byte {offset}: seq {found} where seq {expected} was due: \
             seqs {expected}..{} are missing from the journal",
            escape_name(segment),
            found - 1
        ),
        Notice::NotIncreasing {
            segment,
            offset,
            last,
            found,
        } => say!(
            "journal: warning: {}: byte {offset}: seq {found} does not follow seq {last}: \
             skipped (never printed twice)",
            escape_name(segment)
        ),
        Notice::Truncated { segment, from, to } => say!(
            "journal: note: {} was cut under the reader (read to byte {from}, now {to} \
             bytes); reading it again from its start (seqs already printed are skipped)",
            escape_name(segment)
        ),
        Notice::Replaced { segment } => say!(
            "journal: note: {} was replaced by a new file; reading it (seqs already \
             printed are skipped)",
            escape_name(segment)
        ),
        Notice::DirReplaced {
            dir,
            restarted: None,
        } => say!(
            "journal: note: {} was removed and recreated; following the new directory",
            escape_path(dir)
        ),
        Notice::DirReplaced {
            dir,
            restarted: Some(max),
        } => say!(
            "journal: warning: {} was removed and recreated as a new journal whose seqs \
             started again (its max seq is {max}, below the last seq printed): following it \
             from its oldest record",
            escape_path(dir)
        ),
        Notice::Damage(d) => {
            say!(
                "journal: warning: {}: {}: {}: skipped",
                escape_text(&d.place()),
                d.kind.name(),
                escape_text(&d.detail)
            );
        }
    }
}

/// Damage met while reading, reported once on stderr after the output.
#[derive(Default)]
pub struct DamageTally {
    /// The newest segment's partial last line: normal while a writer is mid-append.
    torn_tail: Option<Defect>,
    damaged: Vec<Defect>,
    damaged_count: usize,
    /// Segments that could not be read (counted among the damaged too).
    unreadable: usize,
}

const SHOWN_PLACES: usize = 5;

impl DamageTally {
    pub fn note(&mut self, defect: Defect) {
        if defect.kind == DefectKind::TornTail {
            self.torn_tail = Some(defect);
            return;
        }
        self.damaged_count += 1;
        if defect.kind == DefectKind::Unreadable {
            self.unreadable += 1;
        }
        if self.damaged.len() < SHOWN_PLACES {
            self.damaged.push(defect);
        }
    }

    /// Something could not be read: the exit status says so (2).
    pub fn any_unreadable(&self) -> bool {
        self.unreadable > 0
    }

    pub fn report(&self, dir: &Path) {
        if let Some(t) = &self.torn_tail {
            say!(
                "journal: note: {} ends in a partial line of {} bytes at byte {} (a writer \
                 mid-append, or a crash); not shown",
                escape_name(&t.segment),
                t.len,
                t.offset
            );
        }
        if self.damaged_count == 0 {
            return;
        }
        let s = if self.damaged_count == 1 { "" } else { "s" };
        // A table's damage is values at keys; a file's, lines.
        let what = if self.damaged.iter().all(|d| d.key.is_some()) {
            "value"
        } else {
            "line"
        };
        say!("journal: skipped {} damaged {what}{s}:", self.damaged_count);
        for d in &self.damaged {
            say!(
                "  {}: {}: {}",
                escape_text(&d.place()),
                d.kind.name(),
                escape_text(&d.detail)
            );
        }
        if self.damaged_count > self.damaged.len() {
            say!("  ... and {} more", self.damaged_count - self.damaged.len());
        }
        say!(
            "journal: run `journal verify {}` for the full list",
            escape_path(dir)
        );
    }
}

/// `tail --ack-stdin` ended with records written but not acknowledged.
/// A stream's records between a reader's position and the oldest the
/// journal still holds are gone (tail over a family format).
pub fn stream_gap(dir: &Path, stream: &str, first: u64, last: u64) {
    say!(
        "journal: warning: {}: stream {}: positions {first}..{last} are no longer held (pruned or \
         compacted before they could be read)",
        escape_path(dir),
        escape_text(stream)
    );
}

/// A stream went back (tail over a family format): read again from its start.
pub fn stream_restart(dir: &Path, stream: &str, after: u64, reason: &str) {
    let why = if reason == "replaced" {
        "its file was replaced by another one".to_owned()
    } else {
        format!("its newest position is below {after}, the last one read")
    };
    say!(
        "journal: warning: {}: stream {}: {why}: the stream started again; reading it from its \
         start",
        escape_path(dir),
        escape_text(stream)
    );
}

pub fn unacknowledged(n: usize) {
    say!(
        "journal: note: {n} record(s) written were not acknowledged on stdin: the cursor stays \
         before them, and the next run sends them again"
    );
}

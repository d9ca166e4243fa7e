//! `recover`: the max seq a restarting writer must continue from.
//!
//! Like the engine, it reads only the tail of the newest segment, backwards in
//! growing windows, and takes the seq of the last complete (`\n`-terminated),
//! parseable line. Unlike the engine's plain open, when the newest segment
//! holds no such line (a crash right after rotation, a NUL tail, a torn first
//! line) it falls back to the previous segments instead of answering 0.

use std::path::PathBuf;

use serde::Serialize;

use crate::journal::error::JournalError;
use crate::journal::lines::{BackwardLines, ReadOptions};
use crate::journal::record::parse_line;
use crate::journal::segment::Listing;

/// Where the last valid line is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastValid {
    #[serde(serialize_with = "crate::journal::segment::ser::file_name")]
    pub segment: PathBuf,
    /// Offset of the line's first byte.
    pub offset: u64,
    /// Offset just past its `\n`: a writer continues here.
    pub end: u64,
    pub seq: u64,
}

/// Bytes after the last complete valid line of a segment that a restarting
/// writer would cut (a partial line, a NUL run, unparseable lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TornTail {
    #[serde(serialize_with = "crate::journal::segment::ser::file_name")]
    pub segment: PathBuf,
    pub offset: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaxSeqSource {
    /// The last complete valid line.
    Line,
    /// No valid line anywhere: the newest segment's name.
    SegmentName,
    /// No segment, or only a segment starting at seq 1 with no valid line.
    Empty,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    /// Seq of the last complete valid line; when no segment holds one, one
    /// less than the newest segment's start seq; 0 for an empty journal.
    pub max_seq: u64,
    /// Where `max_seq` comes from.
    pub max_seq_source: MaxSeqSource,
    /// The seq the next append gets; `None` (null) when `max_seq` is
    /// `u64::MAX` and no seq is left.
    pub next_seq: Option<u64>,
    /// Start seq of the oldest segment (from its name), if any.
    pub oldest_seq: Option<u64>,
    pub segments: usize,
    #[serde(serialize_with = "crate::journal::segment::ser::opt_file_name")]
    pub newest_segment: Option<PathBuf>,
    pub last_valid: Option<LastValid>,
    /// Damage at the end of the journal: in the newest segment, and in any
    /// newer segment that held no valid line at all.
    pub torn_tail: Option<TornTail>,
    /// Newest segments passed over because they hold no complete valid line.
    #[serde(serialize_with = "crate::journal::segment::ser::file_names")]
    pub segments_without_valid_line: Vec<PathBuf>,
}

pub fn recover(listing: &Listing, opts: ReadOptions) -> Result<Recovery, JournalError> {
    let mut passed_over = Vec::new();
    let mut last_valid = None;
    for seg in listing.segments.iter().rev() {
        let mut lines = match BackwardLines::open(seg.path(), seg.len(), opts) {
            Ok(lines) => lines,
            // Pruned since the listing: it held nothing newer than what remains.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(JournalError::io(seg.path(), source)),
        };
        while let Some(line) = lines
            .prev_line()
            .map_err(|e| JournalError::io(seg.path(), e))?
        {
            if !line.terminated {
                continue;
            }
            let Some(bytes) = line.content() else {
                continue;
            };
            if let Ok(rec) = parse_line(bytes) {
                last_valid = Some(LastValid {
                    segment: seg.path().to_path_buf(),
                    offset: line.offset,
                    end: line.end_offset(),
                    seq: rec.seq,
                });
                break;
            }
        }
        if last_valid.is_some() {
            break;
        }
        passed_over.push(seg.path().to_path_buf());
    }
    let newest = listing.newest();
    let torn_tail = newest.and_then(|newest| {
        let offset = match &last_valid {
            Some(lv) if lv.segment == newest.path() => lv.end,
            _ => 0,
        };
        (newest.len() > offset).then(|| TornTail {
            segment: newest.path().to_path_buf(),
            offset,
            bytes: newest.len() - offset,
        })
    });
    // With no valid line anywhere, the newest segment's name still says a
    // line with that seq was started: continuing below it would reuse seqs
    // that readers may already have seen (and that a prune then deleted).
    let (max_seq, max_seq_source) = match (&last_valid, newest) {
        (Some(lv), _) => (lv.seq, MaxSeqSource::Line),
        (None, Some(seg)) if seg.start_seq > 1 => (seg.start_seq - 1, MaxSeqSource::SegmentName),
        (None, _) => (0, MaxSeqSource::Empty),
    };
    passed_over.reverse();
    Ok(Recovery {
        max_seq,
        max_seq_source,
        next_seq: max_seq.checked_add(1),
        oldest_seq: listing.segments.first().map(|s| s.start_seq),
        segments: listing.segments.len(),
        newest_segment: newest.map(|s| s.path().to_path_buf()),
        last_valid,
        torn_tail,
        segments_without_valid_line: passed_over,
    })
}

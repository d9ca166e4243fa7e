//! Retention: deleting the oldest segments, as the engine does at boot.
//!
//! Guarantees:
//! - only a contiguous run of the oldest segments is deleted, oldest first,
//!   the directory fsynced after each unlink, so a crash can never leave a
//!   hole in the middle of the journal;
//! - the newest segment is never deleted, nor anything that is not a regular
//!   file named like a segment (quarantine files, symlinks, the lock file);
//! - everything happens under the claim, taken with a bounded wait;
//! - a dry run makes the same plan under the same claim and stops before
//!   the first unlink, so it reports exactly what a real run deletes; it
//!   writes nothing (without a lock file there is no writer to exclude, and
//!   the claim is not taken, so the file is not created).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::journal::claim::Claim;
use crate::journal::error::JournalError;
use crate::journal::lines::{BackwardLines, ReadOptions};
use crate::journal::quarantine::{QuarantineFile, list_quarantine, sync_dir};
use crate::journal::record::parse_line;
use crate::journal::segment::{LOCK_FILE_NAME, Listing};

/// The engine's own retention.
pub const DEFAULT_KEEP: usize = 64;

/// What to prune.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Keep at most this many segments (at least 1). Default 64.
    pub keep: usize,
    /// Delete the oldest segments until the journal is at most this big. Default none.
    pub max_bytes: Option<u64>,
    /// Delete the oldest segments whose newest event is older than this. Default none.
    pub max_age: Option<Duration>,
    /// "Now", for `max_age` (a parameter so tests are exact). Default: the clock.
    pub now: DateTime<Utc>,
    /// Also delete quarantine files last written longer ago than this.
    /// Default none: quarantine files are kept.
    pub quarantine_max_age: Option<Duration>,
    /// Plan under the claim but delete nothing. Default off.
    pub dry_run: bool,
    /// How long to wait for the claim. Default 5 s.
    pub wait: Duration,
    /// Readers whose unread records must survive (`--keep-unread`): no
    /// segment holding a seq after a reader's cursor is deleted. Default none.
    pub keep_unread: Vec<UnreadCursor>,
}

/// A reader's cursor that holds retention back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadCursor {
    /// The cursor file, as named (for the report).
    pub file: PathBuf,
    /// The last seq the reader processed; `None` when the file does not exist
    /// yet: a reader that has not started reads from the oldest retained
    /// event, so nothing may be deleted.
    pub after: Option<u64>,
}

/// What one cursor kept that the limits would have deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldBack {
    pub cursor_file: PathBuf,
    /// The seq in the file; null when the file does not exist.
    pub cursor: Option<u64>,
    /// The first seq this reader has not read (`cursor + 1`; null: all).
    pub unread_from: Option<u64>,
    /// Segments the limits asked to delete that hold unread seqs of this
    /// reader, oldest first.
    #[serde(serialize_with = "ser_names")]
    pub segments: Vec<PathBuf>,
}

fn ser_names<S: serde::Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(paths.len()))?;
    for p in paths {
        seq.serialize_element(&crate::journal::segment::file_name_lossy(p))?;
    }
    seq.end()
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            keep: DEFAULT_KEEP,
            max_bytes: None,
            max_age: None,
            now: Utc::now(),
            quarantine_max_age: None,
            dry_run: false,
            wait: Duration::from_secs(5),
            keep_unread: Vec::new(),
        }
    }
}

/// A segment deleted (or, in a dry run, to delete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pruned {
    #[serde(serialize_with = "crate::journal::segment::ser::file_name")]
    pub segment: PathBuf,
    pub start_seq: u64,
    /// One before the next segment's start seq (from the names).
    pub last_seq: u64,
    pub bytes: u64,
}

/// Something a person should know, that did not stop the prune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneWarning {
    #[serde(serialize_with = "crate::journal::segment::ser::file_name")]
    pub segment: PathBuf,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub deleted: Vec<Pruned>,
    pub bytes_freed: u64,
    pub segments_before: usize,
    pub segments_kept: usize,
    pub bytes_kept: u64,
    /// Start seq of the oldest segment left.
    pub oldest_seq: Option<u64>,
    pub warnings: Vec<PruneWarning>,
    /// Quarantine files deleted (or, in a dry run, to delete): `--quarantine-max-age`.
    pub quarantine_deleted: Vec<QuarantineFile>,
    pub quarantine_bytes_freed: u64,
    /// Quarantine files left, and their bytes.
    pub quarantine_kept: usize,
    pub quarantine_bytes_kept: u64,
    /// Per `--keep-unread` cursor, what it kept that the limits would have
    /// deleted (an empty `segments` list: it held nothing back).
    pub held_back: Vec<HeldBack>,
}

/// Prunes the journal in `dir` (which must be a journal).
pub fn prune(dir: &std::path::Path, opts: &PruneOptions) -> Result<PruneReport, JournalError> {
    assert!(opts.keep >= 1, "keep 0 is rejected by the caller");
    // Checked before the claim: taking it creates the lock file, which must
    // not appear in a directory that is not a journal.
    Listing::read_journal(dir)?;
    // A dry run changes nothing: where there is no lock file there is no
    // writer to exclude, and taking the claim would create the file.
    let claim = if opts.dry_run && !dir.join(LOCK_FILE_NAME).exists() {
        None
    } else {
        Some(Claim::acquire(dir, opts.wait)?)
    };
    let listing = Listing::read(dir)?;
    let mut warnings = Vec::new();
    for irr in &listing.irregular {
        warnings.push(PruneWarning {
            segment: irr.path.clone(),
            message: format!(
                "named like a segment but {}: left alone",
                irr.kind.describe()
            ),
        });
    }
    let wanted = plan(&listing, opts, &mut warnings)?;
    let (count, held_back) = hold_back(&listing, wanted, &opts.keep_unread);
    let deleted: Vec<Pruned> = (0..count)
        .map(|i| {
            let seg = &listing.segments[i];
            Pruned {
                segment: seg.path().to_path_buf(),
                start_seq: seg.start_seq,
                last_seq: listing.segments[i + 1].start_seq.saturating_sub(1),
                bytes: seg.len(),
            }
        })
        .collect();
    let quarantine = list_quarantine(dir)?;
    let (quarantine_deleted, quarantine_left): (Vec<_>, Vec<_>) = match opts.quarantine_max_age {
        Some(age) => {
            let cutoff = std::time::SystemTime::from(opts.now)
                .checked_sub(age)
                .unwrap_or(std::time::UNIX_EPOCH);
            quarantine.into_iter().partition(|q| q.modified < cutoff)
        }
        None => (Vec::new(), quarantine),
    };
    if let Some(claim) = claim.as_ref().filter(|_| !opts.dry_run) {
        for seg in &listing.segments[..count] {
            // Relative to the directory descriptor, after checking the entry
            // is still the listed regular file (never a symlink put in its place).
            claim.dir().unlink_segment(seg)?;
            // Durable before the next unlink: a crash leaves a prefix deleted, never a hole.
            claim.dir().sync()?;
        }
        for q in &quarantine_deleted {
            match std::fs::remove_file(&q.path) {
                Ok(()) => sync_dir(dir)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(JournalError::io(&q.path, e)),
            }
        }
    }
    let bytes_freed = deleted.iter().map(|p| p.bytes).sum();
    Ok(PruneReport {
        dry_run: opts.dry_run,
        bytes_freed,
        segments_before: listing.segments.len(),
        segments_kept: listing.segments.len() - count,
        bytes_kept: listing.total_bytes() - bytes_freed,
        oldest_seq: listing.segments.get(count).map(|s| s.start_seq),
        deleted,
        warnings,
        quarantine_bytes_freed: quarantine_deleted.iter().map(|q| q.bytes).sum(),
        quarantine_deleted,
        quarantine_kept: quarantine_left.len(),
        quarantine_bytes_kept: quarantine_left.iter().map(|q| q.bytes).sum(),
        held_back,
    })
}

/// Shortens the run of `wanted` oldest segments to what every reader has
/// read: segment `i` holds seqs `start(i)..start(i+1)`, so a reader whose
/// cursor is `c` lets it go only when `start(i+1) <= c + 1`. A reader
/// without a cursor yet lets nothing go.
fn hold_back(listing: &Listing, wanted: usize, cursors: &[UnreadCursor]) -> (usize, Vec<HeldBack>) {
    let segs = &listing.segments;
    let allowed = |c: &UnreadCursor| -> usize {
        let Some(after) = c.after else { return 0 };
        (0..wanted)
            .take_while(|&i| segs[i + 1].start_seq <= after.saturating_add(1))
            .count()
    };
    let count = cursors.iter().map(allowed).fold(wanted, usize::min);
    let held = cursors
        .iter()
        .map(|c| HeldBack {
            cursor_file: c.file.clone(),
            cursor: c.after,
            unread_from: c.after.map(|a| a.saturating_add(1)),
            segments: segs[allowed(c)..wanted]
                .iter()
                .map(|s| s.path().to_path_buf())
                .collect(),
        })
        .collect();
    (count, held)
}

/// How many of the oldest segments to delete: the longest run any limit asks
/// for, never the newest.
fn plan(
    listing: &Listing,
    opts: &PruneOptions,
    warnings: &mut Vec<PruneWarning>,
) -> Result<usize, JournalError> {
    let segs = &listing.segments;
    let deletable = segs.len().saturating_sub(1);
    let mut count = segs.len().saturating_sub(opts.keep);
    if let Some(max) = opts.max_bytes {
        let mut total = listing.total_bytes();
        let mut n = 0;
        while total > max && n < deletable {
            total -= segs[n].len();
            n += 1;
        }
        count = count.max(n);
    }
    if let Some(age) = opts.max_age {
        // An age beyond the calendar (`300000years`) reaches before any
        // event: nothing is that old.
        let cutoff = chrono::Duration::from_std(age)
            .ok()
            .and_then(|d| opts.now.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut n = 0;
        while n < deletable {
            let seg = &segs[n];
            match newest_timestamp(seg.path(), seg.len())? {
                None => {
                    warnings.push(PruneWarning {
                        segment: seg.path().to_path_buf(),
                        message: "holds no event with a timestamp: its age is unknown, kept"
                            .to_owned(),
                    });
                    break;
                }
                Some(ts) if ts > opts.now => {
                    warnings.push(PruneWarning {
                        segment: seg.path().to_path_buf(),
                        message: format!(
                            "its newest event is stamped in the future ({}): not trusted, kept",
                            ts.to_rfc3339()
                        ),
                    });
                    break;
                }
                Some(ts) if ts < cutoff => n += 1,
                Some(_) => break,
            }
        }
        count = count.max(n);
    }
    Ok(count.min(deletable))
}

/// The timestamp of the last complete line with a parseable `ts`.
fn newest_timestamp(
    path: &std::path::Path,
    len: u64,
) -> Result<Option<DateTime<Utc>>, JournalError> {
    let mut lines = BackwardLines::open(path, len, ReadOptions::default())
        .map_err(|e| JournalError::io(path, e))?;
    while let Some(line) = lines.prev_line().map_err(|e| JournalError::io(path, e))? {
        if !line.terminated {
            continue;
        }
        if let Some(ts) = line
            .content()
            .and_then(|b| parse_line(b).ok())
            .and_then(|r| r.timestamp())
        {
            return Ok(Some(ts));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn journal(segments: &[(u64, &[&str])]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let mut seq = 0;
        for (start, stamps) in segments {
            let mut text = String::new();
            for (i, ts) in stamps.iter().enumerate() {
                seq = start + i as u64;
                text += &format!(
                    "{{\"seq\":{seq},\"ts\":\"{ts}\",\"event\":{{\"type\":\"cancelled\"}}}}\n"
                );
            }
            fs::write(
                tmp.path()
                    .join(crate::journal::segment::segment_file_name(*start)),
                text,
            )
            .unwrap();
        }
        let _ = seq;
        tmp
    }

    fn opts() -> PruneOptions {
        PruneOptions {
            now: DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            wait: Duration::ZERO,
            ..PruneOptions::default()
        }
    }

    fn starts(r: &PruneReport) -> Vec<u64> {
        r.deleted.iter().map(|p| p.start_seq).collect()
    }

    #[test]
    fn limits_combine_into_the_longest_oldest_run() {
        let t = "2026-11-20T09:00:00Z";
        let tmp = journal(&[(1, &[t, t]), (3, &[t, t]), (5, &[t, t]), (7, &[t])]);
        let mut o = opts();
        o.keep = 3;
        o.dry_run = true;
        assert_eq!(starts(&prune(tmp.path(), &o).unwrap()), [1]);
        let seg_len = fs::metadata(tmp.path().join("events-00000000000000000001.jsonl"))
            .unwrap()
            .len();
        o.max_bytes = Some(seg_len * 2);
        assert_eq!(starts(&prune(tmp.path(), &o).unwrap()), [1, 3]);
        o.max_bytes = Some(0);
        let r = prune(tmp.path(), &o).unwrap();
        assert_eq!(starts(&r), [1, 3, 5], "never the newest");
        assert_eq!(r.oldest_seq, Some(7));
        assert_eq!(r.deleted[2].last_seq, 6);
        assert_eq!(
            tmp.path().read_dir().unwrap().count(),
            4,
            "dry run deleted nothing and created no lock file"
        );
        o.dry_run = false;
        let real = prune(tmp.path(), &o).unwrap();
        assert_eq!(real.deleted, r.deleted);
        assert_eq!(Listing::read(tmp.path()).unwrap().segments.len(), 1);
    }

    #[test]
    fn an_unread_cursor_keeps_every_segment_holding_a_seq_after_it() {
        let t = "2026-11-20T09:00:00Z";
        // Seqs 1-2, 3-4, 5-6, 7.
        let tmp = journal(&[(1, &[t, t]), (3, &[t, t]), (5, &[t, t]), (7, &[t])]);
        let mut o = opts();
        o.keep = 1;
        o.dry_run = true;
        let cursor = |after| UnreadCursor {
            file: PathBuf::from("c"),
            after,
        };
        for (after, deleted) in [
            (None, vec![]),
            (Some(0), vec![]),
            (Some(1), vec![]),
            (Some(2), vec![1]),
            (Some(3), vec![1]),
            (Some(4), vec![1, 3]),
            (Some(6), vec![1, 3, 5]),
            (Some(99), vec![1, 3, 5]),
        ] {
            o.keep_unread = vec![cursor(after)];
            let r = prune(tmp.path(), &o).unwrap();
            assert_eq!(starts(&r), deleted, "cursor {after:?}");
            assert_eq!(r.held_back[0].segments.len(), 3 - deleted.len());
        }
        // The slowest of several readers decides; each says what it held.
        o.keep_unread = vec![cursor(Some(6)), cursor(Some(3)), cursor(Some(4))];
        let r = prune(tmp.path(), &o).unwrap();
        assert_eq!(starts(&r), [1]);
        let held: Vec<usize> = r.held_back.iter().map(|h| h.segments.len()).collect();
        assert_eq!(held, [0, 2, 1]);
    }

    #[test]
    fn age_stops_at_the_first_young_future_or_undated_segment() {
        let tmp = journal(&[
            (1, &["2026-11-19T09:00:00Z", "2026-11-19T10:00:00Z"]),
            (3, &["2026-11-20T11:30:00Z"]),
            (4, &["2026-11-19T09:00:00Z"]),
            (5, &["2026-11-20T11:59:00Z"]),
        ]);
        let mut o = opts();
        o.max_age = Some(Duration::from_secs(3600));
        o.dry_run = true;
        // Segment 4 is old too, but 3 is young: only a contiguous run from 1.
        let r = prune(tmp.path(), &o).unwrap();
        assert_eq!(starts(&r), [1]);
        o.max_age = Some(Duration::from_secs(60));
        assert_eq!(starts(&prune(tmp.path(), &o).unwrap()), [1, 3, 4]);
        o.max_age = Some(Duration::from_secs(2 * 86400));
        assert!(starts(&prune(tmp.path(), &o).unwrap()).is_empty());

        let future = journal(&[
            (1, &["2027-01-01T00:00:00Z"]),
            (2, &["2026-11-19T00:00:00Z"]),
        ]);
        o.max_age = Some(Duration::from_secs(60));
        let r = prune(future.path(), &o).unwrap();
        assert!(r.deleted.is_empty());
        assert!(
            r.warnings[0].message.contains("in the future"),
            "{:?}",
            r.warnings
        );
    }
}

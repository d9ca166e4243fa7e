//! `verify`: read every segment completely and name every defect exactly.
//!
//! Guarantees:
//! - every segment is read to the length captured when it is first opened,
//!   so bytes a live writer appends meanwhile are not read (a line being
//!   written is not "corruption"); a segment deleted before it could be opened
//!   (a concurrent prune) is reported as gone, not as damaged;
//! - segments are checked in parallel, each by one worker reading forwards
//!   through [`ForwardLines`] (memory: one chunk buffer per worker plus the
//!   longest line, capped), and the results are put back in segment order, so
//!   the report is the same whatever the thread count;
//! - checks that need two segments (seq continuity across a boundary, the seqs
//!   around damage at a segment's edge) run after the per-segment results;
//! - counts are exact; at most [`VerifyOptions::max_listed`] defects are kept
//!   as values (the first ones in journal order), so a journal full of damage
//!   cannot exhaust memory.
//!
//! What each kind means and where it is placed:
//! - line damage (`torn-*`, `nul-bytes`, `invalid-utf8`, `not-json`,
//!   `no-seq`, `line-too-long`): the damaged bytes; `seq_before`/`seq_after`
//!   are the seqs of the nearest valid records before and after, across
//!   segment boundaries. An unterminated last line is torn (a warning in the
//!   newest segment, an error in a closed one); each NUL run is reported on
//!   its own with its exact offset and length, in a torn line too.
//! - record defects (`seq-*`, `name-mismatch`, `engine-*`): the whole line of
//!   the offending record; `seq_after` is that record's seq and `seq_before`
//!   the previous valid record's. Seqs are compared between consecutive valid
//!   records, whatever damaged lines lie between them: that is what any
//!   reader, the engine included, sees.
//! - segment defects (`empty-segment`, `no-complete-line`,
//!   `not-regular-file`): offset 0, the whole length, no line.
//!
//! The code: this file holds the driver and the report types;
//! [`segment`] the per-segment state and checks, [`assemble`] the
//! cross-segment assembly, [`head`] the per-line check (one serde pass).

mod assemble;
mod head;
mod segment;

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::journal::defect::{Defect, DefectKind};
use crate::journal::error::JournalError;
use crate::journal::lines::ReadOptions;
use crate::journal::segment::Listing;

use self::assemble::assemble;
use self::segment::{SegmentScan, scan_segment};

/// How `verify` runs.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Reader tuning. Default: [`ReadOptions::default`] (256 KiB chunks).
    pub read: ReadOptions,
    /// Worker threads. Default: the available parallelism.
    pub threads: usize,
    /// Warnings count as errors (`--strict`). Default false.
    pub strict: bool,
    /// Most defects kept as values; the rest are only counted. Default 10 000.
    pub max_listed: usize,
    /// Also return the exact byte range of every damaged line (for repair).
    /// Default false.
    pub collect_damaged_lines: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            read: ReadOptions::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            strict: false,
            max_listed: 10_000,
            collect_damaged_lines: false,
        }
    }
}

/// What verify learnt about one segment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SegmentSummary {
    #[serde(
        rename = "segment",
        serialize_with = "crate::journal::segment::ser::file_name"
    )]
    pub path: PathBuf,
    /// The start seq in the file name.
    pub start_seq: u64,
    /// Bytes read (the length when listed).
    pub bytes: u64,
    /// Lines, counting blank and damaged ones (the number of the last line).
    pub lines: u64,
    /// Complete valid records.
    pub records: u64,
    /// Seq of the first and last valid record.
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Deleted before it could be read (a concurrent prune): not damage.
    pub gone: bool,
    pub errors: u64,
    pub warnings: u64,
}

/// A line that is not a valid record, by its exact bytes (for repair).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedLine {
    pub line: u64,
    pub offset: u64,
    /// Bytes of the line including its `\n` when it has one.
    pub len: u64,
    pub terminated: bool,
    /// What is wrong with it (the first defect found on it).
    pub kind: DefectKind,
    /// The seq the line starts with (`{"seq":N,`), if readable: what it probably held.
    pub seq_hint: Option<u64>,
}

/// How many records of one event type the engine would skip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineSkips {
    pub unknown_type: u64,
    pub missing_field: u64,
}

/// The whole answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub dir: PathBuf,
    /// Regular segments, oldest first.
    pub segments: Vec<SegmentSummary>,
    /// Defects in journal order (segment, then offset), at most `max_listed`.
    pub defects: Vec<Defect>,
    /// Defects counted but not kept.
    pub unlisted: u64,
    pub errors: u64,
    pub warnings: u64,
    /// Exact count per kind.
    pub kinds: BTreeMap<DefectKind, u64>,
    /// Records the engine would skip, per event type (`(none)` when the record
    /// has no readable type).
    pub engine_skipped: BTreeMap<String, EngineSkips>,
    /// Per segment (same index as `segments`), the damaged lines; empty unless
    /// [`VerifyOptions::collect_damaged_lines`].
    #[serde(skip)]
    pub damaged_lines: Vec<Vec<DamagedLine>>,
    pub strict: bool,
}

impl VerifyReport {
    pub fn lines(&self) -> u64 {
        self.segments.iter().map(|s| s.lines).sum()
    }

    pub fn records(&self) -> u64 {
        self.segments.iter().map(|s| s.records).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// The first and last valid seq of the journal.
    pub fn seq_range(&self) -> Option<(u64, u64)> {
        let first = self.segments.iter().find_map(|s| s.first_seq)?;
        let last = self.segments.iter().rev().find_map(|s| s.last_seq)?;
        Some((first, last))
    }

    pub fn gone(&self) -> usize {
        self.segments.iter().filter(|s| s.gone).count()
    }
}

/// Reads every segment of `listing` and reports its defects. `progress` is
/// called with the bytes read since its last call (from the worker threads).
pub fn verify(
    listing: &Listing,
    opts: &VerifyOptions,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<VerifyReport, JournalError> {
    let n = listing.segments.len();
    let newest = n.checked_sub(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<SegmentScan, JournalError>>>> =
        Mutex::new((0..n).map(|_| None).collect());
    let threads = opts.threads.clamp(1, n.max(1));
    // Defects kept by each finished segment (unfinished: none counted).
    // Segment i may keep what the cap leaves after the finished segments
    // before it: never fewer than the report lists from it, and once the cap
    // is reached, none. So memory does not grow with the number of defects
    // (at most about `threads + 1` segments' worth of kept values), and the
    // listed defects are still the first ones in journal order.
    let kept: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let seg = &listing.segments[i];
                    let before: usize = kept[..i].iter().map(|k| k.load(Ordering::Acquire)).sum();
                    let keep = opts.max_listed.saturating_sub(before);
                    let result = scan_segment(seg, Some(i) == newest, opts, keep, progress);
                    if let Ok(scan) = &result {
                        kept[i].store(scan.defects.len(), Ordering::Release);
                    }
                    // A poisoned lock means another worker panicked; the scope re-raises it.
                    if let Ok(mut slots) = results.lock() {
                        slots[i] = Some(result);
                    }
                }
            });
        }
    });
    let slots = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut scans = Vec::with_capacity(n);
    for slot in slots {
        // Every index below n was taken by exactly one worker.
        scans.push(slot.unwrap_or_else(|| {
            Err(JournalError::io(
                &listing.dir,
                io::Error::other("segment not scanned"),
            ))
        })?);
    }
    Ok(assemble(listing, scans, opts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::defect::Severity;
    use crate::journal::segment::file_name_lossy;
    use std::fs;

    fn line(seq: u64) -> String {
        format!(
            "{{\"seq\":{seq},\"ts\":\"2026-11-20T09:00:00Z\",\"event\":{{\"type\":\"error\",\"message\":\"m\"}}}}\n"
        )
    }

    fn kinds(report: &VerifyReport) -> Vec<(DefectKind, u64, u64)> {
        report
            .defects
            .iter()
            .map(|d| (d.kind, d.offset, d.len))
            .collect()
    }

    #[test]
    fn invalid_utf8_is_placed_at_its_line_like_every_line_defect() {
        let tmp = tempfile::tempdir().unwrap();
        let bad = b"{\"seq\":2,\"ts\":\"t\",\"event\":{\"type\":\"x\",\"c\":\"ab\xff\"}}\n";
        let body = [line(1).as_bytes(), bad, line(3).as_bytes()].concat();
        fs::write(tmp.path().join("events-1.jsonl"), &body).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        let report = verify(&listing, &VerifyOptions::default(), None).unwrap();
        let d = &report.defects[0];
        assert_eq!(d.kind, DefectKind::InvalidUtf8);
        assert_eq!(
            (d.offset, d.len),
            (line(1).len() as u64, bad.len() as u64 - 1),
            "the line's own range, which repair removes"
        );
        assert!(d.detail.contains("at byte 45 of the line"), "{}", d.detail);
    }

    #[test]
    fn the_cap_lists_the_first_defects_in_journal_order_across_segments() {
        let tmp = tempfile::tempdir().unwrap();
        for seg in 0..20u64 {
            let start = seg * 100 + 1;
            let mut body = String::new();
            for k in 0..10 {
                body.push_str(&line(start + k));
                body.push_str("garbage\n");
            }
            fs::write(tmp.path().join(format!("events-{start}.jsonl")), body).unwrap();
        }
        let listing = Listing::read(tmp.path()).unwrap();
        for threads in [1, 2, 4] {
            let opts = VerifyOptions {
                max_listed: 25,
                threads,
                ..VerifyOptions::default()
            };
            let report = verify(&listing, &opts, None).unwrap();
            assert_eq!(report.kinds[&DefectKind::NotJson], 200);
            assert_eq!(
                report.defects.len() as u64 + report.unlisted,
                report.errors + report.warnings
            );
            assert_eq!(report.defects.len(), 25);
            // The first 25 in journal order: 10 + 10 from the first two
            // segments (with the seq gaps between), then the third's.
            let places: Vec<(String, u64)> = report
                .defects
                .iter()
                .map(|d| (file_name_lossy(&d.segment), d.offset))
                .collect();
            let mut sorted = places.clone();
            sorted.sort_by_key(|(name, off)| {
                (
                    name.trim_start_matches("events-")
                        .trim_end_matches(".jsonl")
                        .parse::<u64>()
                        .unwrap(),
                    *off,
                )
            });
            assert_eq!(places, sorted, "threads {threads}");
            assert!(
                places[0].0 == "events-1.jsonl"
                    && places.iter().all(|(n, _)| n != "events-401.jsonl")
            );
        }
    }

    /// Makes opening this segment fail (a stand-in for permission denied,
    /// which root, who runs the tests, never gets).
    pub(super) static UNREADABLE: Mutex<Option<PathBuf>> = Mutex::new(None);

    #[test]
    fn an_unreadable_segment_is_reported_and_the_rest_still_checked() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("events-1.jsonl"), line(1) + &line(2)).unwrap();
        fs::write(
            tmp.path().join("events-3.jsonl"),
            line(3) + "garbage\n" + &line(4),
        )
        .unwrap();
        fs::write(tmp.path().join("events-5.jsonl"), line(5)).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        *UNREADABLE.lock().unwrap() = Some(tmp.path().join("events-1.jsonl"));
        let report = verify(&listing, &VerifyOptions::default(), None);
        *UNREADABLE.lock().unwrap() = None;
        let report = report.unwrap();
        let kinds: Vec<DefectKind> = report.defects.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, [DefectKind::Unreadable, DefectKind::NotJson]);
        assert!(
            report.defects[0].detail.contains("permission denied"),
            "{:?}",
            report.defects[0]
        );
        assert_eq!(report.errors, 2);
        assert_eq!(report.records(), 3, "the other segments were read");
    }

    #[test]
    fn an_empty_newest_segment_is_a_warning_an_empty_closed_one_an_error() {
        // What a crash (or a live writer) leaves right after rotation.
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("events-1.jsonl"), line(1) + &line(2)).unwrap();
        fs::write(tmp.path().join("events-3.jsonl"), "").unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        let report = verify(&listing, &VerifyOptions::default(), None).unwrap();
        assert_eq!(
            (report.errors, report.warnings),
            (0, 1),
            "{:?}",
            report.defects
        );
        assert_eq!(report.defects[0].kind, DefectKind::EmptySegment);
        fs::write(tmp.path().join("events-3.jsonl"), line(3)).unwrap();
        fs::write(tmp.path().join("events-2.jsonl"), "").unwrap();
        fs::write(tmp.path().join("events-1.jsonl"), line(1)).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        let report = verify(&listing, &VerifyOptions::default(), None).unwrap();
        let empty = report
            .defects
            .iter()
            .find(|d| d.kind == DefectKind::EmptySegment);
        assert_eq!(
            empty.map(|d| d.severity),
            Some(Severity::Error),
            "{:?}",
            report.defects
        );
    }

    #[test]
    fn the_report_serializes_with_kinds_by_name_and_segments_by_file_name() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("events-1.jsonl"), line(1) + "{\"seq\":2").unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        let report = verify(&listing, &VerifyOptions::default(), None).unwrap();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["kinds"]["torn-tail"], 1);
        assert_eq!(json["segments"][0]["segment"], "events-1.jsonl");
        assert_eq!(json["defects"][0]["kind"], "torn-tail");
        assert!(json.get("damaged_lines").is_none());
    }

    #[test]
    fn too_long_lines_are_reported_without_being_buffered() {
        let tmp = tempfile::tempdir().unwrap();
        let long = format!("{{\"seq\":2,\"pad\":\"{}\"}}\n", "x".repeat(500));
        let body = format!("{}{long}{}", line(1), line(3));
        fs::write(tmp.path().join("events-1.jsonl"), &body).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        let opts = VerifyOptions {
            read: ReadOptions {
                chunk: 64,
                max_line: 100,
            },
            ..VerifyOptions::default()
        };
        let report = verify(&listing, &opts, None).unwrap();
        let at = line(1).len() as u64;
        assert_eq!(
            kinds(&report),
            [
                (DefectKind::LineTooLong, at, long.len() as u64 - 1),
                (
                    DefectKind::SeqGap,
                    at + long.len() as u64,
                    line(3).len() as u64 - 1
                ),
            ]
        );
        assert_eq!(report.defects[0].line, Some(2));
    }

    #[test]
    fn counts_stay_exact_past_the_listing_cap() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("events-1.jsonl"), "x\n".repeat(50)).unwrap();
        fs::write(tmp.path().join("events-2.jsonl"), "y\n".repeat(50)).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        let opts = VerifyOptions {
            max_listed: 30,
            threads: 2,
            ..VerifyOptions::default()
        };
        let report = verify(&listing, &opts, None).unwrap();
        assert_eq!(report.defects.len(), 30);
        assert_eq!(report.unlisted, 71);
        assert_eq!(
            report.errors, 101,
            "100 not-json lines and no-complete-line"
        );
        assert_eq!(report.kinds[&DefectKind::NotJson], 100);
        assert!(
            report
                .defects
                .iter()
                .all(|d| d.segment.ends_with("events-1.jsonl"))
        );
    }

    #[test]
    fn a_segment_pruned_before_it_is_read_is_gone_not_damaged() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("events-1.jsonl"), line(1) + &line(2)).unwrap();
        fs::write(tmp.path().join("events-3.jsonl"), line(3)).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        fs::remove_file(tmp.path().join("events-1.jsonl")).unwrap();
        let progressed = std::sync::atomic::AtomicU64::new(0);
        let progress = |n: u64| {
            progressed.fetch_add(n, Ordering::Relaxed);
        };
        let report = verify(&listing, &VerifyOptions::default(), Some(&progress)).unwrap();
        assert!(report.defects.is_empty(), "{:?}", report.defects);
        assert_eq!(report.gone(), 1);
        assert!(report.segments[0].gone);
        assert_eq!(report.seq_range(), Some((3, 3)));
        assert_eq!(progressed.into_inner(), listing.total_bytes());
    }

    #[test]
    fn bytes_appended_after_a_segment_is_opened_are_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("events-1.jsonl");
        fs::write(&path, line(1)).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        // The length is taken when the segment is first opened (issue 14:
        // the listing itself stats nothing); a writer's torn append after
        // that is not read.
        assert_eq!(listing.segments()[0].len(), line(1).len() as u64);
        fs::write(&path, line(1) + "{\"seq\":2,\"ts\"").unwrap();
        let report = verify(&listing, &VerifyOptions::default(), None).unwrap();
        assert!(report.defects.is_empty(), "{:?}", report.defects);
        assert_eq!(report.bytes(), line(1).len() as u64);
    }
}

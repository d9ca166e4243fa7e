//! `verify`: read every segment completely and name every defect exactly.
//!
//! Guarantees:
//! - every segment is read to the length captured when the listing was taken,
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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::journal::defect::{Defect, DefectKind, Severity};
use crate::journal::error::JournalError;
use crate::journal::lines::{ForwardLines, Line, ReadOptions};
use crate::journal::record::{LineFault, fast_seq, parse_line};
use crate::journal::scan::structural_defect;
use crate::journal::schema::{EngineProblem, type_fields};
use crate::journal::segment::{Listing, Segment, file_name_lossy};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
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
#[derive(Debug, Clone)]
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
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let seg = &listing.segments[i];
                    let result = scan_segment(seg, Some(i) == newest, opts, progress);
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

/// One segment's result before the cross-segment checks.
struct SegmentScan {
    summary: SegmentSummary,
    defects: Vec<Defect>,
    /// Defects counted but not kept (over the cap).
    dropped: u64,
    kinds: BTreeMap<DefectKind, u64>,
    /// Place of the first valid record: (line, offset, len).
    first_record: Option<(u64, u64, u64)>,
    /// Kept defects that still need `seq_before` (before the first valid
    /// record) or `seq_after` (after the last one).
    open_before: Vec<usize>,
    open_after: Vec<usize>,
    engine_skipped: BTreeMap<String, EngineSkips>,
    damaged: Vec<DamagedLine>,
    /// Damaged lines in all, before the first valid record, after the last.
    damaged_total: u64,
    damaged_leading: u64,
    damaged_trailing: u64,
}

/// Per-segment state while reading.
struct SegmentState<'a> {
    seg: &'a Segment,
    is_newest: bool,
    opts: &'a VerifyOptions,
    scan: SegmentScan,
    /// Seq of the last valid record seen.
    prev_seq: Option<u64>,
    /// Damaged lines since that record: they may have held a "missing" seq.
    damaged_since: u64,
}

impl<'a> SegmentState<'a> {
    fn new(seg: &'a Segment, is_newest: bool, opts: &'a VerifyOptions) -> Self {
        SegmentState {
            seg,
            is_newest,
            opts,
            scan: SegmentScan {
                summary: SegmentSummary {
                    path: seg.path.clone(),
                    start_seq: seg.start_seq,
                    bytes: seg.len,
                    lines: 0,
                    records: 0,
                    first_seq: None,
                    last_seq: None,
                    gone: false,
                    errors: 0,
                    warnings: 0,
                },
                defects: Vec::new(),
                dropped: 0,
                kinds: BTreeMap::new(),
                first_record: None,
                open_before: Vec::new(),
                open_after: Vec::new(),
                engine_skipped: BTreeMap::new(),
                damaged: Vec::new(),
                damaged_total: 0,
                damaged_leading: 0,
                damaged_trailing: 0,
            },
            prev_seq: None,
            damaged_since: 0,
        }
    }

    /// Records a defect: counted always, kept while under the cap.
    fn push(&mut self, mut defect: Defect) {
        if self.opts.strict {
            defect.severity = Severity::Error;
        }
        let s = &mut self.scan;
        *s.kinds.entry(defect.kind).or_default() += 1;
        match defect.severity {
            Severity::Error => s.summary.errors += 1,
            Severity::Warning => s.summary.warnings += 1,
        }
        if s.defects.len() >= self.opts.max_listed {
            s.dropped += 1;
            return;
        }
        let is_line_damage = !is_record_defect(defect.kind);
        if is_line_damage {
            defect.seq_before = self.prev_seq;
            if self.prev_seq.is_none() {
                s.open_before.push(s.defects.len());
            }
            // Filled by the next valid record, here or in a later segment.
            s.open_after.push(s.defects.len());
        }
        s.defects.push(defect);
    }

    fn damaged(&mut self, line: &Line<'_>, kind: DefectKind) {
        self.damaged_since += 1;
        self.scan.damaged_total += 1;
        if self.scan.summary.records == 0 {
            self.scan.damaged_leading += 1;
        }
        if !self.opts.collect_damaged_lines {
            return;
        }
        let seq_hint = line.content().and_then(fast_seq);
        self.scan.damaged.push(DamagedLine {
            line: line.number.unwrap_or(0),
            offset: line.offset,
            len: line.end_offset() - line.offset,
            terminated: line.terminated,
            kind,
            seq_hint,
        });
    }

    fn line(&mut self, line: Line<'_>) {
        self.scan.summary.lines = line.number.unwrap_or(self.scan.summary.lines + 1);
        if let Some(defect) = structural_defect(self.seg, self.is_newest, &line) {
            let kind = defect.kind;
            self.push(defect);
            if let Some(raw) = line.raw() {
                self.nul_runs(&line, raw);
            }
            self.damaged(&line, kind);
            return;
        }
        let Some(content) = line.content() else {
            return; // structural_defect reports every line without a body
        };
        if content.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match check_record(content) {
            Ok(checked) => self.record(&line, checked),
            Err(LineFault::Nul { .. }) => {
                self.nul_runs(&line, content);
                self.damaged(&line, DefectKind::NulBytes);
            }
            Err(fault) => {
                let defect = Defect::from_fault(&self.seg.path, &line, &fault);
                let kind = defect.kind;
                self.push(defect);
                self.damaged(&line, kind);
            }
        }
    }

    /// One `nul-bytes` defect per run of NULs in the line.
    fn nul_runs(&mut self, line: &Line<'_>, bytes: &[u8]) {
        let mut at = 0;
        while let Some(i) = memchr::memchr(0, &bytes[at..]) {
            let start = at + i;
            let run = bytes[start..].iter().take_while(|&&b| b == 0).count();
            let detail = format!("{run} NUL byte(s) at byte {start} of the line");
            self.push(Defect {
                line: line.number,
                ..Defect::new(
                    DefectKind::NulBytes,
                    &self.seg.path,
                    line.offset + start as u64,
                    run as u64,
                    detail,
                )
            });
            at = start + run;
        }
    }

    fn record(&mut self, line: &Line<'_>, checked: Checked) {
        let seq = checked.seq;
        let s = &mut self.scan;
        s.summary.records += 1;
        for i in s.open_after.drain(..) {
            s.defects[i].seq_after = Some(seq);
        }
        let place = (line.number.unwrap_or(0), line.offset, line.len);
        let record_defect = |kind, detail: String| Defect {
            line: line.number,
            seq_before: self.prev_seq,
            seq_after: Some(seq),
            ..Defect::new(kind, &self.seg.path, line.offset, line.len, detail)
        };
        let mut found = Vec::new();
        if s.summary.first_seq.is_none() {
            s.summary.first_seq = Some(seq);
            s.first_record = Some(place);
            if seq != self.seg.start_seq {
                found.push(record_defect(
                    DefectKind::NameMismatch,
                    format!(
                        "the first seq is {seq} but the file name says {}",
                        self.seg.start_seq
                    ),
                ));
            }
        }
        if let Some(prev) = self.prev_seq
            && let Some((kind, mut detail)) = seq_step(prev, seq, "")
        {
            if self.damaged_since > 0 {
                detail.push_str(&format!(
                    " ({} damaged line{} between)",
                    self.damaged_since,
                    if self.damaged_since == 1 { "" } else { "s" }
                ));
            }
            found.push(record_defect(kind, detail));
        }
        if let Err(issue) = checked.engine {
            let counts = s.engine_skipped.entry(issue.event_type).or_default();
            match issue.kind {
                DefectKind::EngineUnknownType => counts.unknown_type += 1,
                _ => counts.missing_field += 1,
            }
            found.push(record_defect(issue.kind, issue.detail));
        }
        s.summary.last_seq = Some(seq);
        for d in found {
            self.push(d);
        }
        self.prev_seq = Some(seq);
        self.damaged_since = 0;
    }

    fn finish(mut self) -> SegmentScan {
        self.scan.damaged_trailing = self.damaged_since;
        let path = &self.seg.path;
        if self.seg.len == 0 {
            let mut defect = Defect::new(
                DefectKind::EmptySegment,
                path,
                0,
                0,
                "the segment file is empty".to_owned(),
            );
            if self.is_newest {
                // What a writer leaves for a moment after creating a segment,
                // and what repair leaves to keep the seq floor when no segment
                // holds a valid line: the name says where seqs continue.
                defect.severity = Severity::Warning;
                defect.detail =
                    "the newest segment is empty (seqs continue at its name)".to_owned();
            }
            self.push(defect);
        } else if self.is_newest && self.scan.summary.records == 0 {
            // Nothing but one partial line is also what a live writer leaves for
            // a moment after rotating, mid-append of the first line: a warning,
            // like any torn tail. Complete lines that are all damaged are an error.
            let only_a_partial_line = self.scan.summary.lines == 1
                && self.scan.kinds.keys().all(|k| *k == DefectKind::TornTail);
            let mut defect = Defect::new(
                DefectKind::NoCompleteLine,
                path,
                0,
                self.seg.len,
                format!(
                    "the newest segment holds no complete valid line in its {} bytes \
                     (the max seq lives in an older segment)",
                    self.seg.len
                ),
            );
            if only_a_partial_line {
                defect.severity = Severity::Warning;
            }
            self.push(defect);
        }
        self.scan
    }
}

fn is_record_defect(kind: DefectKind) -> bool {
    matches!(
        kind,
        DefectKind::SeqRepeated
            | DefectKind::SeqBackwards
            | DefectKind::SeqGap
            | DefectKind::NameMismatch
            | DefectKind::EngineUnknownType
            | DefectKind::EngineMissingField
            | DefectKind::NotRegularFile
    )
}

/// The seq defect of `seq` following `prev`, if any. `where_` ends the detail.
fn seq_step(prev: u64, seq: u64, where_: &str) -> Option<(DefectKind, String)> {
    if seq == prev.wrapping_add(1) && seq != 0 {
        return None;
    }
    Some(if seq == prev {
        (
            DefectKind::SeqRepeated,
            format!("seq {seq} repeats the previous record's seq{where_}"),
        )
    } else if seq < prev {
        (
            DefectKind::SeqBackwards,
            format!("seq {seq} goes backwards after seq {prev}{where_}"),
        )
    } else {
        let missing = seq - prev - 1;
        let range = if missing == 1 {
            format!("seq {} is missing", prev + 1)
        } else {
            format!("{missing} seqs are missing ({}..{})", prev + 1, seq - 1)
        };
        (
            DefectKind::SeqGap,
            format!("seq {seq} follows seq {prev}{where_}: {range}"),
        )
    })
}

fn scan_segment(
    seg: &Segment,
    is_newest: bool,
    opts: &VerifyOptions,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<SegmentScan, JournalError> {
    let mut state = SegmentState::new(seg, is_newest, opts);
    let mut lines = match ForwardLines::open(&seg.path, seg.len, opts.read) {
        Ok(lines) => lines,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut scan = state.scan;
            scan.summary.gone = true;
            scan.summary.bytes = 0;
            if let Some(p) = progress {
                p(seg.len);
            }
            return Ok(scan);
        }
        Err(e) => return Err(JournalError::io(&seg.path, e)),
    };
    const PROGRESS_STEP: u64 = 4 << 20;
    let mut reported = 0u64;
    while let Some(line) = lines
        .next_line()
        .map_err(|e| JournalError::io(&seg.path, e))?
    {
        let end = line.end_offset();
        state.line(line);
        if let Some(p) = progress
            && end - reported >= PROGRESS_STEP
        {
            p(end - reported);
            reported = end;
        }
    }
    // A file that shrank under the reader ends early; count what was read.
    state.scan.summary.bytes = lines.position().min(seg.len);
    if let Some(p) = progress {
        p(seg.len.saturating_sub(reported));
    }
    Ok(state.finish())
}

/// Puts the per-segment results in order and runs the cross-segment checks.
fn assemble(listing: &Listing, mut scans: Vec<SegmentScan>, opts: &VerifyOptions) -> VerifyReport {
    // seq_before of leading damage, and continuity at each boundary.
    let mut prev: Option<(u64, usize)> = None; // (last seq, segment index)
    // Damaged lines since the last valid record, across record-less segments.
    let mut damaged_between = 0u64;
    for i in 0..scans.len() {
        if scans[i].summary.gone {
            continue;
        }
        if scans[i].summary.first_seq.is_none() {
            damaged_between += scans[i].damaged_total;
        } else {
            damaged_between += scans[i].damaged_leading;
        }
        if let Some((last, _)) = prev {
            let open = std::mem::take(&mut scans[i].open_before);
            for d in open {
                scans[i].defects[d].seq_before = Some(last);
            }
        }
        if let (Some((last, pi)), Some(first), Some((line, offset, len))) =
            (prev, scans[i].summary.first_seq, scans[i].first_record)
        {
            let where_ = format!(
                " at the end of {}",
                file_name_lossy(&scans[pi].summary.path)
            );
            if let Some((kind, mut detail)) = seq_step(last, first, &where_) {
                if damaged_between > 0 {
                    detail.push_str(&format!(
                        " ({damaged_between} damaged line{} between)",
                        if damaged_between == 1 { "" } else { "s" }
                    ));
                }
                let mut defect = Defect {
                    line: Some(line),
                    seq_before: Some(last),
                    seq_after: Some(first),
                    ..Defect::new(kind, &scans[i].summary.path, offset, len, detail)
                };
                if opts.strict {
                    defect.severity = Severity::Error;
                }
                add_defect(&mut scans[i], defect, opts);
            }
        }
        if let Some(last) = scans[i].summary.last_seq {
            prev = Some((last, i));
            damaged_between = scans[i].damaged_trailing;
        }
    }
    // seq_after of trailing damage.
    let mut next_first: Option<u64> = None;
    for scan in scans.iter_mut().rev() {
        if scan.summary.gone {
            continue;
        }
        if let Some(first) = next_first {
            for d in std::mem::take(&mut scan.open_after) {
                scan.defects[d].seq_after = Some(first);
            }
        }
        if let Some(first) = scan.summary.first_seq {
            next_first = Some(first);
        }
    }

    let mut report = VerifyReport {
        dir: listing.dir.clone(),
        segments: Vec::with_capacity(scans.len()),
        defects: Vec::new(),
        unlisted: 0,
        errors: 0,
        warnings: 0,
        kinds: BTreeMap::new(),
        engine_skipped: BTreeMap::new(),
        damaged_lines: Vec::with_capacity(scans.len()),
        strict: opts.strict,
    };
    // Irregular entries take their place among the segments by start seq.
    let mut irregular = listing.irregular.iter().peekable();
    let mut push_irregular = |report: &mut VerifyReport, upto: Option<u64>| {
        while let Some(irr) = irregular.next_if(|irr| upto.is_none_or(|u| irr.start_seq < u)) {
            let mut d = Defect::new(
                DefectKind::NotRegularFile,
                &irr.path,
                0,
                0,
                format!(
                    "named like a segment but {}: skipped by every reader",
                    irr.kind.describe()
                ),
            );
            if opts.strict {
                d.severity = Severity::Error;
            }
            count(report, &d);
            keep(report, d, opts);
        }
    };
    for mut scan in scans {
        push_irregular(&mut report, Some(scan.summary.start_seq));
        // Record defects found after line damage at the same line sort by offset.
        scan.defects.sort_by_key(|d| d.offset);
        report.errors += scan.summary.errors;
        report.warnings += scan.summary.warnings;
        for (kind, n) in &scan.kinds {
            *report.kinds.entry(*kind).or_default() += n;
        }
        for (ty, n) in scan.engine_skipped {
            let e = report.engine_skipped.entry(ty).or_default();
            e.unknown_type += n.unknown_type;
            e.missing_field += n.missing_field;
        }
        report.unlisted += scan.dropped;
        for d in scan.defects {
            keep(&mut report, d, opts);
        }
        report.damaged_lines.push(scan.damaged);
        report.segments.push(scan.summary);
    }
    push_irregular(&mut report, None);
    report
}

fn add_defect(scan: &mut SegmentScan, defect: Defect, opts: &VerifyOptions) {
    *scan.kinds.entry(defect.kind).or_default() += 1;
    match defect.severity {
        Severity::Error => scan.summary.errors += 1,
        Severity::Warning => scan.summary.warnings += 1,
    }
    if scan.defects.len() < opts.max_listed {
        scan.defects.push(defect);
    } else {
        scan.dropped += 1;
    }
}

fn count(report: &mut VerifyReport, d: &Defect) {
    *report.kinds.entry(d.kind).or_default() += 1;
    match d.severity {
        Severity::Error => report.errors += 1,
        Severity::Warning => report.warnings += 1,
    }
}

fn keep(report: &mut VerifyReport, d: Defect, opts: &VerifyOptions) {
    if report.defects.len() < opts.max_listed {
        report.defects.push(d);
    } else {
        report.unlisted += 1;
    }
}

// ---------------------------------------------------------------------------
// The per-line check: everything verify needs from a valid line, in one
// serde_json pass over borrowed input, without allocating unless something is
// wrong. Any failure falls back to `parse_line`, so faults are named exactly
// as every other command names them.

/// A valid record, and whether the engine could read it back.
struct Checked {
    seq: u64,
    engine: Result<(), EngineIssue>,
}

/// Why the engine would skip a valid record.
#[derive(Debug)]
struct EngineIssue {
    kind: DefectKind,
    /// `(none)` when the record has no readable event type.
    event_type: String,
    detail: String,
}

fn check_record(content: &[u8]) -> Result<Checked, LineFault> {
    let fast = (|| {
        if memchr::memchr(0, content).is_some() {
            return None;
        }
        // SIMD validation: std's is the slowest step on non-ASCII text.
        let text = simdutf8::basic::from_utf8(content).ok()?;
        if text.trim_start().as_bytes().first() != Some(&b'{') {
            return None;
        }
        serde_json::from_str::<VerifyHead>(text).ok()
    })();
    let Some(head) = fast else {
        // The slow path names the fault; it accepts exactly what the fast one does.
        let record = parse_line(content)?;
        return Ok(Checked {
            seq: record.seq,
            engine: Ok(()),
        });
    };
    Ok(Checked {
        seq: head.seq,
        engine: engine_verdict(head),
    })
}

fn engine_verdict(head: VerifyHead<'_>) -> Result<(), EngineIssue> {
    let mut missing: Vec<String> = Vec::new();
    if !head.ts {
        missing.push("ts".to_owned());
    }
    let mut unknown = false;
    let mut event_type = None;
    match head.event {
        None => missing.push("event".to_owned()),
        Some(EventRead::NotObject) => missing.push("event (not an object)".to_owned()),
        Some(EventRead::Object { ty, problem }) => match ty {
            TypeRead::Absent => missing.push("event.type".to_owned()),
            TypeRead::NotString => missing.push("event.type (not a string)".to_owned()),
            TypeRead::Str(t) => {
                event_type = Some(t);
                match problem {
                    None => {}
                    Some(EngineProblem::UnknownType { .. }) => unknown = true,
                    Some(EngineProblem::MissingFields { fields, .. }) => missing.extend(fields),
                }
            }
        },
    }
    if !unknown && missing.is_empty() {
        return Ok(());
    }
    let s = if missing.len() == 1 { "" } else { "s" };
    let detail = match (&event_type, unknown) {
        (Some(t), true) if missing.is_empty() => {
            format!("event type \"{t}\" is unknown to the engine: it skips the line")
        }
        (Some(t), true) => format!(
            "event type \"{t}\" is unknown to the engine and the record lacks field{s} {}: \
             it skips the line",
            missing.join(", ")
        ),
        (Some(t), false) => format!(
            "the \"{t}\" record lacks required field{s} {}: the engine skips the line",
            missing.join(", ")
        ),
        (None, _) => format!(
            "the record lacks required field{s} {}: the engine skips the line",
            missing.join(", ")
        ),
    };
    Err(EngineIssue {
        kind: if unknown {
            DefectKind::EngineUnknownType
        } else {
            DefectKind::EngineMissingField
        },
        event_type: event_type.map_or_else(|| "(none)".to_owned(), Cow::into_owned),
        detail,
    })
}

/// The record as verify reads it. Unknown fields are skipped unparsed.
struct VerifyHead<'a> {
    seq: u64,
    /// `ts` is present and a string.
    ts: bool,
    event: Option<EventRead<'a>>,
}

impl<'de> Deserialize<'de> for VerifyHead<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HeadVisitor)
    }
}

struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = VerifyHead<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a journal record")
    }

    // Mirrors the derived `RecordHead` of `record.rs`: the same fields are
    // required and the same duplicates rejected, so both accept the same lines.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VerifyHead<'de>, A::Error> {
        let mut seq: Option<u64> = None;
        let mut ts = None;
        let mut session_id = false;
        let mut event: Option<Option<EventRead<'de>>> = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match &*key.0 {
                "seq" => {
                    if seq.is_some() {
                        return Err(de::Error::duplicate_field("seq"));
                    }
                    seq = Some(map.next_value()?);
                }
                "ts" => {
                    if ts.is_some() {
                        return Err(de::Error::duplicate_field("ts"));
                    }
                    ts = Some(map.next_value::<StrProbe<'de>>()?.0.is_some());
                }
                "session_id" => {
                    if session_id {
                        return Err(de::Error::duplicate_field("session_id"));
                    }
                    session_id = true;
                    map.next_value::<IgnoredAny>()?;
                }
                "event" => {
                    if event.is_some() {
                        return Err(de::Error::duplicate_field("event"));
                    }
                    event = Some(map.next_value::<Option<EventRead<'de>>>()?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(VerifyHead {
            seq: seq.ok_or_else(|| de::Error::missing_field("seq"))?,
            ts: ts.unwrap_or(false),
            event: event.flatten(),
        })
    }
}

/// A map key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value; `Some` with the text when it is a string.
struct StrProbe<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for StrProbe<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrProbe<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(Some(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_unit<E>(self) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_none<E>(self) -> Result<StrProbe<'de>, E> {
                Ok(StrProbe(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrProbe<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StrProbe(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrProbe<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StrProbe(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `event` value, checked against the engine's schema as it is read.
enum EventRead<'a> {
    NotObject,
    Object {
        ty: TypeRead<'a>,
        /// The schema's verdict, when the type is a string.
        problem: Option<EngineProblem>,
    },
}

enum TypeRead<'a> {
    Absent,
    NotString,
    Str(Cow<'a, str>),
}

fn mark(required: &[String], key: &str, seen: &mut u64) {
    if let Some(i) = required.iter().position(|f| *f == key) {
        *seen |= 1 << (i % 64);
    }
}

impl<'de> Deserialize<'de> for EventRead<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EventRead<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event")
            }
            fn visit_bool<E>(self, _: bool) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_i64<E>(self, _: i64) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_u64<E>(self, _: u64) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_f64<E>(self, _: f64) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_str<E>(self, _: &str) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_unit<E>(self) -> Result<EventRead<'de>, E> {
                Ok(EventRead::NotObject)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EventRead<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(EventRead::NotObject)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventRead<'de>, A::Error> {
                // The engine writes `type` first; keys met before it are kept
                // (the only allocation, and only for events in another order).
                let mut before_type: Vec<Cow<'de, str>> = Vec::new();
                let mut ty: Option<TypeRead<'de>> = None;
                let mut required: Option<&'static [String]> = None;
                let mut seen: u64 = 0;
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    if key.0 == "type" && ty.is_none() {
                        let t = match map.next_value::<StrProbe<'de>>()?.0 {
                            Some(t) => {
                                required = type_fields(&t).map(|f| f.required.as_slice());
                                if let Some(req) = required {
                                    for k in &before_type {
                                        mark(req, k, &mut seen);
                                    }
                                }
                                TypeRead::Str(t)
                            }
                            None => TypeRead::NotString,
                        };
                        ty = Some(t);
                        continue;
                    }
                    match (required, &ty) {
                        (Some(req), _) => mark(req, &key.0, &mut seen),
                        (None, None) => before_type.push(key.0),
                        (None, Some(_)) => {}
                    }
                    map.next_value::<IgnoredAny>()?;
                }
                let ty = ty.unwrap_or(TypeRead::Absent);
                let problem = match (&ty, required) {
                    (TypeRead::Str(t), None) => Some(EngineProblem::UnknownType {
                        event_type: t.to_string(),
                    }),
                    (TypeRead::Str(t), Some(req)) if seen.count_ones() as usize != req.len() => {
                        Some(EngineProblem::MissingFields {
                            event_type: t.to_string(),
                            fields: req
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| seen & (1 << (i % 64)) == 0)
                                .map(|(_, f)| f.clone())
                                .collect(),
                        })
                    }
                    _ => None,
                };
                Ok(EventRead::Object { ty, problem })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
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
    fn fast_check_accepts_exactly_what_parse_line_accepts() {
        for text in [
            &b"{\"seq\":1}"[..],
            b"{\"seq\":1,\"seq\":2}",
            b"{\"seq\":1,\"session_id\":1,\"session_id\":2}",
            b"{\"seq\":1,\"ts\":1,\"ts\":2}",
            b"{\"seq\":1,\"event\":1,\"event\":2}",
            b"{\"seq\":1,\"event\":{\"type\":1,\"type\":\"x\"}}",
            b"{\"s\\u0065q\":1}",
            b"{\"seq\":1.0}",
            b"{\"seq\":1} ",
            b" {\"seq\":1}\r",
            b"[1]",
            b"{\"seq\":18446744073709551616}",
            b"{\"seq\":1,\"event\":null,\"ts\":null}",
        ] {
            let fast = check_record(text).map(|c| c.seq);
            let slow = parse_line(text).map(|r| r.seq);
            assert_eq!(fast, slow, "{}", String::from_utf8_lossy(text));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn fast_check_agrees_with_parse_line_on_noise(
            parts in proptest::collection::vec(prop_oneof![
                Just("{"), Just("}"), Just("\"seq\""), Just(":"), Just("1"), Just(","),
                Just("\"ts\""), Just("\"event\""), Just("\"type\""), Just("\"error\""),
                Just("\"message\""), Just("null"), Just("["), Just("]"), Just("\"x\""),
                Just("\\u0000"), Just("\0"), Just("\u{e9}"), Just(" "),
            ], 0..24)
        ) {
            let text = parts.concat();
            let fast = check_record(text.as_bytes()).map(|c| c.seq);
            let slow = parse_line(text.as_bytes()).map(|r| r.seq);
            prop_assert_eq!(fast, slow, "{}", text);
        }
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
    fn bytes_appended_after_the_listing_are_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("events-1.jsonl");
        fs::write(&path, line(1)).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        fs::write(&path, line(1) + "{\"seq\":2,\"ts\"").unwrap();
        let report = verify(&listing, &VerifyOptions::default(), None).unwrap();
        assert!(report.defects.is_empty(), "{:?}", report.defects);
        assert_eq!(report.bytes(), line(1).len() as u64);
    }
}

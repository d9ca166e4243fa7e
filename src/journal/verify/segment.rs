//! One segment of a verify run: its state while reading, line by line, and
//! what it found (before the cross-segment checks).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use std::io;

use crate::journal::defect::{Defect, DefectKind, Severity};
use crate::journal::error::JournalError;
use crate::journal::lines::{ForwardLines, Line};
use crate::journal::record::{LineFault, fast_seq, fast_ts, parse_ts};
use crate::journal::scan::structural_defect;
use crate::journal::segment::Segment;

use super::head::{Checked, check_record};
use super::{DamagedLine, EngineSkips, SegmentSummary, VerifyOptions};

/// One segment's result before the cross-segment checks.
pub(super) struct SegmentScan {
    pub(super) summary: SegmentSummary,
    pub(super) defects: Vec<Defect>,
    /// Defects counted but not kept (over the cap).
    pub(super) dropped: u64,
    pub(super) kinds: BTreeMap<DefectKind, u64>,
    /// Place of the first valid record: (line, offset, len).
    pub(super) first_record: Option<(u64, u64, u64)>,
    /// Kept defects that still need `seq_before` (before the first valid
    /// record) or `seq_after` (after the last one).
    pub(super) open_before: Vec<usize>,
    pub(super) open_after: Vec<usize>,
    pub(super) engine_skipped: BTreeMap<String, EngineSkips>,
    pub(super) damaged: Vec<DamagedLine>,
    /// Damaged lines in all, before the first valid record, after the last.
    pub(super) damaged_total: u64,
    pub(super) damaged_leading: u64,
    pub(super) damaged_trailing: u64,
    /// `ts` of the first and last valid records whose `ts` is where the
    /// engine writes it, with their seqs (for the check across segments).
    pub(super) first_ts: Option<(DateTime<Utc>, u64)>,
    pub(super) last_ts: Option<(DateTime<Utc>, u64)>,
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
    /// Scratch for the per-line check (the event's keys), reused.
    keys: Vec<(usize, usize)>,
    /// Most defects kept as values (see [`scan_segment`]).
    keep: usize,
}

impl<'a> SegmentState<'a> {
    fn new(seg: &'a Segment, is_newest: bool, opts: &'a VerifyOptions) -> Self {
        SegmentState {
            seg,
            is_newest,
            opts,
            scan: SegmentScan {
                summary: SegmentSummary {
                    path: seg.path().to_path_buf(),
                    start_seq: seg.start_seq,
                    bytes: seg.len(),
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
                first_ts: None,
                last_ts: None,
            },
            prev_seq: None,
            damaged_since: 0,
            keys: Vec::new(),
            keep: opts.max_listed,
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
        if s.defects.len() >= self.keep {
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
        match check_record(content, &mut self.keys) {
            Ok(checked) => self.record(&line, checked),
            Err(LineFault::Nul { .. }) => {
                self.nul_runs(&line, content);
                self.damaged(&line, DefectKind::NulBytes);
            }
            Err(fault) => {
                let defect = Defect::from_fault(self.seg.path(), &line, &fault);
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
                    self.seg.path(),
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
            ..Defect::new(kind, self.seg.path(), line.offset, line.len, detail)
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
        if let Some(ts) = line.content().and_then(fast_ts).and_then(parse_ts) {
            // Only where the seq goes forwards: a replayed block's ts goes
            // back with its seqs (seq-backwards says so).
            if let Some((prev_ts, prev_seq)) = s.last_ts
                && prev_seq < seq
                && ts_backwards(prev_ts, ts)
            {
                found.push(record_defect(
                    DefectKind::TsBackwards,
                    ts_backwards_detail(ts, seq, prev_ts, prev_seq, ""),
                ));
            }
            if s.first_ts.is_none() {
                s.first_ts = Some((ts, seq));
            }
            s.last_ts = Some((ts, seq));
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
        let path = self.seg.path();
        if self.seg.len() == 0 {
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
                self.seg.len(),
                format!(
                    "the newest segment holds no complete valid line in its {} bytes \
                     (recover takes the max seq from an older segment, or from this \
                     one's name when none holds a valid line)",
                    self.seg.len()
                ),
            );
            if only_a_partial_line {
                defect.severity = Severity::Warning;
            }
            self.push(defect);
        } else if !self.is_newest && self.scan.summary.records == 0 && self.scan.kinds.is_empty() {
            // Blank lines only: as empty as an empty file, and as wrong in a
            // closed segment (a writer never leaves one).
            self.push(Defect::new(
                DefectKind::EmptySegment,
                path,
                0,
                self.seg.len(),
                format!(
                    "the segment holds only blank lines ({} bytes)",
                    self.seg.len()
                ),
            ));
        }
        self.scan
    }
}

fn is_record_defect(kind: DefectKind) -> bool {
    matches!(
        kind,
        DefectKind::SeqRepeated
            | DefectKind::SeqBackwards
            | DefectKind::TsBackwards
            | DefectKind::SeqGap
            | DefectKind::NameMismatch
            | DefectKind::EngineUnknownType
            | DefectKind::EngineMissingField
            | DefectKind::NotRegularFile
    )
}

/// Whether `ts` after `prev` goes back by the second: the order
/// `--since`/`--until` assume. (The engine stamps some records to the second
/// or millisecond after one stamped to the nanosecond in the same second:
/// that is not a clock stepping back.)
pub(super) fn ts_backwards(prev: DateTime<Utc>, ts: DateTime<Utc>) -> bool {
    ts.timestamp() < prev.timestamp()
}

/// The detail of a `ts-backwards` defect: `ts` of `seq` is before `prev_ts`
/// of `prev_seq`. `where_` follows the previous seq.
pub(super) fn ts_backwards_detail(
    ts: DateTime<Utc>,
    seq: u64,
    prev_ts: DateTime<Utc>,
    prev_seq: u64,
    where_: &str,
) -> String {
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    format!(
        "the ts of seq {seq} ({}) is before the ts of seq {prev_seq} ({}){where_}: a clock \
         stepped back; --since/--until assume ts in seq order to the second (--exact-time \
         reads everything)",
        fmt(ts),
        fmt(prev_ts)
    )
}

/// The seq defect of `seq` following `prev`, if any. `where_` ends the detail.
pub(super) fn seq_step(prev: u64, seq: u64, where_: &str) -> Option<(DefectKind, String)> {
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

/// A segment (from `at` on) that could not be read: one error, and the
/// rest of the journal is still checked (like ripgrep, the exit status says
/// something could not be read).
fn unreadable(
    mut state: SegmentState<'_>,
    at: u64,
    e: &io::Error,
    // The progress callback and the bytes already reported to it.
    progress: Option<(&(dyn Fn(u64) + Sync), u64)>,
) -> SegmentScan {
    let seg = state.seg;
    state.push(Defect::new(
        DefectKind::Unreadable,
        seg.path(),
        at,
        seg.len().saturating_sub(at),
        format!("could not be read from byte {at}: {e}"),
    ));
    state.scan.summary.bytes = at;
    if let Some((p, reported)) = progress {
        p(seg.len().saturating_sub(reported));
    }
    state.scan
}

/// `keep` is how many defects this segment may keep as values (the rest are
/// counted): what the listing cap leaves after the segments before it.
pub(super) fn scan_segment(
    seg: &Segment,
    is_newest: bool,
    opts: &VerifyOptions,
    keep: usize,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<SegmentScan, JournalError> {
    let mut state = SegmentState::new(seg, is_newest, opts);
    state.keep = keep;
    #[cfg(test)]
    let opened = if super::tests::UNREADABLE
        .lock()
        .is_ok_and(|p| p.as_deref() == Some(seg.path()))
    {
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    } else {
        ForwardLines::open(seg.path(), seg.len(), opts.read)
    };
    #[cfg(not(test))]
    let opened = ForwardLines::open(seg.path(), seg.len(), opts.read);
    let mut lines = match opened {
        Ok(lines) => lines,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut scan = state.scan;
            scan.summary.gone = true;
            scan.summary.bytes = 0;
            if let Some(p) = progress {
                p(seg.len());
            }
            return Ok(scan);
        }
        Err(e) => return Ok(unreadable(state, 0, &e, progress.map(|p| (p, 0)))),
    };
    const PROGRESS_STEP: u64 = 4 << 20;
    let mut reported = 0u64;
    loop {
        let line = match lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                let at = lines.position().min(seg.len());
                return Ok(unreadable(state, at, &e, progress.map(|p| (p, reported))));
            }
        };
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
    state.scan.summary.bytes = lines.position().min(seg.len());
    if let Some(p) = progress {
        p(seg.len().saturating_sub(reported));
    }
    Ok(state.finish())
}

pub(super) fn add_defect(scan: &mut SegmentScan, defect: Defect, opts: &VerifyOptions) {
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

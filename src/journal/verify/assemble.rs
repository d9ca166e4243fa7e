//! The cross-segment part of verify: puts the per-segment results in
//! order, checks seq continuity at each boundary, fills the seqs around
//! damage at a segment's edge, and places irregular entries.

use std::collections::BTreeMap;

use crate::journal::defect::{Defect, DefectKind, Severity};
use crate::journal::segment::{Listing, file_name_lossy};

use super::segment::{SegmentScan, add_defect, seq_step, ts_backwards, ts_backwards_detail};
use super::{VerifyOptions, VerifyReport};

/// Puts the per-segment results in order and runs the cross-segment checks.
pub(super) fn assemble(
    listing: &Listing,
    mut scans: Vec<SegmentScan>,
    opts: &VerifyOptions,
) -> VerifyReport {
    // seq_before of leading damage, and continuity at each boundary.
    let mut prev: Option<(u64, usize)> = None; // (last seq, segment index)
    // Damaged lines since the last valid record, across record-less segments.
    let mut damaged_between = 0u64;
    // (ts, seq, segment index) of the last record with a ts read so far.
    let mut prev_ts: Option<(chrono::DateTime<chrono::Utc>, u64, usize)> = None;
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
        if let (Some((prev_ts, prev_seq, pi)), Some((ts, seq))) = (prev_ts, scans[i].first_ts)
            && prev_seq < seq
            && ts_backwards(prev_ts, ts)
        {
            let where_ = format!(
                " at the end of {}",
                file_name_lossy(&scans[pi].summary.path)
            );
            let (line, offset, len) = scans[i].first_record.unwrap_or((0, 0, 0));
            let mut defect = Defect {
                line: Some(line),
                seq_before: Some(prev_seq),
                seq_after: Some(seq),
                ..Defect::new(
                    DefectKind::TsBackwards,
                    &scans[i].summary.path,
                    offset,
                    len,
                    ts_backwards_detail(ts, seq, prev_ts, prev_seq, &where_),
                )
            };
            if opts.strict {
                defect.severity = Severity::Error;
            }
            add_defect(&mut scans[i], defect, opts);
        }
        if let Some((ts, seq)) = scans[i].last_ts {
            prev_ts = Some((ts, seq, i));
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

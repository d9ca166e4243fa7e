//! `verify`'s report: defects grouped by segment and a summary line, or the
//! `journal-verify/1` JSON object.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::plural;
use crate::defect::{Defect, Severity};
use crate::render::escape::escape_text;
use crate::render::style;
use crate::segment::file_name_lossy;
use crate::verify::VerifyReport;

/// The report for people: defects grouped by segment, then the summary line.
pub fn write_text(out: &mut dyn Write, report: &VerifyReport, color: bool) -> io::Result<()> {
    let mut current: Option<&std::path::Path> = None;
    for d in &report.defects {
        if current != Some(d.segment.as_path()) {
            writeln!(out, "{}", file_name_lossy(&d.segment))?;
            current = Some(&d.segment);
        }
        writeln!(out, "  {}", defect_line(d, color))?;
    }
    if report.unlisted > 0 {
        writeln!(
            out,
            "... and {} more defects not listed (counts below are exact)",
            report.unlisted
        )?;
    }
    if !report.engine_skipped.is_empty() {
        let total: u64 = report
            .engine_skipped
            .values()
            .map(|c| c.unknown_type + c.missing_field)
            .sum();
        let per_type: Vec<String> = report
            .engine_skipped
            .iter()
            .map(|(ty, c)| {
                let mut why = Vec::new();
                if c.unknown_type > 0 {
                    why.push(format!("{} unknown type", c.unknown_type));
                }
                if c.missing_field > 0 {
                    why.push(format!("{} missing field", c.missing_field));
                }
                format!("{} ({})", escape_text(ty), why.join(", "))
            })
            .collect();
        writeln!(
            out,
            "the engine would skip {total} record{}: {}",
            plural(total),
            per_type.join("; ")
        )?;
    }
    writeln!(out, "{}", summary_line(report))
}

/// `error seq-gap: line 3, byte 400, 180 bytes; between seq 5 and 8: <detail>`
pub(super) fn defect_line(d: &Defect, color: bool) -> String {
    let severity = match d.severity {
        Severity::Error => style::paint("error", style::RED, color),
        Severity::Warning => style::paint("warning", style::YELLOW, color),
    };
    let mut place = Vec::new();
    if let Some(line) = d.line {
        place.push(format!("line {line}"));
    }
    match d.key {
        // A value in a table: its key is the place, its length the size.
        Some(key) => place.push(format!("key {key}")),
        None => place.push(format!("byte {}", d.offset)),
    }
    place.push(format!("{} byte{}", d.len, plural(d.len)));
    let seqs = match (d.seq_before, d.seq_after) {
        (Some(b), Some(a)) => format!("; between seq {b} and {a}"),
        (Some(b), None) => format!("; after seq {b}"),
        (None, Some(a)) => format!("; before seq {a}"),
        (None, None) => String::new(),
    };
    format!(
        "{severity} {}: {}{seqs}: {}",
        d.kind.name(),
        place.join(", "),
        escape_text(&d.detail)
    )
}

fn summary_line(report: &VerifyReport) -> String {
    let segments = report.segments.len();
    let mut s = format!(
        "{segments} segment{}, {} lines, {} bytes",
        plural(segments as u64),
        report.lines(),
        report.bytes()
    );
    match report.seq_range() {
        Some((first, last)) => s.push_str(&format!(", seq {first}..{last}")),
        None => s.push_str(", no record"),
    }
    let gone = report.gone();
    if gone > 0 {
        s.push_str(&format!(", {gone} pruned during the scan"));
    }
    s.push_str(&format!(
        ": {} error{}, {} warning{}",
        report.errors,
        plural(report.errors),
        report.warnings,
        plural(report.warnings)
    ));
    if report.strict {
        s.push_str(" (strict)");
    }
    s
}

/// The `--json` object, schema [`VERIFY_SCHEMA`](super::VERIFY_SCHEMA)
/// (documented in `--help`; [`super::write_json`] adds it).
pub fn json(report: &VerifyReport) -> Value {
    let (first_seq, last_seq) = report.seq_range().unzip();
    let segments: Vec<Value> = report
        .segments
        .iter()
        .map(|s| {
            json!({
                "segment": file_name_lossy(&s.path),
                "start_seq": s.start_seq,
                "bytes": s.bytes,
                "lines": s.lines,
                "records": s.records,
                "first_seq": s.first_seq,
                "last_seq": s.last_seq,
                "gone": s.gone,
                "errors": s.errors,
                "warnings": s.warnings,
            })
        })
        .collect();
    let kinds: serde_json::Map<String, Value> = report
        .kinds
        .iter()
        .map(|(k, n)| (k.name().to_owned(), json!(n)))
        .collect();
    json!({
        "dir": report.dir.display().to_string(),
        "format": "segments",
        "ok": report.errors == 0,
        "strict": report.strict,
        "summary": {
            "segments": report.segments.len(),
            "segments_gone": report.gone(),
            "lines": report.lines(),
            "records": report.records(),
            "bytes": report.bytes(),
            "first_seq": first_seq,
            "last_seq": last_seq,
            "errors": report.errors,
            "warnings": report.warnings,
            "defects_unlisted": report.unlisted,
        },
        "kinds": kinds,
        "engine_skipped": report.engine_skipped,
        "segments": segments,
        "defects": report.defects,
    })
}

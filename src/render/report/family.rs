//! The reports of every family format (every format but the engine's
//! segments), worded from the values its reader returns through
//! [`Source`](crate::journal::source::reader::Source): `recover`, `stats`,
//! `verify` and `repair`, as text and as JSON. Every JSON report names its
//! schema and the `format` that was read.

use crate::render::escape::escape_name;
use std::io::{self, Write};

use serde_json::{Value, json};

use super::{human_bytes, plural};
use crate::journal::defect::{Defect, Severity};
use crate::journal::segment::file_name_lossy;
use crate::journal::source::family::{FamilyRepair, FamilyStats, FamilyVerify, Heads};
use crate::render::escape::{escape_path, escape_text};

fn opt_name(path: Option<&std::path::Path>) -> Option<String> {
    path.map(file_name_lossy)
}

fn counts(defects: &[Defect]) -> (u64, u64) {
    let errors = defects
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count() as u64;
    (errors, defects.len() as u64 - errors)
}

/// One defect in every family report: where (file, line, byte offset,
/// length), what, and the positions around it.
pub fn defect_json(d: &Defect) -> Value {
    json!({
        "kind": d.kind.name(),
        "severity": d.severity,
        "file": file_name_lossy(&d.segment),
        "line": d.line,
        "key": d.key,
        "offset": d.offset,
        "len": d.len,
        "before": d.seq_before,
        "after": d.seq_after,
        "detail": d.detail,
    })
}

/// `recover`: one row per stream, its newest position and time.
pub fn recover_text(out: &mut dyn Write, heads: &Heads) -> io::Result<()> {
    let rows: Vec<(String, String, String)> = heads
        .streams
        .iter()
        .map(|s| {
            (
                escape_text(&s.stream).into_owned(),
                s.position
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |p| p.number().to_string()),
                s.ts.as_deref().map(escape_text).unwrap_or_default().into(),
            )
        })
        .collect();
    let sw = rows
        .iter()
        .map(|r| r.0.chars().count())
        .max()
        .unwrap_or(0)
        .max("STREAM".len());
    let lw = rows
        .iter()
        .map(|r| r.1.len())
        .max()
        .unwrap_or(0)
        .max("LATEST".len());
    writeln!(out, "{:sw$}  {:lw$}  TIME", "STREAM", "LATEST")?;
    for (stream, latest, ts) in &rows {
        writeln!(out, "{stream:sw$}  {latest:lw$}  {ts}")?;
    }
    Ok(())
}

/// `recover`'s problems, for stderr: what could not be read, what the
/// runtime cannot open as it is.
pub fn recover_problems(heads: &Heads) {
    for d in &heads.problems {
        say!(
            "journal: note: {}: {}: {}",
            escape_text(&d.place()),
            d.kind.name(),
            escape_text(&d.detail)
        );
    }
}

/// Schema `journal-recover-streams/1`.
pub fn recover_json(heads: &Heads) -> Value {
    json!({
        "format": heads.format,
        "path": heads.path.display().to_string(),
        "streams": heads.streams.iter().map(|s| json!({
            "stream": s.stream,
            "position": s.position,
            "latest": s.position.as_ref().map(|p| p.number()),
            "ts": s.ts,
            "file": opt_name(s.file.as_deref()),
            "extra": s.extra,
        })).collect::<Vec<_>>(),
        "problems": heads.problems.iter().map(defect_json).collect::<Vec<_>>(),
    })
}

/// `stats` for people.
pub fn stats_text(out: &mut dyn Write, s: &FamilyStats) -> io::Result<()> {
    writeln!(out, "journal     {}", escape_path(&s.path))?;
    if let Some(format) = s.format {
        writeln!(out, "format      {format}")?;
    }
    writeln!(out, "files       {} ({})", s.files, human_bytes(s.bytes))?;
    writeln!(out, "streams     {}", s.streams.len())?;
    writeln!(out, "events      {}", s.events)?;
    if let (Some(a), Some(b)) = (&s.first_ts, &s.last_ts) {
        writeln!(out, "time        {} .. {}", escape_text(a), escape_text(b))?;
    }
    writeln!(
        out,
        "damage      {} error{}, {} warning{}{}",
        s.errors,
        plural(s.errors),
        s.warnings,
        plural(s.warnings),
        if s.errors + s.warnings > 0 {
            " (journal verify lists them)"
        } else {
            ""
        }
    )?;
    for (key, value) in &s.extra {
        let value = match value {
            Value::String(v) => v.clone(),
            other => other.to_string(),
        };
        writeln!(out, "{:11} {}", escape_text(key), escape_text(&value))?;
    }
    streams_table(out, s)?;
    consumers_table(out, s)?;
    writeln!(out, "kinds")?;
    let w = s.kinds.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut kinds: Vec<_> = s.kinds.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (kind, n) in kinds {
        writeln!(out, "  {:w$}  {n}", escape_text(kind))?;
    }
    Ok(())
}

/// At most this many streams are listed in the text (all in `--json`).
const MAX_LISTED_STREAMS: usize = 50;

/// Left-aligned columns, two spaces apart, indented by two.
fn table(out: &mut dyn Write, rows: &[Vec<String>]) -> io::Result<()> {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::from(" ");
        for (c, cell) in row.iter().enumerate() {
            line.push(' ');
            line.push_str(cell);
            if c + 1 < cols {
                let pad = widths[c] - cell.chars().count() + 1;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Per stream: events, position range, time range (when there are few).
fn streams_table(out: &mut dyn Write, s: &FamilyStats) -> io::Result<()> {
    if s.streams.is_empty() || s.streams.len() > MAX_LISTED_STREAMS {
        return Ok(());
    }
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let mut rows = vec![
        [
            "STREAM",
            "EVENTS",
            "FIRST",
            "LAST",
            "FIRST TIME",
            "LAST TIME",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for st in &s.streams {
        rows.push(vec![
            escape_text(&st.stream).into_owned(),
            st.events.to_string(),
            opt(st.first),
            opt(st.last),
            st.first_ts
                .as_deref()
                .map(escape_text)
                .unwrap_or_default()
                .into_owned(),
            st.last_ts
                .as_deref()
                .map(escape_text)
                .unwrap_or_default()
                .into_owned(),
        ]);
    }
    writeln!(out, "per stream")?;
    table(out, &rows)
}

/// Every consumer: cursor, head, lag in events and in time since its
/// cursor's event, and when it last moved.
fn consumers_table(out: &mut dyn Write, s: &FamilyStats) -> io::Result<()> {
    if s.consumers.is_empty() {
        return Ok(());
    }
    let mut rows = vec![
        [
            "CONSUMER", "TOPIC", "CURSOR", "HEAD", "LAG", "LAG TIME", "UPDATED",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for c in &s.consumers {
        let lag_time = c.lag_ms.map_or_else(
            || "-".to_owned(),
            |ms| {
                humantime::format_duration(std::time::Duration::from_millis(ms.max(0) as u64))
                    .to_string()
            },
        );
        let updated = c
            .updated_at_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map_or_else(
                || "-".to_owned(),
                |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            );
        let mut lag = c.lag_events.to_string();
        if c.cursor > c.head {
            lag = format!("{lag} (cursor beyond head)");
        }
        rows.push(vec![
            escape_text(&c.consumer).into_owned(),
            escape_text(&c.topic).into_owned(),
            c.cursor.to_string(),
            c.head.to_string(),
            lag,
            lag_time,
            updated,
        ]);
    }
    writeln!(out, "consumers")?;
    table(out, &rows)
}

/// `stats`' problems, for stderr.
pub fn stats_problems(s: &FamilyStats) {
    for d in &s.problems {
        say!(
            "journal: error: {}: {}; its events are not counted",
            escape_text(&d.place()),
            escape_text(&d.detail)
        );
    }
}

/// Schema `journal-stats-streams/1`.
pub fn stats_json(s: &FamilyStats) -> Value {
    json!({
        "format": s.format,
        "path": s.path.display().to_string(),
        "files": s.files,
        "bytes": s.bytes,
        "events": s.events,
        "kinds": s.kinds,
        "first_ts": s.first_ts,
        "last_ts": s.last_ts,
        "streams": s.streams,
        "consumers": s.consumers,
        "errors": s.errors,
        "warnings": s.warnings,
        "extra": s.extra,
        "problems": s.problems.iter().map(defect_json).collect::<Vec<_>>(),
    })
}

/// `verify` for people: defects grouped by file, notes, a summary line.
pub fn verify_text(out: &mut dyn Write, v: &FamilyVerify, color: bool) -> io::Result<()> {
    let mut current: Option<&std::path::Path> = None;
    for d in &v.defects {
        if current != Some(d.segment.as_path()) {
            writeln!(out, "{}", escape_name(&d.segment))?;
            current = Some(&d.segment);
        }
        writeln!(out, "  {}", super::verify::defect_line(d, color))?;
    }
    for n in &v.notes {
        writeln!(
            out,
            "note {}: {}: {}",
            n.kind,
            escape_text(&n.stream),
            escape_text(&n.detail)
        )?;
    }
    let (errors, warnings) = counts(&v.defects);
    let bytes: u64 = v.checked.iter().map(|c| c.bytes).sum();
    writeln!(
        out,
        "{} checked ({}), {} record{}, format {}: {errors} error{}, {warnings} warning{}",
        v.checked.len(),
        human_bytes(bytes),
        v.records,
        plural(v.records),
        v.format,
        plural(errors),
        plural(warnings)
    )
}

/// Schema `journal-verify-streams/1`.
pub fn verify_json(v: &FamilyVerify) -> Value {
    let (errors, warnings) = counts(&v.defects);
    json!({
        "format": v.format,
        "path": v.path.display().to_string(),
        "ok": errors == 0,
        "records": v.records,
        "checked": v.checked.iter().map(|c| json!({
            "name": c.name,
            "file": opt_name(c.file.as_deref()),
            "bytes": c.bytes,
            "records": c.records,
            "extra": c.extra,
        })).collect::<Vec<_>>(),
        "defects": v.defects.iter().map(defect_json).collect::<Vec<_>>(),
        "notes": v.notes,
        "errors": errors,
        "warnings": warnings,
    })
}

/// `repair` for people: what was refused, each step, what is left.
pub fn repair_text(out: &mut dyn Write, r: &FamilyRepair, color: bool) -> io::Result<()> {
    let would = if r.dry_run { "would " } else { "" };
    for refused in &r.refused {
        writeln!(
            out,
            "{}: left alone: {}",
            escape_name(&refused.file),
            escape_text(&refused.reason)
        )?;
    }
    for s in &r.steps {
        let what = match s.action {
            "cut-torn-tail" => format!(
                "{would}cut the torn last line {} ({} bytes at byte {})",
                s.line, s.len, s.offset
            ),
            "unglue" => format!(
                "{would}un-glue line {}: {would}keep the record {}, {would}remove the {}-byte \
                 fragment at byte {}",
                s.line,
                s.kept
                    .as_ref()
                    .map(|p| escape_text(&p.to_string()).into_owned())
                    .unwrap_or_default(),
                s.len,
                s.offset
            ),
            "add-newline" => format!(
                "{would}add the missing newline after the last line {} (the record {}), \
                 nothing removed",
                s.line,
                s.kept
                    .as_ref()
                    .map(|p| escape_text(&p.to_string()).into_owned())
                    .unwrap_or_default(),
            ),
            "drop-line" => format!(
                "{would}drop the unparseable line {} ({} bytes at byte {})",
                s.line, s.len, s.offset
            ),
            other => format!(
                "{would}{other} at line {} ({} bytes at byte {})",
                s.line, s.len, s.offset
            ),
        };
        let kept = match &s.quarantine {
            Some(q) => format!("; the bytes are in {}", escape_name(q)),
            None if s.len == 0 => String::new(),
            None => "; the bytes would go to a quarantine file first".to_owned(),
        };
        writeln!(out, "{}: {what}{kept}", escape_name(&s.file))?;
    }
    for d in &r.left {
        writeln!(
            out,
            "{}: left: {}",
            escape_name(&d.segment),
            super::verify::defect_line(d, color)
        )?;
    }
    let (errors, warnings) = counts(&r.left);
    writeln!(
        out,
        "{} step{}{}, {} file{} refused; left: {errors} error{}, {warnings} warning{}",
        r.steps.len(),
        plural(r.steps.len() as u64),
        if r.dry_run {
            " planned (dry run)"
        } else {
            " done"
        },
        r.refused.len(),
        plural(r.refused.len() as u64),
        plural(errors),
        plural(warnings)
    )
}

/// Schema `journal-repair-streams/1`.
pub fn repair_json(r: &FamilyRepair) -> Value {
    let (errors, warnings) = counts(&r.left);
    json!({
        "format": r.format,
        "path": r.path.display().to_string(),
        "dry_run": r.dry_run,
        "steps": r.steps.iter().map(|s| json!({
            "action": s.action,
            "file": file_name_lossy(&s.file),
            "line": s.line,
            "offset": s.offset,
            "len": s.len,
            "kept": s.kept,
            "quarantine": opt_name(s.quarantine.as_deref()),
        })).collect::<Vec<_>>(),
        "refused": r.refused.iter().map(|f| json!({
            "file": file_name_lossy(&f.file),
            "reason": f.reason,
            "extra": f.extra,
        })).collect::<Vec<_>>(),
        "left": r.left.iter().map(defect_json).collect::<Vec<_>>(),
        "errors": errors,
        "warnings": warnings,
    })
}

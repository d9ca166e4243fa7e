//! `stats`' report: a picture of a journal, or the `journal-stats/1` object.

use crate::render::escape::escape_name;
use std::io::{self, Write};
use std::path::Path;

use serde_json::Value;

use super::human_bytes;
use crate::render::escape::escape_text;
use crate::stats::Stats;
use crate::writer::format_ts;

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The stats for people, one aligned line per figure.
pub fn write_text(out: &mut dyn Write, dir: &Path, s: &Stats) -> io::Result<()> {
    writeln!(
        out,
        "journal     {}",
        crate::render::escape::escape_path(dir)
    )?;
    writeln!(out, "format      segments")?;
    writeln!(out, "segments    {} ({})", s.segments, human_bytes(s.bytes))?;
    match &s.seq {
        Some(r) => writeln!(
            out,
            "events      {} (seq {}..{})",
            s.events, r.first, r.last
        )?,
        None => writeln!(out, "events      0")?,
    }
    writeln!(out, "damaged     {} line(s)", s.damaged_lines)?;
    if let Some(t) = &s.time {
        let span = (t.last - t.first).to_std().unwrap_or_default();
        let span = std::time::Duration::from_secs(span.as_secs());
        writeln!(
            out,
            "time        {} .. {} ({})",
            format_ts(t.first),
            format_ts(t.last),
            humantime::format_duration(span)
        )?;
    }
    writeln!(
        out,
        "sessions    {} ({} event(s) without a session)",
        s.sessions, s.events_without_session
    )?;
    if let Some(n) = &s.newest_segment {
        writeln!(
            out,
            "newest      {}: {} of {} ({:.1}%)",
            escape_name(&n.segment),
            human_bytes(n.bytes),
            human_bytes(n.rotate_bytes),
            n.fill * 100.0
        )?;
    }
    match &s.torn_tail {
        Some(t) => writeln!(
            out,
            "torn tail   {} bytes at byte {} of {} (cut by the next writer)",
            t.bytes,
            t.offset,
            escape_name(&t.segment)
        )?,
        None => writeln!(out, "torn tail   none")?,
    }
    writeln!(
        out,
        "quarantine  {} file(s), {} (prune --quarantine-max-age ages them out)",
        s.quarantine.files,
        human_bytes(s.quarantine.bytes)
    )?;
    if let Some(h) = &s.histogram {
        let max = h.counts.iter().copied().max().unwrap_or(0).max(1);
        let spark: String = h
            .counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    ' '
                } else {
                    SPARKS[(c * 7 / max) as usize]
                }
            })
            .collect();
        let bucket = std::time::Duration::from_secs(h.bucket_seconds.round().max(1.0) as u64);
        writeln!(
            out,
            "activity    {spark}  ({} buckets of {}, peak {max})",
            h.counts.len(),
            humantime::format_duration(bucket)
        )?;
    }
    writeln!(out, "types       {}", s.types.len())?;
    let mut types: Vec<(&String, &u64)> = s.types.iter().collect();
    types.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let width = types.first().map_or(1, |(_, n)| n.to_string().len());
    for (t, n) in types {
        writeln!(out, "  {n:>width$}  {}", escape_text(t))?;
    }
    if s.untyped > 0 {
        writeln!(out, "  {:>width$}  (no event type)", s.untyped)?;
    }
    Ok(())
}

/// The `--json` object, schema [`STATS_SCHEMA`](super::STATS_SCHEMA): the
/// core's [`Stats`] and `dir`.
pub fn json(dir: &Path, s: &Stats) -> serde_json::Result<Value> {
    let mut value = serde_json::to_value(s)?;
    value["dir"] = Value::String(dir.display().to_string());
    value["format"] = Value::String("segments".to_owned());
    Ok(value)
}

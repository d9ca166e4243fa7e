//! `journal stats`: a picture of a journal, for people or (`--json`) programs.

use std::env;
use std::io::{self, IsTerminal, Write};

use anyhow::{Result, bail};
use journal::segment::file_name_lossy;
use journal::stats::{Stats, StatsOptions, stats};
use journal::writer::format_ts;

use crate::cli::StatsArgs;
use crate::cmd::units::{human_bytes, parse_size};
use crate::cmd::{Context, open_listing};
use crate::exit_codes::ExitCode;

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub fn run(args: StatsArgs, ctx: &Context) -> Result<ExitCode> {
    let rotate_bytes = parse_size("--rotate-bytes", &args.rotate_bytes)?;
    if rotate_bytes == 0 || args.buckets == 0 {
        bail!("--rotate-bytes and --buckets must be more than 0");
    }
    let opts = StatsOptions {
        rotate_bytes,
        buckets: args.buckets,
        ..StatsOptions::default()
    };
    let listing = open_listing(&args.dir)?;
    let bar = progress_bar(listing.total_bytes());
    let s = stats(&listing, &opts, &|bytes| bar.inc(bytes))?;
    bar.finish_and_clear();

    let mut out = ctx.stdout(false);
    if args.json {
        let mut value = serde_json::to_value(&s)?;
        value["dir"] = serde_json::Value::String(listing.dir.display().to_string());
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &listing.dir, &s)?;
    }
    out.flush()?;
    Ok(ExitCode::Success)
}

/// A bar on stderr when it is a terminal and NO_COLOR is unset; hidden otherwise.
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let no_color = env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if !io::stderr().is_terminal() || no_color {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} scanning {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

fn write_text(out: &mut dyn Write, dir: &std::path::Path, s: &Stats) -> Result<()> {
    writeln!(
        out,
        "journal     {}",
        journal::render::escape::escape_path(dir)
    )?;
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
            file_name_lossy(&n.segment),
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
            file_name_lossy(&t.segment)
        )?,
        None => writeln!(out, "torn tail   none")?,
    }
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
        writeln!(
            out,
            "  {n:>width$}  {}",
            journal::render::escape::escape_text(t)
        )?;
    }
    if s.untyped > 0 {
        writeln!(out, "  {:>width$}  (no event type)", s.untyped)?;
    }
    Ok(())
}

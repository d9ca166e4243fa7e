//! `journal prune`: retention for cron, safe under a live writer.

use std::io::Write;

use anyhow::{Result, bail};
use chrono::Utc;
use journal::prune::{PruneOptions, PruneReport, prune};
use journal::segment::file_name_lossy;

use crate::cli::PruneArgs;
use crate::cmd::units::{human_bytes, parse_duration, parse_size};
use crate::cmd::{Context, resolve_dir};
use crate::exit_codes::ExitCode;

/// How the report is printed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Report {
    /// Lines for people (and for logs): the default.
    Text,
    /// Nothing on success (`-q`).
    Quiet,
    /// One JSON object (`--json`).
    Json,
}

fn options(args: &PruneArgs) -> Result<PruneOptions> {
    if args.keep == 0 {
        bail!(
            "--keep 0: the newest segment is never deleted (a writer appends to it), so \
             keeping 0 segments cannot be done; use --keep 1 to keep only the newest"
        );
    }
    Ok(PruneOptions {
        keep: args.keep,
        max_bytes: args
            .max_bytes
            .as_deref()
            .map(|s| parse_size("--max-bytes", s))
            .transpose()?,
        max_age: args
            .max_age
            .as_deref()
            .map(|s| parse_duration("--max-age", s))
            .transpose()?,
        now: Utc::now(),
        dry_run: args.dry_run,
        wait: parse_duration("--wait", &args.wait)?,
    })
}

pub fn run(args: PruneArgs, ctx: &Context) -> Result<ExitCode> {
    let opts = options(&args)?;
    crate::cmd::act_as(args.as_user.as_deref())?;
    let report_as = if args.json {
        Report::Json
    } else if args.quiet {
        Report::Quiet
    } else {
        Report::Text
    };
    let dir = resolve_dir(&args.dir)?;
    let report = prune(&dir, &opts)?;
    let mut out = ctx.stdout(false);
    match report_as {
        Report::Quiet => {}
        Report::Json => {
            let mut value = serde_json::to_value(&report)?;
            value["dir"] = serde_json::Value::String(dir.display().to_string());
            serde_json::to_writer(&mut out, &value)?;
            writeln!(out)?;
        }
        Report::Text => {
            for w in &report.warnings {
                eprintln!(
                    "journal: warning: {}: {}",
                    file_name_lossy(&w.segment),
                    w.message
                );
            }
            write_text(&mut out, &report)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::Success)
}

fn write_text(out: &mut dyn Write, r: &PruneReport) -> Result<()> {
    let verb = if r.dry_run { "would delete" } else { "deleted" };
    for p in &r.deleted {
        writeln!(
            out,
            "{verb} {}  seqs {}..{}  {}",
            file_name_lossy(&p.segment),
            p.start_seq,
            p.last_seq,
            human_bytes(p.bytes)
        )?;
    }
    let oldest = r
        .oldest_seq
        .map_or_else(|| "none".to_owned(), |s| s.to_string());
    if r.deleted.is_empty() {
        writeln!(
            out,
            "nothing to prune: {} segment(s), {}, oldest seq {oldest}",
            r.segments_kept,
            human_bytes(r.bytes_kept)
        )?;
    } else {
        let s = if r.deleted.len() == 1 { "" } else { "s" };
        writeln!(
            out,
            "{} {} segment{s}, {} freed; {} segment(s) left, {}, oldest seq now {oldest}",
            if r.dry_run { "would prune" } else { "pruned" },
            r.deleted.len(),
            human_bytes(r.bytes_freed),
            r.segments_kept,
            human_bytes(r.bytes_kept)
        )?;
    }
    Ok(())
}

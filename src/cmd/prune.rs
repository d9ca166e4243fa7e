//! `journal prune`: retention for cron, safe under a live writer.

use std::io::Write;

use anyhow::{Result, bail};
use chrono::Utc;
use journal::prune::{PruneOptions, UnreadCursor, prune};
use journal::render::report::{self, PRUNE_SCHEMA, write_json};

use crate::cli::PruneArgs;
use crate::cmd::{Context, resolve_dir};
use crate::exit_codes::ExitCode;
use crate::units::{parse_duration, parse_size};

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

/// The last seq a reader processed in this journal: a `tail --cursor-file`
/// of one journal (one seq), or of several (JSON: the entry whose source id
/// or path is this directory's). `None`: that reader has not started here.
fn reader_position(file: &std::path::Path, dir: &std::path::Path) -> Result<Option<u64>> {
    let looks_json = std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.len() < 1 << 20)
        && std::fs::read(file).is_ok_and(|b| b.trim_ascii_start().first() == Some(&b'{'));
    if !looks_json {
        return crate::cmd::tail::read_cursor(file);
    }
    let text = std::fs::read_to_string(file)?;
    let value: serde_json::Value = serde_json::from_str(&text)?;
    let Some(sources) = value.get("sources").and_then(|s| s.as_object()) else {
        bail!("not a cursor: a JSON object without \"sources\"");
    };
    let host = crate::cmd::identity::host_name();
    let id = crate::cmd::identity::derived_source_id(&host, dir);
    let canon = std::fs::canonicalize(dir).ok();
    let entry = sources.get(&id).or_else(|| {
        sources.values().find(|e| {
            e["path"]
                .as_str()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .is_some_and(|p| Some(p) == canon)
        })
    });
    match entry {
        None => Ok(None),
        Some(e) => match &e["positions"][""] {
            serde_json::Value::Null => Ok(None),
            v => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| anyhow::anyhow!("not a cursor: the position {v} is not a seq")),
        },
    }
}

fn options(args: &PruneArgs) -> Result<PruneOptions> {
    let dir = resolve_dir(&args.dir)?;
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
        quarantine_max_age: args
            .quarantine_max_age
            .as_deref()
            .map(|s| parse_duration("--quarantine-max-age", s))
            .transpose()?,
        dry_run: args.dry_run,
        wait: parse_duration("--wait", &args.wait)?,
        keep_unread: args
            .keep_unread
            .iter()
            .map(|file| {
                let after = reader_position(file, &dir).map_err(|e| {
                    e.context(format!(
                        "--keep-unread {}: the reader's position cannot be known; nothing was deleted",
                        file.display()
                    ))
                })?;
                Ok(UnreadCursor {
                    file: file.clone(),
                    after,
                })
            })
            .collect::<Result<_>>()?,
    })
}

pub fn run(args: PruneArgs, ctx: &Context) -> Result<ExitCode> {
    crate::cmd::segments_only(&args.dir, "prune")?;
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
            write_json(&mut out, PRUNE_SCHEMA, report::prune::json(&dir, &report)?)?;
        }
        Report::Text => {
            report::prune::warnings(&report);
            report::prune::write_text(&mut out, &report)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::Success)
}

//! `journal prune`: retention for cron, safe under a live writer.

use std::io::Write;

use anyhow::{Result, bail};
use chrono::Utc;
use journal::prune::{PruneOptions, UnreadCursor, prune};
use journal::render::report::{self, PRUNE_SCHEMA, write_json};

use crate::cli::PruneArgs;
use crate::cmd::units::{parse_duration, parse_size};
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
                let after = crate::cmd::tail::read_cursor(file).map_err(|e| {
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

//! The per-session store (aios-events) behind the same subcommands: the
//! commands detect the format and hand over here; query and render are the
//! same as for segments, on the shared record model.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use journal::query::Query;
use journal::render::report::{self, sessions as rep, write_json};
use journal::source::session_repair;
use journal::source::sessions::{SessionFile, SessionStore};

use crate::cli::{RecoverArgs, RepairArgs, StatsArgs, VerifyArgs};
use crate::cmd::Context;
use crate::exit_codes::ExitCode;

/// A field path that does not start at the record (`kind.type`, `branch_id`)
/// is looked up from the record's root: a session record has no `event`.
pub fn session_query(mut query: Query) -> Query {
    for f in &mut query.fields {
        if f.path.len() > 1 && f.path[0] == "event" {
            f.path.remove(0);
        }
    }
    query
}

fn read(dir: &Path) -> Result<(SessionStore, Vec<SessionFile>)> {
    let store = SessionStore::open(dir)?;
    let files = store.read_all()?;
    Ok((store, files))
}

/// `recover`: the latest sequence of every session and branch.
pub fn recover(dir: &Path, args: &RecoverArgs, ctx: &Context) -> Result<ExitCode> {
    let (store, files) = read(dir)?;
    let recovery = rep::Recovery::of(&files);
    let mut out = ctx.stdout(false);
    if args.json {
        write_json(
            &mut out,
            report::RECOVER_SESSIONS_SCHEMA,
            rep::recover_json(&store, &recovery),
        )?;
    } else {
        rep::recover_text(&mut out, &recovery)?;
    }
    out.flush()?;
    Ok(ExitCode::Success)
}

/// `stats`: sessions, branches, events per kind, time range, damage.
pub fn stats(dir: &Path, args: &StatsArgs, ctx: &Context) -> Result<ExitCode> {
    let (store, files) = read(dir)?;
    let stats = rep::Stats::of(&files);
    let mut out = ctx.stdout(false);
    if args.json {
        write_json(
            &mut out,
            report::STATS_SESSIONS_SCHEMA,
            rep::stats_json(&store, &stats),
        )?;
    } else {
        rep::stats_text(&mut out, &store, &stats)?;
    }
    out.flush()?;
    Ok(ExitCode::Success)
}

/// `verify`: every defect of every session file, exactly located.
pub fn verify(dir: &Path, args: &VerifyArgs, ctx: &Context) -> Result<ExitCode> {
    let (store, files) = read(dir)?;
    let mut defects: Vec<_> = files.iter().flat_map(SessionFile::defects).collect();
    if args.strict {
        for d in &mut defects {
            d.severity = journal::Severity::Error;
        }
    }
    let errors = defects
        .iter()
        .filter(|d| d.severity == journal::Severity::Error)
        .count();
    if !args.quiet {
        let mut out = ctx.stdout(false);
        if args.json {
            write_json(
                &mut out,
                report::VERIFY_SESSIONS_SCHEMA,
                rep::verify_json(&store, &files, &defects),
            )?;
        } else {
            rep::verify_text(&mut out, &files, &defects, ctx.color)?;
        }
        out.flush()?;
    }
    Ok(if errors > 0 {
        ExitCode::JournalErrors
    } else {
        ExitCode::Success
    })
}

/// `repair`: cut torn tails, un-glue glued lines (and with
/// `--drop-corrupt-lines` drop unparseable lines), every removed byte
/// quarantined first; files another process holds open are refused unless
/// `--force`.
pub fn repair(dir: &Path, args: &RepairArgs, ctx: &Context) -> Result<ExitCode> {
    let (store, files) = read(dir)?;
    let mut plan = session_repair::plan(&files, args.drop_corrupt_lines, args.force);
    let after = session_repair::after(&files, &plan);
    if !args.dry_run {
        session_repair::apply(&store, &files, &mut plan)?;
    }
    let left: Vec<_> = after.iter().flat_map(SessionFile::defects).collect();
    let errors = left
        .iter()
        .filter(|d| d.severity == journal::Severity::Error)
        .count();
    let mut out = ctx.stdout(false);
    if args.json {
        write_json(
            &mut out,
            report::REPAIR_SESSIONS_SCHEMA,
            rep::repair_json(&store, &plan, &left, args.dry_run),
        )?;
    } else {
        rep::repair_text(&mut out, &plan, &left, args.dry_run, ctx.color)?;
    }
    out.flush()?;
    Ok(if errors > 0 || !plan.refused.is_empty() {
        ExitCode::JournalErrors
    } else {
        ExitCode::Success
    })
}

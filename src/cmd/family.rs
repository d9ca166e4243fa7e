//! Every family format (every format but the engine's segments) behind the
//! same subcommands, through one trait: the command opens the format with
//! [`open_family`] and asks the reader; render words the values. Nothing here
//! knows which format it reads.

use std::io::Write;

use anyhow::Result;
use journal::defect::{DefectKind, Severity};
use journal::render::report::{self, family as rep, write_json};
use journal::source::family::{FamilyRepairOptions, FamilyVerifyOptions};
use journal::source::reader::Source;

use crate::cli::{RecoverArgs, RepairArgs, StatsArgs, VerifyArgs};
use crate::cmd::Context;
use crate::exit_codes::ExitCode;

/// A file that could not be read is exit 2, as an unreadable segment is.
fn unreadable(defects: &[journal::Defect]) -> bool {
    defects.iter().any(|d| d.kind == DefectKind::Unreadable)
}

/// `recover`: the head of every stream.
pub fn recover(source: &dyn Source, args: &RecoverArgs, ctx: &Context) -> Result<ExitCode> {
    let heads = source.heads()?;
    let mut out = ctx.stdout(false);
    if args.json {
        write_json(
            &mut out,
            report::RECOVER_STREAMS_SCHEMA,
            rep::recover_json(&heads),
        )?;
    } else {
        rep::recover_text(&mut out, &heads)?;
    }
    out.flush()?;
    rep::recover_problems(&heads);
    Ok(if unreadable(&heads.problems) {
        ExitCode::CouldNotRun
    } else {
        ExitCode::Success
    })
}

/// `stats`: files, streams, events per type, time range, damage.
pub fn stats(source: &dyn Source, args: &StatsArgs, ctx: &Context) -> Result<ExitCode> {
    let stats = source.stats()?;
    let mut out = ctx.stdout(false);
    if args.json {
        write_json(
            &mut out,
            report::STATS_STREAMS_SCHEMA,
            rep::stats_json(&stats),
        )?;
    } else {
        rep::stats_text(&mut out, &stats)?;
    }
    out.flush()?;
    rep::stats_problems(&stats);
    Ok(if unreadable(&stats.problems) {
        ExitCode::CouldNotRun
    } else {
        ExitCode::Success
    })
}

/// `verify`: every defect, exactly located.
pub fn verify(source: &dyn Source, args: &VerifyArgs, ctx: &Context) -> Result<ExitCode> {
    let v = source.verify(&FamilyVerifyOptions {
        strict: args.strict,
        deep: args.deep,
    })?;
    if !args.quiet {
        let mut out = ctx.stdout(false);
        if args.json {
            write_json(
                &mut out,
                report::VERIFY_STREAMS_SCHEMA,
                rep::verify_json(&v),
            )?;
        } else {
            rep::verify_text(&mut out, &v, ctx.color)?;
        }
        out.flush()?;
    }
    let errors = v.defects.iter().any(|d| d.severity == Severity::Error);
    Ok(if errors {
        ExitCode::JournalErrors
    } else {
        ExitCode::Success
    })
}

/// `repair`: what the format's reader cuts, un-glues or drops, every removed
/// byte quarantined first; what it refuses is said and is exit 1.
pub fn repair(source: &dyn Source, args: &RepairArgs, ctx: &Context) -> Result<ExitCode> {
    let r = source.repair(&FamilyRepairOptions {
        dry_run: args.dry_run,
        drop_corrupt_lines: args.drop_corrupt_lines,
        force: args.force,
        wait: Some(args.wait),
    })?;
    let mut out = ctx.stdout(false);
    if args.json {
        write_json(
            &mut out,
            report::REPAIR_STREAMS_SCHEMA,
            rep::repair_json(&r),
        )?;
    } else {
        rep::repair_text(&mut out, &r, ctx.color)?;
    }
    out.flush()?;
    let errors = r.left.iter().any(|d| d.severity == Severity::Error);
    Ok(if errors || !r.refused.is_empty() {
        ExitCode::JournalErrors
    } else {
        ExitCode::Success
    })
}

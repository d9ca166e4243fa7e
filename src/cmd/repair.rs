//! `journal repair`: take the claim, plan, print or carry out the plan, and
//! say exactly what was removed, where it was kept, and what was left.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use journal::claim::Claim;
use journal::defect::Defect;
use journal::repair::{RepairMode, RepairPlan, Step, apply_repair, plan_repair};
use journal::segment::{Listing, file_name_lossy};
use serde_json::{Value, json};

use crate::cli::RepairArgs;
use crate::cmd::{Context, resolve_dir};
use crate::exit_codes::ExitCode;
use journal::render::escape::escape_text;

/// Test-only: abort the process right after the K-th durable step of a
/// repair, to show that a crash at that point loses nothing.
const ABORT_AFTER_ENV: &str = "JOURNAL_REPAIR_TEST_ABORT_AFTER";

/// The plain options `repair` runs with.
struct RepairOptions {
    /// Default: tail only; `--drop-corrupt-lines` drops damaged lines anywhere.
    mode: RepairMode,
    /// Print the plan, change nothing. Default false.
    dry_run: bool,
    /// Longest wait for the writer's claim. Default 5 s.
    wait: Duration,
    /// Print one JSON object. Default false.
    json: bool,
    /// Test-only crash point (from the environment). Default none.
    abort_after: Option<usize>,
}

impl RepairOptions {
    fn new(args: &RepairArgs) -> Self {
        RepairOptions {
            mode: if args.drop_corrupt_lines {
                RepairMode::DropCorrupt
            } else {
                RepairMode::TailOnly
            },
            dry_run: args.dry_run,
            wait: args.wait,
            json: args.json,
            // Honoured in debug builds only (the tests' binary): a release
            // binary cannot be made to abort by a stray variable.
            abort_after: std::env::var(ABORT_AFTER_ENV)
                .ok()
                .filter(|_| cfg!(debug_assertions))
                .and_then(|v| v.parse().ok()),
        }
    }
}

pub fn run(args: RepairArgs, ctx: &Context) -> Result<ExitCode> {
    let opts = RepairOptions::new(&args);
    crate::cmd::act_as(args.as_user.as_deref())?;
    let dir = resolve_dir(&args.dir)?;
    // Check it is a journal before the claim creates a lock file in it.
    let first = Listing::read_journal(&dir)?;
    // A dry run changes nothing, not even by creating the lock file; where
    // the lock exists it still takes the claim, so the plan is exact.
    let claim = if opts.dry_run && !first.has_lock_file {
        None
    } else {
        Some(Claim::acquire(&dir, opts.wait)?)
    };
    // Listed again under the claim: nothing can change it from here on.
    let listing = Listing::read(&dir)?;
    let plan = plan_repair(&listing, opts.mode)?;
    let mut quarantined = Vec::new();
    if !opts.dry_run && !plan.is_empty() {
        let mut steps = 0usize;
        let mut on_step = |_: &Step| {
            steps += 1;
            if opts.abort_after == Some(steps) {
                std::process::abort();
            }
        };
        if let Some(claim) = &claim {
            quarantined = apply_repair(claim, &listing, &plan, &mut on_step)?.quarantined;
        }
    }
    drop(claim);
    let mut out = ctx.stdout(false);
    if opts.json {
        let v = plan_json(&listing, &plan, opts.dry_run, &quarantined);
        serde_json::to_writer(&mut out, &v)?;
        writeln!(out)?;
    } else {
        write_plan(&mut out, &listing, &plan, opts.dry_run, &quarantined)?;
    }
    out.flush()?;
    Ok(if plan.is_refused() {
        ExitCode::JournalErrors
    } else {
        ExitCode::Success
    })
}

fn mode_name(mode: RepairMode) -> &'static str {
    match mode {
        RepairMode::TailOnly => "tail only",
        RepairMode::DropCorrupt => "dropping corrupt lines",
    }
}

fn write_plan(
    out: &mut dyn Write,
    listing: &Listing,
    plan: &RepairPlan,
    dry_run: bool,
    quarantined: &[PathBuf],
) -> io::Result<()> {
    // (delete, truncate, rewrite) as planned or as done.
    let (header, [delete, truncate, rewrite]) = if dry_run {
        ("plan", ["would delete", "would truncate", "would rewrite"])
    } else {
        ("repair", ["deleted", "truncated", "rewrote"])
    };
    writeln!(
        out,
        "{header} ({}) of {}:",
        mode_name(plan.mode),
        journal::render::escape::escape_path(&listing.dir)
    )?;
    if plan.is_empty() {
        writeln!(out, "  nothing to remove")?;
    }
    for path in &plan.tail.delete {
        let bytes = listing
            .segments
            .iter()
            .find(|s| s.path == *path)
            .map_or(0, |s| s.len);
        writeln!(
            out,
            "  {delete} {}: {bytes} bytes, no complete valid line",
            file_name_lossy(path)
        )?;
    }
    if let Some((path, new_len, removed)) = &plan.tail.truncate {
        writeln!(
            out,
            "  {truncate} {} to {new_len} bytes: {removed} bytes after its last complete \
             valid line, from byte {new_len}",
            file_name_lossy(path)
        )?;
    }
    for r in &plan.rewrites {
        let name = file_name_lossy(&r.segment);
        if r.delete {
            writeln!(
                out,
                "  {delete} {name}: nothing in it but damage ({} bytes)",
                r.old_len
            )?;
        } else {
            let lines: u64 = r.drop.iter().map(|d| d.lines).sum();
            writeln!(
                out,
                "  {rewrite} {name} without {lines} damaged line{} ({} of {} bytes)",
                if lines == 1 { "" } else { "s" },
                r.old_len - r.new_len,
                r.old_len
            )?;
        }
        for d in &r.drop {
            let kinds: Vec<&str> = d.kinds.iter().map(|k| k.name()).collect();
            writeln!(
                out,
                "    line {}{}, byte {}, {} bytes: {}",
                d.first_line,
                if d.lines > 1 {
                    format!("..{}", d.first_line + d.lines - 1)
                } else {
                    String::new()
                },
                d.offset,
                d.len,
                kinds.join(", ")
            )?;
        }
    }
    let mut hints = plan.tail_seq_hints.clone();
    hints.extend(plan.dropped_seq_hints());
    write!(
        out,
        "max seq: {} before, {} after",
        plan.max_seq, plan.max_seq
    )?;
    if !hints.is_empty() {
        let hints: Vec<String> = hints.iter().map(u64::to_string).collect();
        write!(
            out,
            "; the removed lines started with seq {}",
            hints.join(", ")
        )?;
    }
    writeln!(out)?;
    if !plan.refused.is_empty() {
        writeln!(
            out,
            "refused ({}): damage inside segments needs --drop-corrupt-lines; entries that are \
             not regular files are never touched",
            plan.refused_count
        )?;
        write_defects(out, &plan.refused)?;
    }
    if !plan.left.is_empty() {
        writeln!(
            out,
            "left as is (repair never invents, renumbers or edits records):"
        )?;
        write_defects(out, &plan.left)?;
    }
    if !quarantined.is_empty() {
        writeln!(out, "quarantine (every removed byte):")?;
        for q in quarantined {
            writeln!(out, "  {}", journal::render::escape::escape_path(q))?;
        }
    }
    Ok(())
}

fn write_defects(out: &mut dyn Write, defects: &[Defect]) -> io::Result<()> {
    for d in defects {
        writeln!(
            out,
            "  {}: {}: {}",
            d.place(),
            d.kind.name(),
            escape_text(&d.detail)
        )?;
    }
    Ok(())
}

/// The `--json` object: schema "journal-repair/1".
fn plan_json(
    listing: &Listing,
    plan: &RepairPlan,
    dry_run: bool,
    quarantined: &[PathBuf],
) -> Value {
    let delete: Vec<Value> = plan
        .tail
        .delete
        .iter()
        .map(|p| {
            let bytes = listing
                .segments
                .iter()
                .find(|s| s.path == *p)
                .map_or(0, |s| s.len);
            json!({"segment": file_name_lossy(p), "bytes": bytes})
        })
        .collect();
    let truncate = plan.tail.truncate.as_ref().map(|(p, new_len, removed)| {
        json!({"segment": file_name_lossy(p), "new_len": new_len, "removed": removed})
    });
    json!({
        "schema": "journal-repair/1",
        "dir": listing.dir.display().to_string(),
        "mode": plan.mode,
        "dry_run": dry_run,
        "repaired": !plan.is_refused(),
        "max_seq_before": plan.max_seq,
        "max_seq_after": plan.max_seq,
        "removed_bytes": plan.removed_bytes(),
        "tail": {"delete": delete, "truncate": truncate, "seq_hints": plan.tail_seq_hints},
        "rewrites": plan.rewrites,
        "dropped_seq_hints": plan.dropped_seq_hints(),
        "refused_count": plan.refused_count,
        "refused": plan.refused,
        "left": plan.left,
        "quarantine": quarantined.iter().map(|q| q.display().to_string()).collect::<Vec<_>>(),
    })
}

//! `journal repair`: take the claim, plan, print or carry out the plan, and
//! say exactly what was removed, where it was kept, and what was left.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use journal::claim::Claim;
use journal::render::report::{self, REPAIR_SCHEMA, write_json};
use journal::repair::{RepairMode, Step, apply_repair, plan_repair};
use journal::segment::Listing;

use crate::cli::RepairArgs;
use crate::cmd::{Context, DirReads, Target, family, open_target, resolve_dir};
use crate::exit_codes::ExitCode;
use journal::source::OpenOptions;

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
    if let Target::Family(source) =
        open_target(&args.dir, &OpenOptions::default(), DirReads::Fresh)?
    {
        return family::repair(source.as_ref(), &args, ctx);
    }
    let dir = resolve_dir(&args.dir)?;
    // Check it is a journal before the claim creates a lock file in it.
    let first = Listing::read_journal(&dir)?;
    // A dry run changes nothing, not even by creating the lock file; where
    // the lock exists it still takes the claim, so the plan is exact.
    let claim = if opts.dry_run && !first.has_lock_file() {
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
        let v = report::repair::json(&listing, &plan, opts.dry_run, &quarantined);
        write_json(&mut out, REPAIR_SCHEMA, v)?;
    } else {
        report::repair::write_text(&mut out, &listing, &plan, opts.dry_run, &quarantined)?;
    }
    out.flush()?;
    Ok(if plan.is_refused() {
        ExitCode::JournalErrors
    } else {
        ExitCode::Success
    })
}

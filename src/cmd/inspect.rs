//! `journal inspect`: events newest first (or oldest first), filtered, stopping
//! as soon as the limit is met.

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::Result;
use journal::defect::Defect;
use journal::lines::ReadOptions;
use journal::record::parse_line;
use journal::scan::{Direction, Visit, scan};

use crate::cli::{InspectArgs, OutputFormat};
use crate::cmd::{Context, open_listing};
use crate::exit_codes::ExitCode;
use journal::render::notice::DamageTally;
use journal::render::{RenderOptions, Renderer};

/// Events shown when neither `-n`, `--all` nor a range says otherwise.
const DEFAULT_LIMIT: usize = 20;

/// The plain options `inspect` runs with.
struct InspectOptions {
    /// Stop after this many matching events; `None` for all. Default 20, or
    /// all when a time or seq range is given (as `journalctl -S` does: a
    /// range asks for the whole range).
    limit: Option<usize>,
    /// Read from the oldest event forwards. Default: newest first.
    direction: Direction,
    /// Default: table on a terminal, raw otherwise.
    format: OutputFormat,
}

impl InspectOptions {
    fn new(args: &InspectArgs, ctx: &Context) -> Self {
        InspectOptions {
            limit: if args.all {
                None
            } else if args.limit.is_some() {
                args.limit
            } else if args.filters.since.is_some()
                || args.filters.until.is_some()
                || args.filters.seq.is_some()
            {
                None
            } else {
                Some(DEFAULT_LIMIT)
            },
            direction: if args.oldest_first {
                Direction::OldestFirst
            } else {
                Direction::NewestFirst
            },
            format: args.output.unwrap_or(if ctx.stdout_tty {
                OutputFormat::Table
            } else {
                OutputFormat::Raw
            }),
        }
    }
}

pub fn run(args: InspectArgs, ctx: &Context) -> Result<ExitCode> {
    let opts = InspectOptions::new(&args, ctx);
    let matcher = args.filters.to_query()?.matcher();
    let listing = open_listing(&args.dir)?;
    let candidates = matcher.query().candidate_segments(&listing);

    let mut out = ctx.stdout(false);
    let mut renderer = Renderer::new(RenderOptions::for_console(opts.format.into(), ctx));
    let mut damage = DamageTally::default();
    let mut shown = 0usize;
    let mut write_error = None;
    if opts.limit != Some(0) {
        let _stopped = scan(
            &listing,
            &candidates,
            opts.direction,
            ReadOptions::default(),
            matcher.window_filter(),
            |visit| {
                let (segment, line) = match visit {
                    Visit::Damage(d) => {
                        damage.note(d);
                        return ControlFlow::Continue(());
                    }
                    Visit::Line { segment, line } => (segment, line),
                };
                let (Some(stored), Some(content)) = (line.raw(), line.content()) else {
                    return ControlFlow::Continue(());
                };
                if !matcher.prefilter(content) {
                    return ControlFlow::Continue(());
                }
                let record = match parse_line(content) {
                    Ok(record) => record,
                    Err(fault) => {
                        damage.note(Defect::from_fault(segment.path(), &line, &fault));
                        return ControlFlow::Continue(());
                    }
                };
                if !matcher.matches(&record) {
                    return ControlFlow::Continue(());
                }
                if let Err(e) = renderer.record(&mut out, &record, stored) {
                    write_error = Some(e);
                    return ControlFlow::Break(());
                }
                shown += 1;
                if opts.limit.is_some_and(|limit| shown >= limit) {
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            },
        )?;
    }
    if let Some(e) = write_error {
        return Err(e.into());
    }
    renderer.finish(&mut out)?;
    out.flush()?;
    damage.report(listing.dir());
    // A limit that stopped the output is said, so nobody takes the first N
    // for everything (the scan stops there, so whether more exist is unknown).
    if let Some(limit) = opts.limit
        && limit > 0
        && shown == limit
    {
        journal::render::notice::limit_reached(shown, args.limit.is_some());
    }
    if shown == 0 && opts.limit != Some(0) && ctx.stdout_tty {
        journal::render::notice::no_match();
    }
    Ok(ExitCode::Success)
}

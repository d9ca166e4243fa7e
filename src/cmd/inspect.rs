//! `journal inspect`: events newest first (or oldest first), filtered, stopping
//! as soon as the limit is met.

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::Result;
use journal::scan::Direction;
use journal::source::reader::{self, Item, Source};

use crate::cli::{InspectArgs, OutputFormat};
use crate::cmd::{Context, DirReads, Target, no_stream_filter, open_listing, open_target};
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
    if !args.more.is_empty() && args.read.snapshot {
        anyhow::bail!("--snapshot reads one redb journal; not with several journals");
    }
    if !args.more.is_empty() {
        let mut paths = vec![crate::cmd::resolve_dir(&args.dir)?];
        paths.extend(args.more.iter().cloned());
        let journals = crate::cmd::multi::journals(
            &paths,
            args.dir.format,
            &args.label,
            args.source_id.as_deref(),
            false,
            DirReads::MayUseCache,
        )?;
        return crate::cmd::multi::inspect(
            &journals,
            &args.filters,
            opts.limit,
            opts.direction,
            opts.format,
            args.limit.is_some(),
            ctx,
        );
    }
    if !args.label.is_empty() {
        anyhow::bail!("--label names one of several journals; only one was given");
    }
    let query = args.filters.to_query()?;
    // One reader per format behind one trait; the loop below is shared. The
    // engine's segments are read with the filter and visitor known at compile
    // time (as fast as before the trait); the others through the trait.
    let listing;
    let mut segments = None;
    let mut family = None;
    let matcher = match open_target(
        &args.dir,
        &args.read.with(args.filters.open_options()),
        DirReads::MayUseCache,
    )? {
        Target::Family(f) => {
            let matcher = f.adapt_query(query)?.matcher();
            family = Some(f);
            matcher
        }
        Target::Segments => {
            no_stream_filter(&args.filters)?;
            let matcher = query.matcher();
            listing = open_listing(&args.dir)?;
            let candidates = matcher.query().candidate_segments(&listing);
            segments = Some(reader::Segments {
                listing: &listing,
                candidates,
            });
            matcher
        }
    };
    let source: &dyn Source = match (&segments, &family) {
        (Some(s), _) => s,
        (None, Some(f)) => f.as_ref(),
        (None, None) => unreachable!("one reader is chosen above"),
    };

    let out = ctx.stdout(false);
    let renderer = Renderer::new(RenderOptions::for_console(opts.format.into(), ctx)).with_source(
        crate::cmd::identity::source_tag(
            &crate::cmd::resolve_dir(&args.dir)?,
            None,
            args.source_id.as_deref(),
        )?,
    );
    let mut damage = DamageTally::default();
    // Shared by the record visitor and the run visitor below.
    let printed = std::cell::RefCell::new(Printed {
        out,
        renderer,
        shown: 0,
        write_error: None,
    });
    let mut on_item = |item: Item<'_>| {
        let (record, stored, position) = match item {
            Item::Damage(d) => {
                damage.note(d);
                return ControlFlow::Continue(());
            }
            // Only a follower's reads restart a stream.
            Item::Restart { .. } => return ControlFlow::Continue(()),
            Item::Record {
                record,
                stored,
                position,
            } => (record, stored, position),
        };
        let p = &mut *printed.borrow_mut();
        if let Err(e) = p
            .renderer
            .record_at(&mut p.out, record, stored, &position, None)
        {
            p.write_error = Some(e);
            return ControlFlow::Break(());
        }
        p.shown += 1;
        if opts.limit.is_some_and(|limit| p.shown >= limit) {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    };
    // A whole dump of stored lines (no limit): runs of records are
    // written as they were read, with no work per record.
    let mut on_run = |_: &journal::segment::Segment, run: &[u8], count: usize| {
        let p = &mut *printed.borrow_mut();
        if let Err(e) = p.renderer.stored_run(&mut p.out, run) {
            p.write_error = Some(e);
            return ControlFlow::Break(());
        }
        p.shown += count;
        ControlFlow::Continue(())
    };
    // Read to the end: no limit, and no time range to stop at.
    let whole =
        opts.limit.is_none() && matcher.query().since.is_none() && matcher.query().until.is_none();
    let takes_runs = printed.borrow().renderer.prints_stored_lines();
    if opts.limit != Some(0) {
        match &segments {
            Some(s) if whole => s.visit_whole_with(
                &matcher,
                opts.direction,
                &mut on_item,
                takes_runs.then_some(&mut on_run as _),
            )?,
            Some(s) => s.visit_with(&matcher, opts.direction, &mut on_item)?,
            None => source.visit(&matcher, opts.direction, &mut on_item)?,
        }
    }
    let Printed {
        mut out,
        mut renderer,
        shown,
        write_error,
    } = printed.into_inner();
    if let Some(e) = write_error {
        return Err(e.into());
    }
    renderer.finish(&mut out)?;
    out.flush()?;
    damage.report(source.dir());
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
    // The rest was shown; the status says that a segment could not be read.
    if damage.any_unreadable() {
        return Ok(ExitCode::CouldNotRun);
    }
    Ok(ExitCode::Success)
}

/// What `inspect` has printed so far, and where.
struct Printed {
    out: Box<dyn Write>,
    renderer: Renderer,
    shown: usize,
    write_error: Option<std::io::Error>,
}

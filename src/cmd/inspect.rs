//! `journal inspect`: events newest first (or oldest first), filtered, stopping
//! as soon as the limit is met.

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::Result;
use journal::scan::Direction;
use journal::source::reader::{self, Item, Source};
use journal::source::sessions::SessionStore;

use crate::cli::{InspectArgs, OutputFormat};
use crate::cmd::{Context, no_branch_filter, open_listing, resolve_source, sessions};
use crate::exit_codes::ExitCode;
use journal::render::notice::DamageTally;
use journal::render::{RenderOptions, Renderer};
use journal::source::Format;

/// The plain options `inspect` runs with.
struct InspectOptions {
    /// Stop after this many matching events; `None` for all. Default 20.
    limit: Option<usize>,
    /// Read from the oldest event forwards. Default: newest first.
    direction: Direction,
    /// Default: table on a terminal, raw otherwise.
    format: OutputFormat,
}

impl InspectOptions {
    fn new(args: &InspectArgs, ctx: &Context) -> Self {
        InspectOptions {
            limit: (!args.all).then_some(args.limit),
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
    let (dir, format) = resolve_source(&args.dir)?;
    let query = args.filters.to_query()?;
    // One reader per format behind one trait; the loop below is shared.
    let listing;
    let (source, matcher): (Box<dyn Source>, _) = if format == Format::Sessions {
        let store = SessionStore::open(&dir)?;
        let branches = args.filters.branches.clone();
        let source = reader::Sessions { store, branches };
        (Box::new(source), sessions::session_query(query).matcher())
    } else {
        no_branch_filter(&args.filters)?;
        let matcher = query.matcher();
        listing = open_listing(&args.dir)?;
        let candidates = matcher.query().candidate_segments(&listing);
        let source = reader::Segments {
            listing: &listing,
            candidates,
        };
        (Box::new(source), matcher)
    };

    let mut out = ctx.stdout(false);
    let mut renderer = Renderer::new(RenderOptions::for_console(opts.format.into(), ctx));
    let mut damage = DamageTally::default();
    let mut shown = 0usize;
    let mut write_error = None;
    if opts.limit != Some(0) {
        source.visit(&matcher, opts.direction, &mut |item| {
            let (record, stored) = match item {
                Item::Damage(d) => {
                    damage.note(d);
                    return ControlFlow::Continue(());
                }
                Item::Record { record, stored, .. } => (record, stored),
            };
            if let Err(e) = renderer.record(&mut out, record, stored) {
                write_error = Some(e);
                return ControlFlow::Break(());
            }
            shown += 1;
            if opts.limit.is_some_and(|limit| shown >= limit) {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?;
    }
    if let Some(e) = write_error {
        return Err(e.into());
    }
    renderer.finish(&mut out)?;
    out.flush()?;
    damage.report(source.dir());
    if shown == 0 && opts.limit != Some(0) && ctx.stdout_tty {
        journal::render::notice::no_match();
    }
    Ok(ExitCode::Success)
}

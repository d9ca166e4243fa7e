//! `journal stats`: a picture of a journal, for people or (`--json`) programs.

use std::io::Write;

use anyhow::{Result, bail};
use journal::render::progress::Progress;
use journal::render::report::{self, STATS_SCHEMA, write_json};
use journal::stats::{StatsOptions, stats};

use crate::cli::StatsArgs;
use crate::cmd::{Context, Target, family, open_listing, open_streams};
use crate::exit_codes::ExitCode;
use crate::units::parse_size;

pub fn run(args: StatsArgs, ctx: &Context) -> Result<ExitCode> {
    if let Target::Family(source) = open_streams(&args.dir, &args.read, &args.streams)? {
        return family::stats(source.as_ref(), &args, ctx);
    }
    let rotate_bytes = parse_size("--rotate-bytes", &args.rotate_bytes)?;
    if rotate_bytes == 0 || args.buckets == 0 {
        bail!("--rotate-bytes and --buckets must be more than 0");
    }
    if args.buckets > journal::stats::MAX_BUCKETS {
        bail!("--buckets: at most {}", journal::stats::MAX_BUCKETS);
    }
    let opts = StatsOptions {
        rotate_bytes,
        buckets: args.buckets,
        ..StatsOptions::default()
    };
    let listing = open_listing(&args.dir)?;
    let bar = Progress::stats(listing.total_bytes(), ctx);
    let s = stats(&listing, &opts, &|bytes| bar.inc(bytes))?;
    bar.finish();

    let mut out = ctx.stdout(false);
    if args.json {
        write_json(
            &mut out,
            STATS_SCHEMA,
            report::stats::json(listing.dir(), &s)?,
        )?;
    } else {
        report::stats::write_text(&mut out, listing.dir(), &s)?;
    }
    out.flush()?;
    // Like ripgrep: the rest was counted, the status says something was not.
    for u in &s.unreadable {
        journal::render::notice::error(&format_args!(
            "{}: could not be read, its events are not counted: {}",
            u.segment.display(),
            u.error
        ));
    }
    if s.unreadable.is_empty() {
        Ok(ExitCode::Success)
    } else {
        Ok(ExitCode::CouldNotRun)
    }
}

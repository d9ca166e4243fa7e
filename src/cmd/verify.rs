//! `journal verify`: the full list of defects, grouped by segment, a summary
//! line and an exit status a script can act on; `--json` for programs.

use std::io::Write;

use anyhow::Result;
use journal::render::progress::Progress;
use journal::render::report::{self, VERIFY_SCHEMA, write_json};
use journal::verify::{VerifyOptions, verify};

use crate::cli::VerifyArgs;
use crate::cmd::{Context, DirReads, Target, family, open_target};
use crate::exit_codes::ExitCode;

/// The plain options `verify` runs with.
struct VerifyCmdOptions {
    /// Print the JSON object instead of the report. Default false.
    json: bool,
    /// Print nothing. Default false.
    quiet: bool,
    /// Core options: threads (default: the CPUs), strict (default false).
    core: VerifyOptions,
}

impl VerifyCmdOptions {
    fn new(args: &VerifyArgs) -> Self {
        let mut core = VerifyOptions {
            strict: args.strict,
            ..VerifyOptions::default()
        };
        if let Some(n) = args.threads {
            core.threads = usize::from(n);
        }
        VerifyCmdOptions {
            json: args.json,
            quiet: args.quiet,
            core,
        }
    }
}

pub fn run(args: VerifyArgs, ctx: &Context) -> Result<ExitCode> {
    if let Target::Family(source) =
        open_target(&args.dir, &args.read.open_options(), DirReads::MayUseCache)?
    {
        return family::verify(source.as_ref(), &args, ctx);
    }
    let opts = VerifyCmdOptions::new(&args);
    // Not `open_listing`: irregular entries are defects in the report here.
    let listing = crate::cmd::read_listing(&args.dir)?;
    let bar = Progress::verify(listing.total_bytes(), ctx, opts.quiet);
    let inc = |n: u64| bar.inc(n);
    let report = verify(&listing, &opts.core, bar.is_shown().then_some(&inc as _))?;
    bar.finish();
    if !opts.quiet {
        let mut out = ctx.stdout(false);
        if opts.json {
            write_json(&mut out, VERIFY_SCHEMA, report::verify::json(&report))?;
        } else {
            report::verify::write_text(&mut out, &report, ctx.color)?;
        }
        out.flush()?;
    }
    Ok(if report.errors > 0 {
        ExitCode::JournalErrors
    } else {
        ExitCode::Success
    })
}

//! `journal recover`: print the max seq a restarting writer continues from.

use std::io::Write;

use anyhow::Result;
use journal::lines::ReadOptions;
use journal::recover::recover;
use journal::render::report::{self, RECOVER_SCHEMA, write_json};

use crate::cli::RecoverArgs;
use crate::cmd::{Context, Target, family, open_listing, open_target};
use crate::exit_codes::ExitCode;

pub fn run(args: RecoverArgs, ctx: &Context) -> Result<ExitCode> {
    if let Target::Family(source) = open_target(&args.dir, &args.read.open_options())? {
        return family::recover(source.as_ref(), &args, ctx);
    }
    let listing = open_listing(&args.dir)?;
    let recovery = recover(&listing, ReadOptions::default())?;
    let mut out = ctx.stdout(false);
    if args.json {
        write_json(
            &mut out,
            RECOVER_SCHEMA,
            report::recover::json(listing.dir(), &recovery)?,
        )?;
    } else {
        report::recover::write_text(&mut out, &recovery)?;
    }
    out.flush()?;
    Ok(ExitCode::Success)
}

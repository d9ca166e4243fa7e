//! `journal recover`: print the max seq a restarting writer continues from.

use std::io::Write;

use anyhow::Result;
use journal::lines::ReadOptions;
use journal::recover::recover;
use journal::segment::file_name_lossy;

use crate::cli::RecoverArgs;
use crate::cmd::{Context, open_listing};
use crate::exit_codes::ExitCode;

pub fn run(args: RecoverArgs, ctx: &Context) -> Result<ExitCode> {
    let listing = open_listing(&args.dir)?;
    let recovery = recover(&listing, ReadOptions::default())?;
    let mut out = ctx.stdout(false);
    if args.json {
        let mut value = serde_json::to_value(&recovery)?;
        value["dir"] = serde_json::Value::String(listing.dir().display().to_string());
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", recovery.max_seq)?;
        for seg in &recovery.segments_without_valid_line {
            eprintln!(
                "journal: note: {} holds no complete valid line; the max seq comes from an older segment",
                file_name_lossy(seg)
            );
        }
        if let Some(t) = &recovery.torn_tail {
            eprintln!(
                "journal: note: {} has {} bytes after its last complete valid line (from byte {}): \
                 a torn tail that a restarting writer cuts",
                file_name_lossy(&t.segment),
                t.bytes,
                t.offset
            );
        }
    }
    out.flush()?;
    Ok(ExitCode::Success)
}

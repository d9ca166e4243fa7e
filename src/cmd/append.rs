//! `journal append`: events from stdin, one JSON value per line, appended as
//! the engine writes them; prints the seq range appended.

use std::io::{self, BufRead, Write};

use anyhow::{Result, bail};
use journal::append::{InputOptions, Prepared, append_batch, prepare};
use journal::segment::file_name_lossy;
use journal::writer::WriterOptions;

use crate::cli::AppendArgs;
use crate::cmd::units::{parse_duration, parse_size};
use crate::cmd::{Context, resolve_dir};
use crate::exit_codes::ExitCode;

/// The plain options `append` runs with.
struct AppendOptions {
    /// How input lines are read (default: events, no session, engine types only).
    input: InputOptions,
    /// Append the valid lines when some are invalid. Default off: nothing.
    skip_invalid: bool,
    /// Rotation threshold, fsync, claim wait. Defaults 8 MiB, off, 5 s.
    writer: WriterOptions,
}

impl AppendOptions {
    fn new(args: &AppendArgs) -> Result<Self> {
        let rotate_bytes = parse_size("--rotate-bytes", &args.rotate_bytes)?;
        if rotate_bytes == 0 {
            bail!("--rotate-bytes: must be more than 0");
        }
        Ok(AppendOptions {
            input: InputOptions {
                records: args.records,
                session: args.session.clone(),
                any_type: args.any_type,
            },
            skip_invalid: args.skip_invalid,
            writer: WriterOptions {
                rotate_bytes,
                fsync: args.fsync,
                wait: parse_duration("--wait", &args.wait)?,
                buffer_bytes: 0,
            },
        })
    }
}

/// Invalid lines shown before "... and N more".
const SHOWN_PROBLEMS: usize = 20;

pub fn run(args: AppendArgs, ctx: &Context) -> Result<ExitCode> {
    let opts = AppendOptions::new(&args)?;
    crate::cmd::act_as(args.as_user.as_deref())?;
    let dir = resolve_dir(&args.dir)?;

    let mut events: Vec<Prepared> = Vec::new();
    let mut problems = 0usize;
    let verb = if opts.skip_invalid {
        "skipped"
    } else {
        "invalid"
    };
    let mut stdin = io::stdin().lock();
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        if stdin.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        number += 1;
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        match prepare(line, &opts.input) {
            Ok(Some(ev)) => events.push(ev),
            Ok(None) => {}
            Err(problem) => {
                problems += 1;
                if problems <= SHOWN_PROBLEMS {
                    eprintln!("journal: {verb}: stdin:{number}: {problem}");
                }
            }
        }
    }
    if problems > SHOWN_PROBLEMS {
        eprintln!(
            "journal: ... and {} more {verb} line(s)",
            problems - SHOWN_PROBLEMS
        );
    }
    if problems > 0 && !opts.skip_invalid {
        bail!(
            "nothing appended: {problems} invalid input line(s) (--skip-invalid appends the \
             valid ones)"
        );
    }
    if events.is_empty() {
        eprintln!("journal: nothing to append: no event on stdin");
        return Ok(ExitCode::Success);
    }

    let done = append_batch(&dir, &events, opts.writer)?;
    if let Some((segment, _, bytes)) = &done.opened.tail_cut.truncate {
        eprintln!(
            "journal: note: cut a torn tail of {bytes} bytes from {} before appending",
            file_name_lossy(segment)
        );
    }
    for segment in &done.opened.tail_cut.delete {
        eprintln!(
            "journal: note: removed {}, which held no complete line",
            file_name_lossy(segment)
        );
    }
    for q in &done.opened.quarantined {
        eprintln!(
            "journal: note: the removed bytes are saved in {}",
            journal::render::escape::escape_path(q)
        );
    }
    let mut out = ctx.stdout(false);
    if let Some(seqs) = done.seqs {
        writeln!(out, "{}..{}", seqs.start(), seqs.end())?;
    }
    out.flush()?;
    Ok(ExitCode::Success)
}

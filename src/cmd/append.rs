//! `journal append`: events from stdin, one JSON value per line, appended as
//! the engine writes them; prints the seq range appended.

use std::io::{self, Write};

use anyhow::{Result, bail};
use journal::append::{
    InputOptions, MAX_INPUT_LINE, Prepared, append_batch, prepare, read_input_line,
};
use journal::render::report::{self, APPEND_SCHEMA, write_json};
use journal::writer::WriterOptions;

use crate::cli::AppendArgs;
use crate::cmd::{Context, resolve_dir};
use crate::exit_codes::ExitCode;
use crate::units::{parse_duration, parse_size};

/// The plain options `append` runs with.
struct AppendOptions {
    /// How input lines are read (default: events, no session, engine types only).
    input: InputOptions,
    /// Append the valid lines when some are invalid. Default off: nothing.
    skip_invalid: bool,
    /// Print one JSON object instead of the range. Default off.
    json: bool,
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
            json: args.json,
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
    crate::cmd::segments_only(&args.dir, "append")?;
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
    // --records: the seq of the previous input record, and its line number.
    let mut previous: Option<(u64, u64)> = None;
    loop {
        let read = read_input_line(&mut stdin, &mut buf, MAX_INPUT_LINE)?;
        if read == Ok(false) {
            break;
        }
        number += 1;
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let prepared = match read {
            Err(too_long) => Err(too_long),
            Ok(_) => prepare(line, &opts.input),
        };
        match prepared {
            Ok(Some(ev)) => {
                // A copy keeps the records' order; input whose seqs go
                // backwards is a reversed listing (inspect is newest first),
                // never a copy, so it is refused before anything is written.
                if let Some(seq) = ev.orig_seq {
                    if let Some((prev, prev_line)) = previous
                        && seq <= prev
                    {
                        bail!(
                            "nothing appended: stdin:{number}: seq {seq} comes after seq {prev} \
                             (line {prev_line}); --records keeps the input order, so the \
                             records must be oldest first (hint: `journal inspect -o jsonl \
                             --all --oldest-first`)"
                        );
                    }
                    previous = Some((seq, number));
                }
                events.push(ev)
            }
            Ok(None) => {}
            Err(problem) => {
                problems += 1;
                if problems <= SHOWN_PROBLEMS {
                    report::append::problem(verb, number, &problem);
                }
            }
        }
    }
    if problems > SHOWN_PROBLEMS {
        report::append::more_problems(verb, problems - SHOWN_PROBLEMS);
    }
    if problems > 0 && !opts.skip_invalid {
        bail!(
            "nothing appended: {problems} invalid input line(s) (--skip-invalid appends the \
             valid ones)"
        );
    }
    let done = if events.is_empty() {
        if !opts.json {
            report::append::nothing_to_append();
            return Ok(ExitCode::Success);
        }
        None
    } else {
        Some(append_batch(&dir, &events, opts.writer)?)
    };
    let mut out = ctx.stdout(false);
    if opts.json {
        let value = report::append::json(&dir, done.as_ref(), problems);
        write_json(&mut out, APPEND_SCHEMA, value)?;
    } else if let Some(done) = &done {
        report::append::notes(done);
        report::append::write_text(&mut out, done)?;
    }
    out.flush()?;
    Ok(ExitCode::Success)
}

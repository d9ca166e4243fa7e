//! `journal tail`: the last N events oldest first, then (`-f`) every new event
//! as it is appended, through the core's [`Follower`].
//!
//! Here: the options, the last N, and the loop. `sink` writes records and
//! counts what was processed, `cursor` keeps the cursor file, `waker` owns
//! the waiting: a notify watcher on the directory (inotify,
//! non-recursive), or a poll interval, plus the signal thread, all feeding one
//! channel, so the process sleeps in one place and uses no CPU while nothing
//! happens. What woke it is never trusted: every wake-up (and a safety timeout)
//! makes the follower list the directory and read everything to its end.
//!
//! Output and cursor: a record counts as processed once it is written to
//! stdout (or filtered out); after each wake-up's batch stdout is flushed and
//! then the cursor file is rewritten (temp file, fsync, rename, fsync of the
//! directory). SIGINT, SIGTERM and a closed stdout stop between two records:
//! the cursor then names exactly the last record printed, and the exit status is 0.

mod ack;
mod cursor;
mod family;
mod multi;
mod sink;
mod waker;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Result;
use journal::defect::{Defect, DefectKind};
use journal::follow::{FollowOptions, Follower, PollStatus};
use journal::lines::ReadOptions;
use journal::record::parse_line;
use journal::scan::{Direction, Visit, scan};
use journal::segment::Listing;

use crate::cli::{OutputFormat, TailArgs};
use crate::cmd::{Context, DirReads, Target, open_listing, open_target, resolve_dir};
use crate::exit_codes::ExitCode;
pub(crate) use cursor::read_cursor;
use cursor::{Cursor, check_writable};
use journal::render::notice::DamageTally;
use journal::render::{RenderOptions, Renderer};
use sink::Sink;
use waker::{Waker, spawn_signal_thread, spawn_stdout_watch};

/// Where printing starts.
enum Start {
    /// The last N matching events of the journal as it is now.
    Last(usize),
    /// Every event after this seq (`None`: from the oldest retained).
    After(Option<u64>),
}

/// The plain options `tail` runs with.
struct TailOptions {
    /// Default: the last 10 matching events.
    start: Start,
    /// Keep following. Default off.
    follow: bool,
    /// Default: table on a terminal, raw otherwise.
    format: OutputFormat,
    /// Poll at this interval instead of watching. Default: watch.
    poll: Option<Duration>,
    /// Wait for a missing directory. Default off.
    retry: bool,
    /// Read the start from, and record progress in, this file. Default none.
    cursor_file: Option<PathBuf>,
}

/// Events printed before following when neither -n nor a start is given.
pub(super) const DEFAULT_LINES: usize = 10;

impl TailOptions {
    fn new(args: &TailArgs, ctx: &Context) -> Result<Self> {
        // journalctl's --cursor-file convention: an existing cursor wins;
        // without one, start where -n or --from-seq say, so a shipper can
        // begin "from now" (-n 0) and resume from then on.
        let saved = match &args.cursor_file {
            Some(path) => read_cursor(path)?,
            None => None,
        };
        let start = match (saved, args.from_seq, args.lines) {
            (Some(seq), _, _) | (None, Some(seq), _) => Start::After(Some(seq)),
            (None, None, Some(n)) => Start::Last(n),
            (None, None, None) if args.cursor_file.is_some() => Start::After(None),
            (None, None, None) => Start::Last(DEFAULT_LINES),
        };
        Ok(TailOptions {
            start,
            follow: args.follow,
            format: args.output.unwrap_or(if ctx.stdout_tty {
                OutputFormat::Table
            } else {
                OutputFormat::Raw
            }),
            poll: args.poll,
            retry: args.retry,
            cursor_file: args.cursor_file.clone(),
        })
    }
}

pub fn run(args: TailArgs, ctx: &Context) -> Result<ExitCode> {
    if !args.more.is_empty() && args.read.snapshot {
        anyhow::bail!("--snapshot reads one redb journal; not with several journals");
    }
    if !args.more.is_empty() {
        return multi::run(&args, resolve_dir(&args.dir)?, ctx);
    }
    if !args.label.is_empty() {
        anyhow::bail!("--label names one of several journals; only one was given");
    }
    if let Target::Family(source) = open_waiting(&args)? {
        return family::run(&args, source.as_ref(), ctx);
    }
    crate::cmd::no_stream_filter(&args.filters)?;
    let opts = TailOptions::new(&args, ctx)?;
    if args.ack_stdin
        && let Start::Last(n) = opts.start
        && n > 0
    {
        anyhow::bail!(
            "--ack-stdin starts after the cursor file's seq; without one, from the oldest event, \
             --from-seq, or -n 0 (from now): not with the last {n} events"
        );
    }
    let matcher = args.filters.to_query()?.matcher();
    let dir = resolve_dir(&args.dir)?;

    // Signals first, so a SIGTERM during the first screenful is clean too.
    let (tx, rx) = mpsc::channel::<()>();
    let stop = Arc::new(AtomicBool::new(false));
    if opts.follow {
        spawn_signal_thread(stop.clone(), tx.clone())?;
        spawn_stdout_watch(stop.clone(), tx.clone());
    }

    // A missing directory is an error unless we may wait for it.
    let may_wait = opts.follow && opts.retry;
    if !may_wait || dir.exists() {
        if may_wait {
            Listing::read(&dir)?;
        } else {
            open_listing(&args.dir)?;
        }
    }

    if let Start::After(Some(after)) = opts.start
        && dir.exists()
    {
        check_not_ahead(&dir, after, opts.cursor_file.as_deref())?;
    }
    if let Some(path) = opts.cursor_file.as_deref() {
        let current = match opts.start {
            Start::After(after) => after,
            Start::Last(_) => None,
        };
        check_writable(path, current)?;
    }

    // A journal not there yet (--retry): its id is derived again once it
    // exists, from the path as it then resolves.
    let mut provisional_id = args.source_id.is_none() && !dir.exists();
    let render_opts = RenderOptions::for_console(opts.format.into(), ctx);
    let mut sink = Sink {
        matcher: &matcher,
        renderer: if opts.follow {
            Renderer::streaming(render_opts)
        } else {
            Renderer::new(render_opts)
        }
        .with_source(crate::cmd::identity::source_tag(
            &dir,
            None,
            args.source_id.as_deref(),
        )?),
        out: ctx.stdout(opts.follow),
        stop: &stop,
        processed: None,
        write_error: None,
        acks: args.ack_stdin.then(ack::Acks::default),
        gap: false,
        gap_is_failure: args.ack_stdin || opts.format == OutputFormat::Envelope,
    };
    if let Some(acks) = &sink.acks {
        ack::spawn_ack_reader(acks.clone(), tx.clone());
    }

    let after = match opts.start {
        Start::After(after) => after,
        Start::Last(n) => {
            let max_seq = if dir.exists() {
                print_last(&dir, n, opts.follow, &mut sink)?
            } else {
                None
            };
            if !opts.follow || sink.write_error.is_some() {
                // Everything up to the max was printed or deliberately
                // skipped (-n): the cursor says so, for the next run.
                let mut cursor = None;
                if sink.write_error.is_none()
                    && let Some(path) = opts.cursor_file.as_deref()
                {
                    sink.processed = max_seq.or(sink.processed);
                    cursor = Some(Cursor {
                        path,
                        written: None,
                    });
                }
                return sink.finish(cursor.as_mut());
            }
            max_seq
        }
    };
    sink.processed = after;
    let mut cursor = opts.cursor_file.as_deref().map(|path| Cursor {
        path,
        written: after,
    });

    let mut follower = Follower::new(
        &dir,
        FollowOptions {
            after,
            read: ReadOptions::default(),
        },
    );
    if !opts.follow {
        let status = follower.poll(|item| sink.handle(item))?;
        if status == PollStatus::DirMissing {
            anyhow::bail!("{}: no such directory", dir.display());
        }
        return sink.finish(cursor.as_mut());
    }

    let mut waker = Waker {
        rx,
        tx,
        watcher: None,
        watched: None,
        poll: opts.poll,
        reported_missing: false,
    };
    // Watch before the first read: a change made while it runs would
    // otherwise wait for the safety rescan.
    if let Ok(meta) = std::fs::metadata(&dir) {
        use std::os::unix::fs::MetadataExt;
        waker.arm(&dir, Some((meta.dev(), meta.ino())));
    }
    loop {
        if provisional_id && dir.exists() {
            provisional_id = false;
            let tag = crate::cmd::identity::source_tag(&dir, None, None)?;
            sink.renderer.set_source(tag);
        }
        let status = follower.poll(|item| sink.handle(item))?;
        if sink.write_error.is_some() || stop.load(Ordering::SeqCst) {
            break;
        }
        if let Err(e) = sink.out.flush() {
            sink.write_error = Some(e);
            break;
        }
        if let Some(cursor) = cursor.as_mut() {
            cursor.save(sink.safe_position())?;
        }
        let mut all_acked = true;
        if let Some(acks) = &sink.acks {
            let mut state = acks.lock().expect("ack state");
            if let Some(e) = state.error.take() {
                anyhow::bail!("--ack-stdin: {e}; the cursor stays at the last line acknowledged");
            }
            if state.closed {
                drop(state);
                break;
            }
            all_acked = state.outstanding.is_empty();
        }
        if args.stop_at_end && status == PollStatus::CaughtUp && all_acked {
            break;
        }
        match status {
            PollStatus::DirMissing if !opts.retry => {
                anyhow::bail!(
                    "{}: the journal directory was removed (use --retry to wait for it)",
                    dir.display()
                );
            }
            PollStatus::DirMissing => {
                waker.dir_missing(&dir);
            }
            PollStatus::CaughtUp | PollStatus::Stopped => {
                waker.arm(&dir, follower.dir_id());
            }
        }
        waker.wait(status == PollStatus::DirMissing);
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    sink.finish(cursor.as_mut())
}

/// The journal's reader; with `-f --retry`, a journal not there yet (a
/// missing directory) is waited for, as for segments.
fn open_waiting(args: &TailArgs) -> Result<Target> {
    let mut said = false;
    loop {
        match open_target(
            &args.dir,
            &args.read.with(args.filters.open_options()),
            // The first read only: the follower lists the directory itself.
            DirReads::MayUseCache,
        ) {
            Err(e) if args.follow && args.retry && is_missing(&e) => {
                if !said {
                    said = true;
                    journal::render::notice::waiting_for_dir(&resolve_dir(&args.dir)?);
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

fn is_missing(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<journal::JournalError>(),
            Some(journal::JournalError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound
        )
    })
}

/// A start point beyond the journal's max seq means another journal (or this
/// one recreated, its seqs restarted): following would wait for seqs that may
/// never come and print nothing, silently. Refused, saying so.
fn check_not_ahead(dir: &Path, after: u64, cursor_file: Option<&Path>) -> Result<()> {
    let listing = Listing::read(dir)?;
    let max = journal::recover::recover(&listing, ReadOptions::default())?.max_seq;
    if after <= max {
        return Ok(());
    }
    let what = match cursor_file {
        Some(path) => format!("the cursor in {}", path.display()),
        None => "--from-seq".to_owned(),
    };
    anyhow::bail!(
        "{what} is at seq {after}, but the journal's max seq is {max}: this is another journal, \
         or it was recreated and its seqs restarted; nothing was printed (to start over, remove \
         the cursor file or pass a lower --from-seq)"
    )
}

/// Prints the last `n` matching events of the journal as it is, oldest first;
/// returns the newest seq read, where following continues.
///
/// Two reads, newest first: the newest valid line (where following
/// continues, whether or not it matches), then the matches with the same
/// segment choice, window prefilter and time-range stop as `inspect`, so a
/// rare filter costs about one memchr pass, not a parse per line.
fn print_last(dir: &Path, n: usize, follow: bool, sink: &mut Sink<'_>) -> Result<Option<u64>> {
    // The first read: from the listing cache when it holds the directory as
    // it is (the follower's rescans list the directory itself).
    let listing = crate::cmd::list_for_reading(dir)?;
    let all: Vec<usize> = (0..listing.segments().len()).collect();
    let mut max_seq = None;
    let mut defects: Vec<Defect> = Vec::new();
    let matcher = sink.matcher;
    // A partial last line is the writer mid-append: the follower prints it.
    let keep = |d: &Defect| !(follow && d.kind == DefectKind::TornTail);
    let _newest_read = scan(
        &listing,
        &all,
        Direction::NewestFirst,
        ReadOptions::default(),
        None,
        |visit| match visit {
            Visit::Damage(d) => {
                if keep(&d) {
                    defects.push(d);
                }
                ControlFlow::Continue(())
            }
            Visit::Line { segment, line } => {
                let Some(content) = line.content() else {
                    return ControlFlow::Continue(());
                };
                match parse_line(content) {
                    Ok(record) => {
                        max_seq = Some(record.seq);
                        ControlFlow::Break(())
                    }
                    Err(fault) => {
                        defects.push(Defect::from_fault(segment.path(), &line, &fault));
                        ControlFlow::Continue(())
                    }
                }
            }
        },
    )?;
    let mut found: Vec<(Vec<u8>, u64)> = Vec::new();
    if n > 0 {
        let candidates = matcher.query().candidate_segments(&listing);
        let _stopped_early = scan(
            &listing,
            &candidates,
            Direction::NewestFirst,
            ReadOptions::default(),
            matcher.window_filter(),
            |visit| {
                let (segment, line) = match visit {
                    Visit::Damage(d) => {
                        if keep(&d) {
                            defects.push(d);
                        }
                        return ControlFlow::Continue(());
                    }
                    Visit::Line { segment, line } => (segment, line),
                };
                let (Some(stored), Some(content)) = (line.raw(), line.content()) else {
                    return ControlFlow::Continue(());
                };
                if matcher.past_time_range(content, true) {
                    return ControlFlow::Break(());
                }
                // A line that may match is parsed; one that does not parse is
                // damage, counted on stderr as inspect does.
                if matcher.prefilter(content) {
                    match parse_line(content) {
                        Ok(record) if matcher.matches(&record) => {
                            found.push((stored.to_vec(), record.seq));
                        }
                        Ok(_) => {}
                        Err(fault) => {
                            defects.push(Defect::from_fault(segment.path(), &line, &fault))
                        }
                    }
                }
                if found.len() >= n {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )?;
    }
    // Both reads may meet the same damage near the end: count it once.
    let mut damage = DamageTally::default();
    let mut seen = std::collections::HashSet::new();
    for d in defects {
        if seen.insert((d.segment.clone(), d.offset, d.kind)) {
            damage.note(d);
        }
    }
    for (stored, _) in found.iter().rev() {
        let content = journal::lines::strip_cr(stored);
        let record = parse_line(content).expect("parsed above");
        if let Err(e) = sink.renderer.record(&mut sink.out, &record, stored) {
            sink.write_error = Some(e);
            break;
        }
    }
    damage.report(dir);
    Ok(max_seq)
}

//! `journal tail`: the last N events oldest first, then (`-f`) every new event
//! as it is appended, through the core's [`Follower`].
//!
//! This file owns the waiting: a notify watcher on the directory (inotify,
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

use std::fs::{self, File};
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use anyhow::{Context as _, Result};
use journal::defect::{Defect, DefectKind};
use journal::follow::{FollowOptions, Follower, Item, Notice, PollStatus};
use journal::lines::ReadOptions;
use journal::query::Matcher;
use journal::record::{fast_seq, parse_line};
use journal::scan::{Direction, Visit, scan};
use journal::segment::{Listing, file_name_lossy};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::cli::{OutputFormat, TailArgs};
use crate::cmd::{Context, DamageTally, open_listing, resolve_dir};
use crate::exit_codes::ExitCode;
use journal::render::{RenderOptions, Renderer};

/// Without a notification, look anyway this often (a lost event costs at
/// most this much latency; idle cost is one directory listing).
const SAFETY_RESCAN: Duration = Duration::from_secs(5);
/// Poll interval when the directory cannot be watched (watch limit).
const FALLBACK_POLL: Duration = Duration::from_millis(500);
/// How often to look for a missing directory under --retry.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

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

impl TailOptions {
    fn new(args: &TailArgs, ctx: &Context) -> Result<Self> {
        let start = if let Some(path) = &args.cursor_file {
            Start::After(read_cursor(path)?)
        } else if let Some(seq) = args.from_seq {
            Start::After(Some(seq))
        } else {
            Start::Last(args.lines)
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
    let opts = TailOptions::new(&args, ctx)?;
    let matcher = args.filters.to_query()?.matcher();
    let dir = resolve_dir(&args.dir)?;

    // Signals first, so a SIGTERM during the first screenful is clean too.
    let (tx, rx) = mpsc::channel::<()>();
    let stop = Arc::new(AtomicBool::new(false));
    if opts.follow {
        spawn_signal_thread(stop.clone(), tx.clone())?;
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

    let render_opts = RenderOptions::for_console(opts.format.into(), ctx);
    let mut sink = Sink {
        matcher: &matcher,
        renderer: if opts.follow {
            Renderer::streaming(render_opts)
        } else {
            Renderer::new(render_opts)
        },
        out: ctx.stdout(opts.follow),
        stop: &stop,
        processed: None,
        write_error: None,
    };

    let after = match opts.start {
        Start::After(after) => after,
        Start::Last(n) => {
            let max_seq = if dir.exists() {
                print_last(&dir, n, opts.follow, &mut sink)?
            } else {
                None
            };
            if !opts.follow || sink.write_error.is_some() {
                return sink.finish(None);
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
    loop {
        let status = follower.poll(|item| sink.handle(item))?;
        if sink.write_error.is_some() || stop.load(Ordering::SeqCst) {
            break;
        }
        if let Err(e) = sink.out.flush() {
            sink.write_error = Some(e);
            break;
        }
        if let Some(cursor) = cursor.as_mut() {
            cursor.save(sink.processed)?;
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

/// Prints the last `n` matching events of the journal as it is, oldest first;
/// returns the newest seq read, where following continues.
fn print_last(dir: &Path, n: usize, follow: bool, sink: &mut Sink<'_>) -> Result<Option<u64>> {
    let listing = Listing::read(dir)?;
    let all: Vec<usize> = (0..listing.segments.len()).collect();
    let mut max_seq = None;
    let mut found: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut damage = DamageTally::default();
    let matcher = sink.matcher;
    let _stopped_early = scan(
        &listing,
        &all,
        Direction::NewestFirst,
        ReadOptions::default(),
        // No window filter: the newest line sets where following starts,
        // whether or not it matches.
        None,
        |visit| {
            let line = match visit {
                Visit::Damage(d) => {
                    // A partial last line is the writer mid-append: the follower prints it.
                    if !(follow && d.kind == DefectKind::TornTail) {
                        damage.note(d);
                    }
                    return ControlFlow::Continue(());
                }
                Visit::Line { line, .. } => line,
            };
            let (Some(stored), Some(content)) = (line.raw(), line.content()) else {
                return ControlFlow::Continue(());
            };
            if max_seq.is_none() {
                max_seq = fast_seq(content).or_else(|| parse_line(content).ok().map(|r| r.seq));
            }
            if found.len() < n
                && matcher.prefilter(content)
                && let Ok(record) = parse_line(content)
                && matcher.matches(&record)
            {
                found.push((stored.to_vec(), record.seq));
            }
            if found.len() >= n && max_seq.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )?
    .is_break();
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

/// Where records go, and how far processing got.
struct Sink<'a> {
    matcher: &'a Matcher,
    renderer: Renderer,
    out: Box<dyn Write>,
    stop: &'a AtomicBool,
    /// The last seq written to stdout or filtered out.
    processed: Option<u64>,
    write_error: Option<io::Error>,
}

impl Sink<'_> {
    fn handle(&mut self, item: Item<'_>) -> ControlFlow<()> {
        if self.stop.load(Ordering::SeqCst) {
            return ControlFlow::Break(());
        }
        let (segment, seq, line) = match item {
            Item::Notice(notice) => {
                report(&notice);
                return ControlFlow::Continue(());
            }
            Item::Line { segment, seq, line } => (segment, seq, line),
        };
        let (Some(stored), Some(content)) = (line.raw(), line.content()) else {
            return ControlFlow::Continue(());
        };
        if self.matcher.prefilter(content) {
            match parse_line(content) {
                Ok(record) if self.matcher.matches(&record) => {
                    if let Err(e) = self.renderer.record(&mut self.out, &record, stored) {
                        self.write_error = Some(e);
                        return ControlFlow::Break(());
                    }
                }
                Ok(_) => {}
                Err(fault) => report(&Notice::Damage(Defect::from_fault(segment, &line, &fault))),
            }
        }
        self.processed = Some(seq);
        ControlFlow::Continue(())
    }

    /// Flushes, records the cursor, and turns a closed stdout into success.
    fn finish(mut self, cursor: Option<&mut Cursor<'_>>) -> Result<ExitCode> {
        let result = match self.write_error.take() {
            Some(e) => Err(e),
            None => self
                .renderer
                .finish(&mut self.out)
                .and_then(|()| self.out.flush()),
        };
        if result.is_err() {
            // Whatever could still be written is written; the cursor stays
            // at what was printed before the failure.
            let _ = self.out.flush();
        }
        if let Some(cursor) = cursor {
            cursor.save(self.processed)?;
        }
        match result {
            // `journal tail -f | head`: the reader went away; that is success.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::Success),
            Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
            Ok(()) => Ok(ExitCode::Success),
        }
    }
}

fn report(notice: &Notice) {
    match notice {
        Notice::Pruned { first, last } => {
            eprintln!(
                "journal: warning: seqs {first}..{last} were pruned before they could be read"
            );
        }
        Notice::Gap {
            segment,
            offset,
            expected,
            found,
            segment_start: true,
        } => eprintln!(
            "journal: warning: {} starts at seq {found} (byte {offset}) where seq {expected} \
             was due: seqs {expected}..{} are missing from the journal",
            file_name_lossy(segment),
            found - 1
        ),
        Notice::Gap {
            segment,
            offset,
            expected,
            found,
            segment_start: false,
        } => eprintln!(
            "journal: warning: {}: byte {offset}: seq {found} where seq {expected} was due: \
             seqs {expected}..{} are missing from the journal",
            file_name_lossy(segment),
            found - 1
        ),
        Notice::NotIncreasing {
            segment,
            offset,
            last,
            found,
        } => eprintln!(
            "journal: warning: {}: byte {offset}: seq {found} does not follow seq {last}: \
             skipped (never printed twice)",
            file_name_lossy(segment)
        ),
        Notice::Truncated { segment, from, to } => eprintln!(
            "journal: note: {} was cut from {from} to {to} bytes under the reader; \
             reading on from byte {to}",
            file_name_lossy(segment)
        ),
        Notice::Replaced { segment } => eprintln!(
            "journal: note: {} was replaced by a new file; reading it (seqs already \
             printed are skipped)",
            file_name_lossy(segment)
        ),
        Notice::DirReplaced { dir } => eprintln!(
            "journal: note: {} was removed and recreated; following the new directory",
            journal::render::escape::escape_path(dir)
        ),
        Notice::Damage(d) => {
            eprintln!(
                "journal: warning: {}: {}: {}: skipped",
                d.place(),
                d.kind.name(),
                d.detail
            );
        }
    }
}

/// The cursor file: the last seq processed, rewritten atomically.
struct Cursor<'a> {
    path: &'a Path,
    written: Option<u64>,
}

impl Cursor<'_> {
    fn save(&mut self, seq: Option<u64>) -> Result<()> {
        let Some(seq) = seq else { return Ok(()) };
        if self.written == Some(seq) && self.path.exists() {
            return Ok(());
        }
        write_atomically(self.path, format!("{seq}\n").as_bytes())
            .with_context(|| format!("{}: writing the cursor", self.path.display()))?;
        self.written = Some(seq);
        Ok(())
    }
}

/// The seq stored in a cursor file; `None` when the file does not exist yet.
fn read_cursor(path: &Path) -> Result<Option<u64>> {
    match fs::read_to_string(path) {
        Ok(text) => text.trim().parse::<u64>().map(Some).map_err(|_| {
            anyhow::anyhow!(
                "{}: not a cursor file: expected a seq (an unsigned integer), found {:?}",
                path.display(),
                text.chars().take(40).collect::<String>()
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("{}: reading the cursor", path.display())),
    }
}

/// Temp file in the same directory, fsync, rename over, fsync the directory:
/// a crash leaves the old cursor or the new one, never a torn one.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    File::open(&parent)?.sync_all()
}

fn spawn_signal_thread(stop: Arc<AtomicBool>, tx: Sender<()>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("installing signal handlers")?;
    std::thread::spawn(move || {
        for _ in signals.forever() {
            stop.store(true, Ordering::SeqCst);
            let _ = tx.send(());
        }
    });
    Ok(())
}

/// Sleeps until something may have changed: a notification, a signal, or a timeout.
struct Waker {
    rx: Receiver<()>,
    tx: Sender<()>,
    watcher: Option<RecommendedWatcher>,
    /// The directory (device, inode) the watcher is on.
    watched: Option<(u64, u64)>,
    /// Poll at this interval (--poll, or after the watcher failed).
    poll: Option<Duration>,
    reported_missing: bool,
}

impl Waker {
    /// Watches `dir` unless it is already watched (a recreated directory is a
    /// new inode and needs a new watch) or polling was chosen.
    fn arm(&mut self, dir: &Path, dir_id: Option<(u64, u64)>) {
        self.reported_missing = false;
        if self.poll.is_some() || (self.watcher.is_some() && self.watched == dir_id) {
            return;
        }
        self.watcher = None;
        let tx = self.tx.clone();
        let handler = move |res: notify::Result<notify::Event>| {
            // Opening and reading files (our own reads included) is no change:
            // waking for it would be a busy loop. Anything else, including an
            // overflow (rescan flag) or an error, wakes a full rescan.
            if let Ok(event) = &res
                && matches!(event.kind, EventKind::Access(_))
                && !event.need_rescan()
            {
                return;
            }
            let _ = tx.send(());
        };
        let watcher = notify::recommended_watcher(handler)
            .and_then(|mut w| w.watch(dir, RecursiveMode::NonRecursive).map(|()| w));
        match watcher {
            Ok(w) => {
                self.watcher = Some(w);
                self.watched = dir_id;
            }
            Err(e) => {
                eprintln!(
                    "journal: warning: cannot watch {} for changes ({e}); polling every {} instead",
                    journal::render::escape::escape_path(dir),
                    humantime::format_duration(FALLBACK_POLL)
                );
                self.poll = Some(FALLBACK_POLL);
            }
        }
    }

    fn dir_missing(&mut self, dir: &Path) {
        self.watcher = None;
        self.watched = None;
        if !self.reported_missing {
            self.reported_missing = true;
            eprintln!(
                "journal: {}: no such directory; waiting for it to appear (--retry)",
                journal::render::escape::escape_path(dir)
            );
        }
    }

    fn wait(&self, dir_missing: bool) {
        let timeout = if dir_missing {
            RETRY_INTERVAL
        } else {
            self.poll.unwrap_or(SAFETY_RESCAN)
        };
        match self.rx.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(timeout),
        }
        // One rescan answers any number of notifications.
        while self.rx.try_recv().is_ok() {}
    }
}

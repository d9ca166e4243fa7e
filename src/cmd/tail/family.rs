//! `tail` on every family format, through [`Source`] only: the last N
//! matching records (oldest first), then with `-f` every new record, polled
//! with [`Source::visit_after`] from one position per cursor stream.
//!
//! A record counts as processed once it is printed or filtered out: its
//! stream's position moves to it. `--cursor-file` holds
//! `{"format":"<name>","streams":{"<stream>":N,...}}`, rewritten atomically
//! after each batch is flushed; an existing cursor wins over `-n`, and a
//! missing one starts from the oldest record. The waiting is the segment
//! tail's: a watcher on the reader's directory (files that appear are
//! changes too), `--poll` or the watcher's failure falling back to polling,
//! SIGINT/SIGTERM and a closed stdout stopping between two records.

use std::fs;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use anyhow::{Context as _, Result};
use journal::defect::DefectKind;
use journal::query::Matcher;
use journal::render::notice::DamageTally;
use journal::render::{Gap, RecordFormat, RenderOptions, Renderer, Reset};
use journal::scan::Direction;
use journal::source::Position;
use journal::source::family::Positions;
use journal::source::reader::{Item, OwnedRecord, Source};

use super::DEFAULT_LINES;
use super::ack::{Acks, spawn_ack_reader};
use super::cursor::check_writable;
use super::waker::{MultiWaker, spawn_signal_thread, spawn_stdout_watch, watch_point};
use crate::cli::{OutputFormat, TailArgs};
use crate::cmd::Context;
use crate::exit_codes::ExitCode;

/// Hands on every record: the tail's own matcher decides what is printed,
/// so a filtered-out record still moves its stream's position.
use journal::source::reader::AcceptAll as Everything;

/// A cursor holds a few positions per stream; anything much longer is not one.
const MAX_CURSOR_BYTES: u64 = 64 << 20;

fn read_positions(path: &Path, format: &str) -> Result<Option<Positions>> {
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() || meta.len() > MAX_CURSOR_BYTES => anyhow::bail!(
            "{}: not a cursor file (not a regular file of at most {MAX_CURSOR_BYTES} bytes)",
            path.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        _ => {}
    }
    let text = fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the cursor", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a cursor of a {format} journal (one position per stream, as JSON)",
            path.display()
        )
    })?;
    if let Some(other) = v.get("format").and_then(|f| f.as_str())
        && other != format
    {
        anyhow::bail!(
            "{}: a cursor of a {other} journal, and this journal is {format}",
            path.display()
        );
    }
    let streams = v
        .get("streams")
        .and_then(|s| serde_json::from_value::<Positions>(s.clone()).ok())
        .with_context(|| {
            format!(
                "{}: not a cursor of a {format} journal (no \"streams\" object of positions)",
                path.display()
            )
        })?;
    Ok(Some(streams))
}

fn write_positions(path: &Path, format: &str, p: &Positions) -> Result<()> {
    let v = serde_json::json!({"format": format, "streams": p});
    journal::atomic::write_file(path, format!("{v}\n").as_bytes())
        .with_context(|| format!("{}: cannot write the cursor", path.display()))
}

struct Tail<'a> {
    matcher: &'a Matcher,
    renderer: Renderer,
    out: Box<dyn Write + 'a>,
    positions: Positions,
    stop: Arc<AtomicBool>,
    write_error: Option<io::Error>,
    /// A follow leaves a partial last line alone: a writer mid-append.
    follow: bool,
    damage: DamageTally,
    /// Damage already said (two reads may meet the same).
    seen: std::collections::HashSet<(std::path::PathBuf, u64, DefectKind)>,
    /// `--ack-stdin`: what the consumer acknowledged; the cursor moves only
    /// over that.
    acks: Option<Acks>,
    /// A stream whose next record is not the one after its position: the
    /// poll stopped before it, to ask the journal whether what lies between
    /// is gone (a gap) or was never there (numbers with holes).
    suspect: Option<(String, u64)>,
    /// (stream, position) pairs found not to be a gap.
    checked: std::collections::HashSet<(String, u64)>,
    /// A gap was met.
    gap: bool,
    /// The journal's directory (for notices).
    dir: std::path::PathBuf,
}

impl Tail<'_> {
    fn moved(&mut self, position: &Position) {
        let p = self.positions.entry(position.cursor_stream()).or_insert(0);
        *p = (*p).max(position.number());
    }

    fn note(&mut self, d: journal::Defect) {
        // Following, a last line with no newline is a writer mid-append.
        let mid_append = matches!(d.kind, DefectKind::TornTail | DefectKind::MissingNewline);
        if self.follow && mid_append || !self.seen.insert((d.segment.clone(), d.offset, d.kind)) {
            return;
        }
        if self.follow {
            journal::render::notice::follow(&journal::follow::Notice::Damage(d));
        } else {
            self.damage.note(d);
        }
    }

    /// One record of a poll: printed if it matches, processed either way.
    fn handle(&mut self, item: Item<'_>) -> ControlFlow<()> {
        if self.stop.load(Ordering::SeqCst) {
            return ControlFlow::Break(());
        }
        let (position, record, stored) = match item {
            Item::Damage(d) => {
                self.note(d);
                return ControlFlow::Continue(());
            }
            Item::Restart {
                stream,
                after,
                reason,
            } => return self.restart(&stream, after, reason),
            Item::Record {
                position,
                record,
                stored,
            } => (position, record, stored),
        };
        let stream = position.cursor_stream();
        if let Some(&p) = self.positions.get(&stream)
            && position.number() > p.saturating_add(1)
            && !self.checked.contains(&(stream.clone(), p))
        {
            self.suspect = Some((stream, p));
            return ControlFlow::Break(());
        }
        if self.matcher.prefilter(record.raw) && self.matcher.matches(record) {
            if let Some(acks) = &self.acks {
                let id = format!("{}:{position}", self.source_id());
                let number = position.number();
                acks.lock().expect("ack state").push(0, &stream, number, id);
            }
            if let Err(e) = self
                .renderer
                .record_at(&mut self.out, record, stored, &position, None)
            {
                self.write_error = Some(e);
                return ControlFlow::Break(());
            }
        }
        self.moved(&position);
        ControlFlow::Continue(())
    }

    /// A stream that went back: said on stderr (and on the envelope stream,
    /// acknowledged like a record, queued before the stream's first
    /// position so an unacknowledged reset keeps the stream read from its
    /// start), its position forgotten: its records follow from its start.
    fn restart(&mut self, stream: &str, after: u64, reason: &'static str) -> ControlFlow<()> {
        journal::render::notice::stream_restart(&self.dir, stream, after, reason);
        self.positions.remove(stream);
        self.checked.retain(|(s, _)| s != stream);
        let reset = Reset {
            stream,
            after,
            reason,
        };
        if let Some(acks) = &self.acks
            && self.renderer.format() == RecordFormat::Envelope
        {
            let id = reset.id(&self.source_id());
            acks.lock().expect("ack state").push(0, stream, 0, id);
        }
        if let Err(e) = self.renderer.reset(&mut self.out, &reset, None) {
            self.write_error = Some(e);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn source_id(&self) -> String {
        self.renderer
            .source()
            .map_or_else(String::new, |s| s.id.clone())
    }

    /// Everything after the positions, stopping at each stream whose next
    /// record jumps to ask the journal whether the records between are gone:
    /// then a gap (stderr, and a `"type":"gap"` object on the envelope
    /// stream, acknowledged like a record), the stream's position moved
    /// past it; else the jump is the format's numbering, read on.
    fn poll(&mut self, source: &dyn Source) -> Result<()> {
        loop {
            let after = self.positions.clone();
            source.visit_after(&after, &Everything, &mut |item| self.handle(item))?;
            let Some((stream, p)) = self.suspect.take() else {
                return Ok(());
            };
            if self.write_error.is_some() || self.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            match source.oldest()?.get(&stream).copied() {
                Some(oldest) if oldest > p + 1 => {
                    let gap = Gap {
                        stream: &stream,
                        first: p + 1,
                        last: oldest - 1,
                        reason: "pruned",
                    };
                    journal::render::notice::stream_gap(source.dir(), &stream, p + 1, oldest - 1);
                    self.gap = true;
                    if let Some(acks) = &self.acks
                        && self.renderer.format() == RecordFormat::Envelope
                    {
                        let id = gap.id(&self.source_id());
                        acks.lock().expect("ack state").push(0, &stream, p + 1, id);
                    }
                    if let Err(e) = self.renderer.gap(&mut self.out, &gap, None) {
                        self.write_error = Some(e);
                        return Ok(());
                    }
                    self.positions.insert(stream, oldest - 1);
                }
                _ => {
                    self.checked.insert((stream, p));
                }
            }
        }
    }

    /// The positions the cursor may hold: with `--ack-stdin`, each stream
    /// before its oldest unacknowledged line.
    fn safe_positions(&self) -> Positions {
        match &self.acks {
            Some(acks) => acks
                .lock()
                .expect("ack state")
                .hold_back(0, &self.positions),
            None => self.positions.clone(),
        }
    }
}

pub(super) fn run(args: &TailArgs, source: &dyn Source, ctx: &Context) -> Result<ExitCode> {
    let format = source.format().name();
    if args.from_seq.is_some() {
        anyhow::bail!(
            "--from-seq names one seq; a {format} journal has a position per stream: use --cursor-file"
        );
    }
    let matcher = source.adapt_query(args.filters.to_query()?)?.matcher();
    let output = args.output.unwrap_or(if ctx.stdout_tty {
        OutputFormat::Table
    } else {
        OutputFormat::Raw
    });
    let render_opts = RenderOptions::for_console(output.into(), ctx);
    let saved = match &args.cursor_file {
        Some(path) => read_positions(path, format)?,
        None => None,
    };
    // Proven writable before anything is printed (as for segments).
    if let Some(path) = &args.cursor_file {
        match &saved {
            Some(p) => write_positions(path, format, p)?,
            None => check_writable(path, None)?,
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<()>();
    if args.follow {
        spawn_signal_thread(stop.clone(), tx.clone())?;
        spawn_stdout_watch(stop.clone(), tx.clone());
    }
    let mut tail = Tail {
        matcher: &matcher,
        renderer: if args.follow {
            Renderer::streaming(render_opts)
        } else {
            Renderer::new(render_opts)
        }
        .with_source(crate::cmd::identity::source_tag(
            &crate::cmd::resolve_dir(&args.dir)?,
            None,
            args.source_id.as_deref(),
        )?),
        out: Box::new(ctx.stdout(args.follow)),
        positions: saved.clone().unwrap_or_default(),
        stop: stop.clone(),
        write_error: None,
        follow: args.follow,
        damage: DamageTally::default(),
        seen: Default::default(),
        acks: args.ack_stdin.then(Acks::default),
        suspect: None,
        checked: Default::default(),
        gap: false,
        dir: source.dir().to_owned(),
    };
    if let Some(acks) = &tail.acks {
        spawn_ack_reader(acks.clone(), tx.clone());
    }
    let gap_is_failure = args.ack_stdin || output == OutputFormat::Envelope;

    if args.cursor_file.is_some() {
        // Everything after the cursor; from the oldest record without one.
        tail.poll(source)?;
    } else {
        // The head of every stream first: what the follow continues from
        // (and what -n 0 skips); then the last N matches, newest first.
        let heads = source.heads()?;
        for d in heads.problems {
            tail.note(d);
        }
        for h in &heads.streams {
            if let Some(p) = &h.position {
                tail.moved(p);
            }
        }
        let n = args.lines.unwrap_or(DEFAULT_LINES);
        let mut last: Vec<OwnedRecord> = Vec::new();
        let mut damage = Vec::new();
        if n > 0 {
            source.visit(&matcher, Direction::NewestFirst, &mut |item| match item {
                Item::Damage(d) => {
                    damage.push(d);
                    ControlFlow::Continue(())
                }
                Item::Restart { .. } => ControlFlow::Continue(()),
                Item::Record {
                    position,
                    record,
                    stored,
                } => {
                    last.push(OwnedRecord::new(position.clone(), record, stored));
                    if last.len() >= n {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }
            })?;
        }
        for d in damage {
            tail.note(d);
        }
        for h in last.iter().rev() {
            if let Err(e) =
                tail.renderer
                    .record_at(&mut tail.out, &h.record(), h.stored(), &h.position, None)
            {
                tail.write_error = Some(e);
                break;
            }
            tail.moved(&h.position);
        }
    }
    if !args.follow && tail.write_error.is_none() {
        tail.write_error = tail.renderer.finish(&mut tail.out).err();
    }
    if tail.write_error.is_none() {
        tail.write_error = tail.out.flush().err();
    }
    tail.damage.report(source.dir());
    if let Some(e) = tail.write_error.take() {
        return finish_write_error(e);
    }
    if let Some(path) = &args.cursor_file {
        write_positions(path, format, &tail.safe_positions())?;
    }
    if !args.follow {
        return Ok(if tail.damage.any_unreadable() {
            ExitCode::CouldNotRun
        } else if tail.gap && gap_is_failure {
            ExitCode::Gap
        } else {
            ExitCode::Success
        });
    }

    let dir = source.dir().to_owned();
    // Watched where the format's files change (several places, each
    // watched again when it is made again), polled with --poll.
    let mut waker = MultiWaker::new(rx, tx, args.poll);
    let mut reported_missing = false;
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        // A directory, or a database file (redb, SQLite).
        let missing = !dir.exists();
        if missing {
            if !args.retry {
                anyhow::bail!(
                    "{}: the journal was removed (use --retry to wait for it)",
                    dir.display()
                );
            }
            if !reported_missing {
                reported_missing = true;
                journal::render::notice::waiting_for_dir(&dir);
            }
        } else {
            reported_missing = false;
            tail.poll(source)?;
            if tail.write_error.is_none() {
                tail.write_error = tail.out.flush().err();
            }
            if let Some(path) = &args.cursor_file {
                write_positions(path, format, &tail.safe_positions())?;
            }
            if let Some(e) = tail.write_error.take() {
                return finish_write_error(e).map(|code| tail.exit(code, gap_is_failure));
            }
            let mut all_acked = true;
            if let Some(acks) = &tail.acks {
                let mut state = acks.lock().expect("ack state");
                if let Some(e) = state.error.take() {
                    anyhow::bail!(
                        "--ack-stdin: {e}; the cursor stays at the last line acknowledged"
                    );
                }
                if state.closed {
                    break;
                }
                all_acked = state.outstanding.is_empty();
            }
            if args.stop_at_end && all_acked {
                break;
            }
        }
        let mut points: Vec<std::path::PathBuf> = Vec::new();
        for p in source.watch_paths() {
            let point = watch_point(&p);
            if !points.contains(&point) {
                points.push(point);
            }
        }
        let any_missing = missing || source.watch_paths().iter().any(|p| !p.exists());
        waker.wait(&points, any_missing);
    }
    // Acknowledgements that came since the last save count too.
    if let Some(path) = &args.cursor_file
        && tail.acks.is_some()
    {
        write_positions(path, format, &tail.safe_positions())?;
    }
    Ok(tail.exit(ExitCode::Success, gap_is_failure))
}

impl Tail<'_> {
    /// The status a follow ends with: a gap in a delivery mode is exit 4;
    /// lines left unacknowledged are said.
    fn exit(&self, code: ExitCode, gap_is_failure: bool) -> ExitCode {
        if let Some(acks) = &self.acks {
            let state = acks.lock().expect("ack state");
            if !state.outstanding.is_empty() {
                journal::render::notice::unacknowledged(state.outstanding.len());
            }
        }
        if code == ExitCode::Success && self.gap && gap_is_failure {
            ExitCode::Gap
        } else {
            code
        }
    }
}

/// `journal tail -f | head`: the reader went away; that is success.
fn finish_write_error(e: io::Error) -> Result<ExitCode> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(ExitCode::Success)
    } else {
        Err(anyhow::Error::new(e).context("writing to stdout"))
    }
}

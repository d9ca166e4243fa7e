//! `tail [-f] DIR DIR...`: several journals of any format followed at once.
//!
//! Every poll reads each journal: the engine's segments through a
//! [`Follower`] each (rotation, pruning, new segments, as for one journal),
//! every other format through [`Source::visit_after`](journal::source::reader::Source::visit_after)
//! with its positions; a path that does not exist yet (with --retry) is
//! looked for at every poll and followed from its oldest record once it
//! appears. A poll's records are merged on time, then source, then
//! position, labelled, printed, and then the cursor file (one position per
//! source and stream, JSON) is rewritten.

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use anyhow::{Context as _, Result, bail};
use journal::follow::{FollowOptions, Follower, Item as FollowItem, Notice};
use journal::lines::ReadOptions;
use journal::record::parse_line;
use journal::render::notice::{self, DamageTally};
use journal::render::{Gap, RecordFormat, RenderOptions, Renderer, Reset, SourceTag};
use journal::scan::Direction;
use journal::source::family::Positions;
use journal::source::reader::{AcceptAll, Item, Source};
use journal::source::{Format, OpenOptions, Position, detect, open_family};
use serde_json::{Value, json};

use super::DEFAULT_LINES;
use super::ack::{Acks, spawn_ack_reader};
use super::waker::{MultiWaker, spawn_signal_thread, spawn_stdout_watch, watch_point};
use crate::cli::{OutputFormat, TailArgs};
use crate::cmd::multi::{Journal, Owned, journals, matcher_for, merge_sort, read_journal};
use crate::cmd::{Context, DirReads};
use crate::exit_codes::ExitCode;

enum Reader {
    /// Not there yet (or not recognisable yet).
    Pending,
    Segments(Box<Follower>),
    /// Kept open across polls: a reader may read on from where it stopped.
    Family(Box<dyn Source>),
}

struct Followed {
    journal: Journal,
    reader: Reader,
    /// The last position processed, per cursor stream (segments: `""`).
    positions: Positions,
    /// (stream, position) pairs whose next record jumps and were found not
    /// to be a gap (the format numbers with holes).
    checked: HashSet<(String, u64)>,
    /// The filter, as this journal's format reads it (made once it is known).
    matcher: Option<journal::query::Matcher>,
}

/// The cursor file of a merge: per source id, its label, path and positions.
fn read_cursor(path: &Path) -> Result<Option<BTreeMap<String, Positions>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{}: reading the cursor", path.display())),
    };
    let value: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a cursor of several journals (JSON with \"sources\")",
            path.display()
        )
    })?;
    let Some(sources) = value.get("sources").and_then(Value::as_object) else {
        bail!(
            "{}: not a cursor of several journals (no \"sources\" object)",
            path.display()
        );
    };
    let mut out = BTreeMap::new();
    for (id, entry) in sources {
        let positions: Positions = serde_json::from_value(entry["positions"].clone())
            .with_context(|| format!("{}: source {id}: bad positions", path.display()))?;
        out.insert(id.clone(), positions);
    }
    Ok(Some(out))
}

/// Writes every journal's positions; with `--ack-stdin`, each stream's
/// before its oldest unacknowledged line.
fn write_cursor(path: &Path, followed: &[Followed], acks: Option<&Acks>) -> Result<()> {
    let mut sources = serde_json::Map::new();
    let state = acks.map(|a| a.lock().expect("ack state"));
    for (i, f) in followed.iter().enumerate() {
        let positions = match &state {
            Some(state) => state.hold_back(i, &f.positions),
            None => f.positions.clone(),
        };
        sources.insert(
            f.journal.tag.id.clone(),
            json!({
                "label": f.journal.tag.label,
                "path": f.journal.path.display().to_string(),
                "positions": positions,
            }),
        );
    }
    let text = serde_json::to_string(&json!({
        "schema": "journal-cursor-sources/1",
        "sources": sources,
    }))? + "\n";
    journal::atomic::write_file(path, text.as_bytes())
        .with_context(|| format!("{}: writing the cursor", path.display()))
}

/// The newest position of every stream of a journal (where following
/// continues after `-n`).
fn heads(journal: &Journal) -> Result<Positions> {
    let mut positions = Positions::new();
    match journal.format {
        None => {}
        Some(Format::Segments) => {
            // After the last N were read (which took the detection's read):
            // the directory as it is, from the listing cache when unchanged.
            let listing = crate::cmd::list_for_reading(&journal.path)?;
            let max = journal::recover::recover(&listing, ReadOptions::default())?.max_seq;
            if max > 0 {
                positions.insert(String::new(), max);
            }
        }
        Some(format) => {
            let source = open_family(&journal.path, format, &OpenOptions::default())?;
            source.visit(&AcceptAll, Direction::OldestFirst, &mut |item| {
                if let Item::Record { position, .. } = item {
                    let p = positions.entry(position.cursor_stream()).or_insert(0);
                    *p = (*p).max(position.number());
                }
                ControlFlow::Continue(())
            })?;
        }
    }
    Ok(positions)
}

pub(super) fn run(args: &TailArgs, first: std::path::PathBuf, ctx: &Context) -> Result<ExitCode> {
    if args.from_seq.is_some() {
        bail!(
            "--from-seq names one seq; several journals keep one position each: use --cursor-file"
        );
    }
    let mut paths = vec![first];
    paths.extend(args.more.iter().cloned());
    let list = journals(
        &paths,
        args.dir.format,
        &args.label,
        args.source_id.as_deref(),
        args.follow && args.retry,
        // The first read only: the followers list the directories themselves.
        DirReads::MayUseCache,
    )?;
    let format = args.output.unwrap_or(if ctx.stdout_tty {
        OutputFormat::Table
    } else {
        OutputFormat::Raw
    });
    let render_opts = RenderOptions::for_console(format.into(), ctx);
    let renderer = if args.follow {
        Renderer::streaming(render_opts)
    } else {
        Renderer::new(render_opts)
    }
    .labelled();

    let saved = match &args.cursor_file {
        Some(path) => read_cursor(path)?,
        None => None,
    };
    // -n N (the default without a cursor): the last N of the merge, then on.
    let last = match (&saved, args.lines) {
        (Some(_), _) => None,
        (None, Some(n)) => Some(n),
        (None, None) if args.cursor_file.is_some() => None,
        (None, None) => Some(DEFAULT_LINES),
    };
    if args.ack_stdin
        && let Some(n) = last
        && n > 0
    {
        bail!(
            "--ack-stdin starts after the cursor file's positions; without one, from the oldest \
             record, or -n 0 (from now): not with the last {n} records"
        );
    }
    // Proven writable before anything is printed (as for one journal).
    if let Some(path) = &args.cursor_file {
        super::cursor::check_writable(path, None)?;
    }
    let mut followed: Vec<Followed> = list
        .into_iter()
        .map(|journal| Followed {
            positions: saved
                .as_ref()
                .and_then(|s| s.get(&journal.tag.id).cloned())
                .unwrap_or_default(),
            journal,
            reader: Reader::Pending,
            checked: HashSet::new(),
            matcher: None,
        })
        .collect();
    let mut out = Output {
        renderer,
        out: ctx.stdout(args.follow),
        acks: args.ack_stdin.then(Acks::default),
        gap: false,
    };
    if let Some(n) = last {
        let mut records = Vec::new();
        for (i, f) in followed.iter_mut().enumerate() {
            let mut damage = DamageTally::default();
            read_journal(
                i,
                &f.journal,
                &args.filters,
                Direction::NewestFirst,
                Some(n),
                &mut damage,
                &mut records,
            )?;
            damage.report(&f.journal.path);
            f.positions = heads(&f.journal)?;
        }
        let journals: Vec<Journal> = followed.iter().map(|f| f.journal.clone_tag()).collect();
        merge_sort(&mut records, &journals);
        let skip = records.len().saturating_sub(n);
        for r in &records[skip..] {
            if let Err(e) = out.record(r, &followed[r.source].journal.tag) {
                return finish_broken(e);
            }
        }
    }
    // Detection's reads unused (no last N): not kept while following.
    for f in &followed {
        drop(f.journal.take_detected());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<()>();
    if args.follow {
        spawn_signal_thread(stop.clone(), tx.clone())?;
        spawn_stdout_watch(stop.clone(), tx.clone());
    }
    if let Some(acks) = &out.acks {
        spawn_ack_reader(acks.clone(), tx.clone());
    }
    let mut waker = MultiWaker::new(rx, tx, args.poll);
    let mut first_poll = last.is_none() || args.follow;
    loop {
        if first_poll {
            let mut batch = Vec::new();
            for (i, f) in followed.iter_mut().enumerate() {
                if let Err(e) = poll_one(i, f, &args.filters, saved.as_ref(), &mut batch, &mut out)
                {
                    return match e.downcast::<std::io::Error>() {
                        Ok(e) => finish_broken(e),
                        Err(e) => Err(e),
                    };
                }
            }
            let journals: Vec<Journal> = followed.iter().map(|f| f.journal.clone_tag()).collect();
            merge_sort(&mut batch, &journals);
            for r in &batch {
                if let Err(e) = out.record(r, &followed[r.source].journal.tag) {
                    return finish_broken(e);
                }
            }
        }
        first_poll = true;
        if let Err(e) = out.out.flush() {
            return finish_broken(e);
        }
        if let Some(path) = &args.cursor_file {
            write_cursor(path, &followed, out.acks.as_ref())?;
        }
        let mut all_acked = true;
        if let Some(acks) = &out.acks {
            let mut state = acks.lock().expect("ack state");
            if let Some(e) = state.error.take() {
                bail!("--ack-stdin: {e}; the cursor stays at the last line acknowledged");
            }
            if state.closed {
                break;
            }
            all_acked = state.outstanding.is_empty();
        }
        if !args.follow || (args.stop_at_end && all_acked) || stop.load(Ordering::SeqCst) {
            break;
        }
        let (dirs, any_missing) = watch_dirs(&followed);
        waker.wait(&dirs, any_missing);
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    if let Err(e) = out
        .renderer
        .finish(&mut out.out)
        .and_then(|()| out.out.flush())
    {
        return finish_broken(e);
    }
    // Acknowledgements that came since the last save count too.
    if let (Some(path), Some(acks)) = (&args.cursor_file, &out.acks) {
        write_cursor(path, &followed, Some(acks))?;
    }
    if let Some(acks) = &out.acks {
        let state = acks.lock().expect("ack state");
        if !state.outstanding.is_empty() {
            notice::unacknowledged(state.outstanding.len());
        }
    }
    Ok(
        if out.gap && (format == OutputFormat::Envelope || args.ack_stdin) {
            ExitCode::Gap
        } else {
            ExitCode::Success
        },
    )
}

/// What to watch: each journal's directory (a family reader's
/// [`Source::watch_paths`](journal::source::reader::Source::watch_paths),
/// where its records are written), or where a missing one will appear.
fn watch_dirs(followed: &[Followed]) -> (Vec<PathBuf>, bool) {
    let mut dirs = Vec::new();
    let mut any_missing = false;
    for f in followed {
        let paths = match &f.reader {
            Reader::Family(source) => source.watch_paths(),
            _ => vec![f.journal.path.clone()],
        };
        for dir in paths {
            any_missing |= !dir.exists() || matches!(f.reader, Reader::Pending);
            let point = watch_point(&dir);
            if !dirs.contains(&point) {
                dirs.push(point);
            }
        }
    }
    (dirs, any_missing)
}

/// Where a merge's lines go: the renderer, stdout, what waits for an
/// acknowledgement, and whether a gap was met.
struct Output {
    renderer: Renderer,
    out: Box<dyn Write>,
    acks: Option<Acks>,
    gap: bool,
}

impl Output {
    fn record(&mut self, r: &Owned, tag: &SourceTag) -> std::io::Result<()> {
        if let Some(acks) = &self.acks {
            acks.lock().expect("ack state").push(
                r.source,
                &r.rec.position.cursor_stream(),
                r.rec.position.number(),
                format!("{}:{}", tag.id, r.rec.position),
            );
        }
        self.renderer.record_at(
            &mut self.out,
            &r.rec.record(),
            r.rec.stored(),
            &r.rec.position,
            Some(tag),
        )
    }

    /// A stream read again from its start: said on stderr by the caller, an
    /// object on the envelope stream (acknowledged like a record).
    fn reset(&mut self, index: usize, reset: &Reset<'_>, tag: &SourceTag) -> std::io::Result<()> {
        if let Some(acks) = &self.acks
            && self.renderer.format() == RecordFormat::Envelope
        {
            acks.lock()
                .expect("ack state")
                .push(index, reset.stream, 0, reset.id(&tag.id));
        }
        self.renderer.reset(&mut self.out, reset, Some(tag))
    }

    /// A gap: said on stderr by the caller, an object on the envelope
    /// stream (acknowledged like a record), and exit 4 in a delivery mode.
    fn gap(&mut self, index: usize, gap: &Gap<'_>, tag: &SourceTag) -> std::io::Result<()> {
        self.gap = true;
        if let Some(acks) = &self.acks
            && self.renderer.format() == RecordFormat::Envelope
        {
            acks.lock()
                .expect("ack state")
                .push(index, gap.stream, gap.first, gap.id(&tag.id));
        }
        self.renderer.gap(&mut self.out, gap, Some(tag))
    }
}

fn finish_broken(e: std::io::Error) -> Result<ExitCode> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(ExitCode::Success)
    } else {
        Err(anyhow::Error::new(e).context("writing to stdout"))
    }
}

/// Reads what is new in one journal into `batch` (gaps are written at once).
fn poll_one(
    index: usize,
    f: &mut Followed,
    filters: &crate::cli::FilterArgs,
    saved: Option<&BTreeMap<String, Positions>>,
    batch: &mut Vec<Owned>,
    out: &mut Output,
) -> Result<()> {
    if matches!(f.reader, Reader::Pending) && f.journal.path.exists() {
        // Named before it existed (--retry): its id derived again from the
        // path as it now resolves (the id later runs derive), and its
        // positions looked up under that id, before anything is read.
        let host = &f.journal.tag.host;
        let id = crate::cmd::identity::derived_source_id(host, &f.journal.path);
        if id != f.journal.tag.id {
            f.positions = saved.and_then(|s| s.get(&id).cloned()).unwrap_or_default();
            f.journal.tag.id = id;
        }
    }
    if matches!(f.reader, Reader::Pending) {
        let format = match f.journal.format {
            Some(format) => Some(format),
            // Appeared since: recognised once it holds something.
            None if f.journal.path.is_dir()
                && std::fs::read_dir(&f.journal.path)?.next().is_some() =>
            {
                detect(&f.journal.path).ok()
            }
            None => None,
        };
        match format {
            None => return Ok(()),
            Some(Format::Segments) => {
                f.journal.format = Some(Format::Segments);
                f.reader = Reader::Segments(Box::new(Follower::new(
                    &f.journal.path,
                    FollowOptions {
                        after: f.positions.get("").copied(),
                        read: ReadOptions::default(),
                    },
                )));
            }
            Some(format) if format.is_supported() => {
                let Ok(source) = open_family(&f.journal.path, format, &filters.open_options())
                else {
                    return Ok(()); // not readable yet: looked at again next time
                };
                f.journal.format = Some(format);
                f.reader = Reader::Family(source);
            }
            Some(format) => bail!(
                "{}: a {} journal, recognised by its shape only; reading it is not supported yet",
                f.journal.path.display(),
                format.name()
            ),
        }
    }
    let format = f.journal.format.expect("set above");
    if f.matcher.is_none() {
        f.matcher = Some(matcher_for(&f.journal, format, filters)?);
    }
    let matcher = f.matcher.as_ref().expect("set above");
    match &mut f.reader {
        Reader::Pending => {}
        Reader::Segments(follower) => {
            let positions = &mut f.positions;
            let tag = &f.journal.tag;
            let mut failed = None;
            let _status = follower.poll(|item| {
                match item {
                    FollowItem::Notice(n) => {
                        notice::follow(&n);
                        let lost = match &n {
                            Notice::Pruned { first, last } => Some((*first, *last, "pruned")),
                            Notice::Gap {
                                expected, found, ..
                            } => Some((*expected, found.saturating_sub(1), "skipped")),
                            _ => None,
                        };
                        if let Some((first, last, reason)) = lost {
                            let gap = Gap {
                                stream: "",
                                first,
                                last,
                                reason,
                            };
                            if let Err(e) = out.gap(index, &gap, tag) {
                                failed = Some(e);
                                return ControlFlow::Break(());
                            }
                        }
                    }
                    FollowItem::Line { segment, seq, line } => {
                        if let (Some(stored), Some(content)) = (line.raw(), line.content())
                            && matcher.prefilter(content)
                        {
                            match parse_line(content) {
                                Ok(record) if matcher.matches(&record) => {
                                    batch.push(Owned::new(
                                        index,
                                        Position::Seq(seq),
                                        &record,
                                        stored,
                                    ));
                                }
                                Ok(_) => {}
                                Err(fault) => notice::follow(&Notice::Damage(
                                    journal::defect::Defect::from_fault(segment, &line, &fault),
                                )),
                            }
                        }
                        positions.insert(String::new(), seq);
                    }
                }
                ControlFlow::Continue(())
            })?;
            if let Some(e) = failed {
                return Err(e.into());
            }
        }
        Reader::Family(source) => loop {
            // Every record, so a filtered-out one moves its stream too; a
            // stream whose next record jumps stops the read (see
            // `Source::oldest`) until the journal says whether a gap lies
            // between.
            let mut suspect = None;
            let mut restarted: Vec<(String, u64, &'static str)> = Vec::new();
            let after = f.positions.clone();
            let positions = &mut f.positions;
            let checked = &f.checked;
            source.visit_after(&after, &AcceptAll, &mut |item| {
                match item {
                    Item::Damage(d) => notice::follow(&Notice::Damage(d)),
                    Item::Restart {
                        stream,
                        after,
                        reason,
                    } => {
                        // Its records follow from its start.
                        notice::stream_restart(source.dir(), &stream, after, reason);
                        positions.remove(&stream);
                        restarted.push((stream, after, reason));
                    }
                    Item::Record {
                        position,
                        record,
                        stored,
                    } => {
                        let stream = position.cursor_stream();
                        let n = position.number();
                        if let Some(&p) = positions.get(&stream)
                            && n > p.saturating_add(1)
                            && !checked.contains(&(stream.clone(), p))
                        {
                            suspect = Some((stream, p));
                            return ControlFlow::Break(());
                        }
                        if matcher.prefilter(record.raw) && matcher.matches(record) {
                            batch.push(Owned::new(index, position, record, stored));
                        }
                        let e = positions.entry(stream).or_insert(n);
                        *e = (*e).max(n);
                    }
                }
                ControlFlow::Continue(())
            })?;
            for (stream, after, reason) in restarted {
                f.checked.retain(|(s, _)| *s != stream);
                let reset = Reset {
                    stream: &stream,
                    after,
                    reason,
                };
                out.reset(index, &reset, &f.journal.tag)?;
            }
            let Some((stream, p)) = suspect else { break };
            match source.oldest()?.get(&stream).copied() {
                Some(oldest) if oldest > p + 1 => {
                    notice::stream_gap(source.dir(), &stream, p + 1, oldest - 1);
                    let gap = Gap {
                        stream: &stream,
                        first: p + 1,
                        last: oldest - 1,
                        reason: "pruned",
                    };
                    out.gap(index, &gap, &f.journal.tag)?;
                    f.positions.insert(stream, oldest - 1);
                }
                _ => {
                    f.checked.insert((stream, p));
                }
            }
        },
    }
    Ok(())
}

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
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use journal::follow::{FollowOptions, Follower, Item as FollowItem, Notice, PollStatus};
use journal::lines::ReadOptions;
use journal::record::parse_line;
use journal::render::notice::{self, DamageTally};
use journal::render::{RenderOptions, Renderer};
use journal::scan::Direction;
use journal::segment::Listing;
use journal::source::family::Positions;
use journal::source::reader::Item;
use journal::source::{Format, OpenOptions, Position, detect, open_family};
use serde_json::{Value, json};

use super::DEFAULT_LINES;
use super::waker::{spawn_signal_thread, spawn_stdout_watch};
use crate::cli::{OutputFormat, TailArgs};
use crate::cmd::Context;
use crate::cmd::multi::{Journal, Owned, journals, matcher_for, merge_sort, read_journal};
use crate::exit_codes::ExitCode;

/// How often every journal is read while following several.
const DEFAULT_POLL: Duration = Duration::from_millis(250);

enum Reader {
    /// Not there yet (or not recognisable yet).
    Pending,
    Segments(Box<Follower>),
    Family,
}

struct Followed {
    journal: Journal,
    reader: Reader,
    /// The last position processed, per cursor stream (segments: `""`).
    positions: Positions,
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

fn write_cursor(path: &Path, followed: &[Followed]) -> Result<()> {
    let mut sources = serde_json::Map::new();
    for f in followed {
        sources.insert(
            f.journal.tag.id.clone(),
            json!({
                "label": f.journal.tag.label,
                "path": f.journal.path.display().to_string(),
                "positions": f.positions,
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
            let listing = Listing::read(&journal.path)?;
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

struct AcceptAll;
impl journal::source::reader::RecordFilter for AcceptAll {
    fn matches(&self, _rec: &journal::record::Record<'_>) -> bool {
        true
    }
}

pub(super) fn run(args: &TailArgs, first: std::path::PathBuf, ctx: &Context) -> Result<ExitCode> {
    if args.from_seq.is_some() {
        bail!(
            "--from-seq names one seq; several journals keep one position each: use --cursor-file"
        );
    }
    if args.ack_stdin {
        bail!("--ack-stdin follows one journal; run one tail per journal to acknowledge each");
    }
    let mut paths = vec![first];
    paths.extend(args.more.iter().cloned());
    let list = journals(
        &paths,
        args.dir.format,
        &args.label,
        args.source_id.as_deref(),
        args.follow && args.retry,
    )?;
    let format = args.output.unwrap_or(if ctx.stdout_tty {
        OutputFormat::Table
    } else {
        OutputFormat::Raw
    });
    let render_opts = RenderOptions::for_console(format.into(), ctx);
    let mut renderer = if args.follow {
        Renderer::streaming(render_opts)
    } else {
        Renderer::new(render_opts)
    }
    .labelled();
    let mut out = ctx.stdout(args.follow);

    let saved = match &args.cursor_file {
        Some(path) => read_cursor(path)?,
        None => None,
    };
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
        })
        .collect();
    // -n N (the default without a cursor): the last N of the merge, then on.
    let last = match (&saved, args.lines) {
        (Some(_), _) => None,
        (None, Some(n)) => Some(n),
        (None, None) if args.cursor_file.is_some() => None,
        (None, None) => Some(DEFAULT_LINES),
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
        merge_sort(
            &mut records,
            &followed
                .iter()
                .map(|f| f.journal.clone_tag())
                .collect::<Vec<_>>(),
        );
        let skip = records.len().saturating_sub(n);
        for r in &records[skip..] {
            let tag = &followed[r.source].journal.tag;
            renderer.record_at(
                &mut out,
                &r.view(),
                r.stored_bytes(),
                &r.position,
                Some(tag),
            )?;
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<()>();
    if args.follow {
        spawn_signal_thread(stop.clone(), tx.clone())?;
        spawn_stdout_watch(stop.clone(), tx);
    }
    let mut gap = false;
    let mut first_poll = last.is_none() || args.follow;
    let poll = args.poll.unwrap_or(DEFAULT_POLL);
    loop {
        if first_poll {
            let mut batch = Vec::new();
            for (i, f) in followed.iter_mut().enumerate() {
                poll_one(
                    i,
                    f,
                    &args.filters,
                    &mut batch,
                    &mut gap,
                    &mut renderer,
                    &mut out,
                )?;
            }
            let journals: Vec<Journal> = followed.iter().map(|f| f.journal.clone_tag()).collect();
            merge_sort(&mut batch, &journals);
            for r in &batch {
                let tag = &followed[r.source].journal.tag;
                if let Err(e) = renderer.record_at(
                    &mut out,
                    &r.view(),
                    r.stored_bytes(),
                    &r.position,
                    Some(tag),
                ) {
                    return finish_broken(e);
                }
            }
        }
        first_poll = true;
        if let Err(e) = out.flush() {
            return finish_broken(e);
        }
        if let Some(path) = &args.cursor_file {
            write_cursor(path, &followed)?;
        }
        if !args.follow || args.stop_at_end || stop.load(Ordering::SeqCst) {
            break;
        }
        let _ = rx.recv_timeout(poll);
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    if let Err(e) = renderer.finish(&mut out).and_then(|()| out.flush()) {
        return finish_broken(e);
    }
    Ok(if gap && format == OutputFormat::Envelope {
        ExitCode::Gap
    } else {
        ExitCode::Success
    })
}

fn finish_broken(e: std::io::Error) -> Result<ExitCode> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(ExitCode::Success)
    } else {
        Err(anyhow::Error::new(e).context("writing to stdout"))
    }
}

/// Reads what is new in one journal into `batch`.
fn poll_one(
    index: usize,
    f: &mut Followed,
    filters: &crate::cli::FilterArgs,
    batch: &mut Vec<Owned>,
    gap: &mut bool,
    renderer: &mut Renderer,
    out: &mut dyn Write,
) -> Result<()> {
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
                f.journal.format = Some(format);
                f.reader = Reader::Family;
            }
            Some(format) => bail!(
                "{}: a {} journal, recognised by its shape only; reading it is not supported yet",
                f.journal.path.display(),
                format.name()
            ),
        }
    }
    let format = f.journal.format.expect("set above");
    let matcher = matcher_for(&f.journal, format, filters)?;
    match &mut f.reader {
        Reader::Pending => {}
        Reader::Segments(follower) => {
            let positions = &mut f.positions;
            let tag = &f.journal.tag;
            let mut failed = None;
            let status = follower.poll(|item| {
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
                        if let Some((a, b, why)) = lost {
                            *gap = true;
                            if let Err(e) = renderer.gap(out, a, b, why, Some(tag)) {
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
            if status == PollStatus::DirMissing && f.journal.path.exists() {
                // Replaced by something else: look again next time.
            }
        }
        Reader::Family => {
            let Ok(source) = open_family(&f.journal.path, format, &filters.open_options()) else {
                return Ok(()); // gone for now
            };
            let mut damage = DamageTally::default();
            let mut new_positions = f.positions.clone();
            source.visit_after(&f.positions, &matcher, &mut |item| {
                match item {
                    Item::Damage(d) => damage.note(d),
                    Item::Record {
                        position,
                        record,
                        stored,
                    } => {
                        let p = new_positions.entry(position.cursor_stream()).or_insert(0);
                        *p = (*p).max(position.number());
                        batch.push(Owned::new(index, position, record, stored));
                    }
                }
                ControlFlow::Continue(())
            })?;
            f.positions = new_positions;
        }
    }
    Ok(())
}

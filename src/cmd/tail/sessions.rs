//! `tail` on the per-session store: the last N matching records across every
//! session (oldest first), then with `-f` every new complete record of every
//! session file, files that appear meanwhile included.
//!
//! The position is one sequence per stream (session and branch): a record is
//! printed once its sequence is above its stream's position, so a file that
//! `repair` rewrote, or a line read twice, is never printed twice. The session
//! files are polled (the store writes many files; polling one directory
//! listing and each file's length is cheap) every `--poll` (default 250 ms),
//! and SIGINT/SIGTERM stop between two batches. `--cursor-file` holds
//! `{"format":"sessions","streams":{"<session>/<branch>":N,...}}`, rewritten
//! atomically after each batch is flushed.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use journal::query::Matcher;
use journal::render::notice::DamageTally;
use journal::render::{RenderOptions, Renderer};
use journal::source::sessions::{SessionFile, SessionStore};
use journal::source::{Position, SourceRecord};

use super::DEFAULT_LINES;
use super::waker::{spawn_signal_thread, spawn_stdout_watch};
use crate::cli::{OutputFormat, TailArgs};
use crate::cmd::Context;
use crate::cmd::sessions::session_query;
use crate::exit_codes::ExitCode;

const DEFAULT_POLL: Duration = Duration::from_millis(250);

/// One sequence per stream: the last record processed.
type Positions = BTreeMap<String, u64>;

fn read_positions(path: &Path) -> Result<Option<Positions>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("{}: cannot read the cursor", path.display()));
        }
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a session store cursor", path.display()))?;
    let streams = v
        .get("streams")
        .and_then(|s| serde_json::from_value::<Positions>(s.clone()).ok())
        .with_context(|| {
            format!(
                "{}: not a session store cursor (no \"streams\" object of sequences)",
                path.display()
            )
        })?;
    Ok(Some(streams))
}

fn write_positions(path: &Path, p: &Positions) -> Result<()> {
    let v = serde_json::json!({"format": "sessions", "streams": p});
    journal::atomic::write_file(path, format!("{v}\n").as_bytes())
        .with_context(|| format!("{}: cannot write the cursor", path.display()))
}

fn stream_and_sequence(r: &SourceRecord) -> (String, u64) {
    (r.stream.clone(), r.number())
}

struct Tail<'a> {
    matcher: &'a Matcher,
    branches: &'a [String],
    positions: Positions,
    renderer: Renderer,
    out: Box<dyn Write + 'a>,
}

impl Tail<'_> {
    fn wanted(&self, r: &SourceRecord) -> bool {
        (self.branches.is_empty()
            || matches!(&r.position, Position::Session { branch, .. } if self.branches.contains(branch)))
            && self.matcher.matches(&r.as_record())
    }

    /// Prints the records above their stream's position, oldest first, and
    /// moves the positions (filtered-out records count as processed).
    fn emit(&mut self, mut records: Vec<SourceRecord>, last: Option<usize>) -> Result<()> {
        records.retain(|r| {
            let (stream, seq) = stream_and_sequence(r);
            self.positions.get(&stream).is_none_or(|&p| seq > p)
        });
        records.sort_by_cached_key(|r| (r.as_record().timestamp(), r.stream.clone(), r.number()));
        let shown: Vec<&SourceRecord> = records.iter().filter(|r| self.wanted(r)).collect();
        let skip = last.map_or(0, |n| shown.len().saturating_sub(n));
        for r in &shown[skip..] {
            self.renderer
                .record_at(&mut self.out, &r.as_record(), &r.raw, &r.position, None)?;
        }
        for r in &records {
            let (stream, seq) = stream_and_sequence(r);
            let p = self.positions.entry(stream).or_insert(0);
            *p = (*p).max(seq);
        }
        Ok(())
    }
}

/// The complete lines of `path` from `offset`: the records, and the offset
/// after the last complete line.
fn read_from(path: &Path, offset: u64) -> Result<(Vec<SourceRecord>, u64)> {
    let mut f = fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let len = f.metadata()?.len();
    // Shorter than what was read: rewritten (a repair); read it again whole,
    // the positions keep anything already printed from printing twice.
    let offset = if len < offset { 0 } else { offset };
    f.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(complete);
    let file = SessionFile::parse(path, bytes);
    Ok((file.records().collect(), offset + complete as u64))
}

pub(super) fn run(args: &TailArgs, dir: &Path, ctx: &Context) -> Result<ExitCode> {
    if args.from_seq.is_some() {
        anyhow::bail!(
            "--from-seq names one seq; a per-session store has a sequence per session and branch: use --cursor-file"
        );
    }
    let matcher = session_query(args.filters.to_query()?).matcher();
    let format = args.output.unwrap_or(if ctx.stdout_tty {
        OutputFormat::Table
    } else {
        OutputFormat::Raw
    });
    let render_opts = RenderOptions::for_console(format.into(), ctx);
    let saved = match &args.cursor_file {
        Some(path) => read_positions(path)?,
        None => None,
    };
    let from_cursor = args.cursor_file.is_some();
    let mut tail = Tail {
        matcher: &matcher,
        branches: &args.filters.branches,
        positions: saved.unwrap_or_default(),
        renderer: if args.follow {
            Renderer::streaming(render_opts)
        } else {
            Renderer::new(render_opts)
        }
        .with_source(crate::cmd::identity::source_tag(
            dir,
            None,
            args.source_id.as_deref(),
        )?),
        out: Box::new(ctx.stdout(args.follow)),
    };

    let store = SessionStore::open(dir)?;
    let mut offsets: HashMap<PathBuf, u64> = HashMap::new();
    let mut damage = DamageTally::default();
    let mut first = Vec::new();
    for file in store.read_all()? {
        for d in file.defects() {
            damage.note(d);
        }
        let complete = file
            .bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        offsets.insert(file.path.clone(), complete as u64);
        first.extend(file.records());
    }
    let last = (!from_cursor).then_some(args.lines.unwrap_or(DEFAULT_LINES));
    tail.emit(first, last)?;
    if !args.follow {
        tail.renderer.finish(&mut tail.out)?;
    }
    tail.out.flush()?;
    damage.report(&store.events_dir);
    if let Some(path) = &args.cursor_file {
        write_positions(path, &tail.positions)?;
    }
    if !args.follow {
        return Ok(ExitCode::Success);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    spawn_signal_thread(stop.clone(), tx.clone())?;
    spawn_stdout_watch(stop.clone(), tx);
    let poll = args.poll.unwrap_or(DEFAULT_POLL);
    while !stop.load(Ordering::SeqCst) {
        let _ = rx.recv_timeout(poll);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(now) = SessionStore::open(dir) else {
            continue; // the events directory is gone for now
        };
        let mut batch = Vec::new();
        for path in now.files {
            let offset = offsets.get(&path).copied().unwrap_or(0);
            let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if len == offset {
                continue;
            }
            if let Ok((records, next)) = read_from(&path, offset) {
                batch.extend(records);
                offsets.insert(path, next);
            }
        }
        if batch.is_empty() {
            continue;
        }
        tail.emit(batch, None)?;
        tail.out.flush()?;
        if let Some(path) = &args.cursor_file {
            write_positions(path, &tail.positions)?;
        }
    }
    Ok(ExitCode::Success)
}

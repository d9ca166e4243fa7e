//! Where records go: the matcher, the renderer and stdout, and how far
//! processing got (the last seq written or filtered out).

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use journal::defect::Defect;
use journal::follow::{Item, Notice};
use journal::query::Matcher;
use journal::record::parse_line;
use journal::render::{Gap, Renderer, notice};

use super::ack::Acks;
use super::cursor::Cursor;
use crate::exit_codes::ExitCode;

/// Where records go, and how far processing got.
pub(super) struct Sink<'a> {
    pub(super) matcher: &'a Matcher,
    pub(super) renderer: Renderer,
    pub(super) out: Box<dyn Write>,
    pub(super) stop: &'a AtomicBool,
    /// The last seq written to stdout or filtered out.
    pub(super) processed: Option<u64>,
    pub(super) write_error: Option<io::Error>,
    /// `--ack-stdin`: what the consumer acknowledged; the cursor moves only
    /// over that.
    pub(super) acks: Option<Acks>,
    /// Seqs were lost before they could be read (pruned, or skipped by the
    /// journal itself): the envelope stream says so and the exit status too.
    pub(super) gap: bool,
    /// Gaps end the run with [`ExitCode::Gap`] (the delivery modes).
    pub(super) gap_is_failure: bool,
}

impl Sink<'_> {
    pub(super) fn handle(&mut self, item: Item<'_>) -> ControlFlow<()> {
        if self.stop.load(Ordering::SeqCst) {
            return ControlFlow::Break(());
        }
        let (segment, seq, line) = match item {
            Item::Notice(notice) => {
                notice::follow(&notice);
                let lost = match &notice {
                    Notice::Pruned { first, last } => Some((*first, *last, "pruned")),
                    Notice::Gap {
                        expected, found, ..
                    } => Some((*expected, found.saturating_sub(1), "skipped")),
                    _ => None,
                };
                if let Some((first, last, reason)) = lost {
                    self.gap = true;
                    let gap = Gap {
                        stream: "",
                        first,
                        last,
                        reason,
                    };
                    if let Some(acks) = &self.acks
                        && self.renderer.format() == journal::render::RecordFormat::Envelope
                    {
                        let id = gap.id(self.source_id());
                        acks.lock().expect("ack state").push(0, "", first, id);
                    }
                    if let Err(e) = self.renderer.gap(&mut self.out, &gap, None) {
                        self.write_error = Some(e);
                        return ControlFlow::Break(());
                    }
                }
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
                    if let Some(acks) = &self.acks {
                        let id = format!("{}:{seq}", self.source_id());
                        acks.lock().expect("ack state").push(0, "", seq, id);
                    }
                    if let Err(e) = self.renderer.record(&mut self.out, &record, stored) {
                        self.write_error = Some(e);
                        return ControlFlow::Break(());
                    }
                }
                Ok(_) => {}
                Err(fault) => {
                    notice::follow(&Notice::Damage(Defect::from_fault(segment, &line, &fault)))
                }
            }
        }
        self.processed = Some(seq);
        ControlFlow::Continue(())
    }

    fn source_id(&self) -> &str {
        self.renderer.source().map_or("", |s| s.id.as_str())
    }

    /// The cursor that may be stored: the last seq processed, or with
    /// `--ack-stdin` the last one before the oldest unacknowledged record.
    pub(super) fn safe_position(&self) -> Option<u64> {
        match &self.acks {
            None => self.processed,
            Some(acks) => acks.lock().expect("ack state").safe(self.processed),
        }
    }

    /// Flushes, records the cursor, and turns a closed stdout into success.
    pub(super) fn finish(mut self, cursor: Option<&mut Cursor<'_>>) -> Result<ExitCode> {
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
            cursor.save(self.safe_position())?;
        }
        if let Some(acks) = &self.acks {
            let state = acks.lock().expect("ack state");
            if !state.outstanding.is_empty() {
                notice::unacknowledged(state.outstanding.len());
            }
        }
        let done = if self.gap && self.gap_is_failure {
            ExitCode::Gap
        } else {
            ExitCode::Success
        };
        match result {
            // `journal tail -f | head`: the reader went away; that is success.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(done),
            Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
            Ok(()) => Ok(done),
        }
    }
}

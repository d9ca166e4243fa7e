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
use journal::render::{Renderer, notice};

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
}

impl Sink<'_> {
    pub(super) fn handle(&mut self, item: Item<'_>) -> ControlFlow<()> {
        if self.stop.load(Ordering::SeqCst) {
            return ControlFlow::Break(());
        }
        let (segment, seq, line) = match item {
            Item::Notice(notice) => {
                notice::follow(&notice);
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
                Err(fault) => {
                    notice::follow(&Notice::Damage(Defect::from_fault(segment, &line, &fault)))
                }
            }
        }
        self.processed = Some(seq);
        ControlFlow::Continue(())
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

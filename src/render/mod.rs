//! The printer: everything a person or a program reads. Records (a table
//! for people, the stored lines, JSON) here; the commands' reports in
//! [`report`]; notices and warnings on stderr in [`notice`]; progress bars in
//! [`progress`]. It takes plain options ([`Console`], [`RenderOptions`]) and
//! core values, and knows nothing of the command line.
//!
//! Every format that can reach a terminal goes through [`escape`], so event
//! text never sends raw control characters or escape sequences to it.

mod console;
pub mod escape;
pub mod notice;
pub mod progress;
pub mod report;
mod style;
mod table;

pub use console::{ColorMode, Console};

use std::io::{self, Write};

use crate::record::Record;
use crate::writer::compact_json_bytes;

/// How records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    /// Columns for people: seq, time, session, type, summary.
    Table,
    /// The stored lines, byte for byte.
    Raw,
    /// One JSON array of the records.
    Json,
    /// One record per line, as compact JSON (no whitespace outside strings;
    /// field order and escapes as stored).
    Jsonl,
}

#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub format: RecordFormat,
    /// Colours in the table.
    pub color: bool,
    /// Output is a terminal: escape what JSON allows raw, fit the table to its width.
    pub terminal: bool,
    /// Terminal width in columns, where known.
    pub width: Option<u16>,
}

impl RenderOptions {
    pub fn for_console(format: RecordFormat, console: &Console) -> Self {
        let width = terminal_width(console.stdout_tty);
        RenderOptions {
            format,
            color: console.color,
            terminal: console.stdout_tty,
            width,
        }
    }
}

/// $COLUMNS when set (also for a table forced onto a pipe), else the
/// terminal's width; `None` on a pipe: nothing is cut.
fn terminal_width(tty: bool) -> Option<u16> {
    if let Some(cols) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(cols);
    }
    if tty {
        comfy_table::Table::new().width()
    } else {
        None
    }
}

/// Streams records in one format. The table buffers its rows (its columns
/// are sized from them) unless made with [`Renderer::streaming`]; every other
/// format writes each record at once.
pub struct Renderer {
    opts: RenderOptions,
    table: table::TableBuilder,
    json_items: usize,
    /// Table rows are written at once, in fixed columns (for a follower).
    stream_rows: bool,
}

impl Renderer {
    pub fn new(opts: RenderOptions) -> Self {
        Renderer {
            opts,
            table: table::TableBuilder::new(opts),
            json_items: 0,
            stream_rows: false,
        }
    }

    /// A renderer that never holds a record back: the table becomes one
    /// aligned line per record, in fixed-width columns (a follower cannot
    /// wait for the rows that would size them).
    pub fn streaming(opts: RenderOptions) -> Self {
        Renderer {
            stream_rows: true,
            ..Renderer::new(opts)
        }
    }

    /// `stored` is the line as read (with any `\r`), for `raw`.
    pub fn record(
        &mut self,
        out: &mut dyn Write,
        rec: &Record<'_>,
        stored: &[u8],
    ) -> io::Result<()> {
        match self.opts.format {
            RecordFormat::Table if self.stream_rows => self.table.write_row(out, rec),
            RecordFormat::Table => {
                self.table.push(rec);
                Ok(())
            }
            RecordFormat::Raw => {
                self.write_json_line(out, stored)?;
                out.write_all(b"\n")
            }
            RecordFormat::Jsonl => {
                self.write_json_line(out, &compact_json_bytes(rec.raw.trim_ascii()))?;
                out.write_all(b"\n")
            }
            RecordFormat::Json => {
                out.write_all(if self.json_items == 0 { b"[\n" } else { b",\n" })?;
                self.json_items += 1;
                self.write_json_line(out, &compact_json_bytes(rec.raw.trim_ascii()))
            }
        }
    }

    fn write_json_line(&self, out: &mut dyn Write, line: &[u8]) -> io::Result<()> {
        if self.opts.terminal {
            out.write_all(&escape::escape_json_line(line))
        } else {
            out.write_all(line)
        }
    }

    pub fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        match self.opts.format {
            RecordFormat::Table => self.table.finish(out),
            RecordFormat::Json => out.write_all(if self.json_items == 0 {
                b"[]\n"
            } else {
                b"\n]\n"
            }),
            RecordFormat::Raw | RecordFormat::Jsonl => Ok(()),
        }
    }
}

//! The printer: everything a person or a program reads. Records (a table
//! for people, the stored lines, JSON) here; the commands' reports in
//! [`report`]; notices and warnings on stderr in [`notice`]; progress bars in
//! [`progress`]. It takes plain options ([`Console`], [`RenderOptions`]) and
//! core values, and knows nothing of the command line.
//!
//! Every format that can reach a terminal goes through [`escape`], so event
//! text never sends raw control characters or escape sequences to it.

/// `eprintln!`, but the line goes to stderr in one write: stderr is
/// unbuffered and `eprintln!` writes each piece of its format apart, so a
/// message could be torn by another process writing to the same terminal or
/// log in between. A failed write is ignored (there is nowhere left to say
/// it), never a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::render::notice::say_line(format_args!($($arg)*))
    };
}

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
use crate::source::Position;
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
    /// One [`ENVELOPE_SCHEMA`] object per record, for programs that
    /// de-duplicate: `source`, `host`, `id` (`<source>:<position>`),
    /// `position` and the `record`; a gap is a `"type":"gap"` object.
    Envelope,
}

/// The schema name every envelope line carries.
pub const ENVELOPE_SCHEMA: &str = "journal-envelope/1";

/// Where records come from, for the envelope (and the label of a merge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTag {
    /// The name people see (`--label`, by default the directory's name).
    pub label: String,
    /// The stable source id the envelope's `id` starts with (never holds a
    /// `:`, so `id` splits at its first one).
    pub id: String,
    /// The host name.
    pub host: String,
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
    /// The source of records handed without one (the envelope needs it).
    source: Option<SourceTag>,
    /// Records are labelled with their source (a merge of several
    /// journals): a SOURCE column, `_source` in JSON.
    labelled: bool,
}

impl Renderer {
    pub fn new(opts: RenderOptions) -> Self {
        Renderer {
            opts,
            table: table::TableBuilder::new(opts),
            json_items: 0,
            stream_rows: false,
            source: None,
            labelled: false,
        }
    }

    /// Label every record with its source's label: a SOURCE column in the
    /// table, a first field `"_source"` in `json` and `jsonl` (`raw` stays
    /// the stored bytes; the envelope carries `source` anyway).
    pub fn labelled(mut self) -> Self {
        self.labelled = true;
        self.table.labelled = true;
        self
    }

    /// The source of the records this renderer writes (for the envelope).
    pub fn with_source(mut self, source: SourceTag) -> Self {
        self.source = Some(source);
        self
    }

    /// Replaces the source (a journal that appeared since: its id derived
    /// again from the path as it now exists).
    pub fn set_source(&mut self, source: SourceTag) {
        self.source = Some(source);
    }

    pub fn format(&self) -> RecordFormat {
        self.opts.format
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
        self.record_at(out, rec, stored, &Position::Seq(rec.seq), None)
    }

    /// A record at `position` in `source` (default: the renderer's own).
    pub fn record_at(
        &mut self,
        out: &mut dyn Write,
        rec: &Record<'_>,
        stored: &[u8],
        position: &Position,
        source: Option<&SourceTag>,
    ) -> io::Result<()> {
        let label = if self.labelled {
            source.or(self.source.as_ref()).map(|s| s.label.as_str())
        } else {
            None
        };
        match self.opts.format {
            RecordFormat::Envelope => {
                let source = source.or(self.source.as_ref());
                let line = envelope_record(source, position, rec.raw.trim_ascii());
                self.write_json_line(out, &line)?;
                out.write_all(b"\n")
            }
            RecordFormat::Table if self.stream_rows => self.table.write_row(out, rec, label),
            RecordFormat::Table => {
                self.table.push(rec, label);
                Ok(())
            }
            RecordFormat::Raw => {
                self.write_json_line(out, stored)?;
                out.write_all(b"\n")
            }
            RecordFormat::Jsonl => {
                self.write_json_line(out, &with_label(label, rec.raw.trim_ascii()))?;
                out.write_all(b"\n")
            }
            RecordFormat::Json => {
                out.write_all(if self.json_items == 0 { b"[\n" } else { b",\n" })?;
                self.json_items += 1;
                self.write_json_line(out, &with_label(label, rec.raw.trim_ascii()))
            }
        }
    }

    /// Whether a record is printed as its stored line and a `\n`, byte
    /// for byte (`raw` to anything but a terminal), so that
    /// [`Renderer::stored_run`] may print many at once.
    pub fn prints_stored_lines(&self) -> bool {
        self.opts.format == RecordFormat::Raw && !self.opts.terminal
    }

    /// Records whose stored lines, each with its `\n`, are `run` (only
    /// when [`Renderer::prints_stored_lines`]): written as they are.
    pub fn stored_run(&mut self, out: &mut dyn Write, run: &[u8]) -> io::Result<()> {
        debug_assert!(self.prints_stored_lines());
        out.write_all(run)
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
            RecordFormat::Raw | RecordFormat::Jsonl | RecordFormat::Envelope => Ok(()),
        }
    }

    /// A gap on the envelope stream: positions `first..=last` of `stream`
    /// (`""` for the engine's seqs) in `source` can no longer be read
    /// (pruned before they were). Other formats say it on stderr only, so
    /// this writes nothing for them.
    pub fn gap(
        &mut self,
        out: &mut dyn Write,
        gap: &Gap<'_>,
        source: Option<&SourceTag>,
    ) -> io::Result<()> {
        if self.opts.format != RecordFormat::Envelope {
            return Ok(());
        }
        let source = source.or(self.source.as_ref());
        let (id, host) = source.map_or(("", ""), |s| (s.id.as_str(), s.host.as_str()));
        let mut value = serde_json::json!({
            "schema": ENVELOPE_SCHEMA,
            "type": "gap",
            "source": id,
            "host": host,
            "id": gap.id(id),
            "first": gap.first,
            "last": gap.last,
            "reason": gap.reason,
        });
        if !gap.stream.is_empty() {
            value["stream"] = serde_json::Value::from(gap.stream);
        }
        let line = serde_json::to_vec(&value).map_err(io::Error::other)?;
        self.write_json_line(out, &line)?;
        out.write_all(b"\n")
    }

    /// A stream that went back on the envelope stream (the follower reads
    /// it again from its start); other formats say it on stderr only.
    pub fn reset(
        &mut self,
        out: &mut dyn Write,
        reset: &Reset<'_>,
        source: Option<&SourceTag>,
    ) -> io::Result<()> {
        if self.opts.format != RecordFormat::Envelope {
            return Ok(());
        }
        let source = source.or(self.source.as_ref());
        let (id, host) = source.map_or(("", ""), |s| (s.id.as_str(), s.host.as_str()));
        let value = serde_json::json!({
            "schema": ENVELOPE_SCHEMA,
            "type": "reset",
            "source": id,
            "host": host,
            "id": reset.id(id),
            "stream": reset.stream,
            "after": reset.after,
            "reason": reset.reason,
        });
        let line = serde_json::to_vec(&value).map_err(io::Error::other)?;
        self.write_json_line(out, &line)?;
        out.write_all(b"\n")
    }

    /// The source records handed without one belong to.
    pub fn source(&self) -> Option<&SourceTag> {
        self.source.as_ref()
    }
}

/// Positions a reader can no longer read: `first..=last` of a cursor stream.
#[derive(Debug, Clone, Copy)]
pub struct Gap<'a> {
    /// The cursor stream (`""` for the engine's seqs).
    pub stream: &'a str,
    pub first: u64,
    pub last: u64,
    /// `pruned` (removed before they were read) or `skipped` (never written).
    pub reason: &'a str,
}

impl Gap<'_> {
    /// The gap's envelope id: `<source id>:gap-A-B`, or
    /// `<source id>:<stream>/gap-A-B` in a stream.
    pub fn id(&self, source_id: &str) -> String {
        if self.stream.is_empty() {
            format!("{source_id}:gap-{}-{}", self.first, self.last)
        } else {
            format!(
                "{source_id}:{}/gap-{}-{}",
                self.stream, self.first, self.last
            )
        }
    }
}

/// A stream read again from its start: its records no longer continue
/// from position `after` (see `Item::Restart`).
#[derive(Debug, Clone, Copy)]
pub struct Reset<'a> {
    pub stream: &'a str,
    /// The position the follower held.
    pub after: u64,
    /// `went-back` or `replaced`.
    pub reason: &'a str,
}

impl Reset<'_> {
    /// `<source id>:<stream>/reset-<after>`.
    pub fn id(&self, source_id: &str) -> String {
        format!("{source_id}:{}/reset-{}", self.stream, self.after)
    }
}

/// The record compact, with `"_source":<label>` as its first field when
/// labelled.
fn with_label(label: Option<&str>, raw: &[u8]) -> Vec<u8> {
    let compact = compact_json_bytes(raw);
    match (label, compact.first()) {
        (Some(label), Some(b'{')) => {
            let mut line = format!(
                "{{\"_source\":{}",
                serde_json::to_string(label).expect("a string serialises")
            )
            .into_bytes();
            if compact.len() > 2 {
                line.push(b',');
            }
            line.extend_from_slice(&compact[1..]);
            line
        }
        _ => compact.into_owned(),
    }
}

/// One envelope line: the record is spliced in as stored (compact), so its
/// field order and escapes are kept.
fn envelope_record(source: Option<&SourceTag>, position: &Position, raw: &[u8]) -> Vec<u8> {
    let (id, host) = source.map_or(("", ""), |s| (s.id.as_str(), s.host.as_str()));
    let str_json = |s: &str| serde_json::to_string(s).expect("a string serialises");
    let position_json = match position {
        Position::Seq(seq) | Position::Key(seq) => seq.to_string(),
        other => str_json(&other.to_string()),
    };
    let mut line = format!(
        "{{\"schema\":\"{ENVELOPE_SCHEMA}\",\"type\":\"record\",\"source\":{},\"host\":{},\"id\":{},\"position\":{position_json},\"record\":",
        str_json(id),
        str_json(host),
        str_json(&format!("{id}:{position}")),
    )
    .into_bytes();
    line.extend_from_slice(&compact_json_bytes(raw));
    line.push(b'}');
    line
}

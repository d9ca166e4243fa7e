//! The table for people: seq, time, session, type and a one-line summary,
//! fitted to the terminal width, coloured only when colours are on.

use std::io::{self, Write};

use crate::record::Record;
use comfy_table::{Cell, Color, ContentArrangement, Table, TableComponent, presets};
use serde_json::{Map, Value};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::RenderOptions;
use super::escape::escape_text;
use super::style;

/// Session ids are cut to this many columns when the terminal is narrow.
const SHORT_SESSION: usize = 9;
/// The summary keeps at least this many columns, however narrow the terminal.
const MIN_SUMMARY: usize = 16;
/// Below this many columns for the summary, times and session ids are shortened.
const ROOMY_SUMMARY: usize = 48;

struct Row {
    /// The source's label, in a merge of several journals.
    source: String,
    seq: u64,
    time: String,
    /// The time without year and sub-seconds, for narrow terminals.
    short_time: String,
    session: String,
    event_type: String,
    summary: String,
}

pub struct TableBuilder {
    opts: RenderOptions,
    rows: Vec<Row>,
    /// The streaming header has been written.
    header_written: bool,
    /// A SOURCE column first (a merge of several journals).
    pub labelled: bool,
}

/// Column widths of the streaming table: a row is printed before the rows
/// that would size the columns exist, so they are fixed (longer values are
/// cut, except the seq, which only grows the line).
const STREAM_SEQ: usize = 8;
const STREAM_TIME: usize = 23;
const STREAM_SESSION: usize = 12;
const STREAM_TYPE: usize = 20;
const STREAM_SOURCE: usize = 12;

/// Fields that say what an event is about, in the order they are preferred.
const SUMMARY_KEYS: &[&str] = &[
    "title",
    "message",
    "question",
    "reason",
    "status",
    "content_summary",
    "section",
    "tool_name",
    "kind",
    "scope",
    "revision",
];

impl TableBuilder {
    pub fn new(opts: RenderOptions) -> Self {
        TableBuilder {
            opts,
            rows: Vec::new(),
            header_written: false,
            labelled: false,
        }
    }

    pub fn push(&mut self, rec: &Record<'_>, source: Option<&str>) {
        let row = make_row(rec, source);
        self.rows.push(row);
    }

    /// Writes one row at once in the fixed streaming columns (the header
    /// before the first), cut to the terminal width where known.
    pub fn write_row(
        &mut self,
        out: &mut dyn Write,
        rec: &Record<'_>,
        source: Option<&str>,
    ) -> io::Result<()> {
        let bold = |s: &str| style::paint(s, style::BOLD, self.opts.color);
        let source_col = if self.labelled { STREAM_SOURCE + 2 } else { 0 };
        if !self.header_written {
            self.header_written = true;
            let mut header = format!(
                "{:>STREAM_SEQ$}  {:<STREAM_TIME$}  {:<STREAM_SESSION$}  {:<STREAM_TYPE$}  SUMMARY",
                "SEQ", "TIME", "SESSION", "TYPE"
            );
            if self.labelled {
                header = format!("{:<STREAM_SOURCE$}  {header}", "SOURCE");
            }
            let rule = "─".repeat(header.width());
            writeln!(out, "{}\n{rule}", bold(&header))?;
        }
        let row = make_row(rec, source);
        let fixed = source_col + STREAM_SEQ + STREAM_TIME + STREAM_SESSION + STREAM_TYPE + 4 * 2;
        let summary_width = self
            .opts
            .width
            .map(|w| (w as usize).saturating_sub(fixed).max(MIN_SUMMARY));
        let event_type = pad(&truncate(&row.event_type, Some(STREAM_TYPE)), STREAM_TYPE);
        let event_type = match (self.opts.color, type_color(&row.event_type)) {
            (true, Some(color)) => style::paint(&event_type, ansi_style(color), true),
            _ => event_type,
        };
        let label = if self.labelled {
            format!(
                "{}  ",
                pad(&truncate(&row.source, Some(STREAM_SOURCE)), STREAM_SOURCE)
            )
        } else {
            String::new()
        };
        let line = format!(
            "{label}{:>STREAM_SEQ$}  {}  {}  {event_type}  {}",
            row.seq,
            pad(&truncate(&row.time, Some(STREAM_TIME)), STREAM_TIME),
            pad(
                &truncate(&row.session, Some(STREAM_SESSION)),
                STREAM_SESSION
            ),
            truncate(&row.summary, summary_width),
        );
        writeln!(out, "{}", line.trim_end())
    }
}

fn make_row(rec: &Record<'_>, source: Option<&str>) -> Row {
    let value = rec.value();
    // The engine's `event`, or the session store's `kind`.
    let event = value
        .get("event")
        .or_else(|| value.get("kind"))
        .and_then(Value::as_object);
    // An externally tagged enum (the redb journal's `{"RouteStarted":{...}}`):
    // the variant is the type column, its fields are the summary.
    let event = match event {
        Some(map) if map.len() == 1 && !map.contains_key("type") => map
            .iter()
            .next()
            .filter(|(variant, _)| rec.event_type.as_deref() == Some(variant.as_str()))
            .and_then(|(_, body)| body.as_object())
            .or(event),
        other => other,
    };
    let ts = rec.timestamp();
    let as_stored = || {
        rec.ts
            .as_deref()
            .map(|s| escape_text(s).into_owned())
            .unwrap_or_default()
    };
    Row {
        source: source
            .map(|s| escape_text(s).into_owned())
            .unwrap_or_default(),
        seq: rec.seq,
        time: ts.map_or_else(as_stored, |t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()),
        short_time: ts.map_or_else(as_stored, |t| t.format("%m-%d %H:%M:%S").to_string()),
        session: rec
            .session_id
            .as_deref()
            .map(|s| escape_text(s).into_owned())
            .unwrap_or_default(),
        event_type: rec
            .event_type
            .as_deref()
            .map(|s| escape_text(s).into_owned())
            .unwrap_or_default(),
        summary: event.map(summarize).unwrap_or_default(),
    }
}

impl TableBuilder {
    pub fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut table = Table::new();
        // Only a rule under the header: rows stay one line each, easy to scan and to grep.
        table
            .load_preset(presets::NOTHING)
            .set_style(TableComponent::HeaderLines, '─')
            .set_style(TableComponent::MiddleHeaderIntersections, '─')
            .set_content_arrangement(ContentArrangement::Disabled);
        if self.opts.color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        let mut header = vec!["SEQ", "TIME", "SESSION", "TYPE", "SUMMARY"];
        if self.labelled {
            header.insert(0, "SOURCE");
        }
        table.set_header(header.into_iter().map(|h| self.header(h)));
        let narrow = self.is_narrow();
        let summary_width = self.summary_width(narrow);
        for mut row in self.rows.drain(..) {
            if narrow {
                row.session = truncate(&row.session, Some(SHORT_SESSION));
                row.time = std::mem::take(&mut row.short_time);
            }
            let summary = truncate(&row.summary, summary_width);
            let type_cell = match (self.opts.color, type_color(&row.event_type)) {
                (true, Some(color)) => Cell::new(&row.event_type).fg(color),
                _ => Cell::new(&row.event_type),
            };
            let mut cells = vec![
                Cell::new(row.seq),
                Cell::new(row.time),
                Cell::new(row.session),
                type_cell,
                Cell::new(summary),
            ];
            if self.labelled {
                cells.insert(0, Cell::new(row.source));
            }
            table.add_row(cells);
        }
        writeln!(out, "{table}")
    }

    fn header(&self, text: &str) -> Cell {
        let cell = Cell::new(text);
        if self.opts.color {
            cell.add_attribute(comfy_table::Attribute::Bold)
        } else {
            cell
        }
    }

    fn widest(&self, f: impl Fn(&Row) -> usize) -> usize {
        self.rows.iter().map(f).max().unwrap_or(0)
    }

    /// Columns used by everything but the summary: one space of padding each
    /// side of each of the 5 columns, the 4 separators, and the terminal's last
    /// column left free (writing there makes some terminals wrap).
    fn fixed_width(&self, narrow: bool) -> usize {
        let (time, session) = if narrow {
            (
                self.widest(|r| r.short_time.width()),
                self.widest(|r| r.session.width()).min(SHORT_SESSION),
            )
        } else {
            (
                self.widest(|r| r.time.width()),
                self.widest(|r| r.session.width()),
            )
        };
        let source = if self.labelled {
            self.widest(|r| r.source.width()) + 3
        } else {
            0
        };
        source
            + self.widest(|r| r.seq.to_string().len())
            + time
            + session
            + self.widest(|r| r.event_type.width())
            + 5 * 2
            + 4
            + 1
    }

    /// Whether times and session ids must be shortened to leave the summary room.
    fn is_narrow(&self) -> bool {
        let Some(width) = self.opts.width else {
            return false;
        };
        (width as usize).saturating_sub(self.fixed_width(false)) < ROOMY_SUMMARY
    }

    /// What is left of the terminal for the summary after the other columns.
    fn summary_width(&self, narrow: bool) -> Option<usize> {
        let width = self.opts.width? as usize;
        Some(
            width
                .saturating_sub(self.fixed_width(narrow))
                .max(MIN_SUMMARY),
        )
    }
}

/// Pads `s` with spaces to `width` terminal columns.
fn pad(s: &str, width: usize) -> String {
    let w = s.width();
    if w >= width {
        s.to_owned()
    } else {
        format!("{s}{}", " ".repeat(width - w))
    }
}

fn ansi_style(color: Color) -> anstyle::Style {
    match color {
        Color::Red => style::RED,
        Color::Green => style::GREEN,
        Color::Yellow => style::YELLOW,
        _ => anstyle::Style::new(),
    }
}

fn type_color(event_type: &str) -> Option<Color> {
    if event_type == "error" || event_type.ends_with("invalid") || event_type == "budget_exceeded" {
        Some(Color::Red)
    } else if event_type.ends_with("cancelled") || event_type == "need_clarification" {
        Some(Color::Yellow)
    } else if event_type == "complete" || event_type.ends_with("completed") {
        Some(Color::Green)
    } else {
        None
    }
}

/// One line that says what the event is about, escaped for a terminal.
fn summarize(event: &Map<String, Value>) -> String {
    if let (Some(role), Some(content)) = (event.get("role"), event.get("content")) {
        return escape_text(&format!("{}: {}", scalar(role), scalar(content))).into_owned();
    }
    let mut parts: Vec<String> = SUMMARY_KEYS
        .iter()
        .filter_map(|k| {
            event
                .get(*k)
                .filter(|v| !v.is_null())
                .map(|v| format!("{k}={}", scalar(v)))
        })
        .collect();
    if parts.is_empty() {
        // Nothing known: the event's other fields, compactly.
        let mut rest = event.clone();
        rest.remove("type");
        rest.remove("session_id");
        if !rest.is_empty() {
            parts.push(Value::Object(rest).to_string());
        }
    }
    escape_text(&parts.join(" ")).into_owned()
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Cuts `s` to `width` terminal columns (wide characters count twice), marking the cut.
fn truncate(s: &str, width: Option<usize>) -> String {
    let Some(width) = width.filter(|&w| s.width() > w) else {
        return s.to_owned();
    };
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

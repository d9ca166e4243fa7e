//! The table for people: seq, time, session, type and a one-line summary,
//! fitted to the terminal width, coloured only when colours are on.

use std::io::{self, Write};

use comfy_table::{Cell, Color, ContentArrangement, Table, TableComponent, presets};
use journal::journal::record::Record;
use serde_json::{Map, Value};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::RenderOptions;
use super::escape::escape_text;

/// Session ids are cut to this many columns when the terminal is narrow.
const SHORT_SESSION: usize = 9;
/// The summary keeps at least this many columns, however narrow the terminal.
const MIN_SUMMARY: usize = 24;

struct Row {
    seq: u64,
    time: String,
    session: String,
    event_type: String,
    summary: String,
}

pub struct TableBuilder {
    opts: RenderOptions,
    rows: Vec<Row>,
}

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
        }
    }

    pub fn push(&mut self, rec: &Record<'_>) {
        let value = rec.value();
        let event = value.get("event").and_then(Value::as_object);
        self.rows.push(Row {
            seq: rec.seq,
            time: rec
                .timestamp()
                .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
                .or_else(|| rec.ts.as_deref().map(|s| escape_text(s).into_owned()))
                .unwrap_or_default(),
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
        });
    }

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
        table.set_header(["SEQ", "TIME", "SESSION", "TYPE", "SUMMARY"].map(|h| self.header(h)));
        let shorten_sessions = self.session_width_needed();
        let summary_width = self.summary_width(shorten_sessions);
        for mut row in self.rows.drain(..) {
            if shorten_sessions {
                row.session = truncate(&row.session, Some(SHORT_SESSION));
            }
            let summary = truncate(&row.summary, summary_width);
            let type_cell = match (self.opts.color, type_color(&row.event_type)) {
                (true, Some(color)) => Cell::new(&row.event_type).fg(color),
                _ => Cell::new(&row.event_type),
            };
            table.add_row(vec![
                Cell::new(row.seq),
                Cell::new(row.time),
                Cell::new(row.session),
                type_cell,
                Cell::new(summary),
            ]);
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

    /// Columns used by everything but the summary (with one space of padding
    /// each side of each of the 5 columns).
    fn fixed_width(&self, session_width: usize) -> usize {
        self.widest(|r| r.seq.to_string().len())
            + self.widest(|r| r.time.width())
            + session_width
            + self.widest(|r| r.event_type.width())
            + 5 * 2
    }

    /// Whether long session ids must be shortened to leave the summary room.
    fn session_width_needed(&self) -> bool {
        let Some(width) = self.opts.width else {
            return false;
        };
        let session = self.widest(|r| r.session.width());
        session > SHORT_SESSION
            && width as usize - self.fixed_width(session).min(width as usize) < MIN_SUMMARY * 2
    }

    /// What is left of the terminal for the summary after the other columns.
    fn summary_width(&self, shorten_sessions: bool) -> Option<usize> {
        let width = self.opts.width? as usize;
        let session = self.widest(|r| r.session.width());
        let session = if shorten_sessions {
            session.min(SHORT_SESSION)
        } else {
            session
        };
        Some(
            width
                .saturating_sub(self.fixed_width(session))
                .max(MIN_SUMMARY),
        )
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

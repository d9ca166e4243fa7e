//! What the family formats (every format but the engine's segment chain)
//! answer through [`Source`](super::reader::Source): the values behind
//! `recover`, `stats`, `verify`, `repair` and `tail -f`, in one shape for
//! every format, so one command path and one set of reports serve them all.
//!
//! The engine's segment chain keeps its own recover/verify/stats/follow (and
//! their `journal-*/1` schemas); these types are what the other formats
//! return. A format adds what only it has through the `extra` maps (JSON
//! values keyed by field name) and, for the per-topic log, [`ConsumerLag`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{Format, Position};
use crate::journal::defect::Defect;

/// One position per cursor stream: the last record processed in it.
/// The keys are [`Position::cursor_stream`], the values [`Position::number`].
pub type Positions = BTreeMap<String, u64>;

/// `recover`: the head of every stream.
#[derive(Debug, Clone, Serialize)]
pub struct Heads {
    pub format: Format,
    /// The path the format was read from (directory or database file).
    pub path: PathBuf,
    pub streams: Vec<StreamHead>,
    /// What could not be read or does not agree (an unreadable file, a
    /// bookkeeping table that disagrees with the records): the rest is still
    /// answered.
    pub problems: Vec<Defect>,
}

/// The newest record of one stream: where its writer continues from.
#[derive(Debug, Clone, Serialize)]
pub struct StreamHead {
    /// The stream's name as the filters and the cursor use it.
    pub stream: String,
    /// The newest record's position; `None` for a stream with no record.
    pub position: Option<Position>,
    /// The newest record's time as written.
    pub ts: Option<String>,
    /// The file the stream lives in, when it has its own.
    pub file: Option<PathBuf>,
    /// Format-specific values (`topic_heads.last_id`, ...).
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// `stats`: counts per stream and for the whole journal.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FamilyStats {
    pub format: Option<Format>,
    pub path: PathBuf,
    /// Files read and their total size.
    pub files: u64,
    pub bytes: u64,
    pub events: u64,
    /// Events per type (the format's kind / variant).
    pub kinds: BTreeMap<String, u64>,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub streams: Vec<StreamStats>,
    /// The per-topic log's consumers; empty for the other formats.
    pub consumers: Vec<ConsumerLag>,
    /// Damage met while counting (the records around it are counted).
    pub errors: u64,
    pub warnings: u64,
    /// Format-specific values (redb's free pages, ...).
    pub extra: BTreeMap<String, serde_json::Value>,
    /// What could not be read (a file named as unreadable damage): its
    /// records are not counted, the rest is.
    pub problems: Vec<Defect>,
}

/// One stream's counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamStats {
    pub stream: String,
    pub events: u64,
    pub kinds: BTreeMap<String, u64>,
    /// The first and last record's [`Position::number`].
    pub first: Option<u64>,
    pub last: Option<u64>,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
}

/// How far one consumer of the per-topic log is behind its topic's head.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerLag {
    pub topic: String,
    pub consumer: String,
    /// The last id the consumer processed.
    pub cursor: u64,
    /// The topic's head id.
    pub head: u64,
    /// Events after the cursor (0 when caught up; a cursor beyond the head is
    /// a verify error and counts 0 here).
    pub lag_events: u64,
    /// Milliseconds from the cursor's event to the head's event, when both
    /// are known.
    pub lag_ms: Option<i64>,
    /// When the cursor last moved (`updated_at_ms`).
    pub updated_at_ms: Option<i64>,
}

/// Options every format's verify takes.
#[derive(Debug, Clone, Default)]
pub struct FamilyVerifyOptions {
    /// Warnings count as errors.
    pub strict: bool,
    /// The format's expensive checks too (redb's integrity check on a
    /// snapshot, ...).
    pub deep: bool,
}

/// `verify`: every defect, exactly located, and what is information only.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyVerify {
    pub format: Format,
    pub path: PathBuf,
    /// What was checked, one entry per file or stream.
    pub checked: Vec<Checked>,
    pub records: u64,
    /// Errors and warnings, in journal order.
    pub defects: Vec<Defect>,
    /// Facts that are not damage (gaps the runtime's own compaction leaves).
    pub notes: Vec<Note>,
}

/// One file or stream verify read.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub name: String,
    pub file: Option<PathBuf>,
    pub bytes: u64,
    pub records: u64,
    /// Format-specific values (the last hash of a topic's chain, ...).
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Information verify reports that is not a defect.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    /// A stable kebab-case name (`compaction-gap`, ...).
    pub kind: &'static str,
    pub stream: String,
    pub detail: String,
}

/// Options every format's repair takes.
#[derive(Debug, Clone, Default)]
pub struct FamilyRepairOptions {
    pub dry_run: bool,
    /// Also drop (to quarantine) lines that cannot be parsed.
    pub drop_corrupt_lines: bool,
    /// Touch files another process holds open.
    pub force: bool,
    /// How long to wait for the runtime's lock (the per-topic log's
    /// `locks/<topic>.lock`); `None` for the format's default.
    pub wait: Option<std::time::Duration>,
}

/// `repair`: what was (or, dry run, would be) done, what was refused, and the
/// defects left afterwards.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyRepair {
    pub format: Format,
    pub path: PathBuf,
    pub dry_run: bool,
    pub steps: Vec<RepairStep>,
    pub refused: Vec<RepairRefusal>,
    pub left: Vec<Defect>,
}

/// One change repair makes to one file.
#[derive(Debug, Clone, Serialize)]
pub struct RepairStep {
    /// `cut-torn-tail`, `unglue`, `drop-line`.
    pub action: &'static str,
    pub file: PathBuf,
    pub line: u64,
    pub offset: u64,
    pub len: u64,
    /// The position of the complete record kept (un-glue).
    pub kept: Option<Position>,
    /// Where the removed bytes went.
    pub quarantine: Option<PathBuf>,
}

/// A file repair did not touch, and why.
#[derive(Debug, Clone, Serialize)]
pub struct RepairRefusal {
    pub file: PathBuf,
    pub reason: String,
    /// Format-specific values (the processes holding the file, ...).
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Position {
    /// The stream a cursor keeps one position for: `session/branch`, the
    /// topic, the table (`events`); the engine's chain is one stream, `""`.
    pub fn cursor_stream(&self) -> String {
        match self {
            Position::Seq(_) => String::new(),
            Position::Session {
                session, branch, ..
            } => format!("{session}/{branch}"),
            Position::Topic { topic, .. } => topic.clone(),
            Position::Key(_) => "events".to_owned(),
        }
    }

    /// The number within the cursor stream (seq, sequence, id, key).
    pub fn number(&self) -> u64 {
        match self {
            Position::Seq(n) | Position::Key(n) => *n,
            Position::Session { sequence, .. } => *sequence,
            Position::Topic { id, .. } => *id,
        }
    }
}

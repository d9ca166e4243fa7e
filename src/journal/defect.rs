//! Every kind of damage a journal can hold, as a value with an exact place.
//!
//! Commands never print damage themselves from the core: they receive
//! [`Defect`]s and the renderer decides how to show them. The kind names
//! (`kebab-case`) are part of the JSON output and stable.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::journal::lines::Line;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefectKind {
    /// The newest segment ends in a partial line with no `\n`.
    TornTail,
    /// A closed (not newest) segment ends in a partial line with no `\n`.
    TornLine,
    /// The newest segment holds no complete valid line.
    NoCompleteLine,
    /// A run of NUL bytes.
    NulBytes,
    InvalidUtf8,
    NotJson,
    /// JSON, but not an object with an unsigned integer `seq`.
    NoSeq,
    /// A line longer than the reader's line cap.
    LineTooLong,
    SeqRepeated,
    SeqBackwards,
    SeqGap,
    /// A record's `ts` is in an earlier second than the previous record's (a
    /// clock that stepped back): `--since`/`--until` assume `ts` in seq order
    /// to the second.
    TsBackwards,
    /// A segment's first seq differs from the number in its name.
    NameMismatch,
    EmptySegment,
    /// An entry named like a segment that is not a regular file.
    NotRegularFile,
    /// A valid record whose event type the engine does not know: it skips it.
    EngineUnknownType,
    /// A valid record missing a field the engine requires: it skips it.
    EngineMissingField,
    /// A segment that could not be opened or read (permission denied, an
    /// I/O error): reported, and the rest of the journal still checked.
    Unreadable,
    /// Per-session store: a torn fragment and a complete record on one line.
    GluedLine,
    /// Per-session store: JSON, but not the store's `EventRecord`.
    NotEventRecord,
    /// Per-session store: a record whose `session_id` differs from its file name.
    SessionMismatch,
    /// Per-topic log: an event's `record_hash` differs from the hash
    /// recomputed from the event (it was changed after it was written).
    ChainHash,
    /// Per-topic log: an event's `prev_hash` is not the previous event's
    /// `record_hash` (an event was removed or reordered before it).
    ChainLink,
    /// Per-topic log: a consumer's cursor is beyond its topic's head (it will
    /// skip events).
    CursorBeyondHead,
    /// Per-topic log, SQLite: `topic_heads.last_id` disagrees with the events.
    HeadMismatch,
    /// A database's own integrity check (SQLite `PRAGMA quick_check`) failed.
    DatabaseCheck,
    /// redb journal: JSON, but not the runtime's `{seq, timestamp_ms, event}`.
    NotRuntimeEvent,
    /// redb journal: a value whose `seq` differs from its key.
    SeqKeyMismatch,
    /// redb journal: the file was not closed cleanly; redb's repair pass ran
    /// on the snapshot (never on the original).
    NotClosedCleanly,
    /// redb journal: redb's own integrity check failed (`verify --deep`).
    IntegrityFailed,
    /// Per-session store: the last line is a complete record with no `\n`:
    /// it reads, but the runtime's next append would glue onto it.
    MissingNewline,
}

impl DefectKind {
    pub fn name(self) -> &'static str {
        match self {
            DefectKind::TornTail => "torn-tail",
            DefectKind::TornLine => "torn-line",
            DefectKind::NoCompleteLine => "no-complete-line",
            DefectKind::NulBytes => "nul-bytes",
            DefectKind::InvalidUtf8 => "invalid-utf8",
            DefectKind::NotJson => "not-json",
            DefectKind::NoSeq => "no-seq",
            DefectKind::LineTooLong => "line-too-long",
            DefectKind::SeqRepeated => "seq-repeated",
            DefectKind::SeqBackwards => "seq-backwards",
            DefectKind::SeqGap => "seq-gap",
            DefectKind::TsBackwards => "ts-backwards",
            DefectKind::NameMismatch => "name-mismatch",
            DefectKind::EmptySegment => "empty-segment",
            DefectKind::NotRegularFile => "not-regular-file",
            DefectKind::EngineUnknownType => "engine-unknown-type",
            DefectKind::EngineMissingField => "engine-missing-field",
            DefectKind::Unreadable => "unreadable",
            DefectKind::GluedLine => "glued-line",
            DefectKind::NotEventRecord => "not-event-record",
            DefectKind::SessionMismatch => "session-mismatch",
            DefectKind::ChainHash => "chain-hash",
            DefectKind::ChainLink => "chain-link",
            DefectKind::CursorBeyondHead => "cursor-beyond-head",
            DefectKind::HeadMismatch => "head-mismatch",
            DefectKind::DatabaseCheck => "database-check",
            DefectKind::NotRuntimeEvent => "not-runtime-event",
            DefectKind::SeqKeyMismatch => "seq-key-mismatch",
            DefectKind::NotClosedCleanly => "not-closed-cleanly",
            DefectKind::IntegrityFailed => "integrity-failed",
            DefectKind::MissingNewline => "missing-newline",
        }
    }

    /// How bad the kind is by default; `verify --strict` raises warnings.
    /// (`no-complete-line` is lowered to a warning by verify when the segment
    /// holds nothing but one partial line.)
    pub(crate) fn default_severity(self) -> Severity {
        match self {
            DefectKind::TornTail
            | DefectKind::MissingNewline
            | DefectKind::TsBackwards
            | DefectKind::EngineUnknownType
            | DefectKind::EngineMissingField
            | DefectKind::NotClosedCleanly => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One defect, located exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Defect {
    pub kind: DefectKind,
    pub severity: Severity,
    /// The segment's path.
    #[serde(serialize_with = "crate::journal::segment::ser::file_name")]
    pub segment: PathBuf,
    /// 1-based line number, where known.
    pub line: Option<u64>,
    /// Byte offset of the damage in the segment.
    pub offset: u64,
    /// Length in bytes of the damaged region.
    pub len: u64,
    /// The key of the damaged value, for a journal kept in a table (redb).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<u64>,
    /// The last good seq before the damage, and the first after, where known.
    pub seq_before: Option<u64>,
    pub seq_after: Option<u64>,
    /// What exactly is wrong, for a person.
    pub detail: String,
}

impl Defect {
    pub fn new(kind: DefectKind, segment: &Path, offset: u64, len: u64, detail: String) -> Self {
        Defect {
            kind,
            severity: kind.default_severity(),
            segment: segment.to_owned(),
            line: None,
            key: None,
            offset,
            len,
            seq_before: None,
            seq_after: None,
            detail,
        }
    }

    /// The defect for a complete line that failed to parse.
    pub fn from_fault(segment: &Path, line: &Line<'_>, fault: &LineFault) -> Self {
        let (kind, offset, len) = match fault {
            LineFault::Nul { at, run } => {
                (DefectKind::NulBytes, line.offset + *at as u64, *run as u64)
            }
            // The line's own place, like every other line defect (and the
            // range repair removes); the detail names the bad byte.
            LineFault::InvalidUtf8 { .. } => (DefectKind::InvalidUtf8, line.offset, line.len),
            LineFault::NotJson { .. } => (DefectKind::NotJson, line.offset, line.len),
            LineFault::NoSeq { .. } | LineFault::DuplicateKey { .. } => {
                (DefectKind::NoSeq, line.offset, line.len)
            }
        };
        Defect {
            line: line.number,
            ..Defect::new(kind, segment, offset, len, fault.describe())
        }
    }

    /// `file:line:offset` (line omitted where unknown), as compilers print places.
    pub fn place(&self) -> String {
        let name = file_name_lossy(&self.segment);
        if let Some(key) = self.key {
            return format!("{name}: value at key {key}");
        }
        match self.line {
            Some(line) => format!("{name}:{line}: byte {}", self.offset),
            None => format!("{name}: byte {}", self.offset),
        }
    }
}

/// Why a line is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineFault {
    /// The line holds NUL bytes (a filesystem that extended the file but lost
    /// the data): `at` is the offset of the first NUL within the line, `run` the
    /// length of that run.
    Nul { at: usize, run: usize },
    /// Not UTF-8: `at` is the offset of the first bad byte within the line.
    InvalidUtf8 { at: usize },
    /// UTF-8 but not JSON (or trailing garbage after the value).
    NotJson { message: String },
    /// JSON, but not an object with an unsigned integer `seq`.
    NoSeq { message: String },
    /// A key of the record head written twice (`seq`, `ts`, `session_id`,
    /// `event`, or `event.type`).
    DuplicateKey { key: &'static str },
}

impl LineFault {
    pub fn describe(&self) -> String {
        match self {
            LineFault::Nul { at, run } => format!("{run} NUL byte(s) at byte {at} of the line"),
            LineFault::InvalidUtf8 { at } => format!("invalid UTF-8 at byte {at} of the line"),
            LineFault::NotJson { message } => format!("not JSON: {message}"),
            LineFault::NoSeq { message } => format!("no numeric seq: {message}"),
            LineFault::DuplicateKey { key } => format!(
                "key \"{key}\" appears twice: readers disagree on which counts, so the line \
                 is not a record"
            ),
        }
    }
}

/// The last component of a path, for messages.
pub fn file_name_lossy(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

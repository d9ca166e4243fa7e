//! The per-session store (aios-events `FileEventStore`):
//! `<root>/events/<session-id>.jsonl`, one `EventRecord` per line, `sequence`
//! counted per session and branch from 1.
//!
//! The store's own reader parses every line of a session file and fails on
//! the first that does not parse, so any such line makes the whole session
//! unreadable to the runtime. This reader reads past it and says where it is.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Position, SourceRecord};
use crate::journal::defect::{Defect, DefectKind, Severity};
use crate::journal::dirread::DirRead;
use crate::journal::error::JournalError;
use crate::journal::segment::{has_jsonl_extension, parse_segment_name};

/// Where the session files are: `path/events/`, or `path` itself when it
/// holds them directly. `None` when neither holds a session file.
pub fn events_dir(path: &Path) -> Option<PathBuf> {
    [path.join("events"), path.to_owned()]
        .into_iter()
        .find(|dir| session_files(dir).iter().any(|f| first_line_is_record(f)))
}

/// [`events_dir`], with `path`'s own entries from one read of it (`read`).
pub(crate) fn events_dir_in(path: &Path, read: &DirRead) -> Option<PathBuf> {
    let events = path.join("events");
    if session_files(&events)
        .iter()
        .any(|f| first_line_is_record(f))
    {
        return Some(events);
    }
    read.others()
        .filter(|e| is_session_file_name(e.file_name()) && e.is_file() == Some(true))
        .any(|e| first_line_is_record(&e.path()))
        .then(|| path.to_owned())
}

fn is_session_file_name(name: &std::ffi::OsStr) -> bool {
    has_jsonl_extension(name) && parse_segment_name(name).is_none()
}

/// The `*.jsonl` regular files in `dir` that are not engine segments, by name.
fn session_files(dir: &Path) -> Vec<PathBuf> {
    named_like_sessions(dir, true)
}

/// The entries of `dir` named like session files (`*.jsonl`, not an engine
/// segment's name) that are regular files (`regular`), or that are not.
fn named_like_sessions(dir: &Path, regular: bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() == regular))
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "jsonl")
                && p.file_name()
                    .is_some_and(|n| parse_segment_name(n).is_none())
        })
        .collect();
    files.sort();
    files
}

/// Entries named like session files that are not regular files (a
/// directory, a FIFO, any symlink): never opened, never followed, so nothing
/// outside the directory is read, and never silently left out either: each
/// is a `not-regular-file` error.
pub fn irregular_files(dir: &Path) -> Vec<Defect> {
    named_like_sessions(dir, false)
        .into_iter()
        .map(|path| {
            let kind = fs::symlink_metadata(&path)
                .map_or(crate::journal::segment::IrregularKind::Other, |m| {
                    crate::journal::segment::irregular_kind(&path, m.file_type())
                });
            Defect::new(
                DefectKind::NotRegularFile,
                &path,
                0,
                0,
                format!(
                    "named like a session file but is {}: not read",
                    kind.describe()
                ),
            )
        })
        .collect()
}

fn first_line_is_record(path: &Path) -> bool {
    let head = super::read_head(path, 64 * 1024);
    let line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    memchr::memmem::find(line, b"\"sequence\":").is_some()
        && memchr::memmem::find(line, b"\"branch_id\":").is_some()
}

/// A per-session store: its root and its session files.
#[derive(Debug, Clone)]
pub struct SessionStore {
    pub root: PathBuf,
    pub events_dir: PathBuf,
    /// Every `<session-id>.jsonl`, sorted by name.
    pub files: Vec<PathBuf>,
    /// Entries named like session files that are not regular files, as
    /// `not-regular-file` defects.
    pub irregular: Vec<Defect>,
}

impl SessionStore {
    pub fn open(root: &Path) -> Result<SessionStore, JournalError> {
        let events_dir = events_dir(root).unwrap_or_else(|| root.join("events"));
        if !events_dir.is_dir() {
            return Err(JournalError::io(
                &events_dir,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no events/ directory of session files",
                ),
            ));
        }
        Ok(SessionStore {
            root: root.to_owned(),
            files: session_files(&events_dir),
            irregular: irregular_files(&events_dir),
            events_dir,
        })
    }

    /// Reads every session file, in name order.
    pub fn read_all(&self) -> Result<Vec<SessionFile>, JournalError> {
        self.files.iter().map(|p| SessionFile::read(p)).collect()
    }
}

/// The fields of a record the reader needs; the store's `EventRecord` also
/// requires the others, so their absence makes a line one the runtime cannot
/// parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub session: String,
    pub branch: String,
    pub sequence: u64,
    pub timestamp: String,
    /// `kind.type`.
    pub kind: Option<String>,
}

#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    session_id: Cow<'a, str>,
    #[allow(dead_code)]
    agent_id: serde::de::IgnoredAny,
    #[serde(borrow)]
    branch_id: Cow<'a, str>,
    sequence: u64,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[allow(dead_code)]
    actor: serde::de::IgnoredAny,
    #[allow(dead_code)]
    schema: serde::de::IgnoredAny,
    #[serde(borrow)]
    kind: Kind<'a>,
}

/// Parses one line as the store's `EventRecord` (the fields it requires).
pub fn parse_record(line: &[u8]) -> Result<Head, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let wire: Wire = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    // What the fields above ignore is skipped unchecked; the store reads
    // every byte of the line as UTF-8 text.
    if let Err(e) = std::str::from_utf8(line) {
        return Err(format!(
            "invalid UTF-8 at byte {} of the line",
            e.valid_up_to()
        ));
    }
    if wire.event_id.is_empty() {
        return Err("empty event_id".to_owned());
    }
    // The fields read here skip what they ignore without a depth limit; the
    // store's own `EventKind` (an internally tagged enum, buffered whole)
    // does not: serde_json refuses a value nested 128 levels deep.
    if let Some(depth) = too_deep(line) {
        return Err(format!(
            "nested {depth} levels deep; the runtime's JSON parser stops at {} levels \
             (its recursion limit)",
            RUNTIME_MAX_DEPTH
        ));
    }
    Ok(Head {
        session: wire.session_id.into_owned(),
        branch: wire.branch_id.into_owned(),
        sequence: wire.sequence,
        timestamp: wire.timestamp.into_owned(),
        kind: Some(wire.kind.kind.into_owned()),
    })
}

/// The deepest nesting of arrays and objects (the record itself counted)
/// serde_json parses: one more is "recursion limit exceeded".
pub const RUNTIME_MAX_DEPTH: usize = 127;

/// The line's nesting depth when it is deeper than [`RUNTIME_MAX_DEPTH`]
/// (strings skipped). A line with fewer brackets than that is not scanned.
fn too_deep(line: &[u8]) -> Option<usize> {
    let opens = line.iter().filter(|&&b| b == b'[' || b == b'{').count();
    if opens <= RUNTIME_MAX_DEPTH {
        return None;
    }
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in line {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    (max > RUNTIME_MAX_DEPTH).then_some(max)
}

/// What one line of a session file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Record(Head),
    /// A fragment of a torn record, then a complete record, on one line.
    Glued {
        fragment: u64,
        head: Head,
    },
    /// A complete line (ending in `\n`) the runtime cannot parse.
    Unreadable {
        json: bool,
        message: String,
    },
    /// The file's last bytes, with no `\n`, that do not parse.
    Torn,
    /// The file's last bytes, with no `\n`: a complete record.
    Unterminated(Head),
    Blank,
}

/// One line, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLine {
    /// 1-based.
    pub number: u64,
    pub offset: u64,
    /// Bytes, without the `\n`.
    pub len: u64,
    pub body: Body,
}

impl FileLine {
    /// The complete record this line holds, if any (inside a glued line too).
    pub fn head(&self) -> Option<&Head> {
        match &self.body {
            Body::Record(h) | Body::Unterminated(h) | Body::Glued { head: h, .. } => Some(h),
            _ => None,
        }
    }

    /// Where the complete record starts in the file.
    pub fn record_offset(&self) -> u64 {
        match &self.body {
            Body::Glued { fragment, .. } => self.offset + fragment,
            _ => self.offset,
        }
    }
}

/// A session file, read and split into lines.
#[derive(Debug, Clone)]
pub struct SessionFile {
    pub path: PathBuf,
    /// The session id its name says (the file stem).
    pub name: String,
    /// The file's bytes from `base` on (all of it when `base` is 0).
    pub bytes: Vec<u8>,
    /// Where `bytes` start in the file; line offsets are the file's.
    pub base: u64,
    pub lines: Vec<FileLine>,
}

/// Debug builds only (the tests' binary; tests run as root, where chmod
/// cannot make a file unreadable): a session file of this name opens as
/// permission denied.
pub const UNREADABLE_ENV: &str = "JOURNAL_TEST_UNREADABLE_SESSION";

/// Opens a session file for reading: every reader of the store opens
/// through here.
pub fn open_file(path: &Path) -> std::io::Result<fs::File> {
    if cfg!(debug_assertions)
        && let Some(name) = std::env::var_os(UNREADABLE_ENV)
        && path.file_name() == Some(name.as_os_str())
    {
        return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
    }
    fs::File::open(path)
}

/// A session file that could not be read: damage, named, and the other
/// sessions still read.
pub fn unreadable(path: &Path, error: &dyn std::fmt::Display) -> Defect {
    Defect::new(
        DefectKind::Unreadable,
        path,
        0,
        0,
        format!("cannot be read: {error}; its events are left out"),
    )
}

/// Where the complete record inside a glued line starts: the last
/// `{"event_id":` after the line's start from which the rest parses.
fn unglue(line: &[u8]) -> Option<(u64, Head)> {
    memchr::memmem::find_iter(line, b"{\"event_id\":")
        .filter(|&at| at > 0)
        .find_map(|at| parse_record(&line[at..]).ok().map(|h| (at as u64, h)))
}

/// What one line holds; `terminated` says whether a `\n` ends it.
pub fn classify(line: &[u8], terminated: bool) -> Body {
    if line.trim_ascii().is_empty() {
        return Body::Blank;
    }
    match parse_record(line) {
        Ok(head) if !terminated => Body::Unterminated(head),
        Ok(head) => Body::Record(head),
        Err(message) => match unglue(line) {
            Some((fragment, head)) => Body::Glued { fragment, head },
            None if !terminated => Body::Torn,
            None => Body::Unreadable {
                json: serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok(),
                message,
            },
        },
    }
}

/// The shared model's record for the complete record `head` whose bytes, as
/// stored, are `raw`.
pub fn source_record(head: &Head, raw: &[u8]) -> SourceRecord {
    SourceRecord {
        position: Position::Session {
            session: head.session.clone(),
            branch: head.branch.clone(),
            sequence: head.sequence,
        },
        ts: Some(head.timestamp.clone()),
        stream: format!("{}/{}", head.session, head.branch),
        event_type: head.kind.clone(),
        session: Some(head.session.clone()),
        raw: raw.strip_suffix(b"\r").unwrap_or(raw).to_vec(),
    }
}

impl FileLine {
    /// The damage of this one line (its body, a foreign `session_id`), in
    /// the file `path` of session `name`; `numbered` when `number` is the
    /// file's line number.
    pub fn defects(&self, path: &Path, name: &str, numbered: bool) -> Vec<Defect> {
        let mut out = Vec::new();
        let line = self;
        let at = |kind: DefectKind, offset: u64, len: u64, detail: String| Defect {
            line: numbered.then_some(line.number),
            ..Defect::new(kind, path, offset, len, detail)
        };
        match &line.body {
            Body::Blank | Body::Record(_) => {}
            Body::Unterminated(head) => out.push(Defect {
                seq_after: Some(head.sequence),
                ..at(
                    DefectKind::MissingNewline,
                    line.offset,
                    line.len,
                    format!(
                        "the last line is the complete record {}/{} sequence {} with no newline: \
                         the runtime reads it, but its next append would glue onto it \
                         (journal repair adds the newline)",
                        head.session, head.branch, head.sequence
                    ),
                )
            }),
            Body::Torn => out.push(at(
                DefectKind::TornTail,
                line.offset,
                line.len,
                format!(
                    "torn last line: {} bytes with no newline (a crash mid-append); \
                     the runtime cannot open this session until it is cut (journal repair)",
                    line.len
                ),
            )),
            Body::Unreadable { json, message } => out.push(at(
                if *json {
                    DefectKind::NotEventRecord
                } else {
                    DefectKind::NotJson
                },
                line.offset,
                line.len,
                format!(
                    "the runtime cannot open this session at all: every read of {name} fails at this line ({message})"
                ),
            )),
            Body::Glued { fragment, head } => out.push(at(
                DefectKind::GluedLine,
                line.offset,
                line.len,
                format!(
                    "glued line: a {fragment}-byte torn fragment, then the complete record \
                     {}/{} sequence {} at byte {}; the runtime cannot open this session until \
                     it is un-glued (journal repair)",
                    head.session,
                    head.branch,
                    head.sequence,
                    line.offset + fragment
                ),
            )),
        }
        if let Some(head) = line.head()
            && head.session != name
        {
            out.push(at(
                DefectKind::SessionMismatch,
                line.record_offset(),
                line.len - (line.record_offset() - line.offset),
                format!(
                    "session_id {:?} differs from the file's name {:?}",
                    head.session, name
                ),
            ));
        }
        out
    }
}

impl SessionFile {
    pub fn read(path: &Path) -> Result<SessionFile, JournalError> {
        use std::io::Read;
        let mut bytes = Vec::new();
        open_file(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| JournalError::io(path, e))?;
        Ok(SessionFile::parse(path, bytes))
    }

    pub fn parse(path: &Path, bytes: Vec<u8>) -> SessionFile {
        SessionFile::parse_at(path, bytes, 0)
    }

    /// `bytes` read from offset `base` of the file (a line start). Line
    /// numbers count from there: they are the file's only when `base` is 0.
    pub fn parse_at(path: &Path, bytes: Vec<u8>, base: u64) -> SessionFile {
        let mut lines = Vec::new();
        let mut offset = 0usize;
        let mut number = 0u64;
        while offset < bytes.len() {
            number += 1;
            let (end, terminated) = match memchr::memchr(b'\n', &bytes[offset..]) {
                Some(i) => (offset + i, true),
                None => (bytes.len(), false),
            };
            let line = &bytes[offset..end];
            let body = classify(line, terminated);
            lines.push(FileLine {
                number,
                offset: base + offset as u64,
                len: line.len() as u64,
                body,
            });
            offset = end + 1;
        }
        SessionFile {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: path.to_owned(),
            bytes,
            base,
            lines,
        }
    }

    /// The bytes of the complete record a line holds.
    pub fn record_bytes(&self, line: &FileLine) -> &[u8] {
        let start = (line.record_offset() - self.base) as usize;
        let end = (line.offset + line.len - self.base) as usize;
        let raw = &self.bytes[start..end];
        raw.strip_suffix(b"\r").unwrap_or(raw)
    }

    /// Every complete record, in file order, in the shared model.
    pub fn records(&self) -> impl Iterator<Item = SourceRecord> + '_ {
        self.lines.iter().filter_map(|line| {
            let head = line.head()?;
            Some(source_record(head, self.record_bytes(line)))
        })
    }

    /// The latest sequence per branch, from the complete records.
    pub fn latest(&self) -> BTreeMap<String, u64> {
        let mut latest = BTreeMap::new();
        for head in self.lines.iter().filter_map(FileLine::head) {
            let e = latest.entry(head.branch.clone()).or_insert(0);
            *e = (*e).max(head.sequence);
        }
        latest
    }

    /// Every defect, in file order.
    pub fn defects(&self) -> Vec<Defect> {
        self.defects_with(true)
    }

    /// The defects of single lines (no sequence checks: for part of a file).
    pub fn line_defects(&self) -> Vec<Defect> {
        self.defects_with(false)
    }

    fn defects_with(&self, sequences: bool) -> Vec<Defect> {
        let mut checker = LineChecker::new(&self.path, &self.name, self.base == 0);
        checker.sequences = sequences;
        self.lines.iter().flat_map(|l| checker.check(l)).collect()
    }
}

/// Checks a session file's lines in file order, one at a time: each line's
/// own damage, and the sequences per branch (1, 2, 3... with no gap, repeat
/// or step back).
pub struct LineChecker<'a> {
    path: &'a Path,
    name: &'a str,
    /// Whether line numbers are the file's (read from its start).
    numbered: bool,
    /// Whether sequences are checked (a part of a file cannot be).
    pub sequences: bool,
    last: BTreeMap<String, u64>,
}

impl<'a> LineChecker<'a> {
    pub fn new(path: &'a Path, name: &'a str, numbered: bool) -> Self {
        LineChecker {
            path,
            name,
            numbered,
            sequences: true,
            last: BTreeMap::new(),
        }
    }

    /// The latest sequence per branch so far.
    pub fn latest(&self) -> &BTreeMap<String, u64> {
        &self.last
    }

    pub fn check(&mut self, line: &FileLine) -> Vec<Defect> {
        let mut out = line.defects(self.path, self.name, self.numbered);
        let Some(head) = line.head() else {
            return out;
        };
        if !self.sequences {
            return out;
        }
        let before = self.last.get(head.branch.as_str()).copied().unwrap_or(0);
        let kind = if head.sequence == before + 1 {
            None
        } else if head.sequence == 0 {
            // Not a repeat of anything: the store counts from 1.
            Some((
                if before == 0 {
                    DefectKind::SeqRepeated
                } else {
                    DefectKind::SeqBackwards
                },
                "(sequences start at 1)",
            ))
        } else if head.sequence == before {
            Some((DefectKind::SeqRepeated, "repeats"))
        } else if head.sequence < before {
            Some((DefectKind::SeqBackwards, "goes back after"))
        } else {
            Some((DefectKind::SeqGap, "skips after"))
        };
        if let Some((kind, verb)) = kind {
            let verb = if head.sequence == 0 && before == 0 {
                verb.to_owned()
            } else if head.sequence == 0 {
                format!("goes back after {before}")
            } else {
                format!("{verb} {before}")
            };
            let offset = line.record_offset();
            out.push(Defect {
                line: self.numbered.then_some(line.number),
                seq_before: Some(before),
                seq_after: Some(head.sequence),
                ..Defect::new(
                    kind,
                    self.path,
                    offset,
                    line.len - (offset - line.offset),
                    format!("branch {}: sequence {} {verb}", head.branch, head.sequence),
                )
            });
        }
        let e = self.last.entry(head.branch.clone()).or_insert(0);
        *e = (*e).max(head.sequence);
        out
    }
}

/// The shared severity rule: errors are what the runtime cannot read.
pub fn worst(defects: &[Defect]) -> Option<Severity> {
    defects.iter().map(|d| d.severity).max()
}

/// Damage that stops the runtime from opening a session (every read of the
/// file fails there), as opposed to damage only `verify` cares about.
pub fn blocks_the_runtime(kind: DefectKind) -> bool {
    matches!(
        kind,
        DefectKind::TornTail
            | DefectKind::GluedLine
            | DefectKind::NotJson
            | DefectKind::NotEventRecord
            | DefectKind::Unreadable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        // The record is one level; `depth - 1` arrays inside its kind.
        format!(
            "{{\"event_id\":\"e\",\"session_id\":\"s\",\"agent_id\":\"a\",\"branch_id\":\"main\",\
             \"sequence\":1,\"timestamp\":\"2026-11-20T09:00:00Z\",\"actor\":{{}},\"schema\":{{}},\
             \"kind\":{{\"type\":\"Message\",\"d\":{}{}}}}}",
            "[".repeat(depth - 2),
            "]".repeat(depth - 2)
        )
    }

    /// The limit is serde_json's own: a line one level deeper than
    /// RUNTIME_MAX_DEPTH is what the runtime's parser refuses.
    #[test]
    fn a_line_nested_deeper_than_the_runtime_parses_is_not_a_record() {
        let ok = nested(RUNTIME_MAX_DEPTH);
        let deep = nested(RUNTIME_MAX_DEPTH + 1);
        assert!(serde_json::from_str::<serde_json::Value>(&ok).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&deep).is_err());
        assert_eq!(parse_record(ok.as_bytes()).unwrap().sequence, 1);
        let err = parse_record(deep.as_bytes()).unwrap_err();
        assert!(err.contains("nested 128 levels deep"), "{err}");
        // Brackets inside a string are text, not nesting.
        let text = ok.replace(
            "\"type\":\"Message\"",
            &format!("\"type\":\"Message\",\"t\":\"{}\\\"[\"", "[".repeat(300)),
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(&text).is_ok(),
            "{text}"
        );
        assert!(parse_record(text.as_bytes()).is_ok());
    }

    /// Sequence 0 is worded as what it is, not as a repeat of "0".
    #[test]
    fn sequence_0_is_said_to_start_below_1() {
        let zero = nested(3).replace("\"sequence\":1", "\"sequence\":0");
        let file = SessionFile::parse(Path::new("s.jsonl"), format!("{zero}\n").into_bytes());
        let d = file.defects();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].kind, DefectKind::SeqRepeated);
        assert_eq!(
            d[0].detail,
            "branch main: sequence 0 (sequences start at 1)"
        );
    }

    /// Invalid UTF-8 inside a field the reader skips is still a line the
    /// store cannot read (it reads the line as text).
    #[test]
    fn invalid_utf8_in_a_skipped_field_is_not_a_record() {
        let ok = nested(3);
        let at = ok.find("\"d\"").unwrap();
        let mut bad = ok.as_bytes().to_vec();
        bad.splice(at..at, b"\"x\":\"\xff\xfe\",".iter().copied());
        assert!(serde_json::from_slice::<serde::de::IgnoredAny>(&bad).is_ok());
        let err = parse_record(&bad).unwrap_err();
        assert!(err.contains("invalid UTF-8 at byte"), "{err}");
        assert!(parse_record(ok.as_bytes()).is_ok());
    }
}

//! The writer: appends events to a journal exactly as the engine does (see
//! `FORMAT.md`, "Writing, rotation and recovery"), so the engine reads what it
//! writes and the two can take turns on the same directory.
//!
//! Guarantees:
//! - everything happens under the claim, taken with a bounded wait when the
//!   writer opens and held until it is dropped;
//! - on open, a torn tail is cut by [`tailcut`] (removed bytes go to quarantine
//!   first), the max seq is recovered, and the newest segment is reopened for
//!   append when it is under the rotation threshold;
//! - every line is `{"seq":N,"ts":"..","session_id":"..","event":{..}}` in that
//!   field order, `session_id` omitted when absent, the event's own field order
//!   kept byte for byte (it is written from its compact JSON text, never
//!   re-serialised through a map that would sort its keys);
//! - each line reaches the file in one `write` (or, with a batch buffer, whole
//!   lines only, never a partial one); a segment that reached the threshold is
//!   closed and the next line starts a new segment named by its seq;
//! - with `fsync`, [`Writer::commit`] makes the batch durable: file data, and the
//!   directory when a segment was created.
//!
//! [`tailcut`]: crate::journal::tailcut

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::journal::claim::Claim;
use crate::journal::dirfd::Access;
use crate::journal::error::JournalError;
use crate::journal::segment::{IrregularKind, Listing, segment_file_name};
use crate::journal::tailcut::{TailCutDone, TailCutPlan, apply_tail_cut, plan_tail_cut};

/// The engine's rotation threshold.
pub const DEFAULT_ROTATE_BYTES: u64 = 8 * 1024 * 1024;

/// How the writer behaves.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// A segment that has reached this many bytes is closed; the next line
    /// starts a new one. Default 8 MiB (the engine's).
    pub rotate_bytes: u64,
    /// fsync file data (and the directory when a segment was created) on
    /// every [`Writer::commit`]. Default off.
    pub fsync: bool,
    /// How long to wait for the claim. Default 5 s.
    pub wait: Duration,
    /// Lines are collected up to this many bytes and written together (whole
    /// lines only). Default 0: each line is written on its own, as the engine
    /// does. The benchmark generator uses a large buffer for speed.
    pub buffer_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            rotate_bytes: DEFAULT_ROTATE_BYTES,
            fsync: false,
            wait: Duration::from_secs(5),
            buffer_bytes: 0,
        }
    }
}

/// An event as compact JSON text: an object, no insignificant whitespace,
/// field order as given. Build it with [`EventJson::parse`] or
/// [`EventJson::from_value`]; the writer trusts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventJson(String);

/// Why a text is not an event the writer can store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventJsonError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("the event is not a JSON object")]
    NotAnObject,
}

impl EventJson {
    /// Validates `text` as a JSON object and compacts it, keeping field order.
    pub fn parse(text: &str) -> Result<EventJson, EventJsonError> {
        let value: &serde_json::value::RawValue =
            serde_json::from_str(text).map_err(|e| EventJsonError::NotJson(e.to_string()))?;
        let raw = value.get();
        if !raw.starts_with('{') {
            return Err(EventJsonError::NotAnObject);
        }
        Ok(EventJson(compact_json(raw)))
    }

    /// From a value (whose object keys serde_json keeps sorted).
    pub fn from_value(value: &serde_json::Value) -> Result<EventJson, EventJsonError> {
        if !value.is_object() {
            return Err(EventJsonError::NotAnObject);
        }
        Ok(EventJson(value.to_string()))
    }

    /// Trusts `text` to be compact JSON of an object (the generator builds
    /// it by hand for speed). Debug builds check it.
    pub fn from_compact_unchecked(text: String) -> EventJson {
        debug_assert!(
            EventJson::parse(&text).is_ok_and(|e| e.0 == text),
            "not compact JSON: {text}"
        );
        EventJson(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Removes insignificant whitespace from valid JSON text, leaving strings
/// (and so field order and escapes) untouched. A JSON text never holds a raw
/// newline inside a string, so the result is one line.
pub(crate) fn compact_json(valid: &str) -> String {
    match compact_json_bytes(valid.as_bytes()) {
        Cow::Borrowed(_) => valid.to_owned(),
        // Only ASCII whitespace was removed, outside strings: still UTF-8.
        Cow::Owned(out) => String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// [`compact_json`] on bytes. The engine writes compact lines, so the common
/// case borrows: nothing is copied until the first whitespace outside a string.
pub(crate) fn compact_json_bytes(line: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in line.iter().enumerate() {
        let keep = if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            true
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            false
        } else {
            in_string = b == b'"';
            true
        };
        match (&mut out, keep) {
            (Some(out), true) => out.push(b),
            (None, false) => out = Some(line[..i].to_vec()),
            _ => {}
        }
    }
    match out {
        Some(out) => Cow::Owned(out),
        None => Cow::Borrowed(line),
    }
}

/// The engine's timestamp: RFC 3339 in UTC with `Z`, sub-second digits as
/// chrono's serde writes them (none, 3, 6 or 9 digits: nanoseconds whenever
/// the clock has them).
pub fn format_ts(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// What opening the journal found and did.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The tail cut that was applied (empty when the tail was clean).
    pub tail_cut: TailCutPlan,
    /// Where the removed bytes went.
    pub quarantined: Vec<PathBuf>,
    /// The max seq recovered (0 for an empty journal).
    pub max_seq: u64,
    /// The segment reopened for append, if the newest was under the threshold.
    pub reopened: Option<PathBuf>,
}

/// The segment being appended to.
struct Current {
    file: File,
    path: PathBuf,
    /// Bytes in the file plus bytes pending in the buffer.
    len: u64,
}

/// An open journal, holding the claim until dropped.
pub struct Writer {
    dir: PathBuf,
    claim: Claim,
    opts: WriterOptions,
    current: Option<Current>,
    /// Whole lines not yet written to `current`.
    pending: Vec<u8>,
    /// `None` once seq `u64::MAX` is written (or was the max when opened):
    /// no seq is left, and reusing one would break every reader.
    next_seq: Option<u64>,
    /// Files written since the last commit that still need an fsync
    /// (closed segments; the current one is synced separately).
    unsynced_closed: Vec<File>,
    created_segment: bool,
    opened: Opened,
    /// An I/O error left the file in an unknown state: refuse further writes.
    failed: bool,
}

/// What [`Writer::append`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    /// Bytes of the line, with its `\n`.
    pub len: u64,
}

impl Writer {
    /// Opens the journal in `dir` (which must exist; an empty directory is a
    /// new journal): takes the claim, cuts a torn tail, recovers the max seq,
    /// reopens the newest segment when under the threshold.
    pub fn open(dir: &Path, opts: WriterOptions) -> Result<Writer, JournalError> {
        // A missing directory is an error, not something to create, and a
        // directory holding other things is not silently turned into a
        // journal: a typo must not start a new journal next to the real one.
        let listing = Listing::read(dir)?;
        if listing.require_journal().is_err() {
            let mut entries = std::fs::read_dir(dir).map_err(|e| JournalError::io(dir, e))?;
            // Listed again after the entries: a second writer starting on the
            // same empty directory may have just made it a journal (its lock
            // file is then what the entries hold), which is not "other things".
            if entries.next().is_some() && Listing::read(dir)?.require_journal().is_err() {
                return Err(JournalError::NoSegments {
                    dir: dir.to_owned(),
                });
            }
        }
        let claim = Claim::acquire(dir, opts.wait)?;
        let listing = Listing::read(dir)?;
        if let Some(irr) = listing
            .irregular
            .iter()
            .find(|i| i.kind == IrregularKind::SeqOutOfRange)
        {
            // Its seqs are unknown and beyond any we could write: appending
            // below it could repeat seqs readers have seen.
            return Err(JournalError::io(
                &irr.path,
                io::Error::other(
                    "named like a segment whose seq is beyond 18446744073709551615: refusing \
                     to append, the next seqs are unknown",
                ),
            ));
        }
        let (plan, _) = plan_tail_cut(&listing)?;
        let done = if plan.is_empty() {
            TailCutDone::default()
        } else {
            apply_tail_cut(&claim, &listing, &plan)?
        };
        let listing = if plan.is_empty() {
            listing
        } else {
            Listing::read(dir)?
        };
        let max_seq = plan.max_seq();
        let mut current = None;
        if let Some(newest) = listing.newest()
            && newest.len() < opts.rotate_bytes
        {
            // Through the directory descriptor, O_NOFOLLOW, and checked to be
            // the listed regular file: a symlink swapped in is never written through.
            let file = claim.dir().open_segment(newest, Access::Append)?;
            let meta = file
                .metadata()
                .map_err(|e| JournalError::io(newest.path(), e))?;
            current = Some(Current {
                file,
                path: newest.path().to_path_buf(),
                len: meta.len(),
            });
        }
        let opened = Opened {
            tail_cut: plan,
            quarantined: done.quarantined,
            max_seq,
            reopened: current.as_ref().map(|c| c.path.clone()),
        };
        Ok(Writer {
            dir: dir.to_owned(),
            claim,
            opts,
            current,
            pending: Vec::with_capacity(opts.buffer_bytes.max(4096)),
            next_seq: max_seq.checked_add(1),
            unsynced_closed: Vec::new(),
            created_segment: false,
            opened,
            failed: false,
        })
    }

    /// What opening found and did.
    pub fn opened(&self) -> &Opened {
        &self.opened
    }

    /// The seq the next line gets; `None` when the journal has used the
    /// last one (`u64::MAX`) and refuses to append.
    pub fn next_seq(&self) -> Option<u64> {
        self.next_seq
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one event stamped now.
    pub fn append(
        &mut self,
        session_id: Option<&str>,
        event: &EventJson,
    ) -> Result<Appended, JournalError> {
        self.append_at(Utc::now(), session_id, event)
    }

    /// Appends one event with the given timestamp.
    pub fn append_at(
        &mut self,
        ts: DateTime<Utc>,
        session_id: Option<&str>,
        event: &EventJson,
    ) -> Result<Appended, JournalError> {
        if self.failed {
            return Err(JournalError::io(
                &self.dir,
                io::Error::other("an earlier write failed; reopen the journal"),
            ));
        }
        let Some(seq) = self.next_seq else {
            return Err(JournalError::io(
                &self.dir,
                io::Error::other(format!(
                    "seq {} is taken: the journal has no seq left to give",
                    u64::MAX
                )),
            ));
        };
        if self.current.is_none() {
            self.create_segment(seq)?;
        }
        let start = self.pending.len();
        write_line(&mut self.pending, seq, ts, session_id, event);
        let line_len = (self.pending.len() - start) as u64;
        self.next_seq = seq.checked_add(1);
        let reached = {
            let cur = self.current.as_mut().expect("a segment is open");
            cur.len += line_len;
            cur.len >= self.opts.rotate_bytes
        };
        if reached || self.pending.len() >= self.opts.buffer_bytes {
            self.write_pending()?;
        }
        if reached {
            let cur = self.current.take().expect("a segment is open");
            if self.opts.fsync {
                self.unsynced_closed.push(cur.file);
            }
        }
        Ok(Appended { seq, len: line_len })
    }

    /// Writes buffered lines and, with `fsync`, makes everything appended so
    /// far durable. Call it at the end of each batch; dropping the writer
    /// writes buffered lines but cannot report errors.
    pub fn commit(&mut self) -> Result<(), JournalError> {
        self.write_pending()?;
        if !self.opts.fsync {
            return Ok(());
        }
        for file in self.unsynced_closed.drain(..) {
            file.sync_data()
                .map_err(|e| JournalError::io(&self.dir, e))?;
        }
        if let Some(cur) = &self.current {
            cur.file
                .sync_data()
                .map_err(|e| JournalError::io(&cur.path, e))?;
        }
        if self.created_segment {
            self.claim.dir().sync()?;
            self.created_segment = false;
        }
        Ok(())
    }

    fn create_segment(&mut self, seq: u64) -> Result<(), JournalError> {
        let name = segment_file_name(seq);
        let path = self.dir.join(&name);
        // O_EXCL relative to the directory: never reuse or write through an
        // existing entry (a stale file, a directory or a symlink with this
        // name); the error says what holds the name.
        let file = self
            .claim
            .dir()
            .create_new(&name, 0o666, true)
            .map_err(|e| match e {
                // Say what holds the name: "File exists" alone sends people
                // looking for a file.
                JournalError::Io { source, .. }
                    if source.kind() == io::ErrorKind::AlreadyExists =>
                {
                    let what = self.claim.dir().describe_entry(&name);
                    JournalError::io(
                        &path,
                        io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            format!(
                                "{what} already holds the next segment's name (seq {seq}): \
                                 nothing was written"
                            ),
                        ),
                    )
                }
                e => e,
            })?;
        self.created_segment = true;
        self.current = Some(Current { file, path, len: 0 });
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), JournalError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        // One write_all of whole lines: a reader sees a line whole or (for a
        // moment) torn at its end, which every reader already handles.
        if let Err(e) = cur.file.write_all(&self.pending) {
            self.failed = true;
            self.pending.clear();
            return Err(JournalError::io(&cur.path, e));
        }
        self.pending.clear();
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.failed {
            let _ = self.write_pending();
        }
    }
}

/// Formats one journal line (with its `\n`) into `out`, in the engine's field order.
pub fn write_line(
    out: &mut Vec<u8>,
    seq: u64,
    ts: DateTime<Utc>,
    session_id: Option<&str>,
    event: &EventJson,
) {
    let _ = write!(out, "{{\"seq\":{seq},\"ts\":\"{}\"", format_ts(ts));
    if let Some(session) = session_id {
        out.extend_from_slice(b",\"session_id\":");
        // A string always serialises.
        let _ = serde_json::to_writer(&mut *out, session);
    }
    out.extend_from_slice(b",\"event\":");
    out.extend_from_slice(event.as_str().as_bytes());
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::lines::ReadOptions;
    use crate::journal::recover::recover;
    use std::fs;

    fn ev(text: &str) -> EventJson {
        EventJson::parse(text).unwrap()
    }

    fn ts(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn opts(rotate: u64) -> WriterOptions {
        WriterOptions {
            rotate_bytes: rotate,
            wait: Duration::ZERO,
            ..WriterOptions::default()
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn lines_have_the_engines_field_order_and_keep_the_events_order() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Writer::open(tmp.path(), opts(DEFAULT_ROTATE_BYTES)).unwrap();
        let e = ev(
            r#"{ "type": "message_appended", "session_id": "s \"1\"", "role":"user",
            "content": "caf\u00e9 🚀\r\n x" , "b": [1, {"z":1,"a":2}] }"#,
        );
        let first = w
            .append_at(ts("2026-11-20T09:00:00.123456789Z"), Some("s \"1\""), &e)
            .unwrap();
        assert_eq!(first, Appended { seq: 1, len: 199 });
        let e2 = ev(r#"{"type":"config.changed","section":"providers","revision":1}"#);
        w.append_at(ts("2026-11-20T09:00:01Z"), None, &e2).unwrap();
        w.commit().unwrap();
        let text =
            fs::read_to_string(tmp.path().join("events-00000000000000000001.jsonl")).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"seq":1,"ts":"2026-11-20T09:00:00.123456789Z","session_id":"s \"1\"","event":{"type":"message_appended","session_id":"s \"1\"","role":"user","content":"caf\u00e9 🚀\r\n x","b":[1,{"z":1,"a":2}]}}"#,
                "\n",
                r#"{"seq":2,"ts":"2026-11-20T09:00:01Z","event":{"type":"config.changed","section":"providers","revision":1}}"#,
                "\n"
            )
        );
        assert_eq!(
            text.find('\n'),
            Some(198),
            "len counts the line and its newline"
        );
        assert_eq!(
            names(tmp.path()),
            [".account-journal.lock", "events-00000000000000000001.jsonl"]
        );
    }

    #[test]
    fn rotates_after_the_line_that_reaches_the_threshold() {
        let tmp = tempfile::tempdir().unwrap();
        let e = ev(r#"{"type":"cancelled"}"#);
        let t = ts("2026-11-20T09:00:00Z");
        let line_len = {
            let mut v = Vec::new();
            write_line(&mut v, 1, t, None, &e);
            v.len() as u64
        };
        // Three lines reach the threshold: segments of 3 lines each.
        let mut w = Writer::open(tmp.path(), opts(line_len * 3 - 1)).unwrap();
        for seq in 1..=7 {
            assert_eq!(w.append_at(t, None, &e).unwrap().seq, seq);
        }
        w.commit().unwrap();
        drop(w);
        assert_eq!(
            names(tmp.path()),
            [
                ".account-journal.lock",
                "events-00000000000000000001.jsonl",
                "events-00000000000000000004.jsonl",
                "events-00000000000000000007.jsonl"
            ]
        );
        // Reopening continues in the newest (under the threshold), then rotates.
        let mut w = Writer::open(tmp.path(), opts(line_len * 3 - 1)).unwrap();
        assert_eq!(w.opened().max_seq, 7);
        assert_eq!(
            w.opened().reopened,
            Some(tmp.path().join("events-00000000000000000007.jsonl"))
        );
        for seq in 8..=10 {
            assert_eq!(w.append_at(t, None, &e).unwrap().seq, seq);
        }
        drop(w);
        let seven =
            fs::read_to_string(tmp.path().join("events-00000000000000000007.jsonl")).unwrap();
        assert_eq!(seven.lines().count(), 3);
        assert!(
            tmp.path()
                .join("events-00000000000000000010.jsonl")
                .exists()
        );
    }

    #[test]
    fn a_full_newest_segment_is_not_reopened() {
        let tmp = tempfile::tempdir().unwrap();
        let e = ev(r#"{"type":"cancelled"}"#);
        let mut w = Writer::open(tmp.path(), opts(u64::MAX)).unwrap();
        w.append(None, &e).unwrap();
        drop(w);
        // Same journal, smaller threshold: the newest is already "full".
        let mut w = Writer::open(tmp.path(), opts(10)).unwrap();
        assert_eq!(w.opened().reopened, None);
        assert_eq!(w.append(None, &e).unwrap().seq, 2);
        drop(w);
        assert!(
            tmp.path()
                .join("events-00000000000000000002.jsonl")
                .exists()
        );
    }

    #[test]
    fn a_torn_tail_is_cut_to_quarantine_before_appending() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let good =
            "{\"seq\":1,\"ts\":\"2026-11-20T09:00:00Z\",\"event\":{\"type\":\"cancelled\"}}\n";
        let torn = "{\"seq\":2,\"ts\":\"2026-11";
        fs::write(
            dir.join("events-00000000000000000001.jsonl"),
            format!("{good}{torn}"),
        )
        .unwrap();
        fs::write(dir.join("events-00000000000000000003.jsonl"), "\0\0\0").unwrap();
        let mut w = Writer::open(dir, opts(DEFAULT_ROTATE_BYTES)).unwrap();
        assert_eq!(w.opened().max_seq, 1);
        assert_eq!(w.opened().quarantined.len(), 2);
        assert_eq!(fs::read(&w.opened().quarantined[0]).unwrap(), b"\0\0\0");
        assert_eq!(
            fs::read_to_string(&w.opened().quarantined[1]).unwrap(),
            torn
        );
        w.append_at(
            ts("2026-11-20T09:00:02Z"),
            Some("s"),
            &ev(r#"{"type":"cancelled"}"#),
        )
        .unwrap();
        drop(w);
        assert_eq!(
            fs::read_to_string(dir.join("events-00000000000000000001.jsonl")).unwrap(),
            format!(
                "{good}{}\n",
                r#"{"seq":2,"ts":"2026-11-20T09:00:02Z","session_id":"s","event":{"type":"cancelled"}}"#
            )
        );
        assert!(!dir.join("events-00000000000000000003.jsonl").exists());
        let rec = recover(&Listing::read(dir).unwrap(), ReadOptions::default()).unwrap();
        assert_eq!(rec.max_seq, 2);
        assert_eq!(rec.torn_tail, None);
    }

    #[test]
    fn theclaim_is_held_while_open() {
        let tmp = tempfile::tempdir().unwrap();
        let w = Writer::open(tmp.path(), opts(DEFAULT_ROTATE_BYTES)).unwrap();
        let err = Writer::open(tmp.path(), opts(DEFAULT_ROTATE_BYTES))
            .err()
            .unwrap();
        assert!(matches!(err, JournalError::ClaimHeld { .. }), "{err}");
        drop(w);
        Writer::open(tmp.path(), opts(DEFAULT_ROTATE_BYTES)).unwrap();
    }

    #[test]
    fn buffered_lines_rotate_and_land_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let mut o = opts(1000);
        o.buffer_bytes = 1 << 20;
        o.fsync = true;
        let mut w = Writer::open(tmp.path(), o).unwrap();
        let e = ev(r#"{"type":"error","message":"boom"}"#);
        for _ in 0..100 {
            w.append(None, &e).unwrap();
        }
        w.commit().unwrap();
        drop(w);
        let listing = Listing::read(tmp.path()).unwrap();
        let mut expect = 1;
        for seg in &listing.segments {
            assert_eq!(seg.start_seq, expect);
            let text = fs::read_to_string(seg.path()).unwrap();
            for line in text.lines() {
                assert_eq!(
                    crate::journal::record::fast_seq(line.as_bytes()),
                    Some(expect)
                );
                expect += 1;
            }
            if seg.start_seq != listing.newest().unwrap().start_seq {
                assert!(seg.len() >= 1000 && seg.len() < 1100, "{}", seg.len());
            }
        }
        assert_eq!(expect, 101);
    }

    #[test]
    fn a_directory_with_other_files_is_not_made_a_journal() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("notes.txt"), "x").unwrap();
        let err = Writer::open(tmp.path(), opts(10)).err().unwrap();
        assert!(matches!(err, JournalError::NoSegments { .. }), "{err}");
        assert_eq!(names(tmp.path()), ["notes.txt"]);
    }

    #[test]
    fn a_missing_directory_is_not_created() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Writer::open(&tmp.path().join("nope"), opts(10))
            .err()
            .unwrap();
        assert!(matches!(err, JournalError::DirNotFound { .. }), "{err}");
    }

    #[test]
    fn event_json_is_checked_and_compacted() {
        assert_eq!(ev("{ \"a\" : \"x y\" }").as_str(), r#"{"a":"x y"}"#);
        assert_eq!(EventJson::parse("[1]"), Err(EventJsonError::NotAnObject));
        assert!(matches!(
            EventJson::parse("{\"a\":"),
            Err(EventJsonError::NotJson(_))
        ));
        assert_eq!(
            compact_json("{\"a\\\"\" : \"\\\\\" , \"b\":[ ]}"),
            "{\"a\\\"\":\"\\\\\",\"b\":[]}"
        );
    }
}

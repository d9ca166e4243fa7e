//! Reading a per-session store without holding a file in memory: each
//! session file read line by line in bounded chunks (the segments' own
//! [`ForwardLines`]/[`BackwardLines`]), a lazy k-way merge by timestamp
//! across the files, and the head of every session and branch read from
//! each file's end.
//!
//! **How `recover` knows every branch without parsing the whole file.** A
//! session file is written by one writer in order, and a branch's sequence
//! only grows, so a branch's latest record is its last line in the file: a
//! backwards read knows a branch's head as soon as it meets the branch. What
//! it cannot know from the records it has parsed is whether a branch exists
//! whose every record lies further back (a branch abandoned early). No
//! record says how many branches there are, and the `BranchCreated` event a
//! branch starts with sits on its parent, as far back as the branch is old,
//! so it is no stop condition either (and stores written by other tools
//! have no such event). So once the last [`PARSE_FIRST`] bytes are parsed,
//! the rest of the file is *scanned*, not parsed: a byte search for the
//! `"session_id":"` and `"branch_id":"` keys of every line gives every pair
//! the rest can hold (a superset: a payload field of the same name adds a
//! pair, never hides one). When every such pair already has its head, the
//! read stops; otherwise it parses backwards until each has one (a file
//! whose rest names a stream it never reaches is parsed to its start). The
//! scan is linear in the file but costs a `memchr` pass, not a JSON parse,
//! and holds one chunk in memory.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::SourceRecord;
use super::reader::Item;
use super::sessions::{Body, FileLine, classify, open_file, source_record, unreadable};
use crate::journal::defect::Defect;
use crate::journal::lines::{BackwardLines, ForwardLines, Line, LineBody, LineReader, ReadOptions};

/// Bytes parsed from a file's end before the rest is scanned.
pub const PARSE_FIRST: u64 = 64 * 1024;

/// Chunk size of the merge's readers: one per session file is open at once.
const MERGE_CHUNK: usize = 64 * 1024;

fn merge_options() -> ReadOptions {
    ReadOptions {
        chunk: MERGE_CHUNK,
        ..ReadOptions::default()
    }
}

/// What a file's reader hands on next.
pub enum Next {
    Record(SourceRecord),
    Damage(Defect),
}

/// One session file read in one direction, line by line.
pub struct FileReader {
    path: PathBuf,
    name: String,
    lines: Option<Lines>,
    /// Where a forward read of complete lines stopped (its next line's start).
    position: u64,
    /// Damage to hand on before anything else (the file could not be opened).
    pending: Option<Defect>,
}

enum Lines {
    Backward(BackwardLines),
    Forward(ForwardLines),
    /// `\n`-terminated lines only: a partial last line is a writer
    /// mid-append, left for a later read.
    Complete(ForwardLines),
}

fn session_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A located line of a session file, classified.
pub fn file_line(line: &Line<'_>) -> FileLine {
    let body = match line.body {
        LineBody::Bytes(bytes) => classify(bytes, line.terminated),
        LineBody::TooLong => Body::Unreadable {
            json: false,
            message: format!("a line of {} bytes, longer than journal reads", line.len),
        },
    };
    FileLine {
        number: line.number.unwrap_or(0),
        offset: line.offset,
        len: line.len,
        body,
    }
}

impl FileReader {
    /// Reads `path` from its end (`newest_first`) or from its start, up to
    /// `limit` (its length when `None`).
    pub fn open(path: &Path, newest_first: bool, limit: Option<u64>) -> FileReader {
        let opened = open_file(path).and_then(|f| {
            let len = match limit {
                Some(l) => l,
                None => f.metadata()?.len(),
            };
            Ok(if newest_first {
                Lines::Backward(BackwardLines::new(f, len, merge_options()))
            } else {
                Lines::Forward(ForwardLines::new(f, 0, 1, len, merge_options()))
            })
        });
        FileReader::with(path, opened, 0)
    }

    /// Reads the complete lines of `path` from `from` (a line start) to its
    /// current end, oldest first (a follower's poll).
    pub fn open_after(path: &Path, from: u64) -> FileReader {
        let opened = open_file(path).and_then(|f| {
            let len = f.metadata()?.len();
            Ok(Lines::Complete(ForwardLines::new(
                f,
                from,
                1,
                len,
                merge_options(),
            )))
        });
        FileReader::with(path, opened, from)
    }

    fn with(path: &Path, opened: io::Result<Lines>, position: u64) -> FileReader {
        let (lines, pending) = match opened {
            Ok(lines) => (Some(lines), None),
            Err(e) => (None, Some(unreadable(path, &e))),
        };
        FileReader {
            path: path.to_owned(),
            name: session_name(path),
            lines,
            position,
            pending,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// After a forward read of complete lines: where the next one starts.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next record or damage; `None` at the end.
    pub fn next(&mut self, out: &mut Vec<Next>) -> bool {
        if let Some(d) = self.pending.take() {
            out.push(Next::Damage(d));
            return true;
        }
        let Some(lines) = self.lines.as_mut() else {
            return false;
        };
        // Line numbers are the file's only when read from its start.
        let mut from_start = true;
        let read = match lines {
            Lines::Backward(l) => l.read_line(),
            Lines::Forward(l) => l.read_line(),
            Lines::Complete(l) => {
                from_start = false;
                let line = l.next_complete();
                if let Ok(Some(line)) = &line {
                    self.position = line.end_offset();
                }
                line
            }
        };
        let line = match read {
            Ok(Some(line)) => line,
            Ok(None) => {
                self.lines = None;
                return false;
            }
            Err(e) => {
                self.lines = None;
                out.push(Next::Damage(unreadable(&self.path, &e)));
                return true;
            }
        };
        let numbered = line.number.is_some() && from_start;
        let fl = file_line(&line);
        // A missing newline is verify's to name: the record reads (and is
        // handed on), nothing was skipped.
        for d in fl.defects(&self.path, &self.name, numbered) {
            if d.kind != crate::journal::defect::DefectKind::MissingNewline {
                out.push(Next::Damage(d));
            }
        }
        if let (Some(head), LineBody::Bytes(bytes)) = (fl.head(), line.body) {
            let from = (fl.record_offset() - fl.offset) as usize;
            out.push(Next::Record(source_record(head, &bytes[from..])));
        }
        true
    }
}

type Key = (Option<DateTime<Utc>>, String, u64);

fn key_of(r: &SourceRecord) -> Key {
    (r.as_record().timestamp(), r.stream.clone(), r.number())
}

/// Hands on the records of every file that `accept` takes, merged by
/// timestamp (then stream and sequence), newest or oldest first, lazily:
/// each file is read only as far as its records are handed on. Damage is
/// handed on as it is met.
pub fn merge(
    readers: &mut [FileReader],
    newest_first: bool,
    accept: &dyn Fn(&SourceRecord) -> bool,
    visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    // The next accepted record of reader `i`, damage handed on meanwhile.
    let advance = |reader: &mut FileReader,
                   visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>|
     -> ControlFlow<(), Option<SourceRecord>> {
        let mut out = Vec::new();
        loop {
            out.clear();
            if !reader.next(&mut out) {
                return ControlFlow::Continue(None);
            }
            let mut found = None;
            for n in out.drain(..) {
                match n {
                    Next::Damage(d) => visit(Item::Damage(d))?,
                    Next::Record(r) if accept(&r) => found = Some(r),
                    Next::Record(_) => {}
                }
            }
            if found.is_some() {
                return ControlFlow::Continue(found);
            }
        }
    };
    let mut current: Vec<Option<SourceRecord>> = Vec::with_capacity(readers.len());
    for reader in readers.iter_mut() {
        current.push(advance(reader, visit)?);
    }
    // Newest first: the greatest key first; oldest first: the least.
    let mut newest: BinaryHeap<(Key, Reverse<usize>)> = BinaryHeap::new();
    let mut oldest: BinaryHeap<Reverse<(Key, usize)>> = BinaryHeap::new();
    let push = |i: usize,
                r: &SourceRecord,
                newest: &mut BinaryHeap<(Key, Reverse<usize>)>,
                oldest: &mut BinaryHeap<Reverse<(Key, usize)>>| {
        if newest_first {
            newest.push((key_of(r), Reverse(i)));
        } else {
            oldest.push(Reverse((key_of(r), i)));
        }
    };
    for (i, r) in current.iter().enumerate() {
        if let Some(r) = r {
            push(i, r, &mut newest, &mut oldest);
        }
    }
    loop {
        let i = if newest_first {
            newest.pop().map(|(_, Reverse(i))| i)
        } else {
            oldest.pop().map(|Reverse((_, i))| i)
        };
        let Some(i) = i else { break };
        let Some(r) = current[i].take() else { continue };
        let record = r.as_record();
        visit(Item::Record {
            position: r.position.clone(),
            record: &record,
            stored: &r.raw,
        })?;
        current[i] = advance(&mut readers[i], visit)?;
        if let Some(r) = &current[i] {
            push(i, r, &mut newest, &mut oldest);
        }
    }
    ControlFlow::Continue(())
}

/// Reads every line of `path` from its start in bounded chunks, classified,
/// in file order; returns the bytes read.
pub fn each_line(path: &Path, each: &mut dyn FnMut(&FileLine)) -> io::Result<u64> {
    let f = open_file(path)?;
    let len = f.metadata()?.len();
    let mut lines = ForwardLines::new(f, 0, 1, len, ReadOptions::default());
    let mut read = 0;
    while let Some(line) = lines.next_line()? {
        read = line.end_offset();
        each(&file_line(&line));
    }
    Ok(read)
}

/// The heads one session file holds.
#[derive(Debug, Default)]
pub struct FileHeads {
    /// (session, branch) to (latest sequence, its timestamp).
    pub latest: BTreeMap<(String, String), (u64, String)>,
    /// Damage that stops the runtime from opening the session, met on the
    /// way (in file order).
    pub problems: Vec<Defect>,
    /// The end of the last complete line (where a follower reads on from).
    pub complete: u64,
    /// Bytes parsed, from the end.
    pub parsed: u64,
    /// Whether the whole file was parsed (a small file, or one whose rest
    /// names a stream not met before its start).
    pub whole: bool,
}

/// The latest sequence of every session and branch in `path` (only
/// branches `wanted` takes), read from its end; see the module's words for
/// why it is exact.
pub fn file_heads(path: &Path, wanted: &dyn Fn(&str) -> bool) -> io::Result<FileHeads> {
    let file = open_file(path)?;
    let len = file.metadata()?.len();
    let mut lines = BackwardLines::new(file, len, ReadOptions::default());
    let mut heads = FileHeads {
        complete: len,
        whole: true,
        ..FileHeads::default()
    };
    let name = session_name(path);
    // Pairs the unparsed rest of the file may hold, once it is scanned.
    let mut rest: Option<BTreeSet<(String, String)>> = None;
    let mut first = true;
    let mut problems = Vec::new();
    while let Some(line) = lines.prev_line()? {
        if first && !line.terminated {
            heads.complete = line.offset;
        }
        first = false;
        let fl = file_line(&line);
        problems.extend(fl.defects(path, &name, false).into_iter().filter(|d| {
            super::sessions::blocks_the_runtime(d.kind)
                || d.kind == crate::journal::defect::DefectKind::MissingNewline
        }));
        if let Some(h) = fl.head()
            && wanted(&h.branch)
        {
            let e = heads
                .latest
                .entry((h.session.clone(), h.branch.clone()))
                .or_insert((0, String::new()));
            if h.sequence > e.0 {
                *e = (h.sequence, h.timestamp.clone());
            }
        }
        heads.parsed = len - line.offset;
        if line.offset == 0 {
            break;
        }
        if rest.is_none() && heads.parsed >= PARSE_FIRST {
            rest = Some(scan_pairs(path, line.offset)?);
        }
        if let Some(rest) = &rest
            && rest
                .iter()
                .all(|p| heads.latest.contains_key(p) || !wanted(&p.1))
        {
            heads.whole = false;
            break;
        }
    }
    problems.reverse();
    heads.problems = problems;
    Ok(heads)
}

/// Every (session, branch) pair that the complete lines of `path` before
/// `end` can hold: per line, each `"session_id":"…"` value with each
/// `"branch_id":"…"` value. Read forwards in bounded chunks, never parsed:
/// three SIMD passes per chunk (the two keys and the newlines), values
/// compared as bytes, a string made only for a pair not seen before.
pub fn scan_pairs(path: &Path, end: u64) -> io::Result<BTreeSet<(String, String)>> {
    const CHUNK: usize = 1 << 20;
    let session_key = memchr::memmem::Finder::new(b"\"session_id\":\"");
    let branch_key = memchr::memmem::Finder::new(b"\"branch_id\":\"");
    let mut f = open_file(path)?;
    f.seek(SeekFrom::Start(0))?;
    let mut f = f.take(end);
    let mut pairs = BTreeSet::new();
    // The pairs found so far, as their bytes in the file.
    let mut seen: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut chunk = vec![0u8; CHUNK];
    let mut sessions: Vec<(usize, usize)> = Vec::new();
    let mut branches: Vec<(usize, usize)> = Vec::new();
    loop {
        let n = f.read(&mut chunk)?;
        let at_end = n == 0;
        buf.extend_from_slice(&chunk[..n]);
        // Whole lines only; the partial last one waits for the next chunk
        // (at the end, it is a line too).
        let upto = if at_end {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let region = &buf[..upto];
        let mut s_at = session_key.find_iter(region).peekable();
        let mut b_at = branch_key.find_iter(region).peekable();
        let line_ends = memchr::memchr_iter(b'\n', region).chain(std::iter::once(region.len()));
        for line_end in line_ends {
            sessions.clear();
            branches.clear();
            while let Some(at) = s_at.next_if(|&at| at < line_end) {
                if let Some(v) = value_at(region, at + session_key.needle().len(), line_end) {
                    sessions.push(v);
                }
            }
            while let Some(at) = b_at.next_if(|&at| at < line_end) {
                if let Some(v) = value_at(region, at + branch_key.needle().len(), line_end) {
                    branches.push(v);
                }
            }
            for &(ss, se) in &sessions {
                for &(bs, be) in &branches {
                    let (s, b) = (&region[ss..se], &region[bs..be]);
                    if seen.iter().any(|(ks, kb)| ks == s && kb == b) {
                        continue;
                    }
                    seen.push((s.to_vec(), b.to_vec()));
                    if let (Some(s), Some(b)) = (decode(s), decode(b)) {
                        pairs.insert((s, b));
                    }
                }
            }
        }
        buf.drain(..upto);
        if at_end {
            return Ok(pairs);
        }
    }
}

/// The string value starting at `start` (after its opening quote), as the
/// range of its bytes, when it closes before `end`.
fn value_at(line: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let mut i = start;
    while i < end && line[i] != b'"' {
        i += if line[i] == b'\\' { 2 } else { 1 };
    }
    (i < end).then_some((start, i))
}

/// A JSON string's bytes (between the quotes) as the string they spell.
fn decode(raw: &[u8]) -> Option<String> {
    if !raw.contains(&b'\\') {
        return String::from_utf8(raw.to_vec()).ok();
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice(&quoted).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(session: &str, branch: &str, sequence: u64, pad: usize) -> String {
        format!(
            "{{\"event_id\":\"e-{branch}-{sequence}\",\"session_id\":\"{session}\",\"agent_id\":\"a\",\
             \"branch_id\":\"{branch}\",\"sequence\":{sequence},\"timestamp\":\"2026-11-20T09:00:00.{sequence:09}Z\",\
             \"actor\":{{\"type\":\"system\"}},\"schema\":{{\"name\":\"aios-protocol\",\"version\":\"0.1.0\"}},\
             \"kind\":{{\"type\":\"Message\",\"content\":\"{}\"}}}}\n",
            "x".repeat(pad)
        )
    }

    /// A session whose branch `early` has records only in its first lines,
    /// then `n` records alternating `main` and `exp-1`, `pad` bytes each.
    fn session(dir: &Path, early: Option<&str>, n: u64, pad: usize) -> PathBuf {
        let path = dir.join("s.jsonl");
        let mut text = String::new();
        let mut seq: BTreeMap<&str, u64> = BTreeMap::new();
        let mut next = |b: &'static str, text: &mut String| {
            let s = seq.entry(b).or_insert(0);
            *s += 1;
            text.push_str(&record("s", b, *s, pad));
        };
        next("main", &mut text);
        if let Some(early) = early {
            let early: &'static str = Box::leak(early.to_owned().into_boxed_str());
            next(early, &mut text);
            next(early, &mut text);
        }
        for i in 0..n {
            next(if i % 3 == 0 { "exp-1" } else { "main" }, &mut text);
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    fn all_wanted(_: &str) -> bool {
        true
    }

    #[test]
    fn heads_of_a_large_file_stop_early_and_still_know_every_branch() {
        let tmp = tempfile::tempdir().unwrap();
        let path = session(tmp.path(), None, 3000, 400);
        let len = std::fs::metadata(&path).unwrap().len();
        let h = file_heads(&path, &all_wanted).unwrap();
        assert!(!h.whole, "the rest was scanned, not parsed");
        assert!(h.parsed < len / 4, "parsed {} of {len}", h.parsed);
        let got: Vec<_> = h
            .latest
            .iter()
            .map(|((_, b), (n, _))| (b.as_str(), *n))
            .collect();
        assert_eq!(got, [("exp-1", 1000), ("main", 2001)]);
        assert_eq!(h.complete, len);
    }

    #[test]
    fn a_branch_abandoned_at_the_start_is_found_by_the_scan_and_read_back_to() {
        let tmp = tempfile::tempdir().unwrap();
        let path = session(tmp.path(), Some("exp-0"), 3000, 400);
        let h = file_heads(&path, &all_wanted).unwrap();
        let got: Vec<_> = h
            .latest
            .iter()
            .map(|((_, b), (n, _))| (b.as_str(), *n))
            .collect();
        assert_eq!(got, [("exp-0", 2), ("exp-1", 1000), ("main", 2001)]);
        // Found only by parsing back to it: the third line of the file.
        assert!(h.parsed > std::fs::metadata(&path).unwrap().len() - 2000);
        // A filter on branches leaves it out, and then stops early.
        let h = file_heads(&path, &|b: &str| b != "exp-0").unwrap();
        assert!(!h.whole);
        assert_eq!(h.latest.len(), 2);
    }

    #[test]
    fn the_scan_finds_every_pair_a_line_can_hold_and_no_cut_value() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.jsonl");
        let mut text = record("s", "main", 1, 3);
        text.push_str(&record("other", "b\\\"q", 1, 3));
        text.push_str("{\"session_id\":\"cut");
        std::fs::write(&path, &text).unwrap();
        let pairs = scan_pairs(&path, text.len() as u64).unwrap();
        let want: BTreeSet<(String, String)> = [("other", "b\"q"), ("s", "main")]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        assert_eq!(pairs, want);
    }

    #[test]
    fn the_merge_interleaves_files_by_time_and_stops_when_told() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a.jsonl");
        let b = tmp.path().join("b.jsonl");
        // a: times 1, 3, 5; b: times 2, 4, 6.
        std::fs::write(&a, [1, 3, 5].map(|n| record("a", "main", n, 1)).concat()).unwrap();
        std::fs::write(&b, [2, 4, 6].map(|n| record("b", "main", n, 1)).concat()).unwrap();
        for newest_first in [true, false] {
            let mut readers = vec![
                FileReader::open(&a, newest_first, None),
                FileReader::open(&b, newest_first, None),
            ];
            let mut got = Vec::new();
            let _ = merge(&mut readers, newest_first, &|_| true, &mut |item| {
                if let Item::Record { position, .. } = item {
                    got.push(position.number());
                }
                if got.len() == 4 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            let want = if newest_first {
                [6, 5, 4, 3]
            } else {
                [1, 2, 3, 4]
            };
            assert_eq!(got, want);
        }
    }
}

//! The per-session store behind [`Source`]: every session file merged by
//! timestamp for `inspect`, the latest sequence of every session and branch
//! for `recover`, the counts for `stats`, the defects for `verify` and the
//! cuts and un-glues of `repair`, all as the family's value types.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::family::{
    Checked, FamilyRepair, FamilyRepairOptions, FamilyStats, FamilyVerify, FamilyVerifyOptions,
    Heads, Positions, RepairRefusal, RepairStep, StreamHead, StreamStats,
};
use super::reader::{Item, RESTART_REPLACED, RESTART_WENT_BACK, RecordFilter, Source, went_back};
use super::session_read::{FileReader, each_line, file_heads, merge};
use super::session_repair::{self, Action};
use super::sessions::{FileLine, LineChecker, SessionFile, SessionStore, unreadable};
use super::{Format, OpenOptions, Position, SourceRecord};
use crate::journal::defect::Severity;
use crate::journal::error::JournalError;
use crate::journal::scan::Direction;
use crate::journal::segment::file_name_lossy;
use crate::query::Query;

/// The per-session store: every session file, merged by timestamp.
pub struct Sessions {
    pub store: SessionStore,
    /// Only these branches; empty for all.
    pub branches: Vec<String>,
    /// How far [`Source::visit_after`] (and [`Source::heads`], which knows
    /// every record before it is at or below its stream's head) has read each
    /// file: the end of its last complete line, and which file that was. A
    /// poll reads on from there.
    read_to: Mutex<HashMap<PathBuf, FileState>>,
    /// The events directory (device, inode) `read_to` is about: a directory
    /// removed and made again holds new files, read from their start.
    read_in: Mutex<Option<(u64, u64)>>,
}

/// What a follower's reads know of one session file.
#[derive(Debug, Clone, Default)]
struct FileState {
    /// The end of the last complete line read.
    at: u64,
    /// The file's (device, inode) when it was read.
    id: Option<(u64, u64)>,
    /// A hash of its first line (its first bytes): a file replaced by a
    /// rewrite of itself (a repair) starts as before; another one does not.
    first: Option<u64>,
    /// The sessions its records belong to.
    sessions: BTreeSet<String>,
}

fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// A hash of the file's first line (at most its first 64 KiB).
fn first_line_hash(path: &Path) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    use std::io::Read;
    let mut buf = vec![0u8; 64 << 10];
    let mut f = super::sessions::open_file(path).ok()?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
        if memchr::memchr(b'\n', &buf[..n]).is_some() {
            break;
        }
    }
    let end = memchr::memchr(b'\n', &buf[..n]).map_or(n, |i| i + 1);
    if end == 0 {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    buf[..end].hash(&mut h);
    Some(h.finish())
}

impl Sessions {
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Sessions, JournalError> {
        Ok(Sessions {
            store: SessionStore::open(path)?,
            branches: opts.branches.clone(),
            read_to: Mutex::new(HashMap::new()),
            read_in: Mutex::new(None),
        })
    }

    fn wanted_branch(&self, branch: &str) -> bool {
        self.branches.is_empty() || self.branches.iter().any(|b| b == branch)
    }

    fn wanted(&self, r: &SourceRecord) -> bool {
        matches!(&r.position, Position::Session { branch, .. } if self.wanted_branch(branch))
    }

    /// A file read to `complete` (its state first seen if it was not known).
    fn remember(&self, path: &Path, complete: u64, sessions: &BTreeSet<String>) {
        let mut read_in = self.read_in.lock().unwrap_or_else(|e| e.into_inner());
        if read_in.is_none() {
            *read_in = std::fs::metadata(&self.store.events_dir)
                .ok()
                .map(|m| file_id(&m));
        }
        drop(read_in);
        let mut states = self.read_to.lock().unwrap_or_else(|e| e.into_inner());
        let state = states.entry(path.to_owned()).or_insert_with(|| FileState {
            id: std::fs::metadata(path).ok().map(|m| file_id(&m)),
            first: first_line_hash(path),
            ..FileState::default()
        });
        state.at = complete;
        state.sessions.extend(sessions.iter().cloned());
    }

    fn state(&self, path: &Path) -> Option<FileState> {
        self.read_to
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
    }

    fn set_state(&self, path: &Path, state: FileState) {
        self.read_to
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_owned(), state);
    }

    /// A file about to be read from its start (not read before, or
    /// replaced since: another inode, shorter than what was read): the
    /// streams of `after` it does not continue, each with why. Its state
    /// is the new file's from now on (read from its start).
    fn restarts_in(
        &self,
        path: &Path,
        id: (u64, u64),
        prev: Option<&FileState>,
        after: &Positions,
    ) -> Vec<(String, u64, &'static str)> {
        // Nothing to continue: only the file's state is taken.
        let heads = if after.is_empty() {
            None
        } else {
            file_heads(path, &|b| self.wanted_branch(b)).ok()
        };
        // The file's name is its session's id (the records say it too).
        let mut sessions = BTreeSet::from([file_name_stem(path)]);
        let mut newest = Positions::new();
        for ((session, branch), (n, _)) in heads.iter().flat_map(|h| h.latest.iter()) {
            sessions.insert(session.clone());
            newest.insert(format!("{session}/{branch}"), *n);
        }
        let first = first_line_hash(path);
        let mut out: Vec<(String, u64, &'static str)> = went_back(after, &newest)
            .into_iter()
            .map(|(s, p)| (s, p, RESTART_WENT_BACK))
            .collect();
        // Another file than the one read before (its first line differs):
        // every stream of its sessions starts again, those it holds no
        // record of yet too.
        if let Some(prev) = prev
            && prev.first.is_some()
            && prev.first != first
        {
            let all: BTreeSet<&String> = prev.sessions.iter().chain(sessions.iter()).collect();
            for (stream, &p) in after {
                let ours = all.iter().any(|s| {
                    stream
                        .strip_prefix(s.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
                });
                if ours && !out.iter().any(|(s, ..)| s == stream) {
                    out.push((stream.clone(), p, RESTART_REPLACED));
                }
            }
        }
        self.set_state(
            path,
            FileState {
                at: 0,
                id: Some(id),
                first,
                sessions,
            },
        );
        out
    }
}

impl Source for Sessions {
    fn format(&self) -> Format {
        Format::Sessions
    }

    fn dir(&self) -> &Path {
        &self.store.events_dir
    }

    /// A field path that does not start at the record (`kind.type`,
    /// `branch_id`) is looked up from the record's root: a session record
    /// has no `event`.
    fn adapt_query(&self, mut query: Query) -> Result<Query, JournalError> {
        for f in &mut query.fields {
            if f.path.len() > 1 && f.path[0] == "event" {
                f.path.remove(0);
            }
        }
        Ok(query)
    }

    fn visit(
        &self,
        filter: &dyn RecordFilter,
        direction: Direction,
        visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
        for d in &self.store.irregular {
            if visit(Item::Damage(d.clone())).is_break() {
                return Ok(());
            }
        }
        let newest_first = direction == Direction::NewestFirst;
        let mut readers: Vec<FileReader> = self
            .store
            .files
            .iter()
            .map(|p| FileReader::open(p, newest_first, None))
            .collect();
        let accept = |r: &SourceRecord| {
            self.wanted(r) && filter.prefilter(&r.raw) && filter.matches(&r.as_record())
        };
        let _stopped = merge(&mut readers, newest_first, &accept, visit);
        Ok(())
    }

    /// Reads every session file (new ones too) on from where the last call
    /// (or `heads`) stopped, complete lines only: a line without its `\n`
    /// is a writer mid-append, read whole at a later poll. A file shorter
    /// than that was rewritten (a repair) and is read again from its start;
    /// the positions keep what was handed on from being handed on twice.
    /// Calls must pass positions that only grow (as a follower's do).
    fn visit_after(
        &self,
        after: &Positions,
        filter: &dyn RecordFilter,
        visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
        let Ok(now) = SessionStore::open(&self.store.root) else {
            return Ok(()); // the events directory is gone for now
        };
        // A directory removed and made again holds other files: each is
        // looked at as a replaced one.
        let dir_replaced = {
            let id = std::fs::metadata(&now.events_dir).ok().map(|m| file_id(&m));
            let mut read_in = self.read_in.lock().unwrap_or_else(|e| e.into_inner());
            let replaced = read_in.is_some() && *read_in != id;
            *read_in = id;
            replaced
        };
        // Each file read on from where the last poll stopped, complete
        // lines only, merged by time, one chunk per file in memory; a file
        // not read before, or replaced since, from its start, after asking
        // whether it continues the streams of `after`.
        let mut after = after.clone();
        let mut restarts = Vec::new();
        let mut readers: Vec<FileReader> = Vec::new();
        for path in &now.files {
            let Ok(meta) = std::fs::metadata(path) else {
                continue; // removed since it was listed
            };
            let (len, id) = (meta.len(), file_id(&meta));
            let prev = self.state(path);
            let from = match &prev {
                Some(st) if !dir_replaced && st.id == Some(id) && st.at <= len => st.at,
                _ => {
                    let found = self.restarts_in(path, id, prev.as_ref(), &after);
                    for (stream, ..) in &found {
                        after.remove(stream);
                    }
                    restarts.extend(found);
                    0
                }
            };
            if from < len {
                readers.push(FileReader::open_after(path, from));
            }
        }
        for (stream, p, reason) in restarts {
            let restart = Item::Restart {
                stream,
                after: p,
                reason,
            };
            if visit(restart).is_break() {
                return Ok(());
            }
        }
        let accept = |r: &SourceRecord| {
            self.wanted(r)
                && after
                    .get(&r.position.cursor_stream())
                    .is_none_or(|&p| r.number() > p)
                && filter.prefilter(&r.raw)
                && filter.matches(&r.as_record())
        };
        if merge(&mut readers, false, &accept, visit).is_break() {
            // Read again next time; the positions skip what was handed on.
            return Ok(());
        }
        for reader in &readers {
            self.remember(reader.path(), reader.position(), &BTreeSet::new());
        }
        Ok(())
    }

    fn heads(&self) -> Result<Heads, JournalError> {
        let mut heads = Heads {
            format: Format::Sessions,
            path: self.store.root.clone(),
            streams: Vec::new(),
            problems: self.store.irregular.clone(),
        };
        for path in &self.store.files {
            let file = match file_heads(path, &|b| self.wanted_branch(b)) {
                Ok(file) => file,
                Err(e) => {
                    heads.problems.push(unreadable(path, &e));
                    continue;
                }
            };
            // Says how it was known: from the parsed end and a scan of the
            // rest, or by parsing the whole file.
            let mut extra = BTreeMap::new();
            extra.insert("parsed_bytes".to_owned(), file.parsed.into());
            extra.insert("whole_file_parsed".to_owned(), file.whole.into());
            let sessions = file.latest.keys().map(|(s, _)| s.clone()).collect();
            heads.streams.extend(file.latest.into_iter().map(
                |((session, branch), (sequence, ts))| StreamHead {
                    stream: format!("{session}/{branch}"),
                    position: Some(Position::Session {
                        session,
                        branch,
                        sequence,
                    }),
                    ts: Some(ts),
                    file: Some(path.clone()),
                    extra: extra.clone(),
                },
            ));
            heads.problems.extend(file.problems);
            self.remember(path, file.complete, &sessions);
        }
        Ok(heads)
    }

    fn stats(&self) -> Result<FamilyStats, JournalError> {
        let mut s = FamilyStats {
            format: Some(Format::Sessions),
            path: self.store.root.clone(),
            ..FamilyStats::default()
        };
        let mut sessions = BTreeSet::new();
        let mut streams: BTreeMap<String, StreamStats> = BTreeMap::new();
        s.errors += self.store.irregular.len() as u64;
        s.problems.extend(self.store.irregular.iter().cloned());
        let mut first: Option<(chrono::DateTime<chrono::Utc>, String)> = None;
        let mut last: Option<(chrono::DateTime<chrono::Utc>, String)> = None;
        for path in &self.store.files {
            let name = file_name_stem(path);
            let mut checker = LineChecker::new(path, &name, true);
            let mut on_line = |line: &FileLine| {
                for d in checker.check(line) {
                    match d.severity {
                        Severity::Error => s.errors += 1,
                        Severity::Warning => s.warnings += 1,
                    }
                }
                let Some(head) = line.head() else { return };
                if !self.wanted_branch(&head.branch) {
                    return;
                }
                let kind = head.kind.clone().unwrap_or_default();
                s.events += 1;
                sessions.insert(head.session.clone());
                *s.kinds.entry(kind.clone()).or_insert(0) += 1;
                let name = format!("{}/{}", head.session, head.branch);
                let st = streams.entry(name.clone()).or_insert_with(|| StreamStats {
                    stream: name,
                    ..StreamStats::default()
                });
                st.events += 1;
                *st.kinds.entry(kind).or_insert(0) += 1;
                st.first = Some(st.first.map_or(head.sequence, |f| f.min(head.sequence)));
                st.last = Some(st.last.map_or(head.sequence, |l| l.max(head.sequence)));
                if let Some(ts) = crate::journal::record::parse_ts(&head.timestamp) {
                    if first.as_ref().is_none_or(|(t, _)| ts < *t) {
                        first = Some((ts, head.timestamp.clone()));
                    }
                    if last.as_ref().is_none_or(|(t, _)| ts > *t) {
                        last = Some((ts, head.timestamp.clone()));
                    }
                    let earlier = st
                        .first_ts
                        .as_deref()
                        .and_then(crate::journal::record::parse_ts)
                        .is_none_or(|t| ts < t);
                    if earlier {
                        st.first_ts = Some(head.timestamp.clone());
                    }
                    let later = st
                        .last_ts
                        .as_deref()
                        .and_then(crate::journal::record::parse_ts)
                        .is_none_or(|t| ts > t);
                    if later {
                        st.last_ts = Some(head.timestamp.clone());
                    }
                }
            };
            match each_line(path, &mut on_line) {
                Ok(len) => {
                    s.files += 1;
                    s.bytes += len;
                }
                Err(e) => {
                    s.errors += 1;
                    s.problems.push(unreadable(path, &e));
                }
            }
        }
        s.first_ts = first.map(|(_, t)| t);
        s.last_ts = last.map(|(_, t)| t);
        s.extra.insert("sessions".to_owned(), sessions.len().into());
        s.streams = streams.into_values().collect();
        Ok(s)
    }

    fn verify(&self, opts: &FamilyVerifyOptions) -> Result<FamilyVerify, JournalError> {
        let mut v = FamilyVerify {
            format: Format::Sessions,
            path: self.store.root.clone(),
            checked: Vec::new(),
            records: 0,
            defects: self.store.irregular.clone(),
            notes: Vec::new(),
        };
        for path in &self.store.files {
            let name = file_name_stem(path);
            let mut checker = LineChecker::new(path, &name, true);
            let (mut lines, mut records) = (0u64, 0u64);
            let mut defects = Vec::new();
            let read = each_line(path, &mut |line| {
                lines += 1;
                records += u64::from(line.head().is_some());
                defects.extend(checker.check(line));
            });
            v.defects.extend(defects);
            let bytes = match read {
                Ok(len) => len,
                Err(e) => {
                    // What was read is checked; the file is named unreadable.
                    v.defects.push(unreadable(path, &e));
                    if lines == 0 {
                        continue;
                    }
                    0
                }
            };
            v.records += records;
            let mut extra = BTreeMap::new();
            extra.insert("session".to_owned(), name.clone().into());
            extra.insert("lines".to_owned(), lines.into());
            extra.insert(
                "latest".to_owned(),
                serde_json::to_value(checker.latest()).unwrap_or_default(),
            );
            v.checked.push(Checked {
                name: file_name_lossy(path),
                file: Some(path.clone()),
                bytes,
                records,
                extra,
            });
        }
        if opts.strict {
            for d in &mut v.defects {
                d.severity = Severity::Error;
            }
        }
        Ok(v)
    }

    fn repair(&self, opts: &FamilyRepairOptions) -> Result<FamilyRepair, JournalError> {
        let mut files = Vec::new();
        let mut not_read = Vec::new();
        for path in &self.store.files {
            match SessionFile::read(path) {
                Ok(file) => files.push(file),
                Err(e) => not_read.push(unreadable(path, &e)),
            }
        }
        let mut plan = session_repair::plan(&files, opts.drop_corrupt_lines, opts.force);
        let after = session_repair::after(&files, &plan);
        if !opts.dry_run {
            session_repair::apply(&self.store, &files, &mut plan)?;
        }
        let mut left = self.store.irregular.clone();
        left.extend(not_read);
        left.extend(after.iter().flat_map(SessionFile::defects));
        Ok(FamilyRepair {
            format: Format::Sessions,
            path: self.store.root.clone(),
            dry_run: opts.dry_run,
            steps: plan
                .steps
                .into_iter()
                .map(|s| RepairStep {
                    action: match s.action {
                        Action::CutTornTail => "cut-torn-tail",
                        Action::Unglue => "unglue",
                        Action::DropLine => "drop-line",
                        Action::AddNewline => "add-newline",
                    },
                    kept: match (s.kept_branch, s.kept_sequence) {
                        (Some(branch), Some(sequence)) => Some(Position::Session {
                            session: session_of(&s.file),
                            branch,
                            sequence,
                        }),
                        _ => None,
                    },
                    file: s.file,
                    line: s.line,
                    offset: s.offset,
                    len: s.len,
                    quarantine: s.quarantine,
                })
                .collect(),
            refused: plan
                .refused
                .into_iter()
                .map(|r| {
                    let who: Vec<String> = r
                        .holders
                        .iter()
                        .map(|h| format!("pid {} ({})", h.pid, h.process))
                        .collect();
                    let mut extra = BTreeMap::new();
                    extra.insert(
                        "holders".to_owned(),
                        serde_json::to_value(&r.holders).unwrap_or_default(),
                    );
                    RepairRefusal {
                        reason: format!(
                            "held open by {} (the store takes no lock; stop it, or pass --force)",
                            who.join(", ")
                        ),
                        file: r.file,
                        extra,
                    }
                })
                .collect(),
            left,
        })
    }
}

fn file_name_stem(path: &Path) -> String {
    session_of(path)
}

fn session_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

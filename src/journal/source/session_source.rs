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
use super::reader::{Item, RecordFilter, Source};
use super::session_read::{FileReader, each_line, file_heads, merge};
use super::session_repair::{self, Action};
use super::sessions::{FileLine, LineChecker, SessionFile, SessionStore, unreadable};
use super::{Format, OpenOptions, Position, SourceRecord};
use crate::journal::defect::{DefectKind, Severity};
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
    /// file: the end of its last complete line. A poll reads on from there.
    read_to: Mutex<HashMap<PathBuf, u64>>,
    /// The events directory (device, inode) `read_to` is about: a directory
    /// removed and made again holds new files, read from their start.
    read_in: Mutex<Option<(u64, u64)>>,
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

    fn remember(&self, path: &Path, complete: u64) {
        use std::os::unix::fs::MetadataExt;
        let mut read_in = self.read_in.lock().unwrap_or_else(|e| e.into_inner());
        if read_in.is_none() {
            *read_in = std::fs::metadata(&self.store.events_dir)
                .ok()
                .map(|m| (m.dev(), m.ino()));
        }
        drop(read_in);
        self.read_to
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_owned(), complete);
    }

    fn read_to(&self, path: &Path) -> Option<u64> {
        self.read_to
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .copied()
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
    fn adapt_query(&self, mut query: Query) -> Query {
        for f in &mut query.fields {
            if f.path.len() > 1 && f.path[0] == "event" {
                f.path.remove(0);
            }
        }
        query
    }

    fn visit(
        &self,
        filter: &dyn RecordFilter,
        direction: Direction,
        visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
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
        {
            use std::os::unix::fs::MetadataExt;
            let id = std::fs::metadata(&now.events_dir)
                .ok()
                .map(|m| (m.dev(), m.ino()));
            let mut read_in = self.read_in.lock().unwrap_or_else(|e| e.into_inner());
            if read_in.is_some() && *read_in != id {
                self.read_to
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
            }
            *read_in = id;
        }
        // Each file read on from where the last poll stopped, complete
        // lines only, merged by time, one chunk per file in memory.
        let mut readers: Vec<FileReader> = Vec::new();
        for path in &now.files {
            let Ok(len) = std::fs::metadata(path).map(|m| m.len()) else {
                continue; // removed since it was listed
            };
            let from = self.read_to(path).filter(|&at| at <= len).unwrap_or(0);
            if from < len {
                readers.push(FileReader::open_after(path, from));
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
            self.remember(reader.path(), reader.position());
        }
        Ok(())
    }

    fn heads(&self) -> Result<Heads, JournalError> {
        let mut heads = Heads {
            format: Format::Sessions,
            path: self.store.root.clone(),
            streams: Vec::new(),
            problems: Vec::new(),
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
            self.remember(path, file.complete);
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
            defects: Vec::new(),
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
        let mut left = not_read;
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

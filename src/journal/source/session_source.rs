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
use super::session_repair::{self, Action};
use super::sessions::{FileLine, SessionFile, SessionStore};
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
        })
    }

    fn wanted_branch(&self, branch: &str) -> bool {
        self.branches.is_empty() || self.branches.iter().any(|b| b == branch)
    }

    fn wanted(&self, r: &SourceRecord) -> bool {
        matches!(&r.position, Position::Session { branch, .. } if self.wanted_branch(branch))
    }

    fn remember(&self, path: &Path, complete: u64) {
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

/// The end of the last complete line of `bytes`.
fn complete_len(bytes: &[u8]) -> u64 {
    bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) as u64
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
        let mut records: Vec<SourceRecord> = Vec::new();
        for file in self.store.read_all()? {
            for d in file.defects() {
                if visit(Item::Damage(d)).is_break() {
                    return Ok(());
                }
            }
            records.extend(file.records().filter(|r| {
                self.wanted(r) && filter.prefilter(&r.raw) && filter.matches(&r.as_record())
            }));
        }
        // Oldest first by time, then by stream and sequence (a stable order
        // for equal times).
        records.sort_by_cached_key(|r| (r.as_record().timestamp(), r.stream.clone(), r.number()));
        if direction == Direction::NewestFirst {
            records.reverse();
        }
        for r in &records {
            let record = r.as_record();
            let item = Item::Record {
                position: r.position.clone(),
                record: &record,
                stored: &r.raw,
            };
            if visit(item).is_break() {
                break;
            }
        }
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
        let mut batch: Vec<SourceRecord> = Vec::new();
        let mut read = Vec::new();
        for path in &now.files {
            let Ok(len) = std::fs::metadata(path).map(|m| m.len()) else {
                continue; // removed since it was listed
            };
            let from = self.read_to(path).filter(|&at| at <= len).unwrap_or(0);
            if from == len {
                continue;
            }
            let mut bytes = match SessionFile::read_range(path, from, len) {
                Ok(bytes) => bytes,
                Err(e) => {
                    if visit(Item::Damage(super::sessions::unreadable(path, &e))).is_break() {
                        return Ok(());
                    }
                    continue;
                }
            };
            let complete = complete_len(&bytes);
            bytes.truncate(complete as usize);
            let file = SessionFile::parse_at(path, bytes, from);
            for d in file.line_defects() {
                if visit(Item::Damage(d)).is_break() {
                    return Ok(());
                }
            }
            batch.extend(file.records().filter(|r| {
                self.wanted(r)
                    && after
                        .get(&r.position.cursor_stream())
                        .is_none_or(|&p| r.number() > p)
                    && filter.prefilter(&r.raw)
                    && filter.matches(&r.as_record())
            }));
            read.push((path, from + complete));
        }
        batch.sort_by_cached_key(|r| (r.as_record().timestamp(), r.stream.clone(), r.number()));
        for r in &batch {
            let record = r.as_record();
            let item = Item::Record {
                position: r.position.clone(),
                record: &record,
                stored: &r.raw,
            };
            if visit(item).is_break() {
                // Read again next time; the positions skip what was handed on.
                return Ok(());
            }
        }
        for (path, end) in read {
            self.remember(path, end);
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
            let file = match SessionFile::read(path) {
                Ok(file) => file,
                Err(e) => {
                    heads.problems.push(super::sessions::unreadable(path, &e));
                    continue;
                }
            };
            let mut latest: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
            for head in file.lines.iter().filter_map(FileLine::head) {
                if !self.wanted_branch(&head.branch) {
                    continue;
                }
                let e = latest
                    .entry((head.session.clone(), head.branch.clone()))
                    .or_insert((0, String::new()));
                if head.sequence >= e.0 {
                    *e = (head.sequence, head.timestamp.clone());
                }
            }
            heads.streams.extend(
                latest
                    .into_iter()
                    .map(|((session, branch), (sequence, ts))| StreamHead {
                        stream: format!("{session}/{branch}"),
                        position: Some(Position::Session {
                            session,
                            branch,
                            sequence,
                        }),
                        ts: Some(ts),
                        file: Some(path.clone()),
                        extra: BTreeMap::new(),
                    }),
            );
            if let Some(d) = file
                .defects()
                .into_iter()
                .find(|d| blocks_the_runtime(d.kind))
            {
                heads.problems.push(d);
            }
            self.remember(path, complete_len(&file.bytes));
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
            let file = match SessionFile::read(path) {
                Ok(file) => file,
                Err(e) => {
                    s.errors += 1;
                    s.problems.push(super::sessions::unreadable(path, &e));
                    continue;
                }
            };
            s.files += 1;
            s.bytes += file.bytes.len() as u64;
            for head in file.lines.iter().filter_map(FileLine::head) {
                if !self.wanted_branch(&head.branch) {
                    continue;
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
            }
            for d in file.defects() {
                match d.severity {
                    Severity::Error => s.errors += 1,
                    Severity::Warning => s.warnings += 1,
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
            let file = match SessionFile::read(path) {
                Ok(file) => file,
                Err(e) => {
                    v.defects.push(super::sessions::unreadable(path, &e));
                    continue;
                }
            };
            let records = file.lines.iter().filter_map(FileLine::head).count() as u64;
            v.records += records;
            let mut extra = BTreeMap::new();
            extra.insert("session".to_owned(), file.name.clone().into());
            extra.insert("lines".to_owned(), file.lines.len().into());
            extra.insert(
                "latest".to_owned(),
                serde_json::to_value(file.latest()).unwrap_or_default(),
            );
            v.checked.push(Checked {
                name: file_name_lossy(path),
                file: Some(path.clone()),
                bytes: file.bytes.len() as u64,
                records,
                extra,
            });
            v.defects.extend(file.defects());
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
        let mut unreadable = Vec::new();
        for path in &self.store.files {
            match SessionFile::read(path) {
                Ok(file) => files.push(file),
                Err(e) => unreadable.push(super::sessions::unreadable(path, &e)),
            }
        }
        let mut plan = session_repair::plan(&files, opts.drop_corrupt_lines, opts.force);
        let after = session_repair::after(&files, &plan);
        if !opts.dry_run {
            session_repair::apply(&self.store, &files, &mut plan)?;
        }
        let mut left = unreadable;
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

fn session_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

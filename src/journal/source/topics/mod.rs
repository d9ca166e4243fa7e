//! The per-topic event log (harn-vm), in both its backends: JSONL
//! (`topics/<topic>.jsonl`, `consumers/<topic>__<consumer>.json`,
//! `locks/<topic>.lock`) and SQLite (one WAL-mode database with the same
//! content). Topics are the streams, `topic`+`id` the positions,
//! `occurred_at_ms` the time and `kind` the type.
//!
//! Both backends hand out the same [`TopicEvent`]s: a SQLite row is rendered
//! as the exact line the JSONL backend stores for it, so every read of one
//! backend equals the same read of the other. What is not backend-specific
//! (the merge across topics by time, heads, stats with consumer lag, verify
//! with the provenance chain) is written once here over [`TopicStream`]s.

pub mod chain;
pub mod consumers;
pub mod jsonl;
pub mod repair;
pub mod sqlite;
pub mod verify;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::family::{
    ConsumerLag, FamilyRepair, FamilyRepairOptions, FamilyStats, FamilyVerify, FamilyVerifyOptions,
    Heads, Positions, StreamHead, StreamStats,
};
use super::reader::{Item, RecordFilter, Source};
use super::{Format, Position, SourceRecord};
use crate::journal::defect::{Defect, Severity};
use crate::journal::error::JournalError;
use crate::journal::scan::Direction;
use consumers::Consumer;

/// One event, from either backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicEvent {
    pub topic: String,
    pub id: u64,
    pub kind: String,
    pub occurred_at_ms: i64,
    /// `headers.session_id`, when present (what `--session` matches).
    pub session: Option<String>,
    /// The line the JSONL backend stores for it (as stored, for JSONL).
    pub raw: Vec<u8>,
    pub place: Place,
}

/// Where an event or defect is: a topic file's line, or a database row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: PathBuf,
    /// 1-based, when known (forward reads of a file).
    pub line: Option<u64>,
    /// Where the event starts in the file (inside a glued line: after the
    /// fragment); 0 for a database row.
    pub offset: u64,
    pub len: u64,
}

impl TopicEvent {
    /// The merge order: time, then topic, then id.
    fn key(&self) -> (i64, &str, u64) {
        (self.occurred_at_ms, &self.topic, self.id)
    }

    pub fn position(&self) -> Position {
        Position::Topic {
            topic: self.topic.clone(),
            id: self.id,
        }
    }

    /// The shared model query and render read.
    pub fn source_record(&self) -> SourceRecord {
        SourceRecord {
            position: self.position(),
            ts: Some(rfc3339(self.occurred_at_ms)),
            stream: self.topic.clone(),
            event_type: Some(self.kind.clone()),
            session: self.session.clone(),
            raw: self.raw.clone(),
        }
    }
}

/// `occurred_at_ms` as RFC 3339 with milliseconds, in UTC.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// What a topic's reader hands out, in its direction.
#[derive(Debug)]
pub enum StreamItem {
    Event(TopicEvent),
    Damage(Defect),
    /// An event that is stored under a known id but cannot be read (an
    /// SQLite row whose columns are not the runtime's): damage, which
    /// still holds its id, so a head and an id sequence count it (the
    /// runtime's next event must not take that id).
    DamagedEvent {
        id: u64,
        defect: Defect,
    },
}

/// One topic read in one direction, an item at a time (bounded memory).
pub trait TopicStream {
    fn next_item(&mut self) -> Result<Option<StreamItem>, JournalError>;
}

/// The fields of an event the readers need (the runtime requires the others
/// too, so a line without them is one it cannot parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub id: u64,
    pub kind: String,
    pub occurred_at_ms: i64,
    pub session: Option<String>,
}

#[derive(Deserialize)]
struct Wire<'a> {
    id: u64,
    #[serde(borrow)]
    event: WireEvent<'a>,
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[allow(dead_code)]
    payload: serde::de::IgnoredAny,
    #[serde(borrow)]
    headers: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    occurred_at_ms: i64,
}

/// Parses one line as the runtime's `{"id","event":{..}}` record.
pub fn parse_event(line: &[u8]) -> Result<Head, String> {
    let wire: Wire = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    Ok(Head {
        id: wire.id,
        kind: wire.event.kind.into_owned(),
        occurred_at_ms: wire.event.occurred_at_ms,
        session: wire
            .event
            .headers
            .get("session_id")
            .map(|s| s.clone().into_owned()),
    })
}

/// What one line of a topic file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineBody {
    Event(Head),
    /// A torn fragment, then a complete event, on one line.
    Glued {
        fragment: u64,
        head: Head,
    },
    /// A complete line the runtime cannot parse.
    Unreadable {
        json: bool,
        message: String,
    },
    /// The last bytes of the file, with no `\n`, that do not parse (the
    /// runtime skips them).
    Torn,
    Blank,
}

/// Classifies one line (without its `\n`).
pub fn classify(line: &[u8], terminated: bool) -> LineBody {
    if line.trim_ascii().is_empty() {
        return LineBody::Blank;
    }
    match parse_event(line) {
        Ok(head) => LineBody::Event(head),
        Err(message) => {
            let glued = memchr::memmem::find_iter(line, b"{\"id\":")
                .filter(|&at| at > 0)
                .find_map(|at| parse_event(&line[at..]).ok().map(|h| (at as u64, h)));
            match glued {
                Some((fragment, head)) => LineBody::Glued { fragment, head },
                None if !terminated => LineBody::Torn,
                None => LineBody::Unreadable {
                    json: serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok(),
                    message,
                },
            }
        }
    }
}

/// The per-topic log, either backend, with an optional topic selection.
pub struct TopicLog {
    backend: Backend,
    /// Only these topics (`--topic`); empty for all.
    pub topics: Vec<String>,
    /// A follower's reads: per topic, the newest event the last
    /// [`Source::visit_after`] met (its id and a hash of its line). When the
    /// next poll starts from that id and the topic holds another event
    /// there, or none there but older ones, the topic was emptied and its
    /// ids started again.
    newest_seen: std::sync::Mutex<BTreeMap<String, (u64, u64)>>,
}

fn line_hash(raw: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    raw.hash(&mut h);
    h.finish()
}

enum Backend {
    Jsonl(jsonl::JsonlLog),
    Sqlite(sqlite::SqliteLog),
}

/// A backend opened for one operation (a SQLite connection lives as long as
/// it; every query in it is its own short read transaction).
enum Opened<'a> {
    Jsonl(&'a jsonl::JsonlLog),
    Sqlite(sqlite::Db),
}

impl Opened<'_> {
    fn topic_names(&self) -> Result<Vec<String>, JournalError> {
        match self {
            Opened::Jsonl(log) => Ok(log.topics()?.into_iter().map(|(n, _)| n).collect()),
            Opened::Sqlite(db) => db.topics(),
        }
    }

    fn stream(
        &self,
        topic: &str,
        newest_first: bool,
    ) -> Result<Box<dyn TopicStream + '_>, JournalError> {
        match self {
            Opened::Jsonl(log) => Ok(Box::new(log.stream(topic, newest_first)?)),
            Opened::Sqlite(db) => Ok(Box::new(db.stream(topic, newest_first))),
        }
    }

    fn consumers(&self) -> Result<(Vec<Consumer>, Vec<Defect>), JournalError> {
        match self {
            Opened::Jsonl(log) => log.consumers(),
            Opened::Sqlite(db) => db.consumers(),
        }
    }
}

impl TopicLog {
    /// The JSONL backend rooted at `root` (which holds `topics/`).
    pub fn jsonl(root: &Path, topics: Vec<String>) -> Result<TopicLog, JournalError> {
        Ok(TopicLog {
            backend: Backend::Jsonl(jsonl::JsonlLog::open(root)?),
            topics,
            newest_seen: Default::default(),
        })
    }

    /// The SQLite backend: `path` is the database file, or a directory
    /// holding one.
    pub fn sqlite(path: &Path, topics: Vec<String>) -> Result<TopicLog, JournalError> {
        Ok(TopicLog {
            backend: Backend::Sqlite(sqlite::SqliteLog::find(path)?),
            topics,
            newest_seen: Default::default(),
        })
    }

    /// How long a SQLite query waits for a busy database before it fails
    /// with a clear message (JSONL: no effect).
    pub fn set_busy_wait(&mut self, wait: std::time::Duration) {
        if let Backend::Sqlite(log) = &mut self.backend {
            log.busy_wait = wait;
        }
    }

    /// The JSONL backend, for repair.
    pub fn jsonl_log(&self) -> Option<&jsonl::JsonlLog> {
        match &self.backend {
            Backend::Jsonl(log) => Some(log),
            Backend::Sqlite(_) => None,
        }
    }

    fn open(&self) -> Result<Opened<'_>, JournalError> {
        Ok(match &self.backend {
            Backend::Jsonl(log) => Opened::Jsonl(log),
            Backend::Sqlite(log) => Opened::Sqlite(log.open()?),
        })
    }

    fn path(&self) -> &Path {
        match &self.backend {
            Backend::Jsonl(log) => &log.root,
            Backend::Sqlite(log) => &log.db,
        }
    }

    fn wanted(&self, topic: &str) -> bool {
        self.topics.is_empty() || self.topics.iter().any(|t| t == topic)
    }

    fn selected(&self, opened: &Opened<'_>) -> Result<Vec<String>, JournalError> {
        let mut names = opened.topic_names()?;
        names.retain(|t| self.wanted(t));
        Ok(names)
    }
}

/// Hands `visit` the events of `streams` merged by (time, topic, id), newest
/// or oldest first, with each stream's damage as it is met. One pending event
/// per stream: memory does not grow with the log.
fn merge(
    mut streams: Vec<Box<dyn TopicStream + '_>>,
    newest_first: bool,
    visit: &mut dyn FnMut(StreamItem) -> ControlFlow<()>,
) -> Result<(), JournalError> {
    let mut pending: Vec<Option<TopicEvent>> = Vec::with_capacity(streams.len());
    // Fills stream i's pending event, handing on damage met on the way.
    let fill = |s: &mut Box<dyn TopicStream + '_>,
                visit: &mut dyn FnMut(StreamItem) -> ControlFlow<()>|
     -> Result<ControlFlow<(), Option<TopicEvent>>, JournalError> {
        loop {
            match s.next_item()? {
                None => return Ok(ControlFlow::Continue(None)),
                Some(StreamItem::Event(e)) => return Ok(ControlFlow::Continue(Some(e))),
                Some(damage @ (StreamItem::Damage(_) | StreamItem::DamagedEvent { .. })) => {
                    if visit(damage).is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
            }
        }
    };
    for s in streams.iter_mut() {
        match fill(s, visit)? {
            ControlFlow::Break(()) => return Ok(()),
            ControlFlow::Continue(e) => pending.push(e),
        }
    }
    loop {
        let next = pending
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i, e.key())))
            .reduce(|a, b| {
                let later = b.1 > a.1;
                if later == newest_first { b } else { a }
            })
            .map(|(i, _)| i);
        let Some(i) = next else { return Ok(()) };
        let event = pending[i].take().expect("chosen from the pending events");
        if visit(StreamItem::Event(event)).is_break() {
            return Ok(());
        }
        match fill(&mut streams[i], visit)? {
            ControlFlow::Break(()) => return Ok(()),
            ControlFlow::Continue(e) => pending[i] = e,
        }
    }
}

/// Hands an event to a [`Source`] visitor if the filter accepts it.
fn offer(
    event: &TopicEvent,
    filter: &dyn RecordFilter,
    visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    if !filter.prefilter(&event.raw) {
        return ControlFlow::Continue(());
    }
    let rec = event.source_record();
    let record = rec.as_record();
    if !filter.matches(&record) {
        return ControlFlow::Continue(());
    }
    visit(Item::Record {
        position: rec.position.clone(),
        record: &record,
        stored: &rec.raw,
    })
}

impl Source for TopicLog {
    fn format(&self) -> Format {
        match self.backend {
            Backend::Jsonl(_) => Format::TopicsJsonl,
            Backend::Sqlite(_) => Format::TopicsSqlite,
        }
    }

    fn dir(&self) -> &Path {
        self.path()
    }

    /// JSONL: `topics/` (its files are appended there); SQLite: the
    /// database's directory (a WAL-mode write changes `-wal` beside it).
    fn watch_paths(&self) -> Vec<PathBuf> {
        match &self.backend {
            Backend::Jsonl(log) => vec![log.root.join("topics")],
            Backend::Sqlite(log) => {
                vec![
                    log.db
                        .parent()
                        .map_or_else(|| PathBuf::from("."), Path::to_owned),
                ]
            }
        }
    }

    fn visit(
        &self,
        filter: &dyn RecordFilter,
        direction: Direction,
        visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
        let opened = self.open()?;
        // Topic files that cannot be read are said before any event, as a
        // per-session store's are: never a silently shorter answer.
        if let Opened::Jsonl(j) = &opened {
            for d in j.irregular() {
                if visit(Item::Damage(d)).is_break() {
                    return Ok(());
                }
            }
        }
        let newest_first = direction == Direction::NewestFirst;
        let streams = self
            .selected(&opened)?
            .iter()
            .map(|t| opened.stream(t, newest_first))
            .collect::<Result<Vec<_>, _>>()?;
        merge(streams, newest_first, &mut |item| match item {
            StreamItem::Damage(d) | StreamItem::DamagedEvent { defect: d, .. } => {
                visit(Item::Damage(d))
            }
            StreamItem::Event(e) => offer(&e, filter, visit),
        })
    }

    /// Per topic, the events above its entry in `after` (read from the
    /// topic's end back to that entry, so a poll costs what is new), merged
    /// oldest first by time. A topic that went back is an
    /// [`Item::Restart`], then read from its start: its newest id is below
    /// its entry (the runtime's compaction deleted it and ids restarted at
    /// 1), or it holds another event at its entry than the one the last
    /// poll met there, or none there but older ones (recreated and grown
    /// past the entry between two polls). A torn last line is a write in
    /// progress here, not damage. Topics that appear later are read from
    /// their start.
    fn visit_after(
        &self,
        after: &Positions,
        filter: &dyn RecordFilter,
        visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
        let opened = self.open()?;
        let mut damage = Vec::new();
        let mut fresh: Vec<Vec<TopicEvent>> = Vec::new();
        let mut restarts = Vec::new();
        let seen = self
            .newest_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut newest_now = BTreeMap::new();
        for topic in self.selected(&opened)? {
            let bound = after.get(&topic).copied();
            // The event the last poll met at the bound, when it is the one.
            let known = seen
                .get(&topic)
                .filter(|(id, _)| Some(*id) == bound)
                .map(|&(_, hash)| hash);
            let mut stream = opened.stream(&topic, true)?;
            let mut events = Vec::new();
            let mut newest = None;
            let mut restarted = None;
            while let Some(item) = stream.next_item()? {
                match item {
                    StreamItem::Damage(d)
                        if d.kind == crate::journal::defect::DefectKind::TornTail => {}
                    StreamItem::Damage(d) | StreamItem::DamagedEvent { defect: d, .. } => {
                        damage.push(d)
                    }
                    StreamItem::Event(e) => {
                        if newest.is_none() {
                            newest = Some(e.id);
                            newest_now.insert(topic.clone(), (e.id, line_hash(&e.raw)));
                        }
                        let top = newest.unwrap_or(e.id);
                        if let Some(b) = bound
                            && restarted.is_none()
                        {
                            if top < b {
                                restarted = Some((b, super::reader::RESTART_WENT_BACK));
                            } else if e.id <= b {
                                let other = match known {
                                    Some(hash) => e.id < b || line_hash(&e.raw) != hash,
                                    None => false,
                                };
                                if !other {
                                    break;
                                }
                                restarted = Some((b, super::reader::RESTART_REPLACED));
                            }
                        }
                        events.push(e);
                    }
                }
            }
            if let Some((b, reason)) = restarted {
                restarts.push((topic.clone(), b, reason));
            }
            events.reverse();
            fresh.push(events);
        }
        *self.newest_seen.lock().unwrap_or_else(|e| e.into_inner()) = newest_now;
        for (stream, after, reason) in restarts {
            let restart = Item::Restart {
                stream,
                after,
                reason,
            };
            if visit(restart).is_break() {
                return Ok(());
            }
        }
        for d in damage {
            if visit(Item::Damage(d)).is_break() {
                return Ok(());
            }
        }
        let streams: Vec<Box<dyn TopicStream>> = fresh
            .into_iter()
            .map(|v| Box::new(VecStream(v.into_iter())) as Box<dyn TopicStream>)
            .collect();
        merge(streams, false, &mut |item| match item {
            StreamItem::Damage(d) | StreamItem::DamagedEvent { defect: d, .. } => {
                visit(Item::Damage(d))
            }
            StreamItem::Event(e) => offer(&e, filter, visit),
        })
    }

    fn heads(&self) -> Result<Heads, JournalError> {
        let opened = self.open()?;
        let mut streams = Vec::new();
        let mut problems = match &opened {
            Opened::Jsonl(j) => j.irregular(),
            Opened::Sqlite(_) => Vec::new(),
        };
        let table = match &opened {
            Opened::Sqlite(db) => Some(db.topic_heads()?),
            Opened::Jsonl(_) => None,
        };
        for topic in self.selected(&opened)? {
            let mut stream = opened.stream(&topic, true)?;
            let mut head = None;
            // Stored events newer than the newest readable one.
            let mut damaged_top: Option<u64> = None;
            while let Some(item) = stream.next_item()? {
                match item {
                    StreamItem::Damage(d) => problems.push(d),
                    StreamItem::DamagedEvent { id, defect } => {
                        damaged_top = damaged_top.max(Some(id));
                        problems.push(defect);
                    }
                    StreamItem::Event(e) => {
                        head = Some(e);
                        break;
                    }
                }
            }
            // The head is the largest id stored, readable or not: a writer
            // that continues from a lower one would collide with it.
            let head_id = head.as_ref().map(|e| e.id).max(damaged_top);
            let head_event = head.as_ref().filter(|e| Some(e.id) == head_id);
            let mut extra = BTreeMap::new();
            let file = match &self.backend {
                Backend::Jsonl(log) => Some(log.topic_path(&topic)),
                Backend::Sqlite(_) => None,
            };
            if let (Some(table), Opened::Sqlite(db)) = (&table, &opened) {
                // An unreadable last_id is said once, with nothing to compare.
                match table.get(&topic).map(Result::as_ref).transpose() {
                    Err(d) => {
                        extra.insert("topic_heads_last_id".to_owned(), serde_json::Value::Null);
                        problems.push(d.clone());
                    }
                    Ok(last_id) => {
                        let last_id = last_id.copied();
                        extra.insert("topic_heads_last_id".to_owned(), serde_json::json!(last_id));
                        if let Some(d) =
                            sqlite::head_disagreement(&db.path, &topic, last_id, head_id)
                        {
                            problems.push(d);
                        }
                    }
                }
            }
            streams.push(StreamHead {
                position: head_id.map(|id| Position::Topic {
                    topic: topic.clone(),
                    id,
                }),
                stream: topic,
                // A head that cannot be read has no time to tell.
                ts: head_event.map(|e| rfc3339(e.occurred_at_ms)),
                file,
                extra,
            });
        }
        Ok(Heads {
            format: self.format(),
            path: self.path().to_owned(),
            streams,
            problems,
        })
    }

    fn stats(&self) -> Result<FamilyStats, JournalError> {
        let opened = self.open()?;
        let (consumers, consumer_defects) = opened.consumers()?;
        let mut stats = FamilyStats {
            format: Some(self.format()),
            path: self.path().to_owned(),
            ..FamilyStats::default()
        };
        let mut defects = consumer_defects;
        match &opened {
            Opened::Jsonl(j) => defects.extend(j.irregular()),
            // A head the runtime cannot read is damage of its topic, as an
            // unreadable cursor is (comparing heads is verify's).
            Opened::Sqlite(db) => defects.extend(
                db.topic_heads()?
                    .into_iter()
                    .filter(|(topic, _)| self.wanted(topic))
                    .filter_map(|(_, last_id)| last_id.err()),
            ),
        }
        for topic in self.selected(&opened)? {
            // The times of the events consumers' cursors point at.
            let cursors: Vec<u64> = consumers
                .iter()
                .filter(|c| c.topic == topic)
                .map(|c| c.cursor)
                .collect();
            let mut at_cursor: BTreeMap<u64, i64> = BTreeMap::new();
            let mut ids: Vec<u64> = Vec::new();
            let mut s = StreamStats {
                stream: topic.clone(),
                ..StreamStats::default()
            };
            let mut last_ms = None;
            let mut stream = opened.stream(&topic, false)?;
            while let Some(item) = stream.next_item()? {
                let e = match item {
                    StreamItem::Damage(d) => {
                        defects.push(d);
                        continue;
                    }
                    // Not an event to count, but its id is stored: the
                    // head consumers lag behind takes it.
                    StreamItem::DamagedEvent { id, defect } => {
                        defects.push(defect);
                        s.last = s.last.max(Some(id));
                        continue;
                    }
                    StreamItem::Event(e) => e,
                };
                s.events += 1;
                *s.kinds.entry(e.kind.clone()).or_default() += 1;
                *stats.kinds.entry(e.kind.clone()).or_default() += 1;
                s.first.get_or_insert(e.id);
                s.last = Some(e.id);
                let ts = rfc3339(e.occurred_at_ms);
                s.first_ts.get_or_insert_with(|| ts.clone());
                s.last_ts = Some(ts);
                last_ms = Some(e.occurred_at_ms);
                if cursors.contains(&e.id) {
                    at_cursor.insert(e.id, e.occurred_at_ms);
                }
                if !cursors.is_empty() {
                    ids.push(e.id);
                }
            }
            stats.events += s.events;
            for c in consumers.iter().filter(|c| c.topic == topic) {
                let head = s.last.unwrap_or(0);
                stats.consumers.push(ConsumerLag {
                    topic: topic.clone(),
                    consumer: c.consumer_id.clone(),
                    cursor: c.cursor,
                    head,
                    lag_events: ids.iter().filter(|&&id| id > c.cursor).count() as u64,
                    lag_ms: at_cursor
                        .get(&c.cursor)
                        .zip(last_ms)
                        .map(|(at, last)| last - at),
                    updated_at_ms: c.updated_at_ms,
                });
            }
            stats.streams.push(s);
        }
        // Consumers of topics that hold no event (a compaction deleted the
        // file, or the topic was never written).
        for c in &consumers {
            if self.wanted(&c.topic) && !stats.streams.iter().any(|s| s.stream == c.topic) {
                stats.consumers.push(ConsumerLag {
                    topic: c.topic.clone(),
                    consumer: c.consumer_id.clone(),
                    cursor: c.cursor,
                    head: 0,
                    lag_events: 0,
                    lag_ms: None,
                    updated_at_ms: c.updated_at_ms,
                });
            }
        }
        stats.first_ts = stats
            .streams
            .iter()
            .filter_map(|s| s.first_ts.clone())
            .min();
        stats.last_ts = stats.streams.iter().filter_map(|s| s.last_ts.clone()).max();
        match &opened {
            Opened::Jsonl(log) => {
                for topic in &stats.streams {
                    if let Ok(m) = std::fs::metadata(log.topic_path(&topic.stream)) {
                        stats.files += 1;
                        stats.bytes += m.len();
                    }
                }
            }
            Opened::Sqlite(db) => {
                stats.files = 1;
                stats.bytes = std::fs::metadata(&db.path).map(|m| m.len()).unwrap_or(0);
            }
        }
        // An unreadable topic file: its events are not counted.
        stats.problems = defects
            .iter()
            .filter(|d| d.kind == crate::journal::defect::DefectKind::Unreadable)
            .cloned()
            .collect();
        stats.errors = defects
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count() as u64;
        stats.warnings = defects.len() as u64 - stats.errors;
        Ok(stats)
    }

    fn verify(&self, opts: &FamilyVerifyOptions) -> Result<FamilyVerify, JournalError> {
        let opened = self.open()?;
        verify::verify(self, &opened, opts)
    }

    fn repair(&self, opts: &FamilyRepairOptions) -> Result<FamilyRepair, JournalError> {
        match &self.backend {
            Backend::Jsonl(log) => repair::repair(log, &self.topics, opts),
            Backend::Sqlite(log) => Err(JournalError::Unsupported {
                path: log.db.clone(),
                format: Format::TopicsSqlite.name(),
                what: "repair",
                why: Some(
                    "a SQLite database is left to SQLite (its own journal recovers a crash); \
                     nothing was read or changed"
                        .to_owned(),
                ),
            }),
        }
    }
}

/// Already-read events as a stream.
struct VecStream(std::vec::IntoIter<TopicEvent>);

impl TopicStream for VecStream {
    fn next_item(&mut self) -> Result<Option<StreamItem>, JournalError> {
        Ok(self.0.next().map(StreamItem::Event))
    }
}

#[cfg(test)]
mod tests;

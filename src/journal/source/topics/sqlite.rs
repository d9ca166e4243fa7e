//! The SQLite backend, read-only and without disturbing the runtime.
//!
//! How the database is opened depends on what lies beside it:
//! - no `-wal`: nothing is in a write-ahead log, so the file is opened
//!   `immutable=1`: SQLite takes no lock and creates no `-wal`/`-shm` (a
//!   support engineer's copy comes back byte-identical);
//! - `-wal` and `-shm` both there and another process holding one of the
//!   three files open (a live runtime, found through `/proc/*/fd`; this
//!   process counts, for a runtime using the library in-process): an
//!   ordinary read-only open, which shares the runtime's wal-index, never
//!   checkpoints and never deletes the log on close;
//! - a `-wal` that no process holds (a copy, or a runtime that crashed),
//!   with or without its `-shm`: a read-only open would create the `-shm` or
//!   rebuild the one there (SQLite's wal-index recovery rewrites it), so a
//!   temporary copy of the database and its log is read instead, and the
//!   files given come back byte-identical.
//!
//! Every query is its own short read transaction (statements are finished
//! before their rows are handed on), so the runtime's
//! `wal_checkpoint(FULL)` never waits on this reader across a follow's
//! sleep. A busy database gets SQLite's bounded retry, then a clear error.

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags};

use super::consumers::Consumer;
use super::{LineBody, Place, StreamItem, TopicEvent, TopicStream, classify};
use crate::journal::defect::{Defect, DefectKind};
use crate::journal::error::JournalError;
use crate::journal::holders::holders_of_any;

/// How long a query waits for a busy database before giving up.
pub const BUSY_WAIT: Duration = Duration::from_secs(5);
/// Rows read per query.
const PAGE: i64 = 512;

/// A SQLite per-topic log: its database file.
#[derive(Debug, Clone)]
pub struct SqliteLog {
    pub db: PathBuf,
    /// How long a query waits for a busy database ([`BUSY_WAIT`] by default).
    pub busy_wait: Duration,
}

impl SqliteLog {
    /// `path` itself when it is a file, else the event-log database in it.
    pub fn find(path: &Path) -> Result<SqliteLog, JournalError> {
        if path.is_file() {
            return Ok(SqliteLog {
                db: path.to_owned(),
                busy_wait: BUSY_WAIT,
            });
        }
        let mut files: Vec<PathBuf> = fs::read_dir(path)
            .map_err(|e| JournalError::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && crate::journal::source::is_event_log_sqlite(p))
            .collect();
        files.sort();
        files
            .into_iter()
            .next()
            .map(|db| SqliteLog {
                db,
                busy_wait: BUSY_WAIT,
            })
            .ok_or_else(|| {
                JournalError::io(
                    path,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no SQLite database with the event log's tables (topic_heads, events)",
                    ),
                )
            })
    }

    /// Opens the database for one operation (see the module's rules).
    pub fn open(&self) -> Result<Db, JournalError> {
        let wal = sidecar(&self.db, "-wal");
        let shm = sidecar(&self.db, "-shm");
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if !wal.exists() {
            let uri = format!("file:{}?immutable=1", uri_path(&self.db));
            let conn = Connection::open_with_flags(&uri, flags)
                .map_err(|e| db_err(&self.db, e, self.busy_wait))?;
            return Db::new(&self.db, conn, None, self.busy_wait);
        }
        if shm.exists() && !holders_of_any(&[&self.db, &wal, &shm], true).is_empty() {
            let shared = Connection::open_with_flags(&self.db, flags).and_then(|conn| {
                conn.busy_timeout(self.busy_wait)?;
                // The wal-index may be unusable read-only: try a read.
                conn.query_row("SELECT count(*) FROM topic_heads", [], |_| Ok(()))?;
                Ok(conn)
            });
            match shared {
                Ok(conn) => return Db::new(&self.db, conn, None, self.busy_wait),
                Err(e) if is_busy(&e) => return Err(db_err(&self.db, e, self.busy_wait)),
                // Read a private copy instead.
                Err(_) => {}
            }
        }
        let copy = TempCopy::of(&self.db, &[&wal])?;
        let conn = Connection::open_with_flags(copy.db(&self.db), flags)
            .map_err(|e| db_err(&self.db, e, self.busy_wait))?;
        Db::new(&self.db, conn, Some(copy), self.busy_wait)
    }
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The path as a `file:` URI's path: `%`, `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = String::new();
    for c in abs.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// A private copy of a database and its log, removed when dropped.
struct TempCopy {
    dir: PathBuf,
}

impl TempCopy {
    fn of(db: &Path, sidecars: &[&Path]) -> Result<TempCopy, JournalError> {
        use std::os::unix::fs::DirBuilderExt;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "journal-sqlite-copy-{}-{stamp}",
            std::process::id()
        ));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| JournalError::io(&dir, e))?;
        let copy = TempCopy { dir };
        for src in std::iter::once(db).chain(sidecars.iter().copied()) {
            let name = src.file_name().unwrap_or_default();
            fs::copy(src, copy.dir.join(name)).map_err(|e| JournalError::io(src, e))?;
        }
        Ok(copy)
    }

    fn db(&self, original: &Path) -> PathBuf {
        self.dir.join(original.file_name().unwrap_or_default())
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// A SQLite error as the command says it: a busy database plainly.
pub fn db_err(db: &Path, e: rusqlite::Error, waited: Duration) -> JournalError {
    let msg = if is_busy(&e) {
        format!(
            "the database stayed busy (locked by another process) for {}; nothing was read \
             or changed: try again",
            humantime::format_duration(waited)
        )
    } else {
        format!("SQLite: {e}")
    };
    JournalError::io(db, std::io::Error::other(msg))
}

/// An open database, for one operation.
pub struct Db {
    /// The original database's path (what is reported).
    pub path: PathBuf,
    conn: Rc<Connection>,
    busy_wait: Duration,
    /// Dropped after the connection.
    _copy: Option<TempCopy>,
}

impl Db {
    fn new(
        path: &Path,
        conn: Connection,
        copy: Option<TempCopy>,
        busy_wait: Duration,
    ) -> Result<Db, JournalError> {
        let err = |e| db_err(path, e, busy_wait);
        conn.busy_timeout(busy_wait).map_err(err)?;
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(err)?;
        conn.pragma_update(None, "query_only", true).map_err(err)?;
        Ok(Db {
            path: path.to_owned(),
            conn: Rc::new(conn),
            busy_wait,
            _copy: copy,
        })
    }

    fn err(&self, e: rusqlite::Error) -> JournalError {
        db_err(&self.path, e, self.busy_wait)
    }

    /// Every topic with an event or a `topic_heads` row, sorted by bytes.
    pub fn topics(&self) -> Result<Vec<String>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT topic FROM events GROUP BY topic \
                 UNION SELECT topic FROM topic_heads ORDER BY 1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// `topic_heads`: topic → last_id.
    pub fn topic_heads(&self) -> Result<TopicHeads, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT topic, last_id FROM topic_heads")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let topic = text_of(r.get_ref(0)?);
                let last_id = match r.get_ref(1)? {
                    ValueRef::Integer(id) if id >= 0 => Ok(id as u64),
                    v => Err(Defect::new(
                        DefectKind::NotEventRecord,
                        &self.path,
                        0,
                        0,
                        format!(
                            "topic_heads row of topic {topic}: last_id is {}, not an id (an \
                             integer from 0); the runtime cannot read this topic's head",
                            describe_id(v)
                        ),
                    )),
                };
                Ok((topic, last_id))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The `consumers` table, by topic and consumer; a row whose columns
    /// are not the runtime's is a defect instead (the runtime cannot load
    /// that consumer), as an unreadable cursor file is in the JSONL backend.
    pub fn consumers(&self) -> Result<(Vec<Consumer>, Vec<Defect>), JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT topic, consumer_id, cursor, updated_at_ms FROM consumers \
                 ORDER BY topic, consumer_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let topic = text_of(r.get_ref(0)?);
                let consumer_id = text_of(r.get_ref(1)?);
                let bad = |column: &str, v: ValueRef<'_>| {
                    Defect::new(
                        DefectKind::NotEventRecord,
                        &self.path,
                        0,
                        0,
                        format!(
                            "consumers row ({topic}, {consumer_id}): {column} is {}, not an \
                             integer; the runtime cannot load this consumer",
                            describe_id(v)
                        ),
                    )
                };
                let cursor = match r.get_ref(2)? {
                    ValueRef::Integer(c) => c.max(0) as u64,
                    v => return Ok(Err(bad("cursor", v))),
                };
                let updated_at_ms = match r.get_ref(3)? {
                    ValueRef::Integer(ms) => ms,
                    v => return Ok(Err(bad("updated_at_ms", v))),
                };
                Ok(Ok(Consumer {
                    topic,
                    consumer_id,
                    cursor,
                    updated_at_ms: Some(updated_at_ms),
                    file: None,
                }))
            })
            .map_err(|e| self.err(e))?;
        let mut consumers = Vec::new();
        let mut defects = Vec::new();
        for row in rows {
            match row.map_err(|e| self.err(e))? {
                Ok(c) => consumers.push(c),
                Err(d) => defects.push(d),
            }
        }
        Ok((consumers, defects))
    }

    /// `PRAGMA quick_check`: what it finds wrong (empty when "ok").
    pub fn quick_check(&self) -> Result<Vec<String>, JournalError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA quick_check")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let out: Vec<String> = rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?;
        Ok(out.into_iter().filter(|r| r != "ok").collect())
    }

    /// `topic`'s rows, newest or oldest first, a page per query.
    pub fn stream(&self, topic: &str, newest_first: bool) -> SqlStream {
        SqlStream {
            conn: Rc::clone(&self.conn),
            busy_wait: self.busy_wait,
            path: self.path.clone(),
            topic: topic.to_owned(),
            newest_first,
            bound: None,
            queue: VecDeque::new(),
            done: false,
        }
    }
}

/// One topic's rows, read a page at a time (each page its own statement).
pub struct SqlStream {
    conn: Rc<Connection>,
    busy_wait: Duration,
    path: PathBuf,
    topic: String,
    newest_first: bool,
    /// Ids beyond this one (the last page's last, as stored: of any type)
    /// are still to read; `None` before the first page. SQLite orders every
    /// value (integers and reals by value, then text, then blobs), so the
    /// pages visit every row once, whatever its id's type.
    bound: Option<Value>,
    queue: VecDeque<StreamItem>,
    done: bool,
}

struct Row {
    /// The id, or what it is instead of an integer from 0.
    id: Result<i64, String>,
    /// The id as stored, for the next page's bound.
    key: Value,
    kind: String,
    payload: Vec<u8>,
    headers: String,
    occurred_at_ms: i64,
    /// A column whose type is not the runtime's (it cannot read the row).
    bad_column: Option<String>,
}

impl SqlStream {
    fn read_page(&mut self) -> Result<(), JournalError> {
        // A page of rows in id order from just past the bound; the first
        // page has no bound (one of i64::MAX left out an event of that id,
        // and every id stored as text or a blob).
        macro_rules! page {
            ($bounded:literal, $order:literal) => {
                concat!(
                    "SELECT event_id, kind, payload, headers, occurred_at_ms FROM events \
                     WHERE topic = ?1 AND ",
                    $bounded,
                    " ORDER BY event_id ",
                    $order,
                    " LIMIT ?3"
                )
            };
        }
        let sql = match (self.newest_first, self.bound.is_some()) {
            (true, true) => page!("event_id < ?2", "DESC"),
            (false, true) => page!("event_id > ?2", "ASC"),
            (true, false) => page!("?2 IS NULL", "DESC"),
            (false, false) => page!("?2 IS NULL", "ASC"),
        };
        let err = |e| db_err(&self.path, e, self.busy_wait);
        let rows: Vec<Row> = {
            let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
            let rows = stmt
                .query_map(rusqlite::params![self.topic, self.bound, PAGE], |r| {
                    let stored_id = r.get_ref(0)?;
                    let id = match stored_id {
                        ValueRef::Integer(id) if id >= 0 => Ok(id),
                        other => Err(describe_id(other)),
                    };
                    let key = Value::from(stored_id);
                    let bytes = |v: ValueRef<'_>| match v {
                        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
                        ValueRef::Integer(i) => i.to_string().into_bytes(),
                        ValueRef::Real(f) => f.to_string().into_bytes(),
                        ValueRef::Null => b"null".to_vec(),
                    };
                    // A kind or time of another type makes the row damage,
                    // not the read's end: the rest of the topic is still read.
                    let mut bad_column = None;
                    let kind = match r.get_ref(1)? {
                        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        v => {
                            bad_column = Some(format!("kind is {}, not text", type_name(v)));
                            String::new()
                        }
                    };
                    let occurred_at_ms = match r.get_ref(4)? {
                        ValueRef::Integer(ms) => ms,
                        v => {
                            bad_column.get_or_insert_with(|| {
                                format!("occurred_at_ms is {}, not an integer", type_name(v))
                            });
                            0
                        }
                    };
                    Ok(Row {
                        id,
                        key,
                        kind,
                        payload: bytes(r.get_ref(2)?),
                        headers: String::from_utf8_lossy(&bytes(r.get_ref(3)?)).into_owned(),
                        occurred_at_ms,
                        bad_column,
                    })
                })
                .map_err(err)?;
            rows.collect::<Result<_, _>>().map_err(err)?
        };
        if (rows.len() as i64) < PAGE {
            self.done = true;
        }
        if let Some(last) = rows.last() {
            self.bound = Some(last.key.clone());
        }
        for row in rows {
            self.queue.push_back(self.item(row));
        }
        Ok(())
    }

    /// The row as the event the JSONL backend would store for it.
    fn item(&self, row: Row) -> StreamItem {
        let row_id = match row.id {
            Ok(id) => id,
            // No id to count in a head or a sequence: damage of the topic.
            Err(what) => {
                return StreamItem::Damage(Defect::new(
                    DefectKind::NotEventRecord,
                    &self.path,
                    0,
                    0,
                    format!(
                        "events row of topic {}: event_id is {what}, not an id (an integer from \
                         0); the runtime cannot read topic {} at this row",
                        self.topic, self.topic
                    ),
                ));
            }
        };
        let id = row_id as u64;
        let damaged = |what: String| StreamItem::DamagedEvent {
            id,
            defect: Defect {
                seq_after: Some(id),
                ..Defect::new(
                    DefectKind::NotEventRecord,
                    &self.path,
                    0,
                    0,
                    format!(
                        "events row ({}, {}): {what}; the runtime cannot read topic {} at this \
                         event",
                        self.topic, row_id, self.topic
                    ),
                )
            },
        };
        if let Some(what) = &row.bad_column {
            return damaged(what.clone());
        }
        let raw = line_of(
            row_id,
            &row.kind,
            &row.payload,
            &row.headers,
            row.occurred_at_ms,
        );
        match classify(&raw, true) {
            LineBody::Event(head) if head.id == row_id as u64 => StreamItem::Event(TopicEvent {
                topic: self.topic.clone(),
                id: head.id,
                kind: head.kind,
                occurred_at_ms: head.occurred_at_ms,
                session: head.session,
                raw,
                place: Place {
                    file: self.path.clone(),
                    line: None,
                    offset: 0,
                    len: 0,
                },
            }),
            _ => {
                let why = match super::parse_event(&raw) {
                    Err(e) => e,
                    Ok(_) => "malformed".to_owned(),
                };
                damaged(format!(
                    "payload or headers are not the runtime's JSON ({why})"
                ))
            }
        }
    }
}

impl TopicStream for SqlStream {
    fn next_item(&mut self) -> Result<Option<StreamItem>, JournalError> {
        if self.queue.is_empty() && !self.done {
            self.read_page()?;
        }
        Ok(self.queue.pop_front())
    }
}

/// `topic_heads`: each topic's `last_id`, or why the runtime cannot read it.
pub type TopicHeads = BTreeMap<String, Result<u64, Defect>>;

/// A text column as text (another type lossily, as a message shows it).
fn text_of(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Null => "null".to_owned(),
    }
}

/// An id column's value that is not an integer from 0, for a message: its
/// type and (cut short) its value.
fn describe_id(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "null".to_owned(),
        ValueRef::Integer(i) => format!("the negative integer {i}"),
        ValueRef::Real(f) => format!("the real {f}"),
        ValueRef::Text(t) => {
            let t = String::from_utf8_lossy(t);
            let cut: String = t.chars().take(40).collect();
            let more = if cut.len() < t.len() { "..." } else { "" };
            format!("the text {cut:?}{more}")
        }
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

/// A value's SQLite storage class, as SQLite's documentation names it.
fn type_name(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "null",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

/// The line the JSONL backend stores for an event (the runtime's
/// `{"id","event":{"kind","payload","headers","occurred_at_ms"}}`), built
/// from a row's columns (payload and headers are stored as that JSON text).
pub fn line_of(id: i64, kind: &str, payload: &[u8], headers: &str, occurred_at_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + headers.len() + kind.len() + 80);
    out.extend_from_slice(format!("{{\"id\":{id},\"event\":{{\"kind\":").as_bytes());
    serde_json::to_writer(&mut out, kind).expect("writing to a Vec");
    out.extend_from_slice(b",\"payload\":");
    out.extend_from_slice(payload);
    out.extend_from_slice(b",\"headers\":");
    out.extend_from_slice(headers.as_bytes());
    out.extend_from_slice(format!(",\"occurred_at_ms\":{occurred_at_ms}}}}}").as_bytes());
    out
}

/// `topic_heads.last_id` against the largest `event_id`: the runtime numbers
/// its next event `last_id + 1`.
pub fn head_disagreement(
    db: &Path,
    topic: &str,
    last_id: Option<u64>,
    max_id: Option<u64>,
) -> Option<Defect> {
    if last_id == max_id {
        return None;
    }
    let show = |v: Option<u64>| v.map_or("none".to_owned(), |v| v.to_string());
    let consequence = match (last_id, max_id) {
        (Some(l), Some(m)) if l < m => format!(
            "the runtime will number its next event {} and collide with the stored one",
            l + 1
        ),
        (Some(l), _) => format!(
            "ids {}..={l} are missing from events (lost, or removed behind the runtime's back)",
            max_id.map_or(1, |m| m + 1)
        ),
        (None, _) => "the topic has events but no topic_heads row".to_owned(),
    };
    Some(Defect {
        seq_before: last_id,
        seq_after: max_id,
        ..Defect::new(
            DefectKind::HeadMismatch,
            db,
            0,
            0,
            format!(
                "topic {topic}: topic_heads.last_id is {} but the largest event_id is {}: {consequence}",
                show(last_id),
                show(max_id)
            ),
        )
    })
}

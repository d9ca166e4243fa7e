//! The redb runtime journal (camel-core, redb 4.x): one database file whose
//! table `events` maps a `u64` key to the JSON bytes of
//! `{"seq":N,"timestamp_ms":T,"event":{"<Variant>":{...}}}`.
//!
//! Guarantees:
//! - The file given is never written. It is opened with redb's
//!   `ReadOnlyDatabase` (a shared `flock`, no write), and only for the moment
//!   of each read: values are read in batches and the file is closed between
//!   them, because while a reader holds it the runtime's own open fails (it
//!   retries for 10 s). A file a writer holds ([`JournalError::DatabaseHeld`])
//!   or that needs redb's repair pass, which writes
//!   ([`JournalError::NeedsRepair`]), is refused with a message offering
//!   `--snapshot`.
//! - `--snapshot` copies the file to a temporary directory and reads the copy
//!   (redb may repair the copy); the copy is taken again when the original
//!   changed since, at the start of each operation (each `tail -f` poll).
//! - The key is the position ([`Position::Key`]), `timestamp_ms` the time,
//!   the variant the type and `route_id` the stream. Newest first iterates the
//!   table backwards, so `inspect -n 20` costs the same on any table size.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ::redb::{
    Builder, Database, DatabaseError, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, TableDefinition, TableError,
};

use super::family::{
    Checked, FamilyStats, FamilyVerify, FamilyVerifyOptions, Heads, Note, Positions, StreamHead,
    StreamStats,
};
use super::reader::{Item, RecordFilter, Source};
use super::{Format, OpenOptions, Position, REDB_MAGIC, SourceRecord};
use crate::journal::defect::{Defect, DefectKind};
use crate::journal::error::JournalError;
use crate::journal::scan::Direction;

/// The runtime's table of events.
pub const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");

/// The name of the journal's one cursor stream (see [`Position::cursor_stream`]).
pub const CURSOR_STREAM: &str = "events";

/// redb's page cache for one read: the reads here are short and mostly
/// sequential, and the default (1 GiB) is far more than they need.
const CACHE_BYTES: usize = 16 << 20;

/// The first batch of a read is small (an `inspect -n 20` reads one), later
/// ones grow to this many values per opening of the file.
const FIRST_BATCH: usize = 32;

/// How long a follow's poll waits for a runtime that holds the file for a
/// moment, and how often it tries again meanwhile.
const HELD_PATIENCE: Duration = Duration::from_secs(2);
const HELD_RETRY: Duration = Duration::from_millis(50);
const MAX_BATCH: usize = 4096;

/// One value of the `events` table, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeEvent {
    pub seq: u64,
    pub timestamp_ms: i64,
    /// The enum variant (`RouteStarted`).
    pub variant: String,
    /// The variant's `route_id`, when it has one.
    pub route_id: Option<String>,
}

/// Why a value is not a runtime event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueFault {
    NotJson(String),
    NotEvent(String),
}

impl ValueFault {
    fn defect(&self, file: &Path, key: u64, len: usize) -> Defect {
        let (kind, detail) = match self {
            ValueFault::NotJson(why) => {
                (DefectKind::NotJson, format!("the value is not JSON: {why}"))
            }
            ValueFault::NotEvent(why) => (
                DefectKind::NotRuntimeEvent,
                format!("the value is not the runtime's {{seq, timestamp_ms, event}}: {why}"),
            ),
        };
        Defect {
            key: Some(key),
            ..Defect::new(kind, file, 0, len as u64, detail)
        }
    }
}

/// Parses one stored value.
pub fn parse_value(bytes: &[u8]) -> Result<RuntimeEvent, ValueFault> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ValueFault::NotJson(e.to_string()))?;
    let obj = value
        .as_object()
        .ok_or_else(|| ValueFault::NotEvent("not a JSON object".to_owned()))?;
    let seq = obj
        .get("seq")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| ValueFault::NotEvent("no unsigned integer `seq`".to_owned()))?;
    let timestamp_ms = obj
        .get("timestamp_ms")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| ValueFault::NotEvent("no integer `timestamp_ms`".to_owned()))?;
    let (variant, route_id) = match obj.get("event") {
        // A unit variant is stored as its name.
        Some(serde_json::Value::String(name)) => (name.clone(), None),
        Some(serde_json::Value::Object(tagged)) if tagged.len() == 1 => {
            let (name, body) = tagged.iter().next().expect("one entry");
            let route = body
                .get("route_id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            (name.clone(), route)
        }
        Some(_) => {
            return Err(ValueFault::NotEvent(
                "`event` is not an externally tagged enum (one variant name)".to_owned(),
            ));
        }
        None => return Err(ValueFault::NotEvent("no `event`".to_owned())),
    };
    Ok(RuntimeEvent {
        seq,
        timestamp_ms,
        variant,
        route_id,
    })
}

/// `timestamp_ms` as RFC 3339 in UTC with milliseconds.
pub fn rfc3339_ms(ms: i64) -> Option<String> {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

impl RuntimeEvent {
    /// The record model's view of the value stored at `key`.
    pub fn to_source_record(&self, key: u64, raw: &[u8]) -> SourceRecord {
        SourceRecord {
            position: Position::Key(key),
            ts: rfc3339_ms(self.timestamp_ms),
            stream: self.route_id.clone().unwrap_or_default(),
            event_type: Some(self.variant.clone()),
            session: None,
            raw: raw.to_vec(),
        }
    }
}

/// The copy `--snapshot` reads, and what the original was when it was taken.
struct Snapshot {
    /// Removed with the copy in it when the snapshot is dropped.
    _dir: tempfile::TempDir,
    /// The original's size and modification time at the copy.
    of: (u64, Option<SystemTime>),
    db: Database,
    /// redb ran its repair pass on the copy (the original was not closed
    /// cleanly, or was copied while the runtime wrote it).
    repaired: bool,
}

/// The redb runtime journal, read through [`Source`].
pub struct RedbJournal {
    file: PathBuf,
    routes: Vec<String>,
    /// `--snapshot`: read copies, never the original.
    use_snapshot: bool,
    snapshot: Mutex<Option<Snapshot>>,
}

/// The redb database at `path`: the file itself, or the one redb file in a
/// directory.
pub fn database_file(path: &Path) -> Result<PathBuf, JournalError> {
    let meta = fs::metadata(path).map_err(|e| JournalError::io(path, e))?;
    if meta.is_file() {
        if !has_magic(path) {
            return Err(JournalError::Database {
                path: path.to_owned(),
                detail: "not a redb database (no redb header)".to_owned(),
            });
        }
        return Ok(path.to_owned());
    }
    let mut found: Vec<PathBuf> = fs::read_dir(path)
        .map_err(|e| JournalError::io(path, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && has_magic(p))
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(JournalError::Database {
            path: path.to_owned(),
            detail: "no redb database file in this directory".to_owned(),
        }),
        _ => Err(JournalError::Database {
            path: path.to_owned(),
            detail: format!(
                "{} redb database files in this directory ({}); name the one to read",
                found.len(),
                found
                    .iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

fn has_magic(path: &Path) -> bool {
    let mut head = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(REDB_MAGIC.len() as u64).read_to_end(&mut head))
        .is_ok()
        && head == REDB_MAGIC
}

fn file_state(path: &Path) -> Result<(u64, Option<SystemTime>), JournalError> {
    let meta = fs::metadata(path).map_err(|e| JournalError::io(path, e))?;
    Ok((meta.len(), meta.modified().ok()))
}

/// Copies `file` into a new temporary directory; the copy is writable so
/// that redb may repair it.
fn copy_to_temp(file: &Path) -> Result<(tempfile::TempDir, PathBuf), JournalError> {
    let dir = tempfile::Builder::new()
        .prefix("journal-redb-snapshot-")
        .tempdir()
        .map_err(|e| JournalError::io(std::env::temp_dir(), e))?;
    let name = file.file_name().unwrap_or_else(|| "journal.redb".as_ref());
    let copy = dir.path().join(name);
    // A plain read of the original: no lock, no write.
    let mut src = fs::File::open(file).map_err(|e| JournalError::io(file, e))?;
    let mut dst = fs::File::create(&copy).map_err(|e| JournalError::io(&copy, e))?;
    std::io::copy(&mut src, &mut dst).map_err(|e| JournalError::io(&copy, e))?;
    Ok((dir, copy))
}

/// Opens a copy for writing, letting redb repair it; whether it needed to.
fn open_copy(copy: &Path, original: &Path) -> Result<(Database, bool), JournalError> {
    guarded(original, || open_copy_unguarded(copy, original))
}

thread_local! {
    /// How deep this thread is in [`guarded`] calls: their panics are not printed.
    static QUIET: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// redb 4 trusts its pages: a damaged page can make it panic (an
/// `unreachable!` in its b-tree cursor) instead of returning an error. Every
/// call into redb on a file runs here: such a panic becomes a
/// [`JournalError::Database`] naming the file, and its message is kept off
/// stderr (the panic hook still prints every other panic).
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T, JournalError>) -> Result<T, JournalError> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) == 0 {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(q.get() + 1));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    out.unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(JournalError::Database {
            path: path.to_owned(),
            detail: format!(
                "redb cannot read it: a damaged page stopped redb ({})",
                if why.is_empty() {
                    "no detail"
                } else {
                    why.as_str()
                }
            ),
        })
    })
}

fn open_copy_unguarded(copy: &Path, original: &Path) -> Result<(Database, bool), JournalError> {
    // redb's writable open recovers a file not closed cleanly without always
    // calling the repair callback (a quick recovery from the header), so the
    // read-only open, which refuses any recovery, is what tells.
    let needs_repair = matches!(
        Builder::new()
            .set_cache_size(CACHE_BYTES)
            .open_read_only(copy),
        Err(DatabaseError::RepairAborted)
    );
    let repaired = Arc::new(AtomicBool::new(needs_repair));
    let flag = repaired.clone();
    let db = Builder::new()
        .set_cache_size(CACHE_BYTES)
        .set_repair_callback(move |_| flag.store(true, Ordering::Relaxed))
        .open(copy)
        .map_err(|e| db_error(original, e))?;
    Ok((db, repaired.load(Ordering::Relaxed)))
}

fn db_error(path: &Path, e: DatabaseError) -> JournalError {
    match e {
        DatabaseError::DatabaseAlreadyOpen => JournalError::DatabaseHeld {
            path: path.to_owned(),
        },
        DatabaseError::RepairAborted => JournalError::NeedsRepair {
            path: path.to_owned(),
        },
        other => JournalError::Database {
            path: path.to_owned(),
            detail: format!("redb cannot open it: {other}"),
        },
    }
}

fn read_error(path: &Path, e: impl std::fmt::Display) -> JournalError {
    JournalError::Database {
        path: path.to_owned(),
        detail: format!("redb cannot read it: {e}"),
    }
}

/// The `events` table of a read transaction; `None` when the database has
/// none yet (a runtime that never appended).
fn open_events(
    txn: &ReadTransaction,
    path: &Path,
) -> Result<Option<::redb::ReadOnlyTable<u64, &'static [u8]>>, JournalError> {
    match txn.open_table(EVENTS) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e @ TableError::TableTypeMismatch { .. }) => Err(JournalError::Database {
            path: path.to_owned(),
            detail: format!("its `events` table is not the runtime's (u64 keys, byte values): {e}"),
        }),
        Err(e) => Err(read_error(path, e)),
    }
}

/// What one key range read hands back: the values and whether the table
/// holds more beyond them.
type Batch = Vec<(u64, Vec<u8>)>;

impl RedbJournal {
    /// Opens the journal at `path` (a redb file, or a directory holding one)
    /// and reads its header once, so that a held or unclean file is refused
    /// before anything is printed.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<RedbJournal, JournalError> {
        let journal = RedbJournal {
            file: database_file(path)?,
            routes: opts.routes.clone(),
            use_snapshot: opts.snapshot,
            snapshot: Mutex::new(None),
        };
        journal.refresh()?;
        journal.read(|_| Ok(()))?;
        Ok(journal)
    }

    /// The database file read (the original, also with `--snapshot`).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Whether redb repaired the snapshot (the original was not closed
    /// cleanly, or was copied mid-write); `false` without `--snapshot`.
    pub fn snapshot_repaired(&self) -> bool {
        self.snapshot
            .lock()
            .expect("snapshot lock")
            .as_ref()
            .is_some_and(|s| s.repaired)
    }

    /// With `--snapshot`: copies the original again when it changed since the
    /// last copy (called once per operation, not per batch).
    fn refresh(&self) -> Result<(), JournalError> {
        if !self.use_snapshot {
            return Ok(());
        }
        let mut snap = self.snapshot.lock().expect("snapshot lock");
        let now = file_state(&self.file)?;
        if snap.as_ref().is_some_and(|s| s.of == now) {
            return Ok(());
        }
        // The old copy goes first: one copy on disk at a time.
        *snap = None;
        let (dir, copy) = copy_to_temp(&self.file)?;
        let (db, repaired) = open_copy(&copy, &self.file)?;
        *snap = Some(Snapshot {
            _dir: dir,
            of: now,
            db,
            repaired,
        });
        Ok(())
    }

    /// Runs `f` in one read transaction; the original is open only for it.
    fn read<T>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        if !self.use_snapshot {
            return guarded(&self.file, || {
                let db = Builder::new()
                    .set_cache_size(CACHE_BYTES)
                    .open_read_only(&self.file)
                    .map_err(|e| db_error(&self.file, e))?;
                let txn = db.begin_read().map_err(|e| read_error(&self.file, e))?;
                let out = f(&txn);
                drop(txn);
                drop(db);
                out
            });
        }
        let snap = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let snap = snap.as_ref().expect("refreshed before reading");
        // The panic is caught inside the lock's scope: it never poisons it.
        guarded(&self.file, || {
            let txn = snap
                .db
                .begin_read()
                .map_err(|e| read_error(&self.file, e))?;
            f(&txn)
        })
    }

    /// Reads up to `max` values after (oldest first) or before (newest
    /// first) `cursor`, and whether the table may hold more.
    fn batch(
        &self,
        direction: Direction,
        cursor: Bound,
        max: usize,
    ) -> Result<(Batch, bool), JournalError> {
        let path = &self.file;
        self.read(|txn| {
            let Some(table) = open_events(txn, path)? else {
                return Ok((Vec::new(), false));
            };
            let mut out = Vec::with_capacity(max.min(1024));
            let mut push = |entry: Result<
                (
                    ::redb::AccessGuard<'_, u64>,
                    ::redb::AccessGuard<'_, &'static [u8]>,
                ),
                ::redb::StorageError,
            >| {
                let (k, v) = entry.map_err(|e| read_error(path, e))?;
                out.push((k.value(), v.value().to_vec()));
                Ok::<_, JournalError>(())
            };
            match (direction, cursor) {
                (Direction::NewestFirst, Bound::Start) => {
                    for e in table
                        .iter()
                        .map_err(|e| read_error(path, e))?
                        .rev()
                        .take(max)
                    {
                        push(e)?;
                    }
                }
                (Direction::NewestFirst, Bound::After(k)) => {
                    for e in table
                        .range(..k)
                        .map_err(|e| read_error(path, e))?
                        .rev()
                        .take(max)
                    {
                        push(e)?;
                    }
                }
                (Direction::OldestFirst, Bound::Start) => {
                    for e in table.iter().map_err(|e| read_error(path, e))?.take(max) {
                        push(e)?;
                    }
                }
                (Direction::OldestFirst, Bound::After(k)) => {
                    let Some(from) = k.checked_add(1) else {
                        return Ok((out, false));
                    };
                    for e in table
                        .range(from..)
                        .map_err(|e| read_error(path, e))?
                        .take(max)
                    {
                        push(e)?;
                    }
                }
            }
            let more = out.len() == max;
            Ok((out, more))
        })
    }

    /// Every value in key order (or reverse), from `start`, in batches: the
    /// file is open only while a batch is read, never while `f` runs.
    fn for_each_value(
        &self,
        direction: Direction,
        start: Bound,
        mut f: impl FnMut(u64, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
        let mut cursor = start;
        let mut size = FIRST_BATCH;
        loop {
            let (batch, more) = self.batch(direction, cursor, size)?;
            for (key, value) in &batch {
                cursor = Bound::After(*key);
                if f(*key, value).is_break() {
                    return Ok(());
                }
            }
            if !more {
                return Ok(());
            }
            size = (size * 4).min(MAX_BATCH);
        }
    }

    fn route_ok(&self, ev: &RuntimeEvent) -> bool {
        self.routes.is_empty()
            || ev
                .route_id
                .as_ref()
                .is_some_and(|r| self.routes.iter().any(|q| q == r))
    }

    /// The records `filter` accepts from `start` on, with damaged values as
    /// damage.
    fn visit_from(
        &self,
        start: Bound,
        filter: &dyn RecordFilter,
        direction: Direction,
        visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
        let newest_first = direction == Direction::NewestFirst;
        self.for_each_value(direction, start, |key, value| match parse_value(value) {
            Err(fault) => visit(Item::Damage(fault.defect(&self.file, key, value.len()))),
            Ok(ev) => {
                let rec = ev.to_source_record(key, value);
                // The runtime stamps events in key order, as the engine does
                // in seq order: past a --since/--until bound, the read stops
                // (the filter decides, on the record's line view).
                if let Some(ts) = &rec.ts
                    && filter.past_time_range(
                        format!(r#"{{"seq":{key},"ts":"{ts}"}}"#).as_bytes(),
                        newest_first,
                    )
                {
                    return ControlFlow::Break(());
                }
                if !self.route_ok(&ev) {
                    return ControlFlow::Continue(());
                }
                // No raw prefilter: its fast seq would read the value's `seq`,
                // which may differ from the key the position is.
                let record = rec.as_record();
                if !filter.matches(&record) {
                    return ControlFlow::Continue(());
                }
                visit(Item::Record {
                    position: rec.position.clone(),
                    record: &record,
                    stored: value,
                })
            }
        })
    }

    fn file_size(&self) -> u64 {
        fs::metadata(&self.file).map(|m| m.len()).unwrap_or(0)
    }

    /// redb's own integrity check, on a fresh copy (it repairs what it can,
    /// so never on the original).
    fn integrity_check(&self) -> Result<Option<Defect>, JournalError> {
        let (_dir, copy) = copy_to_temp(&self.file)?;
        let (mut db, _) = open_copy(&copy, &self.file)?;
        let failed = |detail: String| {
            Some(Defect::new(
                DefectKind::IntegrityFailed,
                &self.file,
                0,
                0,
                detail,
            ))
        };
        let checked = guarded(&self.file, || Ok(db.check_integrity()));
        Ok(match checked {
            Err(_) => failed(
                "redb's integrity check stopped on a damaged page of a copy (the original \
                 is unchanged)"
                    .to_owned(),
            ),
            Ok(Ok(true)) => None,
            Ok(Ok(false)) => failed(
                "redb's integrity check failed on a copy (redb could repair the copy; the \
                 original is unchanged)"
                    .to_owned(),
            ),
            Ok(Err(e)) => failed(format!(
                "redb's integrity check failed on a copy and could not repair it: {e}"
            )),
        })
    }
}

/// Where a batched read continues.
#[derive(Debug, Clone, Copy)]
enum Bound {
    Start,
    /// Past this key (above it oldest first, below it newest first).
    After(u64),
}

/// Per-route and whole-table counts as `stats` and `verify` gather them.
#[derive(Default)]
struct Tally {
    stats: FamilyStats,
    streams: BTreeMap<String, StreamStats>,
    first_key: Option<u64>,
    last_key: Option<u64>,
    defects: Vec<Defect>,
    /// (key before, key after) for each gap in the keys.
    gaps: Vec<(u64, u64)>,
    values: u64,
}

impl RedbJournal {
    /// Reads the whole table oldest first once (for `stats` and `verify`).
    fn tally(&self) -> Result<Tally, JournalError> {
        let mut t = Tally::default();
        self.for_each_value(Direction::OldestFirst, Bound::Start, |key, value| {
            t.values += 1;
            if let Some(prev) = t.last_key
                && key > prev + 1
            {
                t.gaps.push((prev, key));
            }
            t.first_key.get_or_insert(key);
            t.last_key = Some(key);
            let ev = match parse_value(value) {
                Ok(ev) => ev,
                Err(fault) => {
                    t.defects.push(fault.defect(&self.file, key, value.len()));
                    return ControlFlow::Continue(());
                }
            };
            if ev.seq != key {
                t.defects.push(Defect {
                    key: Some(key),
                    ..Defect::new(
                        DefectKind::SeqKeyMismatch,
                        &self.file,
                        0,
                        value.len() as u64,
                        format!("the value's seq is {} but its key is {key}", ev.seq),
                    )
                });
            }
            if !self.route_ok(&ev) {
                return ControlFlow::Continue(());
            }
            let ts = rfc3339_ms(ev.timestamp_ms);
            let s = &mut t.stats;
            s.events += 1;
            *s.kinds.entry(ev.variant.clone()).or_default() += 1;
            if s.first_ts.is_none() {
                s.first_ts = ts.clone();
            }
            if ts.is_some() {
                s.last_ts = ts.clone();
            }
            let stream = ev.route_id.clone().unwrap_or_default();
            let st = t
                .streams
                .entry(stream.clone())
                .or_insert_with(|| StreamStats {
                    stream,
                    ..StreamStats::default()
                });
            st.events += 1;
            *st.kinds.entry(ev.variant).or_default() += 1;
            st.first.get_or_insert(key);
            st.last = Some(key);
            if st.first_ts.is_none() {
                st.first_ts = ts.clone();
            }
            if ts.is_some() {
                st.last_ts = ts;
            }
            ControlFlow::Continue(())
        })?;
        Ok(t)
    }
}

fn json(v: impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

impl Source for RedbJournal {
    fn format(&self) -> Format {
        Format::Redb
    }

    fn dir(&self) -> &Path {
        &self.file
    }

    /// A field inside the event (`route_id`, `event.route_id`) is looked up
    /// under its variant (`event.RouteStarted.route_id`), whichever it is; a
    /// path that names the variant (a capital first letter, as the runtime
    /// names them) is taken as written.
    fn adapt_query(
        &self,
        mut query: crate::query::Query,
    ) -> Result<crate::query::Query, JournalError> {
        if !query.sessions.is_empty() {
            return Err(JournalError::NoSuchField {
                path: self.dir().to_owned(),
                format: Format::Redb.name(),
                flag: "--session",
                why: "have no session (select a route with --route)",
            });
        }
        for f in &mut query.fields {
            let names_variant = f
                .path
                .get(1)
                .is_some_and(|k| k.starts_with(|c: char| c.is_ascii_uppercase()));
            if f.path.len() > 1 && f.path[0] == "event" && !names_variant {
                f.any_key_at(1);
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
        self.refresh()?;
        self.visit_from(Bound::Start, filter, direction, visit)
    }

    /// Only the keys above the cursor are read (a range read, not a scan).
    fn visit_after(
        &self,
        after: &Positions,
        filter: &dyn RecordFilter,
        visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
        self.refresh()?;
        let mut start = after
            .get(CURSOR_STREAM)
            .map_or(Bound::Start, |&k| Bound::After(k));
        // A table whose last key is below the cursor is another one (the
        // database made again, its keys started again): read from its start.
        if let Some(&k) = after.get(CURSOR_STREAM) {
            let mut last = None;
            let found = self.for_each_value(Direction::NewestFirst, Bound::Start, |key, _| {
                last = Some(key);
                ControlFlow::Break(())
            });
            if found.is_ok() && last.is_some_and(|l| l < k) {
                start = Bound::Start;
                let restart = Item::Restart {
                    stream: CURSOR_STREAM.to_owned(),
                    after: k,
                    reason: super::reader::RESTART_WENT_BACK,
                };
                if visit(restart).is_break() {
                    return Ok(());
                }
            }
        }
        // Between polls the runtime may open the file for a moment (it
        // retries its own open while a reader holds it; this is the mirror):
        // a follow waits a little for it, then continues after the last key
        // it handed on. A runtime that keeps the file open is still refused,
        // with the message that offers --snapshot.
        let mut waited = Duration::ZERO;
        loop {
            let mut last = None;
            let result = self.visit_from(start, filter, Direction::OldestFirst, &mut |item| {
                if let Item::Record { position, .. } = &item {
                    last = Some(position.number());
                }
                visit(item)
            });
            match result {
                Err(JournalError::DatabaseHeld { .. }) if waited < HELD_PATIENCE => {
                    if let Some(k) = last {
                        start = Bound::After(k);
                    }
                    std::thread::sleep(HELD_RETRY);
                    waited += HELD_RETRY;
                }
                other => return other,
            }
        }
    }

    /// The table's last key (with `--route`, the last key of those routes).
    fn heads(&self) -> Result<Heads, JournalError> {
        self.refresh()?;
        let mut head = None;
        let mut problems = Vec::new();
        let mut values = 0u64;
        self.for_each_value(Direction::NewestFirst, Bound::Start, |key, value| {
            values += 1;
            match parse_value(value) {
                Ok(ev) if self.route_ok(&ev) => {
                    head = Some((key, Some(ev)));
                    ControlFlow::Break(())
                }
                Ok(_) => ControlFlow::Continue(()),
                Err(fault) => {
                    problems.push(fault.defect(&self.file, key, value.len()));
                    if self.routes.is_empty() {
                        // The last key is the head even when its value is damaged.
                        head = Some((key, None));
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }
            }
        })?;
        let mut extra = BTreeMap::new();
        if let Some((key, ev)) = &head {
            extra.insert("last_key".to_owned(), json(key));
            extra.insert("next_key".to_owned(), json(key.checked_add(1)));
            if let Some(ev) = ev {
                extra.insert("seq".to_owned(), json(ev.seq));
                extra.insert("variant".to_owned(), json(&ev.variant));
                extra.insert("route_id".to_owned(), json(&ev.route_id));
            }
        }
        if !self.routes.is_empty() {
            extra.insert("routes".to_owned(), json(&self.routes));
        }
        Ok(Heads {
            format: Format::Redb,
            path: self.file.clone(),
            streams: vec![StreamHead {
                stream: CURSOR_STREAM.to_owned(),
                position: head.as_ref().map(|(k, _)| Position::Key(*k)),
                ts: head
                    .as_ref()
                    .and_then(|(_, ev)| ev.as_ref())
                    .and_then(|ev| rfc3339_ms(ev.timestamp_ms)),
                file: Some(self.file.clone()),
                extra,
            }],
            problems,
        })
    }

    fn stats(&self) -> Result<FamilyStats, JournalError> {
        self.refresh()?;
        let t = self.tally()?;
        let mut s = t.stats;
        s.format = Some(Format::Redb);
        s.path = self.file.clone();
        s.files = 1;
        s.bytes = self.file_size();
        s.streams = t.streams.into_values().collect();
        s.errors = t.defects.len() as u64;
        s.warnings = u64::from(self.snapshot_repaired());
        s.problems = t.defects;
        s.extra.insert("first_key".to_owned(), json(t.first_key));
        s.extra.insert("last_key".to_owned(), json(t.last_key));
        s.extra.insert("key_gaps".to_owned(), json(t.gaps.len()));
        s.extra.insert("values".to_owned(), json(t.values));
        let table = self.read(|txn| {
            Ok(match open_events(txn, &self.file)? {
                Some(table) => Some(table.stats().map_err(|e| read_error(&self.file, e))?),
                None => None,
            })
        })?;
        if let Some(ts) = table {
            s.extra
                .insert("table_stored_bytes".to_owned(), json(ts.stored_bytes()));
            s.extra.insert(
                "table_pages".to_owned(),
                json(ts.leaf_pages() + ts.branch_pages()),
            );
            s.extra.insert(
                "table_fragmented_bytes".to_owned(),
                json(ts.fragmented_bytes()),
            );
        }
        // The whole file's page use needs a write transaction, so only a
        // snapshot (a copy journal may write) can tell how much is free.
        if let Some(snap) = self.snapshot.lock().expect("snapshot lock").as_ref() {
            let w = snap
                .db
                .begin_write()
                .map_err(|e| read_error(&self.file, e))?;
            let d = w.stats().map_err(|e| read_error(&self.file, e))?;
            w.abort().map_err(|e| read_error(&self.file, e))?;
            let page = d.page_size() as u64;
            let pages = s.bytes / page.max(1);
            s.extra.insert("page_size".to_owned(), json(page));
            s.extra
                .insert("allocated_pages".to_owned(), json(d.allocated_pages()));
            s.extra.insert(
                "free_pages".to_owned(),
                json(pages.saturating_sub(d.allocated_pages())),
            );
        }
        Ok(s)
    }

    fn verify(&self, opts: &FamilyVerifyOptions) -> Result<FamilyVerify, JournalError> {
        self.refresh()?;
        let t = self.tally()?;
        let mut defects = Vec::new();
        if self.snapshot_repaired() {
            defects.push(Defect::new(
                DefectKind::NotClosedCleanly,
                &self.file,
                0,
                0,
                "the database was not closed cleanly (or was copied while the runtime wrote \
                 it): redb repaired the snapshot; the original is unchanged"
                    .to_owned(),
            ));
        }
        defects.extend(t.defects);
        if opts.deep
            && let Some(d) = self.integrity_check()?
        {
            defects.push(d);
        }
        let notes = t
            .gaps
            .iter()
            .map(|&(before, after)| Note {
                kind: "compaction-gap",
                stream: CURSOR_STREAM.to_owned(),
                detail: format!(
                    "key {before} then {after}: {} key{} missing (the runtime's compaction)",
                    after - before - 1,
                    if after - before - 1 == 1 { "" } else { "s" }
                ),
            })
            .collect();
        let mut extra = BTreeMap::new();
        extra.insert("first_key".to_owned(), json(t.first_key));
        extra.insert("last_key".to_owned(), json(t.last_key));
        extra.insert("key_gaps".to_owned(), json(t.gaps.len()));
        extra.insert("deep".to_owned(), json(opts.deep));
        extra.insert("snapshot".to_owned(), json(self.use_snapshot));
        Ok(FamilyVerify {
            format: Format::Redb,
            path: self.file.clone(),
            checked: vec![Checked {
                name: CURSOR_STREAM.to_owned(),
                file: Some(self.file.clone()),
                bytes: self.file_size(),
                records: t.values,
                extra,
            }],
            records: t.values,
            defects,
            notes,
        })
    }

    fn unsupported(&self, what: &'static str) -> JournalError {
        JournalError::Unsupported {
            path: self.file.clone(),
            format: Format::Redb.name(),
            what,
            why: Some(
                "the runtime's redb database is read only, never written (its own engine \
                 repairs and compacts it)"
                    .to_owned(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::Record;

    struct All;
    impl RecordFilter for All {
        fn matches(&self, _rec: &Record<'_>) -> bool {
            true
        }
    }

    fn corpus(name: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus/camel-redb")
            .join(name);
        let dst = dir.path().join(name);
        fs::write(&dst, fs::read(src).unwrap()).unwrap();
        (dir, dst)
    }

    /// (key, variant, route) of the first `n` records in `direction`, and the
    /// damage met.
    fn first(
        j: &RedbJournal,
        direction: Direction,
        n: usize,
    ) -> (Vec<(u64, String, String)>, Vec<Defect>) {
        let (mut out, mut damage) = (Vec::new(), Vec::new());
        j.visit(&All, direction, &mut |item| {
            match item {
                Item::Record {
                    position, record, ..
                } => {
                    let route =
                        serde_json::from_slice::<serde_json::Value>(record.raw).unwrap()["event"]
                            .as_object()
                            .and_then(|o| o.values().next())
                            .and_then(|b| b["route_id"].as_str())
                            .unwrap_or("")
                            .to_owned();
                    out.push((
                        position.number(),
                        record.event_type.as_deref().unwrap().to_owned(),
                        route,
                    ));
                }
                Item::Damage(d) => damage.push(d),
                Item::Restart { .. } => panic!("visit restarts no stream"),
            }
            if out.len() == n {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        (out, damage)
    }

    fn row(k: u64, t: &str, r: &str) -> (u64, String, String) {
        (k, t.to_owned(), r.to_owned())
    }

    /// A database written the way the runtime writes it, with `values`.
    fn build(values: &[(u64, &[u8])]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("built.redb");
        let db = Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(EVENTS).unwrap();
            for (k, v) in values {
                t.insert(*k, *v).unwrap();
            }
        }
        w.commit().unwrap();
        drop(db);
        (dir, path)
    }

    fn event(seq: u64, variant: &str, route: &str) -> Vec<u8> {
        format!(
            r#"{{"seq":{seq},"timestamp_ms":{},"event":{{"{variant}":{{"route_id":"{route}"}}}}}}"#,
            1_764_000_000_000u64 + seq * 1000
        )
        .into_bytes()
    }

    #[test]
    fn the_corpus_journal_reads_as_its_readme_says() {
        let (_d, path) = corpus("runtime-journal.redb");
        let before = fs::read(&path).unwrap();
        let j = RedbJournal::open(&path, &OpenOptions::default()).unwrap();
        let (newest, damage) = first(&j, Direction::NewestFirst, 3);
        assert!(damage.is_empty(), "{damage:?}");
        assert_eq!(
            newest,
            vec![
                row(299, "RouteStopped", "route-3"),
                row(298, "RouteRemoved", "route-5"),
                row(297, "RouteStopped", "route-5"),
            ]
        );
        let heads = j.heads().unwrap();
        assert_eq!(heads.streams[0].position, Some(Position::Key(299)));
        let stats = j.stats().unwrap();
        assert_eq!(stats.events, 300);
        assert_eq!(stats.extra["first_key"], 0);
        assert_eq!(stats.extra["last_key"], 299);
        assert_eq!(stats.extra["key_gaps"], 0);
        let v = j.verify(&FamilyVerifyOptions::default()).unwrap();
        assert_eq!(v.records, 300);
        assert!(v.defects.is_empty(), "{:?}", v.defects);
        assert!(v.notes.is_empty(), "{:?}", v.notes);
        drop(j);
        assert!(fs::read(&path).unwrap() == before, "the file is unchanged");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "no file beside it");
    }

    #[test]
    fn the_compacted_corpus_journal_has_its_gaps_as_notes() {
        let (_d, path) = corpus("runtime-journal-compacted.redb");
        let j = RedbJournal::open(&path, &OpenOptions::default()).unwrap();
        let (newest, _) = first(&j, Direction::NewestFirst, 3);
        assert_eq!(
            newest,
            vec![
                row(499, "RouteStopped", "route-6"),
                row(498, "RouteStarted", "route-4"),
                row(497, "RouteStartRequested", "route-4"),
            ]
        );
        let (oldest, _) = first(&j, Direction::OldestFirst, 1);
        assert_eq!(oldest[0].0, 135);
        let v = j.verify(&FamilyVerifyOptions::default()).unwrap();
        assert_eq!(v.records, 250);
        assert!(v.defects.is_empty(), "{:?}", v.defects);
        assert_eq!(v.notes.len(), 18);
        assert!(v.notes.iter().all(|n| n.kind == "compaction-gap"));
        let firsts: Vec<&str> = v.notes[..3].iter().map(|n| n.detail.as_str()).collect();
        assert!(
            firsts[0].starts_with("key 138 then 142: 3 keys missing"),
            "{firsts:?}"
        );
        assert!(firsts[1].starts_with("key 143 then 155:"), "{firsts:?}");
        assert!(firsts[2].starts_with("key 155 then 167:"), "{firsts:?}");
        let s = j.stats().unwrap();
        assert_eq!((s.events, s.extra["first_key"].as_u64()), (250, Some(135)));
        assert_eq!(s.kinds.values().sum::<u64>(), 250);
        assert_eq!(s.streams.iter().map(|s| s.events).sum::<u64>(), 250);
    }

    #[test]
    fn a_route_filter_selects_one_stream() {
        let (_d, path) = corpus("runtime-journal.redb");
        let opts = OpenOptions {
            routes: vec!["route-5".to_owned()],
            ..OpenOptions::default()
        };
        let j = RedbJournal::open(&path, &opts).unwrap();
        let (rows, _) = first(&j, Direction::NewestFirst, 1000);
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r.2 == "route-5"), "{rows:?}");
        assert_eq!(rows[0].0, 298);
        assert_eq!(
            j.heads().unwrap().streams[0].position,
            Some(Position::Key(298))
        );
        let s = j.stats().unwrap();
        assert_eq!(s.events, rows.len() as u64);
        assert_eq!(s.streams.len(), 1);
    }

    #[test]
    fn visit_after_reads_only_the_keys_past_the_cursor() {
        let (_d, path) = corpus("runtime-journal-compacted.redb");
        let j = RedbJournal::open(&path, &OpenOptions::default()).unwrap();
        let after = Positions::from([(CURSOR_STREAM.to_owned(), 496)]);
        let mut keys = Vec::new();
        j.visit_after(&after, &All, &mut |item| {
            if let Item::Record { position, .. } = item {
                keys.push(position.number());
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(keys, vec![497, 498, 499]);
        let after = Positions::from([(CURSOR_STREAM.to_owned(), 499)]);
        let mut n = 0;
        j.visit_after(&after, &All, &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(n, 0);
        // A cursor above the last key: the table is another one (made
        // again), said, then read from its start.
        let after = Positions::from([(CURSOR_STREAM.to_owned(), 10_000)]);
        let (mut restarts, mut records) = (Vec::new(), 0);
        j.visit_after(&after, &All, &mut |item| {
            match item {
                Item::Restart { stream, after, .. } => restarts.push((stream, after)),
                Item::Record { .. } => records += 1,
                Item::Damage(_) => {}
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(restarts, [(CURSOR_STREAM.to_owned(), 10_000)]);
        assert_eq!(records, j.stats().unwrap().events);
    }

    #[test]
    fn a_held_database_is_refused_and_read_through_a_snapshot() {
        let (_d, path) = corpus("runtime-journal.redb");
        // The runtime: redb's writer holds the file (its own open writes it).
        let writer = Database::open(&path).unwrap();
        let err = RedbJournal::open(&path, &OpenOptions::default())
            .err()
            .expect("held");
        assert!(matches!(err, JournalError::DatabaseHeld { .. }), "{err}");
        assert!(err.to_string().contains("--snapshot"), "{err}");
        let snap = OpenOptions {
            snapshot: true,
            ..OpenOptions::default()
        };
        let j = RedbJournal::open(&path, &snap).unwrap();
        let (rows, _) = first(&j, Direction::NewestFirst, 1);
        assert_eq!(rows, vec![row(299, "RouteStopped", "route-3")]);
        let s = j.stats().unwrap();
        assert_eq!(s.events, 300);
        assert!(s.extra["free_pages"].is_u64(), "{:?}", s.extra);
        let v = j
            .verify(&FamilyVerifyOptions {
                deep: true,
                ..Default::default()
            })
            .unwrap();
        assert!(
            v.defects
                .iter()
                .all(|d| d.kind == DefectKind::NotClosedCleanly),
            "{:?}",
            v.defects
        );
        drop(j);
        drop(writer);
    }

    #[test]
    fn a_file_needing_repair_is_refused_and_read_through_a_snapshot() {
        let (d, path) = corpus("runtime-journal.redb");
        // A copy taken while the writer has it open is what a crash leaves.
        let writer = Database::open(&path).unwrap();
        let unclean = d.path().join("unclean.redb");
        fs::copy(&path, &unclean).unwrap();
        drop(writer);
        let before = fs::read(&unclean).unwrap();
        let err = RedbJournal::open(&unclean, &OpenOptions::default())
            .err()
            .expect("needs repair");
        assert!(matches!(err, JournalError::NeedsRepair { .. }), "{err}");
        assert!(err.to_string().contains("--snapshot"), "{err}");
        let snap = OpenOptions {
            snapshot: true,
            ..OpenOptions::default()
        };
        let j = RedbJournal::open(&unclean, &snap).unwrap();
        assert!(j.snapshot_repaired());
        let (rows, _) = first(&j, Direction::NewestFirst, 1);
        assert_eq!(rows, vec![row(299, "RouteStopped", "route-3")]);
        let v = j.verify(&FamilyVerifyOptions::default()).unwrap();
        assert_eq!(v.defects.len(), 1);
        assert_eq!(v.defects[0].kind, DefectKind::NotClosedCleanly);
        drop(j);
        assert!(
            fs::read(&unclean).unwrap() == before,
            "the original is untouched"
        );
    }

    #[test]
    fn damaged_values_are_located_by_key() {
        let good = event(0, "RouteRegistered", "r1");
        let wrong_seq = event(7, "RouteStarted", "r1");
        let (_d, path) = build(&[
            (0, &good),
            (1, &wrong_seq),
            (2, b"not json {"),
            (3, br#"{"seq":3,"event":{"RouteStarted":{}}}"#),
            (5, &event(5, "RouteStopped", "r1")),
        ]);
        let j = RedbJournal::open(&path, &OpenOptions::default()).unwrap();
        let v = j.verify(&FamilyVerifyOptions::default()).unwrap();
        let found: Vec<(DefectKind, Option<u64>)> =
            v.defects.iter().map(|d| (d.kind, d.key)).collect();
        assert_eq!(
            found,
            vec![
                (DefectKind::SeqKeyMismatch, Some(1)),
                (DefectKind::NotJson, Some(2)),
                (DefectKind::NotRuntimeEvent, Some(3)),
            ]
        );
        assert!(v.defects[0].detail.contains("seq is 7 but its key is 1"));
        assert_eq!(v.defects[1].place(), "built.redb: value at key 2");
        assert_eq!(v.notes.len(), 1);
        assert!(v.notes[0].detail.starts_with("key 3 then 5: 1 key missing"));
        let (rows, damage) = first(&j, Direction::NewestFirst, 100);
        let keys: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(keys, vec![5, 1, 0]);
        assert_eq!(damage.len(), 2);
    }

    #[test]
    fn repair_is_refused_with_a_reason() {
        let (_d, path) = corpus("runtime-journal.redb");
        let j = RedbJournal::open(&path, &OpenOptions::default()).unwrap();
        let err = j.repair(&Default::default()).expect_err("refused");
        assert!(matches!(err, JournalError::Unsupported { .. }));
        assert!(err.to_string().contains("never written"), "{err}");
    }

    #[test]
    fn a_large_table_is_read_in_batches_in_both_directions() {
        let values: Vec<(u64, Vec<u8>)> = (0..10_000)
            .map(|k| (k, event(k, "RouteStarted", "r")))
            .collect();
        let refs: Vec<(u64, &[u8])> = values.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        let (_d, path) = build(&refs);
        let j = RedbJournal::open(&path, &OpenOptions::default()).unwrap();
        let (all, _) = first(&j, Direction::OldestFirst, usize::MAX);
        assert_eq!(all.len(), 10_000);
        assert!(all.iter().enumerate().all(|(i, r)| r.0 == i as u64));
        let (all, _) = first(&j, Direction::NewestFirst, usize::MAX);
        assert!(all.iter().enumerate().all(|(i, r)| r.0 == 9_999 - i as u64));
    }
}

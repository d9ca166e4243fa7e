//! The journal family: which shape a path holds ([`Format`], [`detect`]) and
//! the record model every reader hands to query and render ([`Position`],
//! [`SourceRecord`]).
//!
//! The engine's segment chain keeps its own reader (`scan`, unchanged and as
//! fast as before); every other format is a reader that yields
//! [`SourceRecord`]s, which query and render see through the same
//! [`Record`] view as a segment line.

pub mod family;
pub mod reader;
pub mod redb;
pub mod session_read;
pub mod session_repair;
pub mod session_source;
pub mod sessions;
pub mod topics;

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use crate::journal::dircache::ListingCache;
use crate::journal::dirread::DirRead;
use crate::journal::record::Record;
use crate::journal::segment::has_jsonl_extension;

/// The journal shapes `journal` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// The engine's segment chain: `events-<seq>.jsonl`.
    Segments,
    /// The per-session store (aios-events): `events/<session-id>.jsonl`.
    Sessions,
    /// The per-topic event log, JSONL backend (harn-vm): `topics/`, `consumers/`.
    TopicsJsonl,
    /// The per-topic event log, SQLite backend (harn-vm).
    TopicsSqlite,
    /// The redb runtime journal (camel-core).
    Redb,
}

/// The 16 bytes every SQLite 3 database file starts with.
pub const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The 9 bytes every redb database file starts with.
pub const REDB_MAGIC: &[u8; 9] = b"redb\x1a\x0a\xa9\x0d\x0a";

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Segments,
        Format::Sessions,
        Format::TopicsJsonl,
        Format::TopicsSqlite,
        Format::Redb,
    ];

    /// The name `--format` takes and reports print.
    pub fn name(self) -> &'static str {
        match self {
            Format::Segments => "segments",
            Format::Sessions => "sessions",
            Format::TopicsJsonl => "topics-jsonl",
            Format::TopicsSqlite => "topics-sqlite",
            Format::Redb => "redb",
        }
    }

    /// What detection looks for, in words.
    pub fn shape(self) -> &'static str {
        match self {
            Format::Segments => "segments: files named events-<seq>.jsonl (the bamboo engine)",
            Format::Sessions => {
                "sessions: events/<session-id>.jsonl whose lines hold sequence and branch_id (aios-events)"
            }
            Format::TopicsJsonl => {
                "topics-jsonl: a topics/ directory of <topic>.jsonl beside consumers/ (harn-vm)"
            }
            Format::TopicsSqlite => {
                "topics-sqlite: a SQLite 3 file (its 16-byte header) naming the event log's tables topic_heads and events (harn-vm)"
            }
            Format::Redb => "redb: a redb database file (its magic header) (camel-core)",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether this build reads the format (the others are only detected).
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Format::Segments
                | Format::Sessions
                | Format::TopicsJsonl
                | Format::TopicsSqlite
                | Format::Redb
        )
    }
}

impl serde::Serialize for Format {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why no single format was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetectError {
    /// The path holds none of the known shapes.
    Nothing { path: PathBuf },
    /// The path holds more than one shape.
    Ambiguous { path: PathBuf, formats: Vec<Format> },
}

impl fmt::Display for DetectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetectError::Nothing { path } => {
                write!(
                    f,
                    "{}: not a journal of any known format; looked for",
                    path.display()
                )?;
                for format in Format::ALL {
                    write!(f, "\n  - {}", format.shape())?;
                }
                write!(f, "\n(pass --format NAME to read it as one of them)")
            }
            DetectError::Ambiguous { path, formats } => {
                let names: Vec<&str> = formats.iter().map(|f| f.name()).collect();
                write!(
                    f,
                    "{}: holds more than one journal format ({}); choose one with --format {}",
                    path.display(),
                    names.join(", "),
                    names.join("|")
                )
            }
        }
    }
}

impl std::error::Error for DetectError {}

/// Recognises the journal at `path` by its shape (never by opening a database).
///
/// A path that does not exist or is no directory, and a directory holding only
/// the engine's own entries, are read as segments (as before detection
/// existed), so the segment reader reports them as it always did.
pub fn detect(path: &Path) -> Result<Format, DetectError> {
    detect_reading(path).map(|(format, _)| format)
}

/// [`detect`], which reads the directory once, and that read: a command
/// hands it to [`Listing::from_read`](crate::journal::segment::Listing::from_read)
/// instead of reading the directory again. `None` when `path` could not be
/// read as a directory (missing, a file, unreadable).
pub fn detect_reading(path: &Path) -> Result<(Format, Option<DirRead>), DetectError> {
    detect_reading_with(path, None)
}

/// [`detect_reading`], the directory's entries taken from `cache` when it
/// holds them (see [`dircache`](crate::journal::dircache)): for read-only
/// commands only; one that changes the journal passes `None`.
pub fn detect_reading_with(
    path: &Path,
    cache: Option<&ListingCache>,
) -> Result<(Format, Option<DirRead>), DetectError> {
    let read = match cache {
        Some(cache) => DirRead::read_cached(path, cache),
        None => DirRead::read(path),
    }
    .ok();
    let found: Vec<Format> = match &read {
        Some(read) => {
            // Database candidates, found and opened once for both database
            // formats: each file's first bytes say which it may be.
            let heads: Vec<(PathBuf, Vec<u8>)> = db_files_in(read)
                .into_iter()
                .map(|p| {
                    let head = read_head(&p, SQLITE_MAGIC.len().max(REDB_MAGIC.len()) as u64);
                    (p, head)
                })
                .collect();
            Format::ALL
                .into_iter()
                .filter(|&f| match f {
                    Format::TopicsSqlite => heads.iter().any(|(p, head)| {
                        head.starts_with(SQLITE_MAGIC) && names_event_log_tables(p)
                    }),
                    Format::Redb => heads.iter().any(|(_, head)| head.starts_with(REDB_MAGIC)),
                    f => matches_shape_in(f, path, read),
                })
                .collect()
        }
        None => Format::ALL
            .into_iter()
            .filter(|&f| matches_shape(f, path))
            .collect(),
    };
    let format = match found.as_slice() {
        [one] => *one,
        [] if read.as_ref().is_none_or(looks_like_empty_engine_dir) => Format::Segments,
        [] => {
            return Err(DetectError::Nothing {
                path: path.to_owned(),
            });
        }
        _ => {
            return Err(DetectError::Ambiguous {
                path: path.to_owned(),
                formats: found,
            });
        }
    };
    Ok((format, read))
}

/// Whether `path` holds `format`'s shape.
pub fn matches_shape(format: Format, path: &Path) -> bool {
    match DirRead::read(path) {
        Ok(read) => match format {
            Format::TopicsSqlite => db_files_in(&read).iter().any(|p| is_event_log_sqlite(p)),
            Format::Redb => db_files_in(&read)
                .iter()
                .any(|p| starts_with(p, REDB_MAGIC)),
            f => matches_shape_in(f, path, &read),
        },
        // Not a directory: only a database file can be a journal.
        Err(_) => match format {
            Format::TopicsSqlite => path.is_file() && is_event_log_sqlite(path),
            Format::Redb => path.is_file() && starts_with(path, REDB_MAGIC),
            _ => false,
        },
    }
}

/// The directory formats' shapes, from one read of `path` (`read`).
fn matches_shape_in(format: Format, path: &Path, read: &DirRead) -> bool {
    match format {
        Format::Segments => read.segment_count() > 0,
        Format::Sessions => sessions::events_dir_in(path, read).is_some(),
        Format::TopicsJsonl => {
            path.join("consumers").is_dir()
                && entries(&path.join("topics"))
                    .any(|p| p.extension().is_some_and(|e| e == "jsonl"))
        }
        Format::TopicsSqlite | Format::Redb => false,
    }
}

/// A path the segment reader should open and report on itself: one that does
/// not exist or is no directory (it says so), or a directory holding nothing
/// but the engine's own entries (lock file, `events-*`, quarantine files).
fn looks_like_empty_engine_dir(read: &DirRead) -> bool {
    // Segments are named `events-*`: only the other entries need a look.
    read.others().all(|e| {
        let n = e.file_name().to_string_lossy();
        n == ".account-journal.lock"
            || n.starts_with("events-")
            || n.starts_with(crate::journal::quarantine::QUARANTINE_PREFIX)
    })
}

fn entries(dir: &Path) -> impl Iterator<Item = PathBuf> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
}

/// The regular files directly in the directory read: candidates for a
/// database.
fn db_files_in(read: &DirRead) -> Vec<PathBuf> {
    // Never the journals' own line files (segments are kept apart by the
    // read). Names first: a stat only for what may be a database.
    read.others()
        .filter(|e| !has_jsonl_extension(e.file_name()))
        // The entry's own type (no stat); a symlink counts when it leads to
        // a regular file.
        .filter(|e| match e.file_type() {
            Ok(FileType::RegularFile) => true,
            Ok(FileType::Symlink) => e.path().is_file(),
            _ => false,
        })
        .map(|e| e.path())
        .collect()
}

fn read_head(path: &Path, max: u64) -> Vec<u8> {
    let mut head = Vec::new();
    if let Ok(f) = fs::File::open(path) {
        let _ = f.take(max).read_to_end(&mut head);
    }
    head
}

fn starts_with(path: &Path, magic: &[u8]) -> bool {
    read_head(path, magic.len() as u64) == magic
}

/// A SQLite 3 file whose schema page names the event log's tables.
pub fn is_event_log_sqlite(path: &Path) -> bool {
    starts_with(path, SQLITE_MAGIC) && names_event_log_tables(path)
}

/// The schema's `CREATE TABLE` text in the first pages of the SQLite file
/// `path` names the event log's tables; searched as bytes, without opening
/// the database with SQLite.
fn names_event_log_tables(path: &Path) -> bool {
    let head = read_head(path, 64 * 1024);
    head.starts_with(SQLITE_MAGIC)
        && memchr::memmem::find(&head, b"topic_heads").is_some()
        && memchr::memmem::find(&head, b"events").is_some()
}

/// Where a record sits in its journal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(untagged)]
pub enum Position {
    /// The engine's account-wide seq.
    Seq(u64),
    /// The per-session store: the sequence within a session and branch.
    Session {
        session: String,
        branch: String,
        sequence: u64,
    },
    /// The topic log: the id within a topic.
    Topic { topic: String, id: u64 },
    /// A key in a table.
    Key(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Seq(seq) => write!(f, "{seq}"),
            Position::Session {
                session,
                branch,
                sequence,
            } => write!(f, "{session}/{branch}/{sequence}"),
            Position::Topic { topic, id } => write!(f, "{topic}/{id}"),
            Position::Key(key) => write!(f, "{key}"),
        }
    }
}

/// One record of any format: where it is, when, in which stream, what type,
/// which session, and the bytes as stored.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub position: Position,
    /// The record's time as written (RFC 3339), if any.
    pub ts: Option<String>,
    /// The stream it belongs to (a session and branch, a topic, a table).
    pub stream: String,
    pub event_type: Option<String>,
    pub session: Option<String>,
    /// The record as stored (one line, without `\n`).
    pub raw: Vec<u8>,
}

impl SourceRecord {
    /// The number query's `--seq` and the table's first column use: the seq,
    /// the sequence within its stream, the topic id or the key.
    pub fn number(&self) -> u64 {
        self.position.number()
    }

    /// The view query's matcher and every renderer take.
    pub fn as_record(&self) -> Record<'_> {
        Record {
            seq: self.number(),
            ts: self.ts.as_deref().map(Into::into),
            session_id: self.session.as_deref().map(Into::into),
            event_type: self.event_type.as_deref().map(Into::into),
            raw: &self.raw,
        }
    }
}

/// Stream selections and reading choices that only some formats have; each
/// format ignores what is not its own.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Per-session store: only these branches (`--branch`); empty for all.
    pub branches: Vec<String>,
    /// Per-topic log: only these topics (`--topic`); empty for all.
    pub topics: Vec<String>,
    /// redb journal: only these routes (`--route`); empty for all.
    pub routes: Vec<String>,
    /// redb journal: read a temporary copy, never the original (`--snapshot`).
    pub snapshot: bool,
}

/// Opens a family format (every format but the engine's segment chain, which
/// commands read through its [`Listing`](crate::journal::segment::Listing))
/// for reading through [`reader::Source`]. This is the one place a format's
/// reader is chosen.
pub fn open_family(
    path: &Path,
    format: Format,
    opts: &OpenOptions,
) -> Result<Box<dyn reader::Source>, crate::journal::error::JournalError> {
    // A stream filter the format cannot apply would otherwise be ignored,
    // and the command would show every stream as if it had matched.
    let foreign = [
        (
            "--branch",
            !opts.branches.is_empty(),
            Format::Sessions == format,
        ),
        (
            "--topic",
            !opts.topics.is_empty(),
            matches!(format, Format::TopicsJsonl | Format::TopicsSqlite),
        ),
        ("--route", !opts.routes.is_empty(), Format::Redb == format),
    ]
    .into_iter()
    .find(|&(_, given, own)| given && !own);
    if let Some((flag, _, _)) = foreign {
        return Err(crate::journal::error::JournalError::NoSuchStreams {
            path: path.to_owned(),
            format: format.name(),
            flag,
        });
    }
    match format {
        Format::Sessions => Ok(Box::new(session_source::Sessions::open(path, opts)?)),
        Format::TopicsJsonl => Ok(Box::new(topics::TopicLog::jsonl(
            path,
            opts.topics.clone(),
        )?)),
        Format::TopicsSqlite => Ok(Box::new(topics::TopicLog::sqlite(
            path,
            opts.topics.clone(),
        )?)),
        Format::Redb => Ok(Box::new(self::redb::RedbJournal::open(path, opts)?)),
        Format::Segments => Err(crate::journal::error::JournalError::Unsupported {
            path: path.to_owned(),
            format: format.name(),
            what: "read",
            why: Some("not supported by this build".to_owned()),
        }),
    }
}

//! The library's error type: every variant names the file (and where it
//! matters the place) a person needs to act on it.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// `Display` words each variant with its cause; `source()` is `None`, so a
/// printer that walks the chain (`{:#}`) does not say the I/O error twice.
#[derive(Debug)]
pub enum JournalError {
    DirNotFound {
        dir: PathBuf,
    },
    NotADirectory {
        dir: PathBuf,
    },
    NoSegments {
        dir: PathBuf,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
    ClaimHeld {
        path: PathBuf,
        waited: Duration,
    },
    /// As root, a directory that group or others can write to (see `dirfd`).
    SharedDirectory {
        dir: PathBuf,
        mode: u32,
    },
    /// A listed entry is not the file it was (a symlink, another inode).
    Replaced {
        path: PathBuf,
        what: &'static str,
    },
    /// A stream filter (`--branch`, `--topic`, `--route`) given for a format
    /// that has no such streams: refused rather than silently ignored.
    NoSuchStreams {
        path: PathBuf,
        format: &'static str,
        flag: &'static str,
    },
    /// A filter no record of the format can ever meet (`--session` on a redb
    /// journal, whose events have no session): refused rather than an empty
    /// answer that looks like "no such events".
    NoSuchField {
        path: PathBuf,
        format: &'static str,
        flag: &'static str,
        why: &'static str,
    },
    /// A command this format does not support (prune a redb table, repair a
    /// SQLite database): refused, nothing read or changed.
    Unsupported {
        path: PathBuf,
        format: &'static str,
        what: &'static str,
        /// Why, when there is more to say than that it is not supported.
        why: Option<String>,
    },
    /// A database another process holds open for writing (redb's lock):
    /// read only through a snapshot, never by waiting on the runtime.
    DatabaseHeld {
        path: PathBuf,
    },
    /// A database not closed cleanly, whose repair pass would write to it.
    NeedsRepair {
        path: PathBuf,
    },
    /// A database the library cannot read (corrupt, another layout).
    Database {
        path: PathBuf,
        detail: String,
    },
}

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalError::DirNotFound { dir } => write!(f, "{}: no such directory", dir.display()),
            JournalError::NotADirectory { dir } => write!(f, "{}: not a directory", dir.display()),
            JournalError::NoSegments { dir } => write!(
                f,
                "{}: not a journal: no events-<seq>.jsonl segment and no .account-journal.lock in it",
                dir.display()
            ),
            JournalError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            JournalError::ClaimHeld { path, waited } => write!(
                f,
                "{}: the writer's claim is held by another process (waited {})",
                path.display(),
                humantime::format_duration(*waited)
            ),
            JournalError::SharedDirectory { dir, mode } => write!(
                f,
                "{}: writable by {} (mode {mode:04o}), and journal runs as root: whoever can \
                 write there could make a change land in any file on the system; refused. \
                 Make the directory writable by its owner only, or pass --as-user USER to act \
                 as that user",
                dir.display(),
                if mode & 0o002 != 0 {
                    "others"
                } else {
                    "its group"
                }
            ),
            JournalError::Replaced { path, what } => {
                write!(f, "{}: {what}: refused, nothing changed", path.display())
            }
            JournalError::NoSuchStreams { path, format, flag } => write!(
                f,
                "{}: {flag} selects streams a {format} journal does not have (--branch: a \
                 per-session store's branches, --topic: a per-topic log's topics, --route: a \
                 redb journal's routes); nothing was read",
                path.display()
            ),
            JournalError::NoSuchField {
                path,
                format,
                flag,
                why,
            } => write!(
                f,
                "{}: {flag} can never match here: a {format} journal's events {why}; nothing \
                 was read",
                path.display()
            ),
            JournalError::Unsupported {
                path,
                format,
                what,
                why,
            } => {
                write!(
                    f,
                    "{}: `journal {what}` does not support the {format} format",
                    path.display()
                )?;
                match why {
                    Some(why) => write!(f, ": {why}"),
                    None => Ok(()),
                }
            }
            JournalError::DatabaseHeld { path } => write!(
                f,
                "{}: another process (the runtime?) holds this database open for writing; \
                 journal does not read a database a writer holds (its open would lock the \
                 runtime out). Pass --snapshot to read a copy of it",
                path.display()
            ),
            JournalError::NeedsRepair { path } => write!(
                f,
                "{}: the database was not closed cleanly and needs redb's repair pass, which \
                 writes to the file; journal never writes the file it reads. Pass --snapshot \
                 to read (and let redb repair) a copy of it",
                path.display()
            ),
            JournalError::Database { path, detail } => write!(f, "{}: {detail}", path.display()),
        }
    }
}

impl std::error::Error for JournalError {}

impl JournalError {
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        JournalError::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_is_said_once() {
        let e = JournalError::io(
            "/x/events-1.jsonl",
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert_eq!(e.to_string(), "/x/events-1.jsonl: permission denied");
        assert!(
            std::error::Error::source(&e).is_none(),
            "the cause is in the message"
        );
    }
}

//! The library's error type: every variant names the file (and where it
//! matters the place) a person needs to act on it.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{}: no such directory", dir.display())]
    DirNotFound { dir: PathBuf },

    #[error("{}: not a directory", dir.display())]
    NotADirectory { dir: PathBuf },

    #[error(
        "{}: not a journal: no events-<seq>.jsonl segment and no .account-journal.lock in it",
        dir.display()
    )]
    NoSegments { dir: PathBuf },

    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    #[error(
        "{}: writable by {} (mode {mode:04o}), and journal runs as root: whoever can write \
         there could make a change land in any file on the system; refused. Make the \
         directory writable by its owner only, or pass --as-user USER to act as that user",
        dir.display(),
        if mode & 0o002 != 0 { "others" } else { "its group" }
    )]
    SharedDirectory { dir: PathBuf, mode: u32 },

    #[error("{}: {what}: refused, nothing changed", path.display())]
    Replaced { path: PathBuf, what: &'static str },

    #[error(
        "{}: the writer's claim is held by another process (waited {})",
        path.display(),
        humantime::format_duration(*waited)
    )]
    ClaimHeld { path: PathBuf, waited: Duration },
}

impl JournalError {
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        JournalError::Io {
            path: path.into(),
            source,
        }
    }
}

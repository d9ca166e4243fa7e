//! The writer's claim: an exclusive `flock(2)` on `.account-journal.lock`,
//! exactly as the engine takes it (`fs2::FileExt::lock_exclusive`). Every
//! process that appends, truncates or deletes segments holds it for the whole
//! operation; readers never take it.
//!
//! The claim also carries the journal directory's descriptor ([`JournalDir`]):
//! every change made under the claim goes through it (see `dirfd`), and
//! taking the claim as root refuses a directory others can write to.
//!
//! Acquisition waits a bounded time and then fails with
//! [`JournalError::ClaimHeld`]: a cron job must never hang on a live writer.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::journal::dirfd::JournalDir;
use crate::journal::error::JournalError;
use crate::journal::segment::LOCK_FILE_NAME;

/// A held claim; released when dropped (closing the descriptor drops the flock).
#[derive(Debug)]
pub struct Claim {
    _file: File,
    dir: JournalDir,
}

impl Claim {
    /// Takes the claim on the journal in `dir`, waiting up to `wait`.
    /// The lock file is created if missing, as the engine does.
    pub fn acquire(dir: &Path, wait: Duration) -> Result<Claim, JournalError> {
        let path = dir.join(LOCK_FILE_NAME);
        let dir = JournalDir::open(dir)?;
        let file = dir.open_lock(LOCK_FILE_NAME)?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(Claim { _file: file, dir });
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(JournalError::io(&path, e)),
            }
            let waited = started.elapsed();
            if waited >= wait {
                return Err(JournalError::ClaimHeld { path, waited });
            }
            thread::sleep(pause.min(wait - waited));
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// The journal directory, opened once: make every change through it.
    pub fn dir(&self) -> &JournalDir {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_waits_then_fails_naming_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let first = Claim::acquire(dir.path(), Duration::ZERO).unwrap();
        let err = Claim::acquire(dir.path(), Duration::from_millis(30)).unwrap_err();
        assert!(
            matches!(err, JournalError::ClaimHeld { ref path, .. } if *path == dir.path().join(LOCK_FILE_NAME))
        );
        assert!(err.to_string().contains(".account-journal.lock"), "{err}");
        drop(first);
        Claim::acquire(dir.path(), Duration::ZERO).unwrap();
    }
}

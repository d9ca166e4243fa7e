//! The journal directory as an open descriptor, for every mutation.
//!
//! `repair`, `append` and `prune` are run as root from cron. Between listing
//! the directory and opening a segment, a user who can write to the directory
//! could swap the segment for a symlink to any file on the system; opening by
//! path would then truncate, append to or unlink that file. So every change
//! goes through [`JournalDir`]:
//! - entries are opened, created, renamed and unlinked relative to the
//!   directory's descriptor (`openat`, `renameat`, `unlinkat`), never by path,
//!   so a renamed or replaced directory path cannot redirect them;
//! - every open carries `O_NOFOLLOW` (a symlink is refused, never followed)
//!   and `O_NONBLOCK` (a FIFO put in place cannot hang the process);
//! - the file opened is checked with `fstat`: it must be a regular file with
//!   the inode the listing saw, else nothing is written;
//! - as root, a directory that group (other than root's) or others can write
//!   to is refused outright, like logrotate does, unless the caller says
//!   which user to act as (`--as-user`, which drops to that user first) or
//!   explicitly allows it ([`allow_shared_directory`]).

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::journal::error::JournalError;
use crate::journal::segment::Segment;

static SHARED_ALLOWED: AtomicBool = AtomicBool::new(false);

/// Lets this process change a journal in a directory that others can write
/// to, even as root (the caller has decided whose authority to act with).
pub fn allow_shared_directory() {
    SHARED_ALLOWED.store(true, Ordering::SeqCst);
}

/// Debug builds only: pretend to run as root, so the shared-directory rule is
/// tested whatever user runs the tests.
const ASSUME_ROOT_ENV: &str = "JOURNAL_TEST_ASSUME_ROOT";
/// Debug builds only: just before a segment is opened for a change (or
/// unlinked), move it aside and put a symlink to the file named by this
/// variable in its place: the attack the descriptor checks defeat.
pub const SWAP_ENV: &str = "JOURNAL_TEST_SWAP_SEGMENT_FOR_SYMLINK";

/// How a segment is opened for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Append,
}

/// An open journal directory. See the module documentation.
#[derive(Debug)]
pub struct JournalDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl JournalDir {
    /// Opens `path` (which must be a directory) and applies the
    /// shared-directory rule.
    pub fn open(path: &Path) -> Result<JournalDir, JournalError> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| JournalError::io(path, e.into()))?;
        let dir = JournalDir {
            fd,
            path: path.to_owned(),
        };
        dir.check_not_shared()?;
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_not_shared(&self) -> Result<(), JournalError> {
        let as_root = rustix::process::geteuid().is_root()
            || (cfg!(debug_assertions) && std::env::var_os(ASSUME_ROOT_ENV).is_some());
        if !as_root || SHARED_ALLOWED.load(Ordering::SeqCst) {
            return Ok(());
        }
        let st = rustix::fs::fstat(&self.fd).map_err(|e| JournalError::io(&self.path, e.into()))?;
        let mode = st.st_mode & 0o7777;
        // logrotate's rule: writable by others, or by a group that is not root's.
        if mode & 0o002 != 0 || (mode & 0o020 != 0 && st.st_gid != 0) {
            return Err(JournalError::SharedDirectory {
                dir: self.path.clone(),
                mode,
            });
        }
        Ok(())
    }

    /// Opens the listed segment `seg` relative to the directory, refusing a
    /// symlink, anything not a regular file, and a file that is not the one
    /// listed (another inode).
    pub fn open_segment(&self, seg: &Segment, access: Access) -> Result<File, JournalError> {
        let name = entry_name(seg.path())?;
        if access != Access::Read {
            self.test_swap(&name);
        }
        let flags = match access {
            Access::Read => OFlags::RDONLY,
            Access::Write => OFlags::WRONLY,
            Access::Append => OFlags::WRONLY | OFlags::APPEND,
        };
        let fd = rustix::fs::openat(
            &self.fd,
            name.as_str(),
            flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| refused_or_io(seg.path(), e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| JournalError::io(seg.path(), e.into()))?;
        check_listed(seg, &st)?;
        // Back to blocking mode (a regular file ignores it, but be exact).
        rustix::fs::fcntl_setfl(
            &fd,
            rustix::fs::fcntl_getfl(&fd).unwrap_or(flags) - OFlags::NONBLOCK,
        )
        .map_err(|e| JournalError::io(seg.path(), e.into()))?;
        Ok(File::from(fd))
    }

    /// Creates a new regular file `name` in the directory (fails if any entry,
    /// a symlink included, already has that name).
    pub fn create_new(&self, name: &str, mode: u32, append: bool) -> Result<File, JournalError> {
        let path = self.path.join(name);
        let mut flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if append {
            flags |= OFlags::APPEND;
        }
        let fd =
            rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode)).map_err(|e| {
                match e {
                    rustix::io::Errno::EXIST => JournalError::io(
                        &path,
                        io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            format!(
                                "already exists ({}): not overwritten",
                                self.describe_entry(name)
                            ),
                        ),
                    ),
                    e => JournalError::io(&path, e.into()),
                }
            })?;
        Ok(File::from(fd))
    }

    /// Opens (or creates, mode 0666 less the umask, as the engine does) the
    /// claim file, refusing a symlink or anything not a regular file.
    pub fn open_lock(&self, name: &str) -> Result<File, JournalError> {
        let path = self.path.join(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )
        .map_err(|e| refused_or_io(&path, e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| JournalError::io(&path, e.into()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(JournalError::Replaced {
                path,
                what: "is not a regular file",
            });
        }
        Ok(File::from(fd))
    }

    /// Unlinks the listed segment `seg`, after checking that the entry is
    /// still that regular file. `unlinkat` never follows a symlink, so at
    /// worst a name is removed, never another file's data.
    pub fn unlink_segment(&self, seg: &Segment) -> Result<(), JournalError> {
        let name = entry_name(seg.path())?;
        self.test_swap(&name);
        let st = rustix::fs::statat(&self.fd, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| JournalError::io(seg.path(), e.into()))?;
        check_listed(seg, &st)?;
        rustix::fs::unlinkat(&self.fd, name.as_str(), AtFlags::empty())
            .map_err(|e| JournalError::io(seg.path(), e.into()))
    }

    /// Unlinks `name` (a temporary file of ours), whatever it is.
    pub fn unlink(&self, name: &str) -> Result<(), JournalError> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())
            .map_err(|e| JournalError::io(self.path.join(name), e.into()))
    }

    /// Renames `from` over `to`, both in the directory.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), JournalError> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to)
            .map_err(|e| JournalError::io(self.path.join(to), e.into()))
    }

    /// fsyncs the directory, so created, renamed and deleted entries are durable.
    pub fn sync(&self) -> Result<(), JournalError> {
        rustix::fs::fsync(&self.fd).map_err(|e| JournalError::io(&self.path, e.into()))
    }

    /// A few words on what holds `name`, for messages.
    pub(crate) fn describe_entry(&self, name: &str) -> &'static str {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile => "a regular file",
                FileType::Directory => "a directory",
                FileType::Symlink => "a symbolic link",
                FileType::Fifo => "a FIFO",
                FileType::Socket => "a socket",
                _ => "a device or other special file",
            },
            Err(_) => "an entry that vanished",
        }
    }

    fn test_swap(&self, name: &str) {
        if !cfg!(debug_assertions) {
            return;
        }
        let Some(target) = std::env::var_os(SWAP_ENV) else {
            return;
        };
        let aside = format!("{name}.swapped-away");
        if rustix::fs::renameat(&self.fd, name, &self.fd, aside.as_str()).is_ok() {
            let _ = rustix::fs::symlinkat(Path::new(&target), &self.fd, name);
        }
    }
}

/// The entry name of a path in the journal directory.
fn entry_name(path: &Path) -> Result<String, JournalError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            JournalError::io(
                path,
                io::Error::other("not an entry of the journal directory"),
            )
        })
}

fn refused_or_io(path: &Path, e: rustix::io::Errno) -> JournalError {
    match e {
        // O_NOFOLLOW on a symlink.
        rustix::io::Errno::LOOP => JournalError::Replaced {
            path: path.to_owned(),
            what: "is a symbolic link (not followed)",
        },
        e => JournalError::io(path, e.into()),
    }
}

/// The file found under a segment's name is the regular file, and the inode,
/// that the listing saw: anything else was swapped in since, and is refused.
fn check_listed(seg: &Segment, st: &rustix::fs::Stat) -> Result<(), JournalError> {
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(JournalError::Replaced {
            path: seg.path().to_path_buf(),
            what: "is no longer a regular file",
        });
    }
    if st.st_ino != seg.ino {
        return Err(JournalError::Replaced {
            path: seg.path().to_path_buf(),
            what: "was replaced by another file since the directory was listed",
        });
    }
    Ok(())
}

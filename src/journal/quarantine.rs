//! Quarantine: every byte a mutation removes from a segment is first copied
//! here, durably, so nothing is ever lost.
//!
//! A quarantine file lives in the journal directory, is named
//! `quarantine-<segment file name>-at-<offset>-<utc time>.bin` (it never
//! parses as a segment, so no reader, prune or repair ever touches it), has the
//! segment's permissions, and is fsynced (file and directory) before the
//! caller may truncate or delete anything.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::journal::claim::Claim;
use crate::journal::dirfd::Access;
use crate::journal::error::JournalError;
use crate::journal::segment::{Segment, file_name_lossy};

pub(crate) const QUARANTINE_PREFIX: &str = "quarantine-";

/// Copies bytes `[offset, offset + len)` of the listed segment `seg` into a
/// new quarantine file in the journal directory and makes it durable. Both
/// files are opened through the claim's directory descriptor (never through
/// a symlink). Holding the claim is required.
pub fn quarantine_range(
    claim: &Claim,
    seg: &Segment,
    offset: u64,
    len: u64,
) -> Result<PathBuf, JournalError> {
    let segment = seg.path();
    let src = claim.dir().open_segment(seg, Access::Read)?;
    let mode = file_mode(&src, segment)?;
    let name = quarantine_name(&seg.file_name(), offset);
    let path = claim.dir().path().join(&name);
    let dst = claim.dir().create_new(&name, mode, false)?;
    fill(&src, segment, dst, &path, mode, offset, len)?;
    claim.dir().sync()?;
    Ok(path)
}

/// [`quarantine_range`] for a format whose writer takes no claim (the
/// per-session store): its caller has checked instead that no process holds
/// the file open. Opens by path (it has no listed segment to check against).
pub fn quarantine_range_unclaimed(
    dir: &Path,
    segment: &Path,
    offset: u64,
    len: u64,
) -> Result<PathBuf, JournalError> {
    let src = File::open(segment).map_err(|e| JournalError::io(segment, e))?;
    let mode = file_mode(&src, segment)?;
    let path = dir.join(quarantine_name(&file_name_lossy(segment), offset));
    let dst = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)
        .map_err(|e| JournalError::io(&path, e))?;
    fill(&src, segment, dst, &path, mode, offset, len)?;
    sync_dir(dir)?;
    Ok(path)
}

/// The permission bits of the segment, which its quarantine file gets too.
fn file_mode(src: &File, segment: &Path) -> Result<u32, JournalError> {
    Ok(src
        .metadata()
        .map_err(|e| JournalError::io(segment, e))?
        .permissions()
        .mode()
        & 0o777)
}

/// `quarantine-<segment>-at-<offset>-<time>.bin`: never parses as a segment.
fn quarantine_name(segment_name: &str, offset: u64) -> String {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.9fZ");
    format!("{QUARANTINE_PREFIX}{segment_name}-at-{offset}-{stamp}.bin")
}

/// Copies `len` bytes of `src` from `offset` into the new file `dst` (at
/// `path`) with exactly `mode`, and makes them durable.
fn fill(
    src: &File,
    segment: &Path,
    mut dst: File,
    path: &Path,
    mode: u32,
    offset: u64,
    len: u64,
) -> Result<(), JournalError> {
    // The umask may have narrowed the mode: set it exactly.
    dst.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| JournalError::io(path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < len {
        let want = (len - done).min(buf.len() as u64) as usize;
        let n = src
            .read_at(&mut buf[..want], offset + done)
            .map_err(|e| JournalError::io(segment, e))?;
        if n == 0 {
            let e = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "segment shrank while being quarantined",
            );
            return Err(JournalError::io(segment, e));
        }
        dst.write_all(&buf[..n])
            .map_err(|e| JournalError::io(path, e))?;
        done += n as u64;
    }
    dst.sync_all().map_err(|e| JournalError::io(path, e))
}

/// A quarantine file found in a journal directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuarantineFile {
    #[serde(serialize_with = "crate::journal::segment::ser::file_name")]
    pub path: PathBuf,
    pub bytes: u64,
    /// When it was last written (its creation, for files this tool wrote).
    #[serde(skip)]
    pub modified: std::time::SystemTime,
}

/// The quarantine files in `dir`: regular files (never symlinks) named
/// `quarantine-*.bin`, oldest first.
pub fn list_quarantine(dir: &Path) -> Result<Vec<QuarantineFile>, JournalError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| JournalError::io(dir, e))? {
        let entry = entry.map_err(|e| JournalError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with(QUARANTINE_PREFIX) && name.ends_with(".bin")) {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(entry.path()) else {
            continue; // gone since the listing
        };
        if !meta.is_file() {
            continue;
        }
        files.push(QuarantineFile {
            path: entry.path(),
            bytes: meta.len(),
            modified: meta
                .modified()
                .map_err(|e| JournalError::io(entry.path(), e))?,
        });
    }
    files.sort_by(|a, b| (a.modified, &a.path).cmp(&(b.modified, &b.path)));
    Ok(files)
}

/// fsyncs a directory so a created, renamed or deleted entry is durable.
pub fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io(dir, e))
}

//! One read of a directory's entries, shared by format detection and the
//! segment listing (issue 14: a journal of ten thousand segments was read
//! five times per command).
//!
//! The entries are read with `getdents64` into one buffer sized from the
//! directory's own size, so that a whole journal directory normally comes
//! back from a **single** call. Linux runs one `getdents64` call under the
//! directory's inode lock, which every create, rename and unlink in that
//! directory also takes (exclusively): what one call returns is the
//! directory as it was at one instant. A read that took several calls is
//! not (an entry created between two calls may be missed while a newer one
//! is seen); [`DirRead::is_snapshot`] says which kind a read is, and the
//! segment listing reads such a directory a second time (see
//! [`Listing::from_read`](crate::journal::segment::Listing::from_read)).

use std::ffi::OsStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, RawDir};

use crate::journal::segname::{MAX_NAME_LEN, SegmentName, parse_segment_parts, write_segment_name};

/// Initial buffer: room for about 580 segment names.
const MIN_BUF: usize = 32 * 1024;
/// The largest buffer tried (about 300,000 segment names). Beyond it a
/// directory is read in several calls and is not a snapshot.
const MAX_BUF: usize = 16 * 1024 * 1024;
/// The largest `linux_dirent64` record (a 255-byte name): a call that left
/// at least this much of the buffer unused reached the end of the directory.
const MAX_RECLEN: usize = 280;

/// The entries of one directory, as one read returned them (`.` and `..`
/// left out), in the directory's own order (or from the listing cache, see
/// [`dircache`](crate::journal::dircache)).
///
/// Entries named like segments are kept apart, as their numbers
/// ([`SegmentName`]) rather than their names: a journal of ten thousand
/// segments takes half the memory, and the listing does not parse each
/// name again.
#[derive(Debug, Clone)]
pub struct DirRead {
    pub(crate) dir: PathBuf,
    /// The names of the entries not named like segments, one after the
    /// other (from the listing cache: the whole cache file, see
    /// [`Segs::Stored`]).
    pub(crate) names: Vec<u8>,
    /// The entries not named like segments.
    pub(crate) entries: Vec<Raw>,
    /// The entries named like segments.
    pub(crate) segments: Segs,
    pub(crate) snapshot: bool,
}

/// One entry not named like a segment: its name at `names[start..start + len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Raw {
    pub(crate) start: u32,
    pub(crate) len: u32,
    pub(crate) d_type: FileType,
    pub(crate) ino: u64,
}

/// The entries named like segments of a [`DirRead`].
#[derive(Debug, Clone)]
pub(crate) enum Segs {
    /// As the directory returned them.
    Read(Vec<SegRaw>),
    /// `count` records of [`SegRaw::RECORD_LEN`] bytes at `names[at..]`: a
    /// cache file's own table, used where it was read (every record was
    /// checked when the file was decoded, see [`SegRaw::from_record`]).
    Stored { at: usize, count: usize },
}

/// One entry named like a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegRaw {
    pub(crate) name: SegmentName,
    pub(crate) d_type: FileType,
    pub(crate) ino: u64,
}

impl SegRaw {
    /// A record's bytes: seq u64, ino u64 (little-endian), digits u8, type
    /// u8 (the mode's file type bits, `mode >> 12`).
    pub(crate) const RECORD_LEN: usize = 18;

    pub(crate) fn to_record(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.name.seq.to_le_bytes());
        out.extend_from_slice(&self.ino.to_le_bytes());
        out.push(self.name.width);
        out.push((self.d_type.as_raw_mode() >> 12) as u8);
    }

    /// A record back; `None` when it is short, or its seq and digits make
    /// no segment name.
    pub(crate) fn from_record(rec: &[u8]) -> Option<SegRaw> {
        let seq = u64::from_le_bytes(rec.get(..8)?.try_into().ok()?);
        let ino = u64::from_le_bytes(rec.get(8..16)?.try_into().ok()?);
        let name = SegmentName::new(seq, *rec.get(16)?)?;
        let d_type = FileType::from_raw_mode(u32::from(*rec.get(17)?) << 12);
        Some(SegRaw { name, d_type, ino })
    }
}

/// One entry of a [`DirRead`].
#[derive(Debug, Clone, Copy)]
pub struct DirEntry<'a> {
    dir: &'a Path,
    name: EntryName<'a>,
    d_type: FileType,
    ino: u64,
}

/// An entry's name: where the read keeps it, or written out from a
/// segment's numbers.
#[derive(Debug, Clone, Copy)]
enum EntryName<'a> {
    Kept(&'a OsStr),
    Segment([u8; MAX_NAME_LEN], u8),
}

/// One entry named like a segment, as its numbers (its name is written out
/// only when asked for).
#[derive(Debug, Clone, Copy)]
pub struct SegmentEntry<'a> {
    dir: &'a Path,
    raw: SegRaw,
}

impl DirRead {
    /// Reads `dir`'s entries. Opening follows a symlink to a directory (as
    /// `read_dir` does); a path that is no directory fails with `ENOTDIR`
    /// (`io::ErrorKind::NotADirectory`), a missing one with `NotFound`.
    pub fn read(dir: &Path) -> io::Result<DirRead> {
        DirRead::read_from(dir, None)
    }

    /// [`DirRead::read`], with the first buffer's size given (tests).
    fn read_from(dir: &Path, first_cap: Option<usize>) -> io::Result<DirRead> {
        DirRead::read_fd(dir, &open_dir(dir)?, first_cap)
    }

    /// Reads the entries of `fd`, the directory opened at `dir`, from its
    /// start.
    pub(crate) fn read_fd(
        dir: &Path,
        fd: &OwnedFd,
        first_cap: Option<usize>,
    ) -> io::Result<DirRead> {
        // A directory's size bounds its entries' on-disk size (ext4, xfs:
        // about 45 bytes per segment name against 56 in a dirent record;
        // tmpfs: 20 per entry), so four times it holds every record.
        let size = rustix::fs::fstat(fd).map_or(0, |st| st.st_size.max(0) as usize);
        let mut cap = first_cap
            .unwrap_or_else(|| size.saturating_mul(4).saturating_add(MIN_BUF))
            .min(MAX_BUF);
        let mut buf: Vec<MaybeUninit<u8>> = Vec::new();
        loop {
            buf.clear();
            buf.reserve_exact(cap);
            buf.resize(cap, MaybeUninit::uninit());
            let mut read = DirRead {
                dir: dir.to_owned(),
                // Room for what the buffer can hold (untouched room costs
                // no memory), so neither grows entry by entry.
                names: Vec::with_capacity(cap / 2),
                entries: Vec::with_capacity(cap / 32),
                segments: Segs::Read(Vec::new()),
                snapshot: true,
            };
            let mut segments = Vec::with_capacity(cap / 32);
            let mut calls = 0usize;
            // Bytes the first call used (each record's length recomputed the
            // kernel's way: 19 header bytes, the name and its NUL, 8-aligned).
            let mut first_used = 0usize;
            let mut raw = RawDir::new(fd, &mut buf);
            loop {
                if raw.is_buffer_empty() {
                    calls += 1;
                }
                let Some(entry) = raw.next() else { break };
                let entry = entry?;
                let name = entry.file_name().to_bytes();
                if calls == 1 {
                    first_used += (19 + name.len() + 1).next_multiple_of(8);
                }
                if name == b"." || name == b".." {
                    continue;
                }
                if let Some(seg) = parse_segment_parts(name) {
                    segments.push(SegRaw {
                        name: seg,
                        d_type: entry.file_type(),
                        ino: entry.ino(),
                    });
                    continue;
                }
                read.entries.push(Raw {
                    start: read.names.len() as u32,
                    len: name.len() as u32,
                    d_type: entry.file_type(),
                    ino: entry.ino(),
                });
                read.names.extend_from_slice(name);
            }
            read.segments = Segs::Read(segments);
            // `calls` counts the final, empty call too.
            if calls <= 2 {
                return Ok(read);
            }
            let first_was_full = cap.saturating_sub(first_used) < MAX_RECLEN + 8;
            if first_was_full && cap < MAX_BUF {
                // The buffer was too small: read again from the start with a
                // larger one, so that one call holds the whole directory.
                cap = cap.saturating_mul(4).min(MAX_BUF);
                rustix::fs::seek(fd, rustix::fs::SeekFrom::Start(0))?;
                continue;
            }
            // Entries came in a later call: created while it was read (or a
            // directory beyond MAX_BUF).
            read.snapshot = false;
            return Ok(read);
        }
    }

    /// The directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether one `getdents64` call returned every entry: the directory as
    /// it was at one instant (no entry created or removed during the read).
    pub fn is_snapshot(&self) -> bool {
        self.snapshot
    }

    /// The same entries, as if they had taken several calls (tests of the
    /// listing's second read).
    #[cfg(test)]
    pub(crate) fn into_several_calls(mut self) -> DirRead {
        self.snapshot = false;
        self
    }

    /// Every entry: those not named like segments (in the order the
    /// directory returned them, or by name from the listing cache), then
    /// those named like segments (see [`DirRead::segments`]).
    pub fn entries(&self) -> impl Iterator<Item = DirEntry<'_>> {
        self.others().chain(self.segments().map(|s| s.entry()))
    }

    /// The entries not named like segments.
    pub fn others(&self) -> impl Iterator<Item = DirEntry<'_>> {
        self.entries.iter().map(move |r| DirEntry {
            dir: &self.dir,
            name: EntryName::Kept(OsStr::from_bytes(
                &self.names[r.start as usize..(r.start + r.len) as usize],
            )),
            d_type: r.d_type,
            ino: r.ino,
        })
    }

    /// The entries named like segments, in the order the directory returned
    /// them (from the listing cache: by seq, the longer name first).
    pub fn segments(&self) -> impl Iterator<Item = SegmentEntry<'_>> {
        let (read, stored): (&[SegRaw], &[u8]) = match &self.segments {
            Segs::Read(v) => (v, &[]),
            Segs::Stored { at, count } => (&[], &self.names[*at..*at + count * SegRaw::RECORD_LEN]),
        };
        let stored = stored
            .chunks_exact(SegRaw::RECORD_LEN)
            .filter_map(SegRaw::from_record);
        read.iter()
            .copied()
            .chain(stored)
            .map(move |raw| SegmentEntry {
                dir: &self.dir,
                raw,
            })
    }

    /// How many entries are named like segments.
    pub fn segment_count(&self) -> usize {
        match &self.segments {
            Segs::Read(v) => v.len(),
            Segs::Stored { count, .. } => *count,
        }
    }

    /// How many entries (`.` and `..` left out).
    pub fn len(&self) -> usize {
        self.entries.len() + self.segment_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Opens `dir` for reading its entries. Follows a symlink to a directory (as
/// `read_dir` does); a path that is no directory fails with `ENOTDIR`.
pub(crate) fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

impl DirEntry<'_> {
    pub fn file_name(&self) -> &OsStr {
        match &self.name {
            EntryName::Kept(name) => name,
            EntryName::Segment(buf, len) => OsStr::from_bytes(&buf[..usize::from(*len)]),
        }
    }

    pub fn path(&self) -> PathBuf {
        join(self.dir, self.file_name())
    }

    /// The inode number the directory entry names (no stat).
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The entry's type, from the directory entry itself (no stat; one
    /// `lstat` on a file system that does not fill `d_type`). A symlink is
    /// never followed: it is a symlink. `NotFound` when the entry is gone
    /// since the read (only possible where `lstat` was needed).
    pub fn file_type(&self) -> io::Result<FileType> {
        type_of(self.d_type, || self.path())
    }

    /// Whether the entry is a regular file (see [`DirEntry::file_type`]);
    /// `None` when it is gone since the read.
    pub fn is_file(&self) -> Option<bool> {
        self.file_type().ok().map(|t| t == FileType::RegularFile)
    }
}

impl<'a> SegmentEntry<'a> {
    /// The start seq and the digits' count the name says.
    pub fn name(&self) -> SegmentName {
        self.raw.name
    }

    /// The inode number the directory entry names (no stat).
    pub fn ino(&self) -> u64 {
        self.raw.ino
    }

    /// As [`DirEntry::file_type`].
    pub fn file_type(&self) -> io::Result<FileType> {
        type_of(self.raw.d_type, || self.path())
    }

    /// The entry, its name written out.
    pub fn entry(&self) -> DirEntry<'a> {
        let mut buf = [0u8; MAX_NAME_LEN];
        let len = write_segment_name(self.raw.name, &mut buf) as u8;
        DirEntry {
            dir: self.dir,
            name: EntryName::Segment(buf, len),
            d_type: self.raw.d_type,
            ino: self.raw.ino,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.entry().path()
    }

    pub(crate) fn raw(&self) -> SegRaw {
        self.raw
    }
}

/// `dir/name`, sized once: no reallocation per entry of a large directory.
fn join(dir: &Path, name: &OsStr) -> PathBuf {
    let mut path = PathBuf::with_capacity(dir.as_os_str().len() + 1 + name.len());
    path.push(dir);
    path.push(name);
    path
}

/// `d_type` as a file type, from one `lstat` of `path()` where the file
/// system left it unknown.
fn type_of(d_type: FileType, path: impl FnOnce() -> PathBuf) -> io::Result<FileType> {
    match d_type {
        FileType::Unknown => rustix::fs::lstat(path())
            .map(|st| FileType::from_raw_mode(st.st_mode))
            .map_err(Into::into),
        t => Ok(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn names(read: &DirRead) -> Vec<String> {
        let mut v: Vec<String> = read
            .entries()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn reads_every_entry_with_its_type_and_inode() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("a"), "x").unwrap();
        fs::create_dir(tmp.path().join("d")).unwrap();
        std::os::unix::fs::symlink("a", tmp.path().join("l")).unwrap();
        let read = DirRead::read(tmp.path()).unwrap();
        assert!(read.is_snapshot());
        assert_eq!(names(&read), ["a", "d", "l"]);
        for e in read.entries() {
            let expect = e.file_name() == "a";
            assert_eq!(e.is_file(), Some(expect), "{:?}", e.file_name());
            let ino = std::os::unix::fs::MetadataExt::ino(&fs::symlink_metadata(e.path()).unwrap());
            assert_eq!(e.ino(), ino);
        }
    }

    /// A directory larger than the first buffer is read again with a larger
    /// one, and still comes back from one call (a snapshot), every name once.
    #[test]
    fn a_directory_larger_than_the_first_buffer_is_still_one_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let n = 3000; // about 170 KB of records, past MIN_BUF
        for i in 0..n {
            fs::write(tmp.path().join(format!("events-{i:020}.jsonl")), "").unwrap();
        }
        let read = DirRead::read_from(tmp.path(), Some(MIN_BUF)).unwrap();
        assert!(read.is_snapshot());
        let got = names(&read);
        assert_eq!(got.len(), n);
        assert_eq!(names(&DirRead::read(tmp.path()).unwrap()), got);
        let mut want: Vec<String> = (0..n).map(|i| format!("events-{i:020}.jsonl")).collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn missing_and_not_a_directory_are_said_as_such() {
        let tmp = tempfile::tempdir().unwrap();
        let err = DirRead::read(&tmp.path().join("nope")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        fs::write(tmp.path().join("f"), "").unwrap();
        let err = DirRead::read(&tmp.path().join("f")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory);
    }
}

//! Naming and listing of the segments of a journal directory.
//!
//! A segment is a file named `events-<start-seq>.jsonl` where `<start-seq>` is
//! an unsigned integer (the engine pads it to 20 digits). Anything else in the
//! directory is not part of the journal: it is never returned as a segment,
//! so no caller can read, truncate or delete it by mistake.
//!
//! Guarantees:
//! - segments are sorted by the *numeric* start seq, never lexically;
//! - an entry whose name parses but which is not a regular file (a directory,
//!   a FIFO, any symlink, dangling or not) is listed apart as [`Irregular`]:
//!   symlinks are never followed, so nothing outside the directory is touched;
//! - listing reads the directory entries' file type (`d_type`), never a stat
//!   per entry: a journal of ten thousand segments lists as fast as one of
//!   sixty-four (only a file system without `d_type` costs one `lstat` each);
//! - each segment's length is captured once, when it is first needed (as the
//!   segment is opened for reading, or asked for): readers use it as their
//!   end, so bytes appended after that are not mistaken for damage.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use once_cell::race::OnceBox;

use rustix::fs::FileType;

pub use crate::journal::defect::file_name_lossy;
use crate::journal::dircache::ListingCache;
use crate::journal::dirread::DirRead;
use crate::journal::error::JournalError;
pub use crate::journal::segname::{
    NAME_DIGITS, has_jsonl_extension, parse_segment_name, segment_file_name,
};
use crate::journal::segname::{SegmentName, seq_out_of_range};

/// The writer's claim file (`flock(2)` target) inside a journal directory.
pub const LOCK_FILE_NAME: &str = ".account-journal.lock";

/// A regular file named like a segment, as listed by [`Listing::read`] (the
/// only place that makes one, so a segment's path is always a regular file
/// named like a segment inside the listed directory).
#[derive(Debug, Clone)]
pub struct Segment {
    /// The start seq parsed from the file name.
    pub(crate) start_seq: u64,
    /// The listed directory and how many digits the file name has, shared
    /// by the listing's segments whose names have as many (all of them, as
    /// the engine names them).
    dir: Arc<SegmentDir>,
    /// The full path and the length, made the first time either is asked
    /// for: a listing of ten thousand segments builds only the paths of
    /// those a command opens (a path per segment was a tenth of
    /// `inspect -n 20`'s time on such a journal). One pointer, not a
    /// `OnceLock` (two words): the listing's memory is most of what a
    /// command on such a journal costs (issue 14). Threads that race to
    /// make it each may, but all of them get the one that was kept.
    opened: OnceBox<Opened>,
    /// Inode number when the listing was taken (the directory entry's own,
    /// no stat): a mutation checks that the file it opens is still this one
    /// (see `dirfd`).
    pub(crate) ino: u64,
}

/// A listed directory and a count of digits (see [`Segment::dir`]).
#[derive(Debug, PartialEq, Eq)]
struct SegmentDir {
    path: PathBuf,
    /// With the start seq, the name itself (`events-` + the seq
    /// zero-padded to it + `.jsonl`), as a name that does not parse is not
    /// a segment (the engine writes 20).
    width: u8,
}

/// What a [`Segment`] makes when it is first used.
#[derive(Debug, Clone)]
struct Opened {
    path: PathBuf,
    /// Length in bytes, taken once when first asked for (see [`Segment::len`]).
    len: OnceLock<u64>,
}

/// The same file of the same listing: name, directory and inode.
impl PartialEq for Segment {
    fn eq(&self, other: &Segment) -> bool {
        (self.start_seq, self.ino) == (other.start_seq, other.ino) && self.dir == other.dir
    }
}

impl Eq for Segment {}

impl Segment {
    /// The start seq parsed from the file name.
    pub fn start_seq(&self) -> u64 {
        self.start_seq
    }

    /// Full path of the file.
    pub fn path(&self) -> &Path {
        &self.opened().path
    }

    fn opened(&self) -> &Opened {
        self.opened.get_or_init(|| {
            let name = self.file_name();
            let dir = &self.dir.path;
            let mut path = PathBuf::with_capacity(dir.as_os_str().len() + 1 + name.len());
            path.push(dir);
            path.push(name);
            Box::new(Opened {
                path,
                len: OnceLock::new(),
            })
        })
    }

    /// Length in bytes, taken the first time it is asked for (one `lstat`,
    /// when the segment is about to be read) and fixed from then on: it is the
    /// segment's readers' end, so bytes appended later are not read. A file
    /// gone since the listing (a concurrent prune) reads as empty.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        let opened = self.opened();
        *opened.len.get_or_init(|| {
            fs::symlink_metadata(&opened.path).map_or(0, |m| if m.is_file() { m.len() } else { 0 })
        })
    }

    /// A segment listed in `dir` (the caller checked that it is a regular
    /// file named like a segment, with `dir`'s count of digits).
    fn listed(start_seq: u64, dir: &Arc<SegmentDir>, ino: u64) -> Segment {
        Segment {
            start_seq,
            dir: Arc::clone(dir),
            opened: OnceBox::new(),
            ino,
        }
    }

    /// The file name (as in the directory, byte for byte).
    pub fn file_name(&self) -> String {
        self.name().file_name()
    }

    /// The file name as its two numbers.
    fn name(&self) -> SegmentName {
        SegmentName {
            seq: self.start_seq,
            width: self.dir.width,
        }
    }
}

/// What kind of non-regular entry carries a segment's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrregularKind {
    Directory,
    Symlink,
    DanglingSymlink,
    /// A symlink that resolves to itself (or a longer cycle).
    SymlinkLoop,
    Fifo,
    Other,
    /// `events-<digits>.jsonl` with at most 20 digits whose number does not
    /// fit in a seq: never read, but never silently ignored either (a writer
    /// continuing below it would repeat seqs).
    SeqOutOfRange,
}

impl IrregularKind {
    pub fn describe(self) -> &'static str {
        match self {
            IrregularKind::Directory => "a directory",
            IrregularKind::Symlink => "a symbolic link (not followed)",
            IrregularKind::DanglingSymlink => "a dangling symbolic link",
            IrregularKind::SymlinkLoop => "a symbolic link that loops",
            IrregularKind::Fifo => "a FIFO",
            IrregularKind::Other => "not a regular file",
            IrregularKind::SeqOutOfRange => "its seq is beyond 18446744073709551615",
        }
    }
}

/// An entry named like a segment that is not a regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Irregular {
    pub start_seq: u64,
    pub path: PathBuf,
    pub kind: IrregularKind,
}

/// The segments of a journal directory, oldest first.
///
/// Only [`Listing::read`] makes one (the fields are private), so every
/// operation that takes a listing (`apply_*` included) can trust that its
/// segments are regular files named like segments inside `dir`:
///
/// ```compile_fail
/// let forged = journal::Listing { dir: "/etc".into(), segments: Vec::new(),
///     irregular: Vec::new(), has_lock_file: false };
/// ```
#[derive(Debug, Clone)]
pub struct Listing {
    pub(crate) dir: PathBuf,
    /// Regular segment files sorted by start seq.
    pub(crate) segments: Vec<Segment>,
    /// Entries named like segments that are not regular files.
    pub(crate) irregular: Vec<Irregular>,
    /// Whether the writer's claim file exists (a journal the engine has opened).
    pub(crate) has_lock_file: bool,
}

impl Listing {
    /// Lists `dir`. A missing directory or a path that is not a directory is an
    /// error; a directory without segments is an empty listing (callers decide
    /// whether that is an error: see [`Listing::require_journal`]).
    pub fn read(dir: &Path) -> Result<Listing, JournalError> {
        Listing::from_read(read_dir_for_listing(dir)?)
    }

    /// [`Listing::read`], the entries taken from `cache` when it holds them
    /// (see [`dircache`](crate::journal::dircache)). For readers only: a
    /// command that changes the journal, or follows it, lists the directory
    /// itself ([`Listing::read`]).
    pub fn read_cached(dir: &Path, cache: &ListingCache) -> Result<Listing, JournalError> {
        let read = DirRead::read_cached(dir, cache).map_err(|e| listing_error(dir, e))?;
        Listing::from_read(read)
    }

    /// Lists the directory `read` was taken of, from that read (format
    /// detection hands its read over, so a command reads the directory once).
    ///
    /// A read that is a snapshot (one `getdents64` call, see
    /// [`DirRead::is_snapshot`]) is used as it is. One that took several
    /// calls is not: a segment created during it can be missed while a newer
    /// one, created after it, is seen, and a whole segment's seqs then look
    /// missing (verify called it a seq gap). So such a read only finds the
    /// newest name; every segment up to it existed before a second read
    /// began, which therefore sees all of them. Newer ones (created during
    /// the second read, maybe not all of them) are left to the next listing.
    pub fn from_read(read: DirRead) -> Result<Listing, JournalError> {
        if read.is_snapshot() {
            return Listing::from_entries(&read, None);
        }
        let newest = read.segments().map(|e| e.name().seq).max();
        let again = read_dir_for_listing(read.dir())?;
        // Keep nothing when the first read found no segment (as before).
        Listing::from_entries(&again, Some(newest))
    }

    /// The listing of `read`, without segments newer than `upto` when given.
    fn from_entries(read: &DirRead, upto: Option<Option<u64>>) -> Result<Listing, JournalError> {
        let mut listing = Listing {
            dir: read.dir().to_owned(),
            segments: Vec::with_capacity(read.segment_count()),
            irregular: Vec::new(),
            has_lock_file: false,
        };
        // One shared directory per count of digits, made when first needed.
        let mut dirs: [Option<Arc<SegmentDir>>; NAME_DIGITS + 1] = Default::default();
        for entry in read.others() {
            let name = entry.file_name();
            if name == LOCK_FILE_NAME {
                listing.has_lock_file = true;
            } else if seq_out_of_range(name) {
                listing.irregular.push(Irregular {
                    start_seq: u64::MAX,
                    path: entry.path(),
                    kind: IrregularKind::SeqOutOfRange,
                });
            }
        }
        for entry in read.segments() {
            let SegmentName {
                seq: start_seq,
                width,
            } = entry.name();
            if let Some(newest) = upto
                && newest.is_none_or(|newest| start_seq > newest)
            {
                continue;
            }
            // No length here: it is taken when the segment is first opened,
            // after the whole directory was read. A writer finishes a segment
            // before it creates the next one, so every segment but the newest
            // listed is closed by then and its length final: no seq gap
            // appears at a boundary that is only a race with a rotation.
            //
            // The entry's own type (d_type, no stat where the file system
            // fills it in); a symlink is reported as such, never followed.
            let ft = match entry.file_type() {
                Ok(ft) => ft,
                // Deleted since the read (a concurrent prune): not there.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(JournalError::Io {
                        path: entry.path(),
                        source,
                    });
                }
            };
            if ft == FileType::RegularFile {
                listing.segments.push(Segment::listed(
                    start_seq,
                    dirs[usize::from(width)].get_or_insert_with(|| {
                        Arc::new(SegmentDir {
                            path: read.dir().to_owned(),
                            width,
                        })
                    }),
                    entry.ino(),
                ));
            } else {
                let path = entry.path();
                let kind = irregular_kind_of(&path, ft);
                listing.irregular.push(Irregular {
                    start_seq,
                    path,
                    kind,
                });
            }
        }
        // Unstable (faster on ten thousand segments; one pass when they come
        // sorted, as from the listing cache), made deterministic by the name
        // for seqs written two ways ("events-1", "events-01": the longer
        // name first, as the names compare).
        listing.segments.sort_unstable_by_key(Segment::name);
        listing.irregular.sort_by_key(|s| s.start_seq);
        Ok(listing)
    }

    /// Like [`Listing::read`], but a directory that holds no segment and no
    /// claim file is not a journal and is an error rather than a silent "empty".
    pub fn read_journal(dir: &Path) -> Result<Listing, JournalError> {
        let listing = Listing::read(dir)?;
        listing.require_journal()?;
        Ok(listing)
    }

    /// Errors when nothing in the directory says it is a journal.
    pub fn require_journal(&self) -> Result<(), JournalError> {
        if self.segments.is_empty() && self.irregular.is_empty() && !self.has_lock_file {
            return Err(JournalError::NoSegments {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// The directory listed.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Regular segment files, sorted by start seq (oldest first).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Entries named like segments that are not regular files.
    pub fn irregular(&self) -> &[Irregular] {
        &self.irregular
    }

    /// Whether the writer's claim file exists (a journal the engine has opened).
    pub fn has_lock_file(&self) -> bool {
        self.has_lock_file
    }

    /// The newest segment (the only one a writer may still append to).
    pub fn newest(&self) -> Option<&Segment> {
        self.segments.last()
    }

    /// Total bytes of all segments (takes every segment's length).
    pub fn total_bytes(&self) -> u64 {
        self.segments.iter().map(Segment::len).sum()
    }
}

/// The seq of a segment's first line when it starts in the engine's shape
/// (`{"seq":N,`), read from its first bytes; `None` when the file cannot be
/// read or does not start that way (the caller then assumes nothing).
pub fn probe_first_seq(path: &Path) -> Option<u64> {
    let mut head = [0u8; 40];
    let file = fs::File::open(path).ok()?;
    let got = crate::journal::lines::read_at_full(&file, &mut head, 0).ok()?;
    crate::journal::record::fast_seq(&head[..got])
}

/// The `ts` of a segment's first line when it starts in the engine's shape
/// (`{"seq":N,"ts":"...",`), from one small read; `None` when the file cannot
/// be read or does not start that way (the caller then assumes nothing).
pub fn probe_first_ts(path: &Path) -> Option<chrono::DateTime<chrono::Utc>> {
    let mut head = [0u8; 128];
    let file = fs::File::open(path).ok()?;
    let got = crate::journal::lines::read_at_full(&file, &mut head, 0).ok()?;
    crate::journal::record::fast_ts(&head[..got]).and_then(crate::journal::record::parse_ts)
}

/// One read of `dir` for a listing, its errors said as the listing's: missing
/// (also when removed while it is read: a follower under --retry meets this),
/// not a directory, or an I/O error naming the directory.
fn read_dir_for_listing(dir: &Path) -> Result<DirRead, JournalError> {
    DirRead::read(dir).map_err(|e| listing_error(dir, e))
}

/// An error reading `dir`'s entries, said as the listing's.
fn listing_error(dir: &Path, source: io::Error) -> JournalError {
    match source.kind() {
        io::ErrorKind::NotFound => JournalError::DirNotFound {
            dir: dir.to_owned(),
        },
        io::ErrorKind::NotADirectory => JournalError::NotADirectory {
            dir: dir.to_owned(),
        },
        _ => JournalError::Io {
            path: dir.to_owned(),
            source,
        },
    }
}

/// [`irregular_kind_of`] for a type from `std::fs` (the family readers list
/// with `std::fs::read_dir`).
pub(crate) fn irregular_kind(path: &Path, ft: fs::FileType) -> IrregularKind {
    use std::os::unix::fs::FileTypeExt;
    let ft = if ft.is_dir() {
        FileType::Directory
    } else if ft.is_symlink() {
        FileType::Symlink
    } else if ft.is_fifo() {
        FileType::Fifo
    } else if ft.is_file() {
        FileType::RegularFile
    } else {
        FileType::Unknown
    };
    irregular_kind_of(path, ft)
}

fn irregular_kind_of(path: &Path, ft: FileType) -> IrregularKind {
    match ft {
        FileType::Directory => IrregularKind::Directory,
        FileType::Symlink => match fs::metadata(path) {
            Ok(_) => IrregularKind::Symlink,
            // ELOOP: the link leads back to itself, it is not dangling.
            Err(e) if e.raw_os_error() == Some(40) => IrregularKind::SymlinkLoop,
            Err(_) => IrregularKind::DanglingSymlink,
        },
        FileType::Fifo => IrregularKind::Fifo,
        _ => IrregularKind::Other,
    }
}

/// serde `serialize_with` helpers: JSON output names segments and quarantine
/// files by file name (they all live in the journal directory), not by path.
pub(crate) mod ser {
    use std::path::{Path, PathBuf};

    use super::file_name_lossy;

    pub fn file_name<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&file_name_lossy(p))
    }

    pub fn opt_file_name<S: serde::Serializer>(
        p: &Option<PathBuf>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => file_name(p, s),
            None => s.serialize_none(),
        }
    }

    pub fn file_names<S: serde::Serializer>(ps: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ps.iter().map(|p| file_name_lossy(p)))
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    fn line(seq: u64) -> String {
        format!(
            "{{\"seq\":{seq},\"ts\":\"2026-11-20T09:00:00Z\",\"event\":{{\"type\":\"Ping\"}}}}\n"
        )
    }

    fn append(path: &Path, text: &str) {
        use std::io::Write as _;
        let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// Issue 14 item 1: listing reads no length (bytes appended between the
    /// listing and the first read are read), and a segment's length is fixed
    /// once taken (bytes appended after that are not read).
    #[test]
    fn a_segments_length_is_taken_when_first_needed_and_then_fixed() {
        use crate::journal::lines::{ForwardLines, ReadOptions};
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(segment_file_name(1));
        fs::write(&path, line(1)).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        append(&path, &line(2));
        let seg = &listing.segments()[0];
        assert_eq!(seg.len(), (line(1).len() + line(2).len()) as u64);
        append(&path, &line(3));
        assert_eq!(seg.len(), (line(1).len() + line(2).len()) as u64);
        let mut lines = ForwardLines::open(seg.path(), seg.len(), ReadOptions::default()).unwrap();
        let mut n = 0;
        while let Some(l) = lines.next_complete().unwrap() {
            n += 1;
            assert!(l.content().is_some());
        }
        assert_eq!(
            n, 2,
            "the line appended after the length was taken is not read"
        );
        assert_eq!(listing.total_bytes(), seg.len());
    }

    /// The entry's type decides, without following symlinks: a symlink to a
    /// segment and a directory named like one are irregular, never segments.
    #[test]
    fn entry_types_sort_regular_files_from_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(segment_file_name(1)), line(1)).unwrap();
        fs::create_dir(tmp.path().join(segment_file_name(5))).unwrap();
        std::os::unix::fs::symlink(
            tmp.path().join(segment_file_name(1)),
            tmp.path().join(segment_file_name(9)),
        )
        .unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        let starts: Vec<u64> = listing.segments().iter().map(Segment::start_seq).collect();
        assert_eq!(starts, [1]);
        let kinds: Vec<(u64, IrregularKind)> = listing
            .irregular()
            .iter()
            .map(|i| (i.start_seq, i.kind))
            .collect();
        assert_eq!(
            kinds,
            [(5, IrregularKind::Directory), (9, IrregularKind::Symlink)]
        );
    }

    #[test]
    fn a_symlink_to_itself_is_a_loop_not_dangling() {
        let tmp = tempfile::tempdir().unwrap();
        let loop_ = tmp.path().join("events-1.jsonl");
        std::os::unix::fs::symlink(&loop_, &loop_).unwrap();
        std::os::unix::fs::symlink("nowhere", tmp.path().join("events-2.jsonl")).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        let kinds: Vec<IrregularKind> = listing.irregular().iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            [IrregularKind::SymlinkLoop, IrregularKind::DanglingSymlink]
        );
    }

    #[test]
    fn a_name_beyond_u64_is_listed_apart_not_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("events-1.jsonl"), "").unwrap();
        fs::write(tmp.path().join("events-99999999999999999999.jsonl"), "x").unwrap();
        fs::write(tmp.path().join("events-000000000000000000001.jsonl"), "x").unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        assert_eq!(listing.segments().len(), 1);
        assert_eq!(listing.irregular().len(), 1, "{:?}", listing.irregular());
        assert_eq!(listing.irregular()[0].kind, IrregularKind::SeqOutOfRange);
    }

    /// Issue 14 item 1: a read that is one snapshot is the listing; one that
    /// took several calls is read again, keeping only segments up to the
    /// newest the first read saw (all of which existed before the second
    /// read began), and its entries' types and inodes are the second read's.
    #[test]
    fn a_read_in_several_calls_is_read_again_up_to_its_newest_segment() {
        let tmp = tempfile::tempdir().unwrap();
        for seq in [1, 5] {
            fs::write(tmp.path().join(segment_file_name(seq)), line(seq)).unwrap();
        }
        let read = DirRead::read(tmp.path()).unwrap();
        assert!(read.is_snapshot());
        fs::write(tmp.path().join(segment_file_name(9)), line(9)).unwrap();
        let starts =
            |l: &Listing| -> Vec<u64> { l.segments().iter().map(Segment::start_seq).collect() };
        assert_eq!(starts(&Listing::from_read(read.clone()).unwrap()), [1, 5]);

        // Segment 5 replaced by another file since the first read: the
        // second read's inode is listed.
        fs::remove_file(tmp.path().join(segment_file_name(5))).unwrap();
        fs::write(tmp.path().join(segment_file_name(5)), line(5)).unwrap();
        let again = Listing::from_read(read.into_several_calls()).unwrap();
        assert_eq!(starts(&again), [1, 5]);
        let ino = std::os::unix::fs::MetadataExt::ino(
            &fs::metadata(tmp.path().join(segment_file_name(5))).unwrap(),
        );
        assert_eq!(again.segments()[1].ino, ino);
        assert_eq!(starts(&Listing::read(tmp.path()).unwrap()), [1, 5, 9]);
    }

    /// Seqs written two ways sort by name, whatever the directory's order.
    #[test]
    fn one_seq_under_two_names_sorts_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["events-01.jsonl", "events-1.jsonl", "events-001.jsonl"] {
            fs::write(tmp.path().join(name), line(1)).unwrap();
        }
        let listing = Listing::read(tmp.path()).unwrap();
        let names: Vec<String> = listing.segments().iter().map(Segment::file_name).collect();
        assert_eq!(
            names,
            ["events-001.jsonl", "events-01.jsonl", "events-1.jsonl"]
        );
        // Each path, built when first asked for, is its own file's.
        for seg in listing.segments() {
            let path = tmp.path().join(seg.file_name());
            assert_eq!(seg.path(), path);
            assert_eq!(seg.len(), fs::metadata(&path).unwrap().len());
            assert_eq!(
                seg.ino,
                std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap())
            );
        }
    }

    /// A listing of ten thousand segments is mostly this struct: its size
    /// is its page faults (issue 14). Four words: seq, inode, the shared
    /// directory, the lazy path.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_listed_segment_stays_small() {
        assert!(std::mem::size_of::<Segment>() <= 32);
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_file_name(286), "events-00000000000000000286.jsonl");
        assert_eq!(
            parse_segment_name(OsStr::new(&segment_file_name(u64::MAX))),
            Some(u64::MAX)
        );
    }
}

//! A cache of large directories' listings, so that a read-only command need
//! not read a directory that has not changed since it was last read (issue
//! 14: on a journal of ten thousand small segments most of a command's time
//! was the kernel's `getdents64`, which hashes and sorts every name of an
//! ext4 directory on every read). The idea of git's untracked cache
//! (`core.untrackedCache`) and of mlocate's `updatedb`.
//!
//! Guarantees:
//! - a cached listing is returned only when the directory's `statx` taken
//!   now equals, field for field, the one taken just **before** the read the
//!   cache holds: device, inode, mtime and ctime to the nanosecond, and the
//!   birth time where the file system reports one. Creating, removing or
//!   renaming an entry sets the directory's mtime and ctime; ctime cannot be
//!   set from user space (`utimensat`, `touch -d`, `cp -a`, `rsync -t` set
//!   mtime only), so an mtime put back still misses;
//! - a cache is written only from a read that is a snapshot
//!   ([`DirRead::is_snapshot`]) of a directory whose mtime and ctime were
//!   both at least [`SETTLED`] older than the wall clock read before the
//!   `statx` and the read (git's "racily clean" problem). Why that suffices:
//!   a file system stamps a change with the current time of a clock that
//!   lags the wall clock by at most one tick (a few milliseconds; a second
//!   on a file system that keeps seconds only). A change made after the
//!   clock was read at `now` is therefore stamped after `now - SETTLED`, so
//!   strictly after the ctime the cache records, and the next `statx`
//!   differs. A change between the `statx` and the read is such a change
//!   too: the cache then holds a newer listing than its key, and misses. The
//!   one hole is a wall clock stepped back by more than [`SETTLED`] while
//!   the directory changes, landing the new ctime on the recorded one to
//!   the nanosecond;
//! - only on local file systems whose kernel keeps a directory's times
//!   ([`CACHED_FS`]: ext2/3/4, xfs, btrfs, tmpfs, f2fs, overlayfs, zfs):
//!   never over NFS, CIFS or FUSE, whose attribute caches can hold a stale
//!   mtime for a minute;
//! - only directories of at least [`MIN_ENTRIES`] entries: below that a read
//!   costs no more than the cache, and an ordinary journal leaves no file;
//! - nothing is ever written in or beside the directory read: cache files
//!   live in [`ListingCache::from_env`]'s directory, one per cached
//!   directory, named from its device and inode, written to a temporary
//!   file there and renamed (two processes may race; either file is whole);
//! - a cache file that is missing, torn, corrupt, of another version or of
//!   another directory is a miss, and every failure to read or write one is
//!   silent: the directory is read as if there were no cache;
//! - a cache file owned by another user, writable by anyone but its owner,
//!   or reached through a symbolic link is a miss too;
//! - a cache file neither written nor used for [`STALE_AFTER`] (its
//!   directory gone, or never read again; a hit moves its time on once a
//!   day) is removed when a listing is next written: only
//!   regular files named as this module names them and beginning with its
//!   magic, at most [`MAX_REMOVALS`] a time, from one read of the cache
//!   directory. Nothing else there is touched.
//!
//! Only readers use it: commands that change a journal (prune, repair,
//! append) and a follower's rescans read the directory itself.
//!
//! # File format (version 2, little-endian)
//!
//! ```text
//! magic    8  b"JRNLDIRC"
//! version  1  2
//! stamp   53  dev major u32, dev minor u32, ino u64,
//!             mtime (sec i64, nsec u32), ctime (sec i64, nsec u32),
//!             has btime u8, btime (sec i64, nsec u32)
//! count    4  u32: entries not named like segments
//! names    4  u32: bytes of their names
//! segments 4  u32: entries named like segments
//! entries     count x (ino u64, type u8 (mode >> 12), name length u8), by name
//! names       their names, one after the other, in the entries' order
//! segments    segments x (seq u64, ino u64, digits u8, type u8): each
//!             segment name as its two numbers, by seq, the longer name
//!             first (18 bytes where the name took 43)
//! checksum 8 u64: [`checksum`] of every byte before it
//! ```
//!
//! A hit reads the file into one buffer and uses it where it is: the
//! segments' table is not copied (on a journal of ten thousand segments,
//! the memory a command touches is most of its cost).

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType, StatxFlags};

use crate::journal::dirread::{DirRead, Raw, SegRaw, Segs, open_dir};

/// How much older than the wall clock a directory's mtime and ctime must be
/// for its listing to be cached (see the module's proof).
pub const SETTLED: Duration = Duration::from_secs(3);

/// The fewest entries a directory must hold for its listing to be cached.
pub const MIN_ENTRIES: usize = 1024;

/// File systems (`statfs` `f_type`) on which a listing is cached: local ones
/// whose kernel sets a directory's times on every change.
pub const CACHED_FS: [(i64, &str); 7] = [
    (0xEF53, "ext2/ext3/ext4"),
    (0x5846_5342, "xfs"),
    (0x9123_683E, "btrfs"),
    (0x0102_1994, "tmpfs"),
    (0xF2F5_2010, "f2fs"),
    (0x794C_7630, "overlayfs"),
    (0x2FC1_2FC1, "zfs"),
];

/// How long a cache file may go unwritten and unused before a write removes it.
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);

/// The most stale cache files one write removes (the rest, the next time).
pub const MAX_REMOVALS: usize = 256;

const MAGIC: &[u8; 8] = b"JRNLDIRC";
/// The name of a cache file's temporary before it is renamed.
const TMP_PREFIX: &str = ".listing-";
const VERSION: u8 = 2;
const STAMP_LEN: usize = 53;
const HEADER_LEN: usize = MAGIC.len() + 1 + STAMP_LEN + 4 + 4 + 4;
const ENTRY_LEN: usize = 10;
const SUM_LEN: usize = 8;
/// A cache file larger than this is not read (a directory of about a
/// million entries; such a directory is read from the disk).
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// Where listings are cached; `None` of it (see [`ListingCache::from_env`])
/// means no cache is read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingCache {
    dir: PathBuf,
}

/// A directory's identity and times, as `statx` gave them: the cache's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirStamp {
    pub dev: (u32, u32),
    pub ino: u64,
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
    /// When the file system reports it.
    pub btime: Option<(i64, u32)>,
}

impl ListingCache {
    /// The cache directory the environment names: `$JOURNAL_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/journal`, else `$HOME/.cache/journal` (an empty
    /// variable is unset). `None` when `JOURNAL_NO_CACHE` is set to anything
    /// but the empty string, or when none of them is set.
    pub fn from_env() -> Option<ListingCache> {
        ListingCache::from_vars(|name| std::env::var_os(name))
    }

    /// [`ListingCache::from_env`] with the variables looked up by `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Option<ListingCache> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        if var("JOURNAL_NO_CACHE").is_some() {
            return None;
        }
        let dir = if let Some(dir) = var("JOURNAL_CACHE_DIR") {
            PathBuf::from(dir)
        } else if let Some(xdg) = var("XDG_CACHE_HOME") {
            PathBuf::from(xdg).join("journal")
        } else {
            PathBuf::from(var("HOME")?).join(".cache").join("journal")
        };
        Some(ListingCache { dir })
    }

    /// A cache in `dir` (created when a listing is first written).
    pub fn at(dir: impl Into<PathBuf>) -> ListingCache {
        ListingCache { dir: dir.into() }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that caches the directory `stamp` names (one per directory:
    /// a newer listing replaces the older).
    pub fn file_for(&self, stamp: &DirStamp) -> PathBuf {
        self.dir.join(format!(
            "listing-{}.{}-{}",
            stamp.dev.0, stamp.dev.1, stamp.ino
        ))
    }
}

impl DirStamp {
    /// The stamp of the open directory `fd`; `None` when `statx` fails or does
    /// not report the times.
    pub fn of(fd: impl AsFd) -> Option<DirStamp> {
        let want = StatxFlags::INO | StatxFlags::MTIME | StatxFlags::CTIME | StatxFlags::BTIME;
        let st = rustix::fs::statx(fd, c"", AtFlags::EMPTY_PATH, want).ok()?;
        let got = StatxFlags::from_bits_retain(st.stx_mask);
        if !got.contains(StatxFlags::INO | StatxFlags::MTIME | StatxFlags::CTIME) {
            return None;
        }
        let t = |t: rustix::fs::StatxTimestamp| (t.tv_sec, t.tv_nsec);
        Some(DirStamp {
            dev: (st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            mtime: t(st.stx_mtime),
            ctime: t(st.stx_ctime),
            btime: got.contains(StatxFlags::BTIME).then(|| t(st.stx_btime)),
        })
    }

    /// Whether a listing read after this stamp was taken, with the wall
    /// clock at `now` just before, may be cached: mtime and ctime both at
    /// least [`SETTLED`] before `now` (see the module's proof).
    pub fn is_settled(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let Some(limit) = now.checked_sub(SETTLED) else {
            return false;
        };
        let at = |(sec, nsec): (i64, u32)| {
            u64::try_from(sec)
                .ok()
                .map(|s| Duration::new(s, nsec.min(999_999_999)))
        };
        [self.mtime, self.ctime]
            .into_iter()
            .all(|t| at(t).is_some_and(|t| t <= limit))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.dev.0.to_le_bytes());
        out.extend_from_slice(&self.dev.1.to_le_bytes());
        out.extend_from_slice(&self.ino.to_le_bytes());
        for (sec, nsec) in [self.mtime, self.ctime] {
            out.extend_from_slice(&sec.to_le_bytes());
            out.extend_from_slice(&nsec.to_le_bytes());
        }
        let (sec, nsec) = self.btime.unwrap_or((0, 0));
        out.push(u8::from(self.btime.is_some()));
        out.extend_from_slice(&sec.to_le_bytes());
        out.extend_from_slice(&nsec.to_le_bytes());
    }
}

/// The cache file's checksum of `bytes`: four independent multiply-rotate
/// lanes over 32-byte blocks (xxHash64's scheme), then a final mix; it runs
/// at about memory speed (SHA-256 of a 400 KB listing was 4 % of a cached
/// `inspect -n 20`). It is there to notice a torn or damaged file; which
/// directory a file is of, the stamp inside says.
pub fn checksum(bytes: &[u8]) -> u64 {
    const P1: u64 = 0x9E37_79B1_85EB_CA87;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    let mut lanes = [P1, P2, !P1, !P2];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            let word = u64::from_le_bytes(word.try_into().unwrap());
            *lane = lane
                .wrapping_add(word.wrapping_mul(P2))
                .rotate_left(31)
                .wrapping_mul(P1);
        }
    }
    let mut h = (bytes.len() as u64).wrapping_mul(P1);
    for lane in lanes {
        h = (h ^ lane).wrapping_mul(P2).rotate_left(27);
    }
    for &b in blocks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(P1).rotate_left(11);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Whether the file system holding `fd` is one listings are cached on.
fn fs_is_cached(fd: impl AsFd) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|st| {
        // `f_type`'s width and sign differ between targets (i64 here, i32
        // or u32 elsewhere): compare its low 32 bits.
        #[allow(clippy::unnecessary_cast)]
        let t = (st.f_type as i64) & 0xFFFF_FFFF;
        CACHED_FS.iter().any(|&(magic, _)| magic == t)
    })
}

impl DirRead {
    /// [`DirRead::read`], from `cache` when the directory provably has not
    /// changed since the read the cache holds, else from the directory (and
    /// then cached when it qualifies). See the module for the rules.
    pub fn read_cached(dir: &Path, cache: &ListingCache) -> io::Result<DirRead> {
        // The wall clock before the stamp and the read (see the proof).
        let now = SystemTime::now();
        let fd = open_dir(dir)?;
        let Some(stamp) = fs_is_cached(&fd).then(|| DirStamp::of(&fd)).flatten() else {
            return DirRead::read_fd(dir, &fd, None);
        };
        read_with_stamp(dir, &fd, cache, stamp, now)
    }
}

/// The rest of [`DirRead::read_cached`], with the stamp and the clock given
/// (tests put in the ones they need).
fn read_with_stamp(
    dir: &Path,
    fd: &OwnedFd,
    cache: &ListingCache,
    stamp: DirStamp,
    now: SystemTime,
) -> io::Result<DirRead> {
    let file = cache.file_for(&stamp);
    if let Some(read) = load(&file, &stamp, dir) {
        return Ok(read);
    }
    let read = DirRead::read_fd(dir, fd, None)?;
    if may_store(&read, &stamp, now) {
        // Silent: a cache that cannot be written only costs the next read.
        let _ = store(cache, &file, &stamp, &read);
    }
    Ok(read)
}

/// Whether `read`, taken after `stamp` with the wall clock at `now` just
/// before, may be cached: a snapshot, large enough, of a settled directory.
fn may_store(read: &DirRead, stamp: &DirStamp, now: SystemTime) -> bool {
    read.is_snapshot() && read.len() >= MIN_ENTRIES && stamp.is_settled(now)
}

/// The listing cached in `file` for the directory `stamp` describes, as a
/// read of `dir`; `None` when there is none or it does not match.
fn load(file: &Path, stamp: &DirStamp, dir: &Path) -> Option<DirRead> {
    use std::os::unix::fs::MetadataExt as _;
    let mut f = open_no_follow(file).ok()?;
    let meta = f.metadata().ok()?;
    // Only a file this user wrote and no one else may change: in a cache
    // directory shared with others (a JOURNAL_CACHE_DIR in /tmp), another
    // user's file could otherwise hide or invent segments.
    if !trusted_owner(meta.uid(), meta.mode()) || meta.len() > MAX_FILE {
        return None;
    }
    let len = meta.len();
    let mut bytes = Vec::with_capacity(len as usize);
    f.read_to_end(&mut bytes).ok()?;
    let read = decode(bytes, stamp, dir)?;
    // A file in use is not stale: its time is moved on (once a day at
    // most, one system call) so that only files nobody used are removed.
    let now = SystemTime::now();
    if meta
        .modified()
        .is_ok_and(|m| now.duration_since(m).is_ok_and(|age| age > REFRESH_AFTER))
    {
        let _ = f.set_modified(now);
    }
    Some(read)
}

/// `path` opened for reading, refused when it is a symbolic link: a cache
/// file is only ever one this module wrote there.
fn open_no_follow(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// How old a cache file may grow before a hit moves its time on.
const REFRESH_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether a cache file owned by `uid` with `mode` is one this process may
/// believe: its own, writable by no one else.
fn trusted_owner(uid: u32, mode: u32) -> bool {
    uid == rustix::process::geteuid().as_raw() && mode & 0o022 == 0
}

/// `bytes` (a whole cache file) as a read of `dir`, when they are whole, of
/// this version and of the directory `stamp` describes. The names stay where
/// they are in `bytes` (no copy of a few hundred kilobytes).
fn decode(bytes: Vec<u8>, stamp: &DirStamp, dir: &Path) -> Option<DirRead> {
    let body_len = bytes.len().checked_sub(SUM_LEN)?;
    let (body, sum) = bytes.split_at(body_len);
    if body.len() < HEADER_LEN || &body[..MAGIC.len()] != MAGIC || body[MAGIC.len()] != VERSION {
        return None;
    }
    let mut want = Vec::with_capacity(STAMP_LEN);
    stamp.encode(&mut want);
    let header = &body[MAGIC.len() + 1..HEADER_LEN];
    if header[..STAMP_LEN] != want[..] {
        return None;
    }
    if checksum(body).to_le_bytes() != sum {
        return None;
    }
    let u32_at = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap()) as usize;
    let count = u32_at(STAMP_LEN);
    let names_len = u32_at(STAMP_LEN + 4);
    let seg_count = u32_at(STAMP_LEN + 8);
    let rest = &body[HEADER_LEN..];
    let segs_len = seg_count.checked_mul(SegRaw::RECORD_LEN)?;
    if count
        .checked_mul(ENTRY_LEN)?
        .checked_add(names_len)?
        .checked_add(segs_len)?
        != rest.len()
    {
        return None;
    }
    let (table, rest) = rest.split_at(count * ENTRY_LEN);
    let (names, segs) = rest.split_at(names_len);
    // Every record a segment name, each after the one before: a file that
    // says otherwise is not a listing this module wrote.
    let mut prev = None;
    for rec in segs.chunks_exact(SegRaw::RECORD_LEN) {
        let name = SegRaw::from_record(rec)?.name;
        if prev.is_some_and(|p| p >= name) {
            return None;
        }
        prev = Some(name);
    }
    // Each name one path component, as a directory returns them: a file
    // that says otherwise is not a listing (and could name a path elsewhere).
    if memchr::memchr2(b'/', 0, names).is_some() {
        return None;
    }
    let names_at = HEADER_LEN + count * ENTRY_LEN;
    let mut entries = Vec::with_capacity(count);
    let mut start = 0usize;
    for e in table.chunks_exact(ENTRY_LEN) {
        let ino = u64::from_le_bytes(e[..8].try_into().unwrap());
        let d_type = FileType::from_raw_mode(u32::from(e[8]) << 12);
        let len = usize::from(e[9]);
        let name = names.get(start..start + len)?;
        if name.is_empty() || name == b"." || name == b".." {
            return None;
        }
        entries.push(Raw {
            start: u32::try_from(names_at + start).ok()?,
            len: len as u32,
            d_type,
            ino,
        });
        start += len;
    }
    if start != names.len() {
        return None;
    }
    let at = names_at + names_len;
    Some(DirRead {
        dir: dir.to_owned(),
        names: bytes,
        entries,
        segments: Segs::Stored {
            at,
            count: seg_count,
        },
        snapshot: true,
    })
}

/// `read` as a cache file for the directory `stamp` describes: the other
/// entries by name, the segments by seq (which the listing's sort then finds
/// already sorted, in one pass).
fn encode(stamp: &DirStamp, read: &DirRead) -> Option<Vec<u8>> {
    let name = |r: &Raw| &read.names[r.start as usize..(r.start + r.len) as usize];
    let mut sorted: Vec<&Raw> = read.entries.iter().collect();
    sorted.sort_unstable_by(|a, b| name(a).cmp(name(b)));
    let mut segs: Vec<SegRaw> = read.segments().map(|e| e.raw()).collect();
    segs.sort_unstable_by_key(|s| s.name);
    let names_len: usize = sorted.iter().map(|r| r.len as usize).sum();
    let mut out = Vec::with_capacity(
        HEADER_LEN
            + sorted.len() * ENTRY_LEN
            + names_len
            + segs.len() * SegRaw::RECORD_LEN
            + SUM_LEN,
    );
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    stamp.encode(&mut out);
    for n in [sorted.len(), names_len, segs.len()] {
        out.extend_from_slice(&u32::try_from(n).ok()?.to_le_bytes());
    }
    for r in &sorted {
        out.extend_from_slice(&r.ino.to_le_bytes());
        out.push((r.d_type.as_raw_mode() >> 12) as u8);
        out.push(u8::try_from(r.len).ok()?);
    }
    for r in &sorted {
        out.extend_from_slice(name(r));
    }
    for s in segs {
        s.to_record(&mut out);
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    Some(out)
}

/// Writes `read` to `file` in `cache`'s directory, through a temporary file
/// renamed over it. Never into the directory read itself.
fn store(cache: &ListingCache, file: &Path, stamp: &DirStamp, read: &DirRead) -> io::Result<()> {
    let bytes = encode(stamp, read).ok_or_else(|| io::Error::other("not cacheable"))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&cache.dir)?;
    // A cache directory set to the journal's own would change what a
    // read-only command must leave as it found it.
    if DirStamp::of(open_dir(&cache.dir)?).is_none_or(|c| (c.dev, c.ino) == (stamp.dev, stamp.ino))
    {
        return Err(io::Error::other(
            "the cache directory is the directory read",
        ));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(&cache.dir)?;
    tmp.write_all(&bytes)?;
    tmp.persist(file).map_err(|e| e.error)?;
    remove_stale(&cache.dir, SystemTime::now());
    Ok(())
}

/// Whether `name` is one this module gives a file: `listing-MAJ.MIN-INO`
/// ([`ListingCache::file_for`]) or a temporary (`.listing-` and tempfile's
/// six random letters or digits).
fn is_cache_name(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = name.strip_prefix(TMP_PREFIX) {
        return rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric());
    }
    let Some((major, minor, ino)) = name.strip_prefix("listing-").and_then(|rest| {
        let (dev, ino) = rest.split_once('-')?;
        let (major, minor) = dev.split_once('.')?;
        Some((major, minor, ino))
    }) else {
        return false;
    };
    digits(major) && digits(minor) && digits(ino)
}

/// Whether the regular file `path` begins with the magic (a temporary torn
/// early may hold only part of it, or nothing). Not through a symlink.
fn begins_with_magic(path: &Path) -> bool {
    let Ok(mut f) = open_no_follow(path) else {
        return false;
    };
    let mut head = [0u8; MAGIC.len()];
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return false,
        }
    }
    head[..got] == MAGIC[..got]
}

/// Removes from the cache directory `dir` the cache files last written (or
/// used, see [`REFRESH_AFTER`]) more than [`STALE_AFTER`] before `now`: one
/// read of `dir`, at most [`MAX_REMOVALS`] removals, every failure silent.
fn remove_stale(dir: &Path, now: SystemTime) -> usize {
    let Some(limit) = now.checked_sub(STALE_AFTER) else {
        return 0;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        if removed == MAX_REMOVALS {
            break;
        }
        // A name that is not UTF-8 is not one of ours.
        if !entry.file_name().to_str().is_some_and(is_cache_name) {
            continue;
        }
        // `DirEntry::metadata` does not follow a symlink: only a regular
        // file of ours, not written since `limit`, goes.
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if !meta.is_file() || meta.modified().map_or(true, |m| m >= limit) {
            continue;
        }
        let path = entry.path();
        if begins_with_magic(&path) && fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt as _;

    /// The entries, sorted (a cached read is in name order, a real one in
    /// the directory's).
    fn names(read: &DirRead) -> Vec<(String, u64, FileType)> {
        let mut v: Vec<_> = read
            .entries()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.ino(),
                    e.file_type().unwrap(),
                )
            })
            .collect();
        v.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        v
    }

    /// A directory of `n` empty segments (and a subdirectory, a symlink).
    fn big_dir(n: usize) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..n {
            fs::write(
                tmp.path()
                    .join(crate::journal::segment::segment_file_name(i as u64)),
                "",
            )
            .unwrap();
        }
        fs::create_dir(tmp.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("nowhere", tmp.path().join("link")).unwrap();
        tmp
    }

    fn stamp_of(dir: &Path) -> DirStamp {
        DirStamp::of(open_dir(dir).unwrap()).unwrap()
    }

    /// The wall clock long after `stamp`: its listing may be cached.
    fn later(stamp: &DirStamp) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(stamp.ctime.0.max(stamp.mtime.0) as u64 + 60)
    }

    #[test]
    fn the_environment_names_the_cache_directory_or_disables_it() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let dir = |pairs| ListingCache::from_vars(vars(pairs)).map(|c| c.dir().to_owned());
        let all = &[
            ("JOURNAL_CACHE_DIR", "/c"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(dir(all), Some(PathBuf::from("/c")));
        assert_eq!(
            dir(&[
                ("JOURNAL_CACHE_DIR", ""),
                ("XDG_CACHE_HOME", "/x"),
                ("HOME", "/h")
            ]),
            Some(PathBuf::from("/x/journal"))
        );
        assert_eq!(
            dir(&[("HOME", "/h")]),
            Some(PathBuf::from("/h/.cache/journal"))
        );
        assert_eq!(dir(&[]), None);
        assert_eq!(
            dir(&[("JOURNAL_NO_CACHE", "1"), ("JOURNAL_CACHE_DIR", "/c")]),
            None
        );
        assert_eq!(
            dir(&[("JOURNAL_NO_CACHE", ""), ("JOURNAL_CACHE_DIR", "/c")]),
            Some(PathBuf::from("/c"))
        );
    }

    #[test]
    fn settled_means_mtime_and_ctime_both_three_seconds_before_the_clock() {
        let s = DirStamp {
            dev: (8, 1),
            ino: 2,
            mtime: (1000, 500),
            ctime: (1000, 500),
            btime: None,
        };
        let at = |sec: u64, nsec: u32| UNIX_EPOCH + Duration::new(sec, nsec);
        assert!(s.is_settled(at(1003, 500)));
        assert!(s.is_settled(at(1100, 0)));
        assert!(!s.is_settled(at(1003, 499)));
        assert!(!s.is_settled(at(1001, 0)));
        // Either time alone being recent is enough to refuse.
        assert!(
            !DirStamp {
                ctime: (1099, 0),
                ..s
            }
            .is_settled(at(1100, 0))
        );
        assert!(
            !DirStamp {
                mtime: (1099, 0),
                ..s
            }
            .is_settled(at(1100, 0))
        );
        // A time from the future (a clock stepped back) is not settled.
        assert!(
            !DirStamp {
                ctime: (5000, 0),
                ..s
            }
            .is_settled(at(1100, 0))
        );
        assert!(
            !DirStamp {
                mtime: (-1, 0),
                ..s
            }
            .is_settled(UNIX_EPOCH)
        );
    }

    #[test]
    fn a_listing_round_trips_through_its_cache_file() {
        let tmp = big_dir(1100);
        let read = DirRead::read(tmp.path()).unwrap();
        let stamp = stamp_of(tmp.path());
        let bytes = encode(&stamp, &read).unwrap();
        let back = decode(bytes, &stamp, tmp.path()).unwrap();
        assert_eq!(back.dir(), tmp.path());
        assert!(back.is_snapshot());
        assert!(names(&back) == names(&read));
        assert_eq!(back.len(), 1102);
        // The others in name order, the segments in seq order (which the
        // listing's sort finds sorted), kept as their numbers.
        let others: Vec<_> = back.others().map(|e| e.file_name().to_owned()).collect();
        assert_eq!(others, ["link", "sub"]);
        let seqs: Vec<u64> = back.segments().map(|e| e.name().seq).collect();
        assert_eq!(seqs, (0..1100).collect::<Vec<u64>>());
        assert!(matches!(back.segments, Segs::Stored { count: 1100, .. }));
        // The file is the names of the others and 18 bytes a segment.
        let file = encode(&stamp, &back).unwrap();
        assert_eq!(
            file.len(),
            HEADER_LEN + 2 * ENTRY_LEN + 7 + 1100 * SegRaw::RECORD_LEN + SUM_LEN
        );
        let link = back.entries().find(|e| e.file_name() == "link").unwrap();
        assert_eq!(link.file_type().unwrap(), FileType::Symlink);
    }

    #[test]
    fn an_equal_stamp_hits_and_any_field_that_differs_misses() {
        let tmp = big_dir(1100);
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = ListingCache::at(cache_dir.path());
        // A fresh descriptor per read, as `read_cached` opens one.
        let fd = || open_dir(tmp.path()).unwrap();
        let stamp = stamp_of(tmp.path());
        let real = read_with_stamp(tmp.path(), &fd(), &cache, stamp, later(&stamp)).unwrap();
        let file = cache.file_for(&stamp);
        assert!(file.is_file(), "a settled large directory is cached");

        // Make the cached listing say something the directory does not, so
        // that a hit is visible: drop the last entry.
        let mut lie = real.clone();
        lie.entries.pop();
        lie.names
            .truncate(lie.entries.last().map_or(0, |r| (r.start + r.len) as usize));
        fs::write(&file, encode(&stamp, &lie).unwrap()).unwrap();
        let got = read_with_stamp(tmp.path(), &fd(), &cache, stamp, later(&stamp)).unwrap();
        assert!(names(&got) == names(&lie), "an equal stamp is a hit");

        let differs = [
            DirStamp {
                dev: (stamp.dev.0, stamp.dev.1 + 1),
                ..stamp
            },
            DirStamp {
                ino: stamp.ino + 1,
                ..stamp
            },
            DirStamp {
                mtime: (stamp.mtime.0, stamp.mtime.1 ^ 1),
                ..stamp
            },
            DirStamp {
                mtime: (stamp.mtime.0 + 1, stamp.mtime.1),
                ..stamp
            },
            DirStamp {
                ctime: (stamp.ctime.0, stamp.ctime.1 ^ 1),
                ..stamp
            },
            DirStamp {
                ctime: (stamp.ctime.0 - 1, stamp.ctime.1),
                ..stamp
            },
            DirStamp {
                btime: Some((1, 1)),
                ..stamp
            },
            DirStamp {
                btime: stamp.btime.map_or(Some((0, 0)), |_| None),
                ..stamp
            },
        ];
        for other in differs {
            // The lie stored under the other stamp's file name, keyed by the
            // directory's real stamp: the other stamp must not take it.
            fs::copy(&file, cache.file_for(&other)).unwrap();
            // A clock just after: nothing is written, only read.
            let now = UNIX_EPOCH + Duration::from_secs(stamp.ctime.0 as u64);
            let got = read_with_stamp(tmp.path(), &fd(), &cache, other, now).unwrap();
            assert!(names(&got) == names(&real), "{other:?} must miss");
        }
    }

    #[test]
    fn a_recent_small_or_partial_read_is_not_written() {
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = ListingCache::at(cache_dir.path().join("c"));
        let tmp = big_dir(1100);
        let fd = open_dir(tmp.path()).unwrap();
        let stamp = stamp_of(tmp.path());
        // ctime/mtime within SETTLED of the clock.
        let recent = UNIX_EPOCH + Duration::new(stamp.ctime.0 as u64 + 2, stamp.ctime.1);
        read_with_stamp(tmp.path(), &fd, &cache, stamp, recent).unwrap();
        assert!(!cache.file_for(&stamp).exists());
        // A small directory, however old.
        let small = big_dir(10);
        let fd_small = open_dir(small.path()).unwrap();
        let s = stamp_of(small.path());
        read_with_stamp(small.path(), &fd_small, &cache, s, later(&s)).unwrap();
        assert!(!cache.file_for(&s).exists());
        assert!(!cache.dir().exists(), "nothing written at all");
        // A read that took several calls (not one instant), however old.
        let full = DirRead::read(tmp.path()).unwrap();
        assert!(may_store(&full, &stamp, later(&stamp)));
        assert!(!may_store(
            &full.into_several_calls(),
            &stamp,
            later(&stamp)
        ));
    }

    #[test]
    fn the_journal_directory_itself_is_never_the_cache() {
        let tmp = big_dir(1100);
        let cache = ListingCache::at(tmp.path());
        let fd = open_dir(tmp.path()).unwrap();
        let stamp = stamp_of(tmp.path());
        let before = DirRead::read(tmp.path()).unwrap().len();
        read_with_stamp(tmp.path(), &fd, &cache, stamp, later(&stamp)).unwrap();
        assert_eq!(DirRead::read(tmp.path()).unwrap().len(), before);
    }

    #[test]
    fn writing_a_listing_removes_our_stale_files_and_nothing_else() {
        let cache_dir = tempfile::tempdir().unwrap();
        let dir = cache_dir.path();
        let now = SystemTime::now();
        let old = now - STALE_AFTER - Duration::from_secs(3600);
        let recent = now - STALE_AFTER + Duration::from_secs(3600);
        let put = |name: &str, bytes: &[u8], mtime: SystemTime| {
            let f = fs::File::create(dir.join(name)).unwrap();
            f.write_all_at(bytes, 0).unwrap();
            f.set_modified(mtime).unwrap();
        };
        let ours = [MAGIC.as_slice(), b"rest of a cache file"].concat();
        // Ours and old: removed.
        put("listing-8.1-12", &ours, old);
        put(".listing-aB3xZ9", b"JRNL", old);
        put(".listing-000000", b"", old);
        // Ours but recent: kept.
        put("listing-8.1-13", &ours, recent);
        put(".listing-recent", &ours, recent);
        // Old, but not ours by name or by content: kept.
        for name in [
            "notes.txt",
            "listing-8.1-14.bak",
            "listing-8.1",
            "listing-a.1-14",
            "listing-8.1-",
            ".listing-toolong7",
            "xlisting-8.1-15",
        ] {
            put(name, &ours, old);
        }
        put("listing-8.1-16", b"someone else's file", old);
        put(".listing-abcdef", b"JRNLX", old);
        // A symlink to an old cache file, and a directory, both named as ours.
        put("target", &ours, old);
        std::os::unix::fs::symlink(dir.join("target"), dir.join("listing-8.1-17")).unwrap();
        fs::create_dir(dir.join("listing-8.1-18")).unwrap();

        // Through a write of a listing into this cache (a small directory:
        // `store` itself does not ask for a large one).
        let tmp = big_dir(10);
        let cache = ListingCache::at(dir);
        let stamp = stamp_of(tmp.path());
        let read = DirRead::read(tmp.path()).unwrap();
        store(&cache, &cache.file_for(&stamp), &stamp, &read).unwrap();

        let mut left: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let written = cache
            .file_for(&stamp)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let mut want: Vec<String> = [
            ".listing-abcdef",
            ".listing-recent",
            ".listing-toolong7",
            "listing-8.1",
            "listing-8.1-",
            "listing-8.1-13",
            "listing-8.1-14.bak",
            "listing-8.1-16",
            "listing-8.1-17",
            "listing-8.1-18",
            "listing-a.1-14",
            "notes.txt",
            "target",
            "xlisting-8.1-15",
        ]
        .map(String::from)
        .to_vec();
        want.push(written);
        want.sort();
        assert_eq!(left, want);
    }

    #[test]
    fn one_write_removes_at_most_max_removals() {
        let cache_dir = tempfile::tempdir().unwrap();
        let dir = cache_dir.path();
        let now = SystemTime::now();
        let old = now - STALE_AFTER - Duration::from_secs(1);
        let n = MAX_REMOVALS + 40;
        for i in 0..n {
            let f = fs::File::create(dir.join(format!("listing-1.2-{i}"))).unwrap();
            f.write_all_at(MAGIC, 0).unwrap();
            f.set_modified(old).unwrap();
        }
        assert_eq!(remove_stale(dir, now), MAX_REMOVALS);
        assert_eq!(fs::read_dir(dir).unwrap().count(), n - MAX_REMOVALS);
        assert_eq!(remove_stale(dir, now), n - MAX_REMOVALS);
        assert_eq!(fs::read_dir(dir).unwrap().count(), 0);
        // A clock before the epoch's 30 days, or a missing directory: nothing.
        assert_eq!(remove_stale(dir, UNIX_EPOCH), 0);
        assert_eq!(remove_stale(&dir.join("none"), now), 0);
    }

    #[test]
    fn only_our_own_cache_files_that_no_one_else_may_write_are_believed() {
        let me = rustix::process::geteuid().as_raw();
        assert!(trusted_owner(me, 0o100600));
        assert!(trusted_owner(me, 0o100644));
        assert!(!trusted_owner(me, 0o100664), "group-writable");
        assert!(!trusted_owner(me, 0o100666), "world-writable");
        assert!(
            !trusted_owner(me.wrapping_add(1), 0o100600),
            "another user's"
        );
        // A real file made group-writable is a miss, then a hit again.
        let dir = big_dir(3);
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = ListingCache::at(cache_dir.path());
        let stamp = stamp_of(dir.path());
        let read = DirRead::read(dir.path()).unwrap();
        let file = cache.file_for(&stamp);
        store(&cache, &file, &stamp, &read).unwrap();
        assert!(load(&file, &stamp, dir.path()).is_some());
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&file, fs::Permissions::from_mode(0o664)).unwrap();
        assert!(load(&file, &stamp, dir.path()).is_none());
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load(&file, &stamp, dir.path()).is_some());
        // A symbolic link to a good file is not followed.
        let link = cache_dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(load(&link, &stamp, dir.path()).is_none());
    }

    #[test]
    fn a_hit_keeps_a_file_in_use_from_growing_stale() {
        let dir = big_dir(3);
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = ListingCache::at(cache_dir.path());
        let stamp = stamp_of(dir.path());
        let file = cache.file_for(&stamp);
        store(&cache, &file, &stamp, &DirRead::read(dir.path()).unwrap()).unwrap();
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
        let age = || fs::metadata(&file).unwrap().modified().unwrap();
        let make_old = || {
            let f = fs::File::options().write(true).open(&file).unwrap();
            f.set_modified(old).unwrap();
        };
        make_old();
        assert_eq!(age(), old);
        assert!(load(&file, &stamp, dir.path()).is_some());
        assert!(age() > old + STALE_AFTER, "a hit moves the time on");
        assert_eq!(remove_stale(cache_dir.path(), SystemTime::now()), 0);
        // A miss (another stamp) does not.
        make_old();
        let other = DirStamp {
            ino: stamp.ino + 1,
            ..stamp
        };
        assert!(load(&file, &other, dir.path()).is_none());
        assert_eq!(age(), old);
        assert_eq!(remove_stale(cache_dir.path(), SystemTime::now()), 1);
    }

    #[test]
    fn hostile_cache_files_are_misses_never_panics() {
        let tmp = big_dir(1100);
        let read = DirRead::read(tmp.path()).unwrap();
        let stamp = stamp_of(tmp.path());
        let good = encode(&stamp, &read).unwrap();
        assert!(decode(good.clone(), &stamp, tmp.path()).is_some());
        // Every truncation, and each byte flipped (a sample over the file).
        for len in (0..good.len()).step_by(97).chain([good.len() - 1]) {
            assert!(
                decode(good[..len].to_vec(), &stamp, tmp.path()).is_none(),
                "{len}"
            );
        }
        for at in (0..good.len()).step_by(89) {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            assert!(decode(bad, &stamp, tmp.path()).is_none(), "{at}");
        }
        // Well summed but inconsistent inside: counts, lengths, names.
        let resum = |mut body: Vec<u8>| {
            let sum = checksum(&body);
            body.extend_from_slice(&sum.to_le_bytes());
            body
        };
        let body = good[..good.len() - SUM_LEN].to_vec();
        let mut wrong_count = body.clone();
        wrong_count[MAGIC.len() + 1 + STAMP_LEN] ^= 1;
        let mut long_name = body.clone();
        long_name[HEADER_LEN + 9] = 255;
        // The two other entries ("link", "sub"), then 1100 segments.
        let names_at = HEADER_LEN + 2 * ENTRY_LEN;
        let segs_at = names_at + "linksub".len();
        assert_eq!(&body[names_at..segs_at], b"linksub");
        let rec = |i: usize| segs_at + i * SegRaw::RECORD_LEN;
        let mut slash = body.clone();
        slash[names_at + 1] = b'/';
        let mut nul = body.clone();
        nul[names_at + 1] = 0;
        let mut version = body.clone();
        version[MAGIC.len()] = 1;
        let mut wrong_segments = body.clone();
        wrong_segments[MAGIC.len() + 1 + STAMP_LEN + 8] ^= 1;
        let mut no_digits = body.clone();
        no_digits[rec(3) + 16] = 0;
        let mut too_many_digits = body.clone();
        too_many_digits[rec(3) + 16] = 21;
        // Seq 10 in one digit: a name that would not parse back.
        let mut seq_too_wide = body.clone();
        seq_too_wide[rec(10) + 16] = 1;
        let mut out_of_order = body.clone();
        out_of_order.copy_within(rec(5)..rec(6), rec(7));
        let mut twice = body.clone();
        twice.copy_within(rec(5)..rec(6), rec(6));
        for (what, bad) in [
            ("count", wrong_count),
            ("name length", long_name),
            ("slash", slash),
            ("nul", nul),
            ("version", version),
            ("segment count", wrong_segments),
            ("no digits", no_digits),
            ("21 digits", too_many_digits),
            ("seq wider than its digits", seq_too_wide),
            ("segments out of order", out_of_order),
            ("a segment twice", twice),
        ] {
            assert!(decode(resum(bad), &stamp, tmp.path()).is_none(), "{what}");
        }
        for short in [&b""[..], b"JRNLDIRC", &[0u8; 200][..]] {
            assert!(decode(resum(short.to_vec()), &stamp, tmp.path()).is_none());
        }
        assert!(decode(resum(body), &stamp, tmp.path()).is_some());
        // Random bytes of many lengths, summed or not.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in [0usize, 1, 10, 97, 98, 99, 500, 4096] {
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(x as u8);
            }
            assert!(decode(v.clone(), &stamp, tmp.path()).is_none());
            let _ = decode(resum(v), &stamp, tmp.path());
        }
    }
}

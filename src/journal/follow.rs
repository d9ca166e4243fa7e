//! Following a live journal: hand out every complete line once, in seq order,
//! across rotation, pruning, writer restarts and a replaced directory.
//!
//! A [`Follower`] does not wait and does not watch: the caller wakes it (on a
//! file-system event, a poll interval or a safety timeout) and each
//! [`Follower::poll`] re-derives everything from the directory instead of
//! trusting whatever woke it: it lists the directory, re-checks the open
//! segment's metadata and reads every segment to its end. A lost, duplicated or
//! reordered notification therefore costs at most a little latency, never an
//! event (the lesson of uutils `tail`'s follow/watch.rs and hl's fsmon.rs).
//!
//! Guarantees, each tied to something a live engine does:
//! - **never half a line**: lines come from [`ForwardLines::next_complete`];
//!   an unterminated remainder is held until its `\n` arrives, and is re-read
//!   from the file on every wake-up rather than kept in a buffer, so a
//!   restarting writer that truncates the torn bytes and appends after them
//!   is read from the truncation point with nothing of the torn bytes;
//! - **rotation in order**: the next segment is entered only when the current
//!   one is fully read. The directory is listed *before* the open segment's
//!   length is taken, so when a newer segment is listed the old one's last
//!   bytes (written before the new file was created) are within that length:
//!   it does not matter in which order the notifications arrived;
//! - **no descriptor on a deleted file**: a segment is closed as soon as it is
//!   fully read and a newer one exists; a segment pruned while it is being
//!   read is still read to its end through the open descriptor;
//! - **truncation and replacement**: a file shorter than the read position,
//!   or whose last bytes read are no longer the same, was cut under the
//!   reader ([`Notice::Truncated`]); a file whose inode changed under its
//!   name was replaced. Either is read again from its start, skipping the
//!   seqs already handed out: the writer may have appended after the cut
//!   before the follower looked, so neither the current length nor the read
//!   position says where the cut was;
//! - **continuity**: every seq must be the previous plus one. A skip is
//!   reported as [`Notice::Pruned`] when the segments that held it were deleted
//!   (pruning removes the oldest segments first, so a skip right after a
//!   deleted segment is a prune) and as [`Notice::Gap`] otherwise; a seq that
//!   does not increase is reported ([`Notice::NotIncreasing`]) and not handed
//!   out again.

use std::fs::{self, File};
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::journal::defect::{Defect, DefectKind};
use crate::journal::error::JournalError;
use crate::journal::lines::{ForwardLines, Line, LineBody, ReadOptions, read_at_full};
use crate::journal::record::parse_line;
use crate::journal::segment::{Listing, Segment};

/// How a follower starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct FollowOptions {
    /// Hand out only seqs after this one; `None` starts at the oldest retained
    /// event with no continuity expectation. Default `None`.
    pub after: Option<u64>,
    /// Reader tuning. Default [`ReadOptions::default`].
    pub read: ReadOptions,
}

/// What the follower hands its caller.
pub enum Item<'a> {
    /// A complete, non-blank line with a seq greater than every seq handed out before.
    Line {
        segment: &'a Path,
        seq: u64,
        line: Line<'a>,
    },
    /// Something the reader of the stream must be told (on stderr).
    Notice(Notice),
}

/// Irregularities met while following, as values; the caller words them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Seqs `first..=last` were deleted (pruned) before they could be read.
    Pruned { first: u64, last: u64 },
    /// The next seq read is `found` where `expected` was due, and nothing was
    /// pruned: the journal itself skips.
    Gap {
        segment: PathBuf,
        offset: u64,
        expected: u64,
        found: u64,
        segment_start: bool,
    },
    /// A seq not greater than the last one handed out: skipped, never repeated.
    NotIncreasing {
        segment: PathBuf,
        offset: u64,
        last: u64,
        found: u64,
    },
    /// The open segment was cut below what was already read (it is `to`
    /// bytes now, and may have grown again since the cut); it is read again
    /// from its start.
    Truncated {
        segment: PathBuf,
        from: u64,
        to: u64,
    },
    /// Another file took the open segment's name; it is read from its start.
    Replaced { segment: PathBuf },
    /// The journal directory itself was replaced (removed and recreated).
    /// `restarted` is the new journal's max seq when it is below the last seq
    /// handed out: a new journal whose seqs started again, followed from its
    /// oldest record (waiting for seqs past the old ones would print nothing).
    DirReplaced {
        dir: PathBuf,
        restarted: Option<u64>,
    },
    /// A line that is not a record (damage, or a closed segment's torn end).
    Damage(Defect),
}

/// What one [`Follower::poll`] ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStatus {
    /// Everything there was has been read; wait for the next wake-up.
    CaughtUp,
    /// The journal directory does not exist (yet, or any more).
    DirMissing,
    /// The visitor asked to stop.
    Stopped,
}

/// The segment being read.
struct Open {
    start_seq: u64,
    path: PathBuf,
    /// Kept apart from the reader: used for fstat, and to re-create the reader.
    file: File,
    id: (u64, u64),
    reader: ForwardLines,
    /// No line of this segment has been handed out or skipped yet.
    at_start: bool,
    /// The segment before this one had been deleted when this one was opened
    /// (or this is the oldest segment left): a seq skip at its start is a prune.
    after_deleted: bool,
    /// Re-reading from the start (a replaced or cut file, the start segment):
    /// seqs not above the last one are expected and skipped quietly.
    catching_up: bool,
    /// The last bytes read before `.0` (at most [`MARK_LEN`]), as read: when
    /// they change, the file was cut below the read position and written
    /// again, even if it grew past it.
    mark: (u64, Vec<u8>),
}

/// How many bytes before the read position are checked on each wake-up.
const MARK_LEN: u64 = 64;

impl Open {
    /// Records the bytes just before the read position (one small read, only
    /// when the position moved).
    fn set_mark(&mut self) -> io::Result<()> {
        let position = self.reader.position();
        if self.mark.0 == position {
            return Ok(());
        }
        let from = position.saturating_sub(MARK_LEN);
        let mut bytes = vec![0; (position - from) as usize];
        let n = read_at_full(&self.file, &mut bytes, from)?;
        bytes.truncate(n);
        self.mark = (position, bytes);
        Ok(())
    }

    /// Whether the file (now `len` bytes) still holds the marked bytes.
    fn mark_holds(&self, len: u64) -> io::Result<bool> {
        let (end, bytes) = &self.mark;
        if bytes.is_empty() {
            return Ok(true);
        }
        if len < *end {
            return Ok(false);
        }
        let mut now = vec![0; bytes.len()];
        let n = read_at_full(&self.file, &mut now, end - bytes.len() as u64)?;
        Ok(n == bytes.len() && now == *bytes)
    }
}

/// Follows one journal directory. See the module documentation.
pub struct Follower {
    dir: PathBuf,
    opts: FollowOptions,
    dir_id: Option<(u64, u64)>,
    /// The directory was seen missing since it was last listed: when it is
    /// back, it is a new one even if the file system reused its inode.
    dir_was_missing: bool,
    current: Option<Open>,
    /// The last seq handed out (or the start point).
    last_seq: Option<u64>,
}

/// What [`Follower::open_next`] found.
enum Start {
    Opened,
    /// No segment holds a newer seq yet.
    Nothing,
    /// The segment was deleted between the listing and the open: list again.
    Vanished,
}

impl Follower {
    pub fn new(dir: &Path, opts: FollowOptions) -> Self {
        Follower {
            dir: dir.to_owned(),
            opts,
            dir_id: None,
            dir_was_missing: false,
            current: None,
            last_seq: opts.after,
        }
    }

    /// The last seq handed out, or the start point when none was.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Device and inode of the directory as last listed (to re-arm a watch
    /// when the directory is replaced).
    pub fn dir_id(&self) -> Option<(u64, u64)> {
        self.dir_id
    }

    /// Whether a segment is open (for tests: no descriptor is held otherwise).
    pub fn open_segment(&self) -> Option<&Path> {
        self.current.as_ref().map(|o| o.path.as_path())
    }

    /// Reads everything that is there now, handing out lines and notices in order.
    pub fn poll<F>(&mut self, mut visit: F) -> Result<PollStatus, JournalError>
    where
        F: FnMut(Item<'_>) -> ControlFlow<()>,
    {
        'list: loop {
            let listing = match Listing::read(&self.dir) {
                Ok(listing) => listing,
                Err(JournalError::DirNotFound { .. }) => {
                    self.dir_was_missing = true;
                    return Ok(PollStatus::DirMissing);
                }
                Err(e) => return Err(e),
            };
            let dir_id = fs::metadata(&self.dir).map(|m| (m.dev(), m.ino())).ok();
            let was_missing = std::mem::take(&mut self.dir_was_missing);
            if self.dir_id.is_some() && dir_id.is_some() && (was_missing || dir_id != self.dir_id) {
                // Removed and recreated: the open segment belongs to the old one.
                self.current = None;
                let max_seq = crate::recover::recover(&listing, self.opts.read)?.max_seq;
                let restarted = self
                    .last_seq
                    .filter(|&last| max_seq < last)
                    .map(|_| max_seq);
                if restarted.is_some() {
                    self.last_seq = None;
                }
                if visit(Item::Notice(Notice::DirReplaced {
                    dir: self.dir.clone(),
                    restarted,
                }))
                .is_break()
                {
                    self.dir_id = dir_id;
                    return Ok(PollStatus::Stopped);
                }
            }
            self.dir_id = dir_id;

            if self.current.is_none() {
                if self
                    .restart_if_seqs_went_back(&listing, &mut visit)?
                    .is_break()
                {
                    return Ok(PollStatus::Stopped);
                }
                match self.open_next(&listing)? {
                    Start::Opened => {}
                    Start::Nothing => return Ok(PollStatus::CaughtUp),
                    Start::Vanished => continue 'list,
                }
            }

            loop {
                let open = self.current.as_mut().expect("a segment is open");
                let deleted = match refresh(open, self.opts.read, &mut visit)? {
                    Refresh::Deleted => true,
                    Refresh::Present => false,
                    Refresh::Stopped => return Ok(PollStatus::Stopped),
                };
                let flow = read_lines(open, &mut self.last_seq, &mut visit)
                    .and_then(|flow| open.set_mark().map(|()| flow))
                    .map_err(|e| JournalError::io(&open.path, e))?;
                if flow.is_break() {
                    return Ok(PollStatus::Stopped);
                }
                if deleted {
                    // The name is gone and the descriptor has been read to its
                    // end. A prune deletes the oldest segments first, but a
                    // restarting writer deletes a newest segment that holds no
                    // complete line (a crash right after rotation) and appends
                    // to the previous one when it is under the rotation size:
                    // the next seq may then be in an *older* segment. Choose
                    // the next segment from the seq, never from this one's
                    // position (its held partial line went to quarantine).
                    self.current = None;
                    if self
                        .restart_if_seqs_went_back(&listing, &mut visit)?
                        .is_break()
                    {
                        return Ok(PollStatus::Stopped);
                    }
                    match self.open_next(&listing)? {
                        Start::Opened => continue,
                        Start::Nothing => return Ok(PollStatus::CaughtUp),
                        Start::Vanished => continue 'list,
                    }
                }
                let start = open.start_seq;
                let Some(next) = listing.segments.iter().find(|s| s.start_seq > start) else {
                    return Ok(PollStatus::CaughtUp);
                };
                // A newer segment was listed before this one's length was
                // taken: this one is complete. Bytes left are a torn line.
                let held = open.reader.limit() - open.reader.position();
                if held > 0 {
                    let offset = open.reader.position();
                    let defect = Defect {
                        line: Some(open.reader.next_number()),
                        ..Defect::new(
                            DefectKind::TornLine,
                            &open.path,
                            offset,
                            held,
                            format!(
                                "a closed segment ends in a partial line (no newline): {held} bytes"
                            ),
                        )
                    };
                    if visit(Item::Notice(Notice::Damage(defect))).is_break() {
                        return Ok(PollStatus::Stopped);
                    }
                }
                // Close before opening the next: no descriptor outlives its use.
                self.current = None;
                match self.open(next, false) {
                    Ok(open) => self.current = Some(open),
                    // Pruned between the listing and the open: list again and
                    // resume after the last seq handed out.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue 'list,
                    Err(e) => return Err(JournalError::io(next.path(), e)),
                }
            }
        }
    }

    /// Where to (re)start reading after `last_seq`: the segment that holds the
    /// next seq by its name, else the oldest one (everything before it is gone:
    /// the bool says a skip at its start is a prune).
    /// Before a segment is chosen to open: a journal whose max seq is below the last
    /// seq handed out is not this journal any more (no prune, repair or
    /// writer lowers the max), but one recreated with its seqs started again,
    /// perhaps in a directory whose inode was reused. It is followed from its
    /// oldest record, with a notice.
    fn restart_if_seqs_went_back<F>(
        &mut self,
        listing: &Listing,
        visit: &mut F,
    ) -> Result<ControlFlow<()>, JournalError>
    where
        F: FnMut(Item<'_>) -> ControlFlow<()>,
    {
        let Some(last) = self.last_seq else {
            return Ok(ControlFlow::Continue(()));
        };
        // Only a line actually read counts, from a listing taken now: in a
        // listing a moment old, a busy pruner may have deleted every segment
        // named, and a max taken from names would look lower than it is.
        let quick = crate::recover::recover(listing, self.opts.read)?;
        if quick.max_seq >= last {
            return Ok(ControlFlow::Continue(()));
        }
        let fresh = match Listing::read(&self.dir) {
            Ok(fresh) => fresh,
            Err(JournalError::DirNotFound { .. }) => return Ok(ControlFlow::Continue(())),
            Err(e) => return Err(e),
        };
        let recovery = crate::recover::recover(&fresh, self.opts.read)?;
        let max_seq = recovery.max_seq;
        if recovery.max_seq_source != crate::recover::MaxSeqSource::Line || max_seq >= last {
            return Ok(ControlFlow::Continue(()));
        }
        self.last_seq = None;
        Ok(visit(Item::Notice(Notice::DirReplaced {
            dir: self.dir.clone(),
            restarted: Some(max_seq),
        })))
    }

    /// Opens the segment that holds the seq after the last one handed out.
    fn open_next(&mut self, listing: &Listing) -> Result<Start, JournalError> {
        let Some((seg, after_deleted)) = self.start_segment(listing) else {
            return Ok(Start::Nothing);
        };
        match self.open(seg, after_deleted) {
            Ok(open) => {
                self.current = Some(open);
                Ok(Start::Opened)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Start::Vanished),
            Err(e) => Err(JournalError::io(seg.path(), e)),
        }
    }

    fn start_segment<'l>(&self, listing: &'l Listing) -> Option<(&'l Segment, bool)> {
        let oldest = listing.segments.first()?;
        let Some(last) = self.last_seq else {
            return Some((oldest, false));
        };
        let next = last.saturating_add(1);
        match listing.segments.iter().rposition(|s| s.start_seq <= next) {
            Some(i) => Some((&listing.segments[i], false)),
            None => Some((oldest, true)),
        }
    }

    fn open(&self, seg: &Segment, after_deleted: bool) -> io::Result<Open> {
        let file = File::open(seg.path())?;
        let meta = file.metadata()?;
        let reader = ForwardLines::new(file.try_clone()?, 0, 1, meta.len(), self.opts.read);
        Ok(Open {
            start_seq: seg.start_seq,
            path: seg.path().to_path_buf(),
            file,
            id: (meta.dev(), meta.ino()),
            reader,
            at_start: true,
            after_deleted,
            // Starting inside the journal: the seqs up to the start are skipped.
            catching_up: self.last_seq.is_some(),
            mark: (0, Vec::new()),
        })
    }
}

enum Refresh {
    Present,
    /// The name is gone (pruned); the descriptor still reads the data.
    Deleted,
    Stopped,
}

/// Re-checks the open segment: replaced under its name, truncated, grown.
/// Leaves its reader ready to read up to the current length.
fn refresh<F>(open: &mut Open, read: ReadOptions, visit: &mut F) -> Result<Refresh, JournalError>
where
    F: FnMut(Item<'_>) -> ControlFlow<()>,
{
    let io_err = |e| JournalError::io(&open.path, e);
    let mut state = Refresh::Present;
    match fs::symlink_metadata(&open.path) {
        Ok(meta) if meta.is_file() && (meta.dev(), meta.ino()) != open.id => {
            // A new file under the old name (a writer that deleted a segment
            // without a complete line and recreated it): read it from its
            // start; the seqs already handed out are skipped.
            match File::open(&open.path) {
                Ok(file) => {
                    let meta = file.metadata().map_err(io_err)?;
                    open.id = (meta.dev(), meta.ino());
                    open.reader = ForwardLines::new(
                        file.try_clone().map_err(io_err)?,
                        0,
                        1,
                        meta.len(),
                        read,
                    );
                    open.file = file;
                    open.catching_up = true;
                    open.mark = (0, Vec::new());
                    let notice = Notice::Replaced {
                        segment: open.path.clone(),
                    };
                    if visit(Item::Notice(notice)).is_break() {
                        return Ok(Refresh::Stopped);
                    }
                    return Ok(Refresh::Present);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => state = Refresh::Deleted,
                Err(e) => return Err(io_err(e)),
            }
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => state = Refresh::Deleted,
        Err(e) => return Err(io_err(e)),
    }
    let len = open.file.metadata().map_err(io_err)?.len();
    let position = open.reader.position();
    if len < position || !open.mark_holds(len).map_err(io_err)? {
        // Cut below what was read (a repair, a writer's tail cut). Where is
        // not known: the writer may have appended after the cut before this
        // look (the length is then past the cut), even past the read
        // position (the marked bytes before it changed). Read the file again
        // from its start; seqs already handed out are skipped quietly.
        open.reader = ForwardLines::new(open.file.try_clone().map_err(io_err)?, 0, 1, len, read);
        open.catching_up = true;
        open.mark = (0, Vec::new());
        let notice = Notice::Truncated {
            segment: open.path.clone(),
            from: position,
            to: len,
        };
        if visit(Item::Notice(notice)).is_break() {
            return Ok(Refresh::Stopped);
        }
    } else if position < open.reader.limit() {
        // A partial line is held. Its bytes may have been cut and rewritten
        // since (a restarting writer): read it again from the file, never
        // from the old buffer.
        let number = open.reader.next_number();
        open.reader = ForwardLines::new(
            open.file.try_clone().map_err(io_err)?,
            position,
            number,
            len,
            read,
        );
    } else {
        open.reader.set_limit(len);
    }
    Ok(state)
}

/// Hands out the complete lines of the open segment up to its limit.
fn read_lines<F>(
    open: &mut Open,
    last_seq: &mut Option<u64>,
    visit: &mut F,
) -> io::Result<ControlFlow<()>>
where
    F: FnMut(Item<'_>) -> ControlFlow<()>,
{
    while let Some(line) = open.reader.next_complete()? {
        let content = match line.body {
            LineBody::TooLong => {
                let detail = format!("line of {} bytes is longer than the reader's cap", line.len);
                let defect = Defect {
                    line: line.number,
                    ..Defect::new(
                        DefectKind::LineTooLong,
                        &open.path,
                        line.offset,
                        line.len,
                        detail,
                    )
                };
                if visit(Item::Notice(Notice::Damage(defect))).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
                continue;
            }
            LineBody::Bytes(_) => line.content().unwrap_or_default(),
        };
        if content.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let seq = match parse_line(content).map(|r| r.seq) {
            Ok(seq) => seq,
            Err(fault) => {
                let defect = Defect::from_fault(&open.path, &line, &fault);
                if visit(Item::Notice(Notice::Damage(defect))).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
                continue;
            }
        };
        // A skip at a segment's very first line is a prune when the segment
        // before it is gone; anywhere else it is in the journal.
        let at_start = std::mem::replace(&mut open.at_start, false);
        if let Some(last) = *last_seq {
            if seq <= last {
                if !open.catching_up {
                    let notice = Notice::NotIncreasing {
                        segment: open.path.clone(),
                        offset: line.offset,
                        last,
                        found: seq,
                    };
                    if visit(Item::Notice(notice)).is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
                continue;
            }
            if seq > last + 1 {
                let notice = if at_start && open.after_deleted {
                    Notice::Pruned {
                        first: last + 1,
                        last: seq - 1,
                    }
                } else {
                    Notice::Gap {
                        segment: open.path.clone(),
                        offset: line.offset,
                        expected: last + 1,
                        found: seq,
                        segment_start: at_start,
                    }
                };
                if visit(Item::Notice(notice)).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
        open.catching_up = false;
        *last_seq = Some(seq);
        let item = Item::Line {
            segment: &open.path,
            seq,
            line,
        };
        if visit(item).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::journal::segment::segment_file_name;

    fn line(seq: u64, tag: &str) -> String {
        format!(
            "{{\"seq\":{seq},\"ts\":\"2026-11-22T10:00:00Z\",\"event\":{{\"type\":\"{tag}\"}}}}\n"
        )
    }

    fn append(dir: &Path, start: u64, bytes: &str) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(segment_file_name(start)))
            .unwrap();
        f.write_all(bytes.as_bytes()).unwrap();
    }

    /// One poll: the lines (seq, line) and the notices it handed out.
    fn poll(f: &mut Follower) -> (Vec<(u64, String)>, Vec<Notice>) {
        let (mut lines, mut notices) = (Vec::new(), Vec::new());
        let status = f
            .poll(|item| {
                match item {
                    Item::Line { seq, line, .. } => lines.push((
                        seq,
                        String::from_utf8(line.raw().unwrap().to_vec()).unwrap(),
                    )),
                    Item::Notice(n) => notices.push(n),
                }
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(status, PollStatus::CaughtUp);
        (lines, notices)
    }

    fn seqs(lines: &[(u64, String)]) -> Vec<u64> {
        lines.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn held_partial_is_reread_from_the_file_after_a_cut() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        append(dir, 1, &line(1, "a"));
        append(dir, 1, "{\"seq\":2,\"ts\":\"torn");
        let mut f = Follower::new(dir, FollowOptions::default());
        let (lines, notices) = poll(&mut f);
        assert_eq!(seqs(&lines), vec![1]);
        assert!(notices.is_empty());
        // Cut the torn bytes and append a longer line in their place.
        let path = dir.join(segment_file_name(1));
        let good = line(1, "a").len() as u64;
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(good)
            .unwrap();
        append(dir, 1, &line(2, "the-rewritten-line-is-longer"));
        let (lines, notices) = poll(&mut f);
        assert_eq!(
            lines,
            vec![(
                2,
                line(2, "the-rewritten-line-is-longer")
                    .trim_end()
                    .to_owned()
            )]
        );
        assert!(notices.is_empty(), "{notices:?}");
    }

    #[test]
    fn a_finished_segment_is_closed_and_a_replaced_one_is_reread_without_repeats() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        append(dir, 1, &(line(1, "a") + &line(2, "a")));
        append(dir, 3, &line(3, "a"));
        let mut f = Follower::new(dir, FollowOptions::default());
        assert_eq!(seqs(&poll(&mut f).0), vec![1, 2, 3]);
        assert_eq!(
            f.open_segment(),
            Some(dir.join(segment_file_name(3)).as_path())
        );
        // A new file under the newest segment's name, holding seq 3 again and 4.
        let path = dir.join(segment_file_name(3));
        fs::remove_file(&path).unwrap();
        append(dir, 3, &(line(3, "b") + &line(4, "b")));
        let (lines, notices) = poll(&mut f);
        assert_eq!(seqs(&lines), vec![4]);
        assert_eq!(notices, vec![Notice::Replaced { segment: path }]);
    }

    #[test]
    fn start_below_the_oldest_segment_is_a_prune_and_a_hole_is_a_gap() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        append(dir, 10, &(line(10, "a") + &line(11, "a")));
        append(dir, 15, &line(15, "a"));
        let mut f = Follower::new(
            dir,
            FollowOptions {
                after: Some(3),
                ..FollowOptions::default()
            },
        );
        let (lines, notices) = poll(&mut f);
        assert_eq!(seqs(&lines), vec![10, 11, 15]);
        assert_eq!(
            notices,
            vec![
                Notice::Pruned { first: 4, last: 9 },
                Notice::Gap {
                    segment: dir.join(segment_file_name(15)),
                    offset: 0,
                    expected: 12,
                    found: 15,
                    segment_start: true,
                }
            ]
        );
        assert_eq!(f.last_seq(), Some(15));
    }

    fn cut_to(path: &Path, len: u64) {
        fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(len)
            .unwrap();
    }

    /// The flake of `tail::a_file_cut_below_the_read_position_is_read_on_from_the_cut`:
    /// a repair cuts seqs 4 and 5 and the writer appends seq 6 *before* the
    /// follower looks. The file is then shorter than the read position but
    /// longer than the cut; reading on from its length lost seq 6.
    #[test]
    fn a_cut_followed_by_an_append_before_the_look_loses_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let all: String = (1..=5).map(|s| line(s, "long-enough-tag")).collect();
        append(dir, 1, &all);
        let mut f = Follower::new(dir, FollowOptions::default());
        assert_eq!(seqs(&poll(&mut f).0), vec![1, 2, 3, 4, 5]);
        let path = dir.join(segment_file_name(1));
        let cut: u64 = (1..=3)
            .map(|s| line(s, "long-enough-tag").len() as u64)
            .sum();
        cut_to(&path, cut);
        append(dir, 1, &line(6, "b"));
        let (lines, notices) = poll(&mut f);
        assert_eq!(seqs(&lines), vec![6]);
        assert_eq!(
            notices,
            vec![Notice::Truncated {
                segment: path,
                from: all.len() as u64,
                to: cut + line(6, "b").len() as u64,
            }]
        );
        // Nothing is handed out twice afterwards.
        append(dir, 1, &line(7, "b"));
        let (lines, notices) = poll(&mut f);
        assert_eq!(seqs(&lines), vec![7]);
        assert!(notices.is_empty(), "{notices:?}");
    }

    /// The same race when the writer appended past the old read position
    /// before the follower looked: the length no longer shows the cut, the
    /// bytes before the read position do.
    #[test]
    fn a_cut_regrown_past_the_read_position_is_read_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        append(dir, 1, &(line(1, "a") + &line(2, "a") + &line(3, "a")));
        let mut f = Follower::new(dir, FollowOptions::default());
        assert_eq!(seqs(&poll(&mut f).0), vec![1, 2, 3]);
        let path = dir.join(segment_file_name(1));
        let old = fs::metadata(&path).unwrap().len();
        cut_to(&path, line(1, "a").len() as u64);
        let more: String = (2..=6).map(|s| line(s, "rewritten")).collect();
        append(dir, 1, &more);
        let len = fs::metadata(&path).unwrap().len();
        assert!(len > old);
        let (lines, notices) = poll(&mut f);
        assert_eq!(seqs(&lines), vec![4, 5, 6]);
        assert_eq!(
            notices,
            vec![Notice::Truncated {
                segment: path,
                from: old,
                to: len,
            }]
        );
    }

    /// Issue 16 item 1: a newest segment holding only a partial line is
    /// deleted by a restarting writer, which appends to the previous segment
    /// and, before the follower wakes, rotates: the seqs in the older
    /// segment are handed out, and nothing is called pruned.
    #[test]
    fn a_restart_that_appends_to_the_previous_segment_is_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        append(dir, 1, &(line(1, "a") + &line(2, "a")));
        append(dir, 3, "{\"seq\":3,\"ts\":\"torn");
        let mut f = Follower::new(dir, FollowOptions::default());
        assert_eq!(seqs(&poll(&mut f).0), vec![1, 2]);
        assert_eq!(
            f.open_segment(),
            Some(dir.join(segment_file_name(3)).as_path())
        );
        fs::remove_file(dir.join(segment_file_name(3))).unwrap();
        append(dir, 1, &(line(3, "b") + &line(4, "b")));
        append(dir, 5, &line(5, "b"));
        let (lines, notices) = poll(&mut f);
        assert_eq!(seqs(&lines), vec![3, 4, 5]);
        assert!(notices.is_empty(), "{notices:?}");
    }
}

//! The one reading loop every command uses: visit the lines of a listing's
//! segments oldest-first or newest-first, each segment read forwards or
//! backwards through the chunked readers, stopping as soon as the visitor says so.
//!
//! Classification of each line happens here so every command agrees on it:
//! blank lines are skipped; an unterminated last line is a torn tail (newest
//! segment) or a torn line (closed segment) and is never handed out as data.

use std::io;
use std::ops::ControlFlow;

use crate::journal::defect::{Defect, DefectKind};
use crate::journal::error::JournalError;
use crate::journal::fastline::HeadSpans;
use crate::journal::lines::{
    BackwardLines, ForwardLines, Line, LineBody, LineReader, ReadOptions, WindowFilter,
};
use crate::journal::segment::{Listing, Segment};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    OldestFirst,
    NewestFirst,
}

/// What the scan hands the visitor.
pub enum Visit<'s, 'l> {
    /// A complete, non-blank line (not parsed yet: the visitor parses late).
    Line {
        segment: &'s Segment,
        line: Line<'l>,
    },
    /// A line that cannot be data whatever it holds (torn, too long).
    Damage(Defect),
}

/// Visits the lines of the segments at `indexes` (positions in
/// `listing.segments`, ascending) in `direction`.
///
/// A segment deleted since the listing (a concurrent prune) is passed over:
/// it is gone, not damaged.
///
/// With a `window_filter`, whole windows of complete lines it rejects are
/// passed over unseen (see [`WindowFilter`]): the visitor only meets lines that
/// may be wanted, plus every torn tail.
pub fn scan<F>(
    listing: &Listing,
    indexes: &[usize],
    direction: Direction,
    opts: ReadOptions,
    window_filter: Option<WindowFilter>,
    mut visit: F,
) -> Result<ControlFlow<()>, JournalError>
where
    F: FnMut(Visit<'_, '_>) -> ControlFlow<()>,
{
    let newest = listing.segments.len().checked_sub(1);
    let mut order: Vec<usize> = indexes.to_vec();
    if direction == Direction::NewestFirst {
        order.reverse();
    }
    for i in order {
        let seg = &listing.segments[i];
        let is_newest = Some(i) == newest;
        #[cfg(test)]
        if tests::UNREADABLE.with(|u| u.borrow().as_deref() == Some(seg.path())) {
            let e = io::Error::from(io::ErrorKind::PermissionDenied);
            if visit(Visit::Damage(unreadable(seg, &e))).is_break() {
                return Ok(ControlFlow::Break(()));
            }
            continue;
        }
        let flow = match direction {
            Direction::OldestFirst => {
                ForwardLines::open(seg.path(), seg.len(), opts).and_then(|lines| {
                    scan_segment(
                        lines.with_window_filter(window_filter.clone()),
                        seg,
                        is_newest,
                        &mut visit,
                    )
                })
            }
            Direction::NewestFirst => {
                BackwardLines::open(seg.path(), seg.len(), opts).and_then(|lines| {
                    scan_segment(
                        lines.with_window_filter(window_filter.clone()),
                        seg,
                        is_newest,
                        &mut visit,
                    )
                })
            }
        };
        match flow {
            Ok(ControlFlow::Continue(())) => {}
            Ok(ControlFlow::Break(())) => return Ok(ControlFlow::Break(())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // One segment that cannot be read is reported, like ripgrep does
            // a file, and the rest is still read; the command's exit status
            // says that something could not be read.
            Err(e) => {
                if visit(Visit::Damage(unreadable(seg, &e))).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
    }
    Ok(ControlFlow::Continue(()))
}

/// [`scan`] on worker threads: each worker reads its share of the segments
/// (the k-th segment in reading order goes to worker k mod W) through the
/// same line readers and window filter, and checks each line it hands over
/// with the validating fast path ([`fast_record`]); the calling thread only
/// meets the lines, in the same order and with the same classification as
/// from [`scan`], with `prechecked` true for a line whose bytes (the very
/// bytes handed over, not a second read) `fast_record` accepted.
///
/// Two scans gain: a full dump (validation is nearly all its work, and a
/// caller that also validated every other segment was the slowest thread),
/// and a scan with a window filter (a rare `--session` or `--grep`: the
/// search through the windows is the work, and it splits by segment). W is
/// `workers.cpus`, the number of CPUs the process may use (at most
/// [`MAX_WORKERS`]).
///
/// Memory: the workers hand lines over in batches of about a read chunk,
/// at most [`IN_FLIGHT_BATCHES`] and [`IN_FLIGHT_BYTES`] in flight between
/// them (a batch holding one line longer than a worker's share goes
/// alone), so a visitor that stops early (`-n 20`) costs the workers at
/// most that much reading ahead, and a journal of long lines holds a few
/// of them per worker, not forty (a dump of 16 MiB lines peaked at 710 MiB;
/// now 220). When the visitor stops, the workers stop at their next line,
/// send, or wait for room.
///
/// [`fast_record`]: crate::journal::fastline::fast_record
pub(crate) fn scan_parallel<F>(
    listing: &Listing,
    indexes: &[usize],
    direction: Direction,
    opts: ReadOptions,
    window_filter: Option<WindowFilter>,
    workers: Workers<'_>,
    visit: F,
) -> Result<ControlFlow<()>, JournalError>
where
    F: FnMut(Visit<'_, '_>, Option<HeadSpans>) -> ControlFlow<()>,
{
    let plan = Plan {
        direction,
        opts,
        window_filter,
        workers: workers.cpus.min(MAX_WORKERS),
    };
    scan_on_workers(listing, indexes, plan, visit, workers.runs)
}

/// How many threads a parallel scan may use, and who takes runs.
pub(crate) struct Workers<'r> {
    /// The CPUs the process may use.
    pub cpus: usize,
    /// Takes runs of lines at once, when given (see [`RunVisitor`]).
    pub runs: Option<RunVisitor<'r>>,
}

/// Takes a run of lines at once instead of one by one: `bytes` are
/// `lines` whole lines of `segment` as stored, each with its `\n`, next to
/// each other in the file, and every one a line the validating fast path
/// accepted (a record, not damage, not blank). A scan offers runs only
/// oldest first, and only lines it would otherwise visit one by one.
pub type RunVisitor<'r> = &'r mut dyn FnMut(&Segment, &[u8], usize) -> ControlFlow<()>;

/// How a parallel scan reads.
#[derive(Clone)]
struct Plan {
    direction: Direction,
    opts: ReadOptions,
    window_filter: Option<WindowFilter>,
    workers: usize,
}

/// [`scan_parallel`] on `plan.workers` threads (at least one, at most one
/// per segment).
fn scan_on_workers<F>(
    listing: &Listing,
    indexes: &[usize],
    plan: Plan,
    mut visit: F,
    mut runs: Option<RunVisitor<'_>>,
) -> Result<ControlFlow<()>, JournalError>
where
    F: FnMut(Visit<'_, '_>, Option<HeadSpans>) -> ControlFlow<()>,
{
    let newest = listing.segments.len().checked_sub(1);
    let mut order: Vec<usize> = indexes.to_vec();
    if plan.direction == Direction::NewestFirst {
        order.reverse();
    }
    let workers = plan.workers.min(order.len()).max(1);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let credits: Vec<Credit> = (0..workers)
        .map(|_| Credit::new(IN_FLIGHT_BYTES / workers))
        .collect();
    std::thread::scope(|s| {
        let stop = &stop;
        let order = &order;
        let mut receivers = Vec::with_capacity(workers);
        for (w, credit) in credits.iter().enumerate() {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Handed>(IN_FLIGHT_BATCHES / workers);
            let (back, spare) = std::sync::mpsc::channel::<Batch>();
            receivers.push((rx, back, credit));
            let mut ends = WorkerEnds {
                tx,
                spare,
                buffers: Vec::new(),
                back_buffer: Vec::new(),
                line_lists: Vec::new(),
                credit,
                stop,
            };
            let plan = plan.clone();
            s.spawn(move || {
                for &i in order.iter().skip(w).step_by(workers) {
                    if !check_segment(&listing.segments[i], &plan, &mut ends) {
                        return;
                    }
                }
            });
        }
        let mut flow = ControlFlow::Continue(());
        for (k, &i) in order.iter().enumerate() {
            let seg = &listing.segments[i];
            let is_newest = Some(i) == newest;
            let (rx, back, credit) = &receivers[k % workers];
            let ends = (rx, back, *credit);
            flow = match handed_segment(ends, seg, is_newest, &mut visit, &mut runs) {
                Ok(ControlFlow::Continue(())) => continue,
                Ok(ControlFlow::Break(())) => ControlFlow::Break(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => match visit(Visit::Damage(unreadable(seg, &e)), None) {
                    ControlFlow::Continue(()) => continue,
                    b => b,
                },
            };
            break;
        }
        // Stops the workers (at their next line, or their next send, or
        // while they wait for room).
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for credit in &credits {
            credit.close();
        }
        drop(receivers);
        Ok(flow)
    })
}

/// The most worker threads a full scan starts: the dump is bound by
/// validation, which stops paying beyond a few cores against one consumer.
const MAX_WORKERS: usize = 4;

/// What a worker hands over for one segment: batches of lines, then the
/// end of the segment (how its read ended).
enum Handed {
    Lines(Batch),
    End(io::Result<()>),
}

/// Lines with their classification, and the bytes they lie in: for a
/// forward read the very buffer the reader read into (set aside in
/// hand-over mode, see [`ForwardLines::with_handover`]), for a backward
/// read a copy of the lines.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    lines: Vec<BatchLine>,
    /// `bytes` are the segment's bytes as read, each line in its place
    /// with its `\n` after it (a forward read's own buffer).
    in_place: bool,
}

impl Batch {
    /// The lines as one run of stored bytes (see [`RunVisitor`]), when
    /// they are: in place, next to each other, each terminated and
    /// accepted by the fast path. Only the line list is read, not the lines.
    fn run(&self) -> Option<&[u8]> {
        if !self.in_place {
            return None;
        }
        let (first, last) = (self.lines.first()?, self.lines.last()?);
        let mut next = first.offset;
        for l in &self.lines {
            if l.offset != next || !l.terminated || l.head.is_none() || l.body.is_none() {
                return None;
            }
            next = l.end_offset();
        }
        let (start, end) = (first.body?.0, last.body?.1);
        self.bytes.get(start..=end)
    }
}

/// A worker's ends of its two channels: filled batches to the visitor, and
/// the emptied ones back, so that a dump reuses a few buffers instead of
/// allocating (and the kernel zeroing) a fresh one for every chunk: that
/// was a fifth of a dump's CPU time, in page faults.
struct WorkerEnds<'a> {
    tx: std::sync::mpsc::SyncSender<Handed>,
    spare: std::sync::mpsc::Receiver<Batch>,
    /// A forward read's buffers back from the visitor, kept from one
    /// segment to the next.
    buffers: Vec<Vec<u8>>,
    /// Their line lists.
    line_lists: Vec<Vec<BatchLine>>,
    /// A backward read's buffer, kept from one segment to the next (a
    /// fresh one per segment was zeroed and faulted in again, up to the
    /// chunk size, for every segment a filtered newest-first scan reads).
    back_buffer: Vec<u8>,
    /// The bytes this worker may have in flight.
    credit: &'a Credit,
    stop: &'a std::sync::atomic::AtomicBool,
}

impl WorkerEnds<'_> {
    /// An empty batch: one handed back when there is one (and not grown
    /// past [`MAX_POOLED`] by a long line).
    fn batch(&self) -> Batch {
        match self.spare.try_recv() {
            Ok(mut b) if b.bytes.capacity() <= MAX_POOLED => {
                b.bytes.clear();
                b.lines.clear();
                b
            }
            _ => Batch::with_room(),
        }
    }

    /// Whether the visitor has stopped the scan.
    fn stopped(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends `batch` once this worker's bytes in flight leave room for it;
    /// false when the visitor has gone.
    fn send_lines(&self, batch: Batch) -> bool {
        let bytes = batch.bytes.len();
        self.credit.take(bytes, self.stop) && {
            let sent = self.tx.send(Handed::Lines(batch)).is_ok();
            if !sent {
                self.credit.give(bytes);
            }
            sent
        }
    }
}

/// The bytes of lines one worker has handed over and the visitor has not
/// finished with, at most `budget`: a batch is only sent when it fits, or
/// alone when it is larger (one line longer than the budget). The channel
/// bounds batches by count; this bounds them by size, so that a journal of
/// long lines (16 MiB each, say) cannot put forty of them in memory at once.
struct Credit {
    used: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
    budget: usize,
}

impl Credit {
    fn new(budget: usize) -> Credit {
        Credit {
            used: std::sync::Mutex::new(0),
            freed: std::sync::Condvar::new(),
            budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `bytes` fit (or nothing else is in flight); false when
    /// the scan stopped meanwhile.
    fn take(&self, bytes: usize, stop: &std::sync::atomic::AtomicBool) -> bool {
        let mut used = self.lock();
        while *used > 0 && *used + bytes > self.budget {
            // Checked under the lock, which `close` takes before it wakes
            // the waiters: a stop is never missed.
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return false;
            }
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *used += bytes;
        true
    }

    fn give(&self, bytes: usize) {
        let mut used = self.lock();
        *used = used.saturating_sub(bytes);
        self.freed.notify_all();
    }

    /// Wakes a worker waiting for room (after the stop flag is set).
    fn close(&self) {
        let _used = self.lock();
        self.freed.notify_all();
    }
}

/// Bytes of lines in flight, shared by the workers: twice what
/// [`IN_FLIGHT_BATCHES`] batches of a read chunk hold, so that batches of
/// ordinary lines are bounded by their count (as fast as without this
/// bound; at its size they were 5 % slower), and long lines by this.
const IN_FLIGHT_BYTES: usize = 2 * IN_FLIGHT_BATCHES * BATCH_BYTES;

/// A buffer grown past this by a long line is dropped when it comes back,
/// not kept for the next read.
const MAX_POOLED: usize = 4 * BATCH_BYTES;

impl Batch {
    /// A batch with room for a chunk of lines, so that filling it does not
    /// grow (and copy) its buffers step by step.
    fn with_room() -> Batch {
        Batch {
            bytes: Vec::with_capacity(BATCH_BYTES + 64 * 1024),
            lines: Vec::with_capacity(BATCH_BYTES / 256),
            in_place: false,
        }
    }
}

impl BatchLine {
    /// `line`, its bytes at `body` in the batch, checked with the
    /// validating fast path.
    fn of(line: &Line<'_>, body: Option<(usize, usize)>) -> BatchLine {
        let head = line
            .content()
            .and_then(|c| crate::journal::fastline::fast_record(c).map(|f| HeadSpans::of(c, &f)));
        BatchLine {
            offset: line.offset,
            number: line.number,
            len: line.len,
            terminated: line.terminated,
            body,
            head,
        }
    }

    /// Offset just past the line and its `\n`.
    fn end_offset(&self) -> u64 {
        self.offset + self.len + u64::from(self.terminated)
    }
}

struct BatchLine {
    offset: u64,
    number: Option<u64>,
    len: u64,
    terminated: bool,
    /// The line's bytes in `Batch::bytes`; `None` for a too-long line.
    body: Option<(usize, usize)>,
    /// Where `fast_record` found the head, when it accepted the line's
    /// content.
    head: Option<HeadSpans>,
}

/// The size of a batch a worker sends.
const BATCH_BYTES: usize = 256 * 1024;

/// Batches in flight, shared by the workers (16 MiB of lines). The visitor
/// takes segments in turn from each worker, so while it reads one worker's
/// segment the others must be able to read theirs ahead in full, or they
/// wait: with two batches each, the second of two workers sat blocked
/// most of a dump (1.3 of 2 cores busy). Enough for segments of the
/// engine's 8 MiB with two workers; larger segments only wait more.
const IN_FLIGHT_BATCHES: usize = 40;

/// A worker's work on one segment; false when the visitor has gone.
fn check_segment(seg: &Segment, plan: &Plan, ends: &mut WorkerEnds<'_>) -> bool {
    let result = match plan.direction {
        Direction::OldestFirst => ForwardLines::open(seg.path(), seg.len(), plan.opts)
            .and_then(|l| check_forward(l.with_window_filter(plan.window_filter.clone()), ends)),
        Direction::NewestFirst => {
            BackwardLines::open(seg.path(), seg.len(), plan.opts).and_then(|l| {
                let mut lines = l
                    .with_window_filter(plan.window_filter.clone())
                    .with_buffer(std::mem::take(&mut ends.back_buffer));
                let done = check_lines(&mut lines, ends);
                let buf = lines.into_buffer();
                if buf.capacity() <= MAX_POOLED {
                    ends.back_buffer = buf;
                }
                done
            })
        }
    };
    match result {
        Ok(true) => ends.tx.send(Handed::End(Ok(()))).is_ok(),
        Ok(false) => false,
        Err(e) => ends.tx.send(Handed::End(Err(e))).is_ok(),
    }
}

/// Hands over every line of `lines`, checked, in batches; false when the
/// visitor has gone.
fn check_lines(lines: &mut impl LineReader, ends: &WorkerEnds<'_>) -> io::Result<bool> {
    let mut batch = ends.batch();
    while let Some(line) = lines.read_line()? {
        if ends.stopped() {
            return Ok(false);
        }
        let body = line.raw().map(|raw| {
            let start = batch.bytes.len();
            batch.bytes.extend_from_slice(raw);
            (start, batch.bytes.len())
        });
        batch.lines.push(BatchLine::of(&line, body));
        if batch.bytes.len() >= BATCH_BYTES {
            let full = std::mem::replace(&mut batch, ends.batch());
            if !ends.send_lines(full) {
                return Ok(false);
            }
        }
    }
    if !batch.lines.is_empty() && !ends.send_lines(batch) {
        return Ok(false);
    }
    Ok(true)
}

/// [`check_lines`] for a forward read, without copying the lines: each
/// batch is a buffer the reader read into and set aside (hand-over mode),
/// sent with the lines that were handed out of it.
fn check_forward(lines: ForwardLines, ends: &mut WorkerEnds<'_>) -> io::Result<bool> {
    let mut lines = lines.with_handover(std::mem::take(&mut ends.buffers));
    // The lines handed out of the reader's current buffer.
    let mut pending = Vec::new();
    loop {
        let line = lines.next_line()?;
        if ends.stopped() {
            return Ok(false);
        }
        // Where the body lies is known once this read's buffer is.
        let entry = line.map(|line| (BatchLine::of(&line, None), line.raw().is_some()));
        // The lines before this one (or before the end) lie in the buffer
        // set aside during this read, if one was; this one lies in the
        // current buffer.
        while let Some((buffer, _)) = lines.take_retired() {
            if !send_retired(&mut lines, buffer, &mut pending, ends) {
                return Ok(false);
            }
        }
        let Some((mut entry, has_body)) = entry else {
            break;
        };
        if has_body {
            let at = (entry.offset - lines.buffer_offset()) as usize;
            entry.body = Some((at, at + entry.len as usize));
        }
        pending.push(entry);
    }
    let (buffer, spares) = lines.finish_handover();
    ends.buffers = spares;
    if pending.is_empty() {
        ends.buffers.push(buffer);
        return Ok(true);
    }
    let batch = Batch {
        bytes: buffer,
        lines: pending,
        in_place: true,
    };
    Ok(ends.send_lines(batch))
}

/// Sends `buffer`, set aside by the reader, with the lines `pending` that
/// were handed out of it; false when the visitor has gone.
fn send_retired(
    lines: &mut ForwardLines,
    buffer: Vec<u8>,
    pending: &mut Vec<BatchLine>,
    ends: &mut WorkerEnds<'_>,
) -> bool {
    // The batches the visitor is done with: their buffers for the reader,
    // their line lists for the next batches.
    while let Ok(done) = ends.spare.try_recv() {
        if done.bytes.len() <= MAX_POOLED {
            lines.give_spare(done.bytes);
        }
        ends.line_lists.push(done.lines);
    }
    if pending.is_empty() {
        lines.give_spare(buffer);
        return true;
    }
    let mut list = ends.line_lists.pop().unwrap_or_default();
    list.clear();
    let batch = Batch {
        bytes: buffer,
        lines: std::mem::replace(pending, list),
        in_place: true,
    };
    ends.send_lines(batch)
}

/// The visitor's side of a segment a worker read.
fn handed_segment<F>(
    (rx, back, credit): (
        &std::sync::mpsc::Receiver<Handed>,
        &std::sync::mpsc::Sender<Batch>,
        &Credit,
    ),
    seg: &Segment,
    is_newest: bool,
    visit: &mut F,
    runs: &mut Option<RunVisitor<'_>>,
) -> io::Result<ControlFlow<()>>
where
    F: FnMut(Visit<'_, '_>, Option<HeadSpans>) -> ControlFlow<()>,
{
    loop {
        // The worker gone without an end: it panicked (a bug); said as an
        // error of this segment rather than as a shorter journal.
        let Ok(handed) = rx.recv() else {
            return Err(io::Error::other("the reading thread stopped"));
        };
        let batch = match handed {
            Handed::End(result) => return result.map(|()| ControlFlow::Continue(())),
            Handed::Lines(batch) => batch,
        };
        let flow = if let Some(run) = runs.as_mut()
            && let Some(bytes) = batch.run()
        {
            run(seg, bytes, batch.lines.len())
        } else {
            batch.lines.iter().try_for_each(|l| {
                let line = Line {
                    offset: l.offset,
                    number: l.number,
                    len: l.len,
                    terminated: l.terminated,
                    body: match l.body {
                        Some((a, b)) => LineBody::Bytes(&batch.bytes[a..b]),
                        None => LineBody::TooLong,
                    },
                };
                let head = l.head;
                visit_line(seg, is_newest, line, &mut |v: Visit<'_, '_>| visit(v, head))
            })
        };
        credit.give(batch.bytes.len());
        // The worker may be gone (it stopped after its last segment).
        let _ = back.send(batch);
        if flow.is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
}

fn unreadable(seg: &Segment, e: &io::Error) -> Defect {
    Defect::new(
        DefectKind::Unreadable,
        seg.path(),
        0,
        seg.len(),
        format!("could not be read: {e}"),
    )
}

fn scan_segment<F>(
    mut lines: impl LineReader,
    seg: &Segment,
    is_newest: bool,
    visit: &mut F,
) -> io::Result<ControlFlow<()>>
where
    F: FnMut(Visit<'_, '_>) -> ControlFlow<()>,
{
    while let Some(line) = lines.read_line()? {
        if visit_line(seg, is_newest, line, visit).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}

fn visit_line<F>(seg: &Segment, is_newest: bool, line: Line<'_>, visit: &mut F) -> ControlFlow<()>
where
    F: FnMut(Visit<'_, '_>) -> ControlFlow<()>,
{
    if let Some(defect) = structural_defect(seg, is_newest, &line) {
        return visit(Visit::Damage(defect));
    }
    if line
        .content()
        .is_some_and(|c| c.iter().all(u8::is_ascii_whitespace))
    {
        return ControlFlow::Continue(());
    }
    visit(Visit::Line { segment: seg, line })
}

/// Damage a line has whatever its bytes: no `\n`, or too long to hold.
pub(crate) fn structural_defect(seg: &Segment, is_newest: bool, line: &Line<'_>) -> Option<Defect> {
    if !line.terminated {
        let (kind, what) = if is_newest {
            (
                DefectKind::TornTail,
                "the newest segment ends in a partial line (no newline)",
            )
        } else {
            (
                DefectKind::TornLine,
                "a closed segment ends in a partial line (no newline)",
            )
        };
        let detail = format!("{what}: {} bytes", line.len);
        return Some(Defect {
            line: line.number,
            ..Defect::new(kind, seg.path(), line.offset, line.len, detail)
        });
    }
    if let LineBody::TooLong = line.body {
        let detail = format!("line of {} bytes is longer than the reader's cap", line.len);
        return Some(Defect {
            line: line.number,
            ..Defect::new(
                DefectKind::LineTooLong,
                seg.path(),
                line.offset,
                line.len,
                detail,
            )
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::path::PathBuf;

    use super::*;

    thread_local! {
        /// A segment that reads as permission denied (tests run as root,
        /// where chmod cannot make a file unreadable).
        pub(super) static UNREADABLE: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
    }

    #[test]
    fn an_unreadable_segment_is_damage_and_the_rest_is_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        for (start, seqs) in [(1u64, 1..=2u64), (3, 3..=4), (5, 5..=6)] {
            let text: String = seqs
                .map(|n| format!("{{\"seq\":{n},\"ts\":\"2026-01-01T00:00:0{n}Z\",\"event\":{{\"type\":\"error\"}}}}\n"))
                .collect();
            std::fs::write(
                tmp.path().join(crate::segment::segment_file_name(start)),
                text,
            )
            .unwrap();
        }
        let listing = Listing::read(tmp.path()).unwrap();
        let bad = listing.segments()[1].path().to_owned();
        UNREADABLE.with(|u| *u.borrow_mut() = Some(bad.clone()));
        for direction in [Direction::OldestFirst, Direction::NewestFirst] {
            let (mut lines, mut damage) = (0, Vec::new());
            let all: Vec<usize> = (0..listing.segments().len()).collect();
            let flow = scan(
                &listing,
                &all,
                direction,
                ReadOptions::default(),
                None,
                |visit| {
                    match visit {
                        Visit::Line { .. } => lines += 1,
                        Visit::Damage(d) => damage.push(d),
                    }
                    ControlFlow::Continue(())
                },
            );
            assert!(flow.unwrap().is_continue());
            assert_eq!(lines, 4, "{direction:?}");
            assert_eq!(damage.len(), 1, "{direction:?}");
            assert_eq!(
                (damage[0].kind, &damage[0].segment),
                (DefectKind::Unreadable, &bad)
            );
            assert!(
                damage[0].detail.contains("permission denied"),
                "{:?}",
                damage[0]
            );
        }
        UNREADABLE.with(|u| *u.borrow_mut() = None);
    }

    fn good(n: u64) -> String {
        format!(
            "{{\"seq\":{n},\"ts\":\"2026-01-01T00:00:00Z\",\"event\":{{\"type\":\"t\",\"content\":\"caf\u{e9} \\u00e9 \\\"{n}\\\"\"}}}}\n"
        )
    }

    /// What a visitor saw, comparable across the two scans.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Line {
            segment: PathBuf,
            offset: u64,
            number: Option<u64>,
            bytes: Vec<u8>,
        },
        Damage(DefectKind, PathBuf, u64),
    }

    fn seen(v: &Visit<'_, '_>) -> Seen {
        match v {
            Visit::Line { segment, line } => Seen::Line {
                segment: segment.path().to_owned(),
                offset: line.offset,
                number: line.number,
                bytes: line.raw().unwrap().to_vec(),
            },
            Visit::Damage(d) => Seen::Damage(d.kind, d.segment.clone(), d.offset),
        }
    }

    /// The byte bound between a worker and the visitor: batches are taken
    /// while they fit, one larger than the budget only alone, a waiting
    /// worker goes on when the visitor gives bytes back, and a stop wakes it
    /// with `false`.
    #[test]
    fn credit_bounds_the_bytes_in_flight_and_a_stop_wakes_a_waiter() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::time::Duration;
        let stop = AtomicBool::new(false);
        let credit = Credit::new(100);
        assert!(credit.take(60, &stop));
        assert!(credit.take(40, &stop));
        std::thread::scope(|s| {
            let waiter = s.spawn(|| credit.take(30, &stop));
            std::thread::sleep(Duration::from_millis(50));
            assert!(
                !waiter.is_finished(),
                "took 30 bytes with 100 of 100 in flight"
            );
            credit.give(60);
            assert!(waiter.join().unwrap());
        });
        assert_eq!(*credit.lock(), 70);
        credit.give(70);
        // Larger than the budget: alone, and only alone.
        assert!(credit.take(500, &stop));
        std::thread::scope(|s| {
            let waiter = s.spawn(|| credit.take(1, &stop));
            std::thread::sleep(Duration::from_millis(50));
            assert!(!waiter.is_finished());
            stop.store(true, Ordering::Relaxed);
            credit.close();
            assert!(!waiter.join().unwrap(), "a stop ends the wait with false");
        });
    }

    /// Issue 14 item 2: the oldest-first scan on worker threads hands the
    /// visitor exactly what the one-thread scan does (lines, damage, order),
    /// with one to four workers; a line is prechecked exactly when the
    /// validating fast path accepted its bytes; a stop is a stop.
    #[test]
    fn the_parallel_scan_sees_what_the_scan_sees() {
        let tmp = tempfile::tempdir().unwrap();
        let long = format!("{{\"seq\":99,\"pad\":\"{}\"}}\n", "x".repeat(300));
        let segments: Vec<(u64, String)> = vec![
            (1, good(1) + &good(2)),
            // Damage of every kind a line can have.
            (
                3,
                good(3)
                    + "not json\n\n   \n"
                    + &long
                    + "{\"seq\":4}\n"
                    + &good(5)
                    + "{\"seq\":6,\"ts",
            ),
            (7, good(7)),
            (8, String::new()),
            (9, good(9) + &good(10)),
            (
                11,
                good(11)
                    + "{\"seq\":12,\"ts\":\"t\",\"event\":{\"type\":\"x\",\"a\":\"\\ud800\"}}\n"
                    + &good(13)
                    + "{\"seq\":14",
            ),
        ];
        for (start, text) in &segments {
            std::fs::write(
                tmp.path().join(crate::segment::segment_file_name(*start)),
                text,
            )
            .unwrap();
        }
        let listing = Listing::read(tmp.path()).unwrap();
        let opts = ReadOptions {
            chunk: 64,
            max_line: 200,
        };
        // A window filter that passes over windows without seq 1 or 10-19.
        let ones: WindowFilter =
            std::sync::Arc::new(|w: &[u8]| memchr::memmem::find(w, b"\"seq\":1").is_some());
        let cases = [Direction::OldestFirst, Direction::NewestFirst]
            .into_iter()
            .flat_map(|d| [(d, None), (d, Some(ones.clone()))])
            .flat_map(|(d, f)| {
                [vec![0, 1, 2, 3, 4, 5], vec![1, 3, 5], vec![0, 5]]
                    .map(|indexes| (d, f.clone(), indexes))
            });
        for (direction, window_filter, indexes) in cases {
            let mut want = Vec::new();
            let flow = scan(
                &listing,
                &indexes,
                direction,
                opts,
                window_filter.clone(),
                |v| {
                    want.push(seen(&v));
                    ControlFlow::Continue(())
                },
            );
            assert!(flow.unwrap().is_continue());
            for workers in 1..=4 {
                let mut got = Vec::new();
                let mut prechecked_lines = 0;
                let plan = Plan {
                    direction,
                    opts,
                    window_filter: window_filter.clone(),
                    workers,
                };
                let flow = scan_on_workers(
                    &listing,
                    &indexes,
                    plan.clone(),
                    |v, head| {
                        let prechecked = head.is_some();
                        prechecked_lines += usize::from(prechecked);
                        if let Visit::Line { line, .. } = &v {
                            let accepted =
                                crate::journal::fastline::fast_record(line.content().unwrap())
                                    .is_some();
                            assert_eq!(prechecked, accepted, "{:?}", seen(&v));
                            let content = line.content().unwrap();
                            assert_eq!(
                                head.and_then(|h| h.record(content)),
                                crate::journal::fastline::fast_record(content),
                                "{direction:?} {indexes:?} {workers} {:?}",
                                window_filter.is_some()
                            );
                        } else {
                            assert!(!prechecked);
                        }
                        got.push(seen(&v));
                        ControlFlow::Continue(())
                    },
                    None,
                );
                assert!(flow.unwrap().is_continue());
                assert_eq!(got, want, "{direction:?} {indexes:?} {workers}");

                // With runs taken: the same lines and damage in the same
                // order, some of the lines as runs (oldest first only),
                // every run made of lines the fast path accepts.
                let stored = |s: &Seen| match s {
                    Seen::Line { segment, bytes, .. } => (segment.clone(), Some(bytes.clone())),
                    Seen::Damage(_, segment, _) => (segment.clone(), None),
                };
                let got = std::cell::RefCell::new(Vec::new());
                let mut run_lines = 0;
                let mut on_run = |seg: &Segment, bytes: &[u8], n: usize| {
                    assert_eq!(bytes.last(), Some(&b'\n'));
                    let lines: Vec<&[u8]> =
                        bytes[..bytes.len() - 1].split(|&b| b == b'\n').collect();
                    assert_eq!(lines.len(), n);
                    for l in lines {
                        assert!(crate::journal::fastline::fast_record(l).is_some());
                        got.borrow_mut()
                            .push((seg.path().to_owned(), Some(l.to_vec())));
                    }
                    run_lines += n;
                    ControlFlow::Continue(())
                };
                let flow = scan_on_workers(
                    &listing,
                    &indexes,
                    plan.clone(),
                    |v, _| {
                        got.borrow_mut().push(stored(&seen(&v)));
                        ControlFlow::Continue(())
                    },
                    Some(&mut on_run),
                );
                assert!(flow.unwrap().is_continue());
                let want_stored: Vec<_> = want.iter().map(stored).collect();
                assert_eq!(
                    got.into_inner(),
                    want_stored,
                    "{direction:?} {indexes:?} {workers}"
                );
                if direction == Direction::NewestFirst {
                    assert_eq!(run_lines, 0);
                } else if window_filter.is_none() && indexes.contains(&0) {
                    assert!(run_lines > 0, "{indexes:?} {workers}");
                }
                if window_filter.is_none() {
                    // Every good line, whichever worker read it: good(1..=3),
                    // good(5), good(7), good(9..=11), good(13).
                    let good_lines = indexes
                        .iter()
                        .map(|&i| [2, 2, 1, 0, 2, 2][i])
                        .sum::<usize>();
                    assert_eq!(prechecked_lines, good_lines, "{indexes:?}");
                } else if indexes.contains(&2) {
                    // good(7) is passed over unseen, good(1) is not.
                    let starts = |p: &[u8]| {
                        want.iter()
                            .any(|s| matches!(s, Seen::Line { bytes, .. } if bytes.starts_with(p)))
                    };
                    assert!(!starts(b"{\"seq\":7,") && starts(b"{\"seq\":1,"));
                }
                if indexes.contains(&1) {
                    assert!(
                        want.iter()
                            .any(|s| matches!(s, Seen::Damage(DefectKind::LineTooLong, ..)))
                    );
                }

                // Stopping at every place stops there, on any worker's segment.
                for stop_at in 0..want.len() {
                    let mut n = 0;
                    let flow = scan_on_workers(
                        &listing,
                        &indexes,
                        plan.clone(),
                        |_, _| {
                            n += 1;
                            if n > stop_at {
                                ControlFlow::Break(())
                            } else {
                                ControlFlow::Continue(())
                            }
                        },
                        None,
                    );
                    assert!(flow.unwrap().is_break());
                    assert_eq!(n, stop_at + 1);
                }
            }
        }
    }
}

//! Forward and backward line readers over one segment.
//!
//! Both read the file in chunks through one reused buffer and find newlines
//! with memchr. Memory is bounded by the chunk size plus the longest line, and
//! a line longer than [`ReadOptions::max_line`] is never buffered: it is
//! returned as [`LineBody::TooLong`] with its exact offset and length.
//!
//! Both readers stop at a fixed end offset (the segment length when the scan
//! started) so that bytes a live writer appends meanwhile are not read as a
//! torn line. A line is "terminated" when a `\n` follows it; the last line of a
//! file without a final `\n` is returned with `terminated == false` (a torn
//! tail) by both readers, or held back by a follower (see
//! [`ForwardLines::next_complete`]).
//!
//! No mmap: a writer or repair may truncate a segment under the reader, which
//! mmap would turn into SIGBUS. A file that shrinks under a reader ends the
//! read early instead.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Tuning for the readers.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Bytes read per system call; the buffer starts at this size. Default 256 KiB.
    pub chunk: usize,
    /// Longest line kept in memory; longer lines are reported, not buffered.
    /// Default 256 MiB.
    pub max_line: usize,
}

impl ReadOptions {
    /// The default line cap: 256 MiB.
    pub const DEFAULT_MAX_LINE: usize = 256 * 1024 * 1024;
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            chunk: 256 * 1024,
            max_line: ReadOptions::DEFAULT_MAX_LINE,
        }
    }
}

/// One line of a segment.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// Byte offset of the line's first byte in the segment.
    pub offset: u64,
    /// 1-based line number, when the reader knows it (forward readers do).
    pub number: Option<u64>,
    /// Length of the line in the file, without its `\n` (but with any `\r`).
    pub len: u64,
    /// Whether a `\n` ends the line.
    pub terminated: bool,
    pub body: LineBody<'a>,
}

#[derive(Debug, Clone, Copy)]
pub enum LineBody<'a> {
    /// The bytes of the line without its `\n` (a trailing `\r` is kept).
    Bytes(&'a [u8]),
    /// The line was longer than `max_line` and was skipped without buffering.
    TooLong,
}

impl<'a> Line<'a> {
    /// The line as stored, without `\n`; `None` for a too-long line.
    pub fn raw(&self) -> Option<&'a [u8]> {
        match self.body {
            LineBody::Bytes(b) => Some(b),
            LineBody::TooLong => None,
        }
    }

    /// The line with a trailing `\r` removed (CRLF journals), for parsing.
    pub fn content(&self) -> Option<&'a [u8]> {
        self.raw().map(strip_cr)
    }

    /// Offset just past the line and its `\n`.
    pub fn end_offset(&self) -> u64 {
        self.offset + self.len + u64::from(self.terminated)
    }
}

pub fn strip_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// A test on a window of whole lines: `false` means no line in it can be
/// wanted, so the reader may pass over all of them without handing them out.
/// It must never answer `false` for a window holding a wanted line.
pub(crate) type WindowFilter = std::sync::Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// A reader that hands out one line at a time, in its own direction.
pub trait LineReader {
    /// The next line in reading order, including an unterminated last line.
    fn read_line(&mut self) -> io::Result<Option<Line<'_>>>;
}

impl LineReader for ForwardLines {
    fn read_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.next_line()
    }
}

impl LineReader for BackwardLines {
    fn read_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.prev_line()
    }
}

/// Reads lines from the start of a segment (or from any line start) forwards.
pub struct ForwardLines {
    file: File,
    opts: ReadOptions,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_offset: u64,
    /// Start of the unconsumed bytes in `buf`.
    pos: usize,
    /// End of valid bytes in `buf`.
    filled: usize,
    /// The reader never reads at or past this offset.
    limit: u64,
    next_number: u64,
    /// Inside a too-long line: its start offset; bytes are dropped until `\n`.
    skipping_from: Option<u64>,
    filter: Option<WindowFilter>,
    /// Bytes from `buf[pos..]` read since the filter last looked.
    window_unchecked: bool,
    /// Hand-over mode (see [`ForwardLines::with_handover`]): buffers set
    /// aside, each with the file offset of its byte 0, oldest first.
    retired: Vec<(Vec<u8>, u64)>,
    /// Hand-over mode: buffers to read into next.
    spares: Option<Vec<Vec<u8>>>,
    /// A line was handed out of `buf` since it was last set aside.
    handed: bool,
}

impl ForwardLines {
    /// Opens `path` and reads it from offset 0 up to `limit` (use the listed length).
    pub fn open(path: &Path, limit: u64, opts: ReadOptions) -> io::Result<Self> {
        Ok(Self::new(File::open(path)?, 0, 1, limit, opts))
    }

    /// Reads `file` from `offset` (which must be a line start) with line
    /// numbers starting at `first_number`.
    pub fn new(file: File, offset: u64, first_number: u64, limit: u64, opts: ReadOptions) -> Self {
        ForwardLines {
            file,
            opts,
            buf: Vec::new(),
            buf_offset: offset,
            pos: 0,
            filled: 0,
            limit,
            next_number: first_number,
            skipping_from: None,
            filter: None,
            window_unchecked: false,
            retired: Vec::new(),
            spares: None,
            handed: false,
        }
    }

    /// Hand-over mode: when the reader needs room, a buffer from which a
    /// line was handed out is set aside unchanged (the unread rest, a
    /// partial line, moves to another buffer) for
    /// [`ForwardLines::take_retired`]. A caller that sends lines to
    /// another thread then sends the buffer itself instead of a copy of its
    /// lines (the full dump's workers: that copy was a twentieth of the
    /// dump).
    /// `spares` are buffers to read into (the current one first), given
    /// back by [`ForwardLines::finish_handover`], so a long scan reuses a
    /// few buffers instead of having the kernel zero a fresh one per chunk.
    pub(crate) fn with_handover(mut self, mut spares: Vec<Vec<u8>>) -> Self {
        if let Some(buf) = spares.pop() {
            self.buf = buf;
        }
        self.spares = Some(spares);
        self
    }

    /// The oldest buffer set aside and not taken yet, with the file offset
    /// of its byte 0. Every line handed out before the line the last call
    /// to `next_line` returned lies in a buffer set aside (and a buffer is
    /// set aside only once a line was handed out of it); that line and any
    /// later lie in the current buffer.
    pub(crate) fn take_retired(&mut self) -> Option<(Vec<u8>, u64)> {
        (!self.retired.is_empty()).then(|| self.retired.remove(0))
    }

    /// A buffer for a later read (hand-over mode: one the caller is done
    /// with).
    pub(crate) fn give_spare(&mut self, buf: Vec<u8>) {
        if let Some(spares) = &mut self.spares {
            spares.push(buf);
        }
    }

    /// The end of a hand-over read: the current buffer (the lines handed
    /// out since the last buffer was set aside lie in it; its byte 0 is at
    /// [`ForwardLines::buffer_offset`]), and the spare buffers left.
    pub(crate) fn finish_handover(self) -> (Vec<u8>, Vec<Vec<u8>>) {
        (self.buf, self.spares.unwrap_or_default())
    }

    /// The file offset of the current buffer's byte 0 (the line the last
    /// call returned lies in that buffer).
    pub(crate) fn buffer_offset(&self) -> u64 {
        self.buf_offset
    }

    /// Passes over whole windows of lines that `filter` rejects (line numbers
    /// stay exact). Only complete lines are ever passed over.
    pub(crate) fn with_window_filter(mut self, filter: Option<WindowFilter>) -> Self {
        self.filter = filter;
        self
    }

    /// Applies the window filter to the complete lines buffered at `pos`.
    fn skip_unwanted_window(&mut self) {
        let Some(filter) = &self.filter else { return };
        if !self.window_unchecked || self.skipping_from.is_some() {
            return;
        }
        self.window_unchecked = false;
        let Some(last_nl) = memchr::memrchr(b'\n', &self.buf[self.pos..self.filled]) else {
            return;
        };
        let window = &self.buf[self.pos..=self.pos + last_nl];
        if !filter(window) {
            self.next_number += memchr::memchr_iter(b'\n', window).count() as u64;
            self.pos += last_nl + 1;
        }
    }

    /// Offset of the first byte not yet returned (start of any held partial line).
    pub fn position(&self) -> u64 {
        self.skipping_from
            .unwrap_or(self.buf_offset + self.pos as u64)
    }

    /// The line number the next line will get.
    pub fn next_number(&self) -> u64 {
        self.next_number
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Moves the end the reader stops at (a follower calls this as the file grows).
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// The next line, including an unterminated last line at the limit.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.next_impl(true)
    }

    /// The next `\n`-terminated line; an unterminated remainder at the limit is
    /// held (not consumed) until more bytes arrive: a follower never prints
    /// half a line.
    pub fn next_complete(&mut self) -> io::Result<Option<Line<'_>>> {
        self.next_impl(false)
    }

    fn next_impl(&mut self, yield_partial: bool) -> io::Result<Option<Line<'_>>> {
        loop {
            self.skip_unwanted_window();
            let found = memchr::memchr(b'\n', &self.buf[self.pos..self.filled]);
            if let Some(i) = found {
                let start = self.pos;
                let end = start + i;
                self.pos = end + 1;
                return Ok(Some(self.make_line(start, end, true)));
            }
            // No newline buffered: a too-long line is dropped instead of buffered.
            if self.skipping_from.is_none() && self.filled - self.pos > self.opts.max_line {
                self.skipping_from = Some(self.buf_offset + self.pos as u64);
            }
            if self.skipping_from.is_some() {
                self.pos = self.filled;
                self.drop_consumed();
            }
            if self.read_more()? == 0 {
                // At the limit (or the file shrank): whatever remains is unterminated.
                let have_partial = self.filled > self.pos || self.skipping_from.is_some();
                if !have_partial || !yield_partial {
                    return Ok(None);
                }
                let (start, end) = (self.pos, self.filled);
                self.pos = self.filled;
                return Ok(Some(self.make_line(start, end, false)));
            }
        }
    }

    fn make_line(&mut self, start: usize, end: usize, terminated: bool) -> Line<'_> {
        let number = self.next_number;
        self.next_number += 1;
        let end_abs = self.buf_offset + end as u64;
        if let Some(from) = self.skipping_from.take() {
            return Line {
                offset: from,
                number: Some(number),
                len: end_abs - from,
                terminated,
                body: LineBody::TooLong,
            };
        }
        self.handed = true;
        Line {
            offset: self.buf_offset + start as u64,
            number: Some(number),
            len: (end - start) as u64,
            terminated,
            body: LineBody::Bytes(&self.buf[start..end]),
        }
    }

    /// Drops `buf[..pos]` (lines handed out or passed over) and moves the
    /// rest to the front; in hand-over mode a buffer a line was handed out
    /// of is set aside instead, and the rest moves to a spare buffer.
    fn drop_consumed(&mut self) {
        if self.pos == 0 {
            return;
        }
        let rest = self.filled - self.pos;
        match &mut self.spares {
            Some(spares) if self.handed => {
                let mut fresh = spares.pop().unwrap_or_default();
                // Room for the rest and the next read, grown only by what
                // is missing: a reused buffer is not zeroed again, and the
                // read below does not double it (a buffer of every batch
                // in flight doubled was half the dump's memory).
                let room = rest + self.opts.chunk;
                if fresh.len() < room {
                    fresh.resize(room, 0);
                }
                fresh[..rest].copy_from_slice(&self.buf[self.pos..self.filled]);
                let old = std::mem::replace(&mut self.buf, fresh);
                self.retired.push((old, self.buf_offset));
                self.handed = false;
            }
            _ => self.buf.copy_within(self.pos..self.filled, 0),
        }
        self.buf_offset += self.pos as u64;
        self.filled = rest;
        self.pos = 0;
    }

    /// Reads the next chunk after the buffered bytes; 0 at the limit or EOF.
    fn read_more(&mut self) -> io::Result<usize> {
        let file_pos = self.buf_offset + self.filled as u64;
        if file_pos >= self.limit {
            return Ok(0);
        }
        // Keep only the unconsumed part of the current line.
        self.drop_consumed();
        let want = (self.limit - file_pos).min(self.opts.chunk as u64) as usize;
        let need = self.filled + want;
        if self.buf.len() < need {
            // Doubling: a long line is buffered in O(len) total copying.
            let new_len = need.max(self.buf.len() * 2);
            self.buf.resize(new_len, 0);
        }
        let n = read_at_full(
            &self.file,
            &mut self.buf[self.filled..self.filled + want],
            file_pos,
        )?;
        self.filled += n;
        self.window_unchecked = n > 0;
        Ok(n)
    }
}

/// Reads lines from the end of a segment backwards: the newest line first.
///
/// Line numbers are unknown (`None`) as counting them needs a forward pass.
pub struct BackwardLines {
    file: File,
    opts: ReadOptions,
    buf: BackBuffer,
    /// File offset of `buf[0]`; `buf` holds file bytes `[buf_offset, buf_offset + buf.len())`.
    buf_offset: u64,
    /// Exclusive end of the next line to return (file offset), or `None` when done.
    line_end: Option<u64>,
    /// Whether the next line to return is followed by `\n`.
    terminated: bool,
    started: bool,
    limit: u64,
    filter: Option<WindowFilter>,
    /// Bytes were read since the filter last looked.
    window_unchecked: bool,
    /// Bytes the next read asks for at least: small at first, doubling up
    /// to the chunk size.
    window: usize,
}

/// The backward reader's first read. Most backward reads want the last few
/// lines (`-n 20`, `recover`): a whole chunk costs a fresh buffer's page
/// faults and a copy of bytes never looked at, which on a warm cache made
/// up a fifth of `inspect -n 20`. Later reads double up to the chunk size.
const FIRST_BACKWARD_WINDOW: usize = 16 * 1024;

impl BackwardLines {
    /// Opens `path` and reads its lines from `limit` (use the listed length) backwards.
    pub fn open(path: &Path, limit: u64, opts: ReadOptions) -> io::Result<Self> {
        Ok(Self::new(File::open(path)?, limit, opts))
    }

    pub fn new(file: File, limit: u64, opts: ReadOptions) -> Self {
        BackwardLines {
            file,
            opts,
            buf: BackBuffer::default(),
            buf_offset: limit,
            line_end: None,
            terminated: false,
            started: false,
            limit,
            filter: None,
            window_unchecked: false,
            window: FIRST_BACKWARD_WINDOW.min(opts.chunk),
        }
    }

    /// Passes over whole windows of lines that `filter` rejects. Only complete
    /// lines are ever passed over (a torn last line is always handed out).
    pub(crate) fn with_window_filter(mut self, filter: Option<WindowFilter>) -> Self {
        self.filter = filter;
        self
    }

    /// Reads into `buf` (its bytes do not matter) before growing a buffer
    /// of its own: a caller reading many segments one after the other hands
    /// each reader the last one's buffer ([`BackwardLines::into_buffer`]).
    /// Only before the first line is read.
    pub(crate) fn with_buffer(mut self, buf: Vec<u8>) -> Self {
        debug_assert!(!self.started, "with_buffer after reading");
        let end = buf.len();
        self.buf = BackBuffer {
            buf,
            head: end,
            tail: end,
        };
        self
    }

    /// The buffer this reader read into, for the next one.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buf.buf
    }

    /// Applies the window filter to the complete lines buffered before
    /// `line_end`: all of them when rejected, keeping only the partial first
    /// line whose start is not read yet. Returns `false` when nothing is left.
    fn skip_unwanted_window(&mut self, line_end: u64) -> bool {
        let Some(filter) = &self.filter else {
            return true;
        };
        if !self.window_unchecked || !self.terminated {
            return true;
        }
        self.window_unchecked = false;
        let rel_end = (line_end - self.buf_offset) as usize;
        let first_nl = memchr::memchr(b'\n', &self.buf.data()[..rel_end]);
        let start = match first_nl {
            Some(i) => i + 1,
            None if self.buf_offset == 0 => 0,
            None => return true, // one partial line: nothing whole to judge
        };
        // The window: whole lines, each with its `\n`.
        let window_end = (rel_end + 1).min(self.buf.data().len());
        if filter(&self.buf.data()[start..window_end]) {
            return true;
        }
        match first_nl {
            Some(i) => {
                self.line_end = Some(self.buf_offset + i as u64);
                true
            }
            None => {
                self.line_end = None;
                false
            }
        }
    }

    /// The previous line (the last one first), including an unterminated last line.
    pub fn prev_line(&mut self) -> io::Result<Option<Line<'_>>> {
        if !self.started {
            self.started = true;
            if self.limit == 0 {
                return Ok(None);
            }
            self.fill_back(1)?;
            // A file that shrank below the limit reads short: trust what is there.
            let last = self.buf.data().last().copied();
            match last {
                None => return Ok(None),
                Some(b'\n') => {
                    self.line_end = Some(self.buf_offset + self.buf.data().len() as u64 - 1);
                    self.terminated = true;
                }
                Some(_) => {
                    self.line_end = Some(self.buf_offset + self.buf.data().len() as u64);
                    self.terminated = false;
                }
            }
        }
        loop {
            let Some(line_end) = self.line_end else {
                return Ok(None);
            };
            if !self.skip_unwanted_window(line_end) {
                return Ok(None);
            }
            let Some(line_end) = self.line_end else {
                return Ok(None);
            };
            let rel_end = (line_end - self.buf_offset) as usize;
            if let Some(i) = memchr::memrchr(b'\n', &self.buf.data()[..rel_end]) {
                return Ok(Some(self.emit(i + 1, rel_end, line_end, true)));
            }
            if self.buf_offset == 0 {
                return Ok(Some(self.emit(0, rel_end, line_end, false)));
            }
            if rel_end > self.opts.max_line {
                return self.skip_too_long(line_end).map(Some);
            }
            // Growing windows: a long line costs O(len), not O(len^2); short
            // lines are read a chunk at a time.
            self.buf.truncate(rel_end);
            self.fill_back(rel_end)?;
        }
    }

    /// Builds the line `buf[start..end]` and moves to the line before it.
    /// `has_prev` says whether a `\n` precedes `start` (so another line exists).
    fn emit(&mut self, start: usize, end: usize, line_end: u64, has_prev: bool) -> Line<'_> {
        let offset = self.buf_offset + start as u64;
        let terminated = self.terminated;
        self.line_end = has_prev.then(|| offset - 1);
        self.terminated = true;
        Line {
            offset,
            number: None,
            len: line_end - offset,
            terminated,
            body: LineBody::Bytes(&self.buf.data()[start..end]),
        }
    }

    /// Finds the start of a line longer than `max_line` by scanning back in
    /// chunks it does not keep.
    fn skip_too_long(&mut self, line_end: u64) -> io::Result<Line<'static>> {
        let terminated = self.terminated;
        let mut scan_end = self.buf_offset;
        let mut chunk = vec![0u8; self.opts.chunk];
        let start = loop {
            if scan_end == 0 {
                break 0;
            }
            let from = scan_end.saturating_sub(self.opts.chunk as u64);
            let n = (scan_end - from) as usize;
            read_at_full(&self.file, &mut chunk[..n], from)?;
            if let Some(i) = memchr::memrchr(b'\n', &chunk[..n]) {
                break from + i as u64 + 1;
            }
            scan_end = from;
        };
        self.buf.clear();
        // An empty window ending at the `\n` before the line: the next call
        // reads backwards from there.
        self.buf_offset = start.saturating_sub(1);
        self.line_end = (start > 0).then(|| start - 1);
        self.terminated = true;
        Ok(Line {
            offset: start,
            number: None,
            len: line_end - start,
            terminated,
            body: LineBody::TooLong,
        })
    }

    /// Prepends up to `want` bytes before `buf_offset` to the buffer.
    fn fill_back(&mut self, want: usize) -> io::Result<()> {
        let want = want.max(self.window);
        self.window = self.window.saturating_mul(2).min(self.opts.chunk.max(1));
        let from = self.buf_offset.saturating_sub(want as u64);
        let n = (self.buf_offset - from) as usize;
        let room = self.buf.make_room(n);
        let got = read_at_full(&self.file, room, from)?;
        if got < n {
            // The file shrank under us: keep what was read, as if it ended there.
            self.buf.keep_prepended(n, got);
        } else {
            self.buf.commit_prepended(n);
        }
        self.buf_offset = from;
        self.window_unchecked = true;
        Ok(())
    }
}

/// A buffer that grows at the front: the backward reader prepends each chunk
/// it reads before the bytes it holds. One allocation, reused for the whole
/// segment (allocating per chunk cost more than the reading).
#[derive(Default)]
struct BackBuffer {
    buf: Vec<u8>,
    /// The held bytes are `buf[head..tail]`.
    head: usize,
    tail: usize,
}

impl BackBuffer {
    fn data(&self) -> &[u8] {
        &self.buf[self.head..self.tail]
    }

    fn truncate(&mut self, len: usize) {
        self.tail = self.head + len.min(self.tail - self.head);
    }

    fn clear(&mut self) {
        self.head = self.buf.len();
        self.tail = self.buf.len();
    }

    /// The `n` bytes just before the held ones, to be filled by the caller.
    fn make_room(&mut self, n: usize) -> &mut [u8] {
        let held = self.tail - self.head;
        if self.head < n {
            if self.buf.len() < n + held {
                let mut bigger = vec![0u8; (n + held).max(self.buf.len() * 2)];
                let at = bigger.len() - held;
                bigger[at..].copy_from_slice(&self.buf[self.head..self.tail]);
                self.buf = bigger;
            } else {
                let at = self.buf.len() - held;
                self.buf.copy_within(self.head..self.tail, at);
            }
            self.tail = self.buf.len();
            self.head = self.tail - held;
        }
        &mut self.buf[self.head - n..self.head]
    }

    /// The room was filled: the held bytes now start `n` earlier.
    fn commit_prepended(&mut self, n: usize) {
        self.head -= n;
    }

    /// Only `got` of the `n` bytes could be read: hold just those.
    fn keep_prepended(&mut self, n: usize, got: usize) {
        self.head -= n;
        self.tail = self.head + got;
    }
}

/// Reads until `buf` is full or EOF; returns the bytes read.
pub(crate) fn read_at_full(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    /// (offset, len, terminated, bytes or None when too long), per the naive split.
    type Expected = Vec<(u64, u64, bool, Option<Vec<u8>>)>;

    fn naive(data: &[u8], max_line: usize) -> Expected {
        let mut out = Vec::new();
        let mut start = 0;
        while start < data.len() {
            let (end, terminated) = match memchr::memchr(b'\n', &data[start..]) {
                Some(i) => (start + i, true),
                None => (data.len(), false),
            };
            let len = end - start;
            // Forward and backward readers may disagree on *exactly* where the
            // cap bites (they buffer different windows), so lines near the cap
            // are compared by place only; see `agree`.
            let body = (len <= max_line).then(|| data[start..end].to_vec());
            out.push((start as u64, len as u64, terminated, body));
            start = end + 1;
        }
        out
    }

    fn collect_forward(path: &Path, len: u64, opts: ReadOptions) -> Expected {
        let mut r = ForwardLines::open(path, len, opts).unwrap();
        let mut out = Vec::new();
        let mut n = 1;
        while let Some(l) = r.next_line().unwrap() {
            assert_eq!(l.number, Some(n));
            n += 1;
            out.push((l.offset, l.len, l.terminated, l.raw().map(<[u8]>::to_vec)));
        }
        out
    }

    fn collect_backward(path: &Path, len: u64, opts: ReadOptions) -> Expected {
        collect_backward_into(path, len, opts, Vec::new()).0
    }

    /// [`collect_backward`], reading into `buf` first; gives the buffer back.
    fn collect_backward_into(
        path: &Path,
        len: u64,
        opts: ReadOptions,
        buf: Vec<u8>,
    ) -> (Expected, Vec<u8>) {
        let mut r = BackwardLines::open(path, len, opts)
            .unwrap()
            .with_buffer(buf);
        let mut out = Vec::new();
        while let Some(l) = r.prev_line().unwrap() {
            out.push((l.offset, l.len, l.terminated, l.raw().map(<[u8]>::to_vec)));
        }
        out.reverse();
        (out, r.into_buffer())
    }

    /// Same places; bodies equal wherever both readers kept them, and a body
    /// is only dropped for a line longer than the cap.
    fn agree(got: &Expected, want: &Expected, max_line: usize) {
        assert_eq!(
            got.len(),
            want.len(),
            "line count\n got {got:?}\nwant {want:?}"
        );
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0, g.1, g.2), (w.0, w.1, w.2));
            match (&g.3, &w.3) {
                (Some(a), Some(b)) => assert_eq!(a, b),
                (None, _) => assert!(
                    g.1 as usize > max_line,
                    "dropped a line within the cap: {g:?}"
                ),
                (Some(_), None) => {} // kept a slightly-over-cap line: allowed, memory still bounded
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn readers_agree_with_naive_split(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a'), Just(b'\r'), Just(0u8)], 0..400),
            chunk in 1usize..40,
            max_line in 1usize..60,
            junk in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(&data).unwrap();
            let opts = ReadOptions { chunk, max_line };
            let want = naive(&data, max_line);
            let len = data.len() as u64;
            agree(&collect_forward(f.path(), len, opts), &want, max_line);
            agree(&collect_backward(f.path(), len, opts), &want, max_line);
            // A buffer handed on from another read (of other bytes, of any
            // size, then of this file) changes nothing.
            let (got, used) = collect_backward_into(f.path(), len, opts, junk);
            agree(&got, &want, max_line);
            agree(&collect_backward_into(f.path(), len, opts, used).0, &want, max_line);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Hand-over mode: each line's bytes, read only once its buffer was
        /// set aside (or at the end), are the line's; spare buffers given
        /// back full of other bytes change nothing.
        #[test]
        fn handed_over_buffers_hold_every_line_handed_out(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a'), Just(b'b'), Just(0u8)], 0..400),
            chunk in 1usize..40,
            max_line in 1usize..60,
            filtered in any::<bool>(),
            spares in 0usize..3,
        ) {
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(&data).unwrap();
            let len = data.len() as u64;
            let opts = ReadOptions { chunk, max_line };
            let filter = if filtered { wants_b() } else { None };
            let mut plain = ForwardLines::open(f.path(), len, opts).unwrap().with_window_filter(filter.clone());
            let mut want = Vec::new();
            while let Some(l) = plain.next_line().unwrap() {
                want.push((l.offset, l.len, l.terminated, l.raw().map(<[u8]>::to_vec)));
            }
            let mut r = ForwardLines::open(f.path(), len, opts)
                .unwrap()
                .with_window_filter(filter)
                .with_handover(vec![vec![b'x'; 50]; spares]);
            // Lines whose bytes sit in the current buffer: (offset, len,
            // terminated, where in the buffer).
            let mut pending: Vec<(u64, u64, bool, Option<usize>)> = Vec::new();
            let mut got = Vec::new();
            let resolve = |pending: &mut Vec<(u64, u64, bool, Option<usize>)>, buf: &[u8], got: &mut Expected| {
                for (offset, len, terminated, at) in pending.drain(..) {
                    let body = at.map(|a| buf[a..a + len as usize].to_vec());
                    got.push((offset, len, terminated, body));
                }
            };
            loop {
                let line = r.next_line().unwrap().map(|l| (l.offset, l.len, l.terminated, l.raw().is_some()));
                while let Some((buf, _)) = r.take_retired() {
                    resolve(&mut pending, &buf, &mut got);
                    r.give_spare(vec![b'y'; buf.len()]);
                }
                let Some((offset, len, terminated, has_body)) = line else { break };
                let at = has_body.then(|| (offset - r.buffer_offset()) as usize);
                pending.push((offset, len, terminated, at));
            }
            let (buf, _) = r.finish_handover();
            resolve(&mut pending, &buf, &mut got);
            prop_assert_eq!(got, want);
        }
    }

    fn wants_b() -> Option<WindowFilter> {
        Some(std::sync::Arc::new(|w: &[u8]| w.contains(&b'b')))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// With a window filter, readers hand out a subset of the lines, exactly
        /// placed and numbered, that holds every wanted line and the torn tail.
        #[test]
        fn window_filter_never_drops_a_wanted_line(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a'), Just(b'b'), Just(b'\r')], 0..400),
            chunk in 1usize..40,
        ) {
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(&data).unwrap();
            let opts = ReadOptions { chunk, max_line: 1000 };
            let want = naive(&data, 1000);
            let len = data.len() as u64;
            let mut fwd = ForwardLines::open(f.path(), len, opts).unwrap().with_window_filter(wants_b());
            let mut got_fwd = Vec::new();
            while let Some(l) = fwd.next_line().unwrap() {
                got_fwd.push((l.offset, l.len, l.terminated, l.raw().map(<[u8]>::to_vec), l.number));
            }
            let mut bwd = BackwardLines::open(f.path(), len, opts).unwrap().with_window_filter(wants_b());
            let mut got_bwd = Vec::new();
            while let Some(l) = bwd.prev_line().unwrap() {
                got_bwd.push((l.offset, l.len, l.terminated, l.raw().map(<[u8]>::to_vec), None));
            }
            got_bwd.reverse();
            for got in [&got_fwd, &got_bwd] {
                let mut it = want.iter().enumerate();
                for g in got.iter() {
                    // Every line handed out is a real line, in order, exactly placed.
                    let (i, w) = it.by_ref().find(|(_, w)| w.0 == g.0).expect("a line the file does not have");
                    prop_assert_eq!((g.1, g.2, &g.3), (w.1, w.2, &w.3));
                    if let Some(n) = g.4 {
                        prop_assert_eq!(n, i as u64 + 1);
                    }
                }
                for w in &want {
                    let wanted = w.3.as_ref().is_some_and(|b| b.contains(&b'b')) || !w.2;
                    if wanted {
                        prop_assert!(got.iter().any(|g| g.0 == w.0), "dropped wanted line {:?}", w);
                    }
                }
            }
        }
    }

    #[test]
    fn a_rejected_window_is_passed_over_in_both_directions() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for i in 0..20_000 {
            writeln!(f, "line {i} aaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
        }
        write!(f, "torn").unwrap();
        let len = f.as_file().metadata().unwrap().len();
        let opts = ReadOptions {
            chunk: 4096,
            max_line: 1 << 20,
        };
        let none: Option<WindowFilter> = Some(std::sync::Arc::new(|_: &[u8]| false));
        let mut fwd = ForwardLines::open(f.path(), len, opts)
            .unwrap()
            .with_window_filter(none.clone());
        let mut n = 0;
        while let Some(l) = fwd.next_line().unwrap() {
            n += 1;
            assert!(
                n < 200,
                "forward reader handed out too many lines, at {}",
                l.offset
            );
        }
        let mut bwd = BackwardLines::open(f.path(), len, opts)
            .unwrap()
            .with_window_filter(none);
        let mut n = 0;
        while let Some(l) = bwd.prev_line().unwrap() {
            n += 1;
            assert!(
                n < 200,
                "backward reader handed out too many lines, at {}",
                l.offset
            );
        }
    }

    #[test]
    fn limit_hides_bytes_appended_later_and_follower_holds_partial_lines() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"one\ntw").unwrap();
        let opts = ReadOptions {
            chunk: 2,
            max_line: 100,
        };
        let mut r = ForwardLines::new(File::open(f.path()).unwrap(), 0, 1, 6, opts);
        assert_eq!(r.next_complete().unwrap().unwrap().raw(), Some(&b"one"[..]));
        assert!(r.next_complete().unwrap().is_none());
        assert_eq!(r.position(), 4);
        f.write_all(b"o\nthree\n").unwrap();
        assert!(r.next_complete().unwrap().is_none(), "limit not moved yet");
        r.set_limit(14);
        let l = r.next_complete().unwrap().unwrap();
        assert_eq!(
            (l.raw(), l.offset, l.number),
            (Some(&b"two"[..]), 4, Some(2))
        );
        assert_eq!(
            r.next_complete().unwrap().unwrap().raw(),
            Some(&b"three"[..])
        );
        assert!(r.next_complete().unwrap().is_none());
    }
}

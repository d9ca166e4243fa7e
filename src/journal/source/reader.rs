//! One trait for every journal format's reader: a [`Source`] visits the
//! records a [`RecordFilter`] accepts, in time order, with the damage met on
//! the way. Query's matcher is the filter; render takes the [`Record`] view.
//!
//! [`Segments`] is the engine's chain read by the existing [`scan`] (its
//! window filter, late parsing and early stop unchanged); [`Sessions`] is the
//! per-session store, merged across sessions by timestamp.

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::path::Path;

use super::family::{
    FamilyRepair, FamilyRepairOptions, FamilyStats, FamilyVerify, FamilyVerifyOptions, Heads,
    Positions,
};
use super::{Format, Position};
use crate::journal::defect::Defect;
use crate::journal::error::JournalError;
use crate::journal::fastline::HeadSpans;
use crate::journal::lines::{ReadOptions, WindowFilter};
use crate::journal::record::{Record, parse_prechecked_line};
use crate::journal::scan::{Direction, RunVisitor, Visit, Workers, scan, scan_parallel};
use crate::journal::segment::Listing;
use crate::query::{Matcher, Query};

/// Which records a reader hands on: a cheap test on the raw bytes (and on
/// whole windows of lines), then the exact test on the parsed record.
pub trait RecordFilter {
    /// A test on many lines at once; `None` when there is none.
    fn window_filter(&self) -> Option<WindowFilter> {
        None
    }
    /// `false` only when the raw record cannot match.
    fn prefilter(&self, _raw: &[u8]) -> bool {
        true
    }
    /// The exact test.
    fn matches(&self, rec: &Record<'_>) -> bool;
    /// Whether a read in `newest_first` order is past the filter's time
    /// range at `raw` and can stop (ts assumed in seq order to the second).
    fn past_time_range(&self, _raw: &[u8], _newest_first: bool) -> bool {
        false
    }
    /// Whether every record passes, whatever it holds (no condition at
    /// all): a reader may then hand records over without testing them.
    fn accepts_all(&self) -> bool {
        false
    }
}

/// The filter that accepts every record.
pub struct AcceptAll;

impl RecordFilter for AcceptAll {
    fn matches(&self, _rec: &Record<'_>) -> bool {
        true
    }
    fn accepts_all(&self) -> bool {
        true
    }
}

/// The matcher is what every format's reader filters with (here, not in
/// `query`, so that the query knows nothing of the readers).
impl RecordFilter for Matcher {
    fn window_filter(&self) -> Option<WindowFilter> {
        Matcher::window_filter(self)
    }

    fn prefilter(&self, raw: &[u8]) -> bool {
        Matcher::prefilter(self, raw)
    }

    fn matches(&self, rec: &Record<'_>) -> bool {
        Matcher::matches(self, rec)
    }

    fn past_time_range(&self, raw: &[u8], newest_first: bool) -> bool {
        Matcher::past_time_range(self, raw, newest_first)
    }

    fn accepts_all(&self) -> bool {
        Matcher::accepts_all(self)
    }
}

/// What a reader hands its visitor.
pub enum Item<'a> {
    /// A record the filter accepted, and the bytes as stored.
    Record {
        position: Position,
        record: &'a Record<'a>,
        stored: &'a [u8],
    },
    /// Damage met on the way (a torn line, a line that does not parse).
    Damage(Defect),
    /// ([`Source::visit_after`] only) A stream went back: its records no
    /// longer continue from the position `after` held for it (a file
    /// replaced by another, ids started again after a compaction emptied
    /// it). Its records follow from its start, whatever `after` says; a
    /// follower forgets its position for the stream.
    Restart {
        stream: String,
        /// The position `after` held.
        after: u64,
        /// Why: [`RESTART_WENT_BACK`] or [`RESTART_REPLACED`].
        reason: &'static str,
    },
}

/// An [`Item::Record`] copied out of the reader's buffers, for a caller
/// that prints it after the read that found it (a merge of journals,
/// `tail`'s last N).
#[derive(Debug, Clone)]
pub struct OwnedRecord {
    pub position: Position,
    seq: u64,
    ts: Option<String>,
    session_id: Option<String>,
    event_type: Option<String>,
    raw: Vec<u8>,
    stored: Vec<u8>,
}

impl OwnedRecord {
    /// A copy of `record` at `position`, stored as `stored`.
    pub fn new(position: Position, record: &Record<'_>, stored: &[u8]) -> Self {
        OwnedRecord {
            position,
            seq: record.seq,
            ts: record.ts.as_deref().map(str::to_owned),
            session_id: record.session_id.as_deref().map(str::to_owned),
            event_type: record.event_type.as_deref().map(str::to_owned),
            raw: record.raw.to_vec(),
            stored: stored.to_vec(),
        }
    }

    /// The record, borrowed from the copy.
    pub fn record(&self) -> Record<'_> {
        Record {
            seq: self.seq,
            ts: self.ts.as_deref().map(Cow::Borrowed),
            session_id: self.session_id.as_deref().map(Cow::Borrowed),
            event_type: self.event_type.as_deref().map(Cow::Borrowed),
            raw: &self.raw,
        }
    }

    /// The line as stored.
    pub fn stored(&self) -> &[u8] {
        &self.stored
    }
}

/// The stream's newest record is below the position a reader held.
pub const RESTART_WENT_BACK: &str = "went-back";
/// The stream's file was replaced by one with other records.
pub const RESTART_REPLACED: &str = "replaced";

/// The streams of `after` whose newest record (`newest`) is below the
/// position held: they went back (a stream with no record now cannot be
/// told yet, and is left).
pub fn went_back(after: &Positions, newest: &Positions) -> Vec<(String, u64)> {
    after
        .iter()
        .filter(|(stream, p)| newest.get(*stream).is_some_and(|n| n < *p))
        .map(|(stream, p)| (stream.clone(), *p))
        .collect()
}

/// A journal of any format, read through one interface.
pub trait Source {
    fn format(&self) -> Format;
    /// Where damage is reported as found.
    fn dir(&self) -> &Path;
    /// Where this format's files change (what a follower watches): the
    /// directory its records are appended in, not always [`Source::dir`].
    fn watch_paths(&self) -> Vec<std::path::PathBuf> {
        vec![self.dir().to_owned()]
    }
    /// The query as this format's records need it (a field path written for
    /// the engine's records, `event.x`, rooted where this format keeps it).
    ///
    /// A filter no record of this format can meet is refused
    /// ([`JournalError::NoSuchField`]), so that it never reads as "no such
    /// events".
    fn adapt_query(&self, query: Query) -> Result<Query, JournalError> {
        Ok(query)
    }

    /// Visits the accepted records newest or oldest first until `visit` breaks.
    fn visit(
        &self,
        filter: &dyn RecordFilter,
        direction: Direction,
        visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    ) -> Result<(), JournalError>;

    /// Every record (oldest first) whose [`Position::number`] is above its
    /// cursor stream's entry in `after` (a stream missing from `after` is
    /// read from its start), for `tail -f`'s polls. A record read twice
    /// (a file rewritten by repair) is thus never handed on twice. When
    /// `visit` breaks, the records it did not reach are handed on again by
    /// the next call (given the same or lower positions): `tail` stops a poll
    /// to check a gap, and an incremental reader must not lose them.
    ///
    /// A stream that went back (its newest record below its position in
    /// `after`, or its file replaced by another) is an [`Item::Restart`],
    /// then its records from its start. The default reads every record
    /// twice: once for each stream's newest, once to hand them on.
    fn visit_after(
        &self,
        after: &Positions,
        filter: &dyn RecordFilter,
        visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
        let mut after = after.clone();
        if !after.is_empty() {
            let mut newest = Positions::new();
            self.visit(&AcceptAll, Direction::OldestFirst, &mut |item| {
                if let Item::Record { position, .. } = item {
                    let n = position.number();
                    let e = newest.entry(position.cursor_stream()).or_insert(n);
                    *e = (*e).max(n);
                }
                ControlFlow::Continue(())
            })?;
            for (stream, p) in went_back(&after, &newest) {
                after.remove(&stream);
                let restart = Item::Restart {
                    stream,
                    after: p,
                    reason: RESTART_WENT_BACK,
                };
                if visit(restart).is_break() {
                    return Ok(());
                }
            }
        }
        self.visit(filter, Direction::OldestFirst, &mut |item| match &item {
            Item::Record { position, .. }
                if after
                    .get(&position.cursor_stream())
                    .is_some_and(|&p| position.number() <= p) =>
            {
                ControlFlow::Continue(())
            }
            _ => visit(item),
        })
    }

    /// The oldest position each stream still holds (its lowest
    /// [`Position::number`]): a reader's position below that lost what lies
    /// between (a gap). The default reads every record; `tail` asks only
    /// when a stream's next record is not the one after its position.
    fn oldest(&self) -> Result<Positions, JournalError> {
        let mut oldest = Positions::new();
        self.visit(&AcceptAll, Direction::OldestFirst, &mut |item| {
            if let Item::Record { position, .. } = item {
                let n = position.number();
                let e = oldest.entry(position.cursor_stream()).or_insert(n);
                *e = (*e).min(n);
            }
            ControlFlow::Continue(())
        })?;
        Ok(oldest)
    }

    /// `recover`: the head of every stream.
    fn heads(&self) -> Result<Heads, JournalError> {
        Err(self.unsupported("recover"))
    }

    /// `stats`.
    fn stats(&self) -> Result<FamilyStats, JournalError> {
        Err(self.unsupported("stats"))
    }

    /// `verify`.
    fn verify(&self, _opts: &FamilyVerifyOptions) -> Result<FamilyVerify, JournalError> {
        Err(self.unsupported("verify"))
    }

    /// `repair`: formats that cannot be repaired (or are left to their own
    /// engine) refuse through the default.
    fn repair(&self, _opts: &FamilyRepairOptions) -> Result<FamilyRepair, JournalError> {
        Err(self.unsupported("repair"))
    }

    /// The refusal a command gets for what this format does not do.
    fn unsupported(&self, what: &'static str) -> JournalError {
        JournalError::Unsupported {
            path: self.dir().to_owned(),
            format: self.format().name(),
            what,
            why: None,
        }
    }
}

/// The engine's segment chain: the candidate segments of a listing.
pub struct Segments<'l> {
    pub listing: &'l Listing,
    /// Indexes into `listing.segments` that can hold a match.
    pub candidates: Vec<usize>,
}

impl Segments<'_> {
    /// [`Source::visit`] with the filter and the visitor known at compile
    /// time, so the engine's hot loop is monomorphized and inlined as it was
    /// before the trait existed (inspect calls this for segments).
    pub fn visit_with<F, V>(
        &self,
        filter: &F,
        direction: Direction,
        visit: V,
    ) -> Result<(), JournalError>
    where
        F: RecordFilter + ?Sized,
        V: FnMut(Item<'_>) -> ControlFlow<()>,
    {
        self.visit_impl(filter, direction, visit, false, None)
    }

    /// [`Segments::visit_with`] for a caller that reads to the end (no
    /// limit, no time range: `visit` breaks only on a write error). The
    /// segments are then read on worker threads in either direction, and
    /// runs of records may be handed to `runs` whole instead of to `visit`
    /// one by one: `bytes` are `count` records of the segment as stored,
    /// each line with its `\n`, in reading order. A printer of stored lines
    /// writes a run as it is, with no work per record (the full dump). Runs
    /// come only when `filter` accepts every record
    /// ([`RecordFilter::accepts_all`]) and the read is oldest first, and
    /// only of lines the validating fast path accepted: damage, blank lines
    /// and records in another shape still go to `visit`, in their place.
    pub fn visit_whole_with<F, V>(
        &self,
        filter: &F,
        direction: Direction,
        visit: V,
        runs: Option<RunVisitor<'_>>,
    ) -> Result<(), JournalError>
    where
        F: RecordFilter + ?Sized,
        V: FnMut(Item<'_>) -> ControlFlow<()>,
    {
        self.visit_impl(filter, direction, visit, true, runs)
    }

    /// `whole` and `runs`: as for [`Segments::visit_whole_with`].
    fn visit_impl<F, V>(
        &self,
        filter: &F,
        direction: Direction,
        mut visit: V,
        whole: bool,
        runs: Option<RunVisitor<'_>>,
    ) -> Result<(), JournalError>
    where
        F: RecordFilter + ?Sized,
        V: FnMut(Item<'_>) -> ControlFlow<()>,
    {
        let newest_first = direction == Direction::NewestFirst;
        let window_filter = filter.window_filter();
        let mut on_visit = |v: Visit<'_, '_>, head: Option<HeadSpans>| {
            let (segment, line) = match v {
                Visit::Damage(d) => return visit(Item::Damage(d)),
                Visit::Line { segment, line } => (segment, line),
            };
            let (Some(stored), Some(content)) = (line.raw(), line.content()) else {
                return ControlFlow::Continue(());
            };
            if filter.past_time_range(content, newest_first) {
                return ControlFlow::Break(());
            }
            if !filter.prefilter(content) {
                return ControlFlow::Continue(());
            }
            let record = match parse_prechecked_line(content, head) {
                Ok(record) => record,
                Err(fault) => {
                    return visit(Item::Damage(Defect::from_fault(
                        segment.path(),
                        &line,
                        &fault,
                    )));
                }
            };
            if !filter.matches(&record) {
                return ControlFlow::Continue(());
            }
            visit(Item::Record {
                position: Position::Seq(record.seq),
                record: &record,
                stored,
            })
        };
        // Three kinds of scan read on worker threads where there are
        // several cores: a whole journal (a dump: validation is most of its
        // cost), one read oldest first (which usually goes far), and one
        // with a window filter (a rare session or text: searching the
        // windows is the work). Newest first without a filter (`-n 20`)
        // usually stops in the newest segment: one thread, no reading ahead.
        // The CPU count last: std reads the cgroup's quota files for it,
        // a dozen system calls that `-n 20` has no use for.
        let may_split = (whole || window_filter.is_some() || direction == Direction::OldestFirst)
            && self.candidates.len() >= 2;
        let cpus = if may_split {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            1
        };
        let parallel = cpus >= 2;
        if parallel {
            let workers = Workers {
                cpus,
                runs: runs.filter(|_| filter.accepts_all()),
            };
            let _stopped = scan_parallel(
                self.listing,
                &self.candidates,
                direction,
                ReadOptions::default(),
                window_filter,
                workers,
                on_visit,
            )?;
        } else {
            let _stopped = scan(
                self.listing,
                &self.candidates,
                direction,
                ReadOptions::default(),
                window_filter,
                |v| on_visit(v, None),
            )?;
        }
        Ok(())
    }
}

impl Source for Segments<'_> {
    fn format(&self) -> Format {
        Format::Segments
    }

    fn dir(&self) -> &Path {
        self.listing.dir()
    }

    fn visit(
        &self,
        filter: &dyn RecordFilter,
        direction: Direction,
        visit: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
        self.visit_with(filter, direction, visit)
    }
}

pub use super::session_source::Sessions;

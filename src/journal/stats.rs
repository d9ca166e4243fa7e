//! A picture of a journal: sizes, counts, ranges, events per type, sessions,
//! the newest segment's fill and a histogram of events over time.
//!
//! Segments are scanned in parallel (one worker per core, each taking the
//! next whole segment) through the one reading loop ([`scan`]), so memory is
//! bounded by one read buffer per worker plus the distinct types and
//! sessions. The histogram's time range comes from a cheap first pass over
//! each segment's first and last line, so the full pass can bucket events
//! without keeping them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::journal::defect::DefectKind;
use crate::journal::error::JournalError;
use crate::journal::fastline::fast_record;
use crate::journal::lines::{BackwardLines, ForwardLines, LineReader, ReadOptions};
use crate::journal::record::{Record, parse_line, parse_ts};
use crate::journal::recover::{TornTail, recover};
use crate::journal::scan::{Direction, Visit, scan};
use crate::journal::segment::{Listing, Segment};
use crate::journal::writer::DEFAULT_ROTATE_BYTES;

#[derive(Debug, Clone, Copy)]
pub struct StatsOptions {
    /// The rotation threshold the newest segment's fill is measured against. Default 8 MiB.
    pub rotate_bytes: u64,
    /// Buckets in the histogram over time. Default 40.
    pub buckets: usize,
    /// Worker threads. Default: the available cores.
    pub threads: usize,
    pub read: ReadOptions,
}

impl Default for StatsOptions {
    fn default() -> Self {
        StatsOptions {
            rotate_bytes: DEFAULT_ROTATE_BYTES,
            buckets: 40,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            read: ReadOptions {
                chunk: 1 << 20,
                ..ReadOptions::default()
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range<T> {
    pub first: T,
    pub last: T,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewestSegment {
    #[serde(serialize_with = "crate::journal::segment::ser::file_name")]
    pub segment: PathBuf,
    pub bytes: u64,
    pub rotate_bytes: u64,
    /// bytes / rotate_bytes.
    pub fill: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    #[serde(serialize_with = "ser_ts")]
    pub first: DateTime<Utc>,
    #[serde(serialize_with = "ser_ts")]
    pub last: DateTime<Utc>,
}

/// Events per equal slice of the time range.
#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    #[serde(serialize_with = "ser_ts")]
    pub start: DateTime<Utc>,
    pub bucket_seconds: f64,
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub segments: usize,
    pub bytes: u64,
    /// Valid records.
    pub events: u64,
    /// Lines that are not valid records (torn, not JSON, no seq, NUL, ...),
    /// the newest segment's torn tail excluded.
    pub damaged_lines: u64,
    pub seq: Option<Range<u64>>,
    /// Earliest and latest `ts` (not first and last: clocks step).
    pub time: Option<TimeRange>,
    /// Events per `event.type` (sorted by name).
    pub types: BTreeMap<String, u64>,
    /// Events without a string `event.type`.
    pub untyped: u64,
    pub sessions: usize,
    pub events_without_session: u64,
    pub newest_segment: Option<NewestSegment>,
    pub torn_tail: Option<TornTail>,
    pub histogram: Option<Histogram>,
    /// The quarantine-*.bin files beside the segments (not part of `bytes`).
    pub quarantine: QuarantineCount,
    /// Segments that could not be read (their events are not counted); the
    /// caller says so and exits with an error. In JSON only when not empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<UnreadableSegment>,
}

/// A segment stats could not read, and why.
#[derive(Debug, Clone, Serialize)]
pub struct UnreadableSegment {
    #[serde(serialize_with = "crate::journal::segment::ser::file_name")]
    pub segment: PathBuf,
    pub error: String,
}

/// Quarantine files in the journal directory: bytes repair and append removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QuarantineCount {
    pub files: usize,
    pub bytes: u64,
}

/// A small multiplicative hasher (FxHash's): type names and session ids
/// are hashed once per event, and SipHash's DoS resistance buys nothing here.
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastBuild = std::hash::BuildHasherDefault<FastHasher>;

/// What one worker gathers.
#[derive(Default)]
struct Acc {
    events: u64,
    damaged: u64,
    seq: Option<(u64, u64)>,
    time: Option<(DateTime<Utc>, DateTime<Utc>)>,
    types: HashMap<String, u64, FastBuild>,
    untyped: u64,
    sessions: HashSet<String, FastBuild>,
    without_session: u64,
    buckets: Vec<u64>,
}

impl Acc {
    fn record(&mut self, rec: &Record<'_>, grid: Option<&Grid>) {
        self.head(
            rec.seq,
            rec.ts.as_deref(),
            rec.session_id.as_deref(),
            rec.event_type.as_deref(),
            grid,
        );
    }

    fn head(
        &mut self,
        seq: u64,
        ts: Option<&str>,
        session_id: Option<&str>,
        event_type: Option<&str>,
        grid: Option<&Grid>,
    ) {
        self.events += 1;
        self.seq = Some(match self.seq {
            None => (seq, seq),
            Some((lo, hi)) => (lo.min(seq), hi.max(seq)),
        });
        match event_type {
            Some(t) => match self.types.get_mut(t) {
                Some(n) => *n += 1,
                None => {
                    self.types.insert(t.to_owned(), 1);
                }
            },
            None => self.untyped += 1,
        }
        match session_id {
            Some(s) => {
                if !self.sessions.contains(s) {
                    self.sessions.insert(s.to_owned());
                }
            }
            None => self.without_session += 1,
        }
        if let Some(ts) = ts.and_then(parse_ts) {
            self.time = Some(match self.time {
                None => (ts, ts),
                Some((lo, hi)) => (lo.min(ts), hi.max(ts)),
            });
            if let Some(grid) = grid {
                self.buckets[grid.bucket(ts)] += 1;
            }
        }
    }

    fn merge(&mut self, other: Acc) {
        self.events += other.events;
        self.damaged += other.damaged;
        self.seq = match (self.seq, other.seq) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        self.time = match (self.time, other.time) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        for (t, n) in other.types {
            *self.types.entry(t).or_default() += n;
        }
        self.untyped += other.untyped;
        self.sessions.extend(other.sessions);
        self.without_session += other.without_session;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
    }
}

/// The histogram's buckets over the time range found by the first pass.
struct Grid {
    start: DateTime<Utc>,
    nanos: i64,
    buckets: usize,
}

impl Grid {
    fn bucket(&self, ts: DateTime<Utc>) -> usize {
        let off = (ts - self.start)
            .num_nanoseconds()
            .unwrap_or(i64::MAX)
            .max(0);
        ((off / self.nanos) as usize).min(self.buckets - 1)
    }
}

/// Gathers the stats of `listing`. `progress` is called with the bytes of
/// each segment as it is done (from worker threads).
pub fn stats(
    listing: &Listing,
    opts: &StatsOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Stats, JournalError> {
    let grid = time_grid(listing, opts)?;
    let threads = opts.threads.clamp(1, listing.segments.len().max(1));
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<JournalError>> = Mutex::new(None);
    let unreadable: Mutex<Vec<UnreadableSegment>> = Mutex::new(Vec::new());
    let accs: Vec<Acc> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut acc = Acc {
                        buckets: vec![0; grid.as_ref().map_or(0, |g| g.buckets)],
                        ..Acc::default()
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= listing.segments.len() {
                            break;
                        }
                        #[cfg(test)]
                        if tests::PANIC_IN
                            .lock()
                            .is_ok_and(|d| d.as_deref() == Some(listing.dir.as_path()))
                        {
                            panic!("a worker's bug");
                        }
                        #[cfg(test)]
                        let result = if tests::UNREADABLE
                            .lock()
                            .is_ok_and(|p| p.as_deref() == Some(listing.segments[i].path()))
                        {
                            Err(JournalError::io(
                                listing.segments[i].path(),
                                std::io::Error::from(std::io::ErrorKind::PermissionDenied),
                            ))
                        } else {
                            scan_segment(listing, i, opts, grid.as_ref(), &mut acc)
                        };
                        #[cfg(not(test))]
                        let result = scan_segment(listing, i, opts, grid.as_ref(), &mut acc);
                        // One unreadable segment is reported, not fatal: the
                        // rest of the journal is still counted.
                        if let Err(JournalError::Io { path, source }) = &result
                            && *path == listing.segments[i].path()
                        {
                            unreadable.lock().unwrap_or_else(|p| p.into_inner()).push(
                                UnreadableSegment {
                                    segment: path.clone(),
                                    error: source.to_string(),
                                },
                            );
                            progress(listing.segments[i].len());
                            continue;
                        }
                        if let Err(e) = result {
                            first_error
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                            // Stop the other workers too.
                            next.store(listing.segments.len(), Ordering::Relaxed);
                            break;
                        }
                        progress(listing.segments[i].len());
                    }
                    acc
                })
            })
            .collect();
        // A worker that panicked would leave its counts out: the answer
        // would be silently low, so it is an error instead.
        workers
            .into_iter()
            .map(|w| {
                w.join().map_err(|payload| {
                    let why = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "no message".to_owned());
                    JournalError::io(
                        &listing.dir,
                        std::io::Error::other(format!(
                            "a stats worker failed ({why}): the figures would be incomplete"
                        )),
                    )
                })
            })
            .collect::<Result<Vec<Acc>, JournalError>>()
    })?;
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut total = Acc {
        buckets: vec![0; grid.as_ref().map_or(0, |g| g.buckets)],
        ..Acc::default()
    };
    for acc in accs {
        total.merge(acc);
    }
    let recovery = recover(listing, ReadOptions::default())?;
    let mut unreadable = unreadable.into_inner().unwrap_or_else(|p| p.into_inner());
    unreadable.sort_by(|a, b| a.segment.cmp(&b.segment));
    Ok(Stats {
        unreadable,
        segments: listing.segments.len(),
        bytes: listing.total_bytes(),
        events: total.events,
        damaged_lines: total.damaged,
        seq: total.seq.map(|(first, last)| Range { first, last }),
        time: total.time.map(|(first, last)| TimeRange { first, last }),
        types: total.types.into_iter().collect(),
        untyped: total.untyped,
        sessions: total.sessions.len(),
        events_without_session: total.without_session,
        newest_segment: listing.newest().map(|n| NewestSegment {
            segment: n.path().to_owned(),
            bytes: n.len(),
            rotate_bytes: opts.rotate_bytes,
            fill: n.len() as f64 / opts.rotate_bytes.max(1) as f64,
        }),
        torn_tail: recovery.torn_tail,
        histogram: grid.map(|g| Histogram {
            start: g.start,
            bucket_seconds: g.nanos as f64 / 1e9,
            counts: total.buckets,
        }),
        quarantine: {
            let files = crate::journal::quarantine::list_quarantine(&listing.dir)?;
            QuarantineCount {
                files: files.len(),
                bytes: files.iter().map(|q| q.bytes).sum(),
            }
        },
    })
}

fn scan_segment(
    listing: &Listing,
    i: usize,
    opts: &StatsOptions,
    grid: Option<&Grid>,
    acc: &mut Acc,
) -> Result<(), JournalError> {
    // The visitor never stops the scan early.
    let _ = scan(
        listing,
        &[i],
        Direction::OldestFirst,
        opts.read,
        None,
        |visit| {
            match visit {
                Visit::Line { line, .. } => match line.raw() {
                    // The engine's shape, checked without building anything.
                    Some(raw) if let Some(f) = fast_record(raw) => {
                        acc.head(f.seq, Some(f.ts), f.session_id, Some(f.event_type), grid);
                    }
                    _ => match line.content().map(parse_line) {
                        Some(Ok(rec)) => acc.record(&rec, grid),
                        _ => acc.damaged += 1,
                    },
                },
                Visit::Damage(d) if d.kind == DefectKind::TornTail => {}
                Visit::Damage(_) => acc.damaged += 1,
            }
            ControlFlow::Continue(())
        },
    )?;
    Ok(())
}

/// The time range from each segment's first and last timestamped lines.
fn time_grid(listing: &Listing, opts: &StatsOptions) -> Result<Option<Grid>, JournalError> {
    let mut lo: Option<DateTime<Utc>> = None;
    let mut hi: Option<DateTime<Utc>> = None;
    for seg in &listing.segments {
        // A segment that cannot be read is reported by the count itself.
        let ends = [first_ts(seg).ok().flatten(), last_ts(seg).ok().flatten()];
        for ts in ends.into_iter().flatten() {
            lo = Some(lo.map_or(ts, |l| l.min(ts)));
            hi = Some(hi.map_or(ts, |h| h.max(ts)));
        }
    }
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(None);
    };
    let buckets = opts.buckets.clamp(1, MAX_BUCKETS);
    let span = (hi - lo).num_nanoseconds().unwrap_or(i64::MAX).max(1);
    Ok(Some(Grid {
        start: lo,
        nanos: (span / buckets as i64 + 1).max(1),
        buckets,
    }))
}

/// The most histogram buckets: more would not be readable, and a bucket
/// count from the command line must not decide how much memory is taken.
pub const MAX_BUCKETS: usize = 10_000;

/// Lines looked at from each end of a segment for a timestamp.
const PROBE_LINES: usize = 16;

/// The timestamp of a line the full pass will count: complete and valid (a
/// torn tail's timestamp must not stretch the range).
fn ts_of(line: &crate::journal::lines::Line<'_>) -> Option<DateTime<Utc>> {
    if !line.terminated {
        return None;
    }
    parse_line(line.content()?).ok()?.timestamp()
}

fn first_ts(seg: &Segment) -> Result<Option<DateTime<Utc>>, JournalError> {
    probe_ts(
        seg,
        ForwardLines::open(seg.path(), seg.len(), ReadOptions::default()),
    )
}

fn last_ts(seg: &Segment) -> Result<Option<DateTime<Utc>>, JournalError> {
    probe_ts(
        seg,
        BackwardLines::open(seg.path(), seg.len(), ReadOptions::default()),
    )
}

/// The ts of the first valid line among the first `PROBE_LINES` a reader
/// hands out (from either end); `None` for a segment pruned meanwhile.
fn probe_ts(
    seg: &Segment,
    lines: std::io::Result<impl LineReader>,
) -> Result<Option<DateTime<Utc>>, JournalError> {
    let io = |e| JournalError::io(seg.path(), e);
    let mut lines = match lines {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    for _ in 0..PROBE_LINES {
        let Some(line) = lines.read_line().map_err(io)? else {
            break;
        };
        if let Some(ts) = ts_of(&line) {
            return Ok(Some(ts));
        }
    }
    Ok(None)
}

fn ser_ts<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::journal::writer::format_ts(*t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// Makes reading this segment fail (a stand-in for permission denied,
    /// which root, who runs the tests, never gets).
    pub(super) static UNREADABLE: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

    #[test]
    fn an_unreadable_segment_is_reported_and_the_rest_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let line = |seq: u64| {
            format!(
                "{{\"seq\":{seq},\"ts\":\"2026-11-20T09:00:00Z\",\"event\":{{\"type\":\"x\"}}}}\n"
            )
        };
        fs::write(tmp.path().join("events-1.jsonl"), line(1) + &line(2)).unwrap();
        fs::write(tmp.path().join("events-3.jsonl"), line(3)).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        *UNREADABLE.lock().unwrap() = Some(tmp.path().join("events-1.jsonl"));
        let s = stats(&listing, &StatsOptions::default(), &|_| {});
        *UNREADABLE.lock().unwrap() = None;
        let s = s.unwrap();
        assert_eq!(s.events, 1);
        assert_eq!(s.unreadable.len(), 1);
        assert!(
            s.unreadable[0].error.contains("permission denied"),
            "{:?}",
            s.unreadable
        );
    }

    /// Makes the workers panic on this journal (a stand-in for a bug).
    pub(super) static PANIC_IN: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

    #[test]
    fn a_worker_that_panics_is_an_error_not_low_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let line = "{\"seq\":1,\"ts\":\"2026-11-20T09:00:00Z\",\"event\":{\"type\":\"x\"}}\n";
        fs::write(tmp.path().join("events-1.jsonl"), line).unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        let opts = StatsOptions::default();
        assert_eq!(stats(&listing, &opts, &|_| {}).unwrap().events, 1);
        *PANIC_IN.lock().unwrap() = Some(tmp.path().to_owned());
        let err = stats(&listing, &opts, &|_| {}).unwrap_err();
        *PANIC_IN.lock().unwrap() = None;
        assert!(
            err.to_string()
                .contains("a stats worker failed (a worker's bug)"),
            "{err}"
        );
    }

    #[test]
    fn counts_types_sessions_ranges_and_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let line = |seq: u64, min: u64, session: Option<&str>, ty: &str| {
            let s = session.map_or(String::new(), |s| format!(",\"session_id\":\"{s}\""));
            format!(
                "{{\"seq\":{seq},\"ts\":\"2026-11-20T09:{min:02}:00Z\"{s},\"event\":{{\"type\":\"{ty}\"}}}}\n"
            )
        };
        fs::write(
            tmp.path().join("events-00000000000000000001.jsonl"),
            line(1, 0, Some("a"), "x") + &line(2, 10, Some("b"), "y") + "not json\n",
        )
        .unwrap();
        fs::write(
            tmp.path().join("events-00000000000000000003.jsonl"),
            line(3, 30, Some("a"), "x") + &line(4, 39, None, "x") + "{\"seq\":5,",
        )
        .unwrap();
        let listing = Listing::read(tmp.path()).unwrap();
        let opts = StatsOptions {
            buckets: 4,
            threads: 2,
            rotate_bytes: 1000,
            ..StatsOptions::default()
        };
        let done = AtomicUsize::new(0);
        let s = stats(&listing, &opts, &|b| {
            done.fetch_add(b as usize, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(done.into_inner() as u64, listing.total_bytes());
        assert_eq!(s.events, 4);
        assert_eq!(s.damaged_lines, 1);
        assert_eq!(s.seq, Some(Range { first: 1, last: 4 }));
        assert_eq!(s.types.get("x"), Some(&3));
        assert_eq!(s.types.get("y"), Some(&1));
        assert_eq!(s.sessions, 2);
        assert_eq!(s.events_without_session, 1);
        assert_eq!(s.torn_tail.as_ref().unwrap().bytes, 9);
        let h = s.histogram.unwrap();
        // 39 minutes in 4 buckets of just over 9m45s: 09:00, 09:10, 09:30, 09:39.
        assert_eq!(h.counts, [1, 1, 0, 2]);
        let n = s.newest_segment.unwrap();
        assert_eq!(n.rotate_bytes, 1000);
        assert_eq!(n.bytes, listing.newest().unwrap().len());
    }
}

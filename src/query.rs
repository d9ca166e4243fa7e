//! Filters shared by `inspect` and `tail`: seq and time ranges, session,
//! event type, field match, and a regular expression on the raw line.
//!
//! Every filter is applied in two steps. [`Query::prefilter`] tests the raw
//! bytes only (the leading seq and ts, which the engine always writes first,
//! and a literal each filter needs, searched with memchr's memmem); only the
//! lines it passes are parsed and tested exactly by [`Query::matches`]. The
//! prefilter never rejects a line the exact test would accept: a literal is
//! required only in the form serde_json writes it, and a line with a `\u`
//! escape (where that form could differ) is always passed on to the parser.
//!
//! All bounds are inclusive.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use memchr::memmem;
use regex::bytes::Regex;
use serde_json::Value;

use crate::journal::lines::WindowFilter;
use crate::journal::record::{Record, fast_seq, fast_ts, parse_ts};
use crate::journal::segment::{Listing, probe_first_seq, probe_first_ts};
use std::sync::Arc;

/// An inclusive seq range; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqRange {
    pub lo: Option<u64>,
    pub hi: Option<u64>,
}

impl SeqRange {
    pub fn contains(&self, seq: u64) -> bool {
        self.lo.is_none_or(|lo| seq >= lo) && self.hi.is_none_or(|hi| seq <= hi)
    }

    pub(crate) fn is_full(&self) -> bool {
        self.lo.is_none() && self.hi.is_none()
    }

    /// Whether `[start, end]` (`end` open when `None`) meets this range.
    pub(crate) fn overlaps(&self, start: u64, end: Option<u64>) -> bool {
        self.hi.is_none_or(|hi| start <= hi)
            && self.lo.is_none_or(|lo| end.is_none_or(|end| end >= lo))
    }
}

impl std::str::FromStr for SeqRange {
    type Err = String;

    /// `A..B`, `A..`, `..B`, or a single `N`; both ends inclusive.
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |t: &str| -> Result<Option<u64>, String> {
            let t = t.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<u64>()
                .map(Some)
                .map_err(|_| format!("'{t}' is not a seq (an unsigned integer)"))
        };
        let range = match s.split_once("..") {
            Some((a, b)) => SeqRange {
                lo: num(a)?,
                hi: num(b.strip_prefix('=').unwrap_or(b))?,
            },
            None => {
                let n = num(s)?.ok_or_else(|| "empty seq range".to_string())?;
                SeqRange {
                    lo: Some(n),
                    hi: Some(n),
                }
            }
        };
        if let (Some(lo), Some(hi)) = (range.lo, range.hi)
            && lo > hi
        {
            return Err(format!(
                "the range {lo}..{hi} is empty: its start is after its end"
            ));
        }
        Ok(range)
    }
}

/// `field.path=value`: a path into the record, compared with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMatch {
    /// Path from the record's root (`seq`, `ts`, `session_id`, `event`);
    /// a path starting with any other key is looked up inside `event`.
    pub path: Vec<String>,
    /// Compared with a string field as is, with any other value as its JSON text.
    pub value: String,
    /// Bytes every raw spelling of a matching line must contain, when there
    /// are such bytes (see [`FieldMatch::literal_for`]).
    literal: Option<Vec<u8>>,
    /// A level of `path` (an index into it) where any key of an object is
    /// taken: a format whose records hold their fields under a name that
    /// varies (a tagged enum's variant) sets it with [`FieldMatch::any_key_at`].
    any_at: Option<usize>,
}

impl std::str::FromStr for FieldMatch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (path, value) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not of the form field.path=value"))?;
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!(
                "'{path}' is not a field path (like event.role or role)"
            ));
        }
        let mut path: Vec<String> = path.split('.').map(str::to_owned).collect();
        if !matches!(path[0].as_str(), "seq" | "ts" | "session_id" | "event") {
            path.insert(0, "event".to_owned());
        }
        Ok(FieldMatch {
            path,
            value: value.to_owned(),
            literal: FieldMatch::literal_for(value),
            any_at: None,
        })
    }
}

impl FieldMatch {
    /// What a matching line must contain. The exact test compares a string
    /// field with `value` and any other field's JSON text with `value`, so:
    /// - an integer, `true`, `false` or `null` is written exactly so as a
    ///   number, and as those characters in a string: the value itself;
    /// - any other number, an object or an array can be spelled in many ways
    ///   (`1.0` as `10e-1`, keys in another order, spaces): nothing is sure;
    /// - anything else matches only a string field, spelled as serde_json
    ///   writes it unless the line holds escapes ([`Literals::may_match`]).
    fn literal_for(value: &str) -> Option<Vec<u8>> {
        let integer = {
            let digits = value.strip_prefix('-').unwrap_or(value);
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'))
        };
        if integer || matches!(value, "true" | "false" | "null") {
            return Some(value.as_bytes().to_vec());
        }
        if serde_json::from_str::<Value>(value).is_ok_and(|v| !v.is_string()) {
            return None;
        }
        let escaped = serde_json::to_string(value).expect("a string serialises");
        Some(escaped.as_bytes()[1..escaped.len() - 1].to_vec())
    }

    /// Any key of an object is taken at `path[at]`, which is inserted there
    /// (`event.route_id` becomes `event.<any>.route_id` at 1).
    pub fn any_key_at(&mut self, at: usize) {
        if at <= self.path.len() {
            self.path.insert(at, String::new());
            self.any_at = Some(at);
        }
    }

    fn matches(&self, root: &Value) -> bool {
        self.matches_from(root, 0)
    }

    fn matches_from(&self, root: &Value, from: usize) -> bool {
        let mut v = root;
        for (i, key) in self.path.iter().enumerate().skip(from) {
            if self.any_at == Some(i) {
                return match v {
                    Value::Object(map) => map.values().any(|v| self.matches_from(v, i + 1)),
                    _ => false,
                };
            }
            v = match v {
                Value::Object(map) => match map.get(key) {
                    Some(v) => v,
                    None => return false,
                },
                Value::Array(items) => match key.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    Some(v) => v,
                    None => return false,
                },
                _ => return false,
            };
        }
        match v {
            Value::String(s) => *s == self.value,
            // Numbers, booleans, null, objects: compared as their JSON text
            // (Value's own PartialEq<String> would only ever match strings).
            other => {
                let text = other.to_string();
                text == self.value
            }
        }
    }
}

impl fmt::Display for FieldMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.path.join("."), self.value)
    }
}

/// Parses `--since`/`--until` values: RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]`,
/// `now`, `today`, `yesterday`, or a duration ago (`90s`, `15m`, `2h`, `3days`).
/// Dates, times without an offset, `today` and `yesterday` are in local time
/// (`TZ`), as journalctl reads them and as people mean "today".
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    parse_time_in(s, now, &chrono::Local)
}

/// [`parse_time`] with the zone that dates and times without an offset are in.
pub fn parse_time_in<Tz: TimeZone>(
    s: &str,
    now: DateTime<Utc>,
    zone: &Tz,
) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Some(ts) = parse_ts(t) {
        return Ok(ts);
    }
    // A local time skipped by a DST change does not exist: take the UTC reading.
    let local = |dt: NaiveDateTime| {
        zone.from_local_datetime(&dt)
            .earliest()
            .map_or_else(|| dt.and_utc(), |d| d.with_timezone(&Utc))
    };
    let midnight = |d: NaiveDate| local(d.and_hms_opt(0, 0, 0).expect("midnight exists"));
    let today = now.with_timezone(zone).date_naive();
    match t {
        "now" => return Ok(now),
        "today" => return Ok(midnight(today)),
        "yesterday" => return Ok(midnight(today.pred_opt().unwrap_or(today))),
        _ => {}
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(midnight(d));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(local(dt));
        }
    }
    let ago = t.strip_suffix(" ago").unwrap_or(t);
    if let Ok(d) = humantime::parse_duration(ago) {
        let d = chrono::Duration::from_std(d).map_err(|_| format!("'{s}': duration too large"))?;
        return now
            .checked_sub_signed(d)
            .ok_or_else(|| format!("'{s}': duration too large"));
    }
    Err(format!(
        "'{s}' is not a time: use RFC 3339 (2026-11-22T10:15:03Z), a date (2026-11-22), \
         'today', 'yesterday', or a duration ago (2h, 30m, 7days)"
    ))
}

/// A validated query. All conditions must hold; repeated `sessions`, `types`
/// match any of their values.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Inclusive seq range. Default: all.
    pub seq: SeqRange,
    /// Inclusive lower time bound on `ts`. Default: none.
    pub since: Option<DateTime<Utc>>,
    /// Inclusive upper time bound on `ts`. Default: none.
    pub until: Option<DateTime<Utc>>,
    /// Any of these `session_id`s. Default: any session (and none).
    pub sessions: Vec<String>,
    /// Any of these `event.type`s. Default: any type.
    pub types: Vec<String>,
    /// All of these field matches. Default: none.
    pub fields: Vec<FieldMatch>,
    /// A regular expression that must match the line as stored. Default: none.
    pub grep: Option<Regex>,
    /// Read every segment for `since`/`until` instead of trusting `ts` to
    /// be in seq order (as the engine's single writer stamps it). Default:
    /// false: segments are bisected by their first line's `ts` and a read
    /// stops at the first line past the bound.
    pub exact_time: bool,
}

/// Cheap checks compiled from a [`Query`].
#[derive(Clone)]
struct Literals {
    sessions: Vec<memmem::Finder<'static>>,
    types: Vec<memmem::Finder<'static>>,
    fields: Vec<memmem::Finder<'static>>,
    escape: memmem::Finder<'static>,
    solidus: memmem::Finder<'static>,
    /// Some literal holds a `/` (which a writer may spell `\/`).
    has_solidus: bool,
    /// Some literal holds a control character (spelled `\n` or `\u000a`).
    has_control: bool,
}

impl Literals {
    fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.types.is_empty() && self.fields.is_empty()
    }

    /// `false` only when `bytes` (a line or a window of lines) lacks a literal
    /// every match must contain. Literals are searched in the form serde_json
    /// writes them (the engine's writer); when the bytes hold an escape that
    /// could spell a character of a literal otherwise (`\/` for `/`, `\u0061`
    /// for `a`, `\u000a` for a newline), the answer is `true`.
    fn may_match(&self, bytes: &[u8]) -> bool {
        if self.is_empty() || self.spelled_otherwise(bytes) {
            return true;
        }
        let any =
            |fs: &[memmem::Finder]| fs.is_empty() || fs.iter().any(|f| f.find(bytes).is_some());
        any(&self.sessions)
            && any(&self.types)
            && self.fields.iter().all(|f| f.find(bytes).is_some())
    }

    /// An escape that may spell a literal's character in another way than
    /// serde_json: `\/`, a `\u` escape of a printable character, or of a
    /// control character when a literal holds one. (An escaped backslash
    /// followed by `u` or `/` is counted too: that only costs a parse.)
    fn spelled_otherwise(&self, bytes: &[u8]) -> bool {
        if self.has_solidus && self.solidus.find(bytes).is_some() {
            return true;
        }
        self.escape.find_iter(bytes).any(|at| {
            let hex = &bytes[at + 2..(at + 6).min(bytes.len())];
            let control = hex.len() == 4
                && hex.starts_with(b"00")
                && matches!(hex[2], b'0' | b'1')
                && hex[3].is_ascii_hexdigit();
            !control || self.has_control
        })
    }
}

/// A query ready to run: the query and its prefilters.
pub struct Matcher {
    query: Query,
    literals: Literals,
    /// `--grep` compiled to test a window of many lines: `^`/`$` at line
    /// ends (CRLF-aware); `None` when the pattern could behave differently on
    /// a window than on one line (`\A`, `\z`, inline flags).
    window_grep: Option<Regex>,
}

fn quoted_finder(s: &str) -> memmem::Finder<'static> {
    memmem::Finder::new(
        serde_json::to_string(s)
            .expect("a string serialises")
            .as_bytes(),
    )
    .into_owned()
}

impl Query {
    /// Errors when the conditions cannot all hold at once.
    pub fn validate(&self) -> Result<(), String> {
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since > until
        {
            return Err(format!(
                "--since {} is after --until {}: nothing can match",
                since.to_rfc3339(),
                until.to_rfc3339()
            ));
        }
        Ok(())
    }

    pub fn matcher(self) -> Matcher {
        let literals = Literals {
            sessions: self.sessions.iter().map(|s| quoted_finder(s)).collect(),
            types: self.types.iter().map(|s| quoted_finder(s)).collect(),
            fields: self
                .fields
                .iter()
                .filter_map(|f| f.literal.as_ref())
                .map(|l| memmem::Finder::new(l).into_owned())
                .collect(),
            escape: memmem::Finder::new(b"\\u").into_owned(),
            solidus: memmem::Finder::new(b"\\/").into_owned(),
            has_solidus: false,
            has_control: false,
        };
        let texts = || {
            self.sessions
                .iter()
                .chain(&self.types)
                .chain(self.fields.iter().map(|f| &f.value))
        };
        let literals = Literals {
            has_solidus: texts().any(|t| t.contains('/')),
            has_control: texts().any(|t| t.chars().any(char::is_control)),
            ..literals
        };
        let window_grep = self.grep.as_ref().and_then(|re| {
            let p = re.as_str();
            let unsafe_on_window = p.contains("\\A") || p.contains("\\z") || p.contains("(?");
            if unsafe_on_window {
                None
            } else {
                Regex::new(&format!("(?mR){p}")).ok()
            }
        });
        Matcher {
            query: self,
            literals,
            window_grep,
        }
    }

    /// The positions in `listing.segments` that can hold a matching seq.
    ///
    /// A segment's name is only a claim about its first seq (verify reports
    /// `name-mismatch` when it is wrong), so each segment's first line is
    /// probed too and a segment is kept when either its name or its first
    /// seq says it may hold a wanted seq; a first line that cannot be read
    /// in the engine's shape keeps the segment (and its predecessor).
    /// Skipping must never lose a record. Without a seq filter nothing is
    /// opened.
    pub fn candidate_segments(&self, listing: &Listing) -> Vec<usize> {
        let by_seq = self.candidates_by_seq(listing);
        if self.has_time() && !self.exact_time {
            self.candidates_by_time(listing, by_seq)
        } else {
            by_seq
        }
    }

    /// Narrows `candidates` to the segments that can hold a `ts` in the
    /// time range when `ts` is in seq order to the second (the engine's
    /// corpus stamps some records to the second or millisecond after one
    /// stamped to the nanosecond in the same second, so finer order is not
    /// assumed: all comparisons are in whole seconds). Each probe reads one segment's
    /// first line; a bisection takes about 2 log2(n) probes. Segment `k`
    /// holds times from its first `ts` up to the next segment's first `ts`,
    /// so every segment before the last one starting before `since` ends
    /// before it, and every segment starting after `until` is past it. A
    /// segment whose first line cannot be probed is kept (the bisection
    /// never drops a segment on anything but a probe it read).
    fn candidates_by_time(&self, listing: &Listing, candidates: Vec<usize>) -> Vec<usize> {
        let mut firsts = std::collections::HashMap::new();
        let mut first = |k: usize| {
            let i = candidates[k];
            *firsts
                .entry(i)
                .or_insert_with(|| probe_first_ts(listing.segments[i].path()))
        };
        // The last position where `pred` holds, for a predicate true up to
        // some point and false after (None: false everywhere).
        let last_true = |first: &mut dyn FnMut(usize) -> Option<DateTime<Utc>>,
                         pred: &dyn Fn(Option<DateTime<Utc>>) -> bool| {
            let (mut lo, mut hi) = (0usize, candidates.len());
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if pred(first(mid)) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo.checked_sub(1)
        };
        let start = match self.since {
            // Starts before `since` (an unreadable start counts as not).
            Some(since) => last_true(&mut first, &|ts| {
                ts.is_some_and(|t| t.timestamp() < since.timestamp())
            })
            .unwrap_or(0),
            None => 0,
        };
        let end = match self.until {
            // Starts at or before `until` (an unreadable start counts as so).
            Some(until) => {
                match last_true(&mut first, &|ts| {
                    ts.is_none_or(|t| t.timestamp() <= until.timestamp())
                }) {
                    Some(k) => k + 1,
                    None => 0,
                }
            }
            None => candidates.len(),
        };
        if start >= end {
            return Vec::new();
        }
        candidates[start..end].to_vec()
    }

    fn candidates_by_seq(&self, listing: &Listing) -> Vec<usize> {
        let n = listing.segments.len();
        if self.seq.is_full() {
            return (0..n).collect();
        }
        let firsts: Vec<Option<u64>> = listing
            .segments
            .iter()
            .map(|s| probe_first_seq(s.path()))
            .collect();
        (0..n)
            .filter(|&i| {
                let name = listing.segments[i].start_seq;
                let start = firsts[i].map_or(0, |first| first.min(name));
                let end = listing.segments.get(i + 1).and_then(|next| {
                    firsts[i + 1].map(|first| first.max(next.start_seq).saturating_sub(1))
                });
                self.seq.overlaps(start, end)
            })
            .collect()
    }

    fn has_time(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    fn time_ok(&self, ts: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| ts >= s) && self.until.is_none_or(|u| ts <= u)
    }
}

impl Matcher {
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// Whether a read in this direction is past the time range at `raw` and
    /// can stop: newest first at a line a whole second older than `since`,
    /// oldest first at a line a whole second newer than `until` (`ts` is
    /// assumed in seq order to the second); always `false` with
    /// `exact_time`, or when the line's `ts` is not where the engine writes it.
    pub fn past_time_range(&self, raw: &[u8], newest_first: bool) -> bool {
        let q = &self.query;
        if q.exact_time {
            return false;
        }
        let bound = if newest_first { q.since } else { q.until };
        let Some(bound) = bound else {
            return false;
        };
        fast_ts(raw).and_then(parse_ts).is_some_and(|ts| {
            if newest_first {
                ts.timestamp() < bound.timestamp()
            } else {
                ts.timestamp() > bound.timestamp()
            }
        })
    }

    /// `false` only when the raw line cannot match; `true` means "parse it".
    pub fn prefilter(&self, raw: &[u8]) -> bool {
        let q = &self.query;
        if !q.seq.is_full()
            && let Some(seq) = fast_seq(raw)
            && !q.seq.contains(seq)
        {
            return false;
        }
        if q.has_time()
            && let Some(ts) = fast_ts(raw).and_then(parse_ts)
            && !q.time_ok(ts)
        {
            return false;
        }
        if let Some(re) = &q.grep
            && !re.is_match(raw)
        {
            return false;
        }
        self.literals.may_match(raw)
    }

    /// A filter the line readers apply to whole windows of lines, so that a
    /// rare match costs about one memchr pass over the journal; `None` when
    /// the query has nothing such a test could use (or could not use safely).
    pub fn window_filter(&self) -> Option<WindowFilter> {
        if self.query.grep.is_some() && self.window_grep.is_none() {
            return None; // an unsafe grep: only the line prefilter applies
        }
        if self.window_grep.is_none() && self.literals.is_empty() {
            return None;
        }
        let grep = self.window_grep.clone();
        let literals = self.literals.clone();
        Some(Arc::new(move |window: &[u8]| {
            grep.as_ref().is_none_or(|re| re.is_match(window)) && literals.may_match(window)
        }))
    }

    /// Whether the query has no condition at all, so every record matches.
    pub fn accepts_all(&self) -> bool {
        // Every field named, so that a condition added later cannot be
        // forgotten here (a dump would then print what it should not).
        let Query {
            seq,
            since,
            until,
            sessions,
            types,
            fields,
            grep,
            exact_time: _,
        } = &self.query;
        *seq == SeqRange::default()
            && since.is_none()
            && until.is_none()
            && sessions.is_empty()
            && types.is_empty()
            && fields.is_empty()
            && grep.is_none()
    }

    /// The exact test on a parsed record.
    pub fn matches(&self, rec: &Record<'_>) -> bool {
        let q = &self.query;
        if !q.seq.contains(rec.seq) {
            return false;
        }
        if q.has_time() && !rec.timestamp().is_some_and(|ts| q.time_ok(ts)) {
            return false;
        }
        if !q.sessions.is_empty()
            && !rec
                .session_id
                .as_deref()
                .is_some_and(|s| q.sessions.iter().any(|q| q == s))
        {
            return false;
        }
        if !q.types.is_empty()
            && !rec
                .event_type
                .as_deref()
                .is_some_and(|t| q.types.iter().any(|q| q == t))
        {
            return false;
        }
        if let Some(re) = &q.grep
            && !re.is_match(rec.raw)
        {
            return false;
        }
        if !q.fields.is_empty() {
            let value = rec.value();
            if !q.fields.iter().all(|f| f.matches(&value)) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::parse_line;
    use proptest::prelude::*;

    #[test]
    fn objects_solidus_escapes_and_other_number_spellings_are_found() {
        let cases: [(&str, &[u8]); 6] = [
            (
                "meta={\"a\":1}",
                br#"{"seq":1,"event":{"type":"x","meta":{"a":1}}}"#,
            ),
            (
                "meta={\"a\":1,\"b\":2}",
                br#"{"seq":1,"event":{"type":"x","meta":{ "b" : 2, "a":1 }}}"#,
            ),
            ("url=a/b", br#"{"seq":1,"event":{"type":"x","url":"a\/b"}}"#),
            ("n=1.0", br#"{"seq":1,"event":{"type":"x","n":10e-1}}"#),
            ("l=[1,2]", br#"{"seq":1,"event":{"type":"x","l":[ 1, 2 ]}}"#),
            (
                "text=a\nb",
                b"{\"seq\":1,\"event\":{\"type\":\"x\",\"text\":\"a\\u000ab\"}}",
            ),
        ];
        for (field, line) in cases {
            let field: FieldMatch = field.replace("\\n", "\n").parse().unwrap();
            let m = Query {
                fields: vec![field.clone()],
                ..Query::default()
            }
            .matcher();
            let rec = parse_line(line).unwrap();
            assert!(
                m.matches(&rec),
                "{field} on {}",
                String::from_utf8_lossy(line)
            );
            assert!(
                m.prefilter(line),
                "{field} on {}",
                String::from_utf8_lossy(line)
            );
            assert!(m.window_filter().is_none_or(|w| w(line)), "{field}");
        }
        let sessions = Query {
            sessions: vec!["a/b".into()],
            ..Query::default()
        }
        .matcher();
        let line = br#"{"seq":1,"session_id":"a\/b","event":{"type":"x"}}"#;
        assert!(sessions.matches(&parse_line(line).unwrap()) && sessions.prefilter(line));
    }

    /// One character of a JSON string, spelled one of the legal ways.
    fn spell(c: char, how: u8) -> String {
        match (c, how % 3) {
            (_, 0) if !c.is_control() && c != '"' && c != '\\' => c.to_string(),
            ('/', 1) => "\\/".to_owned(),
            (_, 1) if (c as u32) < 0x10000 => format!("\\u{:04x}", c as u32),
            (_, 2) if (c as u32) < 0x10000 => format!("\\u{:04X}", c as u32),
            _ => {
                let quoted = serde_json::to_string(&c.to_string()).unwrap();
                quoted[1..quoted.len() - 1].to_owned()
            }
        }
    }

    fn spelled(text: &str, hows: &[u8], skip: usize) -> String {
        let body: String = text
            .chars()
            .zip(hows.iter().cycle().skip(skip))
            .map(|(c, &h)| spell(c, h))
            .collect();
        format!("\"{body}\"")
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('a'),
                Just('/'),
                Just('\u{e9}'),
                Just('\n'),
                Just('"'),
                Just('1'),
                Just(' ')
            ],
            1..6,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    /// A number and other ways to write the same value.
    fn number() -> impl Strategy<Value = (String, String)> {
        prop_oneof![
            Just(("1.0", "1.0")),
            Just(("1.0", "10e-1")),
            Just(("1.0", "0.1E1")),
            Just(("1.0", "1.00")),
            Just(("100", "100")),
            Just(("-3", "-3")),
            Just(("true", "true")),
            Just(("null", "null")),
            Just(("{\"a\":1,\"b\":[2]}", "{ \"b\" : [ 2 ] , \"a\" : 1 }")),
            Just(("[1,\"x\"]", "[1, \"\\u0078\"]")),
        ]
        .prop_map(|(v, raw)| (v.to_owned(), raw.to_owned()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// prefilter ⊇ exact match: a line the exact test accepts is never
        /// skipped by the line prefilter or the window filter, whatever legal
        /// spelling its values use.
        #[test]
        fn prefilters_never_skip_an_exact_match(
            session in text(), ty in text(), field in text(),
            (num, num_raw) in number(),
            hows in proptest::collection::vec(any::<u8>(), 1..8),
            seq in 0u64..100,
        ) {
            let line = format!(
                "{{\"seq\":{seq},\"ts\":\"2026-11-20T09:00:00Z\",\"session_id\":{},\"event\":{{\"type\":{},\"f\":{},\"n\":{num_raw}}}}}",
                spelled(&session, &hows, 0),
                spelled(&ty, &hows, 1),
                spelled(&field, &hows, 2),
            );
            let q = Query {
                seq: SeqRange { lo: Some(seq), hi: Some(seq) },
                since: parse_ts("2026-11-20T09:00:00Z"),
                sessions: vec![session.clone()],
                types: vec![ty.clone()],
                fields: vec![
                    format!("f={field}").parse().unwrap(),
                    format!("n={num}").parse().unwrap(),
                ],
                ..Query::default()
            };
            let m = q.matcher();
            let rec = parse_line(line.as_bytes());
            prop_assert!(rec.is_ok(), "{:?}: {}", rec.err(), line);
            prop_assert!(m.matches(&rec.unwrap()), "the exact test: {}", line);
            prop_assert!(m.prefilter(line.as_bytes()), "prefilter skipped {}", line);
            let window = format!("{line}\n");
            prop_assert!(
                m.window_filter().is_none_or(|w| w(window.as_bytes())),
                "window filter skipped {}", line
            );
        }
    }

    #[test]
    fn seq_ranges_parse_inclusive_and_reject_empty() {
        assert_eq!(
            "5..9".parse(),
            Ok(SeqRange {
                lo: Some(5),
                hi: Some(9)
            })
        );
        assert_eq!(
            "5..".parse(),
            Ok(SeqRange {
                lo: Some(5),
                hi: None
            })
        );
        assert_eq!(
            "..9".parse(),
            Ok(SeqRange {
                lo: None,
                hi: Some(9)
            })
        );
        assert_eq!(
            "7".parse(),
            Ok(SeqRange {
                lo: Some(7),
                hi: Some(7)
            })
        );
        assert!("9..5".parse::<SeqRange>().is_err());
        assert!("x..5".parse::<SeqRange>().is_err());
        let r: SeqRange = "5..9".parse().unwrap();
        assert!(r.contains(5) && r.contains(9) && !r.contains(10));
        assert!(r.overlaps(9, Some(20)) && !r.overlaps(10, None) && !r.overlaps(1, Some(4)));
    }

    #[test]
    fn field_paths_default_to_the_event() {
        let m: FieldMatch = "role=user".parse().unwrap();
        assert_eq!(m.path, ["event", "role"]);
        let m: FieldMatch = "session_id=a=b".parse().unwrap();
        assert_eq!((m.path.len(), m.value.as_str()), (1, "a=b"));
        assert!("=x".parse::<FieldMatch>().is_err());
        assert!("a..b=x".parse::<FieldMatch>().is_err());
    }

    #[test]
    fn prefilter_never_rejects_what_matches() {
        let line = br#"{"seq":3,"ts":"2026-11-20T09:00:05Z","session_id":"s\u0031","event":{"type":"error","message":"boom","n":[1,{"k":true}]}}"#;
        let rec = parse_line(line).unwrap();
        let q = Query {
            sessions: vec!["s1".into()],
            types: vec!["error".into()],
            fields: vec![
                "n.1.k=true".parse().unwrap(),
                "message=boom".parse().unwrap(),
            ],
            ..Query::default()
        };
        let m = q.matcher();
        assert!(m.prefilter(line) && m.matches(&rec));
        let q = Query {
            types: vec!["complete".into()],
            ..Query::default()
        };
        assert!(!q.matcher().matches(&rec));
    }

    #[test]
    fn only_escapes_serde_json_never_writes_defeat_the_literal_prefilter() {
        let q = Query {
            types: vec!["error".into()],
            ..Query::default()
        };
        let m = q.matcher();
        let plain = br#"{"seq":1,"event":{"type":"complete","text":"bell \u0007 esc \u001b"}}"#;
        assert!(
            !m.prefilter(plain),
            "serde_json's own escapes cannot hide the literal"
        );
        let foreign = br#"{"seq":1,"event":{"type":"\u0065rror"}}"#;
        assert!(
            m.prefilter(foreign),
            "another writer's escape may spell the literal"
        );
        assert!(m.matches(&parse_line(foreign).unwrap()));
        let backslash_u = br#"{"seq":1,"event":{"type":"x","path":"C:\\users"}}"#;
        assert!(m.prefilter(backslash_u), "unsure is allowed, never wrong");
    }

    #[test]
    fn times_parse_in_every_documented_form() {
        let now = parse_ts("2026-11-23T12:00:00Z").unwrap();
        assert_eq!(
            parse_time_in("2h", now, &Utc).unwrap(),
            parse_ts("2026-11-23T10:00:00Z").unwrap()
        );
        assert_eq!(
            parse_time_in("2026-11-22", now, &Utc).unwrap(),
            parse_ts("2026-11-22T00:00:00Z").unwrap()
        );
        assert_eq!(
            parse_time_in("yesterday", now, &Utc).unwrap(),
            parse_ts("2026-11-22T00:00:00Z").unwrap()
        );
        assert_eq!(
            parse_time_in("2026-11-22 10:15", now, &Utc).unwrap(),
            parse_ts("2026-11-22T10:15:00Z").unwrap()
        );
        assert_eq!(
            parse_time_in("2026-11-22T10:15:03+02:00", now, &Utc).unwrap(),
            parse_ts("2026-11-22T08:15:03Z").unwrap()
        );
        assert!(parse_time_in("last tuesday", now, &Utc).is_err());
    }

    #[test]
    fn dates_today_and_yesterday_are_local_days() {
        // 01:00 on the 23rd in UTC+02:00 is 23:00 on the 22nd in UTC.
        let zone = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        let now = parse_ts("2026-11-22T23:00:00Z").unwrap();
        assert_eq!(
            parse_time_in("today", now, &zone).unwrap(),
            parse_ts("2026-11-22T22:00:00Z").unwrap()
        );
        assert_eq!(
            parse_time_in("yesterday", now, &zone).unwrap(),
            parse_ts("2026-11-21T22:00:00Z").unwrap()
        );
        assert_eq!(
            parse_time_in("2026-11-22 10:15", now, &zone).unwrap(),
            parse_ts("2026-11-22T08:15:00Z").unwrap()
        );
    }
}

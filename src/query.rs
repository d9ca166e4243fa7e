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
use crate::journal::segment::{Listing, probe_first_seq};
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

    pub fn is_full(&self) -> bool {
        self.lo.is_none() && self.hi.is_none()
    }

    /// Whether `[start, end]` (`end` open when `None`) meets this range.
    pub fn overlaps(&self, start: u64, end: Option<u64>) -> bool {
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
    /// The value as it must appear in the raw line (JSON-escaped).
    literal: Vec<u8>,
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
        let escaped = serde_json::to_string(value).expect("a string serialises");
        let literal = escaped.as_bytes()[1..escaped.len() - 1].to_vec();
        Ok(FieldMatch {
            path,
            value: value.to_owned(),
            literal,
        })
    }
}

impl FieldMatch {
    fn matches(&self, root: &Value) -> bool {
        let mut v = root;
        for key in &self.path {
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
}

/// Cheap checks compiled from a [`Query`].
#[derive(Clone)]
struct Literals {
    sessions: Vec<memmem::Finder<'static>>,
    types: Vec<memmem::Finder<'static>>,
    fields: Vec<memmem::Finder<'static>>,
    escape: memmem::Finder<'static>,
}

impl Literals {
    fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.types.is_empty() && self.fields.is_empty()
    }

    /// `false` only when `bytes` (a line or a window of lines) lacks a literal
    /// every match must contain. Literals are searched in the form serde_json
    /// writes them (the engine's writer), which escapes only characters below
    /// U+0020, as `\u00XX`; any other `\u` escape means another writer, whose
    /// text may spell a literal differently, so the answer is then `true`.
    fn may_match(&self, bytes: &[u8]) -> bool {
        if self.is_empty() || self.has_foreign_escape(bytes) {
            return true;
        }
        let any =
            |fs: &[memmem::Finder]| fs.is_empty() || fs.iter().any(|f| f.find(bytes).is_some());
        any(&self.sessions)
            && any(&self.types)
            && self.fields.iter().all(|f| f.find(bytes).is_some())
    }

    /// A `\u` escape serde_json would not write (anything but `\u000X`/`\u001X`).
    fn has_foreign_escape(&self, bytes: &[u8]) -> bool {
        self.escape.find_iter(bytes).any(|at| {
            let hex = &bytes[at + 2..(at + 6).min(bytes.len())];
            !(hex.len() == 4
                && hex.starts_with(b"00")
                && matches!(hex[2], b'0' | b'1')
                && hex[3].is_ascii_hexdigit())
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
                .map(|f| memmem::Finder::new(&f.literal).into_owned())
                .collect(),
            escape: memmem::Finder::new(b"\\u").into_owned(),
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
        let n = listing.segments.len();
        if self.seq.is_full() {
            return (0..n).collect();
        }
        let firsts: Vec<Option<u64>> = listing
            .segments
            .iter()
            .map(|s| probe_first_seq(&s.path))
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

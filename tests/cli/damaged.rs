//! The corpus of damaged journals shared by the verify and repair tests: one
//! journal per defect kind and the interesting combinations, each with the
//! exact defects `verify` must report (kind, segment, line, offset, length,
//! seqs around), its exit code, and what `repair` must do in both modes.
//!
//! Offsets are computed from the fixture's own lines (`event_line`), so each
//! expectation reads as "the 6th line of segment 11 starts after lines 11..16".

#![allow(dead_code)]

use std::ops::{Range, RangeInclusive};

use serde_json::Value;

use crate::common::*;

/// One expected defect: kind, segment start seq (from its name), line,
/// offset, length, seq_before, seq_after.
pub type Expect = (
    &'static str,
    u64,
    Option<u64>,
    u64,
    u64,
    Option<u64>,
    Option<u64>,
);

/// A reported defect in the same shape as [`Expect`].
pub type Found = (String, u64, Option<u64>, u64, u64, Option<u64>, Option<u64>);

pub struct Case {
    pub name: &'static str,
    pub journal: TestJournal,
    /// What `verify --json` reports, in order.
    pub defects: Vec<Expect>,
    pub verify_exit: i32,
    /// `repair` (tail only): its exit code and the kinds a second verify reports.
    pub repair_exit: i32,
    pub after_repair: Vec<&'static str>,
    /// `repair --drop-corrupt-lines`: its exit code and the kinds a second verify reports.
    pub drop_exit: i32,
    pub after_drop: Vec<&'static str>,
}

/// Bytes of the fixture's line for `seq`, with its newline.
pub fn line_len(seq: u64) -> u64 {
    event_line(seq).len() as u64 + 1
}

/// Offset just past the lines of `seqs` (their total length).
pub fn off(seqs: Range<u64>) -> u64 {
    seqs.map(line_len).sum()
}

pub fn lines(seqs: RangeInclusive<u64>) -> String {
    seqs.map(|s| event_line(s) + "\n").collect()
}

fn d(
    kind: &'static str,
    seg: u64,
    line: Option<u64>,
    offset: u64,
    len: u64,
    before: Option<u64>,
    after: Option<u64>,
) -> Expect {
    (kind, seg, line, offset, len, before, after)
}

/// 30 events, segments 1, 11, 21 (the newest).
fn base() -> TestJournal {
    TestJournal::with_events(30, 10)
}

/// A journal whose segment `start` holds exactly `body`, and the others the
/// fixture's events 1..=30 in segments of 10.
fn with_segment(start: u64, body: &[u8]) -> TestJournal {
    let j = base();
    j.write(&segment_name(start), body);
    j
}

pub fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut case = |name,
                    journal,
                    defects,
                    verify_exit,
                    repair: (i32, Vec<&'static str>),
                    drop: (i32, Vec<&'static str>)| {
        cases.push(Case {
            name,
            journal,
            defects,
            verify_exit,
            repair_exit: repair.0,
            after_repair: repair.1,
            drop_exit: drop.0,
            after_drop: drop.1,
        });
    };
    let some = Some;

    case("clean", base(), vec![], 0, (0, vec![]), (0, vec![]));

    let j = base();
    j.append_raw(&segment_name(21), br#"{"seq":31,"ts""#);
    case(
        "torn tail",
        j,
        vec![d(
            "torn-tail",
            21,
            some(11),
            off(21..31),
            14,
            some(30),
            None,
        )],
        0,
        (0, vec![]),
        (0, vec![]),
    );

    let j = base();
    j.write(&segment_name(31), br#"{"seq":31,"ts":"2026"#);
    case(
        "newest segment with only a partial line",
        j,
        vec![
            d("torn-tail", 31, some(1), 0, 20, some(30), None),
            d("no-complete-line", 31, None, 0, 20, some(30), None),
        ],
        // Both warnings: a live writer leaves the same for a moment after rotating.
        0,
        (0, vec![]),
        (0, vec![]),
    );

    let j = base();
    j.append_raw(&segment_name(21), &[0u8; 100]);
    case(
        "NUL tail in the newest segment",
        j,
        vec![
            d("torn-tail", 21, some(11), off(21..31), 100, some(30), None),
            d("nul-bytes", 21, some(11), off(21..31), 100, some(30), None),
        ],
        1,
        (0, vec![]),
        (0, vec![]),
    );

    // A lost block: 64 NULs, then line 16 continues on the same line.
    let mut body = lines(11..=15).into_bytes();
    body.extend([0u8; 64]);
    body.extend(lines(16..=20).into_bytes());
    case(
        "NUL run in the middle of a closed segment",
        with_segment(11, &body),
        vec![
            d(
                "nul-bytes",
                11,
                some(6),
                off(11..16),
                64,
                some(15),
                some(17),
            ),
            d(
                "seq-gap",
                11,
                some(7),
                off(11..17) + 64,
                line_len(17) - 1,
                some(15),
                some(17),
            ),
        ],
        1,
        (1, vec!["nul-bytes", "seq-gap"]),
        (0, vec!["seq-gap"]),
    );

    let mut body = lines(11..=12).into_bytes();
    body.extend(b"{\"seq\":13,\0\0\0\"x\":\0\0}\n");
    body.extend(lines(14..=20).into_bytes());
    case(
        "two NUL runs in one line",
        with_segment(11, &body),
        vec![
            d(
                "nul-bytes",
                11,
                some(3),
                off(11..13) + 10,
                3,
                some(12),
                some(14),
            ),
            d(
                "nul-bytes",
                11,
                some(3),
                off(11..13) + 17,
                2,
                some(12),
                some(14),
            ),
            d(
                "seq-gap",
                11,
                some(4),
                off(11..13) + 21,
                line_len(14) - 1,
                some(12),
                some(14),
            ),
        ],
        1,
        (1, vec!["nul-bytes", "nul-bytes", "seq-gap"]),
        (0, vec!["seq-gap"]),
    );

    let bad = b"{\"seq\":5,\"x\":\"\xff\xfe\"}\n";
    let mut body = lines(1..=4).into_bytes();
    body.extend(bad);
    body.extend(lines(6..=10).into_bytes());
    case(
        "invalid UTF-8 in a closed segment",
        with_segment(1, &body),
        vec![
            d(
                "invalid-utf8",
                1,
                some(5),
                // The line's own range (the bad byte is named in the detail).
                off(1..5),
                bad.len() as u64 - 1,
                some(4),
                some(6),
            ),
            d(
                "seq-gap",
                1,
                some(6),
                off(1..5) + bad.len() as u64,
                line_len(6) - 1,
                some(4),
                some(6),
            ),
        ],
        1,
        (1, vec!["invalid-utf8", "seq-gap"]),
        (0, vec!["seq-gap"]),
    );

    let mut body = lines(11..=12).into_bytes();
    body.extend(b"this is not json\n");
    body.extend(lines(13..=20).into_bytes());
    case(
        "a line that is not JSON (seqs unbroken around it)",
        with_segment(11, &body),
        vec![d(
            "not-json",
            11,
            some(3),
            off(11..13),
            16,
            some(12),
            some(13),
        )],
        1,
        (1, vec!["not-json"]),
        (0, vec![]),
    );

    let (string_seq, array) = (r#"{"seq":"13","ts":"x"}"#, "[13]");
    let mut body = lines(11..=12).into_bytes();
    body.extend(format!("{string_seq}\n{array}\n").as_bytes());
    body.extend(lines(14..=20).into_bytes());
    let (a, b) = (string_seq.len() as u64, array.len() as u64);
    case(
        "JSON without a numeric seq",
        with_segment(11, &body),
        vec![
            d("no-seq", 11, some(3), off(11..13), a, some(12), some(14)),
            d(
                "no-seq",
                11,
                some(4),
                off(11..13) + a + 1,
                b,
                some(12),
                some(14),
            ),
            d(
                "seq-gap",
                11,
                some(5),
                off(11..13) + a + b + 2,
                line_len(14) - 1,
                some(12),
                some(14),
            ),
        ],
        1,
        (1, vec!["no-seq", "no-seq", "seq-gap"]),
        (0, vec!["seq-gap"]),
    );

    let body = lines(1..=5) + &lines(5..=10);
    case(
        "seq repeated inside a segment",
        with_segment(1, body.as_bytes()),
        vec![d(
            "seq-repeated",
            1,
            some(6),
            off(1..6),
            line_len(5) - 1,
            some(5),
            some(5),
        )],
        1,
        (0, vec!["seq-repeated"]),
        (0, vec!["seq-repeated"]),
    );

    let body = lines(1..=5) + &lines(3..=10);
    case(
        "seqs going backwards inside a segment (a replayed block)",
        with_segment(1, body.as_bytes()),
        vec![d(
            "seq-backwards",
            1,
            some(6),
            off(1..6),
            line_len(3) - 1,
            some(5),
            some(3),
        )],
        1,
        (0, vec!["seq-backwards"]),
        (0, vec!["seq-backwards"]),
    );

    let body = lines(1..=5) + &lines(7..=10);
    case(
        "seq gap inside a segment",
        with_segment(1, body.as_bytes()),
        vec![d(
            "seq-gap",
            1,
            some(6),
            off(1..6),
            line_len(7) - 1,
            some(5),
            some(7),
        )],
        1,
        (0, vec!["seq-gap"]),
        (0, vec!["seq-gap"]),
    );

    let j = TestJournal::new();
    j.touch_lock();
    j.append_events(1..=10, 10);
    j.append_events(12..=20, 10);
    case(
        "seq gap exactly at a segment boundary",
        j,
        vec![d(
            "seq-gap",
            12,
            some(1),
            0,
            line_len(12) - 1,
            some(10),
            some(12),
        )],
        1,
        (0, vec!["seq-gap"]),
        (0, vec!["seq-gap"]),
    );

    let j = TestJournal::new();
    j.touch_lock();
    j.append_events(1..=10, 10);
    j.write(&segment_name(10), lines(10..=20).as_bytes());
    case(
        "seq repeated across a segment boundary",
        j,
        vec![d(
            "seq-repeated",
            10,
            some(1),
            0,
            line_len(10) - 1,
            some(10),
            some(10),
        )],
        1,
        (0, vec!["seq-repeated"]),
        (0, vec!["seq-repeated"]),
    );

    let j = TestJournal::new();
    j.touch_lock();
    j.append_events(1..=10, 10);
    j.write(&segment_name(8), lines(8..=20).as_bytes());
    case(
        "seqs going backwards across a segment boundary",
        j,
        vec![d(
            "seq-backwards",
            8,
            some(1),
            0,
            line_len(8) - 1,
            some(10),
            some(8),
        )],
        1,
        (0, vec!["seq-backwards"]),
        (0, vec!["seq-backwards"]),
    );

    let j = TestJournal::new();
    j.touch_lock();
    j.append_events(1..=10, 10);
    j.write(&segment_name(12), lines(11..=20).as_bytes());
    case(
        "first seq differs from the segment name",
        j,
        vec![d(
            "name-mismatch",
            12,
            some(1),
            0,
            line_len(11) - 1,
            None,
            some(11),
        )],
        1,
        (0, vec!["name-mismatch"]),
        (0, vec!["name-mismatch"]),
    );

    let j = base();
    j.write(&segment_name(5), b"");
    case(
        "empty closed segment",
        j,
        vec![d("empty-segment", 5, None, 0, 0, some(10), some(11))],
        1,
        (1, vec!["empty-segment"]),
        (0, vec![]),
    );

    let j = base();
    j.write(&segment_name(31), b"");
    case(
        "empty newest segment",
        j,
        vec![d("empty-segment", 31, None, 0, 0, some(30), None)],
        0,
        (0, vec![]),
        (0, vec![]),
    );

    let j = base();
    std::fs::create_dir(j.path(&segment_name(15))).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", j.path(&segment_name(25))).unwrap();
    case(
        "a directory and a dangling symlink named like segments",
        j,
        vec![
            d("not-regular-file", 15, None, 0, 0, None, None),
            d("not-regular-file", 25, None, 0, 0, None, None),
        ],
        1,
        (1, vec!["not-regular-file", "not-regular-file"]),
        (1, vec!["not-regular-file", "not-regular-file"]),
    );

    let j = base();
    j.append_raw(&segment_name(1), br#"{"seq":11,"ts":"20"#);
    case(
        "torn line at the end of a closed segment",
        j,
        vec![d(
            "torn-line",
            1,
            some(11),
            off(1..11),
            18,
            some(10),
            some(11),
        )],
        1,
        (1, vec!["torn-line"]),
        (0, vec![]),
    );

    let j = base();
    let mut body = lines(11..=12).into_bytes();
    body.extend(b"{\"seq\":13,\"ts\":\n");
    body.extend(lines(14..=20).into_bytes());
    j.write(&segment_name(11), &body);
    j.append_raw(&segment_name(21), br#"{"seq":31"#);
    case(
        "corrupt line in a closed segment and a torn tail at once",
        j,
        vec![
            d("not-json", 11, some(3), off(11..13), 15, some(12), some(14)),
            d(
                "seq-gap",
                11,
                some(4),
                off(11..13) + 16,
                line_len(14) - 1,
                some(12),
                some(14),
            ),
            d("torn-tail", 21, some(11), off(21..31), 9, some(30), None),
        ],
        1,
        (1, vec!["not-json", "seq-gap"]),
        (0, vec!["seq-gap"]),
    );

    let j = base();
    let mut body = lines(21..=22).into_bytes();
    body.extend(b"garbage\n");
    body.extend(lines(23..=30).into_bytes());
    j.write(&segment_name(21), &body);
    case(
        "corrupt line inside the newest segment (not its tail)",
        j,
        vec![d(
            "not-json",
            21,
            some(3),
            off(21..23),
            7,
            some(22),
            some(23),
        )],
        1,
        (1, vec!["not-json"]),
        (0, vec![]),
    );

    let j = base();
    j.append_raw(&segment_name(21), b"garbage\n{\"seq\":32\n");
    case(
        "complete garbage lines after the last valid line of the newest segment",
        j,
        vec![
            d("not-json", 21, some(11), off(21..31), 7, some(30), None),
            d("not-json", 21, some(12), off(21..31) + 8, 9, some(30), None),
        ],
        1,
        (0, vec![]),
        (0, vec![]),
    );

    let j = base();
    j.write(&segment_name(31), b"garbage\n\n");
    case(
        "newest segment with only garbage",
        j,
        vec![
            d("not-json", 31, some(1), 0, 7, some(30), None),
            d("no-complete-line", 31, None, 0, 9, some(30), None),
        ],
        1,
        (0, vec![]),
        (0, vec![]),
    );

    let j = base();
    j.write(&segment_name(11), b"junk 1\njunk 2\n");
    case(
        "closed segment holding only garbage",
        j,
        vec![
            d("not-json", 11, some(1), 0, 6, some(10), some(21)),
            d("not-json", 11, some(2), 7, 6, some(10), some(21)),
            d(
                "seq-gap",
                21,
                some(1),
                0,
                line_len(21) - 1,
                some(10),
                some(21),
            ),
        ],
        1,
        (1, vec!["not-json", "not-json", "seq-gap"]),
        (0, vec!["seq-gap"]),
    );

    let j = TestJournal::new();
    j.write(&segment_name(1), &[0u8; 50]);
    case(
        "a single segment of NULs",
        j,
        vec![
            d("torn-tail", 1, some(1), 0, 50, None, None),
            d("nul-bytes", 1, some(1), 0, 50, None, None),
            d("no-complete-line", 1, None, 0, 50, None, None),
        ],
        1,
        (0, vec![]),
        (0, vec![]),
    );

    let j = TestJournal::new();
    j.touch_lock();
    let crlf: String = (1..=5).map(|s| event_line(s) + "\r\n").collect();
    j.write(&segment_name(1), format!("{crlf}\n   \n").as_bytes());
    case(
        "CRLF endings and blank lines are clean",
        j,
        vec![],
        0,
        (0, vec![]),
        (0, vec![]),
    );

    let j = base();
    let unknown = r#"{"seq":31,"ts":"2026-11-20T09:31:00Z","event":{"type":"frobnicated","x":1}}"#;
    let missing = r#"{"seq":32,"ts":"2026-11-20T09:32:00Z","event":{"type":"message_appended","role":"user"}}"#;
    let no_ts = r#"{"seq":33,"event":{"type":"error","message":"m"}}"#;
    let no_event = r#"{"seq":34,"ts":"2026-11-20T09:34:00Z"}"#;
    j.append_raw(
        &segment_name(21),
        format!("{unknown}\n{missing}\n{no_ts}\n{no_event}\n").as_bytes(),
    );
    let at = off(21..31);
    let (u, m, t) = (
        unknown.len() as u64,
        missing.len() as u64,
        no_ts.len() as u64,
    );
    case(
        "records the engine would skip",
        j,
        vec![
            d(
                "engine-unknown-type",
                21,
                some(11),
                at,
                u,
                some(30),
                some(31),
            ),
            d(
                "engine-missing-field",
                21,
                some(12),
                at + u + 1,
                m,
                some(31),
                some(32),
            ),
            d(
                "engine-missing-field",
                21,
                some(13),
                at + u + m + 2,
                t,
                some(32),
                some(33),
            ),
            d(
                "engine-missing-field",
                21,
                some(14),
                at + u + m + t + 3,
                no_event.len() as u64,
                some(33),
                some(34),
            ),
        ],
        0,
        (
            0,
            vec![
                "engine-missing-field",
                "engine-missing-field",
                "engine-missing-field",
                "engine-unknown-type",
            ],
        ),
        (
            0,
            vec![
                "engine-missing-field",
                "engine-missing-field",
                "engine-missing-field",
                "engine-unknown-type",
            ],
        ),
    );

    let j = TestJournal::new();
    j.touch_lock();
    j.append_events(1..=10, 10);
    j.append_raw(&segment_name(1), b"{\"seq\":11,\n");
    j.write(
        &segment_name(11),
        &[b"\xff\xfe\n".as_slice(), lines(12..=20).as_bytes()].concat(),
    );
    j.append_events(21..=25, 10);
    case(
        "damage on both sides of a boundary: the seqs around it come from the neighbours",
        j,
        vec![
            d("not-json", 1, some(11), off(1..11), 10, some(10), some(12)),
            d("invalid-utf8", 11, some(1), 0, 2, some(10), some(12)),
            d(
                "name-mismatch",
                11,
                some(2),
                3,
                line_len(12) - 1,
                None,
                some(12),
            ),
            d(
                "seq-gap",
                11,
                some(2),
                3,
                line_len(12) - 1,
                some(10),
                some(12),
            ),
        ],
        1,
        (
            1,
            vec!["invalid-utf8", "name-mismatch", "not-json", "seq-gap"],
        ),
        (0, vec!["name-mismatch", "seq-gap"]),
    );

    cases
}

/// The defects of `verify --json` output as comparable tuples.
pub fn defects_of(v: &Value) -> Vec<Found> {
    v["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let seg = d["segment"].as_str().unwrap();
            let start = seg
                .strip_prefix("events-")
                .and_then(|s| s.strip_suffix(".jsonl"))
                .unwrap()
                .parse()
                .unwrap();
            (
                d["kind"].as_str().unwrap().to_owned(),
                start,
                d["line"].as_u64(),
                d["offset"].as_u64().unwrap(),
                d["len"].as_u64().unwrap(),
                d["seq_before"].as_u64(),
                d["seq_after"].as_u64(),
            )
        })
        .collect()
}

pub fn expected(defects: &[Expect]) -> Vec<Found> {
    defects
        .iter()
        .map(|&(k, s, l, o, n, b, a)| (k.to_owned(), s, l, o, n, b, a))
        .collect()
}

/// The kinds a verify run reports, sorted.
pub fn kinds_of(v: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = v["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds
}

/// `verify --json` on `j`: the decoded report and the exit code.
pub fn verify_json(j: &TestJournal, extra: &[&str]) -> (Value, i32) {
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    let out = j.cmd(&args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify --json printed no JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap())
}

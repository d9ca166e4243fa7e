//! The hostile-input matrix of the family formats (every format but the
//! engine's segments, whose matrix is `hostile.rs`): every subcommand on
//! every hostile journal, generated here by code (a seeded generator, never
//! hand-typed bytes).
//!
//! For each (case, command): the binary runs on a copy of the case with a
//! time limit, and
//! - it never panics (exit 101, or "panicked" on stderr) and ends in time;
//! - its exit code is the documented one for that case (0/1/2/3);
//! - when it exits non-zero, its output names the file concerned;
//! - no raw ESC, BEL or 8-bit CSI reaches stdout or stderr;
//! - no message repeats its cause ("X: Y: Y");
//! - a read-only command (inspect, tail, recover, verify, repair --dry-run,
//!   stats; prune and append where the format refuses them) leaves the whole
//!   temporary directory byte-identical, with no new file (no -wal, no lock,
//!   no quarantine file); a real repair changes only the journal's own files
//!   and adds only quarantine files beside them; nothing outside the journal
//!   (a symlink's target) ever changes.

use std::collections::BTreeMap;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::{FileTypeExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::journal_cmd;

const LIMIT: Duration = Duration::from_secs(60);

/// (case, command) cells that show a known bug, with what is wrong: checked
/// to *still* fail (so a fix turns the test red until the entry goes),
/// instead of being skipped.
const KNOWN_GAPS: &[(&str, &str, &str)] = &[];
const APPEND_INPUT: &str = "{\"type\":\"error\",\"message\":\"from the matrix\"}\n";

/// Every subcommand, as the matrix runs it (`tail` without `-f`).
const COMMANDS: &[(&str, &[&str])] = &[
    ("inspect", &["inspect", "-n", "50"]),
    ("tail", &["tail", "-n", "20"]),
    ("recover", &["recover", "--json"]),
    ("verify", &["verify"]),
    ("repair-dry", &["repair", "--dry-run"]),
    ("repair", &["repair"]),
    ("stats", &["stats"]),
    ("prune", &["prune", "--keep", "2", "--wait", "300ms"]),
    ("append", &["append", "--wait", "300ms"]),
];

/// Commands that may change the journal (each runs on a fresh copy).
fn mutates(cmd: &str) -> bool {
    matches!(cmd, "repair" | "prune" | "append")
}

/// A deterministic byte generator (xorshift64*), so every run builds the same cases.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Where a case's journal is: the temp dir (everything the check hashes) and
/// the path given to the command.
struct Built {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Built {
    fn new(name: &str) -> Built {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join(name);
        fs::create_dir(&root).unwrap();
        Built { tmp, root }
    }

    fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }
}

/// Opens something and keeps it for a run (dropped after it).
type Holder = fn(&Built) -> Box<dyn std::any::Any>;

/// What a case is and what the documented answers to it are.
struct Case {
    build: fn(&Built),
    /// The path given to the command, relative to the journal's directory
    /// (`""`: the directory itself).
    target: &'static str,
    /// Extra arguments before the path (`--format NAME`).
    args: &'static [&'static str],
    /// What a non-zero exit must name, per command ("*" for any other).
    culprit: &'static [(&'static str, &'static str)],
    /// Expected exit code per command name; a command not listed must exit 0.
    codes: &'static [(&'static str, i32)],
    /// A fresh copy for every command, read-only ones too (when a first
    /// read could change what later ones see).
    fresh: bool,
    /// Something the test process holds for every run (a writer's open).
    hold: Option<Holder>,
    /// Commands only this format has, run after [`COMMANDS`] (read-only).
    extra: &'static [(&'static str, &'static [&'static str])],
    /// Files a real repair may change or add (by name, anywhere in the tree).
    repair_owns: fn(&str) -> bool,
}

// ---- the per-session store (aios-events) ----

/// One record as the store's `FileEventStore` writes it.
fn rec(session: &str, branch: &str, seq: &str, extra: &str) -> Vec<u8> {
    let n: u64 = seq.parse().unwrap_or(0);
    format!(
        "{{\"event_id\":\"e-{n}-{}\",\"session_id\":\"{session}\",\"agent_id\":\"a-1\",\
         \"branch_id\":\"{branch}\",\"sequence\":{seq},\
         \"timestamp\":\"2026-11-20T09:{:02}:{:02}.123456789Z\",\
         \"actor\":{{\"type\":\"system\",\"component\":\"matrix\"}},\
         \"schema\":{{\"name\":\"aios-protocol\",\"version\":\"0.1.0\"}},\
         \"kind\":{{\"type\":\"Message\",\"text\":\"m\"{extra}}}}}\n",
        seq.len(),
        (n / 60) % 60,
        n % 60
    )
    .into_bytes()
}

/// Records 1..=n of `session` on branch main.
fn good(session: &str, n: u64) -> Vec<u8> {
    (1..=n)
        .flat_map(|s| rec(session, "main", &s.to_string(), ""))
        .collect()
}

fn events(b: &Built) -> PathBuf {
    let dir = b.root.join("events");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `events/s1.jsonl` = 1..=3 then `tail`, beside a clean `s2.jsonl`.
fn session_after_good(b: &Built, tail: &[u8]) {
    let dir = events(b);
    let mut bytes = good("s1", 3);
    bytes.extend_from_slice(tail);
    fs::write(dir.join("s1.jsonl"), bytes).unwrap();
    fs::write(dir.join("s2.jsonl"), good("s2", 2)).unwrap();
}

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

fn session_owned(name: &str) -> bool {
    name.ends_with(".jsonl") || name.starts_with("quarantine-")
}

/// prune and append refuse every family format (exit 2), naming the journal.
const SESSIONS_REFUSED: &[(&str, i32)] = &[("prune", 2), ("append", 2)];
/// Damage the runtime cannot read and repair does not touch without
/// `--drop-corrupt-lines`: verify 1, repair 1 (left), prune/append 2.
const SESSION_UNREADABLE_LINE: &[(&str, i32)] = &[
    ("verify", 1),
    ("repair-dry", 1),
    ("repair", 1),
    ("prune", 2),
    ("append", 2),
];
/// Where the refusals name the journal (its directory's name).
const STORE: (&str, &str) = ("*", "store");

fn session_case(name: &'static str) -> Case {
    let case = |build: fn(&Built), culprit, codes| Case {
        build,
        target: "",
        hold: None,
        fresh: false,
        extra: &[],
        args: &[],
        culprit,
        codes,
        repair_owns: session_owned,
    };
    const S1: &[(&str, &str)] = &[("prune", "store"), ("append", "store"), ("*", "s1.jsonl")];
    const S2: &[(&str, &str)] = &[("prune", "store"), ("append", "store"), ("*", "s2.jsonl")];
    match name {
        "sessions-nul-run" => case(
            |b| {
                let mut t = vec![0u8; 4096];
                t.push(b'\n');
                t.extend(rec("s1", "main", "4", ""));
                session_after_good(b, &t)
            },
            S1,
            SESSION_UNREADABLE_LINE,
        ),
        // A NUL tail with no newline: a torn last line, a warning; repair cuts it.
        "sessions-nul-tail" => case(
            |b| session_after_good(b, &[0u8; 4096]),
            S1,
            SESSIONS_REFUSED,
        ),
        "sessions-binary-garbage" => case(
            |b| {
                let mut t = Gen(0x9E37_79B9_7F4A_7C15).bytes(64 << 10);
                t.push(b'\n');
                t.extend(rec("s1", "main", "4", ""));
                session_after_good(b, &t)
            },
            S1,
            SESSION_UNREADABLE_LINE,
        ),
        "sessions-invalid-utf8" => case(
            |b| {
                let mut t = rec("s1", "main", "4", ",\"bad\":\"\u{1}\"");
                let at = t.windows(1).position(|w| w == [1]).unwrap();
                t.splice(at..=at, [0xff, 0xfe, 0xc3]);
                session_after_good(b, &t)
            },
            S1,
            SESSION_UNREADABLE_LINE,
        ),
        "sessions-numbers-past-u64" => case(
            |b| {
                let mut t = Vec::new();
                for seq in [
                    "18446744073709551616".to_owned(),
                    "-1".into(),
                    "1e3".into(),
                    "4.5".into(),
                    "9".repeat(400),
                    "\"4\"".into(),
                    "null".into(),
                ] {
                    t.extend(rec("s1", "main", &seq, ""));
                }
                session_after_good(b, &t)
            },
            S1,
            SESSION_UNREADABLE_LINE,
        ),
        "sessions-sequence-0" => case(
            |b| {
                let dir = events(b);
                let mut bytes = rec("s1", "main", "0", "");
                bytes.extend(good("s1", 3));
                fs::write(dir.join("s1.jsonl"), bytes).unwrap();
            },
            S1,
            SESSION_UNREADABLE_LINE,
        ),
        "sessions-sequence-u64-max" => case(
            |b| session_after_good(b, &rec("s1", "main", &u64::MAX.to_string(), "")),
            S1,
            SESSION_UNREADABLE_LINE,
        ),
        "sessions-deep-nesting-100k" => case(
            |b| {
                let deep = format!(",\"d\":{}{}", "[".repeat(100_000), "]".repeat(100_000));
                session_after_good(b, &rec("s1", "main", "4", &deep))
            },
            S1,
            SESSION_UNREADABLE_LINE,
        ),
        "sessions-long-line-8MiB" => case(
            |b| {
                let long = format!(",\"blob\":\"{}\"", "x".repeat(8 << 20));
                let mut t = rec("s1", "main", "4", &long);
                t.extend(rec("s1", "main", "5", ""));
                session_after_good(b, &t)
            },
            S1,
            SESSIONS_REFUSED,
        ),
        "sessions-long-line-8MiB-no-newline" => case(
            |b| {
                let long = format!(",\"blob\":\"{}\"", "x".repeat(8 << 20));
                let mut t = rec("s1", "main", "4", &long);
                t.pop();
                t.truncate(t.len() - 3);
                session_after_good(b, &t)
            },
            S1,
            SESSIONS_REFUSED,
        ),
        // A torn fragment then a whole record, with no final newline: verify
        // says the runtime cannot open it; repair un-glues it (exit 0).
        "sessions-glued-last-line-no-newline" => case(
            |b| {
                let mut t = b"{\"event_id\":\"torn".to_vec();
                t.extend(rec("s1", "main", "4", ""));
                t.pop();
                session_after_good(b, &t)
            },
            S1,
            &[("verify", 1), ("prune", 2), ("append", 2)],
        ),
        "sessions-crlf-lines" => case(
            |b| {
                let dir = events(b);
                let bytes: Vec<u8> = good("s1", 3)
                    .split_inclusive(|&c| c == b'\n')
                    .flat_map(|l| [&l[..l.len() - 1], b"\r\n"].concat())
                    .collect();
                fs::write(dir.join("s1.jsonl"), bytes).unwrap();
            },
            S1,
            SESSIONS_REFUSED,
        ),
        // Escapes and control characters in the session id, the branch and
        // the file's own name (an OSC title sequence, BEL, a newline), with
        // a sequence gap so verify names the file.
        "sessions-escapes-in-ids-and-names" => case(
            |b| {
                let dir = events(b);
                let id = "s\\u001b]0;pwned\\u0007\\n\\u009b2J";
                let branch = "br\\u001b[2J\\r";
                let mut bytes = rec(id, branch, "1", ",\"text2\":\"\\u001b[31mred\"");
                bytes.extend(rec(id, branch, "3", ""));
                // Raw control bytes in a string: not JSON.
                bytes.extend(rec("s", "ma\u{1}in\u{1b}", "4", ""));
                fs::write(dir.join("s\u{1b}]0;pwned\u{7}\n\u{9b}2J.jsonl"), bytes).unwrap();
            },
            &[
                ("prune", "store"),
                ("append", "store"),
                ("*", "s\\u{1b}]0;pwned\\u{7}\\n\\u{9b}2J.jsonl"),
            ],
            SESSION_UNREADABLE_LINE,
        ),
        "sessions-directory-named-like-a-session" => case(
            |b| {
                session_after_good(b, b"");
                fs::remove_file(events(b).join("s2.jsonl")).unwrap();
                fs::create_dir(events(b).join("s2.jsonl")).unwrap();
            },
            S2,
            SESSION_UNREADABLE_LINE,
        ),
        "sessions-fifo-named-like-a-session" => case(
            |b| {
                session_after_good(b, b"");
                fs::remove_file(events(b).join("s2.jsonl")).unwrap();
                mkfifo(&events(b).join("s2.jsonl"));
            },
            S2,
            SESSION_UNREADABLE_LINE,
        ),
        "sessions-symlink-loop-named-like-a-session" => case(
            |b| {
                session_after_good(b, b"");
                fs::remove_file(events(b).join("s2.jsonl")).unwrap();
                symlink("s2.jsonl", events(b).join("s2.jsonl")).unwrap();
            },
            S2,
            SESSION_UNREADABLE_LINE,
        ),
        // A symlink to a session file outside the store, torn at its end: it
        // is never followed, so nothing cuts the file outside.
        "sessions-symlink-out-of-the-directory" => case(
            |b| {
                session_after_good(b, b"");
                fs::remove_file(events(b).join("s2.jsonl")).unwrap();
                let outside = b.outside();
                fs::create_dir(&outside).unwrap();
                let mut torn = good("s2", 2);
                torn.extend_from_slice(b"{\"event_id\":\"to");
                fs::write(outside.join("s2.jsonl"), torn).unwrap();
                symlink(outside.join("s2.jsonl"), events(b).join("s2.jsonl")).unwrap();
            },
            S2,
            SESSION_UNREADABLE_LINE,
        ),
        // An events/ directory with no session file: no journal at the path.
        "sessions-empty-events-dir" => case(
            |b| {
                events(b);
            },
            &[STORE],
            &[
                ("inspect", 2),
                ("tail", 2),
                ("recover", 2),
                ("verify", 2),
                ("repair-dry", 2),
                ("repair", 2),
                ("stats", 2),
                ("prune", 2),
                ("append", 2),
            ],
        ),
        "sessions-thousands-of-tiny-sessions" => case(
            |b| {
                let dir = events(b);
                for i in 0..3_000 {
                    let id = format!("s{i:05}");
                    fs::write(dir.join(format!("{id}.jsonl")), rec(&id, "main", "1", "")).unwrap();
                }
            },
            &[STORE],
            SESSIONS_REFUSED,
        ),
        "sessions-ten-thousand-tiny-sessions" => case(
            |b| {
                let dir = events(b);
                for i in 0..10_000 {
                    let id = format!("s{i:05}");
                    fs::write(dir.join(format!("{id}.jsonl")), rec(&id, "main", "1", "")).unwrap();
                }
            },
            &[STORE],
            SESSIONS_REFUSED,
        ),
        _ => panic!("no case {name}"),
    }
}

// ---- the redb runtime journal (camel-core) ----

const EVENTS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("events");
const REDB_FILE: &str = "runtime.redb";

/// The JSON the runtime stores for one event.
fn redb_value(seq: &str, variant: &str, route: &str) -> Vec<u8> {
    format!(
        r#"{{"seq":{seq},"timestamp_ms":{},"event":{{"{variant}":{{"route_id":"{route}"}}}}}}"#,
        1_796_132_664_240u64 + seq.len() as u64
    )
    .into_bytes()
}

/// A database with the runtime's layout: keys 1..=3 valid, then `more`.
fn redb_with(b: &Built, more: &[(u64, Vec<u8>)]) {
    let db = redb::Database::create(b.root.join(REDB_FILE)).unwrap();
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table(EVENTS).unwrap();
        for k in 1..=3u64 {
            t.insert(
                k,
                redb_value(&k.to_string(), "RouteStarted", "route-1").as_slice(),
            )
            .unwrap();
        }
        for (k, v) in more {
            t.insert(*k, v.as_slice()).unwrap();
        }
    }
    w.commit().unwrap();
}

/// The corpus' clean database, its bytes changed by `f`.
fn redb_corpus(b: &Built, f: fn(&mut Vec<u8>)) {
    let mut bytes = fs::read(
        crate::common::corpus_dir()
            .join("camel-redb")
            .join("runtime-journal.redb"),
    )
    .unwrap();
    f(&mut bytes);
    fs::write(b.root.join(REDB_FILE), bytes).unwrap();
}

/// redb's own read modes: redb's integrity check on a copy, and a snapshot
/// read (both copy the file to TMPDIR, which must be empty afterwards).
const REDB_EXTRA: &[(&str, &[&str])] = &[
    ("verify-deep", &["verify", "--deep"]),
    ("inspect-snapshot", &["inspect", "--snapshot", "-n", "50"]),
];

/// The refusals every redb journal gets: repair, prune, append (exit 2).
const REDB_REFUSED: &[(&str, i32)] = &[
    ("repair-dry", 2),
    ("repair", 2),
    ("prune", 2),
    ("append", 2),
];
/// A file that cannot be read as a database: every command exits 2.
const REDB_UNREADABLE: &[(&str, i32)] = &[
    ("inspect", 2),
    ("tail", 2),
    ("recover", 2),
    ("verify", 2),
    ("verify-deep", 2),
    ("inspect-snapshot", 2),
    ("repair-dry", 2),
    ("repair", 2),
    ("stats", 2),
    ("prune", 2),
    ("append", 2),
];
/// Values that are not events: verify says so (1); reads skip them.
const REDB_BAD_VALUES: &[(&str, i32)] = &[
    ("verify", 1),
    ("verify-deep", 1),
    ("repair-dry", 2),
    ("repair", 2),
    ("prune", 2),
    ("append", 2),
];

fn redb_case(name: &'static str) -> Case {
    let case = |build: fn(&Built), codes| Case {
        build,
        target: REDB_FILE,
        args: &[],
        hold: None,
        fresh: false,
        extra: REDB_EXTRA,
        culprit: &[("*", REDB_FILE)],
        codes,
        repair_owns: |_| false,
    };
    match name {
        "redb-magic-then-garbage" => case(
            |b| {
                let mut bytes = b"redb\x1a\x0a\xa9\x0d\x0a".to_vec();
                bytes.extend(Gen(0xD1B5_4A32_D192_ED03).bytes(64 << 10));
                fs::write(b.root.join(REDB_FILE), bytes).unwrap();
            },
            REDB_UNREADABLE,
        ),
        "redb-magic-only" => case(
            |b| fs::write(b.root.join(REDB_FILE), b"redb\x1a\x0a\xa9\x0d\x0a").unwrap(),
            REDB_UNREADABLE,
        ),
        "redb-truncated-half" => case(
            |b| redb_corpus(b, |v| v.truncate(v.len() / 2)),
            REDB_UNREADABLE,
        ),
        "redb-truncated-to-one-page" => {
            case(|b| redb_corpus(b, |v| v.truncate(4096)), REDB_UNREADABLE)
        }
        // Random bytes over the middle of the file: the header still says
        // clean, the pages do not (checksums, tree pages).
        "redb-garbage-inside" => case(
            |b| {
                redb_corpus(b, |v| {
                    let mid = v.len() / 2;
                    let g = Gen(0x2545_F491_4F6C_DD1D).bytes(8192);
                    v[mid..mid + 8192].copy_from_slice(&g);
                })
            },
            // Reads that meet the damaged pages say so (2); reads of the
            // newest keys (tail, recover) do not meet them.
            &[
                ("inspect", 2),
                ("verify", 2),
                ("verify-deep", 2),
                ("inspect-snapshot", 2),
                ("repair-dry", 2),
                ("repair", 2),
                ("stats", 2),
                ("prune", 2),
                ("append", 2),
            ],
        ),
        // The runtime holds the file open for writing: every read of the
        // original is refused plainly (2); a snapshot reads a copy (0).
        "redb-held-by-the-runtime" => Case {
            hold: Some(|b| Box::new(redb::Database::open(b.root.join(REDB_FILE)).unwrap())),
            ..case(
                |b| redb_with(b, &[(4, redb_value("4", "RouteStopped", "route-1"))]),
                &[
                    ("inspect", 2),
                    ("tail", 2),
                    ("recover", 2),
                    ("verify", 2),
                    ("verify-deep", 2),
                    ("repair-dry", 2),
                    ("repair", 2),
                    ("stats", 2),
                    ("prune", 2),
                    ("append", 2),
                ],
            )
        },
        "redb-values-not-events" => case(
            |b| {
                redb_with(
                    b,
                    &[
                        (4, b"\xff\x00 not json \x1b[2J".to_vec()),
                        (5, b"[1,2,3]".to_vec()),
                        (6, b"\"a string\"".to_vec()),
                        (7, b"42".to_vec()),
                        (8, redb_value("18446744073709551616", "RouteStarted", "r")),
                        (9, redb_value("-1", "RouteStarted", "r")),
                        (10, redb_value("1e3", "RouteStarted", "r")),
                        (11, redb_value("\"11\"", "RouteStarted", "r")),
                        (
                            12,
                            br#"{"seq":12,"timestamp_ms":"soon","event":{"RouteStarted":{}}}"#
                                .to_vec(),
                        ),
                        (
                            13,
                            br#"{"seq":13,"timestamp_ms":1,"event":"RouteStarted"}"#.to_vec(),
                        ),
                        (
                            14,
                            br#"{"seq":14,"timestamp_ms":1,"event":{"A":{},"B":{}}}"#.to_vec(),
                        ),
                        (15, redb_value("99", "RouteStarted", "r")),
                        (16, Vec::new()),
                    ],
                )
            },
            REDB_BAD_VALUES,
        ),
        "redb-deep-nesting-100k" => case(
            |b| {
                let v = format!(
                    r#"{{"seq":4,"timestamp_ms":1,"event":{{"RouteStarted":{{"route_id":"r","d":{}{}}}}}}}"#,
                    "[".repeat(100_000),
                    "]".repeat(100_000)
                );
                redb_with(b, &[(4, v.into_bytes())])
            },
            REDB_BAD_VALUES,
        ),
        "redb-value-8MiB" => case(
            |b| {
                let v = format!(
                    r#"{{"seq":4,"timestamp_ms":1,"event":{{"RouteStarted":{{"route_id":"r","blob":"{}"}}}}}}"#,
                    "x".repeat(8 << 20)
                );
                redb_with(
                    b,
                    &[
                        (4, v.into_bytes()),
                        (5, redb_value("5", "RouteStopped", "r")),
                    ],
                )
            },
            REDB_REFUSED,
        ),
        "redb-escapes-in-variant-and-route" => case(
            |b| {
                redb_with(
                    b,
                    &[
                        (
                            4,
                            redb_value("4", "Route\\u001b]0;pwned\\u0007", "r\\u001b[2J\\u009b\\n"),
                        ),
                        (5, redb_value("5", "RouteStarted\\u202e", "route-\\u0000")),
                    ],
                )
            },
            REDB_REFUSED,
        ),
        "redb-keys-0-and-u64-max" => case(
            |b| {
                redb_with(
                    b,
                    &[
                        (0, redb_value("0", "RouteRegistered", "route-1")),
                        (
                            u64::MAX,
                            redb_value(&u64::MAX.to_string(), "RouteStopped", "route-1"),
                        ),
                    ],
                )
            },
            REDB_REFUSED,
        ),
        "redb-no-events-table" => case(
            |b| {
                let db = redb::Database::create(b.root.join(REDB_FILE)).unwrap();
                let w = db.begin_write().unwrap();
                {
                    let ids: redb::TableDefinition<&str, ()> =
                        redb::TableDefinition::new("command_ids");
                    let mut t = w.open_table(ids).unwrap();
                    t.insert("c-1", ()).unwrap();
                }
                w.commit().unwrap();
            },
            REDB_REFUSED,
        ),
        "redb-events-table-of-another-type" => case(
            |b| {
                let db = redb::Database::create(b.root.join(REDB_FILE)).unwrap();
                let w = db.begin_write().unwrap();
                {
                    let wrong: redb::TableDefinition<&str, &str> =
                        redb::TableDefinition::new("events");
                    let mut t = w.open_table(wrong).unwrap();
                    t.insert("1", "{}").unwrap();
                }
                w.commit().unwrap();
            },
            REDB_UNREADABLE,
        ),
        _ => panic!("no case {name}"),
    }
}

// ---- the per-topic event log (harn-vm): JSONL and SQLite ----

/// A copy of a corpus folder (recursively), every copy writable.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            fs::write(&dest, fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

/// The corpus' `harn-file` log (both topics, both consumers, the locks).
fn harn_file(b: &Built) {
    copy_tree(&crate::common::corpus_dir().join("harn-file"), &b.root);
}

/// One event line as the runtime's JSONL backend writes it.
fn topic_event(id: &str, kind: &str, extra: &str) -> Vec<u8> {
    format!(
        "{{\"id\":{id},\"event\":{{\"kind\":\"{kind}\",\"payload\":{{\"x\":1{extra}}},\
         \"headers\":{{}},\"occurred_at_ms\":1795683602889}}}}\n"
    )
    .into_bytes()
}

/// `bytes` appended to the corpus' `triggers.inbox` topic.
fn inbox_after(b: &Built, bytes: &[u8]) {
    harn_file(b);
    let path = b.root.join("topics").join("triggers.inbox.jsonl");
    let mut all = fs::read(&path).unwrap();
    all.extend_from_slice(bytes);
    fs::write(path, all).unwrap();
}

fn topics_owned(name: &str) -> bool {
    name.ends_with(".jsonl") || name.ends_with(".lock") || name.starts_with("quarantine-")
}

const INBOX: &str = "triggers.inbox.jsonl";
const TOPICS_REFUSED: &[(&str, i32)] = &[("prune", 2), ("append", 2)];
/// A complete line the runtime cannot parse: verify 1; repair leaves it (1).
const TOPIC_UNREADABLE_LINE: &[(&str, i32)] = &[
    ("verify", 1),
    ("repair-dry", 1),
    ("repair", 1),
    ("prune", 2),
    ("append", 2),
];
/// Damage only verify reports (a consumer file): verify 1.
const TOPIC_VERIFY_ONLY: &[(&str, i32)] = &[("verify", 1), ("prune", 2), ("append", 2)];
const EVERY_COMMAND_2: &[(&str, i32)] = &[
    ("inspect", 2),
    ("tail", 2),
    ("recover", 2),
    ("verify", 2),
    ("repair-dry", 2),
    ("repair", 2),
    ("stats", 2),
    ("prune", 2),
    ("append", 2),
];

fn topics_jsonl_case(name: &'static str) -> Case {
    let case = |build: fn(&Built), culprit: &'static str, codes| Case {
        build,
        target: "",
        args: &[],
        culprit: match culprit {
            INBOX => &[("prune", "store"), ("append", "store"), ("*", INBOX)],
            "store" => &[("*", "store")],
            "consumer" => &[
                ("prune", "store"),
                ("append", "store"),
                ("*", "agent.transcript.llm__portal.json"),
            ],
            "x.y" => &[("prune", "store"), ("append", "store"), ("*", "x.y.jsonl")],
            "lock" => &[
                ("prune", "store"),
                ("append", "store"),
                ("*", "triggers.inbox.lock"),
            ],
            other => panic!("no culprit {other}"),
        },
        codes,
        hold: None,
        fresh: false,
        extra: &[],
        repair_owns: topics_owned,
    };
    match name {
        "topics-jsonl-nul-run" => case(
            |b| {
                let mut t = vec![0u8; 4096];
                t.push(b'\n');
                t.extend(topic_event("98", "k", ""));
                inbox_after(b, &t)
            },
            INBOX,
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-nul-tail" => case(|b| inbox_after(b, &[0u8; 4096]), INBOX, TOPICS_REFUSED),
        "topics-jsonl-binary-garbage" => case(
            |b| {
                let mut t = Gen(0x9E37_79B9_7F4A_7C15).bytes(64 << 10);
                t.push(b'\n');
                inbox_after(b, &t)
            },
            INBOX,
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-invalid-utf8" => case(
            |b| {
                let mut t = topic_event("97", "k", ",\"bad\":\"\u{1}\"");
                let at = t.iter().position(|&c| c == 1).unwrap();
                t.splice(at..=at, [0xff, 0xfe, 0xc3]);
                inbox_after(b, &t)
            },
            INBOX,
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-deep-nesting-100k" => case(
            |b| {
                let deep = format!(",\"d\":{}{}", "[".repeat(100_000), "]".repeat(100_000));
                inbox_after(b, &topic_event("97", "k", &deep))
            },
            INBOX,
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-ids-of-every-odd-shape" => case(
            |b| {
                let mut t = Vec::new();
                for id in ["18446744073709551616", "0", "-1", "1e3", "\"97\"", "null"] {
                    t.extend(topic_event(id, "k", ""));
                }
                t.extend(topic_event(&u64::MAX.to_string(), "k", ""));
                inbox_after(b, &t)
            },
            INBOX,
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-times-past-i64" => case(
            |b| {
                let mut t = Vec::new();
                for (id, ms) in [
                    ("97", "99999999999999999999"),
                    ("98", "-9223372036854775808"),
                    ("99", "9223372036854775807"),
                ] {
                    let line = String::from_utf8(topic_event(id, "k", "")).unwrap();
                    t.extend(line.replace("1795683602889", ms).into_bytes());
                }
                inbox_after(b, &t)
            },
            INBOX,
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-crlf-lines" => case(
            |b| {
                harn_file(b);
                let path = b.root.join("topics").join(INBOX);
                let crlf: Vec<u8> = fs::read(&path)
                    .unwrap()
                    .split_inclusive(|&c| c == b'\n')
                    .flat_map(|l| [&l[..l.len() - 1], b"\r\n"].concat())
                    .collect();
                fs::write(path, crlf).unwrap();
            },
            INBOX,
            TOPICS_REFUSED,
        ),
        "topics-jsonl-glued-last-line-no-newline" => case(
            |b| {
                let mut t = b"{\"id\":97,\"event\":{\"ki".to_vec();
                t.extend(topic_event("97", "k", ""));
                t.pop();
                inbox_after(b, &t)
            },
            INBOX,
            &[("verify", 1), ("prune", 2), ("append", 2)],
        ),
        "topics-jsonl-escapes-in-topic-names" => Case {
            culprit: &[
                ("prune", "store"),
                ("append", "store"),
                ("*", "a\\u{1b}]0;pwned\\u{7}\\n\\u{9b}.b.jsonl"),
            ],
            ..case(
                |b| {
                    harn_file(b);
                    let mut t = topic_event("1", "k\\u001b[2J\\u009b", "");
                    t.extend(topic_event("3", "k", ",\"t\":\"\\u001b]0;x\\u0007\""));
                    t.extend_from_slice(b"{\"id");
                    fs::write(
                        b.root
                            .join("topics")
                            .join("a\u{1b}]0;pwned\u{7}\n\u{9b}.b.jsonl"),
                        t,
                    )
                    .unwrap();
                },
                INBOX,
                TOPIC_UNREADABLE_LINE,
            )
        },
        "topics-jsonl-provenance-of-the-wrong-type" => case(
            |b| {
                inbox_after(
                    b,
                    b"{\"id\":97,\"event\":{\"kind\":\"k\",\"payload\":{},\"headers\":{\
                      \"harn.provenance.schema\":42,\"harn.provenance.prev_hash\":{\"a\":1},\
                      \"harn.provenance.record_hash\":[\"sha256:00\"]},\"occurred_at_ms\":1}}\n",
                )
            },
            INBOX,
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-provenance-of-another-schema" => case(
            |b| {
                inbox_after(
                    b,
                    b"{\"id\":97,\"event\":{\"kind\":\"k\",\"payload\":{},\"headers\":{\
                      \"harn.provenance.schema\":\"v999\",\"harn.provenance.record_hash\":\
                      \"md5:zz\"},\"occurred_at_ms\":1}}\n",
                )
            },
            INBOX,
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-consumer-not-json" => case(
            |b| {
                harn_file(b);
                fs::write(
                    b.root
                        .join("consumers")
                        .join("agent.transcript.llm__portal.json"),
                    b"\x00\xff not json \x1b[2J",
                )
                .unwrap();
            },
            "consumer",
            TOPIC_VERIFY_ONLY,
        ),
        "topics-jsonl-cursors-out-of-range" => case(
            |b| {
                harn_file(b);
                fs::write(
                    b.root.join("consumers").join("agent.transcript.llm__portal.json"),
                    format!(
                        "{{\"consumer_id\":\"portal\",\"cursor\":{},\"topic\":\"agent.transcript.llm\",\"updated_at_ms\":1}}",
                        u64::MAX
                    ),
                )
                .unwrap();
                fs::write(
                    b.root.join("consumers").join("triggers.inbox__worker_1__retention_.json"),
                    b"{\"consumer_id\":\"w\\u001b]0;x\\u0007\",\"cursor\":-5,\"topic\":\"triggers.inbox\",\"updated_at_ms\":1}",
                )
                .unwrap();
            },
            "consumer",
            TOPIC_VERIFY_ONLY,
        ),
        "topics-jsonl-cursor-past-u64" => case(
            |b| {
                harn_file(b);
                fs::write(
                    b.root.join("consumers").join("agent.transcript.llm__portal.json"),
                    b"{\"consumer_id\":\"portal\",\"cursor\":18446744073709551616,\"topic\":\"agent.transcript.llm\",\"updated_at_ms\":1}",
                )
                .unwrap();
            },
            "consumer",
            TOPIC_VERIFY_ONLY,
        ),
        // Repair takes the runtime's lock: a FIFO there is opened without
        // blocking; a directory or a symlink is refused (2), naming it.
        "topics-jsonl-lock-file-a-fifo" => case(
            |b| {
                inbox_after(b, b"{\"id\":9");
                let lock = b.root.join("locks").join("triggers.inbox.lock");
                fs::remove_file(&lock).unwrap();
                mkfifo(&lock);
            },
            "lock",
            TOPICS_REFUSED,
        ),
        "topics-jsonl-lock-file-a-directory" => case(
            |b| {
                inbox_after(b, b"{\"id\":9");
                let lock = b.root.join("locks").join("triggers.inbox.lock");
                fs::remove_file(&lock).unwrap();
                fs::create_dir(&lock).unwrap();
            },
            "lock",
            &[("repair", 2), ("prune", 2), ("append", 2)],
        ),
        "topics-jsonl-lock-file-a-symlink-out" => case(
            |b| {
                inbox_after(b, b"{\"id\":9");
                let lock = b.root.join("locks").join("triggers.inbox.lock");
                fs::remove_file(&lock).unwrap();
                fs::create_dir(b.outside()).unwrap();
                fs::write(b.outside().join("x.lock"), b"").unwrap();
                symlink(b.outside().join("x.lock"), &lock).unwrap();
            },
            "lock",
            &[("repair", 2), ("prune", 2), ("append", 2)],
        ),
        "topics-jsonl-directory-named-like-a-topic" => case(
            |b| {
                harn_file(b);
                fs::create_dir(b.root.join("topics").join("x.y.jsonl")).unwrap();
            },
            "x.y",
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-fifo-named-like-a-topic" => case(
            |b| {
                harn_file(b);
                mkfifo(&b.root.join("topics").join("x.y.jsonl"));
            },
            "x.y",
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-symlink-loop-named-like-a-topic" => case(
            |b| {
                harn_file(b);
                symlink("x.y.jsonl", b.root.join("topics").join("x.y.jsonl")).unwrap();
            },
            "x.y",
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-symlink-out-of-the-directory" => case(
            |b| {
                harn_file(b);
                fs::create_dir(b.outside()).unwrap();
                let mut torn = topic_event("1", "k", "");
                torn.extend_from_slice(b"{\"id\":2");
                fs::write(b.outside().join("x.y.jsonl"), torn).unwrap();
                symlink(
                    b.outside().join("x.y.jsonl"),
                    b.root.join("topics").join("x.y.jsonl"),
                )
                .unwrap();
            },
            "x.y",
            TOPIC_UNREADABLE_LINE,
        ),
        "topics-jsonl-empty-topics-dir" => case(
            |b| {
                fs::create_dir(b.root.join("topics")).unwrap();
                fs::create_dir(b.root.join("consumers")).unwrap();
            },
            "store",
            EVERY_COMMAND_2,
        ),
        "topics-jsonl-thousands-of-tiny-topics" => case(
            |b| {
                fs::create_dir(b.root.join("topics")).unwrap();
                fs::create_dir(b.root.join("consumers")).unwrap();
                for i in 0..3_000 {
                    fs::write(
                        b.root.join("topics").join(format!("t.{i:05}.jsonl")),
                        topic_event("1", "k", ""),
                    )
                    .unwrap();
                }
            },
            "store",
            TOPICS_REFUSED,
        ),
        _ => panic!("no case {name}"),
    }
}

const SQLITE_FILE: &str = "events.sqlite";

fn harn_sqlite(b: &Built) {
    copy_tree(&crate::common::corpus_dir().join("harn-sqlite"), &b.root);
}

/// A database holding `sql` (rollback journal mode: no -wal of its own).
fn sqlite_with(b: &Built, sql: &str) {
    let db = rusqlite::Connection::open(b.root.join(SQLITE_FILE)).unwrap();
    db.execute_batch(&format!("PRAGMA journal_mode=DELETE;\n{sql}"))
        .unwrap();
}

fn topics_sqlite_case(name: &'static str) -> Case {
    let case = |build: fn(&Built), codes| Case {
        build,
        target: "",
        args: &[],
        culprit: &[("prune", "store"), ("append", "store"), ("*", SQLITE_FILE)],
        codes,
        hold: None,
        fresh: false,
        extra: &[],
        repair_owns: |_| false,
    };
    // SQLite's repair and retention belong to the runtime: refused (2).
    const SQLITE_REFUSED: &[(&str, i32)] = &[
        ("repair-dry", 2),
        ("repair", 2),
        ("prune", 2),
        ("append", 2),
    ];
    match name {
        // The header, the table names detection looks for, then garbage.
        "topics-sqlite-header-then-garbage" => case(
            |b| {
                let mut bytes =
                    b"SQLite format 3\0CREATE TABLE topic_heads; CREATE TABLE events;".to_vec();
                bytes.extend(Gen(0xA076_1D64_78BD_642F).bytes(64 << 10));
                fs::write(b.root.join(SQLITE_FILE), bytes).unwrap();
            },
            EVERY_COMMAND_2,
        ),
        "topics-sqlite-truncated-half" => case(
            |b| {
                harn_sqlite(b);
                let path = b.root.join(SQLITE_FILE);
                let mut bytes = fs::read(&path).unwrap();
                bytes.truncate(bytes.len() / 2);
                fs::write(path, bytes).unwrap();
            },
            EVERY_COMMAND_2,
        ),
        "topics-sqlite-truncated-to-a-tenth" => case(
            |b| {
                harn_sqlite(b);
                let path = b.root.join(SQLITE_FILE);
                let mut bytes = fs::read(&path).unwrap();
                bytes.truncate(bytes.len() / 10);
                fs::write(path, bytes).unwrap();
            },
            EVERY_COMMAND_2,
        ),
        // A -wal of garbage and no -shm: read from a private copy; SQLite
        // ignores frames whose checksums fail, as the runtime would.
        "topics-sqlite-wal-of-garbage" => case(
            |b| {
                harn_sqlite(b);
                fs::write(
                    b.root.join(format!("{SQLITE_FILE}-wal")),
                    Gen(0x1234_5678_9ABC_DEF1).bytes(32 << 10),
                )
                .unwrap();
            },
            SQLITE_REFUSED,
        ),
        // A -wal of garbage beside a -shm no runtime holds (one that crashed).
        "topics-sqlite-wal-and-shm-of-garbage" => Case {
            fresh: true,
            ..case(
                |b| {
                    harn_sqlite(b);
                    let mut wal = vec![0x37, 0x7f, 0x06, 0x82];
                    wal.extend(Gen(0x1234_5678_9ABC_DEF1).bytes(32 << 10));
                    fs::write(b.root.join(format!("{SQLITE_FILE}-wal")), wal).unwrap();
                    fs::write(
                        b.root.join(format!("{SQLITE_FILE}-shm")),
                        vec![0u8; 32 << 10],
                    )
                    .unwrap();
                },
                SQLITE_REFUSED,
            )
        },
        "topics-sqlite-columns-of-the-wrong-type" => case(
            |b| {
                sqlite_with(
                    b,
                    "CREATE TABLE topic_heads(topic TEXT, last_id TEXT);
                     CREATE TABLE events(topic BLOB, event_id TEXT, kind INTEGER, payload TEXT,
                                         headers BLOB, occurred_at_ms TEXT);
                     CREATE TABLE consumers(topic INTEGER, consumer_id BLOB, cursor TEXT,
                                            updated_at_ms REAL);
                     INSERT INTO topic_heads VALUES('t.a','three'),(X'FF00','1e400');
                     INSERT INTO events VALUES(X'FFFE','abc',42,X'00FF1B5B324A','not json','later');
                     INSERT INTO events VALUES('t.a',-1,NULL,NULL,NULL,NULL);
                     INSERT INTO events VALUES('t.a',9223372036854775807,'k','{}',
                                               '{\"harn.provenance.record_hash\":42}',1.5);
                     INSERT INTO consumers VALUES(5, X'1B5D303B7807', 'far', 'x');",
                )
            },
            EVERY_COMMAND_2,
        ),
        "topics-sqlite-table-names-but-no-tables" => case(
            |b| {
                sqlite_with(
                    b,
                    "CREATE TABLE other(x); INSERT INTO other VALUES('topic_heads events');",
                )
            },
            EVERY_COMMAND_2,
        ),
        "topics-sqlite-tables-without-their-columns" => case(
            |b| {
                sqlite_with(
                    b,
                    "CREATE TABLE topic_heads(topic); CREATE TABLE events(topic);
                     INSERT INTO events VALUES('x');",
                )
            },
            EVERY_COMMAND_2,
        ),
        _ => panic!("no case {name}"),
    }
}

fn case(name: &'static str) -> Case {
    if name.starts_with("sessions-") {
        return session_case(name);
    }
    if name.starts_with("topics-jsonl-") {
        return topics_jsonl_case(name);
    }
    if name.starts_with("topics-sqlite-") {
        return topics_sqlite_case(name);
    }
    if name.starts_with("redb-") {
        return redb_case(name);
    }
    panic!("no case {name}")
}

// ---- the checks ----

/// Every entry under `dir`, recursively: its type and content hash (a FIFO
/// is never opened, a symlink never followed).
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(base)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let ft = entry.file_type().unwrap();
        let what = if ft.is_symlink() {
            format!(
                "symlink -> {}",
                fs::read_link(entry.path()).unwrap().display()
            )
        } else if ft.is_fifo() {
            "fifo".to_owned()
        } else if ft.is_dir() {
            walk(base, &entry.path(), out);
            "dir".to_owned()
        } else {
            let mut h = DefaultHasher::new();
            fs::read(entry.path()).unwrap().hash(&mut h);
            format!("file {:016x}", h.finish())
        };
        out.insert(rel, what);
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn expected(case: &Case, cmd: &str) -> i32 {
    case.codes
        .iter()
        .find(|(c, _)| *c == cmd)
        .map_or(0, |(_, code)| *code)
}

fn culprit<'a>(case: &'a Case, cmd: &str) -> Option<&'a str> {
    case.culprit
        .iter()
        .find(|(c, _)| *c == cmd)
        .or_else(|| case.culprit.iter().find(|(c, _)| *c == "*"))
        .map(|(_, name)| *name)
}

fn run_cell(case: &Case, b: &Built, cmd_name: &str, args: &[&str]) -> Result<(), String> {
    let scratch = b.tmp.path().join("scratch");
    fs::create_dir_all(&scratch).unwrap();
    let _held = case.hold.map(|hold| hold(b));
    let before = snapshot(b.tmp.path());
    let mut cmd = journal_cmd();
    // A snapshot's copy goes to TMPDIR: inside the hashed tree, so one left
    // behind is a change.
    cmd.env("TMPDIR", &scratch)
        .args(args)
        .args(case.args)
        .arg(b.root.join(case.target))
        .timeout(LIMIT)
        .write_stdin(if cmd_name == "append" {
            APPEND_INPUT
        } else {
            ""
        });
    let started = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("did not finish within {LIMIT:?}: {e}"))?;
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    };
    let after = snapshot(b.tmp.path());
    check(case, cmd_name, &run, &before, &after)
}

fn check(
    case: &Case,
    cmd_name: &str,
    run: &Run,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Result<(), String> {
    let show = || {
        format!(
            "\n  stdout: {}\n  stderr: {}",
            clip(&run.stdout),
            clip(&run.stderr)
        )
    };
    if run.code == Some(101) || run.stderr.contains("panicked") {
        return Err(format!("panicked{}", show()));
    }
    if run.took > LIMIT {
        return Err(format!("took {:?}", run.took));
    }
    let want = expected(case, cmd_name);
    if run.code != Some(want) {
        return Err(format!(
            "exit code {:?}, documented {want} ({:?}){}",
            run.code,
            run.took,
            show()
        ));
    }
    if want != 0
        && let Some(name) = culprit(case, cmd_name)
        && !run.stdout.contains(name)
        && !run.stderr.contains(name)
    {
        return Err(format!("exit {want} without naming {name}{}", show()));
    }
    // A message never repeats its cause ("X: Y: Y").
    for line in run.stderr.lines() {
        let parts: Vec<&str> = line.split(": ").collect();
        for w in 1..=parts.len() / 2 {
            let n = parts.len();
            if parts[n - w..] == parts[n - 2 * w..n - w] {
                return Err(format!("a message repeats its cause: {line}{}", show()));
            }
        }
    }
    let raw = |s: &str| s.contains(['\u{1b}', '\u{7}', '\u{9b}']);
    if raw(&run.stdout) || raw(&run.stderr) {
        return Err(format!(
            "a raw control sequence reached the output{}",
            show()
        ));
    }
    // Only a real repair that ran may change anything, and only the
    // journal's own files (regular files before) and new quarantine files.
    let may_change = cmd_name == "repair" && !case.codes.contains(&("repair", 2));
    for name in before.keys().chain(after.keys()) {
        if before.get(name) == after.get(name) {
            continue;
        }
        let base = name.rsplit('/').next().unwrap_or(name);
        let allowed = may_change
            && !name.starts_with("outside")
            && (case.repair_owns)(base)
            && before.get(name).is_none_or(|w| w.starts_with("file"))
            && after.get(name).is_some_and(|w| w.starts_with("file"))
            // New: quarantine files, and a lock file of the runtime's
            // (repair takes a topic's `locks/<topic>.lock` as the runtime does).
            && (before.contains_key(name)
                || base.starts_with("quarantine-")
                || base.ends_with(".lock"));
        if !allowed {
            return Err(format!(
                "{name} changed: {:?} -> {:?}{}",
                before.get(name),
                after.get(name),
                show()
            ));
        }
    }
    Ok(())
}

fn clip(s: &str) -> String {
    if s.len() <= 600 {
        return s.to_owned();
    }
    let mut end = 600;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

/// Runs every command on `case_name`; fails listing every failing cell.
fn matrix(case_name: &'static str) {
    let case = case(case_name);
    let build = || {
        let b = Built::new("store");
        (case.build)(&b);
        b
    };
    let shared = build();
    let mut failures = Vec::new();
    for (cmd_name, args) in COMMANDS.iter().chain(case.extra) {
        let fresh;
        let b = if mutates(cmd_name) || case.fresh {
            fresh = build();
            &fresh
        } else {
            &shared
        };
        let gap = KNOWN_GAPS
            .iter()
            .find(|(c, m, _)| *c == case_name && m == cmd_name);
        match (run_cell(&case, b, cmd_name, args), gap) {
            (Ok(()), None) | (Err(_), Some(_)) => {}
            (Err(e), None) => failures.push(format!("[{case_name} × {cmd_name}] {e}")),
            (Ok(()), Some((_, _, what))) => failures.push(format!(
                "[{case_name} × {cmd_name}] passes now: remove it from KNOWN_GAPS ({what})"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

macro_rules! cases {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                matrix($name);
            }
        )*
    };
}

cases! {
    sessions_nul_run => "sessions-nul-run",
    sessions_nul_tail => "sessions-nul-tail",
    sessions_binary_garbage => "sessions-binary-garbage",
    sessions_invalid_utf8 => "sessions-invalid-utf8",
    sessions_numbers_past_u64 => "sessions-numbers-past-u64",
    sessions_sequence_0 => "sessions-sequence-0",
    sessions_sequence_u64_max => "sessions-sequence-u64-max",
    sessions_deep_nesting_100k => "sessions-deep-nesting-100k",
    sessions_long_line_8mib => "sessions-long-line-8MiB",
    sessions_long_line_8mib_without_newline => "sessions-long-line-8MiB-no-newline",
    sessions_glued_last_line_without_newline => "sessions-glued-last-line-no-newline",
    sessions_crlf_lines => "sessions-crlf-lines",
    sessions_escapes_in_ids_and_names => "sessions-escapes-in-ids-and-names",
    sessions_directory_named_like_a_session => "sessions-directory-named-like-a-session",
    sessions_fifo_named_like_a_session => "sessions-fifo-named-like-a-session",
    sessions_symlink_loop_named_like_a_session => "sessions-symlink-loop-named-like-a-session",
    sessions_symlink_out_of_the_directory => "sessions-symlink-out-of-the-directory",
    sessions_empty_events_dir => "sessions-empty-events-dir",
    sessions_thousands_of_tiny_sessions => "sessions-thousands-of-tiny-sessions",
    topics_jsonl_nul_run => "topics-jsonl-nul-run",
    topics_jsonl_nul_tail => "topics-jsonl-nul-tail",
    topics_jsonl_binary_garbage => "topics-jsonl-binary-garbage",
    topics_jsonl_invalid_utf8 => "topics-jsonl-invalid-utf8",
    topics_jsonl_deep_nesting_100k => "topics-jsonl-deep-nesting-100k",
    topics_jsonl_ids_of_every_odd_shape => "topics-jsonl-ids-of-every-odd-shape",
    topics_jsonl_times_past_i64 => "topics-jsonl-times-past-i64",
    topics_jsonl_crlf_lines => "topics-jsonl-crlf-lines",
    topics_jsonl_glued_last_line_no_newline => "topics-jsonl-glued-last-line-no-newline",
    topics_jsonl_escapes_in_topic_names => "topics-jsonl-escapes-in-topic-names",
    topics_jsonl_provenance_of_the_wrong_type => "topics-jsonl-provenance-of-the-wrong-type",
    topics_jsonl_provenance_of_another_schema => "topics-jsonl-provenance-of-another-schema",
    topics_jsonl_consumer_not_json => "topics-jsonl-consumer-not-json",
    topics_jsonl_cursors_out_of_range => "topics-jsonl-cursors-out-of-range",
    topics_jsonl_cursor_past_u64 => "topics-jsonl-cursor-past-u64",
    topics_jsonl_lock_file_a_fifo => "topics-jsonl-lock-file-a-fifo",
    topics_jsonl_lock_file_a_directory => "topics-jsonl-lock-file-a-directory",
    topics_jsonl_lock_file_a_symlink_out => "topics-jsonl-lock-file-a-symlink-out",
    topics_jsonl_directory_named_like_a_topic => "topics-jsonl-directory-named-like-a-topic",
    topics_jsonl_fifo_named_like_a_topic => "topics-jsonl-fifo-named-like-a-topic",
    topics_jsonl_symlink_loop_named_like_a_topic => "topics-jsonl-symlink-loop-named-like-a-topic",
    topics_jsonl_symlink_out_of_the_directory => "topics-jsonl-symlink-out-of-the-directory",
    topics_jsonl_empty_topics_dir => "topics-jsonl-empty-topics-dir",
    topics_jsonl_thousands_of_tiny_topics => "topics-jsonl-thousands-of-tiny-topics",
    topics_sqlite_header_then_garbage => "topics-sqlite-header-then-garbage",
    topics_sqlite_truncated_half => "topics-sqlite-truncated-half",
    topics_sqlite_truncated_to_a_tenth => "topics-sqlite-truncated-to-a-tenth",
    topics_sqlite_wal_of_garbage => "topics-sqlite-wal-of-garbage",
    topics_sqlite_wal_and_shm_of_garbage => "topics-sqlite-wal-and-shm-of-garbage",
    topics_sqlite_columns_of_the_wrong_type => "topics-sqlite-columns-of-the-wrong-type",
    topics_sqlite_table_names_but_no_tables => "topics-sqlite-table-names-but-no-tables",
    topics_sqlite_tables_without_their_columns => "topics-sqlite-tables-without-their-columns",
    redb_magic_then_garbage => "redb-magic-then-garbage",
    redb_magic_only => "redb-magic-only",
    redb_truncated_half => "redb-truncated-half",
    redb_truncated_to_one_page => "redb-truncated-to-one-page",
    redb_garbage_inside => "redb-garbage-inside",
    redb_values_not_events => "redb-values-not-events",
    redb_held_by_the_runtime => "redb-held-by-the-runtime",
    redb_deep_nesting_100k => "redb-deep-nesting-100k",
    redb_value_8mib => "redb-value-8MiB",
    redb_escapes_in_variant_and_route => "redb-escapes-in-variant-and-route",
    redb_keys_0_and_u64_max => "redb-keys-0-and-u64-max",
    redb_no_events_table => "redb-no-events-table",
    redb_events_table_of_another_type => "redb-events-table-of-another-type",
}

/// 10,000 session files, three times over: slow in a debug build, so out of
/// the default run (`cargo test --test cli hostile_family -- --ignored`).
#[test]
#[ignore]
fn sessions_ten_thousand_tiny_sessions() {
    matrix("sessions-ten-thousand-tiny-sessions");
}

//! The per-session store (aios-events) and format detection, against the
//! journals the store's own crate wrote (`../shared/corpus/aios-*`; the
//! answers are its README's), always on a copy.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

use crate::common::{TestJournal, corpus_dir, journal_cmd, stdout_of};

/// A copy of a corpus folder (recursively) in a temp dir.
pub struct Store {
    pub _tmp: tempfile::TempDir,
    pub root: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), &dest).unwrap();
            let mut perms = fs::metadata(&dest).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            fs::set_permissions(&dest, perms).unwrap();
        }
    }
}

impl Store {
    pub fn corpus(name: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join(name);
        copy_tree(&corpus_dir().join(name), &root);
        Store { _tmp: tmp, root }
    }

    pub fn file(&self, session: &str) -> PathBuf {
        self.root.join("events").join(format!("{session}.jsonl"))
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = journal_cmd();
        cmd.args(args).arg(&self.root);
        cmd
    }

    pub fn json(&self, args: &[&str]) -> (Value, i32) {
        let out = self.cmd(args).output().unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?} printed no JSON ({e}); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out.status.code().unwrap())
    }

    /// The file's lines, each with its `\n`.
    pub fn lines(&self, session: &str) -> Vec<Vec<u8>> {
        fs::read(self.file(session))
            .unwrap()
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    }

    pub fn write_lines(&self, session: &str, lines: &[Vec<u8>]) {
        fs::write(self.file(session), lines.concat()).unwrap();
    }
}

const S1: &str = "sess-01-ec779c36";

/// The corpus README's "latest sequence per session and branch".
fn latest_of(v: &Value) -> Vec<(String, String, u64)> {
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["position"]["session"].as_str().unwrap().to_owned(),
                s["position"]["branch"].as_str().unwrap().to_owned(),
                s["latest"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn triples(t: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    t.iter()
        .map(|(s, b, n)| (s.to_string(), b.to_string(), *n))
        .collect()
}

#[test]
fn recover_prints_the_latest_sequence_of_every_session_and_branch() {
    let s = Store::corpus("aios-sessions");
    let (v, code) = s.json(&["recover", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(v["schema"], "journal-recover-streams/1");
    assert_eq!(v["format"], "sessions");
    assert_eq!(
        latest_of(&v),
        triples(&[
            (S1, "exp-1", 25),
            (S1, "main", 58),
            ("sess-02-082cfe88", "exp-1", 25),
            ("sess-02-082cfe88", "main", 47),
            ("sess-03-56a7458a", "exp-1", 32),
            ("sess-03-56a7458a", "main", 53),
        ])
    );
    let table = stdout_of(&mut s.cmd(&["recover"]));
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    // A file under 64 KiB is parsed whole; S1 (69730 bytes) only from its
    // end, the rest scanned (and the answer above is still exact).
    for stream in v["streams"].as_array().unwrap() {
        let file = stream["file"].as_str().unwrap();
        let size = fs::metadata(s.root.join("events").join(file))
            .unwrap()
            .len();
        assert_eq!(
            stream["extra"]["whole_file_parsed"],
            size < 64 * 1024,
            "{stream}"
        );
    }
    assert_eq!(rows[0], ["STREAM", "LATEST", "TIME"]);
    assert_eq!(rows[2][..2], [format!("{S1}/main").as_str(), "58"]);
    assert_eq!(rows.len(), 7);
}

#[test]
fn recover_on_the_crashed_store_counts_complete_records_and_names_the_damage() {
    let s = Store::corpus("aios-crashed");
    let out = s.cmd(&["recover", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // main 39 is the torn line: the latest complete one is 38; probe-session's
    // event 2 sits inside the glued line and counts.
    assert_eq!(
        latest_of(&v),
        triples(&[
            ("probe-session", "main", 2),
            ("sess-01-9ca8a164", "exp-1", 21),
            ("sess-01-9ca8a164", "main", 38),
            ("sess-02-5ff76408", "exp-1", 22),
            ("sess-02-5ff76408", "main", 38),
        ])
    );
    let unreadable: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        unreadable,
        ["probe-session.jsonl", "sess-02-5ff76408.jsonl"]
    );
}

/// (timestamp, session, branch, sequence, kind).
type Rec = (String, String, String, u64, String);

/// Every record of the copy, parsed here independently.
fn all_records(s: &Store) -> Vec<Rec> {
    let mut out = Vec::new();
    for entry in fs::read_dir(s.root.join("events")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        for line in fs::read_to_string(path).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            out.push((
                v["timestamp"].as_str().unwrap().to_owned(),
                v["session_id"].as_str().unwrap().to_owned(),
                v["branch_id"].as_str().unwrap().to_owned(),
                v["sequence"].as_u64().unwrap(),
                v["kind"]["type"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

fn jsonl(s: &Store, args: &[&str]) -> Vec<Value> {
    stdout_of(&mut s.cmd(args))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn inspect_merges_every_session_newest_first_by_timestamp() {
    let s = Store::corpus("aios-sessions");
    let mut want = all_records(&s);
    assert_eq!(want.len(), 240);
    want.sort();
    want.reverse();
    let got = jsonl(&s, &["inspect", "-o", "jsonl"]);
    assert_eq!(got.len(), 20);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g["timestamp"], w.0.as_str());
        assert_eq!(g["sequence"], w.3);
    }
    assert_eq!(jsonl(&s, &["inspect", "-a", "-o", "jsonl"]).len(), 240);
    let oldest = jsonl(&s, &["inspect", "--oldest-first", "-n", "1", "-o", "jsonl"]);
    assert_eq!(oldest[0]["timestamp"], want.last().unwrap().0.as_str());
    // Raw output is the stored line, byte for byte.
    let raw = stdout_of(&mut s.cmd(&["inspect", "-n", "1", "-o", "raw"]));
    let newest_file = fs::read_to_string(s.file(&want[0].1)).unwrap();
    assert!(newest_file.lines().any(|l| format!("{l}\n") == raw));
}

#[test]
fn inspect_filters_by_session_branch_kind_sequence_and_field() {
    let s = Store::corpus("aios-sessions");
    let all = all_records(&s);
    let count = |f: &dyn Fn(&Rec) -> bool| all.iter().filter(|r| f(r)).count();
    let got = jsonl(
        &s,
        &[
            "inspect",
            "-a",
            "-o",
            "jsonl",
            "--session",
            S1,
            "--branch",
            "exp-1",
        ],
    );
    assert_eq!(got.len(), 25);
    assert!(
        got.iter()
            .all(|r| r["branch_id"] == "exp-1" && r["session_id"] == S1)
    );
    let got = jsonl(&s, &["inspect", "-a", "-o", "jsonl", "-t", "BranchCreated"]);
    assert_eq!(got.len(), 3);
    let got = jsonl(&s, &["inspect", "-a", "-o", "jsonl", "-t", "UserMessage"]);
    assert_eq!(got.len(), count(&|r| r.4 == "UserMessage"));
    let got = jsonl(
        &s,
        &[
            "inspect",
            "-a",
            "-o",
            "jsonl",
            "--session",
            S1,
            "--branch",
            "main",
            "--seq",
            "58",
        ],
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["sequence"], 58);
    let got = jsonl(
        &s,
        &[
            "inspect",
            "-a",
            "-o",
            "jsonl",
            "-w",
            "kind.type=ErrorRaised",
        ],
    );
    assert_eq!(got.len(), count(&|r| r.4 == "ErrorRaised"));
    let got = jsonl(
        &s,
        &["inspect", "-a", "-o", "jsonl", "-w", "branch_id=exp-1"],
    );
    assert_eq!(got.len(), count(&|r| r.2 == "exp-1"));
    let since = "2026-11-20T09:05:00Z";
    let got = jsonl(&s, &["inspect", "-a", "-o", "jsonl", "--since", since]);
    assert_eq!(got.len(), count(&|r| r.0.as_str() >= since));
    assert!(!got.is_empty());
    let got = jsonl(&s, &["inspect", "-a", "-o", "jsonl", "-g", "rate limited"]);
    assert!(!got.is_empty());
    assert!(got.iter().all(|r| r.to_string().contains("rate limited")));
}

#[test]
fn inspect_table_shows_the_kind_and_a_summary() {
    let s = Store::corpus("aios-sessions");
    let table =
        stdout_of(&mut s.cmd(&["inspect", "-o", "table", "-n", "3", "-t", "BranchCreated"]));
    assert!(table.contains("BranchCreated"), "{table}");
    assert!(
        table.contains("new_branch_id") || table.contains("exp-1"),
        "{table}"
    );
}

#[test]
fn inspect_on_the_crashed_store_reads_past_the_damage_and_keeps_the_glued_event() {
    let s = Store::corpus("aios-crashed");
    let out = s
        .cmd(&["inspect", "-a", "-o", "jsonl", "--session", "probe-session"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let got: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = got
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 1]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("damage") || stderr.contains("glued"),
        "{stderr}"
    );
    assert_eq!(jsonl(&s, &["inspect", "-a", "-o", "jsonl"]).len(), 120 + 1);
}

#[test]
fn stats_says_the_format_and_counts_sessions_branches_and_kinds() {
    let s = Store::corpus("aios-sessions");
    let (v, code) = s.json(&["stats", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(v["schema"], "journal-stats-streams/1");
    assert_eq!(v["format"], "sessions");
    assert_eq!(
        (
            v["extra"]["sessions"].as_u64(),
            v["streams"].as_array().map(Vec::len)
        ),
        (Some(3), Some(6))
    );
    assert_eq!(v["events"], 240);
    let all = all_records(&s);
    let kinds = v["kinds"].as_object().unwrap();
    assert_eq!(
        kinds.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        240
    );
    assert_eq!(kinds["BranchCreated"], 3);
    assert_eq!(
        kinds["UserMessage"].as_u64().unwrap() as usize,
        all.iter().filter(|r| r.4 == "UserMessage").count()
    );
    let first = all.iter().map(|r| &r.0).min().unwrap();
    let last = all.iter().map(|r| &r.0).max().unwrap();
    assert_eq!(
        (&v["first_ts"], &v["last_ts"]),
        (&Value::from(first.as_str()), &Value::from(last.as_str()))
    );
    assert_eq!(
        (v["errors"].as_u64(), v["warnings"].as_u64()),
        (Some(0), Some(0))
    );
    let text = stdout_of(&mut s.cmd(&["stats"]));
    assert!(text.contains("format      sessions"), "{text}");
    let (v, _) = Store::corpus("aios-crashed").json(&["stats", "--json"]);
    assert_eq!(
        (v["errors"].as_u64(), v["warnings"].as_u64()),
        (Some(1), Some(1))
    );
}

// ---- detection ----

#[test]
fn every_shape_is_detected_and_the_unsupported_ones_say_so() {
    let j = TestJournal::corpus("bamboo-clean");
    j.cmd(&["recover"]).assert().success().stdout("2000\n");
    // Every family shape is recognised and read (each report names it).
    for (name, file, format) in [
        ("harn-file", "", "topics-jsonl"),
        ("harn-sqlite", "", "topics-sqlite"),
        ("camel-redb", "runtime-journal.redb", "redb"),
    ] {
        let s = Store::corpus(name);
        for cmd in ["recover", "stats", "verify"] {
            journal_cmd()
                .args([cmd, "--json"])
                .arg(s.root.join(file))
                .assert()
                .success()
                .stdout(predicate::str::contains(format!("\"format\":\"{format}\"")));
        }
    }
    // The SQLite file itself, and a SQLite file without the event log's tables.
    let s = Store::corpus("harn-sqlite");
    journal_cmd()
        .args(["stats", "--json"])
        .arg(s.root.join("events.sqlite"))
        .assert()
        .success()
        .stdout(predicate::str::contains("\"format\":\"topics-sqlite\""));
    let other = s.root.join("other");
    fs::create_dir(&other).unwrap();
    fs::write(
        other.join("x.db"),
        b"SQLite format 3\0 CREATE TABLE notes(a)",
    )
    .unwrap();
    journal_cmd()
        .args(["inspect"])
        .arg(&other)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "not a journal of any known format",
        ));
    // The session store is read from its root and from its events/ directory.
    let s = Store::corpus("aios-sessions");
    for dir in [s.root.clone(), s.root.join("events")] {
        journal_cmd()
            .args(["stats", "--json"])
            .arg(&dir)
            .assert()
            .success()
            .stdout(predicate::str::contains("\"format\":\"sessions\""));
    }
}

#[test]
fn a_directory_matching_nothing_lists_what_was_looked_for() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("notes.txt"), b"hello\n").unwrap();
    let out = journal_cmd()
        .arg("inspect")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    for looked_for in [
        "events-<seq>.jsonl",
        "events/<session-id>.jsonl",
        "topics/",
        "SQLite",
        "redb",
    ] {
        assert!(err.contains(looked_for), "{looked_for} missing from {err}");
    }
    assert!(err.contains("--format"), "{err}");
}

#[test]
fn a_directory_matching_two_asks_for_format_and_format_chooses() {
    let s = Store::corpus("aios-sessions");
    let clean = corpus_dir().join("bamboo-clean");
    for entry in fs::read_dir(&clean).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), s.root.join(entry.file_name())).unwrap();
    }
    s.cmd(&["recover"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("segments, sessions"))
        .stderr(predicate::str::contains("--format"));
    s.cmd(&["recover", "--format", "segments"])
        .assert()
        .success()
        .stdout("2000\n");
    let (v, _) = s.json(&["recover", "--json", "--format", "sessions"]);
    assert_eq!(latest_of(&v).len(), 6);
}

#[test]
fn prune_and_append_refuse_the_session_store() {
    let s = Store::corpus("aios-sessions");
    let before = all_records(&s);
    for args in [&["prune"][..], &["append"][..]] {
        s.cmd(args)
            .write_stdin("{}\n")
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "does not support the sessions format",
            ));
    }
    assert_eq!(all_records(&s), before);
    let j = TestJournal::corpus("bamboo-clean");
    j.cmd(&["inspect", "--branch", "main"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--branch"));
}

// ---- verify ----

/// (kind, severity, file, line, offset, len).
type Place = (String, String, String, u64, u64, u64);

/// `verify --json`'s defects.
fn defects(v: &Value) -> Vec<Place> {
    v["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["severity"].as_str().unwrap().to_owned(),
                d["file"].as_str().unwrap().to_owned(),
                d["line"].as_u64().unwrap(),
                d["offset"].as_u64().unwrap(),
                d["len"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn d(
    kind: &str,
    sev: &str,
    file: &str,
    line: u64,
    offset: u64,
    len: u64,
) -> (String, String, String, u64, u64, u64) {
    (kind.into(), sev.into(), file.into(), line, offset, len)
}

fn offset_of(lines: &[Vec<u8>], index: usize) -> u64 {
    lines[..index].iter().map(|l| l.len() as u64).sum()
}

#[test]
fn verify_a_clean_store_is_silent_and_the_crashed_one_exact() {
    let s = Store::corpus("aios-sessions");
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!((code, v["ok"].as_bool()), (0, Some(true)));
    assert_eq!(v["schema"], "journal-verify-streams/1");
    assert!(defects(&v).is_empty());

    let s = Store::corpus("aios-crashed");
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(
        defects(&v),
        [
            d("glued-line", "error", "probe-session.jsonl", 2, 361, 377),
            d(
                "torn-tail",
                "warning",
                "sess-02-5ff76408.jsonl",
                61,
                38375,
                428
            ),
        ]
    );
    let glued = v["defects"][0]["detail"].as_str().unwrap();
    assert!(
        glued.contains("17-byte") && glued.contains("sequence 2"),
        "{glued}"
    );
    let out = s.cmd(&["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("probe-session.jsonl\n  error glued-line: line 2, byte 361, 377 bytes"),
        "{text}"
    );
}

#[test]
fn verify_locates_gaps_repeats_and_steps_back_per_branch() {
    let file = format!("{S1}.jsonl");
    // A gap: main 10 (line 10) removed.
    let s = Store::corpus("aios-sessions");
    let mut lines = s.lines(S1);
    lines.remove(9);
    s.write_lines(S1, &lines);
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(
        defects(&v),
        [d(
            "seq-gap",
            "error",
            &file,
            10,
            offset_of(&lines, 9),
            lines[9].len() as u64 - 1
        )]
    );
    assert_eq!(
        (
            v["defects"][0]["before"].as_u64(),
            v["defects"][0]["after"].as_u64()
        ),
        (Some(9), Some(11))
    );
    assert!(
        v["defects"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("branch main")
    );

    // A repeat: line 10 written twice.
    let s = Store::corpus("aios-sessions");
    let mut lines = s.lines(S1);
    lines.insert(10, lines[9].clone());
    s.write_lines(S1, &lines);
    let (v, _) = s.json(&["verify", "--json"]);
    assert_eq!(
        defects(&v),
        [d(
            "seq-repeated",
            "error",
            &file,
            11,
            offset_of(&lines, 10),
            lines[10].len() as u64 - 1
        )]
    );

    // A step back: lines 10 and 11 swapped (11 then skips, 10 goes back).
    let s = Store::corpus("aios-sessions");
    let mut lines = s.lines(S1);
    lines.swap(9, 10);
    s.write_lines(S1, &lines);
    let (v, _) = s.json(&["verify", "--json"]);
    let got = defects(&v);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "seq-gap");
    assert_eq!(
        got[1],
        d(
            "seq-backwards",
            "error",
            &file,
            11,
            offset_of(&lines, 10),
            lines[10].len() as u64 - 1
        )
    );

    // Sequences are per branch: the corpus interleaves main and exp-1 and is clean.
    let all = all_records(&Store::corpus("aios-sessions"));
    assert!(all.iter().any(|r| r.2 == "exp-1" && r.3 == 1));
}

#[test]
fn verify_names_a_foreign_session_id_and_an_unparseable_line_that_bricks_the_session() {
    let file = format!("{S1}.jsonl");
    let s = Store::corpus("aios-sessions");
    let mut lines = s.lines(S1);
    let foreign = String::from_utf8(lines[4].clone())
        .unwrap()
        .replace(S1, "sess-99-elsewhere");
    lines[4] = foreign.into_bytes();
    lines.insert(20, b"not json at all\n".to_vec());
    lines.insert(30, b"{\"hello\":1}\n".to_vec());
    s.write_lines(S1, &lines);
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(
        defects(&v),
        [
            d(
                "session-mismatch",
                "error",
                &file,
                5,
                offset_of(&lines, 4),
                lines[4].len() as u64 - 1
            ),
            d("not-json", "error", &file, 21, offset_of(&lines, 20), 15),
            d(
                "not-event-record",
                "error",
                &file,
                31,
                offset_of(&lines, 30),
                11
            ),
        ]
    );
    for i in [1, 2] {
        let detail = v["defects"][i]["detail"].as_str().unwrap();
        assert!(
            detail.contains("the runtime cannot open this session at all"),
            "{detail}"
        );
    }
    // The rest still reads: every other event is there.
    assert_eq!(
        jsonl(&s, &["inspect", "-a", "-o", "jsonl", "--session", S1]).len(),
        83 - 1
    );
}

#[test]
fn verify_a_torn_tail_is_a_warning_at_its_exact_place() {
    let s = Store::corpus("aios-sessions");
    let bytes = fs::read(s.file(S1)).unwrap();
    let lines = s.lines(S1);
    let last_start = offset_of(&lines, lines.len() - 1);
    fs::write(s.file(S1), &bytes[..last_start as usize + 100]).unwrap();
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        defects(&v),
        [d(
            "torn-tail",
            "warning",
            &format!("{S1}.jsonl"),
            lines.len() as u64,
            last_start,
            100
        )]
    );
    let (_, strict) = s.json(&["verify", "--json", "--strict"]);
    assert_eq!(strict, 1);
}

// ---- repair ----

/// Every file of the events directory, by name.
fn snapshot(s: &Store) -> std::collections::BTreeMap<String, Vec<u8>> {
    fs::read_dir(s.root.join("events"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Every line parses as the store's EventRecord (the fields it requires).
fn assert_every_line_is_a_record(s: &Store) {
    for (name, bytes) in snapshot(s)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".jsonl"))
    {
        assert!(bytes.ends_with(b"\n"), "{name} does not end in a newline");
        for line in String::from_utf8(bytes).unwrap().lines() {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
            for field in [
                "event_id",
                "session_id",
                "agent_id",
                "branch_id",
                "sequence",
                "timestamp",
                "actor",
                "schema",
                "kind",
            ] {
                assert!(v.get(field).is_some(), "{name}: no {field} in {line}");
            }
        }
    }
}

fn without_quarantine(v: &Value) -> Value {
    let mut steps = v["steps"].clone();
    for s in steps.as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("quarantine");
    }
    steps
}

#[test]
fn repair_cuts_the_torn_tail_and_unglues_the_glued_line_losing_no_event() {
    let s = Store::corpus("aios-crashed");
    let before = snapshot(&s);
    let (plan, code) = s.json(&["repair", "--dry-run", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(snapshot(&s), before, "a dry run changed something");
    assert_eq!(plan["schema"], "journal-repair-streams/1");
    let (done, code) = s.json(&["repair", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(without_quarantine(&plan), without_quarantine(&done));
    assert_eq!(
        (done["errors"].as_u64(), done["warnings"].as_u64()),
        (Some(0), Some(0))
    );
    let steps = done["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        (
            &steps[0]["action"],
            &steps[0]["file"],
            &steps[0]["line"],
            &steps[0]["offset"],
            &steps[0]["len"],
            &steps[0]["kept"]["sequence"]
        ),
        (
            &"unglue".into(),
            &"probe-session.jsonl".into(),
            &2.into(),
            &361.into(),
            &17.into(),
            &2.into()
        )
    );
    assert_eq!(
        (&steps[1]["action"], &steps[1]["offset"], &steps[1]["len"]),
        (&"cut-torn-tail".into(), &38375.into(), &428.into())
    );

    let after = snapshot(&s);
    assert_every_line_is_a_record(&s);
    // Each file is rebuilt exactly from what is left and its quarantine.
    for step in steps {
        let file = step["file"].as_str().unwrap();
        let q = &after[step["quarantine"].as_str().unwrap()];
        let offset = step["offset"].as_u64().unwrap() as usize;
        assert_eq!(q.len() as u64, step["len"].as_u64().unwrap());
        let mut rebuilt = after[file][..offset].to_vec();
        rebuilt.extend_from_slice(q);
        rebuilt.extend_from_slice(&after[file][offset..]);
        assert_eq!(rebuilt, before[file], "{file}");
    }
    assert_eq!(
        after[steps[0]["quarantine"].as_str().unwrap()],
        b"{\"event_id\":\"torn"
    );
    // Every complete event is kept: 120 + probe-session's two.
    assert_eq!(all_records(&s).len(), 119 + 2);
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!((code, defects(&v).len()), (0, 0));
    let (again, code) = s.json(&["repair", "--json"]);
    assert_eq!((code, again["steps"].as_array().unwrap().len()), (0, 0));
}

#[test]
fn repair_drops_an_unparseable_line_only_when_asked() {
    let s = Store::corpus("aios-sessions");
    let mut lines = s.lines(S1);
    lines.insert(20, b"not json at all\n".to_vec());
    s.write_lines(S1, &lines);
    let (v, code) = s.json(&["repair", "--json"]);
    assert_eq!((code, v["steps"].as_array().unwrap().len()), (1, 0));
    assert_eq!(v["left"][0]["kind"], "not-json");
    let (v, code) = s.json(&["repair", "--json", "--drop-corrupt-lines"]);
    assert_eq!(code, 0);
    assert_eq!(v["steps"][0]["action"], "drop-line");
    assert_eq!(v["steps"][0]["len"], 16);
    let q = fs::read(
        s.root
            .join("events")
            .join(v["steps"][0]["quarantine"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(q, b"not json at all\n");
    assert_every_line_is_a_record(&s);
    assert_eq!(all_records(&s).len(), 240);
}

#[test]
fn repair_leaves_a_file_another_process_holds_open_unless_forced() {
    let s = Store::corpus("aios-crashed");
    let torn = s.file("sess-02-5ff76408");
    let mut holder = std::process::Command::new("sleep")
        .arg("30")
        .stdin(fs::File::open(&torn).unwrap())
        .spawn()
        .unwrap();
    let before = fs::read(&torn).unwrap();
    let (v, code) = s.json(&["repair", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(v["refused"][0]["file"], "sess-02-5ff76408.jsonl");
    assert_eq!(v["refused"][0]["extra"]["holders"][0]["pid"], holder.id());
    assert_eq!(v["refused"][0]["extra"]["holders"][0]["process"], "sleep");
    assert_eq!(fs::read(&torn).unwrap(), before, "a held file was touched");
    // The other file was repaired.
    assert_eq!(v["steps"][0]["file"], "probe-session.jsonl");
    let text = String::from_utf8(s.cmd(&["repair", "--dry-run"]).output().unwrap().stdout).unwrap();
    assert!(
        text.contains(&format!("held open by pid {} (sleep)", holder.id())),
        "{text}"
    );
    let (v, code) = s.json(&["repair", "--json", "--force"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(code, 0);
    assert_eq!(v["steps"][0]["action"], "cut-torn-tail");
    assert_every_line_is_a_record(&s);
}

// ---- tail ----

#[test]
fn tail_prints_the_last_records_across_sessions_oldest_first() {
    let s = Store::corpus("aios-sessions");
    let mut want = all_records(&s);
    want.sort();
    let got = jsonl(&s, &["tail", "-n", "3", "-o", "jsonl"]);
    let got: Vec<(&str, u64)> = got
        .iter()
        .map(|r| {
            (
                r["timestamp"].as_str().unwrap(),
                r["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(&str, u64)> = want[want.len() - 3..]
        .iter()
        .map(|r| (r.0.as_str(), r.3))
        .collect();
    assert_eq!(got, want);
    let got = jsonl(
        &s,
        &[
            "tail",
            "-n",
            "2",
            "-o",
            "jsonl",
            "--session",
            S1,
            "--branch",
            "exp-1",
        ],
    );
    let seqs: Vec<u64> = got
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [24, 25]);
}

/// `line` (a record of the corpus) as the record `sequence` of `session`.
pub(crate) fn record_like(line: &[u8], session: &str, sequence: u64) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(line).unwrap();
    v["session_id"] = session.into();
    v["sequence"] = sequence.into();
    v["branch_id"] = "main".into();
    v["timestamp"] = "2026-11-21T00:00:00.000000001Z".into();
    let mut out = serde_json::to_vec(&v).unwrap();
    out.push(b'\n');
    out
}

#[test]
fn tail_follows_every_session_file_and_new_ones_with_a_cursor_per_stream() {
    use std::io::Write as _;
    let s = Store::corpus("aios-sessions");
    let cursor = s._tmp.path().join("cursor.json");
    // The first run from no cursor prints everything and stores the latest per stream.
    let all = jsonl(
        &s,
        &[
            "tail",
            "-o",
            "jsonl",
            "--cursor-file",
            cursor.to_str().unwrap(),
        ],
    );
    assert_eq!(all.len(), 240);
    let saved: Value = serde_json::from_str(&fs::read_to_string(&cursor).unwrap()).unwrap();
    assert_eq!(saved["streams"][format!("{S1}/main")], 58);
    assert_eq!(saved["streams"][format!("{S1}/exp-1")], 25);

    let template = s.lines(S1)[0].clone();
    let follow = crate::common::Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "--poll".as_ref(),
        "50ms".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        "--cursor-file".as_ref(),
        cursor.as_os_str(),
        s.root.as_os_str(),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(follow.stdout(), "", "nothing new yet");
    // An append to an existing session, written in two pieces (a torn moment).
    let next = record_like(&template, S1, 59);
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(s.file(S1))
        .unwrap();
    f.write_all(&next[..50]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    f.write_all(&next[50..]).unwrap();
    follow.wait_for("main 59", |out, _| out.lines().count() == 1);
    // A new session file.
    fs::write(
        s.file("sess-04-new"),
        record_like(&template, "sess-04-new", 1),
    )
    .unwrap();
    follow.wait_for("the new session", |out, _| out.lines().count() == 2);
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    let got: Vec<(String, u64)> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["session_id"].as_str().unwrap().to_owned(),
                v["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(S1.to_owned(), 59), ("sess-04-new".to_owned(), 1)]);
    let saved: Value = serde_json::from_str(&fs::read_to_string(&cursor).unwrap()).unwrap();
    assert_eq!(saved["streams"][format!("{S1}/main")], 59);
    assert_eq!(saved["streams"]["sess-04-new/main"], 1);
    // Resuming from the cursor prints nothing twice.
    assert_eq!(
        jsonl(
            &s,
            &[
                "tail",
                "-o",
                "jsonl",
                "--cursor-file",
                cursor.to_str().unwrap()
            ]
        )
        .len(),
        0
    );
}

/// Every read-only subcommand leaves the store it reads byte-identical and
/// adds no file (the store takes no lock; `journal` must not add one).
#[test]
fn reading_a_store_leaves_it_byte_identical_with_no_new_file() {
    let s = Store::corpus("aios-crashed");
    let before = snapshot(&s);
    let root_entries = |s: &Store| {
        let mut names: Vec<String> = fs::read_dir(&s.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let root_before = root_entries(&s);
    for args in [
        &["inspect", "--all"][..],
        &["inspect", "-o", "json", "--branch", "main"],
        &["recover"],
        &["recover", "--json"],
        &["stats", "--json"],
        &["verify", "--json"],
        &["tail", "-n", "5"],
        &["repair", "--dry-run"],
    ] {
        s.cmd(args).output().unwrap();
        assert_eq!(snapshot(&s), before, "{args:?} changed the store");
        assert_eq!(root_entries(&s), root_before, "{args:?} added a file");
    }
}

// ---- a last line with no newline, an unreadable file, tail -f's watcher ----

#[test]
fn a_complete_last_line_without_newline_is_its_own_warning_and_repair_adds_it() {
    let s = Store::corpus("aios-sessions");
    let file = format!("{S1}.jsonl");
    let whole = fs::read(s.file(S1)).unwrap();
    fs::write(s.file(S1), &whole[..whole.len() - 1]).unwrap();
    let lines = s.lines(S1);
    let last = lines.len() - 1;
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 0, "a warning");
    assert_eq!(
        defects(&v),
        [d(
            "missing-newline",
            "warning",
            &file,
            lines.len() as u64,
            offset_of(&lines, last),
            lines[last].len() as u64
        )]
    );
    // The record inside is S1's exp-1 25, the file's last.
    assert_eq!(v["defects"][0]["after"], 25);
    let detail = v["defects"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("exp-1 sequence 25") && detail.contains("glue"),
        "{detail}"
    );
    assert_eq!(s.json(&["verify", "--json", "--strict"]).1, 1);
    // It is a record: every reader counts it, no read calls it skipped.
    let (v, _) = s.json(&["recover", "--json"]);
    assert!(latest_of(&v).contains(&(S1.to_owned(), "exp-1".to_owned(), 25)));
    let out = s.cmd(&["inspect", "-a", "-o", "jsonl"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout.iter().filter(|&&b| b == b'\n').count(), 240);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("skipped"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Repair adds the newline: nothing removed, nothing quarantined, and
    // the dry run says exactly what the real run does.
    let before = snapshot(&s);
    let (plan, code) = s.json(&["repair", "--dry-run", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(snapshot(&s), before, "a dry run changed something");
    let (done, code) = s.json(&["repair", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(plan["steps"], done["steps"]);
    let step = &done["steps"][0];
    assert_eq!(
        (
            &step["action"],
            &step["file"],
            &step["offset"],
            &step["len"],
            &step["kept"]["sequence"],
            &step["quarantine"]
        ),
        (
            &"add-newline".into(),
            &file.as_str().into(),
            &(whole.len() as u64 - 1).into(),
            &0.into(),
            &25.into(),
            &Value::Null
        )
    );
    assert_eq!(fs::read(s.file(S1)).unwrap(), whole, "exactly the original");
    assert_eq!(
        snapshot(&s).keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "no quarantine file"
    );
    assert_every_line_is_a_record(&s);
    let (v, code) = s.json(&["verify", "--json", "--strict"]);
    assert_eq!((code, defects(&v).len()), (0, 0));
}

#[test]
fn an_unreadable_session_file_is_named_and_the_others_still_read() {
    let s = Store::corpus("aios-sessions");
    let bad = "sess-02-082cfe88.jsonl";
    let run = |args: &[&str]| {
        let out = s
            .cmd(args)
            .env("JOURNAL_TEST_UNREADABLE_SESSION", bad)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    // inspect: the other sessions' 240 - 72 events, the file named, exit 2.
    let (code, out, err) = run(&["inspect", "-a", "-o", "jsonl"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(out.lines().count(), 240 - 72);
    assert!(
        err.contains(bad) && err.contains("unreadable") && err.contains("permission denied"),
        "{err}"
    );
    // recover: the others' heads, the file a problem, exit 2.
    let (code, out, err) = run(&["recover", "--json"]);
    assert_eq!(code, 2, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        latest_of(&v),
        triples(&[
            (S1, "exp-1", 25),
            (S1, "main", 58),
            ("sess-03-56a7458a", "exp-1", 32),
            ("sess-03-56a7458a", "main", 53),
        ])
    );
    assert_eq!(
        (&v["problems"][0]["kind"], &v["problems"][0]["file"]),
        (&"unreadable".into(), &bad.into())
    );
    assert!(err.contains(bad), "{err}");
    // stats: counts the rest, names it, exit 2.
    let (code, out, err) = run(&["stats", "--json"]);
    assert_eq!(code, 2, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["events"], 240 - 72);
    assert_eq!(v["problems"][0]["file"], bad);
    // verify: an error at that file, the rest checked.
    let (code, out, _) = run(&["verify", "--json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let found = &v["defects"].as_array().unwrap()[..];
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (&found[0]["kind"], &found[0]["severity"], &found[0]["file"]),
        (&"unreadable".into(), &"error".into(), &bad.into())
    );
    assert_eq!(v["records"], 240 - 72);
    // tail: the rest, exit 2.
    let (code, out, _) = run(&["tail", "-n", "3", "-o", "jsonl"]);
    assert_eq!((code, out.lines().count()), (2, 3));
}

#[test]
fn tail_follow_watches_the_store_and_waits_for_it_only_with_retry() {
    let s = Store::corpus("aios-sessions");
    let template = s.lines(S1)[0].clone();
    let events = s.root.join("events");
    // No --poll: the directory is watched (a poll would be the 5 s rescan).
    let follow = crate::common::Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "-n".as_ref(),
        "1".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        s.root.as_os_str(),
    ]);
    follow.wait_first_read();
    let started = std::time::Instant::now();
    fs::write(
        s.file("sess-05-new"),
        record_like(&template, "sess-05-new", 1),
    )
    .unwrap();
    follow.wait_for("the new file", |out, _| out.lines().count() == 2);
    {
        use std::io::Write as _;
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(s.file(S1))
            .unwrap();
        f.write_all(&record_like(&template, S1, 59)).unwrap();
    }
    follow.wait_for("the append", |out, _| out.lines().count() == 3);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "woken by the watcher, not the 5 s rescan: {:?}",
        started.elapsed()
    );
    // The directory removed: without --retry, an error (exit 2).
    fs::rename(&events, s.root.join("events.old")).unwrap();
    let (status, _, err) = follow.wait_exit();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("removed") && err.contains("--retry"), "{err}");

    // With --retry: it waits, and reads the directory made again from its start.
    fs::rename(s.root.join("events.old"), &events).unwrap();
    let follow = crate::common::Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "--retry".as_ref(),
        "-n".as_ref(),
        "0".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        s.root.as_os_str(),
    ]);
    std::thread::sleep(Duration::from_millis(500));
    fs::rename(&events, s.root.join("events.old")).unwrap();
    follow.wait_for("the wait", |_, err| err.contains("waiting"));
    fs::create_dir(&events).unwrap();
    fs::write(
        events.join("sess-06-new.jsonl"),
        record_like(&template, "sess-06-new", 1),
    )
    .unwrap();
    follow.wait_for("the new directory's file", |out, _| {
        out.contains("sess-06-new")
    });
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn tail_follow_retry_waits_for_a_store_not_there_yet() {
    let s = Store::corpus("aios-sessions");
    let template = s.lines(S1)[0].clone();
    let root = s._tmp.path().join("later");
    let follow = crate::common::Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "--retry".as_ref(),
        "--format".as_ref(),
        "sessions".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        root.as_os_str(),
    ]);
    follow.wait_for("the wait", |_, err| err.contains("waiting"));
    fs::create_dir_all(root.join("events")).unwrap();
    fs::write(
        root.join("events").join("sess-07-late.jsonl"),
        record_like(&template, "sess-07-late", 1),
    )
    .unwrap();
    follow.wait_for("the late store's record", |out, _| {
        out.contains("sess-07-late")
    });
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    // Without --retry, a store that is not there is an error at once.
    journal_cmd()
        .args(["tail", "-f", "--format", "sessions"])
        .arg(s._tmp.path().join("never"))
        .assert()
        .code(2);
}

/// `path` replaced (renamed over) by a file of `records`: another inode.
fn replace_with(path: &Path, records: &[Vec<u8>]) {
    let tmp = path.with_extension("new");
    fs::write(&tmp, records.concat()).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn envelope_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A session file replaced by another whose sequences start again (a new
/// history under the same session id) while a follower reads it: a reset
/// (stderr, a `"type":"reset"` envelope object), then the new records
/// from their start, none skipped because they sit below the old position.
#[test]
fn tail_follow_reads_a_replaced_session_file_again_from_its_start() {
    let s = Store::corpus("aios-sessions");
    let template = s.lines(S1)[0].clone();
    let cursor = s._tmp.path().join("cursor.json");
    let all = jsonl(
        &s,
        &[
            "tail",
            "-o",
            "jsonl",
            "--cursor-file",
            cursor.to_str().unwrap(),
        ],
    );
    assert_eq!(all.len(), 240);
    let follow = crate::common::Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "--poll".as_ref(),
        "50ms".as_ref(),
        "-o".as_ref(),
        "envelope".as_ref(),
        "--cursor-file".as_ref(),
        cursor.as_os_str(),
        s.root.as_os_str(),
    ]);
    std::thread::sleep(Duration::from_millis(400));
    let new: Vec<Vec<u8>> = (1..=3).map(|n| record_like(&template, S1, n)).collect();
    replace_with(&s.file(S1), &new);
    follow.wait_for("two resets and three records", |out, _| {
        out.lines().count() == 5
    });
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    let lines = envelope_lines(&out);
    // main's newest (3) is below its position (58): it went back; exp-1
    // holds nothing yet, and its file is another one: it starts again too.
    let resets: Vec<(String, u64, String)> = lines[..2]
        .iter()
        .map(|l| {
            assert_eq!(l["type"], "reset", "{out}");
            let stream = l["stream"].as_str().unwrap().to_owned();
            assert!(
                l["id"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!(":{stream}/reset-{}", l["after"])),
                "{out}"
            );
            (
                stream,
                l["after"].as_u64().unwrap(),
                l["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        resets,
        [
            (format!("{S1}/main"), 58, "went-back".to_owned()),
            (format!("{S1}/exp-1"), 25, "replaced".to_owned()),
        ]
    );
    let seqs: Vec<u64> = lines[2..]
        .iter()
        .map(|l| l["record"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3], "{out}");
    assert!(
        err.contains(&format!("stream {S1}/main")) && err.contains("below 58"),
        "{err}"
    );
    assert!(
        err.contains(&format!("stream {S1}/exp-1")) && err.contains("replaced"),
        "{err}"
    );
    // The cursor holds the new stream's position; the other branch of the
    // old file (exp-1, 25) is gone from it too: it is read from its start
    // when it comes back.
    let saved: Value = serde_json::from_str(&fs::read_to_string(&cursor).unwrap()).unwrap();
    assert_eq!(saved["streams"][format!("{S1}/main")], 3);
    assert!(
        saved["streams"].get(format!("{S1}/exp-1")).is_none(),
        "{saved}"
    );
    // A branch of the new history with a sequence below the old one's is
    // read too, not taken for a repeat.
    let follow = crate::common::Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "--poll".as_ref(),
        "50ms".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        "--cursor-file".as_ref(),
        cursor.as_os_str(),
        s.root.as_os_str(),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    {
        use std::io::Write as _;
        let mut v: Value = serde_json::from_slice(&record_like(&template, S1, 2)).unwrap();
        v["branch_id"] = "exp-1".into();
        let mut line = serde_json::to_vec(&v).unwrap();
        line.push(b'\n');
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(s.file(S1))
            .unwrap();
        f.write_all(&line).unwrap();
    }
    follow.wait_for("exp-1 2", |out, _| out.lines().count() == 1);
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (v["branch_id"].as_str(), v["sequence"].as_u64()),
        (Some("exp-1"), Some(2))
    );
}

/// A session file rewritten with the same records (as repair does: another
/// inode, the same first line) is no restart: nothing is printed twice.
#[test]
fn tail_follow_does_not_restart_a_session_file_rewritten_with_its_own_records() {
    use std::io::Write as _;
    let s = Store::corpus("aios-sessions");
    let template = s.lines(S1)[0].clone();
    let follow = crate::common::Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "--poll".as_ref(),
        "50ms".as_ref(),
        "-n".as_ref(),
        "0".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        s.root.as_os_str(),
    ]);
    std::thread::sleep(Duration::from_millis(400));
    let same = fs::read(s.file(S1)).unwrap();
    replace_with(&s.file(S1), &[same]);
    std::thread::sleep(Duration::from_millis(400));
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(s.file(S1))
        .unwrap();
    f.write_all(&record_like(&template, S1, 59)).unwrap();
    follow.wait_for("main 59", |out, _| out.lines().count() == 1);
    std::thread::sleep(Duration::from_millis(300));
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(!err.contains("started again"), "{err}");
}

/// Between two runs: a cursor whose position is above everything its stream
/// now holds (the session started again) reads the stream from its start,
/// with the reset said; the next run prints nothing twice.
#[test]
fn tail_cursor_above_a_stream_that_went_back_reads_it_from_its_start() {
    let s = Store::corpus("aios-sessions");
    let template = s.lines(S1)[0].clone();
    let cursor = s._tmp.path().join("cursor.json");
    let all = jsonl(
        &s,
        &[
            "tail",
            "-o",
            "jsonl",
            "--cursor-file",
            cursor.to_str().unwrap(),
        ],
    );
    assert_eq!(all.len(), 240);
    let new: Vec<Vec<u8>> = (1..=2).map(|n| record_like(&template, S1, n)).collect();
    replace_with(&s.file(S1), &new);
    let out = s
        .cmd(&[
            "tail",
            "-o",
            "envelope",
            "--cursor-file",
            cursor.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines = envelope_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["type"], "reset");
    assert_eq!(lines[0]["reason"], "went-back");
    assert_eq!(lines[0]["after"], 58);
    assert_eq!(lines[1]["record"]["sequence"], 1);
    assert_eq!(lines[2]["record"]["sequence"], 2);
    assert!(err.contains("below 58"), "{err}");
    assert!(
        jsonl(
            &s,
            &[
                "tail",
                "-o",
                "jsonl",
                "--cursor-file",
                cursor.to_str().unwrap()
            ]
        )
        .is_empty()
    );
}

/// A stream filter a format has no streams for is refused (exit 2, the flag
/// and the format named), never ignored: ignored, it would show every stream
/// as if it had matched.
#[test]
fn a_stream_filter_of_another_format_is_refused_not_ignored() {
    let cases: [(&str, &[&str]); 3] = [
        ("aios-sessions", &["--topic", "triggers.inbox"]),
        ("harn-file", &["--route", "route-4"]),
        ("harn-sqlite", &["--branch", "main"]),
    ];
    for (corpus, filter) in cases {
        let s = Store::corpus(corpus);
        for cmd in [
            &["inspect", "-n", "3"][..],
            &["tail", "-n", "3"],
            &["recover"],
            &["stats"],
        ] {
            let args: Vec<&str> = cmd.iter().chain(filter).copied().collect();
            let out = s.cmd(&args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{corpus} {args:?}: {stderr}");
            assert!(out.stdout.is_empty(), "{corpus} {args:?} printed records");
            assert!(
                stderr.contains(filter[0]) && stderr.contains("does not have"),
                "{corpus} {args:?}: {stderr}"
            );
        }
    }
    // The format's own filter still works.
    let s = Store::corpus("aios-sessions");
    let out = s
        .cmd(&["inspect", "-n", "1", "--branch", "main"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"branch_id\":\"main\""));
}

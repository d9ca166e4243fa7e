//! `journal append`: engine-compatible lines, validation, tail cut, rotation,
//! concurrent appenders, the claim.

use std::fs;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

const ERR_EVENT: &str = r#"{"type":"error","message":"disk full: /var/lib/bamboo 🚀"}"#;

#[test]
fn appends_events_in_the_engines_field_order_and_prints_the_range() {
    let j = TestJournal::new();
    let input = format!(
        "{ERR_EVENT}\n\n{}\r\n{}\n",
        r#"{ "type" : "complete", "usage": {"z": 1, "a": 2} }"#,
        r#"{"type":"config.changed","section":"hooks","revision":4}"#
    );
    let before = chrono::Utc::now();
    append_cmd(&j.dir, &["--session", "sess-9"], &input)
        .assert()
        .success()
        .stdout("1..3\n");
    let lines = all_lines(&j.dir);
    assert_eq!(
        lines.iter().map(|l| without_ts(l)).collect::<Vec<_>>(),
        [
            format!(r#"{{"seq":1,"ts":"TS","session_id":"sess-9","event":{ERR_EVENT}}}"#),
            r#"{"seq":2,"ts":"TS","session_id":"sess-9","event":{"type":"complete","usage":{"z":1,"a":2}}}"#
                .to_owned(),
            r#"{"seq":3,"ts":"TS","session_id":"sess-9","event":{"type":"config.changed","section":"hooks","revision":4}}"#
                .to_owned(),
        ]
    );
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap();
        let ts = chrono::DateTime::parse_from_rfc3339(v["ts"].as_str().unwrap()).unwrap();
        assert!(ts >= before && ts <= chrono::Utc::now(), "{line}");
        assert!(v["ts"].as_str().unwrap().ends_with('Z'), "{line}");
    }
    assert_eq!(j.segments(), [segment_name(1)]);
    // Continues from the max seq, without a session this time.
    append_cmd(&j.dir, &[], &format!("{ERR_EVENT}\n"))
        .assert()
        .success()
        .stdout("4..4\n");
    assert_eq!(
        without_ts(&all_lines(&j.dir)[3]),
        format!(r#"{{"seq":4,"ts":"TS","event":{ERR_EVENT}}}"#)
    );
}

#[test]
fn one_invalid_line_appends_nothing_unless_skip_invalid() {
    let j = TestJournal::with_events(5, 10);
    let before = j.snapshot();
    let input = format!(
        "{ERR_EVENT}\n{}\n{}\n[1]\n{{\"type\":\n{ERR_EVENT}\n",
        r#"{"type":"made_up","x":1}"#, r#"{"type":"execution_started","run_id":"r"}"#,
    );
    append_cmd(&j.dir, &[], &input)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "invalid: stdin:2: the engine does not know event type 'made_up'",
        ))
        .stderr(predicate::str::contains(
            "invalid: stdin:3: a 'execution_started' event needs 'session_id', 'started_at'",
        ))
        .stderr(predicate::str::contains(
            "invalid: stdin:4: not a JSON object",
        ))
        .stderr(predicate::str::contains("invalid: stdin:5: not JSON"))
        .stderr(predicate::str::contains(
            "nothing appended: 4 invalid input line(s)",
        ));
    assert_eq!(j.snapshot(), before, "nothing may change");

    append_cmd(&j.dir, &["--skip-invalid"], &input)
        .assert()
        .success()
        .stdout("6..7\n")
        .stderr(predicate::str::contains("skipped: stdin:2:"));
    append_cmd(&j.dir, &["--skip-invalid", "--any-type"], &input)
        .assert()
        .success()
        .stdout("8..11\n");
    let lines = all_lines(&j.dir);
    assert_eq!(seqs_of(&lines.join("\n")), (1..=11).collect::<Vec<_>>());
    assert!(lines[8].contains(r#""event":{"type":"made_up","x":1}"#));
}

#[test]
fn empty_input_appends_nothing() {
    let j = TestJournal::with_events(2, 10);
    let before = j.snapshot();
    append_cmd(&j.dir, &[], "\n  \n")
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("nothing to append"));
    assert_eq!(j.snapshot(), before);
}

#[test]
fn records_mode_keeps_session_and_event_and_reassigns_seq_and_ts() {
    let j = TestJournal::with_events(3, 10);
    let input = format!(
        "{}\n{}\n",
        r#"{"seq":77,"ts":"2001-01-01T00:00:00Z","session_id":"s-x","event":{"type":"cancelled"}}"#,
        r#"{"event":{"type":"cancelled"}}"#
    );
    append_cmd(&j.dir, &["--records"], &input)
        .assert()
        .success()
        .stdout("4..5\n");
    let lines = all_lines(&j.dir);
    assert_eq!(
        without_ts(&lines[3]),
        r#"{"seq":4,"ts":"TS","session_id":"s-x","event":{"type":"cancelled"}}"#
    );
    assert_eq!(
        without_ts(&lines[4]),
        r#"{"seq":5,"ts":"TS","event":{"type":"cancelled"}}"#
    );
    journal_cmd()
        .args(["append", "--records", "--session", "s"])
        .arg(&j.dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}

#[test]
fn a_torn_corpus_journal_is_cut_to_quarantine_then_extended() {
    let j = TestJournal::corpus("bamboo-torn");
    let torn = fs::read(j.path("events-00000000000000000286.jsonl")).unwrap()[7630..].to_vec();
    assert_eq!(torn.len(), 279);
    append_cmd(
        &j.dir,
        &["--session", "s-1"],
        &format!("{ERR_EVENT}\n{ERR_EVENT}\n"),
    )
    .assert()
    .success()
    .stdout("301..302\n")
    .stderr(predicate::str::contains(
        "cut a torn tail of 279 bytes from events-00000000000000000286.jsonl",
    ));
    let quarantine: Vec<_> = fs::read_dir(&j.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("quarantine-")
        })
        .collect();
    assert_eq!(quarantine.len(), 1);
    assert_eq!(fs::read(&quarantine[0]).unwrap(), torn);

    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "302\n");
    let out = stdout_of(&mut j.cmd(&["inspect", "-o", "raw", "--all", "--oldest-first"]));
    assert_eq!(seqs_of(&out), (1..=302).collect::<Vec<_>>());
    let seg = fs::read_to_string(j.path("events-00000000000000000286.jsonl")).unwrap();
    let tail: Vec<&str> = seg.lines().skip(15).collect();
    assert_eq!(tail.len(), 2);
    assert_eq!(
        without_ts(tail[1]),
        format!(r#"{{"seq":302,"ts":"TS","session_id":"s-1","event":{ERR_EVENT}}}"#)
    );
    let recovered: Value =
        serde_json::from_str(&stdout_of(&mut j.cmd(&["recover", "--json"]))).unwrap();
    assert_eq!(recovered["torn_tail"], Value::Null);
}

#[test]
fn the_clean_corpus_extended_rotates_like_the_engine() {
    let j = TestJournal::corpus("bamboo-clean");
    let input = format!("{ERR_EVENT}\n").repeat(40);
    append_cmd(&j.dir, &["--rotate-bytes", "64K"], &input)
        .assert()
        .success()
        .stdout("2001..2040\n");
    // events-1903 (63690 bytes) took lines until it reached 64 KiB; the next
    // line started a new segment named by its seq.
    let old = fs::read_to_string(j.path("events-00000000000000001903.jsonl")).unwrap();
    let last_line = old.lines().last().unwrap().len() + 1;
    assert!(
        old.len() >= 65536 && old.len() - last_line < 65536,
        "{}",
        old.len()
    );
    let next = 1903 + old.lines().count() as u64;
    let mut expected: Vec<String> = fs::read_dir(corpus_dir().join("bamboo-clean"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("events-"))
        .collect();
    expected.push(segment_name(next));
    expected.sort();
    assert_eq!(j.segments(), expected);
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "2040\n");
    let out = stdout_of(&mut j.cmd(&["inspect", "-o", "raw", "--all", "--oldest-first"]));
    assert_eq!(seqs_of(&out), (1..=2040).collect::<Vec<_>>());
}

#[test]
fn a_journal_made_by_append_reads_exactly_like_the_engines() {
    let engine = all_lines(&corpus_dir().join("bamboo-clean"));
    assert_eq!(engine.len(), 2000);
    let j = TestJournal::new();
    let input = engine.join("\n") + "\n";
    append_cmd(&j.dir, &["--records", "--rotate-bytes", "64K"], &input)
        .assert()
        .success()
        .stdout("1..2000\n");
    let ours = all_lines(&j.dir);
    assert_eq!(ours.len(), 2000);
    for (a, b) in engine.iter().zip(&ours) {
        assert_eq!(without_ts(a), without_ts(b));
    }
    // Every closed segment reached the threshold with its last line only.
    let listing: Vec<(String, u64)> = j
        .segments()
        .into_iter()
        .map(|n| {
            let len = fs::metadata(j.path(&n)).unwrap().len();
            (n, len)
        })
        .collect();
    for (name, len) in &listing[..listing.len() - 1] {
        let text = fs::read_to_string(j.path(name)).unwrap();
        let last = text.lines().last().unwrap().len() as u64 + 1;
        assert!(*len >= 65536 && len - last < 65536, "{name}: {len}");
    }
    let inspect = |dir: &std::path::Path| {
        let mut cmd = journal_cmd();
        cmd.args(["inspect", "-o", "jsonl", "--all"]).arg(dir);
        stdout_of(&mut cmd)
            .lines()
            .map(without_ts)
            .collect::<Vec<_>>()
    };
    assert_eq!(inspect(&j.dir), inspect(&corpus_dir().join("bamboo-clean")));
}

#[test]
fn concurrent_appenders_get_unique_contiguous_seqs() {
    let j = TestJournal::new();
    let dir = j.dir.clone();
    let run_batches = |session: &'static str| {
        let dir = dir.clone();
        std::thread::spawn(move || {
            let mut ranges = Vec::new();
            for batch in 0..12 {
                let input: String = (0..10)
                    .map(|i| {
                        format!("{{\"type\":\"error\",\"message\":\"{session} {batch} {i}\"}}\n")
                    })
                    .collect();
                let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("journal"))
                    .args([
                        "append",
                        "--wait",
                        "60s",
                        "--rotate-bytes",
                        "2K",
                        "--session",
                        session,
                    ])
                    .arg(&dir)
                    .env_clear()
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(input.as_bytes())
                    .unwrap();
                let out = child.wait_with_output().unwrap();
                assert!(out.status.success());
                let text = String::from_utf8(out.stdout).unwrap();
                let (a, b) = text.trim().split_once("..").unwrap();
                ranges.push((a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap(), batch));
            }
            ranges
        })
    };
    let (a, b) = (run_batches("sess-a"), run_batches("sess-b"));
    let mut ranges: Vec<(u64, u64, &str, i32)> = a
        .join()
        .unwrap()
        .into_iter()
        .map(|(x, y, n)| (x, y, "sess-a", n))
        .chain(
            b.join()
                .unwrap()
                .into_iter()
                .map(|(x, y, n)| (x, y, "sess-b", n)),
        )
        .collect();
    ranges.sort();
    let mut next = 1;
    for &(first, last, _, _) in &ranges {
        assert_eq!((first, last), (next, next + 9), "{ranges:?}");
        next = last + 1;
    }
    let lines = all_lines(&j.dir);
    assert_eq!(seqs_of(&lines.join("\n")), (1..=240).collect::<Vec<_>>());
    for &(first, _, session, batch) in &ranges {
        for i in 0..10u64 {
            let v: Value = serde_json::from_str(&lines[(first + i - 1) as usize]).unwrap();
            assert_eq!(v["session_id"], session);
            assert_eq!(v["event"]["message"], format!("{session} {batch} {i}"));
        }
    }
    assert!(
        j.segments().len() > 10,
        "rotation happened under contention"
    );
}

#[test]
fn a_held_claim_times_out_with_exit_3_and_changes_nothing() {
    let j = TestJournal::with_events(3, 10);
    let before = j.snapshot();
    let claim = hold_claim(&j.dir);
    let started = Instant::now();
    append_cmd(&j.dir, &["--wait", "300ms"], &format!("{ERR_EVENT}\n"))
        .assert()
        .code(3)
        .stdout("")
        .stderr(predicate::str::contains(
            ".account-journal.lock: the writer's claim is held by another process",
        ));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(j.snapshot(), before);
    drop(claim);
    append_cmd(&j.dir, &["--wait", "300ms"], &format!("{ERR_EVENT}\n"))
        .assert()
        .success()
        .stdout("4..4\n");
}

#[test]
fn a_missing_directory_is_an_error_not_created() {
    let j = TestJournal::new();
    let missing = j.dir.join("nope");
    append_cmd(&missing, &[], &format!("{ERR_EVENT}\n"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such directory"));
    assert!(!missing.exists());
}

#[test]
fn fsync_mode_appends_the_same_bytes() {
    let j = TestJournal::new();
    append_cmd(
        &j.dir,
        &["--fsync", "--rotate-bytes", "200"],
        &format!("{ERR_EVENT}\n").repeat(5),
    )
    .assert()
    .success()
    .stdout("1..5\n");
    assert_eq!(
        j.segments(),
        [segment_name(1), segment_name(3), segment_name(5)]
    );
}

#[test]
fn a_journal_left_with_only_a_torn_segment_continues_after_its_name() {
    let j = TestJournal::new();
    j.touch_lock();
    j.append_raw(&segment_name(301), br#"{"seq":301,"ts":"2026-11-20T"#);
    let out = stdout_of(&mut append_cmd(&j.dir, &[], "{\"type\":\"cancelled\"}\n"));
    assert_eq!(out.trim(), "301..301");
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "301\n");
    let quarantined: Vec<_> = std::fs::read_dir(&j.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("quarantine-"))
        .collect();
    assert_eq!(
        quarantined.len(),
        1,
        "the torn bytes are kept: {quarantined:?}"
    );
}

#[test]
fn the_last_seq_is_never_written_twice() {
    let j = TestJournal::new();
    let max = u64::MAX;
    j.write(
        &segment_name(max - 1),
        format!("{}\n{}\n", event_line(max - 1), event_line(max)).as_bytes(),
    );
    j.touch_lock();
    let before = j.snapshot();
    append_cmd(&j.dir, &[], &format!("{ERR_EVENT}\n"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("no seq left"));
    assert_eq!(j.snapshot(), before, "nothing written");
    let v: Value = serde_json::from_str(&stdout_of(&mut j.cmd(&["recover", "--json"]))).unwrap();
    assert_eq!(v["max_seq"], max);
    assert_eq!(v["next_seq"], Value::Null, "{v}");
}

/// Issue 16 item 2: `inspect` is newest first, so piping it into `append
/// --records` without `--oldest-first` would reverse the journal. Input whose
/// original seqs go backwards is refused, with a hint, and nothing is written;
/// the README's copy (with --oldest-first) keeps the order.
#[test]
fn records_whose_seqs_go_backwards_are_refused() {
    let old = TestJournal::with_events(6, 4);
    let reversed = stdout_of(&mut old.cmd(&["inspect", "-o", "jsonl", "--all"]));
    let new = TestJournal::new();
    append_cmd(&new.dir, &["--records"], &reversed)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "seq 5 comes after seq 6 (line 1)",
        ))
        .stderr(predicates::str::contains("--oldest-first"));
    assert!(new.segments().is_empty(), "nothing may be appended");

    let ordered = stdout_of(&mut old.cmd(&["inspect", "-o", "jsonl", "--all", "--oldest-first"]));
    append_cmd(&new.dir, &["--records"], &ordered)
        .assert()
        .success()
        .stdout("1..6\n");
    let copied: Vec<String> = all_lines(&new.dir).iter().map(|l| without_ts(l)).collect();
    let original: Vec<String> = all_lines(&old.dir).iter().map(|l| without_ts(l)).collect();
    assert_eq!(copied, original);
}

#[test]
fn a_segment_named_beyond_u64_is_named_by_verify_and_stops_append() {
    let j = TestJournal::with_events(3, 10);
    j.write(
        "events-99999999999999999999.jsonl",
        format!("{}\n", event_line(4)).as_bytes(),
    );
    j.touch_lock();
    let before = j.snapshot();
    let out = j.cmd(&["verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v["defects"][0];
    assert_eq!(d["segment"], "events-99999999999999999999.jsonl", "{v}");
    assert!(d["detail"].as_str().unwrap().contains("beyond"), "{v}");
    append_cmd(&j.dir, &[], &format!("{ERR_EVENT}\n"))
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "events-99999999999999999999.jsonl",
        ));
    assert_eq!(j.snapshot(), before, "nothing appended");
}

#[test]
fn an_io_error_names_its_cause_once() {
    let j = TestJournal::new();
    j.touch_lock();
    std::fs::create_dir(j.path(&segment_name(1))).unwrap();
    let out = append_cmd(&j.dir, &[], &format!("{ERR_EVENT}\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // Said once, and saying what holds the name (issue 13 items 19, 21).
    assert_eq!(
        err.matches("a directory already holds the next segment's name")
            .count(),
        1,
        "{err}"
    );
}

//! `journal stats`: exact figures on the engine's corpus and on damage.

use predicates::prelude::*;
use serde_json::{Value, json};

use crate::common::*;

fn stats_json(j: &TestJournal, extra: &[&str]) -> Value {
    let args = [&["stats", "--json"][..], extra].concat();
    serde_json::from_str(&stdout_of(&mut j.cmd(&args))).unwrap()
}

#[test]
fn the_clean_corpus_in_figures() {
    let j = TestJournal::corpus("bamboo-clean");
    let v = stats_json(&j, &["--rotate-bytes", "64K", "--buckets", "10"]);
    assert_eq!(v["segments"], 22);
    assert_eq!(v["bytes"], 1_479_034);
    assert_eq!(v["events"], 2000);
    assert_eq!(v["damaged_lines"], 0);
    assert_eq!(v["seq"], json!({"first": 1, "last": 2000}));
    assert_eq!(
        v["time"],
        json!({"first": "2026-11-20T09:00:02.419417Z", "last": "2026-11-20T09:38:58.434350418Z"})
    );
    assert_eq!(v["sessions"], 62);
    assert_eq!(v["events_without_session"], 76);
    assert_eq!(v["untyped"], 0);
    let types = v["types"].as_object().unwrap();
    assert_eq!(types.len(), 25);
    for (t, n) in [
        ("message_appended", 724),
        ("execution_started", 271),
        ("complete", 217),
        ("config.changed", 48),
        ("config.invalid", 4),
        ("error", 5),
    ] {
        assert_eq!(types[t], n, "{t}");
    }
    assert_eq!(
        types.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        2000
    );
    assert_eq!(
        v["newest_segment"],
        json!({"segment": "events-00000000000000001903.jsonl", "bytes": 63690,
               "rotate_bytes": 65536, "fill": 63690.0 / 65536.0})
    );
    assert_eq!(v["torn_tail"], Value::Null);
    let counts: Vec<u64> = v["histogram"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(counts.len(), 10);
    assert_eq!(counts.iter().sum::<u64>(), 2000);
    assert_eq!(v["histogram"]["start"], "2026-11-20T09:00:02.419417Z");
}

#[test]
fn torn_and_damaged_journals_count_only_valid_records() {
    let j = TestJournal::corpus("bamboo-torn");
    let v = stats_json(&j, &[]);
    assert_eq!(v["events"], 300);
    assert_eq!(v["damaged_lines"], 0);
    assert_eq!(
        v["torn_tail"],
        json!({"segment": "events-00000000000000000286.jsonl", "offset": 7630, "bytes": 279})
    );
    // The torn line's own timestamp (a day later) does not stretch the range.
    assert_eq!(v["time"]["last"], "2026-11-20T09:05:22.916173512Z");

    let d = TestJournal::with_events(10, 5);
    d.append_raw(
        &segment_name(1),
        b"{\"seq\":99,\"ts\":\"x\",\"event\":{\"type\":\"error\"\n",
    );
    d.append_raw(&segment_name(1), b"\0\0\0\n");
    let v = stats_json(&d, &[]);
    assert_eq!(v["events"], 10);
    assert_eq!(v["damaged_lines"], 2);
    assert_eq!(v["seq"], json!({"first": 1, "last": 10}));
}

#[test]
fn text_report_for_people() {
    let j = TestJournal::corpus("bamboo-torn");
    j.cmd(&["stats"])
        .assert()
        .success()
        .stdout(predicate::str::contains("segments    12 ("))
        .stdout(predicate::str::contains("events      300 (seq 1..300)"))
        .stdout(predicate::str::contains(
            "torn tail   279 bytes at byte 7630 of events-00000000000000000286.jsonl",
        ))
        .stdout(predicate::str::contains("activity    "))
        .stdout(predicate::str::contains("  109  message_appended\n"))
        .stderr("");
}

#[test]
fn an_empty_journal_and_a_non_journal() {
    let j = TestJournal::new();
    j.touch_lock();
    let v = stats_json(&j, &[]);
    assert_eq!(v["events"], 0);
    assert_eq!(v["seq"], Value::Null);
    assert_eq!(v["histogram"], Value::Null);
    let n = TestJournal::new();
    n.cmd(&["stats"]).assert().code(2);
}

#[test]
fn every_command_reads_a_repeated_key_or_a_lone_surrogate_the_same_way() {
    let j = TestJournal::new();
    let dup = event_line(2).replacen("{\"seq\":2,", "{\"seq\":2,\"seq\":9,", 1);
    let surrogate = event_line(3).replacen("}}", ",\"c\":\"\\ud800\"}}", 1);
    let body = format!(
        "{}{dup}\n{surrogate}\n{}\n",
        event_line(1) + "\n",
        event_line(4)
    );
    j.write(&segment_name(1), body.as_bytes());
    let v = stats_json(&j, &[]);
    assert_eq!(v["events"], 2, "{v}");
    assert_eq!(v["damaged_lines"], 2, "{v}");
    let out = j.cmd(&["verify", "--json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let defects = report["defects"].as_array().unwrap();
    let kinds: Vec<&str> = defects
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.starts_with(&["no-seq", "not-json"]), "{kinds:?}");
    assert!(
        defects[0]["detail"]
            .as_str()
            .unwrap()
            .contains("\"seq\" appears twice"),
        "{report}"
    );
    let inspect = stdout_of(&mut j.cmd(&["inspect", "-o", "raw", "-n", "10"]));
    assert_eq!(seqs_of(&inspect), [4, 1], "newest first");
}

#[test]
fn huge_bucket_counts_are_refused_not_a_panic_or_gigabytes() {
    let j = TestJournal::with_events(5, 10);
    for n in ["18446744073709551615", "1000000000"] {
        j.cmd(&["stats", "--buckets", n])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--buckets: at most 10000"));
    }
    j.cmd(&["stats", "--buckets", "10000"]).assert().success();
}

//! `journal recover`: the max seq, on clean, torn and damaged journals.

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

fn recover_json(j: &TestJournal) -> Value {
    serde_json::from_str(&stdout_of(&mut j.cmd(&["recover", "--json"]))).unwrap()
}

#[test]
fn corpus_journals_recover_to_the_engines_max_seq() {
    for (name, max, segments, newest) in [
        (
            "bamboo-clean",
            2000,
            22,
            "events-00000000000000001903.jsonl",
        ),
        ("bamboo-torn", 300, 12, "events-00000000000000000286.jsonl"),
        ("bamboo-sink", 220, 8, "events-00000000000000000200.jsonl"),
    ] {
        let j = TestJournal::corpus(name);
        assert_eq!(
            stdout_of(&mut j.cmd(&["recover"])),
            format!("{max}\n"),
            "{name}"
        );
        let v = recover_json(&j);
        assert_eq!(v["max_seq"], max, "{name}");
        assert_eq!(v["next_seq"], max + 1, "{name}");
        assert_eq!(v["oldest_seq"], 1, "{name}");
        assert_eq!(v["segments"], segments, "{name}");
        assert_eq!(v["newest_segment"], newest, "{name}");
    }
}

#[test]
fn torn_corpus_tail_is_located_exactly() {
    let j = TestJournal::corpus("bamboo-torn");
    let before = j.snapshot();
    let v = recover_json(&j);
    assert_eq!(
        v["torn_tail"]["segment"],
        "events-00000000000000000286.jsonl"
    );
    assert_eq!(v["torn_tail"]["offset"], 7630);
    assert_eq!(v["torn_tail"]["bytes"], 279);
    j.cmd(&["recover"])
        .assert()
        .success()
        .stdout("300\n")
        .stderr(predicate::str::contains("7630"));
    assert_eq!(j.snapshot(), before, "recover must not modify the journal");
}

#[test]
fn newest_segment_with_only_a_partial_line_falls_back_to_the_previous_one() {
    let j = TestJournal::with_events(30, 10);
    j.append_raw(
        &segment_name(31),
        br#"{"seq":31,"ts":"2026-11-20T09:31:00Z","ev"#,
    );
    let v = recover_json(&j);
    assert_eq!(v["max_seq"], 30);
    assert_eq!(v["segments_without_valid_line"][0], segment_name(31));
    assert_eq!(v["torn_tail"]["segment"], segment_name(31));
    assert_eq!(v["torn_tail"]["offset"], 0);
    assert_eq!(v["last_valid"]["segment"], segment_name(21));
}

#[test]
fn nul_tail_and_invalid_utf8_tail_are_passed_over() {
    let j = TestJournal::with_events(12, 5);
    let newest = segment_name(11);
    let len_before = std::fs::metadata(j.path(&newest)).unwrap().len();
    j.append_raw(&newest, &[0u8; 4096]);
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "12\n");
    let v = recover_json(&j);
    assert_eq!(
        (
            v["torn_tail"]["offset"].as_u64(),
            v["torn_tail"]["bytes"].as_u64()
        ),
        (Some(len_before), Some(4096))
    );

    let j = TestJournal::with_events(12, 5);
    j.append_raw(&segment_name(11), b"{\"seq\":13,\"x\":\"\xff\xfe\"}\n");
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "12\n");
}

#[test]
fn newest_segment_entirely_nul_falls_back() {
    let j = TestJournal::with_events(20, 10);
    j.write(&segment_name(21), &[0u8; 100]);
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "20\n");
}

#[test]
fn crlf_lines_recover() {
    let j = TestJournal::new();
    j.append_raw(
        &segment_name(1),
        format!("{}\r\n{}\r\n", event_line(1), event_line(2)).as_bytes(),
    );
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "2\n");
}

#[test]
fn empty_journal_answers_zero() {
    let j = TestJournal::new();
    j.touch_lock();
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "0\n");
    j.write(&segment_name(1), b"");
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "0\n");
    assert_eq!(recover_json(&j)["next_seq"], 1);
}

#[test]
fn missing_directory_and_non_journal_are_errors_with_exit_2() {
    let j = TestJournal::new();
    journal_cmd()
        .args(["recover"])
        .arg(j.dir.join("nope"))
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("nope").and(predicate::str::contains("no such directory")),
        );
    j.write("notes.txt", b"hello");
    j.cmd(&["recover"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a journal"));
}

#[test]
fn numeric_order_beats_lexical_order() {
    // Unpadded names sort lexically as 10 < 9; numerically 9 < 10.
    let j = TestJournal::new();
    j.append_raw("events-9.jsonl", format!("{}\n", event_line(9)).as_bytes());
    j.append_raw(
        "events-10.jsonl",
        format!("{}\n", event_line(10)).as_bytes(),
    );
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "10\n");
    assert_eq!(recover_json(&j)["newest_segment"], "events-10.jsonl");
}

#[test]
fn dir_from_environment() {
    let j = TestJournal::with_events(5, 10);
    let out = journal_cmd()
        .arg("recover")
        .env("JOURNAL_DIR", &j.dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "5\n");
    let data = j.tmp.path();
    let out = journal_cmd()
        .arg("recover")
        .env("BAMBOO_DATA_DIR", data)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "5\n",
        "BAMBOO_DATA_DIR/events"
    );
    // Issue 16 item 12: an empty JOURNAL_DIR is unset, like an empty
    // BAMBOO_DATA_DIR, for every command, with or without DIR.
    let out = journal_cmd()
        .arg("recover")
        .env("JOURNAL_DIR", "")
        .env("BAMBOO_DATA_DIR", data)
        .output()
        .unwrap();
    assert_eq!(
        (out.status.code(), String::from_utf8(out.stdout).unwrap()),
        (Some(0), "5\n".to_owned()),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    journal_cmd()
        .args(["inspect", "-n", "1", "-o", "jsonl"])
        .arg(&j.dir)
        .env("JOURNAL_DIR", "")
        .assert()
        .success();
}

#[test]
fn no_valid_line_anywhere_continues_after_the_newest_segments_name() {
    // All that is left after a prune is a segment the crash left torn: the
    // writer was writing seq 301, so it must not start again at 1.
    let j = TestJournal::new();
    j.touch_lock();
    j.append_raw(&segment_name(301), br#"{"seq":301,"ts":"2026-11-20T"#);
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "300\n");
    let v = recover_json(&j);
    assert_eq!(
        (v["max_seq"].as_u64(), v["max_seq_source"].as_str()),
        (Some(300), Some("segment-name"))
    );
    assert_eq!(v["last_valid"], Value::Null);
    // A journal whose only segment starts at 1 is simply empty.
    let j = TestJournal::new();
    j.append_raw(&segment_name(1), b"{\"seq\":1,");
    assert_eq!(recover_json(&j)["max_seq_source"], "empty");
    assert_eq!(recover_json(&j)["max_seq"], 0);
}

/// Issue 13 item 21: with one empty segment there is no older segment to
/// speak of; the note says the max seq continues from the name.
#[test]
fn a_lone_empty_segment_is_not_said_to_defer_to_an_older_one() {
    let j = TestJournal::new();
    j.write(&segment_name(7), b"");
    let out = j.cmd(&["recover"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "6\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("older segment"), "{err}");
    assert!(
        err.contains("continues from the newest segment's name"),
        "{err}"
    );
}

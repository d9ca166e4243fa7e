//! `journal verify`: every defect of the damaged corpus named exactly, the
//! engine's own journals, the report formats and the exit codes.

use std::time::Duration;

use predicates::prelude::*;

use crate::common::*;
use crate::damaged::*;

#[test]
fn damaged_corpus_defects_are_named_exactly() {
    let cases = corpus();
    assert!(cases.len() >= 25, "the corpus has {} journals", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let before = case.journal.snapshot();
        let (v, code) = verify_json(&case.journal, &[]);
        let got = defects_of(&v);
        let want = expected(&case.defects);
        if got != want || code != case.verify_exit {
            failures.push(format!(
                "{}:\n  want exit {} {want:?}\n   got exit {code} {got:?}",
                case.name, case.verify_exit
            ));
        }
        assert_eq!(
            v["ok"],
            case.verify_exit == 0,
            "{}: ok must agree with the exit code",
            case.name
        );
        assert_eq!(
            case.journal.snapshot(),
            before,
            "{}: verify changed the journal",
            case.name
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn engine_journals_verify_as_their_readme_says() {
    for (name, segments, records, bytes) in [
        ("bamboo-clean", 22, 2000, None),
        ("bamboo-sink", 8, 220, None),
        ("bamboo-torn", 12, 300, Some(203_086)),
    ] {
        let j = TestJournal::corpus(name);
        let (v, code) = verify_json(&j, &[]);
        assert_eq!(code, 0, "{name}");
        assert_eq!(v["summary"]["segments"], segments, "{name}");
        assert_eq!(v["summary"]["records"], records, "{name}");
        assert_eq!(v["summary"]["first_seq"], 1, "{name}");
        assert_eq!(v["summary"]["last_seq"], records, "{name}");
        assert_eq!(v["summary"]["errors"], 0, "{name}");
        assert_eq!(
            v["engine_skipped"],
            serde_json::json!({}),
            "{name}: every line conforms"
        );
        if let Some(bytes) = bytes {
            assert_eq!(v["summary"]["bytes"], bytes, "{name}");
        }
        if name == "bamboo-torn" {
            assert_eq!(
                defects_of(&v),
                expected(&[("torn-tail", 286, Some(16), 7630, 279, Some(300), None)])
            );
            assert_eq!(v["defects"][0]["severity"], "warning");
            assert_eq!(v["summary"]["warnings"], 1);
        } else {
            assert_eq!(v["defects"], serde_json::json!([]), "{name}");
            assert_eq!(v["summary"]["warnings"], 0, "{name}");
        }
    }
}

#[test]
fn human_report_groups_by_segment_and_ends_with_a_summary() {
    let j = TestJournal::corpus("bamboo-torn");
    j.cmd(&["verify"]).assert().code(0).stdout(
        "events-00000000000000000286.jsonl\n  \
         warning torn-tail: line 16, byte 7630, 279 bytes; after seq 300: the newest segment \
         ends in a partial line (no newline): 279 bytes\n\
         12 segments, 301 lines, 203086 bytes, seq 1..300: 0 errors, 1 warning\n",
    );

    let j = TestJournal::with_events(30, 10);
    j.write(
        &segment_name(11),
        [
            lines(11..=12).as_bytes(),
            b"oops\n",
            lines(14..=20).as_bytes(),
        ]
        .concat()
        .as_slice(),
    );
    let out = stdout_of_code(&mut j.cmd(&["verify"]), 1);
    let at = off(11..13);
    assert_eq!(
        out,
        format!(
            "events-00000000000000000011.jsonl\n  \
             error not-json: line 3, byte {at}, 4 bytes; between seq 12 and 14: not JSON: \
             expected value at line 1 column 1\n  \
             error seq-gap: line 4, byte {}, {} bytes; between seq 12 and 14: seq 14 follows \
             seq 12: seq 13 is missing (1 damaged line between)\n\
             3 segments, 30 lines, {} bytes, seq 1..30: 2 errors, 0 warnings\n",
            at + 5,
            line_len(14) - 1,
            off(1..31) - line_len(13) + 5
        )
    );
}

fn stdout_of_code(cmd: &mut assert_cmd::Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn strict_turns_warnings_into_errors() {
    let j = TestJournal::corpus("bamboo-torn");
    let (v, code) = verify_json(&j, &["--strict"]);
    assert_eq!(code, 1);
    assert_eq!(v["ok"], false);
    assert_eq!(v["strict"], true);
    assert_eq!(v["defects"][0]["severity"], "error");
    assert_eq!(
        (
            v["summary"]["errors"].as_u64(),
            v["summary"]["warnings"].as_u64()
        ),
        (Some(1), Some(0))
    );
    j.cmd(&["verify", "-q", "--strict"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("");
    j.cmd(&["verify", "-q"])
        .assert()
        .code(0)
        .stdout("")
        .stderr("");
    TestJournal::corpus("bamboo-clean")
        .cmd(&["verify", "-q", "--strict"])
        .assert()
        .code(0)
        .stdout("");
}

#[test]
fn engine_skips_are_counted_per_type() {
    let j = TestJournal::with_events(4, 10);
    let extra = [
        r#"{"seq":5,"ts":"t","event":{"type":"frobnicated"}}"#,
        r#"{"seq":6,"ts":"t","event":{"type":"frobnicated"}}"#,
        r#"{"seq":7,"ts":"t","event":{"type":"message_appended","role":"user"}}"#,
        r#"{"seq":8,"ts":"t","event":{"role":"user","type":"error"}}"#,
        r#"{"seq":9,"ts":"t","event":{"message":"m","type":"error"}}"#,
        r#"{"seq":10,"ts":"t","event":{"type":7}}"#,
    ];
    j.append_raw(&segment_name(1), (extra.join("\n") + "\n").as_bytes());
    let (v, code) = verify_json(&j, &[]);
    assert_eq!(code, 0, "engine warnings are warnings");
    assert_eq!(
        v["engine_skipped"],
        serde_json::json!({
            "frobnicated": {"unknown_type": 2, "missing_field": 0},
            "message_appended": {"unknown_type": 0, "missing_field": 1},
            "error": {"unknown_type": 0, "missing_field": 1},
            "(none)": {"unknown_type": 0, "missing_field": 1},
        })
    );
    let details: Vec<&str> = v["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "event type \"frobnicated\" is unknown to the engine: it skips the line",
            "event type \"frobnicated\" is unknown to the engine: it skips the line",
            "the \"message_appended\" record lacks required fields content, created_at, \
             message_id, session_id: the engine skips the line",
            "the \"error\" record lacks required field message: the engine skips the line",
            "the record lacks required field event.type (not a string): the engine skips the line",
        ]
    );
    assert_eq!(v["kinds"]["engine-unknown-type"], 2);
    assert_eq!(v["kinds"]["engine-missing-field"], 3);
    let out = stdout_of(&mut j.cmd(&["verify"]));
    assert!(
        out.contains(
            "the engine would skip 5 records: (none) (1 missing field); error (1 missing field); \
             frobnicated (2 unknown type); message_appended (1 missing field)\n"
        ),
        "{out}"
    );
}

#[test]
fn event_types_are_escaped_in_the_human_report() {
    let j = TestJournal::with_events(1, 10);
    j.append_raw(
        &segment_name(1),
        b"{\"seq\":2,\"ts\":\"t\",\"event\":{\"type\":\"\\u001b[31mred\"}}\n",
    );
    let out = stdout_of(&mut j.cmd(&["verify"]));
    assert!(
        !out.contains('\x1b'),
        "raw escape reached the output: {out:?}"
    );
    assert!(out.contains("\\u{1b}[31mred"), "{out}");
}

#[test]
fn same_report_whatever_the_thread_count() {
    let case = corpus()
        .into_iter()
        .find(|c| c.name.starts_with("damage on both sides"))
        .unwrap();
    let one = stdout_of_code(&mut case.journal.cmd(&["verify", "--json", "-j", "1"]), 1);
    let four = stdout_of_code(&mut case.journal.cmd(&["verify", "--json", "-j", "4"]), 1);
    assert_eq!(one, four);
}

#[test]
fn verify_never_takes_the_writers_claim() {
    let j = TestJournal::with_events(30, 10);
    let _claim = journal::claim::Claim::acquire(&j.dir, Duration::ZERO).unwrap();
    let (v, code) = verify_json(&j, &[]);
    assert_eq!((code, v["summary"]["records"].as_u64()), (0, Some(30)));
}

#[test]
fn could_not_run_exits_2() {
    let j = TestJournal::new();
    journal_cmd()
        .args(["verify"])
        .arg(j.dir.join("missing"))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("no such directory"));
    j.cmd(&["verify"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a journal"));
    j.cmd(&["verify", "--json", "-q"]).assert().code(2);
}

#[test]
fn json_summary_and_segments_are_complete() {
    let j = TestJournal::with_events(25, 10);
    let (v, code) = verify_json(&j, &[]);
    assert_eq!(code, 0);
    assert_eq!(v["schema"], "journal-verify/1");
    assert_eq!(
        v["summary"],
        serde_json::json!({
            "segments": 3, "segments_gone": 0, "lines": 25, "records": 25,
            "bytes": off(1..26), "first_seq": 1, "last_seq": 25,
            "errors": 0, "warnings": 0, "defects_unlisted": 0,
        })
    );
    assert_eq!(
        v["segments"][2],
        serde_json::json!({
            "segment": segment_name(21), "start_seq": 21, "bytes": off(21..26),
            "lines": 5, "records": 5, "first_seq": 21, "last_seq": 25,
            "gone": false, "errors": 0, "warnings": 0,
        })
    );
}

#[test]
fn severities_are_coloured_only_when_asked() {
    let j = TestJournal::with_events(3, 10);
    j.append_raw(&segment_name(1), b"{\"seq\":4,");
    let coloured = stdout_of(&mut j.cmd(&["verify", "--color", "always"]));
    assert!(
        coloured.contains("  \u{1b}[33mwarning\u{1b}[0m torn-tail: "),
        "{coloured:?}"
    );
    let plain = stdout_of(&mut j.cmd(&["verify", "--color", "never"]));
    assert!(plain.contains("  warning torn-tail: "), "{plain:?}");
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
}

/// Issue 13 item 8: verify on a journal that two writers append to and
/// rotate fast reports no error (no seq gap at a boundary measured between
/// a segment's last append and its successor's creation, no empty segment).
#[test]
fn verify_while_writers_append_and_rotate_finds_no_error() {
    let j = TestJournal::new();
    j.touch_lock();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let dir = j.dir.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let input = "{\"type\":\"error\",\"message\":\"x\"}\n".repeat(40);
                let mut runs = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out = journal_process()
                        .args(["append", "--rotate-bytes", "300", "--wait", "5s"])
                        .arg(&dir)
                        .stdin(std::process::Stdio::piped())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()
                        .and_then(|mut child| {
                            use std::io::Write;
                            child.stdin.take().unwrap().write_all(input.as_bytes())?;
                            child.wait()
                        })
                        .unwrap();
                    assert!(out.success(), "append failed");
                    runs += 1;
                }
                runs
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut checks = 0;
    let mut failures = Vec::new();
    while std::time::Instant::now() < deadline || checks < 5 {
        let out = j.cmd(&["verify", "--json"]).output().unwrap();
        checks += 1;
        if out.status.code() != Some(0) {
            failures.push(String::from_utf8_lossy(&out.stdout).into_owned());
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let appends: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(
        appends > 10 && j.segments().len() > 5,
        "{appends} appends, {:?}",
        j.segments()
    );
    assert!(
        failures.is_empty(),
        "{} of {checks} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

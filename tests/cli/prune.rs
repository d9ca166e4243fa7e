//! `journal prune`: retention limits, dry run, the claim, and what it must
//! never touch.

use std::fs;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

fn json_of(cmd: &mut assert_cmd::Command) -> Value {
    serde_json::from_str(&stdout_of(cmd)).unwrap()
}

#[test]
fn keep_deletes_the_oldest_segments_and_reports_them() {
    let j = TestJournal::with_events(50, 5);
    let out = stdout_of(&mut j.cmd(&["prune", "--keep", "3"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert!(
        lines[0].starts_with("deleted events-00000000000000000001.jsonl  seqs 1..5  "),
        "{out}"
    );
    assert!(lines[6].starts_with("deleted events-00000000000000000031.jsonl  seqs 31..35  "));
    assert!(
        lines[7].starts_with("pruned 7 segments, ") && lines[7].ends_with("oldest seq now 36"),
        "{out}"
    );
    assert_eq!(
        j.segments(),
        [segment_name(36), segment_name(41), segment_name(46)]
    );
    // Again: nothing to do is success.
    j.cmd(&["prune", "--keep", "3"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "nothing to prune: 3 segment(s)",
        ));
    assert_eq!(
        seqs_of(&stdout_of(&mut j.cmd(&[
            "inspect",
            "-o",
            "raw",
            "--all",
            "--oldest-first"
        ]))),
        (36..=50).collect::<Vec<_>>()
    );
}

#[test]
fn json_report_has_exact_values() {
    let j = TestJournal::with_events(20, 5);
    let len = |start: u64| fs::metadata(j.path(&segment_name(start))).unwrap().len();
    let (l1, l6, l11, l16) = (len(1), len(6), len(11), len(16));
    let v = json_of(&mut j.cmd(&["prune", "--keep", "2", "--json"]));
    assert_eq!(v["dry_run"], false);
    assert_eq!(
        v["deleted"],
        serde_json::json!([
            {"segment": segment_name(1), "start_seq": 1, "last_seq": 5, "bytes": l1},
            {"segment": segment_name(6), "start_seq": 6, "last_seq": 10, "bytes": l6},
        ])
    );
    assert_eq!(v["bytes_freed"], l1 + l6);
    assert_eq!(v["segments_before"], 4);
    assert_eq!(v["segments_kept"], 2);
    assert_eq!(v["bytes_kept"], l11 + l16);
    assert_eq!(v["oldest_seq"], 11);
    assert_eq!(v["warnings"], serde_json::json!([]));
}

#[test]
fn dry_run_reports_exactly_what_a_real_run_deletes() {
    for args in [
        &["--keep", "4"][..],
        &["--max-bytes", "1K"][..],
        &["--max-age", "1h", "--keep", "100"][..],
        &["--keep", "100"][..],
    ] {
        let real = TestJournal::with_events(60, 7);
        let dry = TestJournal::with_events(60, 7);
        let before = dry.snapshot();
        fn with(args: &[&'static str], extra: &[&'static str]) -> Vec<&'static str> {
            [&["prune"][..], args, extra].concat()
        }
        let mut dry_json = json_of(&mut dry.cmd(&with(args, &["--json", "--dry-run"])));
        assert_eq!(dry.snapshot(), before, "a dry run changes nothing");
        let dry_text = stdout_of(&mut dry.cmd(&with(args, &["--dry-run"])));
        let real_text = stdout_of(&mut real.cmd(&with(args, &[])));
        assert_eq!(
            dry_text
                .replace("would delete", "deleted")
                .replace("would prune", "pruned"),
            real_text,
            "{args:?}"
        );
        // The real run deleted what the dry run listed: a second real run on
        // the dry copy reports the same as the first real run did.
        let mut real_json = json_of(&mut dry.cmd(&with(args, &["--json"])));
        dry_json["dry_run"] = Value::Null;
        real_json["dry_run"] = Value::Null;
        dry_json["dir"] = Value::Null;
        real_json["dir"] = Value::Null;
        assert_eq!(dry_json, real_json, "{args:?}");
        assert_eq!(dry.segments(), real.segments(), "{args:?}");
    }
}

#[test]
fn keep_zero_is_rejected_and_the_newest_segment_always_survives() {
    let j = TestJournal::with_events(20, 5);
    let before = j.snapshot();
    j.cmd(&["prune", "--keep", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the newest segment is never deleted",
        ))
        .stderr(predicate::str::contains("--keep 1"));
    assert_eq!(j.snapshot(), before);
    j.cmd(&["prune", "--max-bytes", "0", "-q"])
        .assert()
        .success()
        .stdout("");
    assert_eq!(j.segments(), [segment_name(16)]);
    j.cmd(&[
        "prune",
        "--keep",
        "1",
        "--max-bytes",
        "0",
        "--max-age",
        "1s",
    ])
    .assert()
    .success()
    .stdout(predicate::str::starts_with(
        "nothing to prune: 1 segment(s)",
    ));
    assert_eq!(j.segments(), [segment_name(16)]);
}

#[test]
fn never_touches_quarantine_files_other_files_or_symlinks() {
    let j = TestJournal::with_events(20, 5);
    let outside = j.tmp.path().join("outside.jsonl");
    fs::write(&outside, "precious\n").unwrap();
    // Named like the oldest segment, pointing outside the journal.
    std::os::unix::fs::symlink(&outside, j.path(&segment_name(0))).unwrap();
    j.write(
        "quarantine-events-00000000000000000001.jsonl-at-0-x.bin",
        b"q",
    );
    j.write("notes.txt", b"n");
    j.write("events-1.jsonl.bak", b"b");
    j.cmd(&["prune", "--max-bytes", "0"])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "{}: named like a segment but a symbolic link (not followed): left alone",
            segment_name(0)
        )));
    assert_eq!(fs::read_to_string(&outside).unwrap(), "precious\n");
    assert!(
        fs::symlink_metadata(j.path(&segment_name(0)))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let mut names: Vec<String> = fs::read_dir(&j.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".account-journal.lock",
            "events-00000000000000000000.jsonl",
            "events-00000000000000000016.jsonl",
            "events-1.jsonl.bak",
            "notes.txt",
            "quarantine-events-00000000000000000001.jsonl-at-0-x.bin",
        ]
    );
}

#[test]
fn max_age_uses_the_newest_event_and_distrusts_the_future() {
    // Fixture events are stamped from 2026-11-20T09:00Z, a minute apart.
    let j = TestJournal::with_events(20, 5);
    j.append_raw(
        &segment_name(21),
        b"{\"seq\":21,\"ts\":\"2999-01-01T00:00:00Z\",\"event\":{\"type\":\"cancelled\"}}\n",
    );
    j.append_events(22..=30, 5);
    let v = json_of(&mut j.cmd(&["prune", "--max-age", "1h", "--json"]));
    let deleted: Vec<u64> = v["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["start_seq"].as_u64().unwrap())
        .collect();
    assert_eq!(deleted, [1, 6, 11, 16]);
    assert_eq!(v["warnings"][0]["segment"], segment_name(21));
    assert!(
        v["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("in the future (2999-01-01T00:00:00+00:00): not trusted, kept")
    );
    assert_eq!(j.segments()[0], segment_name(21));
}

#[test]
fn waits_for_a_held_claim_then_succeeds_or_times_out_with_exit_3() {
    let j = TestJournal::with_events(20, 5);
    let before = j.snapshot();
    let claim = hold_claim(&j.dir);
    let started = Instant::now();
    j.cmd(&["prune", "--keep", "1", "--wait", "300ms"])
        .assert()
        .code(3)
        .stdout("")
        .stderr(predicate::str::contains("claim is held by another process"));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(j.snapshot(), before);

    // Released while prune waits: it proceeds.
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("journal"));
    cmd.args(["prune", "--keep", "1", "--wait", "20s", "-q"])
        .arg(&j.dir)
        .env_clear();
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(j.snapshot(), before, "prune waits while the claim is held");
    drop(claim);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(j.segments(), [segment_name(16)]);
}

#[test]
fn an_appender_and_a_pruner_interleave_safely() {
    let j = TestJournal::new();
    let line = "{\"type\":\"error\",\"message\":\"x\"}\n".repeat(20);
    for _ in 0..5 {
        append_cmd(&j.dir, &["--rotate-bytes", "1K"], &line)
            .assert()
            .success();
        j.cmd(&["prune", "--keep", "2", "-q", "--wait", "20s"])
            .assert()
            .success();
    }
    let out = stdout_of(&mut j.cmd(&["inspect", "-o", "raw", "--all", "--oldest-first"]));
    let seqs = seqs_of(&out);
    assert_eq!(*seqs.last().unwrap(), 100);
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "contiguous: {seqs:?}"
    );
    assert_eq!(j.segments().len(), 2);
}

#[test]
fn a_directory_that_is_not_a_journal_is_left_alone() {
    let j = TestJournal::new();
    j.cmd(&["prune"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a journal"));
    assert!(!j.path(".account-journal.lock").exists());
}

/// Issue 16 item 9: a dry run changes nothing, not even by creating the lock
/// file the claim lives in.
#[test]
fn a_dry_run_writes_nothing_not_even_the_lock_file() {
    let j = TestJournal::new();
    j.append_events(1..=30, 10);
    let before = j.snapshot();
    j.cmd(&["prune", "--keep", "1", "--dry-run"])
        .assert()
        .success()
        .stdout(predicates::str::contains("would delete"));
    assert!(!j.path(".account-journal.lock").exists());
    assert_eq!(j.snapshot(), before);
    // With the lock file present, the dry run still plans under the claim.
    j.touch_lock();
    let _held = hold_claim(&j.dir);
    j.cmd(&["prune", "--keep", "1", "--dry-run", "--wait", "100ms"])
        .assert()
        .code(3);
}

/// Issue 16 item 11: quarantine files are counted by `stats` and aged out by
/// `prune --quarantine-max-age`, never by the segment limits; a dry run
/// deletes none; a young one, a symlink and other files are kept.
#[test]
fn quarantine_files_are_counted_and_aged_out_on_request() {
    let j = TestJournal::with_events(30, 10);
    let old = j.path("quarantine-events-00000000000000000011.jsonl-at-5-20260101T000000Z.bin");
    fs::write(&old, b"0123456789").unwrap();
    let past = std::time::SystemTime::now() - Duration::from_secs(40 * 86400);
    fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(past)
        .unwrap();
    let young = j.path("quarantine-events-00000000000000000021.jsonl-at-7-20261130T000000Z.bin");
    fs::write(&young, b"abc").unwrap();
    std::os::unix::fs::symlink(&old, j.path("quarantine-link.bin")).unwrap();

    let stats = json_of(&mut j.cmd(&["stats", "--json"]));
    assert_eq!(stats["quarantine"]["files"], 2, "{stats:#}");
    assert_eq!(stats["quarantine"]["bytes"], 13, "{stats:#}");

    // The segment limits never touch quarantine files.
    j.cmd(&["prune", "--max-bytes", "1", "-q"])
        .assert()
        .success();
    assert!(old.exists());

    let dry = json_of(&mut j.cmd(&[
        "prune",
        "--quarantine-max-age",
        "30days",
        "--dry-run",
        "--json",
    ]));
    assert_eq!(
        dry["quarantine_deleted"][0]["path"],
        old.file_name().unwrap().to_str().unwrap()
    );
    assert!(old.exists(), "a dry run deletes nothing");

    let done = json_of(&mut j.cmd(&["prune", "--quarantine-max-age", "30days", "--json"]));
    assert_eq!(done["quarantine_bytes_freed"], 10, "{done:#}");
    assert_eq!(done["quarantine_kept"], 1, "{done:#}");
    assert!(!old.exists());
    assert!(young.exists());
    assert!(fs::symlink_metadata(j.path("quarantine-link.bin")).is_ok());
}

/// Issue 16 item 12: a bare number of seconds is a duration everywhere
/// (`--wait 5` as `--wait 0` was), `1.5M` is a size, and `MB` is 10^6 bytes.
#[test]
fn sizes_and_durations_read_as_documented() {
    let j = TestJournal::with_events(30, 10);
    let seg = fs::metadata(j.path(&segment_name(1))).unwrap().len();
    for wait in ["5", "0", "1.5", "5s"] {
        j.cmd(&["prune", "--wait", wait, "--dry-run", "-q"])
            .assert()
            .success();
        j.cmd(&["repair", "--wait", wait, "--dry-run"])
            .assert()
            .success();
    }
    // 1.5M and 2MB hold all three segments; so does a size of 2.5 segments
    // in bytes given with a fraction of a K.
    let kept = |size: &str| {
        let v = json_of(&mut j.cmd(&["prune", "--max-bytes", size, "--dry-run", "--json"]));
        v["segments_kept"].as_u64().unwrap()
    };
    assert_eq!(kept("1.5M"), 3);
    assert_eq!(kept("2MB"), 3);
    let two_and_a_half = format!("{}K", (seg as f64 * 2.5) / 1024.0);
    assert_eq!(kept(&two_and_a_half), 2);
    assert_eq!(kept(&format!("{}KB", seg as f64 * 2.5 / 1000.0)), 2);
}

#[test]
fn an_age_beyond_the_calendar_prunes_nothing_and_does_not_panic() {
    let j = TestJournal::with_events(30, 10);
    let before = j.segments();
    j.cmd(&["prune", "--max-age", "300000years"])
        .assert()
        .success();
    assert_eq!(j.segments(), before);
}

#[test]
fn keep_unread_keeps_exactly_what_an_unread_cursor_needs() {
    // Seqs 1..=50 in segments of 5: 1-5, 6-10, ... 46-50.
    let j = TestJournal::with_events(50, 5);
    let cursor = j.tmp.path().join("shipper.cursor");
    let other = j.tmp.path().join("slow.cursor");
    fs::write(&cursor, "23\n").unwrap();
    fs::write(&other, "40\n").unwrap();
    let v = json_of(&mut j.cmd(&[
        "prune",
        "--keep",
        "1",
        "--dry-run",
        "--json",
        "--keep-unread",
        cursor.to_str().unwrap(),
        "--keep-unread",
        other.to_str().unwrap(),
    ]));
    // Seq 24 is unread: its segment (21-25) and every later one stay.
    let deleted: Vec<u64> = v["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["start_seq"].as_u64().unwrap())
        .collect();
    assert_eq!(deleted, [1, 6, 11, 16]);
    assert_eq!(v["oldest_seq"], 21);
    assert_eq!(v["held_back"][0]["cursor"], 23);
    assert_eq!(v["held_back"][0]["unread_from"], 24);
    assert_eq!(v["held_back"][0]["cursor_file"], cursor.to_str().unwrap());
    let held: Vec<&str> = v["held_back"][0]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let expect: Vec<String> = (21..=41).step_by(5).map(segment_name).collect();
    assert_eq!(held, expect);
    // The faster reader (at 40) alone would have let 21..40 go: it holds 41-45.
    assert_eq!(
        v["held_back"][1]["segments"],
        serde_json::json!([segment_name(41)])
    );
    assert_eq!(j.segments().len(), 10, "a dry run deletes nothing");

    // The real run deletes exactly that, and the reader resumes without a gap.
    let out = stdout_of(&mut j.cmd(&[
        "prune",
        "--keep",
        "1",
        "--keep-unread",
        cursor.to_str().unwrap(),
    ]));
    assert!(
        out.contains(&format!(
            "kept 5 segments ({} .. {}) for {}: its reader is at seq 23",
            segment_name(21),
            segment_name(41),
            cursor.display()
        )),
        "{out}"
    );
    assert_eq!(j.segments()[0], segment_name(21));
    let tail = j
        .cmd(&[
            "tail",
            "-o",
            "raw",
            "--cursor-file",
            cursor.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(tail.status.success());
    assert!(
        tail.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&tail.stderr)
    );
    assert_eq!(
        seqs_of(&String::from_utf8(tail.stdout).unwrap()),
        (24..=50).collect::<Vec<_>>()
    );
    // Now the reader is at 50: everything but the newest may go.
    let v = json_of(&mut j.cmd(&[
        "prune",
        "--keep",
        "1",
        "--json",
        "--keep-unread",
        cursor.to_str().unwrap(),
    ]));
    assert_eq!(v["held_back"][0]["segments"], serde_json::json!([]));
    assert_eq!(j.segments(), [segment_name(46)]);
}

#[test]
fn keep_unread_with_a_missing_cursor_keeps_everything_and_an_unreadable_one_refuses() {
    let j = TestJournal::with_events(20, 5);
    let missing = j.tmp.path().join("not-yet.cursor");
    let out = j
        .cmd(&[
            "prune",
            "--keep",
            "1",
            "--keep-unread",
            missing.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no such file yet") && stderr.contains("every segment is kept"),
        "{stderr}"
    );
    assert_eq!(j.segments().len(), 4);
    assert!(!missing.exists(), "prune never creates a reader's cursor");

    let garbage = j.tmp.path().join("garbage.cursor");
    fs::write(&garbage, "not a seq\n").unwrap();
    let dir_cursor = j.tmp.path().join("dir.cursor");
    fs::create_dir(&dir_cursor).unwrap();
    for bad in [&garbage, &dir_cursor] {
        j.cmd(&[
            "prune",
            "--keep",
            "1",
            "--keep-unread",
            bad.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "--keep-unread {}: the reader's position cannot be known; nothing was deleted",
            bad.display()
        )));
        assert_eq!(j.segments().len(), 4);
    }
    // Unreadable (no permission) is refused too, unless we are root.
    let locked = j.tmp.path().join("locked.cursor");
    fs::write(&locked, "3\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read(&locked).is_err() {
        j.cmd(&[
            "prune",
            "--keep",
            "1",
            "--keep-unread",
            locked.to_str().unwrap(),
        ])
        .assert()
        .code(2);
        assert_eq!(j.segments().len(), 4);
    }
}

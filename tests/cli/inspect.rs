//! `journal inspect`: newest first, limits, every filter, every output format,
//! and damaged journals.

use std::process::Stdio;

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

fn seqs(j: &TestJournal, args: &[&str]) -> Vec<u64> {
    let mut full = vec!["inspect", "-o", "jsonl"];
    full.extend_from_slice(args);
    seqs_of(&stdout_of(&mut j.cmd(&full)))
}

fn range(a: u64, b: u64) -> Vec<u64> {
    (a..=b).collect()
}

fn rev(a: u64, b: u64) -> Vec<u64> {
    (a..=b).rev().collect()
}

#[test]
fn corpus_journals_list_every_event_the_engine_reads() {
    for (name, events) in [
        ("bamboo-clean", 2000u64),
        ("bamboo-torn", 300),
        ("bamboo-sink", 220),
    ] {
        let j = TestJournal::corpus(name);
        assert_eq!(seqs(&j, &["--all"]), rev(1, events), "{name}");
        assert_eq!(
            seqs(&j, &["--all", "--oldest-first"]),
            range(1, events),
            "{name}"
        );
    }
}

#[test]
fn raw_output_is_the_stored_lines_byte_for_byte() {
    let j = TestJournal::corpus("bamboo-clean");
    let out = j
        .cmd(&["inspect", "--all", "--oldest-first"])
        .output()
        .unwrap();
    let mut stored = Vec::new();
    for seg in j.segments() {
        stored.extend(std::fs::read(j.path(&seg)).unwrap());
    }
    assert!(
        out.stdout == stored,
        "raw output differs from the concatenated segments"
    );
}

/// Issue 14: a whole dump of stored lines writes runs of records as they
/// were read (no work per record). It prints exactly what printing one
/// record at a time prints (a limit turns runs and, newest first, the
/// worker threads off), stdout and stderr, in both orders,
/// whatever the lines between the runs hold: damage of every kind, blank
/// lines, CRLF, records in another field order, in segments of several
/// read chunks (256 KiB) so runs and single lines alternate.
#[test]
fn a_dump_prints_what_one_record_at_a_time_prints() {
    let j = TestJournal::new();
    // Clean, two read chunks.
    j.append_events(1..=1500, 1500);
    // Every kind of line between records.
    let odd: [&[u8]; 8] = [
        b"\n",
        b"   \n",
        b"not json\n",
        b"{\"ts\":\"2026-11-20T09:00:00Z\",\"seq\":1502,\"event\":{\"type\":\"x\"}}\n",
        b"{\"seq\":1503,\"seq\":1503,\"ts\":\"t\",\"event\":{\"type\":\"x\"}}\n",
        b"{\"seq\":1504,\"ts\":\"2026-11-20T09:00:00Z\",\"event\":{\"type\":\"crlf\"}}\r\n",
        b"{\"seq\":1505,\"ts\":\"t\",\"event\":{\"type\":\"x\",\"a\":\"\\ud800\"}}\n",
        b"\0\0\0\n",
    ];
    for (k, line) in odd.iter().enumerate() {
        j.append_raw(
            &segment_name(1501),
            format!("{}\n", event_line(1601 + k as u64)).as_bytes(),
        );
        j.append_raw(&segment_name(1501), line);
    }
    // Clean but for one line in the middle of its third chunk, then a
    // closed segment ending in a torn line.
    for seq in 2001..=4000 {
        j.append_raw(
            &segment_name(2001),
            format!("{}\n", event_line(seq)).as_bytes(),
        );
        if seq == 3300 {
            j.append_raw(&segment_name(2001), b"{\"seq\":\n");
        }
    }
    j.append_events(5001..=5100, 100);
    j.append_raw(&segment_name(5001), b"{\"seq\":5101,\"ts");
    j.append_events(6001..=6100, 100);
    let before = j.snapshot();

    // Newest first, --all reads on worker threads too (no runs there).
    let mut dump = None;
    for order in [&["--oldest-first"][..], &[]] {
        let whole = j
            .cmd(&[&["inspect", "--all", "-o", "raw"][..], order].concat())
            .output()
            .unwrap();
        let one_by_one = j
            .cmd(&[&["inspect", "-n", "1000000", "-o", "raw"][..], order].concat())
            .output()
            .unwrap();
        assert_eq!(whole.status.code(), one_by_one.status.code());
        assert!(
            whole.stdout == one_by_one.stdout,
            "{order:?}: stdout differs: {} vs {} bytes",
            whole.stdout.len(),
            one_by_one.stdout.len()
        );
        assert_eq!(
            String::from_utf8_lossy(&whole.stderr),
            String::from_utf8_lossy(&one_by_one.stderr)
        );
        dump.get_or_insert(whole);
    }
    let dump = dump.unwrap();
    // And it is what the journal holds: every line of the clean segment,
    // the CRLF record with its CR, none of the damage.
    let out = String::from_utf8(dump.stdout).unwrap();
    assert!(out.starts_with(&format!("{}\n{}\n", event_line(1), event_line(2))));
    assert!(out.contains("\"type\":\"crlf\"}}\r\n"));
    assert!(!out.contains("not json") && !out.contains("\"seq\":\n"));
    assert_eq!(out.lines().count(), 1500 + 8 + 2 + 2000 + 100 + 100);
    assert!(String::from_utf8_lossy(&dump.stderr).contains("damage"));
    assert_eq!(j.snapshot(), before);
}

#[test]
fn default_limit_is_20_newest_first() {
    let j = TestJournal::with_events(100, 30);
    assert_eq!(seqs(&j, &[]), rev(81, 100));
    assert_eq!(seqs(&j, &["-n", "3"]), rev(98, 100));
    assert_eq!(seqs(&j, &["-n", "3", "--oldest-first"]), range(1, 3));
    assert_eq!(seqs(&j, &["-n", "0"]), Vec::<u64>::new());
}

#[test]
fn seq_ranges_are_inclusive_with_open_ends() {
    let j = TestJournal::with_events(100, 10);
    assert_eq!(seqs(&j, &["--all", "--seq", "15..25"]), rev(15, 25));
    assert_eq!(seqs(&j, &["--all", "--seq", "95.."]), rev(95, 100));
    assert_eq!(seqs(&j, &["--all", "--seq", "..4"]), rev(1, 4));
    assert_eq!(seqs(&j, &["--all", "--seq", "42"]), vec![42]);
    assert_eq!(seqs(&j, &["--all", "--seq", "500.."]), Vec::<u64>::new());
    j.cmd(&["inspect", "--seq", "9..5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--seq"));
    j.cmd(&["inspect", "--seq", "x"]).assert().code(2);
}

#[test]
fn seq_range_skips_segments_by_name_without_opening_them() {
    let j = TestJournal::with_events(100, 10);
    // A segment outside the range that is unreadable proves it is never opened.
    let far = j.path(&segment_name(1));
    std::fs::write(&far, b"garbage that is not json\n").unwrap();
    j.cmd(&["inspect", "-o", "jsonl", "--all", "--seq", "50..60"])
        .assert()
        .success()
        .stderr(predicate::str::is_empty());
    j.cmd(&["inspect", "-o", "jsonl", "--all"])
        .assert()
        .success()
        .stderr(predicate::str::contains("not-json"));
}

#[test]
fn time_filters_are_inclusive_and_accept_dates_and_durations() {
    let j = TestJournal::with_events(100, 25);
    // seq N is stamped 2026-11-20T09:00Z + N minutes (nanoseconds on odd seqs).
    assert_eq!(seqs(&j, &["--all", "--since", &ts_for(90)]), rev(90, 100));
    assert_eq!(seqs(&j, &["--all", "--until", &ts_for(3)]), rev(1, 3));
    assert_eq!(
        seqs(
            &j,
            &[
                "--all",
                "--since",
                "2026-11-20 10:00",
                "--until",
                "2026-11-20T10:02:00Z"
            ]
        ),
        rev(60, 62)
    );
    assert_eq!(
        seqs(&j, &["--all", "--since", "2026-11-21"]),
        Vec::<u64>::new()
    );
    assert_eq!(
        seqs(&j, &["--all", "--until", "2026-11-20"]),
        Vec::<u64>::new()
    );
    // The journal is in the past: anything within the last hour is empty, within 100 years everything.
    assert_eq!(seqs(&j, &["--all", "--since", "1h"]), Vec::<u64>::new());
    assert_eq!(seqs(&j, &["--all", "--since", "100years"]).len(), 100);
    j.cmd(&["inspect", "--since", "2026-11-21", "--until", "2026-11-20"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing can match"));
    j.cmd(&["inspect", "--since", "last tuesday"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--since"));
}

#[test]
fn session_and_type_filters_repeat_as_any_of() {
    let j = TestJournal::with_events(60, 25);
    // session = SESSIONS[seq % 3], type = TYPES[seq % 4]
    let want = |f: &dyn Fn(u64) -> bool| (1..=60).rev().filter(|&s| f(s)).collect::<Vec<_>>();
    assert_eq!(
        seqs(&j, &["--all", "--session", "sess-7"]),
        want(&|s| s % 3 == 2)
    );
    assert_eq!(
        seqs(&j, &["--all", "--session", "sess-7", "--session", "sess-1"]),
        want(&|s| s % 3 != 1)
    );
    assert_eq!(seqs(&j, &["--all", "-t", "error"]), want(&|s| s % 4 == 2));
    assert_eq!(
        seqs(&j, &["--all", "-t", "error", "--type", "complete"]),
        want(&|s| s % 4 >= 2)
    );
    assert_eq!(
        seqs(&j, &["-n", "2", "-t", "error", "--session", "sess-7"]),
        vec![50, 38]
    );
    assert_eq!(
        seqs(&j, &["--all", "-t", "no_such_type"]),
        Vec::<u64>::new()
    );
}

#[test]
fn where_matches_fields_in_the_event_and_the_record() {
    let j = TestJournal::with_events(40, 25);
    // message_appended when seq % 4 == 0; role user when seq is even.
    assert_eq!(
        seqs(&j, &["--all", "-w", "role=user"]),
        vec![40, 36, 32, 28, 24, 20, 16, 12, 8, 4]
    );
    assert_eq!(
        seqs(&j, &["--all", "-w", "event.message_id=m-12"]),
        vec![12]
    );
    assert_eq!(seqs(&j, &["--all", "-w", "seq=7"]), vec![7]);
    assert_eq!(
        seqs(
            &j,
            &["--all", "-w", "usage.prompt_tokens=1", "--seq", "..10"]
        ),
        vec![7, 3]
    );
    assert_eq!(
        seqs(&j, &["--all", "-w", "role=user", "-w", "session_id=sess-1"]),
        vec![36, 24, 12]
    );
    j.cmd(&["inspect", "-w", "noequals"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--where"));
}

#[test]
fn grep_is_a_regex_on_the_stored_line() {
    let j = TestJournal::with_events(40, 25);
    assert_eq!(
        seqs(&j, &["--all", "-g", "boom (1|2)[04]\\b"]),
        vec![14, 10]
    );
    assert_eq!(
        seqs(
            &j,
            &["--all", "-g", r#"caf\\u00e9 \\"q\\""#, "--seq", "..8"]
        ),
        vec![8, 4]
    );
    j.cmd(&["inspect", "-g", "("])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--grep"));
}

#[test]
fn contradictory_flags_are_rejected() {
    let j = TestJournal::with_events(5, 10);
    j.cmd(&["inspect", "--all", "-n", "5"]).assert().code(2);
    j.cmd(&["inspect", "-o", "yaml"]).assert().code(2);
}

#[test]
fn json_and_jsonl_outputs_are_the_records() {
    let j = TestJournal::corpus("bamboo-sink");
    let out = stdout_of(&mut j.cmd(&["inspect", "-n", "3", "-o", "json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let seqs: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![220, 219, 218]);
    // Each element is the stored record, field for field.
    let newest = std::fs::read_to_string(j.path(j.segments().last().unwrap())).unwrap();
    let stored: Value = serde_json::from_str(newest.lines().last().unwrap()).unwrap();
    assert_eq!(v[0], stored);
    let empty = stdout_of(&mut j.cmd(&["inspect", "-o", "json", "-t", "nothing"]));
    assert_eq!(
        serde_json::from_str::<Value>(&empty).unwrap(),
        Value::Array(vec![])
    );
}

#[test]
fn table_escapes_control_characters_and_has_no_colour_on_a_pipe() {
    let j = TestJournal::new();
    let evil = r#"{"seq":1,"ts":"2026-11-20T09:00:00Z","session_id":"s\u001b]0;pwned\u0007","event":{"type":"error","message":"red \u001b[31mALERT\u001b[0m\r\nfake line \u009b2J \u202egnp.exe"}}"#;
    j.append_raw(&segment_name(1), format!("{evil}\n").as_bytes());
    let out = stdout_of(&mut j.cmd(&["inspect", "-o", "table"]));
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "raw control character in: {out:?}"
    );
    assert!(!out.contains('\u{202e}'));
    assert!(
        out.contains(r"\u{1b}[31mALERT")
            && out.contains(r"\r\nfake line")
            && out.contains(r"\u{9b}2J"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 3, "header, rule, one row: {out}");
    let colored = stdout_of(&mut j.cmd(&["inspect", "-o", "table", "--color", "always"]));
    assert!(colored.contains("\u{1b}["), "--color always colours");
}

#[test]
fn damaged_lines_are_skipped_and_counted_on_stderr() {
    let j = TestJournal::with_events(20, 10);
    j.append_raw(&segment_name(1), b"this is not json\n");
    j.append_raw(&segment_name(11), b"{\"seq\":21,\"x\":\"\xff\"}\n");
    j.append_raw(
        &segment_name(11),
        b"{\"seq\":22,\"ts\":\"2026-11-20T09:22:00Z\",\"ev",
    );
    let assert = j
        .cmd(&["inspect", "-o", "jsonl", "--all"])
        .assert()
        .success();
    let out = assert.get_output();
    assert_eq!(seqs_of(&String::from_utf8_lossy(&out.stdout)), rev(1, 20));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("skipped 2 damaged lines"), "{err}");
    // Newest-first reading knows byte offsets, not line numbers (verify gives both).
    let garbage_at = std::fs::metadata(j.path(&segment_name(1))).unwrap().len() as usize - 17;
    assert!(
        err.contains(&format!("{}: byte {garbage_at}: not-json", segment_name(1))),
        "{err}"
    );
    assert!(err.contains("invalid-utf8"), "{err}");
    assert!(
        err.contains("partial line") && err.contains("journal verify"),
        "{err}"
    );
}

#[test]
fn torn_nul_and_invalid_utf8_tails_are_never_shown() {
    for tail in [
        &b"{\"seq\":11,\"ts\":\"2026"[..],
        &[0u8; 64][..],
        &b"\xff\xfe\xfd"[..],
    ] {
        let j = TestJournal::with_events(10, 4);
        j.append_raw(&segment_name(9), tail);
        assert_eq!(seqs(&j, &["-n", "3"]), vec![10, 9, 8]);
    }
}

#[test]
fn newest_segment_holding_only_a_partial_line() {
    let j = TestJournal::with_events(10, 5);
    j.append_raw(&segment_name(11), b"{\"seq\":11,");
    assert_eq!(seqs(&j, &["-n", "2"]), vec![10, 9]);
}

#[test]
fn crlf_and_blank_lines() {
    let j = TestJournal::new();
    let text = format!(
        "\n{}\r\n\r\n\n{}\r\n   \n{}\n",
        event_line(1),
        event_line(2),
        event_line(3)
    );
    j.append_raw(&segment_name(1), text.as_bytes());
    let out = j
        .cmd(&["inspect", "-o", "jsonl", "--all"])
        .output()
        .unwrap();
    assert_eq!(
        seqs_of(&String::from_utf8(out.stdout).unwrap()),
        vec![3, 2, 1]
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = stdout_of(&mut j.cmd(&["inspect", "-o", "raw", "-n", "2"]));
    assert_eq!(raw, format!("{}\n{}\r\n", event_line(3), event_line(2)));
}

#[test]
fn a_20_mib_single_line_is_read_both_ways() {
    let j = TestJournal::with_events(3, 10);
    let big = "x".repeat(20 << 20);
    let line = format!(
        r#"{{"seq":4,"ts":"2026-11-20T09:04:00Z","event":{{"type":"error","message":"{big}"}}}}"#
    );
    j.append_raw(&segment_name(1), format!("{line}\n").as_bytes());
    j.append_raw(&segment_name(1), format!("{}\n", event_line(5)).as_bytes());
    assert_eq!(seqs(&j, &["--all", "--seq", "3..5"]), vec![5, 4, 3]);
    assert_eq!(
        seqs(&j, &["--all", "--seq", "3..5", "--oldest-first"]),
        vec![3, 4, 5]
    );
    let out = stdout_of(&mut j.cmd(&["inspect", "-o", "raw", "--seq", "4"]));
    assert_eq!(out.len(), line.len() + 1);
}

#[test]
fn segments_are_read_in_numeric_order_and_other_files_are_left_alone() {
    let j = TestJournal::new();
    j.append_raw("events-9.jsonl", format!("{}\n", event_line(9)).as_bytes());
    j.append_raw(
        "events-10.jsonl",
        format!("{}\n", event_line(10)).as_bytes(),
    );
    j.append_raw(
        "events-100.jsonl",
        format!("{}\n", event_line(100)).as_bytes(),
    );
    j.write("events-11.jsonl.bak", b"{\"seq\":999}\n");
    j.write("notes.txt", b"{\"seq\":998}\n");
    j.write(
        "quarantine-events-00000000000000000005.jsonl-at-0-x.bin",
        b"{\"seq\":997}\n",
    );
    std::fs::create_dir(j.path("events-50.jsonl")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", j.path("events-60.jsonl")).unwrap();
    let before = j.snapshot();
    let out = j
        .cmd(&["inspect", "-o", "jsonl", "--all"])
        .output()
        .unwrap();
    assert_eq!(
        seqs_of(&String::from_utf8(out.stdout).unwrap()),
        vec![100, 10, 9]
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("events-50.jsonl is named like a segment but is a directory"),
        "{err}"
    );
    assert!(
        err.contains("events-60.jsonl is named like a segment but is a symbolic link"),
        "{err}"
    );
    assert_eq!(j.snapshot(), before);
}

#[test]
fn missing_directory_is_exit_2_naming_it() {
    let j = TestJournal::new();
    journal_cmd()
        .arg("inspect")
        .arg(j.dir.join("missing"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing: no such directory"));
    journal_cmd()
        .args(["inspect", "/etc/hostname"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a directory"));
}

#[test]
fn piping_into_head_ends_quietly() {
    let j = TestJournal::corpus("bamboo-clean");
    let mut child = journal_process()
        .args(["inspect", "--all", "-o", "raw"])
        .arg(&j.dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `| head -1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And through a real shell pipeline.
    let sh = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; '{}' inspect --all '{}' | head -1",
            assert_cmd::cargo::cargo_bin("journal").display(),
            j.dir.display()
        ))
        .output()
        .unwrap();
    assert!(
        sh.status.success(),
        "{}",
        String::from_utf8_lossy(&sh.stderr)
    );
    assert_eq!(seqs_of(&String::from_utf8(sh.stdout).unwrap()), vec![2000]);
    assert!(
        sh.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&sh.stderr)
    );
}

#[test]
fn grep_anchors_and_flags_mean_the_same_on_every_line() {
    // Lines are tested whole windows at a time first: anchors must still mean
    // line start and end, CRLF included, and inline flags must still work.
    let j = TestJournal::new();
    for seq in 1..=3000 {
        let end = if seq % 7 == 0 { "\r\n" } else { "\n" };
        j.append_raw(
            &segment_name(1 + (seq - 1) / 1000 * 1000),
            format!("{}{end}", event_line(seq)).as_bytes(),
        );
    }
    assert_eq!(
        seqs(&j, &["--all", "-g", r#"^\{"seq":12[0-2],"#]),
        vec![122, 121, 120]
    );
    assert_eq!(
        seqs(
            &j,
            &["--all", "--oldest-first", "-g", r#"^\{"seq":12[0-2],"#]
        ),
        vec![120, 121, 122]
    );
    assert_eq!(seqs(&j, &["--all", "-g", r#""boom 14"\}\}$"#]), vec![14]);
    assert_eq!(
        seqs(&j, &["--all", "-g", r#""boom 2llll8"\}\}$"#]),
        Vec::<u64>::new()
    );
    // 2058 = 7 * 294: a CRLF line, matched with `$` before its `\r`.
    assert_eq!(
        seqs(&j, &["--all", "-g", r#""boom 2058"\}\}$"#]),
        vec![2058]
    );
    assert_eq!(seqs(&j, &["--all", "-g", r"(?i)BOOM 2998\b"]), vec![2998]);
    assert_eq!(seqs(&j, &["--all", "-g", r"\Anever"]), Vec::<u64>::new());
    assert_eq!(
        seqs(&j, &["--all", "-g", "run-2993\"", "--session", "sess-7"]),
        vec![2993]
    );
}

/// Runs `journal ARGS` on a pseudo-terminal (util-linux `script`) and returns
/// what the terminal received.
fn on_a_terminal(env: &[(&str, &str)], args: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("journal");
    let mut cmd = std::process::Command::new("script");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("COLUMNS", "120")
        .args(["-qec", &format!("'{}' {args}", bin.display()), "/dev/null"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .expect("util-linux `script` runs the command on a pty");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_terminal_gets_a_coloured_table_unless_no_color() {
    let j = TestJournal::with_events(6, 10);
    let dir = j.dir.display().to_string();
    let tty = on_a_terminal(&[], &format!("inspect -n 3 '{dir}'"));
    assert!(
        tty.contains("SEQ") && tty.contains("SUMMARY"),
        "a table by default: {tty}"
    );
    assert!(tty.contains("\u{1b}["), "colours on a terminal: {tty:?}");
    assert!(tty.contains("boom 6"), "{tty}");
    let plain = on_a_terminal(&[("NO_COLOR", "1")], &format!("inspect -n 3 '{dir}'"));
    assert!(
        plain.contains("SEQ") && !plain.contains('\u{1b}'),
        "no colour with NO_COLOR: {plain:?}"
    );
    let never = on_a_terminal(&[], &format!("inspect -n 3 --color never '{dir}'"));
    assert!(!never.contains('\u{1b}'), "{never:?}");
    // Issue 16 item 12: --color always beats NO_COLOR (as in ripgrep and
    // clap), and the README says so.
    let always = on_a_terminal(
        &[("NO_COLOR", "1")],
        &format!("inspect -n 3 --color always '{dir}'"),
    );
    assert!(always.contains('\u{1b}'), "{always:?}");
}

/// Issue 16 item 12: on a terminal, no match is said on stderr (the pty
/// shows both); on a pipe, nothing at all, as grep does.
#[test]
fn no_match_is_said_on_a_terminal_only() {
    let j = TestJournal::with_events(6, 10);
    let dir = j.dir.display().to_string();
    let tty = on_a_terminal(&[], &format!("inspect -t no_such_type '{dir}'"));
    assert!(tty.contains("journal: no events match"), "{tty:?}");
    j.cmd(&["inspect", "-t", "no_such_type"])
        .assert()
        .success()
        .stdout("")
        .stderr("");
}

/// Issue 16 item 5: a segment named 16 whose first seq is 14 (verify's
/// `name-mismatch`) still yields 14 and 15 to `--seq 14..15`; a name that
/// claims less than the file holds (named 8, starting at 10) too.
#[test]
fn seq_ranges_do_not_trust_segment_names() {
    let j = TestJournal::new();
    j.touch_lock();
    for seq in 1..=13 {
        j.append_raw(
            &segment_name(1),
            format!("{}\n", event_line(seq)).as_bytes(),
        );
    }
    for seq in 14..=20 {
        j.append_raw(
            &segment_name(16),
            format!("{}\n", event_line(seq)).as_bytes(),
        );
    }
    assert_eq!(seqs(&j, &["--seq", "14..15"]), vec![15, 14]);
    assert_eq!(
        seqs(&j, &["--seq", "13..16", "--oldest-first"]),
        vec![13, 14, 15, 16]
    );

    let k = TestJournal::new();
    k.touch_lock();
    for seq in 1..=9 {
        k.append_raw(
            &segment_name(1),
            format!("{}\n", event_line(seq)).as_bytes(),
        );
    }
    for seq in 10..=12 {
        k.append_raw(
            &segment_name(8),
            format!("{}\n", event_line(seq)).as_bytes(),
        );
    }
    assert_eq!(seqs(&k, &["--seq", "8..9"]), vec![9, 8]);
    assert_eq!(seqs(&k, &["--seq", "10.."]), vec![12, 11, 10]);
}

/// Issue 16 item 8: `-o jsonl` is compact JSON, as its help says, even when
/// the stored line has spaces (a line written by hand or another tool);
/// string contents, escapes and field order are kept; `-o raw` is the line
/// as stored.
#[test]
fn jsonl_is_compact_json_and_raw_is_the_stored_line() {
    let j = TestJournal::new();
    let stored = "{ \"seq\": 1,\t\"ts\": \"2026-11-20T09:00:00Z\", \"event\": { \"type\": \"error\", \"message\": \"a  \\\" b\" } }";
    j.write(&segment_name(1), format!("{stored}\n").as_bytes());
    j.cmd(&["inspect", "-o", "jsonl"]).assert().success().stdout(
        "{\"seq\":1,\"ts\":\"2026-11-20T09:00:00Z\",\"event\":{\"type\":\"error\",\"message\":\"a  \\\" b\"}}\n",
    );
    j.cmd(&["inspect", "-o", "raw"])
        .assert()
        .success()
        .stdout(format!("{stored}\n"));
    let v: Value =
        serde_json::from_slice(&j.cmd(&["inspect", "-o", "json"]).output().unwrap().stdout)
            .unwrap();
    assert_eq!(v[0]["event"]["message"], "a  \" b");
}

/// Issue 16 item 10: `today` is the local day (`TZ`), as journalctl reads
/// it. In UTC+14 local midnight is 10:00 UTC, never UTC midnight, so events
/// one an hour over the last 60 hours tell the two apart.
#[test]
fn today_and_yesterday_are_local_days() {
    use chrono::{Duration, Timelike, Utc};
    let now = Utc::now().with_nanosecond(0).unwrap();
    let j = TestJournal::new();
    let mut body = String::new();
    for (i, h) in (0..60).rev().enumerate() {
        let ts = (now - Duration::hours(h)).format("%Y-%m-%dT%H:%M:%SZ");
        body += &format!(
            "{{\"seq\":{},\"ts\":\"{ts}\",\"event\":{{\"type\":\"error\",\"message\":\"x\"}}}}\n",
            i + 1
        );
    }
    j.write(&segment_name(1), body.as_bytes());
    let local_now = now + Duration::hours(14);
    let midnight = local_now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        - Duration::hours(14);
    let want = |from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>| -> Vec<u64> {
        let mut seqs: Vec<u64> = (0..60i64)
            .filter(|i| {
                let t = now - Duration::hours(59 - i);
                t >= from && t < to
            })
            .map(|i| i as u64 + 1)
            .collect();
        seqs.reverse();
        seqs
    };
    let run = |args: &[&str]| {
        let mut cmd = j.cmd(&[&["inspect", "-o", "jsonl", "--all"], args].concat());
        cmd.env("TZ", "XXX-14");
        seqs_of(&stdout_of(&mut cmd))
    };
    let far = now + Duration::days(1);
    assert_eq!(run(&["--since", "today"]), want(midnight, far));
    assert_eq!(
        run(&["--since", "yesterday", "--until", "today"]),
        want(
            midnight - Duration::days(1),
            midnight + Duration::seconds(1)
        )
    );
}

/// Issue 16 item 6, the documented rule: `inspect --all` without a filter
/// counts every damaged line; with a filter only the lines it read (here
/// none of the three: they cannot hold the type), as the help says.
#[test]
fn damaged_lines_are_all_counted_without_a_filter() {
    let j = TestJournal::with_events(30, 10);
    j.append_raw(&segment_name(1), b"garbage one\n");
    j.append_raw(&segment_name(11), b"{\"seq\":\n");
    j.append_raw(&segment_name(21), b"\xff\xfe\n");
    j.append_events(31..=31, 10);
    let out = j.cmd(&["inspect", "--all"]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("skipped 3 damaged lines"), "{err}");
    let out = j
        .cmd(&["inspect", "--all", "-t", "error"])
        .output()
        .unwrap();
    assert_eq!(seqs_of(&String::from_utf8(out.stdout).unwrap()).len(), 8);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("skipped 3"), "{err}");
}

/// The line of `seq` stamped `ts` instead of its usual time.
fn line_at(seq: u64, ts: &str) -> String {
    event_line(seq).replacen(&ts_for(seq), ts, 1) + "\n"
}

/// Issue 14 item 2: a time range reads only the segments that can hold it
/// (bisected by their first line's ts) and stops at the first line past the
/// bound. Damage in a segment that is never read is not reported: it proves
/// the segment was skipped. `--exact-time` reads everything.
#[test]
fn time_ranges_stop_at_the_bound_and_exact_time_reads_everything() {
    let j = TestJournal::with_events(100, 25);
    j.append_raw(&segment_name(1), b"not json at all\n");
    let newest = ["inspect", "-o", "jsonl", "--all", "--since", &ts_for(90)];
    let out = j.cmd(&newest).output().unwrap();
    assert_eq!(seqs_of(&String::from_utf8_lossy(&out.stdout)), rev(90, 100));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "segment 1 is not read"
    );

    let mut exact = newest.to_vec();
    exact.push("--exact-time");
    let out = j.cmd(&exact).output().unwrap();
    assert_eq!(seqs_of(&String::from_utf8_lossy(&out.stdout)), rev(90, 100));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("damaged"),
        "--exact-time reads segment 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Oldest first, --until stops as soon as a line is past it.
    j.append_raw(&segment_name(76), b"not json either\n");
    let oldest = [
        "inspect",
        "-o",
        "jsonl",
        "--all",
        "--oldest-first",
        "--until",
        &ts_for(30),
    ];
    let out = j.cmd(&oldest).output().unwrap();
    assert_eq!(seqs_of(&String::from_utf8_lossy(&out.stdout)), range(1, 30));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 damaged"),
        "only segment 1's damage is read: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        seqs(
            &j,
            &["--all", "--since", &ts_for(20), "--until", &ts_for(80)]
        ),
        rev(20, 80)
    );
}

/// A clock that stepped back breaks the early stop's assumption: the early
/// stop misses what `--exact-time` finds, verify warns with the seqs, and
/// the help of --since says so.
#[test]
fn a_clock_that_steps_back_is_found_by_exact_time_and_verify() {
    let j = TestJournal::new();
    j.touch_lock();
    let t = |h: u32, m: u32| format!("2026-11-20T{h:02}:{m:02}:00Z");
    j.write(
        &segment_name(1),
        (line_at(1, &t(10, 0)) + &line_at(2, &t(10, 1)) + &line_at(3, &t(10, 2))).as_bytes(),
    );
    j.write(
        &segment_name(4),
        (line_at(4, &t(9, 0)) + &line_at(5, &t(9, 1)) + &line_at(6, &t(9, 2))).as_bytes(),
    );
    j.write(
        &segment_name(7),
        (line_at(7, &t(9, 3)) + &line_at(8, &t(9, 4)) + &line_at(9, &t(9, 5))).as_bytes(),
    );
    let since = t(9, 30);
    assert_eq!(
        seqs(&j, &["--all", "--since", &since]),
        Vec::<u64>::new(),
        "the early stop assumes ts in seq order"
    );
    assert_eq!(
        seqs(&j, &["--all", "--since", &since, "--exact-time"]),
        rev(1, 3)
    );
    assert_eq!(
        seqs(
            &j,
            &[
                "--all",
                "--oldest-first",
                "--until",
                &t(9, 10),
                "--exact-time"
            ]
        ),
        range(4, 9)
    );

    let v: Value = serde_json::from_str(&stdout_of(&mut j.cmd(&["verify", "--json"]))).unwrap();
    let defects = v["defects"].as_array().unwrap();
    assert_eq!(defects.len(), 1, "{v}");
    assert_eq!(defects[0]["kind"], "ts-backwards");
    assert_eq!(defects[0]["severity"], "warning");
    assert_eq!(defects[0]["seq_before"], 3);
    assert_eq!(defects[0]["seq_after"], 4);
    j.cmd(&["verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ts-backwards"))
        .stdout(predicate::str::contains("seq 4"))
        .stdout(predicate::str::contains("--exact-time"));

    for cmd in ["inspect", "tail"] {
        journal_cmd()
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("--exact-time"))
            .stdout(predicate::str::contains("seq order"));
    }
}

/// The engine stamps some records to the second after one stamped to the
/// nanosecond in the same second: the early stop compares whole seconds, so
/// it never loses such a record, and verify does not call it a clock step.
#[test]
fn coarser_stamps_in_the_same_second_are_not_a_clock_step() {
    let j = TestJournal::new();
    j.touch_lock();
    j.write(
        &segment_name(1),
        (line_at(1, "2026-11-20T09:00:22Z")
            + &line_at(2, "2026-11-20T09:00:23.579808334Z")
            + &line_at(3, "2026-11-20T09:00:23Z"))
            .as_bytes(),
    );
    assert_eq!(
        seqs(&j, &["--all", "--since", "2026-11-20T09:00:23.5Z"]),
        [2]
    );
    assert_eq!(
        seqs(
            &j,
            &[
                "--all",
                "--oldest-first",
                "--until",
                "2026-11-20T09:00:23.1Z"
            ]
        ),
        [1, 3]
    );
    let v: Value = serde_json::from_str(&stdout_of(&mut j.cmd(&["verify", "--json"]))).unwrap();
    assert_eq!(v["defects"], Value::Array(vec![]), "{v}");
}

#[test]
fn a_range_shows_the_whole_range_and_a_limit_that_cuts_says_so() {
    let j = TestJournal::with_events(30, 7);
    let count = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).lines().count();
    // A seq or time range without -n: the whole range, no note.
    for args in [
        &["inspect", "--seq", "3.."][..],
        &["inspect", "--since", "2026-11-20T09:03:00Z"],
        &["inspect", "--until", "2026-11-20T09:28:00Z"],
    ] {
        let out = j.cmd(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert_eq!(count(&out), 28, "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
    // The default limit cuts: said on stderr, with the way to see more.
    let out = j.cmd(&["inspect"]).output().unwrap();
    assert_eq!(count(&out), 20);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("showed 20 events, the limit by default"),
        "{stderr}"
    );
    assert!(stderr.contains("--all"), "{stderr}");
    // -n that cuts a range says so too; -n that does not cut says nothing.
    let out = j
        .cmd(&["inspect", "--seq", "3..", "-n", "5"])
        .output()
        .unwrap();
    assert_eq!(count(&out), 5);
    assert!(String::from_utf8_lossy(&out.stderr).contains("showed 5 events, the limit (-n)"));
    let out = j.cmd(&["inspect", "-n", "50"]).output().unwrap();
    assert_eq!(count(&out), 30);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

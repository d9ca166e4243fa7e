//! Several journals in one view: `inspect DIR DIR...` and `tail [-f] DIR
//! DIR...` merge on time, then source, then position, each record labelled.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::common::*;

/// An engine journal under `<tmp>/<host>/events` whose events are stamped
/// `offset_s` seconds after `ts_for(seq)`, so two hosts interleave.
fn host_journal(
    tmp: &Path,
    host: &str,
    seqs: std::ops::RangeInclusive<u64>,
    per: u64,
    offset_s: i64,
) -> PathBuf {
    let dir = tmp.join(host).join("events");
    fs::create_dir_all(&dir).unwrap();
    append_host(&dir, seqs, per, offset_s);
    dir
}

fn append_host(dir: &Path, seqs: std::ops::RangeInclusive<u64>, per: u64, offset_s: i64) {
    use std::io::Write;
    for seq in seqs {
        let start = (seq - 1) / per * per + 1;
        let ts = DateTime::parse_from_rfc3339(&ts_for(seq)).unwrap()
            + chrono::Duration::seconds(offset_s);
        let line = event_line(seq).replace(
            &ts_for(seq),
            &ts.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        );
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(segment_name(start)))
            .unwrap();
        writeln!(f, "{line}").unwrap();
    }
}

fn lines_of(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn time_of(v: &Value) -> DateTime<Utc> {
    let ts = v
        .get("ts")
        .or_else(|| v.get("timestamp"))
        .unwrap()
        .as_str()
        .unwrap();
    DateTime::parse_from_rfc3339(ts)
        .unwrap()
        .with_timezone(&Utc)
}

/// (time, label, number, stream) of a labelled record: the merge's order.
fn key(v: &Value) -> (DateTime<Utc>, String, u64, String) {
    let number = v
        .get("seq")
        .or_else(|| v.get("sequence"))
        .unwrap()
        .as_u64()
        .unwrap();
    let stream = match v.get("branch_id") {
        Some(b) => format!(
            "{}/{}",
            v["session_id"].as_str().unwrap(),
            b.as_str().unwrap()
        ),
        None => String::new(),
    };
    (
        time_of(v),
        v["_source"].as_str().unwrap().to_owned(),
        number,
        stream,
    )
}

#[test]
fn a_merge_of_three_journals_of_two_formats_equals_the_sort_of_their_records() {
    let tmp = tempfile::tempdir().unwrap();
    let a = host_journal(tmp.path(), "host-a", 1..=40, 7, 0);
    let b = host_journal(tmp.path(), "host-b", 1..=30, 5, 30);
    // The per-session store: records stamped 09:05:5x on 2026-11-20, amid the hosts'.
    let s = tmp.path().join("store");
    fs::create_dir(&s).unwrap();
    let src = corpus_dir().join("aios-sessions");
    copy_tree(&src, &s);
    let paths = [a.as_os_str(), b.as_os_str(), s.as_os_str()];

    // Each journal alone, labelled as the merge labels it.
    let mut expected = Vec::new();
    for (path, label) in [(&a, "host-a/events"), (&b, "host-b/events"), (&s, "store")] {
        let out = stdout_of(
            journal_cmd()
                .args(["inspect", "--all", "-o", "jsonl"])
                .arg(path),
        );
        for mut v in lines_of(&out) {
            v.as_object_mut()
                .unwrap()
                .insert("_source".into(), label.into());
            expected.push(v);
        }
    }
    assert!(expected.len() > 70, "{}", expected.len());
    expected.sort_by_key(key);

    let merged = lines_of(&stdout_of(
        journal_cmd()
            .args(["inspect", "--all", "--oldest-first", "-o", "jsonl"])
            .args(paths),
    ));
    assert_eq!(merged.len(), expected.len());
    assert_eq!(merged, expected);
    // `_source` comes first, then the record as stored.
    let first = stdout_of(
        journal_cmd()
            .args(["inspect", "-n", "1", "-o", "jsonl"])
            .args(paths),
    );
    assert!(first.starts_with("{\"_source\":\""), "{first}");

    // Newest first (the default) is the reverse; -n takes the newest.
    let newest = lines_of(&stdout_of(
        journal_cmd()
            .args(["inspect", "-n", "25", "-o", "jsonl"])
            .args(paths),
    ));
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(newest, reversed[..25]);

    // Labels: --label, and a table with a SOURCE column.
    let label = format!("A={}", a.display());
    let out = stdout_of(
        journal_cmd()
            .args(["inspect", "-n", "200", "-o", "jsonl", "--label", &label])
            .args(paths),
    );
    assert!(lines_of(&out).iter().any(|v| v["_source"] == "A"));
    assert!(!out.contains("host-a/events"));
    let table = stdout_of(
        journal_cmd()
            .args(["inspect", "-n", "5", "-o", "table"])
            .args(paths),
    );
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .trim_start()
            .starts_with("SOURCE"),
        "{table}"
    );
    // The envelope names each record's own source.
    let env = lines_of(&stdout_of(
        journal_cmd()
            .args(["inspect", "--all", "-o", "envelope"])
            .args(paths),
    ));
    let sources: std::collections::BTreeSet<&str> =
        env.iter().map(|v| v["source"].as_str().unwrap()).collect();
    assert_eq!(sources.len(), 3);
    assert!(env.iter().all(|v| {
        v["id"]
            .as_str()
            .unwrap()
            .starts_with(v["source"].as_str().unwrap())
    }));
    // A label for a path not given is refused.
    journal_cmd()
        .args(["inspect", "--label", "x=/nonexistent"])
        .args(paths)
        .assert()
        .code(2);
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn tail_f_over_two_rotating_journals_and_a_third_that_appears_later() {
    let tmp = tempfile::tempdir().unwrap();
    let a = host_journal(tmp.path(), "host-a", 1..=3, 4, 0);
    let b = host_journal(tmp.path(), "host-b", 1..=3, 4, 1);
    let c = tmp.path().join("host-c").join("events");
    let cursor = tmp.path().join("cursor.json");
    let args: Vec<&std::ffi::OsStr> = vec![
        "tail".as_ref(),
        "-f".as_ref(),
        "--retry".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        "--poll".as_ref(),
        "50ms".as_ref(),
        "--cursor-file".as_ref(),
        cursor.as_os_str(),
        a.as_os_str(),
        b.as_os_str(),
        c.as_os_str(),
    ];
    let tail = Spawned::new(&args);
    let count = |out: &str, label: &str| {
        lines_of(out)
            .iter()
            .filter(|v| v["_source"] == label)
            .count()
    };
    tail.wait_for("the first records", |out, _| {
        count(out, "host-a/events") == 3 && count(out, "host-b/events") == 3
    });
    // Both rotate (4 events a segment), in steps.
    for step in 0..4 {
        let from = 4 + step * 5;
        append_host(&a, from..=from + 4, 4, 0);
        append_host(&b, from..=from + 4, 4, 1);
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    // A journal that did not exist at the start.
    fs::create_dir_all(&c).unwrap();
    append_host(&c, 1..=6, 4, 2);
    tail.wait_for("every record", |out, _| {
        count(out, "host-a/events") == 23
            && count(out, "host-b/events") == 23
            && count(out, "host-c/events") == 6
    });
    tail.signal("TERM");
    let (status, out, err) = tail.wait_exit();
    assert!(status.success(), "{err}");
    let all = lines_of(&out);
    for (label, n) in [
        ("host-a/events", 23),
        ("host-b/events", 23),
        ("host-c/events", 6),
    ] {
        let seqs: Vec<u64> = all
            .iter()
            .filter(|v| v["_source"] == label)
            .map(|v| v["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (1..=n).collect::<Vec<_>>(),
            "{label}: every seq once, in order"
        );
    }
    assert!(a.join(segment_name(21)).exists(), "rotated");
    // One position per source in the cursor; a restart prints nothing old.
    let saved: Value = serde_json::from_str(&fs::read_to_string(&cursor).unwrap()).unwrap();
    let mut positions: Vec<u64> = saved["sources"]
        .as_object()
        .unwrap()
        .values()
        .map(|s| s["positions"][""].as_u64().unwrap())
        .collect();
    positions.sort();
    assert_eq!(positions, [6, 23, 23]);
    append_host(&b, 24..=24, 4, 1);
    let again = stdout_of(
        journal_cmd()
            .args(["tail", "-o", "jsonl", "--cursor-file"])
            .arg(&cursor)
            .args([&a, &b, &c]),
    );
    let again = lines_of(&again);
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0]["_source"].as_str(), again[0]["seq"].as_u64()),
        (Some("host-b/events"), Some(24))
    );
}

#[test]
fn tail_without_follow_prints_the_newest_n_of_the_merge_oldest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let a = host_journal(tmp.path(), "x", 1..=10, 4, 0);
    let b = host_journal(tmp.path(), "y", 1..=10, 4, 30);
    let out = lines_of(&stdout_of(
        journal_cmd()
            .args(["tail", "-n", "4", "-o", "jsonl"])
            .args([&a, &b]),
    ));
    let got: Vec<(String, u64)> = out
        .iter()
        .map(|v| {
            (
                v["_source"].as_str().unwrap().to_owned(),
                v["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = [
        ("x/events", 9),
        ("y/events", 9),
        ("x/events", 10),
        ("y/events", 10),
    ]
    .iter()
    .map(|(l, s)| (l.to_string(), *s))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn prune_keep_unread_reads_this_journals_position_from_a_cursor_of_several() {
    let tmp = tempfile::tempdir().unwrap();
    let a = host_journal(tmp.path(), "a", 1..=20, 5, 0);
    let b = host_journal(tmp.path(), "b", 1..=10, 5, 0);
    let other = host_journal(tmp.path(), "c", 1..=10, 5, 0);
    let cursor = tmp.path().join("cursor.json");
    stdout_of(
        journal_cmd()
            .args(["tail", "-o", "raw", "--cursor-file"])
            .arg(&cursor)
            .args([&a, &b]),
    );
    append_host(&a, 21..=30, 5, 0);
    let prune = |dir: &Path| {
        let out = stdout_of(
            journal_cmd()
                .args([
                    "prune",
                    "--keep",
                    "1",
                    "--dry-run",
                    "--json",
                    "--keep-unread",
                ])
                .arg(&cursor)
                .arg(dir),
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        let starts: Vec<u64> = v["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["start_seq"].as_u64().unwrap())
            .collect();
        (starts, v)
    };
    // a: read to 20; 21.. unread.
    let (starts, v) = prune(&a);
    assert_eq!(starts, [1, 6, 11, 16]);
    assert_eq!(v["held_back"][0]["cursor"], 20);
    assert_eq!(
        v["held_back"][0]["segments"],
        serde_json::json!([segment_name(21)])
    );
    // b: read to its end.
    assert_eq!(prune(&b).0, [1]);
    // A journal the cursor does not know: that reader has not started there.
    let (starts, v) = prune(&other);
    assert!(starts.is_empty());
    assert_eq!(v["held_back"][0]["cursor"], Value::Null);
}

#[test]
fn the_streamed_merge_of_three_big_journals_equals_the_sort_of_all_their_records() {
    // Two hosts stamped alike (ties on time go to the label), a third 20 s
    // later; several thousand records each, so every reader runs far ahead
    // of what the merge holds.
    let tmp = tempfile::tempdir().unwrap();
    let journals = [
        host_journal(tmp.path(), "host-a", 1..=3000, 400, 0),
        host_journal(tmp.path(), "host-b", 1..=2500, 300, 0),
        host_journal(tmp.path(), "host-c", 1..=2000, 500, 20),
    ];
    let labels = ["host-a/events", "host-b/events", "host-c/events"];
    let mut expected = Vec::new();
    for (dir, label) in journals.iter().zip(labels) {
        let out = stdout_of(
            journal_cmd()
                .args(["inspect", "--all", "-o", "jsonl"])
                .arg(dir),
        );
        for mut v in lines_of(&out) {
            v.as_object_mut()
                .unwrap()
                .insert("_source".into(), label.into());
            expected.push(v);
        }
    }
    assert_eq!(expected.len(), 7500);
    expected.sort_by_key(key);
    let merge = |args: &[&str]| {
        lines_of(&stdout_of(
            journal_cmd()
                .args(["inspect", "-o", "jsonl"])
                .args(args)
                .args(&journals),
        ))
    };
    assert_eq!(merge(&["--all", "--oldest-first"]), expected);
    let mut newest = expected.clone();
    newest.reverse();
    assert_eq!(merge(&["--all"]), newest);
    assert_eq!(merge(&["-n", "1000"]), newest[..1000]);
    assert_eq!(merge(&["-n", "777", "--oldest-first"]), expected[..777]);
    // A filter: each reader filters, the merge stays the sort.
    let errors: Vec<Value> = newest
        .iter()
        .filter(|v| v["event"]["type"] == "error")
        .cloned()
        .collect();
    assert!(errors.len() > 1000);
    assert_eq!(merge(&["--all", "-t", "error"]), errors);
}

/// The `source` of every envelope line of `out`, and how many lines.
fn sources_of(out: &str) -> (std::collections::BTreeSet<String>, usize) {
    let all = lines_of(out);
    (
        all.iter()
            .map(|v| v["source"].as_str().unwrap().to_owned())
            .collect(),
        all.len(),
    )
}

#[test]
fn tail_retry_on_a_path_not_there_yet_gives_the_source_id_later_runs_derive() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
    // Reached through a symlinked parent and a `..`, not there yet.
    let waiting = tmp.path().join("link/host-a/../host-a/events");
    // A second path that later appears as a symlink to a journal elsewhere.
    let elsewhere = host_journal(&tmp.path().join("elsewhere"), "host-b", 1..=3, 4, 1);
    let later_link = tmp.path().join("j2");
    let single = Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "--retry".as_ref(),
        "-o".as_ref(),
        "envelope".as_ref(),
        waiting.as_os_str(),
    ]);
    let multi = Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "--retry".as_ref(),
        "-o".as_ref(),
        "envelope".as_ref(),
        waiting.as_os_str(),
        later_link.as_os_str(),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let journal = host_journal(&real, "host-a", 1..=5, 4, 0);
    std::os::unix::fs::symlink(&elsewhere, &later_link).unwrap();
    single.wait_for("host-a's records", |out, _| out.lines().count() == 5);
    multi.wait_for("both journals' records", |out, _| out.lines().count() == 8);
    single.signal("TERM");
    multi.signal("TERM");
    let (_, single_out, err) = single.wait_exit();
    assert!(!err.contains("panicked"), "{err}");
    let (_, multi_out, _) = multi.wait_exit();
    // The ids a later run derives from the paths as they now are.
    let source_of = |dir: &Path| {
        let out = stdout_of(
            journal_cmd()
                .args(["inspect", "-n", "1", "-o", "envelope"])
                .arg(dir),
        );
        lines_of(&out)[0]["source"].as_str().unwrap().to_owned()
    };
    let a_id = source_of(&journal);
    let b_id = source_of(&elsewhere);
    assert_eq!(
        a_id,
        source_of(&waiting),
        "the same journal, however reached"
    );
    assert_eq!(b_id, source_of(&later_link));
    let (sources, n) = sources_of(&single_out);
    assert_eq!(
        (sources.into_iter().collect::<Vec<_>>(), n),
        (vec![a_id.clone()], 5)
    );
    let (sources, n) = sources_of(&multi_out);
    let mut want = vec![a_id, b_id];
    want.sort();
    assert_eq!((sources.into_iter().collect::<Vec<_>>(), n), (want, 8));
}

#[test]
fn tail_f_over_two_journals_wakes_on_inotify_without_polling() {
    let tmp = tempfile::tempdir().unwrap();
    let a = host_journal(tmp.path(), "host-a", 1..=2, 4, 0);
    let b = host_journal(tmp.path(), "host-b", 1..=2, 4, 1);
    // No --poll: the safety rescan is 5 s, so records seen well before that
    // were announced by a notification.
    let tail = Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    tail.wait_for("the first records", |out, _| out.lines().count() == 4);
    for (i, seq) in (3..=5).enumerate() {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let dir = if i % 2 == 0 { &b } else { &a };
        let started = std::time::Instant::now();
        append_host(dir, seq..=seq, 4, 0);
        let want = 5 + i;
        tail.wait_for("the appended record", |out, _| out.lines().count() == want);
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_millis(1500),
            "seen after {took:?}: no notification woke the follow"
        );
    }
    tail.signal("TERM");
    let (status, out, err) = tail.wait_exit();
    assert!(status.success(), "{err}");
    assert_eq!(lines_of(&out).len(), 7);
}

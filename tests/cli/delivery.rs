//! The delivery contract: `-o envelope` ids, `tail -f --ack-stdin` (the
//! cursor moves only over acknowledged records), `--stop-at-end`, and a gap
//! as a typed record with exit 4.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

fn envelopes(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn ids(out: &str) -> Vec<String> {
    envelopes(out)
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `journal tail -f --ack-stdin` with a pipe on each side: the test is the
/// consumer, reading envelopes and writing ACK lines.
struct Consumer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Consumer {
    fn start(dir: &std::path::Path, extra: &[&str]) -> Self {
        Self::start_many(&[dir], extra)
    }

    fn start_many(dirs: &[&std::path::Path], extra: &[&str]) -> Self {
        let mut child = journal_process()
            .args(["tail", "-f", "-o", "envelope", "--ack-stdin"])
            .args(extra)
            .args(dirs)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Consumer {
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    fn next(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .expect("an envelope within the wait");
        serde_json::from_str(&line).unwrap()
    }

    fn ack(&mut self, what: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{what}").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes our side of stdin (the consumer is gone) and returns the exit
    /// status and stderr.
    fn close(mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn cursor_of(path: &std::path::Path) -> Option<u64> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().parse().unwrap())
}

/// Waits until the cursor file says `want`.
fn wait_cursor(path: &std::path::Path, want: u64) {
    let deadline = std::time::Instant::now() + WAIT;
    while cursor_of(path) != Some(want) {
        assert!(
            std::time::Instant::now() < deadline,
            "cursor {:?}, want {want}",
            cursor_of(path)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_envelope_id_is_the_same_on_every_re_read() {
    let j = TestJournal::with_events(30, 10);
    let inspect =
        || stdout_of(&mut j.cmd(&["inspect", "--all", "--oldest-first", "-o", "envelope"]));
    let first = inspect();
    let all = envelopes(&first);
    assert_eq!(all.len(), 30);
    let source = all[0]["source"].as_str().unwrap().to_owned();
    assert_eq!(source.len(), 16, "16 hex digits: {source}");
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for (i, v) in all.iter().enumerate() {
        let seq = i as u64 + 1;
        assert_eq!(v["schema"], "journal-envelope/1");
        assert_eq!(v["type"], "record");
        assert_eq!(v["source"], source.as_str());
        assert_eq!(v["host"], host.trim());
        assert_eq!(v["id"], format!("{source}:{seq}"));
        assert_eq!(v["position"], seq);
        // The record is the stored line.
        assert_eq!(
            v["record"],
            serde_json::from_str::<Value>(&event_line(seq)).unwrap()
        );
    }
    // Again, through tail, through a relative path and a symlink, newest
    // first: the same ids.
    assert_eq!(inspect(), first);
    let tail = stdout_of(&mut j.cmd(&["tail", "--from-seq", "0", "-o", "envelope"]));
    assert_eq!(ids(&tail), ids(&first));
    let link = j.tmp.path().join("link");
    std::os::unix::fs::symlink(&j.dir, &link).unwrap();
    let via_link = stdout_of(
        journal_cmd()
            .current_dir(j.tmp.path())
            .args(["inspect", "--all", "-o", "envelope", "link"]),
    );
    let mut newest_first = ids(&first);
    newest_first.reverse();
    assert_eq!(ids(&via_link), newest_first);
    // After a prune and an append, what is left keeps its ids.
    stdout_of(&mut j.cmd(&["prune", "--keep", "2"]));
    j.append_events(31..=35, 10);
    let after = ids(&inspect());
    assert_eq!(after[..20], ids(&first)[10..]);
    assert_eq!(after[24], format!("{source}:35"));
    // Another journal (another path) is another source; --source-id names one.
    let other = TestJournal::with_events(3, 10);
    let other_src =
        envelopes(&stdout_of(&mut other.cmd(&["inspect", "-o", "envelope"])))[0]["source"].clone();
    assert_ne!(other_src, source.as_str());
    let named =
        stdout_of(&mut other.cmd(&["inspect", "-o", "envelope", "--source-id", "web-1.events"]));
    assert_eq!(envelopes(&named)[0]["id"], "web-1.events:3");
    // Nothing was written into the journal directory.
    assert!(
        !j.dir.read_dir().unwrap().any(|e| {
            let name = e.unwrap().file_name();
            let name = name.to_string_lossy();
            !name.starts_with("events-") && name != ".account-journal.lock"
        }),
        "no file added to the journal directory"
    );
    other
        .cmd(&["inspect", "-o", "envelope", "--source-id", "a:b"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("without ':'"));
}

#[test]
fn ack_stdin_repeats_what_a_dying_consumer_did_not_acknowledge_and_never_skips() {
    let j = TestJournal::with_events(10, 4);
    let cursor = j.tmp.path().join("cursor");
    let c = cursor.to_str().unwrap();
    let mut consumer = Consumer::start(&j.dir, &["--cursor-file", c]);
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(consumer.next()["position"].as_u64().unwrap());
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    // Three acknowledged one by one: the cursor says 3, not 5 (or 10).
    for _ in 0..3 {
        consumer.ack("ACK");
    }
    wait_cursor(&cursor, 3);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        cursor_of(&cursor),
        Some(3),
        "never past what was acknowledged"
    );
    // The journal is killed (or the consumer dies): 4.. come again.
    consumer.kill();
    assert_eq!(cursor_of(&cursor), Some(3));

    let mut consumer = Consumer::start(&j.dir, &["--cursor-file", c]);
    let first = consumer.next();
    assert_eq!(
        first["position"], 4,
        "the first unacknowledged record is sent again"
    );
    let id = first["id"].as_str().unwrap().to_owned();
    for want in 5..=10 {
        assert_eq!(consumer.next()["position"], want);
    }
    // A batch: ACK <id> acknowledges everything up to that record.
    let source = id.split(':').next().unwrap().to_owned();
    consumer.ack(&format!("ACK {source}:8"));
    wait_cursor(&cursor, 8);
    // New records while following; the consumer dies without acknowledging.
    j.append_events(11..=12, 4);
    assert_eq!(consumer.next()["position"], 11);
    assert_eq!(consumer.next()["position"], 12);
    let (code, stderr) = consumer.close();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("4 record(s) written were not acknowledged"),
        "{stderr}"
    );
    assert_eq!(cursor_of(&cursor), Some(8));

    // A scheduled run: everything from 9, acknowledged, then it stops by itself.
    let mut consumer = Consumer::start(&j.dir, &["--cursor-file", c, "--stop-at-end"]);
    for want in 9..=12 {
        assert_eq!(consumer.next()["position"], want);
        consumer.ack("ACK");
    }
    let status = consumer.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(cursor_of(&cursor), Some(12));
}

#[test]
fn ack_stdin_with_a_filter_passes_filtered_records_once_the_written_ones_are_acknowledged() {
    // Types cycle with seq % 4: error is seq 2, 6, 10.
    let j = TestJournal::with_events(10, 4);
    let cursor = j.tmp.path().join("cursor");
    let c = cursor.to_str().unwrap();
    let mut consumer = Consumer::start(
        &j.dir,
        &["--cursor-file", c, "-t", "error", "--stop-at-end"],
    );
    assert_eq!(consumer.next()["position"], 2);
    assert_eq!(consumer.next()["position"], 6);
    consumer.ack("ACK");
    wait_cursor(&cursor, 5);
    assert_eq!(consumer.next()["position"], 10);
    consumer.ack("ACK");
    consumer.ack("ACK");
    assert_eq!(consumer.child.wait().unwrap().code(), Some(0));
    assert_eq!(cursor_of(&cursor), Some(10));
}

#[test]
fn a_protocol_error_on_stdin_stops_with_exit_2_and_the_cursor_at_the_last_ack() {
    let j = TestJournal::with_events(3, 4);
    let cursor = j.tmp.path().join("cursor");
    let mut consumer = Consumer::start(&j.dir, &["--cursor-file", cursor.to_str().unwrap()]);
    consumer.next();
    consumer.ack("ACK");
    wait_cursor(&cursor, 1);
    consumer.ack("OK");
    let (code, stderr) = consumer.close();
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("expected ACK or ACK <id> on stdin, got \"OK\""),
        "{stderr}"
    );
    assert_eq!(cursor_of(&cursor), Some(1));
    // -n N with --ack-stdin is refused: those records would be acknowledged
    // by nobody's cursor.
    let fresh = j.tmp.path().join("fresh-cursor");
    j.cmd(&[
        "tail",
        "-f",
        "--ack-stdin",
        "--cursor-file",
        fresh.to_str().unwrap(),
        "-n",
        "5",
    ])
    .assert()
    .code(2)
    .stderr(predicates::str::contains("not with the last 5 events"));
}

#[test]
fn a_gap_is_a_typed_record_on_the_envelope_stream_and_exit_4() {
    let j = TestJournal::with_events(30, 10);
    let cursor = j.tmp.path().join("cursor");
    fs::write(&cursor, "5\n").unwrap();
    // Retention ran without --keep-unread: 6..20 are gone.
    stdout_of(&mut j.cmd(&["prune", "--keep", "1"]));
    let c = cursor.to_str().unwrap();
    let out = j
        .cmd(&[
            "tail",
            "-f",
            "--stop-at-end",
            "-o",
            "envelope",
            "--source-id",
            "s",
            "--cursor-file",
            c,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = envelopes(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        all[0],
        serde_json::json!({
            "schema": "journal-envelope/1", "type": "gap", "source": "s",
            "host": all[0]["host"], "id": "s:gap-6-20", "first": 6, "last": 20,
            "reason": "pruned"
        })
    );
    let positions: Vec<u64> = all[1..]
        .iter()
        .map(|v| v["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, (21..=30).collect::<Vec<_>>());
    assert_eq!(cursor_of(&cursor), Some(30));
    // Without a gap, the same run is success; the raw format keeps exit 0
    // on a gap (stderr says it), as before.
    j.cmd(&[
        "tail",
        "-f",
        "--stop-at-end",
        "-o",
        "envelope",
        "--cursor-file",
        c,
    ])
    .assert()
    .code(0);
    j.cmd(&["tail", "--from-seq", "3", "-o", "raw"])
        .assert()
        .code(0);
}

#[test]
fn with_ack_stdin_a_gap_is_acknowledged_like_a_record_never_on_a_records_behalf() {
    let j = TestJournal::with_events(30, 10);
    let cursor = j.tmp.path().join("cursor");
    let c = cursor.to_str().unwrap();
    fs::write(&cursor, "5\n").unwrap();
    stdout_of(&mut j.cmd(&["prune", "--keep", "1"]));
    // A consumer that ACKs every line it reads: the gap, then 21, then dies.
    let mut consumer = Consumer::start(&j.dir, &["--cursor-file", c, "--source-id", "s"]);
    let gap = consumer.next();
    assert_eq!(
        (gap["type"].as_str(), gap["id"].as_str()),
        (Some("gap"), Some("s:gap-6-20"))
    );
    assert_eq!(consumer.next()["position"], 21);
    consumer.ack("ACK");
    // The gap's ACK moved the cursor past the pruned seqs, not past 21.
    wait_cursor(&cursor, 20);
    consumer.ack("ACK s:21");
    wait_cursor(&cursor, 21);
    let (code, stderr) = consumer.close();
    assert_eq!(code, Some(4), "a gap was met: {stderr}");
    // The rest comes again; no gap this time.
    let mut consumer = Consumer::start(&j.dir, &["--cursor-file", c, "--stop-at-end"]);
    for want in 22..=30 {
        assert_eq!(consumer.next()["position"], want);
        consumer.ack("ACK");
    }
    assert_eq!(consumer.child.wait().unwrap().code(), Some(0));
    assert_eq!(cursor_of(&cursor), Some(30));
}

#[test]
fn a_per_session_store_s_envelope_ids_name_session_branch_and_sequence() {
    let j = crate::sessions::Store::corpus("aios-sessions");
    let read = || {
        stdout_of(&mut j.cmd(&[
            "inspect",
            "--all",
            "-o",
            "envelope",
            "--source-id",
            "store-1",
        ]))
    };
    let first = read();
    assert_eq!(first, read());
    let tail = stdout_of(&mut j.cmd(&[
        "tail",
        "-n",
        "5",
        "-o",
        "envelope",
        "--source-id",
        "store-1",
    ]));
    let all = envelopes(&first);
    assert!(all.len() > 20);
    for v in &all {
        let r = &v["record"];
        let position = format!(
            "{}/{}/{}",
            r["session_id"].as_str().unwrap(),
            r["branch_id"].as_str().unwrap(),
            r["sequence"]
        );
        assert_eq!(v["position"], position.as_str());
        assert_eq!(v["id"], format!("store-1:{position}"));
    }
    // tail's last five are inspect's newest five, oldest first, same ids.
    let mut newest: Vec<String> = ids(&first)[..5].to_vec();
    newest.reverse();
    assert_eq!(ids(&tail), newest);
}

/// The family cursor (`{"format":..,"streams":{..}}`) as a map.
fn streams_of(path: &std::path::Path) -> Option<serde_json::Map<String, Value>> {
    let text = fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["streams"].as_object().cloned()
}

/// What a cursor must hold once the first `acked` of `lines` are
/// acknowledged and every one was written: per stream, the last number
/// before its oldest unacknowledged line, or its last number.
fn expected_streams(lines: &[Value], acked: usize) -> serde_json::Map<String, Value> {
    let stream_of = |v: &Value| {
        let p = v["position"].as_str().unwrap();
        let (stream, n) = p.rsplit_once('/').unwrap();
        (stream.to_owned(), n.parse::<u64>().unwrap())
    };
    let mut want = serde_json::Map::new();
    for v in lines {
        let (stream, n) = stream_of(v);
        let e = want.entry(stream).or_insert(Value::from(0u64));
        *e = Value::from(e.as_u64().unwrap().max(n));
    }
    for v in &lines[acked..] {
        let (stream, n) = stream_of(v);
        let e = want.get_mut(&stream).unwrap();
        *e = Value::from(e.as_u64().unwrap().min(n - 1));
    }
    want
}

fn wait_streams(path: &std::path::Path, want: &serde_json::Map<String, Value>) {
    let deadline = std::time::Instant::now() + WAIT;
    while streams_of(path).as_ref() != Some(want) {
        assert!(
            std::time::Instant::now() < deadline,
            "cursor {:?}, want {want:?}",
            streams_of(path)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ack_stdin_on_a_per_session_store_repeats_what_was_not_acknowledged_and_never_skips() {
    let s = crate::sessions::Store::corpus("aios-sessions");
    let cursor = s._tmp.path().join("cursor.json");
    let c = cursor.to_str().unwrap();
    let mut consumer = Consumer::start(&s.root, &["--cursor-file", c, "--source-id", "st"]);
    let first: Vec<Value> = (0..240).map(|_| consumer.next()).collect();
    assert!(first.iter().all(|v| v["type"] == "record"));
    // Six acknowledged one by one: every stream's position stops before its
    // oldest line not acknowledged, whatever the merge's order.
    for _ in 0..6 {
        consumer.ack("ACK");
    }
    wait_streams(&cursor, &expected_streams(&first, 6));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(streams_of(&cursor), Some(expected_streams(&first, 6)));
    consumer.kill();

    // Restarted: exactly the unacknowledged lines come again, in order.
    let mut consumer = Consumer::start(&s.root, &["--cursor-file", c, "--source-id", "st"]);
    let again: Vec<Value> = (0..234).map(|_| consumer.next()).collect();
    assert_eq!(again, first[6..], "repeats, never skips");
    // A batch acknowledged by its last id; then the consumer dies.
    let id = again[93]["id"].as_str().unwrap().to_owned();
    consumer.ack(&format!("ACK {id}"));
    wait_streams(&cursor, &expected_streams(&first, 100));
    let (code, stderr) = consumer.close();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("140 record(s) written were not acknowledged"),
        "{stderr}"
    );

    // A record appended meanwhile; a scheduled run acknowledging every line
    // gets the 140 and the new one, then stops by itself.
    let template = s.lines("sess-01-ec779c36")[0].clone();
    let new = crate::sessions::record_like(&template, "sess-01-ec779c36", 59);
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(s.file("sess-01-ec779c36"))
        .unwrap();
    f.write_all(&new).unwrap();
    let mut consumer = Consumer::start(
        &s.root,
        &["--cursor-file", c, "--source-id", "st", "--stop-at-end"],
    );
    let mut rest = Vec::new();
    for _ in 0..141 {
        rest.push(consumer.next());
        consumer.ack("ACK");
    }
    assert_eq!(rest[..140], first[100..]);
    assert_eq!(rest[140]["id"], "st:sess-01-ec779c36/main/59");
    assert_eq!(consumer.child.wait().unwrap().code(), Some(0));
    let mut all = first.clone();
    all.push(rest[140].clone());
    assert_eq!(streams_of(&cursor), Some(expected_streams(&all, all.len())));
}

#[test]
fn a_stream_whose_records_below_the_cursor_are_gone_is_a_gap_a_hole_above_them_is_not() {
    let s = crate::sessions::Store::corpus("aios-sessions");
    let session = "sess-01-ec779c36";
    let cursor = s._tmp.path().join("cursor.json");
    let c = cursor.to_str().unwrap();
    // Read to the end, then the runtime removes main's 1..=20 (kept: 21..).
    stdout_of(&mut s.cmd(&["tail", "-o", "raw", "--cursor-file", c]));
    let mut streams = streams_of(&cursor).unwrap();
    let key = format!("{session}/main");
    assert_eq!(streams[&key], 58);
    streams.insert(key.clone(), Value::from(10u64));
    let write_cursor = |streams: &serde_json::Map<String, Value>| {
        fs::write(
            &cursor,
            serde_json::json!({"format": "sessions", "streams": streams}).to_string(),
        )
        .unwrap()
    };
    write_cursor(&streams);
    let main_seq = |l: &Vec<u8>| {
        let v: Value = serde_json::from_slice(l).unwrap();
        (v["branch_id"] == "main").then(|| v["sequence"].as_u64().unwrap())
    };
    let lines = s.lines(session);
    let kept: Vec<Vec<u8>> = lines
        .iter()
        .filter(|l| main_seq(l).is_none_or(|n| n > 20))
        .cloned()
        .collect();
    s.write_lines(session, &kept);
    let run = || {
        s.cmd(&[
            "tail",
            "-f",
            "--stop-at-end",
            "-o",
            "envelope",
            "--source-id",
            "st",
            "--cursor-file",
            c,
        ])
        .output()
        .unwrap()
    };
    let out = run();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = envelopes(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        got[0],
        serde_json::json!({
            "schema": "journal-envelope/1", "type": "gap", "source": "st",
            "host": got[0]["host"], "id": format!("st:{key}/gap-11-20"), "stream": key,
            "first": 11, "last": 20, "reason": "pruned"
        })
    );
    let positions: Vec<&str> = got[1..]
        .iter()
        .map(|v| v["position"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (21..=58).map(|n| format!("{key}/{n}")).collect();
    assert_eq!(positions, want);
    assert!(String::from_utf8_lossy(&out.stderr).contains("positions 11..20 are no longer held"));
    assert_eq!(streams_of(&cursor).unwrap()[&key], 58);

    // A hole above what the stream still holds (21..=25 removed, the
    // cursor at 22... no: at 30, with 31..=35 removed) is the format's
    // numbering as far as a reader can tell: no gap, 36.. follow.
    streams.insert(key.clone(), Value::from(30u64));
    write_cursor(&streams);
    let kept: Vec<Vec<u8>> = s
        .lines(session)
        .into_iter()
        .filter(|l| main_seq(l).is_none_or(|n| !(31..=35).contains(&n)))
        .collect();
    s.write_lines(session, &kept);
    let out = run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = envelopes(&String::from_utf8(out.stdout).unwrap());
    let positions: Vec<&str> = got
        .iter()
        .map(|v| v["position"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (36..=58).map(|n| format!("{key}/{n}")).collect();
    assert_eq!(positions, want);
}

#[test]
fn ack_stdin_on_two_journals_at_once_repeats_what_was_not_acknowledged() {
    let seg = TestJournal::with_events(40, 10);
    let store = crate::sessions::Store::corpus("aios-sessions");
    let cursor = seg.tmp.path().join("cursor.json");
    let c = cursor.to_str().unwrap();
    let dirs = [seg.dir.as_path(), store.root.as_path()];
    let mut consumer = Consumer::start_many(&dirs, &["--cursor-file", c]);
    let first: Vec<Value> = (0..280).map(|_| consumer.next()).collect();
    let sources: std::collections::BTreeSet<&str> = first
        .iter()
        .map(|v| v["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources.len(), 2);
    // 50 acknowledged as one batch, 7 more one by one; then killed.
    let id = first[49]["id"].as_str().unwrap().to_owned();
    consumer.ack(&format!("ACK {id}"));
    for _ in 0..7 {
        consumer.ack("ACK");
    }
    // The cursor holds one position per source and stream.
    let deadline = std::time::Instant::now() + WAIT;
    let seg_source = first.iter().find(|v| v["position"].is_u64()).unwrap()["source"]
        .as_str()
        .unwrap()
        .to_owned();
    let want_seg = first[57..]
        .iter()
        .filter(|v| v["source"] == seg_source.as_str())
        .map(|v| v["position"].as_u64().unwrap())
        .min()
        .map_or(40, |n| n - 1);
    loop {
        let v: Option<Value> = fs::read_to_string(&cursor)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        if let Some(v) = &v
            && v["sources"][&seg_source]["positions"][""] == want_seg
        {
            assert_eq!(v["schema"], "journal-cursor-sources/1");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "cursor {v:?}, want {want_seg}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    consumer.kill();
    let mut consumer = Consumer::start_many(&dirs, &["--cursor-file", c, "--stop-at-end"]);
    let mut again = Vec::new();
    for _ in 57..280 {
        again.push(consumer.next());
        consumer.ack("ACK");
    }
    assert_eq!(again, first[57..], "repeats, never skips");
    assert_eq!(consumer.child.wait().unwrap().code(), Some(0));
    // Everything acknowledged: a third run has nothing to send.
    let out = journal_cmd()
        .args([
            "tail",
            "-f",
            "--stop-at-end",
            "-o",
            "envelope",
            "--cursor-file",
            c,
        ])
        .args(dirs)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        0,
        "nothing left to send"
    );
}

#[test]
fn a_gap_in_one_of_several_journals_is_a_typed_record_of_its_source_and_stream() {
    let seg = TestJournal::with_events(20, 5);
    let store = crate::sessions::Store::corpus("aios-sessions");
    let session = "sess-02-082cfe88";
    let cursor = seg.tmp.path().join("cursor.json");
    let c = cursor.to_str().unwrap();
    let dirs = [seg.dir.as_path(), store.root.as_path()];
    let run = || {
        journal_cmd()
            .args([
                "tail",
                "-f",
                "--stop-at-end",
                "-o",
                "envelope",
                "--cursor-file",
                c,
            ])
            .args(dirs)
            .output()
            .unwrap()
    };
    assert_eq!(run().status.code(), Some(0));
    // Both journals lose records a reader had not read: the cursor is set
    // back (segments to 7, the session's main branch to 5), then the
    // segments are pruned to 16.. and the session keeps main 13.. only.
    let mut saved: Value = serde_json::from_str(&fs::read_to_string(&cursor).unwrap()).unwrap();
    let key = format!("{session}/main");
    let mut seg_id = String::new();
    let mut store_id = String::new();
    for (id, entry) in saved["sources"].as_object_mut().unwrap() {
        let positions = entry["positions"].as_object_mut().unwrap();
        if positions.contains_key("") {
            positions.insert(String::new(), 7.into());
            seg_id = id.clone();
        } else {
            positions.insert(key.clone(), 5.into());
            store_id = id.clone();
        }
    }
    fs::write(&cursor, saved.to_string()).unwrap();
    stdout_of(&mut seg.cmd(&["prune", "--keep", "1"]));
    let kept: Vec<Vec<u8>> = store
        .lines(session)
        .into_iter()
        .filter(|l| {
            let v: Value = serde_json::from_slice(l).unwrap();
            v["branch_id"] != "main" || v["sequence"].as_u64().unwrap() > 12
        })
        .collect();
    store.write_lines(session, &kept);
    let out = run();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = envelopes(&String::from_utf8(out.stdout).unwrap());
    let gaps: Vec<(String, u64, u64)> = all
        .iter()
        .filter(|v| v["type"] == "gap")
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_owned(),
                v["first"].as_u64().unwrap(),
                v["last"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        [
            (format!("{seg_id}:gap-8-15"), 8, 15),
            (format!("{store_id}:{key}/gap-6-12"), 6, 12)
        ]
    );
    // After the gaps, every record still held comes once: segments 16..=20,
    // the session's main 13.. .
    let seqs: Vec<u64> = all
        .iter()
        .filter(|v| v["type"] == "record" && v["source"] == seg_id.as_str())
        .map(|v| v["position"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (16..=20).collect::<Vec<_>>());
    let main: Vec<String> = all
        .iter()
        .filter(|v| v["type"] == "record" && v["source"] == store_id.as_str())
        .map(|v| v["position"].as_str().unwrap().to_owned())
        .collect();
    let last_main = store
        .lines(session)
        .iter()
        .filter_map(|l| {
            let v: Value = serde_json::from_slice(l).unwrap();
            (v["branch_id"] == "main").then(|| v["sequence"].as_u64().unwrap())
        })
        .max()
        .unwrap();
    let want: Vec<String> = (13..=last_main).map(|n| format!("{key}/{n}")).collect();
    assert_eq!(main, want);
    // The cursor is past both gaps: the next run is quiet and succeeds.
    assert_eq!(run().status.code(), Some(0));
}

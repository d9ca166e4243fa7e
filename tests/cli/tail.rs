//! `journal tail`: the last N events, and `-f` following a live journal
//! through rotation, partial lines, writer restarts, pruning, a directory that
//! appears later, and a cursor file across restarts.

use std::fs;
use std::time::Duration;

use crate::common::*;

fn range(a: u64, b: u64) -> Vec<u64> {
    (a..=b).collect()
}

fn pause() {
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn last_n_events_oldest_first() {
    let j = TestJournal::with_events(30, 7);
    assert_eq!(seqs_of(&stdout_of(&mut j.cmd(&["tail"]))), range(21, 30));
    assert_eq!(
        seqs_of(&stdout_of(&mut j.cmd(&["tail", "-n", "3"]))),
        range(28, 30)
    );
    assert_eq!(
        seqs_of(&stdout_of(&mut j.cmd(&["tail", "-n", "0"]))),
        Vec::<u64>::new()
    );
    // The same filters as inspect: type error is seq % 4 == 2.
    assert_eq!(
        seqs_of(&stdout_of(&mut j.cmd(&["tail", "-n", "3", "-t", "error"]))),
        vec![22, 26, 30]
    );
    // Raw output is the stored line, byte for byte.
    assert_eq!(
        stdout_of(&mut j.cmd(&["tail", "-n", "1"])),
        format!("{}\n", event_line(30))
    );
}

#[test]
fn from_seq_without_follow_prints_everything_after() {
    let j = TestJournal::with_events(30, 7);
    assert_eq!(
        seqs_of(&stdout_of(&mut j.cmd(&["tail", "--from-seq", "12"]))),
        range(13, 30)
    );
    assert_eq!(
        seqs_of(&stdout_of(&mut j.cmd(&["tail", "--from-seq", "30"]))),
        Vec::<u64>::new()
    );
}

#[test]
fn follow_prints_new_events_across_rotation() {
    let j = TestJournal::with_events(5, 5);
    let tail = j.follow(&["-n", "2"]);
    tail.wait_for_seq(5);
    let mut w = EngineWriter::new(&j.dir, 300, 6);
    for _ in 6..=40 {
        w.append();
    }
    tail.wait_for_seq(40);
    assert!(j.segments().len() > 5, "{:?}", j.segments());
    let (status, out, err) = tail.stop();
    assert!(status.success(), "{status:?} {err}");
    assert_eq!(seqs_of(&out), range(4, 40));
    assert_eq!(err, "");
}

#[test]
fn rotation_in_a_burst_keeps_seq_order() {
    // The old segment's last line and the new segment's creation land in the
    // same instant, many times over: lines must still come out in seq order.
    let j = TestJournal::new();
    j.touch_lock();
    let tail = j.follow(&[]);
    pause();
    let mut w = EngineWriter::new(&j.dir, 1, 1); // every line its own segment
    for _ in 0..300 {
        w.append();
    }
    tail.wait_for_seq(300);
    let (status, out, err) = tail.stop();
    assert!(status.success());
    assert_eq!(seqs_of(&out), range(1, 300));
    assert_eq!(err, "");
}

#[test]
fn a_partial_line_is_held_until_its_newline() {
    let j = TestJournal::with_events(3, 10);
    let tail = j.follow(&[]);
    tail.wait_for_seq(3);
    let line = event_line(4);
    let (head, rest) = line.split_at(40);
    j.append_raw(&segment_name(1), head.as_bytes());
    pause();
    assert_eq!(
        seqs_of(&tail.stdout()),
        range(1, 3),
        "half a line was printed"
    );
    j.append_raw(&segment_name(1), format!("{rest}\n").as_bytes());
    tail.wait_for_seq(4);
    let (_, out, err) = tail.stop();
    assert_eq!(out.lines().last().unwrap(), line);
    assert_eq!(err, "");
}

#[test]
fn torn_tail_cut_by_a_restarting_writer_prints_nothing_of_the_torn_bytes() {
    let j = TestJournal::with_events(3, 10);
    // A crash mid-append left 60 torn bytes of what would have been seq 4.
    let torn = &event_line(4)[..60];
    j.append_raw(&segment_name(1), torn.as_bytes());
    let tail = j.follow(&[]);
    tail.wait_for_seq(3);
    pause();
    // The restart: cut to the end of the last complete line, append after it.
    // The new line is longer than the torn bytes, so a reader gluing its old
    // buffer to the new bytes would print garbage.
    let path = j.path(&segment_name(1));
    let good_len = fs::read(&path).unwrap().len() - torn.len();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(good_len as u64)
        .unwrap();
    let mut w = EngineWriter::resume(&j.dir, 1 << 20, 4);
    w.append();
    w.append();
    tail.wait_for_seq(5);
    let (status, out, err) = tail.stop();
    assert!(status.success());
    let expected: String = (1..=5).map(|s| format!("{}\n", event_line(s))).collect();
    assert_eq!(out, expected);
    assert_eq!(err, "");
}

#[test]
fn a_file_cut_below_the_read_position_is_read_on_from_the_cut() {
    let j = TestJournal::with_events(5, 10);
    // From seq 0: seq 5 on stdout means the follower itself read to the end
    // (the last-N printing before following does not), so it sees the cut.
    let tail = j.follow(&["--from-seq", "0"]);
    tail.wait_for_seq(5);
    // A repair cut seqs 4 and 5; the writer then goes on with 6.
    let path = j.path(&segment_name(1));
    let text = fs::read_to_string(&path).unwrap();
    let cut: usize = text.lines().take(3).map(|l| l.len() + 1).sum();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut as u64)
        .unwrap();
    pause();
    let mut w = EngineWriter::resume(&j.dir, 1 << 20, 6);
    w.append();
    tail.wait_for_seq(6);
    let (_, out, err) = tail.stop();
    assert_eq!(seqs_of(&out), range(1, 6));
    assert!(
        err.contains(&format!(
            "was cut under the reader (read to byte {}, now ",
            text.len()
        )),
        "{err}"
    );
}

/// The interleaving the test above met under load: the writer appends after
/// the cut before the follower looks (frozen here). Reading on from the
/// length it then finds lost seq 6.
#[test]
fn a_cut_and_an_append_before_the_reader_looks_lose_nothing() {
    let j = TestJournal::with_events(5, 10);
    // From seq 0: the follower itself prints 1..5, so it has read to the end.
    let tail = j.follow(&["--from-seq", "0"]);
    tail.wait_for_seq(5);
    tail.signal("STOP");
    let path = j.path(&segment_name(1));
    let text = fs::read_to_string(&path).unwrap();
    let cut: usize = text.lines().take(3).map(|l| l.len() + 1).sum();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut as u64)
        .unwrap();
    let mut w = EngineWriter::resume(&j.dir, 1 << 20, 6);
    w.append();
    let len = fs::metadata(&path).unwrap().len();
    tail.signal("CONT");
    tail.wait_for_seq(6);
    let (_, out, err) = tail.stop();
    assert_eq!(seqs_of(&out), range(1, 6));
    assert!(
        err.contains(&format!(
            "was cut under the reader (read to byte {}, now {len} bytes)",
            text.len()
        )),
        "{err}"
    );
}

#[test]
fn segments_pruned_under_the_reader_lose_nothing_and_hold_no_descriptor() {
    let j = TestJournal::with_events(10, 5);
    let tail = j.follow(&["-n", "1"]);
    tail.wait_for_seq(10);
    let mut w = EngineWriter::new(&j.dir, 400, 11);
    for _ in 11..=60 {
        w.append();
    }
    tail.wait_for_seq(60);
    // Everything but the newest goes, including the ones the reader finished.
    assert!(prune_keep(&j.dir, 1) > 3);
    for _ in 61..=70 {
        w.append();
    }
    tail.wait_for_seq(70);
    assert_eq!(deleted_fds(tail.child.id()), Vec::<String>::new());
    let (_, out, err) = tail.stop();
    assert_eq!(seqs_of(&out), range(10, 70));
    assert_eq!(err, "");
}

#[test]
fn a_segment_pruned_while_being_read_is_read_to_its_end() {
    let j = TestJournal::with_events(5, 5);
    let tail = j.follow(&["-n", "1"]);
    tail.wait_for_seq(5);
    wait_until_open(tail.child.id(), &j.path(&segment_name(1)));
    // Freeze the reader, fill its segment and the next ones, prune all but
    // the newest: the open segment is still read through its descriptor.
    tail.signal("STOP");
    let mut w = EngineWriter::resume(&j.dir, 2000, 6);
    for _ in 6..=40 {
        w.append();
    }
    let segments = j.segments().len();
    assert!(segments >= 3, "{segments}");
    prune_keep(&j.dir, 1);
    tail.signal("CONT");
    let newest_start: u64 = j.segments()[0][7..27].parse().unwrap();
    tail.wait_for_seq(40);
    let (_, out, err) = tail.stop();
    let seqs = check_stream_with_prunes(&out, &err);
    // Seqs 5.. of the open segment were read; the segments in between were not.
    let first_segment_end = seqs
        .iter()
        .copied()
        .take_while(|s| *s < newest_start)
        .max()
        .unwrap();
    assert!(first_segment_end > 5, "{seqs:?}");
    assert_eq!(
        err,
        format!(
            "journal: warning: seqs {}..{} were pruned before they could be read\n",
            first_segment_end + 1,
            newest_start - 1
        )
    );
}

#[test]
fn a_cursor_below_the_oldest_segment_warns_of_the_pruned_seqs() {
    let j = TestJournal::with_events(30, 10);
    prune_keep(&j.dir, 1);
    let out = j.cmd(&["tail", "--from-seq", "5"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        seqs_of(&String::from_utf8(out.stdout).unwrap()),
        range(21, 30)
    );
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "journal: warning: seqs 6..20 were pruned before they could be read\n"
    );
}

#[test]
fn a_gap_in_the_journal_is_reported_not_papered_over() {
    let j = TestJournal::with_events(10, 5);
    let tail = j.follow(&["-n", "1"]);
    tail.wait_for_seq(10);
    // The next segment starts at 14: 11..13 never existed (nothing was pruned).
    j.append_events(14..=15, 5);
    tail.wait_for_seq(15);
    let (_, out, err) = tail.stop();
    assert_eq!(seqs_of(&out), vec![10, 14, 15]);
    assert!(
        err.contains("events-00000000000000000014.jsonl starts at seq 14 (byte 0) where seq 11 was due: seqs 11..13 are missing"),
        "{err}"
    );
}

#[test]
fn retry_waits_for_the_directory_and_survives_its_recreation() {
    let j = TestJournal::new();
    fs::remove_dir(&j.dir).unwrap();
    let tail = j.follow(&["--retry"]);
    tail.wait_for("the waiting note", |_, err| {
        err.contains("waiting for it to appear")
    });
    fs::create_dir(&j.dir).unwrap();
    j.append_events(1..=3, 10);
    tail.wait_for_seq(3);
    // Removed and recreated (a restore): following goes on in the new one.
    fs::remove_dir_all(&j.dir).unwrap();
    pause();
    fs::create_dir(&j.dir).unwrap();
    j.append_events(4..=6, 10);
    tail.wait_for_seq(6);
    let (status, out, _) = tail.stop();
    assert!(status.success());
    assert_eq!(seqs_of(&out), range(1, 6));
}

#[test]
fn without_retry_a_missing_directory_is_an_error() {
    let j = TestJournal::new();
    fs::remove_dir(&j.dir).unwrap();
    j.cmd(&["tail", "-f"]).assert().code(2);
}

#[test]
fn from_seq_while_following() {
    let j = TestJournal::with_events(20, 6);
    let tail = j.follow(&["--from-seq", "15"]);
    tail.wait_for_seq(20);
    j.append_events(21..=22, 6);
    tail.wait_for_seq(22);
    let (_, out, err) = tail.stop();
    assert_eq!(seqs_of(&out), range(16, 22));
    assert_eq!(err, "");
}

#[test]
fn polling_mode_follows_too() {
    let j = TestJournal::with_events(3, 10);
    let tail = j.follow(&["--poll", "50ms", "-n", "1"]);
    tail.wait_for_seq(3);
    j.append_events(4..=5, 10);
    tail.wait_for_seq(5);
    let (_, out, _) = tail.stop();
    assert_eq!(seqs_of(&out), range(3, 5));
}

#[test]
fn follow_with_a_filter_and_a_streaming_table() {
    let j = TestJournal::with_events(4, 10);
    let tail = j.follow(&["-o", "table", "-t", "error", "-n", "5"]);
    tail.wait_for("the first row", |out, _| out.lines().count() == 3);
    j.append_events(5..=6, 10);
    tail.wait_for("the second row", |out, _| out.lines().count() == 4);
    let (_, out, _) = tail.stop();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "     SEQ  TIME                     SESSION       TYPE                  SUMMARY"
    );
    assert_eq!(
        lines[2],
        "       2  2026-11-20 09:02:00.000  sess-7        error                 message=boom 2"
    );
    assert_eq!(
        lines[3],
        "       6  2026-11-20 09:06:00.000  sess-1        error                 message=boom 6"
    );
}

#[test]
fn cursor_file_resumes_after_sigterm_without_loss_or_duplicate() {
    let j = TestJournal::with_events(1, 10);
    let cursor = j.tmp.path().join("cursor");
    let cursor_arg = cursor.to_str().unwrap();
    let tail = j.follow(&["--cursor-file", cursor_arg]);
    // A writer keeps appending while the follower is stopped mid-stream.
    let dir = j.dir.clone();
    let writer = std::thread::spawn(move || {
        let mut w = EngineWriter::resume(&dir, 2000, 2);
        for _ in 2..=3000 {
            w.append();
            if w.next_seq.is_multiple_of(50) {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    });
    tail.wait_for("a few hundred events", |out, _| out.lines().count() > 300);
    let (status, first, err) = tail.stop();
    assert!(status.success(), "{status:?} {err}");
    writer.join().unwrap();
    let first = seqs_of(&first);
    let saved: u64 = fs::read_to_string(&cursor).unwrap().trim().parse().unwrap();
    assert_eq!(
        first,
        range(1, saved),
        "the cursor must name the last seq printed"
    );
    // The restarted shipper prints exactly the rest.
    let rest = stdout_of(&mut j.cmd(&["tail", "--cursor-file", cursor_arg]));
    assert_eq!(seqs_of(&rest), range(saved + 1, 3000));
    assert_eq!(fs::read_to_string(&cursor).unwrap(), "3000\n");
}

#[test]
fn a_closed_stdout_ends_the_follower_cleanly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let j = TestJournal::with_events(3, 10);
    let cursor = j.tmp.path().join("cursor");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("journal"))
        .args(["tail", "-f", "--cursor-file"])
        .arg(&cursor)
        .arg(&j.dir)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // `journal tail -f | head -3`: read three lines, then the reader goes away.
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    for seq in 1..=3 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line.trim_end(), event_line(seq));
    }
    drop(reader);
    let mut w = EngineWriter::resume(&j.dir, 1 << 20, 4);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < WAIT, "the follower did not exit");
        w.append();
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    // The first write after the close failed: the cursor stays at seq 3.
    assert_eq!(fs::read_to_string(&cursor).unwrap(), "3\n");
}

/// One writer appends `events` with a tiny rotation threshold (hundreds of
/// segments) while, with `prune`, another thread keeps deleting all but the
/// 4 newest, and `journal tail -f` follows. Returns the follower's seqs.
fn follow_a_busy_journal(events: u64, prune: bool) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let j = TestJournal::with_events(10, 100);
    let tail = j.follow(&["-n", "10"]);
    tail.wait_for_seq(10);
    let done = Arc::new(AtomicBool::new(false));
    let pruner = prune.then(|| {
        let (dir, done) = (j.dir.clone(), done.clone());
        std::thread::spawn(move || {
            let mut pruned = 0;
            while !done.load(Ordering::SeqCst) {
                pruned += prune_keep(&dir, 4);
                std::thread::sleep(Duration::from_millis(1));
            }
            pruned
        })
    });
    let mut w = EngineWriter::resume(&j.dir, 100 * 200, 11);
    // ~100 events of ~200 bytes per segment.
    while w.next_seq <= events {
        w.append();
    }
    tail.wait_for_seq(events);
    done.store(true, Ordering::SeqCst);
    if let Some(p) = pruner {
        assert!(p.join().unwrap() > 0, "the pruner deleted nothing");
    }
    let (status, out, err) = tail.stop();
    assert!(status.success(), "{status:?}\n{err}");
    let seqs = check_stream_with_prunes(&out, &err);
    // Every stderr line is a pruned-before-read warning for one skip in stdout.
    let skips = seqs.windows(2).filter(|w| w[1] != w[0] + 1).count();
    let warnings = err
        .lines()
        .filter(|l| l.contains("were pruned before they could be read"))
        .count();
    assert_eq!(err.lines().count(), warnings, "{err}");
    assert_eq!(warnings, skips, "{err}");
    assert_eq!(seqs.first(), Some(&1));
    assert_eq!(seqs.last(), Some(&events));
    if !prune {
        assert_eq!(seqs, range(1, events));
        assert!(
            j.segments().len() as u64 >= events / 200,
            "{}",
            j.segments().len()
        );
    }
}

// The full size runs in a few seconds (release or debug), so it is in the default suite.
#[test]
fn busy_journal_with_pruning_prints_exactly_the_contiguous_seqs_it_could_read() {
    follow_a_busy_journal(50_000, true);
}

#[test]
fn busy_journal_without_pruning_prints_every_seq() {
    follow_a_busy_journal(50_000, false);
}

#[test]
fn a_poll_interval_that_would_spin_a_core_is_refused() {
    let j = TestJournal::with_events(3, 10);
    for poll in ["0s", "1ns", "9ms"] {
        let out = j
            .cmd(&["tail", "-f", "--poll", poll])
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{poll}: {stderr}");
        assert!(stderr.contains("10ms at least"), "{poll}: {stderr}");
    }
}

/// Issue 16 item 1: the newest segment holds only a partial line (a crash
/// right after rotation) while `tail -f` follows; the writer restarts
/// (`journal append`), quarantines that segment and appends to the previous
/// one, which is under the rotation size. The follower must print those
/// events, not wait for a newer segment and then call them pruned. Watched
/// and polled alike; then a later rotation is followed as usual.
#[test]
fn a_writer_restart_that_appends_to_the_previous_segment_loses_nothing() {
    for poll in [false, true] {
        let j = TestJournal::with_events(20, 10);
        j.append_raw(&segment_name(21), &event_line(21).as_bytes()[..50]);
        let args: &[&str] = if poll { &["--poll", "50ms"] } else { &[] };
        let tail = j.follow(args);
        tail.wait_for_seq(20);
        pause();
        let input =
            "{\"type\":\"error\",\"message\":\"a\"}\n{\"type\":\"error\",\"message\":\"b\"}\n";
        append_cmd(&j.dir, &[], input)
            .assert()
            .success()
            .stdout("21..22\n");
        assert!(
            !j.path(&segment_name(21)).exists(),
            "the writer removes the segment without a complete line"
        );
        tail.wait_for_seq(22);
        // A rotation after that is followed as before.
        append_cmd(&j.dir, &["--rotate-bytes", "1"], input)
            .assert()
            .success()
            .stdout("23..24\n");
        tail.wait_for_seq(24);
        let (status, out, err) = tail.stop();
        assert!(status.success());
        assert_eq!(seqs_of(&out), range(11, 24), "poll: {poll}");
        assert!(!err.contains("pruned"), "poll: {poll}: {err}");
    }
}

/// Issue 16 item 6: `tail -n N` without -f reports the damaged lines it met
/// among the events it read, as inspect does.
#[test]
fn last_n_reports_the_damaged_lines_it_met() {
    let j = TestJournal::with_events(20, 10);
    j.append_raw(&segment_name(11), b"not json at all\n");
    j.append_events(21..=22, 10);
    let out = j.cmd(&["tail", "-n", "5"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        seqs_of(&String::from_utf8(out.stdout).unwrap()),
        range(18, 22)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("skipped 1 damaged line"), "{err}");
    assert!(err.contains("not-json"), "{err}");
}

/// Issue 16 item 3: a cursor (or --from-seq) beyond the journal's max seq
/// means another or a recreated journal. Following would wait silently for
/// seqs that never come; it is refused, saying so, before anything prints.
/// A cursor at the max is fine (nothing new yet).
#[test]
fn a_cursor_ahead_of_the_journal_is_refused_not_a_silent_stall() {
    let j = TestJournal::with_events(20, 10);
    let cursor = j.tmp.path().join("cursor");
    fs::write(&cursor, "5000\n").unwrap();
    let cursor_arg = cursor.to_str().unwrap();
    for args in [
        vec!["tail", "-f", "--cursor-file", cursor_arg],
        vec!["tail", "--cursor-file", cursor_arg],
        vec!["tail", "-f", "--from-seq", "5000"],
    ] {
        let out = j
            .cmd(&args)
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(out.stdout, b"", "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("is at seq 5000, but the journal's max seq is 20")
                && err.contains("recreated"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        fs::read_to_string(&cursor).unwrap(),
        "5000\n",
        "left as it was"
    );
    fs::write(&cursor, "20\n").unwrap();
    j.cmd(&["tail", "--cursor-file", cursor_arg])
        .assert()
        .success()
        .stdout("");
}

/// Issue 16 item 4: a cursor file that cannot be written is found before
/// anything is printed (a shipper that retries would send everything again).
#[test]
fn an_unwritable_cursor_file_fails_before_printing() {
    let j = TestJournal::with_events(20, 10);
    let missing = j.tmp.path().join("missing/dir/cursor");
    let out = j
        .cmd(&["tail", "--cursor-file", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(out.stdout, b"", "nothing may be printed");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cannot be written"), "{err}");
    // A writable place works, and leaves no probe behind.
    let cursor = j.tmp.path().join("cursor");
    let out = stdout_of(&mut j.cmd(&["tail", "--cursor-file", cursor.to_str().unwrap()]));
    assert_eq!(seqs_of(&out), range(1, 20));
    let names: Vec<_> = fs::read_dir(j.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("probe")), "{names:?}");
}

#[test]
fn a_cursor_that_cannot_be_written_is_an_error_naming_it() {
    let j = TestJournal::with_events(3, 10);
    let cursor = j.tmp.path().join("missing").join("cursor");
    let out = journal_cmd()
        .arg("tail")
        .arg("--cursor-file")
        .arg(&cursor)
        .arg(&j.dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Issue 16 item 4: found before printing, so a retrying shipper sends nothing twice.
    assert_eq!(out.stdout, b"");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "journal: {}: the cursor file cannot be written; nothing was printed: No such file \
             or directory (os error 2)\n",
            cursor.display()
        )
    );
}

/// Issue 14 item 3: `tail -n N` with a rare filter reads through the window
/// prefilter like inspect, with the same answer; damage at the end, which
/// both the newest-line read and the match read meet, is counted once.
#[test]
fn last_n_with_a_rare_filter_finds_the_same_events_and_counts_damage_once() {
    let j = TestJournal::with_events(200, 50);
    j.append_raw(&segment_name(151), b"not json at all\n");
    for (filter, want) in [
        (vec!["-w", "message_id=m-8"], vec![8]),
        (vec!["-w", "message_id=m-8", "-n", "5"], vec![8]),
        (vec!["--session", "sess-7", "-n", "3"], vec![194, 197, 200]),
        (vec!["-n", "2"], vec![199, 200]),
    ] {
        let mut args = vec!["tail", "-o", "jsonl"];
        args.extend(filter.iter().copied());
        let out = j.cmd(&args).output().unwrap();
        assert!(out.status.success());
        assert_eq!(
            seqs_of(&String::from_utf8(out.stdout).unwrap()),
            want,
            "{filter:?}"
        );
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("skipped 1 damaged line:"), "{filter:?}: {err}");
    }
}

/// Issue 13 item 10: journalctl's --cursor-file convention. An existing
/// cursor wins; without one, -n or --from-seq say where to start, so a
/// shipper can begin "from now" (-n 0) and resume from then on.
#[test]
fn a_missing_cursor_file_starts_where_n_or_from_seq_say() {
    let j = TestJournal::with_events(5, 10);
    let cursor = j.tmp.path().join("cursor");
    let cursor_arg = cursor.to_str().unwrap();
    let seqs_of = |out: &std::process::Output| -> Vec<u64> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    let out = j
        .cmd(&[
            "tail",
            "-o",
            "jsonl",
            "--cursor-file",
            cursor_arg,
            "-n",
            "0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(seqs_of(&out), Vec::<u64>::new(), "from now: nothing old");
    assert_eq!(
        fs::read_to_string(&cursor).unwrap(),
        "5\n",
        "now is remembered"
    );

    j.append_events(6..=8, 10);
    let out = j
        .cmd(&[
            "tail",
            "-o",
            "jsonl",
            "--cursor-file",
            cursor_arg,
            "-n",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(
        seqs_of(&out),
        range(6, 8),
        "the existing cursor wins over -n"
    );
    assert_eq!(fs::read_to_string(&cursor).unwrap(), "8\n");

    let other = j.tmp.path().join("other");
    let out = j
        .cmd(&[
            "tail",
            "-o",
            "jsonl",
            "--cursor-file",
            other.to_str().unwrap(),
            "--from-seq",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(seqs_of(&out), range(4, 8), "no cursor yet: --from-seq says");
    assert_eq!(fs::read_to_string(&other).unwrap(), "8\n");
}

/// Issue 13 item 21: a FIFO (or directory) given as the cursor file is
/// refused at once instead of blocking on its open.
#[test]
fn a_cursor_file_that_is_a_fifo_is_refused_not_waited_on() {
    let j = TestJournal::with_events(5, 10);
    let fifo = j.dir.join("cursor-fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let sub = j.dir.join("cursor-dir");
    fs::create_dir(&sub).unwrap();
    for (cursor, what) in [(&fifo, "a FIFO"), (&sub, "a directory")] {
        let out = j
            .cmd(&["tail", "--cursor-file", cursor.to_str().unwrap()])
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("it is {what}, not a regular file")),
            "{err}"
        );
    }
}

/// Issue 13 item 14: `journal tail -f DIR | head -1` on an idle journal ends
/// when head goes away, not at the next append.
#[test]
fn a_closed_stdout_ends_an_idle_follow() {
    use std::io::BufRead;
    let j = TestJournal::with_events(5, 10);
    let mut child = journal_process()
        .args(["tail", "-f", "-o", "raw"])
        .arg(&j.dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(seqs_of(&first), vec![1]);
    // The reader is dropped here: nothing is appended, nothing more is written.
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > WAIT {
            child.kill().unwrap();
            panic!("tail -f kept running after its reader went away");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

/// Issue 13 item 6: the directory recreated as a new journal whose seqs
/// start again at 1 is followed from its start, with a warning, instead of
/// waiting silently for seqs past the old ones.
#[test]
fn a_directory_recreated_with_seqs_restarted_is_followed_and_said() {
    let j = TestJournal::with_events(8, 10);
    let tail = j.follow(&["--retry", "-n", "3"]);
    tail.wait_for_seq(8);
    fs::remove_dir_all(&j.dir).unwrap();
    pause();
    fs::create_dir(&j.dir).unwrap();
    j.append_events(1..=2, 10);
    tail.wait_for_seq(2);
    let (status, out, err) = tail.stop();
    assert!(status.success());
    assert_eq!(seqs_of(&out), vec![6, 7, 8, 1, 2]);
    assert!(
        err.contains("recreated as a new journal whose seqs started again (its max seq is "),
        "{err}"
    );
}

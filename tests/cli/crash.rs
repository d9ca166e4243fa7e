//! Crash test of the writer: `journal append`, and the library's `Writer`
//! in a child process, SIGKILLed at random moments while rotating segments
//! every few hundred bytes. After every kill:
//! - no complete line written before is lost, and the lines are seqs 1..=N
//!   in order, each exactly once;
//! - `recover` names the last complete line (N);
//! - `verify` finds at most warnings (a torn tail, a newest segment holding no
//!   complete line); an *empty* newest segment is still an error until issue
//!   13 item 9 lands, so it is accepted as exactly that and counted;
//! - the next `append` continues at N+1.
//!
//! Each kill waits for the child's "started" marker (written once `main`, or
//! the writer, has begun) and then a random delay spread over the time a
//! whole run takes, so the kills land inside the work; the test checks that
//! most of them found the child still running.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{TestJournal, journal_cmd};

const ROTATE: &str = "400";
const STARTED_ENV: &str = "JOURNAL_TEST_STARTED_FILE";
const CHILD_DIR_ENV: &str = "JOURNAL_CRASH_CHILD_DIR";
const CHILD_BUFFER_ENV: &str = "JOURNAL_CRASH_CHILD_BUFFER";

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// The complete lines of the journal, oldest first: (seq, message).
fn complete_lines(dir: &Path) -> Vec<(u64, String)> {
    let mut segs: Vec<(u64, std::path::PathBuf)> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let start = name
                .strip_prefix("events-")?
                .strip_suffix(".jsonl")?
                .parse()
                .ok()?;
            Some((start, e.path()))
        })
        .collect();
    segs.sort();
    let mut out = Vec::new();
    for (_, path) in segs {
        let bytes = fs::read(&path).unwrap();
        let mut rest = &bytes[..];
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let v: Value = serde_json::from_slice(&rest[..nl]).unwrap_or_else(|e| {
                panic!(
                    "{}: a complete line that is not JSON ({e}): {:?}",
                    path.display(),
                    String::from_utf8_lossy(&rest[..nl])
                )
            });
            out.push((
                v["seq"].as_u64().unwrap(),
                v["event"]["message"].as_str().unwrap().to_owned(),
            ));
            rest = &rest[nl + 1..];
        }
    }
    out
}

/// What the checks after each kill found.
#[derive(Default)]
struct Tally {
    kills: usize,
    inside: usize,
    empty_newest_pending_item_9: usize,
    warnings: usize,
}

/// The checks after a kill; `before` is what the journal held before the run.
fn check_after_kill(
    dir: &Path,
    before: &[(u64, String)],
    what: &str,
    tally: &mut Tally,
) -> Vec<(u64, String)> {
    let now = complete_lines(dir);
    assert!(
        now.len() >= before.len() && now[..before.len()] == *before,
        "{what}: a complete line was lost or changed"
    );
    for (i, (seq, _)) in now.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "{what}: seqs are 1..=N in order");
    }
    let n = now.len() as u64;

    let out = journal_cmd()
        .args(["recover", "--json"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{what}: recover failed: {out:?}");
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rec["max_seq"], n,
        "{what}: recover names the last complete line: {rec}"
    );

    let out = journal_cmd()
        .args(["verify", "--json"])
        .arg(dir)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: verify --json: {e}: {out:?}"));
    let newest = report["segments"]
        .as_array()
        .and_then(|s| s.last())
        .map(|s| s["segment"].clone());
    let mut pending = 0;
    for d in report["defects"].as_array().unwrap() {
        if d["severity"] == "warning" {
            tally.warnings += 1;
            continue;
        }
        // Exact: the only error allowed is an empty newest segment (a kill
        // between creating it and writing its first line), an error until
        // issue 13 item 9 makes it the warning it should be.
        assert!(
            d["kind"] == "empty-segment" && Some(&d["segment"]) == newest.as_ref(),
            "{what}: verify found an error: {d}"
        );
        pending += 1;
    }
    tally.empty_newest_pending_item_9 += pending;
    let code = out.status.code();
    assert_eq!(
        code,
        Some(if pending > 0 { 1 } else { 0 }),
        "{what}: verify's exit code: {report}"
    );

    // The next append continues at N+1, and loses nothing either.
    let out = journal_cmd()
        .args(["append", "--rotate-bytes", ROTATE])
        .arg(dir)
        .write_stdin(format!(
            "{{\"type\":\"error\",\"message\":\"after {what}\"}}\n"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: the next append failed: {out:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{}..{}", n + 1, n + 1),
        "{what}: the next append continues at max+1"
    );
    let after = complete_lines(dir);
    assert_eq!(after.len() as u64, n + 1);
    assert_eq!(
        after[..now.len()],
        now[..],
        "{what}: append kept every line"
    );
    after
}

/// Waits for the child's start marker, then a delay, then SIGKILLs it.
/// True when the kill found the child running.
fn kill_after(child: &mut Child, started: &Path, delay: Duration) -> bool {
    let t0 = Instant::now();
    while !started.exists() && t0.elapsed() < Duration::from_secs(30) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    child.wait().unwrap();
    let _ = fs::remove_file(started);
    running
}

fn spawn_append(dir: &Path, started: &Path, batch: usize, tag: &str) -> Child {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("journal"))
        .args(["append", "--rotate-bytes", ROTATE, "--wait", "10s"])
        .arg(dir)
        .env(STARTED_ENV, started)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let input: String = (0..batch)
        .map(|i| format!("{{\"type\":\"error\",\"message\":\"{tag}-{i}\"}}\n"))
        .collect();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    // The child may be killed before it reads everything: ignore EPIPE.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    child
}

fn spawn_library_writer(dir: &Path, started: &Path, buffer: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::library_writer_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_BUFFER_ENV, buffer.to_string())
        .env(STARTED_ENV, started)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// How long a whole uninterrupted run takes, from its start marker to its exit.
fn run_time(mut child: Child, started: &Path) -> Duration {
    while !started.exists() {
        std::thread::sleep(Duration::from_micros(50));
    }
    let t0 = Instant::now();
    child.wait().unwrap();
    let _ = fs::remove_file(started);
    t0.elapsed()
}

fn crash_append(kills: usize, seed: u64) -> Tally {
    let j = TestJournal::new();
    let started = j.tmp.path().join("started");
    let batch = 400;
    let mut whole = run_time(spawn_append(&j.dir, &started, batch, "calibrate"), &started);
    let mut lines = complete_lines(&j.dir);
    assert_eq!(lines.len(), batch);
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    for k in 0..kills {
        let mut child = spawn_append(&j.dir, &started, batch, &format!("k{k}"));
        let delay = Duration::from_micros(rng.below(whole.as_micros() as u64 * 9 / 10));
        let inside = kill_after(&mut child, &started, delay);
        if !inside {
            // The machine got faster than the calibration run: aim earlier.
            whole = whole * 3 / 4;
        }
        tally.inside += usize::from(inside);
        tally.kills += 1;
        lines = check_after_kill(
            &j.dir,
            &lines,
            &format!("append kill {k} after {delay:?}"),
            &mut tally,
        );
    }
    tally
}

fn crash_library_writer(kills: usize, seed: u64) -> Tally {
    let j = TestJournal::new();
    let started = j.tmp.path().join("started");
    let mut rng = Rng(seed);
    let mut lines = Vec::new();
    let mut tally = Tally::default();
    for k in 0..kills {
        // Odd runs buffer lines (as the benchmark generator does), even ones
        // write each line on its own (as the engine does).
        let buffer = if k % 2 == 1 { 2_000 } else { 0 };
        let mut child = spawn_library_writer(&j.dir, &started, buffer);
        let delay = Duration::from_micros(rng.below(60_000));
        tally.inside += usize::from(kill_after(&mut child, &started, delay));
        tally.kills += 1;
        lines = check_after_kill(
            &j.dir,
            &lines,
            &format!("writer kill {k} after {delay:?}"),
            &mut tally,
        );
    }
    tally
}

fn assert_inside(what: &str, t: &Tally) {
    eprintln!(
        "{what}: {} kills, {} inside the run, {} empty newest segments (item 9 pending), {} warnings",
        t.kills, t.inside, t.empty_newest_pending_item_9, t.warnings
    );
    assert!(
        t.inside * 2 >= t.kills,
        "{what}: only {} of {} kills landed while the writer ran",
        t.inside,
        t.kills
    );
}

#[test]
fn append_killed_at_random_moments_loses_no_line() {
    let t = crash_append(30, 0x5EED_0001);
    assert_inside("journal append", &t);
}

#[test]
fn the_library_writer_killed_at_random_moments_loses_no_line() {
    let t = crash_library_writer(20, 0x5EED_0002);
    assert_inside("library writer", &t);
}

/// The long run: `cargo test --test cli crash -- --ignored`.
#[test]
#[ignore]
fn append_killed_200_times_loses_no_line() {
    let t = crash_append(200, 0x5EED_0003);
    assert_inside("journal append (long)", &t);
}

#[test]
#[ignore]
fn the_library_writer_killed_200_times_loses_no_line() {
    let t = crash_library_writer(200, 0x5EED_0004);
    assert_inside("library writer (long)", &t);
}

/// Not a test: the child process the library-writer crash test runs (this
/// test binary re-executed with `--exact crash::library_writer_child
/// --ignored`). Without its environment variable it does nothing.
#[test]
#[ignore]
fn library_writer_child() {
    use journal::writer::{EventJson, Writer, WriterOptions};
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let buffer = std::env::var(CHILD_BUFFER_ENV)
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(0);
    let mut w = Writer::open(
        Path::new(&dir),
        WriterOptions {
            rotate_bytes: ROTATE.parse().unwrap(),
            buffer_bytes: buffer,
            wait: Duration::from_secs(10),
            ..WriterOptions::default()
        },
    )
    .unwrap();
    if let Some(started) = std::env::var_os(STARTED_ENV) {
        fs::write(started, b"started\n").unwrap();
    }
    let first = w.next_seq().unwrap_or(u64::MAX);
    for i in 0..20_000u64 {
        let e = EventJson::parse(&format!(
            "{{\"type\":\"error\",\"message\":\"w{first}-{i}\"}}"
        ))
        .unwrap();
        w.append(None, &e).unwrap();
        if i % 7 == 6 {
            w.commit().unwrap();
        }
    }
    w.commit().unwrap();
}

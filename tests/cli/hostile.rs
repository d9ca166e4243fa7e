//! The hostile-input matrix: every subcommand on every hostile journal,
//! generated here by code (a seeded generator, never hand-typed bytes).
//!
//! For each (case, command): the binary runs on a fresh copy of the case with
//! a time limit, and
//! - it never panics (exit code 101, or "panicked" on stderr) and ends in time;
//! - its exit code is the documented one for that case (0/1/2/3);
//! - when it exits non-zero, its output names the file concerned;
//! - nothing changes in the directory, except what `repair`, `prune` and
//!   `append` document: segments, quarantine files and the lock file; a file
//!   outside the journal (the target of a symlink) never changes.
//!
//! A cell whose behaviour is a known, not yet fixed bug is listed in
//! [`KNOWN_GAPS`] with its issue item: the test checks that the cell *still*
//! fails its expectation (so fixing it turns the test red until the entry is
//! removed), instead of skipping it.

use std::collections::BTreeMap;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, symlink};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{TestJournal, event_line, journal_cmd, segment_name};

/// Every subcommand, as the matrix runs it (`tail` without `-f`; mutations
/// with a short claim wait so a held claim answers quickly).
const COMMANDS: &[(&str, &[&str])] = &[
    ("inspect", &["inspect", "-n", "50"]),
    ("tail", &["tail", "-n", "20"]),
    ("recover", &["recover", "--json"]),
    ("verify", &["verify"]),
    ("repair-dry", &["repair", "--dry-run", "--wait", "300ms"]),
    ("repair", &["repair", "--wait", "300ms"]),
    ("stats", &["stats"]),
    ("prune", &["prune", "--keep", "2", "--wait", "300ms"]),
    ("append", &["append", "--wait", "300ms"]),
];

const APPEND_INPUT: &str = "{\"type\":\"error\",\"message\":\"from the matrix\"}\n";
const LIMIT: Duration = Duration::from_secs(60);

/// (case, command) cells that show a known bug, with the issue item: checked
/// to still fail, see the module documentation.
const KNOWN_GAPS: &[(&str, &str, &str)] = &[];

/// A deterministic byte generator (xorshift64*), so every run builds the same cases.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One valid line per seq, as the engine writes them.
fn lines(seqs: std::ops::RangeInclusive<u64>) -> Vec<u8> {
    seqs.flat_map(|s| format!("{}\n", event_line(s)).into_bytes())
        .collect()
}

/// A line holding `n` bytes of text in its event (with or without its newline).
fn long_line(seq: u64, n: usize, newline: bool) -> Vec<u8> {
    let mut v = format!(
        "{{\"seq\":{seq},\"ts\":\"2026-11-20T10:00:00Z\",\"event\":{{\"type\":\"error\",\"message\":\""
    )
    .into_bytes();
    v.extend(std::iter::repeat_n(b'x', n));
    v.extend_from_slice(b"\"}}");
    if newline {
        v.push(b'\n');
    }
    v
}

/// The long line's bytes, generated once per test run and shared by every cell.
fn long_text(size: usize) -> &'static [u8] {
    static SMALL: OnceLock<Vec<u8>> = OnceLock::new();
    static BIG: OnceLock<Vec<u8>> = OnceLock::new();
    let cell = if size <= 8 << 20 { &SMALL } else { &BIG };
    cell.get_or_init(|| long_line(4, size, false))
}

/// What a case is and what the documented answers to it are.
struct Case {
    name: &'static str,
    build: fn(&TestJournal),
    /// The file a non-zero exit must name.
    culprit: Option<String>,
    /// Expected exit code per command name; a command not listed must exit 0.
    codes: &'static [(&'static str, i32)],
}

/// Journal 1..=3 in one closed segment, then `seg` holding `bytes` (the newest).
fn after_good(j: &TestJournal, bytes: &[u8]) {
    j.touch_lock();
    j.write(&segment_name(1), &lines(1..=3));
    j.write(&segment_name(4), bytes);
}

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Every case, by name.
fn case(name: &'static str) -> Case {
    let seg4 = Some(segment_name(4));
    // Damage in the newest segment: verify says error (1), repair cuts it (0).
    const DAMAGED_NEWEST: &[(&str, i32)] = &[("verify", 1)];
    // Damage inside a closed segment: verify 1, repair refuses it (1).
    const DAMAGED_CLOSED: &[(&str, i32)] = &[("verify", 1), ("repair-dry", 1), ("repair", 1)];
    match name {
        "binary-garbage" => Case {
            name: "binary-garbage",
            build: |j| {
                let mut g = Gen(0x9E37_79B9_7F4A_7C15);
                let mut bytes = lines(4..=5);
                bytes.extend(g.bytes(64 << 10));
                bytes.extend(lines(6..=7));
                j.touch_lock();
                j.write(&segment_name(1), &lines(1..=3));
                j.write(&segment_name(4), &bytes);
                j.write(&segment_name(8), &lines(8..=9));
            },
            culprit: seg4,
            codes: DAMAGED_CLOSED,
        },
        "long-line-8MiB" => Case {
            name,
            build: |j| {
                let mut b = long_text(8 << 20).to_vec();
                b.push(b'\n');
                after_good(j, &b);
                j.write(&segment_name(5), &lines(5..=5));
            },
            culprit: seg4,
            codes: &[],
        },
        "long-line-8MiB-no-newline" => Case {
            name,
            build: |j| after_good(j, long_text(8 << 20)),
            culprit: seg4,
            codes: &[],
        },
        "long-line-100MiB" => Case {
            name,
            build: |j| {
                let mut b = long_text(100 << 20).to_vec();
                b.push(b'\n');
                after_good(j, &b);
                j.write(&segment_name(5), &lines(5..=5));
            },
            culprit: seg4,
            codes: &[],
        },
        "long-line-100MiB-no-newline" => Case {
            name,
            build: |j| after_good(j, long_text(100 << 20)),
            culprit: seg4,
            codes: &[],
        },
        "nul-filled" => Case {
            name,
            build: |j| after_good(j, &vec![0u8; 1 << 20]),
            culprit: seg4,
            codes: DAMAGED_NEWEST,
        },
        "nul-filled-closed" => Case {
            name,
            build: |j| {
                after_good(j, &vec![0u8; 1 << 20]);
                j.write(&segment_name(5), &lines(5..=5));
            },
            culprit: seg4,
            codes: DAMAGED_CLOSED,
        },
        "fifo-named-like-a-segment" => Case {
            name,
            build: |j| {
                after_good(j, &lines(4..=5));
                mkfifo(&j.path(&segment_name(6)));
            },
            culprit: Some(segment_name(6)),
            codes: DAMAGED_CLOSED,
        },
        "directory-named-like-a-segment" => Case {
            name,
            build: |j| {
                after_good(j, &lines(4..=5));
                fs::create_dir(j.path(&segment_name(6))).unwrap();
            },
            culprit: Some(segment_name(6)),
            codes: DAMAGED_CLOSED,
        },
        "symlink-loop-named-like-a-segment" => Case {
            name,
            build: |j| {
                after_good(j, &lines(4..=5));
                symlink(segment_name(6), j.path(&segment_name(6))).unwrap();
            },
            culprit: Some(segment_name(6)),
            codes: DAMAGED_CLOSED,
        },
        "symlink-out-named-like-a-segment" => Case {
            name,
            build: |j| {
                after_good(j, &lines(4..=5));
                let outside = j.tmp.path().join("outside.jsonl");
                fs::write(&outside, lines(6..=7)).unwrap();
                symlink(&outside, j.path(&segment_name(6))).unwrap();
            },
            culprit: Some(segment_name(6)),
            codes: DAMAGED_CLOSED,
        },
        "empty-closed-segment" => Case {
            name,
            build: |j| {
                after_good(j, b"");
                j.write(&segment_name(5), &lines(5..=5));
            },
            culprit: seg4,
            codes: &[("verify", 1), ("repair-dry", 1), ("repair", 1)],
        },
        "empty-only-segment" => Case {
            name,
            build: |j| {
                j.touch_lock();
                j.write(&segment_name(1), b"");
            },
            culprit: Some(segment_name(1)),
            codes: &[],
        },
        "odd-numbers" => Case {
            name,
            build: |j| {
                let mut b = Vec::new();
                for seq in [
                    "18446744073709551616".to_string(),
                    "-1".into(),
                    "1e3".into(),
                    "1.0".into(),
                    "4.5".into(),
                    "9".repeat(400),
                    "0x10".into(),
                    "\"5\"".into(),
                    "null".into(),
                ] {
                    b.extend(
                        format!(
                            "{{\"seq\":{seq},\"ts\":\"2026-11-20T10:00:00Z\",\"event\":{{\"type\":\"error\",\"message\":\"m\"}}}}\n"
                        )
                        .bytes(),
                    );
                }
                after_good(j, &b);
                j.write(&segment_name(5), &lines(5..=5));
            },
            culprit: seg4,
            codes: DAMAGED_CLOSED,
        },
        "seq-u64-max" => Case {
            name,
            build: |j| {
                j.touch_lock();
                let max = u64::MAX;
                j.write(
                    &segment_name(max - 1),
                    format!(
                        "{{\"seq\":{},\"ts\":\"2026-11-20T10:00:00Z\",\"event\":{{\"type\":\"error\",\"message\":\"m\"}}}}\n\
                         {{\"seq\":{max},\"ts\":\"2026-11-20T10:00:01Z\",\"event\":{{\"type\":\"error\",\"message\":\"m\"}}}}\n",
                        max - 1
                    )
                    .as_bytes(),
                );
            },
            culprit: None,
            // No seq is left to give: append must refuse, not reuse u64::MAX.
            codes: &[("append", 2)],
        },
        "deep-nesting-100k" => Case {
            name,
            build: |j| {
                let mut b = b"{\"seq\":4,\"ts\":\"2026-11-20T10:00:00Z\",\"event\":{\"type\":\"error\",\"message\":\"m\",\"deep\":"
                    .to_vec();
                b.extend(std::iter::repeat_n(b'[', 100_000));
                b.extend(std::iter::repeat_n(b']', 100_000));
                b.extend_from_slice(b"}}\n");
                after_good(j, &b);
                j.write(&segment_name(5), &lines(5..=5));
            },
            culprit: seg4,
            // Deeper than serde_json's (and so the engine's) recursion limit of
            // 128: a line the engine cannot read, so damage in a closed segment.
            codes: DAMAGED_CLOSED,
        },
        // One level past serde_json's 127: the engine cannot parse the line,
        // so neither may the fast validator pass it (it once took 128).
        "nesting-one-past-the-limit" => Case {
            name,
            build: |j| {
                let mut b = b"{\"seq\":4,\"ts\":\"2026-11-20T10:00:00Z\",\"event\":{\"type\":\"error\",\"message\":\"m\",\"deep\":"
                    .to_vec();
                b.extend(std::iter::repeat_n(b'[', 126));
                b.extend(std::iter::repeat_n(b']', 126));
                b.extend_from_slice(b"}}\n");
                after_good(j, &b);
                j.write(&segment_name(5), &lines(5..=5));
            },
            culprit: seg4,
            codes: DAMAGED_CLOSED,
        },
        "escapes-in-event-text" => Case {
            name,
            build: |j| {
                let mut b = Vec::new();
                b.extend_from_slice(
                    b"{\"seq\":4,\"ts\":\"2026-11-20T10:00:00Z\",\"session_id\":\"s\\u001b[2J\",\"event\":{\"type\":\"err\\u001b]0;pwned\\u0007or\",\"message\":\"\\u001b[31mred\\r\\n\\u009b\\ud800\"}}\n",
                );
                // Raw control bytes: not JSON (a string holds no raw control character).
                b.extend_from_slice(
                    b"{\"seq\":5,\"ts\":\"2026-11-20T10:00:00Z\",\"event\":{\"type\":\"error\",\"message\":\"\x1b]0;pwned\x07\x1b[2J\"}}\n",
                );
                after_good(j, &b);
                j.write(&segment_name(6), &lines(6..=6));
            },
            culprit: seg4,
            codes: DAMAGED_CLOSED,
        },
        "ten-thousand-tiny-segments" => Case {
            name,
            build: |j| {
                j.touch_lock();
                for seq in 1..=10_000 {
                    j.write(&segment_name(seq), &lines(seq..=seq));
                }
            },
            culprit: None,
            codes: &[],
        },
        "held-claim" => Case {
            name,
            build: |j| {
                j.touch_lock();
                j.write(&segment_name(1), &lines(1..=3));
                let mut torn = lines(4..=4);
                torn.truncate(20);
                j.write(&segment_name(4), &torn);
            },
            culprit: Some(".account-journal.lock".into()),
            // A dry run takes the claim too when the lock file exists (its plan is exact).
            codes: &[
                ("repair-dry", 3),
                ("repair", 3),
                ("prune", 3),
                ("append", 3),
            ],
        },
        "segment-name-overflowing-u64" => Case {
            name,
            build: |j| {
                j.touch_lock();
                j.write(&segment_name(1), &lines(1..=3));
                j.write("events-99999999999999999999.jsonl", &lines(4..=4));
            },
            culprit: Some("events-99999999999999999999.jsonl".into()),
            // Named by verify; repair refuses to touch it (no mode may), and
            // append refuses to continue a journal whose seqs it cannot know.
            codes: &[
                ("verify", 1),
                ("repair-dry", 1),
                ("repair", 1),
                ("append", 2),
            ],
        },
        "escapes-in-directory-path" => Case {
            name,
            build: |j| {
                after_good(j, b"\0\0\0");
                j.write(&segment_name(5), &lines(5..=5));
            },
            culprit: seg4,
            codes: DAMAGED_CLOSED,
        },
        _ => panic!("no case {name}"),
    }
}

/// What one entry of the directory is: its type and content hash (a FIFO
/// is never opened, a symlink never followed).
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    snapshot_except(dir, "")
}

fn snapshot_except(dir: &Path, skip: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == skip {
            continue;
        }
        let ft = entry.file_type().unwrap();
        let what = if ft.is_symlink() {
            format!(
                "symlink -> {}",
                fs::read_link(entry.path()).unwrap().display()
            )
        } else if ft.is_fifo() {
            "fifo".to_string()
        } else if ft.is_dir() {
            format!("dir {:?}", snapshot(&entry.path()))
        } else {
            let mut h = DefaultHasher::new();
            fs::read(entry.path()).unwrap().hash(&mut h);
            format!("file {:016x}", h.finish())
        };
        out.insert(name, what);
    }
    out
}

/// Files a mutation may create, change or delete.
fn journal_owned(name: &str) -> bool {
    (name.starts_with("events-") && name.ends_with(".jsonl"))
        || name.starts_with("quarantine-")
        || name == ".account-journal.lock"
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// A fresh copy of the case's journal.
fn build(case: &Case) -> TestJournal {
    let j = if case.name == "escapes-in-directory-path" {
        // The directory's own name carries an OSC title sequence and a newline.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ev\u{1b}]0;pwned\u{7}il\nname");
        fs::create_dir(&dir).unwrap();
        TestJournal { tmp, dir }
    } else {
        TestJournal::new()
    };
    (case.build)(&j);
    j
}

/// Runs one cell on `j` (a fresh journal for a mutation; read-only commands
/// share one, which the before/after comparison proves they leave alone).
fn run_cell(case: &Case, j: &TestJournal, cmd_name: &str, args: &[&str]) -> Result<(), String> {
    let journal_name = j.dir.file_name().unwrap().to_string_lossy().into_owned();
    let outside_before = snapshot_except(j.tmp.path(), &journal_name);
    let before = snapshot(&j.dir);
    // A held claim: this process holds the flock for the whole run.
    let _holder = (case.name == "held-claim").then(|| {
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(j.path(".account-journal.lock"))
            .unwrap();
        f.lock().unwrap();
        f
    });
    let mut cmd = journal_cmd();
    // Prune fsyncs the directory after each unlink (a crash never leaves a
    // hole): 9,998 of them take about a minute on a loaded disk, so on the
    // 10,000 segments it deletes ten, after listing and planning all of them.
    let args = if case.name == "ten-thousand-tiny-segments" && cmd_name == "prune" {
        &["prune", "--keep", "9990", "--wait", "300ms"][..]
    } else {
        args
    };
    cmd.args(args).arg(&j.dir).timeout(LIMIT);
    if cmd_name == "append" {
        cmd.write_stdin(APPEND_INPUT);
    }
    let started = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("did not finish within {LIMIT:?}: {e}"))?;
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    };
    let after = snapshot(&j.dir);
    check(case, cmd_name, &run, &before, &after)?;
    // Outside the journal directory nothing ever changes (symlink targets).
    let outside_after = snapshot_except(j.tmp.path(), &journal_name);
    if outside_before != outside_after {
        return Err(format!(
            "a file outside the journal changed: {outside_before:?} -> {outside_after:?}"
        ));
    }
    Ok(())
}

fn check(
    case: &Case,
    cmd_name: &str,
    run: &Run,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Result<(), String> {
    let show = || {
        format!(
            "\n  stdout: {}\n  stderr: {}",
            clip(&run.stdout),
            clip(&run.stderr)
        )
    };
    if run.code == Some(101) || run.stderr.contains("panicked") {
        return Err(format!("panicked{}", show()));
    }
    let want = case
        .codes
        .iter()
        .find(|(c, _)| *c == cmd_name)
        .map_or(0, |(_, code)| *code);
    if run.code != Some(want) {
        return Err(format!(
            "exit code {:?}, documented {want} ({:?}){}",
            run.code,
            run.took,
            show()
        ));
    }
    if want != 0
        && let Some(culprit) = &case.culprit
        && !run.stdout.contains(culprit.as_str())
        && !run.stderr.contains(culprit.as_str())
    {
        return Err(format!("exit {want} without naming {culprit}{}", show()));
    }
    // A message never repeats its cause ("X: Y: Y").
    for line in run.stderr.lines() {
        let parts: Vec<&str> = line.split(": ").collect();
        for w in 1..=parts.len() / 2 {
            let n = parts.len();
            if parts[n - w..] == parts[n - 2 * w..n - w] {
                return Err(format!("a message repeats its cause: {line}{}", show()));
            }
        }
    }
    if run.stdout.contains('\u{1b}') || run.stderr.contains('\u{1b}') {
        return Err(format!("a raw escape reached the output{}", show()));
    }
    let mutates = matches!(cmd_name, "repair" | "prune" | "append") && want == 0;
    for name in before.keys().chain(after.keys()) {
        if before.get(name) == after.get(name) {
            continue;
        }
        if !mutates
            || !journal_owned(name)
            || before.get(name).is_some_and(|w| !w.starts_with("file"))
        {
            return Err(format!(
                "{name} changed: {:?} -> {:?}{}",
                before.get(name),
                after.get(name),
                show()
            ));
        }
    }
    Ok(())
}

fn clip(s: &str) -> String {
    if s.len() <= 600 {
        return s.to_string();
    }
    let mut end = 600;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

/// Runs every command on `case_name`; fails listing every failing cell.
fn matrix(case_name: &'static str) {
    let case = case(case_name);
    let mut failures = Vec::new();
    let shared = build(&case);
    for (cmd_name, args) in COMMANDS {
        let fresh;
        let j = if matches!(*cmd_name, "repair" | "prune" | "append") {
            fresh = build(&case);
            &fresh
        } else {
            &shared
        };
        let result = run_cell(&case, j, cmd_name, args);
        let gap = KNOWN_GAPS
            .iter()
            .find(|(c, m, _)| *c == case_name && m == cmd_name);
        match (result, gap) {
            (Ok(()), None) | (Err(_), Some(_)) => {}
            (Err(e), None) => failures.push(format!("[{case_name} × {cmd_name}] {e}")),
            (Ok(()), Some((_, _, item))) => failures.push(format!(
                "[{case_name} × {cmd_name}] passes now: remove it from KNOWN_GAPS ({item})"
            )),
        }
    }
    let _ = std::io::stderr().flush();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

macro_rules! cases {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                matrix($name);
            }
        )*
    };
}

cases! {
    binary_garbage => "binary-garbage",
    long_line_8mib => "long-line-8MiB",
    long_line_8mib_without_newline => "long-line-8MiB-no-newline",
    nul_filled_newest_segment => "nul-filled",
    nul_filled_closed_segment => "nul-filled-closed",
    fifo_named_like_a_segment => "fifo-named-like-a-segment",
    directory_named_like_a_segment => "directory-named-like-a-segment",
    symlink_loop_named_like_a_segment => "symlink-loop-named-like-a-segment",
    symlink_out_named_like_a_segment => "symlink-out-named-like-a-segment",
    empty_closed_segment => "empty-closed-segment",
    empty_only_segment => "empty-only-segment",
    numbers_of_every_odd_shape => "odd-numbers",
    seq_at_u64_max => "seq-u64-max",
    nesting_100k_deep => "deep-nesting-100k",
    nesting_one_level_past_serde_jsons_limit => "nesting-one-past-the-limit",
    escapes_in_event_text => "escapes-in-event-text",
    ten_thousand_tiny_segments => "ten-thousand-tiny-segments",
    a_held_claim => "held-claim",
    segment_name_overflowing_u64 => "segment-name-overflowing-u64",
    escapes_in_the_directory_path => "escapes-in-directory-path",
}

/// The 100 MiB lines: slow in a debug build, so out of the default run
/// (`cargo test --test cli hostile -- --ignored`).
#[test]
#[ignore]
fn long_line_100mib() {
    matrix("long-line-100MiB");
}

#[test]
#[ignore]
fn long_line_100mib_without_newline() {
    matrix("long-line-100MiB-no-newline");
}

//! The fixture every CLI test uses: a journal in a temporary directory, built
//! line by line (`append_events`, `append_raw` for torn or corrupt bytes), or
//! copied from `../shared/corpus` (never modified in place), and the real
//! binary run against it with a cleared environment.

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

pub const SESSIONS: [&str; 3] = ["sess-1", "sess-2", "sess-7"];
pub const TYPES: [&str; 4] = ["message_appended", "execution_started", "error", "complete"];

pub fn segment_name(start: u64) -> String {
    format!("events-{start:020}.jsonl")
}

/// The line the engine writes for `seq`, in its field order. Session, type
/// and time follow from the seq so tests can predict them.
pub fn event_line(seq: u64) -> String {
    let session = SESSIONS[(seq % 3) as usize];
    let ty = TYPES[(seq % 4) as usize];
    let ts = ts_for(seq);
    let body = match ty {
        "message_appended" => format!(
            r#""session_id":"{session}","message_id":"m-{seq}","role":"{}","content":"message {seq}: caf\u00e9 \"q\" 🚀","created_at":"{ts}""#,
            if seq % 2 == 0 { "user" } else { "assistant" }
        ),
        "execution_started" => {
            format!(r#""run_id":"run-{seq}","session_id":"{session}","started_at":"{ts}""#)
        }
        "error" => format!(r#""message":"boom {seq}""#),
        _ => r#""usage":{"prompt_tokens":1}"#.to_string(),
    };
    format!(
        r#"{{"seq":{seq},"ts":"{ts}","session_id":"{session}","event":{{"type":"{ty}",{body}}}}}"#
    )
}

/// One event a minute from 2026-11-20T09:00:00Z, with nanoseconds on odd seqs.
pub fn ts_for(seq: u64) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2026-11-20T09:00:00Z").unwrap();
    let t = base + chrono::Duration::minutes(seq as i64);
    if seq % 2 == 1 {
        format!("{}.123456789Z", t.format("%Y-%m-%dT%H:%M:%S"))
    } else {
        format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S"))
    }
}

pub struct TestJournal {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl TestJournal {
    /// An empty journal directory (no lock file, no segment).
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("events");
        fs::create_dir(&dir).unwrap();
        TestJournal { tmp, dir }
    }

    /// Events `1..=n` in segments of `per_segment` events, with the lock file.
    pub fn with_events(n: u64, per_segment: u64) -> Self {
        let j = Self::new();
        j.touch_lock();
        j.append_events(1..=n, per_segment);
        j
    }

    /// A copy of `../shared/corpus/<name>`.
    pub fn corpus(name: &str) -> Self {
        let j = Self::new();
        let src = corpus_dir().join(name);
        for entry in fs::read_dir(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
            let entry = entry.unwrap();
            let to = j.dir.join(entry.file_name());
            fs::copy(entry.path(), &to).unwrap();
            let mut perms = fs::metadata(&to).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            fs::set_permissions(&to, perms).unwrap();
        }
        j
    }

    pub fn touch_lock(&self) {
        fs::write(self.dir.join(".account-journal.lock"), b"").unwrap();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Appends the events `seqs` as the engine would, starting a new segment
    /// every `per_segment` events (counted from the first seq of the range).
    pub fn append_events(&self, seqs: std::ops::RangeInclusive<u64>, per_segment: u64) {
        let first = *seqs.start();
        for seq in seqs {
            let start = first + (seq - first) / per_segment * per_segment;
            self.append_raw(
                &segment_name(start),
                format!("{}\n", event_line(seq)).as_bytes(),
            );
        }
    }

    /// Appends raw bytes to a segment (created if missing): torn lines, NULs, garbage.
    pub fn append_raw(&self, segment: &str, bytes: &[u8]) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(segment))
            .unwrap();
        f.write_all(bytes).unwrap();
    }

    pub fn write(&self, name: &str, bytes: &[u8]) {
        fs::write(self.dir.join(name), bytes).unwrap();
    }

    pub fn segments(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("events-") && n.ends_with(".jsonl"))
            .collect();
        names.sort();
        names
    }

    /// `journal <args...> DIR`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = journal_cmd();
        cmd.args(args).arg(&self.dir);
        cmd
    }

    /// Every file's bytes, to prove a read-only command changed nothing.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }
}

/// The binary with an environment that cannot leak the developer's settings.
pub fn journal_cmd() -> Command {
    let mut cmd = Command::cargo_bin("journal").unwrap();
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent");
    cmd
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "command failed ({:?})\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The seqs of raw/jsonl output, in order.
pub fn seqs_of(output: &str) -> Vec<u64> {
    output
        .lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            v["seq"].as_u64().unwrap()
        })
        .collect()
}

/// Holds the writer's claim (an exclusive flock on the lock file) until the
/// returned file is dropped, as a running engine would.
pub fn hold_claim(dir: &Path) -> fs::File {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(".account-journal.lock"))
        .unwrap();
    f.lock().unwrap();
    f
}

/// `journal append <args...> DIR` with `input` on stdin.
pub fn append_cmd(dir: &Path, args: &[&str], input: &str) -> Command {
    let mut cmd = journal_cmd();
    cmd.arg("append")
        .args(args)
        .arg(dir)
        .write_stdin(input.to_owned());
    cmd
}

/// Every line of every segment, oldest segment first.
pub fn all_lines(dir: &Path) -> Vec<String> {
    let mut names: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            let seq = name
                .strip_prefix("events-")?
                .strip_suffix(".jsonl")?
                .parse()
                .ok()?;
            Some((seq, p))
        })
        .collect();
    names.sort();
    names
        .iter()
        .flat_map(|(_, p)| {
            fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A line with its `ts` value replaced by `TS`, to compare lines written at
/// different times.
pub fn without_ts(line: &str) -> String {
    let start = line.find(",\"ts\":\"").expect("a ts field") + 7;
    let end = start + line[start..].find('"').unwrap();
    format!("{}TS{}", &line[..start], &line[end..])
}

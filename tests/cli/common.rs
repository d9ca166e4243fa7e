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
            if seq.is_multiple_of(2) {
                "user"
            } else {
                "assistant"
            }
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
        .env("HOME", "/nonexistent")
        .env("TZ", "UTC");
    cmd
}

/// The engine-written journals: `../shared/corpus` beside the repository when
/// it is there (the reference), else the copy in `tests/corpus` so a lone
/// clone runs the same tests.
pub fn corpus_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/corpus");
    if shared.join("README.md").is_file() {
        shared
    } else {
        root.join("tests/corpus")
    }
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

/// The binary as a plain `std::process::Command` (for spawning and streaming),
/// with the same cleared environment as [`journal_cmd`].
pub fn journal_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("journal"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("TZ", "UTC");
    cmd
}

// ---- Following: a spawned `journal tail -f`, an engine-like writer and pruner ----

/// A running `journal <args> DIR` whose stdout and stderr are collected by
/// threads, so a test can wait for output with a timeout, then stop it.
pub struct Spawned {
    pub child: std::process::Child,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

pub const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

impl Spawned {
    /// Spawns the binary with a cleared environment (as `journal_cmd`).
    pub fn new(args: &[&std::ffi::OsStr]) -> Self {
        use std::process::{Command as StdCommand, Stdio};
        let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("journal"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        for (pipe, sink) in [
            (
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
                stdout.clone(),
            ),
            (Box::new(child.stderr.take().unwrap()), stderr.clone()),
        ] {
            readers.push(std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 64 * 1024];
                loop {
                    match std::io::Read::read(&mut pipe, &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
                    }
                }
            }));
        }
        Spawned {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8(self.stdout.lock().unwrap().clone()).unwrap()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// For a follower started with `-n 1`: waits until it printed the newest
    /// event (its first read is done: a change made before that would be
    /// part of it, not new), then a moment more for its watch to be set up.
    /// A fixed sleep instead raced a slow start on a busy machine.
    pub fn wait_first_read(&self) {
        self.wait_for("the first read", |out, _| out.lines().count() == 1);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    /// Waits until `done(stdout, stderr)` holds; panics with both after `WAIT`.
    pub fn wait_for(&self, what: &str, done: impl Fn(&str, &str) -> bool) {
        let start = std::time::Instant::now();
        loop {
            let (out, err) = (self.stdout(), self.stderr());
            if done(&out, &err) {
                return;
            }
            if start.elapsed() > WAIT {
                panic!("timed out waiting for {what}\nstdout:\n{out}\nstderr:\n{err}");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Waits until the last complete stdout line is the record of `seq`.
    pub fn wait_for_seq(&self, seq: u64) {
        self.wait_for(&format!("seq {seq}"), |out, _| {
            out.ends_with('\n') && seqs_of(out).last() == Some(&seq)
        });
    }

    pub fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit by itself (within `WAIT`).
    pub fn wait_exit(mut self) -> (std::process::ExitStatus, String, String) {
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > WAIT {
                let _ = self.child.kill();
                panic!(
                    "the process did not exit\nstdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        (status, self.stdout(), self.stderr())
    }

    /// SIGTERM, then the exit status and everything printed.
    pub fn stop(self) -> (std::process::ExitStatus, String, String) {
        self.signal("TERM");
        self.wait_exit()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl TestJournal {
    /// `journal tail -f <args> DIR`, spawned.
    pub fn follow(&self, args: &[&str]) -> Spawned {
        let mut all: Vec<&std::ffi::OsStr> = vec!["tail".as_ref(), "-f".as_ref()];
        all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        all.push(self.dir.as_os_str());
        Spawned::new(&all)
    }
}

/// Appends like the engine: one `write` per line, a new segment (named by
/// its first seq) created lazily by the first append after the current one
/// reached `threshold` bytes.
pub struct EngineWriter {
    dir: PathBuf,
    threshold: u64,
    current: Option<(fs::File, u64)>,
    pub next_seq: u64,
}

impl EngineWriter {
    pub fn new(dir: &Path, threshold: u64, next_seq: u64) -> Self {
        EngineWriter {
            dir: dir.to_owned(),
            threshold,
            current: None,
            next_seq,
        }
    }

    /// Continues the newest segment of `dir` if it is below the threshold.
    pub fn resume(dir: &Path, threshold: u64, next_seq: u64) -> Self {
        let mut w = Self::new(dir, threshold, next_seq);
        let newest = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("events-"))
            .max();
        if let Some(name) = newest {
            let f = fs::OpenOptions::new()
                .append(true)
                .open(dir.join(name))
                .unwrap();
            let len = f.metadata().unwrap().len();
            if len < threshold {
                w.current = Some((f, len));
            }
        }
        w
    }

    pub fn append(&mut self) -> u64 {
        let seq = self.next_seq;
        self.append_line(&format!("{}\n", event_line(seq)));
        seq
    }

    /// Appends `line` (which must hold seq `next_seq`) in one write.
    pub fn append_line(&mut self, line: &str) {
        if self
            .current
            .as_ref()
            .is_none_or(|(_, len)| *len >= self.threshold)
        {
            let f = fs::OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(self.dir.join(segment_name(self.next_seq)))
                .unwrap();
            self.current = Some((f, 0));
        }
        let (f, len) = self.current.as_mut().unwrap();
        f.write_all(line.as_bytes()).unwrap();
        *len += line.len() as u64;
        self.next_seq += 1;
    }
}

/// Deletes the oldest segments until `keep` remain (never the newest), like
/// the engine's retention; returns how many it deleted.
pub fn prune_keep(dir: &Path, keep: usize) -> usize {
    let mut names: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            let seq = name
                .strip_prefix("events-")?
                .strip_suffix(".jsonl")?
                .parse()
                .ok()?;
            Some((seq, e.path()))
        })
        .collect();
    names.sort();
    let excess = names.len().saturating_sub(keep.max(1));
    for (_, path) in &names[..excess] {
        let _ = fs::remove_file(path);
    }
    excess
}

/// The file descriptors of `pid` that point at deleted files.
pub fn deleted_fds(pid: u32) -> Vec<String> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.filter_map(|e| fs::read_link(e.ok()?.path()).ok())
                .map(|p| p.to_string_lossy().into_owned())
                .filter(|p| p.ends_with("(deleted)"))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until process `pid` holds `path` open: the seq a follower prints
/// first may come from its last-N read, before it opened anything to follow.
pub fn wait_until_open(pid: u32, path: &Path) {
    let start = std::time::Instant::now();
    let want = path.to_string_lossy().into_owned();
    loop {
        let open = fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|rd| {
                rd.filter_map(|e| fs::read_link(e.ok()?.path()).ok())
                    .any(|p| p.to_string_lossy() == want)
            })
            .unwrap_or(false);
        if open {
            return;
        }
        assert!(start.elapsed() < WAIT, "{pid} never opened {want}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Splits tail's output and stderr into the runs of contiguous seqs and
/// checks the stream: strictly increasing, every skip announced on stderr by
/// the pruned-before-read warning for exactly the missing seqs.
pub fn check_stream_with_prunes(out: &str, err: &str) -> Vec<u64> {
    let seqs = seqs_of(out);
    for w in seqs.windows(2) {
        assert!(w[1] > w[0], "not increasing: {} then {}\n{err}", w[0], w[1]);
        if w[1] != w[0] + 1 {
            let msg = format!(
                "seqs {}..{} were pruned before they could be read",
                w[0] + 1,
                w[1] - 1
            );
            assert!(
                err.contains(&msg),
                "skip {} -> {} without '{msg}'\nstderr:\n{err}",
                w[0],
                w[1]
            );
        }
    }
    seqs
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

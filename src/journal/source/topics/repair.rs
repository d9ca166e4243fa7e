//! Repairing the JSONL backend: a torn last line is cut, a glued line is
//! un-glued (the complete event kept, the fragment removed), and with
//! `drop_corrupt_lines` a complete line the runtime cannot parse is removed.
//! Every removed byte is first copied to a quarantine file in the log's root
//! and made durable; the topic file is then cut (a removal at its end) or
//! replaced atomically. The whole change is made holding the runtime's own
//! exclusive flock on `locks/<topic>.lock` (the lock its appends and
//! compactions take), waited for a bounded time.

use std::collections::VecDeque;
use std::fs::{self, File, TryLockError};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use super::jsonl::{JsonlLog, line_items};
use super::verify::check_topic;
use super::{LineBody, StreamItem, TopicStream, classify};
use crate::journal::atomic::replace_file;
use crate::journal::error::JournalError;
use crate::journal::lines::{Line, LineBody as RawBody};
use crate::journal::quarantine::{quarantine_range_unclaimed, sync_dir};
use crate::journal::source::family::{FamilyRepair, FamilyRepairOptions, RepairStep};
use crate::journal::source::{Format, Position};

/// How long repair waits for the runtime's lock by default.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The runtime's exclusive lock on one topic, held while it lives.
pub struct TopicLock {
    _file: File,
}

impl TopicLock {
    /// Takes `locks/<topic>.lock` exclusively (creating it as the runtime
    /// does), waiting up to `wait`; [`JournalError::ClaimHeld`] after that.
    pub fn acquire(log: &JsonlLog, topic: &str, wait: Duration) -> Result<TopicLock, JournalError> {
        let path = log.lock_path(topic);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| JournalError::io(dir, e))?;
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                // O_NOFOLLOW met a symlink: the runtime's lock is a plain
                // file, and one elsewhere would not exclude the runtime.
                Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => {
                    JournalError::Replaced {
                        path: path.clone(),
                        what: "is a symbolic link (a topic lock is never followed)",
                    }
                }
                _ => JournalError::io(&path, e),
            })?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(TopicLock { _file: file }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(JournalError::io(&path, e)),
            }
            let waited = started.elapsed();
            if waited >= wait {
                return Err(JournalError::ClaimHeld { path, waited });
            }
            std::thread::sleep(pause.min(wait - waited));
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// The removals `bytes` (a topic file) needs, as steps without quarantine.
pub fn plan(path: &Path, bytes: &[u8], drop: bool) -> Vec<RepairStep> {
    let topic = topic_of(path);
    let mut steps = Vec::new();
    for (number, offset, line, terminated) in split(bytes) {
        let step = |action, offset: usize, len: usize| RepairStep {
            action,
            file: path.to_owned(),
            line: number,
            offset: offset as u64,
            len: len as u64,
            kept: None,
            quarantine: None,
        };
        match classify(line, terminated) {
            LineBody::Torn => steps.push(step("cut-torn-tail", offset, line.len())),
            LineBody::Glued { fragment, head } => steps.push(RepairStep {
                kept: Some(Position::Topic {
                    topic: topic.clone(),
                    id: head.id,
                }),
                ..step("unglue", offset, fragment as usize)
            }),
            LineBody::Unreadable { .. } if drop => {
                steps.push(step("drop-line", offset, line.len() + 1))
            }
            _ => {}
        }
    }
    steps
}

fn topic_of(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    name.strip_suffix(".jsonl").unwrap_or(&name).to_owned()
}

/// Lines of `bytes`: (1-based number, offset, bytes without `\n`, terminated).
fn split(bytes: &[u8]) -> Vec<(u64, usize, &[u8], bool)> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut number = 0;
    while offset < bytes.len() {
        number += 1;
        let (end, terminated) = match memchr::memchr(b'\n', &bytes[offset..]) {
            Some(i) => (offset + i, true),
            None => (bytes.len(), false),
        };
        out.push((number, offset, &bytes[offset..end], terminated));
        offset = end + 1;
    }
    out
}

/// `bytes` without the steps' ranges.
fn without(bytes: &[u8], steps: &[RepairStep]) -> Vec<u8> {
    let mut ranges: Vec<(usize, usize)> = steps
        .iter()
        .map(|s| (s.offset as usize, (s.offset + s.len) as usize))
        .collect();
    ranges.sort();
    let mut kept = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for (start, end) in ranges {
        kept.extend_from_slice(&bytes[at..start]);
        at = end.min(bytes.len());
    }
    kept.extend_from_slice(&bytes[at..]);
    kept
}

/// A topic file's bytes, held in memory, as a stream (what a file repair
/// leaves, checked before it is written).
struct MemStream {
    queue: VecDeque<StreamItem>,
}

impl MemStream {
    fn new(path: &Path, bytes: &[u8]) -> MemStream {
        let topic = topic_of(path);
        let mut queue = VecDeque::new();
        for (number, offset, line, terminated) in split(bytes) {
            let line = Line {
                offset: offset as u64,
                number: Some(number),
                len: line.len() as u64,
                terminated,
                body: RawBody::Bytes(line),
            };
            queue.extend(line_items(&topic, path, &line));
        }
        MemStream { queue }
    }
}

impl TopicStream for MemStream {
    fn next_item(&mut self) -> Result<Option<StreamItem>, JournalError> {
        Ok(self.queue.pop_front())
    }
}

/// Repairs every selected topic file (see the module); a dry run plans and
/// reports the same without taking a lock or writing.
pub fn repair(
    log: &JsonlLog,
    topics: &[String],
    opts: &FamilyRepairOptions,
) -> Result<FamilyRepair, JournalError> {
    let mut out = FamilyRepair {
        format: Format::TopicsJsonl,
        path: log.root.clone(),
        dry_run: opts.dry_run,
        steps: Vec::new(),
        refused: Vec::new(),
        left: log.irregular(),
    };
    for (topic, path) in log.topics()? {
        if !topics.is_empty() && !topics.contains(&topic) {
            continue;
        }
        let read = || fs::read(&path).map_err(|e| JournalError::io(&path, e));
        let before = read()?;
        if plan(&path, &before, opts.drop_corrupt_lines).is_empty() {
            let left = check_topic(&topic, &mut MemStream::new(&path, &before))?;
            out.left.extend(left.defects);
            continue;
        }
        // Under the lock the file cannot change: read and plan again there.
        let _lock = if opts.dry_run {
            None
        } else {
            Some(TopicLock::acquire(
                log,
                &topic,
                opts.wait.unwrap_or(LOCK_WAIT),
            )?)
        };
        let bytes = if opts.dry_run { before } else { read()? };
        let mut steps = plan(&path, &bytes, opts.drop_corrupt_lines);
        let kept = without(&bytes, &steps);
        if !opts.dry_run && !steps.is_empty() {
            for step in steps.iter_mut() {
                step.quarantine = Some(quarantine_range_unclaimed(
                    &log.root,
                    &path,
                    step.offset,
                    step.len,
                )?);
            }
            let only_tail =
                steps.len() == 1 && steps[0].offset + steps[0].len == bytes.len() as u64;
            if only_tail {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| JournalError::io(&path, e))?;
                f.set_len(steps[0].offset)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| JournalError::io(&path, e))?;
                sync_dir(&log.topics_dir())?;
            } else {
                let mode = fs::metadata(&path)
                    .map_err(|e| JournalError::io(&path, e))?
                    .permissions()
                    .mode()
                    & 0o777;
                replace_file(&path, Some(mode), |f, tmp| {
                    use std::io::Write;
                    f.write_all(&kept).map_err(|e| JournalError::io(tmp, e))
                })?;
            }
        }
        let left = check_topic(&topic, &mut MemStream::new(&path, &kept))?;
        out.left.extend(left.defects);
        out.steps.extend(steps);
    }
    Ok(out)
}

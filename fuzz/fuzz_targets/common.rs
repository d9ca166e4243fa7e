//! Shared by the targets: the fuzz input laid out as a journal directory.

use std::fs;
use std::path::Path;

/// Splits `data` into up to four segments at the `0xFE 0xFE` markers (so
/// the fuzzer can learn to make segment boundaries) and writes them as
/// `events-<n>.jsonl`, the start seqs taken from the first bytes.
pub fn write_journal(dir: &Path, data: &[u8]) {
    let (head, body) = data.split_at(data.len().min(4));
    let mut start = 1u64;
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut rest = body;
    while parts.len() < 3 {
        match rest.windows(2).position(|w| w == [0xFE, 0xFE]) {
            Some(at) => {
                parts.push(&rest[..at]);
                rest = &rest[at + 2..];
            }
            None => break,
        }
    }
    parts.push(rest);
    for (i, part) in parts.iter().enumerate() {
        let name = format!("events-{start:020}.jsonl");
        fs::write(dir.join(name), part).unwrap();
        // The next name: a little after this one, as the head bytes say
        // (0 makes a name that repeats or goes backwards: also tested).
        let step = head.get(i).copied().unwrap_or(3) as u64;
        start = start.saturating_add(step);
    }
    fs::write(dir.join(".account-journal.lock"), b"").unwrap();
}

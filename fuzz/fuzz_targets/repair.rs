//! repair on any bytes laid out as a journal, in both modes: never panics,
//! never removes a complete valid line, keeps every removed byte in
//! quarantine, and a second repair has nothing left to do.
#![no_main]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use journal::claim::Claim;
use journal::record::parse_line;
use journal::repair::{RepairMode, apply_repair, plan_repair};
use journal::segment::Listing;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

/// Complete lines that parse as records, per segment.
fn valid_lines(dir: &Path) -> BTreeMap<String, Vec<Vec<u8>>> {
    let listing = Listing::read(dir).unwrap();
    let mut out = BTreeMap::new();
    for seg in listing.segments() {
        let bytes = fs::read(seg.path()).unwrap();
        let mut v = Vec::new();
        let mut rest = &bytes[..];
        while let Some(n) = rest.iter().position(|&b| b == b'\n') {
            if parse_line(&rest[..n]).is_ok() {
                v.push(rest[..n].to_vec());
            }
            rest = &rest[n + 1..];
        }
        out.insert(seg.file_name(), v);
    }
    out
}

fn total_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let mode = if mode & 1 == 0 {
        RepairMode::TailOnly
    } else {
        RepairMode::DropCorrupt
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write_journal(dir, data);
    let before = valid_lines(dir);
    let bytes_before = total_bytes(dir);

    let claim = Claim::acquire(dir, Duration::ZERO).unwrap();
    let listing = Listing::read(dir).unwrap();
    let plan = plan_repair(&listing, mode).unwrap();
    let done = apply_repair(&claim, &listing, &plan, &mut |_| {}).unwrap();

    // Nothing lost: segment bytes plus quarantine bytes are the bytes before.
    assert_eq!(total_bytes(dir), bytes_before, "every removed byte is in quarantine");
    for q in &done.quarantined {
        assert!(q.starts_with(dir), "quarantine lives in the journal directory");
    }
    // No complete valid line removed (a segment may be gone only if it held none).
    let after = valid_lines(dir);
    for (name, lines) in &before {
        let kept = after.get(name).map(Vec::as_slice).unwrap_or(&[]);
        let mut it = kept.iter();
        for l in lines {
            assert!(it.any(|k| k == l), "{name}: a valid line was removed");
        }
    }
    // Idempotent: a second plan has nothing to remove.
    let listing = Listing::read(dir).unwrap();
    let again = plan_repair(&listing, mode).unwrap();
    assert!(again.is_empty(), "a second repair has work left");
});

//! verify on any bytes laid out as a journal: never panics, and its counts
//! hold together.
#![no_main]

use journal::segment::Listing;
use journal::verify::{VerifyOptions, verify};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let tmp = tempfile::tempdir().unwrap();
    common::write_journal(tmp.path(), data);
    let listing = Listing::read(tmp.path()).unwrap();
    let opts = VerifyOptions {
        threads: 1,
        read: journal::lines::ReadOptions {
            chunk: 64,
            max_line: 4096,
        },
        collect_damaged_lines: true,
        ..VerifyOptions::default()
    };
    let report = verify(&listing, &opts, None).unwrap();
    assert!(report.records() <= report.lines(), "records <= lines");
    assert_eq!(report.bytes(), listing.total_bytes(), "every byte read");
    let counted: u64 = report.kinds.values().sum();
    assert_eq!(counted, report.errors + report.warnings, "kinds add up");
    for (i, damaged) in report.damaged_lines.iter().enumerate() {
        for d in damaged {
            assert!(d.offset + d.len <= listing.segments()[i].len(), "damage inside the file");
        }
    }
});

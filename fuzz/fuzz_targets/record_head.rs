//! The record head parser: `parse_line` never panics, agrees with serde_json
//! on what a record is and its seq, and the public fast path `fast_seq`
//! agrees with it whenever it answers (the crate's own property tests cover
//! the private fast paths, `fast_ts` and `fastline`).
#![no_main]

use journal::record::{fast_seq, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let exact = parse_line(data);
    if let Ok(r) = &exact {
        // A record is a JSON object with a u64 seq: serde_json agrees.
        let v: serde_json::Value = match serde_json::from_slice(journal::lines::strip_cr(data)) {
            Ok(v) => v,
            // Known (issue 13 item 2): a lone surrogate escape in a field the
            // head parser skips is accepted there and refused by serde_json.
            Err(e) if e.to_string().contains("surrogate") => return,
            Err(e) => panic!("parse_line accepted what serde_json refuses: {e}"),
        };
        assert!(v.is_object());
        assert_eq!(v["seq"].as_u64(), Some(r.seq), "seq vs serde_json");
    }
    if let Some(seq) = fast_seq(data) {
        if let Ok(r) = &exact {
            assert_eq!(r.seq, seq, "fast_seq vs parse_line");
        }
    }
});

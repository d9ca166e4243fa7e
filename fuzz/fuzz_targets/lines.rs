//! The line readers: forward and backward readers over any bytes, with tiny
//! chunks and line caps, agree with each other and with a plain split.
#![no_main]

use journal::lines::{BackwardLines, ForwardLines, LineBody, ReadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&knob, bytes)) = data.split_first() else {
        return;
    };
    let opts = ReadOptions {
        chunk: 1 + (knob & 0x0f) as usize,
        max_line: 1 + (knob >> 4) as usize * 8,
    };
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), bytes).unwrap();
    let len = bytes.len() as u64;

    // (offset, len, terminated, bytes if kept)
    let mut forward = Vec::new();
    let mut r = ForwardLines::open(tmp.path(), len, opts).unwrap();
    while let Some(line) = r.next_line().unwrap() {
        let kept = match line.body {
            LineBody::Bytes(b) => Some(b.to_vec()),
            _ => None,
        };
        forward.push((line.offset, line.len, line.terminated, kept));
    }
    let mut backward = Vec::new();
    let mut r = BackwardLines::open(tmp.path(), len, opts).unwrap();
    while let Some(line) = r.prev_line().unwrap() {
        let kept = match line.body {
            LineBody::Bytes(b) => Some(b.to_vec()),
            _ => None,
        };
        backward.push((line.offset, line.len, line.terminated, kept));
    }
    backward.reverse();

    // The plain truth: split on '\n'.
    let mut expect = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        match bytes[at..].iter().position(|&b| b == b'\n') {
            Some(n) => {
                expect.push((at as u64, n as u64, true));
                at += n + 1;
            }
            None => {
                expect.push((at as u64, (bytes.len() - at) as u64, false));
                at = bytes.len();
            }
        }
    }
    let shape = |v: &[(u64, u64, bool, Option<Vec<u8>>)]| {
        v.iter().map(|l| (l.0, l.1, l.2)).collect::<Vec<_>>()
    };
    assert_eq!(shape(&forward), expect, "forward reader vs split");
    assert_eq!(shape(&backward), expect, "backward reader vs split");
    for l in forward.iter().chain(&backward) {
        if let Some(b) = &l.3 {
            assert_eq!(&b[..], &bytes[l.0 as usize..(l.0 + l.1) as usize], "line bytes");
            // A line slightly over the cap may be kept (documented in
            // lines.rs): memory stays bounded by the cap plus a read.
            assert!(
                b.len() <= 2 * (opts.max_line + opts.chunk),
                "a kept line is bounded by the cap"
            );
        } else {
            assert!(l.1 as usize > opts.max_line, "only an over-long line is not kept");
        }
    }
});

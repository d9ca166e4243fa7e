//! The engine's segment file names, `events-<start-seq>.jsonl`: parsing one
//! (every entry of a directory goes through it, so it is quick) and making
//! one back. A leaf: the directory read and the listing both use it.
//!
//! Guarantees:
//! - a name parses when it is `events-`, then 1 to 20 ASCII digits whose
//!   number fits in a u64, then `.jsonl`; nothing else does;
//! - a parsed name is given back byte for byte by [`write_segment_name`]
//!   from its seq and its digits' count (the zeros in front are all the
//!   digits' count must say), so a listing may keep the two numbers instead
//!   of the name.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

const PREFIX: &str = "events-";
const SUFFIX: &str = ".jsonl";
/// Width of the zero-padded start seq in the names the engine writes.
pub const NAME_DIGITS: usize = 20;

/// Parses `events-<digits>.jsonl` into its start seq. Anything else is `None`:
/// a name that does not parse is not a segment and is left alone.
pub fn parse_segment_name(name: &OsStr) -> Option<u64> {
    parse_segment_parts(name.as_bytes()).map(|n| n.seq)
}

/// A segment name as its two numbers (see [`write_segment_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentName {
    pub seq: u64,
    /// How many digits the name has (1 to 20; the engine writes 20).
    pub width: u8,
}

/// The longest segment name: `events-`, 20 digits, `.jsonl`.
pub const MAX_NAME_LEN: usize = PREFIX.len() + NAME_DIGITS + SUFFIX.len();

/// The order of the names in a listing: by seq, and for one seq written
/// two ways (`events-1`, `events-01`) the longer name first, as the names
/// compare.
impl Ord for SegmentName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.seq, std::cmp::Reverse(self.width)).cmp(&(other.seq, std::cmp::Reverse(other.width)))
    }
}

impl PartialOrd for SegmentName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl SegmentName {
    /// The name itself.
    pub fn file_name(self) -> String {
        let mut buf = [0u8; MAX_NAME_LEN];
        let len = write_segment_name(self, &mut buf);
        // Only ASCII was written.
        String::from_utf8_lossy(&buf[..len]).into_owned()
    }

    /// `seq` written with `width` digits, when that is a name that parses
    /// back to the same two numbers.
    pub fn new(seq: u64, width: u8) -> Option<SegmentName> {
        let digits = seq.checked_ilog10().map_or(1, |l| l + 1);
        let fits = (1..=NAME_DIGITS as u8).contains(&width) && digits <= u32::from(width);
        fits.then_some(SegmentName { seq, width })
    }
}

/// [`parse_segment_name`], with the digits' count.
pub fn parse_segment_parts(name: &[u8]) -> Option<SegmentName> {
    // Bytes, not str: run on every entry of a directory of ten thousand
    // segments (a name that is not UTF-8 is not a segment either way).
    let digits = name
        .strip_prefix(PREFIX.as_bytes())?
        .strip_suffix(SUFFIX.as_bytes())?;
    if digits.is_empty() || digits.len() > NAME_DIGITS {
        return None;
    }
    let width = digits.len() as u8;
    parse_seq_digits(digits).map(|seq| SegmentName { seq, width })
}

/// Writes the name `name` stands for into `out`; returns its length.
pub fn write_segment_name(name: SegmentName, out: &mut [u8; MAX_NAME_LEN]) -> usize {
    let width = usize::from(name.width).min(NAME_DIGITS);
    let len = PREFIX.len() + width + SUFFIX.len();
    out[..PREFIX.len()].copy_from_slice(PREFIX.as_bytes());
    let mut v = name.seq;
    for d in out[PREFIX.len()..PREFIX.len() + width].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out[PREFIX.len() + width..len].copy_from_slice(SUFFIX.as_bytes());
    len
}

/// 1 to 20 ASCII digits as their number; `None` on another byte or when the
/// number does not fit in a u64.
fn parse_seq_digits(digits: &[u8]) -> Option<u64> {
    if let Ok(d) = <&[u8; NAME_DIGITS]>::try_from(digits) {
        // The engine's names: 4 + 8 + 8 digits, eight at a time (the first
        // four behind four '0's).
        let word = |b: [u8; 8]| u64::from_le_bytes(b);
        let a = parse_digits(word([b'0', b'0', b'0', b'0', d[0], d[1], d[2], d[3]]))?;
        let b = parse_digits(word(d[4..12].try_into().ok()?))?;
        let c = parse_digits(word(d[12..].try_into().ok()?))?;
        return a
            .checked_mul(10u64.pow(16))?
            .checked_add(b * 100_000_000 + c);
    }
    let mut seq: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        seq = seq.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(seq)
}

/// Eight ASCII digits, the first in the lowest byte (a little-endian load),
/// as their number; `None` when a byte is not a digit. Run on every name of
/// a large directory: a few instructions instead of eight multiplications
/// in a chain.
fn parse_digits(chunk: u64) -> Option<u64> {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // Each byte 0x30..=0x39: high nibble 3, and still 3 after adding 6 (a
    // byte whose add carries into the next had a high nibble of F: refused).
    if (chunk & HIGH) | ((chunk.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4)
        != 0x3333_3333_3333_3333
    {
        return None;
    }
    let mut v = chunk - 0x3030_3030_3030_3030;
    v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    v = (v * 10_000 + (v >> 32)) & 0x0000_0000_FFFF_FFFF;
    Some(v)
}

/// Whether a file name ends in `.jsonl` with something before it (what
/// `Path::extension` says is a `jsonl` extension, without parsing a path).
pub fn has_jsonl_extension(name: &OsStr) -> bool {
    let name = name.as_bytes();
    name.len() > SUFFIX.len() && name.ends_with(SUFFIX.as_bytes())
}

/// `events-<digits>.jsonl` with at most 20 digits whose number overflows u64.
pub(crate) fn seq_out_of_range(name: &OsStr) -> bool {
    name.to_str()
        .and_then(|n| n.strip_prefix(PREFIX)?.strip_suffix(SUFFIX))
        .is_some_and(|d| {
            !d.is_empty()
                && d.len() <= NAME_DIGITS
                && d.bytes().all(|b| b.is_ascii_digit())
                && d.parse::<u64>().is_err()
        })
}

/// The file name the engine gives the segment starting at `start_seq`.
pub fn segment_file_name(start_seq: u64) -> String {
    SegmentName {
        seq: start_seq,
        width: NAME_DIGITS as u8,
    }
    .file_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-at-a-time parse the fast path must agree with.
    fn slow_parse(name: &[u8]) -> Option<u64> {
        let digits = name.strip_prefix(b"events-")?.strip_suffix(b".jsonl")?;
        if digits.is_empty() || digits.len() > NAME_DIGITS || !digits.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    }

    #[test]
    fn twenty_digit_names_parse_as_digit_by_digit() {
        let mut names: Vec<Vec<u8>> = [
            "00000000000000000000",
            "00000000000000000001",
            "00000000000000086797",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "09999999999999999999",
            "1844674407370955161a",
            "a0000000000000000000",
            "0000000000:000000000",
            "0000000000/000000000",
            "00000000000000000 00",
            "0000000000000000000\u{ff}",
        ]
        .iter()
        .map(|d| format!("events-{d}.jsonl").into_bytes())
        .collect();
        // Every byte value at every digit position.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for pos in 0..NAME_DIGITS {
            for byte in 0u8..=255 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let mut d = format!("{:020}", x % 10u64.pow(19)).into_bytes();
                d[pos] = byte;
                let mut name = b"events-".to_vec();
                name.extend_from_slice(&d);
                name.extend_from_slice(b".jsonl");
                names.push(name);
            }
        }
        for name in &names {
            let got = parse_segment_name(OsStr::from_bytes(name));
            assert_eq!(got, slow_parse(name), "{}", String::from_utf8_lossy(name));
        }
        assert_eq!(
            parse_segment_name(OsStr::new("events-18446744073709551615.jsonl")),
            Some(u64::MAX)
        );
        assert_eq!(
            parse_segment_name(OsStr::new("events-00000000000000086797.jsonl")),
            Some(86797)
        );
    }

    #[test]
    fn parses_engine_names_and_rejects_lookalikes() {
        assert_eq!(
            parse_segment_name(OsStr::new("events-00000000000000000001.jsonl")),
            Some(1)
        );
        assert_eq!(
            parse_segment_name(OsStr::new("events-286.jsonl")),
            Some(286)
        );
        assert_eq!(
            parse_segment_name(OsStr::new("events-18446744073709551615.jsonl")),
            Some(u64::MAX)
        );
        for bad in [
            "events-.jsonl",
            "events-1.jsonl.bak",
            "events-1.json",
            "events--1.jsonl",
            "events-+1.jsonl",
            "events-99999999999999999999.jsonl",
            "events-000000000000000000001.jsonl",
            "xevents-1.jsonl",
            ".account-journal.lock",
        ] {
            assert_eq!(parse_segment_name(OsStr::new(bad)), None, "{bad}");
        }
    }

    /// Every parsed name is written back byte for byte, and only numbers
    /// that fit their width make a name.
    #[test]
    fn a_parsed_name_is_written_back_byte_for_byte() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut out = [0u8; MAX_NAME_LEN];
        for width in 1..=NAME_DIGITS {
            for _ in 0..200 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let seq = if width == NAME_DIGITS {
                    x
                } else {
                    x % 10u64.pow(width as u32)
                };
                let text = format!("events-{seq:0width$}.jsonl");
                let parts = parse_segment_parts(text.as_bytes()).unwrap();
                assert_eq!(
                    parts,
                    SegmentName {
                        seq,
                        width: width as u8
                    }
                );
                assert_eq!(SegmentName::new(seq, width as u8), Some(parts));
                let len = write_segment_name(parts, &mut out);
                assert_eq!(&out[..len], text.as_bytes());
            }
        }
        assert_eq!(SegmentName::new(10, 1), None);
        assert_eq!(
            SegmentName::new(9, 1),
            Some(SegmentName { seq: 9, width: 1 })
        );
        assert_eq!(
            SegmentName::new(0, 1),
            Some(SegmentName { seq: 0, width: 1 })
        );
        assert_eq!(SegmentName::new(1, 0), None);
        assert_eq!(SegmentName::new(1, 21), None);
        assert_eq!(SegmentName::new(u64::MAX, 20).map(|n| n.width), Some(20));
    }
}

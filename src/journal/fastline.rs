//! A fast path for whole-journal scans (`stats`): reads the engine's record
//! head (`{"seq":N,"ts":"..","session_id":"..","event":{"type":".."`)
//! without building anything, and checks the whole line is valid JSON with a
//! validating scanner that skips string bodies with memchr.
//!
//! It answers the same as [`parse_line`] for every line it accepts; any line
//! not in the engine's exact shape (other field order, escapes in the head,
//! `\r`) returns `None` and the caller falls back to [`parse_line`], so damage
//! is never counted as an event.
//!
//! [`parse_line`]: crate::journal::record::parse_line

/// The head of a valid engine-shaped record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastRecord<'a> {
    pub seq: u64,
    pub ts: &'a str,
    pub session_id: Option<&'a str>,
    pub event_type: &'a str,
}

/// The record head of `line` (without `\n`) if the line is in the engine's
/// shape and valid UTF-8 JSON; `None` means "use `parse_line`".
pub fn fast_record(line: &[u8]) -> Option<FastRecord<'_>> {
    fast_record_keys(line, None)
}

/// [`fast_record`], also collecting the byte ranges of the event object's
/// keys into `event_keys` (cleared first), for the engine's schema check.
pub(crate) fn fast_record_keys<'a>(
    line: &'a [u8],
    mut event_keys: Option<&mut Vec<(usize, usize)>>,
) -> Option<FastRecord<'a>> {
    if let Some(keys) = event_keys.as_deref_mut() {
        keys.clear();
    }
    let head = Head::of(line)?;
    // The head is known good; the whole line must still be one JSON value
    // in UTF-8 (which covers the head's strings too), with no head key
    // repeated later in the line (nor one spelled with escapes, which the
    // exact parser decodes).
    let mut p = Parser::new(line);
    p.event_keys = event_keys;
    if !p.whole() || p.head_keys != HeadKeys::Unique {
        return None;
    }
    head.record(line)
}

/// The record head of a line that [`fast_record`] accepted before (the same
/// bytes, checked on another thread): the head alone, without validating the
/// line again. On any other line it answers like `fast_record` would only
/// by chance: the caller must know the line was accepted.
pub(crate) fn fast_record_prechecked(line: &[u8]) -> Option<FastRecord<'_>> {
    Head::of(line)?.record(line)
}

/// The record head's pieces, as byte slices of the line.
struct Head<'a> {
    seq: u64,
    ts: &'a [u8],
    session_id: Option<&'a [u8]>,
    event_type: &'a [u8],
}

impl<'a> Head<'a> {
    fn of(line: &'a [u8]) -> Option<Head<'a>> {
        let seq = crate::journal::record::fast_seq(line)?;
        let digits = line[7..].iter().take_while(|b| b.is_ascii_digit()).count();
        let rest = line[7 + digits..].strip_prefix(b",\"ts\":\"")?;
        let (ts, rest) = plain_string(rest)?;
        let (session_id, rest) = match rest.strip_prefix(b",\"session_id\":\"") {
            Some(r) => {
                let (s, r) = plain_string(r)?;
                (Some(s), r)
            }
            None => (None, rest),
        };
        let rest = rest.strip_prefix(b",\"event\":{\"type\":\"")?;
        let (event_type, _) = plain_string(rest)?;
        Some(Head {
            seq,
            ts,
            session_id,
            event_type,
        })
    }

    /// The pieces as text, from one UTF-8 conversion of the head (the
    /// pieces' ends sit next to ASCII quotes, so on character boundaries).
    fn record(&self, line: &'a [u8]) -> Option<FastRecord<'a>> {
        let at = |piece: &[u8]| piece.as_ptr() as usize - line.as_ptr() as usize;
        let head_end = at(self.event_type) + self.event_type.len();
        let head = std::str::from_utf8(&line[..head_end]).ok()?;
        let s = |piece: &[u8]| -> Option<&'a str> { head.get(at(piece)..at(piece) + piece.len()) };
        Some(FastRecord {
            seq: self.seq,
            ts: s(self.ts)?,
            session_id: match self.session_id {
                Some(b) => Some(s(b)?),
                None => None,
            },
            event_type: s(self.event_type)?,
        })
    }
}

/// A string body up to its closing quote, with no escape or control byte.
fn plain_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memchr2(b'"', b'\\', b)?;
    if b[end] != b'"' || b[..end].iter().any(|&c| c < 0x20) {
        return None;
    }
    Some((&b[..end], &b[end + 1..]))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that may be `"`, `\\` or below 0x20
/// (SWAR). Only the lowest set bit is exact (a borrow can flag a byte above a
/// special one), which is all the caller uses; no special byte gives 0.
fn special_bytes(w: u64) -> u64 {
    let below = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q & HIGH;
    let e = w ^ (ONES * u64::from(b'\\'));
    let escape = e.wrapping_sub(ONES) & !e & HIGH;
    below | quote | escape
}

/// Bit `i` of the first mask is set when byte `i` of `chunk` is `"`, `\\` or
/// below 0x20; bit `i` of the second when it is not ASCII. Exact, unlike
/// [`special_bytes`]; SSE2 (every x86_64 has it) where available.
#[cfg(target_arch = "x86_64")]
fn special_bytes16(chunk: [u8; 16]) -> (u32, u32) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86_64 target (the compiler enables it
    // for the whole crate), and the load reads the 16 bytes of `chunk`
    // (unaligned loads allowed).
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let escape = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned c <= 0x1f exactly when min(c, 0x1f) == c.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let special = _mm_or_si128(_mm_or_si128(quote, escape), control);
        (
            _mm_movemask_epi8(special) as u32,
            _mm_movemask_epi8(v) as u32,
        )
    }
}

/// [`special_bytes16`] without SIMD: two words, exact masks.
#[cfg(not(target_arch = "x86_64"))]
fn special_bytes16(chunk: [u8; 16]) -> (u32, u32) {
    let mut special = 0u32;
    let mut non_ascii = 0u32;
    for (i, c) in chunk.into_iter().enumerate() {
        special |= u32::from(c == b'"' || c == b'\\' || c < 0x20) << i;
        non_ascii |= u32::from(c >> 7) << i;
    }
    (special, non_ascii)
}

/// Nesting deeper than this is refused: serde_json (and so the engine)
/// parses 127 levels of arrays and objects, the outermost counted, and
/// stops with "recursion limit exceeded" at the 128th.
const MAX_DEPTH: usize = 127;

/// Whether `b` is exactly one JSON value (RFC 8259) in UTF-8, surrounded by
/// optional whitespace. Outside strings the grammar admits ASCII only, so
/// checking the string bodies that hold non-ASCII bytes checks the line.
///
/// "Valid" is what `serde_json::Value` accepts: besides the grammar, every
/// `\uXXXX` escape is a scalar value or a surrogate pair (a lone `\ud800`
/// is refused) and every number is a finite double (`1e400` is refused).
pub fn valid_json(b: &[u8]) -> bool {
    Parser::new(b).whole()
}

/// What the validator saw of the keys the record head reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadKeys {
    Unique,
    /// One of them twice (the line is not a record).
    Repeated,
    /// A top-level or event key written with escapes: only the exact parser
    /// can tell what it spells.
    Escaped,
}

/// Where an object sits, for the head-key checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Top,
    Event,
    Other,
}

struct Parser<'a, 'k> {
    b: &'a [u8],
    i: usize,
    head_keys: HeadKeys,
    /// Where to note the event object's keys, when asked.
    event_keys: Option<&'k mut Vec<(usize, usize)>>,
}

impl<'a> Parser<'a, '_> {
    fn new(b: &'a [u8]) -> Self {
        Parser {
            b,
            i: 0,
            head_keys: HeadKeys::Unique,
            event_keys: None,
        }
    }

    fn whole(&mut self) -> bool {
        self.ws();
        let role = if self.peek() == Some(b'{') {
            Role::Top
        } else {
            Role::Other
        };
        self.value(0, role) && {
            self.ws();
            self.i == self.b.len()
        }
    }

    fn note_key(&mut self, state: HeadKeys) {
        if self.head_keys == HeadKeys::Unique {
            self.head_keys = state;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize, role: Role) -> bool {
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth + 1, role),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn object(&mut self, depth: usize, role: Role) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return true;
        }
        // Head keys seen in this object (bits: seq, ts, session_id, event / type).
        let mut seen = 0u8;
        loop {
            self.ws();
            let key_start = self.i + 1;
            if self.peek() != Some(b'"') || !self.string() {
                return false;
            }
            let mut value_role = Role::Other;
            if role != Role::Other {
                let key = &self.b[key_start..self.i - 1];
                let bit = match (role, key) {
                    (Role::Top, b"seq") => 1,
                    (Role::Top, b"ts") => 2,
                    (Role::Top, b"session_id") => 4,
                    (Role::Top, b"event") => {
                        value_role = Role::Event;
                        8
                    }
                    (Role::Event, b"type") => 16,
                    _ => 0,
                };
                if seen & bit != 0 {
                    self.note_key(HeadKeys::Repeated);
                }
                if role == Role::Event
                    && let Some(keys) = self.event_keys.as_deref_mut()
                {
                    keys.push((key_start, self.i - 1));
                }
                seen |= bit;
                if key.contains(&b'\\') {
                    self.note_key(HeadKeys::Escaped);
                }
            }
            self.ws();
            if self.peek() != Some(b':') {
                return false;
            }
            self.i += 1;
            if !self.value(depth, value_role) {
                return false;
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return true;
        }
        loop {
            if !self.value(depth, Role::Other) {
                return false;
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn string(&mut self) -> bool {
        self.i += 1;
        let b = self.b;
        let start = self.i;
        // High bits seen in the body: only then is it checked as UTF-8.
        let mut high = 0u64;
        loop {
            // Sixteen bytes at a time (SSE2 on x86_64), then eight (SWAR),
            // jumping straight to the first byte that ends, escapes or breaks
            // the string; the last few bytes of the line one by one below.
            loop {
                if let Some(chunk) = b.get(self.i..self.i + 16) {
                    let (special, non_ascii) = special_bytes16(chunk.try_into().unwrap_or([0; 16]));
                    if special != 0 {
                        let skip = special.trailing_zeros();
                        high |= u64::from(non_ascii & ((1u32 << skip) - 1));
                        self.i += skip as usize;
                        break;
                    }
                    high |= u64::from(non_ascii);
                    self.i += 16;
                } else if let Some(chunk) = b.get(self.i..self.i + 8) {
                    let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
                    let special = special_bytes(word);
                    if special != 0 {
                        let skip = (special.trailing_zeros() / 8) as usize;
                        high |= word & HIGH & ((1u64 << (skip * 8)) - 1);
                        self.i += skip;
                        break;
                    }
                    high |= word & HIGH;
                    self.i += 8;
                } else {
                    break;
                }
            }
            let Some(&c) = b.get(self.i) else {
                return false;
            };
            self.i += 1;
            match c {
                b'"' => {
                    return high == 0 || simdutf8::basic::from_utf8(&b[start..self.i - 1]).is_ok();
                }
                b'\\' => match self.peek() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                    Some(b'u') => {
                        self.i += 1;
                        let Some(unit) = self.hex4() else {
                            return false;
                        };
                        match unit {
                            // A high surrogate needs a low one right after it.
                            0xD800..=0xDBFF => {
                                if b.get(self.i..self.i + 2) != Some(&b"\\u"[..]) {
                                    return false;
                                }
                                self.i += 2;
                                if !matches!(self.hex4(), Some(0xDC00..=0xDFFF)) {
                                    return false;
                                }
                            }
                            0xDC00..=0xDFFF => return false,
                            _ => {}
                        }
                    }
                    _ => return false,
                },
                // Raw control characters are not allowed inside a JSON string.
                0..=0x1f => return false,
                _ => high |= u64::from(c & 0x80),
            }
        }
    }

    /// Four hex digits, as a UTF-16 code unit.
    fn hex4(&mut self) -> Option<u16> {
        let hex = self.b.get(self.i..self.i + 4)?;
        let mut unit = 0u16;
        for &h in hex {
            unit = unit << 4 | (h as char).to_digit(16)? as u16;
        }
        self.i += 4;
        Some(unit)
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn digits(&mut self) -> usize {
        let n = self.b[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        self.i += n;
        n
    }

    fn number(&mut self) -> bool {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return false,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return false;
            }
        }
        let mut exponent = false;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            exponent = true;
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return false;
            }
        }
        // Only a long mantissa or an exponent can leave a double's range
        // (serde_json refuses infinity); short plain numbers never do.
        if exponent || self.i - start > 300 {
            let text = &self.b[start..self.i];
            // ASCII digits and signs only: from_utf8 cannot fail.
            let finite = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(f64::is_finite);
            if !finite {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::parse_line;

    /// The depth limit is serde_json's, to the level: a line one level
    /// deeper than what it parses is refused here too.
    #[test]
    fn nesting_limit_is_serde_jsons_own() {
        let line = |depth: usize| {
            // The record and its event are two levels; arrays make the rest.
            format!(
                r#"{{"seq":1,"ts":"t","event":{{"type":"x","d":{}{}}}}}"#,
                "[".repeat(depth - 2),
                "]".repeat(depth - 2)
            )
        };
        for depth in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2] {
            let l = line(depth);
            let serde = serde_json::from_str::<serde_json::Value>(&l).is_ok();
            assert_eq!(valid_json(l.as_bytes()), serde, "depth {depth}");
            assert_eq!(fast_record(l.as_bytes()).is_some(), serde, "depth {depth}");
        }
        assert!(valid_json(line(MAX_DEPTH).as_bytes()));
    }

    #[test]
    fn agrees_with_parse_line_on_engine_lines() {
        let line = br#"{"seq":42,"ts":"2026-11-22T10:15:03.1Z","session_id":"s-7","event":{"type":"message_appended","content":"caf\u00e9 \"q\" \ud83d\ude80","n":[1,-2.5e3,true,null,{}]}}"#;
        let f = fast_record(line).unwrap();
        let r = parse_line(line).unwrap();
        assert_eq!(f.seq, r.seq);
        assert_eq!(Some(f.ts), r.ts.as_deref());
        assert_eq!(f.session_id, r.session_id.as_deref());
        assert_eq!(Some(f.event_type), r.event_type.as_deref());
        let no_session = br#"{"seq":1,"ts":"t","event":{"type":"config.changed"}}"#;
        assert_eq!(fast_record(no_session).unwrap().session_id, None);
    }

    #[test]
    fn damaged_lines_are_never_accepted() {
        for bad in [
            &br#"{"seq":5,"ts":"t","event":{"type":"x","content":"abc{"seq":6,"ts":"t","event":{"type":"y"}}"#[..],
            br#"{"seq":5,"ts":"t","event":{"type":"x"}"#,
            br#"{"seq":5,"ts":"t","event":{"type":"x"}}}"#,
            br#"{"seq":5,"ts":"t","event":{"type":"x","a":01}}"#,
            br#"{"seq":5,"ts":"t","event":{"type":"x","a":"\q"}}"#,
            br#"{"seq":5,"ts":"t","event":{"type":"x","a":"\u12"}}"#,
            br#"{"seq":5,"ts":"t","event":{"type":"x","a":tru}}"#,
            br#"{"seq":5,"ts":"t","event":{"type":"x","a":1.}}"#,
            br#"{"seq":5,"ts":"t","event":{"type":"x",}}"#,
            b"{\"seq\":5,\"ts\":\"t\",\"event\":{\"type\":\"x\",\"a\":\"\x01\"}}",
            b"{\"seq\":5,\"ts\":\"t\",\"event\":{\"type\":\"x\",\"a\":\"\xff\"}}",
            b"{\"seq\":5,\"ts\":\"t\",\"event\":{\"type\":\"x\"}}\0",
        ] {
            assert_eq!(fast_record(bad), None, "{}", String::from_utf8_lossy(bad));
            assert!(parse_line(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn other_shapes_fall_back() {
        // Valid, but not the engine's head: the caller uses parse_line.
        assert_eq!(
            fast_record(br#"{"ts":"t","seq":1,"event":{"type":"x"}}"#),
            None
        );
        assert_eq!(
            fast_record(br#"{"seq":1,"ts":"t","event":{"type":"a\"b"}}"#),
            None
        );
        assert_eq!(
            fast_record(br#"{"seq":1,"ts":"t","event":{"kind":"x"}}"#),
            None
        );
    }

    #[test]
    fn agrees_with_serde_on_every_cut_and_flip_of_real_lines() {
        let line = concat!(
            r#"{"seq":2,"ts":"2026-11-20T09:00:03.664447812Z","session_id":"d3","event":{"type":"#,
            r#""message_appended","content":"Mixed:\r\nCRLF.\r\n\n\tTabs ∀x ∈ ℝ \"q\" 🚀 \u00e9","#,
            r#""n":[1,-2.5e3,0.1,true,false,null,{"a":[]}],"created_at":"2026-11-20T09:00:03Z"}}"#
        )
        .as_bytes();
        assert!(fast_record(line).is_some());
        for cut in 0..line.len() {
            let head = &line[..cut];
            let serde_ok = std::str::from_utf8(head).is_ok()
                && serde_json::from_slice::<serde::de::IgnoredAny>(head).is_ok();
            assert_eq!(valid_json(head), serde_ok, "cut {cut}");
            assert_eq!(
                fast_record(head).is_some(),
                parse_line(head).is_ok() && serde_ok,
                "cut {cut}"
            );
        }
        for (at, with) in (0..line.len())
            .flat_map(|i| [b'"', b'\\', b'}', b'\n', b'x', 0x01, 0xff, 0xc3, 0x80].map(|c| (i, c)))
        {
            let mut v = line.to_vec();
            v[at] = with;
            // serde does not check UTF-8 inside strings it skips; parse_line does.
            let serde_ok = std::str::from_utf8(&v).is_ok()
                && serde_json::from_slice::<serde::de::IgnoredAny>(&v).is_ok();
            assert_eq!(valid_json(&v), serde_ok, "{at} {with}");
            if let Some(f) = fast_record(&v) {
                let r = parse_line(&v).unwrap();
                assert_eq!(
                    (f.seq, Some(f.event_type)),
                    (r.seq, r.event_type.as_deref())
                );
            }
        }
    }

    /// The 16-byte scanner's masks, byte by byte, against the definition.
    #[test]
    fn special_bytes16_flags_exactly_quotes_escapes_controls_and_non_ascii() {
        for c in 0..=255u8 {
            for at in [0, 7, 8, 15] {
                let mut chunk = [b'a'; 16];
                chunk[at] = c;
                let (special, non_ascii) = special_bytes16(chunk);
                let is_special = c == b'"' || c == b'\\' || c < 0x20;
                assert_eq!(special, u32::from(is_special) << at, "{c:#x} at {at}");
                assert_eq!(non_ascii, u32::from(c >= 0x80) << at, "{c:#x} at {at}");
            }
        }
    }

    /// Strings of every length around the 16- and 8-byte steps, with the
    /// byte that ends or breaks them at every place.
    #[test]
    fn strings_of_every_length_agree_with_serde() {
        for len in 0..40 {
            for at in 0..len {
                for c in [b'"', b'\\', 0x01, 0x1f, 0x7f, 0xc3, 0xe9, b'x'] {
                    let mut body = vec![b'a'; len];
                    body[at] = c;
                    let mut v = b"[\"".to_vec();
                    v.extend_from_slice(&body);
                    v.extend_from_slice(b"\"]");
                    let serde_ok = std::str::from_utf8(&v).is_ok()
                        && serde_json::from_slice::<serde::de::IgnoredAny>(&v).is_ok();
                    assert_eq!(valid_json(&v), serde_ok, "len {len} at {at} {c:#x}");
                }
            }
        }
    }

    #[test]
    fn validator_accepts_what_json_accepts() {
        for good in [
            "{}",
            "[]",
            " {\"a\" : [ 1 , 2 ] } ",
            "0",
            "-0.5E+10",
            "\"\\/\\b\"",
            "[[[]]]",
        ] {
            assert!(valid_json(good.as_bytes()), "{good}");
            assert!(serde_json::from_str::<serde_json::Value>(good).is_ok());
        }
        assert!(!valid_json(&[b'['; 200]));
    }
}

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
    // The head is known good; the whole line must still be one JSON value
    // in UTF-8 (which covers the head's strings too).
    if !valid_json(line) {
        return None;
    }
    // Checked UTF-8 above; the pieces are whole strings of it.
    fn s(b: &[u8]) -> Option<&str> {
        std::str::from_utf8(b).ok()
    }
    Some(FastRecord {
        seq,
        ts: s(ts)?,
        session_id: match session_id {
            Some(b) => Some(s(b)?),
            None => None,
        },
        event_type: s(event_type)?,
    })
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

/// Nesting deeper than this is refused (serde_json's own limit is 128).
const MAX_DEPTH: usize = 128;

/// Whether `b` is exactly one JSON value (RFC 8259) in UTF-8, surrounded by
/// optional whitespace. Outside strings the grammar admits ASCII only, so
/// checking the string bodies that hold non-ASCII bytes checks the line.
pub fn valid_json(b: &[u8]) -> bool {
    let mut p = Parser { b, i: 0 };
    p.value(0) && {
        p.ws();
        p.i == b.len()
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> bool {
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return true;
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') || !self.string() {
                return false;
            }
            self.ws();
            if self.peek() != Some(b':') {
                return false;
            }
            self.i += 1;
            if !self.value(depth) {
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
            if !self.value(depth) {
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
            // Eight bytes at a time, jumping straight to the first byte that
            // ends, escapes or breaks the string.
            while let Some(chunk) = b.get(self.i..self.i + 8) {
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
            }
            let Some(&c) = b.get(self.i) else {
                return false;
            };
            self.i += 1;
            match c {
                b'"' => return high == 0 || std::str::from_utf8(&b[start..self.i - 1]).is_ok(),
                b'\\' => match self.peek() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                    Some(b'u') => {
                        let hex = b.get(self.i + 1..self.i + 5);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return false;
                        }
                        self.i += 5;
                    }
                    _ => return false,
                },
                // Raw control characters are not allowed inside a JSON string.
                0..=0x1f => return false,
                _ => high |= u64::from(c & 0x80),
            }
        }
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
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
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

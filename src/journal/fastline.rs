//! A fast path for whole-journal scans (`stats`, the full dump, `verify`):
//! reads the engine's record head
//! (`{"seq":N,"ts":"..","session_id":"..","event":{"type":".."`) without
//! building anything, and checks the whole line is valid JSON with a
//! two-stage validator in the manner of simdjson.
//!
//! It answers the same as [`parse_line`] for every line it accepts; any line
//! not in the engine's exact shape (other field order, escapes in the head,
//! `\r`) returns `None` and the caller falls back to [`parse_line`], so damage
//! is never counted as an event. [`valid_json`] gives exactly
//! `serde_json::Value`'s verdict on any bytes.
//!
//! How the validator works, 64 bytes at a time:
//!
//! 1. *Stage 1* classifies the block into bitmasks (SSE2 or AVX2 on x86_64,
//!    plain code elsewhere): backslashes, quotes, control bytes, whitespace,
//!    structural bytes and non-ASCII bytes. From those, with carries from
//!    the block before: the bytes escaped by an odd run of backslashes, the
//!    unescaped quotes, and the bytes inside strings (a prefix XOR of the
//!    quotes, one carry-less multiplication with AVX2). A control byte
//!    inside a string is an error here, and so is an escaped byte that is
//!    not one of `"\/bfnrtu` (a mask too, found for every block: no branch
//!    on whether a block has escapes); each `\u` escape is read (hex
//!    digits, surrogate pairs). A block inside one string ends there. Token
//!    starts are the structural bytes and opening quotes outside strings,
//!    and the first byte of each run of other bytes outside strings (a
//!    scalar).
//! 2. *Stage 2* pulls the token starts from stage 1, which classifies the
//!    next blocks only when the current one has no token left (so the
//!    blocks of a long string pass in stage 1's own loop). It follows the
//!    grammar mostly by where its code is (no recursion; the open arrays
//!    and objects are a bit stack, 127 levels deep at most, as in
//!    serde_json): an object's member, key to the `,` or `}` after a string
//!    or scalar value, is one pass of one loop. Each scalar is parsed where
//!    it lies and must end exactly where its run ends.
//!
//! Outside strings the grammar admits ASCII only, so one UTF-8 check of the
//! whole line (skipped when no byte is above 0x7f) plus the grammar is
//! serde_json's verdict. Any byte the masks could misjudge (a backslash
//! outside a string) sits in a scalar run and fails the scalar's parse
//! before the verdict can be "valid".
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
    validated_record(line, head, event_keys)
}

/// The head's record once the whole line is validated: one JSON value in
/// UTF-8 (which covers the head's strings too), with no head key repeated
/// later in the line (nor one spelled with escapes, which the exact parser
/// decodes).
fn validated_record<'a>(
    line: &'a [u8],
    head: Head<'a>,
    event_keys: Option<&mut Vec<(usize, usize)>>,
) -> Option<FastRecord<'a>> {
    let seen = validate_best(line, event_keys)?;
    if seen != HeadKeys::Unique {
        return None;
    }
    // SAFETY: `validate` checked the whole line is UTF-8, and each piece
    // starts and ends next to an ASCII quote, so on character boundaries.
    let text = |piece: &'a [u8]| unsafe { std::str::from_utf8_unchecked(piece) };
    Some(head.with(text))
}

/// Where the pieces of a record head [`fast_record`] read sit in its line,
/// so that another thread holding the same bytes rebuilds the head without
/// reading the line again (the full dump: the workers validate, the visitor
/// only prints; reading each head twice was a sixth of the dump).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadSpans {
    seq: u64,
    ts: (u32, u32),
    session_id: Option<(u32, u32)>,
    event_type: (u32, u32),
}

impl HeadSpans {
    /// The spans of `f`, which [`fast_record`] read from `line`.
    pub(crate) fn of(line: &[u8], f: &FastRecord<'_>) -> HeadSpans {
        let span = |piece: &str| {
            let at = piece.as_ptr() as usize - line.as_ptr() as usize;
            (at as u32, (at + piece.len()) as u32)
        };
        HeadSpans {
            seq: f.seq,
            ts: span(f.ts),
            session_id: f.session_id.map(span),
            event_type: span(f.event_type),
        }
    }

    /// The head again, from the same bytes `of` was given. Each piece is
    /// checked all the same (a few short ASCII pieces): a broken promise
    /// gives `None` or a wrong answer, never invalid text.
    pub(crate) fn record<'a>(&self, line: &'a [u8]) -> Option<FastRecord<'a>> {
        // One UTF-8 check of the head (a few dozen bytes) rather than one
        // per piece: per-call overhead was a twentieth of a dump's printing
        // thread. The pieces end next to ASCII quotes, so `get` finds them
        // on character boundaries.
        let end = self
            .ts
            .1
            .max(self.event_type.1)
            .max(self.session_id.map_or(0, |s| s.1));
        let head = std::str::from_utf8(line.get(..end as usize)?).ok()?;
        let text = |(a, b): (u32, u32)| head.get(a as usize..b as usize);
        Some(FastRecord {
            seq: self.seq,
            ts: text(self.ts)?,
            session_id: match self.session_id {
                Some(s) => Some(text(s)?),
                None => None,
            },
            event_type: text(self.event_type)?,
        })
    }
}

/// The record head's pieces, as byte slices of the line.
struct Head<'a> {
    seq: u64,
    ts: &'a [u8],
    session_id: Option<&'a [u8]>,
    event_type: &'a [u8],
}

impl<'a> Head<'a> {
    /// One pass over the head: the seq's digits are read once, with
    /// [`fast_seq`]'s rules (1 to 20 digits, no leading zero, within u64).
    ///
    /// [`fast_seq`]: crate::journal::record::fast_seq
    fn of(line: &'a [u8]) -> Option<Head<'a>> {
        let rest = line.strip_prefix(b"{\"seq\":")?;
        let mut seq: u64 = 0;
        let mut digits = 0;
        while let Some(&d) = rest.get(digits)
            && d.is_ascii_digit()
        {
            seq = seq.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            digits += 1;
        }
        if digits == 0 || (digits > 1 && rest[0] == b'0') {
            return None;
        }
        let rest = rest[digits..].strip_prefix(b",\"ts\":\"")?;
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

    /// The pieces as text, each converted by `text`.
    fn with(&self, text: impl Fn(&'a [u8]) -> &'a str) -> FastRecord<'a> {
        FastRecord {
            seq: self.seq,
            ts: text(self.ts),
            session_id: self.session_id.map(&text),
            event_type: text(self.event_type),
        }
    }
}

/// A string body up to its closing quote, with no escape or control byte.
fn plain_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = string_stop(b, 0);
    (b.get(end) == Some(&b'"')).then(|| (&b[..end], &b[end + 1..]))
}

/// Where the first `"`, `\\` or control byte at or after `start` lies
/// (`b.len()` when there is none). The head's strings and the keys are
/// short: eight bytes at a time (SWAR) beats both a byte loop (its
/// branches were a tenth of a dump) and a call to a search.
#[inline(always)]
fn string_stop(b: &[u8], start: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut end = start;
    while let Some(word) = b.get(end..end + 8) {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        // The high bit of each byte that may be `"`, `\\` or below 0x20:
        // in each term the lowest one set is exact (a borrow only flags
        // bytes above a true one), so the lowest of all three is.
        let q = w ^ (ONES * u64::from(b'"'));
        let e = w ^ (ONES * u64::from(b'\\'));
        let special = (q.wrapping_sub(ONES) & !q
            | e.wrapping_sub(ONES) & !e
            | w.wrapping_sub(ONES * 0x20) & !w)
            & HIGH;
        if special != 0 {
            return end + (special.trailing_zeros() / 8) as usize;
        }
        end += 8;
    }
    while let Some(&c) = b.get(end) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return end;
        }
        end += 1;
    }
    end
}

/// Nesting deeper than this is refused: serde_json (and so the engine)
/// parses 127 levels of arrays and objects, the outermost counted, and
/// stops with "recursion limit exceeded" at the 128th.
const MAX_DEPTH: usize = 127;

/// Whether `b` is exactly one JSON value (RFC 8259) in UTF-8, surrounded by
/// optional whitespace.
///
/// "Valid" is what `serde_json::Value` accepts: besides the grammar, every
/// `\uXXXX` escape is a scalar value or a surrogate pair (a lone `\ud800`
/// is refused) and every number is a finite double (`1e400` is refused).
pub fn valid_json(b: &[u8]) -> bool {
    validate_best(b, None).is_some()
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

/// The classes of a 64-byte block that matter inside strings, bit `i` for
/// byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct StringClasses {
    backslash: u64,
    quote: u64,
    /// Below 0x20.
    control: u64,
    non_ascii: u64,
}

/// The classes of a 64-byte block that matter outside strings only: a
/// block inside one string never needs them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct LayoutClasses {
    /// JSON's whitespace: space, tab, line feed, carriage return.
    space: u64,
    /// `{`, `}`, `[`, `]`, `:`, `,`.
    structural: u64,
}

/// The bytes that may follow a backslash in a string, for blocks with
/// escapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct EscapeClasses {
    /// `"`, `\\`, `/`, `b`, `f`, `n`, `r`, `t`, `u`.
    simple: u64,
    /// `u`, whose four hex digits come next.
    unicode: u64,
}

/// Stage 1's classifier, one implementation per instruction set.
trait Classify {
    /// # Safety
    /// The processor has the instructions the implementation uses.
    unsafe fn strings(block: &[u8; 64]) -> StringClasses;
    /// # Safety
    /// As for [`Classify::strings`].
    unsafe fn layout(block: &[u8; 64]) -> LayoutClasses;
    /// # Safety
    /// As for [`Classify::strings`].
    unsafe fn escapes(block: &[u8; 64]) -> EscapeClasses;
    /// Bit `i` is the XOR of bits `0..=i`: inside-string bits from quote
    /// bits.
    ///
    /// # Safety
    /// As for [`Classify::strings`].
    #[inline(always)]
    unsafe fn prefix_xor(x: u64) -> u64 {
        prefix_xor(x)
    }
}

/// The classes by definition, one byte at a time: other processors, and
/// the reference the SIMD classifiers are tested against.
#[cfg(any(test, not(target_arch = "x86_64")))]
struct Portable;

#[cfg(any(test, not(target_arch = "x86_64")))]
impl Classify for Portable {
    unsafe fn strings(block: &[u8; 64]) -> StringClasses {
        let mut c = StringClasses::default();
        for (i, &x) in block.iter().enumerate() {
            c.backslash |= u64::from(x == b'\\') << i;
            c.quote |= u64::from(x == b'"') << i;
            c.control |= u64::from(x < 0x20) << i;
            c.non_ascii |= u64::from(x >= 0x80) << i;
        }
        c
    }

    unsafe fn layout(block: &[u8; 64]) -> LayoutClasses {
        let mut c = LayoutClasses::default();
        for (i, &x) in block.iter().enumerate() {
            c.space |= u64::from(matches!(x, b' ' | b'\t' | b'\n' | b'\r')) << i;
            let structural = matches!(x, b'{' | b'}' | b'[' | b']' | b':' | b',');
            c.structural |= u64::from(structural) << i;
        }
        c
    }

    unsafe fn escapes(block: &[u8; 64]) -> EscapeClasses {
        let mut c = EscapeClasses::default();
        for (i, &x) in block.iter().enumerate() {
            let simple = matches!(
                x,
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u'
            );
            c.simple |= u64::from(simple) << i;
            c.unicode |= u64::from(x == b'u') << i;
        }
        c
    }
}

/// Sixteen bytes at a time with SSE2, which every x86_64 has.
#[cfg(target_arch = "x86_64")]
struct Sse2;

#[cfg(target_arch = "x86_64")]
impl Classify for Sse2 {
    #[inline(always)]
    unsafe fn strings(block: &[u8; 64]) -> StringClasses {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
            _mm_set1_epi8,
        };
        let mut c = StringClasses::default();
        for k in 0..4 {
            // SAFETY: SSE2 is part of every x86_64 target; the load reads
            // bytes 16k..16k+16 of the block (unaligned loads allowed).
            let [backslash, quote, control, non_ascii] = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
                let mask = |m: __m128i| u64::from(_mm_movemask_epi8(m) as u16) << (16 * k);
                let is = |b: u8| mask(_mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8)));
                // Unsigned c <= 0x1f exactly when min(c, 0x1f) == c.
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
                [is(b'\\'), is(b'"'), mask(control), mask(v)]
            };
            c.backslash |= backslash;
            c.quote |= quote;
            c.control |= control;
            c.non_ascii |= non_ascii;
        }
        c
    }

    #[inline(always)]
    unsafe fn layout(block: &[u8; 64]) -> LayoutClasses {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        let mut c = LayoutClasses::default();
        for k in 0..4 {
            // SAFETY: as in `strings`.
            let [space, structural] = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
                let is = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
                let mask = |m: __m128i| u64::from(_mm_movemask_epi8(m) as u16) << (16 * k);
                let space = _mm_or_si128(
                    _mm_or_si128(is(b' '), is(b'\t')),
                    _mm_or_si128(is(b'\n'), is(b'\r')),
                );
                // `[` and `{`, `]` and `}` differ in bit 5 alone.
                let v20 = _mm_or_si128(v, _mm_set1_epi8(0x20));
                let brackets = _mm_or_si128(
                    _mm_cmpeq_epi8(v20, _mm_set1_epi8(b'{' as i8)),
                    _mm_cmpeq_epi8(v20, _mm_set1_epi8(b'}' as i8)),
                );
                let structural = _mm_or_si128(brackets, _mm_or_si128(is(b':'), is(b',')));
                [mask(space), mask(structural)]
            };
            c.space |= space;
            c.structural |= structural;
        }
        c
    }

    #[inline(always)]
    unsafe fn escapes(block: &[u8; 64]) -> EscapeClasses {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        let mut c = EscapeClasses::default();
        for k in 0..4 {
            // SAFETY: as in `strings`.
            let [simple, unicode] = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
                let is = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
                let mask = |m: __m128i| u64::from(_mm_movemask_epi8(m) as u16) << (16 * k);
                let u = is(b'u');
                let simple = b"\"\\/bfnrt".iter().fold(u, |m, &x| _mm_or_si128(m, is(x)));
                [mask(simple), mask(u)]
            };
            c.simple |= simple;
            c.unicode |= unicode;
        }
        c
    }
}

/// Thirty-two bytes at a time with AVX2; whitespace and structural bytes
/// by two nibble lookups (simdjson's method, with our own tables).
#[cfg(target_arch = "x86_64")]
struct Avx2;

/// Nibble tables: a byte is in a class when the entries of its low and of
/// its high nibble share the class's bit. Structural: bit 0 for `[]{}`
/// (0x5B 0x5D 0x7B 0x7D), bit 1 for `,` (0x2C), bit 2 for `:` (0x3A);
/// whitespace: bit 3 for tab, line feed, carriage return (0x09 0x0A 0x0D),
/// bit 4 for space (0x20).
#[cfg(target_arch = "x86_64")]
const LOW_NIBBLE: [u8; 16] = [16, 0, 0, 0, 0, 0, 0, 0, 0, 8, 4 | 8, 1, 2, 1 | 8, 0, 0];
#[cfg(target_arch = "x86_64")]
const HIGH_NIBBLE: [u8; 16] = [8, 0, 2 | 16, 4, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];

/// Nibble tables for the bytes that may follow a backslash: bit 0 for `"`
/// and `/` (0x22 0x2F), bit 1 for `\\` (0x5C), bit 2 for `b`, `f`, `n`
/// (0x62 0x66 0x6E), bit 3 for `r`, `t` (0x72 0x74), bit 4 for `u` (0x75).
#[cfg(target_arch = "x86_64")]
const ESCAPE_LOW_NIBBLE: [u8; 16] = [0, 0, 1 | 4 | 8, 0, 8, 16, 4, 0, 0, 0, 0, 0, 2, 0, 4, 1];
#[cfg(target_arch = "x86_64")]
const ESCAPE_HIGH_NIBBLE: [u8; 16] = [0, 0, 1, 0, 0, 2, 4, 8 | 16, 0, 0, 0, 0, 0, 0, 0, 0];

#[cfg(target_arch = "x86_64")]
impl Classify for Avx2 {
    /// One carry-less multiplication by all ones (simdjson's way).
    #[inline]
    #[target_feature(enable = "pclmulqdq")]
    unsafe fn prefix_xor(x: u64) -> u64 {
        use std::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x};
        let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set_epi64x(0, -1), 0);
        _mm_cvtsi128_si64(product) as u64
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn strings(block: &[u8; 64]) -> StringClasses {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8,
            _mm256_set1_epi8,
        };
        let mut c = StringClasses::default();
        for k in 0..2 {
            // SAFETY: the caller checked the processor has AVX2; the load
            // reads bytes 32k..32k+32 of the block (unaligned loads allowed).
            let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * k).cast::<__m256i>()) };
            let mask = |m: __m256i| u64::from(_mm256_movemask_epi8(m) as u32) << (32 * k);
            let is = |b: u8| mask(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8)));
            c.backslash |= is(b'\\');
            c.quote |= is(b'"');
            c.control |= mask(_mm256_cmpeq_epi8(
                _mm256_min_epu8(v, _mm256_set1_epi8(0x1f)),
                v,
            ));
            c.non_ascii |= mask(v);
        }
        c
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn layout(block: &[u8; 64]) -> LayoutClasses {
        // SAFETY: AVX2 is enabled for this function, as for the caller.
        let [structural, space] =
            unsafe { nibble_masks(block, &LOW_NIBBLE, &HIGH_NIBBLE, [0b111, 0b11000]) };
        LayoutClasses { structural, space }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn escapes(block: &[u8; 64]) -> EscapeClasses {
        // SAFETY: AVX2 is enabled for this function, as for the caller.
        let [simple, unicode] = unsafe {
            nibble_masks(
                block,
                &ESCAPE_LOW_NIBBLE,
                &ESCAPE_HIGH_NIBBLE,
                [0b11111, 0b10000],
            )
        };
        EscapeClasses { simple, unicode }
    }
}

/// A block's bytes classified by nibble lookup (simdjson's way): a byte's
/// class is `low[its low nibble] & high[its high nibble]`, and bit `i` of
/// `masks[j]` is set when byte `i`'s class shares a bit with `bits[j]`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn nibble_masks(
    block: &[u8; 64],
    low: &[u8; 16],
    high: &[u8; 16],
    bits: [i8; 2],
) -> [u64; 2] {
    use std::arch::x86_64::{
        __m256i, _mm_loadu_si128, _mm256_and_si256, _mm256_broadcastsi128_si256, _mm256_cmpeq_epi8,
        _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8, _mm256_setzero_si256,
        _mm256_shuffle_epi8, _mm256_srli_epi16,
    };
    // SAFETY: the tables are 16 bytes each.
    let (low_table, high_table) = unsafe {
        (
            _mm256_broadcastsi128_si256(_mm_loadu_si128(low.as_ptr().cast())),
            _mm256_broadcastsi128_si256(_mm_loadu_si128(high.as_ptr().cast())),
        )
    };
    let nibble = _mm256_set1_epi8(0x0f);
    let mut masks = [0u64; 2];
    for k in 0..2 {
        // SAFETY: bytes 32k..32k+32 of the 64-byte block (unaligned loads
        // allowed).
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * k).cast::<__m256i>()) };
        let class = _mm256_and_si256(
            _mm256_shuffle_epi8(low_table, _mm256_and_si256(v, nibble)),
            _mm256_shuffle_epi8(
                high_table,
                _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble),
            ),
        );
        for (mask, &b) in masks.iter_mut().zip(&bits) {
            let none = _mm256_cmpeq_epi8(
                _mm256_and_si256(class, _mm256_set1_epi8(b)),
                _mm256_setzero_si256(),
            );
            *mask |= u64::from(!(_mm256_movemask_epi8(none) as u32)) << (32 * k);
        }
    }
    masks
}

/// Bit `i` set when byte `i` is escaped: it follows an odd run of
/// backslashes (simdjson's branchless form). `prev_escaped` carries whether
/// the first byte of the next block is escaped.
#[inline(always)]
fn escaped_bytes(backslash: u64, prev_escaped: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    // A backslash escaped by the block before starts no run.
    let backslash = backslash & !*prev_escaped;
    let follows_escape = backslash << 1 | *prev_escaped;
    // Adding a run's start to the run carries past its end: the sum's bits
    // tell whether each run started on an even or an odd bit.
    let odd_starts = backslash & !EVEN & !follows_escape;
    let (even_start_runs, overflow) = odd_starts.overflowing_add(backslash);
    *prev_escaped = u64::from(overflow);
    let invert = even_start_runs << 1;
    (EVEN ^ invert) & follows_escape
}

/// Bit `i` is the XOR of bits `0..=i`, in six shifts.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Validates `b` (see [`valid_json`]) with the best classifier this
/// processor has: AVX2 when it has it (std caches the check), else SSE2
/// (every x86_64 has it), or the portable one on other processors.
fn validate_best(b: &[u8], event_keys: Option<&mut Vec<(usize, usize)>>) -> Option<HeadKeys> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
        {
            // SAFETY: the processor has AVX2 and PCLMULQDQ, checked just
            // above.
            return unsafe { validate_avx2(b, event_keys) };
        }
        // SAFETY: every x86_64 processor has SSE2.
        unsafe { validate::<Sse2>(b, event_keys) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: the portable classifier needs nothing.
    unsafe {
        validate::<Portable>(b, event_keys)
    }
}

/// [`validate`] compiled for AVX2 (and PCLMULQDQ, which every processor
/// with AVX2 has), so the classifier inlines into it.
///
/// # Safety
/// The processor has AVX2 and PCLMULQDQ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
unsafe fn validate_avx2(
    b: &[u8],
    event_keys: Option<&mut Vec<(usize, usize)>>,
) -> Option<HeadKeys> {
    // SAFETY: AVX2 and PCLMULQDQ are there (this function's own contract).
    unsafe { validate::<Avx2>(b, event_keys) }
}

/// Stage 1 over a line, run lazily: it classifies blocks only when stage 2
/// wants a token and the current block has none left, so a block inside
/// one string never leaves stage 1's loop.
struct Stage1<'a> {
    b: &'a [u8],
    /// Where the next block to classify starts.
    next_block: usize,
    /// The token starts left in the current block, bit `i` for byte
    /// `block + i`.
    tokens: u64,
    block: usize,
    carries: Carries,
    /// A `\uD8xx\uDCxx` pair is checked at its first `u`; the second lies
    /// before this.
    unicode_checked_to: usize,
}

/// What stage 1 carries from block to block.
#[derive(Clone, Copy, Default)]
struct Carries {
    prev_escaped: u64,
    in_string: u64,
    prev_other: u64,
    non_ascii: u64,
    /// Bytes that make the line invalid (control bytes and bad escapes in
    /// strings), checked once a refill.
    error: u64,
}

impl<'a> Stage1<'a> {
    fn new(b: &'a [u8]) -> Self {
        Stage1 {
            b,
            next_block: 0,
            tokens: 0,
            block: 0,
            carries: Carries::default(),
            unicode_checked_to: 0,
        }
    }

    /// The next token start and its byte; past the last token, the line's
    /// length and 0 (every time it is asked). `None` when stage 1 found the
    /// line invalid (a control byte or a bad escape in a string).
    ///
    /// # Safety
    /// The processor has the instructions `C` uses.
    #[inline(always)]
    unsafe fn next<C: Classify>(&mut self) -> Option<(usize, u8)> {
        if self.tokens == 0 {
            // SAFETY: the caller vouches for `C`'s instructions.
            unsafe { self.refill::<C>()? };
        }
        let at = self.block + self.tokens.trailing_zeros() as usize;
        self.tokens &= self.tokens - 1;
        Some((at, self.b.get(at).copied().unwrap_or(0)))
    }

    /// Classifies blocks until one has a token; at the end of the line, a
    /// token at the line's length. `None` when the line is invalid.
    ///
    /// # Safety
    /// As for [`Stage1::next`].
    #[inline(always)]
    unsafe fn refill<C: Classify>(&mut self) -> Option<()> {
        let b = self.b;
        let mut k = self.carries;
        let mut base = self.next_block;
        let mut tokens = 0;
        // Whole blocks, then the line's last bytes.
        while let Some(block) = b.get(base..base + 64) {
            let block: &[u8; 64] = block.try_into().ok()?;
            // SAFETY: the caller vouches for `C`'s instructions.
            tokens =
                unsafe { classify::<C>(&mut k, block, 0, base, b, &mut self.unicode_checked_to)? };
            base += 64;
            if tokens != 0 {
                break;
            }
        }
        if tokens == 0 && base < b.len() {
            // The last block of a line of 64 bytes or more is the line's
            // last 64 bytes, its masks shifted so that bit 0 is byte
            // `base`; past the end the bits are as for spaces. A shorter
            // line is copied into spaces.
            let mut tail = [b' '; 64];
            let (block, shift): (&[u8; 64], u32) = if b.len() >= 64 {
                let s = &b[b.len() - 64..];
                (s.try_into().ok()?, (base + 64 - b.len()) as u32)
            } else {
                tail[..b.len()].copy_from_slice(b);
                (&tail, 0)
            };
            // SAFETY: as above.
            tokens = unsafe {
                classify::<C>(&mut k, block, shift, base, b, &mut self.unicode_checked_to)?
            };
            base += 64;
        }
        if k.error != 0 {
            return None;
        }
        if tokens != 0 {
            self.block = base - 64;
        } else {
            // The end token.
            self.block = b.len();
            tokens = 1;
        }
        self.tokens = tokens;
        self.next_block = base;
        self.carries = k;
        Some(())
    }
}

/// Stage 1 on one block whose first byte is `b[base]`: the token starts
/// (bit `i` for byte `base + i`), with the carries updated. `shift` is how
/// far the block's bytes lie before `base` (the line's last block). `None`
/// when a `\u` escape in it is invalid.
///
/// # Safety
/// The processor has the instructions `C` uses.
#[inline(always)]
unsafe fn classify<C: Classify>(
    k: &mut Carries,
    block: &[u8; 64],
    shift: u32,
    base: usize,
    b: &[u8],
    unicode_checked_to: &mut usize,
) -> Option<u64> {
    // SAFETY (each classifier call): the caller vouches for `C`'s
    // instructions.
    let mut c = unsafe { C::strings(block) };
    c.backslash >>= shift;
    c.quote >>= shift;
    c.control >>= shift;
    c.non_ascii >>= shift;
    k.non_ascii |= c.non_ascii;

    let escaped = escaped_bytes(c.backslash, &mut k.prev_escaped);
    let quote = c.quote & !escaped;
    if k.in_string != 0 && quote == 0 {
        // Inside one string from end to end (the block before ended in
        // one, and no quote here ends it): no prefix XOR to wait for, no
        // token, no scalar run.
        k.error |= c.control;
        // SAFETY: as above.
        unsafe { check_escapes::<C>(k, block, escaped, shift, base, b, unicode_checked_to)? };
        k.prev_other = 0;
        return Some(0);
    }
    let in_string = unsafe { C::prefix_xor(quote) } ^ k.in_string;
    k.in_string = ((in_string as i64) >> 63) as u64;
    k.error |= c.control & in_string;
    unsafe {
        check_escapes::<C>(
            k,
            block,
            escaped & in_string,
            shift,
            base,
            b,
            unicode_checked_to,
        )?
    };
    let mut layout = unsafe { C::layout(block) };
    layout.structural >>= shift;
    layout.space = layout.space >> shift | !(u64::MAX >> shift);
    let other = !(layout.structural | layout.space | c.quote | in_string);
    let scalars = other & !(other << 1 | k.prev_other);
    k.prev_other = other >> 63;
    Some((layout.structural & !in_string) | (quote & in_string) | scalars)
}

/// Checks the escaped bytes `escapes` (bit `i` for byte `base + i`), all
/// inside strings: each must make an escape with its backslash (one
/// escaped by a backslash outside a string sits in a scalar run, refused
/// by stage 2); `\\u` escapes are read one by one. The classes are found
/// for every block: a branch on whether it has escapes was a
/// misprediction in every third block of text. `None` when a `\\u`
/// escape is invalid; other bad escapes go to `k.error`.
///
/// # Safety
/// The processor has the instructions `C` uses.
#[inline(always)]
unsafe fn check_escapes<C: Classify>(
    k: &mut Carries,
    block: &[u8; 64],
    escapes: u64,
    shift: u32,
    base: usize,
    b: &[u8],
    unicode_checked_to: &mut usize,
) -> Option<()> {
    // SAFETY: the caller vouches for `C`'s instructions.
    let e = unsafe { C::escapes(block) };
    k.error |= escapes & !(e.simple >> shift);
    let mut unicode = escapes & e.unicode >> shift;
    while unicode != 0 {
        let at = base + unicode.trailing_zeros() as usize;
        unicode &= unicode - 1;
        if at >= *unicode_checked_to {
            *unicode_checked_to = unicode_escape(b, at)?;
        }
    }
    Some(())
}

/// Where stage 2 stands: the token in hand starts a value or a key, or a
/// value just ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The token in hand starts a value (after `:`, `,` in an array, `[`,
    /// or at the start).
    Value,
    /// The token in hand starts an object's member (after `{` or `,`).
    Key,
    /// A value ended; the next token is `,`, a closing bracket or the end.
    AfterValue,
}

/// What stage 2 saw of the head keys.
struct HeadKeyWatch<'k> {
    head_keys: HeadKeys,
    /// Head keys seen (bits: seq, ts, session_id, event; type).
    seen_top: u8,
    seen_event: u8,
    /// The last top-level key was `event`; the object at depth 2 is its
    /// value.
    event_next: bool,
    in_event: bool,
    event_keys: Option<&'k mut Vec<(usize, usize)>>,
}

impl HeadKeyWatch<'_> {
    /// The key whose opening quote is at `at`, in an object at `depth`.
    #[inline(always)]
    fn key(&mut self, b: &[u8], at: usize, depth: usize) {
        if depth == 1 || (depth == 2 && self.in_event) {
            let start = at + 1;
            let (end, plain) = key_end(b, start);
            let key = &b[start..end];
            let bit = match (plain, depth, key) {
                (false, _, _) => 0,
                (true, 1, b"seq") => 1,
                (true, 1, b"ts") => 2,
                (true, 1, b"session_id") => 4,
                (true, 1, b"event") => 8,
                (true, 2, b"type") => 16,
                _ => 0,
            };
            let seen = if depth == 1 {
                self.event_next = bit == 8;
                &mut self.seen_top
            } else {
                if let Some(keys) = self.event_keys.as_deref_mut() {
                    keys.push((start, end));
                }
                &mut self.seen_event
            };
            if self.head_keys == HeadKeys::Unique {
                if !plain {
                    self.head_keys = HeadKeys::Escaped;
                } else if *seen & bit != 0 {
                    self.head_keys = HeadKeys::Repeated;
                }
            }
            *seen |= bit;
        }
    }

    /// An object opens at `depth`.
    #[inline(always)]
    fn open_object(&mut self, depth: usize) {
        // At depth 2 an object is the value of the last top-level key.
        if depth == 2 {
            self.in_event = self.event_next;
            self.seen_event = 0;
        }
    }

    /// A container at `depth` closes.
    #[inline(always)]
    fn close(&mut self, depth: usize) {
        if depth == 2 {
            self.in_event = false;
        }
    }
}

/// The scalar whose run starts at `at` is one and fills its run.
#[inline(always)]
fn scalar_fills(b: &[u8], at: usize) -> Option<()> {
    let end = scalar(b, at)?;
    // The next byte ends the run (a scalar must fill it).
    match b.get(end) {
        Some(&n) if !ENDS_SCALAR[usize::from(n)] => None,
        _ => Some(()),
    }
}

/// Validates `b` (see [`valid_json`]); `None` when it is not valid, else
/// what it saw of the head keys. The event object's key ranges go to
/// `event_keys` when asked. `C` is stage 1's classifier (a parameter so the
/// tests can run every classifier on the same input).
///
/// Stage 2 pulls tokens from stage 1 and keeps its place in the grammar
/// mostly in where the code is: an object's member (key, colon, value and
/// the `,` or `}` after it) is one pass of one loop, whose checks each
/// predict well, rather than four trips through a state dispatch.
///
/// # Safety
/// The processor has the instructions `C` uses.
#[inline(always)]
unsafe fn validate<C: Classify>(
    b: &[u8],
    event_keys: Option<&mut Vec<(usize, usize)>>,
) -> Option<HeadKeys> {
    let mut s = Stage1::new(b);
    let mut depth = 0usize;
    // Bit d set when the container at depth d (1 = outermost) is an object.
    let mut objects = 0u128;
    let mut watch = HeadKeyWatch {
        head_keys: HeadKeys::Unique,
        seen_top: 0,
        seen_event: 0,
        event_next: false,
        in_event: false,
        event_keys,
    };
    // SAFETY (each `next`): the caller vouches for `C`'s instructions.
    let (mut at, mut c) = unsafe { s.next::<C>()? };
    let mut state = State::Value;
    loop {
        match state {
            State::Value => match c {
                b'"' => state = State::AfterValue,
                b'{' => {
                    if depth == MAX_DEPTH {
                        return None;
                    }
                    depth += 1;
                    objects |= 1 << depth;
                    watch.open_object(depth);
                    (at, c) = unsafe { s.next::<C>()? };
                    if c == b'}' {
                        watch.close(depth);
                        depth -= 1;
                        state = State::AfterValue;
                    } else {
                        state = State::Key;
                    }
                }
                b'[' => {
                    if depth == MAX_DEPTH {
                        return None;
                    }
                    depth += 1;
                    objects &= !(1 << depth);
                    (at, c) = unsafe { s.next::<C>()? };
                    if c == b']' {
                        depth -= 1;
                        state = State::AfterValue;
                    }
                }
                _ => {
                    scalar_fills(b, at)?;
                    state = State::AfterValue;
                }
            },
            // One pass per member while the values are strings or scalars.
            State::Key => loop {
                if c != b'"' {
                    return None;
                }
                watch.key(b, at, depth);
                (_, c) = unsafe { s.next::<C>()? };
                if c != b':' {
                    return None;
                }
                (at, c) = unsafe { s.next::<C>()? };
                match c {
                    b'"' => {}
                    b'{' | b'[' => {
                        state = State::Value;
                        break;
                    }
                    _ => scalar_fills(b, at)?,
                }
                (_, c) = unsafe { s.next::<C>()? };
                match c {
                    b',' => (at, c) = unsafe { s.next::<C>()? },
                    b'}' => {
                        watch.close(depth);
                        depth -= 1;
                        state = State::AfterValue;
                        break;
                    }
                    _ => return None,
                }
            },
            State::AfterValue => {
                (at, c) = unsafe { s.next::<C>()? };
                let object = objects >> depth & 1 == 1;
                match c {
                    b',' if depth > 0 => {
                        (at, c) = unsafe { s.next::<C>()? };
                        state = if object { State::Key } else { State::Value };
                    }
                    b'}' | b']' if depth > 0 && object == (c == b'}') => {
                        watch.close(depth);
                        depth -= 1;
                    }
                    // The end of the line, after one whole value.
                    0 if at == b.len() && depth == 0 => break,
                    _ => return None,
                }
            }
        }
    }
    let utf8 = s.carries.non_ascii == 0 || simdutf8::basic::from_utf8(b).is_ok();
    (s.carries.in_string == 0 && utf8).then_some(watch.head_keys)
}

/// The bytes that may follow a scalar: whitespace, structural bytes and a
/// quote (which the grammar then refuses), as the run of a scalar ends.
const ENDS_SCALAR: [bool; 256] = {
    let ends = b" \t\n\r{}[]:,\"";
    let mut t = [false; 256];
    let mut i = 0;
    while i < ends.len() {
        t[ends[i] as usize] = true;
        i += 1;
    }
    t
};

/// Where the key whose body starts at `start` ends (its closing quote, or
/// its first backslash or control byte), and whether it is plain (no
/// escape). A control byte in a key fails stage 1 in its own block, so
/// stopping there never makes a valid line's answer.
#[inline(always)]
fn key_end(b: &[u8], start: usize) -> (usize, bool) {
    let end = string_stop(b, start);
    (end, b.get(end) == Some(&b'"'))
}

/// Checks the `\\u` escape whose `u` is at `at` (inside a string); returns
/// where the next one may start, or `None` if the escape is not JSON or
/// not a Unicode scalar value (a lone surrogate), as serde_json judges.
fn unicode_escape(b: &[u8], at: usize) -> Option<usize> {
    match hex4(b, at + 1)? {
        // A high surrogate needs a low one right after it.
        0xD800..=0xDBFF => {
            if b.get(at + 5..at + 7) != Some(&b"\\u"[..]) {
                return None;
            }
            matches!(hex4(b, at + 7)?, 0xDC00..=0xDFFF).then_some(at + 11)
        }
        0xDC00..=0xDFFF => None,
        _ => Some(at + 5),
    }
}

/// Four hex digits at `at`, as a UTF-16 code unit.
fn hex4(b: &[u8], at: usize) -> Option<u16> {
    let hex = b.get(at..at + 4)?;
    let mut unit = 0u16;
    for &h in hex {
        unit = unit << 4 | (h as char).to_digit(16)? as u16;
    }
    Some(unit)
}

/// Parses the scalar starting at `at` (`true`, `false`, `null` or a
/// number); returns where it ends.
#[inline(always)]
fn scalar(b: &[u8], at: usize) -> Option<usize> {
    let literal = |word: &[u8]| b[at..].starts_with(word).then_some(at + word.len());
    // `at` may be the line's end (stage 2's end token).
    match *b.get(at)? {
        b't' => literal(b"true"),
        b'f' => literal(b"false"),
        b'n' => literal(b"null"),
        b'-' | b'0'..=b'9' => number(b, at),
        _ => None,
    }
}

fn digits(b: &[u8], at: usize) -> usize {
    b[at..].iter().take_while(|c| c.is_ascii_digit()).count()
}

/// A number's grammar, and serde_json's range: it is read as a finite
/// double.
fn number(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    if b[i] == b'-' {
        i += 1;
    }
    match b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i += digits(b, i),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let n = digits(b, i);
        if n == 0 {
            return None;
        }
        i += n;
    }
    let mut exponent = false;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        exponent = true;
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(b, i);
        if n == 0 {
            return None;
        }
        i += n;
    }
    // Only a long mantissa or an exponent can leave a double's range
    // (serde_json refuses infinity); short plain numbers never do.
    if exponent || i - start > 300 {
        // ASCII digits and signs only: from_utf8 cannot fail.
        let finite = std::str::from_utf8(&b[start..i])
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .is_some_and(f64::is_finite);
        if !finite {
            return None;
        }
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::parse_line;
    use proptest::prelude::*;

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

    /// The classifiers this processor can run, with the validator built on
    /// each.
    type Validator = fn(&[u8]) -> Option<HeadKeys>;

    fn validators() -> Vec<(&'static str, Validator)> {
        // SAFETY (each): the portable classifier needs nothing, SSE2 is on
        // every x86_64, AVX2 only when detected.
        let mut all: Vec<(&str, Validator)> =
            vec![("portable", |b| unsafe { validate::<Portable>(b, None) })];
        #[cfg(target_arch = "x86_64")]
        {
            all.push(("sse2", |b| unsafe { validate::<Sse2>(b, None) }));
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("pclmulqdq")
            {
                all.push(("avx2", |b| unsafe { validate_avx2(b, None) }));
            }
        }
        all
    }

    /// Stage 1's classes by each classifier.
    type Classifier = fn(&[u8; 64]) -> (StringClasses, LayoutClasses, EscapeClasses);

    fn classifiers() -> Vec<(&'static str, Classifier)> {
        // SAFETY: as in `validators`.
        let mut all: Vec<(&str, Classifier)> = vec![("portable", |b| unsafe {
            (
                Portable::strings(b),
                Portable::layout(b),
                Portable::escapes(b),
            )
        })];
        #[cfg(target_arch = "x86_64")]
        {
            all.push(("sse2", |b| unsafe {
                (Sse2::strings(b), Sse2::layout(b), Sse2::escapes(b))
            }));
            if std::arch::is_x86_feature_detected!("avx2") {
                all.push(("avx2", |b| unsafe {
                    (Avx2::strings(b), Avx2::layout(b), Avx2::escapes(b))
                }));
            }
        }
        all
    }

    /// The carry-less multiplication gives the six shifts' prefix XOR.
    #[test]
    fn prefix_xor_agrees() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("pclmulqdq") {
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            for _ in 0..10_000 {
                x = x.rotate_left(7).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (x >> 3);
                // SAFETY: PCLMULQDQ checked above.
                assert_eq!(unsafe { Avx2::prefix_xor(x) }, prefix_xor(x), "{x:#x}");
            }
            for x in [0, 1, 1 << 63, u64::MAX, 0x8000_0000_0000_0001] {
                assert_eq!(unsafe { Avx2::prefix_xor(x) }, prefix_xor(x), "{x:#x}");
            }
        }
        // By definition, on one value: bit i is the parity of bits 0..=i.
        let x = 0b1001_0000_0110u64 | 1 << 63;
        let mut naive = 0u64;
        for i in 0..64 {
            let below = if i == 63 {
                u64::MAX
            } else {
                (1u64 << (i + 1)) - 1
            };
            naive |= u64::from((x & below).count_ones() % 2) << i;
        }
        assert_eq!(prefix_xor(x), naive);
    }

    /// Stage 1's classes, byte by byte at every lane edge, against the
    /// definition, by every classifier.
    #[test]
    fn classifiers_flag_exactly_each_class() {
        for (name, classify) in classifiers() {
            for c in 0..=255u8 {
                for at in [0, 7, 8, 15, 16, 31, 32, 47, 48, 63] {
                    let mut block = [b'a'; 64];
                    block[at] = c;
                    let bit = 1u64 << at;
                    let want = |yes: bool| if yes { bit } else { 0 };
                    let strings = StringClasses {
                        backslash: want(c == b'\\'),
                        quote: want(c == b'"'),
                        control: want(c < 0x20),
                        non_ascii: want(c >= 0x80),
                    };
                    let layout = LayoutClasses {
                        space: want(matches!(c, b' ' | b'\t' | b'\n' | b'\r')),
                        structural: want(b"{}[]:,".contains(&c)),
                    };
                    let escapes = EscapeClasses {
                        simple: want(b"\"\\/bfnrtu".contains(&c)),
                        unicode: want(c == b'u'),
                    };
                    assert_eq!(
                        classify(&block),
                        (strings, layout, escapes),
                        "{name}: {c:#x} at {at}"
                    );
                }
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

    /// serde_json's verdict on any bytes, the reference for the validator.
    fn serde_verdict(b: &[u8]) -> bool {
        std::str::from_utf8(b).is_ok() && serde_json::from_slice::<serde_json::Value>(b).is_ok()
    }

    /// Every verdict on `b` at once: the validator with the SIMD and the
    /// plain classifier, serde_json, and `fast_record` against `parse_line`.
    fn check(b: &[u8]) -> Result<(), proptest::test_runner::TestCaseError> {
        use proptest::prop_assert_eq;
        let shown = String::from_utf8_lossy(b);
        let serde = serde_verdict(b);
        prop_assert_eq!(valid_json(b), serde, "valid_json on {}", shown);
        let best = validate_best(b, None);
        for (name, validate) in validators() {
            prop_assert_eq!(validate(b), best, "{} on {}", name, shown);
        }
        if let Some(f) = fast_record(b) {
            let r = parse_line(b);
            prop_assert!(
                r.is_ok(),
                "fast_record accepted what parse_line refuses: {}",
                shown
            );
            let r = r.unwrap();
            prop_assert_eq!(
                (f.seq, Some(f.ts), f.session_id, Some(f.event_type)),
                (
                    r.seq,
                    r.ts.as_deref(),
                    r.session_id.as_deref(),
                    r.event_type.as_deref()
                ),
                "fast_record on {}",
                shown
            );
            prop_assert_eq!(HeadSpans::of(b, &f).record(b), Some(f));
            let mut keys = Vec::new();
            prop_assert_eq!(fast_record_keys(b, Some(&mut keys)), Some(f));
            let event: serde_json::Value = serde_json::from_slice(b).unwrap();
            let mut want: Vec<&str> = event["event"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            want.sort_unstable();
            let mut got: Vec<&str> = keys
                .iter()
                .map(|&(s, e)| std::str::from_utf8(&b[s..e]).unwrap())
                .collect();
            got.sort_unstable();
            got.dedup();
            prop_assert_eq!(got, want, "event keys of {}", shown);
        }
        Ok(())
    }

    /// The engine's own lines: every line of the bamboo corpora (clean,
    /// torn and the sink's), read once.
    fn corpus_lines() -> &'static [Vec<u8>] {
        static LINES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        LINES.get_or_init(|| {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
            let mut lines = Vec::new();
            for dir in std::fs::read_dir(&root).unwrap() {
                let dir = dir.unwrap().path();
                if !dir
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("bamboo-")
                {
                    continue;
                }
                for file in std::fs::read_dir(&dir).unwrap() {
                    let file = file.unwrap().path();
                    if file.extension().is_some_and(|e| e == "jsonl") {
                        let data = std::fs::read(&file).unwrap();
                        lines.extend(data.split(|&c| c == b'\n').map(<[u8]>::to_vec));
                    }
                }
            }
            assert!(lines.len() > 1000, "{} corpus lines", lines.len());
            lines
        })
    }

    #[test]
    fn every_corpus_line_gets_serde_jsons_verdict() {
        let mut accepted = 0;
        for line in corpus_lines() {
            check(line).unwrap();
            accepted += usize::from(fast_record(line).is_some());
        }
        // The clean corpus is the engine's shape: the fast path takes it.
        assert!(accepted * 2 > corpus_lines().len(), "{accepted}");
    }

    /// A change to a line: a byte replaced, inserted or removed, or the
    /// line cut there.
    #[derive(Debug, Clone)]
    enum Mutation {
        Replace(proptest::sample::Index, u8),
        Insert(proptest::sample::Index, Vec<u8>),
        Remove(proptest::sample::Index),
        Cut(proptest::sample::Index),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        use proptest::sample::Index;
        let special = prop_oneof![
            Just(b'"'),
            Just(b'\\'),
            Just(b'{'),
            Just(b'}'),
            Just(b'['),
            Just(b']'),
            Just(b','),
            Just(b':'),
            Just(b' '),
            Just(b'0'),
            Just(b'e'),
            Just(b'-'),
            Just(0u8),
            Just(0x1f),
            Just(b'\n'),
            Just(0x7f),
            Just(0x80),
            Just(0xc3),
            Just(0xe9),
            Just(0xff),
            any::<u8>(),
        ];
        let piece = prop_oneof![
            proptest::collection::vec(special.clone(), 1..4),
            Just(b"\\\\".to_vec()),
            Just(b"\\\\\\".to_vec()),
            Just(b"\\\"".to_vec()),
            Just(b"\\u".to_vec()),
            Just(b"\\ud83d".to_vec()),
            Just(b"\\ude80".to_vec()),
            Just("\u{e9}\u{1F680}".as_bytes().to_vec()),
            Just(b"1e400".to_vec()),
            Just(b"true".to_vec()),
            Just(b"\"a\":".to_vec()),
            Just(b"\"seq\":1,".to_vec()),
            Just(b"\"type\":\"x\",".to_vec()),
        ];
        prop_oneof![
            (any::<Index>(), special).prop_map(|(i, c)| Mutation::Replace(i, c)),
            (any::<Index>(), piece).prop_map(|(i, p)| Mutation::Insert(i, p)),
            any::<Index>().prop_map(Mutation::Remove),
            any::<Index>().prop_map(Mutation::Cut),
        ]
    }

    fn mutate(line: &[u8], mutations: &[Mutation]) -> Vec<u8> {
        let mut v = line.to_vec();
        for m in mutations {
            match m {
                Mutation::Replace(i, c) if !v.is_empty() => {
                    let at = i.index(v.len());
                    v[at] = *c;
                }
                Mutation::Insert(i, p) => {
                    let at = i.index(v.len() + 1);
                    v.splice(at..at, p.iter().copied());
                }
                Mutation::Remove(i) if !v.is_empty() => {
                    v.remove(i.index(v.len()));
                }
                Mutation::Cut(i) => v.truncate(i.index(v.len() + 1)),
                _ => {}
            }
        }
        v
    }

    /// Lines like the engine's, with strings of any length (so every
    /// special byte lands at every place around the 64-byte blocks), deep
    /// nesting and numbers of every form.
    fn generated_line() -> impl Strategy<Value = Vec<u8>> {
        let body = proptest::collection::vec(
            prop_oneof![
                8 => Just("a".to_owned()),
                1 => Just("\\\\".to_owned()),
                1 => Just("\\\"".to_owned()),
                1 => Just("\\n".to_owned()),
                1 => Just("\\u00e9".to_owned()),
                1 => Just("\\ud83d\\ude80".to_owned()),
                1 => Just("\u{e9}".to_owned()),
                1 => Just("\u{1F680}".to_owned()),
                1 => Just(" ".to_owned()),
                1 => Just("{".to_owned()),
            ],
            0..150,
        )
        .prop_map(|v| v.concat());
        let number = prop_oneof![
            Just("0".to_owned()),
            Just("-12.5e-3".to_owned()),
            Just("1E+308".to_owned()),
            Just("1e309".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("9".repeat(301)),
            Just("0.".to_owned() + &"1".repeat(400)),
        ];
        (
            0u64..1_000_000,
            body.clone(),
            proptest::option::of(body.clone()),
            body,
            number,
            0usize..130,
            0usize..130,
        )
            .prop_map(|(seq, ts, session, content, n, open, close)| {
                let mut line = format!("{{\"seq\":{seq},\"ts\":\"{ts}\"");
                if let Some(s) = session {
                    line.push_str(&format!(",\"session_id\":\"{s}\""));
                }
                line.push_str(&format!(
                    ",\"event\":{{\"type\":\"t\",\"content\":\"{content}\",\"n\":{n},\"d\":{}0{}}}}}",
                    "[".repeat(open),
                    "]".repeat(close)
                ));
                line.into_bytes()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn mutated_corpus_lines_get_serde_jsons_verdict(
            line in any::<proptest::sample::Index>(),
            mutations in proptest::collection::vec(mutation(), 1..4),
        ) {
            let lines = corpus_lines();
            check(&mutate(&lines[line.index(lines.len())], &mutations))?;
        }

        #[test]
        fn generated_lines_get_serde_jsons_verdict(line in generated_line()) {
            check(&line)?;
        }

        #[test]
        fn mutated_generated_lines_get_serde_jsons_verdict(
            line in generated_line(),
            mutations in proptest::collection::vec(mutation(), 1..3),
        ) {
            check(&mutate(&line, &mutations))?;
        }
    }

    /// The escape carry across blocks, one run at a time: a run of 1 to 5
    /// backslashes ending at every byte from 56 to 136 (so on both sides of
    /// both block edges), followed by a quote, a letter or nothing.
    #[test]
    fn backslash_runs_at_the_block_edges() {
        for run in 1..=5 {
            for end in 56..=136 {
                for after in [&b"\""[..], b"n", b"", b"\"\"", b"u0041\""] {
                    // `["` then filler up to where the run starts.
                    let mut v = b"[\"".to_vec();
                    v.resize(end + 1 - run, b'a');
                    v.extend(std::iter::repeat_n(b'\\', run));
                    assert_eq!(v.len(), end + 1);
                    v.extend_from_slice(after);
                    for close in [&b"\"]"[..], b"]", b"\"", b"\",\"\\\"]"] {
                        let mut line = v.clone();
                        line.extend_from_slice(close);
                        check(&line).unwrap();
                    }
                }
            }
        }
    }

    /// Quotes and other token bytes at every place around the block edges:
    /// strings opening or closing on byte 63 or 64, scalars crossing it.
    #[test]
    fn tokens_at_the_block_edges() {
        for pad in 0..140 {
            for tail in [
                &b"\"x\"]"[..],
                b"\"\"]",
                b"true]",
                b"tru]",
                b"truex]",
                b"-0.5e+1]",
                b"1 2]",
                b"{\"a\":1}]",
                b"{\"a\"1}]",
                b"\"\x01\"]",
                b"\"\xc3\xa9\"]",
                b"\xc3\xa9]",
                b"\"a\\\"]",
                b"nul",
                b"\"",
            ] {
                let mut line = b"[".to_vec();
                line.extend(std::iter::repeat_n(b' ', pad));
                line.extend_from_slice(tail);
                check(&line).unwrap();
                let mut in_string = b"[\"".to_vec();
                in_string.extend(std::iter::repeat_n(b'a', pad));
                in_string.extend_from_slice(b"\",");
                in_string.extend_from_slice(tail);
                check(&in_string).unwrap();
            }
        }
    }

    /// Strings several blocks long (stage 1's in-string path, which skips
    /// the prefix XOR for blocks with no quote after one that ended inside
    /// a string), with each escape, quote, control or non-ASCII byte at
    /// every place of the first three blocks, then more tokens.
    #[test]
    fn long_strings_with_any_byte_anywhere() {
        for piece in [
            &b"\""[..],
            b"\\\\",
            b"\\\"",
            b"\\\\\"",
            b"\\u00e9",
            b"\\ud83d\\ude80",
            b"\\ud83d",
            b"\\u12",
            b"\\q",
            b"\\",
            b"\x01",
            b"\x1f",
            b"\xc3\xa9",
            b"\xe9",
            b"\x7f",
        ] {
            for at in 0..200 {
                let mut line = br#"{"seq":1,"ts":"t","event":{"type":"x","content":""#.to_vec();
                let start = line.len();
                line.resize(start + at, b'a');
                line.extend_from_slice(piece);
                line.resize(start + 260, b'b');
                line.extend_from_slice(br#"","n":[1,{"a":"b"}]}}"#);
                check(&line).unwrap();
            }
        }
    }

    /// Escaped and misplaced head keys are noticed wherever they sit.
    #[test]
    fn string_stop_finds_the_first_quote_backslash_or_control_byte() {
        // Every byte value at every place of every word position, behind a
        // run of bytes that look close to special ones (0x20, 0x21, 0x5b,
        // 0x80, 0xa0, 0xff) so a borrow across bytes would show.
        let filler = [0x20u8, 0x21, 0x5b, 0x80, 0xa0, 0xff, b'a'];
        for len in 0..20 {
            for at in 0..len {
                for c in 0..=255u8 {
                    let mut b: Vec<u8> = (0..len).map(|i| filler[i % filler.len()]).collect();
                    b[at] = c;
                    for start in 0..=at {
                        let want = (start..len)
                            .find(|&i| b[i] == b'"' || b[i] == b'\\' || b[i] < 0x20)
                            .unwrap_or(len);
                        assert_eq!(string_stop(&b, start), want, "{b:?} from {start}");
                    }
                }
            }
        }
    }

    #[test]
    fn head_keys_repeated_or_escaped_fall_back() {
        let base =
            br#"{"seq":1,"ts":"t","event":{"type":"x","a":{"type":1,"seq":2}},"o":{"seq":3}}"#;
        assert!(fast_record(base).is_some());
        for line in [
            &br#"{"seq":1,"ts":"t","event":{"type":"x","type":"y"}}"#[..],
            br#"{"seq":1,"ts":"t","event":{"type":"x","a":{}, "type":"y"}}"#,
            br#"{"seq":1,"ts":"t","event":{"type":"x","a":[{}], "t\u0079pe":"y"}}"#,
            br#"{"seq":1,"ts":"t","event":{"type":"x"},"ts":"u"}"#,
            br#"{"seq":1,"ts":"t","event":{"type":"x"},"\u0065vent":1}"#,
            br#"{"seq":1,"ts":"t","event":{"type":"x"},"event":{"type":"x"}}"#,
        ] {
            assert!(valid_json(line));
            assert_eq!(fast_record(line), None, "{}", String::from_utf8_lossy(line));
        }
    }

    /// The validator's speed on one core, printed (no timed assertion):
    /// `FASTLINE_BENCH_DIR=<journal dir> cargo test --release --lib
    /// fastline_throughput -- --ignored --nocapture` (the bamboo corpus by
    /// default).
    #[test]
    #[ignore]
    fn fastline_throughput() {
        use std::io::Write;
        let dir = std::env::var_os("FASTLINE_BENCH_DIR").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bamboo-clean"),
            std::path::PathBuf::from,
        );
        // A few MB, so the cache holds them: the validator's own speed,
        // not the memory's; the best of many rounds.
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|f| f.unwrap().path())
            .collect();
        files.sort();
        let mut data = Vec::new();
        for file in files {
            if data.len() >= 4 << 20 {
                break;
            }
            data.extend(std::fs::read(file).unwrap());
        }
        data.truncate(4 << 20);
        let lines: Vec<&[u8]> = data.split(|&c| c == b'\n').collect();
        let mb = data.len() as f64 / 1e6;
        let time = |name: &str, f: &dyn Fn(&[u8]) -> bool| {
            let mut best = f64::MAX;
            let mut count = 0;
            for _ in 0..200 {
                let start = std::time::Instant::now();
                count = lines.iter().filter(|l| f(l)).count();
                best = best.min(start.elapsed().as_secs_f64());
            }
            // A benchmark's report to whoever runs it by hand (an ignored
            // test), on stderr: the library itself never prints.
            writeln!(
                std::io::stderr().lock(),
                "{name}: {count} of {} lines, {mb:.1} MB in {:.2} ms: {:.0} MB/s",
                lines.len(),
                best * 1e3,
                mb / best
            )
            .unwrap();
        };
        // A first round warms the caches and the branch predictors.
        time("warm-up (valid_json)", &|l| valid_json(l));
        time("valid_json", &|l| valid_json(l));
        time("fast_record", &|l| fast_record(l).is_some());
        time("HeadSpans::record", &|l| {
            fast_record(l).is_some_and(|f| HeadSpans::of(l, &f).record(l).is_some())
        });
        time("simdutf8", &|l| simdutf8::basic::from_utf8(l).is_ok());
        time("serde_json IgnoredAny", &|l| {
            serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok()
        });
    }
}

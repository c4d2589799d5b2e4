//! Text for captured values: a `fmt::Write` that refuses past a bound (so a 100 MB `Debug`
//! or `Display` costs what the bound allows), JSON string escaping that stops at a bound,
//! and the stack check that keeps deep recursion from overflowing the stack.

use std::fmt;

/// Stack that must be left when a capture goes one level deeper. Checked with `stacker`,
/// which asks the OS where this thread's stack ends (`pthread_getattr_np` on Linux), so it
/// is right for every thread, whatever stack size it was given. Between two checks a
/// `Debug` or `Serialize` impl uses a few hundred bytes per level; this leaves room for a
/// hundred levels that write nothing.
const RED_ZONE: usize = 64 * 1024;

/// Whether this thread is too close to the end of its stack to go deeper. `false` where
/// the remaining stack cannot be known.
#[inline]
pub(crate) fn stack_low() -> bool {
    stacker::remaining_stack().is_some_and(|left| left < RED_ZONE)
}

/// The largest index `<= at` that is a char boundary of `s`.
pub(crate) fn floor_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    let mut i = at;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A `fmt::Write` into `out` that takes at most `cap` bytes of it in all: past that it
/// keeps the part that fits, remembers how much it refused, and fails, which makes
/// `Debug`/`Display` impls stop (they propagate the error). It also fails when the stack
/// runs low, which stops a deeply nested `Debug` before it overflows the stack.
pub(crate) struct Bounded<'a> {
    pub out: &'a mut String,
    pub cap: usize,
    /// Bytes refused in the write that hit the bound (a lower bound of what was left).
    pub refused: usize,
    /// Hit the bound.
    pub over: bool,
    /// Stopped because the stack ran low.
    pub deep: bool,
}

impl<'a> Bounded<'a> {
    pub(crate) fn new(out: &'a mut String, cap: usize) -> Self {
        Bounded {
            out,
            cap,
            refused: 0,
            over: false,
            deep: false,
        }
    }

    /// Whether the writer itself failed the write (rather than the value's impl).
    pub(crate) fn stopped(&self) -> bool {
        self.over || self.deep
    }
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.over || self.deep {
            return Err(fmt::Error);
        }
        if stack_low() {
            self.deep = true;
            return Err(fmt::Error);
        }
        let room = self.cap.saturating_sub(self.out.len());
        if s.len() <= room {
            self.out.push_str(s);
            return Ok(());
        }
        let cut = floor_boundary(s, room);
        self.out.push_str(&s[..cut]);
        self.refused = s.len() - cut;
        self.over = true;
        Err(fmt::Error)
    }
}

/// Per byte: 0 when it stands as it is in a JSON string, else the index of its escape in
/// [`ESCAPES`] plus one.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 32 {
        t[i] = i as u8 + 1;
        i += 1;
    }
    t[b'"' as usize] = 33;
    t[b'\\' as usize] = 34;
    t
};

/// The escapes: control bytes 0..32, then `"` and `\`.
static ESCAPES: [&str; 35] = [
    "", "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
    "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010", "\\u0011",
    "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019",
    "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f", "\\\"", "\\\\",
];

/// The escape of a byte in a JSON string, `None` when it stands as it is.
#[inline(always)]
fn escape_of(b: u8) -> Option<&'static str> {
    match CLASS[b as usize] {
        0 => None,
        c => Some(ESCAPES[c as usize]),
    }
}

/// Whether some byte of `s` must be escaped inside a JSON string.
pub(crate) fn needs_escape(s: &str) -> bool {
    next_escape(s.as_bytes(), 0) < s.len()
}

/// Eight bytes at a time: the classic SWAR tests, exact for "is some byte of the eight
/// ...": each returns a word whose high bit is set in some byte when one is.
pub(super) mod swar {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;

    /// The eight bytes of `b` from `at` as one word, when there are eight.
    #[inline(always)]
    pub(in crate::local::capture) fn word(b: &[u8], at: usize) -> Option<u64> {
        let w: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(w))
    }

    /// The word that holds `b[at..]` when fewer than eight bytes are left: the last eight
    /// bytes of `b` (those before `at` were tested already, or say "maybe" and are then
    /// looked at one by one), or, in a shorter `b`, its bytes with the rest `fill`.
    #[inline(always)]
    pub(in crate::local::capture) fn tail(b: &[u8], at: usize, fill: u8) -> u64 {
        if let Some(x) = b.len().checked_sub(8).and_then(|from| word(b, from)) {
            return x;
        }
        let mut w = [fill; 8];
        for (i, &c) in b.iter().enumerate().skip(at).take(8) {
            w[i] = c;
        }
        u64::from_le_bytes(w)
    }

    /// Some byte equals `c`.
    #[inline(always)]
    pub(in crate::local::capture) fn eq(x: u64, c: u8) -> u64 {
        let v = x ^ (ONES * u64::from(c));
        v.wrapping_sub(ONES) & !v
    }

    /// Some byte is below `n` (`n` at most 0x80).
    #[inline(always)]
    pub(in crate::local::capture) fn below(x: u64, n: u8) -> u64 {
        x.wrapping_sub(ONES * u64::from(n)) & !x
    }

    /// Whether a mask from the tests above says "some byte".
    #[inline(always)]
    pub(in crate::local::capture) fn any(mask: u64) -> bool {
        mask & HIGH != 0
    }
}

/// Whether some byte of the 8 in `x` must be escaped (below 0x20, `"` or `\\`).
#[inline(always)]
fn word_needs_escape(x: u64) -> bool {
    swar::any(swar::below(x, 0x20) | swar::eq(x, b'"') | swar::eq(x, b'\\'))
}

/// The index of the first byte of `b` at or after `from` that must be escaped, or
/// `b.len()`. Eight bytes at a time.
#[inline]
fn next_escape(b: &[u8], mut from: usize) -> usize {
    // In a text shorter than a word, the rest is `A`, which needs no escape.
    while from < b.len() {
        let x = swar::word(b, from).unwrap_or_else(|| swar::tail(b, from, b'A'));
        if word_needs_escape(x) {
            return b[from..]
                .iter()
                .position(|&c| CLASS[c as usize] != 0)
                .map_or(b.len(), |p| from + p);
        }
        from += 8;
    }
    b.len()
}

/// Appends `s` to `out` escaped as the inside of a JSON string: the batcher escapes every
/// text of every span (and the `attributes` object, JSON text inside a string).
pub(crate) fn escape_into(out: &mut String, s: &str) {
    out.reserve(s.len());
    escape_capped(out, s, usize::MAX);
}

/// Appends as much of `s`, escaped, as keeps `out` within `end` bytes (cut on a char and
/// escape boundary); returns whether all of it went in. Each run of bytes that stand as
/// they are goes in with one copy, found eight bytes at a time ([`next_escape`]): a
/// byte-by-byte scan was half of the batcher's encoding time.
pub(crate) fn escape_capped(out: &mut String, s: &str, end: usize) -> bool {
    let b = s.as_bytes();
    let mut run = 0;
    loop {
        let i = next_escape(b, run);
        // Only ASCII bytes are escaped, so `run..i` starts and ends on char boundaries.
        if !push_capped(out, &s[run..i], end) {
            return false;
        }
        let Some(&c) = b.get(i) else { return true };
        let esc = ESCAPES[CLASS[c as usize] as usize];
        if out.len() + esc.len() > end {
            return false;
        }
        out.push_str(esc);
        run = i + 1;
    }
}

/// Appends `s`, or the part of it that keeps `out` within `end` bytes.
fn push_capped(out: &mut String, s: &str, end: usize) -> bool {
    let room = end.saturating_sub(out.len());
    if s.len() <= room {
        out.push_str(s);
        true
    } else {
        out.push_str(&s[..floor_boundary(s, room)]);
        false
    }
}

/// The length of `s` escaped, or `None` once it passes `limit`.
pub(crate) fn escaped_len(s: &str, limit: usize) -> Option<usize> {
    let mut n = 0usize;
    for &c in s.as_bytes() {
        n += escape_of(c).map_or(1, str::len);
        if n > limit {
            return None;
        }
    }
    Some(n)
}

/// An ASCII buffer as a `str`: for the templates the encoder fills with digits (ids,
/// timestamps), two to four a span, where `str::from_utf8` (~80 instructions for 38 bytes)
/// was a twelfth of the batcher's time. The check ORs the bytes eight at a time (for the
/// templates' fixed sizes the loop unrolls to a few loads); a buffer that is not ASCII
/// (which no caller writes) gives `""`.
#[inline]
pub(crate) fn ascii_str(b: &[u8]) -> &str {
    let mut any = 0u64;
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        any |= u64::from_le_bytes(w.try_into().unwrap_or([0x80; 8]));
    }
    for &x in words.remainder() {
        any |= u64::from(x);
    }
    if any & 0x8080_8080_8080_8080 != 0 {
        return "";
    }
    // SAFETY: no byte has its high bit set (checked just above), so every byte is ASCII,
    // and a sequence of ASCII bytes is valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_str_is_the_text_of_ascii_and_empty_otherwise() {
        assert_eq!(
            ascii_str(b"2026-11-30T01:02:03.000004+00:00"),
            "2026-11-30T01:02:03.000004+00:00"
        );
        assert_eq!(ascii_str(b""), "");
        assert_eq!(ascii_str("caf\u{e9}".as_bytes()), "");
        assert_eq!(ascii_str(&[0x7f, b'a']), "\u{7f}a");
        assert_eq!(ascii_str(&[0x80]), "");
        // A high byte anywhere (in the words and in the tail) is caught.
        let template = *b"\"00000000-0000-0000-0000-000000000000\"";
        for at in 0..template.len() {
            for high in [0x80u8, 0xc3, 0xff] {
                let mut b = template;
                b[at] = high;
                assert_eq!(ascii_str(&b), "", "{high:#x} at {at}");
            }
        }
        assert_eq!(
            ascii_str(&template),
            std::str::from_utf8(&template).unwrap_or("?")
        );
    }
    use std::fmt::Write;

    /// The eight-at-a-time escaper writes what serde_json writes, wherever in a word the
    /// bytes to escape fall, next to multi-byte characters and bytes ≥ 0x80.
    #[test]
    fn escape_into_matches_serde_json_at_every_offset() {
        let specials = [
            "\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "€", "😀", " ", "~", "\u{7f}",
        ];
        for pad in 0..17 {
            for a in specials {
                for b in specials {
                    let s = format!(
                        "{}{a}{}{b}{}",
                        "x".repeat(pad),
                        "y".repeat(pad % 9),
                        "z".repeat(pad % 5)
                    );
                    let mut out = String::from("[");
                    escape_into(&mut out, &s);
                    let expected = serde_json::to_string(&s).expect("string");
                    assert_eq!(&out[1..], &expected[1..expected.len() - 1], "{s:?}");
                    assert_eq!(needs_escape(&s), expected.len() != s.len() + 2, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn every_byte_value_is_judged_like_the_table() {
        for c in 0u8..=255 {
            for at in 0..8 {
                let mut w = [b'a'; 8];
                w[at] = c;
                assert_eq!(
                    word_needs_escape(u64::from_le_bytes(w)),
                    CLASS[c as usize] != 0,
                    "byte {c:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn escaping_matches_serde_json() {
        let s = "a\"b\\c\nd\u{1}é\u{1f}\u{7f}";
        let mut out = String::new();
        escape_into(&mut out, s);
        let ours = format!("\"{out}\"");
        assert_eq!(ours, serde_json::to_string(s).expect("json"));
        assert_eq!(escaped_len(s, 100), Some(out.len()));
        assert_eq!(escaped_len(s, 3), None);
        let long = format!("{}\"{}\n", "a".repeat(70), "b".repeat(40));
        let mut out = String::new();
        escape_into(&mut out, &long);
        assert_eq!(
            format!("\"{out}\""),
            serde_json::to_string(&long).expect("json")
        );
    }

    #[test]
    fn escaping_matches_serde_json_on_random_text() {
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet: Vec<char> = "ab \"\\/\n\r\t\u{0}\u{1f}\u{7f}é€😀{}:,".chars().collect();
        for _ in 0..2_000 {
            let len = rng.usize(0..80);
            let s: String = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let mut out = String::from("\"");
            escape_into(&mut out, &s);
            out.push('"');
            assert_eq!(out, serde_json::to_string(&s).expect("json"), "{s:?}");
            let mut capped = String::from("\"");
            assert!(escape_capped(&mut capped, &s, usize::MAX));
            capped.push('"');
            assert_eq!(capped, out, "{s:?}");
        }
    }

    #[test]
    fn capped_escaping_cuts_on_boundaries() {
        let mut out = String::new();
        assert!(!escape_capped(&mut out, "ab\"cd", 3));
        assert_eq!(out, "ab"); // the escape `\"` would pass the bound
        let mut out = String::new();
        assert!(!escape_capped(&mut out, "éééé", 5));
        assert_eq!(out, "éé");
        let mut out = String::new();
        assert!(escape_capped(&mut out, "ok", 2));
    }

    #[test]
    fn the_bounded_writer_refuses_past_its_bound() {
        let mut s = String::new();
        let mut w = Bounded::new(&mut s, 5);
        assert!(w.write_str("abc").is_ok());
        assert!(w.write_str("déf").is_err());
        assert!(w.over && w.refused == 3, "{}", w.refused);
        assert!(write!(w, "x").is_err());
        assert_eq!(s, "abcd");
    }
}

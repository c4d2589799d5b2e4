//! A minimal JSON reader over text already known to be UTF-8: the tokens the ingest
//! validator reads field by field, and a checking skip for the documents embedded in
//! strings. It accepts exactly RFC 8259 JSON (what serde_json accepts, unpaired
//! surrogate escapes aside: refused here), reports any syntax error as [`Syntax`]
//! without detail (the caller asks serde_json for the message on that rare path), and
//! borrows every string that has no escape.

use crate::scan::{find_special, starts_with, Pattern};
use std::borrow::Cow;

/// The text is not JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syntax;

/// Nesting deeper than this is refused, as serde_json does.
pub(crate) const MAX_DEPTH: usize = 128;

/// A string token as written between its quotes; `escaped` when it holds a backslash.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawStr<'a> {
    pub raw: &'a str,
    pub escaped: bool,
}

impl<'a> RawStr<'a> {
    /// The string's value: borrowed unless it had escapes.
    #[inline]
    pub(crate) fn text(self) -> Cow<'a, str> {
        if self.escaped {
            let mut out = String::with_capacity(self.raw.len());
            unescape_into(self.raw, &mut out);
            Cow::Owned(out)
        } else {
            Cow::Borrowed(self.raw)
        }
    }

    /// Whether the string's value is `s` (no allocation when it has no escape).
    #[inline]
    pub(crate) fn is(self, s: &str) -> bool {
        if self.escaped {
            self.text() == s
        } else {
            self.raw == s
        }
    }
}

/// A number token read as serde_json reads it: a non-negative integer that fits a u64,
/// a negative one that fits an i64, else a (finite) float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    UInt(u64),
    Int(i64),
    Float(f64),
}

impl Num {
    #[inline]
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::UInt(n) => n as f64,
            Num::Int(n) => n as f64,
            Num::Float(x) => x,
        }
    }
}

pub(crate) struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text,
            b: text.as_bytes(),
            pos: 0,
        }
    }

    /// The byte offset of the next token (after white space).
    #[inline]
    pub(crate) fn offset(&mut self) -> usize {
        self.ws();
        self.pos
    }

    /// A reader of `text` positioned at byte offset `pos`.
    #[inline]
    pub(crate) fn at(text: &'a str, pos: usize) -> Self {
        Self {
            text,
            b: text.as_bytes(),
            pos,
        }
    }

    /// The whole text read.
    #[inline]
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// Moves to byte offset `pos` (an offset a fast path found the next token at).
    #[inline]
    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// The byte offset just after the last token read.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The text between two offsets.
    #[inline]
    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a str {
        self.text.get(from..to).unwrap_or_default()
    }

    #[inline]
    fn ws(&mut self) {
        // Most tokens follow another directly: one comparison says so.
        while let Some(&c) = self.b.get(self.pos) {
            if c > b' ' || !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.pos += 1;
        }
    }

    /// The first byte of the next token, not consumed.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.pos).copied()
    }

    /// Consumes `c` if it is the next token.
    #[inline]
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    #[inline]
    fn expect(&mut self, c: u8) -> Result<(), Syntax> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(Syntax)
        }
    }

    /// Whether only white space is left.
    #[inline]
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// After `{` was eaten: the first key (its `:` eaten too), or `None` for `{}`.
    #[inline]
    pub(crate) fn first_key(&mut self) -> Result<Option<RawStr<'a>>, Syntax> {
        if self.eat(b'}') {
            return Ok(None);
        }
        self.key().map(Some)
    }

    /// After a member's value: the next key, or `None` at the closing `}`.
    #[inline]
    pub(crate) fn next_key(&mut self) -> Result<Option<RawStr<'a>>, Syntax> {
        if self.eat(b',') {
            return self.key().map(Some);
        }
        self.expect(b'}').map(|()| None)
    }

    /// The object's first key (`first`) or its next one: `None` at its end.
    pub(crate) fn key_at(&mut self, first: bool) -> Result<Option<RawStr<'a>>, Syntax> {
        if first {
            self.first_key()
        } else {
            self.next_key()
        }
    }

    /// The fast path of [`Reader::first_key`] (`first`) or [`Reader::next_key`]: when the
    /// next key is exactly `quoted` (the key with its quotes, as bytes), eats it and its
    /// `:` and says so; else consumes nothing.
    #[inline]
    pub(crate) fn eat_key(&mut self, first: bool, quoted: &[u8]) -> bool {
        // Compact JSON (what the SDKs send): `,"key":` with no white space.
        let at = self.pos + usize::from(!first);
        if (first || self.b.get(self.pos) == Some(&b','))
            && self
                .b
                .get(at..)
                .is_some_and(|rest| starts_with(rest, quoted))
            && self.b.get(at + quoted.len()) == Some(&b':')
        {
            self.pos = at + quoted.len() + 1;
            return true;
        }
        let save = self.pos;
        if (first || self.eat(b',')) && self.peek() == Some(b'"') {
            if let Some(rest) = self.b.get(self.pos..) {
                if starts_with(rest, quoted) {
                    self.pos += quoted.len();
                    if self.eat(b':') {
                        return true;
                    }
                }
            }
        }
        self.pos = save;
        false
    }

    /// Eats `p` when the text goes on with it exactly (no white space first): the
    /// compact form of a key with its comma and colon, or of a value.
    #[inline(always)]
    pub(crate) fn eat_pattern(&mut self, p: &Pattern) -> bool {
        if p.at(self.b, self.pos) {
            self.pos += p.len();
            true
        } else {
            false
        }
    }

    /// When the text goes on with `text` exactly, eats its first `eat` bytes (a run of
    /// members written alike, see `ingest::span`).
    #[inline(always)]
    pub(crate) fn eat_run(&mut self, text: &[u8], eat: usize) -> bool {
        if self.b.get(self.pos..self.pos + text.len()) == Some(text) {
            self.pos += eat;
            true
        } else {
            false
        }
    }

    /// Eats `""` when it comes next with no white space first (many fields are empty).
    #[inline(always)]
    pub(crate) fn eat_empty_string(&mut self) -> bool {
        if self.b.get(self.pos..self.pos + 2) == Some(b"\"\"") {
            self.pos += 2;
            true
        } else {
            false
        }
    }

    /// When the next value is a string of exactly `len` bytes that `read` takes, eats it
    /// and returns it with what `read` made of it; else consumes nothing. `read` must
    /// take only a shape with no `"`, `\` or control character in it (an id, a
    /// timestamp): then the string has no escape and ends where expected.
    #[inline(always)]
    pub(crate) fn eat_fixed<T>(
        &mut self,
        len: usize,
        read: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<(&'a str, T)> {
        let (from, to) = (self.pos + 1, self.pos + 1 + len);
        if self.peek() != Some(b'"') || self.b.get(to) != Some(&b'"') {
            return None;
        }
        let v = read(self.b.get(from..to)?)?;
        let s = self.text.get(from..to)?;
        self.pos = to + 1;
        Some((s, v))
    }

    /// When the next value is a string of exactly `len` bytes with no escape, eats it and
    /// returns it (the fast path for ids); else consumes nothing.
    #[inline]
    pub(crate) fn eat_plain_string(&mut self, len: usize) -> Option<&'a str> {
        if self.peek() != Some(b'"') || self.b.get(self.pos + 1 + len) != Some(&b'"') {
            return None;
        }
        let inner = self.b.get(self.pos + 1..self.pos + 1 + len)?;
        if inner.iter().any(|c| *c == b'"' || *c == b'\\' || *c < 0x20) {
            return None;
        }
        let s = self.slice(self.pos + 1, self.pos + 1 + len);
        self.pos += len + 2;
        Some(s)
    }

    #[inline]
    fn key(&mut self) -> Result<RawStr<'a>, Syntax> {
        if self.peek() != Some(b'"') {
            return Err(Syntax);
        }
        let k = self.string()?;
        self.expect(b':')?;
        Ok(k)
    }

    /// After `[` was eaten: whether there is a first element.
    #[inline]
    pub(crate) fn first_element(&mut self) -> Result<bool, Syntax> {
        Ok(!self.eat(b']'))
    }

    /// After an element: whether another follows (else the `]` is eaten).
    #[inline]
    pub(crate) fn next_element(&mut self) -> Result<bool, Syntax> {
        if self.eat(b',') {
            return Ok(true);
        }
        self.expect(b']').map(|()| false)
    }

    /// A string token; the next byte must be its opening quote.
    #[inline]
    pub(crate) fn string(&mut self) -> Result<RawStr<'a>, Syntax> {
        let start = self.pos + 1;
        // Many fields are empty strings.
        if self.b.get(start) == Some(&b'"') {
            self.pos = start + 1;
            return Ok(RawStr {
                raw: "",
                escaped: false,
            });
        }
        let mut i = start;
        let mut escaped = false;
        loop {
            i = find_special(self.b, i);
            match self.b.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(RawStr {
                        raw: self.slice(start, i),
                        escaped,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    i = escape_end(self.b, i)?;
                }
                _ => return Err(Syntax),
            }
        }
    }

    /// `true`, `false` or `null`; the next byte must be its first letter.
    #[inline]
    pub(crate) fn literal(&mut self, word: &[u8]) -> Result<(), Syntax> {
        if self.b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Syntax)
        }
    }

    /// A number token; the next byte must be `-` or a digit.
    #[inline]
    pub(crate) fn number(&mut self) -> Result<Num, Syntax> {
        let start = self.pos;
        let b = self.b;
        // The usual count or flag: one digit and no fraction or exponent.
        if let Some(&[d @ b'0'..=b'9', after]) = b.get(start..start + 2) {
            if !matches!(after, b'0'..=b'9' | b'.' | b'e' | b'E') {
                self.pos += 1;
                return Ok(Num::UInt(u64::from(d - b'0')));
            }
        }
        let negative = b.get(self.pos) == Some(&b'-');
        self.pos += usize::from(negative);
        let mut n: u64 = 0;
        let mut fits = true;
        match b.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(d @ b'0'..=b'9') = b.get(self.pos) {
                    match n
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(d - b'0')))
                    {
                        Some(m) => n = m,
                        None => fits = false,
                    }
                    self.pos += 1;
                }
            }
            _ => return Err(Syntax),
        }
        let mut float = false;
        // The digits after the point, when there are few: with the integer part, an
        // exact integer `m`, and the value is `m / 10^k` (the fast path below).
        let mut short_fraction = None;
        if b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            let from = self.pos;
            self.digits()?;
            float = true;
            short_fraction = b
                .get(from..self.pos)
                .filter(|f| f.len() < EXACT_POW10.len());
        }
        if let Some(b'e' | b'E') = b.get(self.pos) {
            short_fraction = None;
            self.pos += 1;
            if let Some(b'+' | b'-') = b.get(self.pos) {
                self.pos += 1;
            }
            self.digits()?;
            float = true;
        }
        if !float && fits {
            if !negative {
                return Ok(Num::UInt(n));
            }
            if let Ok(i) = i64::try_from(n) {
                return Ok(Num::Int(-i));
            }
            if n == 1 << 63 {
                return Ok(Num::Int(i64::MIN));
            }
        }
        if let (Some(fraction), true) = (short_fraction, fits) {
            if let Some(x) = exact_decimal(n, fraction) {
                return Ok(Num::Float(if negative { -x } else { x }));
            }
        }
        match self.slice(start, self.pos).parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Num::Float(x)),
            _ => Err(Syntax),
        }
    }

    #[inline]
    fn digits(&mut self) -> Result<(), Syntax> {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.b.get(self.pos) {
            self.pos += 1;
        }
        if self.pos == start {
            Err(Syntax)
        } else {
            Ok(())
        }
    }

    /// Reads and checks one value of any type, keeping nothing.
    #[inline]
    pub(crate) fn skip(&mut self) -> Result<(), Syntax> {
        self.skip_at(0)
    }

    #[inline]
    fn skip_at(&mut self, depth: usize) -> Result<(), Syntax> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(open @ (b'[' | b'{')) if depth < MAX_DEPTH => {
                self.pos += 1;
                if open == b'[' {
                    let mut more = self.first_element()?;
                    while more {
                        self.skip_at(depth + 1)?;
                        more = self.next_element()?;
                    }
                } else {
                    let mut key = self.first_key()?;
                    while key.is_some() {
                        self.skip_at(depth + 1)?;
                        key = self.next_key()?;
                    }
                }
                Ok(())
            }
            _ => Err(Syntax),
        }
    }
}

/// The powers of ten a double holds exactly, and that keep `m < 2^53` below exact.
const EXACT_POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// `int.fraction` when both fit an exact integer `m < 2^53` and `fraction` has at most
/// 15 digits: then `m / 10^k` is one correctly rounded division of exact values, the
/// same double as parsing the decimal text (Clinger's fast path, which Rust's parser
/// also takes).
#[inline]
fn exact_decimal(int: u64, fraction: &[u8]) -> Option<f64> {
    let mut m = int;
    for d in fraction {
        m = m.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if m >= 1 << 53 {
        return None;
    }
    Some(m as f64 / EXACT_POW10.get(fraction.len())?)
}

/// The 4 hex digits at `i`, as a number.
#[inline]
pub(crate) fn hex4(b: &[u8], i: usize) -> Result<u32, Syntax> {
    let digits = b.get(i..i + 4).ok_or(Syntax)?;
    digits.iter().try_fold(0u32, |n, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(Syntax),
        };
        Ok(n << 4 | u32::from(d))
    })
}

/// Checks the escape at `i` (a backslash) and returns the index after it. A `\u`
/// surrogate must come in a high-then-low pair.
#[inline]
fn escape_end(b: &[u8], i: usize) -> Result<usize, Syntax> {
    match b.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
        Some(b'u') => match hex4(b, i + 2)? {
            0xD800..=0xDBFF => {
                if b.get(i + 6..i + 8) != Some(b"\\u") {
                    return Err(Syntax);
                }
                match hex4(b, i + 8)? {
                    0xDC00..=0xDFFF => Ok(i + 12),
                    _ => Err(Syntax),
                }
            }
            0xDC00..=0xDFFF => Err(Syntax),
            _ => Ok(i + 6),
        },
        _ => Err(Syntax),
    }
}

/// Appends the value of a string token's text (already checked by [`Reader::string`]).
#[inline]
pub(crate) fn unescape_into(raw: &str, out: &mut String) {
    let b = raw.as_bytes();
    let (mut i, mut start) = (0, 0);
    while let Some(at) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(|c| *c == b'\\'))
    {
        let at = i + at;
        out.push_str(raw.get(start..at).unwrap_or_default());
        let (c, len) = match b.get(at + 1) {
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let hi = hex4(b, at + 2).unwrap_or(0xFFFD);
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = hex4(b, at + 8).unwrap_or(0xDC00);
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    (char::from_u32(c).unwrap_or('\u{FFFD}'), 12)
                } else {
                    (char::from_u32(hi).unwrap_or('\u{FFFD}'), 6)
                }
            }
            Some(&c) => (char::from(c), 2),
            None => break,
        };
        out.push(c);
        i = at + len;
        start = i;
    }
    out.push_str(raw.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests;

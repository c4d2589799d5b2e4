//! Byte scanning for the ingest hot path, a machine word at a time: finding the end of a
//! string token, comparing a key, reading the hex digits of a UUID.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn load8(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn load4(b: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[i..i + 4]);
    u32::from_le_bytes(w)
}

/// The index of the first `"`, `\` or control character at or after `i` (or the end),
/// eight bytes at a time.
#[inline]
pub(crate) fn find_special(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let w = load8(chunk, 0);
        let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        let found = zero_byte(w ^ (ONES * u64::from(b'"')))
            | zero_byte(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if found != 0 {
            // The lowest flagged byte is always a true match.
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// `rest.starts_with(q)`, with word loads instead of a call to `memcmp` (keys are short).
#[inline(always)]
pub(crate) fn starts_with(rest: &[u8], q: &[u8]) -> bool {
    let n = q.len();
    let Some(a) = rest.get(..n) else {
        return false;
    };
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if load8(a, i) != load8(q, i) {
                return false;
            }
            i += 8;
        }
        load8(a, n - 8) == load8(q, n - 8)
    } else if n >= 4 {
        load4(a, 0) == load4(q, 0) && load4(a, n - 4) == load4(q, n - 4)
    } else {
        a == q
    }
}

/// A short byte string (at most 24 bytes: a key with its comma, quotes and colon) kept
/// as three words and masks, so that finding it in the text is three loads and no call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pattern {
    bytes: [u8; 24],
    words: [u64; 3],
    masks: [u64; 3],
    len: usize,
}

impl Pattern {
    /// The pattern of `parts` written one after the other.
    ///
    /// # Panics
    /// At compile time, when they are longer than 24 bytes.
    pub(crate) const fn new(parts: &[&[u8]]) -> Self {
        let mut bytes = [0u8; 24];
        let mut mask = [0u8; 24];
        let mut len = 0;
        let mut p = 0;
        while p < parts.len() {
            let mut i = 0;
            while i < parts[p].len() {
                assert!(len < 24, "a pattern is at most 24 bytes");
                bytes[len] = parts[p][i];
                mask[len] = 0xFF;
                len += 1;
                i += 1;
            }
            p += 1;
        }
        Self {
            bytes,
            words: [
                Self::word(&bytes, 0),
                Self::word(&bytes, 1),
                Self::word(&bytes, 2),
            ],
            masks: [
                Self::word(&mask, 0),
                Self::word(&mask, 1),
                Self::word(&mask, 2),
            ],
            len,
        }
    }

    /// Bytes `8 * w ..` of `b` as a little-endian word.
    const fn word(b: &[u8; 24], w: usize) -> u64 {
        let mut x = [0u8; 8];
        let mut i = 0;
        while i < 8 {
            x[i] = b[w * 8 + i];
            i += 1;
        }
        u64::from_le_bytes(x)
    }

    /// Its length in bytes.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether `b` goes on with the pattern at offset `i`.
    #[inline(always)]
    pub(crate) fn at(&self, b: &[u8], i: usize) -> bool {
        match b.get(i..i + 24) {
            Some(w) => {
                let diff = |k: usize| (load8(w, k * 8) ^ self.words[k]) & self.masks[k];
                diff(0) | diff(1) | diff(2) == 0
            }
            None => b.get(i..i + self.len) == self.bytes.get(..self.len),
        }
    }
}

/// The keys `names` as they follow another member in compact JSON: `,"name":`.
pub(crate) const fn member_keys<const N: usize>(names: [&str; N]) -> [Pattern; N] {
    let mut out = [Pattern::new(&[]); N];
    let mut i = 0;
    while i < N {
        out[i] = Pattern::new(&[b",\"", names[i].as_bytes(), b"\":"]);
        i += 1;
    }
    out
}

/// Eight lowercase hex digits (the first one most significant) as a number, and a
/// word that is not 0 when a byte is not `0-9a-f` (then the number means nothing).
#[inline(always)]
fn hex8(w: u64) -> (u32, u64) {
    // With each byte's high bit set, subtracting a byte value below 0x80 never borrows
    // from the next byte: the high bit then says "byte >= value".
    let t = w | HIGH;
    let at_least = |c: u8| t.wrapping_sub(ONES * u64::from(c)) & HIGH;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    let bad = (w & HIGH) | ((digit | letter) ^ HIGH);
    // '0'..'9' have their value in the low nibble; 'a'..'f' have 1..6 there, plus 9.
    let nibbles = (w & (ONES * 0x0F)) + (letter >> 7) * 9;
    // Byte 0 is the most significant digit: gather the nibbles big-endian.
    let v = nibbles.swap_bytes();
    let v = (v | v >> 4) & 0x00FF_00FF_00FF_00FF;
    let v = (v | v >> 8) & 0x0000_FFFF_0000_FFFF;
    let v = (v | v >> 16) & 0x0000_0000_FFFF_FFFF;
    (v as u32, bad)
}

/// The 32 hex digits of a lowercase hyphenated UUID shape (8-4-4-4-12) read as one
/// number; `None` when `b` is not that shape.
#[inline]
pub(crate) fn uuid_u128(b: &[u8]) -> Option<u128> {
    if b.len() != 36 {
        return None;
    }
    let dashes = (b[8] ^ b'-') | (b[13] ^ b'-') | (b[18] ^ b'-') | (b[23] ^ b'-');
    let pair = |i: usize, j: usize| u64::from(load4(b, i)) | u64::from(load4(b, j)) << 32;
    let (a, bad_a) = hex8(load8(b, 0));
    let (c, bad_c) = hex8(pair(9, 14));
    let (d, bad_d) = hex8(pair(19, 24));
    let (e, bad_e) = hex8(load8(b, 28));
    if bad_a | bad_c | bad_d | bad_e | u64::from(dashes) != 0 {
        return None;
    }
    Some(u128::from(a) << 96 | u128::from(c) << 64 | u128::from(d) << 32 | u128::from(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time reading the word-at-a-time one replaced.
    fn uuid_slow(b: &[u8]) -> Option<u128> {
        if b.len() != 36 {
            return None;
        }
        let mut n = 0u128;
        for (i, &c) in b.iter().enumerate() {
            let d = match (i, c) {
                (8 | 13 | 18 | 23, b'-') => continue,
                (8 | 13 | 18 | 23, _) => return None,
                (_, b'0'..=b'9') => c - b'0',
                (_, b'a'..=b'f') => c - b'a' + 10,
                _ => return None,
            };
            n = n << 4 | u128::from(d);
        }
        Some(n)
    }

    /// Every byte value at every position of a few UUIDs, and every length.
    #[test]
    fn uuids_read_like_the_slow_path() {
        let ids = [
            "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
            "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "01234567-89ab-cdef-0123-456789abcdef",
            "00000000-0000-0000-fedc-ba9876543210",
        ];
        for id in ids {
            assert_eq!(uuid_u128(id.as_bytes()), uuid_slow(id.as_bytes()), "{id}");
            assert!(uuid_u128(id.as_bytes()).is_some());
            for at in 0..36 {
                for c in 0..=255u8 {
                    let mut b = id.as_bytes().to_vec();
                    b[at] = c;
                    assert_eq!(uuid_u128(&b), uuid_slow(&b), "{c:#x} at {at} in {id}");
                }
            }
        }
        let long = format!("{}0", ids[0]);
        for n in 0..long.len() {
            assert_eq!(
                uuid_u128(&long.as_bytes()[..n]),
                uuid_slow(&long.as_bytes()[..n])
            );
        }
        assert_eq!(
            uuid_u128(ids[3].as_bytes()),
            Some(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)
        );
    }

    /// Patterns of every length, at every offset of a text, near its end too.
    #[test]
    fn patterns_match_like_starts_with() {
        let text = b",\"reasoning_effort\":\"\",\"input_tokens\":0}]}";
        for len in 1..=24 {
            for from in 0..text.len() {
                let Some(q) = text.get(from..from + len) else {
                    continue;
                };
                let p = Pattern::new(&[q]);
                assert_eq!(p.len(), len);
                for i in 0..=text.len() {
                    let expected = text.get(i..).is_some_and(|rest| rest.starts_with(q));
                    assert_eq!(p.at(text, i), expected, "{len} {from} {i}");
                }
            }
        }
        let split = Pattern::new(&[b",\"", b"name", b"\":"]);
        assert!(split.at(b"x,\"name\":1", 1));
        assert!(!split.at(b"x,\"namE\":1", 1));
    }

    /// Against `starts_with`, for every key length and a difference at every offset.
    #[test]
    fn starts_with_compares_every_byte() {
        let text = b"\"a_rather_long_key_name_here\":1";
        for n in 0..text.len() {
            let q = &text[..n];
            assert!(starts_with(text, q));
            assert!(!starts_with(&text[..n.saturating_sub(1)], q) || n == 0);
            for at in 0..n {
                let mut other = text.to_vec();
                other[at] ^= 0x20;
                assert!(!starts_with(&other, q), "{n} {at}");
            }
        }
    }

    /// A string's end found at every offset, against a byte-at-a-time scan.
    #[test]
    fn find_special_finds_the_first() {
        for len in 0..40 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut b = vec![b'x'; len];
                    b.extend_from_slice("é~ \u{7f}".as_bytes());
                    if at < len {
                        b[at] = special;
                    }
                    let slow = b
                        .iter()
                        .position(|c| *c == b'"' || *c == b'\\' || *c < 0x20)
                        .unwrap_or(b.len());
                    for from in 0..=slow {
                        assert_eq!(find_special(&b, from), slow, "{len} {at} {special}");
                    }
                }
            }
        }
    }
}

//! The value formats of the contract: UUID shapes, UTC timestamps, durations, and JSON
//! documents embedded in string fields (as the Python reference client writes them).

use serde_json::Value;

/// Parses a JSON document embedded in a string field.
///
/// Python SDK note: the reference client encodes `input`, `output` and `attributes` with
/// `json.dumps(..., default=str)`, which writes a float NaN or infinity as the bare
/// tokens `NaN`, `Infinity`, `-Infinity` (not valid JSON). Those tokens are accepted
/// here (read as null) so that a Python agent returning `float("nan")` is not refused.
pub(crate) fn parse_embedded_json(s: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str(s) {
        return Some(v);
    }
    let mut out = String::with_capacity(s.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push_str("null");
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    serde_json::from_str(&out).ok()
}

/// `duration_ms` rules: finite, non-negative, rounded to 2 decimals.
#[inline]
pub(crate) fn check_duration(n: f64) -> Result<(), &'static str> {
    if !n.is_finite() || n < 0.0 {
        return Err("expected a non-negative number");
    }
    let rounded = (n * 100.0).round() / 100.0;
    if (rounded - n).abs() > 1e-9 * n.max(1.0) {
        return Err("expected a value rounded to 2 decimals");
    }
    Ok(())
}

/// A lowercase hyphenated UUID shape (8-4-4-4-12 hex digits), any version.
#[inline]
pub(crate) fn is_lower_uuid(s: &str) -> bool {
    lower_uuid_u128(s).is_some()
}

/// The 32 hex digits of a lowercase hyphenated UUID shape read as one number; `None`
/// when `s` is not that shape.
#[inline]
pub(crate) fn lower_uuid_u128(s: &str) -> Option<u128> {
    crate::scan::uuid_u128(s.as_bytes())
}

/// Hashes ids for the per-span sets and maps: folding and mixing them is hash enough,
/// and much cheaper than SipHash on the per-span path.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    /// A folded multiply (the 128-bit product's halves xored): every input bit reaches
    /// the low bits (the table's position) as well as the high ones. A plain multiply
    /// leaves the low bits of the hash depending only on the low bits of the id, so ids
    /// that differ only in their high digits (counters written high, as in the
    /// `ingest_hot` example) all landed in one probe chain.
    #[inline]
    fn write_u128(&mut self, n: u128) {
        let folded = (n as u64) ^ ((n >> 64) as u64);
        let m = u128::from(self.0.rotate_left(5) ^ folded) * u128::from(0x9e37_79b9_7f4a_7c15_u64);
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

/// The hasher of id sets and maps.
pub(crate) type IdHash = std::hash::BuildHasherDefault<IdHasher>;

/// A lowercase hyphenated UUID of version 4 and the RFC 4122 variant.
pub(crate) fn is_uuid_v4(s: &str) -> bool {
    is_lower_uuid(s)
        && s.as_bytes()[14] == b'4'
        && matches!(s.as_bytes()[19], b'8'..=b'9' | b'a'..=b'b')
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}]+00:00` to nanoseconds since the Unix epoch.
///
/// The offset is required and must be UTC written as `+00:00` — what the Python SDK
/// sends (`datetime.isoformat()` on an aware UTC datetime; note it drops the fraction
/// entirely when the microseconds are 0, which is accepted).
#[inline]
pub(crate) fn parse_timestamp(s: &str) -> Result<i128, String> {
    match timestamp_fast(s.as_bytes()) {
        Some(nanos) => Ok(nanos),
        None => timestamp_slow(s),
    }
}

/// The shape the SDKs send, `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`, read without
/// branching per digit; `None` for anything else (then [`timestamp_slow`] decides).
#[inline]
pub(crate) fn timestamp_fast(b: &[u8]) -> Option<i128> {
    if b.len() != 32
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[26..] != *b"+00:00"
    {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let micros = digits(&b[20..26])?;
    civil_nanos([year, month, day, hour, minute, second], micros * 1000)
}

/// The last second [`timestamp_fast`] read (its `YYYY-MM-DDTHH:MM:SS` bytes and their
/// nanoseconds): the spans of a body mostly start within one second, so their
/// timestamps differ only in the fraction, and the date and time need not be read again.
#[derive(Debug, Default)]
pub(crate) struct LastSecond(Option<([u8; 19], i128)>);

impl LastSecond {
    /// [`timestamp_fast`] of `b`, the same bytes as the last second's read once.
    #[inline]
    pub(crate) fn timestamp(&mut self, b: &[u8]) -> Option<i128> {
        if let Some((second, nanos)) = &self.0 {
            if b.len() == 32 && b[..19] == *second && b[19] == b'.' && b[26..] == *b"+00:00" {
                return Some(nanos + i128::from(digits(&b[20..26])? * 1000));
            }
        }
        let n = timestamp_fast(b)?;
        if let (Ok(second), Some(micros)) = (b[..19].try_into(), digits(&b[20..26])) {
            self.0 = Some((second, n - i128::from(micros * 1000)));
        }
        Some(n)
    }
}

/// Nanoseconds since the epoch of a UTC date and time of day, `None` when a field is
/// out of range (or before 1970).
#[inline]
fn civil_nanos([year, month, day, hour, minute, second]: [i64; 6], nanos: i64) -> Option<i128> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

fn timestamp_slow(s: &str) -> Result<i128, String> {
    let b = s.as_bytes();
    let bad = || format!("expected ISO 8601 UTC like 2026-11-26T06:10:47.123456+00:00, got {s:?}");
    if b.len() < 25 {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| digits(&b[r]).ok_or_else(bad);
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b[i] == b'.' {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let count = end - start;
        if count == 0 || count > 9 {
            return Err(bad());
        }
        nanos = num(start..end)? * 10i64.pow(9 - count as u32);
        i = end;
    }
    let offset = &s[i..];
    if offset != "+00:00" {
        return Err(if offset == "Z" || offset.len() == 6 {
            format!("expected the UTC offset written +00:00 (as the Python SDK sends), got {s:?}")
        } else {
            bad()
        });
    }
    civil_nanos([year, month, day, hour, minute, second], nanos).ok_or_else(bad)
}

/// The number written by ASCII digits (at most 18), or `None` if one is not a digit.
#[inline(always)]
fn digits(part: &[u8]) -> Option<i64> {
    let mut n = 0i64;
    let mut bad = 0u8;
    for &d in part {
        let v = d.wrapping_sub(b'0');
        bad |= u8::from(v > 9);
        n = n * 10 + i64::from(v);
    }
    (bad == 0).then_some(n)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last second's shortcut reads what `timestamp_fast` reads, on every printable
    /// byte (and a few others) at every position, after a timestamp of the same second,
    /// of another one, and of none.
    #[test]
    fn last_second_reads_what_timestamp_fast_reads() {
        let bases = [
            "2026-11-30T01:02:03.456789+00:00",
            "2026-11-30T01:02:04.000000+00:00",
            "2024-02-29T23:59:59.999999+00:00",
        ];
        let bytes: Vec<u8> = (0x20..0x7f).chain([0, 0x1f, 0x80, 0xff]).collect();
        for base in bases {
            for before in bases {
                for at in 0..32 {
                    for &c in &bytes {
                        let mut b = base.as_bytes().to_vec();
                        b[at] = c;
                        for warm in [Some(before), None] {
                            let mut last = LastSecond::default();
                            if let Some(w) = warm {
                                assert!(last.timestamp(w.as_bytes()).is_some());
                            }
                            assert_eq!(last.timestamp(&b), timestamp_fast(&b), "{b:?} {warm:?}");
                            assert_eq!(
                                last.timestamp(base.as_bytes()),
                                timestamp_fast(base.as_bytes())
                            );
                            assert_eq!(last.timestamp(&b), timestamp_fast(&b), "{b:?} {warm:?}");
                        }
                    }
                }
            }
        }
    }

    /// Ids that differ only in a few digits, wherever those digits are, spread over the
    /// low bits of the hash (the table's position) and over its top seven bits (the
    /// tag hashbrown compares first).
    #[test]
    fn id_hash_spreads_every_digit() {
        use std::hash::BuildHasher;
        let hash = |t: u128, s: u128| IdHash::default().hash_one((t, s));
        for shift in (0..=112).step_by(4) {
            let ids = (0..1024u128).map(|k| k << shift);
            let mut low = std::collections::HashSet::new();
            let mut top = std::collections::HashSet::new();
            for id in ids {
                for h in [hash(7, id), hash(id, 7)] {
                    low.insert(h & 1023);
                    top.insert(h >> 57);
                }
            }
            assert!(low.len() > 600, "shift {shift}: {} positions", low.len());
            assert_eq!(top.len(), 128, "shift {shift}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00+00:00"), Ok(0));
        assert_eq!(
            parse_timestamp("1970-01-02T00:00:01.5+00:00"),
            Ok(86_401_500_000_000)
        );
        let a = parse_timestamp("2026-11-26T06:10:47+00:00");
        let b = parse_timestamp("2026-11-26T06:10:47.000001+00:00");
        assert!(a.is_ok() && b.is_ok() && a < b);
        assert!(parse_timestamp("2026-11-26T06:10:47Z").is_err());
        assert!(parse_timestamp("2026-11-26T06:10:47.1+01:00").is_err());
        assert!(parse_timestamp("2026-02-30T06:10:47+00:00").is_err());
        assert!(parse_timestamp("2026-11-26 06:10:47+00:00").is_err());
    }

    /// The fast path reads what the slow one reads, on the SDK's shape broken at every
    /// offset.
    #[test]
    fn timestamps_fast_path_agrees() {
        let good = "2024-02-29T23:59:59.999999+00:00";
        assert!(timestamp_fast(good.as_bytes()).is_some());
        for base in [
            good,
            "2026-11-30T01:02:03.456789+00:00",
            "1970-01-01T00:00:00.000000+00:00",
        ] {
            assert_eq!(
                timestamp_fast(base.as_bytes()).map(Ok),
                Some(timestamp_slow(base))
            );
            for at in 0..base.len() {
                for c in (b' '..=b'~').chain([0u8, 0xff]) {
                    let mut b = base.as_bytes().to_vec();
                    b[at] = c;
                    let Ok(s) = std::str::from_utf8(&b) else {
                        continue;
                    };
                    if let Some(n) = timestamp_fast(&b) {
                        assert_eq!(Ok(n), timestamp_slow(s), "{s}");
                    }
                    assert_eq!(parse_timestamp(s), timestamp_slow(s), "{s}");
                }
            }
        }
        for s in [
            "2026-11-30T24:00:00.000000+00:00",
            "2025-02-29T00:00:00.000000+00:00",
            "1969-12-31T23:59:59.000000+00:00",
        ] {
            assert!(timestamp_fast(s.as_bytes()).is_none() && parse_timestamp(s).is_err());
        }
    }

    #[test]
    fn durations() {
        assert!(check_duration(0.0).is_ok());
        assert!(check_duration(12.35).is_ok());
        assert!(check_duration(3.0).is_ok());
        assert!(check_duration(1.234).is_err());
        assert!(check_duration(-1.0).is_err());
        assert!(check_duration(f64::NAN).is_err());
    }

    #[test]
    fn uuids() {
        assert!(is_lower_uuid("00000000-0000-0000-1234-56789abcdef0"));
        assert!(!is_lower_uuid("00000000-0000-0000-1234-56789ABCDEF0"));
        assert!(!is_lower_uuid("0000000000000000123456789abcdef0"));
        assert!(is_uuid_v4("1b4e28ba-2fa1-41d2-883f-0016d3cca427"));
        assert!(!is_uuid_v4("1b4e28ba-2fa1-11d2-883f-0016d3cca427"));
        assert_eq!(
            lower_uuid_u128("1b4e28ba-2fa1-41d2-883f-0016d3cca427"),
            Some(0x1b4e28ba_2fa1_41d2_883f_0016d3cca427)
        );
        assert_eq!(
            lower_uuid_u128("00000000-0000-0000-0000-00000000000f"),
            Some(15)
        );
        assert_eq!(
            lower_uuid_u128("1B4E28BA-2FA1-41D2-883F-0016D3CCA427"),
            None
        );
    }

    #[test]
    fn python_nan_tokens() {
        assert_eq!(
            parse_embedded_json(r#"{"result": NaN, "s": "NaN", "l": [-Infinity, Infinity]}"#),
            Some(serde_json::json!({"result": null, "s": "NaN", "l": [null, null]}))
        );
        assert_eq!(
            parse_embedded_json(r#"{"a": "x\"NaN", "b": NaN}"#),
            Some(serde_json::json!({"a": "x\"NaN", "b": null}))
        );
        assert!(parse_embedded_json("not json").is_none());
        assert!(parse_embedded_json("{").is_none());
    }
}

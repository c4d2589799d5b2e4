//! Time on the hot path: one monotonic clock read per span edge. The wall-clock anchor is
//! taken once per process, so timestamps need no syscall and durations never go negative.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Anchor {
    instant: Instant,
    unix_nanos: u128,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        instant: Instant::now(),
        unix_nanos: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    })
}

/// A monotonic instant, in nanoseconds since the process anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Tick(pub u64);

/// Reads the monotonic clock.
#[inline]
pub(crate) fn now() -> Tick {
    let a = anchor();
    Tick(
        Instant::now()
            .saturating_duration_since(a.instant)
            .as_nanos() as u64,
    )
}

/// Wall-clock nanoseconds since the Unix epoch of a tick.
pub(crate) fn unix_nanos(t: Tick) -> i128 {
    (anchor().unix_nanos + t.0 as u128) as i128
}

/// `2026-11-26T06:10:47.123456+00:00`, the contract's timestamp form.
pub(crate) fn iso8601(t: Tick) -> String {
    let nanos = unix_nanos(t);
    let secs = (nanos / 1_000_000_000) as i64;
    let sub = (nanos % 1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, sub) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        None => "1970-01-01T00:00:00.000000+00:00".to_string(),
    }
}

/// Milliseconds between two ticks, rounded to 2 decimals.
pub(crate) fn duration_ms(start: Tick, end: Tick) -> f64 {
    let ns = end.0.saturating_sub(start.0) as f64;
    (ns / 10_000.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_is_rounded_to_two_decimals() {
        assert_eq!(duration_ms(Tick(0), Tick(1_234_567)), 1.23);
        assert_eq!(duration_ms(Tick(0), Tick(1_235_000)), 1.24);
        assert_eq!(duration_ms(Tick(5), Tick(1)), 0.0);
    }

    #[test]
    fn timestamp_has_micros_and_offset() {
        let s = iso8601(now());
        assert_eq!(s.len(), "2026-11-26T06:10:47.123456+00:00".len(), "{s}");
        assert!(s.ends_with("+00:00"));
    }
}

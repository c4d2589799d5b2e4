//! Time on the hot path: one clock read per span edge, from the CPU's time-stamp counter
//! when it is usable (invariant TSC on x86_64, the system counter on aarch64), through
//! `quanta`: about 10 ns a read here against about 25 ns for `Instant::now()` (see
//! BENCHMARKS.md). The counter is calibrated against the monotonic clock once, on the
//! first read (well under a millisecond, bounded by quanta at 200 ms); where there is no
//! usable counter quanta reads the monotonic clock instead, so time never goes backwards.
//! The wall-clock anchor is taken once per process, so timestamps need no syscall and
//! durations never go negative.
//!
//! Why quanta rather than minstant: minstant calibrates in a constructor that runs at the
//! start of every program linking it, traced or not, and falls back to the wall clock
//! (which can step backwards) where the TSC is unusable; quanta calibrates lazily and falls
//! back to the monotonic clock.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Anchor {
    clock: quanta::Clock,
    /// The counter at the anchor: ticks are counted from here.
    raw: u64,
    unix_nanos: u128,
    /// quanta's raw reading is the TSC itself: read it inline (quanta's `raw` is not
    /// inlined across crates, a call per read).
    rdtsc: bool,
}

#[inline]
fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        let clock = quanta::Clock::new();
        let before = clock.raw();
        let tsc = tsc();
        let after = clock.raw();
        Anchor {
            raw: before,
            unix_nanos: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
            rdtsc: tsc.is_some_and(|t| before <= t && t <= after),
            clock,
        }
    })
}

/// The time-stamp counter, where there is one to read without a call.
#[inline(always)]
fn tsc() -> Option<u64> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[allow(unused_unsafe)]
    // SAFETY: `rdtsc` has no preconditions on x86_64 (it is what quanta itself reads).
    return Some(unsafe { core::arch::x86_64::_rdtsc() });
    #[allow(unreachable_code)]
    None
}

/// A monotonic instant, in nanoseconds since the process anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Tick(pub u64);

/// Reads the monotonic clock.
#[inline]
pub(crate) fn now() -> Tick {
    let a = anchor();
    let raw = match tsc() {
        Some(t) if a.rdtsc => t,
        _ => a.clock.raw(),
    };
    Tick(a.clock.delta_as_nanos(a.raw, raw))
}

/// Wall-clock nanoseconds since the Unix epoch of a tick.
pub(crate) fn unix_nanos(t: Tick) -> i128 {
    (anchor().unix_nanos + t.0 as u128) as i128
}

/// `2026-11-26T06:10:47.123456+00:00`, the contract's timestamp form. Written from the
/// date's fields rather than through chrono's `format` (which parses its format string on
/// every call: ~5% of the batcher's time, one call per span).
pub(crate) fn iso8601(t: Tick) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let nanos = unix_nanos(t);
    let secs = (nanos / 1_000_000_000) as i64;
    let sub = (nanos % 1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, sub) {
        Some(dt) if (0..=9999).contains(&dt.year()) => {
            let mut s = String::with_capacity(32);
            let _ = write!(
                s,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
                dt.nanosecond() / 1_000
            );
            s
        }
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
    fn ticks_follow_the_monotonic_clock() {
        let (t0, i0) = (now(), std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (t1, i1) = (now(), std::time::Instant::now());
        let ticks = t1.0 - t0.0;
        let real = i1.duration_since(i0).as_nanos() as u64;
        assert!(ticks >= 19_000_000, "{ticks} ns of ticks in {real} ns");
        assert!(
            ticks.abs_diff(real) < real / 20 + 1_000_000,
            "{ticks} vs {real}"
        );
    }

    #[test]
    fn timestamp_is_what_chrono_formats() {
        let mut t = 0u64;
        for step in [
            1u64,
            999,
            1_000,
            123_456_789,
            86_399_999_999_999,
            31_622_400_000_000_007,
        ] {
            for _ in 0..50 {
                t = t.wrapping_add(step);
                let nanos = unix_nanos(Tick(t));
                let dt = chrono::DateTime::from_timestamp(
                    (nanos / 1_000_000_000) as i64,
                    (nanos % 1_000_000_000) as u32,
                )
                .expect("in range");
                let want = dt.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
                assert_eq!(iso8601(Tick(t)), want);
            }
        }
    }

    #[test]
    fn timestamp_has_micros_and_offset() {
        let s = iso8601(now());
        assert_eq!(s.len(), "2026-11-26T06:10:47.123456+00:00".len(), "{s}");
        assert!(s.ends_with("+00:00"));
    }
}

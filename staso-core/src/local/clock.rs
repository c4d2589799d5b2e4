//! Time on the hot path: one clock read per span edge, from the CPU's time-stamp counter
//! when it is usable (invariant TSC on x86_64, the system counter on aarch64), through
//! `quanta`: about 10 ns a read here against about 25 ns for `Instant::now()` (see
//! BENCHMARKS.md). Where there is no usable counter quanta reads the monotonic clock
//! instead, so time never goes backwards. The counter is calibrated once, at `init` (not
//! at the first span, which would otherwise pay up to quanta's 200 ms bound).
//!
//! Wall-clock time is the monotonic tick plus an offset. The offset is measured against
//! the system clock at the anchor and again by the batcher thread every minute
//! ([`reanchor`]), so an NTP step, a leap smear or a VM resume is followed, and calibration
//! error cannot accumulate over days. A span takes the offset of its trace's root (it is
//! inherited through the context), so timestamps within a trace stay monotonic and
//! durations are always tick differences; a new trace takes the current offset.
//!
//! Why quanta rather than minstant: minstant calibrates in a constructor that runs at the
//! start of every program linking it, traced or not, and falls back to the wall clock
//! (which can step backwards) where the TSC is unusable; quanta calibrates lazily and falls
//! back to the monotonic clock.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::*};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Anchor {
    clock: quanta::Clock,
    /// The counter at the anchor: ticks are counted from here.
    raw: u64,
    /// quanta's raw reading is the TSC itself: read it inline (quanta's `raw` is not
    /// inlined across crates, a call per read).
    rdtsc: bool,
    /// Nanoseconds per tick in 32.32 fixed point, from quanta's calibration: scaling a
    /// reading is then one multiplication and a shift by a constant (quanta shifts by a
    /// calibrated amount, a 128-bit shift by a variable, ~10 instructions more a read).
    /// The rounding is below 2^-32 ns a tick: under 0.1 ms a day, and the offset is
    /// measured again every minute.
    ns_per_tick_q32: u64,
}

/// Wall-clock nanoseconds since the Unix epoch minus ticks, as last measured.
static OFFSET: AtomicI64 = AtomicI64::new(0);

/// The anchor's `ns_per_tick_q32` once it is calibrated and the counter is read inline;
/// zero until then (and for good where it is not). One load tells a read which way to go,
/// where the anchor's `OnceLock` state and its flag took two.
static FACTOR: AtomicU64 = AtomicU64::new(0);

/// The anchor's counter, scaled: a tick is the scaled counter minus this, so a read
/// subtracts after scaling, with wrapping arithmetic, rather than saturating before it.
/// (A counter read slightly behind the anchor on another core gives a tick just below
/// zero, which the wrapping addition of the offset turns into the right wall time.)
static BASE_NS: AtomicU64 = AtomicU64::new(0);

static ANCHOR: OnceLock<Anchor> = OnceLock::new();

#[inline]
fn anchor() -> &'static Anchor {
    ANCHOR.get_or_init(|| {
        let clock = quanta::Clock::new();
        let before = clock.raw();
        let tsc = tsc();
        let after = clock.raw();
        let a = Anchor {
            raw: before,
            rdtsc: tsc.is_some_and(|t| before <= t && t <= after),
            ns_per_tick_q32: clock.delta_as_nanos(0, 1 << 32),
            clock,
        };
        OFFSET.store(wall_nanos(), Relaxed);
        if a.rdtsc {
            BASE_NS.store(scale_q32(a.raw, a.ns_per_tick_q32), Relaxed);
            // After `BASE_NS`: a read that sees the factor sees the base.
            FACTOR.store(a.ns_per_tick_q32, Release);
        }
        a
    })
}

/// Calibrates the counter and takes the first wall-clock offset (at `init`).
pub(crate) fn calibrate() {
    let _ = anchor();
}

/// Whether the counter has been calibrated (tests that `init`, not the first span, pays
/// for it).
#[cfg(feature = "test-faults")]
pub fn is_calibrated() -> bool {
    ANCHOR.get().is_some()
}

/// The system clock, in nanoseconds since the Unix epoch (tests can replace it).
fn wall_nanos() -> i64 {
    let now = wall_source();
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[cfg(not(feature = "test-faults"))]
fn wall_source() -> SystemTime {
    SystemTime::now()
}

#[cfg(feature = "test-faults")]
static WALL_SHIFT_NS: AtomicI64 = AtomicI64::new(0);

/// The system clock shifted by what a test stepped it by.
#[cfg(feature = "test-faults")]
fn wall_source() -> SystemTime {
    let shift = WALL_SHIFT_NS.load(Relaxed);
    let now = SystemTime::now();
    if shift >= 0 {
        now + std::time::Duration::from_nanos(shift as u64)
    } else {
        now - std::time::Duration::from_nanos(shift.unsigned_abs())
    }
}

/// Steps the wall clock the SDK sees by `by` nanoseconds (tests of re-anchoring).
#[cfg(feature = "test-faults")]
pub(crate) fn step_wall_clock(by_ns: i64) {
    WALL_SHIFT_NS.fetch_add(by_ns, Relaxed);
}

/// Measures the wall-clock offset again; new traces take it. Off the hot path (the
/// batcher calls it every minute).
pub(crate) fn reanchor() {
    let t = now().0 as i64;
    OFFSET.store(wall_nanos() - t, Relaxed);
}

/// The offset a new trace takes: the wall-clock offset less the scaled anchor, so that a
/// stamp is the scaled counter plus this, one subtraction fewer on every span edge (see
/// [`stamp`]).
#[inline]
pub(crate) fn offset() -> i64 {
    OFFSET
        .load(Relaxed)
        .wrapping_sub(BASE_NS.load(Relaxed) as i64)
}

/// A wall-clock time stamp, in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Stamp(pub u64);

/// The time now, as a stamp of a trace whose offset is `offset` (from [`offset`]): the
/// scaled counter plus the offset, which has the scaled anchor taken off already.
#[inline]
pub(crate) fn stamp(offset: i64) -> Stamp {
    Stamp(scaled_now().wrapping_add(offset as u64))
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
    Tick(scaled_now().wrapping_sub(BASE_NS.load(Relaxed)))
}

/// The counter now, scaled, with the scaled anchor still on: what [`now`] takes the
/// anchor off and [`stamp`] adds a trace's offset to (which has it off already).
#[inline(always)]
fn scaled_now() -> u64 {
    let factor = FACTOR.load(Acquire);
    match tsc() {
        Some(t) if factor != 0 => scale_q32(t, factor),
        // The anchor's base back on: `now_slow` takes it off.
        _ => now_slow().0.wrapping_add(BASE_NS.load(Relaxed)),
    }
}

/// [`now`] before calibration, or where the counter is not read inline.
#[cold]
#[inline(never)]
fn now_slow() -> Tick {
    let a = anchor();
    match tsc() {
        Some(t) if a.rdtsc => tick_of(t, a.ns_per_tick_q32),
        _ => Tick(a.clock.delta_as_nanos(a.raw, a.clock.raw())),
    }
}

/// The tick of counter reading `t`: scaled, then the scaled anchor taken off (see
/// `BASE_NS`).
#[inline(always)]
fn tick_of(t: u64, factor: u64) -> Tick {
    Tick(scale_q32(t, factor).wrapping_sub(BASE_NS.load(Relaxed)))
}

/// `ticks` times a 32.32 fixed-point factor: a 64x64-bit multiplication and a constant
/// shift.
#[inline(always)]
fn scale_q32(ticks: u64, factor: u64) -> u64 {
    ((u128::from(ticks) * u128::from(factor)) >> 32) as u64
}

/// Appends `2026-11-26T06:10:47.123456+00:00`, the contract's timestamp form. Written
/// into a template: the date from the day's number (chrono's calendar, asked once per
/// day: see [`date_of`]), the time of day and the microseconds by division. Without
/// chrono's `format` (which parses its format string on every call) or `fmt`; the batcher
/// writes one or two per span.
pub(crate) fn write_iso8601(out: &mut String, t: Stamp) {
    let secs = t.0 / 1_000_000_000;
    let micros = (t.0 % 1_000_000_000) as u32 / 1_000;
    let mut b = *b"0000-00-00T00:00:00.000000+00:00";
    b[..19].copy_from_slice(&second_of(secs));
    put_digits(&mut b[20..26], micros);
    // Only ASCII digits were written into an ASCII template.
    out.push_str(crate::local::capture::ascii_str(&b));
}

/// `YYYY-MM-DDTHH:MM:SS` of second `secs` after the epoch. The second asked for last is
/// kept per thread: the spans of a batch mostly start within the same second, so a
/// timestamp is then a copy and six digits.
fn second_of(secs: u64) -> [u8; 19] {
    thread_local! {
        static LAST: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
    }
    remembered(&LAST, secs, |secs| {
        let time_of_day = (secs % 86_400) as u32;
        let mut b = *b"0000-00-00T00:00:00";
        b[..10].copy_from_slice(&date_of(secs / 86_400));
        put_digits(&mut b[11..13], time_of_day / 3_600);
        put_digits(&mut b[14..16], time_of_day / 60 % 60);
        put_digits(&mut b[17..19], time_of_day % 60);
        b
    })
}

/// `YYYY-MM-DD` of day `days` after 1970-01-01. The day asked for last is kept per
/// thread: the spans of a batch almost always share their day, and the calendar was most
/// of what a timestamp cost the batcher.
fn date_of(days: u64) -> [u8; 10] {
    thread_local! {
        static LAST: Cell<(u64, [u8; 10])> = const { Cell::new((u64::MAX, [0; 10])) };
    }
    remembered(&LAST, days, calendar_date)
}

/// The text of `key`: the one kept in `last` when it is `key`'s, else made by `make` and
/// kept (one per thread; `u64::MAX` is never a key here).
fn remembered<const N: usize>(
    last: &'static std::thread::LocalKey<Cell<(u64, [u8; N])>>,
    key: u64,
    make: impl FnOnce(u64) -> [u8; N],
) -> [u8; N] {
    if let Some((_, text)) = last.try_with(Cell::get).ok().filter(|(k, _)| *k == key) {
        return text;
    }
    let text = make(key);
    let _ = last.try_with(|l| l.set((key, text)));
    text
}

/// [`date_of`] without the cache. A `u64` of nanoseconds ends in 2554, so every day fits.
fn calendar_date(days: u64) -> [u8; 10] {
    use chrono::Datelike;
    // Day 1 of the common era is 0001-01-01; 1970-01-01 is its day 719 163.
    let date = i32::try_from(days + 719_163)
        .ok()
        .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or_default();
    let mut b = *b"0000-00-00";
    put_digits(&mut b[0..4], date.year().clamp(0, 9999) as u32);
    put_digits(&mut b[5..7], date.month());
    put_digits(&mut b[8..10], date.day());
    b
}

/// Writes the last `to.len()` decimal digits of `v` into `to`, zero-padded.
fn put_digits(to: &mut [u8], mut v: u32) {
    for d in to.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Milliseconds between two stamps of one trace, rounded to 2 decimals.
pub(crate) fn duration_ms(start: Stamp, end: Stamp) -> f64 {
    let ns = end.0.saturating_sub(start.0) as f64;
    (ns / 10_000.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed-point scaling gives quanta's nanoseconds (within its rounding: a
    /// nanosecond, plus one per 2^32 ticks) from one tick to a year of ticks.
    #[test]
    fn fixed_point_ticks_are_quantas_nanoseconds() {
        let a = anchor();
        let year = 365 * 86_400 * 5_000_000_000u64; // a year at 5 GHz
        let mut d = 1u64;
        while d < year {
            for ticks in [d, d + 7, d * 3 / 2] {
                let ours = scale_q32(ticks, a.ns_per_tick_q32);
                let quanta = a.clock.delta_as_nanos(0, ticks);
                assert!(
                    ours.abs_diff(quanta) <= 1 + (ticks >> 32),
                    "{ticks} ticks: {ours} ns against quanta's {quanta}"
                );
            }
            d = d * 10 + 3;
        }
        // Time never goes backwards, and a reading before the anchor is the anchor.
        let (t1, t2) = (now(), now());
        assert!(t2 >= t1);
        assert_eq!(scale_q32(0, a.ns_per_tick_q32), 0);
    }

    fn iso8601(t: Stamp) -> String {
        let mut s = String::new();
        write_iso8601(&mut s, t);
        s
    }

    /// Nanoseconds since the epoch as chrono writes them in RFC 3339 with microseconds.
    fn chronos(t: u64) -> String {
        let dt = chrono::DateTime::from_timestamp(
            (t / 1_000_000_000) as i64,
            (t % 1_000_000_000) as u32,
        )
        .expect("in range");
        dt.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }

    /// The second kept per thread never leaks into a timestamp of another second, and
    /// the microseconds are always the stamp's own.
    #[test]
    fn iso8601_within_and_across_seconds() {
        let base = 1_764_464_400_000_000_000u64; // 2025-11-30T01:00:00Z
        let steps = [
            0u64,
            1_000,
            999_999_000,
            1_000_000_000,
            1_000_001_000,
            5,
            86_400_000_000_000,
        ];
        for (i, a) in steps.iter().enumerate() {
            for b in &steps[i..] {
                for t in [base + a, base + b, base + a] {
                    assert_eq!(iso8601(Stamp(t)), chronos(t), "{t}");
                }
            }
        }
    }

    #[test]
    fn iso8601_is_chronos_rfc3339_with_microseconds() {
        let stamps = [
            0u64,
            1,
            999,
            1_000,
            999_999_999,
            1_000_000_000,
            1_764_000_000_123_456_789,
            1_709_208_000_000_000_000, // 2024-02-29
            4_102_444_799_999_999_999, // 2099-12-31T23:59:59.999999
            u64::MAX,
        ];
        for t in stamps {
            assert_eq!(iso8601(Stamp(t)), chronos(t), "{t}");
        }
    }

    /// Consecutive stamps around day, month, year and leap-day boundaries, so the per-day
    /// cache is hit, missed and refilled in every order.
    #[test]
    fn iso8601_follows_chrono_across_day_boundaries() {
        let mut t = 1_709_164_799_000_000_000u64; // 2024-02-28T23:59:59
        let mut back = 4_102_444_799_999_999_999u64; // 2099-12-31T23:59:59.999999999
        for _ in 0..2_000 {
            for s in [t, back, 0, t + 86_400_000_000_000] {
                assert_eq!(iso8601(Stamp(s)), chronos(s), "{s}");
            }
            t += 1_999_999_937;
            back += 700_000_000_123;
        }
    }

    #[test]
    fn duration_is_rounded_to_two_decimals() {
        assert_eq!(duration_ms(Stamp(0), Stamp(1_234_567)), 1.23);
        assert_eq!(duration_ms(Stamp(0), Stamp(1_235_000)), 1.24);
        assert_eq!(duration_ms(Stamp(5), Stamp(1)), 0.0);
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
        let mut t = 1_700_000_000_000_000_000u64;
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
                let nanos = i128::from(t);
                let dt = chrono::DateTime::from_timestamp(
                    (nanos / 1_000_000_000) as i64,
                    (nanos % 1_000_000_000) as u32,
                )
                .expect("in range");
                let want = dt.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
                assert_eq!(iso8601(Stamp(t)), want);
            }
        }
    }

    #[test]
    fn a_stamp_is_the_system_clock() {
        calibrate();
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64;
        let s = stamp(offset()).0;
        // The offset was measured at the anchor; a few ms of slack for calibration error.
        assert!(s.abs_diff(before) < 5_000_000, "{s} vs {before}");
    }

    #[test]
    fn timestamp_has_micros_and_offset() {
        let s = iso8601(stamp(offset()));
        assert_eq!(s.len(), "2026-11-26T06:10:47.123456+00:00".len(), "{s}");
        assert!(s.ends_with("+00:00"));
    }
}

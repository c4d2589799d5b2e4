//! Timestamps follow the system clock: a step (NTP, VM resume) is picked up by new traces,
//! while each trace stays monotonic; a span's timestamp is the system time it started at.

use staso_collector::{Collector, CollectorConfig};
use staso_core::{init, span, Kind};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses the contract's timestamp (`2026-11-26T06:10:47.123456+00:00`) into microseconds
/// since the epoch (days from the civil date, as in Howard Hinnant's algorithm).
fn micros(ts: &str) -> i64 {
    let n = |a: usize, b: usize| ts[a..b].parse::<i64>().expect("digits");
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (hh, mm, ss, us) = (n(11, 13), n(14, 16), n(17, 19), n(20, 26));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + hh * 3_600 + mm * 60 + ss) * 1_000_000) + us
}

#[test]
fn a_clock_step_moves_new_traces_and_each_trace_stays_monotonic() {
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let client = init(
        staso_reliability_tests::local_options(c.url()).flush_interval(Duration::from_secs(60)),
    )
    .expect("init");
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_micros() as i64;
    let root = span("long agent", Kind::Agent);
    drop(span("before the step", Kind::Tool));
    const HOUR_NS: i64 = 3_600_000_000_000;
    staso_core::step_wall_clock(HOUR_NS);
    drop(span("after the step, same trace", Kind::Tool));
    std::thread::spawn(|| drop(span("new trace after the step", Kind::Agent)))
        .join()
        .expect("another trace");
    drop(root);
    staso_core::step_wall_clock(-HOUR_NS);
    assert!(client.flush(Duration::from_secs(10)).ok());
    let spans = c.spans();
    let ts = |name: &str| {
        let s = spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        micros(&s.timestamp)
    };
    let root_ts = ts("long agent");
    // The first span starts at the system time read just before it (plus scheduling).
    assert!(
        (0..5_000).contains(&(root_ts - before)),
        "root at {root_ts}, clock read {before}"
    );
    let a = ts("before the step");
    let b = ts("after the step, same trace");
    assert!(
        (0..1_000_000).contains(&(b - a)),
        "a trace keeps its offset: {a} then {b}"
    );
    let new = ts("new trace after the step");
    let hour_us = HOUR_NS / 1_000;
    assert!(
        (new - root_ts - hour_us).abs() < 1_000_000,
        "a new trace follows the step: {root_ts} then {new}"
    );
}

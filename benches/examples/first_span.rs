//! Issue 13 target 4: what the first spans after `init` cost the caller, against a span
//! once everything is warm. One process per measurement (the first span of a process is
//! the point): `scripts/bench.sh` runs it several times and prints each line.
//! `cargo run --profile bench -p staso-benches --example first_span`
#![allow(missing_docs, clippy::print_stdout)]

use staso_benches as b;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Wall time of `f`.
fn wall(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}

fn main() {
    b::serve_collector_if_child();
    let collector = b::CollectorProcess::start_with(false);
    let init = wall(|| std::mem::forget(b::init(b::options(collector.url(), true, 10_000))));
    // The first agent span of the process (a root: a new trace, this thread's frame
    // stack and queue lane created), then the first tool span inside it, the second...
    let mut agent = None;
    let root = wall(|| agent = Some(b::agent_span()));
    let first = wall(|| {
        black_box(b::tool_nothing_captured(black_box(1), 1));
    });
    let second = wall(|| {
        black_box(b::tool_nothing_captured(black_box(2), 1));
    });
    // Warm: the median of 1 000 spans one by one, timed the same way, and what that
    // timing costs around nothing (every figure includes it).
    let median = |f: &dyn Fn(u64)| {
        let mut v: Vec<f64> = (0..1_000).map(|i| ns(wall(|| f(i)))).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let warm = median(&|i| {
        black_box(b::tool_nothing_captured(black_box(i), 1));
    });
    let empty = median(&|i| {
        black_box(i);
    });
    drop(agent);
    let report = staso::flush(Duration::from_secs(30));
    assert!(report.ok(), "{report:?}");
    println!(
        "init {:.0} µs | first root span {:.1} µs | first tool span {:.0} ns | second {:.0} ns | warm median {:.0} ns | timing alone {:.0} ns",
        ns(init) / 1e3,
        ns(root) / 1e3,
        ns(first),
        ns(second),
        warm,
        empty,
    );
    let _ = collector.finish();
}

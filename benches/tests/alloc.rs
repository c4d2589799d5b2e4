//! Target 1's "no heap allocation on the caller's thread beyond the record itself": with
//! tracing on and the batcher delivering to the loopback collector, a span nested in an
//! agent span with nothing captured makes no heap allocation at all on the calling thread
//! once warmed up (the record travels by value into the preallocated queue). Counted with
//! a counting global allocator, per thread, so the batcher and the collector (which do
//! allocate, to serialize and to parse) are not counted.

use staso_benches as b;
use std::time::Duration;

#[global_allocator]
static ALLOC: b::CountingAlloc = b::CountingAlloc;

#[test]
fn a_span_with_nothing_captured_allocates_nothing_on_the_callers_thread() {
    let collector = b::start_collector();
    let client = b::init(b::options(&collector.url(), true, 10_000));
    let agent = b::agent_span();
    // Warm-up: the per-thread stack grows to its depth, the thread's client cache, RNG and
    // the clock's calibration are set up.
    for i in 0..1_000 {
        std::hint::black_box(b::tool_nothing_captured(i, 1));
    }
    let before = b::thread_allocations();
    const SPANS: u64 = 5_000;
    for i in 0..SPANS {
        std::hint::black_box(b::tool_nothing_captured(i, 1));
    }
    let allocations = b::thread_allocations() - before;
    drop(agent);
    let report = client.flush(Duration::from_secs(30));
    assert!(report.ok(), "{report:?}");
    assert!(report.delivered >= SPANS, "{report:?}");
    assert_eq!(
        allocations, 0,
        "{allocations} heap allocations for {SPANS} spans on the caller's thread"
    );
}

#[test]
fn the_counting_allocator_counts() {
    let before = b::thread_allocations();
    let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(16));
    assert_eq!(b::thread_allocations() - before, 1);
    drop(v);
}

//! Target 5's bound on what spans captured: with spans that capture 64 KiB each and the
//! service down, the heap grows by what `bytes_at_bound` and `captured_bytes_at_bound`
//! say. In a process of its own (a test binary of its own): the count of live bytes is
//! the process's.

use staso_benches as b;
use std::time::Duration;

#[global_allocator]
static ALLOC: b::CountingAlloc = b::CountingAlloc;

const PRODUCERS: usize = 2;
/// What the HTTP client and the runtime allocate for themselves (see `memory.rs`).
const ALLOWANCE: u64 = 128 * 1024;

/// The same bound with spans that capture 64 KiB each: what they captured beyond their
/// allowance stays within `max_queue_bytes` (the spans that do not fit are refused and
/// counted), so the heap grows by what `bytes_at_bound` and `captured_bytes_at_bound`
/// say, not by `max_queue_size` times 64 KiB (64 MB here, and the test would fail).
#[test]
fn at_the_bound_what_spans_captured_stays_within_max_queue_bytes() {
    const QUEUE: usize = 1_000;
    const BATCH: usize = 20;
    const MAX_BYTES: usize = 2 * 1024 * 1024;
    const ARGUMENT: usize = 64 * 1024;
    let url = format!("http://127.0.0.1:{}", b::closed_port());
    let client = b::init(
        b::options(&url, true, QUEUE)
            .batch_size(BATCH)
            .max_queue_bytes(MAX_BYTES),
    );
    let doc = "d".repeat(ARGUMENT);
    for _ in 0..10 {
        std::hint::black_box(b::tool_nothing_captured(1, 1));
    }
    let before = b::live_bytes();
    b::reset_peak_live_bytes();
    std::thread::scope(|s| {
        for _ in 0..PRODUCERS {
            s.spawn(|| {
                let agent = b::agent_span();
                for _ in 0..2_000 {
                    std::hint::black_box(b::tool_big_argument(&doc));
                }
                drop(agent);
            });
        }
    });
    let report = client.flush(Duration::from_millis(1_500));
    let held = staso::__private::captured_bytes_held();
    let _ = client.shutdown(Duration::from_millis(100));
    let grew = b::peak_live_bytes().saturating_sub(before);
    // A span on the wire is its argument and ~900 bytes more. An outage lets spans go in
    // the order they came: none leaves the store's ring for its map (see `memory.rs`).
    let bound = staso::__private::bytes_at_bound(QUEUE, BATCH, PRODUCERS + 1, ARGUMENT + 1024)
        - staso::__private::bytes_at_init(QUEUE)
        - staso::__private::store_map_bytes_at_bound(QUEUE, BATCH)
        + staso::__private::captured_bytes_at_bound(QUEUE, BATCH, MAX_BYTES);
    // The figures BENCHMARKS.md quotes (`--nocapture`).
    #[allow(clippy::print_stderr)]
    {
        eprintln!("heap grew by {grew} bytes against a bound of {bound}; {held} bytes charged");
    }
    assert!(
        report.rejected > 0,
        "the byte bound was never reached: {report:?}"
    );
    assert!(
        held <= MAX_BYTES,
        "{held} bytes charged, above max_queue_bytes: {report:?}"
    );
    assert!(
        grew <= bound as u64 + ALLOWANCE,
        "the heap grew by {grew} bytes at the bound; the SDK says it keeps at most {bound} (+{ALLOWANCE} for the HTTP client): {report:?}"
    );
}

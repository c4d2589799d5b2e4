//! Target 5's "one bound on everything held", in bytes: with the queue at its bound, the
//! heap the process grows by stays within what `bytes_at_bound` says the SDK keeps for
//! that bound (its lanes, the overflow, the batcher's store, the request bodies), plus a
//! small allowance for the HTTP client's own buffers. Counted with a counting global
//! allocator (live bytes, the peak over the run), so allocator slack and thread stacks,
//! which RSS would add, are not.

use staso_benches as b;
use std::time::Duration;

#[global_allocator]
static ALLOC: b::CountingAlloc = b::CountingAlloc;

const QUEUE: usize = 5_000;
const BATCH: usize = 200;
const PRODUCERS: usize = 2;
/// What the HTTP client and the runtime allocate for themselves while requests come and
/// go (connection attempts, futures, the diagnostics' messages): not span storage.
const ALLOWANCE: u64 = 128 * 1024;

#[test]
fn at_the_bound_the_heap_stays_within_the_reported_bytes() {
    let url = format!("http://127.0.0.1:{}", b::closed_port());
    let client = b::init(b::options(&url, true, QUEUE).batch_size(BATCH));
    // This thread's lane, the clock and the thread's stack of frames exist before the
    // count starts, like the producers' would in a warm process.
    for i in 0..10 {
        std::hint::black_box(b::tool_nothing_captured(i, 1));
    }
    let before = b::live_bytes();
    b::reset_peak_live_bytes();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            std::thread::spawn(|| {
                let agent = b::agent_span();
                for i in 0..100_000 {
                    std::hint::black_box(b::tool_nothing_captured(i, 1));
                }
                drop(agent);
            })
        })
        .collect();
    for p in producers {
        p.join().expect("a producer panicked");
    }
    // Long enough for a retry or two to be encoded and sent (backoff from 0.5 s).
    let report = client.flush(Duration::from_millis(1_500));
    // Nothing can be delivered: shutting down reports the rest pending at once.
    let _ = client.shutdown(Duration::from_millis(100));
    let grew = b::peak_live_bytes().saturating_sub(before);
    // Counted from after `init`, which allocated its part of the bound already.
    let bound = staso::__private::bytes_at_bound(QUEUE, BATCH, PRODUCERS + 1, b::SPAN_JSON_BYTES)
        - staso::__private::bytes_at_init(QUEUE);
    assert!(
        report.rejected > 0,
        "the queue never reached its bound: {report:?}"
    );
    assert!(
        grew <= bound as u64 + ALLOWANCE,
        "the heap grew by {grew} bytes at the bound; the SDK says it keeps at most {bound} (+{ALLOWANCE} for the HTTP client): {report:?}"
    );
}

/// The README's figures for the defaults ("One bound on memory": `max_queue_size`
/// 10 000, `batch_size` 100, one thread) are what the SDK computes from its structures.
#[test]
fn the_readmes_figures_for_the_defaults() {
    use staso::__private::{bytes_at_bound, bytes_at_init};
    // The overflow, 1.37 MiB, the queue of root announcements, 141 KiB, and the batcher's
    // store, 1.37 MiB.
    assert_eq!(
        bytes_at_init(10_000),
        10_000 * 144 + 1_000 * 144 + 10_000 * 144
    );
    // One thread's ring, 156 KiB; grown rings, 1.22 MiB; 640 KiB of bodies.
    assert_eq!(
        bytes_at_bound(10_000, 100, 1, b::SPAN_JSON_BYTES) - bytes_at_init(10_000),
        1_250 * 128 + 10_000 * 128 + 5 * 128 * 1024
    );
}

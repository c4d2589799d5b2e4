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

/// One measurement at a time: the count is the process's, and so is the client.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the SDK says it keeps at the bound in an outage, counted from after `init`
/// (which allocated its part already). An outage fails every batch alike, so spans are
/// let go in the order they came and none leaves the store's ring: the map that holds
/// the spans of a batch retried while later ones were delivered is left out, so that the
/// bound stays tight enough to catch a few hundred KB too many.
fn outage_bound(threads: usize) -> usize {
    use staso::__private::{bytes_at_bound, bytes_at_init, store_map_bytes_at_bound};
    bytes_at_bound(QUEUE, BATCH, threads, b::SPAN_JSON_BYTES)
        - bytes_at_init(QUEUE)
        - store_map_bytes_at_bound(QUEUE, BATCH)
}

#[test]
fn at_the_bound_the_heap_stays_within_the_reported_bytes() {
    let _serial = serial();
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
    let bound = outage_bound(PRODUCERS + 1);
    assert!(
        report.rejected > 0,
        "the queue never reached its bound: {report:?}"
    );
    assert!(
        grew <= bound as u64 + ALLOWANCE,
        "the heap grew by {grew} bytes at the bound; the SDK says it keeps at most {bound} (+{ALLOWANCE} for the HTTP client): {report:?}"
    );
}

/// A root announces itself when it opens (a provisional copy, outside `max_queue_size`,
/// best effort). Through an outage the batcher forms no batch, and the copies it took
/// from their queue waited in a list of its own that nothing bounded: a process that
/// opened roots while the service was down grew by one copy a root (each with its
/// input), for as long as the outage lasted. At most the queue of copies' capacity is
/// held now, in that queue and in the batcher together; the copies beyond it are dropped
/// (the final span carries everything).
#[test]
fn roots_opened_through_an_outage_stay_within_the_bound() {
    let _serial = serial();
    let url = format!("http://127.0.0.1:{}", b::closed_port());
    // The batcher looks at the queues every 5 ms: 80 s of an outage at the default
    // interval in 2 s.
    let options = b::options(&url, true, QUEUE)
        .batch_size(BATCH)
        .flush_interval(Duration::from_millis(5));
    let client = b::init(options);
    for i in 0..10 {
        std::hint::black_box(b::tool_nothing_captured(i, 1));
    }
    drop(b::agent_span());
    let before = b::live_bytes();
    b::reset_peak_live_bytes();
    let mut roots = 0u64;
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(2_000) {
        for i in 0..100 {
            let agent = b::agent_span();
            std::hint::black_box(b::tool_nothing_captured(i, 1));
            drop(agent);
        }
        roots += 100;
    }
    // The batcher takes what waits (a flush asks it to, without waiting long).
    let report = client.flush(Duration::from_millis(300));
    let _ = client.shutdown(Duration::from_millis(100));
    let grew = b::peak_live_bytes().saturating_sub(before);
    let bound = outage_bound(2) + staso::__private::captured_bytes_at_bound(QUEUE, BATCH, 0);
    assert!(
        report.rejected > 0,
        "the queue never reached its bound: {report:?}"
    );
    assert!(
        grew <= bound as u64 + ALLOWANCE,
        "the heap grew by {grew} bytes while {roots} roots opened through an outage; the SDK says it keeps at most {bound} (+{ALLOWANCE} for the HTTP client): {report:?}"
    );
}

/// The README's figures for the defaults ("One bound on memory": `max_queue_size`
/// 10 000, `batch_size` 100, one thread) are what the SDK computes from its structures.
#[test]
fn the_readmes_figures_for_the_defaults() {
    use staso::__private::{bytes_at_bound, bytes_at_init, store_map_bytes_at_bound};
    // A failing assertion elsewhere would count its backtrace's tens of MB in a
    // measurement running beside it.
    let _serial = serial();
    // The overflow, 1.37 MiB, the queue of root announcements, 141 KiB, the batcher's list
    // of them, 125 KiB, and its store, 1.37 MiB.
    assert_eq!(
        bytes_at_init(10_000),
        10_000 * 144 + 1_000 * 144 + 1_000 * 128 + 10_000 * 144
    );
    // The spans of batches retried while later ones are delivered, outside the store's
    // ring: 4.06 MiB at most (10 000 spans and 4 batches of provisional copies, in B-tree
    // leaves of 11 entries of 8 + 144 bytes, each at least 5 full, and their parents).
    let leaf = 16 + 11 * (8 + 144);
    let leaves = 10_400_usize.div_ceil(5) + 1;
    let internals = leaves.div_ceil(5) + 1;
    assert_eq!(
        store_map_bytes_at_bound(10_000, 100),
        leaves * leaf + internals * (leaf + 12 * 8)
    );
    // What spans captured: the allowance (3 296 bytes) of each queued span, 31.4 MiB,
    // and of each root announcement that may wait (the queue's 1 000, the batcher's list
    // of as many, a batch in each of 4 requests in flight), 7.5 MiB; the pool of empty
    // boxes, 2.9 MiB; `max_queue_bytes`, 64 MiB.
    assert_eq!(
        staso::__private::captured_bytes_at_bound(10_000, 100, 64 << 20),
        (10_000 + 2 * 1_000 + 4 * 100) * 3_296 + 4_096 * 736 + (64 << 20)
    );
    // One thread's ring, 234 KiB (slots of 128 bytes, 64 a slot of tape), and the four
    // empty boxes it keeps for its captured spans (736 bytes each with their tape
    // buffer); grown rings, 1.83 MiB; 640 KiB of bodies.
    assert_eq!(
        bytes_at_bound(10_000, 100, 1, b::SPAN_JSON_BYTES)
            - bytes_at_init(10_000)
            - store_map_bytes_at_bound(10_000, 100),
        1_250 * 192 + 4 * 736 + 10_000 * 192 + 5 * 128 * 1024
    );
}

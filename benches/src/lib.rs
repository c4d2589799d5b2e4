//! Benchmarks of the staso hot path (see BENCHMARKS.md): what the benches and the
//! allocation test share — the instrumented functions, the loopback collector, the client
//! set-up, an allocation-counting allocator and a few process figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

pub use staso_collector::{Collector, CollectorConfig};

/// The API key of the in-process collector.
pub const API_KEY: &str = "bench-key";

/// A tool span with nothing captured (target 1): two arguments and a result that are not
/// captured, so the span is ids, two clock reads and one queue push.
#[staso::tool(capture_input = false, capture_output = false)]
#[inline(never)]
pub fn tool_nothing_captured(a: u64, b: u64) -> u64 {
    std::hint::black_box(a.wrapping_add(b))
}

/// A tool span with the default capture (target 2): two small arguments and the result
/// become JSON values on the caller's thread.
#[staso::tool]
#[inline(never)]
pub fn tool_default_capture(query: &str, limit: u64) -> u64 {
    std::hint::black_box(query.len() as u64 + limit)
}

/// The plain function the instrumented ones are compared with.
#[inline(never)]
pub fn plain(a: u64, b: u64) -> u64 {
    std::hint::black_box(a.wrapping_add(b))
}

/// An agent span: the spans of a burst are nested in it, as in an agent run.
pub fn agent_span() -> staso::SpanGuard {
    staso::span("bench-agent", staso::Kind::Agent)
}

/// Starts the loopback collector in its fastest store mode.
pub fn start_collector() -> Collector {
    let config = CollectorConfig {
        api_key: API_KEY.into(),
        ..CollectorConfig::default()
    };
    match Collector::start_blocking(config) {
        Ok(c) => c,
        Err(e) => panic!("cannot start the loopback collector: {e}"),
    }
}

/// Options of a client delivering to `collector`; `enabled: Some(false)` for the
/// runtime-disabled figure.
pub fn options(collector: &Collector, enabled: bool, max_queue_size: usize) -> staso::Options {
    staso::Options {
        api_key: Some(API_KEY.into()),
        agent_name: Some("bench-agent".into()),
        base_url: Some(collector.url()),
        batch_size: Some(500),
        flush_interval: Some(Duration::from_millis(50)),
        max_queue_size: Some(max_queue_size),
        enabled: Some(enabled),
        capture_git: Some(false),
        shutdown_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    }
}

/// Starts the client; panics with the reason when it cannot.
pub fn init(options: staso::Options) -> staso::Client {
    match staso::init(options) {
        Ok(c) => c,
        Err(e) => panic!("staso::init: {e}"),
    }
}

/// Counts heap allocations (and bytes) of the whole process; install it with
/// `#[global_allocator] static A: CountingAlloc = CountingAlloc;`.
pub struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

thread_local! {
    // Const-initialised, no destructor: safe to touch from inside the allocator.
    static THREAD_ALLOCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[inline]
fn count(bytes: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    ALLOC_BYTES.fetch_add(bytes as u64, Relaxed);
    let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
}

/// Heap allocations made by the calling thread so far (with [`CountingAlloc`]): other
/// threads (the batcher, the collector) do not disturb it.
pub fn thread_allocations() -> u64 {
    THREAD_ALLOCS.try_with(|c| c.get()).unwrap_or(0)
}

/// Heap allocations made by the whole process so far (only with [`CountingAlloc`]
/// installed; 0 otherwise).
pub fn allocations() -> u64 {
    ALLOCS.load(Relaxed)
}

/// Bytes requested from the heap so far (with [`CountingAlloc`]).
pub fn allocated_bytes() -> u64 {
    ALLOC_BYTES.load(Relaxed)
}

/// A line of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`); 0 where there is none.
pub fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak RSS (`VmHWM`) of this process, where the kernel allows it.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`): time the thread was not
/// running (preempted by the batcher or the collector on a 2-core machine) is not in it.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant of the OS.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

//! Sustained delivery and flush latency (targets 5 and 6 of BENCHMARKS.md). Prints figures;
//! `harness = false`, no criterion: one long run is the measurement.
//!
//! Target 5: `PRODUCERS` threads make spans (nothing captured, nested in agent spans of
//! `BURST` spans) for `STASO_SUSTAINED_SECS` seconds (default 10) at an offered rate of
//! `STASO_SUSTAINED_RATE` spans/s in all (default 300 000, paced per burst), while the
//! batcher delivers to the loopback collector (count-only store, a child process; nothing
//! pinned: producers, batcher and collector share the 2 CPUs as the scheduler likes).
//! Reported: the caller's cost per span (timed bursts, wall clock), spans delivered and
//! acknowledged per second (the client's delivery report, checked against the collector's
//! count), spans refused at a full queue, the batcher's CPU per span, and the peak RSS of
//! this process (the collector's memory is in the child) beside the bytes of the spans
//! `max_queue_size` lets it hold.
//!
//! `STASO_SUSTAINED_MIX=1`: the bursts alternate between two call sites instead of one.
//! `STASO_SUSTAINED_CAPTURE=1`: every span captures two small arguments and its result
//! (which the batcher then writes as JSON) instead of nothing.
//!
//! Target 6: with the collector idle, one span, then `flush()`: how long flush takes to
//! return, over `FLUSHES` tries.
#![allow(missing_docs, clippy::print_stdout)]

use staso_benches::{self as b, env_or};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PRODUCERS: usize = 2;
const BURST: u64 = 1_000;
const QUEUE: usize = 10_000;
const BATCH: usize = 500;
const FLUSHES: usize = 200;

/// CPU time (user + system) of this process's thread named `name`, from /proc.
fn thread_cpu(name: &str) -> Duration {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut ticks = 0;
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised command: utime and stime are the 12th and 13th.
        if let Some(rest) = stat.rsplit(')').next() {
            let f: Vec<&str> = rest.split_whitespace().collect();
            ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            ticks += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

struct ProducerResult {
    spans: u64,
    bursts: Vec<Duration>,
    /// CPU time of this thread inside the timed bursts.
    cpu: Duration,
}

fn producer(stop: Arc<AtomicBool>, rate_per_thread: f64) -> ProducerResult {
    // Alternate two call sites (an agent's spans come from several), not one.
    let mix = env_or("STASO_SUSTAINED_MIX", 0) != 0;
    let capture = env_or("STASO_SUSTAINED_CAPTURE", 0) != 0;
    let mut bursts = Vec::new();
    let mut spans = 0;
    let mut cpu = Duration::ZERO;
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let agent = b::agent_span();
        let c = b::thread_cpu_time();
        let t = Instant::now();
        for i in 0..BURST {
            if capture {
                black_box(b::tool_default_capture(black_box("refund policy"), i));
            } else if mix && i % 2 == 1 {
                black_box(b::other_tool_nothing_captured(black_box(i), 1));
            } else {
                black_box(b::tool_nothing_captured(black_box(i), 1));
            }
        }
        bursts.push(t.elapsed());
        cpu += b::thread_cpu_time() - c;
        drop(agent);
        spans += BURST + 1;
        // Paced: the next burst starts when the offered rate says so.
        let due = start + Duration::from_secs_f64(spans as f64 / rate_per_thread);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
    ProducerResult { spans, bursts, cpu }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_nanos() as f64 / BURST as f64
}

fn sustained() {
    let secs: f64 = env_or("STASO_SUSTAINED_SECS", 10.0);
    let rate: f64 = env_or("STASO_SUSTAINED_RATE", 300_000.0);
    let collector = b::CollectorProcess::start_with(false);
    let client = b::init(b::options(collector.url(), true, QUEUE).batch_size(BATCH));
    // Warm up (first clock read calibrates the TSC, first request opens the connection).
    for i in 0..1_000 {
        black_box(b::tool_nothing_captured(i, 1));
    }
    let warm = client.flush(Duration::from_secs(30));
    b::reset_peak_rss();
    let rss_before = b::proc_status_kib("VmRSS:");
    let batcher_before = thread_cpu("staso-batcher");

    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || producer(stop, rate / PRODUCERS as f64))
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let results: Vec<ProducerResult> = handles
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|_| panic!("a producer panicked")))
        .collect();
    let produced_for = start.elapsed();
    let report = client.flush(Duration::from_secs(120));
    let elapsed = start.elapsed();
    let batcher_cpu = thread_cpu("staso-batcher") - batcher_before;
    let rss_peak = b::proc_status_kib("VmHWM:");
    let final_report = client.shutdown(Duration::from_secs(60));
    let (counted, duplicates) = collector.finish();

    let spans: u64 = results.iter().map(|r| r.spans).sum();
    let cpu: Duration = results.iter().map(|r| r.cpu).sum();
    let mut bursts: Vec<Duration> = results.into_iter().flat_map(|r| r.bursts).collect();
    bursts.sort();
    let mean = bursts.iter().sum::<Duration>().as_nanos() as f64
        / (bursts.len() as u64 * BURST).max(1) as f64;
    let cpu_per_span = cpu.as_nanos() as f64 / (bursts.len() as u64 * BURST).max(1) as f64;
    let delivered = report.delivered - warm.delivered;
    let rejected = report.rejected - warm.rejected;
    let record = staso::__private::SPAN_RECORD_BYTES;
    // What the SDK keeps for spans at the bound, in bytes, from the sizes of its
    // structures: the lanes of the threads that ended spans (the producers and this one),
    // the overflow, the batcher's store of `QUEUE` spans, and the request bodies. The
    // peak RSS growth is compared with it (BENCHMARKS.md, target 5).
    let bound_kib =
        staso::__private::bytes_at_bound(QUEUE, BATCH, PRODUCERS + 1, b::SPAN_JSON_BYTES) / 1024;
    // With captures, what they take on top: the allowance of each held span and the pool
    // of empty boxes (these spans stay within their allowance, so nothing is charged
    // against `max_queue_bytes`, whose term is left out).
    let capture = env_or("STASO_SUSTAINED_CAPTURE", 0) != 0;
    let captured_kib = if capture {
        staso::__private::captured_bytes_at_bound(QUEUE, BATCH, 0) / 1024
    } else {
        0
    };
    println!("sustained: {PRODUCERS} producers, {secs} s, offered {rate:.0} spans/s, batch_size {BATCH}, max_queue_size {QUEUE}");
    println!(
        "  caller cost per span: {cpu_per_span:.1} ns of the caller thread's CPU time; wall clock mean {mean:.1} ns (with the time the thread waited for a CPU), median burst {:.1} ns, p99 burst {:.1} ns ({} bursts of {BURST})",
        percentile(&bursts, 0.5),
        percentile(&bursts, 0.99),
        bursts.len()
    );
    println!(
        "  produced {spans} spans in {:.2} s; delivered and acknowledged {delivered} in {:.2} s: {:.0} spans/s; refused (queue full) {rejected}; failed {}",
        produced_for.as_secs_f64(),
        elapsed.as_secs_f64(),
        delivered as f64 / elapsed.as_secs_f64(),
        report.failed
    );
    println!(
        "  collector counted {counted} final spans (incl. warm-up), {duplicates} received twice; final report ok: {}",
        final_report.ok()
    );
    println!(
        "  batcher CPU: {:.2} s = {:.0} ns per delivered span",
        batcher_cpu.as_secs_f64(),
        batcher_cpu.as_nanos() as f64 / delivered.max(1) as f64
    );
    println!(
        "  RSS: {rss_before} KiB before, peak {rss_peak} KiB (+{} KiB); the SDK's bound at max_queue_size {QUEUE} with {} threads ending spans ({record} B a record, bodies of {BATCH} spans of {} B): {bound_kib} KiB",
        rss_peak.saturating_sub(rss_before),
        PRODUCERS + 1,
        b::SPAN_JSON_BYTES
    );
    if capture {
        println!(
            "  with captures, at most {captured_kib} KiB more: the allowance of {QUEUE} held spans and the pool of empty boxes"
        );
    }
    println!(
        "RESULT sustained caller_cpu_ns={cpu_per_span:.1} caller_wall_mean_ns={mean:.1} caller_median_ns={:.1} delivered_per_s={:.0} refused={rejected} batcher_ns_per_span={:.0} rss_peak_kib={rss_peak} rss_growth_kib={} bound_kib={bound_kib} captured_bound_kib={captured_kib} record_bytes={record}",
        percentile(&bursts, 0.5),
        delivered as f64 / elapsed.as_secs_f64(),
        batcher_cpu.as_nanos() as f64 / delivered.max(1) as f64,
        rss_peak.saturating_sub(rss_before)
    );
}

fn flush_latency() {
    let collector = b::CollectorProcess::start_with(false);
    let client = b::init(b::options(collector.url(), true, QUEUE));
    let mut times = Vec::with_capacity(FLUSHES);
    for i in 0..FLUSHES as u64 + 5 {
        black_box(b::tool_nothing_captured(i, 1));
        let t = Instant::now();
        let r = client.flush(Duration::from_secs(5));
        let e = t.elapsed();
        assert!(r.ok(), "flush did not deliver: {r:?}");
        if i >= 5 {
            times.push(e);
        }
        // The collector is idle again before the next try.
        std::thread::sleep(Duration::from_millis(2));
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = ms(times[times.len() / 2]);
    let p99 = ms(times[(times.len() * 99) / 100]);
    let max = ms(times[times.len() - 1]);
    println!("flush latency (one span, then flush, idle collector, {FLUSHES} tries): median {median:.2} ms, p99 {p99:.2} ms, max {max:.2} ms");
    println!("RESULT flush median_ms={median:.3} p99_ms={p99:.3} max_ms={max:.3}");
    drop(client);
    let _ = collector.finish();
}

fn main() {
    b::serve_collector_if_child();
    // `cargo bench --workspace --no-run` builds this; `cargo bench` runs it. Skip the long
    // run when cargo asks only to list or test the benches.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let filter = args.iter().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_none_or(|f| "flush".contains(f.as_str())) {
        flush_latency();
    }
    if filter.is_none_or(|f| "sustained".contains(f.as_str())) {
        sustained();
    }
}

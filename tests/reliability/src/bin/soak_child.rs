//! The producer side of the soak test, in its own process so its memory is measured
//! alone: N spans from T threads, then a long flush. Prints one JSON line with the
//! report, the peak RSS and the number of spans produced; writes the span ids to the file
//! named by `SOAK_IDS`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::time::{Duration, Instant};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    let threads: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    let rate_per_thread: u64 = std::env::args()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let client = staso_core::init(
        staso_reliability_tests::child_options()
            .batch_size(500)
            .flush_interval(Duration::from_millis(200))
            .max_queue_size(50_000)
            .request_timeout(Duration::from_secs(1)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let baseline = peak_rss_kib();
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let n = total / threads;
                let mut ids = Vec::with_capacity(n);
                let t0 = Instant::now();
                for i in 0..n {
                    // Paced: a steady producer, not a burst that only measures the bound.
                    let due = Duration::from_micros(i as u64 * 1_000_000 / rate_per_thread);
                    if let Some(wait) = due.checked_sub(t0.elapsed()) {
                        if wait > Duration::from_millis(1) {
                            std::thread::sleep(wait);
                        }
                    }
                    let s = staso_core::span("soak", staso_core::Kind::Tool);
                    ids.push(s.span_id().map(|i| i.to_u64()).unwrap_or(0));
                }
                ids
            })
        })
        .collect();
    let ids: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap_or_default())
        .collect();
    let produced_in = started.elapsed();
    let report = client.flush(Duration::from_secs(120));
    let delivered_in = started.elapsed();
    if let Ok(path) = std::env::var("SOAK_IDS") {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("ids file"));
        for id in &ids {
            writeln!(
                f,
                "{}",
                staso_core::SpanId::from_u64(*id)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            )
            .expect("write");
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "produced": ids.len(),
            "accepted": report.accepted,
            "delivered": report.delivered,
            "failed": report.failed,
            "pending": report.pending,
            "rejected": report.rejected,
            "timed_out": report.timed_out,
            "baseline_rss_kib": baseline,
            "peak_rss_kib": peak_rss_kib(),
            "produce_secs": produced_in.as_secs_f64(),
            "deliver_secs": delivered_in.as_secs_f64(),
        })
    );
}

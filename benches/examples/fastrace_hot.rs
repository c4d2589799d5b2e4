//! fastrace's caller side in a loop, measured as staso's `hot` example measures staso's:
//! instruction counts (`valgrind --tool=callgrind --toggle-collect='*traced*' target/release/examples/fastrace_hot 40000`)
//! and the caller thread's CPU time a span, the root span included and the flush after
//! each burst not (`hot` waits for delivery untimed too). Bursts of `BURST` spans
//! (default 4 000, below fastrace's local capacity); `GAP=<ms>` sleeps that long before
//! each burst, as in `hot`. The last line is each burst's CPU time, root span and its end
//! included, as `hot` prints staso's (see `staso_benches::BurstCpu`).
#![allow(missing_docs, clippy::print_stdout)]

use fastrace::prelude::*;
use std::hint::black_box;

use staso_benches::fastrace_anchor::{traced, Discard};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let burst: u64 = staso_benches::env_or("BURST", 4_000);
    fastrace::set_reporter(Discard, fastrace::collector::Config::default());
    let t = staso_benches::thread_cpu_time();
    let mut untimed = std::time::Duration::ZERO;
    let mut done = 0;
    let gap: u64 = staso_benches::env_or("GAP", 0);
    let mut bursts = staso_benches::BurstCpu::default();
    while done < n {
        if gap > 0 {
            std::thread::sleep(std::time::Duration::from_millis(gap));
        }
        bursts.time(|| {
            let root = Span::root("agent", SpanContext::random());
            let guard = root.set_local_parent();
            for i in 0..burst {
                black_box(traced(black_box(i), 1));
            }
            drop(guard);
            drop(root);
        });
        // The collector's work, which fastrace does on its own thread unless flushed: run
        // here, but not counted (as `hot` does not count the wait for delivery).
        let c = staso_benches::thread_cpu_time();
        fastrace::flush();
        untimed += staso_benches::thread_cpu_time() - c;
        done += burst;
    }
    let cpu = staso_benches::thread_cpu_time() - t - untimed;
    println!(
        "fastrace: thread cpu ns/span {:.1} (incl. root spans)",
        cpu.as_nanos() as f64 / n as f64
    );
    println!("fastrace: {}", bursts.summary(burst));
}

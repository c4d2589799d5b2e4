//! What the calling thread pays to wake a parked batcher: `tokio::sync::Notify::notify_one`
//! on a task that waits in a current-thread runtime, as the batcher does (its runtime
//! parks the thread; the wake-up unparks it through an eventfd write). Measured in the
//! caller's own CPU time (`CLOCK_THREAD_CPUTIME_ID`), less the cost of reading that
//! clock, over `n` wake-ups (default 2 000), each after the waiter has parked again.
//!
//! `cargo build --profile bench -p staso-benches --example wake_cost &&
//! target/release/examples/wake_cost`
#![allow(missing_docs, clippy::print_stdout)]

use staso_benches::thread_cpu_time;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let notify = Arc::new(tokio::sync::Notify::new());
    let woken = Arc::new(AtomicU64::new(0));
    {
        let (notify, woken) = (notify.clone(), woken.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                loop {
                    notify.notified().await;
                    woken.fetch_add(1, Release);
                }
            });
        });
    }
    // The clock read's own cost, taken off each measurement.
    let reads = 2_000u32;
    let t0 = thread_cpu_time();
    for _ in 0..reads {
        std::hint::black_box(thread_cpu_time());
    }
    let read = (thread_cpu_time() - t0) / reads;
    let mut total = Duration::ZERO;
    for i in 0..n {
        while woken.load(Acquire) < i {
            std::thread::yield_now();
        }
        // Long enough for the waiter to park again.
        std::thread::sleep(Duration::from_micros(200));
        let t = thread_cpu_time();
        notify.notify_one();
        total += (thread_cpu_time() - t).saturating_sub(read);
    }
    println!(
        "notify_one on a parked task: {:.0} ns of the caller's CPU a wake-up (clock read {} ns, taken off)",
        total.as_nanos() as f64 / n as f64,
        read.as_nanos()
    );
}

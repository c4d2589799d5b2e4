//! A quick loop for profiling the caller's side of a span (`perf record` friendly):
//! `cargo run --release -p staso-benches --example hot -- nothing 2000000`.
//! Modes: `nothing` (target 1), `capture` (target 2), `disabled` (target 3), `conversation`
//! (target 1 inside a conversation), `async-nothing` and `async-capture` (the same two
//! functions as `async fn`s, each future polled once: it completes at once),
//! `unsampled` (spans of a trace sampling left out),
//! `policy-off` (the `capture` function, its capture switched off by the client's policy
//! rather than by its attribute: the attribute's code for capture is there, unused),
//! and for the tracing bridge a plain `tracing` span (no GenAI field) under
//! `registry().with(b::NoopLayer)` plus: nothing (`tracing-registry`), the staso layer
//! (`tracing-staso`), or a no-op layer behind a per-layer filter that takes nothing
//! (`tracing-filtered`). Bursts of `BURST` spans (default 1 000) under an agent span;
//! every `EVERY` bursts (default 5) it waits (untimed) for delivery, as the criterion bench
//! does. The last line is each burst's CPU time (agent span included), as `fastrace_hot`
//! and `design_floor` print theirs (see `BurstCpu`). `GAP=<ms>` sleeps that long before each burst (after 50 ms the batcher has
//! parked: bursts after a quiet spell, with whatever the caches lost meanwhile).
#![allow(missing_docs, clippy::print_stdout)]

use staso_benches as b;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The subscriber of a `tracing-*` mode, set as this thread's default.
fn bridge_subscriber(mode: &str) -> Option<tracing::subscriber::DefaultGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer as _;
    let base = tracing_subscriber::registry().with(b::NoopLayer);
    let d = match mode {
        "tracing-registry" => tracing::subscriber::set_default(base),
        "tracing-staso" => tracing::subscriber::set_default(base.with(staso::tracing::layer())),
        "tracing-filtered" => tracing::subscriber::set_default(
            base.with(b::NoopLayer.with_filter(tracing_subscriber::filter::filter_fn(|_| false))),
        ),
        _ => return None,
    };
    Some(d)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "nothing".into());
    let n: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    b::serve_collector_if_child();
    let collector = b::CollectorProcess::start();
    // `PROFILE=1`: a queue that holds every span and no waiting, so that a profiler sees
    // the caller's side only (the batcher delivers in the background).
    let profile = std::env::var("PROFILE").is_ok();
    let queue = if profile { n as usize + 1_000 } else { 10_000 };
    let mut options = b::options(collector.url(), mode != "disabled", queue);
    if mode == "unsampled" {
        // Every trace left out by sampling: the spans inside cost the unsampled path.
        options = options.sample_rate(0.0);
    }
    if mode == "policy-off" {
        options = options.capture_tool_arguments(false).capture_output(false);
    }
    let client = b::init(options);
    let _subscriber = bridge_subscriber(&mode);
    if std::env::var_os("NOPIN").is_none() {
        b::pin_threads();
    }
    let burst: u64 = b::env_or("BURST", 1000);
    let every: u64 = b::env_or("EVERY", 5);
    let mut bursts = Vec::new();
    let mut burst_cpu = b::BurstCpu::default();
    let (mut post, mut after_flush) = (Vec::new(), false);
    let mut done = 0;
    let cpu0 = b::thread_cpu_time();
    let mut untimed_cpu = Duration::ZERO;
    let body = |i: u64| match mode.as_str() {
        "capture" | "policy-off" => {
            black_box(b::tool_default_capture(black_box("refund policy"), i))
        }
        "async-capture" => black_box(
            b::poll_once(b::async_tool_default_capture(black_box("refund policy"), i)).unwrap_or(0),
        ),
        "async-nothing" => {
            black_box(b::poll_once(b::async_tool_nothing_captured(black_box(i), 1)).unwrap_or(0))
        }
        m if m.starts_with("tracing-") => {
            b::tracing_plain_span(i);
            i
        }
        _ => black_box(b::tool_nothing_captured(black_box(i), 1)),
    };
    let gap: u64 = b::env_or("GAP", 0);
    while done < n {
        if gap > 0 {
            std::thread::sleep(Duration::from_millis(gap));
        }
        let run = || {
            let agent = b::agent_span();
            let t = Instant::now();
            for i in 0..burst {
                body(i);
            }
            let e = t.elapsed();
            drop(agent);
            e
        };
        let e = burst_cpu.time(|| {
            if mode == "conversation" {
                staso::conversation("bench-conversation").run(run)
            } else {
                run()
            }
        });
        bursts.push(e);
        if after_flush {
            post.push(e);
        }
        after_flush = false;
        done += burst;
        if !profile && done % (every * burst) == 0 {
            let c = b::thread_cpu_time();
            after_flush = true;
            let r = staso::flush(Duration::from_secs(60));
            assert!(r.rejected == 0, "{r:?}");
            untimed_cpu += b::thread_cpu_time() - c;
        }
    }
    let cpu = b::thread_cpu_time() - cpu0 - untimed_cpu;
    if !post.is_empty() {
        let m =
            post.iter().sum::<Duration>().as_nanos() as f64 / (post.len() as u64 * burst) as f64;
        println!(
            "bursts right after a wait for delivery: {} of {}, mean {m:.1} ns/span",
            post.len(),
            bursts.len()
        );
    }
    bursts.sort();
    let per = |d: Duration| d.as_nanos() as f64 / burst as f64;
    let mean = bursts.iter().sum::<Duration>().as_nanos() as f64 / done as f64;
    println!(
        "{mode}: wall ns/span min {:.1} median {:.1} mean {mean:.1}; thread cpu ns/span {:.1} (incl. agent spans)",
        per(bursts[0]),
        per(bursts[bursts.len() / 2]),
        cpu.as_nanos() as f64 / done as f64
    );
    println!("{mode}: {}", burst_cpu.summary(burst));
    if profile {
        std::process::exit(0);
    }
    let r = client.shutdown(Duration::from_secs(60));
    assert!(mode == "disabled" || r.ok(), "{r:?}");
}

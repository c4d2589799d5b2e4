//! Two tracers' bursts alternating in one process, for a ratio that a busy machine does
//! not skew: `hot` and `fastrace_hot` run one after the other, seconds apart, and this
//! machine's speed can change by 1.7× between them (another tenant's load; see
//! BENCHMARKS.md, "On a busy host"). Here each pair of bursts runs within a few
//! milliseconds, which of the two goes first alternates, and the ratio is taken pair by
//! pair, so a change of state hits both sides of a ratio alike.
//!
//! Modes (`cargo build --profile bench -p staso-benches --example paired`, then
//! `target/release/examples/paired <mode>`):
//! - `fastrace` (issue 13, target 1): staso's `#[staso::tool]` capturing nothing against
//!   fastrace's `#[trace]` with a reporter set;
//! - `capture` (target 3): the same staso tool capturing two small arguments and its
//!   result against one capturing nothing.
//!
//! Each burst is `BURST` spans (default 4 000) under one root span, timed by the caller
//! thread's CPU time, root included (`BurstCpu`'s measure); after it, untimed, staso
//! waits until the collector acknowledged everything and fastrace is flushed, as in
//! `hot` and `fastrace_hot`. `PAIRS` pairs (default 60) after 4 untimed ones. The caller
//! is pinned to CPU 0 and every other thread to CPU 1 unless `NOPIN` is set. The last
//! line, `RESULT paired ...`, is what `scripts/bench.sh` reads. `QUEUE` sets
//! `max_queue_size` (default 10 000).
#![allow(missing_docs, clippy::print_stdout)]

use fastrace::prelude::*;
use staso_benches as b;
use std::hint::black_box;
use std::time::Duration;

use staso_benches::fastrace_anchor::{traced, Discard};

/// What a burst runs.
#[derive(Clone, Copy)]
enum Side {
    Staso { capture: bool },
    Fastrace,
}

impl Side {
    /// One burst: its CPU time a span (root included), then the untimed wait for
    /// delivery (staso) or flush (fastrace).
    fn burst(self, spans: u64) -> f64 {
        let t = b::thread_cpu_time();
        match self {
            Side::Staso { capture } => {
                let agent = b::agent_span();
                for i in 0..spans {
                    if capture {
                        black_box(b::tool_default_capture(black_box("refund policy"), i));
                    } else {
                        black_box(b::tool_nothing_captured(black_box(i), 1));
                    }
                }
                drop(agent);
            }
            Side::Fastrace => {
                let root = Span::root("agent", SpanContext::random());
                let guard = root.set_local_parent();
                for i in 0..spans {
                    black_box(traced(black_box(i), 1));
                }
                drop(guard);
                drop(root);
            }
        }
        let cpu = b::thread_cpu_time().saturating_sub(t);
        match self {
            Side::Staso { .. } => {
                let r = staso::flush(Duration::from_secs(60));
                assert!(r.rejected == 0, "{r:?}");
            }
            Side::Fastrace => fastrace::flush(),
        }
        cpu.as_nanos() as f64 / spans as f64
    }
}

/// The value at quantile `q` of sorted `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "fastrace".into());
    let (a, b_side, names) = match mode.as_str() {
        "fastrace" => (
            Side::Staso { capture: false },
            Side::Fastrace,
            ("staso", "fastrace"),
        ),
        "capture" => (
            Side::Staso { capture: true },
            Side::Staso { capture: false },
            ("capture", "nothing"),
        ),
        other => panic!("unknown mode {other:?}: fastrace or capture"),
    };
    b::serve_collector_if_child();
    let collector = b::CollectorProcess::start();
    let client = b::init(b::options(
        collector.url(),
        true,
        b::env_or("QUEUE", 10_000),
    ));
    fastrace::set_reporter(Discard, fastrace::collector::Config::default());
    let burst: u64 = b::env_or("BURST", 4_000);
    let pairs: usize = b::env_or("PAIRS", 60);
    // Untimed: every thread started (the batcher's, fastrace's), lanes grown, caches warm.
    for _ in 0..4 {
        a.burst(burst);
        b_side.burst(burst);
    }
    if std::env::var_os("NOPIN").is_none() {
        b::pin_threads();
    }
    let (mut xs, mut ys, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let (x, y) = if i % 2 == 0 {
            let x = a.burst(burst);
            (x, b_side.burst(burst))
        } else {
            let y = b_side.burst(burst);
            (a.burst(burst), y)
        };
        xs.push(x);
        ys.push(y);
        ratios.push(x / y);
    }
    for v in [&mut xs, &mut ys, &mut ratios] {
        v.sort_by(f64::total_cmp);
    }
    let (na, nb) = names;
    println!(
        "{na}: ns/span min {:.1} median {:.1}; {nb}: min {:.1} median {:.1} ({pairs} pairs of bursts of {burst})",
        xs[0],
        quantile(&xs, 0.5),
        ys[0],
        quantile(&ys, 0.5)
    );
    println!(
        "RESULT paired {mode} ratio_median {:.2} ratio_q1 {:.2} ratio_q3 {:.2} ratio_of_minimums {:.2}",
        quantile(&ratios, 0.5),
        quantile(&ratios, 0.25),
        quantile(&ratios, 0.75),
        xs[0] / ys[0]
    );
    let r = client.shutdown(Duration::from_secs(60));
    assert!(r.ok(), "{r:?}");
}

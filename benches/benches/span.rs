//! Per-span cost on the caller's thread (targets 1–3 of BENCHMARKS.md), side by side with
//! fastrace, tracing and tracing-opentelemetry, and the floor figures they sit on (an empty
//! call, a clock read, a queue push), all in one run of this binary.
//!
//! Spans are timed in bursts of `BURST` nested in one agent (or root) span each, as in an
//! agent run; opening and closing the agent span is not timed. For staso the client is
//! initialised against the loopback collector (count-only store, in a child process) and
//! its batcher runs: it is woken during the burst (every `batch_size` spans) and drains the
//! queue while the burst goes on. Once half the queue may be in use the bench waits,
//! untimed, until everything is delivered and acknowledged, so that every timed span is
//! accepted (a span dropped at a full queue would be cheaper and flatter us).
//!
//! Threads are pinned (`pin_threads`): the caller on CPU 0, every background thread (our
//! batcher, fastrace's and OpenTelemetry's collector threads, the collector process) on
//! CPU 1 — on 2 CPUs that is the only way a figure measures the caller's own work rather
//! than the time the scheduler gives our background threads on its CPU. The background
//! cost is measured by the sustained bench. Anchors are measured the same way: fastrace
//! with its reporter set (its collector thread running), tracing with the registry.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput};
use staso_benches as b;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Spans per agent span (one timed burst).
const BURST: u64 = 1_000;
/// Queue bound of the bench client (the default of `max_queue_size`).
const QUEUE: usize = 10_000;

/// Measurement time per figure, in ms (`STASO_BENCH_MS`, default 500); staso's enabled
/// figures get four times as long (see `staso_enabled`).
fn budget_ms() -> u64 {
    b::bench_ms(500)
}

fn group(
    c: &mut Criterion,
    ms: u64,
) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("per_span");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(ms / 2))
        .measurement_time(Duration::from_millis(ms))
        .throughput(Throughput::Elements(1));
    g
}

fn quick(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    group(c, budget_ms())
}

// ---------------------------------------------------------------------------- floors

#[inline(never)]
fn empty() {}

fn floors(c: &mut Criterion) {
    b::pin_threads();
    let mut g = quick(c);
    // Through a pointer the optimizer cannot see through, so the call is made.
    let empty_fn: fn() = black_box(empty);
    g.bench_function("floor/empty_inline_never_call", |bn| bn.iter(empty_fn));
    g.bench_function("floor/std_instant_now", |bn| bn.iter(Instant::now));
    g.bench_function("floor/minstant_now_tsc", |bn| {
        bn.iter(minstant::Instant::now)
    });
    let clock = quanta::Clock::new();
    g.bench_function("floor/quanta_raw_tsc", |bn| bn.iter(|| clock.raw()));
    g.bench_function("floor/quanta_now_tsc_scaled", |bn| bn.iter(|| clock.now()));
    let q = crossbeam_queue::ArrayQueue::<[u64; 16]>::new(1024);
    g.bench_function("floor/arrayqueue_push_pop_1thread", |bn| {
        bn.iter(|| {
            let _ = q.push(black_box([7u64; 16]));
            black_box(q.pop())
        })
    });
    // A single-producer ring (rtrb, the design of staso's lanes, see export/ring.rs): a
    // 128-byte record pushed and popped.
    let (mut tx, mut rx) = rtrb::RingBuffer::<[u64; 16]>::new(1024);
    g.bench_function("floor/rtrb_push_pop_1thread", |bn| {
        bn.iter(|| {
            let _ = tx.push(black_box([7u64; 16]));
            black_box(rx.pop().ok())
        })
    });
    g.bench_function("floor/plain_fn", |bn| {
        bn.iter(|| b::plain(black_box(1), black_box(2)))
    });
    g.finish();
}

// ---------------------------------------------------------------------------- staso

/// Times `iters` spans made by `one`, in bursts of `BURST` under an agent span; after each
/// burst, waits (untimed, spinning: see `flush_busy`) until everything sent is delivered
/// and acknowledged, as the fastrace anchor flushes its collector after each burst: no
/// burst pays for the delivery of the ones before, and none is dropped at a full queue.
fn staso_bursts(iters: u64, one: impl Fn(u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(BURST);
        let agent = b::agent_span();
        let t = Instant::now();
        for i in 0..n {
            one(i);
        }
        total += t.elapsed();
        drop(agent);
        done += n;
        let r = b::flush_busy(Duration::from_secs(60));
        assert!(
            r.rejected == 0 && r.pending == 0 && r.failed == 0 && !r.timed_out,
            "spans were not all delivered, the figure would be wrong: {r:?}"
        );
    }
    total
}

fn staso_enabled(c: &mut Criterion, url: &str) {
    let client = b::init(b::options(url, true, QUEUE));
    b::pin_threads();
    // Criterion sizes samples by wall time, which here includes the untimed waits for
    // delivery (~20x the bursts): a longer run gives each sample dozens of bursts.
    let mut g = group(c, budget_ms() * 4);
    g.bench_function("staso/enabled_nothing_captured", |bn| {
        bn.iter_custom(|iters| {
            staso_bursts(iters, |i| {
                black_box(b::tool_nothing_captured(black_box(i), 1));
            })
        })
    });
    g.bench_function("staso/enabled_default_capture_2_args_and_result", |bn| {
        bn.iter_custom(|iters| {
            staso_bursts(iters, |i| {
                black_box(b::tool_default_capture(black_box("refund policy"), i));
            })
        })
    });
    g.finish();
    big_argument(c);
    let r = client.shutdown(Duration::from_secs(60));
    assert!(r.ok(), "delivery failed: {r:?}");
}

/// Issue 8.6: the caller's time for a tool called with a 100 MB `String` argument, with the
/// default `max_field_bytes` (256 KiB). Each call's span carries 256 KiB of input, so the
/// bench waits (untimed) for delivery every few calls.
fn big_argument(c: &mut Criterion) {
    let doc = "a".repeat(100 * 1024 * 1024);
    let mut g = c.benchmark_group("per_span");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(budget_ms() / 2))
        .measurement_time(Duration::from_millis(budget_ms() * 2));
    g.bench_function("staso/capture_100mb_string_argument", |bn| {
        bn.iter_custom(|iters| {
            // Nested in an agent, as the other figures (a root would also send its input
            // in its provisional copy).
            let agent = b::agent_span();
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let t = Instant::now();
                black_box(b::tool_big_argument(black_box(&doc)));
                total += t.elapsed();
                if i % 8 == 7 {
                    let r = b::flush_busy(Duration::from_secs(60));
                    assert!(r.failed == 0 && r.rejected == 0, "{r:?}");
                }
            }
            drop(agent);
            let r = b::flush_busy(Duration::from_secs(60));
            assert!(r.failed == 0 && r.rejected == 0, "{r:?}");
            total
        })
    });
    g.finish();
}

fn staso_disabled(c: &mut Criterion, url: &str) {
    let client = b::init(b::options(url, false, QUEUE));
    b::pin_threads();
    let mut g = quick(c);
    g.bench_function("staso/runtime_disabled", |bn| {
        bn.iter(|| b::tool_nothing_captured(black_box(1), black_box(2)))
    });
    g.finish();
    drop(client);
}

/// A span inside a trace that sampling left out (`sample_rate` 0): the root decided, its
/// children cost a branch and record nothing (issue 12.4: no more than runtime-disabled).
fn staso_unsampled(c: &mut Criterion, url: &str) {
    let client = b::init(b::options(url, true, QUEUE).sample_rate(0.0));
    b::pin_threads();
    let mut g = quick(c);
    let agent = b::agent_span();
    g.bench_function("staso/unsampled_trace_nothing_captured", |bn| {
        bn.iter(|| b::tool_nothing_captured(black_box(1), black_box(2)))
    });
    drop(agent);
    g.finish();
    let r = client.shutdown(Duration::from_secs(5));
    assert_eq!(r.delivered, 0, "an unsampled trace sends nothing: {r:?}");
}

fn staso(c: &mut Criterion) {
    let collector = b::CollectorProcess::start();
    staso_enabled(c, collector.url());
    staso_disabled(c, collector.url());
    staso_unsampled(c, collector.url());
    let (spans, duplicates) = collector.finish();
    assert_eq!(
        duplicates, 0,
        "the collector received {duplicates} spans twice"
    );
    // Zero when a filter skipped the staso benches.
    let _ = spans;
}

// ---------------------------------------------------------------------------- fastrace

use staso_benches::fastrace_anchor;

fn fastrace(c: &mut Criterion) {
    use fastrace::prelude::*;
    fastrace::set_reporter(
        fastrace_anchor::Discard,
        fastrace::collector::Config::default(),
    );
    b::pin_threads();
    let mut g = quick(c);
    g.bench_function("fastrace/trace_reporter_set", |bn| {
        bn.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(BURST);
                let root = Span::root("agent", SpanContext::random());
                let guard = root.set_local_parent();
                let t = Instant::now();
                for i in 0..n {
                    black_box(fastrace_anchor::traced(black_box(i), 1));
                }
                total += t.elapsed();
                drop(guard);
                drop(root);
                // Untimed, as staso's wait for delivery after each burst: without it, a
                // burst pays for the reporting of the ones before (68-122 ns a span here
                // instead of 28-37).
                fastrace::flush();
                done += n;
            }
            total
        })
    });
    g.finish();
    fastrace::flush();
}

// ---------------------------------------------------------------------------- tracing

mod tracing_anchor {
    #[tracing::instrument]
    #[inline(never)]
    pub fn instrumented(a: u64, b: u64) -> u64 {
        std::hint::black_box(a.wrapping_add(b))
    }

    /// A span exporter that drops the batch (the batch processor's thread still runs).
    #[derive(Debug)]
    pub struct DiscardExporter;
    impl opentelemetry_sdk::trace::SpanExporter for DiscardExporter {
        async fn export(
            &self,
            batch: Vec<opentelemetry_sdk::trace::SpanData>,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            std::hint::black_box(batch);
            Ok(())
        }
    }
}

fn tracing_bursts(iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(BURST);
        let root = tracing::info_span!("agent").entered();
        let t = Instant::now();
        for i in 0..n {
            black_box(tracing_anchor::instrumented(black_box(i), 1));
        }
        total += t.elapsed();
        drop(root);
        done += n;
    }
    total
}

fn tracing(c: &mut Criterion) {
    use tracing_subscriber::layer::SubscriberExt;
    let mut g = quick(c);
    {
        let subscriber = tracing_subscriber::registry().with(b::NoopLayer);
        let _d = tracing::subscriber::set_default(subscriber);
        g.bench_function("tracing/instrument_registry_noop_layer", |bn| {
            bn.iter_custom(tracing_bursts)
        });
    }
    {
        use opentelemetry::trace::TracerProvider as _;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(tracing_anchor::DiscardExporter)
            .build();
        let tracer = provider.tracer("bench");
        b::pin_threads();
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        let _d = tracing::subscriber::set_default(subscriber);
        g.bench_function("tracing/instrument_opentelemetry_batch", |bn| {
            bn.iter_custom(tracing_bursts)
        });
        drop(_d);
        let _ = provider.shutdown();
    }
    g.finish();
}

// ------------------------------------------------- caller's CPU time, every tracer alike

/// Spans per burst for the CPU-time figures: below fastrace's local capacity (10 240), so
/// no tracer hands spans over in the middle of a burst.
const CPU_BURST: u64 = 4_000;

/// The caller's own CPU time (`CLOCK_THREAD_CPUTIME_ID`) for `iters` calls of `one`, in
/// bursts of `CPU_BURST` under a root made by `root`, with `flush` (untimed) after each
/// burst so the tracer's background work is done before the next. Scheduling, the
/// background threads and the collector do not count; the caller's page faults and
/// cache misses do. Every tracer is measured through this one function.
fn cpu_bursts<R>(
    iters: u64,
    root: impl Fn() -> R,
    one: impl Fn(u64),
    flush: impl Fn(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(CPU_BURST);
        let r = root();
        let t = b::thread_cpu_time();
        for i in 0..n {
            one(i);
        }
        total += b::thread_cpu_time().saturating_sub(t);
        drop(r);
        flush();
        done += n;
    }
    total
}

/// Per span, the caller's CPU time: plain call, fastrace, tracing (registry only) and
/// staso (nothing captured, and two arguments and a result captured), in one run. Not
/// pinned: CPU time does not depend on where the other threads run.
fn caller_cpu(c: &mut Criterion, url: &str) {
    use fastrace::prelude::*;
    use tracing_subscriber::layer::SubscriberExt;
    b::allow_all_cpus();
    let mut g = c.benchmark_group("caller_cpu");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(budget_ms() / 2))
        .measurement_time(Duration::from_millis(budget_ms() * 2))
        .throughput(Throughput::Elements(1));
    g.bench_function("plain_call", |bn| {
        bn.iter_custom(|iters| {
            cpu_bursts(
                iters,
                || (),
                |i| {
                    black_box(b::plain(black_box(i), 1));
                },
                || (),
            )
        })
    });
    fastrace::set_reporter(
        fastrace_anchor::Discard,
        fastrace::collector::Config::default(),
    );
    g.bench_function("fastrace_trace", |bn| {
        bn.iter_custom(|iters| {
            cpu_bursts(
                iters,
                || {
                    let root = Span::root("agent", SpanContext::random());
                    let guard = root.set_local_parent();
                    (guard, root)
                },
                |i| {
                    black_box(fastrace_anchor::traced(black_box(i), 1));
                },
                fastrace::flush,
            )
        })
    });
    {
        let subscriber = tracing_subscriber::registry().with(b::NoopLayer);
        let _d = tracing::subscriber::set_default(subscriber);
        g.bench_function("tracing_instrument_registry", |bn| {
            bn.iter_custom(|iters| {
                cpu_bursts(
                    iters,
                    || tracing::info_span!("agent").entered(),
                    |i| {
                        black_box(tracing_anchor::instrumented(black_box(i), 1));
                    },
                    || (),
                )
            })
        });
    }
    let client = b::init(b::options(url, true, QUEUE));
    let flush = || {
        let r = staso::flush(Duration::from_secs(60));
        assert!(
            r.ok(),
            "spans were not all delivered, the figure would be wrong: {r:?}"
        );
    };
    g.bench_function("staso_tool_nothing_captured", |bn| {
        bn.iter_custom(|iters| {
            cpu_bursts(
                iters,
                b::agent_span,
                |i| {
                    black_box(b::tool_nothing_captured(black_box(i), 1));
                },
                flush,
            )
        })
    });
    g.bench_function("staso_tool_capture_2_args_and_result", |bn| {
        bn.iter_custom(|iters| {
            cpu_bursts(
                iters,
                b::agent_span,
                |i| {
                    black_box(b::tool_default_capture(black_box("refund policy"), i));
                },
                flush,
            )
        })
    });
    g.finish();
    let r = client.shutdown(Duration::from_secs(60));
    assert!(r.ok(), "delivery failed: {r:?}");
}

fn main() {
    // This binary also serves the loopback collector, in a child process of itself.
    b::serve_collector_if_child();
    let mut c = Criterion::default().configure_from_args();
    floors(&mut c);
    staso(&mut c);
    fastrace(&mut c);
    tracing(&mut c);
    let collector = b::CollectorProcess::start();
    caller_cpu(&mut c, collector.url());
    let (spans, duplicates) = collector.finish();
    assert_eq!(duplicates, 0, "{spans} spans, {duplicates} twice");
    c.final_summary();
}

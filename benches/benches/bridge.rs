//! Cost of a `tracing` span through the staso bridge (`staso::tracing::layer()`) on the
//! caller's thread, against `tracing`'s registry alone, with the harness and pinning of
//! `span.rs`: bursts of `BURST` spans under one root, the caller on CPU 0, the batcher and
//! the collector process on CPU 1, and untimed waits for delivery so no timed span is
//! dropped at a full queue.
//!
//! Figures:
//! - `bridge/registry_only_genai_span`: a GenAI `chat` span (created with 3 fields,
//!   entered, 2 fields recorded later, exited, closed) with the registry and a layer that
//!   does nothing — what `tracing` costs without staso;
//! - `bridge/staso_layer_genai_span`: the same span taken by the bridge, mapped and
//!   delivered to the loopback collector as a staso LLM span;
//! - `bridge/registry_only_plain_span` and `bridge/staso_layer_plain_span`: a span without
//!   GenAI fields, which the bridge does not take (its cost beside the registry's; the
//!   registry still records it for the layer that does nothing);
//! - `bridge/filtered_noop_layer_plain_span`: the same plain span beside a layer that
//!   does nothing behind a per-layer filter that takes nothing: the anchor for the plain
//!   span through the bridge (what the per-layer filter mechanism costs by itself).
#![allow(missing_docs)]

use criterion::{Criterion, Throughput};
use staso_benches as b;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;

const BURST: u64 = 1_000;
const QUEUE: usize = 10_000;

fn budget_ms() -> u64 {
    b::bench_ms(500)
}

/// A GenAI span as rig and genai make them: fields at creation, usage recorded later.
#[inline(never)]
fn genai_span(i: u64) {
    let span = tracing::info_span!(
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
    );
    let _e = span.enter();
    span.record("gen_ai.usage.input_tokens", black_box(i));
    span.record("gen_ai.usage.output_tokens", 24u64);
}

/// Times `iters` calls of `one` in bursts under a root span (a staso agent span); waits
/// (untimed) for delivery once half the queue may be in use (`staso`: every timed span is
/// a staso span too).
fn bursts(iters: u64, staso: bool, one: fn(u64)) -> Duration {
    thread_local! {
        static SINCE_FLUSH: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(BURST);
        let root = b::agent_span();
        let t = Instant::now();
        for i in 0..n {
            one(i);
        }
        total += t.elapsed();
        drop(root);
        done += n;
        // The root is a staso span too; with `staso`, so is every timed span.
        SINCE_FLUSH.set(SINCE_FLUSH.get() + if staso { n + 1 } else { 1 });
        if SINCE_FLUSH.get() >= QUEUE as u64 / 2 {
            SINCE_FLUSH.set(0);
            let r = b::flush_busy(Duration::from_secs(60));
            assert!(
                r.rejected == 0 && r.pending == 0 && r.failed == 0 && !r.timed_out,
                "spans were not all delivered, the figure would be wrong: {r:?}"
            );
        }
    }
    total
}

fn bridge(c: &mut Criterion) {
    let collector = b::CollectorProcess::start();
    let client = b::init(b::options(collector.url(), true, QUEUE));
    b::pin_threads();
    let ms = budget_ms();
    let mut g = c.benchmark_group("per_span");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(ms / 2))
        .measurement_time(Duration::from_millis(ms * 4))
        .throughput(Throughput::Elements(1));
    {
        let _d =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(b::NoopLayer));
        g.bench_function("bridge/registry_only_genai_span", |bn| {
            bn.iter_custom(|n| bursts(n, false, genai_span))
        });
        g.bench_function("bridge/registry_only_plain_span", |bn| {
            bn.iter_custom(|n| bursts(n, false, b::tracing_plain_span))
        });
    }
    {
        // Beside a layer that takes every span (as fmt would), so that spans the bridge
        // does not take are still recorded by the registry, as in an application.
        let sub = tracing_subscriber::registry()
            .with(b::NoopLayer)
            .with(staso::tracing::layer());
        let _d = tracing::subscriber::set_default(sub);
        g.bench_function("bridge/staso_layer_genai_span", |bn| {
            bn.iter_custom(|n| bursts(n, true, genai_span))
        });
        g.bench_function("bridge/staso_layer_plain_span", |bn| {
            bn.iter_custom(|n| bursts(n, false, b::tracing_plain_span))
        });
    }
    {
        // The anchor for the plain span: a layer that does nothing behind a per-layer
        // filter that takes nothing, beside the same `NoopLayer`. What any per-layer-filtered
        // layer costs a span it does not take: `tracing-subscriber`'s bookkeeping.
        use tracing_subscriber::Layer as _;
        let sub = tracing_subscriber::registry()
            .with(b::NoopLayer)
            .with(b::NoopLayer.with_filter(tracing_subscriber::filter::filter_fn(|_| false)));
        let _d = tracing::subscriber::set_default(sub);
        g.bench_function("bridge/filtered_noop_layer_plain_span", |bn| {
            bn.iter_custom(|n| bursts(n, false, b::tracing_plain_span))
        });
    }
    g.finish();
    let r = client.shutdown(Duration::from_secs(60));
    assert!(r.ok(), "delivery failed: {r:?}");
    let (spans, duplicates) = collector.finish();
    assert_eq!(duplicates, 0);
    assert!(spans > 0, "the collector counted no span");
}

fn main() {
    b::serve_collector_if_child();
    let mut c = Criterion::default().configure_from_args();
    bridge(&mut c);
    c.final_summary();
}

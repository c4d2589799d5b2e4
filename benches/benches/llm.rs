//! The LLM wrapper's own cost on the caller's thread (BENCHMARKS.md, "LLM calls"): one
//! non-streaming chat call recorded from its request and reply bodies, and one streamed
//! chunk — as JSON values and as async-openai's typed chunks (what the async-openai
//! integration does per chunk). The provider is not called: what is timed is what the SDK
//! adds around a call.
//!
//! Same harness as `span.rs`: the client delivers to the loopback collector (count-only,
//! in a child process) with its batcher running; the caller is pinned to CPU 0 and every
//! background thread to CPU 1; calls are timed in bursts nested in an agent span, and the
//! bench waits (untimed) for delivery before the queue could fill.
#![allow(missing_docs)]

use async_openai::types::chat::CreateChatCompletionStreamResponse;
use criterion::{Criterion, Throughput};
use serde_json::{json, Value};
use staso::llm::{Api, LlmSpan};
use staso_benches as b;
use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Calls per agent span (one timed burst).
const BURST: u64 = 100;
const QUEUE: usize = 10_000;

fn request(stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream, "temperature": 0.2, "max_tokens": 256,
        "messages": [{"role": "system", "content": "You are a weather assistant. Be brief."},
                     {"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]})
}

fn reply() -> Value {
    json!({"id": "chatcmpl-1", "model": "gpt-4o-mini-2024-07-18", "service_tier": "default",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant",
            "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}}],
        "usage": {"prompt_tokens": 57, "completion_tokens": 17, "total_tokens": 74,
            "prompt_tokens_details": {"cached_tokens": 0}}})
}

/// A text chunk of a chat stream (about the size of a real one).
fn chunk(i: usize) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1767225600,
        "model": "gpt-4o-mini-2024-07-18", "service_tier": "default",
        "system_fingerprint": "fp_1", "choices": [{"index": 0, "delta": {"content": format!("word{i} ")},
        "logprobs": null, "finish_reason": null}]})
}

/// Times `iters` runs of `one` in bursts under an agent span, waiting (untimed) for
/// delivery whenever half the queue may be in use.
fn bursts(iters: u64, spans_per_call: u64, one: impl Fn()) -> Duration {
    let mut total = Duration::ZERO;
    let mut since_flush = 0;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(BURST);
        let agent = b::agent_span();
        let t = Instant::now();
        for _ in 0..n {
            one();
        }
        total += t.elapsed();
        drop(agent);
        done += n;
        since_flush += n * spans_per_call + 1;
        if since_flush >= QUEUE as u64 / 2 {
            since_flush = 0;
            let r = b::flush_busy(Duration::from_secs(60));
            assert!(
                r.rejected == 0 && r.pending == 0 && r.failed == 0 && !r.timed_out,
                "spans were not all delivered, the figure would be wrong: {r:?}"
            );
        }
    }
    total
}

fn llm(c: &mut Criterion) {
    let collector = b::CollectorProcess::start();
    let client = b::init(b::options(collector.url(), true, QUEUE));
    b::pin_threads();
    let ms = b::bench_ms(1000);
    let mut g = c.benchmark_group("llm");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(ms / 2))
        .measurement_time(Duration::from_millis(ms))
        .throughput(Throughput::Elements(1));

    let (req, resp) = (request(false), reply());
    g.bench_function("call/chat_json", |bn| {
        bn.iter_custom(|iters| {
            bursts(iters, 1, || {
                let _ = LlmSpan::start_json(Api::OpenAiChat, black_box(&req))
                    .finish_json(black_box(&resp));
            })
        })
    });

    // A stream of N chunks, whole (start, N chunks, end): the per-chunk figure is
    // (stream_101 - stream_1) / 100.
    let stream_req = request(true);
    for n in [1usize, 101] {
        let chunks: Vec<Value> = (0..n).map(chunk).collect();
        g.bench_function(format!("stream_json/{n}_chunks"), |bn| {
            bn.iter_custom(|iters| {
                bursts(iters, 1, || {
                    let it = chunks.iter().map(Ok::<_, Infallible>);
                    for c in LlmSpan::start_json(Api::OpenAiChat, &stream_req).iter(it) {
                        black_box(c.ok());
                    }
                })
            })
        });
        let typed: Vec<CreateChatCompletionStreamResponse> = chunks
            .iter()
            .map(|c| serde_json::from_value(c.clone()).expect("a valid chunk"))
            .collect();
        g.bench_function(format!("stream_async_openai_typed/{n}_chunks"), |bn| {
            bn.iter_custom(|iters| {
                bursts(iters, 1, || {
                    let it = typed.iter().map(Ok::<_, Infallible>);
                    for c in LlmSpan::start_json(Api::OpenAiChat, &stream_req).iter(it) {
                        black_box(c.ok());
                    }
                })
            })
        });
        // The same iteration without the SDK, to subtract.
        g.bench_function(format!("stream_plain/{n}_chunks"), |bn| {
            bn.iter(|| {
                for c in typed.iter().map(Ok::<_, Infallible>) {
                    black_box(c.ok());
                }
            })
        });
    }
    g.finish();
    let _ = client.shutdown(Duration::from_secs(30));
    drop(collector);
}

fn main() {
    b::serve_collector_if_child();
    let mut c = Criterion::default().configure_from_args();
    llm(&mut c);
    c.final_summary();
}

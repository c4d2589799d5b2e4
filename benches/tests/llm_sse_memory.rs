//! A server-sent-events body whose event never ends (a broken or hostile provider, or a
//! proxy that drops newlines): the SDK reading it beside the caller holds at most its
//! bound of one event (twice that while its buffer grows), skips the event, and reads the
//! events after it. The process's
//! live heap is counted, this file's one test alone in its process.

use serde_json::{json, Value};
use staso::llm::{Api, LlmSpan};
use staso::testing::capture_with;
use staso::Options;
use staso_benches as b;

#[global_allocator]
static ALLOC: b::CountingAlloc = b::CountingAlloc;

/// 64 MiB of one `data:` line, four times the decoder's bound (16 MiB).
const ENDLESS: usize = 64 << 20;

fn stream_request() -> Value {
    json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn an_event_that_never_ends_is_held_to_its_bound_and_skipped() {
    let mut peak = 0u64;
    let (_, spans) = capture_with(Options::new(), || {
        // One chunk buffer, reused: what stays is what the SDK keeps.
        let chunk = vec![b'a'; 64 * 1024];
        let start = b::live_bytes();
        b::reset_peak_live_bytes();
        let mut llm = LlmSpan::start_json(Api::OpenAiChat, &stream_request());
        llm.sse_bytes(
            b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"one \"}}]}\n\ndata: ",
        );
        for _ in 0..ENDLESS / chunk.len() {
            llm.sse_bytes(&chunk);
        }
        llm.sse_bytes(
            b"\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"two\"}}]}\n\n",
        );
        llm.sse_bytes(b"data: [DONE]\n\n");
        peak = b::peak_live_bytes().saturating_sub(start);
        llm.end();
    });
    // The line's buffer grows by doubling up to the bound (16 MiB): 8 and 16 MiB are live
    // at once while it moves.
    assert!(
        peak < 2 * (16 << 20) + (1 << 20),
        "a {ENDLESS}-byte event held up to {peak} bytes at once"
    );
    let streamed = spans.named("openai.chat.completions.create");
    let output = streamed.json()["output"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(output, r#"{"content":"one two"}"#);
}

//! A streamed reply longer than the span can show: the SDK keeps what the span shows
//! while the stream runs, not the whole reply, and the span still says the reply was
//! long (`staso.truncated.output`). (That the output and its cut size are the
//! ones keeping the whole reply gave is checked in `staso-core`'s `llm::call` tests.)
//! The process's live heap is counted, this file's one test alone in its process.

use serde_json::{json, Value};
use staso::llm::{Api, LlmSpan};
use staso::testing::capture_with;
use staso::Options;
use staso_benches as b;

#[global_allocator]
static ALLOC: b::CountingAlloc = b::CountingAlloc;

const MAX_FIELD: usize = 2_000;
/// 1 KiB a chunk (below `MAX_FIELD`: a chunk's own values are bounded by it too), 10 240
/// chunks: a 10 MiB reply.
const CHUNKS: usize = 10_240;

fn piece() -> String {
    "0123456789abcdef".repeat(64)
}

fn chunk(content: &str) -> Value {
    json!({"id": "c-1", "model": "m", "choices": [{"index": 0, "delta": {"content": content}}]})
}

fn stream_request() -> Value {
    json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn a_long_stream_holds_what_its_span_shows_not_the_whole_reply() {
    let options = || Options::new().max_field_bytes(MAX_FIELD);
    let mut peak = 0u64;
    let (_, spans) = capture_with(options(), || {
        let piece = piece();
        let start = b::live_bytes();
        b::reset_peak_live_bytes();
        // Each chunk is made when the stream yields it and dropped after: what stays is
        // what the SDK keeps.
        let chunks = (0..CHUNKS).map(|_| Ok::<_, std::io::Error>(chunk(&piece)));
        for c in LlmSpan::start_json(Api::OpenAiChat, &stream_request()).iter(chunks) {
            c.expect("ok");
        }
        peak = b::peak_live_bytes().saturating_sub(start);
    });
    let reply = piece().len() * CHUNKS;
    assert!(
        peak < 512 * 1024,
        "the stream of a {reply}-byte reply held up to {peak} bytes at once"
    );
    let streamed = spans.named("openai.chat.completions.create");
    let output = streamed.json()["output"].as_str().unwrap_or_default();
    assert!(
        output.len() <= MAX_FIELD && output.starts_with("{\"content\":\"0123"),
        "{output}"
    );
    // The cut size is a lower bound of the whole output's size (the capture stops
    // counting a long string at some point, kept whole or not).
    let cut = streamed.attribute("staso.truncated.output");
    assert!(
        cut.as_ref()
            .and_then(Value::as_u64)
            .is_some_and(|c| c as usize > 100 * MAX_FIELD),
        "the cut size says the output was {cut:?} bytes; the reply was {reply}"
    );
}

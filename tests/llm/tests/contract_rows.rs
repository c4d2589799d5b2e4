//! Rows of the LLM contract (`llm-contract.md`) that the parity run cannot see, end to
//! end: async-openai wrapped with `traced` and the JSON-level stream wrappers against the
//! fake provider on loopback, spans captured in memory. Errors reaching the caller, the
//! error text in the span, time to first token taken at the consumer's pull, how a
//! blocking stream ends, and which streams a tool-call continuation starts from.

use async_openai::error::OpenAIError;
use async_openai::types::chat::CreateChatCompletionRequest;
use async_openai::types::responses::CreateResponse;
use futures_util::StreamExt;
use serde_json::{json, Value};
use staso::llm::{Api, LlmSpan};
use staso::testing::{capture, capture_future, CapturedSpan, CapturedSpans};
use staso::Kind;
use staso_llm_tests::fake::FakeLlm;
use staso_llm_tests::scenario::Providers;
use std::future::Future;
use std::time::{Duration, Instant};

/// Runs `f` against a fresh fake provider on a current-thread runtime and returns what it
/// returned with the spans it produced.
fn with_fake<F, Fut, R>(f: F) -> (R, CapturedSpans)
where
    F: FnOnce(Providers) -> Fut,
    Fut: Future<Output = R>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let fake = FakeLlm::start().await.expect("fake provider starts");
        capture_future(f(Providers::new(fake))).await
    })
}

fn chat(body: Value) -> CreateChatCompletionRequest {
    serde_json::from_value(body).expect("a valid chat request")
}

fn responses(body: Value) -> CreateResponse {
    serde_json::from_value(body).expect("a valid Responses request")
}

fn weather_chat() -> CreateChatCompletionRequest {
    chat(json!({"model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}]}))
}

fn ttft(s: &CapturedSpan) -> f64 {
    s.attribute("time_to_first_token")
        .and_then(|v| v.as_f64())
        .unwrap_or_else(|| panic!("no time_to_first_token on {}", s.name()))
}

/// §7: milliseconds with at most two decimals.
fn assert_two_decimals(ms: f64) {
    assert_eq!(
        (ms * 100.0).round() / 100.0,
        ms,
        "{ms} has more than 2 decimals"
    );
}

fn chunk(delta: Value) -> Value {
    json!({"id": "c-1", "model": "m-2024", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
}

fn chat_chunks() -> Vec<Value> {
    vec![
        chunk(json!({"role": "assistant", "content": ""})),
        chunk(json!({"content": "Hello "})),
        chunk(json!({"content": "world"})),
        json!({"id": "c-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        json!({"id": "c-1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2,
            "total_tokens": 11}}),
    ]
}

fn stream_request() -> Value {
    json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

// ----------------------------------------------------------------- §9 errors (rows 24, 25)

/// Row 24 + 25: a traced client returns the very error the bare client returns (same
/// variant, status and body), and the span's `error_message` is that error's text.
#[test]
fn an_async_openai_error_reaches_the_caller_unchanged_and_is_the_spans_error_message() {
    let ((traced, bare), spans) = with_fake(|p| async move {
        let traced = p.oai("error429").chat().create(weather_chat()).await;
        let bare = p
            .oai("error429")
            .into_inner()
            .chat()
            .create(weather_chat())
            .await;
        (traced.err(), bare.err())
    });
    let (Some(OpenAIError::ApiError(t)), Some(OpenAIError::ApiError(b))) = (&traced, &bare) else {
        panic!("both calls fail with the API's error: {traced:?} / {bare:?}");
    };
    assert_eq!(t.status_code.as_u16(), 429);
    assert_eq!(t.status_code, b.status_code);
    assert_eq!(t.api_error.message, "Rate limit reached for gpt-4o-mini");
    assert_eq!(t.api_error.message, b.api_error.message);
    assert_eq!(t.api_error.code, b.api_error.code);
    let text = traced.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(
        Some(text.clone()),
        bare.as_ref().map(ToString::to_string),
        "same text"
    );
    let span = spans.named("chat");
    assert_eq!(span.status(), "error");
    assert_eq!(span.error_message(), Some(text.as_str()));
    assert!(
        text.contains("429") && text.contains("Rate limit reached for gpt-4o-mini"),
        "{text}"
    );
    assert_eq!(
        span.attribute("exception.type"),
        Some(json!("RateLimitError"))
    );
}

/// Row 24 (stream) + 25: the error a stream yields midway is the bare client's error,
/// and it is the span's message.
#[test]
fn a_stream_error_reaches_the_caller_unchanged_and_is_the_spans_error_message() {
    async fn read(
        s: &mut async_openai::types::chat::ChatCompletionResponseStream,
    ) -> (usize, Option<OpenAIError>) {
        let mut ok = 0;
        while let Some(item) = s.next().await {
            match item {
                Ok(_) => ok += 1,
                Err(e) => return (ok, Some(e)),
            }
        }
        (ok, None)
    }
    let ((traced, bare), spans) = with_fake(|p| async move {
        let mut s = p
            .oai("midstream_drop")
            .chat()
            .create_stream(weather_chat())
            .await
            .expect("the stream starts");
        let traced = read(&mut s).await;
        drop(s);
        let mut s = p
            .oai("midstream_drop")
            .into_inner()
            .chat()
            .create_stream(weather_chat())
            .await
            .expect("the stream starts");
        let bare = read(&mut s).await;
        (traced, bare)
    });
    assert_eq!(traced.0, bare.0, "same chunks before the error");
    let (Some(t), Some(b)) = (&traced.1, &bare.1) else {
        panic!("both streams fail: {traced:?} / {bare:?}");
    };
    assert!(
        matches!(
            (t, b),
            (OpenAIError::StreamError(_), OpenAIError::StreamError(_))
        ),
        "{t:?} / {b:?}"
    );
    assert_eq!(t.to_string(), b.to_string());
    let span = spans.named("openai.chat.completions.create");
    assert_eq!(span.status(), "error");
    assert_eq!(span.error_message(), Some(t.to_string().as_str()));
    assert_eq!(
        span.attribute("exception.type"),
        Some(json!("APIConnectionError"))
    );
}

/// Row 6 + 24 (Responses): a failed Responses call is the placeholder `response`, and
/// its error is the bare client's.
#[test]
fn a_failed_responses_call_is_named_response_and_returns_the_clients_error() {
    let body = || responses(json!({"model": "gpt-5-mini", "input": "Weather in Paris?"}));
    let ((traced, bare), spans) = with_fake(|p| async move {
        let traced = p.oai("error400").responses().create(body()).await;
        let bare = p
            .oai("error400")
            .into_inner()
            .responses()
            .create(body())
            .await;
        (
            traced.err().map(|e| e.to_string()),
            bare.err().map(|e| e.to_string()),
        )
    });
    assert_eq!(traced, bare);
    let text = traced.expect("the call fails");
    assert!(text.contains("Invalid 'messages': empty array"), "{text}");
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name(), "response");
    assert_eq!(span.status(), "error");
    assert_eq!(span.error_message(), Some(text.as_str()));
    assert_eq!(
        span.attribute("exception.type"),
        Some(json!("BadRequestError"))
    );
    assert_eq!(span.json()["usage_available"], json!(false));
}

// ------------------------------------------------------ §8 time to first token (row 22, 17)

/// Row 22 + 17: the first token is timed when the consumer pulls it, not when its bytes
/// arrive: the fake sends the first delta within milliseconds, the consumer waits first.
#[test]
fn time_to_first_token_is_taken_when_the_consumer_pulls_the_first_token() {
    const WAIT: Duration = Duration::from_millis(120);
    let (waited, spans) = with_fake(|p| async move {
        let started = Instant::now();
        let stream = p
            .oai("text")
            .chat()
            .create_stream(weather_chat())
            .await
            .expect("the stream starts");
        tokio::time::sleep(WAIT).await;
        let n = stream.count().await;
        assert!(n > 3, "{n} chunks");
        started.elapsed()
    });
    let t = ttft(spans.named("openai.chat.completions.create"));
    assert!(t >= WAIT.as_millis() as f64, "ttft {t} ms < {WAIT:?}");
    assert!(t <= waited.as_secs_f64() * 1000.0 + 1.0, "inside the call");
    assert_two_decimals(t);
}

/// Row 22 for the blocking iterator and the raw SSE body: all chunks are there from the
/// start, the first token still counts from the consumer's first pull.
#[test]
fn a_late_first_pull_is_the_time_to_first_token_of_every_wrapper() {
    const WAIT: Duration = Duration::from_millis(60);
    let ((), spans) = capture(|| {
        let mut it = LlmSpan::start_json(Api::OpenAiChat, &stream_request())
            .iter(chat_chunks().into_iter().map(Ok::<_, std::io::Error>));
        std::thread::sleep(WAIT);
        it.by_ref().for_each(drop);
    });
    let t = ttft(&spans[0]);
    assert!(t >= WAIT.as_millis() as f64, "iter: ttft {t} ms");
    assert_two_decimals(t);

    let (events, spans) = with_fake(|p| async move {
        let req = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
            "messages": [{"role": "user", "content": "hi"}]});
        let span = LlmSpan::start_json(Api::AnthropicMessages, &req);
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/messages", p.fake.base))
            .json(&req)
            .send()
            .await
            .expect("the fake answers");
        let body = span.sse_stream(resp.bytes_stream());
        tokio::time::sleep(WAIT).await;
        body.count().await
    });
    assert!(events > 0);
    let t = ttft(spans.named("anthropic.messages.create"));
    assert!(t >= WAIT.as_millis() as f64, "sse: ttft {t} ms");
    assert_two_decimals(t);
}

// ------------------------------------------------- §8 blocking iterator endings (row 23)

/// Row 23: `LlmSpan::iter` ends its span however the iteration ends: dropped after two
/// chunks (ok, partial text, no usage, no stop reason), never iterated (ok, no output),
/// failing midway (error with the message, the text so far kept).
#[test]
fn every_way_a_blocking_stream_ends_ends_its_span() {
    let ((), spans) = capture(|| {
        let ok = || chat_chunks().into_iter().map(Ok::<_, std::io::Error>);
        let mut it = LlmSpan::start_json(Api::OpenAiChat, &stream_request()).iter(ok());
        it.next();
        it.next();
        drop(it);
        drop(LlmSpan::start_json(Api::OpenAiChat, &stream_request()).iter(ok()));
        let failing = chat_chunks()
            .into_iter()
            .take(2)
            .map(Ok)
            .chain([Err(std::io::Error::other("connection reset"))]);
        let seen: Vec<bool> = LlmSpan::start_json(Api::OpenAiChat, &stream_request())
            .iter(failing)
            .map(|r| r.is_ok())
            .collect();
        assert_eq!(seen, [true, true, false], "the error reaches the caller");
    });
    assert_eq!(spans.len(), 3);
    let (early, unpolled, midway) = (&spans[0], &spans[1], &spans[2]);
    assert_eq!(early.status(), "ok");
    assert_eq!(early.output(), Some(json!({"content": "Hello "})));
    assert_eq!(early.json()["usage_available"], json!(false));
    assert!(early.attribute("stop_reason").is_none());
    assert!(early.attribute("time_to_first_token").is_some());
    assert_eq!(unpolled.status(), "ok");
    assert_eq!(unpolled.output(), None);
    assert!(unpolled.attribute("time_to_first_token").is_none());
    assert_eq!(midway.status(), "error");
    assert_eq!(midway.error_message(), Some("connection reset"));
    assert_eq!(midway.attribute("exception.type"), Some(json!("io::Error")));
    assert_eq!(midway.output(), Some(json!({"content": "Hello "})));
    for s in spans.iter() {
        assert_eq!(s.name(), "openai.chat.completions.create");
    }
}

// --------------------------------------------------- §4 continuation from streams (8, 9)

/// Row 8: a Responses stream that proposes a function call records its `call_id`; the
/// call that carries its output is the stream span's child.
#[test]
fn a_function_call_proposed_in_a_responses_stream_is_continued_under_the_stream_span() {
    let ((), spans) = with_fake(|p| async move {
        let _agent = staso::span("agent", Kind::Agent);
        let body = json!({"model": "gpt-5-mini", "input": "Weather in Paris?",
            "tools": [{"type": "function", "name": "get_weather",
                       "parameters": {"type": "object", "properties": {}}}]});
        let stream = p
            .oai("tool_call")
            .responses()
            .create_stream(responses(body))
            .await
            .expect("the stream starts");
        stream.count().await;
        let follow = json!({"model": "gpt-5-mini", "input": [
            {"type": "function_call", "call_id": "call_resp01", "name": "get_weather",
             "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_resp01", "output": "21 C"}]});
        p.oai("text")
            .responses()
            .create(responses(follow))
            .await
            .expect("the follow-up call answers");
    });
    let stream = spans.named("openai.responses.create");
    assert_eq!(
        stream.output().expect("output")["tool_calls"][0]["call_id"],
        "call_resp01"
    );
    let next = spans.named("response:reply");
    assert_eq!(next.parent_span_id(), Some(stream.span_id()));
    assert_eq!(next.trace_id(), stream.trace_id());
}

/// Row 9: an Anthropic raw stream that proposes a `tool_use` records its id (the Python
/// SDK does not: docs/llm.md lists the difference); the call that carries the
/// `tool_result` is the stream span's child.
#[test]
fn a_tool_use_proposed_in_an_anthropic_raw_stream_is_continued_under_the_stream_span() {
    let ((), spans) = with_fake(|p| async move {
        let _agent = staso::span("agent", Kind::Agent);
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": true,
            "messages": [{"role": "user", "content": "Weather in Paris?"}]});
        p.ant_stream("tool_use", body, usize::MAX).await;
        let follow = json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_fake01",
                "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_fake01",
                "content": "21 C"}]}]});
        p.ant("text", follow)
            .await
            .expect("the follow-up call answers");
    });
    let stream = spans.named("anthropic.messages.create");
    assert_eq!(
        stream.output().expect("output")["content"][1]["id"],
        "toolu_fake01"
    );
    let next = spans.named("chat:reply");
    assert_eq!(next.parent_span_id(), Some(stream.span_id()));
    assert_eq!(next.trace_id(), stream.trace_id());
}

// ------------------------------------------------------------------- §8 requests (row 18)

/// Row 18: only chat streams get `stream_options`; a Responses stream request reaches the
/// provider as the caller built it.
#[test]
fn a_responses_stream_request_is_sent_without_stream_options() {
    let (sent, _spans) = with_fake(|p| async move {
        let body = json!({"model": "gpt-5-mini", "input": "Weather in Paris?"});
        let stream = p
            .oai("text")
            .responses()
            .create_stream(responses(body.clone()))
            .await
            .expect("the stream starts");
        stream.count().await;
        let bare = p
            .oai("text")
            .into_inner()
            .responses()
            .create_stream(responses(body))
            .await
            .expect("the stream starts");
        bare.count().await;
        p.fake.requests()
    });
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0].body.get("stream_options").is_none(),
        "{}",
        sent[0].body
    );
    assert_eq!(
        sent[0].body, sent[1].body,
        "traced and bare bodies are the same"
    );
}

// --------------------------------------------------------------- §1 switching on (row 1)

/// Row 1: a client wrapped before recording starts is traced once it does (the wrapper
/// holds no state of its own).
#[test]
fn a_client_wrapped_before_recording_starts_is_traced() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (ok, spans) = rt.block_on(async {
        let fake = FakeLlm::start().await.expect("fake provider starts");
        let client = Providers::new(fake).oai("text");
        let before = client.chat().create(weather_chat()).await.is_ok();
        let (after, spans) =
            capture_future(async { client.chat().create(weather_chat()).await.is_ok() }).await;
        ((before, after), spans)
    });
    assert_eq!(ok, (true, true));
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name(), "chat:reply");
    assert_eq!(spans[0].json()["model"], "gpt-4o-mini-2024-07-18");
}

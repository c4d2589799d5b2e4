//! The LLM span API without a provider library: the typed builders, the JSON level, the
//! stream wrappers (async, blocking, raw SSE bytes) and how each one ends, captured in
//! memory with `staso::testing`.

use futures_util::StreamExt;
use serde_json::{json, Value};
use staso::llm::{trace_json, Api, LlmCall, LlmSpan, Reply, Usage};
use staso::testing::{capture, capture_future, capture_with, CapturedSpan};
use staso::Kind;

fn attrs(s: &CapturedSpan) -> Value {
    Value::Object(s.attributes())
}

fn chunk(delta: Value) -> Value {
    json!({"id": "c-1", "model": "m-2024", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
}

fn chat_stream_chunks() -> Vec<Value> {
    vec![
        chunk(json!({"role": "assistant", "content": ""})),
        chunk(json!({"content": "Hello "})),
        chunk(json!({"content": "world"})),
        json!({"id": "c-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        json!({"id": "c-1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2,
            "total_tokens": 11, "completion_tokens_details": {"reasoning_tokens": 4}}}),
    ]
}

fn stream_request() -> Value {
    json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn a_typed_call_records_request_reply_tokens_and_continues_the_trace() {
    let (_, spans) = capture(|| {
        let first = LlmCall::new("ollama", "llama3.1")
            .system("Be brief.")
            .user("Weather in Paris?")
            .tool("get_weather", "Current weather", &json!({"type": "object"}))
            .param("temperature", &0.2)
            .param("top_k", &40)
            .reasoning_effort("low")
            .start();
        first
            .finish(
                Reply::new()
                    .model("llama3.1:8b")
                    .tool_call("call_1", "get_weather", r#"{"city":"Paris"}"#)
                    .finish_reason("tool_calls")
                    .usage(
                        Usage::new(2048, 300)
                            .cache_read(1024)
                            .cache_write(64)
                            .reasoning(256),
                    ),
            )
            .expect("the guard blocks nothing here");
        LlmCall::new("ollama", "llama3.1")
            .user("Weather in Paris?")
            .tool_call("call_1", "get_weather", r#"{"city":"Paris"}"#)
            .tool_result("call_1", "21 C")
            .start()
            .finish(Reply::new().content("Sunny.").finish_reason("stop"))
            .expect("the guard blocks nothing here");
    });
    let first = spans.named("chat:tool_calls(get_weather)");
    assert_eq!(first.kind(), "llm");
    let j = first.json();
    assert_eq!(
        (
            &j["provider"],
            &j["model"],
            &j["requested_model"],
            &j["reasoning_effort"]
        ),
        (
            &json!("ollama"),
            &json!("llama3.1:8b"),
            &json!("llama3.1"),
            &json!("low")
        )
    );
    assert_eq!(
        (
            &j["input_tokens"],
            &j["output_tokens"],
            &j["total_tokens"],
            &j["usage_available"]
        ),
        (&json!(2048), &json!(300), &json!(2348), &json!(true))
    );
    let a = attrs(first);
    assert_eq!(a["temperature"], json!(0.2));
    assert_eq!(a["top_k"], json!(40));
    assert_eq!(a["cache_read_input_tokens"], json!(1024));
    assert_eq!(a["cache_write_input_tokens"], json!(64));
    assert_eq!(a["reasoning_tokens"], json!(256));
    assert_eq!(a["stop_reason"], json!("tool_calls"));
    let input = first.input().expect("input");
    assert_eq!(
        input["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(input["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        first.output().expect("output")["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Paris"}"#
    );
    let second = spans.named("chat:reply");
    assert_eq!(
        second.parent_span_id(),
        Some(first.span_id()),
        "continuation"
    );
    assert_eq!(second.trace_id(), first.trace_id());
    // On its parent's clock (regression: a continuation outside any span once took the
    // root context's offset and was stamped in 1970).
    let ts = |s: &CapturedSpan| s.json()["timestamp"].as_str().unwrap_or("").to_string();
    assert_eq!(
        ts(second)[..4],
        ts(first)[..4],
        "{} vs {}",
        ts(second),
        ts(first)
    );
    assert!(ts(second) >= ts(first));
}

#[test]
fn the_json_level_records_an_openai_compatible_call_and_returns_errors_unchanged() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (result, spans) = rt.block_on(capture_future(async {
        let body = json!({"model": "llama3.1", "messages": [{"role": "user", "content": "hi"}]});
        let ok = trace_json(Api::OpenAiChat, &body, async {
            Ok::<_, std::io::Error>(json!({"model": "llama3.1:8b",
                "choices": [{"message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}))
        })
        .await;
        let err = trace_json(Api::OpenAiChat, &body, async {
            Err::<Value, _>(std::io::Error::other("connection refused"))
        })
        .await;
        let mut span = LlmSpan::start_json(Api::OpenAiChat, &body);
        span.set_provider("groq");
        span.finish_json(&json!({"choices": [{"message": {"content": "x"}, "finish_reason": "length"}]})).expect("the guard blocks nothing here");
        (ok.is_ok(), err.map_err(|e| e.to_string()))
    }));
    assert_eq!(result, (true, Err("connection refused".to_string())));
    let ok = spans.named("chat:reply");
    assert_eq!(
        ok.output(),
        Some(json!({"role": "assistant", "content": "hello"}))
    );
    let failed = spans.named("chat");
    assert_eq!(failed.status(), "error");
    assert_eq!(failed.error_message(), Some("connection refused"));
    assert_eq!(failed.attribute("exception.type"), Some(json!("io::Error")));
    assert_eq!(failed.json()["usage_available"], json!(false));
    let groq = &spans[2];
    assert_eq!(groq.json()["provider"], "groq");
    assert_eq!(groq.attribute("provider"), Some(json!("groq")));
}

#[test]
fn a_blocking_stream_accumulates_and_parents_the_spans_between_its_chunks() {
    let (text, spans) = capture(|| {
        let _agent = staso::span("agent", Kind::Agent);
        let chunks = chat_stream_chunks()
            .into_iter()
            .map(Ok::<_, std::io::Error>);
        let mut text = String::new();
        for (i, c) in LlmSpan::start_json(Api::OpenAiChat, &stream_request())
            .iter(chunks)
            .enumerate()
        {
            if let Some(t) = c.expect("ok")["choices"][0]["delta"]["content"].as_str() {
                text.push_str(t);
            }
            if i == 1 {
                let _tool = staso::span("between-chunks", Kind::Tool);
            }
        }
        let _after = staso::span("after-stream", Kind::Tool);
        text
    });
    assert_eq!(text, "Hello world");
    let llm = spans.named("openai.chat.completions.create");
    assert_eq!(
        spans.named("between-chunks").parent_span_id(),
        Some(llm.span_id())
    );
    let agent = spans.named("agent");
    assert_eq!(
        spans.named("after-stream").parent_span_id(),
        Some(agent.span_id())
    );
    assert_eq!(llm.parent_span_id(), Some(agent.span_id()));
    assert_eq!(llm.output(), Some(json!({"content": "Hello world"})));
    let a = attrs(llm);
    assert!(a["time_to_first_token"].as_f64().is_some(), "{a}");
    assert_eq!(a["reasoning_tokens"], json!(4));
    assert_eq!(a["stop_reason"], json!("stop"));
    assert_eq!(llm.json()["model"], "m-2024");
    assert_eq!(llm.json()["total_tokens"], json!(11));
}

#[test]
fn every_way_a_stream_ends_ends_its_span() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let ((), spans) = rt.block_on(capture_future(async {
        let ok = || {
            futures_util::stream::iter(
                chat_stream_chunks()
                    .into_iter()
                    .map(Ok::<_, std::io::Error>),
            )
        };
        // Exhausted.
        let s = LlmSpan::start_json(Api::OpenAiChat, &stream_request()).stream(ok());
        s.count().await;
        // Dropped after two chunks.
        let mut s = Box::pin(LlmSpan::start_json(Api::OpenAiChat, &stream_request()).stream(ok()));
        s.next().await;
        s.next().await;
        drop(s);
        // Dropped before its first poll.
        drop(LlmSpan::start_json(Api::OpenAiChat, &stream_request()).stream(ok()));
        // Failing after two chunks.
        let failing = futures_util::stream::iter(
            chat_stream_chunks()
                .into_iter()
                .take(2)
                .map(Ok)
                .chain([Err(std::io::Error::other("connection reset"))]),
        );
        let s = LlmSpan::start_json(Api::OpenAiChat, &stream_request()).stream(failing);
        s.count().await;
        // Failing before its first chunk (the request was refused).
        LlmSpan::start_json(Api::OpenAiChat, &stream_request())
            .fail_as("BadRequestError", "Error code: 400");
    }));
    assert_eq!(spans.len(), 5);
    let (exhausted, early, unpolled, midway, refused) =
        (&spans[0], &spans[1], &spans[2], &spans[3], &spans[4]);
    assert_eq!(exhausted.status(), "ok");
    assert_eq!(exhausted.json()["usage_available"], json!(true));
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
    assert_eq!(
        midway.output(),
        Some(json!({"content": "Hello "})),
        "text kept"
    );
    assert!(midway.attribute("time_to_first_token").is_some());
    assert_eq!(refused.status(), "error");
    assert_eq!(
        refused.attribute("exception.type"),
        Some(json!("BadRequestError"))
    );
    assert_eq!(refused.output(), None);
    for s in spans.iter() {
        assert_eq!(s.name(), "openai.chat.completions.create");
    }
}

#[test]
fn a_tool_call_only_stream_has_no_time_to_first_token() {
    let (_, spans) = capture(|| {
        let chunks = vec![
            chunk(json!({"role": "assistant", "content": ""})),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_9", "type": "function",
                "function": {"name": "f", "arguments": ""}}]}),
            ),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]})),
        ];
        LlmSpan::start_json(Api::OpenAiChat, &stream_request())
            .iter(chunks.into_iter().map(Ok::<_, std::io::Error>))
            .for_each(drop);
    });
    assert!(spans[0].attribute("time_to_first_token").is_none());
    assert_eq!(
        spans[0].output().expect("output")["tool_calls"][0]["function"],
        json!({"name": "f", "arguments": "{}"})
    );
}

#[test]
fn an_sse_body_is_read_whatever_its_chunking() {
    let events = [
        json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude-x",
            "usage": {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 100}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use",
            "id": "toolu_1", "name": "get_weather", "input": {}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta",
            "partial_json": "{\"city\": \"Pa"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta",
            "partial_json": "ris\"}"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 42}}),
    ];
    let body: String = events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for cut in [1, 7, 64, body.len()] {
        let pieces: Vec<Result<Vec<u8>, std::io::Error>> = body
            .as_bytes()
            .chunks(cut)
            .map(|c| Ok(c.to_vec()))
            .collect();
        let req = json!({"model": "claude-x", "stream": true, "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}]});
        let (got, spans) = rt.block_on(capture_future(async {
            let s = LlmSpan::start_json(Api::AnthropicMessages, &req)
                .sse_stream(futures_util::stream::iter(pieces));
            s.map(|b| b.map(|b| b.len()).unwrap_or(0))
                .collect::<Vec<_>>()
                .await
        }));
        assert_eq!(got.iter().sum::<usize>(), body.len(), "bytes pass through");
        let s = &spans[0];
        assert_eq!(s.name(), "anthropic.messages.create");
        assert_eq!(
            s.output(),
            Some(
                json!({"content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                "input": {"city": "Paris"}}]})
            ),
            "cut {cut}"
        );
        assert_eq!(
            (
                &s.json()["input_tokens"],
                &s.json()["output_tokens"],
                &s.json()["total_tokens"]
            ),
            (&json!(25), &json!(42), &json!(67))
        );
        assert_eq!(s.attribute("stop_reason"), Some(json!("tool_use")));
    }
}

#[test]
fn capture_categories_filter_typed_calls_before_they_are_sent() {
    let opts = staso::Options::new()
        .capture_request(false)
        .capture_output(false);
    let (_, spans) = capture_with(opts, || {
        LlmCall::new("openai", "gpt-4o-mini")
            .system("S")
            .user("secret question")
            .param("temperature", &0.1)
            .start()
            .finish(
                Reply::new()
                    .content("secret answer")
                    .tool_call("c", "f", "{}")
                    .finish_reason("tool_calls"),
            )
            .expect("the guard blocks nothing here");
    });
    let s = &spans[0];
    assert_eq!(s.name(), "llm span");
    assert_eq!(
        s.input(),
        Some(json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "S"}]}))
    );
    assert_eq!(
        s.output(),
        Some(
            json!({"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f"}}]})
        )
    );
    assert!(s.attribute("temperature").is_none());
    assert_eq!(s.error_message(), None);
}

#[test]
fn nothing_is_recorded_without_a_client_or_capture() {
    let span = LlmCall::new("openai", "m").user("hi").start();
    assert!(!span.is_recording());
    assert!(!LlmSpan::start_json(Api::OpenAiChat, &json!({"model": "m"})).is_recording());
}

#[test]
fn a_manual_llm_span_loses_its_input_when_any_category_is_off_but_a_recorded_call_does_not() {
    let (_, spans) = capture_with(staso::Options::new().capture_tool_schema(false), || {
        let mut manual = staso::span("manual", Kind::Llm);
        manual.set_input(&json!({"prompt": "hi"}));
        drop(manual);
        LlmCall::new("openai", "m")
            .user("hi")
            .start()
            .finish(Reply::new().content("ok"))
            .expect("the guard blocks nothing here");
    });
    assert_eq!(spans.named("manual").input(), None);
    assert_eq!(
        spans.named("chat").input(),
        Some(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
    );
}

#[test]
fn a_tool_call_proposed_in_a_stream_is_continued_under_the_stream_span() {
    let (_, spans) = capture(|| {
        let chunks = vec![
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_s1", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]}),
            ),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ];
        LlmSpan::start_json(Api::OpenAiChat, &stream_request())
            .iter(chunks.into_iter().map(Ok::<_, std::io::Error>))
            .for_each(drop);
        LlmCall::new("openai", "m")
            .tool_call("call_s1", "f", "{}")
            .tool_result("call_s1", "ok")
            .start()
            .finish(Reply::new().content("done").finish_reason("stop"))
            .expect("the guard blocks nothing here");
    });
    let stream = spans.named("openai.chat.completions.create");
    assert_eq!(
        spans.named("chat:reply").parent_span_id(),
        Some(stream.span_id())
    );
}

//! The LLM API compiled out (default features off) still does its one job at runtime:
//! every value passes through unchanged. The stream wrappers yield the items (errors
//! included) they are given, `trace_json` returns the call's result, and — with the
//! `async-openai` feature — the no-op `traced()` client answers exactly as the bare
//! client does, against the examples' fake provider on loopback.

use futures_core::Stream;
use serde_json::{json, Value};
use staso::llm::{trace_json, Api, LlmSpan};
use std::future::{poll_fn, Future};
use std::pin::Pin;

/// Every item of a stream (on the current runtime).
async fn collect<S: Stream + Unpin>(mut s: S) -> Vec<S::Item> {
    let mut out = Vec::new();
    while let Some(item) = poll_fn(|cx| Pin::new(&mut s).poll_next(cx)).await {
        out.push(item);
    }
    out
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn items() -> Vec<Result<Value, String>> {
    vec![
        Ok(json!({"choices": [{"delta": {"content": "Hello "}}]})),
        Ok(json!({"choices": [{"delta": {"content": "world"}}]})),
        Err("connection reset".to_string()),
    ]
}

fn request() -> Value {
    json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn the_stream_wrappers_yield_their_items_unchanged() {
    let span = LlmSpan::start_json(Api::OpenAiChat, &request());
    assert!(!span.is_recording());
    assert_eq!(span.span_id(), None);
    let got: Vec<_> = span.iter(items()).collect();
    assert_eq!(got, items());

    let got = block_on(collect(
        LlmSpan::start_json(Api::OpenAiChat, &request()).stream(Iter(items().into_iter())),
    ));
    assert_eq!(got, items());

    let body: Vec<Result<Vec<u8>, String>> = vec![
        Ok(b"event: message_start\ndata: {}\n\n".to_vec()),
        Ok(b"data: [DONE]\n\n".to_vec()),
        Err("reset".into()),
    ];
    let got = block_on(collect(
        LlmSpan::start_json(Api::AnthropicMessages, &request())
            .sse_stream(Iter(body.clone().into_iter())),
    ));
    assert_eq!(got, body);
}

#[test]
fn trace_json_returns_the_calls_result_unchanged() {
    let body = json!({"model": "m"});
    let ok = block_on(trace_json(Api::OpenAiChat, &body, async {
        Ok::<_, String>(json!({"choices": []}))
    }));
    assert_eq!(ok, Ok(json!({"choices": []})));
    let err = block_on(trace_json(Api::OpenAiResponses, &body, async {
        Err::<Value, _>("refused".to_string())
    }));
    assert_eq!(err, Err("refused".to_string()));
}

/// An iterator as a `Stream` that is always ready.
struct Iter<I>(I);

impl<I: Iterator + Unpin> Stream for Iter<I> {
    type Item = I::Item;
    fn poll_next(
        mut self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}

#[cfg(feature = "async-openai")]
#[path = "../../../examples/support/fake_llm.rs"]
mod fake_llm;

#[cfg(feature = "async-openai")]
mod async_openai_client {
    use super::{block_on, collect, fake_llm};
    use async_openai::config::OpenAIConfig;
    use async_openai::error::OpenAIError;
    use async_openai::types::chat::{ChatCompletionResponseStream, CreateChatCompletionRequest};
    use serde_json::{json, Value};
    use staso::integrations::async_openai::traced;

    fn client(base: &str, scenario: &str) -> async_openai::Client<OpenAIConfig> {
        async_openai::Client::with_config(
            OpenAIConfig::new()
                .with_api_base(format!("{base}/v1"))
                .with_api_key("sk-fake")
                .with_header("x-fake-scenario", scenario)
                .expect("a valid header"),
        )
    }

    fn request() -> CreateChatCompletionRequest {
        serde_json::from_value(json!({"model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}))
        .expect("a valid request")
    }

    async fn chunks(r: Result<ChatCompletionResponseStream, OpenAIError>) -> Vec<Value> {
        collect(r.expect("the stream starts"))
            .await
            .into_iter()
            .map(|c| serde_json::to_value(c.expect("a chunk")).expect("JSON"))
            .collect()
    }

    #[test]
    fn the_noop_traced_client_answers_as_the_bare_client() {
        block_on(async {
            let fake = fake_llm::FakeLlm::start().await.expect("fake provider");
            let reply = |r: Result<_, OpenAIError>| {
                serde_json::to_value(r.expect("the call answers")).expect("JSON")
            };
            let via_traced = reply(
                traced(client(&fake.base, "tool_call"))
                    .chat()
                    .create(request())
                    .await,
            );
            let bare = reply(
                client(&fake.base, "tool_call")
                    .chat()
                    .create(request())
                    .await,
            );
            assert_eq!(via_traced, bare);
            assert_eq!(
                via_traced["choices"][0]["message"]["tool_calls"][0]["id"],
                "call_abc123"
            );

            let err = traced(client(&fake.base, "error400"))
                .chat()
                .create(request())
                .await
                .expect_err("the provider refuses");
            let OpenAIError::ApiError(e) = &err else {
                panic!("the API's error, unchanged: {err:?}");
            };
            assert_eq!(e.status_code.as_u16(), 400);
            assert_eq!(e.api_error.message, "Invalid 'messages': empty array");

            let via_traced = chunks(
                traced(client(&fake.base, "text"))
                    .chat()
                    .create_stream(request())
                    .await,
            )
            .await;
            let bare = chunks(
                client(&fake.base, "text")
                    .chat()
                    .create_stream(request())
                    .await,
            )
            .await;
            assert_eq!(via_traced, bare);
            assert!(via_traced.len() > 3, "{via_traced:?}");
            // The no-op client asks for nothing more: no usage chunk unless requested.
            assert!(
                via_traced.iter().all(|c| c["usage"].is_null()),
                "{via_traced:?}"
            );
        });
    }
}

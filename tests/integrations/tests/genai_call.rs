//! A real genai 0.7 client (feature `otel`) against a fake OpenAI-compatible server on
//! loopback: its `chat` spans become staso LLM spans with provider, models, usage, time
//! to first token (streaming), and errors from a failing call.
#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use genai::adapter::AdapterKind;
use genai::chat::{ChatMessage, ChatOptions, ChatRequest, ChatStreamEvent};
use genai::resolver::{AuthData, Endpoint, ServiceTargetResolver};
use genai::{Client, ModelIden, ServiceTarget};
use serde_json::json;
use staso::testing::capture_future;
use staso_integration_tests::{text_reply, text_stream, FakeOpenAi, Reply};
use std::sync::Once;
use std::time::Duration;

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::prelude::*;
        tracing_subscriber::registry()
            .with(staso::tracing::layer())
            .init();
    });
}

/// A genai client whose every model goes to the fake server as OpenAI.
fn client(fake: &FakeOpenAi) -> Client {
    let base = format!("{}/", fake.url());
    let resolver = ServiceTargetResolver::from_resolver_fn(
        move |t: ServiceTarget| -> Result<ServiceTarget, genai::resolver::Error> {
            Ok(ServiceTarget {
                endpoint: Endpoint::from_owned(base.clone()),
                auth: AuthData::from_single("sk-test"),
                model: ModelIden::new(AdapterKind::OpenAI, t.model.model_name),
            })
        },
    );
    Client::builder()
        .with_service_target_resolver(resolver)
        .build()
        .unwrap()
}

fn question() -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("Answer briefly."),
        ChatMessage::user("Why is the sky blue?"),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genai_chat_is_an_llm_span() {
    install();
    let fake = FakeOpenAi::start(vec![Reply::Json(
        200,
        text_reply("gpt-4o-mini-2024-07-18", "Rayleigh scattering.", 21, 4),
    )])
    .await;
    let c = client(&fake);
    let opts = ChatOptions::default().with_temperature(0.3);
    let (res, spans) =
        capture_future(async { c.exec_chat("gpt-4o-mini", question(), Some(&opts)).await }).await;
    assert_eq!(res.unwrap().first_text(), Some("Rayleigh scattering."));
    assert_eq!(
        spans.len(),
        1,
        "{:?}",
        spans.iter().map(|s| s.name()).collect::<Vec<_>>()
    );
    let s = &spans[0];
    assert_eq!(s.name(), "chat gpt-4o-mini", "otel.name");
    assert_eq!(s.kind(), "llm");
    assert_eq!(s.status(), "ok");
    let j = s.json();
    assert_eq!(j["provider"], "openai");
    assert_eq!(j["requested_model"], "gpt-4o-mini");
    assert_eq!(j["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(
        (j["input_tokens"].as_u64(), j["output_tokens"].as_u64()),
        (Some(21), Some(4))
    );
    assert_eq!(s.attribute("temperature"), Some(json!(0.3)));
    assert_eq!(s.attribute("stop_reason"), Some(json!("stop")));
    assert_eq!(s.attribute("server.address"), Some(json!("127.0.0.1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_chat_has_its_time_to_first_token() {
    install();
    let fake = FakeOpenAi::start(vec![Reply::Stream {
        first_delay: Duration::from_millis(150),
        chunks: text_stream(
            "gpt-4o-mini-2024-07-18",
            &["Rayleigh ", "scattering."],
            21,
            4,
        ),
    }])
    .await;
    let c = client(&fake);
    let opts = ChatOptions::default().with_capture_usage(true);
    let (text, spans) = capture_future(async {
        let mut stream = c
            .exec_chat_stream("gpt-4o-mini", question(), Some(&opts))
            .await
            .unwrap()
            .stream;
        let mut text = String::new();
        while let Some(ev) = stream.next().await {
            if let ChatStreamEvent::Chunk(chunk) = ev.unwrap() {
                text.push_str(&chunk.content);
            }
        }
        text
    })
    .await;
    assert_eq!(text, "Rayleigh scattering.");
    let s = &spans[0];
    assert_eq!(s.kind(), "llm");
    assert_eq!(s.attribute("gen_ai.request.stream"), Some(json!(true)));
    let ttft = s
        .attribute("time_to_first_token")
        .and_then(|v| v.as_f64())
        .expect("time_to_first_token");
    // The server waited 150 ms before the first chunk; milliseconds, two decimals.
    assert!(ttft >= 150.0, "{ttft}");
    assert_eq!((ttft * 100.0).round() / 100.0, ttft);
    assert_eq!(s.json()["output_tokens"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_call_is_an_error_span() {
    install();
    let fake = FakeOpenAi::start(vec![Reply::Json(
        429,
        json!({"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}),
    )])
    .await;
    let c = client(&fake);
    let (res, spans) =
        capture_future(async { c.exec_chat("gpt-4o-mini", question(), None).await }).await;
    assert!(res.is_err());
    let s = &spans[0];
    assert_eq!(s.status(), "error");
    assert_eq!(s.attribute("exception.type"), Some(json!("429")));
    assert_eq!(s.json()["usage_available"], false);
    assert_eq!(
        s.json()["model"],
        "gpt-4o-mini",
        "the requested model, on error"
    );
}

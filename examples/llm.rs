//! An agent loop on async-openai, traced: the model proposes a tool call, the tool runs,
//! the result goes back, the model answers; then a streamed follow-up. Runs against an
//! embedded fake OpenAI server and the embedded local collector — no account, no network:
//!
//! ```text
//! cargo run -p staso --example llm --features async-openai
//! ```
//!
//! The one line that traces async-openai is `staso::integrations::async_openai::traced(..)`.
#![allow(clippy::print_stdout)]

#[path = "support/fake_llm.rs"]
mod fake_llm;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::CreateChatCompletionRequest;
use serde_json::{json, Value};
use staso::integrations::async_openai::{traced, Traced};
use std::time::Duration;
use tokio_stream_shim::next;

/// The tool the model calls.
#[staso::tool]
fn get_weather(city: &str) -> String {
    format!("21 °C and sunny in {city}")
}

fn request(messages: &[Value]) -> Result<CreateChatCompletionRequest, serde_json::Error> {
    serde_json::from_value(json!({
        "model": "gpt-4o-mini",
        "messages": messages,
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}}],
    }))
}

/// The agent: call the model until it stops asking for tools, then stream a follow-up.
#[staso::agent(name = "weather-bot")]
async fn answer(
    client: &Traced<OpenAIConfig>,
    question: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut messages = vec![
        json!({"role": "system", "content": "You are a weather assistant."}),
        json!({"role": "user", "content": question}),
    ];
    let reply = loop {
        let r = client.chat().create(request(&messages)?).await?;
        let message = serde_json::to_value(&r.choices[0].message)?;
        let calls = message["tool_calls"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if calls.is_empty() {
            break message["content"].as_str().unwrap_or_default().to_string();
        }
        messages.push(json!({"role": "assistant", "content": null, "tool_calls": calls}));
        for call in calls {
            let args: Value =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or("{}"))?;
            let result = get_weather(args["city"].as_str().unwrap_or("?"));
            messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": result}));
        }
    };

    // A streamed call: the span stays open while the chunks arrive, takes the time to
    // first token, and ends with the stream.
    let mut stream = client
        .chat()
        .create_stream(serde_json::from_value(json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Say it again, streamed."}],
        }))?)
        .await?;
    let mut streamed = String::new();
    while let Some(chunk) = next(&mut stream).await {
        if let Some(text) = chunk?.choices.first().and_then(|c| c.delta.content.clone()) {
            streamed.push_str(&text);
        }
    }
    Ok(format!("{reply} / streamed: {streamed}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let collector = staso_collector::Collector::start(staso_collector::CollectorConfig {
        api_key: "local-demo-key".into(),
        ..Default::default()
    })
    .await?;
    let fake = fake_llm::FakeLlm::start().await?;
    let client = staso::init(
        staso::Options::new()
            .api_key("local-demo-key")
            .agent_name("weather-bot")
            .base_url(collector.url()),
    )?;

    // The only change to an async-openai program: wrap the client.
    let openai = traced(async_openai::Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("{}/v1", fake.base))
            .with_api_key("sk-fake")
            .with_header("x-fake-scenario", "auto")?,
    ));

    let reply = answer(&openai, "What is the weather in Paris?").await?;
    println!("agent: {reply}\n");

    let report = client.shutdown(Duration::from_secs(5));
    print_tree(&collector);
    println!(
        "\ndelivery: {} delivered (ok = {})",
        report.delivered,
        report.ok()
    );
    // A failed delivery fails the run (scripts/test.sh runs this example).
    if !report.ok() {
        return Err(format!("delivery failed: {report:?}").into());
    }
    Ok(())
}

/// The trace as a tree, with each LLM span's model, tokens and time to first token.
fn print_tree(collector: &staso_collector::Collector) {
    let spans: Vec<Value> = collector
        .spans()
        .into_iter()
        .filter(|s| !s.provisional)
        .map(|s| s.raw)
        .collect();
    fn line(s: &Value) -> String {
        let mut out = format!(
            "{} [{}] {:.2} ms {}",
            s["name"].as_str().unwrap_or(""),
            s["kind"].as_str().unwrap_or(""),
            s["duration_ms"].as_f64().unwrap_or(0.0),
            s["status"].as_str().unwrap_or("")
        );
        if s["kind"] == "llm" {
            out += &format!(
                " · {} · {} in / {} out tokens",
                s["model"].as_str().unwrap_or(""),
                s["input_tokens"],
                s["output_tokens"]
            );
            let attrs: Value =
                serde_json::from_str(s["attributes"].as_str().unwrap_or("{}")).unwrap_or_default();
            if let Some(t) = attrs["time_to_first_token"].as_f64() {
                out += &format!(" · first token {t:.2} ms");
            }
        }
        out
    }
    fn walk(spans: &[Value], parent: &Value, prefix: &str) {
        let children: Vec<&Value> = spans
            .iter()
            .filter(|s| s["parent_span_id"] == *parent)
            .collect();
        for (i, c) in children.iter().enumerate() {
            let last = i + 1 == children.len();
            println!("{prefix}{}{}", if last { "└─ " } else { "├─ " }, line(c));
            let next = format!("{prefix}{}", if last { "   " } else { "│  " });
            walk(spans, &c["span_id"], &next);
        }
    }
    walk(&spans, &Value::Null, "");
}

/// `StreamExt::next` without a futures dependency in the example.
mod tokio_stream_shim {
    use futures_core::Stream;
    use std::future::poll_fn;
    use std::pin::Pin;

    pub async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
        poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
    }
}

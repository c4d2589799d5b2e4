//! A rig agent traced through the `tracing` bridge, end to end and offline: a fake
//! OpenAI-compatible server on loopback plays the model (one tool call, then the answer),
//! the local collector stores what the SDK sends, and the trace is printed as a tree.
//!
//! ```text
//! cargo run -p staso-integration-tests --example rig_agent
//! ```
//!
//! In your own program: `staso = { version = "0.1", features = ["tracing"] }` and the
//! two lines of `tracing_subscriber::registry().with(staso::tracing::layer()).init()`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use rig_agent::{Agent, AgentBuilder};
use rig_core::providers::openai::{OpenAIConfig, Route};
use rig_core::tool::PortableTool;
use serde_json::{json, Value};
use staso_collector::{Collector, CollectorConfig};
use staso_integration_tests::{text_reply, tool_call_reply, FakeOpenAi, Reply};
use std::time::Duration;
use tracing_subscriber::prelude::*;

struct Add;

#[derive(serde::Deserialize)]
struct AddArgs {
    x: i64,
    y: i64,
}

impl PortableTool for Add {
    const NAME: &'static str = "add";
    type Args = AddArgs;
    type Output = i64;
    type Error = std::io::Error;

    fn description(&self) -> String {
        "Adds two integers".into()
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}})
    }

    async fn call(&self, a: AddArgs) -> Result<i64, std::io::Error> {
        Ok(a.x + a.y)
    }
}

/// Your own agent function; rig's spans nest under it.
#[staso::agent(name = "math-bot", skip(agent))]
async fn ask(agent: &Agent, question: &str) -> Result<String, String> {
    let answer = agent
        .prompt(question)
        .max_turns(3)
        .await
        .map_err(|e| e.to_string())?;
    Ok(answer.output().to_string())
}

#[tokio::main]
async fn main() {
    let collector = Collector::start(CollectorConfig::default()).await.unwrap();
    let client = staso::init(
        staso::Options::new()
            .api_key("test-key")
            .agent_name("math-bot")
            .base_url(collector.url())
            .flush_interval(Duration::from_millis(200)),
    )
    .unwrap();
    tracing_subscriber::registry()
        .with(staso::tracing::layer())
        .init();

    let model_server = FakeOpenAi::start(vec![
        Reply::Json(
            200,
            tool_call_reply("gpt-4o-mini", "call_1", "add", &json!({"x": 2, "y": 3})),
        ),
        Reply::Json(
            200,
            text_reply("gpt-4o-mini-2024-07-18", "2 + 3 = 5", 80, 12),
        ),
    ])
    .await;
    let model = OpenAIConfig::new("sk-offline")
        .with_base_url(model_server.url())
        .with_route(Route::Chat)
        .client()
        .completion("gpt-4o-mini");
    let agent = AgentBuilder::new(model)
        .name("calculator")
        .preamble("You add numbers with the add tool.")
        .tool(Add)
        .record_content_telemetry(true)
        .build();

    let answer = ask(&agent, "What is 2 + 3?").await;
    println!("answer: {answer:?}\n");
    let report = client.shutdown(Duration::from_secs(5));
    assert!(report.ok(), "{report:?}");
    collector.wait_until(Duration::from_secs(5), |n| n.final_spans >= 5);
    print!("{}", staso_collector::render_traces(&collector.traces()));
}

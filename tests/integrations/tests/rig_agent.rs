//! A real rig agent (rig-core + rig-agent 0.44) with a tool, against a fake
//! OpenAI-compatible server on loopback, under `#[staso::agent]`: rig's own `tracing`
//! spans (invoke_agent, chat, execute_tool) become staso spans in the agent's trace, with
//! kinds, models, provider, usage, messages under the capture policy, and errors.
#![allow(clippy::unwrap_used)]

use rig_agent::{Agent, AgentBuilder};
use rig_core::providers::openai::{OpenAIConfig, Route};
use rig_core::tool::PortableTool;
use serde_json::{json, Value};
use staso::testing::{capture_future_with, CapturedSpan, CapturedSpans};
use staso::Options;
use staso_integration_tests::{text_reply, tool_call_reply, FakeOpenAi, Reply};
use std::sync::Once;

/// Installs the bridge as the global subscriber, as an application does.
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::prelude::*;
        tracing_subscriber::registry()
            .with(staso::tracing::layer())
            .init();
    });
}

/// rig's tool: adds two numbers; refuses negative ones.
struct Add;

#[derive(serde::Deserialize)]
struct AddArgs {
    x: i64,
    y: i64,
}

#[derive(Debug)]
struct Negative;

impl std::fmt::Display for Negative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("negative numbers are not supported")
    }
}

impl std::error::Error for Negative {}

impl PortableTool for Add {
    const NAME: &'static str = "add";
    type Args = AddArgs;
    type Output = i64;
    type Error = Negative;

    fn description(&self) -> String {
        "Adds two integers".into()
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
            "required": ["x", "y"]
        })
    }

    async fn call(&self, a: AddArgs) -> Result<i64, Negative> {
        if a.x < 0 || a.y < 0 {
            return Err(Negative);
        }
        Ok(a.x + a.y)
    }
}

fn calculator(fake: &FakeOpenAi) -> Agent {
    let model = OpenAIConfig::new("sk-test")
        .with_base_url(fake.url())
        .with_route(Route::Chat)
        .client()
        .completion("gpt-4o-mini");
    AgentBuilder::new(model)
        .name("calculator")
        .preamble("You add numbers with the add tool.")
        .tool(Add)
        .record_content_telemetry(true)
        .build()
}

#[staso::agent(name = "math-bot", skip(agent))]
async fn ask(agent: &Agent, question: &str) -> Result<String, String> {
    let answer = agent
        .prompt(question)
        .max_turns(3)
        .await
        .map_err(|e| e.to_string())?;
    Ok(answer.output().to_string())
}

/// A tool call, then the answer.
fn script(x: i64, y: i64) -> Vec<Reply> {
    vec![
        Reply::Json(
            200,
            tool_call_reply("gpt-4o-mini", "call_1", "add", &json!({"x": x, "y": y})),
        ),
        Reply::Json(
            200,
            text_reply("gpt-4o-mini-2024-07-18", "2 + 3 = 5", 80, 12),
        ),
    ]
}

fn by_kind<'a>(spans: &'a CapturedSpans, kind: &str) -> Vec<&'a CapturedSpan> {
    spans.iter().filter(|s| s.kind() == kind).collect()
}

async fn run(
    options: Options,
    replies: Vec<Reply>,
    x: i64,
    y: i64,
) -> (Result<String, String>, CapturedSpans) {
    install();
    let fake = FakeOpenAi::start(replies).await;
    let agent = calculator(&fake);
    let question = format!("What is {x} + {y}?");
    capture_future_with(options, ask(&agent, &question)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rig_agent_run_is_one_staso_trace() {
    let (answer, spans) = run(Options::new(), script(2, 3), 2, 3).await;
    assert_eq!(answer.as_deref(), Ok("2 + 3 = 5"));

    // The tree: math-bot → calculator (rig's invoke_agent) → chat, add, chat.
    let bot = spans.named("math-bot");
    assert_eq!((bot.kind(), bot.parent_span_id()), ("agent", None));
    let rig_agent = spans.named("calculator");
    assert_eq!(rig_agent.kind(), "agent");
    assert_eq!(rig_agent.parent_span_id(), Some(bot.span_id()));
    let chats = by_kind(&spans, "llm");
    assert_eq!(chats.len(), 2, "one LLM span per model turn");
    let tool = spans.named("add");
    assert_eq!(tool.kind(), "tool");
    for s in chats.iter().chain([&tool]) {
        assert_eq!(
            s.parent_span_id(),
            Some(rig_agent.span_id()),
            "{}",
            s.name()
        );
        assert_eq!(s.agent_name(), "calculator");
    }
    assert!(spans.iter().all(|s| s.trace_id() == bot.trace_id()));

    // Model, provider, usage, as the server answered them.
    let last = chats
        .iter()
        .find(|c| c.json()["model"] == "gpt-4o-mini-2024-07-18")
        .expect("the second turn carries the response model");
    let j = last.json();
    assert_eq!(j["requested_model"], "gpt-4o-mini");
    assert_eq!(j["provider"], "openai");
    assert_eq!(
        (j["input_tokens"].as_u64(), j["output_tokens"].as_u64()),
        (Some(80), Some(12))
    );
    assert_eq!(j["usage_available"], true);

    // Messages: the system prompt, the user's question, the tool call and its result.
    let first = chats
        .iter()
        .find(|c| c.span_id() != last.span_id())
        .expect("first turn");
    let input = first.input().expect("input captured");
    assert_eq!(
        input["system"],
        json!([{"type": "text", "content": "You add numbers with the add tool."}])
    );
    assert!(
        input["messages"].to_string().contains("What is 2 + 3?"),
        "{input}"
    );
    let out = first.output().expect("output captured");
    assert!(out.to_string().contains("\"tool_call\""), "{out}");

    // The tool span: its arguments and result.
    assert_eq!(tool.input(), Some(json!({"x": 2, "y": 3})));
    assert_eq!(tool.attribute("tool_name"), Some(json!("add")));
    assert!(tool.output().expect("result").to_string().contains('5'));
    assert_eq!(tool.status(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_request_capture_the_users_words_stay_home() {
    let opts = Options::new().capture_request(false);
    let (_, spans) = run(opts, script(2, 3), 2, 3).await;
    let all =
        serde_json::to_string(&spans.iter().map(|s| s.json().clone()).collect::<Vec<_>>()).unwrap();
    assert!(
        !all.contains("What is 2 + 3?"),
        "the question leaked: {all}"
    );
    let chats = by_kind(&spans, "llm");
    assert_eq!(chats.len(), 2);
    assert!(chats.iter().all(|c| c.name() == "llm span"));
    assert!(chats.iter().all(|c| c.json()["provider"] == "openai"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tool_and_a_failing_model_call_are_errors() {
    let (answer, spans) = run(Options::new(), script(-2, 3), -2, 3).await;
    let tool = spans.named("add");
    assert_eq!(tool.status(), "error", "{}", tool.json());
    assert!(
        tool.attribute("exception.type").is_some(),
        "{}",
        tool.json()
    );
    let _ = answer;

    // The provider answers 500: rig does not mark its own span, the agent around it does.
    let failing = vec![Reply::Json(
        500,
        json!({"error": {"message": "upstream exploded", "type": "server_error"}}),
    )];
    let (answer, spans) = run(Options::new(), failing, 1, 1).await;
    assert!(answer.is_err());
    let bot = spans.named("math-bot");
    assert_eq!(bot.status(), "error");
    assert!(
        bot.error_message().unwrap_or("").contains("500")
            || bot.error_message().unwrap_or("").contains("upstream"),
        "{}",
        bot.json()
    );
    assert_eq!(
        spans.named("calculator").parent_span_id(),
        Some(bot.span_id())
    );
}

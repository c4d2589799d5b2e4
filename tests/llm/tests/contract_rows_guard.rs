//! Row 26 of the LLM contract rows: Guard checks the tool calls of every kind of reply,
//! not only async-openai chat (tests/llm/tests/guard.rs): an async-openai Responses reply,
//! and Anthropic replies read through the JSON-level API (non-streaming and raw SSE
//! stream), with the real tool name and input sent for the decision (the Python SDK sends
//! `unknown` / `{}` for raw streams). Decisions come from the collector's guard endpoint.

use async_openai::types::responses::CreateResponse;
use serde_json::{json, Value};
use staso_collector::{Collector, CollectorConfig, GuardRule};
use staso_llm_tests::fake::FakeLlm;
use staso_llm_tests::scenario::Providers;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// One client per process: the tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` with a client delivering to a collector whose rule for `get_weather` is
/// `rule`; returns what `f` returned, the stored final spans and the guard requests.
fn run<F, Fut, R>(rule: GuardRule, f: F) -> (R, Vec<Value>, Vec<Value>)
where
    F: FnOnce(Providers) -> Fut,
    Fut: Future<Output = R>,
{
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let collector = Collector::start_blocking(CollectorConfig {
        api_key: "test-key".into(),
        ..Default::default()
    })
    .expect("collector starts");
    collector.guard().set("get_weather", rule);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let out = rt.block_on(async {
        let fake = FakeLlm::start().await.expect("fake provider starts");
        let client = staso::init(
            staso::Options::new()
                .api_key("test-key")
                .agent_name("weather-bot")
                .base_url(collector.url())
                .capture_git(false)
                .flush_interval(Duration::from_secs(60)),
        )
        .expect("init");
        let out = f(Providers::new(fake)).await;
        let report = client.shutdown(Duration::from_secs(20));
        assert!(report.ok(), "{report:?}");
        out
    });
    let spans = collector
        .spans()
        .into_iter()
        .filter(|s| !s.provisional)
        .map(|s| s.raw.clone())
        .collect();
    let guard = collector
        .requests()
        .guard()
        .into_iter()
        .filter_map(|r| r.body.clone())
        .collect();
    (out, spans, guard)
}

fn attrs(span: &Value) -> Value {
    serde_json::from_str(span["attributes"].as_str().unwrap_or("{}")).unwrap_or_default()
}

fn named<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span named {name}: {spans:#?}"))
}

fn responses_request() -> CreateResponse {
    serde_json::from_value(json!({"model": "gpt-5-mini", "input": "Weather in Paris?",
        "tools": [{"type": "function", "name": "get_weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]}))
    .expect("a valid Responses request")
}

fn anthropic_request(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": stream,
        "messages": [{"role": "user", "content": "Weather in Paris?"}]})
}

#[test]
fn responses_and_anthropic_replies_are_checked_with_their_real_tool_calls() {
    let ((), spans, guard) = run(GuardRule::allow(), |p| async move {
        p.oai("tool_call")
            .responses()
            .create(responses_request())
            .await
            .expect("allowed");
        p.ant("tool_use", anthropic_request(false))
            .await
            .expect("allowed");
        p.ant_stream("tool_use", anthropic_request(true), usize::MAX)
            .await;
    });
    assert_eq!(guard.len(), 3, "{guard:#?}");
    let sources: Vec<&Value> = guard.iter().map(|g| &g["decision_source"]).collect();
    assert_eq!(
        sources,
        [&json!("openai"), &json!("anthropic"), &json!("anthropic")]
    );
    for g in &guard {
        assert_eq!(g["tool_name"], "get_weather", "{g}");
        assert_eq!(g["tool_input"]["city"], "Paris", "the real input: {g}");
    }
    for name in [
        "response:tool_calls(get_weather)",
        "chat:tool_use(get_weather)",
        "anthropic.messages.create",
    ] {
        let llm = named(&spans, name);
        assert_eq!(llm["status"], "ok", "{name}");
        let evals = &attrs(llm)["guard_evaluations"];
        assert_eq!(evals[0]["tool_name"], "get_weather", "{name}");
        assert_eq!(evals[0]["action"], "allow", "{name}");
    }
}

#[test]
fn a_blocked_responses_call_is_an_error_for_the_caller_and_on_the_span() {
    let (error, spans, guard) = run(
        GuardRule::block("no-weather", "weather is secret"),
        |p| async move {
            p.oai("tool_call")
                .responses()
                .create(responses_request())
                .await
                .err()
                .map(|e| e.to_string())
        },
    );
    let error = error.expect("the reply is refused");
    assert!(
        error.contains("Guard blocked tool 'get_weather'") && error.contains("weather is secret"),
        "{error}"
    );
    assert_eq!(guard.len(), 1);
    let llm = named(&spans, "response");
    assert_eq!(llm["status"], "error");
    assert_eq!(attrs(llm)["exception.type"], "GuardBlocked");
    let blocked = named(&spans, "guard:blocked:get_weather");
    assert_eq!(blocked["parent_span_id"], llm["span_id"]);
}

/// At the JSON level `finish_json` returns the block (the caller must not run the tool
/// call); the SSE wrapper passes the body's bytes through, so a stream's block is
/// recorded on its span only.
#[test]
fn a_blocked_anthropic_reply_read_through_the_json_level_is_recorded_on_its_span() {
    let (non_stream_result, spans, guard) = run(
        GuardRule::block("no-weather", "weather is secret"),
        |p| async move {
            let out = p.ant("tool_use", anthropic_request(false)).await;
            p.ant_stream("tool_use", anthropic_request(true), usize::MAX)
                .await;
            out
        },
    );
    assert_eq!(
        non_stream_result.expect_err("finish_json returned the block"),
        "Guard blocked tool 'get_weather': weather is secret"
    );
    assert_eq!(guard.len(), 2);
    let non_stream = named(&spans, "chat");
    assert_eq!(non_stream["status"], "error");
    assert_eq!(attrs(non_stream)["exception.type"], "GuardBlocked");
    assert!(
        non_stream["error_message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Guard blocked tool 'get_weather'")),
        "{}",
        non_stream["error_message"]
    );
    let stream = named(&spans, "anthropic.messages.create");
    assert_eq!(stream["status"], "error");
    assert!(
        stream["error_message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Guard blocked: get_weather")),
        "{}",
        stream["error_message"]
    );
    for llm in [non_stream, stream] {
        let blocked = spans.iter().find(|s| {
            s["name"] == "guard:blocked:get_weather" && s["parent_span_id"] == llm["span_id"]
        });
        assert!(blocked.is_some(), "a guard span under {}", llm["name"]);
    }
}

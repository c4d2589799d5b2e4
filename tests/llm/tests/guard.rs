//! Guard on LLM replies, end to end: async-openai (wrapped with `traced`) against the
//! fake provider, decisions from the collector's guard endpoint, spans delivered to the
//! same collector. A reply that proposes a blocked tool call reaches the caller as an
//! error and the LLM span says why (the guard contract's §4 and the LLM contract's §11).

use async_openai::types::chat::CreateChatCompletionRequest;
use futures_util::StreamExt;
use serde_json::{json, Value};
use staso_collector::{Collector, CollectorConfig, GuardRule};
use staso_llm_tests::fake::FakeLlm;
use staso_llm_tests::scenario::Providers;
use std::sync::Mutex;
use std::time::Duration;

/// One client per process: the tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn request(stream: bool) -> CreateChatCompletionRequest {
    let mut body = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "You are a weather assistant."},
                     {"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    });
    if stream {
        body["stream"] = json!(true);
    }
    serde_json::from_value(body).expect("a valid chat request")
}

/// Runs one chat call (`stream`: read to the end) with `rule` for `get_weather`; returns
/// the error the caller saw (if any), the stored spans and the guard requests' bodies.
fn run(rule: GuardRule, stream: bool) -> (Option<String>, Vec<Value>, Vec<Value>) {
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
    let error = rt.block_on(async {
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
        let oai = Providers::new(fake).oai("tool_call");
        let error = if stream {
            match oai.chat().create_stream(request(true)).await {
                Err(e) => Some(e.to_string()),
                Ok(mut s) => {
                    let mut last = None;
                    while let Some(item) = s.next().await {
                        if let Err(e) = item {
                            last = Some(e.to_string());
                        }
                    }
                    last
                }
            }
        } else {
            oai.chat()
                .create(request(false))
                .await
                .err()
                .map(|e| e.to_string())
        };
        let report = client.shutdown(Duration::from_secs(20));
        assert!(report.ok(), "{report:?}");
        error
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
    (error, spans, guard)
}

fn attrs(span: &Value) -> Value {
    serde_json::from_str(span["attributes"].as_str().unwrap_or("{}")).unwrap_or_default()
}

fn named<'a>(spans: &'a [Value], prefix: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .unwrap_or_else(|| panic!("no span named {prefix}…: {spans:#?}"))
}

#[test]
fn an_allowed_tool_call_reaches_the_caller_with_its_evaluation_on_the_span() {
    let (error, spans, guard) = run(GuardRule::allow(), false);
    assert_eq!(error, None);
    assert_eq!(guard.len(), 1, "one decision per proposed call");
    assert_eq!(guard[0]["tool_name"], "get_weather");
    assert_eq!(guard[0]["decision_source"], "openai");
    let llm = named(&spans, "chat:tool_calls(get_weather)");
    assert_eq!(llm["status"], "ok");
    let evals = &attrs(llm)["guard_evaluations"];
    assert_eq!(evals[0]["tool_name"], "get_weather");
    assert_eq!(evals[0]["action"], "allow");
    assert_eq!(evals[0]["decision_id"], guard[0]["decision_id"]);
    assert!(
        spans
            .iter()
            .all(|s| !s["name"].as_str().unwrap_or("").starts_with("guard:")),
        "allowed tools get no guard span"
    );
}

#[test]
fn a_blocked_tool_call_is_an_error_for_the_caller_and_on_the_span() {
    let (error, spans, guard) = run(GuardRule::block("no-weather", "weather is secret"), false);
    let error = error.expect("the call is refused");
    assert!(
        error.contains("Guard blocked tool 'get_weather'") && error.contains("weather is secret"),
        "{error}"
    );
    assert_eq!(guard.len(), 1);
    let llm = named(&spans, "chat");
    assert_eq!(
        llm["name"], "chat",
        "a blocked call keeps the placeholder name"
    );
    assert_eq!(llm["status"], "error");
    let a = attrs(llm);
    assert_eq!(a["exception.type"], "GuardBlocked");
    assert_eq!(a["guard_blocked_count"], 1);
    assert_eq!(a["guard_blocked_tools"][0]["tool_name"], "get_weather");
    let blocked = named(&spans, "guard:blocked:get_weather");
    assert_eq!(blocked["kind"], "tool");
    assert_eq!(blocked["parent_span_id"], llm["span_id"]);
    assert_eq!(blocked["status"], "error");
}

#[test]
fn a_blocked_call_in_a_stream_ends_the_stream_with_the_error() {
    let (error, spans, guard) = run(GuardRule::block("no-weather", "weather is secret"), true);
    let error = error.expect("the stream ends with an error");
    assert!(error.contains("get_weather"), "{error}");
    assert_eq!(guard.len(), 1);
    let llm = named(&spans, "openai.chat.completions.create");
    assert_eq!(llm["status"], "error");
    assert!(
        llm["error_message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Guard blocked: get_weather")),
        "{}",
        llm["error_message"]
    );
    assert!(
        attrs(llm).get("exception.type").is_none(),
        "streams: no exception.type"
    );
}

#[test]
fn guard_checks_off_evaluates_nothing() {
    let (error, guard) = {
        // A blocking rule, with the option off: no decision is asked for.
        let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let collector = Collector::start_blocking(CollectorConfig {
            api_key: "test-key".into(),
            ..Default::default()
        })
        .expect("collector starts");
        collector
            .guard()
            .set("get_weather", GuardRule::block("no-weather", "secret"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let error = rt.block_on(async {
            let fake = FakeLlm::start().await.expect("fake provider starts");
            let client = staso::init(
                staso::Options::new()
                    .api_key("test-key")
                    .agent_name("weather-bot")
                    .base_url(collector.url())
                    .capture_git(false)
                    .guard_checks(false),
            )
            .expect("init");
            let e = Providers::new(fake)
                .oai("tool_call")
                .chat()
                .create(request(false))
                .await
                .err()
                .map(|e| e.to_string());
            assert!(client.shutdown(Duration::from_secs(20)).ok());
            e
        });
        (error, collector.requests().guard().len())
    };
    assert_eq!(error, None);
    assert_eq!(guard, 0);
}

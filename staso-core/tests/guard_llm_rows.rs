//! Rows of `shared/guard-annotations-contract.md` §4 (tool calls an LLM proposed) that had
//! no test of their own, through the public JSON-level LLM API: an Anthropic reply's checks
//! on the wire, each request's share of the batch deadline, the history's total bound, and
//! the integration decision span under the capture policy. Decisions come from the
//! independent loopback server, through a running client (one per process: the tests take
//! turns); spans are read from a test capture.

#[path = "support/guard_service.rs"]
mod guard_service;
#[path = "support/loopback.rs"]
mod loopback;

use guard_service::{ack, decision, KEY};
use loopback::{Recorded, Server};
use serde_json::{json, Value};
use staso_core::llm::{Api, LlmSpan};
use staso_core::testing::{capture_with, init_with_env, CapturedSpans};
use staso_core::{Client, Options};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

/// A running client whose guard requests go to `s`.
fn client(s: &Server) -> (MutexGuard<'static, ()>, Client) {
    let turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let none: HashMap<&str, &str> = HashMap::new();
    let c = init_with_env(
        Options::new()
            .api_key(KEY)
            .agent_name("llm-bot")
            .base_url(s.url())
            .capture_git(false)
            .install_exit_hook(false),
        &none,
    )
    .expect("init");
    (turn, c)
}

/// A test capture with the automatic checks on (a capture switches them off by default).
fn checks_on() -> Options {
    Options::new().guard_checks(true)
}

/// The guard requests the server received (not the ingest ones).
fn guard_requests(s: &Server) -> Vec<Recorded> {
    s.requests()
        .into_iter()
        .filter(|r| r.path == "/v1/guard/evaluate")
        .collect()
}

/// One rule per tool name: `blocked` blocks, `audited` would block, the rest is allowed;
/// every answer after `delay`.
fn service_after(delay: Duration) -> Server {
    Server::start(move |req, _| {
        if req.path == "/v1/traces/ingest" {
            return ack(req);
        }
        let tool = req.json()["tool_name"].as_str().unwrap_or("").to_string();
        let reply = match tool.as_str() {
            "blocked" => decision(
                req,
                "block",
                json!({"reason": "not allowed", "severity": "high",
                       "results": [{"rule_name": "no", "action": "block", "reason": "not allowed"}]}),
            ),
            "audited" => decision(
                req,
                "allow",
                json!({"results": [{"rule_name": "watch", "action": "audit",
                                    "reason": "watched", "severity": "low"}]}),
            ),
            _ => decision(req, "allow", json!({})),
        };
        reply.after(delay)
    })
}

/// An OpenAI chat call proposing `calls` (name, arguments text), recorded in `spans`.
fn openai_call(messages: Value, calls: &[(&str, &str)]) {
    let request = json!({
        "model": "gpt-4o-mini",
        "messages": messages,
        "tools": calls.iter().map(|(n, _)| json!({"type": "function", "function": {"name": n,
            "parameters": {"type": "object"}}})).collect::<Vec<_>>(),
    });
    let tool_calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (n, a))| {
            json!({"id": format!("call_{i}"), "type": "function",
                   "function": {"name": n, "arguments": a}})
        })
        .collect();
    let reply = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls",
                     "message": {"role": "assistant", "content": null, "tool_calls": tool_calls}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    });
    let span = LlmSpan::start_json(Api::OpenAiChat, &request);
    assert!(span.is_recording());
    // The decision is checked on the span and the requests; a block is also returned.
    let _ = span.finish_json(&reply);
}

fn guard_spans(spans: &CapturedSpans) -> Vec<String> {
    spans
        .iter()
        .map(|s| s.name().to_string())
        .filter(|n| n.starts_with("guard:"))
        .collect()
}

#[test]
fn an_anthropic_reply_is_checked_with_decision_source_anthropic() {
    let s = service_after(Duration::ZERO);
    let (_turn, c) = client(&s);
    let request = json!({
        "model": "claude-3-5-sonnet-latest", "max_tokens": 256,
        "system": "You are a weather assistant.",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"name": "get_weather", "description": "weather",
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
    });
    let reply = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-latest",
        "content": [{"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_01", "name": "get_weather",
                     "input": {"city": "Paris"}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 20, "output_tokens": 10},
    });
    let (_, spans) = capture_with(checks_on(), || {
        let span = LlmSpan::start_json(Api::AnthropicMessages, &request);
        // Checked on the span below; a block is also returned.
        let _ = span.finish_json(&reply);
    });
    let reqs = guard_requests(&s);
    assert_eq!(reqs.len(), 1, "one decision per proposed call");
    let body = reqs[0].json();
    assert_eq!(body["decision_source"], "anthropic");
    assert_eq!(body["tool_name"], "get_weather");
    assert_eq!(body["tool_input"], json!({"city": "Paris"}));
    let ctx = &body["context"];
    assert_eq!(ctx["invocation_id"], "toolu_01");
    assert_eq!(
        ctx["tool_call_evidence"]["arguments"],
        json!({"status": "parsed", "complete": true})
    );
    assert_eq!(
        ctx["tool_call_evidence"]["schema"]["value"],
        request["tools"][0]["input_schema"]
    );
    // The v5 id over the compact JSON of the contract (all of it ASCII here).
    let name = serde_json::to_string(&json!([
        "staso.guard.v1",
        "anthropic",
        ctx["session_id"],
        ctx["trace_id"],
        "toolu_01"
    ]))
    .expect("json");
    let v5 = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string();
    assert_eq!(body["decision_id"], v5.as_str());
    let llm = spans
        .iter()
        .find(|s| s.kind() == "llm")
        .expect("the LLM span");
    let evals = llm.attribute("guard_evaluations").expect("evaluations");
    assert_eq!(evals[0]["decision_source"], "anthropic");
    assert_eq!(evals[0]["decision_id"], v5.as_str());
    let _ = c.shutdown(Duration::from_secs(5));
}

#[test]
fn each_request_of_a_batch_gets_what_remains_of_the_batch_deadline() {
    // Four checks run at once (the default); each answer takes a second, so the fifth is
    // sent at least a second into the batch, with at least a second less to go.
    let s = service_after(Duration::from_secs(1));
    let (_turn, c) = client(&s);
    let calls = [
        ("a", "{}"),
        ("b", "{}"),
        ("c", "{}"),
        ("d", "{}"),
        ("e", "{}"),
    ];
    let (_, spans) = capture_with(checks_on(), || {
        openai_call(json!([{"role": "user", "content": "go"}]), &calls);
    });
    let reqs = guard_requests(&s);
    assert_eq!(reqs.len(), 5);
    let ms: Vec<i64> = reqs
        .iter()
        .map(|r| r.json()["deadline_ms"].as_i64().expect("deadline_ms"))
        .collect();
    let (max, min) = (
        *ms.iter().max().expect("some"),
        *ms.iter().min().expect("some"),
    );
    assert!(max <= 9900, "{ms:?}");
    assert!(
        min <= max - 999,
        "a later request has less time than the first ones: {ms:?}"
    );
    assert!(guard_spans(&spans).is_empty(), "all allowed");
    let _ = c.shutdown(Duration::from_secs(5));
}

#[test]
fn the_history_of_a_check_is_bounded_to_24000_characters() {
    let s = service_after(Duration::ZERO);
    let (_turn, c) = client(&s);
    // Ten messages of 5 000 characters (50 000 in all), each its own letter.
    let letters = "abcdefghij";
    let messages: Vec<Value> = letters
        .chars()
        .enumerate()
        .map(|(i, ch)| {
            json!({"role": if i % 2 == 0 { "user" } else { "assistant" },
                   "content": ch.to_string().repeat(5000)})
        })
        .collect();
    let _ = capture_with(checks_on(), || {
        openai_call(Value::Array(messages.clone()), &[("lookup", "{}")])
    });
    let reqs = guard_requests(&s);
    assert_eq!(reqs.len(), 1);
    let ctx = reqs[0].json()["context"].clone();
    let history = ctx["conversation_history"]
        .as_array()
        .cloned()
        .expect("history");
    let total: usize = history
        .iter()
        .map(|m| m["content"].as_str().map_or(0, |c| c.chars().count()))
        .sum();
    assert!(total <= 24_000, "{total}");
    assert!(total > 20_000, "filled up to the bound: {total}");
    assert_eq!(
        history.first(),
        Some(&json!({"role": "user", "content": "a".repeat(5000)})),
        "the first user message is always kept"
    );
    assert!(
        history.contains(&json!({"role": "user", "content": "i".repeat(5000)})),
        "the last user message is always kept"
    );
    assert!(history.len() < messages.len());
    assert_eq!(ctx["conversation_history_status"]["truncated"], true);
    assert_eq!(ctx["conversation_history_status"]["source"], "sdk_request");
    let _ = c.shutdown(Duration::from_secs(5));
}

#[test]
fn a_would_block_span_says_the_call_continued() {
    let s = service_after(Duration::ZERO);
    let (_turn, c) = client(&s);
    let (_, spans) = capture_with(checks_on(), || {
        openai_call(
            json!([{"role": "user", "content": "go"}]),
            &[("audited", r#"{"x": 1}"#)],
        );
    });
    let w = spans.named("guard:would-block:audited");
    assert_eq!(w.status(), "ok");
    let out = w.output().expect("output");
    assert_eq!(
        out["enforcement_response"],
        json!({"kind": "continued", "payload": null})
    );
    assert_eq!(out["action"], "would_block");
    assert_eq!(
        out["rules_triggered"],
        json!([{"rule_name": "watch", "action": "audit", "reason": "watched", "severity": "low"}])
    );
    assert_eq!(w.attribute("guard_reason"), Some(json!("watched")));
    let _ = c.shutdown(Duration::from_secs(5));
}

#[test]
fn without_output_capture_an_integration_decision_span_keeps_only_its_attributes() {
    // The Python SDK builds the reduced output (action, decision_id, ..., retryable) but
    // its exporter writes `output` only when output is captured (provider.py: a plain
    // dict is not pre-filtered LLM output), and `error_message` only with every category
    // on: on the wire the span carries its `guard_*` attributes, without `guard_reason`.
    let s = service_after(Duration::ZERO);
    let (_turn, c) = client(&s);
    let (_, spans) = capture_with(checks_on().capture_output(false), || {
        openai_call(
            json!([{"role": "user", "content": "go"}]),
            &[("blocked", r#"{"x": 1}"#)],
        );
    });
    let b = spans.named("guard:blocked:blocked");
    assert_eq!(b.status(), "error");
    assert_eq!(b.output(), None);
    assert_eq!(b.error_message(), None);
    assert_eq!(b.attribute("guard_reason"), None, "the reason is output");
    assert_eq!(b.attribute("guard_action"), Some(json!("block")));
    assert_eq!(b.attribute("guard_decision_source"), Some(json!("openai")));
    assert_eq!(
        b.input(),
        Some(json!({"tool_name": "blocked", "tool_input": {"x": 1}})),
        "the input needs tool_arguments only"
    );
    let _ = c.shutdown(Duration::from_secs(5));
}

/// `STASO_GUARD_BATCH_TIMEOUT` and `STASO_GUARD_MAX_CONCURRENCY` are read from the
/// process environment, which the tests never change (`set_var` races other tests): the
/// check runs in a child process, this test binary running only
/// [`batch_variables_in_a_child`], with the variables set.
#[test]
fn the_batch_timeout_and_concurrency_variables_apply_end_to_end() {
    let exe = std::env::current_exe().expect("this test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "batch_variables_in_a_child",
            "--ignored",
            "--test-threads=1",
        ])
        .env("STASO_GUARD_BATCH_TIMEOUT", "2")
        .env("STASO_GUARD_MAX_CONCURRENCY", "1")
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[test]
#[ignore = "run by the_batch_timeout_and_concurrency_variables_apply_end_to_end, with the variables set"]
fn batch_variables_in_a_child() {
    assert_eq!(
        std::env::var("STASO_GUARD_MAX_CONCURRENCY").as_deref(),
        Ok("1"),
        "run through the_batch_timeout_and_concurrency_variables_apply_end_to_end"
    );
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    // Each answer takes 300 ms; the handler counts the requests in flight.
    let (active, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, m) = (active.clone(), most.clone());
    let s = Server::start(move |req, _| {
        if req.path == "/v1/traces/ingest" {
            return ack(req);
        }
        let now = a.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        a.fetch_sub(1, Ordering::SeqCst);
        decision(req, "allow", json!({}))
    });
    let (_turn, c) = client(&s);
    let (_, spans) = capture_with(checks_on(), || {
        openai_call(
            json!([{"role": "user", "content": "go"}]),
            &[("a", "{}"), ("b", "{}"), ("c", "{}")],
        );
    });
    let reqs = guard_requests(&s);
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "one at a time (4 by default)"
    );
    for r in &reqs {
        let ms = r.json()["deadline_ms"].as_i64().expect("deadline_ms");
        assert!(ms <= 1900, "within the 2 s batch (10 s by default): {ms}");
    }
    let llm = spans.iter().find(|s| s.kind() == "llm").expect("LLM span");
    let evals = llm.attribute("guard_evaluations").expect("evaluations");
    assert_eq!(evals.as_array().map(Vec::len), Some(3));
    let _ = c.shutdown(Duration::from_secs(5));
}

//! Tests of the batch evaluation of the tool calls an LLM reply proposes, against the
//! loopback guard service (and the local collector, whose check every request passes).

use super::arguments::ToolArguments;
use super::batch::*;
use super::{guard_service, loopback, span as decision_span};
use crate::local::span::span;
use crate::local::span::Span;
use crate::testing::{capture_with, CapturedSpans};
use guard_service::{decision, env, service, MapEnv};
use loopback::{Reply, Server};
use serde_json::{json, Value};
use staso_types::Options;
use staso_types::{DecisionSource, GuardBlocked, GuardFailureKind, GuardResult, Kind};
use std::sync::Arc;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

fn call(id: &str, name: &str, args: &str) -> ProposedToolCall {
    ProposedToolCall {
        id: Some(id.into()),
        name: name.into(),
        arguments: ToolArguments::Json(args.into()),
    }
}

/// An LLM span as an integration leaves it after the reply: request, stop reason.
fn llm_span() -> Span {
    let mut llm = Span::new("chat", Kind::Llm);
    llm.set_input(&json!({
        "model": "gpt-4o-mini",
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                "unit": {"type": "string"}}, "required": ["city"]}}}],
        "messages": [
            {"role": "system", "content": "You are a weather assistant. Be brief."},
            {"role": "user", "content": "What is the weather in Paris?"}],
    }));
    llm.set_metadata("stop_reason", &"tool_calls");
    llm
}

/// Capture options under which guard checks run (a capture runs none by default).
fn checks() -> Options {
    Options::new().guard_checks(true)
}

type Outcome = Result<Vec<GuardResult>, GuardBlocked>;

/// Evaluates `calls` on an LLM span inside an agent span, inside a capture.
fn evaluate(
    s: &Server,
    calls: Vec<ProposedToolCall>,
    options: BatchOptions,
    extra_env: &[(&'static str, &str)],
    capture_opts: Options,
) -> (Outcome, String, CapturedSpans) {
    let mut e = env(&s.url());
    for (k, v) in extra_env {
        e.insert(k, v.to_string());
    }
    // A capture checks nothing unless asked; these tests ask, unless their environment
    // (`STASO_GUARD_ENABLED`) is what they exercise.
    let mut capture_opts = capture_opts;
    if !extra_env.iter().any(|(k, _)| *k == "STASO_GUARD_ENABLED") {
        capture_opts.guard_checks = capture_opts.guard_checks.or(Some(true));
    }
    let ((out, trace), spans) = capture_with(capture_opts, || {
        crate::conversation("3e675fea-0cdc-4d9b-bd9f-de52ba02d630").run(|| {
            let _agent = span("weather-agent", Kind::Agent);
            let mut llm = llm_span();
            let trace = llm.trace_id().map(|t| t.to_string()).unwrap_or_default();
            let out = evaluate_blocking_with_env(&mut llm, &calls, options, &MapEnv(e));
            (out, trace)
        })
    });
    (out, trace, spans)
}

fn guard_requests(s: &Server) -> Vec<Value> {
    s.requests()
        .iter()
        .filter(|r| r.path == "/v1/guard/evaluate")
        .map(|r| r.json())
        .collect()
}

#[test]
fn the_request_of_a_proposed_call_is_the_fixtures() {
    let s = service();
    let calls = vec![call(
        "call_abc123",
        "get_weather",
        r#"{"city": "Paris", "unit": "celsius"}"#,
    )];
    let (out, trace, spans) = evaluate(
        &s,
        calls,
        BatchOptions::new(DecisionSource::Openai),
        &[],
        Options::new(),
    );
    let results = out.expect("allowed");
    assert_eq!(results.len(), 1);
    let body = guard_requests(&s).pop().expect("one request");
    let llm = spans.named("chat");
    let decision = decision_span::invocation_decision_id(
        DecisionSource::Openai,
        "3e675fea-0cdc-4d9b-bd9f-de52ba02d630",
        Some(&trace),
        Some("call_abc123"),
    );
    assert_eq!(body["decision_id"], decision.to_string());
    assert_eq!(body["decision_source"], "openai");
    assert_eq!(
        body["tool_input"],
        json!({"city": "Paris", "unit": "celsius"})
    );
    let deadline = body["deadline_ms"].as_u64().expect("deadline");
    assert!((100..=9_900).contains(&deadline), "{deadline}");
    // shared/llm-fixtures/guard_block.guard.jsonl, first request, but our ids.
    assert_eq!(
        body["context"],
        json!({
            "agent_id": staso_types::agent_id("test-agent"),
            "agent_name": "weather-agent",
            "environment": "default",
            "workspace_id": "default",
            "trace_id": trace,
            "span_id": llm.span_id(),
            "session_id": "3e675fea-0cdc-4d9b-bd9f-de52ba02d630",
            "conversation_history": [
                {"role": "system", "content": "You are a weather assistant. Be brief."},
                {"role": "user", "content": "What is the weather in Paris?"}],
            "conversation_history_status": {"source": "sdk_request", "complete": false,
                "truncated": false, "suppressed": false},
            "tool_call_evidence": {"version": 1, "tool_name": "get_weather",
                "arguments": {"status": "parsed", "complete": true},
                "schema": {"status": "available", "value": {"type": "object",
                    "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                    "required": ["city"]}}},
            "invocation_id": "call_abc123",
            "context_availability": {"tool_input": "available", "tool_schema": "available",
                "conversation_history": "partial", "tool_output": "unavailable"},
        })
    );
    // Allowed: no child span; the evaluation is on the LLM span.
    assert_eq!(
        spans.len(),
        2,
        "{:?}",
        spans.iter().map(|s| s.name()).collect::<Vec<_>>()
    );
    let mut evals = llm.attribute("guard_evaluations").expect("evaluations");
    // The latency goes through a float's text form and back: compare it within a ulp-ish
    // bound, the rest exactly.
    let latency = evals[0]["latency_ms"].as_f64().expect("latency");
    assert!((latency - results[0].latency_ms).abs() < 1e-9, "{latency}");
    evals[0]["latency_ms"] = json!(0.0);
    assert_eq!(
        evals,
        json!([{"tool_name": "get_weather", "action": "allow",
            "decision_id": decision.to_string(), "decision_source": "openai",
            "latency_ms": 0.0, "rules_triggered": [],
            "decision_available": true, "evaluation_status": "evaluated",
            "failure_kind": null, "failure_mode": "fail_open", "retryable": false,
            "reason": ""}])
    );
    assert_eq!(llm.status(), "ok");
}

#[test]
fn a_blocked_call_withholds_the_whole_batch() {
    let s = service();
    let calls = vec![
        call("call_1", "get_weather", r#"{"city": "Paris"}"#),
        call("call_2", "delete_file", r#"{"path": "/"}"#),
        call("call_3", "send_email", r#"{"to": "x"}"#),
    ];
    let (out, _, spans) = evaluate(
        &s,
        calls,
        BatchOptions::new(DecisionSource::Openai),
        &[],
        Options::new(),
    );
    let err = out.expect_err("blocked");
    assert_eq!(err.tool_name(), "delete_file");
    assert_eq!(
        err.to_string(),
        "Guard blocked tool 'delete_file': deleting is not allowed"
    );
    assert_eq!(guard_requests(&s).len(), 3, "every call is evaluated");
    let llm = spans.named("chat");
    assert_eq!(llm.status(), "error");
    assert_eq!(llm.error_message(), Some(err.to_string().as_str()));
    assert_eq!(llm.attribute("exception.type"), Some(json!("GuardBlocked")));
    assert_eq!(llm.attribute("guard_blocked_count"), Some(json!(1)));
    let blocked = llm.attribute("guard_blocked_tools").expect("blocked tools");
    assert_eq!(blocked[0]["tool_name"], "delete_file");
    assert_eq!(blocked[0]["rules_triggered"], json!(["no-deletes"]));
    assert_eq!(blocked[0]["severity"], "high");
    assert_eq!(blocked[0]["reason"], "deleting is not allowed");
    assert_eq!(
        llm.attribute("guard_evaluations")
            .expect("e")
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    let b = spans.named("guard:blocked:delete_file");
    assert_eq!(b.parent_span_id(), Some(llm.span_id()));
    assert_eq!((b.kind(), b.status()), ("tool", "error"));
    assert_eq!(b.error_message(), Some("Guard blocked"));
    assert_eq!(
        b.attribute("guard_reason"),
        Some(json!("deleting is not allowed"))
    );
    let out = b.output().expect("output");
    assert_eq!(
        out["enforcement_response"],
        json!({"kind": "exception", "type": "GuardBlocked", "message": err.to_string()})
    );
    assert_eq!(
        b.input(),
        Some(json!({"tool_name": "delete_file", "tool_input": {"path": "/"}}))
    );
    let decision_id = out["decision_id"].as_str().expect("id").to_string();
    assert_eq!(
        b.span_id(),
        decision_span::decision_span_id(&decision_id, "guard:blocked:delete_file")
    );

    let w = spans.named("guard:would-block:send_email");
    assert_eq!(w.status(), "ok");
    assert_eq!(w.error_message(), None);
    let out = w.output().expect("output");
    assert_eq!(out["action"], "would_block");
    assert_eq!(out["reason"], "mail leaves the company");
    assert_eq!(
        out["rules_triggered"],
        json!([{"rule_name": "watch-mail", "action": "audit",
                "reason": "mail leaves the company", "severity": "medium"}])
    );
    assert_eq!(w.attribute("guard_action"), Some(json!("would_block")));
    // The allowed call has no span.
    assert!(spans.iter().all(|s| !s.name().contains("get_weather")));
}

#[test]
fn several_blocked_calls_and_a_stream() {
    let s = service();
    let calls = vec![
        call("c1", "delete_file", r#"{"path": "/a"}"#),
        call("c2", "delete_file", r#"{"path": "/b"}"#),
    ];
    let mut opts = BatchOptions::new(DecisionSource::Anthropic);
    opts.stream = true;
    let (out, _, spans) = evaluate(&s, calls, opts, &[], Options::new());
    let err = out.expect_err("blocked");
    assert_eq!(
        err.to_string(),
        "Guard blocked 2 tools (delete_file, delete_file): delete_file: deleting is not allowed; delete_file: deleting is not allowed"
    );
    let llm = spans.named("chat");
    assert_eq!(
        llm.error_message(),
        Some("Guard blocked: delete_file: deleting is not allowed; delete_file: deleting is not allowed")
    );
    assert_eq!(
        llm.attribute("exception.type"),
        None,
        "a stream records no exception type"
    );
    assert_eq!(llm.attribute("guard_blocked_count"), Some(json!(2)));
}

#[test]
fn the_batch_deadline_and_fail_closed() {
    let s = Server::start(|_, _| Reply::hang());
    let calls = vec![call("c1", "a", "{}"), call("c2", "b", "{}")];
    let mut opts = BatchOptions::new(DecisionSource::Openai);
    opts.deadline = Some(Duration::from_millis(300));
    let (out, _, spans) = evaluate(&s, calls.clone(), opts.clone(), &[], Options::new());
    let results = out.expect("fail-open allows");
    for r in &results {
        assert_eq!(r.failure_kind, Some(GuardFailureKind::DeadlineExceeded));
        assert!(
            r.reason.contains("deadline exceeded (fail-open)"),
            "{}",
            r.reason
        );
    }
    assert_eq!(
        spans.named("guard:unavailable:a").error_message(),
        Some("Guard decision unavailable")
    );
    let (out, _, _) = evaluate(
        &s,
        calls,
        opts,
        &[("STASO_GUARD_FAIL_CLOSED", "1")],
        Options::new(),
    );
    let err = out.expect_err("fail-closed blocks");
    assert_eq!(err.blocked_tools().len(), 2);
}

#[test]
fn an_ingest_only_server_makes_every_decision_unavailable() {
    // As against a service without the guard endpoint: a 404 for every call.
    let s = Server::start(|_, _| Reply::json(404, &json!({"detail": "Not Found"})));
    let (out, _, spans) = evaluate(
        &s,
        vec![call("c1", "get_weather", "{}")],
        BatchOptions::new(DecisionSource::Openai),
        &[],
        Options::new(),
    );
    assert!(out.is_ok());
    let u = spans.named("guard:unavailable:get_weather");
    assert_eq!(
        u.attribute("guard_failure_kind"),
        Some(json!("malformed_response"))
    );
}

#[test]
fn at_most_four_checks_run_at_once() {
    struct Gate {
        now: Mutex<(usize, usize)>,
        cv: Condvar,
    }
    let gate = Arc::new(Gate {
        now: Mutex::new((0, 0)),
        cv: Condvar::new(),
    });
    let g = gate.clone();
    // Each request waits (up to 5 s) until 4 are in at once: that happens only if four
    // run concurrently, and the maximum seen must never pass 4.
    let s = Server::start(move |req, _| {
        let mut n = g.now.lock().unwrap_or_else(|p| p.into_inner());
        n.0 += 1;
        n.1 = n.1.max(n.0);
        g.cv.notify_all();
        let (mut n, _) =
            g.cv.wait_timeout_while(n, Duration::from_secs(5), |n| n.1 < 4)
                .unwrap_or_else(|p| p.into_inner());
        n.0 -= 1;
        drop(n);
        decision(req, "allow", json!({}))
    });
    let calls: Vec<_> = (0..8).map(|i| call(&format!("c{i}"), "t", "{}")).collect();
    let (out, _, _) = evaluate(
        &s,
        calls,
        BatchOptions::new(DecisionSource::Openai),
        &[],
        Options::new(),
    );
    let results = out.expect("allowed");
    assert!(results.iter().all(|r| r.decision_available), "{results:?}");
    let max = gate.now.lock().map(|n| n.1).unwrap_or(0);
    assert_eq!(max, 4);
}

#[test]
fn switched_off_by_staso_guard_enabled_false() {
    let s = service();
    let (out, _, spans) = evaluate(
        &s,
        vec![call("c1", "delete_file", "{}")],
        BatchOptions::new(DecisionSource::Openai),
        &[("STASO_GUARD_ENABLED", "false")],
        Options::new(),
    );
    assert_eq!(out.expect("nothing checked").len(), 0);
    assert!(guard_requests(&s).is_empty());
    assert_eq!(spans.named("chat").attribute("guard_evaluations"), None);
}

#[test]
fn with_tool_arguments_off_nothing_of_them_leaves() {
    let s = service();
    let (_, _, spans) = evaluate(
        &s,
        vec![call("c1", "get_weather", r#"{"city": "Paris"}"#)],
        BatchOptions::new(DecisionSource::Openai),
        &[],
        Options::new().capture_tool_arguments(false),
    );
    let body = guard_requests(&s).pop().expect("one request");
    assert_eq!(body["tool_input"], json!({}));
    let ctx = &body["context"];
    assert_eq!(
        ctx["tool_call_evidence"]["arguments"],
        json!({"status": "suppressed", "complete": false})
    );
    assert_eq!(ctx["conversation_history_status"]["suppressed"], true);
    assert_eq!(
        ctx["conversation_history"],
        json!([{"role": "system", "content": "You are a weather assistant. Be brief."},
               {"role": "user", "content": "What is the weather in Paris?"}])
    );
    let evals = spans
        .named("chat")
        .attribute("guard_evaluations")
        .expect("evals");
    assert_eq!(
        evals[0]["reason"], "",
        "output is captured: the reason stays"
    );
}

#[test]
fn a_replayed_reply_asks_about_the_same_decision() {
    let s = service();
    let calls = vec![call("call_x", "t", "{}")];
    let ((a, b), _) = capture_with(checks(), || {
        let _agent = span("agent", Kind::Agent);
        let mut llm = llm_span();
        let e = MapEnv(env(&s.url()));
        let a = evaluate_blocking_with_env(
            &mut llm,
            &calls,
            BatchOptions::new(DecisionSource::Openai),
            &e,
        );
        let b = evaluate_blocking_with_env(
            &mut llm,
            &calls,
            BatchOptions::new(DecisionSource::Openai),
            &e,
        );
        (a, b)
    });
    let id = |r: Outcome| r.expect("allowed")[0].decision_id;
    assert_eq!(id(a), id(b));
}

#[test]
fn the_async_form_gives_the_same_results() {
    let s = service();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let e = MapEnv(env(&s.url()));
    let calls = vec![call("c1", "delete_file", "{}")];
    let (out, spans) = rt.block_on(crate::testing::capture_future_with(checks(), async {
        let mut llm = llm_span();
        evaluate_with_env(
            &mut llm,
            &calls,
            BatchOptions::new(DecisionSource::Openai),
            &e,
        )
        .await
    }));
    assert!(out.is_err());
    assert_eq!(spans.named("chat").status(), "error");
}

#[test]
fn the_collector_accepts_every_batch_request() {
    use staso_collector::{Collector, CollectorConfig, GuardRule};
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    c.guard().set(
        "delete_file",
        GuardRule::block("no-deletes", "deleting is off"),
    );
    let mut e = env(&c.url());
    e.insert("STASO_API_KEY", "test-key".into());
    let calls = vec![
        call("call_1", "get_weather", r#"{"city": "Paris"}"#),
        call("call_2", "delete_file", r#"{"path": "/"}"#),
        call("call_3", "bad_args", r#"{"path": "#),
    ];
    let (out, spans) = capture_with(checks(), || {
        let _agent = span("agent", Kind::Agent);
        let mut llm = llm_span();
        evaluate_blocking_with_env(
            &mut llm,
            &calls,
            BatchOptions::new(DecisionSource::Openai),
            &MapEnv(e),
        )
    });
    assert_eq!(out.expect_err("blocked").tool_name(), "delete_file");
    let reqs = c.requests().guard();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter().all(|r| r.validation_error.is_none()),
        "{reqs:?}"
    );
    spans.named("guard:blocked:delete_file");
}

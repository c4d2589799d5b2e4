//! `staso::guard` against an independent loopback server (tests/support/loopback.rs): the
//! request of the contract, the context it carries, every decision shape accepted or
//! refused, and the executors it runs on. Failures are in `guard_failures.rs`, decision
//! spans in `guard_spans.rs`, what a running client changes in `guard_client.rs`.
//! Configuration comes from an env map (no `set_var`, no `init`).

#[path = "support/guard_service.rs"]
mod guard_service;
#[path = "support/loopback.rs"]
mod loopback;

use guard_service::{check, env, one_request, service, MapEnv, KEY};
use serde_json::{json, Value};
use staso_core::testing::{capture, guard_blocking_with_env, guard_with_env};
use staso_core::{
    conversation, span, DecisionId, DecisionSource, EvaluationStatus, GuardAction,
    GuardFailureKind, GuardFailureMode, GuardOptions, Kind,
};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

fn is_lower_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|u| u.hyphenated().to_string() == s)
}

#[test]
fn the_request_is_the_contracts() {
    let s = service();
    let r = check(
        &s.url(),
        "lookup_order",
        &json!({"order_id": 42}),
        GuardOptions::new()
            .context("ticket", &7)
            .context("empty", ""),
        &env(&s.url()),
    );
    assert!(r.is_allowed() && r.decision_available, "{r:?}");
    let req = one_request(&s);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/guard/evaluate")
    );
    assert_eq!(req.header("x-api-key"), Some(KEY));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.header("user-agent"),
        Some(format!("staso-rust/{}", staso_core::VERSION).as_str())
    );
    assert_eq!(
        req.header("idempotency-key"),
        None,
        "guard retries are idempotent by decision id"
    );
    let body = req.json();
    let id = body["decision_id"].as_str().expect("decision id");
    assert!(is_lower_uuid(id), "{id}");
    assert_eq!(r.decision_id.map(|d| d.to_string()).as_deref(), Some(id));
    assert_eq!(
        body,
        json!({
            "payload_version": 1,
            "tool_name": "lookup_order",
            "tool_input": {"order_id": 42},
            "context": {
                "agent_id": staso_core::agent_id("guarded-bot"),
                "agent_name": "guarded-bot",
                "environment": "default",
                "workspace_id": "default",
                "ticket": 7,
                "tool_call_evidence": {"version": 1, "tool_name": "lookup_order",
                    "arguments": {"status": "unavailable", "complete": false},
                    "schema": {"status": "unavailable"}},
                "context_availability": {"tool_input": "available", "tool_schema": "unavailable",
                    "conversation_history": "unavailable", "tool_output": "unavailable"},
            },
            "decision_id": id,
            "decision_source": "manual",
            "failure_mode": "fail_open",
            "capture": {"request": "captured", "system_prompt": "captured", "tool_schema": "captured",
                        "tool_arguments": "captured", "output": "captured"},
            "deadline_ms": 9900,
        })
    );
}

#[test]
fn deadline_ms_follows_the_timeout_and_the_environment() {
    let s = service();
    let mut e = env(&s.url());
    e.insert("STASO_GUARD_TIMEOUT", "1.5".into());
    let _ = check(&s.url(), "a", &json!({}), GuardOptions::new(), &e);
    let _ = check(
        &s.url(),
        "b",
        &json!({}),
        GuardOptions::new().timeout(Duration::from_secs(60)),
        &e,
    );
    let ms: Vec<Value> = s
        .requests()
        .iter()
        .map(|r| r.json()["deadline_ms"].clone())
        .collect();
    assert_eq!(ms, [json!(1400), json!(30000)]);
}

#[test]
fn a_given_decision_id_is_sent_normalised_and_checked_in_the_answer() {
    let s = service();
    let id: DecisionId = "1B4E28BA-2FA1-11D2-883F-0016D3CCA427"
        .parse()
        .expect("uuid");
    let r = check(
        &s.url(),
        "lookup",
        &json!({}),
        GuardOptions::new().decision_id(id),
        &env(&s.url()),
    );
    assert_eq!(
        one_request(&s).json()["decision_id"],
        "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    );
    assert_eq!(r.decision_id, Some(id));
    assert!(r.decision_available);
}

#[test]
fn non_object_inputs_are_wrapped_and_secrets_redacted() {
    let s = service();
    let e = env(&s.url());
    let _ = check(&s.url(), "a", &json!("rm -rf /"), GuardOptions::new(), &e);
    let _ = check(
        &s.url(),
        "b",
        &json!({"path": "/x", "api_key": "sk-live"}),
        GuardOptions::new(),
        &e,
    );
    let inputs: Vec<Value> = s
        .requests()
        .iter()
        .map(|r| r.json()["tool_input"].clone())
        .collect();
    assert_eq!(
        inputs,
        [
            json!({"value": "rm -rf /"}),
            json!({"path": "/x", "api_key": "[REDACTED]"})
        ]
    );
}

#[test]
fn with_a_capture_category_off_the_input_and_custom_context_stay_home() {
    let s = service();
    let mut e = env(&s.url());
    e.insert("STASO_CAPTURE_TOOL_ARGUMENTS", "0".into());
    let _ = check(
        &s.url(),
        "lookup",
        &json!({"order_id": 42}),
        GuardOptions::new().context("ticket", &7),
        &e,
    );
    let body = one_request(&s).json();
    assert_eq!(body["tool_input"], json!({}));
    assert_eq!(
        body["context"],
        json!({
            "agent_id": staso_core::agent_id("guarded-bot"),
            "agent_name": "guarded-bot",
            "environment": "default",
            "workspace_id": "default",
            "conversation_history": [],
            "conversation_history_status": {"source": "sdk_request", "complete": false,
                                            "truncated": false, "suppressed": true},
            "tool_call_evidence": {"version": 1, "tool_name": "lookup",
                "arguments": {"status": "suppressed", "complete": false},
                "schema": {"status": "unavailable"}},
            "context_availability": {"tool_input": "suppressed", "tool_schema": "unavailable",
                "conversation_history": "suppressed", "tool_output": "unavailable"},
        })
    );
    assert_eq!(body["capture"]["tool_arguments"], "suppressed");
}

#[test]
fn inside_a_span_and_a_conversation_the_context_carries_them_and_cannot_forge_them() {
    let s = service();
    let e = env(&s.url());
    let (ids, spans) = capture(|| {
        conversation("conv-9").user_id("alice").run(|| {
            let agent = span("triage-agent", Kind::Agent);
            let _ = check(
                &s.url(),
                "lookup",
                &json!({}),
                GuardOptions::new()
                    .context("trace_id", "forged")
                    .context("session_id", "forged")
                    .context("user_id", "mallory"),
                &e,
            );
            (agent.trace_id(), agent.span_id())
        })
    });
    let ctx = one_request(&s).json()["context"].clone();
    let (trace, sp) = ids;
    assert_eq!(ctx["trace_id"], trace.expect("recorded").to_string());
    assert_eq!(ctx["span_id"], sp.expect("recorded").to_string());
    assert_eq!(ctx["session_id"], "conv-9");
    assert_eq!(ctx["agent_name"], "triage-agent", "the enclosing agent");
    assert_eq!(
        ctx["user_id"], "mallory",
        "the caller's keys win over the ambient user"
    );
    assert_eq!(spans.len(), 2);
}

#[test]
fn outside_any_span_and_conversation_no_trace_span_or_session_is_sent() {
    let s = service();
    let _ = check(
        &s.url(),
        "lookup",
        &json!({}),
        GuardOptions::new(),
        &env(&s.url()),
    );
    let ctx = one_request(&s).json()["context"].clone();
    for k in ["trace_id", "span_id", "session_id", "user_id"] {
        assert!(ctx.get(k).is_none(), "{k}: {ctx}");
    }
    let s2 = service();
    conversation("conv-1").run(|| {
        let _ = check(
            &s2.url(),
            "lookup",
            &json!({}),
            GuardOptions::new(),
            &env(&s2.url()),
        );
    });
    let ctx = one_request(&s2).json()["context"].clone();
    assert_eq!(ctx["session_id"], "conv-1");
    assert!(ctx.get("trace_id").is_none());
}

#[test]
fn decisions_allow_block_and_would_block() {
    let s = service();
    let e = env(&s.url());
    let allow = check(&s.url(), "lookup", &json!({}), GuardOptions::new(), &e);
    assert_eq!(
        (allow.action, allow.outcome()),
        (GuardAction::Allow, "allowed")
    );
    assert!(allow.enforce().is_ok());

    let block = check(
        &s.url(),
        "delete_file",
        &json!({"path": "/"}),
        GuardOptions::new(),
        &e,
    );
    assert_eq!(block.action, GuardAction::Block);
    assert_eq!(block.reason, "deleting is not allowed");
    assert_eq!(block.rule_name.as_deref(), Some("no-deletes"));
    assert_eq!(block.rules_triggered, ["no-deletes"]);
    assert_eq!(block.results[0].score, Some(1.0));
    assert_eq!(block.results[0].violations, [r#"{"path":"/"}"#]);
    assert_eq!(block.decision_source, DecisionSource::Manual);
    assert!(block.latency_ms > 0.0);
    let err = block.enforce().expect_err("blocked");
    assert_eq!(
        err.to_string(),
        "Guard blocked tool 'delete_file': deleting is not allowed"
    );
    assert_eq!(err.rules_triggered(), ["no-deletes"]);
    let as_dyn: Box<dyn std::error::Error + Send + Sync> = err.into();
    assert!(as_dyn.to_string().starts_with("Guard blocked"));

    let audit = check(&s.url(), "send_email", &json!({}), GuardOptions::new(), &e);
    assert!(audit.is_allowed() && audit.would_block(), "{audit:?}");
    assert_eq!(
        audit.rules_triggered,
        ["watch-mail"],
        "derived from the findings"
    );
    assert!(audit.enforce().is_ok(), "an audit never blocks");
}

#[test]
fn an_unavailable_decision_from_the_service_takes_the_clients_mode() {
    let s = service();
    let e = env(&s.url());
    let open = check(&s.url(), "degraded", &json!({}), GuardOptions::new(), &e);
    assert!(open.is_allowed() && !open.decision_available);
    assert_eq!(
        open.reason, "rules engine is degraded",
        "the service's reason is kept"
    );
    assert_eq!(
        open.failure_kind,
        Some(GuardFailureKind::BackendUnavailable)
    );
    assert!(open.retryable);
    let closed = check(
        &s.url(),
        "degraded",
        &json!({}),
        GuardOptions::new().fail_closed(true),
        &e,
    );
    assert!(closed.is_blocked());
    assert_eq!(closed.failure_mode, GuardFailureMode::FailClosed);
    assert_eq!(s.requests()[1].json()["failure_mode"], "fail_closed");
}

#[test]
fn answers_that_are_not_decisions_are_malformed_or_unsupported() {
    let s = service();
    let e = env(&s.url());
    for (tool, kind, text) in [
        (
            "not_json",
            GuardFailureKind::MalformedResponse,
            "Guard returned a malformed response",
        ),
        (
            "wrong_id",
            GuardFailureKind::MalformedResponse,
            "Guard returned a malformed response",
        ),
        (
            "modify",
            GuardFailureKind::UnsupportedAction,
            "Guard returned an unsupported action",
        ),
    ] {
        let r = check(&s.url(), tool, &json!({}), GuardOptions::new(), &e);
        assert_eq!(r.failure_kind, Some(kind), "{tool}");
        assert_eq!(r.reason, format!("{text} (fail-open)"), "{tool}");
        assert_eq!(r.evaluation_status, EvaluationStatus::Unavailable);
        assert!(r.is_allowed() && !r.retryable && !r.decision_available);
    }
}

/// A minimal executor (no tokio): the guard's future must not need the caller's runtime.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn the_async_check_runs_on_any_executor_and_in_tokio() {
    let s = service();
    let e = MapEnv(env(&s.url()));
    let r = block_on(guard_with_env(
        "delete_file",
        &json!({}),
        GuardOptions::new(),
        &e,
    ));
    assert!(r.is_blocked());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fut = guard_with_env("lookup", &json!({}), GuardOptions::new(), &e);
    let r = rt.block_on(async { tokio::spawn(fut).await.expect("join") });
    assert!(r.is_allowed());
    // The blocking form inside an async context blocks that thread but works.
    let r = rt
        .block_on(async { guard_blocking_with_env("lookup", &json!({}), GuardOptions::new(), &e) });
    assert!(r.is_allowed());
}

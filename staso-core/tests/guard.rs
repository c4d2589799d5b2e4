//! `staso::guard` against an independent loopback server (tests/support/loopback.rs): the
//! request of the contract, every decision shape accepted or refused, every failure kind,
//! fail-open and fail-closed by argument and environment, the overall deadline, the
//! decision spans. Configuration comes from an env map (no `set_var`, no `init`); what a
//! running client changes is in `guard_client.rs` (a client is process-wide).

#[path = "support/guard_service.rs"]
mod guard_service;
#[path = "support/loopback.rs"]
mod loopback;

use guard_service::{decision, env, service, Env, MapEnv, KEY};
use loopback::{closed_port_url, Recorded, Reply, Server};
use serde_json::{json, Value};
use staso_core::testing::{capture, capture_with, guard_blocking_with_env, guard_with_env};
use staso_core::{
    conversation, span, DecisionId, DecisionSource, EvaluationStatus, GuardAction,
    GuardFailureKind, GuardFailureMode, GuardOptions, GuardResult, Kind, Options,
};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

fn check(
    server_url: &str,
    tool: &str,
    input: &Value,
    options: GuardOptions,
    e: &Env,
) -> GuardResult {
    let mut e = e.clone();
    e.insert("STASO_BASE_URL", server_url.into());
    guard_blocking_with_env(tool, input, options, &MapEnv(e))
}

fn one_request(s: &Server) -> Recorded {
    let r = s.requests();
    assert_eq!(r.len(), 1, "{r:?}");
    r[0].clone()
}

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

/// One status answered by the server, with an optional error body.
fn failing(status: u16, body: Value) -> Server {
    Server::start(move |_, _| Reply::json(status, &body))
}

#[test]
fn every_http_failure_row() {
    use GuardFailureKind as K;
    for (status, body, kind, retryable, text) in [
        (
            401,
            json!({}),
            K::InvalidKey,
            false,
            "Guard authentication rejected",
        ),
        (
            402,
            json!({}),
            K::PlanExpired,
            false,
            "Guard plan is inactive",
        ),
        (403, json!({}), K::Forbidden, false, "Guard access rejected"),
        (429, json!({}), K::RateLimited, true, "Guard rate limited"),
        (
            500,
            json!({}),
            K::BackendUnavailable,
            true,
            "Guard service unavailable",
        ),
        (
            503,
            json!({"error": "down"}),
            K::BackendUnavailable,
            true,
            "Guard service unavailable",
        ),
        (
            404,
            json!({}),
            K::MalformedResponse,
            false,
            "Guard request was rejected",
        ),
        (
            400,
            json!({"code": "nope"}),
            K::MalformedResponse,
            false,
            "Guard request was rejected",
        ),
        (
            503,
            json!({"code": "capacity_exhausted"}),
            K::CapacityExhausted,
            false,
            "Guard evaluation capacity is exhausted",
        ),
        (
            409,
            json!({"error": {"code": "idempotency_conflict"}}),
            K::IdempotencyConflict,
            false,
            "Guard decision ID conflicts with an earlier request",
        ),
        (
            400,
            json!({"detail": {"code": "rate_limited"}}),
            K::RateLimited,
            true,
            "Guard rate limited",
        ),
    ] {
        let s = failing(status, body.clone());
        let r = check(
            &s.url(),
            "t",
            &json!({}),
            GuardOptions::new(),
            &env(&s.url()),
        );
        assert_eq!(
            (r.failure_kind, r.retryable, r.reason.as_str()),
            (
                Some(kind),
                retryable,
                format!("{text} (fail-open)").as_str()
            ),
            "{status} {body}"
        );
        assert_eq!(s.requests().len(), 1, "never retried: {status}");
        assert!(r.is_allowed());
        assert_eq!(r.severity, "low");
    }
}

#[test]
fn a_redirect_is_not_followed() {
    let target = service();
    let loc = format!("{}/v1/guard/evaluate", target.url());
    let s = Server::start(move |_, _| Reply::text(307, "").header("location", &loc));
    let r = check(
        &s.url(),
        "t",
        &json!({}),
        GuardOptions::new(),
        &env(&s.url()),
    );
    assert_eq!(r.failure_kind, Some(GuardFailureKind::MalformedResponse));
    assert!(
        target.requests().is_empty(),
        "the key never went to the redirect's target"
    );
}

#[test]
fn no_key_means_no_request() {
    let s = service();
    let mut e = env(&s.url());
    e.remove("STASO_API_KEY");
    let r = check(&s.url(), "t", &json!({}), GuardOptions::new(), &e);
    assert_eq!(r.failure_kind, Some(GuardFailureKind::InvalidKey));
    assert_eq!(r.reason, "Guard API key is missing (fail-open)");
    assert!(!r.retryable && r.is_allowed());
    assert!(s.requests().is_empty());
}

#[test]
fn a_timeout_under_100_ms_means_no_request() {
    let s = service();
    let r = check(
        &s.url(),
        "t",
        &json!({}),
        GuardOptions::new().timeout(Duration::from_millis(99)),
        &env(&s.url()),
    );
    assert_eq!(r.failure_kind, Some(GuardFailureKind::DeadlineExceeded));
    assert_eq!(r.reason, "Guard request deadline exceeded (fail-open)");
    assert!(r.retryable);
    assert!(s.requests().is_empty());
}

#[test]
fn an_invalid_configuration_sends_nothing_and_says_why() {
    let s = service();
    let mut e = env(&s.url());
    e.insert("STASO_BASE_URL", "http://guard.example.com".into());
    let r = guard_blocking_with_env("t", &json!({}), GuardOptions::new(), &MapEnv(e));
    assert_eq!(r.failure_kind, Some(GuardFailureKind::NetworkUnavailable));
    assert!(
        r.reason.starts_with("Guard configuration is invalid"),
        "{}",
        r.reason
    );
    assert!(r.reason.contains("http"), "{}", r.reason);
    assert!(!r.retryable);
}

#[test]
fn a_refused_connection_is_network_unavailable() {
    let url = closed_port_url();
    let r = check(&url, "t", &json!({}), GuardOptions::new(), &env(&url));
    assert_eq!(r.failure_kind, Some(GuardFailureKind::NetworkUnavailable));
    assert_eq!(r.reason, "Guard network unavailable (fail-open)");
    assert!(r.retryable && r.is_allowed());
}

#[test]
fn the_deadline_covers_the_whole_call_not_each_read() {
    // Headers at once, then the body a byte every 50 ms for over a second: no single read
    // waits long, so a per-socket timeout would never fire and the (valid) decision would
    // arrive; the overall deadline of 300 ms does.
    let s = Server::start(|req, _| {
        decision(req, "allow", json!({"reason": "x".repeat(30)}))
            .trickled(1, Duration::from_millis(50))
    });
    let r = check(
        &s.url(),
        "t",
        &json!({}),
        GuardOptions::new().timeout(Duration::from_millis(300)),
        &env(&s.url()),
    );
    assert_eq!(
        r.failure_kind,
        Some(GuardFailureKind::DeadlineExceeded),
        "{r:?}"
    );
    assert_eq!(r.reason, "Guard request deadline exceeded (fail-open)");
    // A server that never answers.
    let s = Server::start(|_, _| Reply::hang());
    let r = check(
        &s.url(),
        "t",
        &json!({}),
        GuardOptions::new()
            .timeout(Duration::from_millis(200))
            .fail_closed(true),
        &env(&s.url()),
    );
    assert_eq!(r.failure_kind, Some(GuardFailureKind::DeadlineExceeded));
    assert!(r.is_blocked());
}

#[test]
fn fail_closed_by_argument_and_by_environment() {
    let url = closed_port_url();
    let mut e = env(&url);
    let r = check(
        &url,
        "t",
        &json!({}),
        GuardOptions::new().fail_closed(true),
        &e,
    );
    assert!(r.is_blocked());
    assert_eq!(r.reason, "Guard network unavailable (fail-closed)");
    assert_eq!(r.severity, "high");
    assert_eq!(
        r.enforce().expect_err("blocked").to_string(),
        "Guard blocked tool 't': Guard network unavailable (fail-closed)"
    );
    e.insert("STASO_GUARD_FAIL_CLOSED", "yes".into());
    assert!(check(&url, "t", &json!({}), GuardOptions::new(), &e).is_blocked());
    assert!(check(
        &url,
        "t",
        &json!({}),
        GuardOptions::new().fail_closed(false),
        &e
    )
    .is_allowed());
    e.insert("STASO_GUARD_FAIL_CLOSED", "0".into());
    assert!(check(&url, "t", &json!({}), GuardOptions::new(), &e).is_allowed());
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

fn span_id_of(decision: &str, name: &str) -> String {
    let text = format!("[\"staso.guard.span.v1\", \"{decision}\", \"{name}\"]");
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, text.as_bytes()).to_string()
}

#[test]
fn a_check_inside_a_span_is_a_decision_span() {
    let s = service();
    let e = env(&s.url());
    let (results, spans) = capture(|| {
        let _parent = span("agent-turn", Kind::Agent);
        let block = check(
            &s.url(),
            "delete_file",
            &json!({"path": "/"}),
            GuardOptions::new(),
            &e,
        );
        let audit = check(&s.url(), "send_email", &json!({}), GuardOptions::new(), &e);
        let allow = check(&s.url(), "lookup", &json!({}), GuardOptions::new(), &e);
        let _after = span("after", Kind::Chain);
        (block, audit, allow)
    });
    let (block, audit, allow) = results;
    let parent = spans.named("agent-turn");
    let after = spans.named("after");
    assert_eq!(
        after.parent_span_id(),
        Some(parent.span_id()),
        "a decision span is never current"
    );

    let b = spans.named("guard:blocked:delete_file");
    let id = block.decision_id.expect("id").to_string();
    assert_eq!(b.span_id(), span_id_of(&id, "guard:blocked:delete_file"));
    assert_eq!(b.kind(), "tool");
    assert_eq!(b.status(), "ok", "a block is a decision, not an error");
    assert_eq!(b.error_message(), None);
    assert_eq!(b.parent_span_id(), Some(parent.span_id()));
    assert_eq!(b.trace_id(), parent.trace_id());
    let attrs = b.attributes();
    assert_eq!(attrs["guard_action"], "block");
    assert_eq!(attrs["guard_decision_id"], id);
    assert_eq!(attrs["guard_decision_source"], "manual");
    assert_eq!(attrs["guard_decision_available"], true);
    assert_eq!(attrs["guard_evaluation_status"], "evaluated");
    assert_eq!(attrs["guard_failure_kind"], Value::Null);
    assert_eq!(attrs["guard_failure_mode"], "fail_open");
    assert_eq!(attrs["guard_retryable"], false);
    assert!(attrs["guard_latency_ms"].as_f64().is_some_and(|l| l > 0.0));
    assert_eq!(
        b.input(),
        Some(json!({"tool_name": "delete_file", "tool_input": {"path": "/"}}))
    );
    let out = b.output().expect("output");
    assert_eq!(out["action"], "block");
    assert_eq!(
        out["decision_response"]["rules_triggered"],
        json!(["no-deletes"])
    );
    assert_eq!(
        out["decision_response"]["results"][0]["violations"],
        json!([{"path": "/"}])
    );
    assert_eq!(out["enforcement_response"]["kind"], "return");
    assert_eq!(out["enforcement_response"]["type"], "GuardResult");
    assert_eq!(
        out["enforcement_response"]["payload"],
        out["decision_response"]
    );

    let w = spans.named("guard:would-block:send_email");
    assert_eq!(w.attribute("guard_action"), Some(json!("would_block")));
    assert_eq!(w.output().expect("output")["action"], "would_block");
    assert_eq!(
        w.output().expect("output")["decision_response"]["action"],
        "allow"
    );
    assert_eq!(
        w.span_id(),
        span_id_of(
            &audit.decision_id.expect("id").to_string(),
            "guard:would-block:send_email"
        )
    );
    let a = spans.named("guard:allowed:lookup");
    assert_eq!(a.status(), "ok");
    assert_eq!(
        a.span_id(),
        span_id_of(
            &allow.decision_id.expect("id").to_string(),
            "guard:allowed:lookup"
        )
    );
}

#[test]
fn an_unavailable_decision_span_is_an_error_and_outside_a_span_there_is_none() {
    let url = closed_port_url();
    let e = env(&url);
    let (_, spans) = capture(|| {
        let _parent = span("turn", Kind::Agent);
        check(&url, "t", &json!({}), GuardOptions::new(), &e)
    });
    let u = spans.named("guard:unavailable:t");
    assert_eq!(u.status(), "error");
    assert_eq!(
        u.attribute("guard_failure_kind"),
        Some(json!("network_unavailable"))
    );
    assert_eq!(u.attribute("guard_retryable"), Some(json!(true)));
    let (_, spans) = capture(|| check(&url, "t", &json!({}), GuardOptions::new(), &e));
    assert!(spans.is_empty(), "no recording span, no decision span");
}

#[test]
fn the_decision_span_follows_the_capture_policy() {
    let s = service();
    let e = env(&s.url());
    let (_, spans) = capture_with(Options::new().capture_output(false), || {
        let _parent = span("turn", Kind::Agent);
        check(
            &s.url(),
            "delete_file",
            &json!({"path": "/"}),
            GuardOptions::new(),
            &e,
        )
    });
    let b = spans.named("guard:blocked:delete_file");
    assert_eq!(b.output(), None);
    assert_eq!(
        b.input(),
        Some(json!({"tool_name": "delete_file", "tool_input": {"path": "/"}}))
    );
    assert_eq!(b.attribute("guard_action"), Some(json!("block")));
}

#[test]
fn a_dropped_check_ends_its_span_as_cancelled() {
    let s = Server::start(|_, _| Reply::hang());
    let e = MapEnv(env(&s.url()));
    let (_, spans) = capture(|| {
        let _parent = span("turn", Kind::Agent);
        let fut = guard_with_env("slow", &json!({}), GuardOptions::new(), &e);
        drop(fut);
    });
    let c = spans.named("guard:check:slow");
    assert_eq!(c.status(), "error");
}

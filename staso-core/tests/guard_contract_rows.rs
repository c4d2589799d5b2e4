//! Rows of `shared/guard-annotations-contract.md` (§1–4) that had no test of their own,
//! for `staso::guard` against the independent loopback server (tests/support/loopback.rs):
//! retries, the answer's `failure_mode`, decision shapes served over HTTP, context layers
//! and the capture boundary, decision ids, decision spans. Configuration comes from an
//! env map (no `set_var`, no `init`).

#[path = "support/guard_service.rs"]
mod guard_service;
#[path = "support/loopback.rs"]
mod loopback;

use guard_service::{check, decision, env, one_request, service};
use loopback::{Recorded, Reply, Server};
use serde_json::{json, Value};
use staso_core::testing::{capture, capture_with};
use staso_core::{
    conversation, span, EvaluationStatus, GuardAction, GuardFailureKind, GuardFailureMode,
    GuardOptions, Kind, Options,
};
use std::time::Duration;

// §1: one request, never retried.

#[test]
fn a_rate_limit_is_answered_at_once_whatever_retry_after_says() {
    let s = Server::start(|_, _| {
        Reply::json(429, &json!({"error": "slow down"})).header("retry-after", "5")
    });
    // A client that honoured `Retry-After: 5` within a 3 s deadline would end with
    // `deadline_exceeded` (or a second request); the contract says: rate limited, once.
    let r = check(
        &s.url(),
        "t",
        &json!({}),
        GuardOptions::new().timeout(Duration::from_secs(3)),
        &env(&s.url()),
    );
    assert_eq!(r.failure_kind, Some(GuardFailureKind::RateLimited), "{r:?}");
    assert_eq!(r.reason, "Guard rate limited (fail-open)");
    assert!(r.retryable && r.is_allowed() && !r.decision_available);
    assert_eq!(s.requests().len(), 1, "never retried");
}

#[test]
fn a_check_that_times_out_is_not_retried() {
    // A server that never answers, and one that trickles its answer past the deadline.
    let hang = Server::start(|_, _| Reply::hang());
    let trickle = Server::start(|req, _| {
        decision(req, "allow", json!({"reason": "x".repeat(40)}))
            .trickled(1, Duration::from_millis(50))
    });
    for s in [&hang, &trickle] {
        let r = check(
            &s.url(),
            "t",
            &json!({}),
            GuardOptions::new().timeout(Duration::from_millis(300)),
            &env(&s.url()),
        );
        assert_eq!(r.failure_kind, Some(GuardFailureKind::DeadlineExceeded));
        assert_eq!(r.reason, "Guard request deadline exceeded (fail-open)");
        assert_eq!(s.requests().len(), 1, "one request, never retried");
    }
}

#[test]
fn staso_guard_enabled_false_does_not_switch_off_an_explicit_check() {
    let s = service();
    let mut e = env(&s.url());
    e.insert("STASO_GUARD_ENABLED", "false".into());
    let r = check(&s.url(), "delete_file", &json!({}), GuardOptions::new(), &e);
    assert!(r.is_blocked(), "{r:?}");
    assert_eq!(one_request(&s).json()["decision_source"], "manual");
}

// §3: the answer's `failure_mode` is validated, its value ignored.

#[test]
fn the_answers_failure_mode_is_checked_but_the_clients_mode_applies() {
    let s = Server::start(|req, _| {
        let tool = req.json()["tool_name"].as_str().unwrap_or("").to_string();
        match tool.as_str() {
            // The service claims fail-closed on a decision it could not make.
            "unavailable_closed" => decision(
                req,
                "block",
                json!({"failure_mode": "fail_closed", "decision_available": false,
                       "failure_kind": "backend_unavailable", "reason": "degraded"}),
            ),
            "unavailable_open" => decision(
                req,
                "allow",
                json!({"failure_mode": "fail_open", "decision_available": false,
                       "failure_kind": "backend_unavailable", "reason": "degraded"}),
            ),
            "available_closed" => decision(req, "allow", json!({"failure_mode": "fail_closed"})),
            _ => decision(req, "allow", json!({"failure_mode": "fail_sideways"})),
        }
    });
    let e = env(&s.url());
    let open = check(
        &s.url(),
        "unavailable_closed",
        &json!({}),
        GuardOptions::new(),
        &e,
    );
    assert!(open.is_allowed() && !open.decision_available, "{open:?}");
    assert_eq!(open.failure_mode, GuardFailureMode::FailOpen);
    assert_eq!(open.reason, "degraded", "the service's reason is kept");

    let closed = check(
        &s.url(),
        "unavailable_open",
        &json!({}),
        GuardOptions::new().fail_closed(true),
        &e,
    );
    assert!(closed.is_blocked(), "{closed:?}");
    assert_eq!(closed.failure_mode, GuardFailureMode::FailClosed);

    let available = check(
        &s.url(),
        "available_closed",
        &json!({}),
        GuardOptions::new(),
        &e,
    );
    assert!(available.is_allowed() && available.decision_available);
    assert_eq!(available.failure_mode, GuardFailureMode::FailOpen);

    let invalid = check(&s.url(), "invalid", &json!({}), GuardOptions::new(), &e);
    assert_eq!(
        invalid.failure_kind,
        Some(GuardFailureKind::MalformedResponse)
    );
}

// §3: every decision shape, served over HTTP.

const OTHER_ID: &str = "9b4e28ba-2fa1-11d2-883f-0016d3cca427";

/// A decision body for the test's table: `$ID`, `$ID_UPPER` and `$SOURCE` stand for what
/// the request said.
fn base() -> Value {
    json!({"action": "allow", "decision_id": "$ID", "decision_source": "$SOURCE"})
}

fn with(k: &str, v: Value) -> Value {
    let mut b = base();
    b[k] = v;
    b
}

fn fill(v: &Value, req: &Value) -> Value {
    match v {
        Value::String(s) if s == "$ID" => req["decision_id"].clone(),
        Value::String(s) if s == "$ID_UPPER" => req["decision_id"]
            .as_str()
            .map_or(Value::Null, |i| i.to_uppercase().into()),
        Value::String(s) if s == "$SOURCE" => req["decision_source"].clone(),
        Value::Array(a) => a.iter().map(|x| fill(x, req)).collect(),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| (k.clone(), fill(x, req)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

/// Serves `bodies[n]` to the check of tool `case-n`.
fn serving(bodies: Vec<Value>) -> Server {
    Server::start(move |req: &Recorded, _| {
        let r = req.json();
        let n: usize = r["tool_name"]
            .as_str()
            .and_then(|t| t.strip_prefix("case-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        match bodies.get(n) {
            Some(b) => Reply::json(200, &fill(b, &r)),
            None => Reply::text(500, "no such case"),
        }
    })
}

#[test]
fn every_refused_decision_shape_is_malformed_over_http() {
    let bad = vec![
        json!([]),
        json!("allow"),
        json!(null),
        with("action", json!("deny")),
        with("action", json!(null)),
        with("action", json!("audit")),
        with("decision_id", json!(OTHER_ID)),
        with("decision_id", json!("nope")),
        with("decision_id", json!(null)),
        json!({"action": "allow", "decision_source": "$SOURCE"}),
        with("decision_source", json!("openai")),
        with("decision_source", json!(null)),
        json!({"action": "allow", "decision_id": "$ID"}),
        with("results", json!({})),
        with("results", json!(["x"])),
        with("results", json!([{"action": "deny"}])),
        with("results", json!([{"action": 1}])),
        with(
            "results",
            json!([{"action": "block", "evaluation_status": "skipped"}]),
        ),
        with(
            "results",
            json!([{"action": "audit", "evaluation_status": "abstained"}]),
        ),
        with("results", json!([{"evaluation_status": "maybe"}])),
        with("results", json!([{"rule_id": 7}])),
        // Row 13: the other string fields of a rule.
        with("results", json!([{"rule_name": 1}])),
        with("results", json!([{"reason": ["why"]}])),
        with("results", json!([{"severity": 2}])),
        with("results", json!([{"score": true}])),
        with("results", json!([{"score": 1.5}])),
        with("results", json!([{"score": -0.1}])),
        with("results", json!([{"score": "0.5"}])),
        with("results", json!([{"violations": [1]}])),
        with("results", json!([{"violations": {}}])),
        with("results", json!([{"latency_ms": -1}])),
        with("results", json!([{"latency_ms": "1"}])),
        with("rules_triggered", json!("r")),
        with("rules_triggered", json!([1])),
        with("decision_available", json!("yes")),
        with("evaluation_status", json!("unavailable")),
        with("evaluation_status", json!("done")),
        with("decision_available", json!(false)),
        json!({"action": "block", "decision_id": "$ID", "decision_source": "$SOURCE",
               "evaluation_status": "skipped"}),
        json!({"action": "allow", "decision_id": "$ID", "decision_source": "$SOURCE",
               "evaluation_status": "abstained", "rules_triggered": ["r"]}),
        json!({"action": "allow", "decision_id": "$ID", "decision_source": "$SOURCE",
               "decision_available": false, "evaluation_status": "evaluated",
               "failure_kind": "backend_unavailable"}),
        with("failure_mode", json!("fail_sideways")),
        with("failure_kind", json!("exploded")),
        with("retryable", json!("no")),
        with("reason", json!(1)),
        with("severity", json!(null)),
    ];
    let n = bad.len();
    let s = serving(bad.clone());
    let e = env(&s.url());
    for (i, body) in bad.iter().enumerate() {
        let r = check(
            &s.url(),
            &format!("case-{i}"),
            &json!({}),
            GuardOptions::new(),
            &e,
        );
        assert_eq!(
            r.failure_kind,
            Some(GuardFailureKind::MalformedResponse),
            "{body}: {r:?}"
        );
        assert_eq!(
            r.reason, "Guard returned a malformed response (fail-open)",
            "{body}"
        );
        assert_eq!(r.evaluation_status, EvaluationStatus::Unavailable, "{body}");
        assert!(r.is_allowed() && !r.decision_available && !r.retryable);
    }
    assert_eq!(s.requests().len(), n);
}

#[test]
fn modify_and_escalate_are_unsupported_over_http() {
    let bodies = vec![
        with("action", json!("modify")),
        with("action", json!("escalate")),
        with("results", json!([{"action": "modify"}])),
        with("results", json!([{"action": "escalate"}])),
    ];
    let s = serving(bodies.clone());
    let e = env(&s.url());
    for (i, body) in bodies.iter().enumerate() {
        let r = check(
            &s.url(),
            &format!("case-{i}"),
            &json!({}),
            GuardOptions::new().fail_closed(true),
            &e,
        );
        assert_eq!(
            r.failure_kind,
            Some(GuardFailureKind::UnsupportedAction),
            "{body}"
        );
        assert_eq!(
            r.reason, "Guard returned an unsupported action (fail-closed)",
            "{body}"
        );
        assert!(r.is_blocked(), "fail-closed: {body}");
    }
}

#[test]
fn every_accepted_decision_shape_reads_as_the_contract_says() {
    let bodies = vec![
        // 0: the minimal allow and its defaults.
        base(),
        // 1: an uppercase decision id is the same id.
        with("decision_id", json!("$ID_UPPER")),
        // 2: a block names its first triggered rule; findings fill rules_triggered.
        json!({"action": "block", "decision_id": "$ID", "decision_source": "$SOURCE",
               "reason": "no deletes", "severity": "high",
               "results": [{"rule_id": "r0", "rule_name": "fine", "action": "allow"},
                           {"rule_id": "r1", "rule_name": "no-deletes", "action": "block",
                            "reason": "deleting", "score": 1, "violations": [{"path": "/"}],
                            "latency_ms": 2}]}),
        // 3: an explicit rules_triggered wins over the findings.
        json!({"action": "block", "decision_id": "$ID", "decision_source": "$SOURCE",
               "rules_triggered": ["policy-x"],
               "results": [{"rule_name": "no-deletes", "action": "block"}]}),
        // 4: skipped and abstained rules are not findings.
        with(
            "results",
            json!([{"rule_name": "s", "action": "allow", "evaluation_status": "skipped"},
                   {"rule_name": "a", "action": "allow", "evaluation_status": "abstained"},
                   {"rule_name": "u", "action": "allow", "evaluation_status": "unavailable"}]),
        ),
        // 5: a skipped decision.
        with("evaluation_status", json!("skipped")),
        // 6: an abstained decision.
        with("evaluation_status", json!("abstained")),
        // 7: optional fields in their accepted forms.
        json!({"action": "allow", "decision_id": "$ID", "decision_source": "$SOURCE",
               "failure_mode": null, "failure_kind": "rate_limited", "retryable": true,
               "reason": "fine", "severity": "medium", "decision_available": true,
               "evaluation_status": "evaluated",
               "results": [{"score": null}, {"score": 0}, {"score": 1}]}),
        // 8: an unavailable decision, its kind and retryable kept, the client's mode applied.
        json!({"action": "allow", "decision_id": "$ID", "decision_source": "$SOURCE",
               "decision_available": false, "evaluation_status": "unavailable",
               "failure_kind": "capacity_exhausted", "retryable": false,
               "reason": "too busy", "severity": "low"}),
    ];
    let s = serving(bodies);
    let e = env(&s.url());
    let get = |i: usize| {
        check(
            &s.url(),
            &format!("case-{i}"),
            &json!({}),
            GuardOptions::new(),
            &e,
        )
    };

    let r = get(0);
    assert!(r.is_allowed() && r.decision_available, "{r:?}");
    assert_eq!(
        (r.severity.as_str(), r.evaluation_status, r.outcome()),
        ("low", EvaluationStatus::Evaluated, "allowed")
    );
    assert_eq!(r.failure_kind, None);
    assert!(r.results.is_empty() && r.rules_triggered.is_empty() && r.rule_name.is_none());

    let r = get(1);
    assert!(r.decision_available, "{r:?}");
    assert_eq!(
        r.decision_id.map(|d| d.to_string()),
        s.requests()[1].json()["decision_id"]
            .as_str()
            .map(String::from)
    );

    let r = get(2);
    assert_eq!(r.action, GuardAction::Block);
    assert_eq!(r.rules_triggered, ["no-deletes"]);
    assert_eq!(r.rule_name.as_deref(), Some("no-deletes"));
    assert_eq!(
        (r.reason.as_str(), r.severity.as_str()),
        ("no deletes", "high")
    );
    assert!(r.results[0].passed && !r.results[0].is_finding());
    assert!(!r.results[1].passed && r.results[1].is_finding());
    assert_eq!(r.results[1].severity, "medium", "a rule's default severity");
    assert_eq!(r.results[1].score, Some(1.0));
    assert_eq!(r.results[1].latency_ms, 2.0);

    let r = get(3);
    assert_eq!(r.rules_triggered, ["policy-x"]);

    let r = get(4);
    assert!(r.is_allowed() && !r.would_block(), "{r:?}");
    assert!(r.rules_triggered.is_empty());
    assert_eq!(r.findings().count(), 0);
    assert_eq!(
        r.results
            .iter()
            .map(|x| x.evaluation_status)
            .collect::<Vec<_>>(),
        [
            EvaluationStatus::Skipped,
            EvaluationStatus::Abstained,
            EvaluationStatus::Unavailable
        ]
    );

    let r = get(5);
    assert!(r.is_allowed() && r.decision_available);
    assert_eq!(r.evaluation_status, EvaluationStatus::Skipped);
    let r = get(6);
    assert_eq!(r.evaluation_status, EvaluationStatus::Abstained);

    let r = get(7);
    assert!(r.is_allowed() && r.decision_available, "{r:?}");
    assert_eq!(r.failure_kind, Some(GuardFailureKind::RateLimited));
    assert!(r.retryable);
    assert_eq!(
        r.results.iter().map(|x| x.score).collect::<Vec<_>>(),
        [None, Some(0.0), Some(1.0)]
    );

    let r = get(8);
    assert!(r.is_allowed() && !r.decision_available, "{r:?}");
    assert_eq!(r.failure_kind, Some(GuardFailureKind::CapacityExhausted));
    assert_eq!(r.evaluation_status, EvaluationStatus::Unavailable);
    assert_eq!(r.reason, "too busy");
    assert!(!r.retryable);
    assert_eq!(r.outcome(), "unavailable");
}

// §2: context layers.

#[test]
fn a_check_without_init_takes_environment_and_workspace_from_the_environment() {
    let s = service();
    let mut e = env(&s.url());
    e.insert("STASO_ENVIRONMENT", "staging".into());
    e.insert("STASO_WORKSPACE_SLUG", "acme".into());
    let _ = check(&s.url(), "lookup", &json!({}), GuardOptions::new(), &e);
    let ctx = one_request(&s).json()["context"].clone();
    assert_eq!(ctx["environment"], "staging");
    assert_eq!(ctx["workspace_id"], "acme");
    assert_eq!(ctx["agent_name"], "guarded-bot");
}

#[test]
fn empty_client_defaults_are_not_sent() {
    let s = service();
    let mut e = env(&s.url());
    e.remove("STASO_AGENT_NAME");
    let r = check(&s.url(), "lookup", &json!({}), GuardOptions::new(), &e);
    assert!(r.decision_available, "{r:?}");
    let ctx = one_request(&s).json()["context"].clone();
    for k in ["agent_name", "agent_id"] {
        assert!(ctx.get(k).is_none(), "{k}: {ctx}");
    }
    assert_eq!(ctx["environment"], "default");
    assert_eq!(ctx["workspace_id"], "default");
}

#[test]
fn the_conversations_user_is_sent_when_the_caller_gives_none() {
    let s = service();
    let e = env(&s.url());
    conversation("conv-7").user_id("alice").run(|| {
        let _ = check(&s.url(), "lookup", &json!({}), GuardOptions::new(), &e);
    });
    let ctx = one_request(&s).json()["context"].clone();
    assert_eq!(ctx["user_id"], "alice");
    assert_eq!(ctx["session_id"], "conv-7");
}

// §2: decision ids.

#[test]
fn a_fresh_decision_id_is_a_random_version_4_uuid() {
    let s = service();
    let e = env(&s.url());
    let _ = check(&s.url(), "a", &json!({}), GuardOptions::new(), &e);
    let _ = check(&s.url(), "a", &json!({}), GuardOptions::new(), &e);
    let ids: Vec<uuid::Uuid> = s
        .requests()
        .iter()
        .map(|r| {
            r.json()["decision_id"]
                .as_str()
                .and_then(|i| uuid::Uuid::parse_str(i).ok())
                .expect("a uuid")
        })
        .collect();
    for id in &ids {
        assert_eq!(id.get_version_num(), 4, "{id}");
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
    }
    assert_ne!(ids[0], ids[1]);
}

// §2: the capture boundary.

#[test]
fn with_tool_schema_off_the_schema_is_suppressed_and_nothing_else_cut() {
    let s = service();
    let mut e = env(&s.url());
    e.insert("STASO_CAPTURE_TOOL_SCHEMA", "0".into());
    let _ = check(
        &s.url(),
        "lookup",
        &json!({"order_id": 42}),
        GuardOptions::new().context("ticket", &7),
        &e,
    );
    let body = one_request(&s).json();
    assert_eq!(body["capture"]["tool_schema"], "suppressed");
    assert_eq!(body["tool_input"], json!({"order_id": 42}));
    let ctx = &body["context"];
    assert_eq!(
        ctx["tool_call_evidence"],
        json!({"version": 1, "tool_name": "lookup",
               "arguments": {"status": "unavailable", "complete": false},
               "schema": {"status": "suppressed"}})
    );
    assert_eq!(
        ctx["context_availability"],
        json!({"tool_input": "available", "tool_schema": "suppressed",
               "conversation_history": "unavailable", "tool_output": "unavailable"})
    );
    assert_eq!(ctx["ticket"], 7, "tool_schema off does not cut the context");
    assert!(ctx.get("conversation_history_status").is_none(), "{ctx}");
}

#[test]
fn with_request_system_prompt_or_output_off_the_context_is_cut_and_history_filtered() {
    let history = json!([
        {"role": "system", "content": "be brief"},
        {"role": "developer", "content": "use tools"},
        {"role": "user", "content": "delete /tmp"},
        {"role": "assistant", "content": "calling rm"},
        {"role": "tool", "content": "done"},
    ]);
    let roles = |ctx: &Value| -> Vec<String> {
        ctx["conversation_history"]
            .as_array()
            .map(|h| {
                h.iter()
                    .filter_map(|m| m["role"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    // What the Python SDK keeps (staso/_common/guard_evidence.py, apply_guard_capture):
    // user needs request; system/developer need request and system_prompt; tool needs
    // request and output; assistant needs those and tool_arguments.
    for (var, kept) in [
        ("STASO_CAPTURE_REQUEST", vec![]),
        (
            "STASO_CAPTURE_SYSTEM_PROMPT",
            vec!["user", "assistant", "tool"],
        ),
        ("STASO_CAPTURE_OUTPUT", vec!["system", "developer", "user"]),
        (
            "STASO_CAPTURE_TOOL_ARGUMENTS",
            vec!["system", "developer", "user", "tool"],
        ),
    ] {
        let s = service();
        let mut e = env(&s.url());
        e.insert(var, "0".into());
        conversation("conv-3").user_id("alice").run(|| {
            let _ = check(
                &s.url(),
                "rm",
                &json!({"path": "/tmp"}),
                GuardOptions::new()
                    .context("ticket", &7)
                    .context("conversation_history", &history)
                    .context("invocation_id", "call_1"),
                &e,
            );
        });
        let body = one_request(&s).json();
        let ctx = &body["context"];
        assert_eq!(roles(ctx), kept, "{var}: {ctx}");
        assert!(ctx.get("ticket").is_none(), "{var}: custom keys dropped");
        for k in [
            "agent_name",
            "agent_id",
            "environment",
            "workspace_id",
            "user_id",
            "session_id",
            "invocation_id",
        ] {
            assert!(ctx.get(k).is_some(), "{var}: identity key {k} kept: {ctx}");
        }
        assert_eq!(
            ctx["conversation_history_status"],
            json!({"source": "sdk_request", "complete": false, "truncated": false,
                   "suppressed": true}),
            "{var}"
        );
        assert_eq!(
            ctx["context_availability"]["conversation_history"],
            if kept.is_empty() {
                "suppressed"
            } else {
                "partial"
            },
            "{var}"
        );
        let input_kept = var != "STASO_CAPTURE_TOOL_ARGUMENTS";
        assert_eq!(
            body["tool_input"] == json!({"path": "/tmp"}),
            input_kept,
            "{var}: {}",
            body["tool_input"]
        );
    }
}

// §4: the manual decision span.

#[test]
fn the_decision_span_covers_the_request() {
    let s =
        Server::start(|req, _| decision(req, "allow", json!({})).after(Duration::from_millis(150)));
    let e = env(&s.url());
    let (r, spans) = capture(|| {
        let _turn = span("turn", Kind::Agent);
        check(&s.url(), "lookup", &json!({}), GuardOptions::new(), &e)
    });
    let d = spans.named("guard:allowed:lookup");
    let duration = d.json()["duration_ms"].as_f64().expect("duration_ms");
    assert!(r.latency_ms >= 150.0, "{}", r.latency_ms);
    assert!(
        duration >= r.latency_ms,
        "the span starts before the request: {duration} < {}",
        r.latency_ms
    );
}

#[test]
fn with_tool_arguments_off_the_decision_span_has_no_input() {
    let s = service();
    let e = env(&s.url());
    let (_, spans) = capture_with(Options::new().capture_tool_arguments(false), || {
        let _turn = span("turn", Kind::Agent);
        check(
            &s.url(),
            "delete_file",
            &json!({"path": "/"}),
            GuardOptions::new(),
            &e,
        )
    });
    let b = spans.named("guard:blocked:delete_file");
    assert_eq!(b.input(), None);
    assert_eq!(b.attribute("guard_action"), Some(json!("block")));
    assert_eq!(
        b.output().expect("output is captured")["action"],
        "block",
        "only the input needs tool_arguments"
    );
}

//! Decision spans: a check inside a recording span is a `guard:<outcome>:<tool>` child
//! (never current) with the contract's attributes, input, output and UUID v5 span id;
//! none outside a span; the capture policy applies; a dropped check ends its span.

#[path = "support/guard_service.rs"]
mod guard_service;
#[path = "support/loopback.rs"]
mod loopback;

use guard_service::{check, env, service, MapEnv};
use loopback::{closed_port_url, Reply, Server};
use serde_json::{json, Value};
use staso_core::testing::{capture, capture_with, guard_with_env};
use staso_core::{span, GuardOptions, Kind, Options};

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

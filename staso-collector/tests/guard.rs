//! The guard endpoint over real loopback HTTP: one test per rule kind and failure mode,
//! each asserting the exact decision body; invalid requests get a 400 naming the field;
//! rules set in process, through the control endpoint and in the config; faults apply.

mod common;

use common::*;
use serde_json::{json, Value};
use staso_collector::{Collector, CollectorConfig, Endpoint, GuardRule};
use std::time::{Duration, Instant};

/// A real request of the Python SDK (OpenAI integration), from the recorded fixtures.
fn request() -> Value {
    serde_json::from_str(include_str!("fixtures/guard_request_openai.json")).expect("fixture")
}

/// The fixture for `tool`, with a fresh decision id and the given failure mode.
fn request_for(tool: &str, failure_mode: &str) -> Value {
    let mut r = request();
    r["tool_name"] = json!(tool);
    r["decision_id"] = json!(new_key());
    r["failure_mode"] = json!(failure_mode);
    r
}

fn send_with(c: &Collector, body: &Value, key: &str) -> reqwest::blocking::Response {
    client()
        .post(format!("{}/v1/guard/evaluate", c.url()))
        .header("X-API-Key", key)
        .header("Content-Type", "application/json")
        .header("User-Agent", "staso-python/0.5.25")
        .body(body.to_string())
        .send()
        .expect("send")
}

/// Status and JSON answer of a guard request.
fn evaluate(c: &Collector, body: &Value) -> (u16, Value) {
    status_json(send_with(c, body, KEY))
}

/// The decision body every answer shares, for `req`.
fn decision(req: &Value, action: &str) -> Value {
    json!({
        "action": action,
        "decision_id": req["decision_id"],
        "decision_source": "openai",
        "results": [],
        "rules_triggered": [],
        "decision_available": true,
        "evaluation_status": "evaluated",
        "reason": "",
        "severity": "low",
        "failure_mode": req["failure_mode"],
    })
}

fn finding(rule: &str, action: &str, reason: &str, severity: &str, latency_ms: f64) -> Value {
    json!({
        "rule_id": format!("collector:{rule}"),
        "rule_name": rule,
        "action": action,
        "evaluation_status": "evaluated",
        "reason": reason,
        "severity": severity,
        "score": 1.0,
        "violations": [],
        "latency_ms": latency_ms,
    })
}

#[test]
fn a_tool_without_a_rule_is_allowed_and_the_request_recorded() {
    let c = start();
    let req = request_for("get_weather", "fail_open");
    assert_eq!(evaluate(&c, &req), (200, decision(&req, "allow")));
    let recorded = c.requests().guard();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].endpoint, Some(Endpoint::Guard));
    assert_eq!(recorded[0].body.as_ref(), Some(&req));
    assert_eq!(recorded[0].status, Some(200));
    assert!(recorded[0].validation_error.is_none());
    assert!(c.requests().ingest().is_empty());
}

#[test]
fn a_block_rule_blocks_with_its_finding() {
    let c = start();
    c.guard().set(
        "delete_file",
        GuardRule::block("no-deletes", "deleting files is not allowed"),
    );
    let req = request_for("delete_file", "fail_open");
    let mut expected = decision(&req, "block");
    expected["results"] = json!([finding(
        "no-deletes",
        "block",
        "deleting files is not allowed",
        "high",
        0.0
    )]);
    expected["rules_triggered"] = json!(["no-deletes"]);
    expected["reason"] = json!("deleting files is not allowed");
    expected["severity"] = json!("high");
    assert_eq!(evaluate(&c, &req), (200, expected));
    // Other tools are still allowed.
    let other = request_for("get_weather", "fail_open");
    assert_eq!(evaluate(&c, &other), (200, decision(&other, "allow")));
}

#[test]
fn an_audit_rule_allows_with_a_would_block_finding() {
    let c = start();
    c.guard()
        .set("*", GuardRule::audit("watch-all", "would block: audited"));
    let req = request_for("get_weather", "fail_closed");
    let mut expected = decision(&req, "allow");
    expected["results"] = json!([finding(
        "watch-all",
        "audit",
        "would block: audited",
        "medium",
        0.0
    )]);
    expected["rules_triggered"] = json!(["watch-all"]);
    expected["reason"] = json!("would block: audited");
    expected["severity"] = json!("medium");
    assert_eq!(evaluate(&c, &req), (200, expected));
}

#[test]
fn an_unavailable_decision_follows_the_requests_failure_mode() {
    let c = start();
    c.guard()
        .set("get_weather", GuardRule::unavailable("backend_unavailable"));
    for (mode, action, severity) in [
        ("fail_open", "allow", "low"),
        ("fail_closed", "block", "high"),
    ] {
        let req = request_for("get_weather", mode);
        let mut expected = decision(&req, action);
        expected["decision_available"] = json!(false);
        expected["evaluation_status"] = json!("unavailable");
        expected["failure_kind"] = json!("backend_unavailable");
        expected["retryable"] = json!(true);
        expected["reason"] = json!("Guard service unavailable");
        expected["severity"] = json!(severity);
        assert_eq!(evaluate(&c, &req), (200, expected));
    }
}

#[test]
fn a_delay_rule_answers_after_its_delay() {
    let c = start();
    c.guard().set(
        "slow_tool",
        GuardRule::block("slow", "slow and blocked").after(Duration::from_millis(300)),
    );
    let req = request_for("slow_tool", "fail_open");
    let t0 = Instant::now();
    let (status, body) = evaluate(&c, &req);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!((status, body["action"].as_str()), (200, Some("block")));
    assert_eq!(body["results"][0]["latency_ms"], json!(300.0));
}

#[test]
fn failure_modes_answer_what_a_client_must_refuse() {
    let c = start();
    c.guard().set("status", GuardRule::status(503));
    c.guard()
        .set("coded", "status:429".parse::<GuardRule>().expect("rule"));
    c.guard().set("not_json", GuardRule::not_json());
    c.guard().set("wrong_id", GuardRule::wrong_decision_id());
    c.guard().set("modify", GuardRule::modify());

    let (status, body) = evaluate(&c, &request_for("status", "fail_open"));
    assert_eq!(
        (status, body),
        (
            503,
            json!({"error": "injected guard failure", "status": 503})
        )
    );
    assert_eq!(evaluate(&c, &request_for("coded", "fail_open")).0, 429);

    let r = send_with(&c, &request_for("not_json", "fail_open"), KEY);
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().expect("text");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    let req = request_for("wrong_id", "fail_open");
    let (status, body) = evaluate(&c, &req);
    assert_eq!(status, 200);
    assert!(body["decision_id"].is_string() && body["decision_id"] != req["decision_id"]);
    let mut expected = decision(&req, "allow");
    expected["decision_id"] = body["decision_id"].clone();
    assert_eq!(body, expected, "only the decision id is wrong");

    let req = request_for("modify", "fail_open");
    assert_eq!(evaluate(&c, &req), (200, decision(&req, "modify")));
}

#[test]
fn an_error_code_rule_goes_in_the_body() {
    let c = Collector::start_blocking(CollectorConfig {
        api_key: KEY.into(),
        guard_rules: [(
            "busy".to_owned(),
            serde_json::from_value(
                json!({"action": "status", "status": 503, "code": "capacity_exhausted"}),
            )
            .expect("rule"),
        )]
        .into(),
        ..Default::default()
    })
    .expect("collector starts");
    assert_eq!(
        evaluate(&c, &request_for("busy", "fail_open")),
        (
            503,
            json!({"error": "injected guard failure", "status": 503, "code": "capacity_exhausted"})
        )
    );
}

#[test]
fn invalid_requests_are_refused_naming_the_field() {
    let c = start();
    let cases: Vec<(&str, Value)> = vec![
        ("payload_version", json!(2)),
        ("payload_version", json!(true)),
        ("tool_name", json!("")),
        ("tool_name", json!(7)),
        ("tool_input", json!("city=Paris")),
        ("context", json!([])),
        ("decision_id", json!("not-a-uuid")),
        ("decision_id", json!(new_key().to_uppercase())),
        ("decision_source", json!("langchain")),
        ("failure_mode", json!("fail_maybe")),
        ("capture", json!("all")),
        ("deadline_ms", json!(99)),
        ("deadline_ms", json!(30001)),
        ("deadline_ms", json!(1000.5)),
        ("surprise", json!(1)),
    ];
    for (field, value) in cases {
        let mut req = request();
        req[field] = value.clone();
        let (status, err) = evaluate(&c, &req);
        assert_eq!(
            (status, err["field"].as_str()),
            (400, Some(field)),
            "{field} = {value}: {err}"
        );
    }
    let mut req = request();
    req["capture"]["output"] = json!("maybe");
    assert_eq!(evaluate(&c, &req).1["field"], "capture.output");
    let mut req = request();
    req["capture"]
        .as_object_mut()
        .expect("capture")
        .remove("request");
    assert_eq!(evaluate(&c, &req).1["field"], "capture.request");
    for field in ["tool_name", "decision_id", "deadline_ms", "context"] {
        let mut req = request();
        req.as_object_mut().expect("body").remove(field);
        let (status, err) = evaluate(&c, &req);
        assert_eq!((status, err["field"].as_str()), (400, Some(field)), "{err}");
    }
    let (status, err) = evaluate(&c, &json!([1]));
    assert_eq!((status, err["field"].as_str()), (400, Some("body")));
    let (status, err) = status_json(send_with(&c, &request(), "wrong-key"));
    assert_eq!(
        (status, err["field"].as_str()),
        (401, Some("headers.X-API-Key"))
    );
    assert!(c
        .requests()
        .guard()
        .iter()
        .all(|r| r.validation_error.is_some()));
}

#[test]
fn rules_are_set_at_run_time_through_the_control_endpoint() {
    let c = start();
    let control = |body: Value| {
        client()
            .post(format!("{}/_staso/guard", c.url()))
            .header("X-API-Key", KEY)
            .body(body.to_string())
            .send()
            .expect("control")
            .status()
            .as_u16()
    };
    let plan = json!({"rules": {
        "delete_file": {"action": "block", "rule_name": "r1", "reason": "no"},
        "*": {"action": "unavailable", "failure_kind": "rate_limited"}
    }});
    assert_eq!(control(plan), 200);
    assert_eq!(
        evaluate(&c, &request_for("delete_file", "fail_open")).1["rules_triggered"],
        json!(["r1"])
    );
    assert_eq!(
        evaluate(&c, &request_for("anything", "fail_open")).1["failure_kind"],
        "rate_limited"
    );
    assert_eq!(control(json!({"rules": {"x": {"action": "explode"}}})), 400);
    assert_eq!(
        control(json!({"rules": {"x": {"action": "unavailable", "failure_kind": "oops"}}})),
        400
    );
    assert_eq!(control(json!({"clear": true})), 200);
    let req = request_for("delete_file", "fail_open");
    assert_eq!(evaluate(&c, &req), (200, decision(&req, "allow")));
}

#[test]
fn faults_apply_to_the_guard_endpoint_alone() {
    let c = start();
    let guard = c.faults().on(Endpoint::Guard);
    guard.fail_next(1, 502);
    guard.hang_next(1);
    // Ingest faults do not touch guard requests, nor guard faults ingest ones.
    c.faults().fail_next(1, 500);
    let req = request_for("get_weather", "fail_open");
    assert_eq!(evaluate(&c, &req).0, 502);
    let quick = client_with_timeout(Duration::from_millis(300));
    let err = quick
        .post(format!("{}/v1/guard/evaluate", c.url()))
        .header("X-API-Key", KEY)
        .header("Content-Type", "application/json")
        .header("User-Agent", "staso-python/0.5.25")
        .body(req.to_string())
        .send()
        .expect_err("hangs");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(evaluate(&c, &req), (200, decision(&req, "allow")));
    let (_, body) = three_span_body();
    assert_eq!(
        post(&client(), &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        500
    );
    assert_eq!(c.faults().pending(), 0);
    assert_eq!(guard.pending(), 0);
}

//! Guard failure rows of `shared/guard-annotations-contract.md` §1 and §3 against the
//! local collector's `/v1/guard/evaluate` (the SDK as its client): the HTTP statuses and
//! error codes its rules and faults answer with, `Retry-After` ignored, no retry after a
//! timeout, and fail-closed by the environment. Every check reads an env map (no `init`),
//! and every request the collector received passed its strict check.

use serde_json::json;
use staso_collector::{Collector, CollectorConfig, Endpoint, GuardAnswer, GuardRule};
use staso_core::testing::{guard_blocking_with_env, Env};
use staso_core::{GuardFailureKind, GuardFailureMode, GuardOptions, GuardResult};
use std::collections::HashMap;
use std::time::Duration;

const KEY: &str = "test-key";

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig {
        api_key: KEY.into(),
        ..Default::default()
    })
    .expect("collector")
}

struct MapEnv(HashMap<&'static str, String>);

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn env(c: &Collector) -> HashMap<&'static str, String> {
    [
        ("STASO_API_KEY", KEY.to_string()),
        ("STASO_BASE_URL", c.url()),
        ("STASO_AGENT_NAME", "collector-bot".to_string()),
    ]
    .into_iter()
    .collect()
}

fn check_with(e: &HashMap<&'static str, String>, tool: &str, options: GuardOptions) -> GuardResult {
    guard_blocking_with_env(
        tool,
        &json!({"path": "/tmp/x"}),
        options,
        &MapEnv(e.clone()),
    )
}

fn check(c: &Collector, tool: &str, options: GuardOptions) -> GuardResult {
    check_with(&env(c), tool, options)
}

/// A rule answering `status` with `{"code": code}` in its error body.
fn status_with_code(status: u16, code: &str) -> GuardRule {
    GuardRule {
        answer: GuardAnswer::Status {
            status,
            code: Some(code.into()),
        },
        delay: Duration::ZERO,
    }
}

/// Every guard request the collector received passed its check, with the right key.
fn all_valid(c: &Collector) {
    let reqs = c.requests().guard();
    assert!(!reqs.is_empty());
    for r in reqs.iter() {
        assert_eq!(r.validation_error, None, "{:?}", r.body);
        assert_eq!(r.api_key_valid, Some(true));
    }
}

#[test]
fn every_http_failure_row_from_the_collector() {
    use GuardFailureKind as K;
    let c = collector();
    let rows = [
        (
            "plan",
            GuardRule::status(402),
            K::PlanExpired,
            false,
            "Guard plan is inactive",
        ),
        (
            "unauthorised",
            GuardRule::status(401),
            K::InvalidKey,
            false,
            "Guard authentication rejected",
        ),
        (
            "limited",
            GuardRule::status(429),
            K::RateLimited,
            true,
            "Guard rate limited",
        ),
        (
            "missing",
            GuardRule::status(404),
            K::MalformedResponse,
            false,
            "Guard request was rejected",
        ),
        (
            "teapot",
            GuardRule::status(418),
            K::MalformedResponse,
            false,
            "Guard request was rejected",
        ),
        (
            "broken",
            GuardRule::status(500),
            K::BackendUnavailable,
            true,
            "Guard service unavailable",
        ),
        // A known code in the body wins over the status.
        (
            "capacity",
            status_with_code(503, "capacity_exhausted"),
            K::CapacityExhausted,
            false,
            "Guard evaluation capacity is exhausted",
        ),
        (
            "conflict",
            status_with_code(409, "idempotency_conflict"),
            K::IdempotencyConflict,
            false,
            "Guard decision ID conflicts with an earlier request",
        ),
        (
            "coded_limit",
            status_with_code(400, "rate_limited"),
            K::RateLimited,
            true,
            "Guard rate limited",
        ),
    ];
    for (tool, rule, ..) in &rows {
        c.guard().set(*tool, rule.clone());
    }
    for (i, (tool, _, kind, retryable, text)) in rows.iter().enumerate() {
        let r = check(&c, tool, GuardOptions::new());
        assert_eq!(
            (r.failure_kind, r.retryable, r.reason.as_str()),
            (
                Some(*kind),
                *retryable,
                format!("{text} (fail-open)").as_str()
            ),
            "{tool}"
        );
        assert!(r.is_allowed() && !r.decision_available, "{tool}");
        assert_eq!(r.severity, "low", "{tool}");
        assert_eq!(c.requests().guard().len(), i + 1, "{tool}: never retried");
    }
    all_valid(&c);
}

#[test]
fn a_key_the_collector_refuses_is_invalid_key() {
    let c = collector();
    let mut e = env(&c);
    e.insert("STASO_API_KEY", "wrong-key".into());
    let r = check_with(&e, "list_files", GuardOptions::new());
    assert_eq!(r.failure_kind, Some(GuardFailureKind::InvalidKey), "{r:?}");
    assert_eq!(r.reason, "Guard authentication rejected (fail-open)");
    assert!(!r.retryable && r.is_allowed());
    let reqs = c.requests().guard();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].status, Some(401));
    assert_eq!(reqs[0].api_key_valid, Some(false));
    assert_eq!(
        reqs[0].validation_error.as_ref().map(|v| v.field.as_str()),
        Some("headers.X-API-Key"),
        "nothing but the key is wrong"
    );
}

#[test]
fn a_rate_limit_with_retry_after_is_answered_at_once_from_the_collector() {
    let c = collector();
    c.faults().on(Endpoint::Guard).rate_limit_next(1, Some(5));
    // Waiting out `Retry-After: 5` within a 3 s deadline would end in `deadline_exceeded`.
    let r = check(
        &c,
        "list_files",
        GuardOptions::new().timeout(Duration::from_secs(3)),
    );
    assert_eq!(r.failure_kind, Some(GuardFailureKind::RateLimited), "{r:?}");
    assert_eq!(r.reason, "Guard rate limited (fail-open)");
    assert!(r.retryable && r.is_allowed());
    let reqs = c.requests().guard();
    assert_eq!(reqs.len(), 1, "never retried");
    assert_eq!(reqs[0].status, Some(429));
    all_valid(&c);
}

#[test]
fn a_check_that_times_out_at_the_collector_is_not_retried() {
    let c = collector();
    // The first request is never answered (the collector records it as it arrives); a
    // retry would be answered at once, and recorded before the check returned.
    c.faults().on(Endpoint::Guard).hang_next(1);
    let r = check(
        &c,
        "list_files",
        GuardOptions::new().timeout(Duration::from_millis(300)),
    );
    assert_eq!(r.failure_kind, Some(GuardFailureKind::DeadlineExceeded));
    assert_eq!(r.reason, "Guard request deadline exceeded (fail-open)");
    let reqs = c.requests().guard();
    assert_eq!(reqs.len(), 1, "one request, never retried: {reqs:?}");
    assert_eq!(reqs[0].status, None, "the hung one");
    all_valid(&c);
}

#[test]
fn fail_closed_by_the_environment_against_the_collector() {
    let c = collector();
    c.guard().set("busy", GuardRule::status(503));
    c.guard()
        .set("degraded", GuardRule::unavailable("backend_unavailable"));
    let mut e = env(&c);
    e.insert("STASO_GUARD_FAIL_CLOSED", "true".into());

    let busy = check_with(&e, "busy", GuardOptions::new());
    assert!(busy.is_blocked(), "{busy:?}");
    assert_eq!(
        busy.failure_kind,
        Some(GuardFailureKind::BackendUnavailable)
    );
    assert_eq!(busy.reason, "Guard service unavailable (fail-closed)");
    assert_eq!(busy.severity, "high");
    assert_eq!(busy.failure_mode, GuardFailureMode::FailClosed);
    assert_eq!(
        busy.enforce().expect_err("blocked").to_string(),
        "Guard blocked tool 'busy': Guard service unavailable (fail-closed)"
    );

    let degraded = check_with(&e, "degraded", GuardOptions::new());
    assert!(degraded.is_blocked() && !degraded.decision_available);

    let allowed = check_with(&e, "list_files", GuardOptions::new());
    assert!(allowed.is_allowed() && allowed.decision_available);

    // The argument wins over the environment.
    let open = check_with(&e, "busy", GuardOptions::new().fail_closed(false));
    assert!(open.is_allowed());
    assert_eq!(open.reason, "Guard service unavailable (fail-open)");

    let modes: Vec<_> = c
        .requests()
        .guard()
        .iter()
        .map(|r| r.body.as_ref().map(|b| b["failure_mode"].clone()))
        .collect();
    assert_eq!(
        modes,
        [
            Some(json!("fail_closed")),
            Some(json!("fail_closed")),
            Some(json!("fail_closed")),
            Some(json!("fail_open"))
        ]
    );
    all_valid(&c);
}

//! Every way a guard check can fail to get a decision, against the loopback server: the
//! HTTP rows of the contract's table, codes in error bodies, redirects, no key, a timeout
//! under 100 ms, an invalid configuration, a refused connection, the overall deadline, and
//! fail-open / fail-closed by argument and environment.

#[path = "support/guard_service.rs"]
mod guard_service;
#[path = "support/loopback.rs"]
mod loopback;

use guard_service::{check, decision, env, service, MapEnv};
use loopback::{closed_port_url, Reply, Server};
use serde_json::{json, Value};
use staso_core::testing::guard_blocking_with_env;
use staso_core::{GuardFailureKind, GuardOptions};
use std::time::Duration;

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

//! Guard and annotations against the local collector's endpoints: every request the SDK
//! sends passes the collector's strict check, and every rule the collector can answer with
//! reads as the contract says. A client is process-wide, so tests that start one take
//! turns; the guard checks without `init` read an env map.

use serde_json::json;
use staso_collector::{Collector, CollectorConfig, Endpoint, GuardRule};
use staso_core::testing::{guard_blocking_with_env, init_with_env, Env};
use staso_core::{
    annotate_with, span, Annotation, GuardFailureKind, GuardOptions, GuardResult, Kind, Options,
};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig::default()).expect("collector")
}

struct MapEnv(HashMap<&'static str, String>);

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn env(c: &Collector) -> MapEnv {
    MapEnv(
        [
            ("STASO_API_KEY", "test-key".to_string()),
            ("STASO_BASE_URL", c.url()),
            ("STASO_AGENT_NAME", "collector-bot".to_string()),
        ]
        .into_iter()
        .collect(),
    )
}

fn check(c: &Collector, tool: &str, options: GuardOptions) -> GuardResult {
    guard_blocking_with_env(tool, &json!({"path": "/tmp/x"}), options, &env(c))
}

/// Every guard request the collector received passed its check.
fn all_valid(c: &Collector) {
    for r in c.requests().guard().iter() {
        assert_eq!(r.validation_error, None, "{:?}", r.body);
        assert_eq!(r.api_key_valid, Some(true));
    }
}

#[test]
fn the_collectors_rules_read_as_the_contract_says() {
    let _s = serial();
    let c = collector();
    c.guard().set(
        "delete_file",
        GuardRule::block("no-deletes", "deleting is off"),
    );
    c.guard().set(
        "send_email",
        GuardRule::audit("watch-mail", "mail is audited"),
    );
    c.guard()
        .set("degraded", GuardRule::unavailable("backend_unavailable"));
    c.guard().set("not_json", GuardRule::not_json());
    c.guard().set("wrong_id", GuardRule::wrong_decision_id());
    c.guard().set("modify", GuardRule::modify());
    c.guard().set("busy", GuardRule::status(503));
    c.guard().set("forbidden", GuardRule::status(403));

    let allow = check(&c, "list_files", GuardOptions::new());
    assert!(allow.is_allowed() && allow.decision_available, "{allow:?}");
    assert_eq!(allow.outcome(), "allowed");

    let block = check(&c, "delete_file", GuardOptions::new());
    assert!(block.is_blocked());
    assert_eq!(block.reason, "deleting is off");
    assert_eq!(block.rules_triggered, ["no-deletes"]);
    assert_eq!(
        block.enforce().expect_err("blocked").to_string(),
        "Guard blocked tool 'delete_file': deleting is off"
    );

    let audit = check(&c, "send_email", GuardOptions::new());
    assert!(audit.is_allowed() && audit.would_block(), "{audit:?}");

    let open = check(&c, "degraded", GuardOptions::new());
    assert!(open.is_allowed() && !open.decision_available);
    assert_eq!(
        open.failure_kind,
        Some(GuardFailureKind::BackendUnavailable)
    );
    let closed = check(&c, "degraded", GuardOptions::new().fail_closed(true));
    assert!(closed.is_blocked());

    for (tool, kind) in [
        ("not_json", GuardFailureKind::MalformedResponse),
        ("wrong_id", GuardFailureKind::MalformedResponse),
        ("modify", GuardFailureKind::UnsupportedAction),
        ("busy", GuardFailureKind::BackendUnavailable),
        ("forbidden", GuardFailureKind::Forbidden),
    ] {
        let r = check(&c, tool, GuardOptions::new());
        assert_eq!(r.failure_kind, Some(kind), "{tool}");
        assert!(r.reason.ends_with("(fail-open)"), "{tool}: {}", r.reason);
    }
    all_valid(&c);
}

#[test]
fn a_slow_rule_passes_the_deadline() {
    let _s = serial();
    let c = collector();
    c.guard().set(
        "slow",
        GuardRule::allow().after(Duration::from_millis(1500)),
    );
    let r = check(
        &c,
        "slow",
        GuardOptions::new().timeout(Duration::from_millis(300)),
    );
    assert_eq!(r.failure_kind, Some(GuardFailureKind::DeadlineExceeded));
    c.faults().on(Endpoint::Guard).hang_next(1);
    let r = check(
        &c,
        "any",
        GuardOptions::new()
            .timeout(Duration::from_millis(300))
            .fail_closed(true),
    );
    assert_eq!(r.failure_kind, Some(GuardFailureKind::DeadlineExceeded));
    assert!(r.is_blocked());
}

#[test]
fn decision_spans_and_tool_context_pass_the_collectors_checks() {
    let _s = serial();
    let c = collector();
    let none: HashMap<&str, &str> = HashMap::new();
    let client = init_with_env(
        Options::new()
            .api_key("test-key")
            .agent_name("collector-bot")
            .base_url(c.url())
            .capture_git(false)
            .install_exit_hook(false),
        &none,
    )
    .expect("init");
    c.guard().set(
        "delete_file",
        GuardRule::block("no-deletes", "deleting is off"),
    );
    {
        let turn = span("turn", Kind::Agent);
        let r = staso_core::guard_blocking("delete_file", &json!({"path": "/"}));
        assert!(r.is_blocked());
        turn.annotate("quality", 3).expect("valid");
    }
    let report = client.flush(Duration::from_secs(10));
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.annotations.delivered, 1);
    all_valid(&c);
    let spans = c.spans();
    let decision = spans
        .named("guard:blocked:delete_file")
        .expect("decision span");
    assert_eq!(decision.kind, "tool");
    let stored = c.annotations();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body["name"], "quality");
    let _ = client.shutdown(Duration::from_secs(2));
}

#[test]
fn a_retried_annotation_keeps_its_idempotency_key() {
    let _s = serial();
    let c = collector();
    let none: HashMap<&str, &str> = HashMap::new();
    let client = init_with_env(
        Options::new()
            .api_key("test-key")
            .agent_name("collector-bot")
            .base_url(c.url())
            .capture_git(false)
            .install_exit_hook(false),
        &none,
    )
    .expect("init");
    // The first attempt fails with a 503: the retry carries the same key.
    c.faults().on(Endpoint::Annotations).fail_next(1, 503);
    let t: staso_core::TraceId = "0af7651916cd43dd8448eb211c80319c".parse().expect("trace");
    annotate_with(t, Annotation::new("label", "good").comment("qa")).expect("valid");
    let report = client.flush(Duration::from_secs(10));
    assert_eq!(report.annotations.delivered, 1, "{report:?}");
    let reqs = c.requests().annotations();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0].status, Some(503));
    assert!(reqs.iter().all(|r| r.validation_error.is_none()));
    let keys: Vec<_> = reqs.iter().map(|r| r.idempotency_key.clone()).collect();
    assert!(
        keys.iter().all(|k| k.is_some() && *k == keys[0]),
        "{keys:?}"
    );
    assert_eq!(c.annotations().len(), 1, "stored once");
    let _ = client.shutdown(Duration::from_secs(2));
}

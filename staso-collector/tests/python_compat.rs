//! The official Python SDK (`staso==0.5.25`, the reference client) against the collector:
//! its traffic must pass the validator untouched, and land as the expected tree.
//!
//! The interpreter comes from `STASO_PYTHON` (a venv with `pip install staso==0.5.25`).
//! Unset: the test fails when `CI` is set, and is skipped with a notice otherwise.
#![allow(clippy::print_stderr)]

use staso_collector::{Collector, CollectorConfig, Fault, GuardRule, StoredSpan};
use std::process::Command;
use std::time::Duration;

const KEY: &str = "python-compat-key";

fn python() -> Option<String> {
    match std::env::var("STASO_PYTHON") {
        Ok(p) if !p.trim().is_empty() => Some(p),
        _ if std::env::var_os("CI").is_some() => {
            panic!("STASO_PYTHON is not set: CI must provide a Python with staso==0.5.25 installed")
        }
        _ => {
            eprintln!("skipping the Python compatibility test: STASO_PYTHON is not set");
            None
        }
    }
}

fn run_agent(python: &str, c: &Collector) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/compat_agent.py");
    let out = Command::new(python)
        .arg(script)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STASO_API_KEY", KEY)
        .env("STASO_BASE_URL", c.url())
        .env("STASO_AUTO_PATCH", "0")
        .env_remove("STASO_WORKSPACE_SLUG")
        .env_remove("STASO_ENVIRONMENT")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the Python agent failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig {
        api_key: KEY.into(),
        ..Default::default()
    })
    .expect("collector starts")
}

fn by_name<'a>(spans: &'a [StoredSpan], name: &str) -> &'a StoredSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

/// Checks the stored tree: research (agent) ⟶ search (tool), summarize (chain),
/// score (tool).
fn assert_tree(c: &Collector) {
    assert!(c.wait_until(Duration::from_secs(10), |n| n.spans >= 4));
    let spans = c.spans();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let root = by_name(&spans, "research");
    let tool = by_name(&spans, "search");
    let chain = by_name(&spans, "summarize");
    assert_eq!(
        (root.kind.as_str(), root.parent_span_id.as_deref()),
        ("agent", None)
    );
    assert_eq!(tool.kind, "tool");
    assert_eq!(chain.kind, "chain");
    assert_eq!(tool.parent_span_id.as_deref(), Some(root.span_id.as_str()));
    assert_eq!(chain.parent_span_id.as_deref(), Some(root.span_id.as_str()));
    assert!(spans.iter().all(|s| s.trace_id == root.trace_id));
    assert!(spans
        .iter()
        .all(|s| s.status == "ok" && s.final_copies_received == 1));
    // The provisional root went out first, and the final copy replaced it.
    assert!(!root.provisional);
    assert!(root.duration_ms >= 300.0, "{}", root.duration_ms);
    assert_eq!(root.copies_received, 2, "provisional + final root copies");
    assert_eq!(root.str_field("agent_name"), "research");
    assert_eq!(tool.str_field("agent_name"), "research");
    assert_eq!(tool.attributes()["tool_name"], "search");
    assert_eq!(tool.input(), Some(serde_json::json!({"query": "Rust SDK"})));
    // Python writes a NaN result as a bare `NaN` token inside the output string.
    let score = by_name(&spans, "score");
    assert_eq!(score.str_field("output"), r#"{"result": NaN}"#);
    assert_eq!(score.output(), Some(serde_json::json!({"result": null})));
    assert_eq!(root.workspace_slug, "default");
    assert_eq!(root.environment, "default");
    let annotations = c.annotations();
    assert_eq!(annotations.len(), 1);
    assert_eq!(annotations[0].trace_id, root.trace_id);
    assert_eq!(annotations[0].body["span_id"], root.span_id.as_str());
}

#[test]
fn python_sdk_traffic_is_accepted_and_stored() {
    let Some(python) = python() else { return };
    let c = collector();
    run_agent(&python, &c);
    assert_tree(&c);
    let ingest = c.requests().ingest();
    assert!(ingest.len() >= 2, "provisional root, then the rest");
    for r in &c.requests() {
        assert_eq!(r.status, Some(200), "{r:#?}");
        assert!(r.validation_error.is_none(), "{r:#?}");
        assert!(r
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("staso-python/")));
    }
}

#[test]
fn python_sdk_retries_reuse_the_idempotency_key() {
    let Some(python) = python() else { return };
    let c = collector();
    c.faults().fail_next(1, 503);
    c.faults().drop_next(1);
    run_agent(&python, &c);
    assert_tree(&c);
    let ingest = c.requests().ingest();
    let first: Vec<_> = ingest.iter().take(3).collect();
    assert_eq!(
        first.iter().map(|r| r.fault.clone()).collect::<Vec<_>>(),
        [Some(Fault::Status(503)), Some(Fault::Drop), None]
    );
    assert_eq!(first[2].status, Some(200));
    assert!(first
        .iter()
        .all(|r| r.idempotency_key == first[0].idempotency_key));
    assert!(ingest.iter().all(|r| r.validation_error.is_none()));
}

/// The Python SDK's own §3 checks accept every decision the collector gives, and refuse
/// each failure mode the way the contract says.
#[test]
fn python_guard_reads_every_answer() {
    let Some(python) = python() else { return };
    let c = collector();
    let rules = [
        (
            "delete_file",
            GuardRule::block("no-deletes", "deleting is off"),
        ),
        ("watch", GuardRule::audit("watch", "would block")),
        ("down", GuardRule::unavailable("backend_unavailable")),
        ("down_closed", GuardRule::unavailable("backend_unavailable")),
        ("modify", GuardRule::modify()),
        ("wrong_id", GuardRule::wrong_decision_id()),
        ("not_json", GuardRule::not_json()),
        ("busy", GuardRule::status(503)),
    ];
    for (tool, rule) in rules {
        c.guard().set(tool, rule);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/guard_check.py");
    let tools = [
        "get_weather",
        "delete_file",
        "watch",
        "down",
        "down_closed",
        "modify",
        "wrong_id",
        "not_json",
        "busy",
    ];
    let out = Command::new(&python)
        .arg(script)
        .args(tools)
        .env("STASO_API_KEY", KEY)
        .env("STASO_BASE_URL", c.url())
        .env_remove("STASO_GUARD_FAIL_CLOSED")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let got = |tool: &str| {
        let r = seen
            .iter()
            .find(|r| r["tool"] == tool)
            .unwrap_or_else(|| panic!("no result for {tool}"));
        (
            r["action"].as_str().unwrap_or_default().to_owned(),
            r["failure_kind"].as_str().map(str::to_owned),
        )
    };
    let decided = |action: &str| (action.to_owned(), None);
    let failed = |action: &str, kind: &str| (action.to_owned(), Some(kind.to_owned()));
    assert_eq!(got("get_weather"), decided("allow"));
    assert_eq!(got("delete_file"), decided("block"));
    assert_eq!(got("watch"), decided("allow"));
    assert_eq!(got("down"), failed("allow", "backend_unavailable"));
    assert_eq!(got("down_closed"), failed("block", "backend_unavailable"));
    assert_eq!(got("modify"), failed("allow", "unsupported_action"));
    assert_eq!(got("wrong_id"), failed("allow", "malformed_response"));
    assert_eq!(got("not_json"), failed("allow", "malformed_response"));
    assert_eq!(got("busy"), failed("allow", "backend_unavailable"));
    let blocked = seen
        .iter()
        .find(|r| r["tool"] == "delete_file")
        .expect("block");
    assert_eq!(
        (
            &blocked["rule_name"],
            &blocked["reason"],
            &blocked["findings"]
        ),
        (
            &serde_json::json!("no-deletes"),
            &serde_json::json!("deleting is off"),
            &serde_json::json!(["block"])
        )
    );
    let audited = seen.iter().find(|r| r["tool"] == "watch").expect("audit");
    assert_eq!(audited["rules_triggered"], serde_json::json!(["watch"]));
    assert_eq!(audited["findings"], serde_json::json!(["audit"]));
    let requests = c.requests().guard();
    assert_eq!(requests.len(), tools.len());
    for r in &requests {
        assert!(r.validation_error.is_none(), "{r:#?}");
    }
}

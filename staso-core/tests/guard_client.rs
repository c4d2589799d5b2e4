//! What a running client changes for guard: its configuration wins over the environment
//! (also with tracing off), and decision spans go through the real delivery with their
//! UUID v5 span id. A client is process-wide, so these tests take turns.

#[path = "support/guard_service.rs"]
mod guard_service;
#[path = "support/loopback.rs"]
mod loopback;

use guard_service::{env, service, MapEnv};
use loopback::closed_port_url;
use serde_json::{json, Value};
use staso_core::testing::{guard_blocking_with_env, init_with_env};
use staso_core::{span, GuardOptions, Kind, Options};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn options(url: &str) -> Options {
    Options::new()
        .api_key("ak_from_init")
        .agent_name("init-bot")
        .environment("staging")
        .base_url(url)
        .capture_git(false)
        .flush_interval(Duration::from_secs(60))
        .install_exit_hook(false)
}

#[test]
fn a_running_client_is_used_even_with_tracing_off() {
    let _s = serial();
    let s = service();
    let none: HashMap<&str, &str> = HashMap::new();
    let client = init_with_env(options(&s.url()).enabled(false), &none).expect("init");
    // The environment names another service and key: the client's win.
    let other = env(&closed_port_url());
    let r = guard_blocking_with_env(
        "delete_file",
        &json!({}),
        GuardOptions::new(),
        &MapEnv(other),
    );
    assert!(r.is_blocked(), "{r:?}");
    let reqs = s.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header("x-api-key"), Some("ak_from_init"));
    let ctx = &reqs[0].json()["context"];
    assert_eq!(ctx["environment"], "staging");
    assert_eq!(ctx["agent_name"], "init-bot");
    assert_eq!(ctx["agent_id"], staso_core::agent_id("init-bot"));
    // Tracing is off: the check still runs, but no span is recorded.
    let report = client.shutdown(Duration::from_secs(1));
    assert_eq!(report.accepted, 0);
}

#[test]
fn decision_spans_are_delivered_with_their_uuid_v5_span_id() {
    let _s = serial();
    let s = service();
    let none: HashMap<&str, &str> = HashMap::new();
    let client = init_with_env(options(&s.url()), &none).expect("init");
    let e = MapEnv(env(&closed_port_url()));
    let result = {
        let _turn = span("turn", Kind::Agent);
        guard_blocking_with_env(
            "delete_file",
            &json!({"path": "/"}),
            GuardOptions::new(),
            &e,
        )
    };
    let report = client.flush(Duration::from_secs(10));
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.delivered, 2, "the agent span and its decision span");
    let spans: Vec<Value> = s
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/traces/ingest")
        .flat_map(|r| {
            r.json()["traces"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .flat_map(|t| t["spans"].as_array().cloned().unwrap_or_default())
        })
        .filter(|sp| sp["name"] == "guard:blocked:delete_file")
        .collect();
    assert_eq!(spans.len(), 1);
    let id = result.decision_id.expect("id").to_string();
    let text = format!("[\"staso.guard.span.v1\", \"{id}\", \"guard:blocked:delete_file\"]");
    let want = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, text.as_bytes()).to_string();
    assert_eq!(spans[0]["span_id"], want);
    assert_eq!(spans[0]["kind"], "tool");
    assert_eq!(spans[0]["status"], "ok");
    let _ = client.shutdown(Duration::from_secs(1));
}

//! Helpers shared by the integration tests: a valid payload builder and an HTTP client.
#![allow(dead_code)]

use serde_json::{json, Value};
use staso_collector::{Collector, CollectorConfig};
use std::time::Duration;

pub const KEY: &str = "test-key";

pub fn start() -> Collector {
    Collector::start_blocking(CollectorConfig {
        api_key: KEY.into(),
        ..Default::default()
    })
    .expect("collector starts")
}

pub fn client() -> reqwest::blocking::Client {
    client_with_timeout(Duration::from_secs(10))
}

pub fn client_with_timeout(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .expect("client")
}

pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A random trace id (128 bits, as the SDKs make them).
pub fn trace_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A span id in the Rust SDK's shape: 64 random bits, zero-padded.
pub fn span_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() as u64;
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A complete, valid span object (no trace_id, as on the wire).
pub fn span(id: &str, parent: Option<&str>, name: &str, kind: &str, second: u32) -> Value {
    json!({
        "span_id": id,
        "parent_span_id": parent,
        "name": name,
        "kind": kind,
        "timestamp": format!("2026-11-26T06:10:{second:02}.123456+00:00"),
        "duration_ms": 12.5,
        "status": "ok",
        "model": if kind == "llm" { "gpt-x" } else { "" },
        "provider": if kind == "llm" { "openai" } else { "" },
        "requested_model": if kind == "llm" { "gpt-x" } else { "" },
        "usage_available": if kind == "llm" { json!(true) } else { Value::Null },
        "reasoning_effort": "",
        "input_tokens": if kind == "llm" { 10 } else { 0 },
        "output_tokens": if kind == "llm" { 5 } else { 0 },
        "total_tokens": if kind == "llm" { 15 } else { 0 },
        "input": "{\"q\": 1}",
        "output": "",
        "attributes": "{\"code.function\": \"f\"}",
        "error_message": null,
        "capture": {
            "request": "captured",
            "system_prompt": "captured",
            "tool_schema": "captured",
            "tool_arguments": "captured",
            "output": "captured"
        },
        "session_id": "0b0f3e2c-9a51-4a6e-8c1e-2f3d4e5f6a7b",
        "agent_name": "demo-agent",
        "agent_id": "b7fa038a-6d14-5fc4-8ebc-66e1998cdff6",
        "agent_version": "",
        "user_id": ""
    })
}

/// The same span as a provisional root copy.
pub fn provisional(mut s: Value) -> Value {
    s["duration_ms"] = json!(0.0);
    s["usage_available"] = json!(false);
    s["attributes"] = json!("{\"code.function\": \"f\", \"staso.provisional_root\": true}");
    s
}

/// One trace entry, its timestamp the earliest of its spans.
pub fn trace(trace_id: &str, spans: Vec<Value>) -> Value {
    let ts = spans
        .iter()
        .filter_map(|s| s["timestamp"].as_str())
        .min()
        .unwrap_or_default()
        .to_owned();
    json!({
        "trace_id": trace_id,
        "timestamp": ts,
        "environment": "default",
        "workspace_slug": "default",
        "spans": spans
    })
}

/// A valid body: one trace with an agent root, a tool child and an llm grandchild.
pub fn three_span_body() -> (String, Value) {
    let t = trace_id();
    let (a, b, c) = (span_id(), span_id(), span_id());
    let body = json!({"traces": [trace(&t, vec![
        span(&a, None, "agent_run", "agent", 1),
        span(&b, Some(&a), "search", "tool", 2),
        span(&c, Some(&b), "ask", "llm", 3),
    ])]});
    (t, body)
}

/// Posts an ingest body with all the right headers and the given Idempotency-Key.
pub fn post_with_key(
    client: &reqwest::blocking::Client,
    url: &str,
    body: &Value,
    key: &str,
) -> reqwest::Result<reqwest::blocking::Response> {
    client
        .post(format!("{url}/v1/traces/ingest"))
        .header("X-API-Key", KEY)
        .header("Content-Type", "application/json")
        .header("User-Agent", "staso-rust/0.1.0")
        .header("Idempotency-Key", key)
        .body(body.to_string())
        .send()
}

/// Posts an ingest body with a fresh Idempotency-Key.
pub fn post(
    client: &reqwest::blocking::Client,
    url: &str,
    body: &Value,
) -> reqwest::Result<reqwest::blocking::Response> {
    post_with_key(client, url, body, &new_key())
}

/// Status and JSON body of a response.
pub fn status_json(r: reqwest::blocking::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body = r.json().unwrap_or(Value::Null);
    (status, body)
}

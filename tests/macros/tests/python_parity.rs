//! Same data as the Python SDK: one agent written with both SDKs, sent to two local
//! collectors, compared span by span — names, kinds, tree, status, identity fields,
//! capture map, and the JSON inside input, output and attributes (compared as JSON, so
//! whitespace differences do not count). What legitimately differs is listed and checked
//! separately: ids, timings, code locations and the error's type name.
//!
//! Needs the official Python SDK: `STASO_PYTHON` names an interpreter with `staso==0.5.25`
//! installed (scripts/test.sh sets it up). Without it the test fails under CI and is
//! skipped locally with a notice.
#![allow(clippy::print_stderr)]

use serde_json::{json, Map, Value};
use staso_collector::{Collector, CollectorConfig, StoredSpan};
use std::time::Duration;

#[derive(Debug, serde::Serialize)]
struct Order {
    id: u64,
    status: &'static str,
    region: String,
}

#[derive(Debug)]
struct ValueError(String);

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[staso::tool]
fn lookup(order_id: u64, region: &str) -> Order {
    Order {
        id: order_id,
        status: "shipped",
        region: region.to_string(),
    }
}

#[staso::tool(name = "refund.issue")]
fn refund(order_id: u64) -> Result<(), ValueError> {
    Err(ValueError(format!("order {order_id} not found")))
}

#[staso::trace(kind = "retriever", tags = ["kb"])]
fn search(query: &str) -> Vec<&'static str> {
    let _ = query;
    vec!["Refunds within 30 days.", "Shipping takes 3-5 days."]
}

#[staso::agent(name = "support-bot", metadata(team = "cx"))]
fn answer(question: &str) -> String {
    let _ = question;
    let docs = search("refund policy");
    let order = lookup(42, "eu");
    let _ = refund(7);
    format!(
        "order {} is {} ({} docs)",
        order.id,
        order.status,
        docs.len()
    )
}

fn python() -> Option<String> {
    match std::env::var("STASO_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var_os("CI").is_some() => {
            panic!("STASO_PYTHON is not set: CI must install staso==0.5.25 (scripts/test.sh does)")
        }
        _ => None,
    }
}

fn finals(c: &Collector) -> Vec<StoredSpan> {
    c.spans().into_iter().filter(|s| !s.provisional).collect()
}

fn json_field(s: &StoredSpan, k: &str) -> Value {
    match s.str_field(k) {
        "" => Value::Null,
        text => serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{k} of {} is not JSON: {e}", s.name)),
    }
}

/// Attributes without the ones that differ by nature (code location, error type).
fn comparable_attributes(s: &StoredSpan) -> Map<String, Value> {
    let mut a = s.attributes();
    for k in [
        "code.filepath",
        "code.lineno",
        "code.function",
        "exception.type",
    ] {
        a.remove(k);
    }
    a.retain(|k, _| !k.starts_with("vcs."));
    a
}

#[test]
fn a_rust_agent_sends_what_the_python_sdk_sends() {
    let Some(py) = python() else {
        eprintln!("skipped: set STASO_PYTHON to an interpreter with staso==0.5.25 installed");
        return;
    };
    let py_collector = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let out = std::process::Command::new(py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/parity_agent.py"
        ))
        .env("STASO_API_KEY", "test-key")
        .env("STASO_BASE_URL", py_collector.url())
        .env("STASO_CAPTURE_GIT", "0")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python agent failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let rs_collector = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let client = staso::init(
        staso::Options::new()
            .api_key("test-key")
            .agent_name("parity-agent")
            .agent_version("1.0.0")
            .base_url(rs_collector.url())
            .capture_git(false),
    )
    .expect("init");
    staso::conversation("conv-parity")
        .user_id("user-alice")
        .run(|| answer("where is my order?"));
    assert!(client.shutdown(Duration::from_secs(10)).ok());

    let (py_spans, rs_spans) = (finals(&py_collector), finals(&rs_collector));
    let names = |v: &[StoredSpan]| {
        let mut n: Vec<String> = v.iter().map(|s| s.name.clone()).collect();
        n.sort();
        n
    };
    assert_eq!(
        names(&py_spans),
        ["lookup", "refund.issue", "search", "support-bot"]
    );
    assert_eq!(names(&py_spans), names(&rs_spans));

    let parent_name = |all: &[StoredSpan], s: &StoredSpan| {
        s.parent_span_id
            .as_ref()
            .and_then(|p| all.iter().find(|x| &x.span_id == p))
            .map(|x| x.name.clone())
    };
    for py in &py_spans {
        let rs = rs_spans
            .iter()
            .find(|s| s.name == py.name)
            .expect("same names");
        let what = &py.name;
        assert_eq!(rs.kind, py.kind, "{what}: kind");
        assert_eq!(rs.status, py.status, "{what}: status");
        assert_eq!(
            parent_name(&rs_spans, rs),
            parent_name(&py_spans, py),
            "{what}: parent"
        );
        for k in [
            "agent_name",
            "agent_id",
            "agent_version",
            "session_id",
            "user_id",
            "model",
            "provider",
            "requested_model",
            "reasoning_effort",
            "usage_available",
            "input_tokens",
            "output_tokens",
            "total_tokens",
            "capture",
            "error_message",
        ] {
            assert_eq!(rs.raw[k], py.raw[k], "{what}: {k}");
        }
        assert_eq!(
            json_field(rs, "input"),
            json_field(py, "input"),
            "{what}: input"
        );
        assert_eq!(
            json_field(rs, "output"),
            json_field(py, "output"),
            "{what}: output"
        );
        assert_eq!(
            comparable_attributes(rs),
            comparable_attributes(py),
            "{what}: attributes"
        );
        // Present on both, with values that differ by nature.
        for k in ["code.filepath", "code.lineno", "code.function"] {
            assert_eq!(
                rs.attributes().contains_key(k),
                py.attributes().contains_key(k),
                "{what}: {k}"
            );
        }
        assert_eq!(
            rs.raw.as_object().map(|o| o.len()),
            py.raw.as_object().map(|o| o.len()),
            "{what}: field count"
        );
    }
    // The error's type: Python's class name, Rust's type path.
    let err = |v: &[StoredSpan]| {
        v.iter()
            .find(|s| s.name == "refund.issue")
            .map(|s| s.attributes()["exception.type"].clone())
    };
    assert_eq!(err(&py_spans), Some(json!("ValueError")));
    assert!(err(&rs_spans)
        .expect("rust")
        .as_str()
        .expect("str")
        .ends_with("ValueError"));
}

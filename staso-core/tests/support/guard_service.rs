//! A guard service for the tests, on the loopback server: one rule per tool name, and the
//! environment a check without `init` reads.
#![allow(dead_code)]

use super::loopback::{Recorded, Reply, Server};
use serde_json::{json, Value};
use staso_core::testing::guard_blocking_with_env;
use staso_core::{GuardOptions, GuardResult};
use std::collections::HashMap;

pub const KEY: &str = "ak_guard_test";

pub type Env = HashMap<&'static str, String>;

pub fn env(url: &str) -> Env {
    let mut e = Env::new();
    e.insert("STASO_API_KEY", KEY.into());
    e.insert("STASO_BASE_URL", url.into());
    e.insert("STASO_AGENT_NAME", "guarded-bot".into());
    e
}

pub struct MapEnv(pub Env);

impl staso_core::testing::Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// A decision echoing what the request said it needs.
pub fn decision(req: &Recorded, action: &str, extra: Value) -> Reply {
    let r = req.json();
    let mut body = json!({
        "action": action,
        "decision_id": r["decision_id"],
        "decision_source": r["decision_source"],
        "failure_mode": r["failure_mode"],
    });
    if let (Value::Object(b), Value::Object(x)) = (&mut body, extra) {
        b.extend(x);
    }
    Reply::json(200, &body)
}

/// The acknowledgement of an ingest request, as the service writes it.
pub fn ack(req: &Recorded) -> Reply {
    let traces = req.json()["traces"].as_array().map_or(0, Vec::len);
    Reply::json(
        200,
        &json!({"accepted": traces, "rejected": 0, "spans_dropped": 0,
                "receipt_id": req.header("idempotency-key").unwrap_or("")}),
    )
}

/// A guard service with one rule per tool name (that also acknowledges ingest requests).
pub fn service() -> Server {
    Server::start(|req, _| {
        if req.path == "/v1/traces/ingest" {
            return ack(req);
        }
        let tool = req.json()["tool_name"].as_str().unwrap_or("").to_string();
        match tool.as_str() {
            "delete_file" => decision(
                req,
                "block",
                json!({"reason": "deleting is not allowed", "severity": "high",
                       "results": [{"rule_id": "r1", "rule_name": "no-deletes", "action": "block",
                                    "reason": "deleting", "severity": "high", "score": 1.0,
                                    "violations": [{"path": "/"}], "latency_ms": 1.5}]}),
            ),
            "send_email" => decision(
                req,
                "allow",
                json!({"reason": "", "results": [{"rule_id": "r2", "rule_name": "watch-mail",
                       "action": "audit", "reason": "mail leaves the company"}]}),
            ),
            "degraded" => decision(
                req,
                "allow",
                json!({"decision_available": false, "failure_kind": "backend_unavailable",
                       "reason": "rules engine is degraded", "retryable": true}),
            ),
            "not_json" => Reply::text(200, "<html>ok</html>"),
            "wrong_id" => Reply::json(
                200,
                &json!({"action": "allow", "decision_id": "9b4e28ba-2fa1-11d2-883f-0016d3cca427",
                        "decision_source": req.json()["decision_source"]}),
            ),
            "modify" => decision(req, "modify", json!({})),
            _ => decision(req, "allow", json!({})),
        }
    })
}

/// A check against the server at `server_url`, the rest of the configuration from `e`.
pub fn check(
    server_url: &str,
    tool: &str,
    input: &Value,
    options: GuardOptions,
    e: &Env,
) -> GuardResult {
    let mut e = e.clone();
    e.insert("STASO_BASE_URL", server_url.into());
    guard_blocking_with_env(tool, input, options, &MapEnv(e))
}

/// The one request the server received (panics when it is not one).
pub fn one_request(s: &Server) -> Recorded {
    let r = s.requests();
    assert_eq!(r.len(), 1, "{r:?}");
    r[0].clone()
}

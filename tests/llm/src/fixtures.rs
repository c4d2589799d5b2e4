//! The Python SDK's LLM fixtures (`/work/shared/llm-fixtures`, or `STASO_LLM_FIXTURES`):
//! the spans staso 0.5.25 sent for the contract's scenario, final copies only.

use serde_json::Value;
use std::path::PathBuf;

/// One span as the Python SDK sent it, with its trace id.
#[derive(Debug, Clone)]
pub struct Sent {
    pub trace_id: String,
    pub span: Value,
}

impl Sent {
    pub fn str(&self, k: &str) -> &str {
        self.span.get(k).and_then(Value::as_str).unwrap_or("")
    }
}

/// Where the fixtures are: `STASO_LLM_FIXTURES`, else the shared folder, else a copy in
/// the repository (`tests/llm/fixtures`).
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("STASO_LLM_FIXTURES") {
        return PathBuf::from(d);
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    if local.join("full.jsonl").exists() {
        return local;
    }
    PathBuf::from("/work/shared/llm-fixtures")
}

/// The final spans of a fixture run (`full`, `noagent`, `capture_off_request`, ...), in
/// the order they were sent.
pub fn load(run: &str) -> Vec<Sent> {
    let path = dir().join(format!("{run}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let rec: Value = serde_json::from_str(line).expect("fixture line is JSON");
        if rec["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/v1/guard"))
        {
            continue;
        }
        for t in rec["body"]["traces"].as_array().into_iter().flatten() {
            let trace_id = t["trace_id"].as_str().unwrap_or_default().to_string();
            for s in t["spans"].as_array().into_iter().flatten() {
                let attrs = crate::decoded(s, "attributes");
                if attrs.get("staso.provisional_root") == Some(&Value::Bool(true)) {
                    continue;
                }
                out.push(Sent {
                    trace_id: trace_id.clone(),
                    span: s.clone(),
                });
            }
        }
    }
    out
}

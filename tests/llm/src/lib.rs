//! Shared parts of the LLM tests: the fake provider (the same file `examples/llm.rs`
//! uses), the Python SDK's fixtures, and the contract's scenario written in Rust with
//! async-openai (OpenAI) and the JSON-level API over reqwest (Anthropic).
#![allow(clippy::print_stderr, missing_docs)]

#[path = "../../../examples/support/fake_llm.rs"]
pub mod fake;

pub mod fixtures;
pub mod scenario;

use serde_json::{Map, Value};

/// Removes object keys whose value is null, at any depth: the provider libraries dump
/// their models with every optional field (`citations: null`, `caller: null`, ...), so
/// which nulls appear depends on the library's version, not on the SDK.
pub fn drop_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), drop_nulls(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(drop_nulls).collect()),
        other => other.clone(),
    }
}

/// A JSON-encoded span field (`input`, `output`, `attributes`), decoded; `""` stays a
/// string.
pub fn decoded(span: &Value, field: &str) -> Value {
    match span.get(field).and_then(Value::as_str) {
        Some("") | None => Value::String(String::new()),
        Some(s) => serde_json::from_str(s).unwrap_or(Value::String(s.to_string())),
    }
}

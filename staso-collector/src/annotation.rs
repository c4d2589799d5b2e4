//! Annotations, `POST /v1/traces/{trace_id}/annotations`: the check of a request, and
//! the replay memory that makes a retried annotation (same `Idempotency-Key`) stored once
//! and answered the same.

use crate::contract::{key_name, ValidationError};
use crate::formats::is_lower_uuid;
use serde_json::Value;
use std::collections::HashMap;

const FIELDS: &[&str] = &["name", "value", "data_type", "span_id", "comment"];

/// Checks an annotation body; `trace_id` comes from the path.
pub(crate) fn check(trace_id: &str, bytes: &[u8]) -> Result<Value, ValidationError> {
    if !is_lower_uuid(trace_id) {
        return Err(ValidationError::new(
            "path.trace_id",
            "expected a lowercase hyphenated UUID",
        ));
    }
    let body: Value = serde_json::from_slice(bytes).map_err(ValidationError::not_json)?;
    let obj = body
        .as_object()
        .ok_or_else(|| ValidationError::new("body", "expected a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ValidationError::new(key_name(k), "unknown field"));
    }
    let string = |name: &str| match obj.get(name) {
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(ValidationError::new(name, "expected a string")),
        None => Err(ValidationError::new(name, "missing field")),
    };
    if string("name")?.is_empty() {
        return Err(ValidationError::new("name", "expected a non-empty string"));
    }
    let data_type = string("data_type")?;
    let value = obj
        .get("value")
        .ok_or_else(|| ValidationError::new("value", "missing field"))?;
    let matches = match data_type {
        "numeric" => value.is_number(),
        "categorical" => value.is_string(),
        "boolean" => value.is_boolean(),
        _ => {
            return Err(ValidationError::new(
                "data_type",
                "expected one of numeric, categorical, boolean",
            ))
        }
    };
    if !matches {
        return Err(ValidationError::new(
            "value",
            format!("value type does not match data_type {data_type}"),
        ));
    }
    if obj.contains_key("span_id") && !is_lower_uuid(string("span_id")?) {
        return Err(ValidationError::new(
            "span_id",
            "expected a lowercase hyphenated UUID shape",
        ));
    }
    if obj.contains_key("comment") {
        string("comment")?;
    }
    Ok(body)
}

/// The annotations stored under an Idempotency-Key: their trace, body and id.
#[derive(Default)]
pub(crate) struct Replays(HashMap<String, (String, Value, i64)>);

/// What to do with an annotation request that carries an Idempotency-Key.
pub(crate) enum Replay {
    /// Not seen: store it.
    New,
    /// Seen with the same trace and body: answer this id again, store nothing.
    Same(i64),
    /// Seen with another trace or body: refuse.
    Conflict,
}

impl Replays {
    pub(crate) fn check(&self, key: &str, trace_id: &str, body: &Value) -> Replay {
        match self.0.get(key) {
            None => Replay::New,
            Some((t, b, id)) if t == trace_id && b == body => Replay::Same(*id),
            Some(_) => Replay::Conflict,
        }
    }

    pub(crate) fn remember(&mut self, key: String, trace_id: &str, body: Value, id: i64) {
        self.0.insert(key, (trace_id.to_owned(), body, id));
    }
}

//! The arguments of a tool call an LLM proposed, as the guard sees them: parsed at the
//! provider boundary, with a status that says how far they can be trusted (`parsed`,
//! `invalid_json`, `invalid_shape`, `unavailable`). A JSON object with a duplicated key is
//! ambiguous (the tool and the guard could read different values) and is `unavailable`.

// Called by the post-reply hook of the LLM integrations (and the tests until they land).
#![cfg_attr(not(test), allow(dead_code))]

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// The most of an argument document (or a schema) the guard is sent.
pub(crate) const MAX_EVIDENCE_BYTES: usize = 128 * 1024;

/// A tool call's arguments as the provider gave them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ToolArguments {
    /// JSON text (OpenAI's `function.arguments`).
    Json(String),
    /// Already a value (Anthropic's `input`).
    Parsed(Value),
    /// None came with the call (e.g. a stream that never sent them).
    Missing,
}

/// The guard's view of a call's arguments: an object and its status.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    pub input: Map<String, Value>,
    pub status: &'static str,
}

impl Parsed {
    fn of(input: Map<String, Value>, status: &'static str) -> Parsed {
        Parsed { input, status }
    }
}

fn wrap(key: &str, v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(key.into(), v);
    m
}

/// Reads `args` the way the Python SDK's adapter boundary does.
pub(crate) fn parse(args: &ToolArguments) -> Parsed {
    let value = match args {
        ToolArguments::Missing => return Parsed::of(Map::new(), "unavailable"),
        ToolArguments::Json(raw) if raw.len() > MAX_EVIDENCE_BYTES => {
            return Parsed::of(Map::new(), "unavailable")
        }
        ToolArguments::Json(raw) => match unique(raw) {
            Ok(v) => v,
            Err(Problem::Duplicate) => return Parsed::of(Map::new(), "unavailable"),
            Err(Problem::Invalid) => {
                return Parsed::of(
                    wrap("raw_arguments", Value::String(raw.clone())),
                    "invalid_json",
                )
            }
        },
        ToolArguments::Parsed(v) => v.clone(),
    };
    let parsed = match value {
        Value::Object(m) => Parsed::of(m, "parsed"),
        other => Parsed::of(wrap("value", other), "invalid_shape"),
    };
    if serde_json::to_vec(&parsed.input).map_or(true, |b| b.len() > MAX_EVIDENCE_BYTES) {
        return Parsed::of(Map::new(), "unavailable");
    }
    parsed
}

enum Problem {
    Duplicate,
    Invalid,
}

/// Parses JSON text, refusing an object that repeats a key.
fn unique(raw: &str) -> Result<Value, Problem> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let v = match de.deserialize_any(UniqueValue) {
        Ok(v) => v,
        Err(e) if e.to_string().starts_with(DUPLICATE) => return Err(Problem::Duplicate),
        Err(_) => return Err(Problem::Invalid),
    };
    de.end().map_err(|_| Problem::Invalid)?;
    Ok(v)
}

const DUPLICATE: &str = "duplicate argument key";

/// A `serde_json::Value` visitor that errors on a repeated object key.
struct UniqueValue;

impl<'de> de::DeserializeSeed<'de> for UniqueValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(UniqueValue)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                return Err(de::Error::custom(DUPLICATE));
            }
            let v = map.next_value_seed(UniqueValue)?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_args(s: &str) -> Parsed {
        parse(&ToolArguments::Json(s.into()))
    }

    #[test]
    fn statuses() {
        let p = json_args(r#"{"city": "Paris", "unit": "celsius"}"#);
        assert_eq!(
            (p.status, Value::Object(p.input)),
            ("parsed", json!({"city": "Paris", "unit": "celsius"}))
        );
        let p = json_args(r#"{"city": "Par"#);
        assert_eq!(
            (p.status, Value::Object(p.input)),
            ("invalid_json", json!({"raw_arguments": "{\"city\": \"Par"}))
        );
        let p = json_args("[1, 2]");
        assert_eq!(
            (p.status, Value::Object(p.input)),
            ("invalid_shape", json!({"value": [1, 2]}))
        );
        let p = json_args(r#"{"path": "/tmp", "path": "/etc"}"#);
        assert_eq!((p.status, p.input.len()), ("unavailable", 0));
        let p = json_args(r#"{"a": {"b": 1, "b": 2}}"#);
        assert_eq!(p.status, "unavailable", "nested duplicates too");
        let p = json_args("NaN");
        assert_eq!(p.status, "invalid_json");
        let p = parse(&ToolArguments::Missing);
        assert_eq!((p.status, p.input.len()), ("unavailable", 0));
        let p = parse(&ToolArguments::Parsed(json!({"city": "Paris"})));
        assert_eq!(p.status, "parsed");
        let big = format!("{{\"x\": \"{}\"}}", "a".repeat(MAX_EVIDENCE_BYTES));
        assert_eq!(json_args(&big).status, "unavailable");
    }
}

//! Strict validation of ingest and annotation requests against the wire contract
//! (`shared/ingest-contract.md`), relaxed only where the official Python SDK
//! (`staso==0.5.25`, the reference client) actually sends something else.
//!
//! Every check names the offending field with a JSON-path-like string such as
//! `traces[0].spans[2].kind`, so a failing SDK test points straight at the bug.

use crate::wire::{
    is_lower_uuid, is_uuid_v4, lower_uuid_u128, parse_embedded_json, parse_timestamp,
};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// Why a request was refused with `400`: a human message and the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationError {
    /// What is wrong, e.g. `"expected one of llm, tool, chain, retriever, agent, custom"`.
    pub error: String,
    /// Where: `headers.Idempotency-Key`, `body`, `traces[0].spans[2].kind`, …
    pub field: String,
}

impl ValidationError {
    fn new(field: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            field: field.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.error)
    }
}

impl std::error::Error for ValidationError {}

/// One trace entry of a validated ingest body, borrowing from the request.
#[derive(Debug)]
pub(crate) struct TraceIn<'a> {
    pub trace_id: Cow<'a, str>,
    /// `trace_id` as a number (its 32 hex digits).
    pub id: u128,
    pub timestamp: Cow<'a, str>,
    /// `timestamp` in nanoseconds since the epoch.
    pub nanos: i128,
    pub environment: Cow<'a, str>,
    pub workspace_slug: Cow<'a, str>,
    pub spans: Vec<SpanIn<'a>>,
}

/// One validated span: the fields storage needs, and the span object as sent.
#[derive(Debug)]
pub(crate) struct SpanIn<'a> {
    pub span_id: Cow<'a, str>,
    /// `span_id` as a number (its 32 hex digits).
    pub id: u128,
    pub parent_span_id: Option<Cow<'a, str>>,
    pub name: Cow<'a, str>,
    pub kind: &'static str,
    pub timestamp: Cow<'a, str>,
    /// `timestamp` in nanoseconds since the epoch.
    pub nanos: i128,
    pub duration_ms: f64,
    pub status: &'static str,
    pub error_message: Option<Cow<'a, str>>,
    /// A provisional root copy: no parent and `staso.provisional_root: true` in its
    /// attributes.
    pub provisional: bool,
    /// The span object as JSON text (as sent when the fast path read it; empty when
    /// not asked for).
    pub raw: Cow<'a, str>,
}

/// The span fields the contract requires, in wire order. `capture` is checked apart.
pub(crate) const SPAN_FIELDS: &[&str] = &[
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "timestamp",
    "duration_ms",
    "status",
    "model",
    "provider",
    "requested_model",
    "usage_available",
    "reasoning_effort",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "input",
    "output",
    "attributes",
    "error_message",
    "capture",
    "session_id",
    "agent_name",
    "agent_id",
    "agent_version",
    "user_id",
];

pub(crate) const KINDS: &[&str] = &["llm", "tool", "chain", "retriever", "agent", "custom"];
pub(crate) const STATUSES: &[&str] = &["ok", "error", "timeout"];
pub(crate) const CAPTURE_CATEGORIES: &[&str] = &[
    "request",
    "system_prompt",
    "tool_schema",
    "tool_arguments",
    "output",
];

/// Checks the request headers of an ingest call (the API key is checked apart, first).
/// Returns the Idempotency-Key.
pub(crate) fn validate_ingest_headers(
    header: impl Fn(&str) -> Option<String>,
) -> Result<String, ValidationError> {
    check_content_type(&header)?;
    check_user_agent(&header)?;
    let key = header("idempotency-key").ok_or_else(|| {
        ValidationError::new("headers.Idempotency-Key", "missing Idempotency-Key header")
    })?;
    if !is_uuid_v4(&key) {
        return Err(ValidationError::new(
            "headers.Idempotency-Key",
            "expected a lowercase hyphenated UUID v4",
        ));
    }
    Ok(key)
}

/// Checks the headers of an annotation call (no Idempotency-Key: the Python SDK sends none).
pub(crate) fn validate_annotation_headers(
    header: impl Fn(&str) -> Option<String>,
) -> Result<(), ValidationError> {
    check_content_type(&header)?;
    check_user_agent(&header)
}

fn check_content_type(header: &impl Fn(&str) -> Option<String>) -> Result<(), ValidationError> {
    let ct = header("content-type")
        .ok_or_else(|| ValidationError::new("headers.Content-Type", "missing Content-Type"))?;
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(ValidationError::new(
            "headers.Content-Type",
            "expected application/json",
        ));
    }
    Ok(())
}

fn check_user_agent(header: &impl Fn(&str) -> Option<String>) -> Result<(), ValidationError> {
    let ua = header("user-agent")
        .ok_or_else(|| ValidationError::new("headers.User-Agent", "missing User-Agent"))?;
    // staso-rust/<version>, staso-python/<version>: a product token and a version.
    match ua.split_once('/') {
        Some((product, version)) if !product.trim().is_empty() && !version.trim().is_empty() => {
            Ok(())
        }
        _ => Err(ValidationError::new(
            "headers.User-Agent",
            "expected <sdk-name>/<version>",
        )),
    }
}

/// Validates an ingest body (already parsed as JSON) field by field.
///
/// This is the same check the server runs; SDK unit tests can call it on a payload they
/// built without going over HTTP.
pub fn validate_ingest_body(body: &Value) -> Result<(), ValidationError> {
    parse_ingest_body(body).map(|_| ())
}

/// Validates a raw ingest body and returns its traces: the fast path when it accepts,
/// else the field-by-field check on a parsed [`Value`], which names what is wrong (and
/// accepts what the fast path is too narrow for). `slow` holds that parsed value.
/// With `keep_raw` false, the fast path leaves [`SpanIn::raw`] empty.
pub(crate) fn check_ingest_bytes<'a>(
    bytes: &'a [u8],
    keep_raw: bool,
    slow: &'a mut Option<Value>,
) -> Result<Vec<TraceIn<'a>>, ValidationError> {
    if let Some(traces) = crate::fast::parse_ingest(bytes, keep_raw) {
        return Ok(traces);
    }
    let value = serde_json::from_slice(bytes).map_err(|e| ValidationError {
        error: format!("body is not JSON: {e}"),
        field: "body".into(),
    })?;
    parse_ingest_body(slow.insert(value))
}

/// The field-by-field check: every rule, each failure naming its field.
pub(crate) fn parse_ingest_body(body: &Value) -> Result<Vec<TraceIn<'_>>, ValidationError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ValidationError::new("body", "expected a JSON object"))?;
    reject_unknown(obj, &["traces"], "")?;
    let traces = obj
        .get("traces")
        .ok_or_else(|| ValidationError::new("traces", "missing field"))?
        .as_array()
        .ok_or_else(|| ValidationError::new("traces", "expected an array"))?;
    if traces.is_empty() {
        return Err(ValidationError::new(
            "traces",
            "expected at least one trace",
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(traces.len());
    for (i, t) in traces.iter().enumerate() {
        let path = format!("traces[{i}]");
        let trace = parse_trace(t, &path)?;
        if !seen.insert(trace.id) {
            return Err(ValidationError::new(
                format!("{path}.trace_id"),
                "trace id repeated within one batch (spans must be grouped by trace)",
            ));
        }
        out.push(trace);
    }
    Ok(out)
}

fn parse_trace<'a>(t: &'a Value, path: &str) -> Result<TraceIn<'a>, ValidationError> {
    let obj = t
        .as_object()
        .ok_or_else(|| ValidationError::new(path, "expected an object"))?;
    let fields = [
        "trace_id",
        "timestamp",
        "environment",
        "workspace_slug",
        "spans",
    ];
    reject_unknown(obj, &fields, path)?;
    let trace_id = req_str(obj, "trace_id", path)?;
    if !is_lower_uuid(trace_id) {
        return Err(ValidationError::new(
            format!("{path}.trace_id"),
            "expected a lowercase hyphenated UUID (8-4-4-4-12)",
        ));
    }
    let timestamp = req_str(obj, "timestamp", path)?;
    let trace_instant = parse_timestamp(timestamp)
        .map_err(|e| ValidationError::new(format!("{path}.timestamp"), e))?;
    let environment = req_str(obj, "environment", path)?;
    if environment.is_empty() {
        return Err(ValidationError::new(
            format!("{path}.environment"),
            "expected a non-empty string",
        ));
    }
    // Python SDK note: `BatchTransport` defaults workspace_slug to "" (contract:
    // "default"); `staso.init` always passes "default" or the configured slug, but any
    // string is accepted here so the Python transport used on its own is not refused.
    let workspace_slug = req_str(obj, "workspace_slug", path)?;
    let spans = obj
        .get("spans")
        .ok_or_else(|| ValidationError::new(format!("{path}.spans"), "missing field"))?
        .as_array()
        .ok_or_else(|| ValidationError::new(format!("{path}.spans"), "expected an array"))?;
    if spans.is_empty() {
        return Err(ValidationError::new(
            format!("{path}.spans"),
            "expected at least one span",
        ));
    }
    let mut earliest: Option<i128> = None;
    let mut ids = HashSet::new();
    let mut out = Vec::with_capacity(spans.len());
    for (j, s) in spans.iter().enumerate() {
        let spath = format!("{path}.spans[{j}]");
        let span = check_span(s, &spath)?;
        let instant = span.nanos;
        if !ids.insert(span.id) {
            return Err(ValidationError::new(
                format!("{spath}.span_id"),
                "span id repeated within one trace of one batch (copies must be coalesced)",
            ));
        }
        earliest = Some(earliest.map_or(instant, |e| e.min(instant)));
        out.push(span);
    }
    if earliest != Some(trace_instant) {
        return Err(ValidationError::new(
            format!("{path}.timestamp"),
            "must equal the earliest span timestamp of this trace",
        ));
    }
    Ok(TraceIn {
        trace_id: Cow::Borrowed(trace_id),
        id: lower_uuid_u128(trace_id).unwrap_or_default(),
        timestamp: Cow::Borrowed(timestamp),
        nanos: trace_instant,
        environment: Cow::Borrowed(environment),
        workspace_slug: Cow::Borrowed(workspace_slug),
        spans: out,
    })
}

/// Checks one span and returns what storage needs of it.
fn check_span<'a>(s: &'a Value, path: &str) -> Result<SpanIn<'a>, ValidationError> {
    let obj = s
        .as_object()
        .ok_or_else(|| ValidationError::new(path, "expected an object"))?;
    let f = |name: &str| format!("{path}.{name}");
    if obj.contains_key("trace_id") {
        return Err(ValidationError::new(
            f("trace_id"),
            "spans must not repeat trace_id (it is given by the enclosing trace)",
        ));
    }
    reject_unknown(obj, SPAN_FIELDS, path)?;
    for name in SPAN_FIELDS {
        if !obj.contains_key(*name) {
            return Err(ValidationError::new(f(name), "missing field"));
        }
    }
    let span_id = req_str(obj, "span_id", path)?;
    if !is_lower_uuid(span_id) {
        return Err(ValidationError::new(
            f("span_id"),
            "expected a lowercase hyphenated UUID shape (e.g. 00000000-0000-0000-xxxx-xxxxxxxxxxxx)",
        ));
    }
    let parent = match &obj["parent_span_id"] {
        Value::Null => None,
        Value::String(p) if is_lower_uuid(p) => {
            if p == span_id {
                return Err(ValidationError::new(
                    f("parent_span_id"),
                    "a span cannot be its own parent",
                ));
            }
            Some(Cow::Borrowed(p.as_str()))
        }
        _ => {
            return Err(ValidationError::new(
                f("parent_span_id"),
                "expected null or a lowercase hyphenated UUID shape",
            ))
        }
    };
    let name = req_str(obj, "name", path)?;
    let kind = one_of(obj, "kind", KINDS, path)?;
    let timestamp = req_str(obj, "timestamp", path)?;
    let instant =
        parse_timestamp(timestamp).map_err(|e| ValidationError::new(f("timestamp"), e))?;
    let duration_ms = check_duration(&obj["duration_ms"])
        .map_err(|e| ValidationError::new(f("duration_ms"), e))?;
    let status = one_of(obj, "status", STATUSES, path)?;
    for name in ["model", "provider", "requested_model", "reasoning_effort"] {
        req_str(obj, name, path)?;
    }
    // Python SDK note: the contract says null on non-LLM spans, but provisional root
    // copies carry `false` whatever their kind (provider.py `_emit`). Any bool or null
    // is accepted, whatever the kind.
    if !matches!(obj["usage_available"], Value::Null | Value::Bool(_)) {
        return Err(ValidationError::new(
            f("usage_available"),
            "expected a bool or null",
        ));
    }
    for name in ["input_tokens", "output_tokens", "total_tokens"] {
        if obj[name].as_u64().is_none() {
            return Err(ValidationError::new(
                f(name),
                "expected a non-negative integer",
            ));
        }
    }
    for name in ["input", "output"] {
        let v = req_str(obj, name, path)?;
        if !v.is_empty() && parse_embedded_json(v).is_none() {
            return Err(ValidationError::new(
                f(name),
                "expected \"\" or a string holding a JSON document",
            ));
        }
    }
    let attrs = req_str(obj, "attributes", path)?;
    let provisional_flag = match parse_embedded_json(attrs) {
        Some(Value::Object(a)) => a.get("staso.provisional_root") == Some(&Value::Bool(true)),
        _ => {
            return Err(ValidationError::new(
                f("attributes"),
                "expected a string holding a JSON object (\"{}\" when empty)",
            ))
        }
    };
    let error_message = match &obj["error_message"] {
        Value::Null => None,
        Value::String(e) => Some(Cow::Borrowed(e.as_str())),
        _ => {
            return Err(ValidationError::new(
                f("error_message"),
                "expected a string or null",
            ))
        }
    };
    // Python SDK note: `_spans_to_traces` copies `capture` only when the span dict has
    // one, but both of its span builders (provider.py and _common/span.py) always set it,
    // so on the wire it is always present; it is required here.
    check_capture(&obj["capture"], &f("capture"))?;
    for name in [
        "session_id",
        "agent_name",
        "agent_id",
        "agent_version",
        "user_id",
    ] {
        req_str(obj, name, path)?;
    }
    // Python SDK note: agent_id is always a UUID v5 from `staso.init`; its CLI-hook
    // sender defaults it to "", which is accepted too.
    let agent_id = req_str(obj, "agent_id", path)?;
    let v5 = is_lower_uuid(agent_id) && agent_id.as_bytes()[14] == b'5';
    if !agent_id.is_empty() && !v5 {
        return Err(ValidationError::new(
            f("agent_id"),
            "expected a lowercase UUID v5 (or \"\")",
        ));
    }
    Ok(SpanIn {
        span_id: Cow::Borrowed(span_id),
        id: lower_uuid_u128(span_id).unwrap_or_default(),
        provisional: parent.is_none() && provisional_flag,
        parent_span_id: parent,
        name: Cow::Borrowed(name),
        kind,
        timestamp: Cow::Borrowed(timestamp),
        nanos: instant,
        duration_ms,
        status,
        error_message,
        raw: Cow::Owned(serde_json::to_string(obj).unwrap_or_default()),
    })
}

fn check_capture(v: &Value, path: &str) -> Result<(), ValidationError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ValidationError::new(path, "expected an object"))?;
    reject_unknown(obj, CAPTURE_CATEGORIES, path)?;
    for cat in CAPTURE_CATEGORIES {
        match obj.get(*cat) {
            Some(Value::String(s)) if s == "captured" || s == "suppressed" => {}
            Some(_) => {
                return Err(ValidationError::new(
                    format!("{path}.{cat}"),
                    "expected \"captured\" or \"suppressed\"",
                ))
            }
            None => {
                return Err(ValidationError::new(
                    format!("{path}.{cat}"),
                    "missing field",
                ))
            }
        }
    }
    Ok(())
}

fn check_duration(v: &Value) -> Result<f64, &'static str> {
    let n = match v {
        Value::Number(n) => n.as_f64().ok_or("expected a number")?,
        _ => return Err("expected a number"),
    };
    check_duration_value(n).map(|()| n)
}

/// `duration_ms` rules: finite, non-negative, rounded to 2 decimals.
pub(crate) fn check_duration_value(n: f64) -> Result<(), &'static str> {
    if !n.is_finite() || n < 0.0 {
        return Err("expected a non-negative number");
    }
    let rounded = (n * 100.0).round() / 100.0;
    if (rounded - n).abs() > 1e-9 * n.max(1.0) {
        return Err("expected a value rounded to 2 decimals");
    }
    Ok(())
}

/// Validates an annotation body; `trace_id` comes from the path.
pub(crate) fn validate_annotation(trace_id: &str, body: &Value) -> Result<(), ValidationError> {
    if !is_lower_uuid(trace_id) {
        return Err(ValidationError::new(
            "path.trace_id",
            "expected a lowercase hyphenated UUID",
        ));
    }
    let obj = body
        .as_object()
        .ok_or_else(|| ValidationError::new("body", "expected a JSON object"))?;
    reject_unknown(
        obj,
        &["name", "value", "data_type", "span_id", "comment"],
        "",
    )?;
    let name = req_str(obj, "name", "")?;
    if name.is_empty() {
        return Err(ValidationError::new("name", "expected a non-empty string"));
    }
    let data_type = one_of(obj, "data_type", &["numeric", "categorical", "boolean"], "")?;
    let value = obj
        .get("value")
        .ok_or_else(|| ValidationError::new("value", "missing field"))?;
    let ok = match data_type {
        "numeric" => value.is_number(),
        "categorical" => value.is_string(),
        _ => value.is_boolean(),
    };
    if !ok {
        return Err(ValidationError::new(
            "value",
            format!("value type does not match data_type {data_type}"),
        ));
    }
    if let Some(span_id) = obj.get("span_id") {
        match span_id.as_str() {
            Some(s) if is_lower_uuid(s) => {}
            _ => {
                return Err(ValidationError::new(
                    "span_id",
                    "expected a lowercase hyphenated UUID shape",
                ))
            }
        }
    }
    if let Some(c) = obj.get("comment") {
        if !c.is_string() {
            return Err(ValidationError::new("comment", "expected a string"));
        }
    }
    Ok(())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn reject_unknown(
    obj: &Map<String, Value>,
    allowed: &[&str],
    path: &str,
) -> Result<(), ValidationError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ValidationError::new(join(path, k), "unknown field")),
        None => Ok(()),
    }
}

fn req_str<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<&'a str, ValidationError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ValidationError::new(join(path, name), "expected a string")),
        None => Err(ValidationError::new(join(path, name), "missing field")),
    }
}

fn one_of(
    obj: &Map<String, Value>,
    name: &str,
    allowed: &[&'static str],
    path: &str,
) -> Result<&'static str, ValidationError> {
    let v = req_str(obj, name, path)?;
    if let Some(a) = allowed.iter().find(|a| **a == v) {
        Ok(a)
    } else {
        Err(ValidationError::new(
            join(path, name),
            format!("expected one of {}", allowed.join(", ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert!(check_duration(&serde_json::json!(0.0)).is_ok());
        assert!(check_duration(&serde_json::json!(12.35)).is_ok());
        assert!(check_duration(&serde_json::json!(3)).is_ok());
        assert!(check_duration(&serde_json::json!(1.234)).is_err());
        assert!(check_duration(&serde_json::json!(-1.0)).is_err());
        assert!(check_duration(&serde_json::json!("1")).is_err());
    }
}

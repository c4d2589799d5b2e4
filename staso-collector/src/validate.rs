//! Strict validation of ingest and annotation requests against the wire contract
//! (`shared/ingest-contract.md`), relaxed only where the official Python SDK
//! (`staso==0.5.25`, the reference client) actually sends something else.
//!
//! Every check names the offending field with a JSON-path-like string such as
//! `traces[0].spans[2].kind`, so a failing SDK test points straight at the bug.

use serde_json::{Map, Value};
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

/// One trace entry of a validated ingest body.
#[derive(Debug, Clone)]
pub(crate) struct TraceIn {
    pub trace_id: String,
    pub timestamp: String,
    pub environment: String,
    pub workspace_slug: String,
    /// Each span object exactly as sent (already validated).
    pub spans: Vec<Map<String, Value>>,
}

/// The span fields the contract requires, in wire order. `capture` is checked apart.
const SPAN_FIELDS: &[&str] = &[
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

const KINDS: &[&str] = &["llm", "tool", "chain", "retriever", "agent", "custom"];
const STATUSES: &[&str] = &["ok", "error", "timeout"];
const CAPTURE_CATEGORIES: &[&str] = &[
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

pub(crate) fn parse_ingest_body(body: &Value) -> Result<Vec<TraceIn>, ValidationError> {
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
        if !seen.insert(trace.trace_id.clone()) {
            return Err(ValidationError::new(
                format!("{path}.trace_id"),
                "trace id repeated within one batch (spans must be grouped by trace)",
            ));
        }
        out.push(trace);
    }
    Ok(out)
}

fn parse_trace(t: &Value, path: &str) -> Result<TraceIn, ValidationError> {
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
        let (span, instant) = check_span(s, &spath)?;
        let id = span
            .get("span_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !ids.insert(id) {
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
        trace_id: trace_id.to_owned(),
        timestamp: timestamp.to_owned(),
        environment: environment.to_owned(),
        workspace_slug: workspace_slug.to_owned(),
        spans: out,
    })
}

/// Checks one span; returns it and its start instant (ns since the epoch).
fn check_span(s: &Value, path: &str) -> Result<(Map<String, Value>, i128), ValidationError> {
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
    match &obj["parent_span_id"] {
        Value::Null => {}
        Value::String(p) if is_lower_uuid(p) => {
            if p == span_id {
                return Err(ValidationError::new(
                    f("parent_span_id"),
                    "a span cannot be its own parent",
                ));
            }
        }
        _ => {
            return Err(ValidationError::new(
                f("parent_span_id"),
                "expected null or a lowercase hyphenated UUID shape",
            ))
        }
    }
    req_str(obj, "name", path)?;
    one_of(obj, "kind", KINDS, path)?;
    let instant = parse_timestamp(req_str(obj, "timestamp", path)?)
        .map_err(|e| ValidationError::new(f("timestamp"), e))?;
    check_duration(&obj["duration_ms"]).map_err(|e| ValidationError::new(f("duration_ms"), e))?;
    one_of(obj, "status", STATUSES, path)?;
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
    match parse_embedded_json(attrs) {
        Some(Value::Object(_)) => {}
        _ => {
            return Err(ValidationError::new(
                f("attributes"),
                "expected a string holding a JSON object (\"{}\" when empty)",
            ))
        }
    }
    if !matches!(obj["error_message"], Value::Null | Value::String(_)) {
        return Err(ValidationError::new(
            f("error_message"),
            "expected a string or null",
        ));
    }
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
    Ok((obj.clone(), instant))
}

/// Parses a JSON document embedded in a string field.
///
/// Python SDK note: the reference client encodes `input`, `output` and `attributes` with
/// `json.dumps(..., default=str)`, which writes a float NaN or infinity as the bare
/// tokens `NaN`, `Infinity`, `-Infinity` (not valid JSON). Those tokens are accepted
/// here (read as null) so that a Python agent returning `float("nan")` is not refused.
pub(crate) fn parse_embedded_json(s: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str(s) {
        return Some(v);
    }
    let mut out = String::with_capacity(s.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push_str("null");
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    serde_json::from_str(&out).ok()
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

fn check_duration(v: &Value) -> Result<(), &'static str> {
    let n = match v {
        Value::Number(n) => n.as_f64().ok_or("expected a number")?,
        _ => return Err("expected a number"),
    };
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

fn one_of<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    allowed: &[&str],
    path: &str,
) -> Result<&'a str, ValidationError> {
    let v = req_str(obj, name, path)?;
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(ValidationError::new(
            join(path, name),
            format!("expected one of {}", allowed.join(", ")),
        ))
    }
}

/// A lowercase hyphenated UUID shape (8-4-4-4-12 hex digits), any version.
pub(crate) fn is_lower_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// A lowercase hyphenated UUID of version 4 and the RFC 4122 variant.
pub(crate) fn is_uuid_v4(s: &str) -> bool {
    is_lower_uuid(s)
        && s.as_bytes()[14] == b'4'
        && matches!(s.as_bytes()[19], b'8'..=b'9' | b'a'..=b'b')
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}]+00:00` to nanoseconds since the Unix epoch.
///
/// The offset is required and must be UTC written as `+00:00` — what the Python SDK
/// sends (`datetime.isoformat()` on an aware UTC datetime; note it drops the fraction
/// entirely when the microseconds are 0, which is accepted).
pub(crate) fn parse_timestamp(s: &str) -> Result<i128, String> {
    let b = s.as_bytes();
    let bad = || format!("expected ISO 8601 UTC like 2026-11-26T06:10:47.123456+00:00, got {s:?}");
    if b.len() < 25 {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = &b[r];
        if part.iter().all(u8::is_ascii_digit) {
            Ok(part.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
        } else {
            Err(bad())
        }
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b[i] == b'.' {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let digits = end - start;
        if digits == 0 || digits > 9 {
            return Err(bad());
        }
        nanos = num(start..end)? * 10i64.pow(9 - digits as u32);
        i = end;
    }
    let offset = &s[i..];
    if offset != "+00:00" {
        return Err(if offset == "Z" || offset.len() == 6 {
            format!("expected the UTC offset written +00:00 (as the Python SDK sends), got {s:?}")
        } else {
            bad()
        });
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if year < 1970 || day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Ok(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00+00:00"), Ok(0));
        assert_eq!(
            parse_timestamp("1970-01-02T00:00:01.5+00:00"),
            Ok(86_401_500_000_000)
        );
        let a = parse_timestamp("2026-11-26T06:10:47+00:00");
        let b = parse_timestamp("2026-11-26T06:10:47.000001+00:00");
        assert!(a.is_ok() && b.is_ok() && a < b);
        assert!(parse_timestamp("2026-11-26T06:10:47Z").is_err());
        assert!(parse_timestamp("2026-11-26T06:10:47.1+01:00").is_err());
        assert!(parse_timestamp("2026-02-30T06:10:47+00:00").is_err());
        assert!(parse_timestamp("2026-11-26 06:10:47+00:00").is_err());
    }

    #[test]
    fn uuids() {
        assert!(is_lower_uuid("00000000-0000-0000-1234-56789abcdef0"));
        assert!(!is_lower_uuid("00000000-0000-0000-1234-56789ABCDEF0"));
        assert!(!is_lower_uuid("0000000000000000123456789abcdef0"));
        assert!(is_uuid_v4("1b4e28ba-2fa1-41d2-883f-0016d3cca427"));
        assert!(!is_uuid_v4("1b4e28ba-2fa1-11d2-883f-0016d3cca427"));
    }

    #[test]
    fn python_nan_tokens() {
        assert_eq!(
            parse_embedded_json(r#"{"result": NaN, "s": "NaN", "l": [-Infinity, Infinity]}"#),
            Some(serde_json::json!({"result": null, "s": "NaN", "l": [null, null]}))
        );
        assert_eq!(
            parse_embedded_json(r#"{"a": "x\"NaN", "b": NaN}"#),
            Some(serde_json::json!({"a": "x\"NaN", "b": null}))
        );
        assert!(parse_embedded_json("not json").is_none());
        assert!(parse_embedded_json("{").is_none());
    }

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

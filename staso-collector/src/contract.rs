//! What every endpoint checks the same way: the refusal type naming the offending field,
//! the request headers, and the five-category `capture` map.

use std::fmt;

/// Why a request was refused with `400`: a human message and the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationError {
    /// What is wrong, e.g. `"expected one of llm, tool, chain, retriever, agent, custom"`.
    pub error: String,
    /// Where: `headers.Idempotency-Key`, `body`, `traces[0].spans[2].kind`, `capture.output`, …
    pub field: String,
}

impl ValidationError {
    pub(crate) fn new(field: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            field: field.into(),
        }
    }

    /// The refusal of a body that is not JSON at all.
    pub(crate) fn not_json(e: impl fmt::Display) -> Self {
        Self::new("body", format!("body is not JSON: {e}"))
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.error)
    }
}

impl std::error::Error for ValidationError {}

/// `path.name`; `name` at the top level, `path` for the value itself.
pub(crate) fn join(path: &str, name: &str) -> String {
    match (path, name) {
        ("", name) => name.to_owned(),
        (path, "") => path.to_owned(),
        (path, name) => format!("{path}.{name}"),
    }
}

/// How an unknown key is named in a refusal: itself, or `""` when it is empty.
pub(crate) fn key_name(key: &str) -> String {
    if key.is_empty() {
        "\"\"".to_owned()
    } else {
        key.to_owned()
    }
}

pub(crate) const KINDS: &[&str] = &["llm", "tool", "chain", "retriever", "agent", "custom"];
pub(crate) const STATUSES: &[&str] = &["ok", "error", "timeout"];
pub(crate) const CAPTURE_CATEGORIES: &[&str] = &[
    "request",
    "system_prompt",
    "tool_schema",
    "tool_arguments",
    "output",
];

/// Reads a header by lower-case name.
pub(crate) type Header<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `Content-Type: application/json` (parameters allowed) and `User-Agent: <sdk>/<version>`:
/// what every SDK request carries.
pub(crate) fn check_common_headers(header: Header<'_>) -> Result<(), ValidationError> {
    let ct = header("content-type")
        .ok_or_else(|| ValidationError::new("headers.Content-Type", "missing Content-Type"))?;
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(ValidationError::new(
            "headers.Content-Type",
            "expected application/json",
        ));
    }
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

/// The `Idempotency-Key` header: a lowercase hyphenated UUID v4 when present.
pub(crate) fn idempotency_key(header: Header<'_>) -> Result<Option<String>, ValidationError> {
    match header("idempotency-key") {
        Some(key) if crate::formats::is_uuid_v4(&key) => Ok(Some(key)),
        Some(_) => Err(ValidationError::new(
            "headers.Idempotency-Key",
            "expected a lowercase hyphenated UUID v4",
        )),
        None => Ok(None),
    }
}

/// Checks a `capture` map (already parsed): exactly the five categories, each
/// `"captured"` or `"suppressed"`. The refusal's field is relative to the map ("" for
/// the map itself).
pub(crate) fn check_capture(v: &serde_json::Value) -> Result<(), (String, &'static str)> {
    let map = v.as_object().ok_or((String::new(), "expected an object"))?;
    if let Some(k) = map
        .keys()
        .find(|k| !CAPTURE_CATEGORIES.contains(&k.as_str()))
    {
        return Err((key_name(k), "unknown field"));
    }
    for cat in CAPTURE_CATEGORIES {
        match map.get(*cat).and_then(serde_json::Value::as_str) {
            Some("captured" | "suppressed") => {}
            Some(_) | None if map.contains_key(*cat) => {
                return Err(((*cat).to_owned(), "expected \"captured\" or \"suppressed\""))
            }
            _ => return Err(((*cat).to_owned(), "missing field")),
        }
    }
    Ok(())
}

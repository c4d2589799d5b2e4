//! The ingest body validator: one typed pass over the request text that checks every
//! rule of the contract (`shared/ingest-contract.md`), keeps what storage needs borrowed
//! from the body, and names the offending field of the first problem it meets, e.g.
//! `traces[0].spans[2].kind`.
//!
//! No JSON tree is built and no serde visitor runs: a small reader ([`crate::json`])
//! walks the bytes once, every field is required, typed and read once (a repeated key is
//! refused), unknown fields are refused, the JSON documents embedded in `input`,
//! `output` and `attributes` are checked without being kept, and a span's text is a
//! slice of the body. Only a refused body is parsed again (by serde_json, to tell a
//! syntax error from a refused field, a syntax error winning). Where the contract and the official Python SDK (`staso==0.5.25`, the reference
//! client) disagree, what the client actually sends is accepted ("Python SDK note"s).

use crate::contract::{join, key_name, ValidationError, CAPTURE_CATEGORIES, KINDS, STATUSES};
use crate::formats::{
    check_duration, is_lower_uuid, lower_uuid_u128, parse_embedded_json, parse_timestamp, IdHash,
};
use crate::json::{unescape_into, Num, RawStr, Reader, Syntax};
use serde::de::IgnoredAny;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashSet;

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
    /// The span object as sent (empty unless asked for).
    pub raw: Cow<'a, str>,
}

/// The span fields the contract requires, in wire order: a missing one is named in
/// this order.
const SPAN_FIELDS: [&str; 25] = [
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
/// [`SPAN_FIELDS`] with their quotes, for the fast path of keys in the usual order.
const QUOTED_SPAN_FIELDS: [&[u8]; 25] = [
    b"\"span_id\"",
    b"\"parent_span_id\"",
    b"\"name\"",
    b"\"kind\"",
    b"\"timestamp\"",
    b"\"duration_ms\"",
    b"\"status\"",
    b"\"model\"",
    b"\"provider\"",
    b"\"requested_model\"",
    b"\"usage_available\"",
    b"\"reasoning_effort\"",
    b"\"input_tokens\"",
    b"\"output_tokens\"",
    b"\"total_tokens\"",
    b"\"input\"",
    b"\"output\"",
    b"\"attributes\"",
    b"\"error_message\"",
    b"\"capture\"",
    b"\"session_id\"",
    b"\"agent_name\"",
    b"\"agent_id\"",
    b"\"agent_version\"",
    b"\"user_id\"",
];
const ALL_SPAN_FIELDS: u32 = (1 << SPAN_FIELDS.len()) - 1;
// Indices in SPAN_FIELDS of the fields read apart.
const SPAN_ID: usize = 0;
const PARENT_SPAN_ID: usize = 1;
const NAME: usize = 2;
const KIND: usize = 3;
const TIMESTAMP: usize = 4;
const DURATION_MS: usize = 5;
const STATUS: usize = 6;
const USAGE_AVAILABLE: usize = 10;
const INPUT_TOKENS: usize = 12;
const TOTAL_TOKENS: usize = 14;
const INPUT: usize = 15;
const OUTPUT: usize = 16;
const ATTRIBUTES: usize = 17;
const ERROR_MESSAGE: usize = 18;
const CAPTURE: usize = 19;
const AGENT_ID: usize = 22;

/// Validates an ingest body (the raw request bytes) exactly as the server does, without
/// HTTP: an SDK unit test can check a payload it built.
///
/// ```
/// let err = staso_collector::validate_ingest_body(br#"{"traces": []}"#).unwrap_err();
/// assert_eq!((err.field.as_str(), err.error.as_str()), ("traces", "expected at least one trace"));
/// ```
pub fn validate_ingest_body(body: &[u8]) -> Result<(), ValidationError> {
    parse(body, false).map(drop)
}

/// Validates an ingest body and returns its traces. With `keep_raw`, each span's JSON
/// text is kept in [`SpanIn::raw`] (a slice of the body: it costs nothing).
pub(crate) fn parse(body: &[u8], keep_raw: bool) -> Result<Vec<TraceIn<'_>>, ValidationError> {
    // One UTF-8 check of the whole body, so that strings are not checked one by one.
    let text = std::str::from_utf8(body).map_err(ValidationError::not_json)?;
    let mut p = Parser {
        r: Reader::new(text),
        keep_raw,
        scratch: String::new(),
        span_ids: IdSet::default(),
    };
    match p.body() {
        Ok(traces) => Ok(traces),
        // A body that is not JSON is refused as such, even when a field before the
        // syntax error was refused first.
        Err(stop) => match (stop, serde_json::from_str::<IgnoredAny>(text)) {
            (Stop::Refused(e), Ok(_)) => Err(e),
            (_, Err(e)) => Err(ValidationError::not_json(e)),
            (Stop::Syntax, Ok(_)) => Err(ValidationError::not_json(
                "an escape that is not a valid Unicode character",
            )),
        },
    }
}

/// Why the parse stopped.
enum Stop {
    /// The text is not JSON.
    Syntax,
    /// The first field that breaks the contract.
    Refused(ValidationError),
}

impl From<Syntax> for Stop {
    fn from(_: Syntax) -> Self {
        Stop::Syntax
    }
}

fn refuse<T>(field: impl Into<String>, error: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Refused(ValidationError::new(field, error)))
}

type IdSet = HashSet<u128, IdHash>;

/// The index in [`SPAN_FIELDS`] of a key; `guess` first (fields usually come in order).
fn span_field(key: RawStr<'_>, guess: usize) -> Option<usize> {
    if SPAN_FIELDS.get(guess).is_some_and(|f| key.is(f)) {
        return Some(guess);
    }
    SPAN_FIELDS.iter().position(|f| key.is(f))
}

struct Parser<'a> {
    r: Reader<'a>,
    keep_raw: bool,
    /// Where escaped embedded documents are unescaped, reused from span to span.
    scratch: String,
    /// The span ids seen in the current trace, reused from trace to trace.
    span_ids: IdSet,
}

impl<'a> Parser<'a> {
    /// The next value if it is a string (else nothing is consumed).
    fn string(&mut self) -> Result<Option<RawStr<'a>>, Stop> {
        match self.r.peek() {
            Some(b'"') => Ok(Some(self.r.string()?)),
            _ => Ok(None),
        }
    }

    /// The next value if it is `null` (else nothing is consumed).
    fn null(&mut self) -> Result<bool, Stop> {
        if self.r.peek() == Some(b'n') {
            self.r.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The next value if it is a number (else nothing is consumed).
    fn number(&mut self) -> Result<Option<Num>, Stop> {
        match self.r.peek() {
            Some(b'-' | b'0'..=b'9') => Ok(Some(self.r.number()?)),
            _ => Ok(None),
        }
    }

    /// The value of a string holding an embedded document, unescaped into the scratch
    /// buffer when it has escapes.
    fn document(&mut self, s: RawStr<'a>) -> &str {
        if !s.escaped {
            return s.raw;
        }
        self.scratch.clear();
        unescape_into(s.raw, &mut self.scratch);
        &self.scratch
    }

    /// The body: `{"traces": [...]}`, and nothing after it.
    fn body(&mut self) -> Result<Vec<TraceIn<'a>>, Stop> {
        if !self.r.eat(b'{') {
            return refuse("body", "expected a JSON object");
        }
        let mut traces = None;
        let mut key = self.r.first_key()?;
        while let Some(k) = key {
            if !k.is("traces") {
                return refuse(key_name(&k.text()), "unknown field");
            }
            if traces.is_some() {
                return refuse("traces", "repeated field");
            }
            traces = Some(self.traces()?);
            key = self.r.next_key()?;
        }
        if !self.r.at_end() {
            return Err(Stop::Syntax);
        }
        match traces {
            None => refuse("traces", "missing field"),
            Some(t) if t.is_empty() => refuse("traces", "expected at least one trace"),
            Some(t) => Ok(t),
        }
    }

    /// `traces`: an array of trace entries, each trace id once.
    fn traces(&mut self) -> Result<Vec<TraceIn<'a>>, Stop> {
        if !self.r.eat(b'[') {
            return refuse("traces", "expected an array");
        }
        let mut out = Vec::new();
        let mut trace_ids = IdSet::default();
        let mut more = self.r.first_element()?;
        while more {
            let index = out.len();
            let t = self.trace(index)?;
            if !trace_ids.insert(t.id) {
                return refuse(
                    format!("traces[{index}].trace_id"),
                    "trace id repeated within one batch (spans must be grouped by trace)",
                );
            }
            out.push(t);
            more = self.r.next_element()?;
        }
        Ok(out)
    }

    /// One trace entry.
    fn trace(&mut self, index: usize) -> Result<TraceIn<'a>, Stop> {
        let field = |name: &str| format!("traces[{index}].{name}");
        if !self.r.eat(b'{') {
            return refuse(format!("traces[{index}]"), "expected an object");
        }
        let mut trace_id = None;
        let mut timestamp = None;
        let mut environment = None;
        let mut workspace_slug = None;
        let mut spans = None;
        let mut key = self.r.first_key()?;
        while let Some(k) = key {
            let name = [
                "trace_id",
                "timestamp",
                "environment",
                "workspace_slug",
                "spans",
            ]
            .into_iter()
            .find(|n| k.is(n));
            let repeated = match name {
                Some("trace_id") => trace_id.is_some(),
                Some("timestamp") => timestamp.is_some(),
                Some("environment") => environment.is_some(),
                Some("workspace_slug") => workspace_slug.is_some(),
                Some(_) => spans.is_some(),
                None => return refuse(field(&key_name(&k.text())), "unknown field"),
            };
            let name = name.unwrap_or_default();
            if repeated {
                return refuse(field(name), "repeated field");
            }
            if name == "spans" {
                spans = Some(self.spans(index)?);
                key = self.r.next_key()?;
                continue;
            }
            let Some(value) = self.string()? else {
                return refuse(field(name), "expected a string");
            };
            let value = value.text();
            match name {
                "trace_id" => match lower_uuid_u128(&value) {
                    Some(id) => trace_id = Some((value, id)),
                    None => {
                        return refuse(
                            field(name),
                            "expected a lowercase hyphenated UUID (8-4-4-4-12)",
                        )
                    }
                },
                "timestamp" => match parse_timestamp(&value) {
                    Ok(nanos) => timestamp = Some((value, nanos)),
                    Err(e) => return refuse(field(name), e),
                },
                "environment" if value.is_empty() => {
                    return refuse(field(name), "expected a non-empty string")
                }
                "environment" => environment = Some(value),
                // Python SDK note: `BatchTransport` defaults workspace_slug to "" (contract:
                // "default"); `staso.init` always passes "default" or the configured slug,
                // but any string is accepted so the Python transport used alone is not
                // refused.
                _ => workspace_slug = Some(value),
            }
            key = self.r.next_key()?;
        }
        let missing = [
            ("trace_id", trace_id.is_none()),
            ("timestamp", timestamp.is_none()),
            ("environment", environment.is_none()),
            ("workspace_slug", workspace_slug.is_none()),
            ("spans", spans.is_none()),
        ];
        let (
            Some((trace_id, id)),
            Some((timestamp, nanos)),
            Some(environment),
            Some(workspace_slug),
            Some(spans),
        ) = (trace_id, timestamp, environment, workspace_slug, spans)
        else {
            let name = missing.iter().find(|m| m.1).map_or("spans", |m| m.0);
            return refuse(field(name), "missing field");
        };
        if spans.iter().map(|s| s.nanos).min() != Some(nanos) {
            return refuse(
                field("timestamp"),
                "must equal the earliest span timestamp of this trace",
            );
        }
        Ok(TraceIn {
            trace_id,
            id,
            timestamp,
            nanos,
            environment,
            workspace_slug,
            spans,
        })
    }

    /// A trace's `spans`: a non-empty array, each span id once.
    fn spans(&mut self, trace: usize) -> Result<Vec<SpanIn<'a>>, Stop> {
        if !self.r.eat(b'[') {
            return refuse(format!("traces[{trace}].spans"), "expected an array");
        }
        self.span_ids.clear();
        let mut out = Vec::with_capacity(16);
        let mut more = self.r.first_element()?;
        while more {
            let index = out.len();
            let s = self.span(trace, index)?;
            if !self.span_ids.insert(s.id) {
                return refuse(
                    format!("traces[{trace}].spans[{index}].span_id"),
                    "span id repeated within one trace of one batch (copies must be coalesced)",
                );
            }
            out.push(s);
            more = self.r.next_element()?;
        }
        if out.is_empty() {
            return refuse(
                format!("traces[{trace}].spans"),
                "expected at least one span",
            );
        }
        Ok(out)
    }

    /// One span, at `traces[trace].spans[index]`.
    #[allow(clippy::too_many_lines)]
    fn span(&mut self, trace: usize, index: usize) -> Result<SpanIn<'a>, Stop> {
        let field = |name: &str| format!("traces[{trace}].spans[{index}].{name}");
        let start = self.r.offset();
        if !self.r.eat(b'{') {
            return refuse(
                format!("traces[{trace}].spans[{index}]"),
                "expected an object",
            );
        }
        let mut out = SpanIn {
            span_id: Cow::Borrowed(""),
            id: 0,
            parent_span_id: None,
            name: Cow::Borrowed(""),
            kind: "",
            timestamp: Cow::Borrowed(""),
            nanos: 0,
            duration_ms: 0.0,
            status: "",
            error_message: None,
            provisional: false,
            raw: Cow::Borrowed(""),
        };
        let mut provisional_flag = false;
        let mut seen = 0u32;
        let mut next = 0;
        let mut first = true;
        loop {
            // Fields usually come in the contract's order: try the expected key first.
            let expected = QUOTED_SPAN_FIELDS.get(next);
            let f = if expected.is_some_and(|q| self.r.eat_key(first, q)) {
                next
            } else {
                let key = self.r.key_at(first)?;
                let Some(k) = key else { break };
                let Some(f) = span_field(k, next) else {
                    if k.is("trace_id") {
                        return refuse(
                            field("trace_id"),
                            "spans must not repeat trace_id (it is given by the enclosing trace)",
                        );
                    }
                    return refuse(field(&key_name(&k.text())), "unknown field");
                };
                f
            };
            first = false;
            let name = SPAN_FIELDS[f];
            if seen & (1 << f) != 0 {
                return refuse(field(name), "repeated field");
            }
            seen |= 1 << f;
            next = f + 1;
            // Refuses this field with a message.
            macro_rules! refuse {
                ($msg:expr $(,)?) => {
                    return refuse(field(name), $msg)
                };
            }
            match f {
                SPAN_ID if self.r.peek() == Some(b'"') => {
                    let v = match self.r.eat_plain_string(36) {
                        Some(v) => Cow::Borrowed(v),
                        None => self.r.string()?.text(),
                    };
                    let Some(id) = lower_uuid_u128(&v) else {
                        refuse!("expected a lowercase hyphenated UUID shape (e.g. 00000000-0000-0000-xxxx-xxxxxxxxxxxx)");
                    };
                    out.id = id;
                    out.span_id = v;
                }
                SPAN_ID | NAME | TIMESTAMP => {
                    let Some(v) = self.string()? else {
                        refuse!("expected a string");
                    };
                    let v = v.text();
                    if f == NAME {
                        out.name = v;
                    } else if f == TIMESTAMP {
                        match parse_timestamp(&v) {
                            Ok(nanos) => out.nanos = nanos,
                            Err(e) => refuse!(e),
                        }
                        out.timestamp = v;
                    } else {
                        let Some(id) = lower_uuid_u128(&v) else {
                            refuse!("expected a lowercase hyphenated UUID shape (e.g. 00000000-0000-0000-xxxx-xxxxxxxxxxxx)");
                        };
                        out.id = id;
                        out.span_id = v;
                    }
                }
                PARENT_SPAN_ID => {
                    if !self.null()? {
                        match self.string()?.map(RawStr::text) {
                            Some(p) if is_lower_uuid(&p) => out.parent_span_id = Some(p),
                            _ => refuse!("expected null or a lowercase hyphenated UUID shape"),
                        }
                    }
                }
                KIND | STATUS => {
                    let allowed = if f == KIND { KINDS } else { STATUSES };
                    let Some(v) = self.string()? else {
                        refuse!("expected a string");
                    };
                    match allowed.iter().find(|a| v.is(a)) {
                        Some(a) if f == KIND => out.kind = a,
                        Some(a) => out.status = a,
                        None => refuse!(format!("expected one of {}", allowed.join(", "))),
                    }
                }
                DURATION_MS => {
                    let Some(n) = self.number()?.map(Num::as_f64) else {
                        refuse!("expected a number");
                    };
                    if let Err(e) = check_duration(n) {
                        refuse!(e);
                    }
                    out.duration_ms = n;
                }
                // Python SDK note: the contract says null on non-LLM spans, but
                // provisional root copies carry `false` whatever their kind (provider.py
                // `_emit`). Any bool or null is accepted, whatever the kind.
                USAGE_AVAILABLE => match self.r.peek() {
                    Some(b't') => self.r.literal(b"true")?,
                    Some(b'f') => self.r.literal(b"false")?,
                    Some(b'n') => self.r.literal(b"null")?,
                    _ => refuse!("expected a bool or null"),
                },
                INPUT_TOKENS..=TOTAL_TOKENS => {
                    if !matches!(self.number()?, Some(Num::UInt(_))) {
                        refuse!("expected a non-negative integer");
                    }
                }
                INPUT | OUTPUT => {
                    let Some(v) = self.string()? else {
                        refuse!("expected a string");
                    };
                    let doc = self.document(v);
                    if !doc.is_empty() && !is_json(doc) {
                        refuse!("expected \"\" or a string holding a JSON document");
                    }
                }
                ATTRIBUTES => {
                    let Some(v) = self.string()? else {
                        refuse!("expected a string");
                    };
                    match provisional(self.document(v)) {
                        Some(flag) => provisional_flag = flag,
                        None => {
                            refuse!("expected a string holding a JSON object (\"{}\" when empty)")
                        }
                    }
                }
                ERROR_MESSAGE => {
                    if !self.null()? {
                        let Some(e) = self.string()? else {
                            refuse!("expected a string or null");
                        };
                        out.error_message = Some(e.text());
                    }
                }
                // Python SDK note: `_spans_to_traces` copies `capture` only when the span
                // dict has one, but both of its span builders always set it: required.
                CAPTURE => self.capture(&|sub| field(&join("capture", sub)))?,
                // Python SDK note: agent_id is always a UUID v5 from `staso.init`; its
                // CLI-hook sender defaults it to "", which is accepted too.
                AGENT_ID => {
                    let Some(id) = self.string()?.map(RawStr::text) else {
                        refuse!("expected a string");
                    };
                    if !(id.is_empty() || (is_lower_uuid(&id) && id.as_bytes()[14] == b'5')) {
                        refuse!("expected a lowercase UUID v5 (or \"\")");
                    }
                }
                // model, provider, requested_model, reasoning_effort, session_id,
                // agent_name, agent_version, user_id: any string.
                _ => {
                    if self.string()?.is_none() {
                        refuse!("expected a string");
                    }
                }
            }
        }
        if seen != ALL_SPAN_FIELDS {
            let f = (0..SPAN_FIELDS.len())
                .find(|f| seen & (1 << f) == 0)
                .unwrap_or_default();
            return refuse(field(SPAN_FIELDS[f]), "missing field");
        }
        if out.parent_span_id.as_deref() == Some(&*out.span_id) {
            return refuse(field("parent_span_id"), "a span cannot be its own parent");
        }
        out.provisional = out.parent_span_id.is_none() && provisional_flag;
        if self.keep_raw {
            out.raw = Cow::Borrowed(self.r.slice(start, self.r.pos()));
        }
        Ok(out)
    }

    /// The `capture` map: exactly the five categories, each `"captured"` or
    /// `"suppressed"`. `field` names a category's path (`""`: the map's).
    fn capture(&mut self, field: &dyn Fn(&str) -> String) -> Result<(), Stop> {
        if !self.r.eat(b'{') {
            return refuse(field(""), "expected an object");
        }
        const QUOTED: [&[u8]; 5] = [
            b"\"request\"",
            b"\"system_prompt\"",
            b"\"tool_schema\"",
            b"\"tool_arguments\"",
            b"\"output\"",
        ];
        let mut seen = 0u8;
        let mut next = 0;
        let mut first = true;
        loop {
            let i = if QUOTED.get(next).is_some_and(|q| self.r.eat_key(first, q)) {
                next
            } else {
                let key = self.r.key_at(first)?;
                let Some(k) = key else { break };
                let Some(i) = CAPTURE_CATEGORIES.iter().position(|c| k.is(c)) else {
                    return refuse(field(&key_name(&k.text())), "unknown field");
                };
                i
            };
            first = false;
            next = i + 1;
            let name = CAPTURE_CATEGORIES[i];
            if seen & (1 << i) != 0 {
                return refuse(field(name), "repeated field");
            }
            seen |= 1 << i;
            let ok = match self.r.eat_plain_string(8) {
                Some(v) => v == "captured",
                None => self
                    .string()?
                    .is_some_and(|v| v.is("captured") || v.is("suppressed")),
            };
            if !ok {
                return refuse(field(name), "expected \"captured\" or \"suppressed\"");
            }
        }
        match (0..CAPTURE_CATEGORIES.len()).find(|i| seen & (1 << i) == 0) {
            Some(i) => refuse(field(CAPTURE_CATEGORIES[i]), "missing field"),
            None => Ok(()),
        }
    }
}

/// Whether `s` holds one JSON document (Python's `NaN`/`Infinity` tokens allowed).
fn is_json(s: &str) -> bool {
    let mut r = Reader::new(s);
    (r.skip().is_ok() && r.at_end()) || parse_embedded_json(s).is_some()
}

/// `Some(flag)` when `s` holds a JSON object (Python's `NaN`/`Infinity` tokens allowed);
/// the flag is its `staso.provisional_root` being `true` (the last one, if repeated).
fn provisional(s: &str) -> Option<bool> {
    if let Ok(flag) = provisional_flag(s) {
        return Some(flag);
    }
    match parse_embedded_json(s)? {
        Value::Object(m) => Some(m.get("staso.provisional_root") == Some(&Value::Bool(true))),
        _ => None,
    }
}

fn provisional_flag(s: &str) -> Result<bool, Syntax> {
    let mut r = Reader::new(s);
    if !r.eat(b'{') {
        return Err(Syntax);
    }
    let mut flag = false;
    let mut key = r.first_key()?;
    while let Some(k) = key {
        if k.is("staso.provisional_root") {
            flag = r.peek() == Some(b't');
        }
        r.skip()?;
        key = r.next_key()?;
    }
    if r.at_end() {
        Ok(flag)
    } else {
        Err(Syntax)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: &str = "6f1c2f0e-0000-4000-8000-000000000001";
    const A: &str = "00000000-0000-0000-0000-00000000000a";
    const B: &str = "00000000-0000-0000-0000-00000000000b";

    fn span(id: &str, parent: Option<&str>, kind: &str, second: u32) -> Value {
        json!({
            "span_id": id, "parent_span_id": parent, "name": "step", "kind": kind,
            "timestamp": format!("2026-11-26T06:10:{second:02}.123456+00:00"),
            "duration_ms": 12.5, "status": "ok", "model": "m", "provider": "p",
            "requested_model": "m", "usage_available": null, "reasoning_effort": "",
            "input_tokens": 1, "output_tokens": 2, "total_tokens": 3,
            "input": "{\"q\": [1, \"two\", {\"x\": null}]}", "output": "",
            "attributes": "{\"code.function\": \"f\"}", "error_message": null,
            "capture": {"request": "captured", "system_prompt": "suppressed",
                "tool_schema": "captured", "tool_arguments": "captured", "output": "captured"},
            "session_id": "", "agent_name": "a",
            "agent_id": "b7fa038a-6d14-5fc4-8ebc-66e1998cdff6",
            "agent_version": "", "user_id": ""
        })
    }

    fn body() -> Value {
        let mut root = span(A, None, "agent", 1);
        root["attributes"] = json!("{\"staso.provisional_root\": true, \"n\": 1}");
        json!({"traces": [{
            "trace_id": T, "timestamp": "2026-11-26T06:10:01.123456+00:00",
            "environment": "default", "workspace_slug": "default",
            "spans": [root, span(B, Some(A), "llm", 2)]
        }]})
    }

    fn check(v: &Value) -> Result<(), ValidationError> {
        let bytes = serde_json::to_vec(v).expect("json");
        let lean = parse(&bytes, false).map(drop);
        let kept = parse(&bytes, true).map(drop);
        assert_eq!(lean, kept, "keeping the raw text changes nothing: {v}");
        lean
    }

    #[test]
    fn a_valid_body_is_read_borrowed() {
        let bytes = serde_json::to_vec(&body()).expect("json");
        let traces = parse(&bytes, true).expect("valid");
        let t = &traces[0];
        assert_eq!((t.trace_id.as_ref(), t.spans.len()), (T, 2));
        let (root, child) = (&t.spans[0], &t.spans[1]);
        assert!(root.provisional && !child.provisional);
        assert_eq!(child.parent_span_id.as_deref(), Some(A));
        assert_eq!(
            (child.kind, child.status, child.duration_ms),
            ("llm", "ok", 12.5)
        );
        assert_eq!(root.nanos, t.nanos);
        assert!(matches!(root.span_id, Cow::Borrowed(_)));
        let raw: Value = serde_json::from_str(&child.raw).expect("raw is the span's JSON");
        assert_eq!(raw, body()["traces"][0]["spans"][1]);
        let lean = parse(&bytes, false).expect("valid");
        assert_eq!(lean[0].spans[0].raw, "");
    }

    #[test]
    fn every_field_is_required_typed_and_known() {
        let span_keys: Vec<String> = body()["traces"][0]["spans"][1]
            .as_object()
            .expect("span")
            .keys()
            .cloned()
            .collect();
        for k in &span_keys {
            let mut b = body();
            b["traces"][0]["spans"][1]
                .as_object_mut()
                .expect("span")
                .remove(k);
            let e = check(&b).expect_err("missing");
            assert_eq!(
                (e.field, e.error.as_str()),
                (format!("traces[0].spans[1].{k}"), "missing field")
            );
            // Whatever the field, an array is the wrong type.
            let mut b = body();
            b["traces"][0]["spans"][1][k] = json!([]);
            let e = check(&b).expect_err("wrong type");
            assert!(
                e.field.starts_with(&format!("traces[0].spans[1].{k}")),
                "{e}"
            );
        }
        let mut b = body();
        b["traces"][0]["spans"][0]["extra"] = json!(1);
        assert_eq!(
            check(&b).expect_err("unknown").field,
            "traces[0].spans[0].extra"
        );
        let mut b = body();
        b["traces"][0]["spans"][0] = json!([1]);
        assert_eq!(check(&b).expect_err("array").field, "traces[0].spans[0]");
        assert_eq!(check(&body()), Ok(()));
    }

    #[test]
    fn objects_must_be_objects_and_keys_come_once() {
        let text = serde_json::to_string(&body()).expect("json");
        // A struct read by serde would also take the array form of an object.
        let s = &body()["traces"][0]["spans"][1];
        let as_array: Vec<Value> = s.as_object().expect("span").values().cloned().collect();
        let arr = text.replacen(
            &serde_json::to_string(s).expect("json"),
            &serde_json::to_string(&as_array).expect("json"),
            1,
        );
        let e = parse(arr.as_bytes(), false).expect_err("array");
        assert_eq!(
            (e.field.as_str(), e.error.as_str()),
            ("traces[0].spans[1]", "expected an object")
        );
        let dup = text.replacen("\"name\":\"step\"", "\"name\":\"x\",\"name\":\"step\"", 1);
        let e = parse(dup.as_bytes(), true).expect_err("repeated");
        assert_eq!(
            (e.field.as_str(), e.error.as_str()),
            ("traces[0].spans[0].name", "repeated field")
        );
    }

    #[test]
    fn a_syntax_error_wins_over_an_earlier_refusal() {
        let text = serde_json::to_string(&body()).expect("json");
        let bad_kind = text.replacen("\"agent\"", "\"banana\"", 1);
        let e = parse(bad_kind.as_bytes(), false).expect_err("kind");
        assert_eq!(e.field, "traces[0].spans[0].kind");
        let cut = &bad_kind[..bad_kind.len() - 3];
        let e = parse(cut.as_bytes(), false).expect_err("not JSON");
        assert_eq!(e.field, "body");
        let e = parse(&[0xff, b'{'], false).expect_err("not UTF-8");
        assert_eq!(e.field, "body");
    }

    #[test]
    fn python_nan_tokens_in_embedded_json_are_accepted() {
        let mut b = body();
        b["traces"][0]["spans"][0]["attributes"] =
            json!("{\"x\": NaN, \"staso.provisional_root\": true}");
        b["traces"][0]["spans"][1]["output"] = json!("{\"r\": -Infinity}");
        let bytes = serde_json::to_vec(&b).expect("json");
        let traces = parse(&bytes, false).expect("valid");
        assert!(traces[0].spans[0].provisional);
        let mut b = body();
        b["traces"][0]["spans"][1]["output"] = json!("{\"r\": nope}");
        assert_eq!(
            check(&b).expect_err("bad").field,
            "traces[0].spans[1].output"
        );
    }

    /// Byte-level mutations of a valid body (a deterministic stand-in for the fuzz
    /// target): what is accepted is JSON, and what is not JSON is refused as `body`.
    #[test]
    fn mutated_bodies_agree_with_serde_json_on_syntax() {
        let text = serde_json::to_vec(&body()).expect("json");
        let specials = b"{}[]\",:\\ 0-.eEtfnu\x01";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut accepted = 0;
        for round in 0..4000 {
            let mut b = text.clone();
            for _ in 0..=round % 3 {
                let at = (next() as usize) % b.len();
                let c = specials[(next() as usize) % specials.len()];
                match next() % 3 {
                    0 => b[at] = c,
                    1 => b.insert(at, c),
                    _ => drop(b.remove(at)),
                }
            }
            let serde_ok = serde_json::from_slice::<Value>(&b).is_ok();
            for keep_raw in [false, true] {
                match parse(&b, keep_raw) {
                    Ok(_) => {
                        assert!(
                            serde_ok,
                            "accepted what is not JSON: {}",
                            String::from_utf8_lossy(&b)
                        );
                        accepted += 1;
                    }
                    Err(e) if !serde_ok => assert_eq!(e.field, "body", "{e}"),
                    Err(e) => assert!(!e.field.is_empty() && !e.error.is_empty(), "{e}"),
                }
            }
        }
        assert!(accepted > 0, "some mutations keep the body valid");
    }
}

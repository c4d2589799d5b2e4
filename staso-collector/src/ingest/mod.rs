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
//! syntax error from a refused field, a syntax error winning).
//!
//! Where the contract and the official Python SDK (`staso==0.5.25`, the reference
//! client) disagree, what the client actually sends is accepted ("Python SDK note"s).

mod embedded;
mod span;
#[cfg(test)]
mod tests;

use crate::contract::{key_name, ValidationError};
use crate::formats::{lower_uuid_u128, parse_timestamp, IdHash, LastSecond};
use crate::json::{unescape_into, Num, RawStr, Reader, Syntax};
use embedded::Doc;
use serde::de::IgnoredAny;
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
    // One UTF-8 check of the whole body, so that strings are not checked one by one;
    // std's check again only to name where a body that fails it goes wrong.
    let text = match simdutf8::basic::from_utf8(body) {
        Ok(text) => text,
        Err(_) => std::str::from_utf8(body).map_err(ValidationError::not_json)?,
    };
    let mut p = Parser {
        r: Reader::new(text),
        keep_raw,
        scratch: String::new(),
        span_ids: IdSet::default(),
        last_spans: 0,
        last_attributes: None,
        last_tail: None,
        last_parent: None,
        last_second: LastSecond::default(),
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

struct Parser<'a> {
    r: Reader<'a>,
    keep_raw: bool,
    /// Where escaped embedded documents are unescaped, reused from span to span.
    scratch: String,
    /// The span ids seen in the current trace, reused from trace to trace.
    span_ids: IdSet,
    /// How many spans the last trace had.
    last_spans: usize,
    /// The last `attributes` string token the fast path took (quotes included), and
    /// what it holds.
    last_attributes: Option<(&'a [u8], Doc)>,
    /// The last span tail read (see `span::TAIL`), from the comma before
    /// `error_message` to the end of the last value.
    last_tail: Option<&'a [u8]>,
    /// The last `parent_span_id` token read by its fast path (quotes included).
    last_parent: Option<&'a [u8]>,
    /// The second of the last span timestamp read.
    last_second: LastSecond,
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
        // Traces of one body are usually alike: room for as many spans as the last one
        // had, so that the vector is not grown (and copied) span by span.
        let mut out = Vec::with_capacity(self.last_spans.clamp(16, 4096));
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
        self.last_spans = out.len();
        Ok(out)
    }
}

//! The ingest body validator: one typed pass over the request text that checks every
//! rule of the contract (`shared/ingest-contract.md`), keeps what storage needs borrowed
//! from the body, and names the offending field of the first problem it meets, e.g.
//! `traces[0].spans[2].kind`.
//!
//! No JSON tree is built: objects are read as maps, every field is required, typed and
//! read once (a repeated key is refused), unknown fields are refused, and the JSON
//! documents embedded in `input`, `output` and `attributes` are checked without being
//! kept. Where the contract and the official Python SDK (`staso==0.5.25`, the reference
//! client) disagree, what the client actually sends is accepted ("Python SDK note"s).

use crate::contract::{join, next_key, read, Capture, Json, ValidationError, KINDS, STATUSES};
use crate::formats::{
    check_duration, is_lower_uuid, lower_uuid_u128, parse_embedded_json, parse_timestamp,
};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

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
const ALL_SPAN_FIELDS: u32 = (1 << SPAN_FIELDS.len()) - 1;

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
/// text is kept in [`SpanIn::raw`] (it costs a second pass over the spans).
pub(crate) fn parse(body: &[u8], keep_raw: bool) -> Result<Vec<TraceIn<'_>>, ValidationError> {
    // One UTF-8 check of the whole body, so that strings are not checked one by one.
    let text = std::str::from_utf8(body).map_err(ValidationError::not_json)?;
    let ctx = Ctx {
        refusal: RefCell::new(None),
        keep_raw,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Body(&ctx)
        .deserialize(&mut de)
        .and_then(|t| de.end().map(|()| t));
    parsed.map_err(|e| {
        // A body that is not JSON is refused as such, even when a field before the
        // syntax error was refused first.
        match (ctx.refusal.take(), serde_json::from_str::<IgnoredAny>(text)) {
            (Some(refusal), Ok(_)) => refusal,
            (_, Err(syntax)) => ValidationError::not_json(syntax),
            (None, Ok(_)) => ValidationError::not_json(e),
        }
    })
}

/// The parse's state: the refusal that stopped it, if any (the visitors then abort the
/// parse with a placeholder serde error).
struct Ctx {
    refusal: RefCell<Option<ValidationError>>,
    keep_raw: bool,
}

impl Ctx {
    fn refuse<T, E: de::Error>(&self, field: String, error: impl Into<String>) -> Result<T, E> {
        *self.refusal.borrow_mut() = Some(ValidationError::new(field, error));
        Err(E::custom("refused"))
    }
}

/// Ids are random bits: mixing their two halves is hash enough, and much cheaper than
/// SipHash on the per-span path.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = ((n as u64) ^ ((n >> 64) as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IdSet = HashSet<u128, BuildHasherDefault<IdHasher>>;

/// Visitor methods refusing every JSON type but the ones a visitor implements itself.
macro_rules! refuse_scalars {
    ($msg:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.wrong($msg)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            self.wrong($msg)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            self.wrong($msg)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            self.wrong($msg)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            self.wrong($msg)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            self.wrong($msg)
        }
    };
}

/// The body: `{"traces": [...]}`.
struct Body<'c>(&'c Ctx);

impl Body<'_> {
    fn wrong<T, E: de::Error>(&self, msg: &str) -> Result<T, E> {
        self.0.refuse("body".into(), msg)
    }
}

impl<'de> DeserializeSeed<'de> for Body<'_> {
    type Value = Vec<TraceIn<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Body<'_> {
    type Value = Vec<TraceIn<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ingest body")
    }
    refuse_scalars!("expected a JSON object");
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.wrong("expected a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let ctx = self.0;
        let mut traces = None;
        while let Some(key) = next_key(&mut a)? {
            if key != "traces" {
                return ctx.refuse(key.into_owned(), "unknown field");
            }
            if traces.is_some() {
                return ctx.refuse("traces".into(), "repeated field");
            }
            traces = Some(a.next_value_seed(Traces(ctx))?);
        }
        match traces {
            None => ctx.refuse("traces".into(), "missing field"),
            Some(t) if t.is_empty() => ctx.refuse("traces".into(), "expected at least one trace"),
            Some(t) => Ok(t),
        }
    }
}

/// `traces`: an array of trace entries, each trace id once.
struct Traces<'c>(&'c Ctx);

impl Traces<'_> {
    fn wrong<T, E: de::Error>(&self, msg: &str) -> Result<T, E> {
        self.0.refuse("traces".into(), msg)
    }
}

impl<'de> DeserializeSeed<'de> for Traces<'_> {
    type Value = Vec<TraceIn<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Traces<'_> {
    type Value = Vec<TraceIn<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of traces")
    }
    refuse_scalars!("expected an array");
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.wrong("expected an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let ctx = self.0;
        let mut out = Vec::with_capacity(a.size_hint().unwrap_or(8));
        let mut trace_ids = IdSet::default();
        let mut span_ids = IdSet::default();
        let mut index = 0;
        while let Some(t) = a.next_element_seed(Trace {
            ctx,
            index,
            span_ids: &mut span_ids,
        })? {
            if !trace_ids.insert(t.id) {
                return ctx.refuse(
                    format!("traces[{index}].trace_id"),
                    "trace id repeated within one batch (spans must be grouped by trace)",
                );
            }
            out.push(t);
            index += 1;
        }
        Ok(out)
    }
}

/// One trace entry.
struct Trace<'c, 'i> {
    ctx: &'c Ctx,
    index: usize,
    /// Reused from trace to trace: the span ids seen in this one.
    span_ids: &'i mut IdSet,
}

impl Trace<'_, '_> {
    fn field(&self, name: &str) -> String {
        format!("traces[{}].{name}", self.index)
    }
    fn wrong<T, E: de::Error>(&self, msg: &str) -> Result<T, E> {
        self.ctx.refuse(format!("traces[{}]", self.index), msg)
    }
}

impl<'de> DeserializeSeed<'de> for Trace<'_, '_> {
    type Value = TraceIn<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Trace<'_, '_> {
    type Value = TraceIn<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a trace entry")
    }
    refuse_scalars!("expected an object");
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.wrong("expected an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let ctx = self.ctx;
        let mut trace_id = None;
        let mut timestamp = None;
        let mut environment = None;
        let mut workspace_slug = None;
        let mut spans = None;
        while let Some(key) = next_key(&mut a)? {
            let repeated = match &*key {
                "trace_id" => trace_id.is_some(),
                "timestamp" => timestamp.is_some(),
                "environment" => environment.is_some(),
                "workspace_slug" => workspace_slug.is_some(),
                "spans" => spans.is_some(),
                other => return ctx.refuse(self.field(other), "unknown field"),
            };
            if repeated {
                return ctx.refuse(self.field(&key), "repeated field");
            }
            if key == "spans" {
                spans = Some(a.next_value_seed(Spans {
                    ctx,
                    trace: self.index,
                    ids: &mut *self.span_ids,
                })?);
                continue;
            }
            let Json::Str(value) = a.next_value_seed(read(|s| s.keep()))? else {
                return ctx.refuse(self.field(&key), "expected a string");
            };
            match &*key {
                "trace_id" => match lower_uuid_u128(&value) {
                    Some(id) => trace_id = Some((value, id)),
                    None => {
                        return ctx.refuse(
                            self.field("trace_id"),
                            "expected a lowercase hyphenated UUID (8-4-4-4-12)",
                        )
                    }
                },
                "timestamp" => match parse_timestamp(&value) {
                    Ok(nanos) => timestamp = Some((value, nanos)),
                    Err(e) => return ctx.refuse(self.field("timestamp"), e),
                },
                "environment" if value.is_empty() => {
                    return ctx.refuse(self.field("environment"), "expected a non-empty string")
                }
                "environment" => environment = Some(value),
                // Python SDK note: `BatchTransport` defaults workspace_slug to "" (contract:
                // "default"); `staso.init` always passes "default" or the configured slug,
                // but any string is accepted so the Python transport used alone is not
                // refused.
                _ => workspace_slug = Some(value),
            }
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
            return ctx.refuse(self.field(name), "missing field");
        };
        if spans.iter().map(|s| s.nanos).min() != Some(nanos) {
            return ctx.refuse(
                self.field("timestamp"),
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
}

/// A trace's `spans`: a non-empty array, each span id once.
struct Spans<'c, 'i> {
    ctx: &'c Ctx,
    trace: usize,
    ids: &'i mut IdSet,
}

impl Spans<'_, '_> {
    fn wrong<T, E: de::Error>(&self, msg: &str) -> Result<T, E> {
        self.ctx
            .refuse(format!("traces[{}].spans", self.trace), msg)
    }
}

impl<'de> DeserializeSeed<'de> for Spans<'_, '_> {
    type Value = Vec<SpanIn<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Spans<'_, '_> {
    type Value = Vec<SpanIn<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of spans")
    }
    refuse_scalars!("expected an array");
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.wrong("expected an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let (ctx, trace) = (self.ctx, self.trace);
        self.ids.clear();
        let mut out = Vec::with_capacity(a.size_hint().unwrap_or(16));
        let mut index = 0;
        while let Some(s) = a.next_element_seed(Span { ctx, trace, index })? {
            if !self.ids.insert(s.id) {
                return ctx.refuse(
                    format!("traces[{trace}].spans[{index}].span_id"),
                    "span id repeated within one trace of one batch (copies must be coalesced)",
                );
            }
            out.push(s);
            index += 1;
        }
        if out.is_empty() {
            return self.wrong("expected at least one span");
        }
        Ok(out)
    }
}

/// One span, at `traces[trace].spans[index]`.
#[derive(Clone, Copy)]
struct Span<'c> {
    ctx: &'c Ctx,
    trace: usize,
    index: usize,
}

impl Span<'_> {
    fn field(&self, name: &str) -> String {
        format!("traces[{}].spans[{}].{name}", self.trace, self.index)
    }
}

impl<'de> DeserializeSeed<'de> for Span<'_> {
    type Value = SpanIn<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        if !self.ctx.keep_raw {
            return d.deserialize_any(SpanFields {
                span: self,
                raw: "",
            });
        }
        // The span's text first (a scan that finds where it ends), then its fields.
        let raw = <&'de RawValue>::deserialize(d)?.get();
        let mut fields = serde_json::Deserializer::from_str(raw);
        fields
            .deserialize_any(SpanFields { span: self, raw })
            .map_err(|_| de::Error::custom("refused"))
    }
}

/// The fields of one span; `raw` is its text when kept.
struct SpanFields<'c, 'de> {
    span: Span<'c>,
    raw: &'de str,
}

impl SpanFields<'_, '_> {
    fn wrong<T, E: de::Error>(&self, msg: &str) -> Result<T, E> {
        let s = &self.span;
        s.ctx
            .refuse(format!("traces[{}].spans[{}]", s.trace, s.index), msg)
    }
}

/// The index in [`SPAN_FIELDS`] of a key; `guess` first (fields usually come in order).
fn span_field(key: &str, guess: usize) -> Option<usize> {
    if SPAN_FIELDS.get(guess) == Some(&key) {
        return Some(guess);
    }
    SPAN_FIELDS.iter().position(|f| *f == key)
}

impl<'de> Visitor<'de> for SpanFields<'_, 'de> {
    type Value = SpanIn<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a span")
    }
    refuse_scalars!("expected an object");
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.wrong("expected an object")
    }
    #[allow(clippy::too_many_lines)]
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let span = self.span;
        let ctx = span.ctx;
        let mut seen = 0u32;
        let mut next = 0;
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
            raw: Cow::Borrowed(self.raw),
        };
        let mut provisional_flag = false;
        while let Some(key) = next_key(&mut a)? {
            let Some(f) = span_field(&key, next) else {
                if key == "trace_id" {
                    return ctx.refuse(
                        span.field("trace_id"),
                        "spans must not repeat trace_id (it is given by the enclosing trace)",
                    );
                }
                return ctx.refuse(span.field(&key), "unknown field");
            };
            if seen & (1 << f) != 0 {
                return ctx.refuse(span.field(&key), "repeated field");
            }
            seen |= 1 << f;
            next = f + 1;
            let name = SPAN_FIELDS[f];
            // Refuses this field with a message.
            macro_rules! refuse {
                ($msg:expr $(,)?) => {
                    return ctx.refuse(span.field(name), $msg)
                };
            }
            match name {
                "span_id" | "name" | "timestamp" => {
                    let Json::Str(v) = a.next_value_seed(read(|s| s.keep()))? else {
                        refuse!("expected a string");
                    };
                    if name == "name" {
                        out.name = v;
                    } else if name == "timestamp" {
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
                "parent_span_id" => match a.next_value_seed(read(|s| s.keep()))? {
                    Json::Null => {}
                    Json::Str(p) if is_lower_uuid(&p) => out.parent_span_id = Some(p),
                    _ => refuse!("expected null or a lowercase hyphenated UUID shape"),
                },
                "kind" | "status" => {
                    let allowed = if name == "kind" { KINDS } else { STATUSES };
                    match a.next_value_seed(read(|s| allowed.iter().find(|k| **k == s.get())))? {
                        Json::Str(Some(v)) if name == "kind" => out.kind = v,
                        Json::Str(Some(v)) => out.status = v,
                        Json::Str(None) => {
                            refuse!(&format!("expected one of {}", allowed.join(", ")))
                        }
                        _ => refuse!("expected a string"),
                    }
                }
                "duration_ms" => {
                    let Some(n) = a.next_value_seed(read(|_| ()))?.number() else {
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
                "usage_available" => {
                    if !matches!(a.next_value_seed(read(|_| ()))?, Json::Null | Json::Bool(_)) {
                        refuse!("expected a bool or null");
                    }
                }
                "input_tokens" | "output_tokens" | "total_tokens" => {
                    if !matches!(a.next_value_seed(read(|_| ()))?, Json::UInt(_)) {
                        refuse!("expected a non-negative integer");
                    }
                }
                "input" | "output" => {
                    match a.next_value_seed(read(|s| s.get().is_empty() || is_json(s.get())))? {
                        Json::Str(true) => {}
                        Json::Str(false) => {
                            refuse!("expected \"\" or a string holding a JSON document")
                        }
                        _ => refuse!("expected a string"),
                    }
                }
                "attributes" => match a.next_value_seed(read(|s| provisional(s.get())))? {
                    Json::Str(Some(flag)) => provisional_flag = flag,
                    Json::Str(None) => {
                        refuse!("expected a string holding a JSON object (\"{}\" when empty)",)
                    }
                    _ => refuse!("expected a string"),
                },
                "error_message" => match a.next_value_seed(read(|s| s.keep()))? {
                    Json::Null => {}
                    Json::Str(e) => out.error_message = Some(e),
                    _ => refuse!("expected a string or null"),
                },
                // Python SDK note: `_spans_to_traces` copies `capture` only when the span
                // dict has one, but both of its span builders always set it: required.
                "capture" => {
                    if let Err(n) = a.next_value_seed(Capture)? {
                        return ctx.refuse(span.field(&join("capture", &n.field)), n.error);
                    }
                }
                // Python SDK note: agent_id is always a UUID v5 from `staso.init`; its
                // CLI-hook sender defaults it to "", which is accepted too.
                "agent_id" => match a.next_value_seed(read(|s| {
                    let id = s.get();
                    id.is_empty() || (is_lower_uuid(id) && id.as_bytes()[14] == b'5')
                }))? {
                    Json::Str(true) => {}
                    Json::Str(false) => refuse!("expected a lowercase UUID v5 (or \"\")"),
                    _ => refuse!("expected a string"),
                },
                // model, provider, requested_model, reasoning_effort, session_id,
                // agent_name, agent_version, user_id: any string.
                _ => {
                    if !matches!(a.next_value_seed(read(|_| ()))?, Json::Str(())) {
                        refuse!("expected a string");
                    }
                }
            }
        }
        if seen != ALL_SPAN_FIELDS {
            let f = (0..SPAN_FIELDS.len())
                .find(|f| seen & (1 << f) == 0)
                .unwrap_or_default();
            return ctx.refuse(span.field(SPAN_FIELDS[f]), "missing field");
        }
        if out.parent_span_id.as_deref() == Some(&*out.span_id) {
            return ctx.refuse(
                span.field("parent_span_id"),
                "a span cannot be its own parent",
            );
        }
        out.provisional = out.parent_span_id.is_none() && provisional_flag;
        Ok(out)
    }
}

/// Whether `s` holds one JSON document (Python's `NaN`/`Infinity` tokens allowed).
fn is_json(s: &str) -> bool {
    serde_json::from_str::<IgnoredAny>(s).is_ok() || parse_embedded_json(s).is_some()
}

/// `Some(flag)` when `s` holds a JSON object (Python's `NaN`/`Infinity` tokens allowed);
/// the flag is its `staso.provisional_root` being `true` (the last one, if repeated).
fn provisional(s: &str) -> Option<bool> {
    if let Ok(Attributes(flag)) = serde_json::from_str::<Attributes>(s) {
        return Some(flag);
    }
    match parse_embedded_json(s)? {
        Value::Object(m) => Some(m.get("staso.provisional_root") == Some(&Value::Bool(true))),
        _ => None,
    }
}

/// A JSON object, kept as nothing but its `staso.provisional_root` being `true`.
struct Attributes(bool);

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(AttributesVisitor)
    }
}

struct AttributesVisitor;

impl<'de> Visitor<'de> for AttributesVisitor {
    type Value = Attributes;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Attributes, A::Error> {
        let mut flag = false;
        while let Some(key) = next_key(&mut a)? {
            if key == "staso.provisional_root" {
                flag = matches!(a.next_value_seed(read(|_| ()))?, Json::Bool(true));
            } else {
                a.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Attributes(flag))
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
}

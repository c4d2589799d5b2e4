//! Spans as OTLP: an `ExportTraceServiceRequest` of OpenTelemetry's own generated messages
//! (`opentelemetry-proto`), encoded as protobuf (prost) or as OTLP JSON (its serde
//! mapping: hex ids, camelCase names, 64-bit integers as strings). Attribute names follow
//! the GenAI semantic conventions for what a span holds; the capture policy and redaction
//! are those of the Staso wire (the span is read through `fields`, which applies them).
//! The mapping is written down as a table in `docs/otlp.md`.

use super::fields::{self, Sent, Value};
use crate::config::Config;
use crate::local::record::SpanRecord;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde::Deserialize;
use serde_json::value::RawValue;
use staso_types::{Kind, OtlpProtocol};

/// The instrumentation scope of every span.
pub(crate) const SCOPE: &str = "staso";

/// W3C trace flags of every span sent: sampled (an unsampled trace is never recorded).
const SAMPLED: u32 = 0x01;

/// Serializes `records` into `buf` (cleared first) in `protocol`'s encoding.
pub(crate) fn encode(
    records: &[&SpanRecord],
    cfg: &Config,
    protocol: OtlpProtocol,
    buf: &mut Vec<u8>,
) {
    let request = request(records, cfg);
    buf.clear();
    match protocol {
        OtlpProtocol::HttpJson => {
            if serde_json::to_writer(&mut *buf, &request).is_err() {
                buf.clear();
            }
        }
        _ => {
            if prost::Message::encode(&request, buf).is_err() {
                buf.clear();
            }
        }
    }
}

/// One resource (the agent process), one scope (`staso`), the spans in order.
pub(crate) fn request(records: &[&SpanRecord], cfg: &Config) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(cfg)),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: SCOPE.into(),
                    version: staso_types::VERSION.into(),
                    ..Default::default()
                }),
                spans: records.iter().map(|r| span(r, cfg)).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// The process: the agent as the service, its version and environment, the SDK.
fn resource(cfg: &Config) -> Resource {
    let mut attributes = vec![kv("service.name", text(&cfg.agent_name))];
    if !cfg.agent_version.is_empty() {
        attributes.push(kv("service.version", text(&cfg.agent_version)));
    }
    // The current name and the one most backends still read.
    attributes.push(kv("deployment.environment.name", text(&cfg.environment)));
    attributes.push(kv("deployment.environment", text(&cfg.environment)));
    attributes.push(kv("staso.workspace_slug", text(&cfg.workspace_slug)));
    attributes.push(kv("telemetry.sdk.name", text("staso")));
    attributes.push(kv("telemetry.sdk.language", text("rust")));
    attributes.push(kv("telemetry.sdk.version", text(staso_types::VERSION)));
    Resource {
        attributes,
        ..Default::default()
    }
}

/// One span: ids as bytes, wall-clock times in Unix nanoseconds, the attributes, and the
/// status with an `exception` event when it failed.
fn span(r: &SpanRecord, cfg: &Config) -> Span {
    let input = fields::input(r, cfg);
    let output = fields::output(r, cfg);
    let (error_message, sdk_error_cut) = fields::error_message(r, cfg);
    let sent = Sent {
        input: input.is_some(),
        output: output.is_some(),
        error_message: error_message.is_some(),
        sdk_error_cut,
    };
    let mut attrs = Attributes::default();
    identity(&mut attrs, r, cfg);
    model_call(&mut attrs, r);
    content(&mut attrs, r.kind, input, output);
    for (key, value) in fields::attributes(r, cfg, sent) {
        let (key, value) = rename(r.kind, &key, value);
        attrs.put(key, value);
    }
    let failed = r.status != staso_types::Status::Ok;
    let exception_type = fields::exception_type(r);
    if failed {
        let t = exception_type.unwrap_or(r.status.as_str());
        attrs.put("error.type".into(), text(t));
    }
    let message = error_message.as_deref().unwrap_or_default();
    Span {
        trace_id: r.trace_id.to_u128().to_be_bytes().to_vec(),
        span_id: r.span_id.to_u64().to_be_bytes().to_vec(),
        trace_state: String::new(),
        parent_span_id: r
            .parent
            .map(|p| p.to_u64().to_be_bytes().to_vec())
            .unwrap_or_default(),
        flags: SAMPLED,
        name: fields::name(r, cfg).into_owned(),
        kind: if r.kind == Kind::Llm {
            SpanKind::Client
        } else {
            SpanKind::Internal
        } as i32,
        start_time_unix_nano: r.start.0,
        end_time_unix_nano: r.end.0.max(r.start.0),
        attributes: attrs.0,
        dropped_attributes_count: 0,
        events: if failed {
            vec![exception_event(r, exception_type, message)]
        } else {
            Vec::new()
        },
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: failed.then(|| Status {
            message: message.to_string(),
            code: StatusCode::Error as i32,
        }),
    }
}

/// Who and where: the kind, the GenAI operation, the agent, the conversation.
fn identity(attrs: &mut Attributes, r: &SpanRecord, cfg: &Config) {
    attrs.put("staso.kind".into(), text(r.kind.as_str()));
    if let Some(op) = operation(r) {
        attrs.put("gen_ai.operation.name".into(), text(op));
    }
    attrs.put("gen_ai.agent.name".into(), text(fields::agent_name(r, cfg)));
    attrs.put("gen_ai.agent.id".into(), text(&cfg.agent_id));
    let session = fields::session_id(r, cfg);
    attrs.put("gen_ai.conversation.id".into(), text(session));
    attrs.put("session.id".into(), text(session));
    if let Some(user) = fields::user_id(r) {
        attrs.put("user.id".into(), text(user));
    }
}

/// The GenAI operation a span of this kind is (an `llm` span named like an embeddings
/// call is one; a `gen_ai.operation.name` the span carries itself wins later).
fn operation(r: &SpanRecord) -> Option<&'static str> {
    match r.kind {
        Kind::Llm if r.name.as_str().contains("embeddings") => Some("embeddings"),
        Kind::Llm => Some("chat"),
        Kind::Tool => Some("execute_tool"),
        Kind::Agent => Some("invoke_agent"),
        _ => None,
    }
}

/// The model call's own fields (any kind of span may carry them).
fn model_call(attrs: &mut Attributes, r: &SpanRecord) {
    let llm = fields::llm(r);
    if !llm.provider.is_empty() {
        attrs.put("gen_ai.provider.name".into(), text(&llm.provider));
        // The name before semantic conventions 1.37, which many backends still read.
        attrs.put("gen_ai.system".into(), text(&llm.provider));
    }
    if !llm.requested_model.is_empty() {
        attrs.put("gen_ai.request.model".into(), text(&llm.requested_model));
    }
    if !llm.model.is_empty() {
        attrs.put("gen_ai.response.model".into(), text(&llm.model));
    }
    if !llm.reasoning_effort.is_empty() {
        attrs.put(
            "gen_ai.request.reasoning_effort".into(),
            text(&llm.reasoning_effort),
        );
    }
    if llm.usage_available || llm.input_tokens > 0 || llm.output_tokens > 0 {
        attrs.put("gen_ai.usage.input_tokens".into(), int(llm.input_tokens));
        attrs.put("gen_ai.usage.output_tokens".into(), int(llm.output_tokens));
    }
}

/// The parts of an LLM call's input document (`{"model", "system", "tools",
/// "messages"}`, as the LLM integrations write it).
#[derive(Deserialize)]
struct LlmInput<'a> {
    #[serde(borrow, default)]
    messages: Option<&'a RawValue>,
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
}

/// Input and output under the names of their kind: the messages of a model call, the
/// arguments and result of a tool call, `staso.input`/`staso.output` otherwise. Values
/// are the JSON documents as captured.
fn content(attrs: &mut Attributes, kind: Kind, input: Option<&str>, output: Option<&str>) {
    match kind {
        Kind::Llm => {
            if let Some(doc) = input {
                let parts = serde_json::from_str::<LlmInput<'_>>(doc)
                    .ok()
                    .filter(|p| p.messages.is_some() || p.system.is_some() || p.tools.is_some());
                match parts {
                    Some(p) => {
                        let named = [
                            ("gen_ai.system_instructions", p.system),
                            ("gen_ai.tool.definitions", p.tools),
                            ("gen_ai.input.messages", p.messages),
                        ];
                        for (key, part) in named {
                            if let Some(v) = part.filter(|v| v.get() != "null") {
                                attrs.put(key.into(), text(v.get()));
                            }
                        }
                    }
                    // A request document the policy emptied of its messages (the model
                    // is sent as `gen_ai.request.model`): nothing to send.
                    None if doc.trim_start().starts_with('{') => {}
                    None => attrs.put("gen_ai.input.messages".into(), text(doc)),
                }
            }
            if let Some(doc) = output.filter(|d| has_content(d)) {
                // One reply message; the convention's value is a list of them.
                let list = if doc.trim_start().starts_with('{') {
                    format!("[{doc}]")
                } else {
                    doc.to_string()
                };
                attrs.put("gen_ai.output.messages".into(), str_value(list));
            }
        }
        Kind::Tool => {
            if let Some(doc) = input {
                attrs.put("gen_ai.tool.call.arguments".into(), text(doc));
            }
            if let Some(doc) = output {
                attrs.put("gen_ai.tool.call.result".into(), text(doc));
            }
        }
        _ => {
            if let Some(doc) = input {
                attrs.put("staso.input".into(), text(doc));
            }
            if let Some(doc) = output {
                attrs.put("staso.output".into(), text(doc));
            }
        }
    }
}

/// Whether a reply document holds more than roles (the policy strips a reply's content
/// and keeps its role: a message with nothing in it is not sent).
fn has_content(doc: &str) -> bool {
    fn only_roles(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => m.keys().all(|k| k == "role"),
            serde_json::Value::Array(items) => items.iter().all(only_roles),
            _ => false,
        }
    }
    serde_json::from_str::<serde_json::Value>(doc).map_or(true, |v| !only_roles(&v))
}

/// A Staso attribute under its GenAI name where it has one (LLM spans' request
/// parameters, reply facts and token breakdowns; a tool's name), else as it is.
fn rename(kind: Kind, key: &str, value: Value<'_>) -> (String, AnyValue) {
    let genai = match (kind, key) {
        (Kind::Tool, "tool_name") => Some("gen_ai.tool.name"),
        (Kind::Llm, k) => match k {
            "provider" => Some("gen_ai.provider.name"),
            "response_id" => Some("gen_ai.response.id"),
            "cache_read_input_tokens" => Some("gen_ai.usage.cache_read.input_tokens"),
            "cache_creation_input_tokens" | "cache_write_input_tokens" => {
                Some("gen_ai.usage.cache_creation.input_tokens")
            }
            "reasoning_tokens" => Some("gen_ai.usage.reasoning.output_tokens"),
            "temperature" => Some("gen_ai.request.temperature"),
            "max_tokens" => Some("gen_ai.request.max_tokens"),
            "top_p" => Some("gen_ai.request.top_p"),
            "top_k" => Some("gen_ai.request.top_k"),
            "frequency_penalty" => Some("gen_ai.request.frequency_penalty"),
            "presence_penalty" => Some("gen_ai.request.presence_penalty"),
            "seed" => Some("gen_ai.request.seed"),
            "stop_sequences" => Some("gen_ai.request.stop_sequences"),
            "stop_reason" => {
                // The convention's value is the list of every choice's reason.
                let v = any(value);
                let list = match v.value {
                    Some(any_value::Value::ArrayValue(_)) => v,
                    _ => array(vec![v]),
                };
                return ("gen_ai.response.finish_reasons".into(), list);
            }
            "time_to_first_token" => {
                // Milliseconds on the Staso wire, seconds in the convention.
                let v = any(value);
                if let Some(any_value::Value::DoubleValue(ms)) = v.value {
                    return (
                        "gen_ai.response.time_to_first_chunk".into(),
                        double(ms / 1000.0),
                    );
                }
                if let Some(any_value::Value::IntValue(ms)) = v.value {
                    return (
                        "gen_ai.response.time_to_first_chunk".into(),
                        double(ms as f64 / 1000.0),
                    );
                }
                return (key.into(), v);
            }
            _ => None,
        },
        _ => None,
    };
    (genai.unwrap_or(key).to_string(), any(value))
}

/// A span's attributes: a later value of a key replaces an earlier one.
#[derive(Default)]
struct Attributes(Vec<KeyValue>);

impl Attributes {
    fn put(&mut self, key: String, value: AnyValue) {
        match self.0.iter_mut().find(|kv| kv.key == key) {
            Some(kv) => kv.value = Some(value),
            None => self.0.push(KeyValue {
                key,
                value: Some(value),
                ..Default::default()
            }),
        }
    }
}

/// OpenTelemetry's `exception` event: the type, and the message when it may be sent.
fn exception_event(r: &SpanRecord, exception_type: Option<&str>, message: &str) -> Event {
    let mut attributes = Vec::new();
    attributes.push(kv(
        "exception.type",
        text(exception_type.unwrap_or(r.status.as_str())),
    ));
    if !message.is_empty() {
        attributes.push(kv("exception.message", text(message)));
    }
    Event {
        time_unix_nano: r.end.0.max(r.start.0),
        name: "exception".into(),
        attributes,
        dropped_attributes_count: 0,
    }
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..Default::default()
    }
}

fn str_value(s: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    }
}

fn text(s: &str) -> AnyValue {
    str_value(s.to_string())
}

fn int(n: u64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(
            i64::try_from(n).unwrap_or(i64::MAX),
        )),
    }
}

fn double(x: f64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::DoubleValue(x)),
    }
}

fn array(values: Vec<AnyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
    }
}

/// A record's attribute value as an OTLP value. Metadata values (JSON documents) become
/// the scalar or list of scalars they hold; an object, or a list holding one, is sent
/// as its JSON text (OTLP backends index and show scalars, not nested values).
fn any(value: Value<'_>) -> AnyValue {
    match value {
        Value::Str(s) => text(s),
        Value::Int(n) => int(n),
        Value::Bool(b) => AnyValue {
            value: Some(any_value::Value::BoolValue(b)),
        },
        Value::Strs(list) => array(list.into_iter().map(text).collect()),
        Value::Json(doc) => match serde_json::from_str::<serde_json::Value>(doc) {
            Ok(v) => json(&v).unwrap_or_else(|| text(doc)),
            Err(_) => text(doc),
        },
    }
}

/// A scalar (or a list of scalars) as an OTLP value; `None` for what is not one.
fn json(v: &serde_json::Value) -> Option<AnyValue> {
    use serde_json::Value as J;
    Some(match v {
        J::String(s) => text(s),
        J::Bool(b) => AnyValue {
            value: Some(any_value::Value::BoolValue(*b)),
        },
        J::Number(n) => match n.as_i64() {
            Some(i) => AnyValue {
                value: Some(any_value::Value::IntValue(i)),
            },
            None => double(n.as_f64()?),
        },
        J::Array(items) => {
            let scalar = |i: &J| !matches!(i, J::Array(_) | J::Object(_) | J::Null);
            if !items.iter().all(scalar) {
                return None;
            }
            array(items.iter().filter_map(json).collect())
        }
        J::Null | J::Object(_) => return None,
    })
}

//! What a `tracing` span's fields mean for its staso span: OpenTelemetry's GenAI
//! conventions (`gen_ai.*`), the `otel.*` fields of `tracing-opentelemetry`, errors, and
//! `staso.kind`. Fields are gathered as they are recorded (at creation and by
//! `Span::record` later) and turned into the staso span when it closes. The table in
//! `docs/tracing.md` is this file in prose.

use crate::local::foreign;
use crate::local::span::Span;
use serde_json::{Map, Value};
use staso_types::{CapturePolicy, Kind};
use std::fmt;
use tracing_core::field::{Field, Visit};

/// The kind an OpenTelemetry GenAI operation name stands for.
pub(crate) fn kind_of_operation(op: &str) -> Kind {
    match op {
        // Calls to a model: chat and completion, and the other model operations
        // (embeddings have a model, a provider and token usage too).
        "chat" | "text_completion" | "generate_content" | "embeddings" | "rerank"
        | "transcription" | "image_generation" | "audio_generation" => Kind::Llm,
        "execute_tool" => Kind::Tool,
        "invoke_agent" => Kind::Agent,
        "retrieval" => Kind::Retriever,
        _ => Kind::Chain,
    }
}

/// Whether a field name marks a span as one for staso (with the default selection).
pub(crate) fn is_marker(name: &str) -> bool {
    name.starts_with("gen_ai.") || name.starts_with("staso.")
}

/// Whether an event's field says it reports an exception (OpenTelemetry's convention).
pub(crate) fn is_exception_field(name: &str) -> bool {
    name.starts_with("exception.")
}

/// An error seen on a span: its message and its type, when known.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Failure {
    pub message: Option<String>,
    pub exception_type: Option<String>,
}

/// Content fields, kept as the JSON they hold (or as text when they are not JSON).
#[derive(Debug, Default)]
struct Content {
    input_messages: Option<Value>,
    output_messages: Option<Value>,
    system: Option<Value>,
    tools: Option<Value>,
    prompt: Option<Value>,
    completion: Option<Value>,
    tool_arguments: Option<Value>,
    tool_result: Option<Value>,
}

/// What the fields of one `tracing` span said so far.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    otel_name: Option<String>,
    explicit_kind: Option<Kind>,
    operation: Option<String>,
    request_model: Option<String>,
    response_model: Option<String>,
    provider: Option<String>,
    system: Option<String>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    reasoning_effort: Option<String>,
    agent_name: Option<String>,
    tool_name: Option<String>,
    content: Content,
    failure: Option<Failure>,
    status_message: Option<String>,
    /// Everything else, under the contract's attribute name where it has one (field
    /// names are `'static`: no allocation per key; a few entries, so a list).
    attributes: Vec<(&'static str, Value)>,
}

/// A field's value, as `tracing` hands it over.
enum Val {
    Str(String),
    I(i64),
    U(u64),
    F(f64),
    B(bool),
}

impl Val {
    fn json(self) -> Value {
        match self {
            Val::Str(s) => Value::String(s),
            Val::I(v) => v.into(),
            Val::U(v) => v.into(),
            Val::F(v) => serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
            Val::B(v) => v.into(),
        }
    }

    fn text(self) -> String {
        match self {
            Val::Str(s) => s,
            Val::I(v) => v.to_string(),
            Val::U(v) => v.to_string(),
            Val::F(v) => v.to_string(),
            Val::B(v) => v.to_string(),
        }
    }

    /// A count: a non-negative integer, or text holding one.
    fn count(&self) -> Option<u64> {
        match self {
            Val::U(v) => Some(*v),
            Val::I(v) => u64::try_from(*v).ok(),
            Val::F(v) if *v >= 0.0 && v.fract() == 0.0 => Some(*v as u64),
            Val::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn float(&self) -> Option<f64> {
        match self {
            Val::F(v) => Some(*v),
            Val::I(v) => Some(*v as f64),
            Val::U(v) => Some(*v as f64),
            Val::Str(s) => s.trim().parse().ok(),
            Val::B(_) => None,
        }
    }

    /// Content: the JSON document a string holds, or the string itself.
    fn document(self) -> Value {
        match self {
            Val::Str(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
            v => v.json(),
        }
    }
}

/// Milliseconds with two decimals, as the LLM integration writes `time_to_first_token`.
fn ms2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

impl Fields {
    /// Takes one field's value.
    fn set(&mut self, name: &'static str, v: Val) {
        match name {
            "otel.name" => self.otel_name = Some(v.text()),
            "otel.kind" => {}
            "otel.status_code" => {
                if v.text().eq_ignore_ascii_case("error") {
                    self.failure.get_or_insert_with(Default::default);
                }
            }
            "otel.status_message" | "otel.status_description" => {
                self.status_message = Some(v.text())
            }
            "staso.kind" => self.explicit_kind = v.text().parse().ok(),
            "gen_ai.operation.name" => {
                let op = v.text();
                self.put("gen_ai.operation.name", Value::String(op.clone()));
                self.operation = Some(op);
            }
            "gen_ai.request.model" => self.request_model = Some(v.text()),
            "gen_ai.response.model" => self.response_model = Some(v.text()),
            "gen_ai.provider.name" => self.provider = Some(v.text()),
            "gen_ai.system" => self.system = Some(v.text()),
            "gen_ai.usage.input_tokens" | "gen_ai.usage.prompt_tokens" => {
                self.input_tokens = v.count()
            }
            "gen_ai.usage.output_tokens" | "gen_ai.usage.completion_tokens" => {
                self.output_tokens = v.count()
            }
            "gen_ai.usage.cache_read.input_tokens" => self.attr("cache_read_input_tokens", v),
            "gen_ai.usage.cache_creation.input_tokens" => {
                self.attr("cache_creation_input_tokens", v)
            }
            "gen_ai.usage.reasoning_tokens" | "gen_ai.usage.reasoning.output_tokens" => {
                self.attr("reasoning_tokens", v)
            }
            // OpenTelemetry's are in seconds; the contract's attribute is milliseconds.
            "gen_ai.response.time_to_first_chunk" | "gen_ai.server.time_to_first_token" => {
                if let Some(s) = v.float() {
                    self.put("time_to_first_token", ms2(s * 1000.0).into());
                }
            }
            "time_to_first_token" => {
                if let Some(ms) = v.float() {
                    self.put("time_to_first_token", ms2(ms).into());
                }
            }
            "gen_ai.request.temperature" => self.attr("temperature", v),
            "gen_ai.request.max_tokens" => self.attr("max_tokens", v),
            "gen_ai.request.top_p" => self.attr("top_p", v),
            "gen_ai.request.top_k" => self.attr("top_k", v),
            "gen_ai.request.frequency_penalty" => self.attr("frequency_penalty", v),
            "gen_ai.request.presence_penalty" => self.attr("presence_penalty", v),
            "gen_ai.request.seed" => self.attr("seed", v),
            "gen_ai.request.stop_sequences" => {
                self.put("stop_sequences", v.document());
            }
            "gen_ai.request.reasoning_effort" => self.reasoning_effort = Some(v.text()),
            "gen_ai.openai.request.service_tier" | "gen_ai.openai.response.service_tier" => {
                self.attr("service_tier", v)
            }
            "gen_ai.response.id" => self.attr("response_id", v),
            "gen_ai.response.finish_reasons" => {
                let reason = match v.document() {
                    Value::Array(a) => a.into_iter().next(),
                    other => Some(other),
                };
                if let Some(r) = reason {
                    self.put("stop_reason", r);
                }
            }
            "gen_ai.input.messages" => self.content.input_messages = Some(v.document()),
            "gen_ai.output.messages" => self.content.output_messages = Some(v.document()),
            "gen_ai.system_instructions" => self.content.system = Some(v.document()),
            "gen_ai.tool.definitions" => self.content.tools = Some(v.document()),
            "gen_ai.prompt" => self.content.prompt = Some(v.document()),
            "gen_ai.completion" => self.content.completion = Some(v.document()),
            "gen_ai.tool.call.arguments" => self.content.tool_arguments = Some(v.document()),
            "gen_ai.tool.call.result" => self.content.tool_result = Some(v.document()),
            "gen_ai.tool.name" => self.tool_name = Some(v.text()),
            "gen_ai.agent.name" => self.agent_name = Some(v.text()),
            "error" => match v {
                Val::B(false) => {}
                Val::B(true) => {
                    self.failure.get_or_insert_with(Default::default);
                }
                v => self.failure.get_or_insert_with(Default::default).message = Some(v.text()),
            },
            "exception.message" => {
                self.failure.get_or_insert_with(Default::default).message = Some(v.text())
            }
            "exception.type" | "error.type" | "gen_ai.tool.error.type" => {
                self.failure
                    .get_or_insert_with(Default::default)
                    .exception_type = Some(v.text())
            }
            _ => self.put(name, v.json()),
        }
    }

    fn attr(&mut self, key: &'static str, v: Val) {
        self.put(key, v.json());
    }

    /// Sets an attribute; a field recorded again replaces its value.
    fn put(&mut self, key: &'static str, v: Value) {
        match self.attributes.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = v,
            None => self.attributes.push((key, v)),
        }
    }

    /// Marks the span failed by an event inside it (level `ERROR`, or OpenTelemetry's
    /// `exception.*` fields): the event's own error fields, else its message.
    pub(crate) fn fail_with(&mut self, event: Failure) {
        let f = self.failure.get_or_insert_with(Default::default);
        if f.message.is_none() {
            f.message = event.message;
        }
        if f.exception_type.is_none() {
            f.exception_type = event.exception_type;
        }
    }

    /// The kind: `staso.kind`, else the operation's, else `chain`.
    pub(crate) fn kind(&self) -> Kind {
        self.explicit_kind
            .or_else(|| self.operation.as_deref().map(kind_of_operation))
            .unwrap_or(Kind::Chain)
    }

    /// The name when it is not the span's own: `otel.name`, else the agent's or tool's
    /// name for a span named after its operation (`invoke_agent`, `execute_tool`), as
    /// staso names agent and tool spans.
    pub(crate) fn name_override(&self, span_name: &str) -> Option<String> {
        if let Some(n) = &self.otel_name {
            return Some(n.clone());
        }
        let generic = self.operation.as_deref() == Some(span_name);
        match self.kind() {
            Kind::Agent if generic => self.agent_name.clone(),
            Kind::Tool if generic => self.tool_name.clone(),
            _ => None,
        }
    }

    /// Writes what the fields said into the span, through its setters (renamed when a
    /// field recorded after it opened as `opened_as` names it otherwise). Content is
    /// filtered by `policy` per category first, as for native spans; the encoder applies
    /// the policy again when the span is sent.
    pub(crate) fn apply(
        self,
        span: &mut Span,
        span_name: &str,
        opened_as: Option<&str>,
        policy: Option<CapturePolicy>,
    ) {
        let kind = self.kind();
        foreign::set_kind(span, kind);
        if let Some(n) = self.name_override(span_name) {
            if opened_as != Some(n.as_str()) {
                span.set_name(n);
            }
        }
        let provider = self.provider.or(self.system);
        if let Some(p) = provider {
            span.set_metadata("provider", &p);
            span.set_provider(p);
        }
        if let Some(m) = &self.request_model {
            span.set_model(m.clone());
        }
        if let Some(m) = self.response_model.filter(|m| !m.is_empty()) {
            span.set_model(m);
        }
        if self.input_tokens.is_some() || self.output_tokens.is_some() {
            span.set_usage(
                self.input_tokens.unwrap_or(0),
                self.output_tokens.unwrap_or(0),
            );
        }
        if let Some(e) = self.reasoning_effort {
            span.set_reasoning_effort(e);
        }
        if kind == Kind::Tool {
            if let Some(t) = &self.tool_name {
                span.set_metadata("tool_name", t);
            }
        }
        for (k, v) in &self.attributes {
            span.set_metadata(*k, v);
        }
        if let Some(p) = policy {
            let agent = self.agent_name.as_deref();
            let requested = self.request_model.as_deref();
            if let Some(input) = self.content.input(kind, agent, requested, &p) {
                span.set_input(&input);
            }
            if let Some(output) = self.content.output(kind, &p) {
                span.set_output(&output);
            }
        }
        if let Some(mut f) = self.failure {
            if f.message.is_none() {
                f.message = self.status_message;
            }
            foreign::set_failed(span, f.message, f.exception_type);
        }
    }
}

impl Content {
    /// The span's input, shaped as staso's own spans of that kind, with what the policy
    /// does not allow left out.
    fn input(
        &self,
        kind: Kind,
        agent: Option<&str>,
        requested: Option<&str>,
        p: &CapturePolicy,
    ) -> Option<Value> {
        if kind == Kind::Tool {
            return self.tool_arguments.clone().map(|a| match a {
                Value::Object(_) => a,
                other => serde_json::json!({ "arguments": other }),
            });
        }
        let mut m = Map::new();
        if kind == Kind::Agent {
            if let Some(a) = agent {
                m.insert("agent_name".into(), a.into());
            }
        }
        if kind == Kind::Llm {
            if let Some(r) = requested {
                m.insert("model".into(), r.into());
            }
        }
        if p.system_prompt {
            if let Some(s) = &self.system {
                m.insert("system".into(), s.clone());
            }
        }
        if p.tool_schema {
            if let Some(t) = &self.tools {
                m.insert("tools".into(), t.clone());
            }
        }
        if p.request {
            if let Some(pr) = &self.prompt {
                m.insert("prompt".into(), pr.clone());
            }
        }
        if let Some(msgs) = &self.input_messages {
            let kept = filter_messages(msgs, p);
            if !kept.as_array().is_some_and(Vec::is_empty) {
                m.insert("messages".into(), kept);
            }
        }
        let only_identity = m.keys().all(|k| k == "agent_name" || k == "model");
        (!only_identity).then_some(Value::Object(m))
    }

    /// The span's output: a tool's result, a model's output messages (tool-call
    /// arguments only with `tool_arguments`), an agent's completion.
    fn output(&self, kind: Kind, p: &CapturePolicy) -> Option<Value> {
        if kind == Kind::Tool {
            return self
                .tool_result
                .clone()
                .map(|r| serde_json::json!({ "result": r }));
        }
        if let Some(out) = &self.output_messages {
            return Some(filter_messages(out, &CapturePolicy { output: true, ..*p }));
        }
        self.completion
            .clone()
            .map(|c| serde_json::json!({ "result": c }))
    }
}

/// Keeps the messages (OpenTelemetry's `{"role", "parts": [..]}`, or `{"role",
/// "content"}`) the policy allows: `system`/`developer` need `system_prompt`, `user`
/// needs `request`, `assistant` and `tool` need `output`; a tool result part needs
/// `output` whatever its message's role; tool calls lose their `arguments` without
/// `tool_arguments`; a message left without parts is dropped. Anything that is not a
/// list of messages needs `request`.
fn filter_messages(msgs: &Value, p: &CapturePolicy) -> Value {
    let Value::Array(list) = msgs else {
        return if p.request {
            msgs.clone()
        } else {
            Value::Array(Vec::new())
        };
    };
    let kept = list.iter().filter_map(|msg| {
        let role = msg.get("role").and_then(Value::as_str).unwrap_or("");
        let role_ok = match role {
            "system" | "developer" => p.system_prompt,
            "assistant" | "tool" => p.output,
            _ => p.request,
        };
        let Some(parts) = msg.get("parts").and_then(Value::as_array) else {
            return role_ok.then(|| msg.clone());
        };
        let parts: Vec<Value> = parts
            .iter()
            .filter(|part| match part.get("type").and_then(Value::as_str) {
                Some("tool_call_response") => p.output,
                _ => role_ok,
            })
            .map(|part| {
                let mut part = part.clone();
                if !p.tool_arguments
                    && part.get("type").and_then(Value::as_str) == Some("tool_call")
                {
                    if let Value::Object(o) = &mut part {
                        o.remove("arguments");
                    }
                }
                part
            })
            .collect();
        if parts.is_empty() {
            return None;
        }
        let mut msg = msg.clone();
        msg["parts"] = Value::Array(parts);
        Some(msg)
    });
    Value::Array(kept.collect())
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), Val::Str(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), Val::I(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), Val::U(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), Val::F(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), Val::B(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), Val::Str(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field.name(), Val::Str(format!("{value:?}")));
    }
}

/// Reads an event that marks its span failed: its `error`, `exception.*` or `error.type`
/// fields, else its message.
#[derive(Default)]
pub(crate) struct EventFailure {
    failure: Failure,
    message: Option<String>,
}

impl EventFailure {
    pub(crate) fn finish(self) -> Failure {
        let mut f = self.failure;
        if f.message.is_none() {
            f.message = self.message;
        }
        f
    }

    fn set(&mut self, name: &str, text: String) {
        match name {
            "message" => self.message = Some(text),
            "error" | "exception.message" => self.failure.message = Some(text),
            "exception.type" | "error.type" => self.failure.exception_type = Some(text),
            _ => {}
        }
    }
}

impl Visit for EventFailure {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.to_string());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field.name(), format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_map_to_kinds() {
        assert_eq!(kind_of_operation("chat"), Kind::Llm);
        assert_eq!(kind_of_operation("embeddings"), Kind::Llm);
        assert_eq!(kind_of_operation("execute_tool"), Kind::Tool);
        assert_eq!(kind_of_operation("invoke_agent"), Kind::Agent);
        assert_eq!(kind_of_operation("create_agent"), Kind::Chain);
    }

    #[test]
    fn messages_are_kept_per_category() {
        let msgs = json!([
            {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
            {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
            {"role": "assistant", "parts": [
                {"type": "text", "content": "calling"},
                {"type": "tool_call", "id": "c1", "name": "add", "arguments": {"x": 1}}]},
            {"role": "user", "parts": [{"type": "tool_call_response", "id": "c1", "response": 2}]},
        ]);
        let all = CapturePolicy::ALL_ON;
        assert_eq!(filter_messages(&msgs, &all), msgs);

        let no_request = CapturePolicy {
            request: false,
            ..all
        };
        let kept = filter_messages(&msgs, &no_request);
        let roles: Vec<&str> = kept
            .as_array()
            .expect("list")
            .iter()
            .map(|m| m["role"].as_str().expect("role"))
            .collect();
        assert_eq!(
            roles,
            ["system", "assistant", "user"],
            "the user's text went, the tool result stayed"
        );

        let no_args = CapturePolicy {
            tool_arguments: false,
            ..all
        };
        let kept = filter_messages(&msgs, &no_args);
        assert_eq!(
            kept[2]["parts"][1],
            json!({"type": "tool_call", "id": "c1", "name": "add"})
        );

        let no_output = CapturePolicy {
            output: false,
            ..all
        };
        let kept = filter_messages(&msgs, &no_output);
        assert_eq!(kept.as_array().map(Vec::len), Some(2), "{kept}");
    }
}

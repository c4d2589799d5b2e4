//! The typed way to record an LLM call, for any client and any provider: describe the
//! request with [`LlmCall`], the answer with [`Reply`]. Both are written down as an
//! OpenAI-chat-shaped body and read exactly like one, so the capture categories, names
//! and usage keys are the same as for the JSON-level API.

use super::call::{read_reply, recording_context, Call};
use super::LlmSpan;
use crate::local::capture::to_value_safely;
use serde::Serialize;
use serde_json::{json, Map, Value};
use staso_types::{Api, Usage};
use std::borrow::Cow;

/// A tool call as the chat format writes it: in the request's history and in a reply.
fn chat_tool_call(id: String, name: String, arguments: String) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
}

/// A request being described; [`LlmCall::start`] opens its span. Every method is a no-op
/// (and builds nothing) when the call is not recorded.
///
/// ```
/// use staso_core::llm::{LlmCall, Reply, Usage};
/// let span = LlmCall::new("ollama", "llama3.1")
///     .system("You are terse.")
///     .user("Weather in Paris?")
///     .param("temperature", &0.2)
///     .start();
/// // ... call the model ...
/// span.finish(
///     Reply::new()
///         .content("Sunny, 21 °C.")
///         .finish_reason("stop")
///         .usage(Usage::new(57, 17)),
/// ).expect("the guard blocks nothing here");
/// ```
#[must_use = "a call is recorded once started: call .start()"]
#[derive(Debug)]
pub struct LlmCall {
    b: Option<Box<Builder>>,
}

#[derive(Debug)]
struct Builder {
    provider: String,
    body: Map<String, Value>,
    messages: Vec<Value>,
    tools: Vec<Value>,
    params: Vec<(String, Value)>,
    name: Option<Cow<'static, str>>,
}

/// Sampling parameters renamed to the attribute the dashboard knows.
fn attribute_name(key: &str) -> String {
    match key {
        "stop" => "stop_sequences".into(),
        "max_completion_tokens" | "max_output_tokens" => "max_tokens".into(),
        other => other.to_string(),
    }
}

impl LlmCall {
    /// A call to `model` of `provider` (`openai`, `anthropic`, `ollama`, ...).
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> LlmCall {
        if !crate::__private::enabled() {
            return LlmCall { b: None };
        }
        let mut body = Map::new();
        body.insert("model".into(), Value::String(model.into()));
        LlmCall {
            b: Some(Box::new(Builder {
                provider: provider.into(),
                body,
                messages: Vec::new(),
                tools: Vec::new(),
                params: Vec::new(),
                name: None,
            })),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut Builder)) -> Self {
        if let Some(b) = &mut self.b {
            f(b);
        }
        self
    }

    fn text(self, role: &'static str, text: impl Into<String>) -> Self {
        self.with(|b| {
            b.messages
                .push(json!({"role": role, "content": text.into()}))
        })
    }

    /// The reasoning effort asked for (`low`, `high`, ...).
    pub fn reasoning_effort(self, effort: impl Into<String>) -> Self {
        self.with(|b| {
            b.body
                .insert("reasoning_effort".into(), Value::String(effort.into()));
        })
    }

    /// A system prompt (capture category `system_prompt`).
    pub fn system(self, text: impl Into<String>) -> Self {
        self.text("system", text)
    }

    /// A developer prompt (capture category `system_prompt`).
    pub fn developer(self, text: impl Into<String>) -> Self {
        self.text("developer", text)
    }

    /// A user message (capture category `request`).
    pub fn user(self, text: impl Into<String>) -> Self {
        self.text("user", text)
    }

    /// An earlier assistant message (capture category `output`).
    pub fn assistant(self, text: impl Into<String>) -> Self {
        self.text("assistant", text)
    }

    /// A tool call of an earlier assistant turn (added to the last message when it is the
    /// assistant's, else as a new assistant message). `arguments` is JSON text
    /// (capture category `tool_arguments`).
    pub fn tool_call(
        self,
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        self.with(|b| {
            let call = chat_tool_call(id.into(), name.into(), arguments.into());
            let last_is_assistant = b
                .messages
                .last()
                .is_some_and(|m| m.get("role").and_then(Value::as_str) == Some("assistant"));
            if !last_is_assistant {
                b.messages
                    .push(json!({"role": "assistant", "content": null}));
            }
            if let Some(m) = b.messages.last_mut().and_then(Value::as_object_mut) {
                if let Value::Array(calls) = m
                    .entry("tool_calls")
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    calls.push(call);
                }
            }
        })
    }

    /// The result of tool call `call_id` (capture category `output`). A call that ends
    /// with results continues the trace of the span that proposed those calls.
    pub fn tool_result(self, call_id: impl Into<String>, content: impl Into<String>) -> Self {
        self.with(|b| {
            b.messages.push(
                json!({"role": "tool", "tool_call_id": call_id.into(), "content": content.into()}),
            )
        })
    }

    /// Any message in the OpenAI chat format (`{"role": .., "content": ..}`, with
    /// `tool_calls` or `tool_call_id`, content parts, ...).
    pub fn message<T: Serialize + ?Sized>(self, message: &T) -> Self {
        self.with(|b| b.messages.push(to_value_safely(message)))
    }

    /// A tool the model may call: its name, description and JSON-schema parameters
    /// (capture category `tool_schema`).
    pub fn tool<T: Serialize + ?Sized>(
        self,
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: &T,
    ) -> Self {
        self.with(|b| {
            b.tools.push(json!({"type": "function", "function": {
                "name": name.into(), "description": description.into(),
                "parameters": to_value_safely(parameters)}}))
        })
    }

    /// A request parameter, sent as an attribute (capture category `request`):
    /// `temperature`, `max_tokens`, `top_p`, `top_k`, `seed`, `stop` (sent as
    /// `stop_sequences`), ...
    pub fn param<T: Serialize + ?Sized>(self, key: &str, value: &T) -> Self {
        self.with(|b| b.params.push((attribute_name(key), to_value_safely(value))))
    }

    /// The tool choice (capture category `tool_schema`).
    pub fn tool_choice<T: Serialize + ?Sized>(self, choice: &T) -> Self {
        self.with(|b| {
            b.body.insert("tool_choice".into(), to_value_safely(choice));
        })
    }

    /// The response format (capture category `tool_schema`).
    pub fn response_format<T: Serialize + ?Sized>(self, format: &T) -> Self {
        self.with(|b| {
            b.body
                .insert("response_format".into(), to_value_safely(format));
        })
    }

    /// A fixed span name; without it the reply names the span (`chat:reply`,
    /// `chat:tool_calls(get_weather)`, ...).
    pub fn name(self, name: impl Into<Cow<'static, str>>) -> Self {
        self.with(|b| b.name = Some(name.into()))
    }

    /// Opens the span (a child of the current span, or of the span that proposed the tool
    /// calls whose results end the messages), and starts the clock.
    pub fn start(self) -> LlmSpan {
        let Some(b) = self.b else {
            return LlmSpan::off();
        };
        let Some((policy, scope)) = recording_context() else {
            return LlmSpan::off();
        };
        let Builder {
            provider,
            mut body,
            messages,
            tools,
            params,
            name,
        } = *b;
        body.insert("messages".into(), Value::Array(messages));
        if !tools.is_empty() {
            body.insert("tools".into(), Value::Array(tools));
        }
        let body = Value::Object(body);
        let mut view = super::call::read_request(Api::OpenAiChat, &body, &policy);
        if policy.request {
            for (k, v) in params {
                view.params.push((Cow::Owned(k), v));
            }
        }
        LlmSpan::from_call(Call::start(
            Api::OpenAiChat,
            view,
            policy,
            scope,
            Some(provider),
            name,
        ))
    }
}

/// The answer of a call recorded with [`LlmCall`]; [`LlmSpan::finish`] records it.
#[must_use = "a reply is recorded by LlmSpan::finish"]
#[derive(Debug, Default)]
pub struct Reply {
    r: Option<Box<ReplyData>>,
}

#[derive(Debug, Default)]
struct ReplyData {
    model: Option<String>,
    content: Option<String>,
    calls: Vec<Value>,
    finish: Option<String>,
    id: Option<String>,
    tier: Option<String>,
    usage: Option<Usage>,
}

impl Reply {
    /// An empty reply.
    pub fn new() -> Reply {
        Reply {
            r: crate::__private::enabled().then(Default::default),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut ReplyData)) -> Self {
        if let Some(r) = &mut self.r {
            f(r);
        }
        self
    }

    /// The model that answered (e.g. a dated snapshot of the one asked for).
    pub fn model(self, model: impl Into<String>) -> Self {
        self.with(|r| r.model = Some(model.into()))
    }

    /// The text of the answer.
    pub fn content(self, text: impl Into<String>) -> Self {
        self.with(|r| r.content = Some(text.into()))
    }

    /// A tool call the model proposes; `arguments` is JSON text.
    pub fn tool_call(
        self,
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        self.with(|r| {
            r.calls
                .push(chat_tool_call(id.into(), name.into(), arguments.into()))
        })
    }

    /// Why the model stopped (`stop`, `length`, `tool_calls`, ...).
    pub fn finish_reason(self, reason: impl Into<String>) -> Self {
        self.with(|r| r.finish = Some(reason.into()))
    }

    /// The provider's id of the response.
    pub fn response_id(self, id: impl Into<String>) -> Self {
        self.with(|r| r.id = Some(id.into()))
    }

    /// The service tier that served it.
    pub fn service_tier(self, tier: impl Into<String>) -> Self {
        self.with(|r| r.tier = Some(tier.into()))
    }

    /// Token usage.
    pub fn usage(self, usage: Usage) -> Self {
        self.with(|r| r.usage = Some(usage))
    }

    /// The reply as a chat completion body, read like one.
    pub(crate) fn into_view(
        self,
        policy: &staso_types::CapturePolicy,
    ) -> Option<super::view::ReplyView> {
        let r = *self.r?;
        let mut message = json!({"role": "assistant", "content": r.content});
        if !r.calls.is_empty() {
            message["tool_calls"] = Value::Array(r.calls);
        }
        let mut body = json!({"choices": [{"message": message, "finish_reason": r.finish}]});
        if let Some(m) = r.model {
            body["model"] = m.into();
        }
        if let Some(id) = r.id {
            body["id"] = id.into();
        }
        if let Some(t) = r.tier {
            body["service_tier"] = t.into();
        }
        if let Some(u) = r.usage {
            let mut usage = json!({"prompt_tokens": u.input_tokens(),
                "completion_tokens": u.output_tokens(), "total_tokens": u.total_tokens()});
            if u.cache_read_tokens().is_some() || u.cache_write_tokens().is_some() {
                let mut d = Map::new();
                if let Some(c) = u.cache_read_tokens() {
                    d.insert("cached_tokens".into(), c.into());
                }
                if let Some(w) = u.cache_write_tokens() {
                    d.insert("cache_write_tokens".into(), w.into());
                }
                usage["prompt_tokens_details"] = Value::Object(d);
            }
            if let Some(r) = u.reasoning_tokens() {
                usage["completion_tokens_details"] = json!({"reasoning_tokens": r});
            }
            body["usage"] = usage;
        }
        Some(read_reply(Api::OpenAiChat, &body, policy))
    }
}

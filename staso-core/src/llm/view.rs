//! What one request or reply body says, once read and filtered by the capture policy:
//! the common shape the three provider formats are mapped to, and small readers of JSON.

use serde_json::{Map, Value};
use staso_types::CapturePolicy;
use std::borrow::Cow;

/// A request body, read: what the span records when the call starts.
#[derive(Debug, Default)]
pub(crate) struct RequestView {
    /// The `model` argument as given (`requested_model`).
    pub model: String,
    pub reasoning_effort: String,
    /// The span's input, already filtered per category.
    pub input: Map<String, Value>,
    /// Request parameters for the attributes, already filtered.
    pub params: Vec<(Cow<'static, str>, Value)>,
    /// Ids of earlier tool calls whose results this request carries (continuation).
    pub results: Vec<String>,
    /// `"stream": true`.
    pub stream: bool,
}

/// What a provider's request reader finds in the body, in the provider's own shape: the
/// parts `RequestView::read` files the same way for every provider.
pub(crate) struct RequestParts<'a> {
    /// A system prompt kept apart from the messages (Anthropic), already allowed by the policy.
    pub system: Option<&'a Value>,
    /// The tool schemas, when there are any.
    pub tools: Option<&'a Value>,
    /// The messages, already filtered per category.
    pub messages: Vec<Value>,
    /// Sampling arguments and their attribute names (captured with `request`).
    pub sampling: &'a [(&'a str, &'static str)],
    /// Tool-use arguments and their attribute names (captured with `tool_schema`).
    pub tool_use: &'a [(&'a str, &'static str)],
    pub reasoning_effort: &'a str,
    pub results: Vec<String>,
}

impl RequestView {
    /// The view of `req`: the model first in the input, then the system prompt, the tools
    /// (when tool schemas are captured) and the messages (when any are left), and the
    /// parameters each category lets through. One order and one set of rules for every
    /// provider, so their spans read alike.
    pub(crate) fn read(req: &Value, p: &CapturePolicy, parts: RequestParts<'_>) -> RequestView {
        let model = model_arg(req);
        let mut input = Map::new();
        input.insert("model".into(), Value::String(model.clone()));
        if let Some(system) = parts.system {
            input.insert("system".into(), system.clone());
        }
        if p.tool_schema {
            if let Some(tools) = parts.tools {
                input.insert("tools".into(), tools.clone());
            }
        }
        if !parts.messages.is_empty() {
            input.insert("messages".into(), Value::Array(parts.messages));
        }
        let mut params = Vec::new();
        if p.request {
            copy_params(req, parts.sampling, &mut params);
        }
        if p.tool_schema {
            copy_params(req, parts.tool_use, &mut params);
        }
        RequestView {
            model,
            reasoning_effort: parts.reasoning_effort.to_string(),
            input,
            params,
            results: parts.results,
            stream: req.get("stream").and_then(Value::as_bool) == Some(true),
        }
    }
}

/// A tool call proposed by a reply: what the continuation map and the post-reply hook see.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProposedCall {
    pub id: String,
    pub name: String,
    /// The arguments as the provider sent them (a JSON string for OpenAI, an object for
    /// Anthropic).
    pub arguments: Value,
}

/// A reply, read: what the span records when the call ends.
#[derive(Debug, Default)]
pub(crate) struct ReplyView {
    /// The model that answered, when the reply names one.
    pub model: Option<String>,
    /// The name the reply gives a non-streaming call (`chat:reply`, ...).
    pub name: String,
    /// The span's output, already filtered; `None` sends `""`.
    pub output: Option<Value>,
    /// Reply attributes (service tier, stop reason, response id, usage breakdown, ...).
    pub attrs: Vec<(&'static str, Value)>,
    /// Input, output and total tokens, when the reply carried usage.
    pub usage: Option<(u64, u64, u64)>,
    pub calls: Vec<ProposedCall>,
    /// Bytes of streamed text in `output` that were not kept (see `keep`): added to the
    /// output's cut size.
    pub dropped: usize,
}

/// The `model` argument as a string (whatever JSON it is).
fn model_arg(req: &Value) -> String {
    match req.get("model") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

impl ReplyView {
    /// An OpenAI reply's view (chat or Responses) before its content is read: the model
    /// that answered and the service tier that served it.
    pub(crate) fn openai(resp: &Value) -> ReplyView {
        let mut view = ReplyView {
            model: nonempty_at(resp, "model").map(str::to_string),
            ..Default::default()
        };
        if let Some(tier) = nonempty_at(resp, "service_tier") {
            view.attrs.push(("service_tier", tier.into()));
        }
        view
    }
}

/// `v[key]` as a string, when it is one.
pub(crate) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `v[key]` as a non-empty string.
pub(crate) fn nonempty_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    str_at(v, key).filter(|s| !s.is_empty())
}

/// `v[key]` as a count (0 when absent or not a number).
pub(crate) fn count_at(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(count).unwrap_or(0)
}

/// A token count: a non-negative integer (or an integral float).
pub(crate) fn count(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

/// `v` is an array with something in it.
pub(crate) fn nonempty_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| !a.is_empty())
}

/// `v[key]` when present and not null.
pub(crate) fn present<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// Copies the request parameters present (not null) in `req` into `out`, renamed.
pub(crate) fn copy_params(
    req: &Value,
    keys: &[(&str, &'static str)],
    out: &mut Vec<(Cow<'static, str>, Value)>,
) {
    for (arg, attr) in keys {
        if let Some(v) = present(req, arg) {
            // A later argument with the same attribute (max_completion_tokens after
            // max_tokens) replaces the earlier one in place.
            match out.iter_mut().find(|(k, _)| k == attr) {
                Some(slot) => slot.1 = v.clone(),
                None => out.push((Cow::Borrowed(*attr), v.clone())),
            }
        }
    }
}

/// `chat:tool_calls(a, b, c, …+N)`-style list of tool names: three at most.
pub(crate) fn tool_list(prefix: &str, names: &[&str]) -> String {
    let shown = &names[..names.len().min(3)];
    let extra = names.len() - shown.len();
    let suffix = if extra > 0 {
        format!(", …+{extra}")
    } else {
        String::new()
    };
    format!("{prefix}({}{suffix})", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_lists_show_three_names_then_a_count() {
        assert_eq!(tool_list("chat:tool_calls", &["a"]), "chat:tool_calls(a)");
        assert_eq!(
            tool_list("chat:tool_calls", &["a", "b", "c", "d", "e"]),
            "chat:tool_calls(a, b, c, …+2)"
        );
    }
}

//! OpenAI Chat Completions bodies (and every OpenAI-compatible server): the request, the
//! reply, and the accumulation of a streamed reply's chunks.

use super::filter;
use super::keep::{room_for_call, ArgumentsKept, Keep};
use super::view::{
    count, count_at, nonempty_at, present, str_at, tool_list, ProposedCall, ReplyView,
    RequestParts, RequestView,
};
use serde_json::{json, Map, Value};
use staso_types::CapturePolicy;
use std::collections::BTreeMap;

/// Finish reasons that end a turn (the reply is then named `chat:reply`).
const TERMINAL: [&str; 4] = ["stop", "length", "content_filter", "function_call"];

/// Reads a request body.
pub(crate) fn request(req: &Value, p: &CapturePolicy) -> RequestView {
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .map(|m| filter::chat_messages(m, p))
        .unwrap_or_default();
    let parts = RequestParts {
        system: None,
        tools: req.get("tools").filter(|t| is_nonempty(t)),
        messages,
        sampling: &[
            ("temperature", "temperature"),
            ("max_tokens", "max_tokens"),
            ("max_completion_tokens", "max_tokens"),
            ("top_p", "top_p"),
            ("frequency_penalty", "frequency_penalty"),
            ("presence_penalty", "presence_penalty"),
            ("seed", "seed"),
            ("stop", "stop_sequences"),
            ("service_tier", "service_tier"),
        ],
        tool_use: &[
            ("tool_choice", "tool_choice"),
            ("response_format", "response_format"),
        ],
        reasoning_effort: nonempty_at(req, "reasoning_effort").unwrap_or_default(),
        results: tool_results(req),
    };
    RequestView::read(req, p, parts)
}

fn is_nonempty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// The ids of the trailing run of `role: "tool"` messages: the results this call carries.
fn tool_results(req: &Value) -> Vec<String> {
    let Some(messages) = req.get("messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = messages
        .iter()
        .rev()
        .take_while(|m| str_at(m, "role") == Some("tool"))
        .filter_map(|m| nonempty_at(m, "tool_call_id").map(str::to_string))
        .collect();
    ids.reverse();
    ids
}

/// Reads a (non-streaming) reply body.
pub(crate) fn reply(resp: &Value, p: &CapturePolicy) -> ReplyView {
    let mut view = ReplyView::openai(resp);
    let choice = resp
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    let mut finish = None;
    let mut names: Vec<&str> = Vec::new();
    if let Some(choice) = choice {
        if let Some(msg) = present(choice, "message") {
            let mut out = Map::new();
            out.insert(
                "role".into(),
                str_at(msg, "role").unwrap_or("assistant").into(),
            );
            if p.output {
                out.insert(
                    "content".into(),
                    str_at(msg, "content").unwrap_or_default().into(),
                );
            }
            if let Some(calls) = msg
                .get("tool_calls")
                .and_then(Value::as_array)
                .filter(|c| !c.is_empty())
            {
                out.insert(
                    "tool_calls".into(),
                    calls.iter().map(|c| filter::output_call(c, p)).collect(),
                );
                for c in calls {
                    let name = c.pointer("/function/name").and_then(Value::as_str);
                    names.push(name.filter(|n| !n.is_empty()).unwrap_or("?"));
                    if let (Some(id), Some(name)) = (nonempty_at(c, "id"), name) {
                        view.calls.push(ProposedCall {
                            id: id.to_string(),
                            name: name.to_string(),
                            arguments: c
                                .pointer("/function/arguments")
                                .cloned()
                                .unwrap_or(Value::Null),
                        });
                    }
                }
            }
            view.output = Some(Value::Object(out));
        }
        finish = nonempty_at(choice, "finish_reason");
        if let Some(f) = finish {
            view.attrs.push(("stop_reason", f.into()));
        }
    }
    if let Some(id) = nonempty_at(resp, "id") {
        view.attrs.push(("response_id", id.into()));
    }
    if let Some(u) = present(resp, "usage") {
        usage(u, &mut view, true);
    }
    view.name = if !names.is_empty() {
        tool_list("chat:tool_calls", &names)
    } else {
        match finish {
            Some(f) if TERMINAL.contains(&f) => "chat:reply".into(),
            Some(f) => format!("chat:{f}"),
            None => "chat".into(),
        }
    };
    view
}

/// Usage of a chat reply (or of the usage chunk of a stream).
fn usage(u: &Value, view: &mut ReplyView, cache_keys: bool) {
    view.usage = Some((
        count_at(u, "prompt_tokens"),
        count_at(u, "completion_tokens"),
        count_at(u, "total_tokens"),
    ));
    if let Some(r) = u
        .pointer("/completion_tokens_details/reasoning_tokens")
        .and_then(count)
        .filter(|r| *r > 0)
    {
        view.attrs.push(("reasoning_tokens", r.into()));
    }
    if !cache_keys {
        return;
    }
    if let Some(details) = present(u, "prompt_tokens_details").filter(|d| d.is_object()) {
        // Sent even when 0, so "no cache hit" differs from "not reported".
        if let Some(c) = present(details, "cached_tokens") {
            view.attrs.push(("cache_read_input_tokens", c.clone()));
        }
        if let Some(w) = present(details, "cache_write_tokens") {
            view.attrs.push(("cache_write_input_tokens", w.clone()));
        }
    }
}

/// One tool call being assembled from stream fragments.
#[derive(Debug, Default)]
struct CallBuf {
    id: String,
    kind: String,
    name: String,
    arguments: String,
}

/// A streamed chat reply, chunk by chunk.
#[derive(Debug, Default)]
pub(crate) struct ChatAcc {
    /// Bytes of `content` not kept.
    dropped: usize,
    content: String,
    calls: BTreeMap<u64, CallBuf>,
    arguments: ArgumentsKept,
    finish: Option<String>,
    usage: Option<Value>,
    model: Option<String>,
    id: Option<String>,
    tier: Option<String>,
}

impl ChatAcc {
    /// Takes one chunk; true when it carries the first content (time to first token:
    /// role-only chunks and tool-call fragments do not count).
    pub(crate) fn chunk(&mut self, c: &Value, keep: Keep) -> bool {
        if self.id.is_none() {
            self.id = nonempty_at(c, "id").map(str::to_string);
        }
        if self.model.is_none() {
            self.model = nonempty_at(c, "model").map(str::to_string);
        }
        if let Some(t) = nonempty_at(c, "service_tier") {
            self.tier = Some(t.to_string());
        }
        let mut token = false;
        if let Some(choice) = c
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            if let Some(delta) = choice.get("delta") {
                if let Some(text) = nonempty_at(delta, "content") {
                    self.dropped += keep.push(&mut self.content, text);
                    token = true;
                }
                for tc in delta
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let index = tc.get("index").and_then(Value::as_u64).unwrap_or(0);
                    if !room_for_call(&self.calls, index) {
                        continue;
                    }
                    let buf = self.calls.entry(index).or_insert_with(|| CallBuf {
                        kind: str_at(tc, "type").unwrap_or("function").to_string(),
                        ..Default::default()
                    });
                    if let Some(id) = nonempty_at(tc, "id") {
                        buf.id = id.to_string();
                    }
                    if let Some(f) = tc.get("function") {
                        if let Some(n) = nonempty_at(f, "name") {
                            buf.name = n.to_string();
                        }
                        if let Some(a) = str_at(f, "arguments") {
                            self.arguments.push(&mut buf.arguments, a);
                        }
                    }
                }
            }
            if let Some(f) = nonempty_at(choice, "finish_reason") {
                self.finish = Some(f.to_string());
            }
        }
        if let Some(u) = present(c, "usage") {
            self.usage = Some(u.clone());
        }
        token
    }

    /// What was received, as a reply (`name` is the stream's fixed name).
    pub(crate) fn reply(&self, p: &CapturePolicy, name: &str) -> ReplyView {
        let mut view = ReplyView {
            model: self.model.clone(),
            name: name.to_string(),
            ..Default::default()
        };
        let mut out = Map::new();
        if p.output {
            out.insert("content".into(), self.content.clone().into());
            view.dropped = self.dropped;
        }
        if !self.calls.is_empty() {
            let calls: Vec<Value> = self
                .calls
                .values()
                .map(|b| {
                    json!({"id": b.id, "type": b.kind,
                           "function": {"name": b.name, "arguments": b.arguments}})
                })
                .collect();
            for b in self.calls.values().filter(|b| !b.id.is_empty()) {
                view.calls.push(ProposedCall {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    arguments: Value::String(b.arguments.clone()),
                });
            }
            out.insert(
                "tool_calls".into(),
                calls.iter().map(|c| filter::output_call(c, p)).collect(),
            );
        }
        if !out.is_empty() {
            view.output = Some(Value::Object(out));
        }
        if let Some(t) = &self.tier {
            view.attrs.push(("service_tier", t.clone().into()));
        }
        if let Some(f) = &self.finish {
            view.attrs.push(("stop_reason", f.clone().into()));
        }
        if let Some(id) = &self.id {
            view.attrs.push(("response_id", id.clone().into()));
        }
        if let Some(u) = &self.usage {
            // Unlike the Python SDK, streams keep the cache breakdown too.
            usage(u, &mut view, true);
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_call_fragments_are_joined_by_index() {
        let mut acc = ChatAcc::default();
        let chunks = [
            json!({"id": "x", "model": "m", "choices": [{"delta": {"role": "assistant", "content": ""}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{"}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 1, "function": {"arguments": "}"}}]}}]}),
            json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}),
        ];
        assert!(
            chunks.iter().all(|c| !acc.chunk(c, Keep::default())),
            "no content: no TTFT"
        );
        let v = acc.reply(&CapturePolicy::ALL_ON, "s");
        let out = v.output.expect("output");
        assert_eq!(out["tool_calls"][0]["id"], "a");
        assert_eq!(out["tool_calls"][1]["function"]["arguments"], "{}");
        assert_eq!(v.calls.len(), 2);
    }

    /// A stream that keeps opening calls keeps the first `MAX_CALLS` of them, and the
    /// deltas of those still arrive.
    #[test]
    fn a_stream_keeps_at_most_max_calls() {
        use super::super::keep::MAX_CALLS;
        let mut acc = ChatAcc::default();
        let call = |i: usize, args: &str| json!({"choices": [{"delta": {"tool_calls": [{"index": i, "id": format!("c{i}"), "function": {"name": "f", "arguments": args}}]}}]});
        for i in 0..MAX_CALLS + 500 {
            acc.chunk(&call(i, "{"), Keep::default());
        }
        acc.chunk(&call(7, "}"), Keep::default());
        let v = acc.reply(&CapturePolicy::ALL_ON, "s");
        assert_eq!(v.calls.len(), MAX_CALLS);
        let out = v.output.expect("output");
        assert_eq!(out["tool_calls"][7]["function"]["arguments"], "{}");
        assert_eq!(
            out["tool_calls"][MAX_CALLS - 1]["id"],
            format!("c{}", MAX_CALLS - 1)
        );
    }
}

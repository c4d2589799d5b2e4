//! OpenAI Responses bodies: the request (instructions + input shown as chat messages),
//! the reply (its `output` items), and the accumulation of a streamed reply's events.

use super::filter;
use super::keep::{room_for_call, ArgumentsKept, Keep};
use super::view::{
    count, count_at, nonempty_array, nonempty_at, present, str_at, tool_list, ProposedCall,
    ReplyView, RequestParts, RequestView,
};
use serde_json::{json, Map, Value};
use staso_types::CapturePolicy;
use std::collections::BTreeMap;

/// Reads a request body.
pub(crate) fn request(req: &Value, p: &CapturePolicy) -> RequestView {
    let results = req
        .get("input")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| str_at(i, "type") == Some("function_call_output"))
        .filter_map(|i| nonempty_at(i, "call_id").map(str::to_string))
        .collect();
    let parts = RequestParts {
        system: None,
        tools: req.get("tools").filter(|t| nonempty_array(t)),
        messages: filter::chat_messages(&as_messages(req), p),
        sampling: &[
            ("temperature", "temperature"),
            ("max_output_tokens", "max_tokens"),
            ("top_p", "top_p"),
            ("service_tier", "service_tier"),
        ],
        tool_use: &[("tool_choice", "tool_choice"), ("text", "response_format")],
        reasoning_effort: req
            .pointer("/reasoning/effort")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| nonempty_at(req, "reasoning_effort"))
            .unwrap_or_default(),
        results,
    };
    RequestView::read(req, p, parts)
}

/// `instructions` and `input` as a chat-style message list (display only).
fn as_messages(req: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(i) = str_at(req, "instructions").filter(|s| !s.trim().is_empty()) {
        out.push(json!({"role": "system", "content": i}));
    }
    match req.get("input") {
        Some(Value::String(s)) => out.push(json!({"role": "user", "content": s})),
        Some(Value::Array(items)) => out.extend(items.iter().cloned()),
        _ => {}
    }
    out
}

/// The concatenated assistant text of `message` items.
fn output_text(resp: &Value) -> String {
    let mut text = String::new();
    for item in items(resp) {
        if str_at(item, "type") != Some("message") {
            continue;
        }
        for part in item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match str_at(part, "type") {
                Some("output_text") | Some("text") => {
                    text.push_str(str_at(part, "text").unwrap_or_default())
                }
                Some("refusal") => text.push_str(str_at(part, "refusal").unwrap_or_default()),
                _ => {}
            }
        }
    }
    text
}

fn items(resp: &Value) -> impl Iterator<Item = &Value> {
    resp.get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Reads a Response object (a reply body, or the one a stream's terminal event carries).
pub(crate) fn reply(resp: &Value, p: &CapturePolicy) -> ReplyView {
    let mut view = ReplyView::openai(resp);
    let mut out = Map::new();
    out.insert("role".into(), "assistant".into());
    if p.output {
        out.insert("content".into(), output_text(resp).into());
    }
    let calls: Vec<&Value> = items(resp)
        .filter(|i| str_at(i, "type") == Some("function_call"))
        .collect();
    let mut names = Vec::new();
    let mut message = false;
    for i in items(resp) {
        if str_at(i, "type") == Some("message") {
            message = true;
        }
    }
    if !calls.is_empty() {
        out.insert(
            "tool_calls".into(),
            calls.iter().map(|c| filter::output_call(c, p)).collect(),
        );
        for c in &calls {
            let name = nonempty_at(c, "name");
            names.push(name.unwrap_or("?"));
            let id = nonempty_at(c, "call_id").or_else(|| nonempty_at(c, "id"));
            if let (Some(id), Some(name)) = (id, name) {
                view.calls.push(ProposedCall {
                    id: id.to_string(),
                    name: name.to_string(),
                    arguments: c.get("arguments").cloned().unwrap_or(Value::Null),
                });
            }
        }
    }
    view.output = Some(Value::Object(out));
    let status = nonempty_at(resp, "status");
    if let Some(s) = status {
        view.attrs.push(("stop_reason", s.into()));
    }
    if let Some(id) = nonempty_at(resp, "id") {
        view.attrs.push(("response_id", id.into()));
    }
    if let Some(u) = present(resp, "usage") {
        let (i, o) = (count_at(u, "input_tokens"), count_at(u, "output_tokens"));
        let t = u.get("total_tokens").and_then(count).unwrap_or(i + o);
        view.usage = Some((i, o, t));
        if let Some(r) = u
            .pointer("/output_tokens_details/reasoning_tokens")
            .and_then(count)
            .filter(|r| *r > 0)
        {
            view.attrs.push(("reasoning_tokens", r.into()));
        }
        if let Some(d) = present(u, "input_tokens_details").filter(|d| d.is_object()) {
            if let Some(c) = present(d, "cached_tokens") {
                view.attrs.push(("cache_read_input_tokens", c.clone()));
            }
            if let Some(w) = present(d, "cache_write_tokens") {
                view.attrs.push(("cache_write_input_tokens", w.clone()));
            }
        }
    }
    view.name = if !names.is_empty() {
        tool_list("response:tool_calls", &names)
    } else if message || status == Some("completed") {
        "response:reply".into()
    } else if let Some(s) = status {
        format!("response:{s}")
    } else {
        "response".into()
    };
    view
}

/// A streamed Responses reply, event by event.
#[derive(Debug, Default)]
pub(crate) struct ResponsesAcc {
    /// Bytes of `text` not kept.
    dropped: usize,
    /// The Response a terminal event carried: captured like a non-streaming reply.
    last: Option<Value>,
    text: String,
    /// Function calls seen before any terminal event, by output index.
    calls: BTreeMap<u64, Value>,
    arguments: ArgumentsKept,
    model: Option<String>,
    id: Option<String>,
}

impl ResponsesAcc {
    /// Takes one event; true when it carries the first token (text or arguments delta).
    pub(crate) fn event(&mut self, e: &Value, keep: Keep) -> bool {
        let ty = str_at(e, "type").unwrap_or_default();
        match ty {
            "response.output_text.delta" => {
                let delta = str_at(e, "delta").unwrap_or_default();
                self.dropped += keep.push(&mut self.text, delta);
                true
            }
            "response.function_call_arguments.delta" => {
                let index = e.get("output_index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(item) = self.calls.get_mut(&index).and_then(Value::as_object_mut) {
                    let args = item
                        .entry("arguments")
                        .or_insert_with(|| Value::String(String::new()));
                    if let Value::String(s) = args {
                        self.arguments
                            .push(s, str_at(e, "delta").unwrap_or_default());
                    }
                }
                true
            }
            "response.output_item.added" | "response.output_item.done" => {
                if let Some(item) = e
                    .get("item")
                    .filter(|i| str_at(i, "type") == Some("function_call"))
                {
                    let index = e.get("output_index").and_then(Value::as_u64).unwrap_or(0);
                    if room_for_call(&self.calls, index) {
                        // The arguments the deltas brought, or all of them again: kept once.
                        let before = self.calls.get(&index).and_then(|c| str_at(c, "arguments"));
                        let before = before.map_or(0, str::len);
                        let mut item = item.clone();
                        if let Some(Value::String(args)) = item.get_mut("arguments") {
                            self.arguments.replace(before, args);
                        }
                        self.calls.insert(index, item);
                    }
                }
                false
            }
            "response.created" | "response.in_progress" => {
                if let Some(r) = e.get("response") {
                    self.model = nonempty_at(r, "model").map(str::to_string);
                    self.id = nonempty_at(r, "id").map(str::to_string);
                }
                false
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.last = e.get("response").cloned();
                false
            }
            _ => false,
        }
    }

    /// What was received, as a reply (`name` is the stream's fixed name).
    pub(crate) fn reply(&self, p: &CapturePolicy, name: &str) -> ReplyView {
        let mut view = match &self.last {
            Some(r) => reply(r, p),
            None => {
                // No terminal event (the consumer stopped early, or the stream failed):
                // what the deltas brought. The Python SDK keeps the text only.
                let mut synthetic = json!({"output": []});
                if let Some(items) = synthetic["output"].as_array_mut() {
                    items.push(json!({"type": "message", "content": [
                        {"type": "output_text", "text": self.text}]}));
                    items.extend(self.calls.values().cloned());
                }
                let mut v = reply(&synthetic, p);
                if p.output {
                    v.dropped = self.dropped;
                }
                v.model = self.model.clone();
                if let Some(id) = &self.id {
                    v.attrs.push(("response_id", id.clone().into()));
                }
                v
            }
        };
        view.name = name.to_string();
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call's arguments arrive as deltas, then whole again in its `done` item: the reply
    /// of a stream that stopped before its terminal event has them once.
    #[test]
    fn a_call_repeated_whole_after_its_deltas_is_kept_once() {
        let mut acc = ResponsesAcc::default();
        let item = |args: &str| json!({"type": "function_call", "call_id": "c1", "name": "f", "arguments": args});
        let events = [
            json!({"type": "response.output_item.added", "output_index": 0, "item": item("")}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{\"a\":"}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "1}"}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": item("{\"a\":1}")}),
        ];
        for e in &events {
            acc.event(e, Keep::default());
        }
        let v = acc.reply(&CapturePolicy::ALL_ON, "s");
        assert_eq!(v.calls.len(), 1);
        let out = v.output.expect("output");
        assert_eq!(out["tool_calls"][0]["arguments"], "{\"a\":1}", "{out}");
    }
}

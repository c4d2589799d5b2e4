//! Anthropic Messages bodies: the request, the reply (content blocks), and the
//! accumulation of a raw event stream.

use super::filter;
use super::keep::{room_for_call, ArgumentsKept, Keep};
use super::view::{
    count, count_at, nonempty_array, nonempty_at, present, str_at, tool_list, ProposedCall,
    ReplyView, RequestParts, RequestView,
};
use serde_json::{json, Map, Value};
use staso_types::CapturePolicy;
use std::collections::BTreeMap;

/// Stop reasons that end a turn (the reply is then named `chat:reply`).
const TERMINAL: [&str; 3] = ["end_turn", "stop_sequence", "max_tokens"];

/// Reads a request body.
pub(crate) fn request(req: &Value, p: &CapturePolicy) -> RequestView {
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .map(|m| filter::anthropic_messages(m, p))
        .unwrap_or_default();
    let parts = RequestParts {
        system: present(req, "system").filter(|_| p.system_prompt),
        tools: req.get("tools").filter(|t| nonempty_array(t)),
        messages,
        sampling: &[
            ("temperature", "temperature"),
            ("max_tokens", "max_tokens"),
            ("top_p", "top_p"),
            ("top_k", "top_k"),
            ("stop_sequences", "stop_sequences"),
            ("thinking", "thinking"),
        ],
        tool_use: &[("tool_choice", "tool_choice")],
        reasoning_effort: req
            .pointer("/output_config/effort")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        results: tool_results(req),
    };
    RequestView::read(req, p, parts)
}

/// The `tool_result` ids of the last message, when it is the user's.
fn tool_results(req: &Value) -> Vec<String> {
    let Some(last) = req
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
    else {
        return Vec::new();
    };
    if str_at(last, "role") != Some("user") {
        return Vec::new();
    }
    last.get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|b| str_at(b, "type") == Some("tool_result"))
        .filter_map(|b| nonempty_at(b, "tool_use_id").map(str::to_string))
        .collect()
}

/// Reads a Message (a reply body).
pub(crate) fn reply(resp: &Value, p: &CapturePolicy) -> ReplyView {
    let blocks: Vec<Value> = resp
        .get("content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut view = content_view(&blocks, p);
    view.model = nonempty_at(resp, "model").map(str::to_string);
    let stop = nonempty_at(resp, "stop_reason");
    if let Some(s) = stop {
        view.attrs.push(("stop_reason", s.into()));
    }
    if let Some(id) = nonempty_at(resp, "id") {
        view.attrs.push(("response_id", id.into()));
    }
    if let Some(u) = present(resp, "usage") {
        usage(
            u,
            &mut view.usage,
            &mut view.attrs,
            count_at(u, "output_tokens"),
        );
    }
    if blocks.iter().any(|b| str_at(b, "type") == Some("thinking")) {
        view.attrs.push(("has_thinking", true.into()));
    }
    let names: Vec<&str> = blocks
        .iter()
        .filter(|b| str_at(b, "type") == Some("tool_use"))
        .map(|b| nonempty_at(b, "name").unwrap_or("?"))
        .collect();
    view.name = match stop {
        Some("tool_use") if !names.is_empty() => tool_list("chat:tool_use", &names),
        Some(s) if TERMINAL.contains(&s) => "chat:reply".into(),
        Some(s) => format!("chat:{s}"),
        None => "chat".into(),
    };
    view
}

/// The output and proposed calls of a list of content blocks: `tool_use` blocks always
/// (without input unless arguments and output are captured), others only with `output`.
fn content_view(blocks: &[Value], p: &CapturePolicy) -> ReplyView {
    let mut view = ReplyView::default();
    let mut kept = Vec::new();
    for b in blocks {
        if str_at(b, "type") == Some("tool_use") {
            kept.push(filter::tool_use_block(b, p));
            if let (Some(id), Some(name)) = (nonempty_at(b, "id"), nonempty_at(b, "name")) {
                view.calls.push(ProposedCall {
                    id: id.to_string(),
                    name: name.to_string(),
                    arguments: b.get("input").cloned().unwrap_or(Value::Null),
                });
            }
        } else if p.output {
            kept.push(b.clone());
        }
    }
    if !kept.is_empty() {
        view.output = Some(json!({ "content": kept }));
    }
    view
}

/// Usage: input and `output` tokens, total their sum (cache tokens not added); cache
/// reads and writes when above 0, with the 5-minute / 1-hour split of writes.
fn usage(
    u: &Value,
    out: &mut Option<(u64, u64, u64)>,
    attrs: &mut Vec<(&'static str, Value)>,
    output_tokens: u64,
) {
    let input = count_at(u, "input_tokens");
    *out = Some((input, output_tokens, input + output_tokens));
    if let Some(r) = u
        .get("cache_read_input_tokens")
        .and_then(count)
        .filter(|r| *r > 0)
    {
        attrs.push(("cache_read_input_tokens", r.into()));
    }
    if let Some(c) = u
        .get("cache_creation_input_tokens")
        .and_then(count)
        .filter(|c| *c > 0)
    {
        attrs.push(("cache_creation_input_tokens", c.into()));
        if let Some(split) = present(u, "cache_creation") {
            for (field, key) in [
                ("ephemeral_5m_input_tokens", "cache_write_5m_input_tokens"),
                ("ephemeral_1h_input_tokens", "cache_write_1h_input_tokens"),
            ] {
                if let Some(v) = present(split, field) {
                    attrs.push((key, v.clone()));
                }
            }
        }
    }
}

/// One content block being assembled from stream events.
#[derive(Debug)]
struct Block {
    block: Map<String, Value>,
    /// `input_json_delta` fragments of a `tool_use` block.
    json: String,
}

/// A raw Anthropic event stream, event by event. Unlike the Python SDK, `tool_use` blocks
/// keep their id, name and input, and blocks cut short by an early end are kept.
#[derive(Debug, Default)]
pub(crate) struct AnthropicAcc {
    /// Bytes of the blocks' text not kept.
    dropped: usize,
    id: Option<String>,
    model: Option<String>,
    start_usage: Option<Value>,
    output_tokens: Option<u64>,
    stop: Option<String>,
    blocks: BTreeMap<u64, Block>,
    arguments: ArgumentsKept,
}

impl AnthropicAcc {
    /// Takes one event; true for a `content_block_delta` (time to first token).
    pub(crate) fn event(&mut self, e: &Value, keep: Keep) -> bool {
        let index = e.get("index").and_then(Value::as_u64).unwrap_or(0);
        match str_at(e, "type").unwrap_or_default() {
            "message_start" => {
                if let Some(m) = e.get("message") {
                    self.id = nonempty_at(m, "id").map(str::to_string);
                    self.model = nonempty_at(m, "model").map(str::to_string);
                    self.start_usage = present(m, "usage").cloned();
                }
                false
            }
            "content_block_start" => {
                let mut block = e
                    .get("content_block")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    // The input arrives as JSON fragments; the start carries `{}`.
                    block.remove("input");
                }
                if !room_for_call(&self.blocks, index) {
                    return false;
                }
                self.blocks.insert(
                    index,
                    Block {
                        block,
                        json: String::new(),
                    },
                );
                false
            }
            "content_block_delta" => {
                if let (Some(b), Some(d)) = (self.blocks.get_mut(&index), e.get("delta")) {
                    let append = |m: &mut Map<String, Value>, key: &str, piece: &str| {
                        let slot = m.entry(key).or_insert_with(|| Value::String(String::new()));
                        match slot {
                            Value::String(s) => keep.push(s, piece),
                            _ => 0,
                        }
                    };
                    self.dropped += match str_at(d, "type").unwrap_or_default() {
                        "text_delta" => {
                            append(&mut b.block, "text", str_at(d, "text").unwrap_or(""))
                        }
                        "thinking_delta" => append(
                            &mut b.block,
                            "thinking",
                            str_at(d, "thinking").unwrap_or(""),
                        ),
                        "signature_delta" => append(
                            &mut b.block,
                            "signature",
                            str_at(d, "signature").unwrap_or(""),
                        ),
                        "input_json_delta" => {
                            self.arguments
                                .push(&mut b.json, str_at(d, "partial_json").unwrap_or(""));
                            0
                        }
                        _ => 0,
                    };
                }
                true
            }
            "message_delta" => {
                if let Some(s) = e.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop = Some(s.to_string());
                }
                if let Some(o) = e.pointer("/usage/output_tokens").and_then(count) {
                    self.output_tokens = Some(o);
                }
                false
            }
            _ => false,
        }
    }

    /// What was received, as a reply (`name` is the stream's fixed name).
    pub(crate) fn reply(&self, p: &CapturePolicy, name: &str) -> ReplyView {
        let blocks: Vec<Value> = self
            .blocks
            .values()
            .map(|b| {
                let mut m = b.block.clone();
                if m.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let input = if b.json.trim().is_empty() {
                        Value::Object(Map::new())
                    } else {
                        serde_json::from_str(&b.json)
                            .unwrap_or_else(|_| Value::String(b.json.clone()))
                    };
                    m.insert("input".into(), input);
                }
                Value::Object(m)
            })
            .collect();
        let mut view = content_view(&blocks, p);
        if p.output {
            view.dropped = self.dropped;
        }
        view.name = name.to_string();
        view.model = self.model.clone();
        if let Some(s) = &self.stop {
            view.attrs.push(("stop_reason", s.clone().into()));
        }
        if let Some(id) = &self.id {
            view.attrs.push(("response_id", id.clone().into()));
        }
        let started = self.start_usage.as_ref();
        match (started, self.output_tokens) {
            (Some(u), out) => {
                usage(u, &mut view.usage, &mut view.attrs, out.unwrap_or(0));
            }
            (None, Some(out)) => view.usage = Some((0, out, out)),
            (None, None) => {}
        }
        if blocks.iter().any(|b| str_at(b, "type") == Some("thinking")) {
            view.attrs.push(("has_thinking", true.into()));
        }
        view
    }
}

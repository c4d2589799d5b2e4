//! The `conversation_history` of a guard request for tool calls an LLM proposed: the
//! messages of the LLM span's captured request, normalised to `{role, content}` text and
//! bounded (at most 24 messages, 24 000 characters in all, 6 000 per message; the first
//! and the last user message always kept). It never collects anything the span did not
//! capture.

// Called by the post-reply hook of the LLM integrations (and the tests until they land).
#![cfg_attr(not(test), allow(dead_code))]

use serde_json::{json, Map, Value};
use staso_types::CapturePolicy;

const MAX_MESSAGES: usize = 24;
const MAX_CONTENT: usize = 24_000;
const MAX_MESSAGE: usize = 6_000;
const TRUNCATED: &str = "\n[...truncated...]\n";
const ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool"];
const TEXT_TYPES: &[&str] = &["text", "input_text", "output_text"];

type Message = (String, String);

/// Python's `json.dumps(value, ensure_ascii=False)` (", " and ": " separators), keys in
/// sorted order whatever serde_json's `preserve_order` feature says (another crate of the
/// program may turn it on), depth-bounded like every walk over user values.
fn json_text(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, &mut out, 0);
    out
}

/// Deeper than this a value is written as a placeholder (capture bounds depth at 64 too).
const MAX_DEPTH: usize = 64;

fn write_py(v: &Value, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("\"[too deep]\"");
        return;
    }
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(x, out, depth + 1);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                write_py(x, out, depth + 1);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Text of a content value: a string, or the text blocks of a list (anything else is
/// left out and reported).
fn text_content(v: Option<&Value>) -> (String, bool) {
    match v {
        None | Some(Value::Null) => (String::new(), false),
        Some(Value::String(s)) => (s.clone(), false),
        Some(Value::Array(blocks)) => {
            let mut text = Vec::new();
            let mut omitted = false;
            for b in blocks {
                let is_text = b
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| TEXT_TYPES.contains(&t));
                match (is_text, b.get("text").and_then(Value::as_str)) {
                    (true, Some(t)) => text.push(t.to_string()),
                    _ => omitted = true,
                }
            }
            (text.join("\n"), omitted)
        }
        Some(_) => (String::new(), true),
    }
}

/// A tool result's text, with the ids that tie it to its call.
fn tool_result(m: &Map<String, Value>) -> (String, bool) {
    let value = if m.contains_key("output") {
        m.get("output")
    } else {
        m.get("content")
    };
    let (text, omitted) = match value {
        Some(v @ Value::Object(_)) => (json_text(v), false),
        other => text_content(other),
    };
    if text.is_empty() {
        return (String::new(), omitted);
    }
    let mut ids = Map::new();
    for k in ["tool_use_id", "tool_call_id", "call_id", "name"] {
        if let Some(Value::String(s)) = m.get(k) {
            ids.insert(k.into(), Value::String(s.clone()));
        }
    }
    if ids.is_empty() {
        return (text, omitted);
    }
    ids.insert("output".into(), Value::String(text));
    (json_text(&Value::Object(ids)), omitted)
}

fn pick(m: &Map<String, Value>, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .filter_map(|k| m.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect(),
    )
}

/// One captured message as `{role, content}` records.
fn normalize(message: &Value) -> (Vec<Message>, bool) {
    let Some(m) = message.as_object() else {
        return (Vec::new(), true);
    };
    let role = m.get("role").and_then(Value::as_str);
    let item_type = m.get("type").and_then(Value::as_str);
    if role == Some("tool") || item_type == Some("function_call_output") {
        let (text, omitted) = tool_result(m);
        let out = if text.is_empty() {
            vec![]
        } else {
            vec![("tool".to_string(), text)]
        };
        return (out, omitted);
    }
    if item_type == Some("function_call") {
        let text = json_text(&pick(m, &["type", "call_id", "name", "arguments"]));
        return (vec![("assistant".to_string(), text)], false);
    }
    let Some(role) = role.filter(|r| ROLES.contains(r)) else {
        return (Vec::new(), true);
    };
    let content = m.get("content");
    let blocks: Vec<Value> = match content {
        Some(Value::Array(b)) => b.clone(),
        other => vec![json!({"type": "text", "text": other.cloned().unwrap_or(Value::Null)})],
    };
    let mut out: Vec<Message> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut omitted = false;
    for block in &blocks {
        let block_type = block.get("type").and_then(Value::as_str);
        if block_type == Some("tool_result")
            || (role == "assistant" && block_type == Some("tool_use"))
        {
            if !pending.is_empty() {
                out.push((role.to_string(), pending.join("\n")));
                pending.clear();
            }
            let (text, block_role) = match (block_type, block.as_object()) {
                (Some("tool_result"), Some(b)) => {
                    let (t, failed) = tool_result(b);
                    omitted |= failed;
                    (t, "tool")
                }
                (_, Some(b)) => (
                    json_text(&pick(b, &["type", "id", "name", "input"])),
                    "assistant",
                ),
                _ => (String::new(), "assistant"),
            };
            if !text.is_empty() {
                out.push((block_role.to_string(), text));
            }
        } else if block_type.is_some_and(|t| TEXT_TYPES.contains(&t))
            && block.get("text").is_some_and(Value::is_string)
        {
            if let Some(t) = block
                .get("text")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                pending.push(t.to_string());
            }
        } else if content.is_some_and(|c| !c.is_null()) {
            omitted = true;
        }
    }
    if !pending.is_empty() {
        out.push((role.to_string(), pending.join("\n")));
    }
    if role == "assistant" {
        if let Some(calls) = m.get("tool_calls").filter(|c| match c {
            Value::Array(a) => !a.is_empty(),
            Value::Null | Value::Bool(false) => false,
            _ => true,
        }) {
            let mut wrapper = Map::new();
            wrapper.insert("tool_calls".into(), calls.clone());
            out.push(("assistant".into(), json_text(&Value::Object(wrapper))));
        }
    }
    (out, omitted)
}

/// At most `limit` characters: the head and tail around a truncation marker.
fn shorten(text: &str, limit: usize) -> String {
    let n = text.chars().count();
    if n <= limit {
        return text.to_string();
    }
    let marker = TRUNCATED.chars().count();
    if limit < marker + 2 {
        return String::new();
    }
    let remaining = limit - marker;
    let head = remaining / 2;
    let tail = remaining - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{start}{TRUNCATED}{end}")
}

/// The history and its status, from already-captured messages.
pub(crate) fn build(messages: &[Value], suppressed: bool) -> (Value, Value) {
    let mut normalized: Vec<Message> = Vec::new();
    let mut truncated = false;
    for m in messages {
        let (records, omitted) = normalize(m);
        normalized.extend(records);
        truncated |= omitted;
    }
    let users: Vec<usize> = normalized
        .iter()
        .enumerate()
        .filter(|(_, m)| m.0 == "user")
        .map(|(i, _)| i)
        .collect();
    let mut priority: Vec<usize> = Vec::new();
    for i in users
        .first()
        .into_iter()
        .chain(users.last())
        .copied()
        .chain((0..normalized.len()).rev())
    {
        if !priority.contains(&i) {
            priority.push(i);
        }
    }
    let mut selected: Vec<(usize, Message)> = Vec::new();
    let mut remaining = MAX_CONTENT;
    let marker = TRUNCATED.chars().count();
    for i in priority {
        if selected.len() == MAX_MESSAGES || remaining <= marker {
            break;
        }
        let (role, content) = &normalized[i];
        let short = shorten(content, MAX_MESSAGE.min(remaining));
        truncated |= short != *content;
        if !short.is_empty() {
            remaining -= short.chars().count();
            selected.push((i, (role.clone(), short)));
        }
    }
    truncated |= selected.len() < normalized.len();
    selected.sort_by_key(|(i, _)| *i);
    let history: Vec<Value> = selected
        .into_iter()
        .map(|(_, (role, content))| json!({"role": role, "content": content}))
        .collect();
    let status = json!({
        "source": "sdk_request",
        "complete": false,
        "truncated": truncated,
        "suppressed": suppressed,
    });
    (Value::Array(history), status)
}

/// The messages of an LLM span's captured request that its capture policy lets a guard
/// request carry: a system prompt first (Anthropic's `system`), then `messages`.
pub(crate) fn messages_of(input: Option<&Value>, policy: &CapturePolicy) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(input) = input.filter(|_| policy.request) else {
        return out;
    };
    if policy.system_prompt {
        if let Some(system) = input.get("system").filter(|s| match s {
            Value::String(t) => !t.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Null => false,
            _ => true,
        }) {
            out.push(json!({"role": "system", "content": system}));
        }
    }
    if let Some(Value::Array(messages)) = input.get("messages") {
        for m in messages {
            let t = m.get("type").and_then(Value::as_str);
            if matches!(t, Some("function_call" | "function_call_output")) {
                if !policy.output {
                    continue;
                }
                if t == Some("function_call") && !policy.tool_arguments {
                    if let Value::Object(o) = m {
                        let mut o = o.clone();
                        o.remove("arguments");
                        o.remove("input");
                        out.push(Value::Object(o));
                        continue;
                    }
                }
            }
            out.push(m.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixtures_history() {
        // guard_block.guard.jsonl: the system prompt and the user's question.
        let input = json!({"model": "gpt-4o-mini", "messages": [
            {"role": "system", "content": "You are a weather assistant. Be brief."},
            {"role": "user", "content": "What is the weather in Paris?"}]});
        let msgs = messages_of(Some(&input), &CapturePolicy::default());
        let (h, status) = build(&msgs, false);
        assert_eq!(
            h,
            json!([{"role": "system", "content": "You are a weather assistant. Be brief."},
                   {"role": "user", "content": "What is the weather in Paris?"}])
        );
        assert_eq!(
            status,
            json!({"source": "sdk_request", "complete": false, "truncated": false, "suppressed": false})
        );
    }

    #[test]
    fn tool_turns_and_blocks_are_flattened_to_text() {
        let msgs = vec![
            json!({"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image", "x": 1}]}),
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c1"}]}),
            json!({"role": "tool", "tool_call_id": "c1", "content": "sunny"}),
            json!({"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "P"}}]}),
        ];
        let (h, status) = build(&msgs, false);
        assert_eq!(
            h,
            json!([
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "{\"tool_calls\": [{\"id\": \"c1\"}]}"},
                {"role": "tool", "content": "{\"output\": \"sunny\", \"tool_call_id\": \"c1\"}"},
                {"role": "assistant", "content": "{\"id\": \"t1\", \"input\": {\"city\": \"P\"}, \"name\": \"w\", \"type\": \"tool_use\"}"},
            ])
        );
        assert_eq!(status["truncated"], true, "the image block was left out");
    }

    #[test]
    fn bounds_keep_the_first_and_last_user_messages() {
        let mut msgs = vec![json!({"role": "user", "content": "first question"})];
        for i in 0..40 {
            msgs.push(json!({"role": "assistant", "content": format!("answer {i}")}));
        }
        msgs.push(json!({"role": "user", "content": "last question"}));
        let (h, status) = build(&msgs, false);
        let h = h.as_array().expect("list");
        assert_eq!(h.len(), MAX_MESSAGES);
        assert_eq!(h[0]["content"], "first question");
        assert_eq!(h[MAX_MESSAGES - 1]["content"], "last question");
        assert_eq!(status["truncated"], true);
        let long = "x".repeat(10_000);
        let (h, _) = build(&[json!({"role": "user", "content": long})], false);
        let c = h[0]["content"].as_str().expect("text");
        assert_eq!(c.chars().count(), MAX_MESSAGE);
        assert!(c.contains("[...truncated...]"));
    }
}

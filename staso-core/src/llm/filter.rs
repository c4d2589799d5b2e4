//! The capture categories applied to LLM content (§10 of the LLM contract), before the
//! span's input and output are built: which messages, blocks and tool-call arguments
//! may leave the process.

use serde_json::Value;
use staso_types::CapturePolicy;

/// Whether a chat or Responses message (or item) with `role` may be recorded: system and
/// developer prompts need `system_prompt`; assistant and tool messages (model output fed
/// back) need `output`; user messages and role-less items need `request`.
pub(crate) fn role_allowed(role: Option<&str>, p: &CapturePolicy) -> bool {
    match role {
        Some("system") | Some("developer") => p.system_prompt,
        Some("assistant") | Some("tool") => p.output,
        _ => p.request,
    }
}

/// Removes the arguments of a tool call (`function.arguments`, `arguments`, `input`),
/// keeping its id, type and name.
pub(crate) fn strip_arguments(call: &mut Value) {
    if let Some(m) = call.as_object_mut() {
        if let Some(f) = m.get_mut("function").and_then(Value::as_object_mut) {
            f.remove("arguments");
        }
        m.remove("arguments");
        m.remove("input");
    }
}

/// A proposed tool call as recorded in an output: arguments only when both `output` and
/// `tool_arguments` are captured.
pub(crate) fn output_call(call: &Value, p: &CapturePolicy) -> Value {
    let mut c = call.clone();
    if !(p.output && p.tool_arguments) {
        strip_arguments(&mut c);
    }
    c
}

/// The messages of a list kept for the input, copied: one that is not an object counts as
/// the user's (kept with `request`); `object` decides each other one (`None` drops it).
fn kept_messages(
    messages: &[Value],
    p: &CapturePolicy,
    object: impl FnMut(&Value) -> Option<Value>,
) -> Vec<Value> {
    let mut object = object;
    messages
        .iter()
        .filter_map(|m| {
            if m.is_object() {
                object(m)
            } else {
                p.request.then(|| m.clone())
            }
        })
        .collect()
}

/// Chat and Responses messages (items) kept for the input, copied.
pub(crate) fn chat_messages(messages: &[Value], p: &CapturePolicy) -> Vec<Value> {
    kept_messages(messages, p, |m| {
        if !role_allowed(m.get("role").and_then(Value::as_str), p) {
            return None;
        }
        let mut c = m.clone();
        if !p.tool_arguments {
            if let Some(calls) = c.get_mut("tool_calls").and_then(Value::as_array_mut) {
                calls.iter_mut().for_each(strip_arguments);
            }
        }
        Some(c)
    })
}

/// An Anthropic `tool_use` block as recorded: its `input` only when both `output` and
/// `tool_arguments` are captured.
pub(crate) fn tool_use_block(block: &Value, p: &CapturePolicy) -> Value {
    let mut b = block.clone();
    if !(p.output && p.tool_arguments) {
        if let Some(m) = b.as_object_mut() {
            m.remove("input");
        }
    }
    b
}

/// Anthropic messages kept for the input: a string content is the user's (`request`) or
/// the model's (`output`); in a block list, assistant blocks and `tool_result` blocks are
/// output, other user blocks are request. A message whose blocks all go is dropped.
pub(crate) fn anthropic_messages(messages: &[Value], p: &CapturePolicy) -> Vec<Value> {
    kept_messages(messages, p, |m| {
        let role = m.get("role").and_then(Value::as_str);
        let owner_allowed = if role == Some("user") {
            p.request
        } else {
            p.output
        };
        let Some(Value::Array(blocks)) = m.get("content") else {
            return owner_allowed.then(|| m.clone());
        };
        let mut kept = Vec::new();
        for b in blocks {
            let ty = b.get("type").and_then(Value::as_str);
            if !b.is_object() {
                if owner_allowed {
                    kept.push(b.clone());
                }
                continue;
            }
            let allowed = if role == Some("assistant") || ty == Some("tool_result") {
                p.output
            } else {
                p.request
            };
            if !allowed {
                continue;
            }
            kept.push(if ty == Some("tool_use") {
                tool_use_block(b, p)
            } else {
                b.clone()
            });
        }
        if kept.is_empty() {
            return None;
        }
        let mut c = m.clone();
        if let Some(o) = c.as_object_mut() {
            o.insert("content".into(), Value::Array(kept));
        }
        Some(c)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(off: &str) -> CapturePolicy {
        let mut p = CapturePolicy::ALL_ON;
        match off {
            "request" => p.request = false,
            "system_prompt" => p.system_prompt = false,
            "tool_schema" => p.tool_schema = false,
            "tool_arguments" => p.tool_arguments = false,
            "output" => p.output = false,
            _ => {}
        }
        p
    }

    fn loop_messages() -> Vec<Value> {
        vec![
            json!({"role": "system", "content": "S"}),
            json!({"role": "user", "content": "U"}),
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
            json!({"role": "tool", "tool_call_id": "c1", "content": "R"}),
        ]
    }

    fn roles(v: &[Value]) -> Vec<&str> {
        v.iter()
            .map(|m| m["role"].as_str().unwrap_or("?"))
            .collect()
    }

    #[test]
    fn each_category_removes_its_chat_messages() {
        let m = loop_messages();
        assert_eq!(
            roles(&chat_messages(&m, &policy(""))),
            ["system", "user", "assistant", "tool"]
        );
        assert_eq!(
            roles(&chat_messages(&m, &policy("request"))),
            ["system", "assistant", "tool"]
        );
        assert_eq!(
            roles(&chat_messages(&m, &policy("system_prompt"))),
            ["user", "assistant", "tool"]
        );
        assert_eq!(
            roles(&chat_messages(&m, &policy("output"))),
            ["system", "user"]
        );
        let no_args = chat_messages(&m, &policy("tool_arguments"));
        assert_eq!(
            no_args[2]["tool_calls"][0],
            json!({"id": "c1", "type": "function", "function": {"name": "f"}})
        );
    }

    #[test]
    fn anthropic_blocks_follow_their_owner() {
        let m = vec![
            json!({"role": "user", "content": "U"}),
            json!({"role": "assistant", "content": [{"type": "text", "text": "T"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]}),
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "R"}]}),
        ];
        let req_off = anthropic_messages(&m, &policy("request"));
        assert_eq!(req_off.len(), 2, "{req_off:?}");
        let out_off = anthropic_messages(&m, &policy("output"));
        assert_eq!(out_off, vec![json!({"role": "user", "content": "U"})]);
        let args_off = anthropic_messages(&m, &policy("tool_arguments"));
        assert_eq!(
            args_off[1]["content"][1],
            json!({"type": "tool_use", "id": "t1", "name": "f"})
        );
    }
}

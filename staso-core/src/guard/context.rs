//! The `context` object of a guard request: defaults from the configuration, then the
//! ambient identity (agent, conversation, user), then the caller's keys, then the current
//! trace, span and session, which the caller cannot override. The capture boundary then
//! cuts it down to what the capture policy lets leave the process.

use crate::config::Config;
use crate::local::context::Ctx;
use crate::local::record::SpanRecord;
use serde_json::{json, Map, Value};
use staso_types::CapturePolicy;

/// What the place a check is made from knows: read on the caller's thread.
#[derive(Debug, Default, Clone)]
pub(crate) struct Ambient {
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub session_id: Option<String>,
    pub agent_name: Option<String>,
    pub agent_id: Option<String>,
    pub user_id: Option<String>,
}

impl Ambient {
    /// From the context a span started now would inherit. `spans` is the configuration
    /// spans are recorded under (a test capture's, else the client's): inside a span the
    /// session and agent default to its values, as the span's own would.
    pub(crate) fn of(ctx: &Ctx, spans: Option<&Config>) -> Ambient {
        let conv = ctx.conversation.as_deref();
        let mut a = Ambient {
            session_id: conv.map(|c| c.session_id.clone()),
            user_id: conv.and_then(|c| c.user_id.clone()),
            agent_name: ctx.agent.as_ref().map(|a| a.as_str().to_string()),
            ..Ambient::default()
        };
        if let Some((trace, span)) = ctx.link {
            a.trace_id = Some(trace.to_string());
            a.span_id = Some(span.to_string());
            if let Some(cfg) = spans {
                a.session_id.get_or_insert_with(|| cfg.session_id.clone());
                a.agent_name.get_or_insert_with(|| cfg.agent_name.clone());
                a.agent_id = Some(cfg.agent_id.clone());
            }
        }
        a
    }

    /// The context of an LLM span's tool calls: that span (its context and record) is
    /// the current one.
    pub(crate) fn of_span(ctx: &Ctx, record: &SpanRecord, spans: Option<&Config>) -> Ambient {
        let mut inner = crate::local::context::Parent::span(ctx, record).to_ctx();
        inner.link = Some((record.trace_id, record.span_id));
        Ambient::of(&inner, spans)
    }
}

/// A value the caller's context drops: `null` and `""`.
fn is_blank(v: &Value) -> bool {
    matches!(v, Value::Null) || v.as_str() == Some("")
}

/// Layers 1 to 4 of the context (later layers win).
pub(crate) fn assemble(
    cfg: Option<&Config>,
    ambient: &Ambient,
    caller: &Map<String, Value>,
) -> Map<String, Value> {
    let mut ctx = Map::new();
    let put = |m: &mut Map<String, Value>, k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            m.insert(k.to_string(), Value::String(v.to_string()));
        }
    };
    if let Some(cfg) = cfg {
        let agent_id = if cfg.agent_name.is_empty() {
            ""
        } else {
            cfg.agent_id.as_str()
        };
        put(&mut ctx, "agent_id", Some(agent_id));
        put(&mut ctx, "agent_name", Some(&cfg.agent_name));
        put(&mut ctx, "environment", Some(&cfg.environment));
        put(&mut ctx, "workspace_id", Some(&cfg.workspace_slug));
    }
    put(&mut ctx, "agent_name", ambient.agent_name.as_deref());
    put(&mut ctx, "agent_id", ambient.agent_id.as_deref());
    put(&mut ctx, "user_id", ambient.user_id.as_deref());
    for (k, v) in caller {
        if !is_blank(v) {
            ctx.insert(k.clone(), v.clone());
        }
    }
    put(&mut ctx, "trace_id", ambient.trace_id.as_deref());
    put(&mut ctx, "span_id", ambient.span_id.as_deref());
    put(&mut ctx, "session_id", ambient.session_id.as_deref());
    ctx
}

/// The keys that survive when a capture category is off.
const IDENTITY_KEYS: &[&str] = &[
    "trace_id",
    "span_id",
    "session_id",
    "agent_id",
    "agent_name",
    "user_id",
    "environment",
    "workspace_id",
    "invocation_id",
];

/// The evidence of a check whose arguments the SDK did not parse itself (a manual check,
/// a tool attribute): `unavailable`, schema `unavailable` (or `suppressed`).
pub(crate) fn manual_evidence(tool_name: &str, policy: &CapturePolicy) -> Value {
    json!({
        "version": 1,
        "tool_name": tool_name,
        "arguments": {
            "status": if policy.tool_arguments { "unavailable" } else { "suppressed" },
            "complete": false,
        },
        "schema": {"status": if policy.tool_schema { "unavailable" } else { "suppressed" }},
    })
}

/// The capture boundary: what of `tool_input` and `context` may be sent under `policy`.
/// Adds `tool_call_evidence` (kept from `context` when it names this tool) and
/// `context_availability`. `history_filtered`: the context's `conversation_history` was
/// built by the SDK from a request captured under this same policy (an LLM span's), so its
/// assistant turns have already lost what the policy hides.
pub(crate) fn apply_capture(
    tool_name: &str,
    mut tool_input: Map<String, Value>,
    mut ctx: Map<String, Value>,
    policy: &CapturePolicy,
    history_filtered: bool,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut evidence = match ctx.get("tool_call_evidence") {
        Some(Value::Object(e)) if e.get("tool_name").and_then(Value::as_str) == Some(tool_name) => {
            e.clone()
        }
        _ => match manual_evidence(tool_name, policy) {
            Value::Object(m) => m,
            _ => Map::new(),
        },
    };
    if !policy.tool_arguments {
        tool_input = Map::new();
        evidence.insert(
            "arguments".into(),
            json!({"status": "suppressed", "complete": false}),
        );
    }
    if !policy.tool_schema {
        evidence.insert("schema".into(), json!({"status": "suppressed"}));
    }
    if !(policy.request && policy.system_prompt && policy.tool_arguments && policy.output) {
        let status = ctx
            .get("conversation_history_status")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut roles: Vec<&str> = Vec::new();
        if policy.request {
            roles.push("user");
            if policy.system_prompt {
                roles.extend(["system", "developer"]);
            }
            if policy.output {
                roles.push("tool");
                if policy.tool_arguments || history_filtered {
                    roles.push("assistant");
                }
            }
        }
        let history: Vec<Value> = match ctx.get("conversation_history") {
            Some(Value::Array(h)) => h
                .iter()
                .filter(|m| {
                    m.get("role")
                        .and_then(Value::as_str)
                        .is_some_and(|r| roles.contains(&r))
                })
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        ctx.retain(|k, _| IDENTITY_KEYS.contains(&k.as_str()));
        ctx.insert("conversation_history".into(), Value::Array(history));
        ctx.insert(
            "conversation_history_status".into(),
            json!({
                "source": status.get("source").cloned().unwrap_or_else(|| "sdk_request".into()),
                "complete": false,
                "truncated": status.get("truncated").cloned().unwrap_or(Value::Bool(false)),
                "suppressed": true,
            }),
        );
    }
    let history_suppressed = ctx
        .get("conversation_history_status")
        .and_then(|s| s.get("suppressed"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let has_history =
        matches!(ctx.get("conversation_history"), Some(Value::Array(h)) if !h.is_empty());
    let schema_status = evidence
        .get("schema")
        .and_then(|s| s.get("status"))
        .cloned()
        .unwrap_or_else(|| "unavailable".into());
    let arguments_unavailable = evidence
        .get("arguments")
        .and_then(|a| a.get("status"))
        .and_then(Value::as_str)
        == Some("unavailable");
    let tool_input_status = if !policy.tool_arguments {
        "suppressed"
    } else if arguments_unavailable && tool_input.is_empty() {
        "unavailable"
    } else {
        "available"
    };
    ctx.insert("tool_call_evidence".into(), Value::Object(evidence));
    ctx.insert(
        "context_availability".into(),
        json!({
            "tool_input": tool_input_status,
            "tool_schema": schema_status,
            "conversation_history": if has_history {
                "partial"
            } else if history_suppressed {
                "suppressed"
            } else {
                "unavailable"
            },
            "tool_output": "unavailable",
        }),
    );
    (tool_input, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_on() -> CapturePolicy {
        CapturePolicy::default()
    }

    #[test]
    fn later_layers_win_but_the_trace_span_and_session_cannot_be_overridden() {
        let ambient = Ambient {
            trace_id: Some("t".into()),
            span_id: Some("s".into()),
            session_id: Some("sess".into()),
            agent_name: Some("inner-agent".into()),
            agent_id: Some("aid".into()),
            user_id: Some("alice".into()),
        };
        let caller: Map<String, Value> = serde_json::from_value(json!({
            "trace_id": "forged", "session_id": "forged", "user_id": "bob",
            "ticket": 7, "empty": "", "none": null,
        }))
        .expect("map");
        let ctx = assemble(None, &ambient, &caller);
        assert_eq!(
            Value::Object(ctx),
            json!({"trace_id": "t", "span_id": "s", "session_id": "sess",
                   "agent_name": "inner-agent", "agent_id": "aid", "user_id": "bob",
                   "ticket": 7})
        );
    }

    #[test]
    fn a_manual_check_says_what_it_could_not_see() {
        let input: Map<String, Value> =
            serde_json::from_value(json!({"path": "/tmp/x"})).expect("map");
        let (tool_input, ctx) = apply_capture("rm", input.clone(), Map::new(), &all_on(), false);
        assert_eq!(tool_input, input);
        assert_eq!(
            ctx["tool_call_evidence"],
            json!({"version": 1, "tool_name": "rm",
                   "arguments": {"status": "unavailable", "complete": false},
                   "schema": {"status": "unavailable"}})
        );
        assert_eq!(
            ctx["context_availability"],
            json!({"tool_input": "available", "tool_schema": "unavailable",
                   "conversation_history": "unavailable", "tool_output": "unavailable"})
        );
        let (_, ctx) = apply_capture("rm", Map::new(), Map::new(), &all_on(), false);
        assert_eq!(ctx["context_availability"]["tool_input"], "unavailable");
    }

    #[test]
    fn with_a_category_off_only_identity_keys_and_filtered_history_remain() {
        let policy = CapturePolicy {
            tool_arguments: false,
            ..CapturePolicy::default()
        };
        let ctx: Map<String, Value> = serde_json::from_value(json!({
            "trace_id": "t", "agent_name": "a", "custom": "secret plan", "invocation_id": "c1",
        }))
        .expect("map");
        let input: Map<String, Value> = serde_json::from_value(json!({"path": "/"})).expect("map");
        let (tool_input, ctx) = apply_capture("rm", input, ctx, &policy, false);
        assert!(tool_input.is_empty());
        assert_eq!(ctx.get("custom"), None);
        assert_eq!(ctx["invocation_id"], "c1");
        assert_eq!(ctx["conversation_history"], json!([]));
        assert_eq!(
            ctx["conversation_history_status"],
            json!({"source": "sdk_request", "complete": false, "truncated": false, "suppressed": true})
        );
        assert_eq!(
            ctx["tool_call_evidence"]["arguments"],
            json!({"status": "suppressed", "complete": false})
        );
        assert_eq!(
            ctx["context_availability"],
            json!({"tool_input": "suppressed", "tool_schema": "unavailable",
                   "conversation_history": "suppressed", "tool_output": "unavailable"})
        );
    }
}

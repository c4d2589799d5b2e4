//! From records to the request body of the contract: coalesce copies of a span, group by
//! trace, apply the capture policy and sanitization, serialize into a reused buffer.

use super::sanitize;
use crate::config::Config;
use crate::local::clock;
use crate::local::record::SpanRecord;
use serde::Serialize;
use serde_json::{Map, Value};
use staso_types::Kind;
use std::collections::HashMap;

/// One span as the contract writes it (without `trace_id`).
#[derive(Serialize)]
pub(crate) struct WireSpan<'a> {
    span_id: String,
    parent_span_id: Option<String>,
    name: String,
    kind: &'static str,
    timestamp: String,
    duration_ms: f64,
    status: &'static str,
    model: &'a str,
    provider: &'a str,
    requested_model: &'a str,
    usage_available: Option<bool>,
    reasoning_effort: &'a str,
    input_tokens: u64,
    output_tokens: u64,
    total_tokens: u64,
    input: String,
    output: String,
    attributes: String,
    error_message: Option<&'a str>,
    capture: Map<String, Value>,
    session_id: &'a str,
    agent_name: &'a str,
    agent_id: &'a str,
    agent_version: &'a str,
    user_id: &'a str,
}

#[derive(Serialize)]
struct WireTrace<'a> {
    trace_id: String,
    timestamp: String,
    environment: &'a str,
    workspace_slug: &'a str,
    spans: Vec<WireSpan<'a>>,
}

#[derive(Serialize)]
struct Body<'a> {
    traces: Vec<WireTrace<'a>>,
}

/// Keeps one copy per (trace, span): the newest, except that a provisional copy never
/// replaces a final one. Order is that of first appearance.
pub(crate) fn coalesce<'a>(
    records: impl IntoIterator<Item = &'a SpanRecord>,
) -> Vec<&'a SpanRecord> {
    let mut out: Vec<&SpanRecord> = Vec::new();
    let mut pos: HashMap<(u128, u64), usize> = HashMap::new();
    for r in records {
        let key = (r.trace_id.to_u128(), r.span_id.to_u64());
        match pos.get(&key) {
            None => {
                pos.insert(key, out.len());
                out.push(r);
            }
            Some(&i) => {
                if !r.provisional || out[i].provisional {
                    out[i] = r;
                }
            }
        }
    }
    out
}

/// Serializes a batch into `buf` (cleared first); returns the number of traces in it.
pub(crate) fn encode_batch<'a>(
    records: impl IntoIterator<Item = &'a SpanRecord>,
    cfg: &Config,
    buf: &mut Vec<u8>,
) -> usize {
    let spans = coalesce(records);
    let mut order: Vec<u128> = Vec::new();
    let mut groups: HashMap<u128, Vec<&SpanRecord>> = HashMap::new();
    for r in spans {
        groups
            .entry(r.trace_id.to_u128())
            .or_insert_with(|| {
                order.push(r.trace_id.to_u128());
                Vec::new()
            })
            .push(r);
    }
    let traces: Vec<WireTrace<'_>> = order
        .iter()
        .map(|t| {
            let group = &groups[t];
            let earliest = group.iter().map(|r| r.start).min().unwrap_or_default();
            WireTrace {
                trace_id: group[0].trace_id.to_string(),
                timestamp: clock::iso8601(earliest),
                environment: &cfg.environment,
                workspace_slug: &cfg.workspace_slug,
                spans: group.iter().map(|r| wire_span(r, cfg)).collect(),
            }
        })
        .collect();
    buf.clear();
    let n = traces.len();
    if serde_json::to_writer(&mut *buf, &Body { traces }).is_err() {
        buf.clear();
    }
    n
}

/// Applies redaction and the mask hook to a captured value.
fn sanitized(v: &Value, cfg: &Config) -> Value {
    let mut v = v.clone();
    if cfg.redact_secrets {
        sanitize::redact(&mut v, 0);
    }
    if let Some(mask) = &cfg.mask {
        sanitize::mask(&mut v, "", &*mask.0, 0);
    }
    v
}

/// One span in the contract's form.
pub(crate) fn wire_span<'a>(r: &'a SpanRecord, cfg: &'a Config) -> WireSpan<'a> {
    let policy = &cfg.capture;
    static NO_LLM: crate::local::record::Llm = crate::local::record::Llm::EMPTY;
    let default_llm = &NO_LLM;
    let extras = r.extras.as_deref();
    let llm = extras.map(|e| &e.llm).unwrap_or(default_llm);
    let mut attrs = Map::new();
    let mut truncated: Vec<(&str, usize)> = Vec::new();

    let field = |v: Option<&Value>,
                 allowed: bool,
                 what: &'static str,
                 truncated: &mut Vec<(&str, usize)>|
     -> String {
        match v {
            Some(v) if allowed && !is_empty(v) => {
                let (s, orig) = sanitize::to_wire_string(&sanitized(v, cfg), cfg.max_field_bytes);
                if let Some(n) = orig {
                    truncated.push((what, n));
                }
                s
            }
            _ => String::new(),
        }
    };

    // The input, as the reference client: agent spans carry their agent name first.
    let input = field(
        extras.and_then(|e| e.input.as_ref()),
        policy.allows_input(r.kind) || llm.prefiltered,
        "input",
        &mut truncated,
    );
    let output = field(
        extras.and_then(|e| e.output.as_ref()),
        policy.output || llm.prefiltered,
        "output",
        &mut truncated,
    );

    if let Some(cs) = r.callsite {
        attrs.insert("code.filepath".into(), cs.file.into());
        attrs.insert("code.lineno".into(), cs.line.into());
        attrs.insert("code.function".into(), cs.function.into());
        if cs.kind == Kind::Tool {
            attrs.insert("tool_name".into(), cs.name.into());
        }
    }
    let mut tags: Vec<&str> = r.callsite.map(|c| c.tags.to_vec()).unwrap_or_default();
    tags.extend(
        extras
            .iter()
            .flat_map(|e| e.tags.iter().map(String::as_str)),
    );
    if !tags.is_empty() {
        attrs.insert("tags".into(), tags.into());
    }
    if let Some(e) = extras {
        for (k, v) in &e.metadata {
            // Operational keys (`time_to_first_token`, token counts) are never secrets,
            // whatever their name ends with.
            let v = if cfg.redact_secrets
                && sanitize::is_secret_key(k)
                && !staso_types::OPERATIONAL_KEYS.contains(&k.as_str())
            {
                Value::String(staso_types::REDACTED.into())
            } else {
                sanitized(v, cfg)
            };
            let (s, orig) = sanitize::to_wire_string(&v, cfg.max_field_bytes);
            let v = match orig {
                Some(_) => serde_json::from_str(&s).unwrap_or(Value::Null),
                None => v,
            };
            attrs.insert(k.clone(), v);
        }
        if let Some(t) = &e.exception_type {
            attrs.insert("exception.type".into(), t.as_ref().into());
        }
    }
    if r.parent.is_none() {
        if let Some(g) = &cfg.git {
            attrs.insert("vcs.commit.sha".into(), g.commit_sha.clone().into());
            attrs.insert("vcs.branch".into(), g.branch.clone().into());
            attrs.insert("vcs.repo_url".into(), g.repo_url.clone().into());
            attrs.insert("vcs.is_dirty".into(), g.is_dirty.into());
        }
    }
    if r.provisional {
        attrs.insert("staso.provisional_root".into(), true.into());
    }
    for (what, n) in truncated {
        attrs.insert(format!("staso.truncated.{what}"), n.into());
    }
    attrs.retain(|k, _| policy.allows_attribute(k));

    let kind = r.kind.as_str();
    let name = if policy.allows_name(r.kind) {
        r.name.as_str().to_string()
    } else {
        format!("{kind} span")
    };
    let conv = r.conversation.as_deref();
    WireSpan {
        span_id: match extras.and_then(|e| e.wire_span_id.as_ref()) {
            Some(id) => id.clone(),
            None => r.span_id.to_string(),
        },
        parent_span_id: r.parent.map(|p| p.to_string()),
        name,
        kind,
        timestamp: clock::iso8601(r.start),
        duration_ms: if r.provisional {
            0.0
        } else {
            clock::duration_ms(r.start, r.end)
        },
        status: r.status.as_str(),
        model: &llm.model,
        provider: &llm.provider,
        requested_model: &llm.requested_model,
        usage_available: if r.provisional {
            Some(false)
        } else if r.kind == Kind::Llm {
            Some(llm.usage_available)
        } else {
            None
        },
        reasoning_effort: &llm.reasoning_effort,
        input_tokens: llm.input_tokens,
        output_tokens: llm.output_tokens,
        total_tokens: llm.total_tokens,
        input,
        output,
        attributes: serde_json::to_string(&attrs).unwrap_or_else(|_| "{}".into()),
        error_message: if policy.allows_error_message() {
            extras.and_then(|e| e.error_message.as_deref())
        } else {
            None
        },
        capture: policy
            .wire()
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
        session_id: conv
            .map(|c| c.session_id.as_str())
            .unwrap_or(&cfg.session_id),
        agent_name: r
            .agent
            .as_ref()
            .map(|a| a.as_str())
            .unwrap_or(&cfg.agent_name),
        agent_id: &cfg.agent_id,
        agent_version: &cfg.agent_version,
        user_id: conv.and_then(|c| c.user_id.as_deref()).unwrap_or(""),
    }
}

/// Whether a captured value is "nothing" (the reference client sends `""` for those).
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// A span with its trace-level fields, as the tests of users see it.
pub(crate) fn span_json(r: &SpanRecord, cfg: &Config) -> Value {
    let mut v = serde_json::to_value(wire_span(r, cfg)).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("trace_id".into(), r.trace_id.to_string().into());
        m.insert("environment".into(), cfg.environment.clone().into());
        m.insert("workspace_slug".into(), cfg.workspace_slug.clone().into());
    }
    v
}

//! From records to the request body of the contract: coalesce copies of a span, group by
//! trace, apply the capture policy, serialize into a reused buffer.
//!
//! Captured values arrive encoded already (JSON text, redacted, masked and bounded on the
//! caller's thread, see `local::capture`): they are copied into the body as strings and
//! never parsed or walked here. The capture policy is applied again, so that what leaves
//! is what the policy allows even for values set before a field was suppressed.

use crate::config::Config;
use crate::local::capture;
use crate::local::clock;
use crate::local::record::{Field, SpanRecord};
use serde::Serialize;
use serde_json::{Map, Value};
use staso_types::{CapturePolicy, Kind};
use std::borrow::Cow;
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
    input: &'a str,
    output: &'a str,
    attributes: String,
    error_message: Option<Cow<'a, str>>,
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

/// One span in the contract's form.
pub(crate) fn wire_span<'a>(r: &'a SpanRecord, cfg: &'a Config) -> WireSpan<'a> {
    let policy = &cfg.capture;
    static NO_LLM: crate::local::record::Llm = crate::local::record::Llm::EMPTY;
    let extras = r.extras.as_deref();
    let llm = extras.map_or(&NO_LLM, |e| &e.llm);
    let mut attrs = Attrs::default();

    // Sent only when allowed and not "nothing" (the reference client sends `""` for those).
    let doc = |d: Option<&'a str>, allowed: bool| d.filter(|d| allowed && !is_empty(d));
    // An LLM call recorded through `llm` was filtered per category while it was read: its
    // input and output are sent whatever the categories (the contract's §10).
    let input = doc(
        extras.and_then(|e| e.input()),
        policy.allows_input(r.kind) || llm.prefiltered,
    );
    let output = doc(
        extras.and_then(|e| e.output()),
        policy.output || llm.prefiltered,
    );
    let mut error_message = None;
    let mut sdk_error_cut = None;
    if policy.allows_error_message() {
        if let Some(e) = extras {
            error_message = match &e.error_message {
                Some(raw) => {
                    let (text, cut) = capture::clean_sdk_text(raw, cfg, "error_message");
                    sdk_error_cut = cut;
                    Some(text)
                }
                None => e.error_text().map(Cow::Borrowed),
            };
        }
    }

    if let Some(cs) = r.callsite {
        attrs.insert("code.filepath", Attr::Str(cs.file));
        attrs.insert("code.lineno", Attr::Num(u64::from(cs.line)));
        attrs.insert("code.function", Attr::Str(cs.function));
        if cs.kind == Kind::Tool {
            attrs.insert("tool_name", Attr::Str(cs.name));
        }
    }
    let mut tags: Vec<&str> = r.callsite.map(|c| c.tags.to_vec()).unwrap_or_default();
    tags.extend(extras.iter().flat_map(|e| e.tags()));
    if !tags.is_empty() {
        attrs.insert("tags", Attr::Tags(tags));
    }
    if let Some(e) = extras {
        for (k, v, cut) in e.metadata() {
            attrs.insert(k, Attr::Raw(v));
            if let Some(n) = cut {
                attrs.insert(format!("staso.truncated.metadata.{k}"), Attr::Num(n as u64));
            }
        }
        if let Some(t) = &e.exception_type {
            attrs.insert("exception.type", Attr::Str(t));
        }
    }
    if r.parent.is_none() {
        if let Some(g) = &cfg.git {
            attrs.insert("vcs.commit.sha", Attr::Str(&g.commit_sha));
            attrs.insert("vcs.branch", Attr::Str(&g.branch));
            attrs.insert("vcs.repo_url", Attr::Str(&g.repo_url));
            attrs.insert("vcs.is_dirty", Attr::Bool(g.is_dirty));
        }
    }
    if r.provisional {
        attrs.insert("staso.provisional_root", Attr::Bool(true));
    }
    // The size of a cut field, for the fields that are sent.
    let sent = |f: Field| match f {
        Field::Input => input.is_some(),
        Field::Output => output.is_some(),
        Field::ErrorMessage => error_message.is_some(),
        Field::Name => policy.allows_name(r.kind),
        Field::Tags => policy.allows_attribute("tags"),
    };
    let sdk_error = extras.is_some_and(|e| e.error_message.is_some());
    for (f, n) in extras.into_iter().flat_map(|e| e.truncated()) {
        // A captured message replaced by the SDK's own is not sent, nor is its size.
        if sent(f) && !(f == Field::ErrorMessage && sdk_error) {
            attrs.insert(f.attribute(), Attr::Num(n as u64));
        }
    }
    if let Some(n) = sdk_error_cut {
        attrs.insert(Field::ErrorMessage.attribute(), Attr::Num(n as u64));
    }

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
        input: input.unwrap_or(""),
        output: output.unwrap_or(""),
        attributes: attrs.into_json(policy),
        error_message,
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

/// An attribute's value. Metadata values are JSON text already (`Raw`).
enum Attr<'a> {
    Str(&'a str),
    Num(u64),
    Bool(bool),
    Raw(&'a str),
    Tags(Vec<&'a str>),
}

/// The `attributes` object: a later value for a key replaces an earlier one; written with
/// its keys in order (as a JSON map would be).
#[derive(Default)]
struct Attrs<'a> {
    entries: Vec<(Cow<'a, str>, Attr<'a>)>,
}

impl<'a> Attrs<'a> {
    fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Attr<'a>) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    fn into_json(mut self, policy: &CapturePolicy) -> String {
        self.entries.retain(|(k, _)| policy.allows_attribute(k));
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::with_capacity(64 * (self.entries.len() + 1));
        out.push('{');
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_str_json(&mut out, k);
            out.push(':');
            match v {
                Attr::Str(s) => push_str_json(&mut out, s),
                Attr::Num(n) => out.push_str(itoa::Buffer::new().format(*n)),
                Attr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                Attr::Raw(j) => out.push_str(j),
                Attr::Tags(ts) => {
                    out.push('[');
                    for (i, t) in ts.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        push_str_json(&mut out, t);
                    }
                    out.push(']');
                }
            }
        }
        out.push('}');
        out
    }
}

fn push_str_json(out: &mut String, s: &str) {
    out.push('"');
    capture::escape_into(out, s);
    out.push('"');
}

/// Whether a captured document is "nothing": `null`, `""`, `{}` or `[]`.
fn is_empty(doc: &str) -> bool {
    matches!(doc, "null" | "\"\"" | "{}" | "[]")
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

//! What of a span may leave the process, read from its record with the capture policy
//! applied: the name, input, output, error message and attributes, exactly as the Staso
//! wire sends them (`encode.rs` applies the same rules). Encoders of other formats (OTLP)
//! read spans through these functions, never through another encoder's internals.
//!
//! Captured content is JSON text already, redacted, masked and bounded on the caller's
//! thread: it is handed out as it is.

use crate::config::Config;
use crate::local::capture;
use crate::local::record::{Field, Llm, SpanRecord};
use staso_types::Kind;
use std::borrow::Cow;

/// An attribute's value as the record holds it: the one the contract's encoder writes.
pub(crate) use super::attributes::Attr as Value;

/// The LLM fields of a span (empty ones for other spans).
pub(crate) fn llm(r: &SpanRecord) -> &Llm {
    static NO_LLM: Llm = Llm::EMPTY;
    r.extras.as_deref().map_or(&NO_LLM, |e| &e.llm)
}

/// The name sent: with `request` off a non-tool span is named `"<kind> span"`.
pub(crate) fn name<'a>(r: &'a SpanRecord, cfg: &Config) -> Cow<'a, str> {
    if cfg.capture.allows_name(r.kind) {
        Cow::Borrowed(r.name.as_str())
    } else {
        Cow::Owned(format!("{} span", r.kind.as_str()))
    }
}

/// A captured document that is not "nothing" (`null`, `""`, `{}`, `[]`), if allowed.
fn doc(d: Option<&str>, allowed: bool) -> Option<&str> {
    d.filter(|d| allowed && !matches!(*d, "null" | "\"\"" | "{}" | "[]"))
}

/// The input document, when captured and allowed. An LLM call recorded through `llm`
/// was filtered per category while it was read: it is sent whatever the categories.
pub(crate) fn input<'a>(r: &'a SpanRecord, cfg: &Config) -> Option<&'a str> {
    let allowed = cfg.capture.allows_input(r.kind) || llm(r).prefiltered;
    doc(r.extras.as_deref().and_then(|e| e.input()), allowed)
}

/// The output document, when captured and allowed.
pub(crate) fn output<'a>(r: &'a SpanRecord, cfg: &Config) -> Option<&'a str> {
    let allowed = cfg.capture.output || llm(r).prefiltered;
    doc(r.extras.as_deref().and_then(|e| e.output()), allowed)
}

/// The error message, when there is one and every category is captured; with the size
/// of an SDK message that was cut here.
pub(crate) fn error_message<'a>(
    r: &'a SpanRecord,
    cfg: &Config,
) -> (Option<Cow<'a, str>>, Option<usize>) {
    if !cfg.capture.allows_error_message() {
        return (None, None);
    }
    let Some(e) = r.extras.as_deref() else {
        return (None, None);
    };
    match &e.error_message {
        Some(raw) => {
            let (text, cut) = capture::clean_sdk_text(raw, cfg, "error_message");
            (Some(text), cut)
        }
        None => (e.error_text().map(Cow::Borrowed), None),
    }
}

/// The exception type of a failed span (`exception.type`), never suppressed.
pub(crate) fn exception_type(r: &SpanRecord) -> Option<&str> {
    r.extras.as_deref()?.exception_type.as_deref()
}

/// The agent the span runs under: the innermost enclosing agent, else the client's.
pub(crate) fn agent_name<'a>(r: &'a SpanRecord, cfg: &'a Config) -> &'a str {
    r.agent.as_ref().map_or(&cfg.agent_name, |a| a.as_str())
}

/// The session: the enclosing conversation's, else the process's.
pub(crate) fn session_id<'a>(r: &'a SpanRecord, cfg: &'a Config) -> &'a str {
    r.conversation
        .as_deref()
        .map_or(&cfg.session_id, |c| c.session_id.as_str())
}

/// The enclosing conversation's user, if it has one.
pub(crate) fn user_id(r: &SpanRecord) -> Option<&str> {
    r.conversation.as_deref()?.user_id.as_deref()
}

/// The span's attributes as the Staso wire sends them (its `attributes` object): code
/// location, tool name, tags, metadata, exception type, git context on roots,
/// `staso.truncated.*` for the fields that are sent; a later value of a key replaces an
/// earlier one, and the policy's filter is applied. `sent` tells which fields are sent
/// (their cut size is sent only then).
pub(crate) fn attributes<'a>(
    r: &'a SpanRecord,
    cfg: &'a Config,
    sent: Sent,
) -> Vec<(Cow<'a, str>, Value<'a>)> {
    let mut out: Vec<(Cow<'a, str>, Value<'a>)> = Vec::new();
    let mut put = |k: Cow<'a, str>, v: Value<'a>| match out.iter_mut().find(|(key, _)| *key == k) {
        Some(slot) => slot.1 = v,
        None => out.push((k, v)),
    };
    let extras = r.extras.as_deref();
    if let Some(cs) = r.callsite {
        put("code.filepath".into(), Value::Str(cs.file));
        put("code.lineno".into(), Value::Int(u64::from(cs.line)));
        put("code.function".into(), Value::Str(cs.function));
        if cs.kind == Kind::Tool {
            put("tool_name".into(), Value::Str(cs.name));
        }
    }
    let mut tags: Vec<&str> = r.callsite.map(|c| c.tags.to_vec()).unwrap_or_default();
    tags.extend(extras.iter().flat_map(|e| e.tags()));
    if !tags.is_empty() {
        put("tags".into(), Value::Strs(tags));
    }
    if let Some(e) = extras {
        for (k, v, cut) in e.metadata() {
            put(k.into(), Value::Json(v));
            if let Some(n) = cut {
                put(
                    format!("staso.truncated.metadata.{k}").into(),
                    Value::Int(n as u64),
                );
            }
        }
        if let Some(t) = &e.exception_type {
            put("exception.type".into(), Value::Str(t));
        }
    }
    if r.parent.is_none() {
        if let Some(g) = &cfg.git {
            put("vcs.commit.sha".into(), Value::Str(&g.commit_sha));
            put("vcs.branch".into(), Value::Str(&g.branch));
            put("vcs.repo_url".into(), Value::Str(&g.repo_url));
            put("vcs.is_dirty".into(), Value::Bool(g.is_dirty));
        }
    }
    if r.provisional {
        put("staso.provisional_root".into(), Value::Bool(true));
    }
    let is_sent = |f: Field| match f {
        Field::Input => sent.input,
        Field::Output => sent.output,
        Field::ErrorMessage => sent.error_message,
        Field::Name => cfg.capture.allows_name(r.kind),
        Field::Tags => cfg.capture.allows_attribute("tags"),
    };
    let sdk_error = extras.is_some_and(|e| e.error_message.is_some());
    for (f, n) in extras.into_iter().flat_map(|e| e.truncated()) {
        // A captured message replaced by the SDK's own is not sent, nor is its size.
        if is_sent(f) && !(f == Field::ErrorMessage && sdk_error) {
            put(f.attribute().into(), Value::Int(n as u64));
        }
    }
    if let Some(n) = sent.sdk_error_cut {
        put(Field::ErrorMessage.attribute().into(), Value::Int(n as u64));
    }
    out.retain(|(k, _)| cfg.capture.allows_attribute(k));
    out
}

/// Which fields of a span are sent, for their `staso.truncated.*` attributes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sent {
    pub input: bool,
    pub output: bool,
    pub error_message: bool,
    /// The size of an SDK error message cut when it was cleaned.
    pub sdk_error_cut: Option<usize>,
}

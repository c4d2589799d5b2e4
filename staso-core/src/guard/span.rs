//! Guard decisions in the trace, as the Python SDK writes them: the span of a manual check
//! (`guard:<outcome>:<tool>`, a child of the current span that is never made current), the
//! children of an LLM span for the tool calls it proposed, and the ids that make a retried
//! decision land on the same span.
//!
//! The span id of a decision span is a full UUID v5 (not the 64-bit form of every other
//! span): the one documented exception to the ingest contract's span-id rule.

use crate::local::record::SharedStr;
use crate::local::span::Span;
use serde_json::{json, Map, Value};
use staso_types::{DecisionSource, GuardResult, Status};
use uuid::Uuid;

/// Python's `json.dumps` of a list of strings: `", "` between items (or `","` when
/// `compact`), non-ASCII escaped as `\uXXXX` (surrogate pairs above the BMP).
pub(crate) fn py_json_list(items: &[&str], compact: bool) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(if compact { "," } else { ", " });
        }
        out.push('"');
        for c in item.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                ' '..='~' => out.push(c),
                c => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

/// The decision id of a tool call an LLM proposed: a UUID v5 of the call's identity, so a
/// replayed reply asks about the same decision; a random one without a call id or trace.
pub(crate) fn invocation_decision_id(
    source: DecisionSource,
    session_id: &str,
    trace_id: Option<&str>,
    invocation_id: Option<&str>,
) -> staso_types::DecisionId {
    let id = match (trace_id, invocation_id) {
        (Some(t), Some(i)) if !t.is_empty() && !i.is_empty() => {
            let name = py_json_list(&["staso.guard.v1", source.as_str(), session_id, t, i], true);
            Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes())
        }
        _ => Uuid::new_v4(),
    };
    staso_types::DecisionId::from_u128(id.as_u128())
}

/// The span id of a decision's span: the same decision and outcome, the same span.
pub(crate) fn decision_span_id(decision_id: &str, span_name: &str) -> String {
    let name = py_json_list(&["staso.guard.span.v1", decision_id, span_name], false);
    Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes()).to_string()
}

/// A result as the Python SDK's `dataclasses.asdict` writes it (the `decision_response`).
pub(crate) fn result_json(r: &GuardResult) -> Value {
    let results: Vec<Value> = r
        .results
        .iter()
        .map(|x| {
            let violations: Vec<Value> = x
                .violations
                .iter()
                .map(|v| serde_json::from_str(v).unwrap_or(Value::Null))
                .collect();
            json!({
                "rule_id": x.rule_id,
                "rule_name": x.rule_name,
                "passed": x.passed,
                "score": x.score,
                "action": x.action.as_str(),
                "reason": x.reason,
                "severity": x.severity,
                "latency_ms": x.latency_ms,
                "violations": violations,
                "evaluation_status": x.evaluation_status.as_str(),
            })
        })
        .collect();
    json!({
        "action": r.action.as_str(),
        "reason": r.reason,
        "rule_name": r.rule_name,
        "severity": r.severity,
        "results": results,
        "latency_ms": r.latency_ms,
        "rules_triggered": r.rules_triggered,
        "decision_available": r.decision_available,
        "failure_kind": r.failure_kind.map(|k| k.as_str()),
        "failure_mode": r.failure_mode.as_str(),
        "retryable": r.retryable,
        "decision_id": decision_id_text(r),
        "decision_source": r.decision_source.as_str(),
        "evaluation_status": r.evaluation_status.as_str(),
    })
}

fn decision_id_text(r: &GuardResult) -> String {
    r.decision_id.map(|d| d.to_string()).unwrap_or_default()
}

/// `would_block` for an allow with findings, else the action.
fn guard_action(r: &GuardResult) -> &'static str {
    if r.outcome() == "would-block" {
        "would_block"
    } else {
        r.action.as_str()
    }
}

/// Sets `key` on the span's attributes (no capture check: guard attributes are
/// operational, the encoder keeps them under any policy except `guard_reason`).
fn attr(span: &mut Span, key: &str, value: Value) {
    if let Some((r, _)) = &mut span.inner {
        r.extras().set_metadata(key, &value.to_string(), None);
    }
}

/// The attributes both kinds of decision span carry.
fn decision_attrs(span: &mut Span, r: &GuardResult, action: &str) {
    attr(span, "guard_action", action.into());
    attr(span, "guard_decision_id", decision_id_text(r).into());
    attr(
        span,
        "guard_decision_source",
        r.decision_source.as_str().into(),
    );
    attr(
        span,
        "guard_decision_available",
        r.decision_available.into(),
    );
    attr(
        span,
        "guard_evaluation_status",
        r.evaluation_status.as_str().into(),
    );
    attr(span, "guard_latency_ms", json!(r.latency_ms));
    attr(
        span,
        "guard_failure_kind",
        r.failure_kind.map(|k| k.as_str()).into(),
    );
    attr(span, "guard_failure_mode", r.failure_mode.as_str().into());
    attr(span, "guard_retryable", r.retryable.into());
}

/// Renames the span to its outcome and gives it the decision's span id.
fn name_and_id(span: &mut Span, r: &GuardResult, name: String) {
    let id = decision_span_id(&decision_id_text(r), &name);
    if let Some((rec, _)) = &mut span.inner {
        rec.name = SharedStr::from(name);
        rec.extras().wire_span_id = Some(id);
    }
}

fn set_input(span: &mut Span, tool_name: &str, tool_input: &Value) {
    if let Some((r, _)) = &mut span.inner {
        let doc = json!({"tool_name": tool_name, "tool_input": tool_input}).to_string();
        r.extras().set_input(&doc, None);
    }
}

fn set_output(span: &mut Span, output: Value) {
    if let Some((r, _)) = &mut span.inner {
        r.extras().set_output(&output.to_string(), None);
    }
}

fn set_status(span: &mut Span, status: Status, error_message: Option<&str>) {
    if let Some((r, _)) = &mut span.inner {
        r.status = status;
        if let Some(m) = error_message {
            r.extras().error_message = Some(m.to_string());
        }
    }
}

/// The span of a check made with `staso::guard` (or `#[staso::tool(guard)]`), opened
/// before the request so its duration covers it; `None` unless a recording span is
/// current.
pub(crate) fn start_check(tool_name: &str) -> Option<Span> {
    let in_span = crate::local::context::with_current_shallow(|c| {
        c.link.is_some() && crate::local::lifecycle::records(c)
    });
    if !in_span {
        return None;
    }
    let span = Span::new(format!("guard:check:{tool_name}"), staso_types::Kind::Tool);
    span.is_recording().then_some(span)
}

/// How a finished check answered its caller, for the span's `enforcement_response`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Enforcement {
    /// `staso::guard`: the result is returned to the caller.
    Returned,
    /// `#[staso::tool(guard)]`: a block became `Err(GuardBlocked)`, else the body ran.
    Tool,
}

/// Finishes the span of a check with its result, then ends it.
pub(crate) fn finish_check(
    mut span: Span,
    tool_name: &str,
    tool_input: &Value,
    r: &GuardResult,
    how: Enforcement,
) {
    let action = guard_action(r);
    name_and_id(&mut span, r, format!("guard:{}:{tool_name}", r.outcome()));
    decision_attrs(&mut span, r, action);
    set_input(&mut span, tool_name, tool_input);
    let response = result_json(r);
    let enforcement = match how {
        Enforcement::Returned => {
            json!({"kind": "return", "type": "GuardResult", "payload": response})
        }
        Enforcement::Tool => match r.enforce() {
            Err(e) => {
                json!({"kind": "exception", "type": "GuardBlocked", "message": e.to_string()})
            }
            Ok(()) => json!({"kind": "continued", "payload": null}),
        },
    };
    let mut output = match response.clone() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    output.insert("action".into(), action.into());
    output.insert("decision_response".into(), response);
    output.insert("enforcement_response".into(), enforcement);
    set_output(&mut span, Value::Object(output));
    let status = if r.decision_available {
        Status::Ok
    } else {
        Status::Error
    };
    set_status(&mut span, status, None);
    drop(span);
}

/// Ends the span of a check that was abandoned before it had a result (its future was
/// dropped): it keeps its `guard:check:` name and says so.
pub(crate) fn abandon_check(mut span: Span) {
    set_status(
        &mut span,
        Status::Error,
        Some("the guard check was cancelled"),
    );
    drop(span);
}

/// The child of an LLM span for one proposed tool call, made after the evaluation:
/// `guard:blocked|would-block|unavailable:<tool>` (allowed calls get none).
pub(crate) fn emit_tool_call_span(
    mut span: Span,
    tool_name: &str,
    tool_input: &Value,
    r: &GuardResult,
    enforcement: &Value,
) {
    let outcome = r.outcome();
    let (status, error) = match outcome {
        "blocked" => (Status::Error, Some("Guard blocked")),
        "unavailable" => (Status::Error, Some("Guard decision unavailable")),
        _ => (Status::Ok, None),
    };
    name_and_id(&mut span, r, format!("guard:{outcome}:{tool_name}"));
    let mut output = Map::new();
    output.insert("action".into(), r.action.as_str().into());
    output.insert("decision_id".into(), decision_id_text(r).into());
    output.insert("decision_source".into(), r.decision_source.as_str().into());
    output.insert("reason".into(), r.reason.clone().into());
    output.insert("rules_triggered".into(), json!(r.rules_triggered));
    output.insert("decision_available".into(), r.decision_available.into());
    output.insert(
        "evaluation_status".into(),
        r.evaluation_status.as_str().into(),
    );
    output.insert(
        "failure_kind".into(),
        r.failure_kind.map(|k| k.as_str()).into(),
    );
    output.insert("failure_mode".into(), r.failure_mode.as_str().into());
    output.insert("retryable".into(), r.retryable.into());
    output.insert("decision_response".into(), result_json(r));
    output.insert("enforcement_response".into(), enforcement.clone());
    let mut reason = r.reason.clone();
    if outcome == "would-block" {
        let findings: Vec<_> = r.findings().collect();
        reason = findings
            .iter()
            .filter(|f| !f.reason.is_empty())
            .map(|f| f.reason.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        output.insert("action".into(), "would_block".into());
        output.insert("reason".into(), reason.clone().into());
        output.insert(
            "rules_triggered".into(),
            findings
                .iter()
                .map(|f| {
                    json!({"rule_name": f.rule_name, "action": f.action.as_str(),
                           "reason": f.reason, "severity": f.severity})
                })
                .collect(),
        );
    }
    let action = output
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    decision_attrs(&mut span, r, &action);
    attr(&mut span, "guard_reason", reason.into());
    set_input(&mut span, tool_name, tool_input);
    set_output(&mut span, Value::Object(output));
    set_status(&mut span, status, error);
    drop(span);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json_text_of_the_ids() {
        assert_eq!(
            py_json_list(&["a", "b\"c", "é😀\n"], false),
            r#"["a", "b\"c", "\u00e9\ud83d\ude00\n"]"#
        );
        assert_eq!(py_json_list(&["a", "b"], true), r#"["a","b"]"#);
        assert_eq!(py_json_list(&["\u{1}\u{7f}"], true), r#"["\u0001\u007f"]"#);
    }

    #[test]
    fn ids_match_the_python_sdks_in_the_fixtures() {
        // shared/llm-fixtures/guard_block.guard.jsonl and guard_block.jsonl (scenario s01).
        let d = invocation_decision_id(
            DecisionSource::Openai,
            "3e675fea-0cdc-4d9b-bd9f-de52ba02d630",
            Some("f76a34f9-c4b1-e5c3-15ed-20e19f471c87"),
            Some("call_abc123"),
        );
        assert_eq!(d.to_string(), "c01c4092-f96c-5b3a-91cc-825d6b8bc722");
        assert_eq!(
            decision_span_id(&d.to_string(), "guard:blocked:get_weather"),
            "438fcc8f-04f7-5418-92c2-9ca2e16b1ad3"
        );
        // Without a call id the decision is random.
        let a = invocation_decision_id(DecisionSource::Openai, "s", Some("t"), None);
        let b = invocation_decision_id(DecisionSource::Openai, "s", Some("t"), None);
        assert_ne!(a, b);
    }
}

//! Reading a 2xx answer: it becomes a decision only if every check of the contract passes;
//! anything else is `malformed_response` (or `unsupported_action` for modify/escalate).

use serde_json::{Map, Value};
use staso_types::{
    DecisionId, DecisionSource, EvaluationStatus, GuardAction, GuardFailureKind, GuardFailureMode,
    GuardResult, GuardRuleResult, RuleAction,
};

/// What the request said that the answer must repeat or that decides for it.
pub(crate) struct Expected<'a> {
    pub tool_name: &'a str,
    pub decision_id: DecisionId,
    pub source: DecisionSource,
    pub mode: GuardFailureMode,
    pub latency_ms: f64,
}

type Checked<T> = Result<T, GuardFailureKind>;

const MALFORMED: GuardFailureKind = GuardFailureKind::MalformedResponse;

fn status(v: &Value) -> Checked<EvaluationStatus> {
    match v.as_str() {
        Some("evaluated") => Ok(EvaluationStatus::Evaluated),
        Some("skipped") => Ok(EvaluationStatus::Skipped),
        Some("abstained") => Ok(EvaluationStatus::Abstained),
        Some("unavailable") => Ok(EvaluationStatus::Unavailable),
        _ => Err(MALFORMED),
    }
}

/// `key` as a string (`default` when absent); anything else is malformed.
fn text(m: &Map<String, Value>, key: &str, default: &str) -> Checked<String> {
    match m.get(key) {
        None => Ok(default.to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(MALFORMED),
    }
}

/// A finite number (not a bool: JSON keeps them apart already).
fn finite(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

fn rule(v: &Value) -> Checked<GuardRuleResult> {
    let m = v.as_object().ok_or(MALFORMED)?;
    let action = match m.get("action") {
        None => "allow",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(MALFORMED),
    };
    let evaluation_status = match m.get("evaluation_status") {
        None => EvaluationStatus::Evaluated,
        Some(s) => status(s)?,
    };
    if evaluation_status != EvaluationStatus::Evaluated && action != "allow" {
        return Err(MALFORMED);
    }
    let action = match action {
        "allow" => RuleAction::Allow,
        "block" => RuleAction::Block,
        "audit" => RuleAction::Audit,
        "modify" | "escalate" => return Err(GuardFailureKind::UnsupportedAction),
        _ => return Err(MALFORMED),
    };
    let score = match m.get("score") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            finite(v)
                .filter(|s| (0.0..=1.0).contains(s))
                .ok_or(MALFORMED)?,
        ),
    };
    let violations = match m.get("violations") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::Object(_) => Ok(i.to_string()),
                _ => Err(MALFORMED),
            })
            .collect::<Checked<Vec<String>>>()?,
        Some(_) => return Err(MALFORMED),
    };
    let latency_ms = match m.get("latency_ms") {
        None => 0.0,
        Some(v) => finite(v).filter(|l| *l >= 0.0).ok_or(MALFORMED)?,
    };
    let mut r = GuardRuleResult::default();
    r.rule_id = text(m, "rule_id", "")?;
    r.rule_name = text(m, "rule_name", "")?;
    r.reason = text(m, "reason", "")?;
    r.severity = text(m, "severity", "medium")?;
    r.passed = action == RuleAction::Allow;
    r.score = score;
    r.action = action;
    r.latency_ms = latency_ms;
    r.violations = violations;
    r.evaluation_status = evaluation_status;
    Ok(r)
}

/// The decision in `body`, or why it is not one.
pub(crate) fn parse(body: &[u8], expected: &Expected<'_>) -> Checked<GuardResult> {
    let v: Value = serde_json::from_slice(body).map_err(|_| MALFORMED)?;
    let m = v.as_object().ok_or(MALFORMED)?;
    let mut action = match m.get("action").and_then(Value::as_str) {
        Some("allow") => GuardAction::Allow,
        Some("block") => GuardAction::Block,
        Some("modify" | "escalate") => return Err(GuardFailureKind::UnsupportedAction),
        _ => return Err(MALFORMED),
    };
    let decision_id: DecisionId = m
        .get("decision_id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or(MALFORMED)?;
    if decision_id != expected.decision_id {
        return Err(MALFORMED);
    }
    if m.get("decision_source").and_then(Value::as_str) != Some(expected.source.as_str()) {
        return Err(MALFORMED);
    }
    let results = match m.get("results") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(rule).collect::<Checked<Vec<_>>>()?,
        Some(_) => return Err(MALFORMED),
    };
    let mut rules_triggered = match m.get("rules_triggered") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or(MALFORMED))
            .collect::<Checked<Vec<String>>>()?,
        Some(_) => return Err(MALFORMED),
    };
    if rules_triggered.is_empty() {
        rules_triggered = results
            .iter()
            .filter(|r| r.is_finding())
            .map(|r| r.rule_name.clone())
            .collect();
    }
    let decision_available = match m.get("decision_available") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(MALFORMED),
    };
    let evaluation_status = match m.get("evaluation_status") {
        None if decision_available => EvaluationStatus::Evaluated,
        None => EvaluationStatus::Unavailable,
        Some(s) => status(s)?,
    };
    if (evaluation_status == EvaluationStatus::Unavailable) == decision_available {
        return Err(MALFORMED);
    }
    if matches!(
        evaluation_status,
        EvaluationStatus::Skipped | EvaluationStatus::Abstained
    ) && (action != GuardAction::Allow || !rules_triggered.is_empty())
    {
        return Err(MALFORMED);
    }
    match m.get("failure_mode") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "fail_open" || s == "fail_closed" => {}
        Some(_) => return Err(MALFORMED),
    }
    let failure_kind = match m.get("failure_kind") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(GuardFailureKind::from_name)
                .ok_or(MALFORMED)?,
        ),
    };
    if !decision_available && failure_kind.is_none() {
        return Err(MALFORMED);
    }
    if !decision_available {
        // The service could not decide: the client's own failure mode decides.
        action = expected.mode.action();
    }
    let retryable = match m.get("retryable") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(MALFORMED),
    };
    let reason = text(m, "reason", "")?;
    let severity = text(m, "severity", "low")?;
    let mut r = GuardResult::default();
    r.tool_name = expected.tool_name.to_string();
    r.action = action;
    r.reason = reason;
    r.rule_name = rules_triggered.first().cloned();
    r.severity = severity;
    r.results = results;
    r.latency_ms = expected.latency_ms;
    r.rules_triggered = rules_triggered;
    r.decision_available = decision_available;
    r.failure_kind = failure_kind;
    r.failure_mode = expected.mode;
    r.retryable = retryable;
    r.decision_id = Some(decision_id);
    r.decision_source = expected.source;
    r.evaluation_status = evaluation_status;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";

    fn expected(mode: GuardFailureMode) -> Expected<'static> {
        Expected {
            tool_name: "rm",
            decision_id: ID.parse().expect("uuid"),
            source: DecisionSource::Manual,
            mode,
            latency_ms: 3.5,
        }
    }

    fn decide(body: Value) -> Checked<GuardResult> {
        parse(
            body.to_string().as_bytes(),
            &expected(GuardFailureMode::FailOpen),
        )
    }

    fn base() -> Value {
        json!({"action": "allow", "decision_id": ID, "decision_source": "manual"})
    }

    fn with(k: &str, v: Value) -> Value {
        let mut b = base();
        b[k] = v;
        b
    }

    #[test]
    fn a_minimal_allow_is_a_decision_with_the_defaults() {
        let r = decide(base()).expect("valid");
        assert!(r.is_allowed() && r.decision_available);
        assert_eq!(r.severity, "low");
        assert_eq!(r.evaluation_status, EvaluationStatus::Evaluated);
        assert_eq!(r.latency_ms, 3.5);
        assert_eq!(r.tool_name, "rm");
        assert_eq!(r.outcome(), "allowed");
    }

    #[test]
    fn a_block_names_its_rule_and_findings_fill_rules_triggered() {
        let r = decide(json!({
            "action": "block", "decision_id": ID.to_uppercase(), "decision_source": "manual",
            "reason": "no deletes", "severity": "high",
            "results": [{"rule_id": "r1", "rule_name": "no-deletes", "action": "block",
                         "score": 1, "violations": [{"path": "/"}], "latency_ms": 2}],
        }))
        .expect("valid");
        assert!(r.is_blocked());
        assert_eq!(r.rules_triggered, ["no-deletes"]);
        assert_eq!(r.rule_name.as_deref(), Some("no-deletes"));
        assert_eq!(r.results[0].violations, [r#"{"path":"/"}"#]);
        assert!(!r.results[0].passed);
        assert_eq!(r.outcome(), "blocked");
    }

    #[test]
    fn an_allow_with_an_audit_finding_would_block() {
        let r = decide(with(
            "results",
            json!([{"rule_name": "watch", "action": "audit"}]),
        ))
        .expect("valid");
        assert!(r.is_allowed() && r.would_block());
        assert_eq!(r.outcome(), "would-block");
        // Not evaluated: not a finding.
        let r = decide(with(
            "results",
            json!([{"rule_name": "w", "action": "allow", "evaluation_status": "skipped"}]),
        ))
        .expect("valid");
        assert!(!r.would_block() && r.rules_triggered.is_empty());
    }

    #[test]
    fn an_unavailable_decision_takes_the_clients_failure_mode() {
        let body = json!({"action": "allow", "decision_id": ID, "decision_source": "manual",
            "decision_available": false, "failure_kind": "backend_unavailable",
            "reason": "service degraded", "retryable": true});
        let open = decide(body.clone()).expect("valid");
        assert!(open.is_allowed());
        assert_eq!(open.evaluation_status, EvaluationStatus::Unavailable);
        assert_eq!(open.reason, "service degraded");
        let closed = parse(
            body.to_string().as_bytes(),
            &expected(GuardFailureMode::FailClosed),
        )
        .expect("valid");
        assert!(closed.is_blocked());
        assert_eq!(
            closed.failure_kind,
            Some(GuardFailureKind::BackendUnavailable)
        );
        assert_eq!(closed.outcome(), "unavailable");
    }

    #[test]
    fn every_refused_shape_is_malformed() {
        let bad = [
            json!([]),
            json!("allow"),
            with("action", json!("deny")),
            with("action", json!(null)),
            with("decision_id", json!("9b4e28ba-2fa1-11d2-883f-0016d3cca427")),
            with("decision_id", json!("nope")),
            with("decision_id", json!(null)),
            with("decision_source", json!("openai")),
            with("decision_source", json!(null)),
            with("results", json!({})),
            with("results", json!(["x"])),
            with("results", json!([{"action": "deny"}])),
            with("results", json!([{"action": 1}])),
            with(
                "results",
                json!([{"action": "block", "evaluation_status": "skipped"}]),
            ),
            with("results", json!([{"evaluation_status": "maybe"}])),
            with("results", json!([{"rule_id": 7}])),
            with("results", json!([{"score": true}])),
            with("results", json!([{"score": 1.5}])),
            with("results", json!([{"score": -0.1}])),
            with("results", json!([{"violations": [1]}])),
            with("results", json!([{"violations": {}}])),
            with("results", json!([{"latency_ms": -1}])),
            with("results", json!([{"latency_ms": "1"}])),
            with("rules_triggered", json!("r")),
            with("rules_triggered", json!([1])),
            with("decision_available", json!("yes")),
            with("evaluation_status", json!("unavailable")),
            with("evaluation_status", json!("done")),
            with("decision_available", json!(false)),
            json!({"action": "block", "decision_id": ID, "decision_source": "manual", "evaluation_status": "skipped"}),
            json!({"action": "allow", "decision_id": ID, "decision_source": "manual", "evaluation_status": "abstained", "rules_triggered": ["r"]}),
            with("failure_mode", json!("fail_sideways")),
            with("failure_kind", json!("exploded")),
            with("retryable", json!("no")),
            with("reason", json!(1)),
            with("severity", json!(null)),
        ];
        for b in bad {
            assert_eq!(decide(b.clone()).map(|_| ()), Err(MALFORMED), "{b}");
        }
        assert_eq!(
            parse(b"<html>", &expected(GuardFailureMode::FailOpen)).map(|_| ()),
            Err(MALFORMED)
        );
    }

    #[test]
    fn modify_and_escalate_are_unsupported() {
        for a in ["modify", "escalate"] {
            assert_eq!(
                decide(with("action", json!(a))).map(|_| ()),
                Err(GuardFailureKind::UnsupportedAction)
            );
            assert_eq!(
                decide(with("results", json!([{"action": a}]))).map(|_| ()),
                Err(GuardFailureKind::UnsupportedAction)
            );
        }
    }

    #[test]
    fn accepted_optional_shapes() {
        for ok in [
            with("failure_mode", json!("fail_closed")),
            with("failure_mode", json!(null)),
            with("failure_kind", json!("rate_limited")),
            with("results", json!([{"score": null}])),
            with("results", json!([{"score": 0}])),
            with("evaluation_status", json!("skipped")),
            with("retryable", json!(true)),
        ] {
            assert!(decide(ok.clone()).is_ok(), "{ok}");
        }
    }
}

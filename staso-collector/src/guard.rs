//! The guard endpoint, `POST /v1/guard/evaluate` (`shared/guard-annotations-contract.md`
//! §1–3): the strict check of a request, the rules that decide per tool name, and the
//! decision body a client's §3 validation accepts (or, for a failure rule, refuses).

use crate::contract::{check_capture, join, key_name, ValidationError};
use crate::formats::is_lower_uuid;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the guard endpoint answers for a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardAnswer {
    /// `action: "allow"`, no finding. What a tool without a rule gets.
    Allow,
    /// `action: "block"` with one blocking rule result.
    Block {
        /// The rule's name (also in `rules_triggered`).
        rule_name: String,
        /// Why, as the decision's and the rule's `reason`.
        reason: String,
    },
    /// `action: "allow"` with one `audit` rule result: a "would block".
    Audit {
        /// The rule's name (also in `rules_triggered`).
        rule_name: String,
        /// Why it would block.
        reason: String,
    },
    /// `decision_available: false` with this `failure_kind`; the action is the request's
    /// failure mode (`fail_closed` blocks). An unknown kind is sent as is: a client must
    /// then treat the answer as malformed.
    Unavailable {
        /// One of the contract's failure kinds, e.g. `backend_unavailable`.
        failure_kind: String,
    },
    /// This HTTP status with a JSON error body, holding `"code"` when given (a client
    /// takes a known code over the status).
    Status {
        /// The HTTP status.
        status: u16,
        /// A failure kind for the body's `code`.
        code: Option<String>,
    },
    /// 200 with a body that is not JSON.
    NotJson,
    /// An allow decision whose `decision_id` is not the request's.
    WrongDecisionId,
    /// A decision with `action: "modify"`, which clients do not support.
    Modify,
}

/// The rule for one tool: an answer, and how long to wait before giving it.
///
/// ```
/// use staso_collector::GuardRule;
/// use std::time::Duration;
/// let rule = GuardRule::block("no-refunds", "refunds need a human").after(Duration::from_millis(50));
/// assert_eq!("block:refunds need a human@50".parse::<GuardRule>().map(|r| r.delay), Ok(rule.delay));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RuleJson")]
pub struct GuardRule {
    /// The answer.
    pub answer: GuardAnswer,
    /// Waited before answering (the rule result's `latency_ms`).
    pub delay: Duration,
}

impl GuardRule {
    fn of(answer: GuardAnswer) -> Self {
        Self {
            answer,
            delay: Duration::ZERO,
        }
    }

    /// Allow (what tools without a rule get).
    pub fn allow() -> Self {
        Self::of(GuardAnswer::Allow)
    }

    /// Block, naming the rule and the reason.
    pub fn block(rule_name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::of(GuardAnswer::Block {
            rule_name: rule_name.into(),
            reason: reason.into(),
        })
    }

    /// Allow with an audit finding: a "would block".
    pub fn audit(rule_name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::of(GuardAnswer::Audit {
            rule_name: rule_name.into(),
            reason: reason.into(),
        })
    }

    /// No decision available, with this failure kind.
    pub fn unavailable(failure_kind: impl Into<String>) -> Self {
        Self::of(GuardAnswer::Unavailable {
            failure_kind: failure_kind.into(),
        })
    }

    /// Answer an HTTP status (and a JSON error body).
    pub fn status(status: u16) -> Self {
        Self::of(GuardAnswer::Status { status, code: None })
    }

    /// 200 with a body that is not JSON.
    pub fn not_json() -> Self {
        Self::of(GuardAnswer::NotJson)
    }

    /// An allow decision for another `decision_id`.
    pub fn wrong_decision_id() -> Self {
        Self::of(GuardAnswer::WrongDecisionId)
    }

    /// A decision with `action: "modify"`.
    pub fn modify() -> Self {
        Self::of(GuardAnswer::Modify)
    }

    /// The same rule, answering after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// The failure kinds of the contract, whether a client may retry them, and their text.
const FAILURE_KINDS: &[(&str, bool, &str)] = &[
    ("network_unavailable", true, "Guard network unavailable"),
    ("backend_unavailable", true, "Guard service unavailable"),
    ("invalid_key", false, "Guard authentication rejected"),
    ("plan_expired", false, "Guard plan is inactive"),
    ("forbidden", false, "Guard access rejected"),
    ("rate_limited", true, "Guard rate limited"),
    (
        "capacity_exhausted",
        false,
        "Guard evaluation capacity is exhausted",
    ),
    (
        "idempotency_conflict",
        false,
        "Guard decision ID conflicts with an earlier request",
    ),
    (
        "malformed_response",
        false,
        "Guard returned a malformed response",
    ),
    ("deadline_exceeded", true, "Guard request deadline exceeded"),
    (
        "unsupported_action",
        false,
        "Guard returned an unsupported action",
    ),
];

fn known_kind(kind: &str) -> Result<String, String> {
    if FAILURE_KINDS.iter().any(|k| k.0 == kind) {
        Ok(kind.to_owned())
    } else {
        let known: Vec<&str> = FAILURE_KINDS.iter().map(|k| k.0).collect();
        Err(format!(
            "unknown failure kind {kind:?}; expected one of {}",
            known.join(", ")
        ))
    }
}

const DEFAULT_RULE: &str = "collector-rule";

/// `KIND[:ARG][@MS]`, as the binary's `--guard TOOL=RULE` takes it: `allow`,
/// `block[:REASON]`, `audit[:REASON]`, `unavailable:FAILURE_KIND`, `status:CODE`,
/// `not_json`, `wrong_decision_id`, `modify`; `@MS` waits that long first.
impl FromStr for GuardRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (spec, delay) = match s.rsplit_once('@') {
            Some((spec, ms)) if !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) => {
                let ms = ms.parse().map_err(|_| format!("bad delay in {s:?}"))?;
                (spec, Duration::from_millis(ms))
            }
            _ => (s, Duration::ZERO),
        };
        let (kind, arg) = match spec.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (spec, None),
        };
        let json = RuleJson {
            action: kind.to_owned(),
            reason: arg
                .filter(|_| matches!(kind, "block" | "audit"))
                .map(str::to_owned),
            status: match (kind, arg) {
                ("status", Some(a)) => Some(a.parse().map_err(|_| format!("bad status {a:?}"))?),
                _ => None,
            },
            failure_kind: arg.filter(|_| kind == "unavailable").map(str::to_owned),
            rule_name: None,
            code: None,
            delay_ms: 0,
        };
        if arg.is_some() && !matches!(kind, "block" | "audit" | "status" | "unavailable") {
            return Err(format!("{kind} takes no argument: {s:?}"));
        }
        GuardRule::try_from(json).map(|r| r.after(delay))
    }
}

/// A rule in the control endpoint's JSON: `{"action": "block", "rule_name": …, "reason": …,
/// "delay_ms": 50}`, `{"action": "unavailable", "failure_kind": …}`, `{"action": "status",
/// "status": 503, "code": …}`, `{"action": "not_json" | "wrong_decision_id" | "modify" |
/// "allow"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleJson {
    action: String,
    rule_name: Option<String>,
    reason: Option<String>,
    status: Option<u16>,
    code: Option<String>,
    failure_kind: Option<String>,
    #[serde(default)]
    delay_ms: u64,
}

impl TryFrom<RuleJson> for GuardRule {
    type Error = String;
    fn try_from(j: RuleJson) -> Result<Self, String> {
        let name = || j.rule_name.clone().unwrap_or_else(|| DEFAULT_RULE.into());
        let answer = match j.action.as_str() {
            "allow" => GuardAnswer::Allow,
            "block" => GuardAnswer::Block {
                rule_name: name(),
                reason: j
                    .reason
                    .clone()
                    .unwrap_or_else(|| "blocked by the collector's rule".into()),
            },
            "audit" => GuardAnswer::Audit {
                rule_name: name(),
                reason: j
                    .reason
                    .clone()
                    .unwrap_or_else(|| "would be blocked by the collector's rule".into()),
            },
            "unavailable" => GuardAnswer::Unavailable {
                failure_kind: known_kind(
                    j.failure_kind
                        .as_deref()
                        .ok_or("unavailable needs a failure_kind")?,
                )?,
            },
            "status" => GuardAnswer::Status {
                status: j
                    .status
                    .filter(|s| (100..=599).contains(s))
                    .ok_or("status needs an HTTP status (100..=599)")?,
                code: j.code.as_deref().map(known_kind).transpose()?,
            },
            "not_json" => GuardAnswer::NotJson,
            "wrong_decision_id" => GuardAnswer::WrongDecisionId,
            "modify" => GuardAnswer::Modify,
            other => {
                return Err(format!(
                    "unknown guard action {other:?}; expected allow, block, audit, unavailable, \
                     status, not_json, wrong_decision_id or modify"
                ))
            }
        };
        Ok(GuardRule {
            answer,
            delay: Duration::from_millis(j.delay_ms),
        })
    }
}

/// Guard rules in the JSON form of `POST /_staso/guard`:
/// `{"clear": true, "rules": {"delete_file": {"action": "block"}, "*": {"action": "audit"}}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardPlan {
    /// Forget every rule first.
    #[serde(default)]
    pub clear: bool,
    /// Rules by tool name; `"*"` is for every tool without a rule of its own.
    #[serde(default)]
    pub rules: BTreeMap<String, GuardRule>,
}

/// The guard rules of a running collector, by tool name (cheap to clone; changes apply
/// to the next guard request). A tool without a rule, and no `"*"` rule, is allowed.
///
/// ```no_run
/// use staso_collector::{Collector, GuardRule};
/// let c = Collector::start_blocking(Default::default())?;
/// c.guard().set("delete_file", GuardRule::block("no-deletes", "deleting is not allowed"));
/// c.guard().set("*", GuardRule::audit("watch", "everything is audited"));
/// # Ok::<(), staso_collector::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct GuardRules(Arc<Mutex<HashMap<String, GuardRule>>>);

impl GuardRules {
    fn rules(&self) -> std::sync::MutexGuard<'_, HashMap<String, GuardRule>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the rule for `tool_name` (`"*"`: every tool without a rule of its own).
    pub fn set(&self, tool_name: impl Into<String>, rule: GuardRule) {
        self.rules().insert(tool_name.into(), rule);
    }

    /// Forgets every rule: every tool is allowed.
    pub fn clear(&self) {
        self.rules().clear();
    }

    /// Applies a [`GuardPlan`] (the control endpoint's JSON body).
    pub fn apply(&self, plan: &GuardPlan) {
        let mut rules = self.rules();
        if plan.clear {
            rules.clear();
        }
        for (tool, rule) in &plan.rules {
            rules.insert(tool.clone(), rule.clone());
        }
    }

    /// The rule for `tool_name`, if any.
    pub(crate) fn rule_for(&self, tool_name: &str) -> Option<GuardRule> {
        let rules = self.rules();
        rules.get(tool_name).or_else(|| rules.get("*")).cloned()
    }
}

/// What a valid guard request says that the answer needs.
#[derive(Debug)]
pub(crate) struct GuardRequest {
    pub tool_name: String,
    decision_id: String,
    decision_source: String,
    failure_mode: String,
}

const DECISION_SOURCES: &[&str] = &[
    "manual",
    "openai",
    "anthropic",
    "litellm",
    "claude-code",
    "codex",
    "sdk",
];

const REQUEST_FIELDS: &[&str] = &[
    "payload_version",
    "tool_name",
    "tool_input",
    "context",
    "decision_id",
    "decision_source",
    "failure_mode",
    "capture",
    "deadline_ms",
];

/// Checks a guard request body field by field; every field is required.
pub(crate) fn check_request(bytes: &[u8]) -> Result<GuardRequest, ValidationError> {
    let body: Value = serde_json::from_slice(bytes).map_err(ValidationError::not_json)?;
    let obj = body
        .as_object()
        .ok_or_else(|| ValidationError::new("body", "expected a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !REQUEST_FIELDS.contains(&k.as_str())) {
        return Err(ValidationError::new(key_name(k), "unknown field"));
    }
    for name in REQUEST_FIELDS {
        let v = obj
            .get(*name)
            .ok_or_else(|| ValidationError::new(*name, "missing field"))?;
        check_field(name, v)?;
    }
    let text = |name: &str| obj[name].as_str().unwrap_or_default().to_owned();
    Ok(GuardRequest {
        tool_name: text("tool_name"),
        decision_id: text("decision_id"),
        decision_source: text("decision_source"),
        failure_mode: text("failure_mode"),
    })
}

fn check_field(name: &str, v: &Value) -> Result<(), ValidationError> {
    let fail = |e: &str| Err(ValidationError::new(name, e));
    let one_of = |allowed: &[&str]| match v.as_str() {
        Some(s) if allowed.contains(&s) => Ok(()),
        _ => fail(&format!("expected one of {}", allowed.join(", "))),
    };
    match name {
        "payload_version" if v.as_u64() != Some(1) => fail("expected 1"),
        "tool_name" if v.as_str().map_or(true, str::is_empty) => {
            fail("expected a non-empty string")
        }
        "tool_input" | "context" if !v.is_object() => fail("expected an object"),
        "decision_id" if !v.as_str().is_some_and(is_lower_uuid) => {
            fail("expected a lowercase hyphenated UUID")
        }
        "decision_source" => one_of(DECISION_SOURCES),
        "failure_mode" => one_of(&["fail_open", "fail_closed"]),
        "capture" => check_capture(v).map_err(|(sub, e)| ValidationError::new(join(name, &sub), e)),
        "deadline_ms" if !v.as_u64().is_some_and(|ms| (100..=30_000).contains(&ms)) => {
            fail("expected an integer from 100 to 30000")
        }
        _ => Ok(()),
    }
}

/// The answer to a valid guard request.
pub(crate) enum Answer {
    /// A JSON body with this status.
    Json(u16, Value),
    /// 200 with a body that is not JSON.
    NotJson,
}

/// Decides: the rule's answer (allow without a rule), as the body to send.
pub(crate) fn answer(req: &GuardRequest, rule: Option<&GuardRule>) -> Answer {
    let latency_ms = rule.map_or(0.0, |r| r.delay.as_secs_f64() * 1000.0);
    let finding = |rule_name: &str, action: &str, reason: &str, severity: &str| {
        json!({
            "rule_id": format!("collector:{rule_name}"),
            "rule_name": rule_name,
            "action": action,
            "evaluation_status": "evaluated",
            "reason": reason,
            "severity": severity,
            "score": 1.0,
            "violations": [],
            "latency_ms": latency_ms,
        })
    };
    let answer = rule.map_or(&GuardAnswer::Allow, |r| &r.answer);
    let body = match answer {
        GuardAnswer::Allow => decision(req, "allow", None, "", "low"),
        GuardAnswer::Block { rule_name, reason } => decision(
            req,
            "block",
            Some((rule_name, finding(rule_name, "block", reason, "high"))),
            reason,
            "high",
        ),
        GuardAnswer::Audit { rule_name, reason } => decision(
            req,
            "allow",
            Some((rule_name, finding(rule_name, "audit", reason, "medium"))),
            reason,
            "medium",
        ),
        GuardAnswer::Unavailable { failure_kind } => {
            let closed = req.failure_mode == "fail_closed";
            let (retryable, text) = FAILURE_KINDS
                .iter()
                .find(|k| k.0 == failure_kind)
                .map_or((false, "Guard decision unavailable"), |k| (k.1, k.2));
            let mut d = decision(
                req,
                if closed { "block" } else { "allow" },
                None,
                text,
                if closed { "high" } else { "low" },
            );
            d.insert("decision_available".into(), false.into());
            d.insert("evaluation_status".into(), "unavailable".into());
            d.insert("failure_kind".into(), failure_kind.as_str().into());
            d.insert("retryable".into(), retryable.into());
            d
        }
        GuardAnswer::Status { status, code } => {
            let mut body = json!({"error": "injected guard failure", "status": status});
            if let Some(code) = code {
                body["code"] = code.as_str().into();
            }
            return Answer::Json(*status, body);
        }
        GuardAnswer::NotJson => return Answer::NotJson,
        GuardAnswer::WrongDecisionId => {
            let mut d = decision(req, "allow", None, "", "low");
            d.insert(
                "decision_id".into(),
                uuid::Uuid::new_v4().to_string().into(),
            );
            d
        }
        GuardAnswer::Modify => decision(req, "modify", None, "", "low"),
    };
    Answer::Json(200, Value::Object(body))
}

/// A decision body with at most one rule result (and its rule then triggered).
fn decision(
    req: &GuardRequest,
    action: &str,
    finding: Option<(&String, Value)>,
    reason: &str,
    severity: &str,
) -> Map<String, Value> {
    let (triggered, results) = match finding {
        Some((name, result)) => (vec![Value::from(name.as_str())], vec![result]),
        None => (vec![], vec![]),
    };
    let body = json!({
        "action": action,
        "decision_id": req.decision_id,
        "decision_source": req.decision_source,
        "results": results,
        "rules_triggered": triggered,
        "decision_available": true,
        "evaluation_status": "evaluated",
        "reason": reason,
        "severity": severity,
        "failure_mode": req.failure_mode,
    });
    match body {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        let parse = |s: &str| s.parse::<GuardRule>();
        assert_eq!(parse("allow"), Ok(GuardRule::allow()));
        assert_eq!(
            parse("block:no deletes@250"),
            Ok(GuardRule::block(DEFAULT_RULE, "no deletes").after(Duration::from_millis(250)))
        );
        assert_eq!(parse("status:503"), Ok(GuardRule::status(503)));
        assert_eq!(
            parse("unavailable:rate_limited"),
            Ok(GuardRule::unavailable("rate_limited"))
        );
        assert_eq!(parse("modify"), Ok(GuardRule::modify()));
        assert!(parse("unavailable:nope").is_err());
        assert!(parse("status:abc").is_err());
        assert!(parse("modify:x").is_err());
        assert!(parse("explode").is_err());
    }
}

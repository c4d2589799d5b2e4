//! What a guard check answers: the decision, the rules behind it, why it could not be made
//! (`GuardResult`), and the error that stops a blocked tool (`GuardBlocked`). Plain data,
//! compiled in both builds, so code that reads a decision is the same with the `enable`
//! feature and without it.

use crate::guard::{
    DecisionId, DecisionSource, EvaluationStatus, GuardAction, GuardFailureKind, GuardFailureMode,
    RuleAction,
};
use std::fmt;

/// What one guard rule concluded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GuardRuleResult {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's name.
    pub rule_name: String,
    /// True when the rule's action is `allow`.
    pub passed: bool,
    /// The rule's score in 0..=1, when it gives one.
    pub score: Option<f64>,
    /// What the rule says.
    pub action: RuleAction,
    /// Why.
    pub reason: String,
    /// How severe (`medium` unless the service says otherwise).
    pub severity: String,
    /// How long the rule took on the service.
    pub latency_ms: f64,
    /// The violations the rule found, each the JSON text of one object (as the service
    /// sent it; parse it with `serde_json` for its fields).
    pub violations: Vec<String>,
    /// Whether the rule was evaluated.
    pub evaluation_status: EvaluationStatus,
}

impl Default for GuardRuleResult {
    fn default() -> Self {
        GuardRuleResult {
            rule_id: String::new(),
            rule_name: String::new(),
            passed: true,
            score: None,
            action: RuleAction::Allow,
            reason: String::new(),
            severity: "medium".into(),
            latency_ms: 0.0,
            violations: Vec::new(),
            evaluation_status: EvaluationStatus::Evaluated,
        }
    }
}

impl GuardRuleResult {
    /// A finding: the rule was evaluated and did not pass (an audit or a block).
    pub fn is_finding(&self) -> bool {
        self.evaluation_status == EvaluationStatus::Evaluated && !self.passed
    }
}

/// The answer to a guard check: whether the tool may run, and why.
///
/// Nothing is enforced by itself: act on [`action`](Self::action), or make a block an
/// error with [`enforce`](Self::enforce):
///
/// ```
/// # fn demo(result: staso_types::GuardResult) -> Result<(), Box<dyn std::error::Error>> {
/// result.enforce()?; // Err(GuardBlocked) when the tool must not run
/// // ... run the tool ...
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[must_use = "a guard result enforces nothing by itself: check `action` or call `enforce()?`"]
pub struct GuardResult {
    /// The tool the check was for (not on the wire; for messages).
    pub tool_name: String,
    /// The effective decision: when no decision was available, the failure mode's.
    pub action: GuardAction,
    /// Why. For an unavailable decision: the failure's text and ` (fail-open)` or
    /// ` (fail-closed)`.
    pub reason: String,
    /// The first triggered rule, if any.
    pub rule_name: Option<String>,
    /// How severe (`low` by default; `high` for a fail-closed block).
    pub severity: String,
    /// The rules' results.
    pub results: Vec<GuardRuleResult>,
    /// The round trip as the client measured it.
    pub latency_ms: f64,
    /// The rules that triggered (the service's list, else the findings' names).
    pub rules_triggered: Vec<String>,
    /// False when no decision could be had (see [`failure_kind`](Self::failure_kind)).
    pub decision_available: bool,
    /// Why no decision could be had.
    pub failure_kind: Option<GuardFailureKind>,
    /// The mode applied when no decision is available.
    pub failure_mode: GuardFailureMode,
    /// Whether asking again may get a decision.
    pub retryable: bool,
    /// The decision's id (sent with the request and checked in the answer); `None`
    /// only in the compiled-out build, where nothing is asked.
    pub decision_id: Option<DecisionId>,
    /// Who asked.
    pub decision_source: DecisionSource,
    /// Whether the decision was evaluated.
    pub evaluation_status: EvaluationStatus,
}

impl Default for GuardResult {
    fn default() -> Self {
        GuardResult {
            tool_name: String::new(),
            action: GuardAction::Allow,
            reason: String::new(),
            rule_name: None,
            severity: "low".into(),
            results: Vec::new(),
            latency_ms: 0.0,
            rules_triggered: Vec::new(),
            decision_available: true,
            failure_kind: None,
            failure_mode: GuardFailureMode::FailOpen,
            retryable: false,
            decision_id: None,
            decision_source: DecisionSource::Manual,
            evaluation_status: EvaluationStatus::Evaluated,
        }
    }
}

impl GuardResult {
    /// What the compiled-out build answers: allow, evaluation `skipped`, nothing checked.
    pub fn compiled_out(tool_name: &str) -> GuardResult {
        GuardResult {
            tool_name: tool_name.to_string(),
            reason:
                "guard is compiled out (the `enable` feature of staso is off); nothing was checked"
                    .into(),
            evaluation_status: EvaluationStatus::Skipped,
            ..GuardResult::default()
        }
    }

    /// The result of a check that got no decision: `kind`'s text and the mode's label as
    /// the reason, the mode's action, severity `high` when it blocks.
    pub fn unavailable(
        tool_name: &str,
        kind: GuardFailureKind,
        mode: GuardFailureMode,
        text: &str,
        retryable: bool,
    ) -> GuardResult {
        let closed = mode == GuardFailureMode::FailClosed;
        GuardResult {
            tool_name: tool_name.to_string(),
            action: mode.action(),
            reason: format!("{text} ({})", mode.label()),
            severity: if closed { "high" } else { "low" }.into(),
            decision_available: false,
            failure_kind: Some(kind),
            failure_mode: mode,
            retryable,
            evaluation_status: EvaluationStatus::Unavailable,
            ..GuardResult::default()
        }
    }

    /// True when the tool may run.
    pub fn is_allowed(&self) -> bool {
        self.action == GuardAction::Allow
    }

    /// True when the tool must not run (also: no decision under fail-closed).
    pub fn is_blocked(&self) -> bool {
        self.action == GuardAction::Block
    }

    /// Allowed, but a rule recorded a finding: it would block in enforce mode (audit).
    pub fn would_block(&self) -> bool {
        self.decision_available && self.is_allowed() && self.results.iter().any(|r| r.is_finding())
    }

    /// The rules that were evaluated and did not pass.
    pub fn findings(&self) -> impl Iterator<Item = &GuardRuleResult> {
        self.results.iter().filter(|r| r.is_finding())
    }

    /// How the decision reads in a span name: `allowed`, `blocked`, `would-block` or
    /// `unavailable`.
    pub fn outcome(&self) -> &'static str {
        if !self.decision_available {
            "unavailable"
        } else if self.is_blocked() {
            "blocked"
        } else if self.would_block() {
            "would-block"
        } else {
            "allowed"
        }
    }

    /// `Ok(())` when the tool may run, `Err(GuardBlocked)` when it must not: blocking is
    /// one `?` away.
    pub fn enforce(&self) -> Result<(), GuardBlocked> {
        if !self.is_blocked() {
            return Ok(());
        }
        match GuardBlocked::new(vec![BlockedTool::new(self.tool_name.clone(), self.clone())]) {
            Some(blocked) => Err(blocked),
            None => Ok(()),
        }
    }
}

/// One blocked tool of a [`GuardBlocked`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BlockedTool {
    /// The tool's name.
    pub tool_name: String,
    /// Its decision.
    pub result: GuardResult,
}

impl BlockedTool {
    /// A blocked tool and its decision.
    pub fn new(tool_name: impl Into<String>, result: GuardResult) -> BlockedTool {
        BlockedTool {
            tool_name: tool_name.into(),
            result,
        }
    }
}

/// The error that stops blocked tools: from [`GuardResult::enforce`], from
/// `#[staso::tool(guard)]`, and for a whole batch of tool calls an LLM proposed (when any
/// is blocked, none runs).
///
/// Its message is `Guard blocked tool '<t>': <reason>`, or for several
/// `Guard blocked N tools (a, b): a: <reason>; b: <reason>`.
#[derive(Clone, PartialEq)]
pub struct GuardBlocked(Box<Blocked>);

#[derive(Debug, Clone, PartialEq)]
struct Blocked {
    blocked_tools: Vec<BlockedTool>,
    rules_triggered: Vec<String>,
    reason: String,
    message: String,
}

impl GuardBlocked {
    /// The error for these blocked tools; `None` when there is none. The first one's
    /// name and result are [`tool_name`](Self::tool_name) and [`result`](Self::result).
    pub fn new(blocked_tools: Vec<BlockedTool>) -> Option<GuardBlocked> {
        if blocked_tools.is_empty() {
            return None;
        }
        let mut rules_triggered: Vec<String> = Vec::new();
        for bt in &blocked_tools {
            for rule in &bt.result.rules_triggered {
                if !rules_triggered.contains(rule) {
                    rules_triggered.push(rule.clone());
                }
            }
        }
        let (reason, message) = if blocked_tools.len() > 1 {
            let parts: Vec<String> = blocked_tools
                .iter()
                .map(|bt| {
                    if bt.result.reason.is_empty() {
                        bt.tool_name.clone()
                    } else {
                        format!("{}: {}", bt.tool_name, bt.result.reason)
                    }
                })
                .collect();
            let reason = parts.join("; ");
            let names: Vec<&str> = blocked_tools.iter().map(|b| b.tool_name.as_str()).collect();
            let message = format!(
                "Guard blocked {} tools ({}): {reason}",
                blocked_tools.len(),
                names.join(", ")
            );
            (reason, message)
        } else {
            let first = &blocked_tools[0];
            let reason = if first.result.reason.is_empty() {
                "Guard policy blocked this tool call".to_string()
            } else {
                first.result.reason.clone()
            };
            let message = format!("Guard blocked tool {}: {reason}", py_repr(&first.tool_name));
            (reason, message)
        };
        Some(GuardBlocked(Box::new(Blocked {
            blocked_tools,
            rules_triggered,
            reason,
            message,
        })))
    }

    /// The first blocked tool's name.
    pub fn tool_name(&self) -> &str {
        &self.0.blocked_tools[0].tool_name
    }

    /// The first blocked tool's decision.
    pub fn result(&self) -> &GuardResult {
        &self.0.blocked_tools[0].result
    }

    /// Every blocked tool, in order.
    pub fn blocked_tools(&self) -> &[BlockedTool] {
        &self.0.blocked_tools
    }

    /// Every rule behind the block, without duplicates, in order.
    pub fn rules_triggered(&self) -> &[String] {
        &self.0.rules_triggered
    }

    /// Why: the reason of the one blocked tool, or `a: <reason>; b: <reason>`.
    pub fn reason(&self) -> &str {
        &self.0.reason
    }
}

/// Python's `repr` of a string, as the Python SDK writes the tool name in its message.
fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

impl fmt::Display for GuardBlocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl fmt::Debug for GuardBlocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardBlocked")
            .field("message", &self.0.message)
            .field("rules_triggered", &self.0.rules_triggered)
            .field("blocked_tools", &self.0.blocked_tools)
            .finish()
    }
}

impl std::error::Error for GuardBlocked {}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(tool: &str, reason: &str, rules: &[&str]) -> BlockedTool {
        BlockedTool::new(
            tool,
            GuardResult {
                tool_name: tool.into(),
                action: GuardAction::Block,
                reason: reason.into(),
                rules_triggered: rules.iter().map(|r| r.to_string()).collect(),
                ..GuardResult::default()
            },
        )
    }

    #[test]
    fn one_blocked_tool_reads_as_the_python_sdk_writes_it() {
        let e = GuardBlocked::new(vec![blocked(
            "get_weather",
            "blocked by fixture rule",
            &["r"],
        )])
        .expect("one");
        assert_eq!(
            e.to_string(),
            "Guard blocked tool 'get_weather': blocked by fixture rule"
        );
        assert_eq!(e.tool_name(), "get_weather");
        let e = GuardBlocked::new(vec![blocked("it's", "", &[])]).expect("one");
        assert_eq!(GuardBlocked::new(Vec::new()), None);
        assert_eq!(
            e.to_string(),
            "Guard blocked tool \"it's\": Guard policy blocked this tool call"
        );
    }

    #[test]
    fn several_blocked_tools_are_listed_and_their_rules_merged() {
        let e = GuardBlocked::new(vec![
            blocked("a", "ra", &["r1", "r2"]),
            blocked("b", "", &["r2", "r3"]),
        ])
        .expect("two");
        assert_eq!(e.to_string(), "Guard blocked 2 tools (a, b): a: ra; b");
        assert_eq!(e.reason(), "a: ra; b");
        assert_eq!(e.rules_triggered(), ["r1", "r2", "r3"]);
        assert_eq!(e.blocked_tools().len(), 2);
    }

    #[test]
    fn enforce_is_ok_unless_blocked() {
        let allow = GuardResult::default();
        assert!(allow.enforce().is_ok());
        let r = GuardResult::unavailable(
            "rm",
            GuardFailureKind::NetworkUnavailable,
            GuardFailureMode::FailClosed,
            GuardFailureKind::NetworkUnavailable.text(),
            true,
        );
        assert_eq!(r.reason, "Guard network unavailable (fail-closed)");
        assert_eq!(r.severity, "high");
        let e = r.enforce().expect_err("fail-closed blocks");
        assert_eq!(
            e.to_string(),
            "Guard blocked tool 'rm': Guard network unavailable (fail-closed)"
        );
        let open = GuardResult::unavailable(
            "rm",
            GuardFailureKind::NetworkUnavailable,
            GuardFailureMode::FailOpen,
            "Guard network unavailable",
            true,
        );
        assert!(open.enforce().is_ok());
        assert_eq!(open.outcome(), "unavailable");
    }
}

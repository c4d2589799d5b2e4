//! The names of guard decisions (actions, failure modes and kinds, evaluation statuses,
//! decision sources), the contract's failure table, and decision ids. Plain data,
//! compiled in both builds; the result and the error are in `guard_result`.
//!
//! The names on the wire are those of the guard contract (the Python SDK's), listed once.

use crate::kind::named_enum;
use std::fmt;
use std::str::FromStr;

named_enum! {
    /// The decision a guard check reaches: the tool may run, or it may not.
    GuardAction {
        /// The tool may run (possibly with audit findings: a "would block").
        Allow = "allow",
        /// The tool must not run.
        Block = "block",
    }
}

named_enum! {
    /// What a check does when no decision can be had (network down, service failing,
    /// malformed answer): let the tool run, or stop it.
    GuardFailureMode {
        /// Allow the tool (the default: a degraded guard never stops legitimate work).
        FailOpen = "fail_open",
        /// Block the tool (opt in: `fail_closed`, or `STASO_GUARD_FAIL_CLOSED=1`).
        FailClosed = "fail_closed",
    }
}

named_enum! {
    /// Whether the guard evaluated a decision (or one rule).
    EvaluationStatus {
        /// It was evaluated.
        Evaluated = "evaluated",
        /// It was skipped (the action is then `allow`).
        Skipped = "skipped",
        /// It abstained (the action is then `allow`).
        Abstained = "abstained",
        /// No decision was available.
        Unavailable = "unavailable",
    }
}

named_enum! {
    /// What one rule says.
    RuleAction {
        /// The rule passes.
        Allow = "allow",
        /// The rule blocks the tool.
        Block = "block",
        /// The rule would block; it only records a finding (audit mode).
        Audit = "audit",
    }
}

named_enum! {
    /// Who asked for the decision (`decision_source` on the wire).
    DecisionSource {
        /// `staso::guard` and its variants.
        Manual = "manual",
        /// The SDK itself (`#[staso::tool(guard)]`).
        Sdk = "sdk",
        /// The OpenAI integration.
        Openai = "openai",
        /// The Anthropic integration.
        Anthropic = "anthropic",
        /// The LiteLLM integration (Python).
        Litellm = "litellm",
        /// The Claude Code hook.
        ClaudeCode = "claude-code",
        /// The Codex hook.
        Codex = "codex",
    }
}

named_enum! {
    /// Why a guard decision was not available. Separate from the delivery
    /// [`FailureKind`](crate::FailureKind): these are the guard contract's names.
    GuardFailureKind {
        /// The connection failed (refused, reset, TLS).
        NetworkUnavailable = "network_unavailable",
        /// 5xx: the guard service is down or overloaded.
        BackendUnavailable = "backend_unavailable",
        /// No API key, or 401.
        InvalidKey = "invalid_key",
        /// 402: the plan is inactive.
        PlanExpired = "plan_expired",
        /// 403: the key may not use guard in this workspace.
        Forbidden = "forbidden",
        /// 429.
        RateLimited = "rate_limited",
        /// The service has no evaluation capacity left.
        CapacityExhausted = "capacity_exhausted",
        /// The decision id was used before for another request.
        IdempotencyConflict = "idempotency_conflict",
        /// Another 4xx, or an answer that is not a valid decision.
        MalformedResponse = "malformed_response",
        /// The check's deadline passed before an answer (also: a timeout under 0.1 s).
        DeadlineExceeded = "deadline_exceeded",
        /// The service answered `modify` or `escalate`, which clients do not support.
        UnsupportedAction = "unsupported_action",
    }
}

impl GuardFailureKind {
    /// The contract's text for the kind (a result's reason is this text followed by
    /// ` (fail-open)` or ` (fail-closed)`).
    pub const fn text(self) -> &'static str {
        match self {
            GuardFailureKind::NetworkUnavailable => "Guard network unavailable",
            GuardFailureKind::BackendUnavailable => "Guard service unavailable",
            GuardFailureKind::InvalidKey => "Guard authentication rejected",
            GuardFailureKind::PlanExpired => "Guard plan is inactive",
            GuardFailureKind::Forbidden => "Guard access rejected",
            GuardFailureKind::RateLimited => "Guard rate limited",
            GuardFailureKind::CapacityExhausted => "Guard evaluation capacity is exhausted",
            GuardFailureKind::IdempotencyConflict => {
                "Guard decision ID conflicts with an earlier request"
            }
            GuardFailureKind::MalformedResponse => "Guard returned a malformed response",
            GuardFailureKind::DeadlineExceeded => "Guard request deadline exceeded",
            GuardFailureKind::UnsupportedAction => "Guard returned an unsupported action",
        }
    }

    /// Whether asking again (with the same decision id) may get a decision.
    pub const fn retryable(self) -> bool {
        matches!(
            self,
            GuardFailureKind::NetworkUnavailable
                | GuardFailureKind::BackendUnavailable
                | GuardFailureKind::RateLimited
                | GuardFailureKind::DeadlineExceeded
        )
    }

    /// The kind with this wire name.
    pub fn from_name(name: &str) -> Option<GuardFailureKind> {
        GuardFailureKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == name)
    }
}

impl GuardFailureMode {
    /// `fail-open` / `fail-closed`, as the suffix of a failure's reason.
    pub const fn label(self) -> &'static str {
        match self {
            GuardFailureMode::FailOpen => "fail-open",
            GuardFailureMode::FailClosed => "fail-closed",
        }
    }

    /// The action this mode takes when no decision is available.
    pub const fn action(self) -> GuardAction {
        match self {
            GuardFailureMode::FailOpen => GuardAction::Allow,
            GuardFailureMode::FailClosed => GuardAction::Block,
        }
    }
}

#[allow(clippy::derivable_impls)] // a derive cannot see through `named_enum!`
impl Default for GuardFailureMode {
    fn default() -> Self {
        GuardFailureMode::FailOpen
    }
}

/// A decision id: a UUID that makes a retried check idempotent (the service answers
/// `idempotency_conflict` when one is reused for another request). Parsed from any UUID
/// form and written lowercase and hyphenated.
///
/// ```
/// use staso_types::DecisionId;
/// let id: DecisionId = "{1B4E28BA-2FA1-11D2-883F-0016D3CCA427}".parse().unwrap();
/// assert_eq!(id.to_string(), "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
/// assert!("not-a-uuid".parse::<DecisionId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecisionId(u128);

impl DecisionId {
    /// The id with these bits.
    pub const fn from_u128(bits: u128) -> DecisionId {
        DecisionId(bits)
    }

    /// The id's bits.
    pub const fn to_u128(self) -> u128 {
        self.0
    }
}

/// Text that is not a UUID, given as a decision id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDecisionIdError(String);

impl fmt::Display for ParseDecisionIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a decision id: {:?} is not a UUID (expected e.g. 1b4e28ba-2fa1-11d2-883f-0016d3cca427)",
            self.0
        )
    }
}

impl std::error::Error for ParseDecisionIdError {}

impl FromStr for DecisionId {
    type Err = ParseDecisionIdError;
    /// Any form `uuid` parses: hyphenated, simple, braced or `urn:uuid:`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s.trim())
            .map(|u| DecisionId(u.as_u128()))
            .map_err(|_| ParseDecisionIdError(s.chars().take(64).collect()))
    }
}

impl fmt::Display for DecisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&uuid::Uuid::from_u128(self.0).hyphenated(), f)
    }
}

impl fmt::Debug for DecisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DecisionId({self})")
    }
}

impl serde::Serialize for DecisionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_table() {
        use GuardFailureKind as K;
        for (k, retry) in [
            (K::NetworkUnavailable, true),
            (K::BackendUnavailable, true),
            (K::InvalidKey, false),
            (K::PlanExpired, false),
            (K::Forbidden, false),
            (K::RateLimited, true),
            (K::CapacityExhausted, false),
            (K::IdempotencyConflict, false),
            (K::MalformedResponse, false),
            (K::DeadlineExceeded, true),
            (K::UnsupportedAction, false),
        ] {
            assert_eq!(k.retryable(), retry, "{k}");
            assert_eq!(K::from_name(k.as_str()), Some(k));
            assert!(k.text().starts_with("Guard "), "{k}");
        }
        assert_eq!(K::ALL.len(), 11);
        assert_eq!(K::from_name("timeout"), None);
    }

    #[test]
    fn decision_ids_normalise_every_uuid_form() {
        let want = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
        for s in [
            want,
            "1B4E28BA-2FA1-11D2-883F-0016D3CCA427",
            "1b4e28ba2fa111d2883f0016d3cca427",
            "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        ] {
            assert_eq!(
                s.parse::<DecisionId>().map(|d| d.to_string()),
                Ok(want.into()),
                "{s}"
            );
        }
        let e = "42".parse::<DecisionId>().expect_err("not a uuid");
        assert!(e.to_string().contains("not a UUID"), "{e}");
    }
}

//! The post-reply hook point: the one place where, after a reply (or at the end of a
//! stream) that proposes tool calls, something may look at the calls and the LLM span
//! before the caller gets the reply — and may turn the reply into an error.
//!
//! Today it does nothing. Guard (issue 11) plugs in here: it evaluates each proposed call
//! (id, name, arguments), adds its keys to the span (`guard_evaluations`, child
//! `guard:<kind>:<tool>` spans) and, to block, returns [`Outcome::Block`]. Every caller
//! already handles that outcome: the span is marked failed with `exception.type`
//! `GuardBlocked`, and the integrations return their client's error instead of the reply
//! (async-openai: `OpenAIError::InvalidArgument` with the message, so `Err` stays the
//! library's own type; a stream yields that error as its last item).

use super::view::ProposedCall;
use crate::local::span::Span;

/// What the hook decided about a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Hand the reply to the caller.
    Continue,
    /// Refuse the reply: the caller gets an error with this message. Not produced yet:
    /// Guard's decisions will be.
    #[allow(dead_code)]
    Block {
        /// e.g. `Guard blocked tool 'refund': over the limit`.
        message: String,
    },
}

/// Runs after a reply with at least one proposed tool call, on the caller's task, with the
/// LLM span still open (`span` is where the hook records what it did).
pub(crate) fn after_reply(span: &mut Span, calls: &[ProposedCall]) -> Outcome {
    let _ = (span, calls);
    Outcome::Continue
}

/// Marks the span of a blocked reply as failed (the Python SDK's `GuardBlocked`).
pub(crate) fn mark_blocked(span: &mut Span, message: &str) {
    span.set_exception("GuardBlocked", message);
}

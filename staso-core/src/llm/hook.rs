//! The post-reply hook point: the one place where, after a reply (or at the end of a
//! stream) that proposes tool calls, something may look at the calls and the LLM span
//! before the caller gets the reply — and may turn the reply into an error.
//!
//! Guard plugs in here: it evaluates each proposed call (id, name, arguments) as the
//! guard contract's §4 says (up to 4 at once under one deadline; `STASO_GUARD_ENABLED=false`
//! switches it off), adds its keys to the span (`guard_evaluations`, child
//! `guard:<kind>:<tool>` spans, and on a block the span's error) and, to block, returns
//! [`Outcome::Block`]. The integrations then return their client's error instead of the
//! reply (async-openai: `OpenAIError::InvalidArgument` with the message, so `Err` stays the
//! library's own type; a stream yields that error as its last item).
//!
//! The check runs on the caller's thread and waits for the decisions (on guard's own
//! runtime, so it never needs the caller's): like the Python SDK, a reply reaches the
//! caller only once its tool calls are allowed.

use super::view::ProposedCall;
use crate::guard::batch::{self, BatchOptions, ProposedToolCall, ToolArguments};
use crate::local::span::Span;
use serde_json::Value;
use staso_types::{Api, DecisionSource, GuardBlocked};

/// What the hook decided about a reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Hand the reply to the caller.
    Continue,
    /// Refuse the reply: the caller gets this error (the span already says why).
    Block(GuardBlocked),
}

impl Outcome {
    /// The outcome as the caller of the JSON-level and typed API sees it.
    pub(crate) fn into_result(self) -> Result<(), GuardBlocked> {
        match self {
            Outcome::Continue => Ok(()),
            Outcome::Block(blocked) => Err(blocked),
        }
    }
}

/// Runs after a reply of `api` with at least one proposed tool call (`stream`: at the end
/// of a stream), on the caller's task, with the LLM span still open (`span` is where the
/// checks record what they did).
pub(crate) fn after_reply(
    span: &mut Span,
    calls: &[ProposedCall],
    api: Api,
    stream: bool,
) -> Outcome {
    let source = match api {
        Api::AnthropicMessages => DecisionSource::Anthropic,
        _ => DecisionSource::Openai,
    };
    let proposed: Vec<ProposedToolCall> = calls
        .iter()
        .map(|c| ProposedToolCall {
            id: (!c.id.is_empty()).then(|| c.id.clone()),
            name: if c.name.is_empty() {
                "unknown".to_string()
            } else {
                c.name.clone()
            },
            arguments: match &c.arguments {
                Value::String(s) => ToolArguments::Json(s.clone()),
                Value::Null => ToolArguments::Missing,
                v => ToolArguments::Parsed(v.clone()),
            },
        })
        .collect();
    let mut options = BatchOptions::new(source);
    options.stream = stream;
    match batch::evaluate_tool_calls_blocking(span, &proposed, options) {
        Ok(_) => Outcome::Continue,
        Err(blocked) => Outcome::Block(blocked),
    }
}

//! Which content may leave the process: the contract's five capture categories and the
//! rules that follow from them, written once for every kind of span.

use crate::kind::Kind;

/// The five capture categories of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// Inputs of non-tool spans, span names, user messages and request parameters.
    Request,
    /// System and developer prompts.
    SystemPrompt,
    /// Tool definitions (schemas) sent to a model.
    ToolSchema,
    /// Inputs of tool spans and the arguments of tool calls.
    ToolArguments,
    /// Outputs.
    Output,
}

impl Category {
    /// Every category, in the contract's order.
    pub const ALL: [Category; 5] = [
        Category::Request,
        Category::SystemPrompt,
        Category::ToolSchema,
        Category::ToolArguments,
        Category::Output,
    ];

    /// The contract's name (`request`, `system_prompt`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Request => "request",
            Category::SystemPrompt => "system_prompt",
            Category::ToolSchema => "tool_schema",
            Category::ToolArguments => "tool_arguments",
            Category::Output => "output",
        }
    }

    /// The environment variable that switches it (`STASO_CAPTURE_REQUEST`, ...).
    pub const fn env_var(self) -> &'static str {
        match self {
            Category::Request => "STASO_CAPTURE_REQUEST",
            Category::SystemPrompt => "STASO_CAPTURE_SYSTEM_PROMPT",
            Category::ToolSchema => "STASO_CAPTURE_TOOL_SCHEMA",
            Category::ToolArguments => "STASO_CAPTURE_TOOL_ARGUMENTS",
            Category::Output => "STASO_CAPTURE_OUTPUT",
        }
    }
}

/// Which kinds of content are sent. All five categories are on by default.
///
/// ```
/// use staso_types::{CapturePolicy, Kind};
/// let mut p = CapturePolicy::default();
/// p.tool_arguments = false;
/// assert!(!p.allows_input(Kind::Tool));
/// assert!(p.allows_input(Kind::Chain));
/// assert!(!p.allows_error_message());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapturePolicy {
    /// Inputs of non-tool spans, span names, user metadata and request parameters.
    pub request: bool,
    /// System prompts.
    pub system_prompt: bool,
    /// Tool schemas.
    pub tool_schema: bool,
    /// Inputs of tool spans and tool-call arguments.
    pub tool_arguments: bool,
    /// Outputs.
    pub output: bool,
}

impl Default for CapturePolicy {
    fn default() -> Self {
        CapturePolicy::ALL_ON
    }
}

impl CapturePolicy {
    /// Every category captured.
    pub const ALL_ON: CapturePolicy = CapturePolicy {
        request: true,
        system_prompt: true,
        tool_schema: true,
        tool_arguments: true,
        output: true,
    };

    /// Whether `category` is captured.
    pub const fn allows(&self, category: Category) -> bool {
        match category {
            Category::Request => self.request,
            Category::SystemPrompt => self.system_prompt,
            Category::ToolSchema => self.tool_schema,
            Category::ToolArguments => self.tool_arguments,
            Category::Output => self.output,
        }
    }

    /// Whether every category is captured.
    pub const fn all_enabled(&self) -> bool {
        self.request && self.system_prompt && self.tool_schema && self.tool_arguments && self.output
    }

    /// Whether a span of `kind` may send the input its function was called with: a tool's
    /// needs `tool_arguments`, an LLM span's (when not pre-filtered per category by an
    /// integration) needs all five, any other's needs `request`.
    pub const fn allows_input(&self, kind: Kind) -> bool {
        match kind {
            Kind::Tool => self.tool_arguments,
            Kind::Llm => self.all_enabled(),
            _ => self.request,
        }
    }

    /// Whether outputs are sent.
    pub const fn allows_output(&self) -> bool {
        self.output
    }

    /// Whether error messages are sent: only when all five categories are captured.
    pub const fn allows_error_message(&self) -> bool {
        self.all_enabled()
    }

    /// Whether a span's own name is sent (with `request` off a non-tool span is named
    /// `"<kind> span"`).
    pub const fn allows_name(&self, kind: Kind) -> bool {
        self.request || matches!(kind, Kind::Tool)
    }

    /// Whether an attribute may be sent: with `request` off only operational keys (code
    /// location, tool name, provider, token breakdowns, `vcs.*`, `staso.*`, ...) stay;
    /// with `output` off the guard's reason and synthetic content go too.
    pub fn allows_attribute(&self, key: &str) -> bool {
        if !(self.request
            || key.starts_with("staso.")
            || key.starts_with("guard_")
            || OPERATIONAL_KEYS.contains(&key))
        {
            return false;
        }
        self.output || !matches!(key, "synthetic_content" | "guard.reason" | "guard_reason")
    }

    /// The `capture` object of a wire span: each category `captured` or `suppressed`.
    pub fn wire(&self) -> [(&'static str, &'static str); 5] {
        Category::ALL.map(|c| {
            let state = if self.allows(c) {
                "captured"
            } else {
                "suppressed"
            };
            (c.as_str(), state)
        })
    }
}

/// Attribute keys kept when `request` capture is off: operational facts, not content
/// (the reference client's list).
pub const OPERATIONAL_KEYS: &[&str] = &[
    "exception.type",
    "agent_name",
    "code.filepath",
    "code.function",
    "code.lineno",
    "provider",
    "response_id",
    "stop_reason",
    "tool_name",
    "cache_creation_input_tokens",
    "cache_write_input_tokens",
    "cache_write_5m_input_tokens",
    "cache_write_1h_input_tokens",
    "cache_read_input_tokens",
    "service_tier",
    "reasoning_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "time_to_first_token",
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "auto_captured",
    "has_thinking",
    "cached_input_tokens",
    "reasoning_output_tokens",
    "vcs.branch",
    "vcs.commit.sha",
    "vcs.is_dirty",
    "vcs.repo_url",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_every_category_in_order() {
        let mut p = CapturePolicy::ALL_ON;
        p.output = false;
        assert_eq!(
            p.wire(),
            [
                ("request", "captured"),
                ("system_prompt", "captured"),
                ("tool_schema", "captured"),
                ("tool_arguments", "captured"),
                ("output", "suppressed"),
            ]
        );
    }

    #[test]
    fn request_off_keeps_only_operational_attributes() {
        let mut p = CapturePolicy::ALL_ON;
        p.request = false;
        assert!(p.allows_attribute("code.lineno"));
        assert!(p.allows_attribute("staso.truncated.input"));
        assert!(p.allows_attribute("guard_action"));
        assert!(!p.allows_attribute("temperature"));
        assert!(!p.allows_name(Kind::Agent));
        assert!(p.allows_name(Kind::Tool));
    }
}

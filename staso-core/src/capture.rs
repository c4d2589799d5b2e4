//! The capture policy (which content may leave the process) and the compile-time choice of
//! how to capture a value: JSON when it is `Serialize`, its `Debug` text otherwise, a
//! placeholder when it is neither.

use crate::config::{Env, InitError, Options};
use serde::Serialize;

/// Which kinds of content are sent. All five categories are on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CapturePolicy {
    /// Inputs of non-tool spans, span names and user metadata.
    pub request: bool,
    /// System prompts.
    pub system_prompt: bool,
    /// Tool schemas.
    pub tool_schema: bool,
    /// Inputs of tool spans.
    pub tool_arguments: bool,
    /// Outputs.
    pub output: bool,
}

impl Default for CapturePolicy {
    fn default() -> Self {
        CapturePolicy {
            request: true,
            system_prompt: true,
            tool_schema: true,
            tool_arguments: true,
            output: true,
        }
    }
}

const STRICT_BOOL: &str = "1/0, true/false, yes/no, on/off";

/// Strict boolean of the capture switches: anything but the listed words is an error.
fn parse_strict(var: &'static str, value: String) -> Result<bool, InitError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(InitError::InvalidEnv {
            var,
            value,
            expected: STRICT_BOOL,
        }),
    }
}

fn env_strict(env: &dyn Env, var: &'static str) -> Result<Option<bool>, InitError> {
    env.var(var).map(|v| parse_strict(var, v)).transpose()
}

impl CapturePolicy {
    /// Explicit option → `STASO_CAPTURE_<CATEGORY>` → (`request` and `system_prompt` only)
    /// `capture_messages`/`STASO_CAPTURE_MESSAGES` → on.
    pub(crate) fn resolve(o: &Options, env: &dyn Env) -> Result<Self, InitError> {
        let messages = match o.capture_messages {
            Some(v) => Some(v),
            None => env_strict(env, "STASO_CAPTURE_MESSAGES")?,
        };
        let one =
            |explicit: Option<bool>, var: &'static str, legacy: bool| -> Result<bool, InitError> {
                let v = match explicit {
                    Some(v) => Some(v),
                    None => env_strict(env, var)?,
                };
                Ok(v.or(if legacy { messages } else { None }).unwrap_or(true))
            };
        Ok(CapturePolicy {
            request: one(o.capture_request, "STASO_CAPTURE_REQUEST", true)?,
            system_prompt: one(o.capture_system_prompt, "STASO_CAPTURE_SYSTEM_PROMPT", true)?,
            tool_schema: one(o.capture_tool_schema, "STASO_CAPTURE_TOOL_SCHEMA", false)?,
            tool_arguments: one(
                o.capture_tool_arguments,
                "STASO_CAPTURE_TOOL_ARGUMENTS",
                false,
            )?,
            output: one(o.capture_output, "STASO_CAPTURE_OUTPUT", false)?,
        })
    }

    /// Whether every category is captured (the condition for sending error messages).
    pub fn all_enabled(&self) -> bool {
        self.request && self.system_prompt && self.tool_schema && self.tool_arguments && self.output
    }

    /// The `capture` object of a wire span.
    pub(crate) fn wire(&self) -> [(&'static str, &'static str); 5] {
        let s = |b: bool| if b { "captured" } else { "suppressed" };
        [
            ("request", s(self.request)),
            ("system_prompt", s(self.system_prompt)),
            ("tool_schema", s(self.tool_schema)),
            ("tool_arguments", s(self.tool_arguments)),
            ("output", s(self.output)),
        ]
    }
}

/// Attribute keys kept when `request` capture is off: operational facts, not content.
/// The reference client's list.
const OPERATIONAL_KEYS: &[&str] = &[
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

/// Whether an attribute may be sent under `policy`.
pub(crate) fn attribute_allowed(key: &str, policy: &CapturePolicy) -> bool {
    if !(policy.request || key.starts_with("staso.") || OPERATIONAL_KEYS.contains(&key)) {
        return false;
    }
    if !policy.output && matches!(key, "synthetic_content" | "guard.reason" | "guard_reason") {
        return false;
    }
    true
}

/// A value captured from user code, ready to be put into a span.
pub type Captured = serde_json::Value;

/// Wraps a reference for capture; see [`CaptureSerialize`], [`CaptureDebug`] and
/// [`CaptureOpaque`]. The macros write `(&&&Capture(&value)).__staso_capture()`, and
/// method resolution picks the most capable of the three at compile time.
pub struct Capture<'a, T: ?Sized>(pub &'a T);

/// Chosen when the value is `Serialize`: captured as JSON. A failing or panicking
/// `Serialize` impl gives a placeholder instead of an error.
pub trait CaptureSerialize {
    /// The captured value.
    fn __staso_capture(&self) -> Captured;
}

/// Chosen when the value is `Debug` but not `Serialize`: captured as its `Debug` text.
pub trait CaptureDebug {
    /// The captured value.
    fn __staso_capture(&self) -> Captured;
}

/// Chosen for every other value: a placeholder naming the type.
pub trait CaptureOpaque {
    /// The captured value.
    fn __staso_capture(&self) -> Captured;
}

impl<T: Serialize + ?Sized> CaptureSerialize for &&Capture<'_, T> {
    fn __staso_capture(&self) -> Captured {
        to_value_safely(self.0)
    }
}

impl<T: std::fmt::Debug + ?Sized> CaptureDebug for &Capture<'_, T> {
    fn __staso_capture(&self) -> Captured {
        let v = self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| format!("{v:?}"))) {
            Ok(s) => serde_json::Value::String(s),
            Err(_) => placeholder::<T>("Debug panicked"),
        }
    }
}

impl<T: ?Sized> CaptureOpaque for Capture<'_, T> {
    fn __staso_capture(&self) -> Captured {
        placeholder::<T>("not Serialize or Debug")
    }
}

fn placeholder<T: ?Sized>(why: &str) -> Captured {
    serde_json::Value::String(format!("<{}: {why}>", std::any::type_name::<T>()))
}

/// Serializes a user value, turning a failing or panicking `Serialize` impl into a
/// placeholder. Non-finite floats become `null`, as serde_json writes them.
pub fn to_value_safely<T: Serialize + ?Sized>(v: &T) -> Captured {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serde_json::to_value(v))) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => serde_json::Value::String(format!(
            "<{}: not serializable: {e}>",
            std::any::type_name::<T>()
        )),
        Err(_) => placeholder::<T>("Serialize panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn policy(
        env: &[(&'static str, &'static str)],
        o: Options,
    ) -> Result<CapturePolicy, InitError> {
        let env: HashMap<&str, &str> = env.iter().copied().collect();
        CapturePolicy::resolve(&o, &env)
    }

    #[test]
    fn capture_messages_off_switches_request_and_system_prompt_unless_explicit() {
        let p = policy(
            &[
                ("STASO_CAPTURE_MESSAGES", "false"),
                ("STASO_CAPTURE_REQUEST", "on"),
            ],
            Options::default(),
        )
        .expect("valid");
        assert!(p.request);
        assert!(!p.system_prompt);
        assert!(p.tool_arguments && p.output && p.tool_schema);
    }

    #[test]
    fn strict_parsing_refuses_other_words() {
        let Err(err) = policy(&[("STASO_CAPTURE_OUTPUT", "maybe")], Options::default()) else {
            panic!("must be refused")
        };
        assert!(err.to_string().contains("STASO_CAPTURE_OUTPUT"), "{err}");
        assert!(
            err.to_string().contains("1/0, true/false, yes/no, on/off"),
            "{err}"
        );
    }

    #[test]
    fn explicit_option_wins_over_env() {
        let o = Options {
            capture_output: Some(true),
            ..Default::default()
        };
        assert!(
            policy(&[("STASO_CAPTURE_OUTPUT", "0")], o)
                .expect("valid")
                .output
        );
    }

    #[derive(Debug)]
    struct OnlyDebug(#[allow(dead_code)] u8);
    struct Nothing;

    #[test]
    #[allow(clippy::needless_borrow)]
    fn autoref_picks_serialize_then_debug_then_placeholder() {
        assert_eq!((&&&Capture(&5u32)).__staso_capture(), serde_json::json!(5));
        assert_eq!(
            (&&&Capture(&OnlyDebug(3))).__staso_capture(),
            serde_json::json!("OnlyDebug(3)")
        );
        let p = (&&&Capture(&Nothing)).__staso_capture();
        assert!(p.as_str().expect("string").contains("Nothing"), "{p}");
    }
}

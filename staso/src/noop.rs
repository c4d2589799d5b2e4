//! The public API as inline no-ops, for builds without the `enable` feature: the same
//! names and signatures (with looser bounds), so user code needs no `cfg`, and nothing
//! that would pull in a runtime dependency.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The service's address when none is given.
pub const DEFAULT_BASE_URL: &str = "https://api.staso.ai";
/// The placeholder of a redacted value.
pub const REDACTED: &str = "[REDACTED]";

/// A hook applied to captured values (ignored: nothing is captured in this build).
pub type MaskFn = Arc<dyn std::any::Any + Send + Sync>;

/// Where configuration falls back to (unused in this build).
pub trait Env {
    /// The value of the variable `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.to_string())
    }
}

/// The commit, branch and repository of the running code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GitContext {
    /// Full commit SHA.
    pub commit_sha: String,
    /// Branch name.
    pub branch: String,
    /// Repository URL.
    pub repo_url: String,
    /// Whether the working tree had uncommitted changes.
    pub is_dirty: bool,
}

/// Everything `init` accepts (ignored in this build).
#[derive(Clone, Default)]
pub struct Options {
    /// API key.
    pub api_key: Option<String>,
    /// Default agent name.
    pub agent_name: Option<String>,
    /// Version label.
    pub agent_version: Option<String>,
    /// Service address.
    pub base_url: Option<String>,
    /// Spans per request.
    pub batch_size: Option<usize>,
    /// Longest wait before queued spans are sent.
    pub flush_interval: Option<Duration>,
    /// Spans held in memory at most.
    pub max_queue_size: Option<usize>,
    /// Run-time switch.
    pub enabled: Option<bool>,
    /// Verbose SDK logging.
    pub debug: Option<bool>,
    /// Environment label.
    pub environment: Option<String>,
    /// Workspace.
    pub workspace_slug: Option<String>,
    /// Message capture switch.
    pub capture_messages: Option<bool>,
    /// Capture category `request`.
    pub capture_request: Option<bool>,
    /// Capture category `system_prompt`.
    pub capture_system_prompt: Option<bool>,
    /// Capture category `tool_schema`.
    pub capture_tool_schema: Option<bool>,
    /// Capture category `tool_arguments`.
    pub capture_tool_arguments: Option<bool>,
    /// Capture category `output`.
    pub capture_output: Option<bool>,
    /// Git lookup at init.
    pub capture_git: Option<bool>,
    /// Exit-time delivery bound.
    pub shutdown_timeout: Option<Duration>,
    /// Longest captured field.
    pub max_field_bytes: Option<usize>,
    /// Secret redaction.
    pub redact_secrets: Option<bool>,
    /// Extra CA certificate.
    pub ca_cert_path: Option<std::path::PathBuf>,
    /// Mask hook.
    pub mask: Option<MaskFn>,
    /// Limit of one HTTP attempt.
    pub request_timeout: Option<Duration>,
    /// Git context given directly.
    pub git: Option<GitContext>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options").finish_non_exhaustive()
    }
}

/// A configuration refused at init (never produced in this build).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {}

impl fmt::Display for InitError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl std::error::Error for InitError {}

/// Why a span or batch was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// Tracing is compiled out.
    Disabled,
    /// After shutdown.
    Shutdown,
    /// Queue full.
    QueueFull,
    /// 401.
    InvalidKey,
    /// 402.
    PlanExpired,
    /// 403.
    Forbidden,
    /// 429.
    RateLimited,
    /// Bad answer.
    MalformedResponse,
    /// 5xx.
    BackendUnavailable,
    /// Connection failed.
    NetworkUnavailable,
    /// Timed out.
    Timeout,
}

impl FailureKind {
    /// The contract's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Disabled => "disabled",
            FailureKind::Shutdown => "shutdown",
            FailureKind::QueueFull => "queue_full",
            FailureKind::InvalidKey => "invalid_key",
            FailureKind::PlanExpired => "plan_expired",
            FailureKind::Forbidden => "forbidden",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::MalformedResponse => "malformed_response",
            FailureKind::BackendUnavailable => "backend_unavailable",
            FailureKind::NetworkUnavailable => "network_unavailable",
            FailureKind::Timeout => "timeout",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The delivery report: always "disabled" in this build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Spans taken into the queue.
    pub accepted: u64,
    /// Spans delivered.
    pub delivered: u64,
    /// Spans given up on.
    pub failed: u64,
    /// Spans not delivered yet.
    pub pending: u64,
    /// Spans refused at enqueue.
    pub rejected: u64,
    /// The call timed out.
    pub timed_out: bool,
    /// The last failure kind.
    pub last_failure: Option<FailureKind>,
    /// Whether a retry may cure it.
    pub retryable: bool,
}

impl DeliveryReport {
    /// True when nothing failed, is pending, was rejected or timed out.
    #[inline(always)]
    pub fn ok(&self) -> bool {
        !self.timed_out && self.failed == 0 && self.pending == 0 && self.rejected == 0
    }

    fn disabled() -> Self {
        DeliveryReport {
            last_failure: Some(FailureKind::Disabled),
            ..Default::default()
        }
    }
}

/// What a span represents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// LLM call.
    Llm,
    /// Tool.
    Tool,
    /// Pipeline step.
    Chain,
    /// Retrieval.
    Retriever,
    /// Agent entry point.
    Agent,
    /// Anything else.
    Custom,
}

impl Kind {
    /// The contract's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Llm => "llm",
            Kind::Tool => "tool",
            Kind::Chain => "chain",
            Kind::Retriever => "retriever",
            Kind::Agent => "agent",
            Kind::Custom => "custom",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a span ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Status {
    /// Succeeded.
    #[default]
    Ok,
    /// Failed.
    Error,
    /// Ran out of time.
    Timeout,
}

/// A trace id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub u128);

/// A span id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub u64);

/// A running client (inert in this build).
#[must_use = "dropping the client shuts it down; keep it alive while the program runs"]
#[derive(Debug)]
pub struct Client(());

impl Client {
    /// Reports "disabled".
    #[inline(always)]
    pub fn flush(&self, timeout: Duration) -> DeliveryReport {
        DeliveryReport::disabled()
    }
    /// Reports "disabled".
    #[inline(always)]
    pub fn shutdown(&self, timeout: Duration) -> DeliveryReport {
        DeliveryReport::disabled()
    }
}

/// Does nothing and succeeds.
#[inline(always)]
pub fn init(options: Options) -> Result<Client, InitError> {
    Ok(Client(()))
}

/// Does nothing and succeeds.
#[inline(always)]
pub fn init_with_env(options: Options, env: &dyn Env) -> Result<Client, InitError> {
    Ok(Client(()))
}

/// Reports "disabled".
#[inline(always)]
pub fn flush(timeout: Duration) -> DeliveryReport {
    DeliveryReport::disabled()
}

/// Reports "disabled".
#[inline(always)]
pub fn shutdown(timeout: Duration) -> DeliveryReport {
    DeliveryReport::disabled()
}

/// An instrumented function (none are registered in this build).
#[derive(Debug, Clone, Copy)]
pub struct Registered {
    /// The span name.
    pub name: &'static str,
    /// The span kind.
    pub kind: Kind,
    /// `module_path!()`.
    pub module_path: &'static str,
    /// `file!()`.
    pub file: &'static str,
    /// Line.
    pub line: u32,
}

/// Empty in this build.
#[inline(always)]
pub fn registry() -> Vec<&'static Registered> {
    Vec::new()
}

/// Which kinds of content are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapturePolicy {
    /// `request`.
    pub request: bool,
    /// `system_prompt`.
    pub system_prompt: bool,
    /// `tool_schema`.
    pub tool_schema: bool,
    /// `tool_arguments`.
    pub tool_arguments: bool,
    /// `output`.
    pub output: bool,
}

macro_rules! noop_setters {
    ($ty:ty) => {
        impl $ty {
            /// No-op.
            #[inline(always)]
            pub fn set_input<T: ?Sized>(&mut self, input: &T) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_output<T: ?Sized>(&mut self, output: &T) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_metadata<T: ?Sized>(
                &mut self,
                key: impl Into<String>,
                value: &T,
            ) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn add_tag(&mut self, tag: impl Into<String>) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_name(&mut self, name: impl Into<String>) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_status(&mut self, status: Status) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_error<E: fmt::Display + ?Sized>(&mut self, error: &E) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_model(&mut self, model: impl Into<String>) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_provider(&mut self, provider: impl Into<String>) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_reasoning_effort(&mut self, effort: impl Into<String>) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_usage(&mut self, input_tokens: u64, output_tokens: u64) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn discard(&mut self) {}
            /// No-op.
            #[inline(always)]
            pub fn drop_span(&mut self) {}
            /// Always `None`.
            #[inline(always)]
            pub fn trace_id(&self) -> Option<TraceId> {
                None
            }
            /// Always `None`.
            #[inline(always)]
            pub fn span_id(&self) -> Option<SpanId> {
                None
            }
        }
    };
}

/// An entered span (inert in this build).
#[must_use = "the span ends when this guard is dropped"]
pub struct SpanGuard(());

impl SpanGuard {
    /// Always false.
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        false
    }
}

noop_setters!(SpanGuard);

/// Does nothing.
#[inline(always)]
pub fn span(name: impl Into<Cow<'static, str>>, kind: Kind) -> SpanGuard {
    SpanGuard(())
}

/// A span not yet entered (inert in this build).
#[must_use = "a span is sent when it ends: enter it or instrument a future with it"]
pub struct Span(());

impl Span {
    /// Does nothing.
    #[inline(always)]
    pub fn new(name: impl Into<Cow<'static, str>>, kind: Kind) -> Span {
        Span(())
    }
    /// Does nothing.
    #[inline(always)]
    pub fn entered(self) -> SpanGuard {
        SpanGuard(())
    }
    /// Returns the future unchanged.
    #[inline(always)]
    pub fn instrument<F: Future>(self, fut: F) -> F {
        fut
    }
    /// Always false.
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        false
    }
}

noop_setters!(Span);

/// The innermost span (inert in this build).
pub struct CurrentSpan(());

/// Does nothing.
#[inline(always)]
pub fn current_span() -> CurrentSpan {
    CurrentSpan(())
}

noop_setters!(CurrentSpan);

/// A conversation (inert in this build).
#[must_use = "a conversation does nothing until `.run(..)` or `.scope(..)`"]
#[derive(Debug, Clone)]
pub struct ConversationBuilder(());

/// Does nothing.
#[inline(always)]
pub fn conversation(id: impl Into<String>) -> ConversationBuilder {
    ConversationBuilder(())
}

impl ConversationBuilder {
    /// Does nothing.
    #[inline(always)]
    pub fn user_id(self, user: impl Into<String>) -> Self {
        self
    }
    /// Runs `f`.
    #[inline(always)]
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        f()
    }
    /// Returns the future unchanged.
    #[inline(always)]
    pub fn scope<F: Future>(self, fut: F) -> F {
        fut
    }
}

/// Future wrappers are the futures themselves in this build.
pub type Instrumented<F> = F;
/// Future wrappers are the futures themselves in this build.
pub type WithContext<F> = F;

/// Returns the future unchanged.
pub trait Instrument: Future + Sized {
    /// Returns the future unchanged.
    #[inline(always)]
    fn in_current_span(self) -> Self {
        self
    }
}

impl<F: Future> Instrument for F {}

/// Returns `f` unchanged.
#[inline(always)]
pub fn bind_current<R>(f: impl FnOnce() -> R) -> impl FnOnce() -> R {
    f
}

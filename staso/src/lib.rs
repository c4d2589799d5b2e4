//! # staso — observability for AI agents, in Rust
//!
//! Mark agent entry points, tools and LLM calls with an attribute; every call becomes a
//! span on the Staso dashboard (trace tree, timing, inputs/outputs, tokens, errors).
//!
//! ```no_run
//! #[staso::tool]
//! fn lookup_order(order_id: u64) -> Result<String, std::io::Error> {
//!     Ok(format!("order {order_id}: shipped"))
//! }
//!
//! #[staso::agent(name = "support-bot")]
//! async fn answer(question: String) -> String {
//!     lookup_order(42).unwrap_or_default()
//! }
//!
//! #[staso::main(agent_name = "support-bot")]
//! async fn main() {
//!     println!("{}", answer("where is my order?".into()).await);
//! }
//! ```
//!
//! The API key comes from `STASO_API_KEY` (or `api_key = ".."`).
//!
//! ## Zero cost
//! The default feature `enable` turns instrumentation on. Built with
//! `default-features = false`, every attribute returns the function exactly as written and
//! the functions below are inline no-ops with the same signatures: no runtime dependency is
//! compiled. Libraries should depend on staso with `default-features = false` and let the
//! binary decide.
//!
//! At run time, `enabled = false` (or `STASO_ENABLED=0`) makes every span a single relaxed
//! load and a branch.
#![warn(missing_docs)]
#![cfg_attr(not(feature = "enable"), allow(unused_variables))]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Every item exists with and without `enable` (the disabled build has no-op twins), so
// the docs must not label the enabled re-exports "available on crate feature enable only".
#![cfg_attr(docsrs, doc(auto_cfg(hide(feature = "enable"))))]

pub use staso_macros::{agent, main, tool, trace};

// The plain data types: one definition, compiled in both builds.
#[doc(inline)]
pub use staso_types::{
    agent_id, Annotation, AnnotationError, AnnotationReport, AnnotationValue, BlockedTool,
    CapturePolicy, Category, DecisionId, DecisionSource, DeliveryReport, DestinationReport,
    EvaluationStatus, FailureKind, GitContext, GuardAction, GuardBlocked, GuardFailureKind,
    GuardFailureMode, GuardResult, GuardRuleResult, InitError, Kind, MaskFn, OptionSpec,
    OptionType, Options, OtlpProtocol, ParseDecisionIdError, ParseIdError, ParseKindError,
    ParseOtlpProtocolError, Registered, RuleAction, SamplerFn, SamplingInput, SpanId, Status,
    TraceId, DEFAULT_BASE_URL, OPTIONS, REDACTED, VERSION,
};

#[cfg(feature = "enable")]
#[doc(inline)]
pub use staso_core::{
    annotate, annotate_with, bind_current, conversation, current_span, flush, guard,
    guard_blocking, guard_blocking_with, guard_with, init, new_conversation, registry, shutdown,
    span, Client, ConversationBuilder, CurrentSpan, GuardOptions, InstrumentExt, Instrumented,
    Span, SpanGuard, WithContext,
};

/// Capturing spans in your own tests, in memory, and configuration hooks for tests. Only
/// with the `enable` feature (the one module that differs between the builds).
#[cfg(feature = "enable")]
#[cfg_attr(docsrs, doc(cfg(feature = "enable")))]
pub mod testing {
    pub use staso_core::testing::*;
}

pub mod propagation;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod tracing;

#[cfg(feature = "enable")]
#[doc(hidden)]
pub use staso_core::__private;

#[cfg(not(feature = "enable"))]
mod noop;
#[cfg(not(feature = "enable"))]
pub use noop::*;

#[cfg(not(feature = "enable"))]
mod noop_llm;

/// LLM calls as spans: prompts, replies, tool calls, tokens, streams and time to first
/// token, from any client — through the provider JSON bodies ([`llm::LlmSpan`],
/// [`llm::trace_json`]), typed builders ([`llm::LlmCall`], [`llm::Reply`]), and stream
/// wrappers. The same API in both builds: without `enable` it records nothing and
/// streams pass through unchanged.
pub mod llm {
    #[cfg(feature = "enable")]
    pub use staso_core::llm::*;

    #[cfg(not(feature = "enable"))]
    pub use crate::noop_llm::*;
}

#[cfg(all(feature = "async-openai", not(feature = "enable")))]
mod noop_async_openai;

/// Integrations with the clients people use, each behind its feature of the same name.
#[cfg(feature = "async-openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-openai")))]
pub mod integrations {
    /// LLM spans for async-openai: wrap the client with [`traced`](async_openai::traced);
    /// chat completions, Responses and embeddings calls (streams included) become LLM
    /// spans. Needs Rust 1.85 (async-openai 0.43 depends on reqwest 0.13).
    pub mod async_openai {
        #[cfg(feature = "enable")]
        pub use staso_core::integrations::async_openai::*;

        #[cfg(not(feature = "enable"))]
        pub use crate::noop_async_openai::*;
    }
}

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
//! the functions below are inline no-ops: no runtime dependency is compiled. Libraries
//! should depend on staso with `default-features = false` and let the binary decide.
//!
//! At run time, `enabled: Some(false)` makes every span a single relaxed load and a branch.
#![warn(missing_docs)]
#![cfg_attr(not(feature = "enable"), allow(unused_variables))]

pub use staso_macros::{agent, main, tool, trace};

#[cfg(feature = "enable")]
pub use staso_core::{
    bind_current, conversation, current_span, flush, init, init_with_env, registry, shutdown, span,
    CapturePolicy, Client, ConversationBuilder, CurrentSpan, DeliveryReport, Env, FailureKind,
    GitContext, InitError, Instrument, Instrumented, Kind, MaskFn, Options, ProcessEnv, Registered,
    Span, SpanGuard, SpanId, Status, TraceId, WithContext, DEFAULT_BASE_URL, REDACTED,
};

/// Capturing spans in your own tests, in memory (only with the `enable` feature).
#[cfg(feature = "enable")]
pub mod testing {
    pub use staso_core::testing::*;
}

#[cfg(feature = "enable")]
#[doc(hidden)]
pub use staso_core::__private;

#[cfg(not(feature = "enable"))]
mod noop;
#[cfg(not(feature = "enable"))]
pub use noop::*;

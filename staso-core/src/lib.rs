//! The runtime of the Staso Rust SDK. Users depend on `staso`, which re-exports this.
//!
//! The path of a span: on the caller's thread ([`local`](crate::span)) the clock is read,
//! ids are picked and owned data is moved into a record; the record goes into a bounded
//! lock-free queue; a background thread batches, encodes and ships it (`export`); the
//! counts become a [`DeliveryReport`].
//!
//! ```text
//! src/llm/      LLM calls: span model, provider JSON, streams, continuation
//! src/guard/    guard checks of tool calls (before they run, and those LLM replies propose)
//! src/local/    caller's thread: lifecycle (open/end), span handles, context stack,
//!               conversation, instrumented futures, capture, clock, ids
//! src/export/   delivery: queue (and its counts), batcher, encode, transport, sanitize,
//!               annotations
//! src/          client (init/flush/shutdown), config (+ env, git), sampling, annotate,
//!               diag, exit, panic, registry, testing, propagation (W3C trace context),
//!               and __private (what the macros expand to)
//! src/integrations/  each behind its feature: the `tracing` bridge
//! ```
//!
//! Two module pairs depend on each other, on purpose:
//! - `local` ↔ `client`: the caller's side ends a span into the global client (its one
//!   destination besides a test sink), and the client's queue holds the caller's records.
//! - `local` ↔ `annotate`: `Span::annotate` takes the one path an annotation takes, and
//!   `annotate` reads the current span from the context stack.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The guard's unit tests share the integration tests' loopback support, which names the
// crate by its name.
#[cfg(test)]
extern crate self as staso_core;

mod annotate;
mod client;
mod config;
mod diag;
mod env;
mod exit;
mod export;
mod git;
mod guard;
pub mod integrations;
pub mod llm;
mod local;
mod panic;
mod registry;
mod sampling;
#[cfg(test)]
mod test_alloc;

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;
pub mod propagation;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod tracing {
    //! The `tracing` bridge (feature `tracing`): `tracing` spans that carry OpenTelemetry
    //! GenAI fields (rig, genai, your own) become staso spans in the same traces as the
    //! attribute spans. See `docs/tracing.md` for the mapping table.
    pub use crate::integrations::tracing_layer::{builder, layer, Builder};
}
pub mod testing;

pub use annotate::{annotate, annotate_with};
pub use client::{flush, init, shutdown, Client};
pub use guard::{guard, guard_blocking, guard_blocking_with, guard_with, GuardOptions};
pub use local::conversation::{conversation, new_conversation, ConversationBuilder};
pub use local::instrument::{bind_current, InstrumentExt, Instrumented, WithContext};
pub use local::span::{current_span, span, CurrentSpan, Span, SpanGuard};
pub use registry::registry;
pub use staso_types::{
    agent_id, Annotation, AnnotationError, AnnotationReport, AnnotationValue, BlockedTool,
    CapturePolicy, Category, DecisionId, DecisionSource, DeliveryReport, EvaluationStatus,
    FailureKind, GitContext, GuardAction, GuardBlocked, GuardFailureKind, GuardFailureMode,
    GuardResult, GuardRuleResult, InitError, Kind, MaskFn, OptionSpec, OptionType, Options,
    ParseDecisionIdError, ParseIdError, ParseKindError, Registered, RuleAction, SamplerFn,
    SamplingInput, SpanId, Status, TraceId, DEFAULT_BASE_URL, OPTIONS, REDACTED, VERSION,
};

#[cfg(feature = "test-faults")]
pub use client::{batcher_parks, inject_batcher_panic, step_wall_clock};
#[cfg(feature = "test-faults")]
pub use local::clock::is_calibrated as clock_is_calibrated;

//! The runtime of the Staso Rust SDK. Users depend on `staso`, which re-exports this.
//!
//! The path of a span: on the caller's thread ([`local`](crate::span)) the clock is read,
//! ids are picked and owned data is moved into a record; the record goes into a bounded
//! lock-free queue; a background thread batches, encodes and ships it (`export`); the
//! counts become a [`DeliveryReport`].
//!
//! ```text
//! src/local/    caller's thread: lifecycle (open/end), span handles, context stack,
//!               conversation, instrumented futures, capture, clock, ids
//! src/export/   delivery: queue (and its counts), batcher, encode, transport, sanitize
//! src/          client (init/flush/shutdown), config (+ env, git), diag, exit, panic,
//!               registry, testing, and __private (what the macros expand to)
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod config;
mod diag;
mod env;
mod exit;
mod export;
mod git;
mod local;
mod panic;
mod registry;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
pub mod testing;

pub use client::{flush, init, shutdown, Client};
pub use local::conversation::{conversation, new_conversation, ConversationBuilder};
pub use local::instrument::{bind_current, InstrumentExt, Instrumented, WithContext};
pub use local::span::{current_span, span, CurrentSpan, Span, SpanGuard};
pub use registry::registry;
pub use staso_types::{
    agent_id, CapturePolicy, Category, DeliveryReport, FailureKind, GitContext, InitError, Kind,
    MaskFn, OptionSpec, OptionType, Options, ParseIdError, ParseKindError, Registered, SamplerFn,
    SamplingInput, SpanId, Status, TraceId, DEFAULT_BASE_URL, OPTIONS, REDACTED, VERSION,
};

#[cfg(feature = "test-faults")]
pub use client::{inject_batcher_panic, step_wall_clock};

//! The runtime of the Staso Rust SDK. Users depend on `staso`, which re-exports this.
//!
//! The path of a span: the caller's thread reads the clock, picks ids and moves owned data
//! into a record ([`guard`](crate::span)); the record goes into a bounded lock-free queue
//! ([`client`]); a background thread batches, serializes and ships it ([`batcher`],
//! [`wire`], [`transport`]); the counters become a [`DeliveryReport`].
#![warn(missing_docs)]

mod batcher;
mod capture;
mod client;
mod clock;
mod config;
mod context;
mod diag;
mod exit;
mod git;
mod guard;
mod ids;
mod instrument;
mod panic;
mod registry;
mod report;
mod sanitize;
mod span;
mod transport;
mod wire;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
pub mod testing;

pub use capture::CapturePolicy;
pub use client::{flush, init, init_with_env, shutdown, Client};
pub use config::{Env, InitError, MaskFn, Options, ProcessEnv, DEFAULT_BASE_URL};
pub use context::{conversation, ConversationBuilder};
pub use git::GitContext;
pub use guard::{current_span, span, CurrentSpan, Span, SpanGuard};
pub use ids::{SpanId, TraceId};
pub use instrument::{bind_current, Instrument, Instrumented, WithContext};
pub use registry::{registry, Registered};
pub use report::{DeliveryReport, FailureKind};
pub use sanitize::REDACTED;
pub use span::{Kind, Status};

#[cfg(feature = "test-faults")]
pub use client::inject_batcher_panic;

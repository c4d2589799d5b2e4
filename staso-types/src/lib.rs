//! The plain data types of the Staso Rust SDK: what a span is (kind, status, ids), what
//! happened to it (the delivery report), and what `init` takes (options, errors).
//!
//! They exist once, here, and are compiled in both builds of `staso` — with the `enable`
//! feature and without it — so the two can never disagree. Users reach them through
//! `staso`; this crate depends on nothing but `serde` (for `Serialize` impls, no derive), and
//! on `http` with the `http` feature (W3C trace context in `http::HeaderMap`).
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod annotation;
mod capture;
mod error;
mod git;
mod guard;
mod guard_result;
mod ids;
mod kind;
mod llm;
mod options;
mod otlp;
mod registry;
mod report;
mod trace_context;

pub use annotation::{Annotation, AnnotationError, AnnotationValue};
pub use capture::{CapturePolicy, Category, OPERATIONAL_KEYS};
pub use error::InitError;
pub use git::{read_checkout, strip_userinfo, Checkout, GitContext};
pub use guard::{
    DecisionId, DecisionSource, EvaluationStatus, GuardAction, GuardFailureKind, GuardFailureMode,
    ParseDecisionIdError, RuleAction,
};
pub use guard_result::{BlockedTool, GuardBlocked, GuardResult, GuardRuleResult};
pub use ids::{ParseIdError, SpanId, TraceId};
pub use kind::{Kind, ParseKindError, Status};
pub use llm::{Api, Usage};
pub use options::{
    ratio_keeps, MaskFn, OptionSpec, OptionType, Options, SamplerFn, SamplingInput, OPTIONS,
};
pub use otlp::{parse_otlp_headers, OtlpProtocol, ParseOtlpProtocolError};
pub use registry::Registered;
pub use report::{AnnotationReport, DeliveryReport, DestinationReport, FailureKind};
pub use trace_context::{
    Extractor, Injector, TraceContext, TraceparentError, TRACEPARENT, TRACESTATE,
};

/// The service's address when none is given.
pub const DEFAULT_BASE_URL: &str = "https://api.staso.ai";

/// What replaces a redacted secret in captured content.
pub const REDACTED: &str = "[REDACTED]";

/// This SDK's version (the `staso` crate's), as sent in `User-Agent: staso-rust/<VERSION>`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The namespace of agent ids, shared with the Python SDK.
const AGENT_NAMESPACE: [u8; 16] = 0xa1b2c3d4_e5f6_7890_abcd_ef1234567890u128.to_be_bytes();

/// The id the dashboard gives an agent name: a UUID v5 of the name in Staso's namespace,
/// the same as the Python SDK's `generate_agent_id`.
///
/// ```
/// assert_eq!(
///     staso_types::agent_id("support-bot"),
///     staso_types::agent_id("support-bot"),
/// );
/// assert_eq!(staso_types::agent_id("support-bot").len(), 36);
/// ```
pub fn agent_id(name: &str) -> String {
    ids::uuid_v5(&AGENT_NAMESPACE, name.as_bytes())
}

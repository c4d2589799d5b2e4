//! Capturing spans in users' own tests: in memory, no network, no client needed. Each
//! capture sees only the spans started inside it (its sink travels with the context), so
//! tests running in parallel do not see each other's spans.
//!
//! This module exists only with the `enable` feature (the one exception to "the same API
//! in both builds": a test of instrumentation needs the instrumentation), and so do the
//! configuration hooks for tests, [`Env`] and [`init_with_env`].

pub use crate::client::init_with_env;
pub use crate::env::{Env, ProcessEnv};
pub use crate::guard::{guard_blocking_with_env, guard_with_env};

use crate::config::Config;
use crate::local::capture::RulesHandle;
use crate::local::context::{self, ScopeGuard};
use crate::local::instrument::WithContext;
use crate::local::record::SpanRecord;
use serde_json::{Map, Value};
use staso_types::{Annotation, Options, TraceId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Where the spans of one capture go.
#[derive(Debug)]
struct Sink {
    records: Mutex<Vec<SpanRecord>>,
    annotations: Mutex<Vec<CapturedAnnotation>>,
    config: Arc<Config>,
}

/// Counts a running capture for as long as it lives.
struct Running;

impl Running {
    fn start() -> Running {
        crate::client::count_capture(true);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        crate::client::count_capture(false);
    }
}

impl context::Sink for Sink {
    fn accept(&self, mut r: SpanRecord) {
        // As the batcher does when it takes a span.
        r.resolve_tapes(|| RulesHandle::Shared(self.config.clone()));
        if let Ok(mut v) = self.records.lock() {
            v.push(r);
        }
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn annotation(&self, trace_id: TraceId, annotation: Annotation) {
        if let Ok(mut v) = self.annotations.lock() {
            v.push(CapturedAnnotation {
                trace_id,
                annotation,
            });
        }
    }
}

impl Sink {
    fn new(options: Options) -> Arc<Sink> {
        crate::panic::install_hook();
        let mut options = options;
        options.api_key = Some("staso-testing".into());
        options.agent_name = options.agent_name.or(Some("test-agent".into()));
        options.capture_git = options.capture_git.or(Some(false));
        options.enabled = Some(true);
        // A capture checks nothing with the guard service unless asked to.
        options.guard_checks = options.guard_checks.or(Some(false));
        let empty: HashMap<String, String> = HashMap::new();
        let config = match crate::config::resolve(&options, &empty) {
            Ok(c) => c,
            Err(e) => panic!("staso::testing: invalid options: {e}"),
        };
        Arc::new(Sink {
            records: Mutex::new(Vec::new()),
            annotations: Mutex::new(Vec::new()),
            config: Arc::new(config),
        })
    }

    fn collect(&self) -> CapturedSpans {
        let records = self.records.lock().map(|v| v.clone()).unwrap_or_default();
        let finals = records.iter().filter(|r| !r.provisional);
        let provisional = records.iter().filter(|r| r.provisional);
        CapturedSpans {
            spans: finals
                .map(|r| CapturedSpan(crate::export::encode::span_json(r, &self.config)))
                .collect(),
            provisional: provisional
                .map(|r| CapturedSpan(crate::export::encode::span_json(r, &self.config)))
                .collect(),
            annotations: self
                .annotations
                .lock()
                .map(|v| v.clone())
                .unwrap_or_default(),
        }
    }
}

/// Runs `f` and returns what it returned with every span it produced, exactly as they
/// would be sent (capture policy applied), with default options.
///
/// ```
/// let (_, spans) = staso_core::testing::capture(|| {
///     let _s = staso_core::span("lookup", staso_core::Kind::Tool);
/// });
/// assert_eq!(spans.len(), 1);
/// assert_eq!(spans[0].kind(), "tool");
/// ```
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, CapturedSpans) {
    capture_with(Options::default(), f)
}

/// [`capture`] with options (agent name, capture switches, ...); no key is needed.
pub fn capture_with<R>(options: Options, f: impl FnOnce() -> R) -> (R, CapturedSpans) {
    let sink = Sink::new(options);
    let ctx = context::Ctx {
        sink: Some(sink.clone() as Arc<dyn context::Sink>),
        ..Default::default()
    };
    let _running = Running::start();
    let out = {
        let _scope = ScopeGuard::enter(ctx);
        f()
    };
    (out, sink.collect())
}

/// The async form of [`capture`]: spans of `fut` are captured on whichever thread polls
/// it.
///
/// ```
/// # async fn demo() {
/// let (answer, spans) = staso_core::testing::capture_future(async { 42 }).await;
/// assert_eq!((answer, spans.len()), (42, 0));
/// # }
/// ```
pub async fn capture_future<F: Future>(fut: F) -> (F::Output, CapturedSpans) {
    capture_future_with(Options::default(), fut).await
}

/// [`capture_future`] with options.
pub async fn capture_future_with<F: Future>(
    options: Options,
    fut: F,
) -> (F::Output, CapturedSpans) {
    let sink = Sink::new(options);
    let ctx = context::Ctx {
        sink: Some(sink.clone() as Arc<dyn context::Sink>),
        ..Default::default()
    };
    let _running = Running::start();
    let out = WithContext::new(ctx, fut).await;
    (out, sink.collect())
}

/// The spans of one capture, in the order they ended.
#[derive(Debug, Clone, Default)]
pub struct CapturedSpans {
    spans: Vec<CapturedSpan>,
    provisional: Vec<CapturedSpan>,
    annotations: Vec<CapturedAnnotation>,
}

/// An annotation made inside a capture (kept there instead of being sent).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CapturedAnnotation {
    /// The trace it is about.
    pub trace_id: TraceId,
    /// The annotation (name, value, span, comment).
    pub annotation: Annotation,
}

impl std::ops::Deref for CapturedSpans {
    type Target = [CapturedSpan];
    fn deref(&self) -> &[CapturedSpan] {
        &self.spans
    }
}

impl CapturedSpans {
    /// The span named `name`; panics with the names present when there is none.
    pub fn named(&self, name: &str) -> &CapturedSpan {
        self.spans
            .iter()
            .find(|s| s.name() == name)
            .unwrap_or_else(|| {
                let names: Vec<&str> = self.spans.iter().map(|s| s.name()).collect();
                panic!("no span named {name:?}; spans: {names:?}")
            })
    }

    /// The provisional copies sent when root spans opened.
    pub fn provisional(&self) -> &[CapturedSpan] {
        &self.provisional
    }

    /// The annotations made inside the capture, in order.
    pub fn annotations(&self) -> &[CapturedAnnotation] {
        &self.annotations
    }

    /// The children of `parent`.
    pub fn children_of<'a>(&'a self, parent: &CapturedSpan) -> Vec<&'a CapturedSpan> {
        let id = parent.span_id();
        self.spans
            .iter()
            .filter(|s| s.parent_span_id() == Some(id))
            .collect()
    }
}

/// One captured span: the contract's span object plus `trace_id`, `environment` and
/// `workspace_slug`.
#[derive(Debug, Clone)]
pub struct CapturedSpan(pub Value);

impl CapturedSpan {
    fn str(&self, k: &str) -> &str {
        self.0.get(k).and_then(Value::as_str).unwrap_or("")
    }
    /// `name`.
    pub fn name(&self) -> &str {
        self.str("name")
    }
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.str("kind")
    }
    /// `status`.
    pub fn status(&self) -> &str {
        self.str("status")
    }
    /// `span_id`.
    pub fn span_id(&self) -> &str {
        self.str("span_id")
    }
    /// `trace_id`.
    pub fn trace_id(&self) -> &str {
        self.str("trace_id")
    }
    /// `parent_span_id`, `None` for a root.
    pub fn parent_span_id(&self) -> Option<&str> {
        self.0.get("parent_span_id").and_then(Value::as_str)
    }
    /// `agent_name`.
    pub fn agent_name(&self) -> &str {
        self.str("agent_name")
    }
    /// `session_id`.
    pub fn session_id(&self) -> &str {
        self.str("session_id")
    }
    /// `user_id`.
    pub fn user_id(&self) -> &str {
        self.str("user_id")
    }
    /// `error_message`.
    pub fn error_message(&self) -> Option<&str> {
        self.0.get("error_message").and_then(Value::as_str)
    }
    /// `input`, parsed; `None` when nothing was captured.
    pub fn input(&self) -> Option<Value> {
        serde_json::from_str(self.str("input")).ok()
    }
    /// `output`, parsed; `None` when nothing was captured.
    pub fn output(&self) -> Option<Value> {
        serde_json::from_str(self.str("output")).ok()
    }
    /// `attributes`, parsed.
    pub fn attributes(&self) -> Map<String, Value> {
        serde_json::from_str(self.str("attributes")).unwrap_or_default()
    }
    /// One attribute.
    pub fn attribute(&self, key: &str) -> Option<Value> {
        self.attributes().get(key).cloned()
    }
    /// The whole span object.
    pub fn json(&self) -> &Value {
        &self.0
    }
}

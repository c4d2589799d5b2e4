//! Guard: ask the Staso service whether a tool call may run, before it runs
//! (`shared/guard-annotations-contract.md` §1–4).
//!
//! A check is prepared on the caller's thread (configuration, the context of the current
//! span and conversation, the capture boundary, the decision span), sent on the guard's
//! own runtime under one overall deadline, and concluded on the caller's side (the answer
//! validated, a failure turned into the failure mode's decision, the span finished). It
//! never touches the span queue or the batcher.
//!
//! ```text
//! settings   client config or env, guard env variables     context   context assembly + capture boundary
//! request    body, POST under a deadline, failure table    decision  validation of a 2xx answer
//! runtime    the guard runtime and its HTTP client         span      decision spans and their v5 ids
//! batch      tool calls an LLM proposed                    history   conversation history of an LLM request
//! ```

mod arguments;
pub(crate) mod batch;
mod context;
mod decision;
mod history;
mod request;
mod runtime;
pub(crate) mod settings;
pub(crate) mod span;

// The loopback server and guard service of the integration tests, for the unit tests.
#[cfg(test)]
mod batch_tests;
#[cfg(test)]
#[path = "../../tests/support/guard_service.rs"]
mod guard_service;
#[cfg(test)]
#[path = "../../tests/support/loopback.rs"]
mod loopback;

use crate::config::Config;
use crate::env::{Env, ProcessEnv};
use crate::export::sanitize;
use crate::local::capture::to_value_safely;
use crate::local::span::Span;
use context::Ambient;
use request::{Answer, Failed, Request};
use serde::Serialize;
use serde_json::{Map, Value};
use staso_types::{DecisionId, DecisionSource, GuardFailureKind, GuardFailureMode, GuardResult};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The shortest timeout a request is sent with; below it the check fails at once with
/// `deadline_exceeded`, as the Python SDK's does.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// The options of a check. Everything is optional.
///
/// ```
/// use std::time::Duration;
/// let options = staso_core::GuardOptions::new()
///     .context("ticket", &42)
///     .timeout(Duration::from_secs(2))
///     .fail_closed(true);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "options do nothing until given to `guard_with` or `guard_blocking_with`"]
pub struct GuardOptions {
    context: Map<String, Value>,
    decision_id: Option<DecisionId>,
    timeout: Option<Duration>,
    fail_closed: Option<bool>,
}

impl GuardOptions {
    /// No options: a new decision id, `STASO_GUARD_TIMEOUT` (10 s), fail-open unless
    /// `STASO_GUARD_FAIL_CLOSED` says otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key` to the request's `context` (any `Serialize` value; `null` and `""` are
    /// dropped). The current trace, span and session cannot be overridden.
    pub fn context<T: Serialize + ?Sized>(mut self, key: impl Into<String>, value: &T) -> Self {
        self.context.insert(key.into(), to_value_safely(value));
        self
    }

    /// The decision's id, to make a retried check idempotent (a new one otherwise).
    pub fn decision_id(mut self, id: DecisionId) -> Self {
        self.decision_id = Some(id);
        self
    }

    /// The whole check's deadline: connecting, sending and reading the answer. Past it
    /// the result is `deadline_exceeded`. Below 100 ms nothing is sent.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Block (`true`) or allow (`false`) when no decision can be had, whatever
    /// `STASO_GUARD_FAIL_CLOSED` says.
    pub fn fail_closed(mut self, fail_closed: bool) -> Self {
        self.fail_closed = Some(fail_closed);
        self
    }
}

/// Checks a tool call before it runs: may `tool_name` run with `input`?
///
/// One request to the Staso guard service, never retried, under an overall deadline
/// (`STASO_GUARD_TIMEOUT`, 10 s). Every failure (network, HTTP status, malformed answer,
/// deadline) becomes a result: allowed by default (fail-open), blocked with
/// `fail_closed`. The result enforces nothing by itself: call
/// [`enforce`](GuardResult::enforce) to make a block an error.
///
/// Works without `init` (from `STASO_API_KEY`, `STASO_BASE_URL`, `STASO_AGENT_NAME`,
/// `STASO_ENVIRONMENT`, `STASO_WORKSPACE_SLUG`); with no key at all nothing is sent and
/// the result is unavailable (`invalid_key`). Inside a recording span, the check is a
/// child span `guard:<allowed|blocked|would-block|unavailable>:<tool>`.
///
/// The future runs on any executor (the request runs on the SDK's own runtime); the
/// context of the check is read when this function is called.
///
/// ```no_run
/// # async fn demo() -> Result<(), staso_core::GuardBlocked> {
/// let args = serde_json::json!({"path": "/etc/passwd"});
/// staso_core::guard("delete_file", &args).await.enforce()?;
/// // ... delete the file ...
/// # Ok(()) }
/// ```
pub fn guard<T: Serialize + ?Sized>(
    tool_name: &str,
    input: &T,
) -> impl Future<Output = GuardResult> + Send + 'static {
    guard_with(tool_name, input, GuardOptions::new())
}

/// [`guard`] with options (context, decision id, timeout, fail-closed).
pub fn guard_with<T: Serialize + ?Sized>(
    tool_name: &str,
    input: &T,
    options: GuardOptions,
) -> impl Future<Output = GuardResult> + Send + 'static {
    guard_with_env(tool_name, input, options, &ProcessEnv)
}

/// [`guard`] for synchronous code: blocks the calling thread until the result (at most
/// the timeout). Safe inside an async runtime too, but it blocks that worker: prefer
/// [`guard`] there.
pub fn guard_blocking<T: Serialize + ?Sized>(tool_name: &str, input: &T) -> GuardResult {
    guard_blocking_with(tool_name, input, GuardOptions::new())
}

/// [`guard_blocking`] with options.
pub fn guard_blocking_with<T: Serialize + ?Sized>(
    tool_name: &str,
    input: &T,
    options: GuardOptions,
) -> GuardResult {
    guard_blocking_with_env(tool_name, input, options, &ProcessEnv)
}

/// A check prepared on the caller's thread.
pub(crate) struct Check {
    tool_name: String,
    /// The input as given (sanitized), for the span.
    input: Value,
    span: Option<Span>,
    enforcement: span::Enforcement,
    expected: Expected,
    /// The request to send, or the result already known (no key, a timeout under
    /// 100 ms, an invalid configuration); taken when sent.
    send: Option<Result<Request, Failed>>,
}

struct Expected {
    decision_id: DecisionId,
    source: DecisionSource,
    mode: GuardFailureMode,
}

/// A tool input as an object: a non-object value is wrapped as `{"value": ..}`, nothing
/// (`null`, `()`) is `{}`.
fn as_object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            m
        }
    }
}

/// Redaction and the mask hook, as for everything that leaves the process.
fn clean(v: &mut Value, cfg: Option<&Config>) {
    let (redact, mask) = match cfg {
        Some(c) => (c.redact_secrets, c.mask.as_ref()),
        None => (true, None),
    };
    if redact {
        sanitize::redact(v, 0);
    }
    if let Some(m) = mask {
        sanitize::mask(v, "", &*m.0, 0);
    }
}

/// The configuration spans under the current context are recorded with (a test
/// capture's, else the client's).
fn span_config(ctx: &crate::local::context::Ctx) -> Option<Arc<Config>> {
    match &ctx.sink {
        Some(s) => Some(Arc::new(s.config().clone())),
        None => crate::client::with_client(|c| c.config.clone()),
    }
}

impl Check {
    /// A check the user's code asks for (`guard` and its forms), of `input` as sanitized
    /// JSON.
    fn manual<T: Serialize + ?Sized>(
        tool_name: &str,
        input: &T,
        options: GuardOptions,
        env: &dyn Env,
    ) -> Check {
        Check::prepare(
            tool_name,
            to_value_safely(input),
            options,
            DecisionSource::Manual,
            env,
        )
    }

    /// Everything that needs the caller's thread: configuration, context, span.
    pub(crate) fn prepare(
        tool_name: &str,
        input: Value,
        options: GuardOptions,
        source: DecisionSource,
        env: &dyn Env,
    ) -> Check {
        let span = span::start_check(tool_name);
        let enforcement = match source {
            DecisionSource::Sdk => span::Enforcement::Tool,
            _ => span::Enforcement::Returned,
        };
        let mode = settings::failure_mode(options.fail_closed, env);
        let decision_id = options
            .decision_id
            .unwrap_or_else(|| DecisionId::from_u128(uuid::Uuid::new_v4().as_u128()));
        let timeout = options.timeout.unwrap_or_else(|| settings::timeout(env));
        let src = settings::source(env);
        let mut input = input;
        clean(&mut input, src.config().map(|c| &**c));
        let expected = Expected {
            decision_id,
            source,
            mode,
        };
        let send = match &src {
            settings::Source::Invalid(reason) => Err(Failed {
                kind: GuardFailureKind::NetworkUnavailable,
                text: format!("Guard configuration is invalid: {reason}"),
                retryable: false,
                log: Some("configuration".into()),
            }),
            settings::Source::Client(cfg) | settings::Source::Env(cfg) => {
                if cfg.api_key.expose().is_empty() {
                    Err(Failed {
                        kind: GuardFailureKind::InvalidKey,
                        text: "Guard API key is missing".into(),
                        retryable: false,
                        log: None,
                    })
                } else if timeout < MIN_TIMEOUT {
                    Err(Failed::of(GuardFailureKind::DeadlineExceeded, None))
                } else {
                    Ok(request_for(
                        cfg.clone(),
                        tool_name,
                        &input,
                        options.context,
                        &expected,
                        timeout,
                    ))
                }
            }
        };
        Check {
            tool_name: tool_name.to_string(),
            input: Value::Object(as_object(input)),
            span,
            enforcement,
            expected,
            send: Some(send),
        }
    }

    /// Sends and concludes, as a `Send + 'static` future.
    pub(crate) fn run(mut self) -> impl Future<Output = GuardResult> + Send + 'static {
        let send = self.send.take();
        let mut pending = Pending(Some(self));
        async move {
            let answer = match send {
                Some(Ok(req)) => request::send(req).await,
                Some(Err(f)) => Answer::at_once(f),
                None => Answer::at_once(Failed::of(GuardFailureKind::NetworkUnavailable, None)),
            };
            match pending.0.take() {
                Some(check) => check.conclude(answer),
                None => GuardResult::default(),
            }
        }
    }

    /// Sends and concludes on this thread.
    pub(crate) fn run_blocking(mut self) -> GuardResult {
        let answer = match self.send.take() {
            Some(Ok(req)) => request::send_blocking(req),
            Some(Err(f)) => Answer::at_once(f),
            None => Answer::at_once(Failed::of(GuardFailureKind::NetworkUnavailable, None)),
        };
        self.conclude(answer)
    }

    /// The result of `answer`, with the span finished.
    fn conclude(mut self, answer: Answer) -> GuardResult {
        let result = outcome(&self.tool_name, &self.expected, answer);
        if let Some(s) = self.span.take() {
            span::finish_check(s, &self.tool_name, &self.input, &result, self.enforcement);
        }
        result
    }
}

/// The body of a check's request: the context assembled on this thread (current span,
/// conversation), the capture boundary applied.
fn request_for(
    cfg: Arc<Config>,
    tool_name: &str,
    input: &Value,
    caller: Map<String, Value>,
    expected: &Expected,
    timeout: Duration,
) -> Request {
    let ambient = crate::local::context::with_current(|ctx| {
        let spans = span_config(ctx);
        Ambient::of(ctx, spans.as_deref())
    });
    let mut caller = Value::Object(caller);
    clean(&mut caller, Some(&cfg));
    let ctx = context::assemble(Some(&cfg), &ambient, &as_object(caller));
    let (tool_input, ctx) = context::apply_capture(
        tool_name,
        as_object(input.clone()),
        ctx,
        &cfg.capture,
        false,
    );
    let body = request::body(
        tool_name,
        tool_input,
        ctx,
        expected.decision_id,
        expected.source,
        expected.mode,
        &cfg.capture,
        timeout,
    );
    Request {
        config: cfg,
        body,
        timeout,
    }
}

/// Ends the span of a check whose future was dropped before its result.
struct Pending(Option<Check>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(s) = self.0.as_mut().and_then(|c| c.span.take()) {
            span::abandon_check(s);
        }
    }
}

/// An answer as a result: a valid decision, or the failure mode's decision.
fn outcome(tool_name: &str, expected: &Expected, answer: Answer) -> GuardResult {
    let latency_ms = answer.latency.as_secs_f64() * 1000.0;
    let failed = match answer.result {
        Ok(body) => {
            let e = decision::Expected {
                tool_name,
                decision_id: expected.decision_id,
                source: expected.source,
                mode: expected.mode,
                latency_ms,
            };
            match decision::parse(&body, &e) {
                Ok(r) => return r,
                // A body that fails validation is not logged (it could hold anything).
                Err(kind) => Failed::of(kind, None),
            }
        }
        Err(f) => f,
    };
    if let Some(why) = &failed.log {
        crate::diag::warn(&format!("Guard check failed: {} ({why})", failed.text));
    }
    let mut r = GuardResult::unavailable(
        tool_name,
        failed.kind,
        expected.mode,
        &failed.text,
        failed.retryable,
    );
    r.latency_ms = latency_ms;
    r.decision_id = Some(expected.decision_id);
    r.decision_source = expected.source;
    r
}

/// An error and its sources, for messages.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        s.push_str(": ");
        s.push_str(&err.to_string());
        cur = err.source();
    }
    s
}

/// The check `#[staso::tool(guard)]` makes before the body runs; `None` when
/// `STASO_GUARD_ENABLED=false` switches these automatic checks off.
fn automatic_check(tool_name: &str, input: Value) -> Option<Check> {
    settings::automatic_checks_enabled(&ProcessEnv).then(|| {
        Check::prepare(
            tool_name,
            input,
            GuardOptions::new(),
            DecisionSource::Sdk,
            &ProcessEnv,
        )
    })
}

/// The automatic check of a tool call (see `automatic_check`): `Err` when the tool must
/// not run.
pub(crate) fn tool_check_blocking(
    tool_name: &str,
    input: Value,
) -> Result<(), staso_types::GuardBlocked> {
    match automatic_check(tool_name, input) {
        Some(check) => check.run_blocking().enforce(),
        None => Ok(()),
    }
}

/// The async form of [`tool_check_blocking`].
pub(crate) fn tool_check(
    tool_name: &str,
    input: Value,
) -> impl Future<Output = Result<(), staso_types::GuardBlocked>> + Send + 'static {
    let check = automatic_check(tool_name, input).map(Check::run);
    async move {
        match check {
            Some(c) => c.await.enforce(),
            None => Ok(()),
        }
    }
}

/// [`guard_with`] reading fallbacks from `env` instead of the process environment.
pub fn guard_with_env<T: Serialize + ?Sized>(
    tool_name: &str,
    input: &T,
    options: GuardOptions,
    env: &dyn Env,
) -> impl Future<Output = GuardResult> + Send + 'static {
    Check::manual(tool_name, input, options, env).run()
}

/// [`guard_blocking_with`] reading fallbacks from `env` instead of the process
/// environment.
pub fn guard_blocking_with_env<T: Serialize + ?Sized>(
    tool_name: &str,
    input: &T,
    options: GuardOptions,
    env: &dyn Env,
) -> GuardResult {
    Check::manual(tool_name, input, options, env).run_blocking()
}

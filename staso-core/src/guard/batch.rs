//! The tool calls an LLM reply proposes, checked before the reply reaches the caller (the
//! post-reply hook of the LLM integrations calls [`evaluate_tool_calls`]): up to 4 checks
//! at once under one batch deadline, a `guard:<outcome>:<tool>` child of the LLM span for
//! every call that was not simply allowed, `guard_evaluations` on the LLM span, and when
//! any call is blocked, `GuardBlocked` for the whole batch (none of them runs).
//!
//! `STASO_GUARD_ENABLED=false` switches these checks off.

// Called by the post-reply hook of the LLM integrations (not merged yet); the tests call
// the `_with_env` forms.
#![allow(dead_code)]

/// The arguments of a proposed call, as the provider gave them (for the hook's callers).
pub(crate) use super::arguments::ToolArguments;
use super::arguments::{self, MAX_EVIDENCE_BYTES};
use super::context::{self, Ambient};
use super::request::{self, Answer, Failed, Request};
use super::{history, settings, span, Expected};
use crate::config::Config;
use crate::env::Env;
use crate::local::lifecycle;
use crate::local::record::SharedStr;
use crate::local::span::Span;
use serde_json::{json, Map, Value};
use staso_types::{
    BlockedTool, CapturePolicy, DecisionId, DecisionSource, GuardBlocked, GuardFailureKind,
    GuardFailureMode, GuardResult, Kind, Status,
};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One tool call an LLM proposed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProposedToolCall {
    /// The provider's id of the call (`call_...`, `toolu_...`): with the trace it makes the
    /// decision id, so a replayed reply asks about the same decision.
    pub id: Option<String>,
    /// The tool's name (`unknown` when the provider did not say).
    pub name: String,
    /// Its arguments.
    pub arguments: ToolArguments,
}

/// How a batch is checked.
#[derive(Debug, Clone)]
pub(crate) struct BatchOptions {
    /// The integration asking (`openai`, `anthropic`, ...).
    pub source: DecisionSource,
    /// A streamed reply: the block is recorded on the LLM span as `Guard blocked: ..`
    /// without an exception type (the error surfaces when the stream ends).
    pub stream: bool,
    /// Overrides `STASO_GUARD_FAIL_CLOSED`.
    pub fail_closed: Option<bool>,
    /// Overrides `STASO_GUARD_BATCH_TIMEOUT` (10 s).
    pub deadline: Option<Duration>,
    /// Overrides `STASO_GUARD_MAX_CONCURRENCY` (4, at most 8).
    pub max_concurrency: Option<usize>,
}

impl BatchOptions {
    pub(crate) fn new(source: DecisionSource) -> BatchOptions {
        BatchOptions {
            source,
            stream: false,
            fail_closed: None,
            deadline: None,
            max_concurrency: None,
        }
    }
}

/// Replies that count as finished: their tool calls' arguments are complete.
const COMPLETE_STOPS: &[&str] = &[
    "tool_calls",
    "function_call",
    "stop",
    "tool_use",
    "end_turn",
    "completed",
];

/// One call, ready to be sent: everything but the deadline.
struct Prepared {
    name: String,
    /// The input for the span (the parsed arguments).
    input: Value,
    tool_input: Map<String, Value>,
    context: Map<String, Value>,
    decision_id: DecisionId,
}

/// Checks the tool calls of one LLM reply; `llm` is the LLM span (not current), whose
/// captured request gives the history and the tools' schemas.
///
/// `Ok` holds one result per call (empty when the checks are switched off); `Err` when
/// any call is blocked, after every call was evaluated and the spans written.
pub(crate) async fn evaluate_tool_calls(
    llm: &mut Span,
    calls: &[ProposedToolCall],
    options: BatchOptions,
) -> Result<Vec<GuardResult>, GuardBlocked> {
    evaluate_with_env(llm, calls, options, &crate::env::ProcessEnv).await
}

/// [`evaluate_tool_calls`] for a thread that may block.
pub(crate) fn evaluate_tool_calls_blocking(
    llm: &mut Span,
    calls: &[ProposedToolCall],
    options: BatchOptions,
) -> Result<Vec<GuardResult>, GuardBlocked> {
    evaluate_blocking_with_env(llm, calls, options, &crate::env::ProcessEnv)
}

/// What the batch needs from the caller's side before anything is sent.
struct Batch {
    prepared: Vec<Prepared>,
    config: Result<Arc<Config>, Failed>,
    mode: GuardFailureMode,
    source: DecisionSource,
    deadline: Duration,
    concurrency: usize,
}

pub(crate) async fn evaluate_with_env(
    llm: &mut Span,
    calls: &[ProposedToolCall],
    options: BatchOptions,
    env: &dyn Env,
) -> Result<Vec<GuardResult>, GuardBlocked> {
    let Some(batch) = prepare(llm, calls, &options, env) else {
        return Ok(Vec::new());
    };
    let answers = match job(&batch).and_then(|job| super::runtime::spawn(job).ok()) {
        Some(rx) => rx.await.unwrap_or_default(),
        None => Vec::new(),
    };
    conclude(llm, batch, answers, &options)
}

pub(crate) fn evaluate_blocking_with_env(
    llm: &mut Span,
    calls: &[ProposedToolCall],
    options: BatchOptions,
    env: &dyn Env,
) -> Result<Vec<GuardResult>, GuardBlocked> {
    let Some(batch) = prepare(llm, calls, &options, env) else {
        return Ok(Vec::new());
    };
    let answers = job(&batch)
        .and_then(|job| super::runtime::spawn_blocking_reply(job).ok())
        .and_then(|rx| {
            rx.recv_timeout(batch.deadline + Duration::from_secs(1))
                .ok()
        })
        .unwrap_or_default();
    conclude(llm, batch, answers, &options)
}

/// The work for the guard runtime; `None` when nothing can be sent (no key, an invalid
/// configuration).
fn job(batch: &Batch) -> Option<impl std::future::Future<Output = Vec<Answer>> + Send + 'static> {
    let cfg = batch.config.as_ref().ok()?.clone();
    let jobs: Vec<Job> = batch
        .prepared
        .iter()
        .map(|p| {
            (
                p.tool_input.clone(),
                p.context.clone(),
                p.decision_id,
                p.name.clone(),
            )
        })
        .collect();
    Some(run(
        cfg,
        jobs,
        batch.mode,
        batch.source,
        batch.deadline,
        batch.concurrency,
    ))
}

/// One slot per call; a missing answer is decided in `conclude`.
fn pad(answers: Vec<Answer>, n: usize) -> Vec<Option<Answer>> {
    let mut out: Vec<Option<Answer>> = answers.into_iter().map(Some).collect();
    out.resize_with(n, || None);
    out
}

/// The caller's side: configuration, the LLM span's context and history, each call's
/// evidence and decision id. `None` when there is nothing to check.
fn prepare(
    llm: &mut Span,
    calls: &[ProposedToolCall],
    options: &BatchOptions,
    env: &dyn Env,
) -> Option<Batch> {
    if calls.is_empty() || !settings::automatic_checks_enabled(env) {
        return None;
    }
    let mode = settings::failure_mode(options.fail_closed, env);
    let deadline = options
        .deadline
        .map(|d| d.max(Duration::from_millis(1)))
        .unwrap_or_else(|| settings::batch_timeout(env));
    let concurrency = options
        .max_concurrency
        .map(|n| n.clamp(1, settings::MAX_CONCURRENCY))
        .unwrap_or_else(|| settings::max_concurrency(env));
    let src = settings::source(env);
    let config = match &src {
        settings::Source::Invalid(reason) => Err(Failed {
            kind: GuardFailureKind::NetworkUnavailable,
            text: format!("Guard configuration is invalid: {reason}"),
            retryable: false,
            log: Some("configuration".into()),
        }),
        settings::Source::Client(c) | settings::Source::Env(c) if c.api_key.expose().is_empty() => {
            Err(Failed {
                kind: GuardFailureKind::InvalidKey,
                text: "Guard API key is missing".into(),
                retryable: false,
                log: None,
            })
        }
        settings::Source::Client(c) | settings::Source::Env(c) => Ok(c.clone()),
    };
    // The LLM span's own configuration (a test capture's or the client's) decides what
    // its captured request may give away.
    let span_cfg: Option<Arc<Config>> = llm.inner.as_ref().and_then(|(_, ctx)| match &ctx.sink {
        Some(s) => Some(Arc::new(s.config().clone())),
        None => crate::client::with_client(|c| c.config.clone()),
    });
    let policy = span_cfg
        .as_deref()
        .or(src.config().map(|c| &**c))
        .map(|c| c.capture)
        .unwrap_or_default();
    let (ambient, input, stop_reason) = match &llm.inner {
        Some((record, ctx)) => {
            let ambient = Ambient::of_span(ctx, record, span_cfg.as_deref());
            let extras = record.extras.as_deref();
            let input = extras
                .and_then(|e| e.input())
                .and_then(|doc| serde_json::from_str::<Value>(doc).ok());
            let stop = extras
                .and_then(|e| e.metadata_value("stop_reason"))
                .and_then(|doc| serde_json::from_str::<String>(doc).ok());
            (ambient, input, stop)
        }
        None => (Ambient::default(), None, None),
    };
    let suppressed =
        !(policy.request && policy.system_prompt && policy.output && policy.tool_arguments);
    let (history, status) =
        history::build(&history::messages_of(input.as_ref(), &policy), suppressed);
    let mut base = context::assemble(None, &ambient, &Map::new());
    base.insert("conversation_history".into(), history);
    base.insert("conversation_history_status".into(), status);
    let complete = stop_reason
        .as_deref()
        .is_some_and(|s| COMPLETE_STOPS.contains(&s));
    let tools = input.as_ref().and_then(|i| i.get("tools")).cloned();
    let session = ambient.session_id.clone().unwrap_or_default();
    let cfg_for_defaults = src.config().cloned();
    let prepared = calls
        .iter()
        .map(|call| {
            let name = if call.name.is_empty() {
                "unknown".to_string()
            } else {
                call.name.clone()
            };
            let parsed = arguments::parse(&call.arguments);
            let args_complete = complete && parsed.status != "unavailable";
            let (status, args_complete) = if !policy.tool_arguments {
                ("suppressed", false)
            } else if !args_complete {
                ("unavailable", false)
            } else {
                (parsed.status, true)
            };
            let evidence = json!({
                "version": 1,
                "tool_name": name,
                "arguments": {"status": status, "complete": args_complete},
                "schema": schema(&name, tools.as_ref(), &policy),
            });
            let mut input = Value::Object(parsed.input);
            super::clean(&mut input, cfg_for_defaults.as_deref());
            let input = match input {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            let mut call_ctx = base.clone();
            call_ctx.insert("tool_call_evidence".into(), evidence);
            if let Some(id) = call.id.as_deref().filter(|i| !i.is_empty()) {
                call_ctx.insert("invocation_id".into(), id.into());
            }
            let call_ctx =
                context::assemble(cfg_for_defaults.as_deref(), &Ambient::default(), &call_ctx);
            let tool_input = if policy.tool_arguments {
                input.clone()
            } else {
                Map::new()
            };
            let (tool_input, call_ctx) =
                context::apply_capture(&name, tool_input, call_ctx, &policy, true);
            let decision_id = span::invocation_decision_id(
                options.source,
                &session,
                ambient.trace_id.as_deref(),
                call.id.as_deref(),
            );
            Prepared {
                name,
                input: Value::Object(input),
                tool_input,
                context: call_ctx,
                decision_id,
            }
        })
        .collect();
    Some(Batch {
        prepared,
        config,
        mode,
        source: options.source,
        deadline,
        concurrency,
    })
}

/// The tool's JSON schema from the request's `tools`, when exactly one tool has its name.
fn schema(name: &str, tools: Option<&Value>, policy: &CapturePolicy) -> Value {
    if !policy.tool_schema {
        return json!({"status": "suppressed"});
    }
    let mut matches = Vec::new();
    if let Some(Value::Array(tools)) = tools {
        for t in tools.iter().filter(|t| t.is_object()) {
            let def = t.get("function").unwrap_or(t);
            if def.get("name").and_then(Value::as_str) == Some(name) {
                matches.push(
                    def.get("parameters")
                        .or_else(|| def.get("input_schema"))
                        .cloned()
                        .unwrap_or(Value::Null),
                );
            }
        }
    }
    match matches.as_slice() {
        [v @ (Value::Object(_) | Value::Bool(_))]
            if serde_json::to_vec(v).is_ok_and(|b| b.len() <= MAX_EVIDENCE_BYTES) =>
        {
            json!({"status": "available", "value": v})
        }
        _ => json!({"status": "unavailable"}),
    }
}

type Job = (Map<String, Value>, Map<String, Value>, DecisionId, String);

/// The batch on the guard runtime: at most `concurrency` requests at once, each with what
/// remains of the deadline; what has not answered when it passes is cut short.
async fn run(
    cfg: Arc<Config>,
    jobs: Vec<Job>,
    mode: GuardFailureMode,
    source: DecisionSource,
    deadline: Duration,
    concurrency: usize,
) -> Vec<Answer> {
    let start = Instant::now();
    let end = tokio::time::Instant::from_std(start + deadline);
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut set = tokio::task::JoinSet::new();
    let n = jobs.len();
    for (i, (tool_input, ctx, decision_id, name)) in jobs.into_iter().enumerate() {
        let (cfg, permits) = (cfg.clone(), permits.clone());
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let remaining = end.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return (i, Answer::at_once(batch_deadline()));
            }
            if remaining < super::MIN_TIMEOUT {
                return (
                    i,
                    Answer::at_once(Failed::of(GuardFailureKind::DeadlineExceeded, None)),
                );
            }
            let policy = cfg.capture;
            let body = request::body(
                &name,
                tool_input,
                ctx,
                decision_id,
                source,
                mode,
                &policy,
                remaining,
            );
            let sent = Instant::now();
            let result = request::exchange(Request {
                config: cfg,
                body,
                timeout: remaining,
            })
            .await;
            (
                i,
                Answer {
                    result,
                    latency: sent.elapsed(),
                },
            )
        });
    }
    let mut answers: Vec<Option<Answer>> = (0..n).map(|_| None).collect();
    loop {
        tokio::select! {
            joined = set.join_next() => match joined {
                Some(Ok((i, a))) => answers[i] = Some(a),
                Some(Err(_)) => {}
                None => break,
            },
            _ = tokio::time::sleep_until(end) => break,
        }
    }
    set.abort_all();
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Answer::at_once(batch_deadline())))
        .collect()
}

fn batch_deadline() -> Failed {
    Failed {
        text: "Guard batch deadline exceeded".into(),
        ..Failed::of(GuardFailureKind::DeadlineExceeded, None)
    }
}

/// One result per call (`answers` as they came, possibly fewer than the calls: none when
/// nothing could be sent), the spans written, the LLM span told; `Err` when any call is
/// blocked.
fn conclude(
    llm: &mut Span,
    batch: Batch,
    answers: Vec<Answer>,
    options: &BatchOptions,
) -> Result<Vec<GuardResult>, GuardBlocked> {
    let answers = pad(answers, batch.prepared.len());
    let early = batch.config.as_ref().err();
    let results: Vec<GuardResult> = batch
        .prepared
        .iter()
        .zip(answers)
        .map(|(p, a)| {
            let answer = match (a, early) {
                (Some(a), _) => a,
                (None, Some(f)) => Answer::at_once(f.clone()),
                (None, None) => Answer::at_once(batch_deadline()),
            };
            let expected = Expected {
                decision_id: p.decision_id,
                source: batch.source,
                mode: batch.mode,
            };
            super::outcome(&p.name, &expected, answer)
        })
        .collect();
    let blocked: Vec<BlockedTool> = results
        .iter()
        .filter(|r| r.is_blocked())
        .map(|r| BlockedTool::new(r.tool_name.clone(), r.clone()))
        .collect();
    let error = GuardBlocked::new(blocked);
    let enforcement = match &error {
        Some(e) => json!({"kind": "exception", "type": "GuardBlocked", "message": e.to_string()}),
        None => json!({"kind": "continued", "payload": null}),
    };
    let output_captured = span_policy(llm).map_or(true, |p| p.output);
    let mut evaluations = Vec::new();
    let mut reasons = Vec::new();
    for (p, r) in batch.prepared.iter().zip(&results) {
        let mut e = json!({
            "tool_name": p.name,
            "action": r.action.as_str(),
            "decision_id": r.decision_id.map(|d| d.to_string()).unwrap_or_default(),
            "decision_source": r.decision_source.as_str(),
            "latency_ms": r.latency_ms,
            "rules_triggered": r.rules_triggered,
            "decision_available": r.decision_available,
            "evaluation_status": r.evaluation_status.as_str(),
            "failure_kind": r.failure_kind.map(|k| k.as_str()),
            "failure_mode": r.failure_mode.as_str(),
            "retryable": r.retryable,
        });
        if output_captured {
            e["reason"] = r.reason.clone().into();
        }
        evaluations.push(e);
        if r.outcome() != "allowed" {
            if let Some(child) = child_of(llm) {
                span::emit_tool_call_span(child, &p.name, &p.input, r, &enforcement);
            }
        }
        if r.is_blocked() && (!r.decision_available || !r.reason.is_empty()) {
            reasons.push(format!("{}: {}", p.name, r.reason));
        }
    }
    if let Some((record, _)) = &mut llm.inner {
        let extras = record.extras();
        let doc = Value::Array(evaluations).to_string();
        extras.set_metadata("guard_evaluations", &doc, None);
    }
    let Some(error) = error else {
        return Ok(results);
    };
    if let Some((record, _)) = &mut llm.inner {
        let tools: Vec<Value> = error
            .blocked_tools()
            .iter()
            .map(|bt| {
                let r = &bt.result;
                let mut item = json!({
                    "tool_name": bt.tool_name,
                    "decision_id": r.decision_id.map(|d| d.to_string()).unwrap_or_default(),
                    "decision_source": r.decision_source.as_str(),
                    "rules_triggered": r.rules_triggered,
                    "severity": r.severity,
                });
                if output_captured {
                    item["reason"] = r.reason.clone().into();
                }
                item
            })
            .collect();
        record.status = Status::Error;
        let message = if options.stream {
            let combined = if reasons.is_empty() {
                error.result().reason.clone()
            } else {
                reasons.join("; ")
            };
            if combined.is_empty() {
                "Guard blocked".to_string()
            } else {
                format!("Guard blocked: {combined}")
            }
        } else {
            error.to_string()
        };
        let count = tools.len();
        let extras = record.extras();
        extras.error_message = Some(message);
        if !options.stream {
            extras.exception_type = Some(Cow::Borrowed("GuardBlocked"));
        }
        extras.set_metadata(
            "guard_blocked_tools",
            &Value::Array(tools).to_string(),
            None,
        );
        extras.set_metadata("guard_blocked_count", &count.to_string(), None);
    }
    Err(error)
}

/// The capture policy the LLM span is recorded under.
fn span_policy(llm: &Span) -> Option<CapturePolicy> {
    let (_, ctx) = llm.inner.as_ref()?;
    match &ctx.sink {
        Some(s) => Some(s.config().capture),
        None => crate::client::with_config(|c| c.capture),
    }
}

/// A new child of the LLM span (kind `tool`), not current anywhere.
fn child_of(llm: &Span) -> Option<Span> {
    let (record, ctx) = llm.inner.as_ref()?;
    let opened = lifecycle::open(
        crate::local::context::Parent::span(ctx, record),
        SharedStr::Static("guard"),
        Kind::Tool,
        None,
    )?;
    Some(Span::from_parts(Some(opened)))
}

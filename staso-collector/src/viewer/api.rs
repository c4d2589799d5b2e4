//! The JSON API under `/api` (documented in the crate's README): what the page reads,
//! and what scripts and tests can read too.

use super::query::{self, ListQuery};
use super::summary;
use super::{json_response, Resp};
use crate::server::Shared;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The statuses a trace can have in the list.
const STATUSES: &[&str] = &["ok", "error", "timeout", "running"];

/// The longest a `/api/changes` request waits before answering unchanged.
const MAX_WAIT: Duration = Duration::from_secs(25);

fn bad(field: &str, error: impl Into<String>) -> Resp {
    json_response(400, &json!({"error": error.into(), "field": field}))
}

fn not_found(what: &str) -> Resp {
    json_response(
        404,
        &json!({"error": format!("{what} not found"), "field": "path"}),
    )
}

fn params(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// A bad query parameter: its field name and what is wrong.
struct BadParam(String, String);

impl BadParam {
    fn response(&self) -> Resp {
        bad(&self.0, self.1.clone())
    }
}

fn number(p: &HashMap<String, String>, key: &str, default: usize) -> Result<usize, BadParam> {
    match p.get(key).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            BadParam(
                format!("query.{key}"),
                format!("{key} must be a whole number, got {v:?}"),
            )
        }),
    }
}

/// Runs a store read on the blocking pool, after bringing the trace summaries up to
/// date in steps (a first refresh over a large store takes a while: between steps the
/// store's lock is free, so ingest carries on).
async fn read<F, T>(shared: &Arc<Shared>, f: F) -> Resp
where
    F: FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<Option<T>> + Send + 'static,
    T: serde::Serialize + Send + 'static,
{
    let shared = shared.clone();
    let done = tokio::task::spawn_blocking(move || {
        while shared
            .store
            .with_conn(|c| summary::refresh_step(c, summary::STEP))?
        {}
        shared.store.with_conn(f)
    })
    .await;
    match done {
        Ok(Ok(Some(v))) => json_response(200, &v),
        Ok(Ok(None)) => not_found("trace or span"),
        Ok(Err(e)) => json_response(
            500,
            &json!({"error": format!("reading the store failed: {e}")}),
        ),
        Err(e) => json_response(
            500,
            &json!({"error": format!("reading the store failed: {e}")}),
        ),
    }
}

pub(super) async fn respond(shared: &Arc<Shared>, path: &str, query: &str) -> Resp {
    let p = params(query);
    let rest = path.trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').skip(2).collect();
    match segments.as_slice() {
        [] => json_response(200, &index()),
        ["traces"] => list(shared, &p).await,
        ["traces", id] => {
            let id = (*id).to_owned();
            read(shared, move |c| query::trace(c, &id)).await
        }
        ["traces", id, "spans", span] => {
            let (id, span) = ((*id).to_owned(), (*span).to_owned());
            read(shared, move |c| query::span(c, &id, &span)).await
        }
        ["conversations"] => {
            let limit = match number(&p, "limit", 50) {
                Ok(n) => n,
                Err(b) => return b.response(),
            };
            let offset = match number(&p, "offset", 0) {
                Ok(n) => n,
                Err(b) => return b.response(),
            };
            read(shared, move |c| {
                query::conversations(c, limit, offset).map(Some)
            })
            .await
        }
        ["facets"] => read(shared, |c| query::facets(c).map(Some)).await,
        ["changes"] => changes(shared, &p).await,
        _ => not_found("API path"),
    }
}

fn index() -> Value {
    json!({
        "endpoints": {
            "GET /api/traces": "traces, newest first: agent, status, session, user, environment, q, limit, cursor, order=asc",
            "GET /api/traces/{trace_id}": "one trace: summary, spans (light), annotations",
            "GET /api/traces/{trace_id}/spans/{span_id}": "one span in full, input/output/attributes parsed",
            "GET /api/conversations": "sessions, most recently active first: limit, offset",
            "GET /api/facets": "agent names, environments and statuses stored",
            "GET /api/changes": "long poll: answers when the store changed after ?after=N (25 s at most)",
        }
    })
}

async fn list(shared: &Arc<Shared>, p: &HashMap<String, String>) -> Resp {
    let limit = match number(p, "limit", 50) {
        Ok(n) if (1..=query::MAX_LIMIT).contains(&n) => n,
        Ok(n) => {
            return bad(
                "query.limit",
                format!("limit must be between 1 and {}, got {n}", query::MAX_LIMIT),
            )
        }
        Err(b) => return b.response(),
    };
    let text = |k: &str| p.get(k).filter(|v| !v.is_empty()).cloned();
    let status = text("status");
    if let Some(s) = &status {
        if !STATUSES.contains(&s.as_str()) {
            return bad(
                "query.status",
                format!("status must be one of {}, got {s:?}", STATUSES.join(", ")),
            );
        }
    }
    let cursor = match text("cursor") {
        None => None,
        Some(c) => match query::parse_cursor(&c) {
            Some(c) => Some(c),
            None => {
                return bad(
                    "query.cursor",
                    "cursor must be the next_cursor of a previous page",
                )
            }
        },
    };
    let ascending = match text("order").as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(o) => {
            return bad(
                "query.order",
                format!("order must be asc or desc, got {o:?}"),
            )
        }
    };
    let q = ListQuery {
        agent: text("agent"),
        status,
        session: text("session"),
        user: text("user"),
        environment: text("environment"),
        text: text("q"),
        limit,
        cursor,
        ascending,
    };
    read(shared, move |c| query::list(c, &q).map(Some)).await
}

/// Long poll: answers `{"seq": N}` as soon as the store's change counter is above
/// `after` (at once when it already is, or when `after` is absent), else after
/// `timeout_ms` (default and most 25 000) with the unchanged counter.
async fn changes(shared: &Arc<Shared>, p: &HashMap<String, String>) -> Resp {
    let after = match p.get("after").map(|v| v.trim()) {
        None | Some("") => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return bad(
                    "query.after",
                    format!("after must be a whole number, got {v:?}"),
                )
            }
        },
    };
    let timeout = match number(p, "timeout_ms", MAX_WAIT.as_millis() as usize) {
        Ok(ms) => Duration::from_millis(ms as u64).min(MAX_WAIT),
        Err(b) => return b.response(),
    };
    if let Some(after) = after {
        let store = &shared.store;
        shared
            .signal
            .wait_until_async(timeout, || store.generation() > after)
            .await;
    }
    json_response(
        200,
        &json!({"seq": shared.store.generation(), "store": store_kind(shared)}),
    )
}

fn store_kind(shared: &Shared) -> &'static str {
    if shared.count_only || !shared.store.keeps_spans() {
        "count-only"
    } else {
        "sqlite"
    }
}

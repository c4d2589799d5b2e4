//! The viewer's reads: the trace list (filters, keyset paging), one trace with its spans,
//! one span in full, conversations, agents. Every function takes the store's connection
//! and answers JSON values as the API sends them.

use super::summary;
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Filters and paging of the trace list (`GET /api/traces`).
#[derive(Debug, Default, Clone)]
pub(crate) struct ListQuery {
    pub agent: Option<String>,
    pub status: Option<String>,
    pub session: Option<String>,
    pub user: Option<String>,
    pub environment: Option<String>,
    /// Case-insensitive text found in the trace id, agent, root or span names, session,
    /// user, commit or first error message.
    pub text: Option<String>,
    pub limit: usize,
    /// Continue after this `(start_ns, trace_id)` (the `next_cursor` of the last page).
    pub cursor: Option<(i64, String)>,
    /// Oldest first (a conversation) instead of newest first.
    pub ascending: bool,
}

/// The most rows one list page returns.
pub(crate) const MAX_LIMIT: usize = 500;

/// A page cursor as the API writes it: `<start_ns>_<trace_id>`.
pub(crate) fn parse_cursor(s: &str) -> Option<(i64, String)> {
    let (ns, id) = s.split_once('_')?;
    Some((ns.parse().ok()?, id.to_owned()))
}

const SUMMARY_COLUMNS: &str = "trace_id, start_ns, timestamp, environment, workspace_slug,
  agent_name, root_name, root_kind, root_span_id, status, root_status, duration_ms,
  span_count, error_count, input_tokens, output_tokens, total_tokens, session_id, user_id,
  git_commit, git_branch, first_error";

fn summary_json(r: &Row<'_>) -> rusqlite::Result<Value> {
    let s = |i: usize| r.get::<_, String>(i);
    Ok(json!({
        "trace_id": s(0)?,
        "start_ns": r.get::<_, i64>(1)?.to_string(),
        "timestamp": s(2)?,
        "environment": s(3)?,
        "workspace_slug": s(4)?,
        "agent_name": s(5)?,
        "root_name": s(6)?,
        "root_kind": s(7)?,
        "root_span_id": s(8)?,
        "status": s(9)?,
        "root_status": s(10)?,
        "duration_ms": r.get::<_, f64>(11)?,
        "span_count": r.get::<_, i64>(12)?,
        "error_count": r.get::<_, i64>(13)?,
        "input_tokens": r.get::<_, i64>(14)?,
        "output_tokens": r.get::<_, i64>(15)?,
        "total_tokens": r.get::<_, i64>(16)?,
        "session_id": s(17)?,
        "user_id": s(18)?,
        "git_commit": s(19)?,
        "git_branch": s(20)?,
        "first_error": s(21)?,
    }))
}

/// The WHERE clause (without the cursor) and its parameters.
fn filters(q: &ListQuery) -> (String, Vec<Sql>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    let mut eq = |col: &str, v: &Option<String>| {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            clauses.push(format!("{col} = ?"));
            args.push(Sql::Text(v.clone()));
        }
    };
    eq("agent_name", &q.agent);
    eq("status", &q.status);
    eq("session_id", &q.session);
    eq("user_id", &q.user);
    eq("environment", &q.environment);
    if let Some(t) = q.text.as_ref().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let escaped = t
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        clauses.push("search LIKE ? ESCAPE '\\'".into());
        args.push(Sql::Text(format!("%{escaped}%")));
    }
    (clauses.join(" AND "), args)
}

/// The SQL of one list page, and its parameters (also what the query-plan test reads).
pub(crate) fn list_sql(q: &ListQuery) -> (String, Vec<Sql>) {
    let (mut wh, mut args) = filters(q);
    let (cmp, dir) = if q.ascending {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    if let Some((ns, id)) = &q.cursor {
        if !wh.is_empty() {
            wh.push_str(" AND ");
        }
        wh.push_str(&format!("(start_ns, trace_id) {cmp} (?, ?)"));
        args.push(Sql::Integer(*ns));
        args.push(Sql::Text(id.clone()));
    }
    let wh = if wh.is_empty() {
        String::new()
    } else {
        format!("WHERE {wh}")
    };
    let limit = q.limit.clamp(1, MAX_LIMIT);
    // One more row than asked tells whether there is a next page.
    args.push(Sql::Integer(i64::try_from(limit).unwrap_or(50) + 1));
    (
        format!(
            "SELECT {SUMMARY_COLUMNS} FROM trace_summaries {wh}
             ORDER BY start_ns {dir}, trace_id {dir} LIMIT ?"
        ),
        args,
    )
}

/// One page of the trace list: `{"traces": [...], "next_cursor": ..., "total": N}`.
pub(crate) fn list(conn: &mut Connection, q: &ListQuery) -> rusqlite::Result<Value> {
    summary::refresh(conn)?;
    let (sql, args) = list_sql(q);
    let limit = q.limit.clamp(1, MAX_LIMIT);
    let mut rows: Vec<Value> = {
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), summary_json)?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more {
        rows.last().map(|r| {
            Value::from(format!(
                "{}_{}",
                r["start_ns"].as_str().unwrap_or("0"),
                r["trace_id"].as_str().unwrap_or("")
            ))
        })
    } else {
        None
    };
    let (wh, args) = filters(q);
    let wh = if wh.is_empty() {
        String::new()
    } else {
        format!("WHERE {wh}")
    };
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM trace_summaries {wh}"),
        params_from_iter(args),
        |r| r.get(0),
    )?;
    Ok(json!({
        "traces": rows,
        "next_cursor": next_cursor,
        "total": total,
    }))
}

/// The span fields the waterfall needs, read from the stored span object.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LightFields<'a> {
    #[serde(borrow)]
    model: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    provider: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    agent_name: std::borrow::Cow<'a, str>,
    input_tokens: i64,
    output_tokens: i64,
    total_tokens: i64,
}

/// A span as the waterfall draws it (`GET /api/traces/{id}`: `spans`).
#[derive(Serialize)]
pub(crate) struct LightSpan {
    span_id: String,
    parent_span_id: Option<String>,
    name: String,
    kind: String,
    status: String,
    provisional: bool,
    /// Milliseconds from the trace's start.
    offset_ms: f64,
    duration_ms: f64,
    error_message: Option<String>,
    model: String,
    provider: String,
    agent_name: String,
    input_tokens: i64,
    output_tokens: i64,
    total_tokens: i64,
}

/// One trace as `GET /api/traces/{id}` answers it. Typed rather than a `Value`: a trace
/// of 10 000 spans is written straight to JSON, without a map per span.
#[derive(Serialize)]
pub(crate) struct TraceOut {
    trace: Value,
    spans: Vec<LightSpan>,
    annotations: Vec<Value>,
}

/// One trace: its summary, its spans (light: what the waterfall draws, by start time)
/// and its annotations. `None` when no such trace is stored.
pub(crate) fn trace(conn: &mut Connection, trace_id: &str) -> rusqlite::Result<Option<TraceOut>> {
    summary::refresh(conn)?;
    let head = conn
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM trace_summaries WHERE trace_id = ?1"
        ))?
        .query_row([trace_id], summary_json)
        .optional()?;
    let Some(head) = head else {
        return Ok(None);
    };
    let start: i64 = head["start_ns"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let spans: Vec<LightSpan> = {
        let mut stmt = conn.prepare_cached(
            "SELECT span_id, parent_span_id, name, kind, status, provisional,
                    CAST(ts_nanos AS INTEGER), duration_ms, error_message, raw
             FROM spans WHERE trace_id = ?1 ORDER BY ts_nanos, rowid",
        )?;
        let rows = stmt.query_map([trace_id], |r| {
            let raw = r.get_ref(9)?.as_str().unwrap_or("");
            let f: LightFields<'_> = serde_json::from_str(raw).unwrap_or_default();
            let ns: i64 = r.get(6)?;
            Ok(LightSpan {
                span_id: r.get(0)?,
                parent_span_id: r.get(1)?,
                name: r.get(2)?,
                kind: r.get(3)?,
                status: r.get(4)?,
                provisional: r.get(5)?,
                offset_ms: (ns - start) as f64 / 1e6,
                duration_ms: r.get(7)?,
                error_message: r.get(8)?,
                model: f.model.into_owned(),
                provider: f.provider.into_owned(),
                agent_name: f.agent_name.into_owned(),
                input_tokens: f.input_tokens,
                output_tokens: f.output_tokens,
                total_tokens: f.total_tokens,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let annotations: Vec<Value> = {
        let mut stmt = conn
            .prepare_cached("SELECT id, body FROM annotations WHERE trace_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([trace_id], |r| {
            let body: String = r.get(1)?;
            let mut v = serde_json::from_str::<Value>(&body).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("annotation_id".into(), Value::from(r.get::<_, i64>(0)?));
            }
            Ok(v)
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    Ok(Some(TraceOut {
        trace: head,
        spans,
        annotations,
    }))
}

/// A JSON document embedded in a string field, parsed (`null` for `""`; the text itself
/// when it is not JSON).
fn embedded(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(Value::String(s)) => {
            crate::formats::parse_embedded_json(s).unwrap_or_else(|| Value::String(s.clone()))
        }
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

/// One span in full: every field as sent, plus `input`, `output` and `attributes`
/// parsed from their JSON strings, and the trace's `trace_id`, `environment` and
/// `workspace_slug`.
pub(crate) fn span(
    conn: &Connection,
    trace_id: &str,
    span_id: &str,
) -> rusqlite::Result<Option<Value>> {
    let row = conn
        .prepare_cached(
            "SELECT raw, provisional, copies_received, final_copies_received, environment,
                    workspace_slug
             FROM spans WHERE trace_id = ?1 AND span_id = ?2",
        )?
        .query_row([trace_id, span_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .optional()?;
    let Some((raw, provisional, copies, final_copies, environment, workspace_slug)) = row else {
        return Ok(None);
    };
    let mut span: Map<String, Value> = serde_json::from_str(&raw).unwrap_or_default();
    for key in ["input", "output", "attributes"] {
        let parsed = embedded(span.get(key));
        span.insert(key.into(), parsed);
    }
    if !span.get("attributes").is_some_and(Value::is_object) {
        span.insert("attributes".into(), Value::Object(Map::new()));
    }
    span.insert("trace_id".into(), Value::from(trace_id));
    span.insert("environment".into(), Value::from(environment));
    span.insert("workspace_slug".into(), Value::from(workspace_slug));
    span.insert("provisional".into(), Value::from(provisional));
    span.insert("copies_received".into(), Value::from(copies));
    span.insert("final_copies_received".into(), Value::from(final_copies));
    Ok(Some(Value::Object(span)))
}

/// Conversations (sessions), most recently active first: `{"conversations": [...]}`.
pub(crate) fn conversations(
    conn: &mut Connection,
    limit: usize,
    offset: usize,
) -> rusqlite::Result<Value> {
    summary::refresh(conn)?;
    let mut stmt = conn.prepare_cached(
        "SELECT session_id, max(user_id), count(*), min(start_ns), max(start_ns),
                group_concat(DISTINCT agent_name), sum(error_count), sum(total_tokens),
                min(timestamp), max(timestamp)
         FROM trace_summaries GROUP BY session_id
         ORDER BY max(start_ns) DESC LIMIT ?1 OFFSET ?2",
    )?;
    let limit = i64::try_from(limit.clamp(1, MAX_LIMIT)).unwrap_or(50);
    let offset = i64::try_from(offset).unwrap_or(0);
    let rows = stmt.query_map([limit, offset], |r| {
        let agents: Option<String> = r.get(5)?;
        Ok(json!({
            "session_id": r.get::<_, String>(0)?,
            "user_id": r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            "trace_count": r.get::<_, i64>(2)?,
            "first_start_ns": r.get::<_, i64>(3)?.to_string(),
            "last_start_ns": r.get::<_, i64>(4)?.to_string(),
            "agents": agents.map(|a| a.split(',').map(str::to_owned).collect::<Vec<_>>())
                .unwrap_or_default(),
            "error_count": r.get::<_, i64>(6)?,
            "total_tokens": r.get::<_, i64>(7)?,
            "first_timestamp": r.get::<_, String>(8)?,
            "last_timestamp": r.get::<_, String>(9)?,
        }))
    })?;
    let list: Vec<Value> = rows.collect::<rusqlite::Result<_>>()?;
    Ok(json!({ "conversations": list }))
}

/// The distinct agent names, environments and statuses stored (the list's filter menus).
pub(crate) fn facets(conn: &mut Connection) -> rusqlite::Result<Value> {
    summary::refresh(conn)?;
    let distinct = |col: &str| -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT DISTINCT {col} FROM trace_summaries ORDER BY {col} LIMIT 1000"
        ))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect()
    };
    Ok(json!({
        "agents": distinct("agent_name")?,
        "environments": distinct("environment")?,
        "statuses": distinct("status")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(q: &ListQuery) -> String {
        let store = crate::store::Store::open(None, true).expect("store");
        store.with_conn(|conn| {
            let (sql, args) = list_sql(q);
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("plan");
            let rows = stmt
                .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
                .expect("rows");
            rows.map(|r| r.expect("row")).collect::<Vec<_>>().join("; ")
        })
    }

    /// Every list page is read through an index in list order: no full scan, no sort
    /// of the whole table, with each single filter and with the cursor.
    #[test]
    fn list_pages_use_an_index_and_no_sort() {
        let cursor = Some((1_700_000_000_000_000_000, "ffffffff".to_owned()));
        let cases = [
            ListQuery::default(),
            ListQuery {
                cursor: cursor.clone(),
                ..Default::default()
            },
            ListQuery {
                agent: Some("a".into()),
                cursor: cursor.clone(),
                ..Default::default()
            },
            ListQuery {
                status: Some("error".into()),
                cursor: cursor.clone(),
                ..Default::default()
            },
            ListQuery {
                session: Some("s".into()),
                ascending: true,
                cursor: cursor.clone(),
                ..Default::default()
            },
            ListQuery {
                text: Some("refund".into()),
                cursor,
                ..Default::default()
            },
        ];
        for q in &cases {
            let p = plan(q);
            assert!(p.contains("USING INDEX"), "{q:?}: {p}");
            assert!(!p.contains("TEMP B-TREE"), "{q:?} sorts: {p}");
            assert!(!p.starts_with("SCAN trace_summaries;"), "{q:?}: {p}");
        }
        // The cursor narrows the index range instead of filtering every row.
        let p = plan(&ListQuery {
            cursor: Some((1, "x".into())),
            ..Default::default()
        });
        assert!(p.contains("start_ns"), "{p}");
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(
            parse_cursor("1700000000000000000_abc"),
            Some((1_700_000_000_000_000_000, "abc".into()))
        );
        assert_eq!(parse_cursor("nope"), None);
        assert_eq!(parse_cursor("x_abc"), None);
    }
}

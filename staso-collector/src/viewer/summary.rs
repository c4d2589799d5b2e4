//! One row per trace for the viewer's list: agent, root, status, duration, counts,
//! tokens, conversation and git commit, with the indexes its filters and paging use.
//!
//! Summaries are brought up to date lazily, when the viewer reads: ingest only moves
//! `traces.last_seq` (as it always did), and a read first recomputes the traces whose
//! `last_seq` is above the watermark kept in `viewer_meta`. Ingest pays one index
//! update per trace; a database written by an older collector gets its summaries on the
//! first read.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// Tables and indexes of the viewer (idempotent; run on every open).
const SCHEMA: &str = "
CREATE INDEX IF NOT EXISTS traces_by_last_seq ON traces(last_seq);
CREATE TABLE IF NOT EXISTS viewer_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trace_summaries (
    trace_id TEXT PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    environment TEXT NOT NULL,
    workspace_slug TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    root_name TEXT NOT NULL,
    root_kind TEXT NOT NULL,
    root_span_id TEXT NOT NULL,
    status TEXT NOT NULL,
    root_status TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    span_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    git_commit TEXT NOT NULL,
    git_branch TEXT NOT NULL,
    first_error TEXT NOT NULL,
    search TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trace_summaries_by_start
    ON trace_summaries(start_ns DESC, trace_id DESC);
CREATE INDEX IF NOT EXISTS trace_summaries_by_agent
    ON trace_summaries(agent_name, start_ns DESC, trace_id DESC);
CREATE INDEX IF NOT EXISTS trace_summaries_by_status
    ON trace_summaries(status, start_ns DESC, trace_id DESC);
CREATE INDEX IF NOT EXISTS trace_summaries_by_session
    ON trace_summaries(session_id, start_ns DESC, trace_id DESC);
";

const WATERMARK: &str = "summarized_seq";

/// Creates the viewer's tables and indexes if they are missing.
pub(crate) fn init_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// Counts and sums over every span of one trace.
const AGGREGATE: &str = "
SELECT count(*),
       COALESCE(sum(status = 'error'), 0),
       COALESCE(sum(status = 'timeout'), 0),
       COALESCE(sum(json_extract(raw, '$.input_tokens')), 0),
       COALESCE(sum(json_extract(raw, '$.output_tokens')), 0),
       COALESCE(sum(json_extract(raw, '$.total_tokens')), 0),
       min(CAST(ts_nanos AS INTEGER)),
       max(CAST(ts_nanos AS INTEGER) + CAST(duration_ms * 1000000 AS INTEGER)),
       COALESCE(substr(group_concat(DISTINCT name), 1, 2000), ''),
       COALESCE((SELECT error_message FROM spans e WHERE e.trace_id = ?1
                 AND e.error_message IS NOT NULL AND e.error_message != ''
                 ORDER BY e.ts_nanos LIMIT 1), '')
FROM spans WHERE trace_id = ?1";

/// The root: a span without a parent, else the earliest whose parent never arrived.
const ROOT: &str = "
SELECT span_id, name, kind, status, provisional, duration_ms,
       COALESCE(json_extract(raw, '$.agent_name'), ''),
       COALESCE(json_extract(raw, '$.session_id'), ''),
       COALESCE(json_extract(raw, '$.user_id'), ''),
       json_extract(raw, '$.attributes'),
       timestamp
FROM spans s WHERE trace_id = ?1
  AND (parent_span_id IS NULL OR NOT EXISTS (
       SELECT 1 FROM spans p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id))
ORDER BY parent_span_id IS NOT NULL, ts_nanos, rowid LIMIT 1";

const UPSERT: &str = "
INSERT OR REPLACE INTO trace_summaries (trace_id, start_ns, timestamp, environment,
  workspace_slug, agent_name, root_name, root_kind, root_span_id, status, root_status,
  duration_ms, span_count, error_count, input_tokens, output_tokens, total_tokens,
  session_id, user_id, git_commit, git_branch, first_error, search)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
  ?18, ?19, ?20, ?21, ?22, ?23)";

/// Brings every summary up to date (see the module docs). Cheap when nothing changed:
/// one indexed lookup.
pub(crate) fn refresh(conn: &mut Connection) -> rusqlite::Result<()> {
    let latest: i64 = conn.query_row("SELECT COALESCE(MAX(last_seq), 0) FROM traces", [], |r| {
        r.get(0)
    })?;
    let done: i64 = conn
        .query_row(
            "SELECT value FROM viewer_meta WHERE key = ?1",
            [WATERMARK],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(-1);
    if done >= latest {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let stale: Vec<(String, String, String, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT trace_id, timestamp, environment, workspace_slug FROM traces
             WHERE last_seq > ?1",
        )?;
        let rows = stmt.query_map([done], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (trace_id, timestamp, environment, workspace_slug) in &stale {
        summarize(&tx, trace_id, timestamp, environment, workspace_slug)?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO viewer_meta (key, value) VALUES (?1, ?2)",
        params![WATERMARK, latest],
    )?;
    tx.commit()
}

/// A string attribute of a span's `attributes` document (`""` when absent or not JSON).
fn attribute(attributes: Option<&str>, key: &str) -> String {
    let Some(v) = attributes.and_then(crate::wire::parse_embedded_json) else {
        return String::new();
    };
    match v.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

struct Root {
    span_id: String,
    name: String,
    kind: String,
    status: String,
    provisional: bool,
    duration_ms: f64,
    agent_name: String,
    session_id: String,
    user_id: String,
    attributes: Option<String>,
    timestamp: String,
}

fn summarize(
    tx: &Transaction<'_>,
    trace_id: &str,
    timestamp: &str,
    environment: &str,
    workspace_slug: &str,
) -> rusqlite::Result<()> {
    #[allow(clippy::type_complexity)]
    let (count, errors, timeouts, tin, tout, ttotal, start, end, names, first_error): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        String,
        String,
    ) = tx.prepare_cached(AGGREGATE)?.query_row([trace_id], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
        ))
    })?;
    if count == 0 {
        tx.execute(
            "DELETE FROM trace_summaries WHERE trace_id = ?1",
            [trace_id],
        )?;
        return Ok(());
    }
    let root = tx
        .prepare_cached(ROOT)?
        .query_row([trace_id], |r| {
            Ok(Root {
                span_id: r.get(0)?,
                name: r.get(1)?,
                kind: r.get(2)?,
                status: r.get(3)?,
                provisional: r.get(4)?,
                duration_ms: r.get(5)?,
                agent_name: r.get(6)?,
                session_id: r.get(7)?,
                user_id: r.get(8)?,
                attributes: r.get(9)?,
                timestamp: r.get(10)?,
            })
        })
        .optional()?;
    let start = start.unwrap_or(0);
    let extent_ms = end.map_or(0.0, |e| (e - start).max(0) as f64 / 1e6);
    let status = match &root {
        Some(r) if r.provisional => "running",
        _ if errors > 0 => "error",
        _ if timeouts > 0 => "timeout",
        _ => "ok",
    };
    // A provisional root has duration 0: show how far its spans reach so far.
    let duration_ms = match &root {
        Some(r) if !r.provisional => r.duration_ms,
        _ => extent_ms,
    };
    let attrs = root.as_ref().and_then(|r| r.attributes.as_deref());
    let git_commit = attribute(attrs, "vcs.commit.sha");
    let git_branch = attribute(attrs, "vcs.branch");
    let r = root.as_ref();
    let text = |f: fn(&Root) -> &str| r.map_or("", f).to_owned();
    let agent_name = text(|r| &r.agent_name);
    let session_id = text(|r| &r.session_id);
    let user_id = text(|r| &r.user_id);
    let root_name = text(|r| &r.name);
    let search = [
        trace_id,
        &agent_name,
        &root_name,
        &session_id,
        &user_id,
        &git_commit,
        &names,
        &first_error,
    ]
    .join("\n")
    .to_lowercase();
    tx.prepare_cached(UPSERT)?.execute(params![
        trace_id,
        start,
        r.map_or(timestamp, |r| r.timestamp.as_str()),
        environment,
        workspace_slug,
        agent_name,
        root_name,
        text(|r| &r.kind),
        text(|r| &r.span_id),
        status,
        text(|r| &r.status),
        duration_ms,
        count,
        errors,
        tin,
        tout,
        ttotal,
        session_id,
        user_id,
        git_commit,
        git_branch,
        first_error,
        search,
    ])?;
    Ok(())
}

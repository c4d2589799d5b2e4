//! One row per trace for the viewer's list: agent, root, status, duration, counts,
//! tokens, conversation and git commit, with the indexes its filters and paging use.
//!
//! Summaries are brought up to date lazily, when the viewer reads: ingest only moves
//! `traces.last_seq` (as it always did), and a read first recomputes the traces whose
//! `last_seq` is above the watermark kept in `viewer_meta`. Ingest pays one index
//! update per trace; a database written by an older collector gets its summaries on the
//! first read, in steps of [`STEP`] traces so that ingest is never held up for long.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashSet;

/// Traces summarized per step (one transaction, one hold of the store's lock).
pub(crate) const STEP: usize = 2000;

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

/// Every span of one trace, with the columns a summary needs.
const SPANS: &str = "
SELECT span_id, parent_span_id, name, kind, status, provisional, duration_ms,
       CAST(ts_nanos AS INTEGER), error_message, timestamp, raw
FROM spans WHERE trace_id = ?1 ORDER BY ts_nanos, rowid";

const UPSERT: &str = "
INSERT OR REPLACE INTO trace_summaries (trace_id, start_ns, timestamp, environment,
  workspace_slug, agent_name, root_name, root_kind, root_span_id, status, root_status,
  duration_ms, span_count, error_count, input_tokens, output_tokens, total_tokens,
  session_id, user_id, git_commit, git_branch, first_error, search)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
  ?18, ?19, ?20, ?21, ?22, ?23)";

fn watermark(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(conn
        .query_row(
            "SELECT value FROM viewer_meta WHERE key = ?1",
            [WATERMARK],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(-1))
}

/// Brings every summary up to date (see the module docs). Cheap when nothing changed:
/// two indexed lookups.
pub(crate) fn refresh(conn: &mut Connection) -> rusqlite::Result<()> {
    while refresh_step(conn, usize::MAX)? {}
    Ok(())
}

/// Summarizes the stale traces of at least one batch and at most about `max` traces
/// (whole batches: every trace stored with one `last_seq` is done together); `true`
/// when more are stale.
pub(crate) fn refresh_step(conn: &mut Connection, max: usize) -> rusqlite::Result<bool> {
    let latest: i64 = conn.query_row("SELECT COALESCE(MAX(last_seq), 0) FROM traces", [], |r| {
        r.get(0)
    })?;
    let done = watermark(conn)?;
    if done >= latest {
        return Ok(false);
    }
    // The last_seq up to which this step goes: the one of the max-th stale trace.
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let upto: i64 = conn
        .query_row(
            "SELECT last_seq FROM traces WHERE last_seq > ?1 ORDER BY last_seq LIMIT 1 OFFSET ?2",
            params![done, limit.saturating_sub(1)],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(latest);
    let tx = conn.transaction()?;
    let stale: Vec<(String, String, String, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT trace_id, timestamp, environment, workspace_slug FROM traces
             WHERE last_seq > ?1 AND last_seq <= ?2",
        )?;
        let rows = stmt.query_map([done, upto], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (trace_id, timestamp, environment, workspace_slug) in &stale {
        summarize(&tx, trace_id, timestamp, environment, workspace_slug)?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO viewer_meta (key, value) VALUES (?1, ?2)",
        params![WATERMARK, upto],
    )?;
    tx.commit()?;
    Ok(upto < latest)
}

/// The fields of a stored span object a summary reads.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Fields<'a> {
    input_tokens: i64,
    output_tokens: i64,
    total_tokens: i64,
    #[serde(borrow)]
    agent_name: Cow<'a, str>,
    #[serde(borrow)]
    session_id: Cow<'a, str>,
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    #[serde(borrow)]
    attributes: Cow<'a, str>,
}

/// A string attribute of a span's `attributes` document (`""` when absent or not JSON).
fn attribute(attributes: &str, key: &str) -> String {
    let Some(v) = crate::formats::parse_embedded_json(attributes) else {
        return String::new();
    };
    match v.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// One span as read for its summary.
struct Row {
    span_id: String,
    parent: Option<String>,
    name: String,
    kind: String,
    status: String,
    provisional: bool,
    duration_ms: f64,
    ns: i64,
    error_message: Option<String>,
    timestamp: String,
    raw: String,
}

fn summarize(
    tx: &Transaction<'_>,
    trace_id: &str,
    timestamp: &str,
    environment: &str,
    workspace_slug: &str,
) -> rusqlite::Result<()> {
    let rows: Vec<Row> = {
        let mut stmt = tx.prepare_cached(SPANS)?;
        let rows = stmt.query_map([trace_id], |r| {
            Ok(Row {
                span_id: r.get(0)?,
                parent: r.get(1)?,
                name: r.get(2)?,
                kind: r.get(3)?,
                status: r.get(4)?,
                provisional: r.get(5)?,
                duration_ms: r.get(6)?,
                ns: r.get(7)?,
                error_message: r.get(8)?,
                timestamp: r.get(9)?,
                raw: r.get(10)?,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if rows.is_empty() {
        tx.execute(
            "DELETE FROM trace_summaries WHERE trace_id = ?1",
            [trace_id],
        )?;
        return Ok(());
    }
    let ids: HashSet<&str> = rows.iter().map(|r| r.span_id.as_str()).collect();
    // The root: a span without a parent, else the earliest whose parent never arrived.
    let root = rows
        .iter()
        .find(|r| r.parent.is_none())
        .or_else(|| {
            rows.iter()
                .find(|r| r.parent.as_deref().is_some_and(|p| !ids.contains(p)))
        })
        .unwrap_or(&rows[0]);
    let (mut errors, mut timeouts, mut tin, mut tout, mut ttotal) = (0i64, 0i64, 0i64, 0i64, 0i64);
    let (mut start, mut end) = (i64::MAX, i64::MIN);
    let mut first_error = "";
    let mut names: Vec<&str> = Vec::new();
    let mut seen_names = HashSet::new();
    let mut root_fields = Fields::default();
    for r in &rows {
        errors += i64::from(r.status == "error");
        timeouts += i64::from(r.status == "timeout");
        if first_error.is_empty() {
            first_error = r.error_message.as_deref().unwrap_or("");
        }
        start = start.min(r.ns);
        end = end.max(r.ns.saturating_add((r.duration_ms * 1e6) as i64));
        if names.len() < 200 && seen_names.insert(r.name.as_str()) {
            names.push(&r.name);
        }
        let f: Fields<'_> = serde_json::from_str(&r.raw).unwrap_or_default();
        tin += f.input_tokens;
        tout += f.output_tokens;
        ttotal += f.total_tokens;
        if std::ptr::eq(r, root) {
            root_fields = Fields {
                agent_name: Cow::Owned(f.agent_name.into_owned()),
                session_id: Cow::Owned(f.session_id.into_owned()),
                user_id: Cow::Owned(f.user_id.into_owned()),
                attributes: Cow::Owned(f.attributes.into_owned()),
                ..Fields::default()
            };
        }
    }
    let extent_ms = (end - start).max(0) as f64 / 1e6;
    let status = if root.provisional && root.parent.is_none() {
        "running"
    } else if errors > 0 {
        "error"
    } else if timeouts > 0 {
        "timeout"
    } else {
        "ok"
    };
    // A provisional root has duration 0: show how far its spans reach so far.
    let duration_ms = if root.provisional {
        extent_ms
    } else {
        root.duration_ms
    };
    let git_commit = attribute(&root_fields.attributes, "vcs.commit.sha");
    let git_branch = attribute(&root_fields.attributes, "vcs.branch");
    let mut search = [
        trace_id,
        &root_fields.agent_name,
        &root.name,
        &root_fields.session_id,
        &root_fields.user_id,
        &git_commit,
        first_error,
    ]
    .join("\n");
    search.push('\n');
    search.push_str(&names.join("\n"));
    let search = search.to_lowercase();
    let ts = if root.timestamp.is_empty() {
        timestamp
    } else {
        root.timestamp.as_str()
    };
    tx.prepare_cached(UPSERT)?.execute(params![
        trace_id,
        start,
        ts,
        environment,
        workspace_slug,
        &*root_fields.agent_name,
        root.name,
        root.kind,
        root.span_id,
        status,
        root.status,
        duration_ms,
        i64::try_from(rows.len()).unwrap_or(i64::MAX),
        errors,
        tin,
        tout,
        ttotal,
        &*root_fields.session_id,
        &*root_fields.user_id,
        git_commit,
        git_branch,
        first_error,
        search,
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM trace_summaries", [], |r| r.get(0))
            .expect("count")
    }

    /// A stale backlog is summarized in bounded steps, whole batches at a time, and
    /// every trace exactly once.
    #[test]
    fn refresh_goes_in_steps_of_whole_batches() {
        let store = crate::store::Store::open(None, true).expect("store");
        store.with_conn(|conn| {
            // 7 batches (last_seq 1..=7) of 2 traces of one span each.
            for i in 0..14i64 {
                let t = format!("t{i:02}");
                let seq = i / 2 + 1;
                conn.execute(
                    "INSERT INTO traces VALUES (?1, '2026-11-26T06:10:00+00:00', ?2, 'default', 'default', ?3)",
                    params![t, format!("{:024}", i), seq],
                )
                .expect("trace");
                let raw = serde_json::json!({"total_tokens": 10, "agent_name": "a", "attributes": "{}"});
                conn.execute(
                    "INSERT INTO spans VALUES (?1, 's', NULL, 'root', 'agent', '2026-11-26T06:10:00+00:00',
                     ?2, 1.0, 'ok', NULL, 0, 'default', 'default', 1, 1, ?3)",
                    params![t, format!("{:024}", i), raw.to_string()],
                )
                .expect("span");
            }
            assert!(refresh_step(conn, 3).expect("step"), "more to do");
            // The third stale trace is in batch 2: both of batch 2's traces are done.
            assert_eq!(count(conn), 4);
            assert!(refresh_step(conn, 3).expect("step"));
            assert_eq!(count(conn), 8);
            refresh(conn).expect("refresh");
            assert_eq!(count(conn), 14);
            assert!(!refresh_step(conn, 3).expect("step"), "nothing stale");
            let tokens: i64 = conn
                .query_row("SELECT sum(total_tokens) FROM trace_summaries", [], |r| r.get(0))
                .expect("sum");
            assert_eq!(tokens, 140);
        });
    }
}

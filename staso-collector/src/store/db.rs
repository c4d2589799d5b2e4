//! The SQLite side of the store: the schema, opening a connection, and writing one
//! batch in one transaction by the actions the index decided. The SQL lives here, next
//! to the one writer that runs it.

use super::index::Action;
use super::now_ms;
use crate::ingest::TraceIn;
use rusqlite::{params, Connection};
use std::path::Path;

pub(super) struct Db {
    pub(super) conn: Connection,
    /// `traces.last_seq` of the next stored batch.
    pub(super) next_seq: i64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS batches (
    idempotency_key TEXT PRIMARY KEY,
    traces INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    ts_nanos TEXT NOT NULL,
    environment TEXT NOT NULL,
    workspace_slug TEXT NOT NULL,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    ts_nanos TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    status TEXT NOT NULL,
    error_message TEXT,
    provisional INTEGER NOT NULL,
    environment TEXT NOT NULL,
    workspace_slug TEXT NOT NULL,
    copies_received INTEGER NOT NULL,
    final_copies_received INTEGER NOT NULL,
    raw TEXT NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT NOT NULL,
    body TEXT NOT NULL
);
";

const INSERT_BATCH: &str =
    "INSERT INTO batches (idempotency_key, traces, received_at_ms) VALUES (?1, ?2, ?3)";

const UPSERT_TRACE: &str = "
INSERT INTO traces (trace_id, timestamp, ts_nanos, environment, workspace_slug, last_seq)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT(trace_id) DO UPDATE SET
  timestamp = CASE WHEN excluded.ts_nanos < ts_nanos THEN excluded.timestamp ELSE timestamp END,
  ts_nanos = MIN(ts_nanos, excluded.ts_nanos),
  environment = excluded.environment,
  workspace_slug = excluded.workspace_slug,
  last_seq = excluded.last_seq";

/// The first copy of a span. (The upsert only matters if the file was written behind
/// this collector's back: the index says the row is new.)
const INSERT_SPAN: &str = "
INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, timestamp, ts_nanos,
  duration_ms, status, error_message, provisional, environment, workspace_slug,
  copies_received, final_copies_received, raw)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1, ?14, ?15)
ON CONFLICT(trace_id, span_id) DO UPDATE SET
  parent_span_id = excluded.parent_span_id, name = excluded.name, kind = excluded.kind,
  timestamp = excluded.timestamp, ts_nanos = excluded.ts_nanos,
  duration_ms = excluded.duration_ms, status = excluded.status,
  error_message = excluded.error_message, provisional = excluded.provisional,
  environment = excluded.environment, workspace_slug = excluded.workspace_slug,
  copies_received = copies_received + 1,
  final_copies_received = final_copies_received + excluded.final_copies_received,
  raw = excluded.raw";

/// A newer copy replacing the stored one (same parameters as `INSERT_SPAN`).
const REPLACE_SPAN: &str = "
UPDATE spans SET parent_span_id = ?3, name = ?4, kind = ?5, timestamp = ?6, ts_nanos = ?7,
  duration_ms = ?8, status = ?9, error_message = ?10, provisional = ?11,
  environment = ?12, workspace_slug = ?13, copies_received = copies_received + 1,
  final_copies_received = final_copies_received + ?14, raw = ?15
WHERE trace_id = ?1 AND span_id = ?2";

/// A copy that is only counted (a provisional copy of a span stored final).
const COUNT_SPAN: &str = "
UPDATE spans SET copies_received = copies_received + 1,
  final_copies_received = final_copies_received + ?3
WHERE trace_id = ?1 AND span_id = ?2";

/// Nanoseconds as a zero-padded decimal string, so that text order is time order
/// (SQLite integers are 64-bit; i128 nanos are kept exact this way).
fn nanos_key(nanos: i128) -> String {
    format!("{:024}", nanos.max(0))
}

pub(super) fn connect(path: Option<&Path>) -> rusqlite::Result<Connection> {
    let conn = match path {
        Some(p) => {
            let c = Connection::open(p)?;
            // A local test tool: an OS crash may lose the last batches, a killed
            // collector loses nothing committed.
            c.execute_batch("PRAGMA synchronous = OFF;")?;
            c
        }
        None => Connection::open_in_memory()?,
    };
    conn.execute_batch(SCHEMA)?;
    crate::viewer::summary::init_schema(&conn)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

impl Db {
    /// Writes one batch in one transaction: the batch, its traces, and each span by the
    /// action the index decided for it (in batch order).
    pub(super) fn write(
        &mut self,
        key: &str,
        traces: &[TraceIn<'_>],
        actions: &[Action],
    ) -> rusqlite::Result<()> {
        let seq = self.next_seq;
        let tx = self.conn.transaction()?;
        {
            tx.prepare_cached(INSERT_BATCH)?.execute(params![
                key,
                i64::try_from(traces.len()).unwrap_or(i64::MAX),
                now_ms()
            ])?;
            let mut upsert_trace = tx.prepare_cached(UPSERT_TRACE)?;
            let mut insert = tx.prepare_cached(INSERT_SPAN)?;
            let mut replace = tx.prepare_cached(REPLACE_SPAN)?;
            let mut count = tx.prepare_cached(COUNT_SPAN)?;
            let mut actions = actions.iter();
            for t in traces {
                upsert_trace.execute(params![
                    &*t.trace_id,
                    &*t.timestamp,
                    nanos_key(t.nanos),
                    &*t.environment,
                    &*t.workspace_slug,
                    seq
                ])?;
                for s in &t.spans {
                    let final_inc = i64::from(!s.provisional);
                    let action = actions.next().copied().unwrap_or(Action::Insert);
                    if action == Action::Count {
                        count.execute(params![&*t.trace_id, &*s.span_id, final_inc])?;
                        continue;
                    }
                    let stmt = if action == Action::Insert {
                        &mut insert
                    } else {
                        &mut replace
                    };
                    stmt.execute(params![
                        &*t.trace_id,
                        &*s.span_id,
                        s.parent_span_id.as_deref(),
                        &*s.name,
                        s.kind,
                        &*s.timestamp,
                        nanos_key(s.nanos),
                        s.duration_ms,
                        s.status,
                        s.error_message.as_deref(),
                        s.provisional,
                        &*t.environment,
                        &*t.workspace_slug,
                        final_inc,
                        &*s.raw
                    ])?;
                }
            }
        }
        tx.commit()?;
        self.next_seq += 1;
        Ok(())
    }
}

//! SQLite storage of accepted traces, spans, batches and annotations.
//!
//! Rules: a batch whose Idempotency-Key was already stored is not stored again; spans are
//! upserted by (trace_id, span_id), the newest copy winning, except that a provisional
//! root copy never replaces a final one. Every copy received is counted.

use crate::validate::TraceIn;
use crate::wire::parse_timestamp;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::path::Path;
use std::sync::Mutex;

/// A stored span with the fields of its trace.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpan {
    /// The trace it belongs to.
    pub trace_id: String,
    /// Its id.
    pub span_id: String,
    /// Its parent's id; `None` for a root.
    pub parent_span_id: Option<String>,
    /// Span name.
    pub name: String,
    /// `llm`, `tool`, `chain`, `retriever`, `agent` or `custom`.
    pub kind: String,
    /// Start time as sent.
    pub timestamp: String,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// `ok`, `error` or `timeout`.
    pub status: String,
    /// The error message, if any was sent.
    pub error_message: Option<String>,
    /// Whether the stored copy is a provisional root copy (`staso.provisional_root`).
    pub provisional: bool,
    /// The trace's `environment` (from the batch that brought the stored copy).
    pub environment: String,
    /// The trace's `workspace_slug` (from the batch that brought the stored copy).
    pub workspace_slug: String,
    /// How many copies of this span were received in stored batches (provisional ones
    /// included; a retried batch with a known Idempotency-Key is not counted again).
    pub copies_received: u64,
    /// How many final (non-provisional) copies were received: 1 when delivered exactly once.
    pub final_copies_received: u64,
    /// The stored span object exactly as sent (without `trace_id`, as on the wire).
    pub raw: Value,
}

impl StoredSpan {
    /// A field of the span object as sent, e.g. `span.field("agent_name")`.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.raw.get(name)
    }

    /// A string field of the span object as sent ("" when absent or not a string).
    pub fn str_field(&self, name: &str) -> &str {
        self.field(name).and_then(Value::as_str).unwrap_or("")
    }

    /// The span object as sent, plus its trace's `trace_id`, `environment` and
    /// `workspace_slug`: one flat JSON object per span.
    pub fn to_value(&self) -> Value {
        let mut v = self.raw.clone();
        if let Some(o) = v.as_object_mut() {
            o.insert("trace_id".into(), Value::from(self.trace_id.as_str()));
            o.insert("environment".into(), Value::from(self.environment.as_str()));
            o.insert(
                "workspace_slug".into(),
                Value::from(self.workspace_slug.as_str()),
            );
        }
        v
    }

    /// The `attributes` string parsed as a JSON object.
    pub fn attributes(&self) -> serde_json::Map<String, Value> {
        parse_json_field(self.str_field("attributes"))
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
    }

    /// The `input` string parsed as JSON (`None` when `""`).
    pub fn input(&self) -> Option<Value> {
        parse_json_field(self.str_field("input"))
    }

    /// The `output` string parsed as JSON (`None` when `""`).
    pub fn output(&self) -> Option<Value> {
        parse_json_field(self.str_field("output"))
    }
}

fn parse_json_field(s: &str) -> Option<Value> {
    if s.is_empty() {
        None
    } else {
        crate::wire::parse_embedded_json(s)
    }
}

/// A stored trace and its spans, ordered by start time.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTrace {
    /// Trace id.
    pub trace_id: String,
    /// Earliest span timestamp seen for this trace.
    pub timestamp: String,
    /// `environment` of the latest batch carrying this trace.
    pub environment: String,
    /// `workspace_slug` of the latest batch carrying this trace.
    pub workspace_slug: String,
    /// The spans.
    pub spans: Vec<StoredSpan>,
}

/// A stored annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnnotation {
    /// The trace id from the request path.
    pub trace_id: String,
    /// The request body as sent.
    pub body: Value,
}

/// What storing one batch did.
#[derive(Debug, Clone, Default)]
pub(crate) struct IngestOutcome {
    /// The Idempotency-Key was already stored: nothing was stored this time.
    pub replay: bool,
    /// Trace ids touched, in batch order.
    pub traces: Vec<String>,
}

pub(crate) struct Store {
    conn: Mutex<Connection>,
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

/// Nanoseconds as a zero-padded decimal string, so that text order is time order
/// (SQLite integers are 64-bit; i128 nanos are kept exact this way).
fn nanos_key(ts: &str) -> String {
    format!("{:024}", parse_timestamp(ts).unwrap_or(0).max(0))
}

fn is_provisional(span: &serde_json::Map<String, Value>) -> bool {
    let attrs = span
        .get("attributes")
        .and_then(Value::as_str)
        .unwrap_or("{}");
    matches!(span.get("parent_span_id"), None | Some(Value::Null))
        && serde_json::from_str::<Value>(attrs)
            .ok()
            .and_then(|a| a.get("staso.provisional_root").cloned())
            == Some(Value::Bool(true))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Opens (and creates if needed) the database at `path`, or an in-memory one.
    pub(crate) fn open(path: Option<&Path>) -> rusqlite::Result<Self> {
        let conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a validated batch under its Idempotency-Key, once.
    pub(crate) fn ingest(&self, key: &str, traces: &[TraceIn]) -> rusqlite::Result<IngestOutcome> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let known: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM batches WHERE idempotency_key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?;
        let ids = traces.iter().map(|t| t.trace_id.clone()).collect();
        if known.is_some() {
            return Ok(IngestOutcome {
                replay: true,
                traces: ids,
            });
        }
        let seq: i64 = tx.query_row(
            "SELECT COALESCE(MAX(last_seq), 0) + 1 FROM traces",
            [],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO batches (idempotency_key, traces, received_at_ms) VALUES (?1, ?2, ?3)",
            params![key, traces.len() as i64, now_ms()],
        )?;
        for t in traces {
            let nanos = nanos_key(&t.timestamp);
            tx.execute(
                "INSERT INTO traces (trace_id, timestamp, ts_nanos, environment, workspace_slug, last_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(trace_id) DO UPDATE SET
                   timestamp = CASE WHEN excluded.ts_nanos < ts_nanos THEN excluded.timestamp ELSE timestamp END,
                   ts_nanos = MIN(ts_nanos, excluded.ts_nanos),
                   environment = excluded.environment,
                   workspace_slug = excluded.workspace_slug,
                   last_seq = excluded.last_seq",
                params![t.trace_id, t.timestamp, nanos, t.environment, t.workspace_slug, seq],
            )?;
            for s in &t.spans {
                Self::upsert_span(&tx, t, s)?;
            }
        }
        tx.commit()?;
        Ok(IngestOutcome {
            replay: false,
            traces: ids,
        })
    }

    fn upsert_span(
        tx: &rusqlite::Transaction<'_>,
        t: &TraceIn,
        s: &serde_json::Map<String, Value>,
    ) -> rusqlite::Result<()> {
        let get = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let span_id = get("span_id");
        let provisional = is_provisional(s);
        let existing: Option<bool> = tx
            .query_row(
                "SELECT provisional FROM spans WHERE trace_id = ?1 AND span_id = ?2",
                params![t.trace_id, span_id],
                |r| r.get(0),
            )
            .optional()?;
        let final_inc = i64::from(!provisional);
        if existing.is_some() {
            tx.execute(
                "UPDATE spans SET copies_received = copies_received + 1,
                   final_copies_received = final_copies_received + ?3
                 WHERE trace_id = ?1 AND span_id = ?2",
                params![t.trace_id, span_id, final_inc],
            )?;
        }
        // A provisional copy never replaces a final one.
        if existing == Some(false) && provisional {
            return Ok(());
        }
        let timestamp = get("timestamp");
        let raw = Value::Object(s.clone()).to_string();
        let parent = s.get("parent_span_id").and_then(Value::as_str);
        let error = s.get("error_message").and_then(Value::as_str);
        let duration = s.get("duration_ms").and_then(Value::as_f64).unwrap_or(0.0);
        tx.execute(
            "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, timestamp, ts_nanos,
               duration_ms, status, error_message, provisional, environment, workspace_slug,
               copies_received, final_copies_received, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1, ?14, ?15)
             ON CONFLICT(trace_id, span_id) DO UPDATE SET
               parent_span_id = excluded.parent_span_id, name = excluded.name,
               kind = excluded.kind, timestamp = excluded.timestamp, ts_nanos = excluded.ts_nanos,
               duration_ms = excluded.duration_ms, status = excluded.status,
               error_message = excluded.error_message, provisional = excluded.provisional,
               environment = excluded.environment, workspace_slug = excluded.workspace_slug,
               raw = excluded.raw",
            params![
                t.trace_id,
                span_id,
                parent,
                get("name"),
                get("kind"),
                timestamp,
                nanos_key(&timestamp),
                duration,
                get("status"),
                error,
                provisional,
                t.environment,
                t.workspace_slug,
                final_inc,
                raw
            ],
        )?;
        Ok(())
    }

    /// Every stored span, by trace (first stored first) then start time.
    pub(crate) fn spans(&self) -> rusqlite::Result<Vec<StoredSpan>> {
        self.query_spans(
            "SELECT s.* FROM spans s JOIN traces t USING (trace_id)
             ORDER BY t.rowid, s.ts_nanos, s.rowid",
            [],
        )
    }

    fn query_spans<P: rusqlite::Params>(
        &self,
        sql: &str,
        p: P,
    ) -> rusqlite::Result<Vec<StoredSpan>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map(p, |r| {
            let raw: String = r.get("raw")?;
            Ok(StoredSpan {
                trace_id: r.get("trace_id")?,
                span_id: r.get("span_id")?,
                parent_span_id: r.get("parent_span_id")?,
                name: r.get("name")?,
                kind: r.get("kind")?,
                timestamp: r.get("timestamp")?,
                duration_ms: r.get("duration_ms")?,
                status: r.get("status")?,
                error_message: r.get("error_message")?,
                provisional: r.get("provisional")?,
                environment: r.get("environment")?,
                workspace_slug: r.get("workspace_slug")?,
                copies_received: u64::try_from(r.get::<_, i64>("copies_received")?).unwrap_or(0),
                final_copies_received: u64::try_from(r.get::<_, i64>("final_copies_received")?)
                    .unwrap_or(0),
                raw: serde_json::from_str(&raw).unwrap_or(Value::Null),
            })
        })?;
        rows.collect()
    }

    /// The number of distinct stored spans (only those whose stored copy is final when
    /// `final_only`).
    pub(crate) fn span_count(&self, final_only: bool) -> rusqlite::Result<usize> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM spans WHERE provisional = 0 OR ?1 = 0",
            [final_only],
            |r| r.get(0),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Stored traces in the order first stored; `last` keeps only the most recently
    /// updated ones (still oldest first).
    pub(crate) fn traces(&self, last: Option<usize>) -> rusqlite::Result<Vec<StoredTrace>> {
        let heads: Vec<(String, String, String, String)> = {
            let conn = self.conn();
            let sql = match last {
                Some(_) => {
                    "SELECT * FROM (SELECT trace_id, timestamp, environment, workspace_slug, rowid AS r
                     FROM traces ORDER BY last_seq DESC, rowid DESC LIMIT ?1) ORDER BY r"
                }
                None => {
                    "SELECT trace_id, timestamp, environment, workspace_slug, rowid FROM traces
                     WHERE ?1 >= 0 ORDER BY rowid"
                }
            };
            let limit = last.map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX));
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        heads
            .into_iter()
            .map(|(trace_id, timestamp, environment, workspace_slug)| {
                let spans = self.trace_spans(&trace_id)?;
                Ok(StoredTrace {
                    trace_id,
                    timestamp,
                    environment,
                    workspace_slug,
                    spans,
                })
            })
            .collect()
    }

    /// One stored trace.
    pub(crate) fn trace(&self, trace_id: &str) -> rusqlite::Result<Option<StoredTrace>> {
        let head: Option<(String, String, String)> = self
            .conn()
            .query_row(
                "SELECT timestamp, environment, workspace_slug FROM traces WHERE trace_id = ?1",
                [trace_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match head {
            None => Ok(None),
            Some((timestamp, environment, workspace_slug)) => Ok(Some(StoredTrace {
                trace_id: trace_id.to_owned(),
                timestamp,
                environment,
                workspace_slug,
                spans: self.trace_spans(trace_id)?,
            })),
        }
    }

    fn trace_spans(&self, trace_id: &str) -> rusqlite::Result<Vec<StoredSpan>> {
        self.query_spans(
            "SELECT * FROM spans WHERE trace_id = ?1 ORDER BY ts_nanos, rowid",
            [trace_id],
        )
    }

    /// Stores an annotation.
    pub(crate) fn add_annotation(&self, trace_id: &str, body: &Value) -> rusqlite::Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO annotations (trace_id, body) VALUES (?1, ?2)",
            params![trace_id, body.to_string()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Every stored annotation, oldest first.
    pub(crate) fn annotations(&self) -> rusqlite::Result<Vec<StoredAnnotation>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT trace_id, body FROM annotations ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            let body: String = r.get(1)?;
            Ok(StoredAnnotation {
                trace_id: r.get(0)?,
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
            })
        })?;
        rows.collect()
    }
}

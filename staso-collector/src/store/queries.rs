//! The store's reads from SQLite (spans, traces, annotations) and the storing of an
//! annotation: everything but the batch write, which is in [`super::db`].

use super::{Store, StoredAnnotation, StoredSpan, StoredTrace};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

impl Store {
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
        let db = self.conn();
        let mut stmt = db.conn.prepare_cached(sql)?;
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

    /// Stored traces in the order first stored; `last` keeps only the most recently
    /// updated ones (still oldest first).
    pub(crate) fn traces(&self, last: Option<usize>) -> rusqlite::Result<Vec<StoredTrace>> {
        let heads: Vec<(String, String, String, String)> = {
            let db = self.conn();
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
            let mut stmt = db.conn.prepare(sql)?;
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
            .conn
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
        let db = self.conn();
        db.conn.execute(
            "INSERT INTO annotations (trace_id, body) VALUES (?1, ?2)",
            params![trace_id, body.to_string()],
        )?;
        let id = db.conn.last_insert_rowid();
        drop(db);
        self.changed();
        Ok(id)
    }

    /// Every stored annotation, oldest first.
    pub(crate) fn annotations(&self) -> rusqlite::Result<Vec<StoredAnnotation>> {
        let db = self.conn();
        let mut stmt = db
            .conn
            .prepare("SELECT trace_id, body FROM annotations ORDER BY id")?;
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

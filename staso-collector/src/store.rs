//! SQLite storage of accepted traces, spans, batches and annotations.
//!
//! Rules: a batch whose Idempotency-Key was already stored is not stored again; spans are
//! upserted by (trace_id, span_id), the newest copy winning, except that a provisional
//! root copy never replaces a final one. Every copy received is counted.
//!
//! The keys and per-span counts also live in an in-memory index, in every mode: it
//! decides replays and upserts without a query, answers the counting API cheaply, and is
//! all that count-only mode keeps.

use crate::formats::{lower_uuid_u128, IdHash};
use crate::ingest::TraceIn;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

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
        crate::formats::parse_embedded_json(s)
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
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IngestOutcome {
    /// The Idempotency-Key was already stored: nothing was stored this time.
    pub replay: bool,
}

/// The copies received of one stored span (see [`crate::Spans::copies`]).
///
/// Ids are the 32 hex digits of the id read as one number: see [`crate::id_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanCopies {
    /// The trace id, as a number.
    pub trace_id: u128,
    /// The span id, as a number.
    pub span_id: u128,
    /// Copies received in stored batches, provisional ones included.
    pub copies: u32,
    /// Final (non-provisional) copies received: 1 when delivered exactly once.
    pub final_copies: u32,
    /// Whether the stored copy is a provisional root copy (no final copy received yet).
    pub provisional: bool,
}

/// Per-span bookkeeping kept in memory in every mode.
#[derive(Debug, Clone, Copy)]
struct Copies {
    copies: u32,
    final_copies: u32,
    provisional: bool,
}

/// What storing one span copy does to the stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// First copy of this span.
    Insert,
    /// Newer copy: replaces the stored one.
    Replace,
    /// A provisional copy of a span stored final: only counted.
    Count,
}

/// The idempotency keys stored and every stored span's copy counts, in memory: what
/// decides replays and upserts and answers the counting API without touching SQLite.
#[derive(Debug, Default)]
struct Index {
    batches: HashSet<u128, IdHash>,
    spans: HashMap<(u128, u128), Copies, IdHash>,
    /// Spans whose stored copy is final.
    final_spans: usize,
    /// Spans with more than one final copy.
    duplicated: usize,
}

impl Index {
    fn action(&self, trace: u128, span: u128, provisional: bool) -> Action {
        match self.spans.get(&(trace, span)) {
            None => Action::Insert,
            Some(c) if provisional && !c.provisional => Action::Count,
            Some(_) => Action::Replace,
        }
    }

    fn apply(&mut self, trace: u128, span: u128, provisional: bool) {
        let fin = u32::from(!provisional);
        match self.spans.entry((trace, span)) {
            Entry::Vacant(v) => {
                v.insert(Copies {
                    copies: 1,
                    final_copies: fin,
                    provisional,
                });
                self.final_spans += usize::from(!provisional);
            }
            Entry::Occupied(o) => {
                let c = o.into_mut();
                c.copies = c.copies.saturating_add(1);
                c.final_copies = c.final_copies.saturating_add(fin);
                if fin == 1 && c.final_copies == 2 {
                    self.duplicated += 1;
                }
                if c.provisional && !provisional {
                    c.provisional = false;
                    self.final_spans += 1;
                }
            }
        }
    }

    fn load(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare("SELECT idempotency_key FROM batches")?;
        let keys = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for k in keys {
            if let Some(k) = lower_uuid_u128(&k?) {
                self.batches.insert(k);
            }
        }
        let mut stmt = conn.prepare(
            "SELECT trace_id, span_id, provisional, copies_received, final_copies_received
             FROM spans",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        for row in rows {
            let (t, s, provisional, copies, final_copies) = row?;
            let (Some(t), Some(s)) = (lower_uuid_u128(&t), lower_uuid_u128(&s)) else {
                continue;
            };
            let c = Copies {
                copies: u32::try_from(copies).unwrap_or(u32::MAX),
                final_copies: u32::try_from(final_copies).unwrap_or(u32::MAX),
                provisional,
            };
            self.final_spans += usize::from(!provisional);
            self.duplicated += usize::from(c.final_copies > 1);
            self.spans.insert((t, s), c);
        }
        Ok(())
    }
}

pub(crate) struct Store {
    index: Mutex<Index>,
    db: Mutex<Db>,
    /// Spans go to SQLite (else only the index counts them).
    spans_in_db: bool,
    /// Bumped after every stored batch or annotation: what the viewer's live updates
    /// wait on.
    generation: AtomicU64,
}

struct Db {
    conn: Connection,
    /// `traces.last_seq` of the next stored batch.
    next_seq: i64,
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Where the change counter starts: the clock, so that a restarted collector's counter
/// is above any value a page saw from the one before.
fn first_generation() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn connect(path: Option<&Path>) -> rusqlite::Result<Connection> {
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

impl Store {
    /// Opens (and creates if needed) the database at `path`, or an in-memory one, and
    /// loads its keys and span counts. With `spans_in_db` false (count-only), spans are
    /// validated and counted but not written; the database then only holds annotations.
    pub(crate) fn open(path: Option<&Path>, spans_in_db: bool) -> rusqlite::Result<Self> {
        let conn = connect(if spans_in_db { path } else { None })?;
        let mut index = Index::default();
        index.load(&conn)?;
        let next_seq: i64 = conn.query_row(
            "SELECT COALESCE(MAX(last_seq), 0) + 1 FROM traces",
            [],
            |r| r.get(0),
        )?;
        Ok(Self {
            index: Mutex::new(index),
            db: Mutex::new(Db { conn, next_seq }),
            spans_in_db,
            generation: AtomicU64::new(first_generation()),
        })
    }

    /// Opens an existing database to read it (`staso-collector show`).
    pub(crate) fn open_for_reading(path: &Path) -> rusqlite::Result<Self> {
        Ok(Self {
            index: Mutex::new(Index::default()),
            db: Mutex::new(Db {
                conn: connect(Some(path))?,
                next_seq: 0,
            }),
            spans_in_db: true,
            generation: AtomicU64::new(first_generation()),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Db> {
        lock(&self.db)
    }

    /// Runs `f` on the database connection, holding the store's lock (no batch is
    /// written meanwhile): the viewer's queries.
    pub(crate) fn with_conn<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut self.conn().conn)
    }

    /// Whether spans are written to SQLite (false in count-only mode).
    pub(crate) fn keeps_spans(&self) -> bool {
        self.spans_in_db
    }

    /// A number that grows whenever a batch or an annotation is stored.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Stores a validated batch under its Idempotency-Key (`key` is its number), once.
    pub(crate) fn ingest(
        &self,
        key: u128,
        key_text: &str,
        traces: &[TraceIn<'_>],
    ) -> rusqlite::Result<IngestOutcome> {
        let spans = || {
            traces
                .iter()
                .flat_map(|t| t.spans.iter().map(move |s| (t.id, s.id, s.provisional)))
        };
        if !self.spans_in_db {
            let mut index = lock(&self.index);
            if !index.batches.insert(key) {
                return Ok(IngestOutcome { replay: true });
            }
            for (t, s, provisional) in spans() {
                index.apply(t, s, provisional);
            }
            drop(index);
            self.changed();
            return Ok(IngestOutcome { replay: false });
        }
        // Writers are serialized by the database lock, so the index cannot change
        // between deciding the actions and applying them; readers of the index only
        // wait for the short phases under its own lock.
        let mut db = lock(&self.db);
        let actions: Vec<Action> = {
            let index = lock(&self.index);
            if index.batches.contains(&key) {
                return Ok(IngestOutcome { replay: true });
            }
            spans()
                .map(|(t, s, provisional)| index.action(t, s, provisional))
                .collect()
        };
        db.write(key_text, traces, &actions)?;
        let mut index = lock(&self.index);
        index.batches.insert(key);
        for (t, s, provisional) in spans() {
            index.apply(t, s, provisional);
        }
        drop(index);
        drop(db);
        self.changed();
        Ok(IngestOutcome { replay: false })
    }

    /// The number of distinct stored spans (only those whose stored copy is final when
    /// `final_only`).
    pub(crate) fn span_count(&self, final_only: bool) -> usize {
        let index = lock(&self.index);
        if final_only {
            index.final_spans
        } else {
            index.spans.len()
        }
    }

    /// The number of stored spans that received more than one final copy.
    pub(crate) fn duplicated(&self) -> usize {
        lock(&self.index).duplicated
    }

    /// Every stored span's copy counts (no particular order).
    pub(crate) fn copies(&self) -> Vec<SpanCopies> {
        lock(&self.index)
            .spans
            .iter()
            .map(|(&(trace_id, span_id), c)| SpanCopies {
                trace_id,
                span_id,
                copies: c.copies,
                final_copies: c.final_copies,
                provisional: c.provisional,
            })
            .collect()
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

impl Db {
    /// Writes one batch in one transaction: the batch, its traces, and each span by the
    /// action the index decided for it (in batch order).
    fn write(
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

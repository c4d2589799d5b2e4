//! SQLite storage of accepted traces, spans, batches and annotations.
//!
//! Rules: a batch whose Idempotency-Key was already stored is not stored again; spans are
//! upserted by (trace_id, span_id), the newest copy winning, except that a provisional
//! root copy never replaces a final one. Every copy received is counted.
//!
//! The keys and per-span counts also live in an in-memory index, in every mode: it
//! decides replays and upserts without a query, answers the counting API cheaply, and is
//! all that count-only mode keeps.

mod db;
mod index;
mod queries;
mod stored;

pub use stored::{SpanCopies, StoredAnnotation, StoredSpan, StoredTrace};

use crate::ingest::TraceIn;
use db::{connect, Db};
use index::{Action, Index};
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// What storing one batch did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IngestOutcome {
    /// The Idempotency-Key was already stored: nothing was stored this time.
    pub replay: bool,
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
        // A trace at a time: its spans are counted in its own table.
        let count = |index: &mut Index| {
            for t in traces {
                index.apply(t.id, t.spans.iter().map(|s| (s.id, s.provisional)));
            }
        };
        if !self.spans_in_db {
            let mut index = lock(&self.index);
            if !index.batches.insert(key) {
                return Ok(IngestOutcome { replay: true });
            }
            count(&mut index);
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
        count(&mut index);
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
            index.span_count()
        }
    }

    /// The number of stored spans that received more than one final copy.
    pub(crate) fn duplicated(&self) -> usize {
        lock(&self.index).duplicated
    }

    /// Every stored span's copy counts (no particular order).
    pub(crate) fn copies(&self) -> Vec<SpanCopies> {
        lock(&self.index)
            .iter()
            .map(|(trace_id, span_id, c)| SpanCopies {
                trace_id,
                span_id,
                copies: c.copies,
                final_copies: c.final_copies,
                provisional: c.provisional,
            })
            .collect()
    }
}

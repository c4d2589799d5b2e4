//! The in-memory index: the stored idempotency keys and every span's copy counts. It
//! decides replays and upserts without a query and answers the counting API; in
//! count-only mode it is all the store keeps.

use crate::formats::{lower_uuid_u128, IdHash};
use rusqlite::Connection;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

/// Per-span bookkeeping kept in memory in every mode.
#[derive(Debug, Clone, Copy)]
pub(super) struct Copies {
    pub(super) copies: u32,
    pub(super) final_copies: u32,
    pub(super) provisional: bool,
}

/// What storing one span copy does to the stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
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
pub(super) struct Index {
    pub(super) batches: HashSet<u128, IdHash>,
    pub(super) spans: HashMap<(u128, u128), Copies, IdHash>,
    /// Spans whose stored copy is final.
    pub(super) final_spans: usize,
    /// Spans with more than one final copy.
    pub(super) duplicated: usize,
}

impl Index {
    pub(super) fn action(&self, trace: u128, span: u128, provisional: bool) -> Action {
        match self.spans.get(&(trace, span)) {
            None => Action::Insert,
            Some(c) if provisional && !c.provisional => Action::Count,
            Some(_) => Action::Replace,
        }
    }

    pub(super) fn apply(&mut self, trace: u128, span: u128, provisional: bool) {
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

    pub(super) fn load(&mut self, conn: &Connection) -> rusqlite::Result<()> {
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

//! The in-memory index: the stored idempotency keys and every span's copy counts. It
//! decides replays and upserts without a query and answers the counting API; in
//! count-only mode it is all the store keeps.
//!
//! Spans are kept by trace: a batch brings its spans a trace at a time, so one lookup in
//! the table of traces finds the table of the trace's spans, which stays in the cache
//! while they are counted. (One table keyed on (trace, span) held every span ever
//! received: each count was a cache miss in a table of millions of entries, a quarter of
//! the collector's time in a sustained run.) A trace of one span keeps it inline, without
//! a table of its own.

use crate::formats::{lower_uuid_u128, IdHash};
use rusqlite::Connection;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

/// Per-span bookkeeping kept in memory in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Copies {
    pub(super) copies: u32,
    pub(super) final_copies: u32,
    pub(super) provisional: bool,
}

impl Copies {
    /// The counts of a span's first copy.
    fn first(provisional: bool) -> Copies {
        Copies {
            copies: 1,
            final_copies: u32::from(!provisional),
            provisional,
        }
    }
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

/// The spans of one trace.
#[derive(Debug)]
enum Trace {
    /// None yet (only while its first span is put in).
    Empty,
    /// One span so far: no table for it.
    One(u128, Copies),
    Many(HashMap<u128, Copies, IdHash>),
}

impl Trace {
    fn get(&self, span: u128) -> Option<&Copies> {
        match self {
            Trace::Empty => None,
            Trace::One(s, c) => (*s == span).then_some(c),
            Trace::Many(m) => m.get(&span),
        }
    }

    /// The counts of `span`, inserted as `first` if new (then the bool is true).
    fn entry(&mut self, span: u128, first: Copies) -> (&mut Copies, bool) {
        if let Trace::One(s, c) = *self {
            if s != span {
                let mut m = HashMap::with_capacity_and_hasher(4, IdHash::default());
                m.insert(s, c);
                *self = Trace::Many(m);
            }
        }
        if let Trace::Empty = self {
            *self = Trace::One(span, first);
            if let Trace::One(_, c) = self {
                return (c, true);
            }
        }
        match self {
            Trace::Many(m) => match m.entry(span) {
                Entry::Occupied(o) => (o.into_mut(), false),
                Entry::Vacant(v) => (v.insert(first), true),
            },
            // Its span is `span` (else it became a table above); `Empty` was filled.
            Trace::One(_, c) => (c, false),
            Trace::Empty => unreachable!("filled above"),
        }
    }

    /// Makes room for `n` more spans at once (a batch's, in one growth of the table
    /// rather than one per doubling).
    fn reserve(&mut self, n: usize) {
        match self {
            Trace::Many(m) => m.reserve(n),
            Trace::One(s, c) if n > 0 => {
                let mut m = HashMap::with_capacity_and_hasher(n + 1, IdHash::default());
                m.insert(*s, *c);
                *self = Trace::Many(m);
            }
            Trace::Empty if n > 1 => {
                *self = Trace::Many(HashMap::with_capacity_and_hasher(n, IdHash::default()));
            }
            _ => {}
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u128, &Copies)> {
        let (one, many) = match self {
            Trace::Empty => (None, None),
            Trace::One(s, c) => (Some((*s, c)), None),
            Trace::Many(m) => (None, Some(m.iter().map(|(s, c)| (*s, c)))),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

/// The idempotency keys stored and every stored span's copy counts, in memory: what
/// decides replays and upserts and answers the counting API without touching SQLite.
#[derive(Debug, Default)]
pub(super) struct Index {
    pub(super) batches: HashSet<u128, IdHash>,
    /// The spans, by trace.
    traces: HashMap<u128, Trace, IdHash>,
    /// Distinct spans.
    spans: usize,
    /// Spans whose stored copy is final.
    pub(super) final_spans: usize,
    /// Spans with more than one final copy.
    pub(super) duplicated: usize,
}

impl Index {
    pub(super) fn action(&self, trace: u128, span: u128, provisional: bool) -> Action {
        match self.traces.get(&trace).and_then(|t| t.get(span)) {
            None => Action::Insert,
            Some(c) if provisional && !c.provisional => Action::Count,
            Some(_) => Action::Replace,
        }
    }

    /// Counts a copy of each of `spans` (span id, provisional), all of `trace`.
    pub(super) fn apply(&mut self, trace: u128, spans: impl IntoIterator<Item = (u128, bool)>) {
        let mut spans = spans.into_iter().peekable();
        if spans.peek().is_none() {
            return;
        }
        let t = self.traces.entry(trace).or_insert(Trace::Empty);
        t.reserve(spans.size_hint().0);
        for (span, provisional) in spans {
            let (c, new) = t.entry(span, Copies::first(provisional));
            if new {
                self.spans += 1;
                self.final_spans += usize::from(!provisional);
                continue;
            }
            let fin = u32::from(!provisional);
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

    /// The number of distinct spans.
    pub(super) fn span_count(&self) -> usize {
        self.spans
    }

    /// Every span's (trace, span, counts), in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u128, u128, &Copies)> {
        self.traces
            .iter()
            .flat_map(|(t, spans)| spans.iter().map(move |(s, c)| (*t, s, c)))
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
            self.insert_loaded(t, s, c);
        }
        Ok(())
    }

    /// Puts a stored span's counts in (a row of the database: unique by key, but a second
    /// one would replace the first, as in a map).
    fn insert_loaded(&mut self, trace: u128, span: u128, c: Copies) {
        let t = self.traces.entry(trace).or_insert(Trace::Empty);
        let (slot, new) = t.entry(span, c);
        if !new {
            let old = std::mem::replace(slot, c);
            self.spans -= 1;
            self.final_spans -= usize::from(!old.provisional);
            self.duplicated -= usize::from(old.final_copies > 1);
        }
        self.spans += 1;
        self.final_spans += usize::from(!c.provisional);
        self.duplicated += usize::from(c.final_copies > 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the structure it replaced (one map keyed on (trace, span)): the same
    /// actions, counts and copies after every batch of a long random run with traces of
    /// one span and of many, repeated spans, provisional and final copies.
    #[test]
    fn counts_like_one_map_of_every_span() {
        let mut index = Index::default();
        let mut model: HashMap<(u128, u128), Copies> = HashMap::new();
        let (mut final_spans, mut duplicated) = (0usize, 0usize);
        // xorshift64: a small number below `n` at each call.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut rng = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for round in 0..3_000 {
            let trace = u128::from(rng(40)) << 64 | u128::from(rng(3));
            let spans: Vec<(u128, bool)> = (0..rng(6))
                .map(|_| (u128::from(rng(12)) << 70 | 5, rng(4) == 0))
                .collect();
            for &(s, p) in &spans {
                let want = match model.get(&(trace, s)) {
                    None => Action::Insert,
                    Some(c) if p && !c.provisional => Action::Count,
                    Some(_) => Action::Replace,
                };
                assert_eq!(index.action(trace, s, p), want, "round {round}");
            }
            index.apply(trace, spans.iter().copied());
            for &(s, p) in &spans {
                let fin = u32::from(!p);
                match model.entry((trace, s)) {
                    Entry::Vacant(v) => {
                        v.insert(Copies::first(p));
                        final_spans += usize::from(!p);
                    }
                    Entry::Occupied(o) => {
                        let c = o.into_mut();
                        c.copies += 1;
                        c.final_copies += fin;
                        duplicated += usize::from(fin == 1 && c.final_copies == 2);
                        if c.provisional && !p {
                            c.provisional = false;
                            final_spans += 1;
                        }
                    }
                }
            }
            assert_eq!(index.span_count(), model.len(), "round {round}");
            assert_eq!(index.final_spans, final_spans, "round {round}");
            assert_eq!(index.duplicated, duplicated, "round {round}");
        }
        let mut got: Vec<(u128, u128, Copies)> = index.iter().map(|(t, s, c)| (t, s, *c)).collect();
        let mut want: Vec<(u128, u128, Copies)> =
            model.iter().map(|(&(t, s), c)| (t, s, *c)).collect();
        let key = |x: &(u128, u128, Copies)| (x.0, x.1);
        got.sort_by_key(key);
        want.sort_by_key(key);
        assert_eq!(got, want);
        assert!(index.iter().count() > 100, "the run made many spans");
    }

    /// Loaded rows are counted as they were stored; a trace of one span and of several.
    #[test]
    fn loaded_rows_count_as_stored() {
        let mut index = Index::default();
        let c = |copies, final_copies, provisional| Copies {
            copies,
            final_copies,
            provisional,
        };
        index.insert_loaded(1, 10, c(1, 1, false));
        index.insert_loaded(2, 20, c(3, 2, false));
        index.insert_loaded(2, 21, c(1, 0, true));
        index.insert_loaded(2, 21, c(2, 0, true));
        assert_eq!(index.span_count(), 3);
        assert_eq!((index.final_spans, index.duplicated), (2, 1));
        assert_eq!(index.action(2, 21, false), Action::Replace);
        assert_eq!(index.action(2, 20, true), Action::Count);
        assert_eq!(index.action(1, 11, true), Action::Insert);
        assert_eq!(
            index.traces.get(&2).and_then(|t| t.get(21)),
            Some(&c(2, 0, true))
        );
    }
}

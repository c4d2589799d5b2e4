//! The spans of the batches in flight, by id, until every destination has settled them.
//!
//! A hash map of the entries, plus the span ids in the order they were held (sequence
//! numbers, so increasing) for the oldest one. The order is trimmed at the front as
//! spans are let go, and compacted when the ids of spans already let go behind an older
//! one still held (a batch being retried) outnumber the spans held, so what it keeps is
//! bounded by what is held, like everything else. (A `BTreeMap` of the ~150-byte entries
//! moved them within its nodes on every insert and removal: an eighth of the batcher's
//! time.)

use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// Ids of held provisional copies start here: below are the sequence numbers of spans,
/// so the smallest id held is the oldest span not yet settled.
pub(crate) const PROVISIONAL_IDS: u64 = 1 << 63;

/// What is held, by id.
pub(crate) struct Held<T> {
    entries: FxHashMap<u64, T>,
    /// Span ids in the order they were held; some may have been let go since.
    order: VecDeque<u64>,
}

impl<T> Default for Held<T> {
    fn default() -> Self {
        Held {
            entries: FxHashMap::default(),
            order: VecDeque::new(),
        }
    }
}

impl<T> Held<T> {
    /// Holds `value` under `id` (span ids in increasing order).
    pub(crate) fn insert(&mut self, id: u64, value: T) {
        if self.entries.insert(id, value).is_none() && id < PROVISIONAL_IDS {
            self.order.push_back(id);
        }
    }

    /// What is held under `id`.
    pub(crate) fn get(&self, id: u64) -> Option<&T> {
        self.entries.get(&id)
    }

    /// What is held under `id`, to change.
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        self.entries.get_mut(&id)
    }

    /// Lets go of `id`, returning what was held.
    pub(crate) fn remove(&mut self, id: u64) -> Option<T> {
        let value = self.entries.remove(&id)?;
        while self
            .order
            .front()
            .is_some_and(|id| !self.entries.contains_key(id))
        {
            self.order.pop_front();
        }
        if self.order.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order.retain(|id| entries.contains_key(id));
        }
        Some(value)
    }

    /// The smallest span id held (provisional copies are not spans).
    pub(crate) fn oldest_span(&self) -> Option<u64> {
        // The front is trimmed of ids let go, so it is held when there is one.
        self.order.front().copied()
    }

    /// How many ids the order keeps (held or not).
    #[cfg(test)]
    fn order_len(&self) -> usize {
        self.order.len()
    }

    /// How many are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Against a `BTreeMap`, the structure it replaced: the same answers to every query
    /// after every step of a long run of holds and lets-go in the batcher's pattern (ids
    /// in order with gaps, settled out of order, provisional copies among them).
    #[test]
    fn answers_like_an_ordered_map() {
        let mut held: Held<u64> = Held::default();
        let mut model: BTreeMap<u64, u64> = BTreeMap::new();
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut next, mut next_prov) = (10u64, PROVISIONAL_IDS);
        for step in 0..20_000u64 {
            match rng.u8(..10) {
                0..=3 => {
                    let id = if rng.u8(..8) == 0 {
                        next_prov += 1;
                        next_prov
                    } else {
                        next += 1 + u64::from(rng.u8(..3) == 0);
                        next
                    };
                    held.insert(id, step);
                    model.insert(id, step);
                }
                _ => {
                    let keys: Vec<u64> = model.keys().copied().collect();
                    if let Some(&id) = keys.get(rng.usize(..keys.len().max(1))) {
                        assert_eq!(held.remove(id), model.remove(&id), "remove {id}");
                    }
                    assert_eq!(held.remove(next + 5), None);
                }
            }
            let probe = next.saturating_sub(rng.u64(..30));
            assert_eq!(held.get(probe), model.get(&probe), "get {probe}");
            if let Some(v) = held.get_mut(probe) {
                *v += 1;
                *model.get_mut(&probe).expect("held in both") += 1;
            }
            assert_eq!(
                held.oldest_span(),
                model.keys().copied().find(|id| *id < PROVISIONAL_IDS),
                "step {step}"
            );
            assert_eq!(held.len(), model.len());
        }
    }

    /// One span held for ever (a batch retried) while thousands after it come and go:
    /// what the order keeps stays within a small multiple of what is held.
    #[test]
    fn a_span_held_long_does_not_make_the_order_grow() {
        let mut held: Held<u8> = Held::default();
        held.insert(1, 0);
        for id in 2..100_000 {
            held.insert(id, 0);
            if id > 10 {
                held.remove(id - 9);
            }
            assert!(held.order_len() <= 2 * held.len() + 65, "{id}");
        }
        assert_eq!(held.oldest_span(), Some(1));
        assert_eq!(held.remove(1), Some(0));
        assert_eq!(held.oldest_span(), Some(99_991));
    }
}

//! The spans the batcher took from the queue, by id (those in no batch yet and those of
//! the batches in flight), until every destination has settled them.
//!
//! Span ids are sequence numbers, held in increasing order and let go mostly in order: a
//! ring of slots indexed by id from its front (the oldest span held, as the front is
//! trimmed of slots let go) finds, holds and lets go of a span without hashing or moving
//! the others. A span held long while the ones after it come and go (a batch being
//! retried) would keep the ring from being trimmed: once the ring's slots outnumber twice
//! the spans it holds, its oldest spans move to an ordered map, so what the ring keeps is
//! bounded by what is held, like everything else; nor does the ring keep more slots than
//! the bound lets spans be held (its oldest move to the map when it would). Provisional
//! copies (rare) go to that map too. (A hash map of the ~150-byte entries, with a queue of the ids for the oldest,
//! was a ninth of the batcher's instructions; a `BTreeMap` before it, an eighth of its
//! time.)

use std::collections::{BTreeMap, VecDeque};

/// Ids of held provisional copies start here: below are the sequence numbers of spans,
/// so the smallest id held is the oldest span not yet settled.
pub(crate) const PROVISIONAL_IDS: u64 = 1 << 63;

/// What is held, by id.
pub(crate) struct Held<T> {
    /// Slot `i` is span `base + i`; `None` once let go. The front is always held.
    ring: VecDeque<Option<T>>,
    /// The id of the ring's front slot.
    base: u64,
    /// How many of the ring's slots hold something.
    in_ring: usize,
    /// Spans moved out of the ring, and provisional copies.
    others: BTreeMap<u64, T>,
    /// The most slots the ring keeps: what the bound lets be held, so a ring at the bound
    /// keeps that many slots, not the next power of two (and not twice as many when
    /// spans among them were let go: the oldest move to `others` instead).
    grow_to: usize,
}

impl<T> Default for Held<T> {
    fn default() -> Self {
        Held::within(usize::MAX)
    }
}

/// The most heap bytes `n` entries of `value_bytes` each take in `others` (the standard
/// library's B-tree, B = 6): a leaf holds up to 11 keys and values beside its parent
/// pointer and lengths, an internal node that and 12 child pointers; every node but the
/// root holds at least 5 entries, so there are at most `n / 5 + 1` leaves and at most
/// one internal node per 5 of them, plus the root. Entries in internal nodes only make
/// leaves fewer. (The ring keeps its slots while its spans move here: this is on top of
/// them.)
pub(crate) const fn map_bytes(n: usize, value_bytes: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let leaf = 16 + 11 * (8 + value_bytes);
    let internal = leaf + 12 * 8;
    let leaves = n.div_ceil(5) + 1;
    let internals = leaves.div_ceil(5) + 1;
    leaves * leaf + internals * internal
}

/// The most slots the ring keeps for `held` spans: what it keeps stays bounded by what is
/// held.
fn most_slots(held: usize) -> usize {
    held.saturating_mul(2).saturating_add(64)
}

impl<T> Held<T> {
    /// An empty store whose ring keeps at most `max` slots (the most spans the bound lets
    /// be held at once), allocated now. Grown by doubling instead, the ring's last step
    /// held the old buffer beside the new one (4 096 slots beside 5 000 at a bound of
    /// 5 000: 590 KB more than the bound says, for as long as the copy), and in an outage
    /// that step comes when everything else is at its bound too. Allocated at once, its
    /// pages are not touched until spans fill them. (`usize::MAX`, the tests' unbounded
    /// store, starts empty and grows.)
    pub(crate) fn within(max: usize) -> Held<T> {
        let max = max.max(1);
        let ring = if max == usize::MAX {
            VecDeque::new()
        } else {
            VecDeque::with_capacity(max)
        };
        Held {
            ring,
            base: 0,
            in_ring: 0,
            others: BTreeMap::new(),
            grow_to: max,
        }
    }

    /// The ring's slot of `id`, if it has one.
    fn slot(&self, id: u64) -> Option<usize> {
        let i = usize::try_from(id.checked_sub(self.base)?).ok()?;
        (i < self.ring.len()).then_some(i)
    }

    /// Holds `value` under `id` (span ids in increasing order).
    pub(crate) fn insert(&mut self, id: u64, value: T) {
        if id >= PROVISIONAL_IDS {
            self.others.insert(id, value);
            return;
        }
        if let Some(i) = self.slot(id) {
            self.in_ring += usize::from(self.ring[i].is_none());
            self.ring[i] = Some(value);
            return;
        }
        let end = self.base + self.ring.len() as u64;
        if id < end {
            // Older than the ring's front (not the order spans are held in).
            self.others.insert(id, value);
            return;
        }
        // Ids come without gaps; one that would leave the ring too sparse starts it again.
        let slots = (self.ring.len() + 1) as u64 + (id - end);
        if slots > most_slots(self.in_ring + 1) as u64 {
            self.spill(self.ring.len());
        } else if slots > self.grow_to as u64 {
            // No more slots than the bound lets be held: with spans let go among them,
            // the oldest (a batch still in delivery) move out instead.
            self.spill((slots - self.grow_to as u64) as usize);
        }
        if self.ring.is_empty() {
            self.base = id;
        }
        let end = self.base + self.ring.len() as u64;
        let more = (id - end) as usize + 1;
        if self.ring.capacity() - self.ring.len() < more {
            grow_within(&mut self.ring, more, self.grow_to);
        }
        for _ in end..id {
            self.ring.push_back(None);
        }
        self.ring.push_back(Some(value));
        self.in_ring += 1;
    }

    /// How many slots the ring has room for without growing.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// What is held under `id`.
    pub(crate) fn get(&self, id: u64) -> Option<&T> {
        match self.slot(id) {
            Some(i) => self.ring[i].as_ref(),
            None => self.others.get(&id),
        }
    }

    /// What is held under `id`, to change.
    #[cfg(test)]
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        match self.slot(id) {
            Some(i) => self.ring[i].as_mut(),
            None => self.others.get_mut(&id),
        }
    }

    /// Changes what is held under `id` with `f`, and lets go of it (dropped where it is,
    /// not moved out) when `f` says so; `None` when nothing is held under `id`.
    pub(crate) fn update(&mut self, id: u64, f: impl FnOnce(&mut T) -> bool) -> Option<bool> {
        let Some(i) = self.slot(id) else {
            let done = f(self.others.get_mut(&id)?);
            if done {
                self.others.remove(&id);
            }
            return Some(done);
        };
        let slot = &mut self.ring[i];
        let done = f(slot.as_mut()?);
        if done {
            *slot = None;
            self.let_go();
        }
        Some(done)
    }

    /// Lets go of `id`, returning what was held (the batcher lets go through `update`).
    #[cfg(test)]
    pub(crate) fn remove(&mut self, id: u64) -> Option<T> {
        let Some(i) = self.slot(id) else {
            return self.others.remove(&id);
        };
        let value = self.ring[i].take()?;
        self.let_go();
        Some(value)
    }

    /// After a slot of the ring was emptied: trims the front and keeps the ring dense.
    fn let_go(&mut self) {
        self.in_ring -= 1;
        self.trim();
        // Move the oldest out until the ring is dense enough again.
        while self.ring.len() > most_slots(self.in_ring) {
            self.spill(1);
        }
    }

    /// Moves the ring's first `n` slots' spans to `others`, then trims the front.
    fn spill(&mut self, n: usize) {
        for _ in 0..n {
            let Some(slot) = self.ring.pop_front() else {
                break;
            };
            if let Some(v) = slot {
                self.others.insert(self.base, v);
                self.in_ring -= 1;
            }
            self.base += 1;
        }
        self.trim();
    }

    /// Drops the slots let go at the front, so that the front is held.
    fn trim(&mut self) {
        while let Some(None) = self.ring.front() {
            self.ring.pop_front();
            self.base += 1;
        }
    }

    /// The smallest span id held (provisional copies are not spans).
    pub(crate) fn oldest_span(&self) -> Option<u64> {
        let other = self
            .others
            .keys()
            .next()
            .copied()
            .filter(|id| *id < PROVISIONAL_IDS);
        // The ring's front is held when there is one.
        let ring = (!self.ring.is_empty()).then_some(self.base);
        other.into_iter().chain(ring).min()
    }

    /// How many slots the ring keeps (held or not).
    #[cfg(test)]
    fn order_len(&self) -> usize {
        self.ring.len()
    }

    /// How many are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.in_ring + self.others.len()
    }
}

/// Makes room for `more` slots in `ring` (at most `max` in all), doubling its capacity
/// (amortised) but to no more than `max`, so that a ring filled one span at a time up to
/// the bound ends with the bound's slots (10 000 of ~140 bytes by default), not the next
/// power of two (16 384).
#[cold]
fn grow_within<T>(ring: &mut VecDeque<T>, more: usize, max: usize) {
    let need = ring.len() + more;
    let want = (ring.capacity() * 2).max(64).min(max).max(need);
    ring.reserve_exact(want - ring.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Filled one span at a time up to the bound, the ring ends with exactly the bound's
    /// slots, not the next power of two, and keeps no more.
    #[test]
    fn the_ring_grows_to_the_bound_and_no_further() {
        for max in [1, 100, 10_000] {
            let mut held = Held::within(max);
            for id in 1..=max as u64 {
                held.insert(id, id);
            }
            assert_eq!(held.capacity(), max, "{max}");
            // One more (its span's credit came back out of order): the oldest moves out.
            held.insert(max as u64 + 1, 0);
            assert_eq!(held.capacity(), max, "{max}");
            assert_eq!(held.get(1), Some(&1));
            assert_eq!(held.get(max as u64 + 1), Some(&0));
            assert_eq!(held.oldest_span(), Some(1));
        }
    }

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

    /// Against a `BTreeMap` again, in the batcher's usual pattern (ids held in order and
    /// let go mostly in order) with what moves spans out of the ring: spans held long
    /// (every 97th), ids older than the ring's front held again, and gaps too large to
    /// fill.
    #[test]
    fn answers_like_an_ordered_map_when_spans_leave_the_ring() {
        leave_the_ring(Held::default(), usize::MAX);
    }

    /// The same, with a ring kept to 400 slots (the bound's): spans also leave it when it
    /// is full.
    #[test]
    fn answers_like_an_ordered_map_when_the_ring_is_at_the_bound() {
        leave_the_ring(Held::within(400), 400);
    }

    fn leave_the_ring(mut held: Held<u64>, most: usize) {
        let mut model: BTreeMap<u64, u64> = BTreeMap::new();
        let mut rng = fastrand::Rng::with_seed(5);
        let mut next = 1u64;
        for step in 0..50_000u64 {
            match rng.u16(..1000) {
                0 => next += rng.u64(1..400),
                1..=4 => {
                    let id = next.saturating_sub(rng.u64(1..3_000)).max(1);
                    held.insert(id, step);
                    model.insert(id, step);
                }
                5..=500 => {
                    held.insert(next, step);
                    model.insert(next, step);
                    next += 1;
                }
                _ => {
                    let first = model.keys().copied().find(|id| id % 97 != 0);
                    if let Some(id) = first {
                        if rng.bool() {
                            assert_eq!(held.remove(id), model.remove(&id), "remove {id}");
                        } else {
                            // Counted up, and let go on the second visit.
                            let go = |v: &mut u64| {
                                *v += 1_000_000;
                                *v >= 2_000_000
                            };
                            let want = model.get_mut(&id).map(go);
                            assert_eq!(held.update(id, go), want, "update {id}");
                            if want == Some(true) {
                                model.remove(&id);
                            }
                        }
                    }
                }
            }
            if step % 1_000 == 999 {
                // The long-held ones go too, from time to time.
                let long: Vec<u64> = model.keys().copied().filter(|id| id % 97 == 0).collect();
                for id in long.into_iter().take(3) {
                    assert_eq!(held.remove(id), model.remove(&id), "remove {id}");
                }
            }
            let probe = next.saturating_sub(rng.u64(..3_000));
            assert_eq!(held.get(probe), model.get(&probe), "get {probe}");
            assert_eq!(
                held.oldest_span(),
                model.keys().next().copied(),
                "step {step}"
            );
            assert_eq!(held.len(), model.len());
            assert!(held.order_len() <= 2 * held.len() + 65, "step {step}");
            assert!(held.capacity() <= most, "step {step}");
        }
        assert!(!held.others.is_empty(), "some spans left the ring");
    }

    /// What spans moved out of the ring take on the heap stays within `map_bytes`, the
    /// figure the memory bound counts for them, measured with the batcher's entry size:
    /// two batches in three retried while the third is delivered, then a long run of
    /// batches delivered at once while those are still retried (the pattern that moves
    /// spans out), then the retried ones let go in any order (the map thins out before
    /// it shrinks).
    #[test]
    fn spans_moved_out_of_the_ring_take_no_more_than_map_bytes() {
        use crate::export::batcher::HOLDING_BYTES;
        use crate::test_alloc;
        type Entry = [u64; HOLDING_BYTES / 8];
        const _: () = assert!(HOLDING_BYTES % 8 == 0);
        const BATCH: u64 = 100;
        let max = 4_000;
        let mut held: Held<Entry> = Held::within(max);
        // The test's own lists, allocated before the count starts.
        let mut retried = std::collections::VecDeque::with_capacity(200);
        let mut ids: Vec<u64> = Vec::with_capacity(max);
        let base = test_alloc::live();
        test_alloc::reset_peak();
        let mut most = 0;
        let check = |held: &Held<Entry>, most: &mut usize| {
            *most = (*most).max(held.others.len());
            let grew = (test_alloc::peak() - base).max(0) as usize;
            let bound = map_bytes(*most, HOLDING_BYTES);
            assert!(
                grew <= bound,
                "{grew} bytes for {most} spans moved out; {bound} counted"
            );
        };
        for batch in 0..200u64 {
            let ids = batch * BATCH + 1..(batch + 1) * BATCH + 1;
            for id in ids.clone() {
                held.insert(id, [id; HOLDING_BYTES / 8]);
            }
            if batch < 45 && batch % 3 != 2 {
                retried.push_back(ids);
            } else {
                for id in ids {
                    assert!(held.remove(id).is_some());
                }
            }
            check(&held, &mut most);
        }
        assert!(most > max / 2, "at most {most} moved out");
        let mut rng = fastrand::Rng::with_seed(3);
        ids.extend(retried.drain(..).flatten());
        rng.shuffle(&mut ids);
        for &id in &ids {
            held.remove(id);
            check(&held, &mut most);
        }
        assert_eq!(held.len(), 0);
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

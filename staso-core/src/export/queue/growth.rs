//! How lanes grow (see `lane`): the spare segments the batcher keeps ready, the
//! allowance that bounds them, and the hand-over of a grown segment's batcher's end.

use super::{lock, LaneCount, LaneEnd, Queue};
use crate::export::ring::{Consumer, Producer};
use crate::local::record::SpanRecord;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;

/// The slots of a grown lane: half the bound, at least its first size, at most 16 384
/// (2 MiB) unless the first size is larger.
pub(super) fn lane_max(max: usize, lane_capacity: usize) -> usize {
    (max / 2).min(16_384).max(lane_capacity)
}

/// How many spare segments the batcher keeps ready (the growth allowance permitting).
pub(super) const SPARES: usize = 2;

/// A segment ready for a lane to grow into: both ends, and the flag its thread sets when
/// it leaves it.
pub(in crate::export) struct Spare {
    pub(in crate::export) ring: Producer<SpanRecord>,
    pub(in crate::export) end: Consumer<SpanRecord>,
    pub(in crate::export) superseded: Arc<AtomicBool>,
}

impl Queue {
    pub(in crate::export) fn lane_max(&self) -> usize {
        self.lane_max
    }

    /// Takes `n` slots of the growth allowance, all or none.
    fn take_growth(&self, n: usize) -> bool {
        self.growth
            .fetch_update(Relaxed, Relaxed, |left| left.checked_sub(n))
            .is_ok()
    }

    /// The batcher's side of growth: makes spare segments ready (off the callers'
    /// threads: the allocation happens here) while the allowance permits.
    pub(crate) fn make_spares(&self) {
        // A bound so small that a lane is as large as a grown one: nothing to grow into.
        if self.lane_max <= self.lane_capacity {
            return;
        }
        while self.spares.len() < SPARES && self.take_growth(self.lane_max) {
            let (ring, end) = super::segment(self.lane_max);
            let spare = Spare {
                ring,
                end,
                superseded: Arc::new(AtomicBool::new(false)),
            };
            // Only the batcher pushes here, and there was room.
            if self.spares.push(spare).is_err() {
                self.growth.fetch_add(self.lane_max, Relaxed);
            }
        }
    }

    /// A spare segment for a lane that filled, if one is ready (a lock-free pop).
    pub(in crate::export) fn spare(&self) -> Option<Spare> {
        self.spares.pop()
    }

    /// Hands the batcher's end of a spare segment that lane `count` moved into over to
    /// the batcher (a lock-free push; the registry of new lanes, with its lock, only if
    /// that is full).
    pub(in crate::export) fn grew(
        &self,
        end: Consumer<SpanRecord>,
        count: &Arc<LaneCount>,
        superseded: Arc<AtomicBool>,
    ) {
        let end = LaneEnd {
            ring: end,
            count: count.clone(),
            superseded,
            grown: self.lane_max,
        };
        if let Err(end) = self.grown.push(end) {
            lock(&self.new_lanes).push(end);
        }
    }

    /// Spare segments ready (for tests of the lanes).
    #[cfg(test)]
    pub(in crate::export) fn spares_ready(&self) -> usize {
        self.spares.len()
    }

    /// Slots left of the growth allowance (for tests of the lanes).
    #[cfg(test)]
    pub(in crate::export) fn growth_left(&self) -> usize {
        self.growth.load(Relaxed)
    }
}

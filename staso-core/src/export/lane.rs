//! A thread's lane into the queue: the single-producer ring its finished spans go into
//! (see `queue` for the batcher's side and the bound).
//!
//! A lane that fills (its thread ends spans faster than the batcher takes them, as in a
//! burst while the batcher encodes a batch) grows before it spills: the thread moves on
//! to a spare segment of half the bound that the batcher made ready (so the thread
//! neither allocates nor locks), hands its batcher's end over through a lock-free queue,
//! and leaves the old segment to be drained and dropped. Only when no spare is ready (the
//! grown segments of all lanes hold `max_queue_size` slots at most) does a span go into
//! the shared overflow, whose push costs the caller a contended read-modify-write. A
//! thread grows its lane once at most, so the caller's cost of a span stays a slot write
//! and a store.
//!
//! What an instrumented function captured of its arguments and result (its tapes) travels
//! beside the record, in the segment's tape ([`Lane::push_taped`]), and the batcher puts
//! it in a box of its own. The thread records its tapes in a box its lane keeps and never
//! sends: a box from the shared pool is memory the batcher wrote last, and taking one on
//! every captured span cost the caller more than the capture itself (bursts of 4 000:
//! 2.9–3.3 times a span that captures nothing, 1.8 with the tape; BENCHMARKS.md).

use super::queue::{LaneCount, Queue, Spare};
use super::ring::Producer;
use crate::local::extras::ExtrasBox;
use crate::local::record::SpanRecord;
use staso_types::FailureKind;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;

/// A thread's end of its lane, kept in the thread's cache of the client. Dropping it (the
/// thread exits, or the client changes) returns its unspent credits and abandons the ring
/// to the batcher, which drains what is left.
pub(crate) struct Lane {
    queue: Arc<Queue>,
    ring: Producer<SpanRecord>,
    /// Shared with the batcher's end of this segment: set once the thread has moved on
    /// to a larger one.
    superseded: Arc<AtomicBool>,
    count: Arc<LaneCount>,
    pushed: u64,
    rejected: u64,
    /// Credits held beyond `run`'s.
    credits: usize,
    /// Pushes that need no check: each has a credit (taken from `credits`), a free slot
    /// in the ring with no wrap (`Producer::room`), and comes before the next wake-up. One
    /// counter instead of three tests on every span; `next_run` sets it again.
    run: usize,
    /// The `pushed` count at which the batcher is woken next (every `wake_every` spans).
    next_wake: u64,
    /// Empty boxes this thread's captured spans recorded their tapes in, for its next
    /// ones (see [`Lane::push_taped`]): memory this core wrote last.
    scratch: Vec<ExtrasBox>,
}

/// The most tape bytes a span's arguments and result may have to travel in the segment's
/// tape; larger ones go in the record's box, charged against `max_queue_bytes` as any
/// other content beyond the allowance. The box the batcher makes of them (a tape buffer
/// of at most twice this) stays within a span's allowance (`queue::captured`), as the
/// box it replaces would: nothing uncharged travels this way that would be charged
/// otherwise.
const MAX_TAPED: usize = 1024;

/// Boxes a lane keeps for its thread's captured spans: one per span open at once that
/// captures something, as deep as spans usually nest. Counted in the memory bound, each
/// a pooled box's bytes (`queue::bound`).
pub(crate) const SCRATCH: usize = 4;

impl Lane {
    /// A new lane for the calling thread, registered with the batcher.
    #[cold]
    pub(super) fn new(queue: &Arc<Queue>) -> Lane {
        let count = queue.new_count();
        let (ring, superseded) = queue.first_segment(&count);
        Lane {
            queue: queue.clone(),
            ring,
            superseded,
            count,
            pushed: 0,
            rejected: 0,
            credits: 0,
            run: 0,
            next_wake: queue.wake_every() as u64,
            scratch: Vec::with_capacity(SCRATCH),
        }
    }

    /// A box for the tapes of a span this thread captures: one its earlier spans used,
    /// else one from the pool.
    #[inline]
    pub(crate) fn scratch(&mut self) -> ExtrasBox {
        self.scratch.pop().unwrap_or_else(ExtrasBox::take)
    }

    /// The end of a span that recorded its arguments or result in `tapes`, a box the
    /// thread took with [`Lane::scratch`]: when the record has no box of its own, the run
    /// has room for it and the segment's tape for the tapes, they travel beside the record
    /// as bytes the batcher puts in a box of its own, and `tapes` stays with this thread
    /// for its next span. Otherwise (a box already, tapes larger than a segment's tape
    /// has room for now, the run spent) they move into the record's box and the record is
    /// pushed as any other.
    #[inline]
    pub(crate) fn push_taped(&mut self, slot: &mut Option<SpanRecord>, mut tapes: ExtrasBox) {
        let boxless = slot.as_ref().is_some_and(|r| r.extras.is_none());
        if boxless && (self.run > 0 || self.renew()) {
            let run = self.run;
            let trailer = tapes.trailer().filter(|(t, _)| t.len() <= MAX_TAPED);
            if let Some((taped, footer)) = trailer {
                // SAFETY: `run` counts pushes the last `room` allowed (see `next_run`);
                // the queue reads the length back from `tape_bytes` (`segment`'s drain),
                // as `mark` writes it: at most the tape's size, which fits in a `u32`
                // (see `TAPE_BYTES_PER_SLOT`).
                let pushed = unsafe {
                    self.ring
                        .push_unchecked_with_tape(slot, [taped, &footer], |r, n| {
                            r.tape_bytes = n as u32;
                        })
                };
                if pushed {
                    self.pushed_in_run(run);
                    tapes.clear_tapes();
                    if self.scratch.len() < SCRATCH {
                        self.scratch.push(tapes);
                    }
                    return;
                }
            }
        }
        if let Some(r) = slot.as_mut() {
            r.keep_tapes(tapes);
        }
        self.push_from(slot);
    }

    /// The caller's side of a finished span, taken out of `slot` right at the push: a
    /// counter, a slot write and a store, never a wait. Without a credit, or after
    /// shutdown, the span is rejected and counted. Inlined into the end of a span (a call
    /// less on every span). Never a root's provisional copy: those go to the queue's
    /// best-effort store (`client::send_from`).
    #[inline(always)]
    pub(crate) fn push_from(&mut self, slot: &mut Option<SpanRecord>) {
        debug_assert!(!slot.as_ref().is_some_and(|r| r.provisional));
        // After shutdown the run is 0 (see `notice_close`): `push_slow` rejects.
        let Some(r) = slot.as_mut() else {
            return;
        };
        // Most spans have no box, and most boxes stay within the allowance.
        if let Some(e) = r.extras.as_mut() {
            if e.maybe_beyond_allowance() && !self.admit(e) {
                slot.take();
                return;
            }
        }
        if slot.is_none() {
            // SAFETY: `slot` held a record above, and only the branch that returned took
            // it. (Said so that the push does not test the slot again.)
            unsafe { std::hint::unreachable_unchecked() }
        }
        let run = self.run;
        if run == 0 {
            self.push_slow(slot);
            return;
        }
        // SAFETY: `run` counts pushes the last `room` allowed (see `next_run`).
        unsafe { self.ring.push_unchecked(slot) };
        self.pushed_in_run(run);
    }

    /// After a push within a run that had `run` pushes left: one fewer, the span counted,
    /// and the batcher woken when the run ends at its wake-up.
    #[inline(always)]
    fn pushed_in_run(&mut self, run: usize) {
        self.run = run - 1;
        self.counted();
        if run == 1 {
            self.run_out();
        }
    }

    /// A new run when the credits and the ring allow one (what [`Lane::push_slow`] does
    /// before its push); false otherwise, and the push that follows takes the slow path,
    /// which rejects, grows or spills.
    #[cold]
    #[inline(never)]
    fn renew(&mut self) -> bool {
        if self.queue.is_closed_relaxed() {
            return false;
        }
        if self.credits == 0 {
            self.credits = self.queue.refill();
        }
        let room = if self.credits == 0 {
            0
        } else {
            self.ring.room()
        };
        if room == 0 {
            return false;
        }
        self.run = self.next_run(room);
        true
    }

    /// The run is spent: the batcher is woken when its next wake-up is due (the run
    /// stopped there).
    #[cold]
    #[inline(never)]
    fn run_out(&mut self) {
        if self.pushed >= self.next_wake {
            self.next_wake = self.pushed + self.queue.wake_every() as u64;
            self.queue.want_drain();
        }
    }

    /// A push with no run left: credits taken (or the span rejected), the ring's room read
    /// again (or the span given to a larger segment or the overflow), and a new run set.
    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, slot: &mut Option<SpanRecord>) {
        if self.queue.is_closed_relaxed() {
            slot.take();
            self.reject(FailureKind::Shutdown);
            return;
        }
        if self.credits == 0 {
            self.credits = self.queue.refill();
        }
        if self.credits == 0 {
            slot.take();
            self.reject(FailureKind::QueueFull);
            return;
        }
        let room = self.ring.room();
        if room == 0 {
            self.credits -= 1;
            let Some(r) = slot.take() else { return };
            if !self.full(r) {
                return;
            }
        } else {
            // A run of at least one: this push.
            self.run = self.next_run(room);
            // SAFETY: `room` allowed `room >= run >= 1` pushes, and none was made since.
            unsafe { self.ring.push_unchecked(slot) };
            self.run -= 1;
        }
        self.counted();
        self.run_out();
    }

    /// The queue may have been closed (the client's generation changed): if so, the run
    /// ends, so that every later push takes the slow path, which rejects. Its credits
    /// stay with the lane's others, given back when it drops.
    #[cold]
    pub(crate) fn notice_close(&mut self) {
        if self.queue.is_closed() {
            self.credits += self.run;
            self.run = 0;
        }
    }

    /// Counts a span pushed (into the ring or the overflow) in the lane's published count.
    #[inline(always)]
    fn counted(&mut self) {
        self.pushed += 1;
        self.count.pushed.store(self.pushed, Release);
    }

    /// The next run, at most `room` pushes (what the ring allows): as many as the credits
    /// held cover, stopping at the next wake-up; its credits leave `credits`. At least one
    /// when `room` and `credits` are not 0.
    fn next_run(&mut self, room: usize) -> usize {
        let to_wake = self.next_wake.saturating_sub(self.pushed).max(1);
        let run = room
            .min(self.credits)
            .min(usize::try_from(to_wake).unwrap_or(usize::MAX));
        self.credits -= run;
        run
    }

    /// The lane is full: the batcher is behind. The span goes into a larger segment, else
    /// into the overflow. False if it was rejected.
    #[cold]
    #[inline(never)]
    fn full(&mut self, r: SpanRecord) -> bool {
        match self.grow(r) {
            None => true,
            Some(r) => self.queue.spill(r),
        }
    }

    /// Moves on to a spare segment of the queue's grown size, holding `r`, when one is
    /// ready (else gives `r` back): a lock-free pop and push, no allocation (the batcher
    /// made the segment). The full segment is left to the batcher, which drains it and
    /// drops it; the thread's counts carry on in the new one.
    fn grow(&mut self, r: SpanRecord) -> Option<SpanRecord> {
        let q = &*self.queue;
        if self.ring.capacity() >= q.lane_max() {
            return Some(r);
        }
        let Some(spare) = q.spare() else {
            return Some(r);
        };
        let Spare {
            mut ring,
            end,
            superseded,
        } = spare;
        // An empty ring: the push cannot fail (a spare is never smaller than a lane).
        let r = ring.push(r).err();
        q.grew(end, &self.count, superseded.clone());
        let old = std::mem::replace(&mut self.ring, ring);
        // After the last push into the old segment: once the batcher sees the flag, it
        // sees every span in it (the flag is stored with `Release` after them).
        std::mem::replace(&mut self.superseded, superseded).store(true, Release);
        drop(old);
        q.want_drain();
        r
    }

    /// A span of this thread rejected: counted in the lane's own count.
    #[cold]
    fn reject(&mut self, kind: FailureKind) {
        self.count_rejected();
        self.queue.rejected_as(kind);
    }

    #[inline(always)]
    fn count_rejected(&mut self) {
        self.rejected += 1;
        self.count.rejected.store(self.rejected, Release);
    }

    /// A span whose box may hold more than its allowance: charged against
    /// `max_queue_bytes`, or rejected and counted (false: the caller drops it).
    #[cold]
    #[inline(never)]
    fn admit(&mut self, e: &mut ExtrasBox) -> bool {
        let admitted = e.admit(self.queue.max_bytes());
        if !admitted {
            self.count_rejected();
            self.queue.rejected_over_bytes();
        }
        admitted
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        self.queue.release(self.credits + self.run);
        // Spans pushed since the last wake-up.
        if self.pushed + self.queue.wake_every() as u64 > self.next_wake {
            self.queue.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u64) -> Option<SpanRecord> {
        Some(SpanRecord::test_tool(n))
    }

    /// Drains `q` as the batcher does, and returns the span ids in the order they came.
    fn drain(q: &Queue, lanes: &mut Vec<super::super::queue::LaneEnd>) -> Vec<u64> {
        let mut ids = Vec::new();
        q.drain(lanes, |r| ids.push(r.span_id.to_u64() - 1));
        ids
    }

    /// A span's tapes as a thread's instrumented function records them: in a box of the
    /// lane's.
    fn tapes(lane: &mut Lane, input: &[u8]) -> ExtrasBox {
        let mut b = lane.scratch();
        b.tapes_mut().extend_from_slice(input);
        b.keep_tape(crate::local::extras::Field::Input, 0, None);
        b
    }

    #[test]
    fn captured_tapes_travel_beside_their_record_and_the_box_stays_with_the_thread() {
        // 10 000 credits: lanes of 1 250 slots and 80 000 bytes of tape.
        let q = Arc::new(Queue::new(10_000, 512, &[]));
        q.make_spares();
        let mut lane = q.lane();
        let input = |n: u64| format!("input {n}").into_bytes();
        for n in 0..3_000 {
            let b = tapes(&mut lane, &input(n));
            lane.push_taped(&mut record(n), b);
        }
        assert_eq!(lane.scratch.len(), 1, "one box did for all the small ones");
        // Larger than what travels in the tape (and within the allowance, so that no
        // charge is held while other tests count theirs): in the record's box.
        let big = vec![b'x'; MAX_TAPED + 1];
        let b = tapes(&mut lane, &big);
        lane.push_taped(&mut record(3_000), b);
        assert!(lane.scratch.is_empty(), "the box went with the record");
        let mut lanes = Vec::new();
        let mut got = Vec::new();
        q.drain(&mut lanes, |r| got.push(r));
        let want = |bytes: &[u8]| {
            let mut e = ExtrasBox::take();
            e.set_input_tape(bytes, None);
            format!("{:?}", &*e)
        };
        assert_eq!(got.len(), 3_001);
        for (n, r) in got.iter().enumerate() {
            assert_eq!(r.span_id.to_u64() - 1, n as u64, "in order");
            assert_eq!(r.tape_bytes, 0, "taken out of the tape");
            let e = r
                .extras
                .as_ref()
                .expect("the tapes, in a box of the batcher's");
            let bytes = if n < 3_000 {
                input(n as u64)
            } else {
                big.clone()
            };
            assert_eq!(format!("{:?}", &**e), want(&bytes), "span {n}");
        }
        let r = q.report(false);
        assert_eq!((r.accepted, r.rejected), (3_001, 0));
    }

    #[test]
    fn a_lane_that_fills_grows_instead_of_spilling() {
        // 10 000 credits: lanes of 1 250 slots, growing up to 5 000.
        let q = Arc::new(Queue::new(10_000, 512, &[]));
        q.make_spares();
        let mut lane = q.lane();
        for n in 0..4_000 {
            lane.push_from(&mut record(n));
        }
        assert_eq!(q.overflowed(), 0, "a burst of 4 000 fits the grown lane");
        let mut lanes = Vec::new();
        let ids = drain(&q, &mut lanes);
        assert_eq!(ids, (0..4_000).collect::<Vec<_>>(), "every span, in order");
        assert_eq!(lanes.len(), 1, "the full segments are dropped once drained");
        let r = q.report(false);
        assert_eq!((r.accepted, r.rejected, r.pending), (4_000, 0, 4_000));
        // One spare of 5 000 slots in use, the other ready: the allowance is spent.
        assert_eq!((q.spares_ready(), q.growth_left()), (1, 0));
    }

    #[test]
    fn growth_stops_at_the_allowance_and_the_overflow_takes_the_rest() {
        // 4 096 credits, batches of 64: lanes of 512 slots, growing to 2 048; the
        // allowance (4 096 slots) makes two spares.
        let q = Arc::new(Queue::new(4_096, 64, &[]));
        q.make_spares();
        let mut lanes: Vec<Lane> = (0..3).map(|_| q.lane()).collect();
        let mut n = 0;
        for lane in &mut lanes {
            for _ in 0..1_000 {
                lane.push_from(&mut record(n));
                n += 1;
            }
        }
        // Nothing drained meanwhile: the first two lanes grew, the third found no spare
        // and spilled what its 512 slots could not hold.
        assert_eq!(q.spares_ready(), 0);
        assert_eq!(q.overflowed(), 1_000 - 512);
        let mut ends = Vec::new();
        let mut ids = drain(&q, &mut ends);
        ids.sort_unstable();
        assert_eq!(
            ids,
            (0..3_000).collect::<Vec<_>>(),
            "nothing lost, nothing twice"
        );
        let r = q.report(false);
        assert_eq!((r.accepted, r.rejected), (3_000, 0));
        assert_eq!(q.growth_left(), 0);
    }

    #[test]
    fn a_thread_that_grew_its_lane_and_exited_is_counted_once() {
        let q = Arc::new(Queue::new(10_000, 512, &[]));
        q.make_spares();
        let q2 = q.clone();
        std::thread::spawn(move || {
            let mut lane = q2.lane();
            for n in 0..3_000 {
                lane.push_from(&mut record(n));
            }
            // 200 more on a second lane of the same thread's client (a client change).
            drop(lane);
            let mut lane = q2.lane();
            for n in 3_000..3_200 {
                lane.push_from(&mut record(n));
            }
        })
        .join()
        .expect("thread");
        let mut lanes = Vec::new();
        let ids = drain(&q, &mut lanes);
        assert_eq!(ids.len(), 3_200);
        assert!(
            lanes.is_empty(),
            "every segment of a gone thread is dropped"
        );
        let r = q.report(false);
        assert_eq!((r.accepted, r.rejected, r.pending), (3_200, 0, 3_200));
        // The grown segment was given back, and made into a spare again.
        assert_eq!((q.spares_ready(), q.growth_left()), (2, 0));
    }

    /// The thread grows its lane while the batcher drains it from another thread: every
    /// span is drained once, the counts add up, and the allowance comes back whole.
    #[test]
    fn growing_while_the_batcher_drains_loses_nothing() {
        // 2 048 credits, batches of 64: lanes of 256 slots, growing to 1 024.
        let q = Arc::new(Queue::new(2_048, 64, &[]));
        q.make_spares();
        let q2 = q.clone();
        const SPANS: u64 = 100_000;
        let producer = std::thread::spawn(move || {
            let mut lane = q2.lane();
            for n in 0..SPANS {
                lane.push_from(&mut record(n));
            }
        });
        let mut lanes = Vec::new();
        let mut seen = vec![false; SPANS as usize];
        let mut drained = 0u64;
        let mut take = |lanes: &mut Vec<_>| {
            let ids = drain(&q, lanes);
            for id in &ids {
                assert!(
                    !std::mem::replace(&mut seen[*id as usize], true),
                    "{id} twice"
                );
            }
            // Delivered at once: the credits go back, as the batcher gives them back.
            q.release(ids.len());
            drained += ids.len() as u64;
        };
        while !producer.is_finished() {
            take(&mut lanes);
            std::thread::yield_now();
        }
        producer.join().expect("producer");
        take(&mut lanes);
        let r = q.report(false);
        assert_eq!(r.accepted, drained);
        assert_eq!(r.accepted + r.rejected, SPANS);
        assert!(lanes.is_empty(), "the thread is gone: its segments too");
        assert_eq!((q.spares_ready(), q.growth_left()), (2, 0));
    }
}

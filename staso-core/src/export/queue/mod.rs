//! Where finished spans wait for the batcher, and the counts the delivery report is made
//! of. It owns its state: callers push, the batcher drains and settles.
//!
//! Each thread that ends spans gets a lane: a single-producer ring (`ring`) that only it
//! writes and only the batcher reads, so a push is a slot write and a store, never a
//! read-modify-write on a line other threads write (a shared queue's push costs as much as
//! a whole span here). The batcher sees every lane at every drain, so `flush` and
//! `shutdown` see every span at once; a thread that exits abandons its lane and the batcher
//! drains what is left. A lane that is full (its thread outruns the batcher) grows into a
//! larger segment while the queue allows (`lane`), then spills into one shared overflow
//! queue.
//!
//! The bound: `max_queue_size` credits, one per span held anywhere (a lane, the overflow,
//! the batcher: unsent, waiting for a retry, in flight). A thread takes credits from the
//! shared pool a chunk at a time (one compare-and-swap per chunk) and spends one per span;
//! the batcher returns them as spans are delivered or given up on. Without a credit the
//! span is rejected (`queue_full`). So nothing held ever exceeds `max_queue_size`; a thread
//! keeps at most one chunk of unspent credits for itself until it exits.

pub(crate) use super::lane::Lane;
use super::ring::{Consumer, Producer};
use crate::local::record::{ExtrasBox, SpanRecord};
use crossbeam_queue::ArrayQueue;
pub(super) use growth::Spare;
use growth::{lane_max, SPARES};
use staso_types::{DeliveryReport, DestinationReport, FailureKind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};

mod bound;
pub(crate) mod captured;
mod growth;
mod wake;
pub(crate) use bound::{bytes_at_bound, bytes_at_init, store_map_bytes};
pub(crate) use wake::{IDLE, TICK};

/// Counters the report is made of, besides what the lanes count.
#[derive(Default)]
struct Counts {
    delivered: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    sampled_out: AtomicU64,
    last_failure: AtomicU8,
    retryable: AtomicBool,
}

/// What one destination settled (every span goes to every destination).
struct DestinationCounts {
    name: &'static str,
    delivered: AtomicU64,
    failed: AtomicU64,
    last_failure: AtomicU8,
    retryable: AtomicBool,
}

/// What a lane's thread publishes: how many spans it has pushed and how many it had to
/// reject (its own counts, written by it alone: a thread whose spans are refused while the
/// queue is full, for as long as an outage lasts, does not contend with the others on a
/// shared counter).
#[derive(Default)]
pub(super) struct LaneCount {
    pub(super) pushed: AtomicU64,
    pub(super) rejected: AtomicU64,
}

/// The lanes the report adds up: those alive, and the total of those retired.
#[derive(Default)]
struct Ledger {
    live: Vec<Arc<LaneCount>>,
    retired: u64,
    retired_rejected: u64,
}

/// The batcher's end of a lane (of one segment of it: see `lane`).
pub(crate) struct LaneEnd {
    ring: Consumer<SpanRecord>,
    count: Arc<LaneCount>,
    /// Set by the lane's thread once it has moved on to a larger segment: this one is
    /// dropped once empty, and the thread's counts stay with the newer one.
    superseded: Arc<AtomicBool>,
    /// Slots of this segment taken from the queue's growth allowance (0 for a lane's
    /// first segment), given back when it is dropped.
    grown: usize,
}

pub(crate) struct Queue {
    max: usize,
    /// `max_queue_bytes`: what spans captured beyond their allowance (see `captured`).
    max_bytes: usize,
    /// Spans a lane pushes between two wake-ups of the batcher.
    wake_every: usize,
    lane_capacity: usize,
    /// The size of a grown lane.
    lane_max: usize,
    /// Slots the lanes may still grow by, all together (spare and grown segments count
    /// here until they are dropped): what bounds the memory of grown lanes.
    growth: AtomicUsize,
    /// Segments of `lane_max` slots made ready by the batcher, for a lane that fills to
    /// move into without allocating or locking on its thread (see `lane`).
    spares: ArrayQueue<Spare>,
    /// The batcher's ends of segments a lane moved into since the batcher last looked.
    grown: ArrayQueue<LaneEnd>,
    credit_chunk: usize,
    /// Credits no thread holds.
    available: AtomicUsize,
    ledger: Mutex<Ledger>,
    /// Lanes registered since the batcher last looked.
    new_lanes: Mutex<Vec<LaneEnd>>,
    /// Spans whose lane was full (bounded by the credits, so never full itself).
    overflow: ArrayQueue<SpanRecord>,
    /// Provisional root copies: best effort, outside `max_queue_size`, so announcing a
    /// root never costs a real span its place. A full one drops the copy silently (the
    /// final copy carries everything).
    provisional: ArrayQueue<SpanRecord>,
    counts: Counts,
    /// Per destination, in the batcher's order of destinations.
    destinations: Vec<DestinationCounts>,
    closed: AtomicBool,
    /// How lanes ask the batcher for a drain, and how it is woken (see `wake`); the
    /// batcher's side of the handshake is called on it directly.
    pub(crate) wake: wake::Wake,
    /// When each bound last warned (`max_queue_size`, then `max_queue_bytes`): apart, so
    /// that the warning names the option that was reached whichever came first.
    last_full_warning: [AtomicU64; 2],
    /// Annotations, delivered by the same batcher with counts of their own.
    pub(crate) annotations: super::annotations::AnnotationQueue,
}

/// The slots of a thread's lane: room for what a thread ends while the batcher encodes
/// and sends a few batches (a lane that fills spills into the shared overflow, which costs
/// the caller a contended push): 1 250 slots (160 KiB) per thread that ends spans, by
/// default.
pub(super) fn lane_capacity(max: usize, batch_size: usize) -> usize {
    (max / 8)
        .clamp(256, 2048)
        .max(2 * batch_size)
        .min(max.max(1))
}

/// Bytes of captured tapes a lane's segment has room for beside each slot (see
/// `Lane::push_taped`): two small arguments and a result take 30 to 60 with their
/// footer. Tapes that do not fit when their span ends travel in a box, as other content.
pub(crate) const TAPE_BYTES_PER_SLOT: usize = 64;

/// A lane's segment of `capacity` slots: a ring whose records may carry their captured
/// tapes beside them (see `Lane::push_taped`).
pub(super) fn segment(capacity: usize) -> (Producer<SpanRecord>, Consumer<SpanRecord>) {
    super::ring::ring_with_tape(capacity, capacity * TAPE_BYTES_PER_SLOT)
}

/// A record that came with its tapes gets them in a box (the batcher's, from the pool)
/// and is then like any other.
#[cold]
fn untape(r: &mut SpanRecord, tapes: &[u8]) {
    r.tape_bytes = 0;
    let mut b = ExtrasBox::take();
    b.set_trailer(tapes);
    r.keep_tapes(b);
}

/// The slots of the queue of provisional root copies (outside the bound, best effort).
pub(super) fn provisional_capacity(max: usize) -> usize {
    (max / 10).clamp(16, 1024)
}

impl Queue {
    /// A queue of `max` credits whose spans go to `destinations` (their names, in the
    /// batcher's order; none when nothing is sent).
    pub(crate) fn new(max: usize, batch_size: usize, destinations: &[&'static str]) -> Queue {
        let lane_capacity = lane_capacity(max, batch_size);
        Queue {
            max,
            max_bytes: crate::config::DEFAULT_MAX_QUEUE_BYTES,
            wake_every: batch_size.min(lane_capacity / 2).max(1),
            lane_capacity,
            lane_max: lane_max(max, lane_capacity),
            growth: AtomicUsize::new(max),
            spares: ArrayQueue::new(SPARES),
            grown: ArrayQueue::new(64),
            credit_chunk: (max / 64).clamp(1, 64),
            available: AtomicUsize::new(max),
            ledger: Mutex::new(Ledger::default()),
            new_lanes: Mutex::new(Vec::new()),
            overflow: ArrayQueue::new(max),
            provisional: ArrayQueue::new(provisional_capacity(max)),
            counts: Counts::default(),
            destinations: destinations
                .iter()
                .map(|name| DestinationCounts {
                    name,
                    delivered: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                    last_failure: AtomicU8::new(0),
                    retryable: AtomicBool::new(false),
                })
                .collect(),
            closed: AtomicBool::new(false),
            wake: wake::Wake::new(),
            last_full_warning: [AtomicU64::new(0), AtomicU64::new(0)],
            annotations: Default::default(),
        }
    }

    /// A new lane for the calling thread, registered with the batcher.
    #[cold]
    pub(crate) fn lane(self: &Arc<Self>) -> Lane {
        Lane::new(self)
    }

    /// The counts of a new lane, which the report adds up from now on.
    pub(super) fn new_count(&self) -> Arc<LaneCount> {
        let count = Arc::new(LaneCount::default());
        lock(&self.ledger).live.push(count.clone());
        count
    }

    /// The first segment of the lane counted in `count`, its batcher's end registered
    /// (the batcher adopts it at its next drain). Returns the thread's end and the flag
    /// it sets when it leaves the segment for a grown one.
    pub(super) fn first_segment(
        &self,
        count: &Arc<LaneCount>,
    ) -> (Producer<SpanRecord>, Arc<AtomicBool>) {
        let (producer, consumer) = segment(self.lane_capacity);
        let superseded = Arc::new(AtomicBool::new(false));
        lock(&self.new_lanes).push(LaneEnd {
            ring: consumer,
            count: count.clone(),
            superseded: superseded.clone(),
            grown: 0,
        });
        (producer, superseded)
    }

    pub(super) fn wake_every(&self) -> usize {
        self.wake_every
    }

    /// Spans waiting in the overflow (for tests of the lanes).
    #[cfg(test)]
    pub(super) fn overflowed(&self) -> usize {
        self.overflow.len()
    }

    /// Whether the client was shut down, as one relaxed load (the push's check).
    #[inline(always)]
    pub(super) fn is_closed_relaxed(&self) -> bool {
        self.closed.load(Relaxed)
    }

    /// Up to `want` credits from the pool; 0 when it is empty.
    fn take_credits(&self, want: usize) -> usize {
        let mut cur = self.available.load(Relaxed);
        loop {
            if cur == 0 {
                return 0;
            }
            let n = want.min(cur);
            match self
                .available
                .compare_exchange_weak(cur, cur - n, Relaxed, Relaxed)
            {
                Ok(_) => return n,
                Err(now) => cur = now,
            }
        }
    }

    /// A thread's next chunk of credits; 0 when the pool is empty.
    #[cold]
    pub(super) fn refill(&self) -> usize {
        self.take_credits(self.credit_chunk)
    }

    /// A lane is full: the batcher is behind. The overflow holds as many spans as there
    /// are credits, so it has room; wake the batcher. False if the span was rejected.
    #[cold]
    pub(super) fn spill(&self, r: SpanRecord) -> bool {
        self.want_drain();
        if self.overflow.push(r).is_ok() {
            return true;
        }
        // Unreachable while credits bound what is held; counted, never lost silently.
        self.release(1);
        self.reject(FailureKind::QueueFull);
        false
    }

    /// Credits of `n` spans that left (delivered, failed, dropped) go back to the pool.
    pub(crate) fn release(&self, n: usize) {
        if n > 0 {
            self.available.fetch_add(n, Release);
        }
    }

    /// Credits no thread holds: room for new spans before the bound is reached.
    pub(crate) fn available(&self) -> usize {
        self.available.load(Acquire)
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A span rejected outside a lane (the overflow could not take it).
    #[cold]
    fn reject(&self, kind: FailureKind) {
        self.counts.rejected.fetch_add(1, Relaxed);
        self.rejected_as(kind);
    }

    /// What a rejection notes besides its count: the failure and the warning.
    pub(super) fn rejected_as(&self, kind: FailureKind) {
        let retryable = kind == FailureKind::QueueFull;
        self.note_failure(kind, retryable);
        if retryable {
            self.warn_full();
        }
    }

    /// What a span refused at `max_queue_bytes` notes besides its count (the lane counts
    /// it): a full queue, and the warning.
    #[cold]
    pub(super) fn rejected_over_bytes(&self) {
        self.note_failure(FailureKind::QueueFull, true);
        if self.may_warn_full(Bound::Bytes) {
            crate::diag::warn(&format!(
                "staso: captured content of queued spans reached max_queue_bytes = {} (plus {} \
                 bytes a span), dropping spans that captured more; the count is in the \
                 delivery report",
                self.max_bytes,
                captured::ALLOWANCE
            ));
        }
    }

    /// At most one warning a minute, however many spans are dropped.
    #[cold]
    fn warn_full(&self) {
        if self.may_warn_full(Bound::Size) {
            crate::diag::warn(&format!(
                "staso: span queue full (max_queue_size = {}), dropping spans; the count is in the delivery report",
                self.max
            ));
        }
    }

    /// Whether a warning that `bound` was reached may be given now: one a minute at most
    /// for each bound.
    fn may_warn_full(&self, bound: Bound) -> bool {
        let now = crate::local::clock::now().0;
        let at = &self.last_full_warning[bound as usize];
        let last = at.load(Relaxed);
        (last == 0 || now.saturating_sub(last) > 60_000_000_000)
            && at
                .compare_exchange(last, now.max(1), Relaxed, Relaxed)
                .is_ok()
    }

    /// The queue with `max_queue_bytes` set to `n` (see `captured`).
    pub(crate) fn with_max_bytes(mut self, n: usize) -> Queue {
        self.max_bytes = n;
        self
    }

    /// `max_queue_bytes`.
    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// A provisional root copy, best effort: dropped silently when what it captured
    /// does not fit `max_queue_bytes` either.
    pub(crate) fn push_provisional(&self, mut record: SpanRecord) {
        if let Some(e) = record.extras.as_mut() {
            if e.maybe_beyond_allowance() && !e.admit(self.max_bytes) {
                return;
            }
        }
        if !self.closed.load(Relaxed) {
            let _ = self.provisional.push(record);
        }
    }

    /// Counts a trace left out by sampling.
    pub(crate) fn sampled_out(&self) {
        self.counts.sampled_out.fetch_add(1, Relaxed);
    }

    /// Stops accepting: spans ended from now on are rejected (kind `shutdown`). Lanes
    /// learn it through the client's generation, which every span's end compares (see
    /// `Lane::notice_close`), so the push itself does not test the flag.
    pub(crate) fn close(&self) {
        self.closed.store(true, Release);
        crate::client::changed();
        self.annotations.close();
    }

    /// Whether the client was shut down.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Acquire)
    }

    /// Wakes the batcher whatever it does (a flush, a shutdown, a thread's last spans).
    pub(crate) fn wake(&self) {
        self.wake.wake();
    }

    /// Asks the batcher to drain (a lane filled a batch): a flag, and a wake-up only when
    /// the batcher is parked (see `wake`).
    #[cold]
    pub(super) fn want_drain(&self) {
        self.wake.want_drain();
    }

    /// Whether nothing waits anywhere (lanes, overflow, provisional copies), as far as the
    /// batcher's `lanes` show.
    pub(crate) fn is_empty(&self, lanes: &[LaneEnd]) -> bool {
        self.overflow.is_empty()
            && self.provisional.is_empty()
            && self.grown.is_empty()
            && lock(&self.new_lanes).iter().all(|l| l.ring.is_empty())
            && lanes.iter().all(|l| l.ring.is_empty())
    }

    /// Moves the provisional copies waiting into `out`, the batcher's list of copies not
    /// in a batch yet, until it holds as many as this queue does. Through an outage the
    /// batcher forms no batch: the copies beyond that stay here, and once this queue is
    /// full too, new ones are dropped (the final copy carries everything). Taking them
    /// all made the list grow by a copy a root for as long as the outage lasted.
    pub(crate) fn take_provisional(&self, out: &mut Vec<SpanRecord>) {
        while out.len() < self.provisional.capacity() {
            match self.provisional.pop() {
                Some(r) => out.push(r),
                None => break,
            }
        }
    }

    /// The most provisional copies waiting here, and in the batcher's list.
    pub(crate) fn provisional_capacity(&self) -> usize {
        self.provisional.capacity()
    }

    /// Hands every span waiting in a lane or the overflow to `take`, adopting new lanes
    /// into `lanes` first and retiring lanes whose thread is gone once they are empty.
    /// What is in a lane now, not what its thread adds meanwhile (a drain that chases a
    /// producer keeps the ring's indices bouncing between the two cores).
    pub(crate) fn drain(&self, lanes: &mut Vec<LaneEnd>, mut take: impl FnMut(SpanRecord)) {
        lanes.append(&mut lock(&self.new_lanes));
        while let Some(end) = self.grown.pop() {
            lanes.push(end);
        }
        let mut retire = false;
        for lane in lanes.iter_mut() {
            // Abandoned or superseded first: a segment seen so and then empty is done for
            // good.
            let gone = lane.superseded.load(Acquire) || lane.ring.is_abandoned();
            lane.ring.drain_with(
                |r| r.tape_bytes as usize,
                |mut r, tapes| {
                    if !tapes.is_empty() {
                        untape(&mut r, tapes);
                    }
                    take(r)
                },
            );
            retire |= gone && lane.ring.is_empty();
        }
        let queued = self.overflow.len();
        for _ in 0..queued {
            match self.overflow.pop() {
                Some(r) => take(r),
                None => break,
            }
        }
        if retire {
            let mut ledger = lock(&self.ledger);
            lanes.retain(|l| {
                let superseded = l.superseded.load(Acquire);
                let done = (superseded || l.ring.is_abandoned()) && l.ring.is_empty();
                if done {
                    self.growth.fetch_add(l.grown, Relaxed);
                    // A superseded segment's thread goes on in a newer one, with the
                    // same counts: they are added up once, when its last segment goes.
                    if !superseded {
                        ledger.retired += l.count.pushed.load(Acquire);
                        ledger.retired_rejected += l.count.rejected.load(Acquire);
                        ledger.live.retain(|c| !Arc::ptr_eq(c, &l.count));
                    }
                }
                !done
            });
        }
        // Segments given back make room for spares again.
        self.make_spares();
    }

    /// `n` spans were acknowledged by the service.
    pub(crate) fn delivered(&self, n: u64) {
        self.counts.delivered.fetch_add(n, Release);
    }

    /// `n` spans were given up on by some destination, whose failure was noted when it
    /// happened.
    pub(crate) fn gave_up(&self, n: u64) {
        if n > 0 {
            self.counts.failed.fetch_add(n, Release);
        }
    }

    /// Destination `d` acknowledged `delivered` spans and gave up on `failed`.
    pub(crate) fn settled_at(&self, d: usize, delivered: u64, failed: u64) {
        if let Some(c) = self.destinations.get(d) {
            c.delivered.fetch_add(delivered, Release);
            c.failed.fetch_add(failed, Release);
        }
    }

    /// Destination `d` failed an attempt (also noted as the report's last failure).
    pub(crate) fn note_failure_at(&self, d: usize, kind: FailureKind, retryable: bool) {
        if let Some(c) = self.destinations.get(d) {
            c.last_failure.store(kind.code(), Relaxed);
            c.retryable.store(retryable, Relaxed);
        }
        self.note_failure(kind, retryable);
    }

    /// Remembers the most recent failure for the report. Stored only when it changes, so
    /// that threads refused together (every span, during an outage) do not write the same
    /// line over and over.
    pub(crate) fn note_failure(&self, kind: FailureKind, retryable: bool) {
        let c = &self.counts;
        if c.last_failure.load(Relaxed) != kind.code() {
            c.last_failure.store(kind.code(), Relaxed);
        }
        if c.retryable.load(Relaxed) != retryable {
            c.retryable.store(retryable, Relaxed);
        }
    }

    /// The report from the counts. Every span pushed is accepted; those neither delivered
    /// nor failed are pending, wherever they wait. Settled counts are read first, so a
    /// span settled meanwhile is never counted twice.
    pub(crate) fn report(&self, timed_out: bool) -> DeliveryReport {
        let c = &self.counts;
        let delivered = c.delivered.load(Acquire);
        let failed = c.failed.load(Acquire);
        let per_destination: Vec<(u64, u64)> = self
            .destinations
            .iter()
            .map(|d| (d.delivered.load(Acquire), d.failed.load(Acquire)))
            .collect();
        let (accepted, lanes_rejected) = {
            let ledger = lock(&self.ledger);
            let sum = |f: fn(&LaneCount) -> &AtomicU64| {
                ledger.live.iter().map(|l| f(l).load(Acquire)).sum::<u64>()
            };
            (
                ledger.retired + sum(|l| &l.pushed),
                ledger.retired_rejected + sum(|l| &l.rejected),
            )
        };
        let mut r = DeliveryReport::default();
        r.accepted = accepted;
        r.delivered = delivered;
        r.failed = failed;
        r.pending = accepted.saturating_sub(delivered + failed);
        r.rejected = c.rejected.load(Acquire) + lanes_rejected;
        r.sampled_out = c.sampled_out.load(Acquire);
        r.timed_out = timed_out;
        r.last_failure = FailureKind::from_code(c.last_failure.load(Acquire));
        r.retryable = c.retryable.load(Acquire);
        r.annotations = self.annotations.report();
        r.destinations = self
            .destinations
            .iter()
            .zip(per_destination)
            .map(|(d, (delivered, failed))| {
                let mut dr = DestinationReport::new(
                    d.name,
                    delivered,
                    failed,
                    accepted.saturating_sub(delivered + failed),
                );
                dr.last_failure = FailureKind::from_code(d.last_failure.load(Acquire));
                dr.retryable = d.retryable.load(Acquire);
                dr
            })
            .collect();
        r
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The queue's two bounds, each with its own warning.
#[derive(Clone, Copy)]
enum Bound {
    /// `max_queue_size`: spans.
    Size = 0,
    /// `max_queue_bytes`: what queued spans captured.
    Bytes = 1,
}

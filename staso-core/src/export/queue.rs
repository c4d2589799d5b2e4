//! The bounded queue between the threads that end spans and the batcher, and the counts
//! the delivery report is made of. It owns its state: callers push, the batcher drains
//! within the room the bound leaves and settles what it delivered or gave up on.

use crate::local::record::SpanRecord;
use crossbeam_queue::ArrayQueue;
use staso_types::{DeliveryReport, FailureKind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::*};
use std::sync::Arc;

/// Counters the report is made of; written by the queue and the batcher, read by anyone.
#[derive(Default)]
struct Counts {
    /// Spans taken out of the queue by the batcher (final copies only).
    drained: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    last_failure: AtomicU8,
    retryable: AtomicBool,
}

pub(crate) struct Queue {
    records: ArrayQueue<SpanRecord>,
    /// Provisional root copies: best effort, outside `max_queue_size`, so announcing a
    /// root never costs a real span its place. A full one drops the copy silently (the
    /// final copy carries everything).
    provisional: ArrayQueue<SpanRecord>,
    max: usize,
    batch_size: usize,
    counts: Counts,
    closed: AtomicBool,
    wake_pending: AtomicBool,
    /// Wakes the batcher (it waits on this and on its requests at once).
    wake_signal: Arc<tokio::sync::Notify>,
    last_full_warning: AtomicU64,
    /// Annotations, delivered by the same batcher with counts of their own.
    pub(crate) annotations: super::annotations::AnnotationQueue,
}

impl Queue {
    pub(crate) fn new(max: usize, batch_size: usize) -> Queue {
        Queue {
            records: ArrayQueue::new(max),
            provisional: ArrayQueue::new((max / 10).clamp(16, 1024)),
            max,
            batch_size,
            counts: Counts::default(),
            closed: AtomicBool::new(false),
            wake_pending: AtomicBool::new(false),
            wake_signal: Arc::new(tokio::sync::Notify::new()),
            last_full_warning: AtomicU64::new(0),
            annotations: Default::default(),
        }
    }

    /// The caller's side of a finished span, moved out of `slot` right at the push (one
    /// move, stack to queue): never a wait. A full queue or a closed one counts the span
    /// as rejected.
    ///
    /// `pushed` counts this thread's pushes since it last looked at the queue's length to
    /// wake the batcher: the length reads the consumer's end of the queue, a cache line the
    /// batcher writes while it drains, so a thread looks once every `wake_stride` pushes
    /// (at most 1/8 of `batch_size`, so a batch is sent at most that many spans late per
    /// producing thread; the flush interval bounds the rest).
    #[inline]
    pub(crate) fn push_from(&self, slot: &mut Option<SpanRecord>, pushed: &mut u32) {
        let Some(provisional) = slot.as_ref().map(|r| r.provisional) else {
            return;
        };
        if self.closed.load(Relaxed) {
            slot.take();
            if !provisional {
                self.reject(FailureKind::Shutdown);
            }
            return;
        }
        let Some(r) = slot.take() else { return };
        if provisional {
            let _ = self.provisional.push(r);
            return;
        }
        match self.records.push(r) {
            Ok(()) => self.pushed_one(pushed),
            Err(_) => self.full(),
        }
    }

    /// After a push: wakes the batcher once `batch_size` spans wait (see `push_from`).
    #[inline]
    fn pushed_one(&self, pushed: &mut u32) {
        *pushed += 1;
        if *pushed >= wake_stride(self.batch_size) {
            *pushed = 0;
            if self.records.len() >= self.batch_size && !self.wake_pending.swap(true, AcqRel) {
                self.wake();
            }
        }
    }

    #[cold]
    fn full(&self) {
        self.reject(FailureKind::QueueFull);
        self.warn_full();
    }

    #[cold]
    fn reject(&self, kind: FailureKind) {
        self.counts.rejected.fetch_add(1, Relaxed);
        self.note_failure(kind, kind == FailureKind::QueueFull);
    }

    /// At most one warning a minute, however many spans are dropped.
    #[cold]
    fn warn_full(&self) {
        let now = crate::local::clock::now().0;
        let last = self.last_full_warning.load(Relaxed);
        if (last == 0 || now.saturating_sub(last) > 60_000_000_000)
            && self
                .last_full_warning
                .compare_exchange(last, now.max(1), Relaxed, Relaxed)
                .is_ok()
        {
            crate::diag::warn(&format!(
                "staso: span queue full (max_queue_size = {}), dropping spans; the count is in the delivery report",
                self.max
            ));
        }
    }

    /// Stops accepting: spans ended from now on are rejected (kind `shutdown`).
    pub(crate) fn close(&self) {
        self.closed.store(true, Release);
        self.annotations.close();
    }

    pub(crate) fn wake(&self) {
        self.wake_signal.notify_one();
    }

    /// The batcher's side of the wake-up.
    pub(crate) fn wake_signal(&self) -> Arc<tokio::sync::Notify> {
        self.wake_signal.clone()
    }

    /// The batcher is awake: the next full batch wakes it again.
    pub(crate) fn woken(&self) {
        self.wake_pending.store(false, Release);
    }

    /// Final spans waiting in the queue.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing at all waits (final or provisional).
    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty() && self.provisional.is_empty()
    }

    /// Moves the provisional copies waiting into `out`.
    pub(crate) fn take_provisional(&self, out: &mut Vec<SpanRecord>) {
        while let Some(r) = self.provisional.pop() {
            out.push(r);
        }
    }

    /// Hands at most `room` queued spans to `take`, oldest first: what is queued now, not
    /// what producers add meanwhile (a drain that chases a producer pops the slot next to
    /// the one being written, and the two cores then pass those cache lines back and forth
    /// on every span). Counts them as accepted.
    pub(crate) fn drain(&self, room: usize, mut take: impl FnMut(SpanRecord)) {
        let mut n = 0;
        for _ in 0..room.min(self.records.len()) {
            let Some(r) = self.records.pop() else { break };
            take(r);
            n += 1;
        }
        self.counts.drained.fetch_add(n, Release);
    }

    /// `n` spans were acknowledged by the service.
    pub(crate) fn delivered(&self, n: u64) {
        self.counts.delivered.fetch_add(n, Release);
    }

    /// `n` spans were given up on.
    pub(crate) fn failed(&self, n: u64, kind: FailureKind, retryable: bool) {
        self.counts.failed.fetch_add(n, Release);
        self.note_failure(kind, retryable);
    }

    /// Remembers the most recent failure for the report.
    pub(crate) fn note_failure(&self, kind: FailureKind, retryable: bool) {
        self.counts.last_failure.store(kind.code(), Relaxed);
        self.counts.retryable.store(retryable, Relaxed);
    }

    /// The report from the counters; spans still in the queue are accepted and pending.
    pub(crate) fn report(&self, timed_out: bool) -> DeliveryReport {
        let c = &self.counts;
        let accepted = c.drained.load(Acquire) + self.records.len() as u64;
        let delivered = c.delivered.load(Acquire);
        let failed = c.failed.load(Acquire);
        let mut r = DeliveryReport::default();
        r.accepted = accepted;
        r.delivered = delivered;
        r.failed = failed;
        r.pending = accepted.saturating_sub(delivered + failed);
        r.rejected = c.rejected.load(Acquire);
        r.timed_out = timed_out;
        r.last_failure = FailureKind::from_code(c.last_failure.load(Acquire));
        r.retryable = c.retryable.load(Acquire);
        r.annotations = self.annotations.report();
        r
    }
}

/// How many spans a thread pushes between two looks at the queue's length.
#[inline]
fn wake_stride(batch_size: usize) -> u32 {
    (batch_size / 8).clamp(1, 64) as u32
}

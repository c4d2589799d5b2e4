//! The background thread that turns queued spans into delivered batches: sends when
//! `batch_size` spans wait, when `flush_interval` passes, on flush and on shutdown; keeps
//! failed retryable batches (within `max_queue_size`, oldest dropped first) and retries
//! them with backoff for as long as it takes. It owns a small current-thread tokio
//! runtime, so it works the same under a user's runtime or none. Up to `MAX_IN_FLIGHT`
//! requests run at once and complete independently: a stalled one holds nothing else.

use crate::client::{Command, Inner};
use crate::report::{DeliveryReport, FailureKind};
use crate::span::SpanRecord;
use crate::transport::{Failure, Transport};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::*;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Backoff between retries: 0.5 s doubling, with jitter, capped here.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Requests in flight at once: enough to keep up with a fast producer over one
/// keep-alive pool, few enough not to hammer a struggling service.
const MAX_IN_FLIGHT: usize = 4;

struct Batch {
    key: String,
    records: Vec<(u64, SpanRecord)>,
    attempts: u32,
    not_before: Instant,
}

impl Batch {
    fn new(records: Vec<(u64, SpanRecord)>) -> Self {
        Batch {
            key: uuid::Uuid::new_v4().to_string(),
            records,
            attempts: 0,
            not_before: Instant::now(),
        }
    }

    fn finals(&self) -> u64 {
        self.records.iter().filter(|(_, r)| !r.provisional).count() as u64
    }

    fn min_seq(&self) -> u64 {
        self.records
            .iter()
            .map(|(s, _)| *s)
            .min()
            .unwrap_or(u64::MAX)
    }
}

struct Waiter {
    barrier: u64,
    deadline: Instant,
    reply: mpsc::Sender<DeliveryReport>,
    shutdown: bool,
}

/// A finished request: the batch and its outcome.
type Done = (Batch, Result<(), Failure>);
type Joined = Result<(tokio::task::Id, Result<(), Failure>), tokio::task::JoinError>;

struct Batcher {
    inner: Arc<Inner>,
    transport: Transport,
    rt: tokio::runtime::Runtime,
    /// Taken from the queue, not yet in a batch; with a sequence number each.
    unsent: VecDeque<(u64, SpanRecord)>,
    /// Provisional root copies waiting to ride along with the next batch. They carry no
    /// sequence number (`u64::MAX`): no flush waits for them and they are outside the bound.
    provisional: Vec<SpanRecord>,
    /// Batches that failed with a retryable kind, by the time they may be retried.
    retry: VecDeque<Batch>,
    in_flight: JoinSet<Result<(), Failure>>,
    /// The batches being sent, by their request's task (kept here, not in the task, so a
    /// request that panics or is cancelled still gives its batch back).
    flying: std::collections::HashMap<tokio::task::Id, Batch>,
    next_seq: u64,
    last_send: Instant,
    waiters: Vec<Waiter>,
    /// The shutdown request has been answered: the thread ends.
    shutdown_answered: bool,
    buf: Vec<u8>,
    warned: std::collections::HashSet<FailureKind>,
}

/// Starts the batcher thread of `inner`.
pub(crate) fn spawn(inner: Arc<Inner>) -> Result<JoinHandle<()>, String> {
    let transport = Transport::new(&inner.config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut b = Batcher {
        inner,
        transport,
        rt,
        unsent: VecDeque::new(),
        provisional: Vec::new(),
        retry: VecDeque::new(),
        in_flight: JoinSet::new(),
        flying: std::collections::HashMap::new(),
        next_seq: 1,
        last_send: Instant::now(),
        waiters: Vec::new(),
        shutdown_answered: false,
        buf: Vec::with_capacity(64 * 1024),
        warned: Default::default(),
    };
    std::thread::Builder::new()
        .name("staso-batcher".into())
        .spawn(move || b.run())
        .map_err(|e| e.to_string())
}

impl Batcher {
    fn run(&mut self) {
        let mut panics = 0u32;
        loop {
            match catch_unwind(AssertUnwindSafe(|| self.step())) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(_) => {
                    // A bug of ours must never take the user's program down, nor end
                    // delivery silently: say so once, keep the state, go on.
                    panics += 1;
                    if panics == 1 {
                        crate::diag::error(
                            "staso: the batcher thread panicked; it carries on with the spans it holds",
                        );
                    }
                    if panics > 100 {
                        self.degrade();
                        break;
                    }
                }
            }
        }
    }

    /// After repeated panics: stop delivering, answer every waiter, and let the client
    /// count whatever arrives as rejected.
    fn degrade(&mut self) {
        crate::diag::error(
            "staso: the batcher keeps failing; tracing is switched off for this client",
        );
        self.inner.closed.store(true, Release);
        for w in std::mem::take(&mut self.waiters) {
            let _ = w.reply.send(self.inner.report(true, 0));
        }
    }

    /// One turn of the loop; false when the thread should end.
    fn step(&mut self) -> bool {
        #[cfg(feature = "test-faults")]
        if self.inner.inject_panic.swap(false, AcqRel) {
            panic!("staso test fault: injected batcher panic");
        }
        self.inner.wake_pending.store(false, Release);
        self.take_commands();
        let batch_size = self.inner.config.batch_size;
        let interval_passed = self.last_send.elapsed() >= self.inner.config.flush_interval;
        let urgent = !self.waiters.is_empty();
        // Spans stay in the queue until there is a reason to send them: the queue is the
        // buffer, and a span taken out early would only sit in `unsent` instead.
        if urgent || interval_passed || self.inner.queue.len() >= batch_size {
            self.drain();
        }
        // Oldest first: retries that fell due, then new batches.
        let now = Instant::now();
        while self.in_flight.len() < MAX_IN_FLIGHT
            && self.retry.front().is_some_and(|b| b.not_before <= now)
        {
            if let Some(b) = self.retry.pop_front() {
                self.launch(b);
            }
        }
        while self.in_flight.len() < MAX_IN_FLIGHT
            && (self.unsent.len() >= batch_size
                || ((!self.unsent.is_empty() || !self.provisional.is_empty())
                    && (urgent || interval_passed)))
        {
            let p = self.provisional.len().min(batch_size);
            let mut records: Vec<(u64, SpanRecord)> =
                self.provisional.drain(..p).map(|r| (u64::MAX, r)).collect();
            let n = self.unsent.len().min(batch_size - p);
            records.extend(self.unsent.drain(..n));
            self.launch(Batch::new(records));
        }
        if interval_passed || urgent {
            self.last_send = Instant::now();
        }
        self.answer_waiters();
        if self.shutdown_answered {
            return false;
        }
        self.wait_for_news();
        while let Some(joined) = self.in_flight.try_join_next_with_id() {
            self.joined(joined);
        }
        self.answer_waiters();
        // The thread ends once its shutdown has been answered (done or out of time).
        !self.shutdown_answered
    }

    fn take_commands(&mut self) {
        let commands: Vec<Command> = self
            .inner
            .commands
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        if commands.is_empty() {
            return;
        }
        // "Accepted before the call": everything queued now is in the barrier, also what
        // the bound leaves in the queue for later (it will be numbered in order).
        self.drain();
        for c in commands {
            let barrier = self.next_seq - 1 + self.inner.queue.len() as u64;
            match c {
                Command::Flush { deadline, reply } => self.waiters.push(Waiter {
                    barrier,
                    deadline,
                    reply,
                    shutdown: false,
                }),
                Command::Shutdown { deadline, reply } => self.waiters.push(Waiter {
                    barrier: u64::MAX,
                    deadline,
                    reply,
                    shutdown: true,
                }),
            }
        }
    }

    /// Sleeps until a request finishes, a producer or caller wakes us, or the next timed
    /// event (flush interval, a retry falling due, a deadline).
    fn wait_for_news(&mut self) {
        let sleep = self.sleep_for();
        if sleep.is_zero() {
            return;
        }
        let wake = self.inner.wake_signal.clone();
        let in_flight = &mut self.in_flight;
        let joined = self.rt.block_on(async {
            tokio::select! {
                Some(joined) = in_flight.join_next_with_id(), if !in_flight.is_empty() => Some(joined),
                _ = wake.notified() => None,
                _ = tokio::time::sleep(sleep) => None,
            }
        });
        if let Some(joined) = joined {
            self.joined(joined);
        }
    }

    /// Moves what is queued into `unsent`, numbering it, as far as the bound allows:
    /// spans the batcher holds (unsent, waiting for a retry, in flight) count against
    /// `max_queue_size` too, so a slow or absent service cannot grow memory. What does not
    /// fit stays in the queue, where a full queue rejects new spans.
    fn drain(&mut self) {
        let mut finals = 0;
        while let Some(r) = self.inner.provisional.pop() {
            self.provisional.push(r);
        }
        let held = self.unsent.len()
            + self.retry.iter().map(|x| x.records.len()).sum::<usize>()
            + self.flying.values().map(|x| x.records.len()).sum::<usize>();
        let room = self.inner.config.max_queue_size.saturating_sub(held);
        // What is queued now, not what producers add while we pop: a drain that chases a
        // producer pops the slot next to the one being written, and the two cores then
        // pass those cache lines back and forth on every span (the producer's cost went
        // from ~37 ns to ~130 ns a span whenever that happened).
        let queued = self.inner.queue.len();
        for _ in 0..room.min(queued) {
            let Some(r) = self.inner.queue.pop() else {
                break;
            };
            if !r.provisional {
                finals += 1;
            }
            self.unsent.push_back((self.next_seq, r));
            self.next_seq += 1;
        }
        self.inner.stats.accepted.fetch_add(finals, Release);
        self.enforce_bound();
    }

    fn enforce_bound(&mut self) {
        let max = self.inner.config.max_queue_size;
        let held = |b: &Self| {
            b.unsent.len()
                + b.retry.iter().map(|x| x.records.len()).sum::<usize>()
                + b.flying.values().map(|x| x.records.len()).sum::<usize>()
                + b.inner.queue.len()
        };
        let mut dropped = 0u64;
        while held(self) > max {
            let Some(oldest) = self.retry.front_mut() else {
                break;
            };
            if !oldest.records.is_empty() && !oldest.records.remove(0).1.provisional {
                dropped += 1;
            }
            if oldest.records.is_empty() {
                self.retry.pop_front();
            }
        }
        if dropped > 0 {
            self.inner.stats.failed.fetch_add(dropped, Release);
            self.inner.stats.note_failure(FailureKind::QueueFull, true);
            crate::diag::warn(&format!(
                "staso: dropped the {dropped} oldest span(s) waiting for a retry to stay within max_queue_size"
            ));
        }
    }

    /// Serializes a batch and starts sending it.
    fn launch(&mut self, mut batch: Batch) {
        if batch.records.is_empty() {
            return;
        }
        let traces = crate::wire::encode_batch(
            batch.records.iter().map(|(_, r)| r),
            &self.inner.config,
            &mut self.buf,
        );
        batch.attempts += 1;
        let body = self.buf.clone();
        let t = self.transport.clone();
        let key = batch.key.clone();
        let _guard = self.rt.enter();
        let handle = self
            .in_flight
            .spawn(async move { t.send(body, &key, traces).await });
        self.flying.insert(handle.id(), batch);
    }

    /// Takes back the batch of a finished request and files its outcome.
    fn joined(&mut self, joined: Joined) {
        let (id, result) = match joined {
            Ok((id, r)) => (id, r),
            Err(e) => (e.id(), Err(crate::transport::cut_short())),
        };
        if let Some(batch) = self.flying.remove(&id) {
            self.finished((batch, result));
        }
    }

    /// Files the outcome of one request.
    fn finished(&mut self, (batch, result): Done) {
        match result {
            Ok(()) => {
                self.inner
                    .stats
                    .delivered
                    .fetch_add(batch.finals(), Release);
                crate::diag::debug(&format!(
                    "staso: delivered {} span(s) (attempt {})",
                    batch.records.len(),
                    batch.attempts
                ));
            }
            Err(f) => self.failed(batch, f),
        }
    }

    fn failed(&mut self, mut batch: Batch, f: Failure) {
        self.log_failure(&f);
        self.inner.stats.note_failure(f.kind, f.retryable);
        if f.too_large && batch.records.len() > 1 {
            // Split and retry the halves at once: one oversized span must not hold the
            // others back.
            let second = batch.records.split_off(batch.records.len() / 2);
            self.retry.push_front(Batch::new(second));
            self.retry.push_front(Batch::new(batch.records));
            return;
        }
        if !f.retryable {
            self.inner.stats.failed.fetch_add(batch.finals(), Release);
            return;
        }
        let backoff = f.retry_after.unwrap_or_else(|| {
            let exp =
                FIRST_BACKOFF.saturating_mul(1u32 << batch.attempts.saturating_sub(1).min(16));
            // Jitter in [50%, 100%] so many clients do not retry in step.
            exp.min(MAX_BACKOFF).mul_f64(0.5 + fastrand::f64() * 0.5)
        });
        batch.not_before = Instant::now() + backoff;
        let pos = self
            .retry
            .partition_point(|b| b.not_before <= batch.not_before);
        self.retry.insert(pos, batch);
        self.enforce_bound();
    }

    /// One warning per failure kind (then debug), naming the kind and status only.
    fn log_failure(&mut self, f: &Failure) {
        let status = f.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        let msg = format!(
            "staso: trace delivery failed{status}: {}: {}",
            f.kind, f.detail
        );
        if self.warned.insert(f.kind) {
            crate::diag::warn(&msg);
        } else {
            crate::diag::debug(&msg);
        }
    }

    /// The smallest sequence number not yet delivered or failed.
    fn oldest_outstanding(&self) -> u64 {
        let unsent = self.unsent.front().map(|(s, _)| *s);
        let retry = self.retry.iter().map(Batch::min_seq).min();
        let flying = self.flying.values().map(Batch::min_seq).min();
        [unsent, retry, flying]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(u64::MAX)
    }

    fn answer_waiters(&mut self) {
        let oldest = self.oldest_outstanding();
        let queue_empty = self.inner.queue.is_empty() && self.inner.provisional.is_empty();
        let now = Instant::now();
        let mut keep = Vec::new();
        for w in std::mem::take(&mut self.waiters) {
            let done = if w.shutdown {
                oldest == u64::MAX && queue_empty
            } else {
                oldest > w.barrier
            };
            if done || w.deadline <= now {
                let _ = w.reply.send(self.inner.report(!done, 0));
                self.shutdown_answered |= w.shutdown;
            } else {
                keep.push(w);
            }
        }
        self.waiters = keep;
    }

    /// Until the next thing to do: a retry falling due, the flush interval, a deadline.
    fn sleep_for(&self) -> Duration {
        let now = Instant::now();
        let room = self.in_flight.len() < MAX_IN_FLIGHT;
        if room
            && !self.waiters.is_empty()
            && (!self.unsent.is_empty()
                || !self.provisional.is_empty()
                || !self.inner.queue.is_empty())
        {
            return Duration::ZERO;
        }
        let mut until = self.last_send + self.inner.config.flush_interval;
        if let Some(b) = self.retry.front() {
            if room {
                until = until.min(b.not_before);
            }
        }
        for w in &self.waiters {
            until = until.min(w.deadline);
        }
        until
            .saturating_duration_since(now)
            .max(Duration::from_micros(100))
    }
}

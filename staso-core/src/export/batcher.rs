//! The background thread that turns queued spans into delivered batches: sends when
//! `batch_size` spans wait, when `flush_interval` passes, on flush and on shutdown; keeps
//! failed retryable batches (within `max_queue_size`, oldest dropped first) and retries
//! them with backoff for as long as it takes. It owns a small current-thread tokio
//! runtime, so it works the same under a user's runtime or none. Up to `MAX_IN_FLIGHT`
//! requests run at once and complete independently: a stalled one holds nothing else.

use super::annotations::AnnotationSender;
use super::queue::{LaneEnd, Queue};
use super::transport::{Failure, Transport};
use crate::config::Config;
use crate::local::record::SpanRecord;
use staso_types::{DeliveryReport, FailureKind};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Extra time a caller waits for the batcher's own answer past its timeout.
const REPLY_MARGIN: Duration = Duration::from_millis(50);

/// What callers ask of the batcher.
enum Command {
    Flush {
        deadline: Instant,
        reply: mpsc::Sender<DeliveryReport>,
    },
    Shutdown {
        deadline: Instant,
        reply: mpsc::Sender<DeliveryReport>,
    },
}

/// The callers' end of a running batcher: flush and shutdown requests, and its thread.
pub(crate) struct Handle {
    queue: Arc<Queue>,
    commands: Arc<Mutex<Vec<Command>>>,
    join: Mutex<Option<JoinHandle<()>>>,
    #[cfg(feature = "test-faults")]
    inject_panic: Arc<std::sync::atomic::AtomicBool>,
}

impl Handle {
    fn command(
        &self,
        make: impl FnOnce(mpsc::Sender<DeliveryReport>) -> Command,
        timeout: Duration,
    ) -> DeliveryReport {
        let (tx, rx) = mpsc::channel();
        if let Ok(mut c) = self.commands.lock() {
            c.push(make(tx));
        }
        self.queue.wake();
        match rx.recv_timeout(timeout + REPLY_MARGIN) {
            Ok(r) => r,
            Err(_) => self.queue.report(true),
        }
    }

    /// Waits up to `timeout` for the spans accepted before the call to be settled.
    pub(crate) fn flush(&self, timeout: Duration) -> DeliveryReport {
        let deadline = Instant::now() + timeout;
        self.command(|reply| Command::Flush { deadline, reply }, timeout)
    }

    /// Delivers what is queued within `timeout`, then stops the thread (joined unless the
    /// time ran out or this is the batcher's own thread).
    pub(crate) fn shutdown(&self, timeout: Duration) -> DeliveryReport {
        let deadline = Instant::now() + timeout;
        let report = self.command(|reply| Command::Shutdown { deadline, reply }, timeout);
        if !report.timed_out {
            let handle = self.join.lock().ok().and_then(|mut j| j.take());
            if let Some(h) = handle {
                if h.thread().id() != std::thread::current().id() {
                    let _ = h.join();
                }
            }
        }
        report
    }

    /// Whether the thread has been joined (a shutdown completed).
    pub(crate) fn is_finished(&self) -> bool {
        self.join.lock().map(|j| j.is_none()).unwrap_or(true)
    }

    #[cfg(feature = "test-faults")]
    pub(crate) fn inject_panic(&self) {
        self.inject_panic
            .store(true, std::sync::atomic::Ordering::Release);
        self.queue.wake();
    }
}

/// Backoff between retries: 0.5 s doubling, with jitter, capped here.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// How often the wall-clock offset is measured again (see `clock`).
const REANCHOR_EVERY: Duration = Duration::from_secs(60);
/// Requests in flight at once: enough to keep up with a fast producer over one
/// keep-alive pool, few enough not to hammer a struggling service.
const MAX_IN_FLIGHT: usize = 4;

/// The wait before retry `attempts + 1`: `Retry-After` when the service gave one, else
/// 0.5 s doubling up to 30 s, with jitter. Shared by spans and annotations.
pub(super) fn backoff(attempts: u32, retry_after: Option<Duration>) -> Duration {
    retry_after.unwrap_or_else(|| {
        let exp = FIRST_BACKOFF.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
        // Jitter in [50%, 100%] so many clients do not retry in step.
        exp.min(MAX_BACKOFF).mul_f64(0.5 + fastrand::f64() * 0.5)
    })
}

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
    /// The last annotation accepted before the call (see `AnnotationSender::barrier`).
    annotations: u64,
    deadline: Instant,
    reply: mpsc::Sender<DeliveryReport>,
    shutdown: bool,
}

/// A finished request: the batch and its outcome.
type Done = (Batch, Result<(), Failure>);
type Joined = Result<(tokio::task::Id, Result<(), Failure>), tokio::task::JoinError>;

struct Batcher {
    queue: Arc<Queue>,
    /// The batcher's ends of the threads' lanes.
    lanes: Vec<LaneEnd>,
    config: Arc<Config>,
    commands: Arc<Mutex<Vec<Command>>>,
    #[cfg(feature = "test-faults")]
    inject_panic: Arc<std::sync::atomic::AtomicBool>,
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
    last_reanchor: Instant,
    waiters: Vec<Waiter>,
    /// The shutdown request has been answered: the thread ends.
    shutdown_answered: bool,
    buf: Vec<u8>,
    warned: std::collections::HashSet<FailureKind>,
    annotations: AnnotationSender,
}

/// Starts the batcher thread that delivers what `queue` takes in.
pub(crate) fn spawn(queue: Arc<Queue>, config: Arc<Config>) -> Result<Handle, String> {
    let transport = Transport::new(&config)?;
    let annotations = AnnotationSender::new(&config, queue.wake_signal())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let commands = Arc::new(Mutex::new(Vec::new()));
    #[cfg(feature = "test-faults")]
    let inject_panic = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut b = Batcher {
        queue: queue.clone(),
        lanes: Vec::new(),
        config,
        commands: commands.clone(),
        #[cfg(feature = "test-faults")]
        inject_panic: inject_panic.clone(),
        transport,
        rt,
        unsent: VecDeque::new(),
        provisional: Vec::new(),
        retry: VecDeque::new(),
        in_flight: JoinSet::new(),
        flying: std::collections::HashMap::new(),
        next_seq: 1,
        last_send: Instant::now(),
        last_reanchor: Instant::now(),
        waiters: Vec::new(),
        shutdown_answered: false,
        buf: Vec::with_capacity(64 * 1024),
        warned: Default::default(),
        annotations,
    };
    let join = std::thread::Builder::new()
        .name("staso-batcher".into())
        .spawn(move || b.run())
        .map_err(|e| e.to_string())?;
    Ok(Handle {
        queue,
        commands,
        join: Mutex::new(Some(join)),
        #[cfg(feature = "test-faults")]
        inject_panic,
    })
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
        self.queue.close();
        for w in std::mem::take(&mut self.waiters) {
            let _ = w.reply.send(self.queue.report(true));
        }
    }

    /// One turn of the loop; false when the thread should end.
    fn step(&mut self) -> bool {
        #[cfg(feature = "test-faults")]
        if self
            .inject_panic
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            panic!("staso test fault: injected batcher panic");
        }
        if self.last_reanchor.elapsed() >= REANCHOR_EVERY {
            crate::local::clock::reanchor();
            self.last_reanchor = Instant::now();
        }
        let wanted = self.queue.take_wanted();
        self.take_commands();
        let batch_size = self.config.batch_size;
        let interval_passed = self.last_send.elapsed() >= self.config.flush_interval;
        let urgent = !self.waiters.is_empty();
        // Spans stay in their lanes until there is a reason to send them (a lane filled a
        // batch, the interval, a flush): the lanes are the buffer.
        if urgent || interval_passed || wanted {
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
            // Encoding a batch takes a while: empty the lanes before they fill up.
            self.drain();
        }
        if interval_passed || urgent {
            self.last_send = Instant::now();
        }
        self.annotations.turn(&self.rt, &self.queue.annotations);
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
        self.annotations.drain(&self.queue.annotations);
        let annotations = self.annotations.barrier(&self.queue.annotations);
        for c in commands {
            let barrier = self.next_seq - 1;
            match c {
                Command::Flush { deadline, reply } => self.waiters.push(Waiter {
                    barrier,
                    annotations,
                    deadline,
                    reply,
                    shutdown: false,
                }),
                Command::Shutdown { deadline, reply } => self.waiters.push(Waiter {
                    barrier: u64::MAX,
                    annotations: u64::MAX,
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
        let wake = self.queue.wake_signal();
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

    /// Moves every span waiting in the lanes into `unsent`, numbering it. The bound needs
    /// no check here: every span held anywhere holds a credit (see `queue`).
    fn drain(&mut self) {
        self.queue.take_provisional(&mut self.provisional);
        let (unsent, next_seq) = (&mut self.unsent, &mut self.next_seq);
        self.queue.drain(&mut self.lanes, |r| {
            unsent.push_back((*next_seq, r));
            *next_seq += 1;
        });
        self.enforce_bound();
    }

    /// During an outage, retries must not starve new spans: when the pool of credits runs
    /// low, the oldest spans waiting for a retry are dropped (counted as failed) and their
    /// credits go back to the pool.
    fn enforce_bound(&mut self) {
        let low_water = (self.queue.max() / 16).max(1);
        let mut dropped = 0usize;
        while self.queue.available() + dropped < low_water {
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
            self.queue
                .failed(dropped as u64, FailureKind::QueueFull, true);
            self.queue.release(dropped);
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
        let traces = super::encode::encode_batch(
            batch.records.iter().map(|(_, r)| r),
            &self.config,
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
            Err(e) => (e.id(), Err(super::transport::cut_short())),
        };
        if let Some(batch) = self.flying.remove(&id) {
            self.finished((batch, result));
        }
    }

    /// Files the outcome of one request.
    fn finished(&mut self, (batch, result): Done) {
        match result {
            Ok(()) => {
                self.queue.delivered(batch.finals());
                self.queue.release(batch.finals() as usize);
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
        self.queue.note_failure(f.kind, f.retryable);
        if f.too_large && batch.records.len() > 1 {
            // Split and retry the halves at once: one oversized span must not hold the
            // others back.
            let second = batch.records.split_off(batch.records.len() / 2);
            self.retry.push_front(Batch::new(second));
            self.retry.push_front(Batch::new(batch.records));
            return;
        }
        if !f.retryable {
            self.queue.failed(batch.finals(), f.kind, false);
            self.queue.release(batch.finals() as usize);
            return;
        }
        batch.not_before = Instant::now() + backoff(batch.attempts, f.retry_after);
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
        let queue_empty = self.queue.is_empty(&self.lanes);
        let now = Instant::now();
        let mut keep = Vec::new();
        for w in std::mem::take(&mut self.waiters) {
            let ann = &self.queue.annotations;
            let done = if w.shutdown {
                oldest == u64::MAX && queue_empty && self.annotations.idle(ann)
            } else {
                oldest > w.barrier && self.annotations.settled_through(ann, w.annotations)
            };
            if done || w.deadline <= now {
                let _ = w.reply.send(self.queue.report(!done));
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
                || !self.queue.is_empty(&self.lanes))
        {
            return Duration::ZERO;
        }
        let mut until =
            (self.last_send + self.config.flush_interval).min(self.last_reanchor + REANCHOR_EVERY);
        if let Some(b) = self.retry.front() {
            if room {
                until = until.min(b.not_before);
            }
        }
        for w in &self.waiters {
            until = until.min(w.deadline);
        }
        if let Some(due) = self.annotations.next_due() {
            until = until.min(due);
        }
        until
            .saturating_duration_since(now)
            .max(Duration::from_micros(100))
    }
}

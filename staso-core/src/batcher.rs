//! The background thread that turns queued spans into delivered batches: sends when
//! `batch_size` spans wait, when `flush_interval` passes, on flush and on shutdown; keeps
//! failed retryable batches (within `max_queue_size`, oldest dropped first) and retries
//! them with backoff for as long as it takes. It owns a small current-thread tokio
//! runtime, so it works the same under a user's runtime or none.

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
}

struct Waiter {
    barrier: u64,
    deadline: Instant,
    reply: mpsc::Sender<DeliveryReport>,
    shutdown: bool,
}

struct Batcher {
    inner: Arc<Inner>,
    transport: Transport,
    rt: tokio::runtime::Runtime,
    /// Taken from the queue, not yet in a batch; with a sequence number each.
    unsent: VecDeque<(u64, SpanRecord)>,
    /// Batches that failed with a retryable kind, oldest first.
    retry: VecDeque<Batch>,
    next_seq: u64,
    last_send: Instant,
    waiters: Vec<Waiter>,
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
        retry: VecDeque::new(),
        next_seq: 1,
        last_send: Instant::now(),
        waiters: Vec::new(),
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
                        crate::diag::error("staso: the batcher thread panicked; it carries on with the spans it holds");
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
        self.answer_all(true);
    }

    /// One turn of the loop; false when the thread should end.
    fn step(&mut self) -> bool {
        #[cfg(feature = "test-faults")]
        if self.inner.inject_panic.swap(false, AcqRel) {
            panic!("staso test fault: injected batcher panic");
        }
        self.inner.wake_pending.store(false, Release);
        let commands: Vec<Command> = self
            .inner
            .commands
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        let batch_size = self.inner.config.batch_size;
        let interval_passed = self.last_send.elapsed() >= self.inner.config.flush_interval;
        // Spans stay in the queue until there is a reason to send them: the queue is the
        // buffer, and a span taken out early would only sit in `unsent` instead.
        let full = |b: &Self| b.inner.queue.len() >= batch_size;
        if !commands.is_empty() || !self.waiters.is_empty() || interval_passed || full(self) {
            self.drain();
        }
        for c in commands {
            let barrier = self.next_seq - 1;
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
        let shutting_down = self.waiters.iter().any(|w| w.shutdown);
        let urgent = !self.waiters.is_empty();

        loop {
            // Oldest first: retries that fell due, then new batches.
            let now = Instant::now();
            let mut wave = Vec::new();
            while wave.len() < MAX_IN_FLIGHT
                && self.retry.front().is_some_and(|b| b.not_before <= now)
            {
                wave.extend(self.retry.pop_front());
            }
            while wave.len() < MAX_IN_FLIGHT
                && (self.unsent.len() >= batch_size
                    || (!self.unsent.is_empty() && (urgent || interval_passed)))
            {
                let n = self.unsent.len().min(batch_size);
                wave.push(Batch::new(self.unsent.drain(..n).collect()));
            }
            if wave.is_empty() {
                break;
            }
            self.send_wave(wave);
            if urgent || full(self) {
                self.drain();
            }
            if self.deadline_passed() {
                break;
            }
        }
        if interval_passed || urgent {
            self.last_send = Instant::now();
        }
        if urgent {
            self.drain();
        }
        self.answer_waiters();
        if shutting_down && self.waiters.iter().all(|w| !w.shutdown) {
            return false;
        }
        std::thread::park_timeout(self.sleep_for());
        true
    }

    fn deadline_passed(&self) -> bool {
        let now = Instant::now();
        self.waiters.iter().any(|w| w.deadline <= now)
    }

    /// Moves everything queued into `unsent`, numbering it, and keeps the total held
    /// within `max_queue_size` by dropping the oldest spans waiting for a retry.
    fn drain(&mut self) {
        let mut finals = 0;
        while let Some(r) = self.inner.provisional.pop() {
            self.unsent.push_back((self.next_seq, r));
            self.next_seq += 1;
        }
        while let Some(r) = self.inner.queue.pop() {
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
                + b.inner.queue.len()
        };
        let mut dropped = 0u64;
        while held(self) > max {
            let Some(oldest) = self.retry.front_mut() else {
                break;
            };
            if let Some((_, r)) = (!oldest.records.is_empty()).then(|| oldest.records.remove(0)) {
                if !r.provisional {
                    dropped += 1;
                }
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

    /// Sends a wave of batches concurrently (HTTP keep-alive, up to `MAX_IN_FLIGHT`
    /// requests at once) and files each outcome.
    fn send_wave(&mut self, mut wave: Vec<Batch>) {
        wave.retain(|b| !b.records.is_empty());
        if wave.is_empty() {
            return;
        }
        let mut jobs = Vec::with_capacity(wave.len());
        for batch in &mut wave {
            let traces = crate::wire::encode_batch(
                batch.records.iter().map(|(_, r)| r),
                &self.inner.config,
                &mut self.buf,
            );
            batch.attempts += 1;
            jobs.push((self.buf.clone(), batch.key.clone(), traces));
        }
        // A flush or shutdown waiting on us bounds the attempt, so its caller's deadline
        // holds even against a server that accepts and never answers.
        let left = self
            .waiters
            .iter()
            .map(|w| w.deadline)
            .min()
            .map(|d| d.saturating_duration_since(Instant::now()));
        let transport = self.transport.clone();
        let results: Vec<Result<(), Failure>> = self.rt.block_on(async move {
            let mut set = tokio::task::JoinSet::new();
            for (i, (body, key, traces)) in jobs.into_iter().enumerate() {
                let t = transport.clone();
                set.spawn(async move {
                    let send = t.send(body, &key, traces);
                    let r = match left {
                        Some(left) => tokio::time::timeout(left, send)
                            .await
                            .unwrap_or_else(|_| Err(crate::transport::cut_short())),
                        None => send.await,
                    };
                    (i, r)
                });
            }
            let mut out: Vec<Option<Result<(), Failure>>> = Vec::new();
            out.resize_with(set.len(), || None);
            while let Some(joined) = set.join_next().await {
                if let Ok((i, r)) = joined {
                    out[i] = Some(r);
                }
            }
            out.into_iter()
                .map(|r| r.unwrap_or_else(|| Err(crate::transport::cut_short())))
                .collect()
        });
        for (batch, result) in wave.into_iter().zip(results) {
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
            let capped = exp.min(MAX_BACKOFF);
            // Full jitter in [50%, 100%] so many clients do not retry in step.
            capped.mul_f64(0.5 + fastrand::f64() * 0.5)
        });
        batch.not_before =
            Instant::now() + backoff.min(MAX_BACKOFF.max(f.retry_after.unwrap_or_default()));
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
        let u = self.unsent.front().map(|(s, _)| *s).unwrap_or(u64::MAX);
        let r = self
            .retry
            .iter()
            .filter_map(|b| b.records.iter().map(|(s, _)| *s).min())
            .min()
            .unwrap_or(u64::MAX);
        u.min(r)
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
            } else {
                keep.push(w);
            }
        }
        self.waiters = keep;
    }

    fn answer_all(&mut self, timed_out: bool) {
        for w in std::mem::take(&mut self.waiters) {
            let _ = w.reply.send(self.inner.report(timed_out, 0));
        }
    }

    /// Until the next thing to do: a retry falling due, the flush interval, a deadline.
    fn sleep_for(&self) -> Duration {
        let now = Instant::now();
        let mut until = self.last_send + self.inner.config.flush_interval;
        if let Some(b) = self.retry.front() {
            until = until.min(b.not_before);
        }
        for w in &self.waiters {
            until = until.min(w.deadline);
        }
        if !self.waiters.is_empty() && (!self.unsent.is_empty() || !self.inner.queue.is_empty()) {
            return Duration::ZERO;
        }
        until
            .saturating_duration_since(now)
            .max(Duration::from_micros(100))
    }
}

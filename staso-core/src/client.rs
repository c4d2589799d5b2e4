//! The client: the bounded queue between callers and the batcher, the counters behind the
//! delivery report, and the process-wide current client that spans go to.

use crate::config::{Config, Env, InitError, Options, ProcessEnv};
use crate::report::{DeliveryReport, FailureKind};
use crate::span::SpanRecord;
use crossbeam_queue::ArrayQueue;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::*};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Extra time a caller waits for the batcher's own answer past its timeout.
const REPLY_MARGIN: Duration = Duration::from_millis(50);

/// Counters the report is made of; updated by the batcher, read by anyone.
#[derive(Default)]
pub(crate) struct Stats {
    /// Spans taken out of the queue by the batcher (final copies only).
    pub accepted: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
    pub last_failure: AtomicU8,
    pub retryable: AtomicBool,
}

impl Stats {
    pub(crate) fn note_failure(&self, kind: FailureKind, retryable: bool) {
        self.last_failure.store(kind.to_u8(), Relaxed);
        self.retryable.store(retryable, Relaxed);
    }
}

pub(crate) enum Command {
    Flush {
        deadline: Instant,
        reply: mpsc::Sender<DeliveryReport>,
    },
    Shutdown {
        deadline: Instant,
        reply: mpsc::Sender<DeliveryReport>,
    },
}

pub(crate) struct Inner {
    pub config: Config,
    pub queue: ArrayQueue<SpanRecord>,
    /// Provisional root copies: best effort, outside `max_queue_size`, so announcing a
    /// root never costs a real span its place. A full one drops the copy silently (the
    /// final copy carries everything).
    pub provisional: ArrayQueue<SpanRecord>,
    pub stats: Stats,
    pub closed: AtomicBool,
    pub wake_pending: AtomicBool,
    /// Wakes the batcher (it waits on this and on its requests at once).
    pub wake_signal: Arc<tokio::sync::Notify>,
    pub commands: Mutex<Vec<Command>>,
    join: Mutex<Option<JoinHandle<()>>>,
    final_report: Mutex<Option<DeliveryReport>>,
    last_queue_warning: AtomicU64,
    #[cfg(feature = "test-faults")]
    pub inject_panic: AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// The caller's side of a finished span: one push into the queue, never a wait.
    ///
    /// `pushed` counts this thread's pushes since it last looked at the queue's length to
    /// wake the batcher: the length reads the consumer's end of the queue, a cache line the
    /// batcher writes while it drains, so a thread looks once every `wake_stride` pushes
    /// (at most 1/8 of `batch_size`, so a batch is sent at most that many spans late per
    /// producing thread; the flush interval bounds the rest).
    #[inline]
    pub(crate) fn enqueue(&self, record: SpanRecord, pushed: &mut u32) {
        if self.closed.load(Relaxed) {
            if !record.provisional {
                self.reject(FailureKind::Shutdown);
            }
            return;
        }
        if record.provisional {
            let _ = self.provisional.push(record);
            return;
        }
        match self.queue.push(record) {
            Ok(()) => self.pushed_one(pushed),
            Err(_) => self.queue_full(),
        }
    }

    /// After a push: wakes the batcher once `batch_size` spans wait (looking at the
    /// queue's length once every `wake_stride` pushes of this thread, see `enqueue`).
    #[inline]
    fn pushed_one(&self, pushed: &mut u32) {
        *pushed += 1;
        if *pushed >= wake_stride(self.config.batch_size) {
            *pushed = 0;
            if self.queue.len() >= self.config.batch_size && !self.wake_pending.swap(true, AcqRel) {
                self.wake();
            }
        }
    }

    #[cold]
    fn queue_full(&self) {
        self.reject(FailureKind::QueueFull);
        self.warn_queue_full();
    }

    #[cold]
    fn reject(&self, kind: FailureKind) {
        self.stats.rejected.fetch_add(1, Relaxed);
        self.stats
            .note_failure(kind, kind == FailureKind::QueueFull);
    }

    /// At most one warning a minute, however many spans are dropped.
    #[cold]
    fn warn_queue_full(&self) {
        let now = crate::clock::now().0;
        let last = self.last_queue_warning.load(Relaxed);
        if (last == 0 || now.saturating_sub(last) > 60_000_000_000)
            && self
                .last_queue_warning
                .compare_exchange(last, now.max(1), Relaxed, Relaxed)
                .is_ok()
        {
            crate::diag::warn(&format!(
                "staso: span queue full (max_queue_size = {}), dropping spans; the count is in the delivery report",
                self.config.max_queue_size
            ));
        }
    }

    pub(crate) fn wake(&self) {
        self.wake_signal.notify_one();
    }

    /// The report from the counters alone (used when the batcher does not answer in time).
    pub(crate) fn report(&self, timed_out: bool, queued: u64) -> DeliveryReport {
        let s = &self.stats;
        let accepted = s.accepted.load(Acquire) + queued;
        let delivered = s.delivered.load(Acquire);
        let failed = s.failed.load(Acquire);
        DeliveryReport {
            accepted,
            delivered,
            failed,
            pending: accepted.saturating_sub(delivered + failed),
            rejected: s.rejected.load(Acquire),
            timed_out,
            last_failure: FailureKind::from_u8(s.last_failure.load(Acquire)),
            retryable: s.retryable.load(Acquire),
        }
    }

    fn command(
        &self,
        make: impl FnOnce(mpsc::Sender<DeliveryReport>) -> Command,
        timeout: Duration,
    ) -> DeliveryReport {
        let (tx, rx) = mpsc::channel();
        if let Ok(mut c) = self.commands.lock() {
            c.push(make(tx));
        }
        self.wake();
        match rx.recv_timeout(timeout + REPLY_MARGIN) {
            Ok(r) => r,
            Err(_) => self.report(true, self.queue.len() as u64),
        }
    }

    pub(crate) fn flush(&self, timeout: Duration) -> DeliveryReport {
        if self.is_finished() {
            return self.shutdown(timeout);
        }
        let deadline = Instant::now() + timeout;
        self.command(|reply| Command::Flush { deadline, reply }, timeout)
    }

    fn is_finished(&self) -> bool {
        self.join.lock().map(|j| j.is_none()).unwrap_or(true)
    }

    /// Stops accepting, drains within `timeout`, and stops the batcher. Idempotent: later
    /// calls return the first call's report (with the current rejection count).
    pub(crate) fn shutdown(&self, timeout: Duration) -> DeliveryReport {
        self.closed.store(true, Release);
        if let Ok(r) = self.final_report.lock() {
            if let Some(r) = r.as_ref() {
                let mut r = r.clone();
                r.rejected = self.stats.rejected.load(Acquire);
                return r;
            }
        }
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
        if let Ok(mut r) = self.final_report.lock() {
            if r.is_none() {
                *r = Some(report.clone());
            }
        }
        report
    }
}

/// A running client, returned by `init`. Keep it alive for the life of the program:
/// dropping it shuts the client down (waiting at most `shutdown_timeout` for delivery).
///
/// ```no_run
/// let client = staso_core::init(staso_core::Options {
///     api_key: Some("sk-...".into()),
///     agent_name: Some("support-bot".into()),
///     ..Default::default()
/// })?;
/// // ... run the agent ...
/// let report = client.shutdown(std::time::Duration::from_secs(5));
/// assert!(report.ok(), "{report:?}");
/// # Ok::<(), staso_core::InitError>(())
/// ```
#[must_use = "dropping the client shuts it down; keep it alive while the program runs"]
#[derive(Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Waits up to `timeout` for the spans accepted before this call to be delivered (or
    /// to fail), and reports.
    pub fn flush(&self, timeout: Duration) -> DeliveryReport {
        self.inner.flush(timeout)
    }

    /// Stops accepting spans, delivers what is queued within `timeout`, and stops the
    /// background thread. Calling it again returns the same report.
    pub fn shutdown(&self, timeout: Duration) -> DeliveryReport {
        let r = self.inner.shutdown(timeout);
        unset_global(&self.inner);
        r
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let timeout = self.inner.config.shutdown_timeout;
        self.shutdown(timeout);
    }
}

static GLOBAL: RwLock<Option<Arc<Inner>>> = RwLock::new(None);
/// Bumped whenever the global client changes; threads compare it with their cached copy.
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// A client exists and is enabled: the one load the disabled path pays.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// This thread's view of the global client.
struct Cached {
    /// The `GENERATION` the client was read at.
    generation: u64,
    client: Option<Arc<Inner>>,
    /// Pushes since this thread last looked at the queue's length (see `Inner::enqueue`).
    pushed: u32,
}

thread_local! {
    static CACHED: RefCell<Cached> = const {
        RefCell::new(Cached {
            generation: 0,
            client: None,
            pushed: 0,
        })
    };
}

/// How many spans a thread pushes between two looks at the queue's length.
#[inline]
fn wake_stride(batch_size: usize) -> u32 {
    (batch_size / 8).clamp(1, 64) as u32
}

/// Whether spans are recorded at all (a client is initialised and enabled).
#[inline]
pub(crate) fn active() -> bool {
    ACTIVE.load(Relaxed)
}

/// Runs `f` with the current client, from a per-thread cache: no lock unless the global
/// client changed since this thread last looked.
#[inline]
pub(crate) fn with_client<R>(f: impl FnOnce(&Inner) -> R) -> Option<R> {
    with_cached(|c, _| f(c))
}

/// [`with_client`], also handing out this thread's push counter.
#[inline]
fn with_cached<R>(f: impl FnOnce(&Inner, &mut u32) -> R) -> Option<R> {
    CACHED
        .try_with(|c| {
            let gen = GENERATION.load(Acquire);
            let mut c = c.try_borrow_mut().ok()?;
            if c.generation != gen {
                refresh(&mut c, gen);
            }
            let Cached { client, pushed, .. } = &mut *c;
            client.as_deref().map(|client| f(client, pushed))
        })
        .ok()
        .flatten()
}

#[cold]
fn refresh(c: &mut Cached, generation: u64) {
    *c = Cached {
        generation,
        client: GLOBAL.read().ok().and_then(|g| g.clone()),
        pushed: 0,
    };
}

#[inline]
pub(crate) fn enqueue(record: SpanRecord) {
    with_cached(|c, pushed| c.enqueue(record, pushed));
}

/// [`enqueue`] of a final record still in its frame on the stack, taken out (`None` left)
/// right at the push so that it is moved once. Without a client it stays where it is.
#[inline]
pub(crate) fn enqueue_from(slot: &mut Option<SpanRecord>) {
    with_cached(|c, pushed| {
        if c.closed.load(Relaxed) || slot.as_ref().is_some_and(|r| r.provisional) {
            if let Some(r) = slot.take() {
                c.enqueue(r, pushed);
            }
            return;
        }
        if let Some(r) = slot.take() {
            match c.queue.push(r) {
                Ok(()) => c.pushed_one(pushed),
                Err(_) => c.queue_full(),
            }
        }
    });
}

fn set_global(inner: Option<Arc<Inner>>) -> Option<Arc<Inner>> {
    let mut g = match GLOBAL.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    ACTIVE.store(inner.as_ref().is_some_and(|i| i.config.enabled), Release);
    let old = std::mem::replace(&mut *g, inner);
    GENERATION.fetch_add(1, AcqRel);
    old
}

fn unset_global(inner: &Arc<Inner>) {
    let mut g = match GLOBAL.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if g.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, inner)) {
        *g = None;
        ACTIVE.store(false, Release);
        GENERATION.fetch_add(1, AcqRel);
    }
}

/// The current client's configuration (for the capture decisions of the macros).
pub(crate) fn with_config<R>(f: impl FnOnce(&Config) -> R) -> Option<R> {
    with_client(|c| f(&c.config))
}

/// Starts the client from `options`, with environment variables filling what is unset.
/// Replaces (and shuts down) a client started before.
pub fn init(options: Options) -> Result<Client, InitError> {
    init_with_env(options, &ProcessEnv)
}

/// [`init`] reading fallbacks from `env` instead of the process environment (for tests).
pub fn init_with_env(options: Options, env: &dyn Env) -> Result<Client, InitError> {
    let config = options.resolve(env)?;
    crate::diag::set_debug(config.debug);
    crate::panic::install_hook();
    crate::exit::register();
    crate::registry::warn_duplicate_agents();
    let inner = Arc::new(Inner {
        queue: ArrayQueue::new(config.max_queue_size),
        provisional: ArrayQueue::new((config.max_queue_size / 10).clamp(16, 1024)),
        config,
        stats: Stats::default(),
        closed: AtomicBool::new(false),
        wake_pending: AtomicBool::new(false),
        wake_signal: Arc::new(tokio::sync::Notify::new()),
        commands: Mutex::new(Vec::new()),
        join: Mutex::new(None),
        final_report: Mutex::new(None),
        last_queue_warning: AtomicU64::new(0),
        #[cfg(feature = "test-faults")]
        inject_panic: AtomicBool::new(false),
    });
    if inner.config.enabled {
        let handle = crate::batcher::spawn(inner.clone()).map_err(InitError::Runtime)?;
        if let Ok(mut j) = inner.join.lock() {
            *j = Some(handle);
        }
    }
    crate::diag::debug(&format!(
        "staso: initialised for agent {:?} sending to {}",
        inner.config.agent_name, inner.config.base_url
    ));
    if let Some(old) = set_global(Some(inner.clone())) {
        old.shutdown(old.config.shutdown_timeout);
    }
    Ok(Client { inner })
}

fn global() -> Option<Arc<Inner>> {
    GLOBAL.read().ok().and_then(|g| g.clone())
}

/// Waits up to `timeout` for the spans accepted before this call to be delivered, and
/// reports. Without a client, the report says `disabled`.
pub fn flush(timeout: Duration) -> DeliveryReport {
    match global() {
        Some(c) if c.config.enabled => c.flush(timeout),
        _ => DeliveryReport::disabled(),
    }
}

/// Shuts the current client down (idempotent); see [`Client::shutdown`].
pub fn shutdown(timeout: Duration) -> DeliveryReport {
    match global() {
        Some(c) => {
            let r = if c.config.enabled {
                c.shutdown(timeout)
            } else {
                DeliveryReport::disabled()
            };
            unset_global(&c);
            r
        }
        None => DeliveryReport::disabled(),
    }
}

/// Shuts the current client down from the exit hook, bounded by its `shutdown_timeout`.
pub(crate) fn shutdown_at_exit() {
    if let Some(c) = global() {
        if c.config.enabled {
            let report = c.shutdown(c.config.shutdown_timeout);
            if !report.ok() {
                crate::diag::warn(&format!(
                    "staso: at exit {} span(s) delivered, {} failed, {} pending, {} rejected",
                    report.delivered, report.failed, report.pending, report.rejected
                ));
            }
        }
    }
}

#[cfg(feature = "test-faults")]
/// Makes the batcher thread panic once (tests of its recovery).
pub fn inject_batcher_panic() {
    if let Some(c) = global() {
        c.inject_panic.store(true, Release);
        c.wake();
    }
}

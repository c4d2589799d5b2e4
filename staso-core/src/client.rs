//! The process-wide client: `init`, `flush`, `shutdown`, the `Client` handle, and the
//! per-thread view of the current client that the hot path reads without a lock.

use crate::config::Config;
use crate::env::{Env, ProcessEnv};
use crate::export::batcher;
use crate::export::queue::{Lane, Queue};
use crate::local::record::{ExtrasBox, SpanRecord};
use staso_types::{DeliveryReport, InitError, Options};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// A client: its configuration, its queue, and its batcher (none when disabled).
pub(crate) struct ClientState {
    pub config: Arc<Config>,
    pub queue: Arc<Queue>,
    batcher: Option<batcher::Handle>,
    final_report: Mutex<Option<DeliveryReport>>,
}

impl std::fmt::Debug for ClientState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ClientState {
    fn flush(&self, timeout: Duration) -> DeliveryReport {
        match &self.batcher {
            Some(b) if b.is_finished() => self.shutdown(timeout),
            Some(b) => b.flush(timeout),
            None => DeliveryReport::disabled(),
        }
    }

    /// Stops accepting, drains within `timeout`, and stops the batcher. Idempotent: later
    /// calls return the first call's report, with the rejections counted since (spans that
    /// were open at shutdown and ended after it).
    fn shutdown(&self, timeout: Duration) -> DeliveryReport {
        self.queue.close();
        let Some(batcher) = &self.batcher else {
            return DeliveryReport::disabled();
        };
        if let Ok(r) = self.final_report.lock() {
            if let Some(r) = r.as_ref() {
                let now = self.queue.report(false);
                let mut r = r.clone();
                if now.rejected != r.rejected {
                    r.rejected = now.rejected;
                    r.last_failure = now.last_failure;
                    r.retryable = now.retryable;
                }
                return r;
            }
        }
        let report = batcher.shutdown(timeout);
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
/// let client = staso_core::init(
///     staso_core::Options::new().api_key("ak_...").agent_name("support-bot"),
/// )?;
/// // ... run the agent ...
/// let report = client.shutdown(std::time::Duration::from_secs(5));
/// assert!(report.ok(), "{report:?}");
/// # Ok::<(), staso_core::InitError>(())
/// ```
#[must_use = "dropping the client shuts it down; keep it alive while the program runs"]
#[derive(Debug)]
pub struct Client {
    inner: Arc<ClientState>,
    previous: Option<DeliveryReport>,
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

    /// The shutdown report of the client this one replaced (`init` called again), if any.
    pub fn previous_shutdown_report(&self) -> Option<&DeliveryReport> {
        self.previous.as_ref()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let timeout = self.inner.config.shutdown_timeout;
        self.shutdown(timeout);
    }
}

static GLOBAL: RwLock<Option<Arc<ClientState>>> = RwLock::new(None);
/// Bumped whenever the global client changes; threads compare it with their cached copy.
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// Whether spans are started at all, in one word so the disabled path pays one load: bit
/// 0 says a client exists and is enabled; the rest counts test captures running (each
/// adds [`CAPTURE`]), during which spans start even without a client.
static ON: AtomicUsize = AtomicUsize::new(0);

/// What a running test capture adds to [`ON`].
const CAPTURE: usize = 2;

/// This thread's view of the global client. Kept beside the thread's frame stack (see
/// `context::Local`), so that ending a span visits one thread-local.
pub(crate) struct Cached {
    /// The `GENERATION` the client was read at.
    generation: u64,
    client: Option<Arc<ClientState>>,
    /// This thread's lane into the client's queue, made at its first span.
    lane: Option<Lane>,
    /// This thread's counted handle on the client's configuration, made at its first
    /// capture: taking it for a capture is then a non-atomic count on this thread's own
    /// memory, not an atomic one on the `Arc` every thread shares.
    config: Option<ThreadConfig>,
}

impl Cached {
    /// A thread that has not looked at the client yet.
    pub(crate) const EMPTY: Cached = Cached {
        generation: 0,
        client: None,
        lane: None,
        config: None,
    };
}

/// A thread's handle on a client's configuration (see [`Cached::config`]).
#[allow(clippy::redundant_allocation)]
pub(crate) type ThreadConfig = std::rc::Rc<Arc<Config>>;

/// The client's generation: it changes whenever the global client does.
#[inline(always)]
pub(crate) fn generation() -> u64 {
    GENERATION.load(Acquire)
}

/// Whether spans are recorded at all (a client is initialised and enabled).
#[inline]
pub(crate) fn active() -> bool {
    ON.load(Relaxed) & 1 != 0
}

/// Whether a span started now may be recorded: a client is active or a test capture runs
/// (see [`ON`]).
#[inline(always)]
pub(crate) fn started() -> bool {
    ON.load(Relaxed) != 0
}

/// Counts a test capture that starts (`true`) or ends.
pub(crate) fn count_capture(starts: bool) {
    if starts {
        ON.fetch_add(CAPTURE, Relaxed);
    } else {
        ON.fetch_sub(CAPTURE, Relaxed);
    }
}

/// Records in [`ON`] whether a client is active.
fn set_active(on: bool) {
    if on {
        ON.fetch_or(1, Release);
    } else {
        ON.fetch_and(!1, Release);
    }
}

/// Runs `f` with the current client, from a per-thread cache: no lock unless the global
/// client changed since this thread last looked.
#[inline]
pub(crate) fn with_client<R>(f: impl FnOnce(&ClientState) -> R) -> Option<R> {
    with_cached(|c, _| f(c))
}

/// [`with_client`], also handing out this thread's lane (if it has one yet).
#[inline(always)]
fn with_cached<R>(f: impl FnOnce(&ClientState, &mut Option<Lane>) -> R) -> Option<R> {
    with_fresh(|c| {
        let Cached { client, lane, .. } = c;
        client.as_deref().map(|client| f(client, lane))
    })
}

/// Runs `f` on this thread's cache, brought up to date first if the global client
/// changed since this thread last looked.
#[inline(always)]
fn with_fresh<R>(f: impl FnOnce(&mut Cached) -> Option<R>) -> Option<R> {
    crate::local::context::with_client_cache(|c| fresh_in(c, f))
}

/// [`with_fresh`] on a cache the caller already holds (the thread-local visited once).
#[inline(always)]
fn fresh_in<R>(cache: &RefCell<Cached>, f: impl FnOnce(&mut Cached) -> Option<R>) -> Option<R> {
    let gen = GENERATION.load(Acquire);
    let mut c = cache.try_borrow_mut().ok()?;
    if c.generation != gen {
        refresh(&mut c, gen);
    }
    f(&mut c)
}

/// Takes the current global client. When there is none any more because this thread's
/// client was shut down, the thread keeps it: a span that started before the shutdown
/// and ends after it then reaches the closed client, which counts it as rejected.
#[cold]
fn refresh(c: &mut Cached, generation: u64) {
    // What the cache is about to hold (a client, later its lane) is dropped at the
    // thread's end only once its cleanup is armed; past that end nothing is stored.
    if !crate::local::locals::arm() {
        return;
    }
    c.generation = generation;
    let current = GLOBAL.read().ok().and_then(|g| g.clone());
    let same = match (&current, &c.client) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, Some(old)) => old.queue.is_closed(),
        _ => false,
    };
    if !same {
        c.lane = None;
        c.config = None;
        c.client = current;
    } else if let Some(lane) = &mut c.lane {
        // The same client, perhaps shut down since (see `Queue::close`).
        lane.notice_close();
    }
}

/// Sends the record in `slot` to the current client (taken out right at the push, so it
/// is moved once); a root's provisional copy goes to the queue's best-effort store, not a
/// lane. Without a client it stays where it is.
#[inline]
pub(crate) fn send_from(slot: &mut Option<SpanRecord>) {
    if slot.as_ref().is_some_and(|r| r.provisional) {
        if let Some(r) = slot.take() {
            with_client(|c| c.queue.push_provisional(r));
        }
        return;
    }
    crate::local::context::with_client_cache(|cache| {
        send_ended_in(cache, slot);
        Some(())
    });
}

/// [`send_in`] for the end of a span whose record may hold a box of only an instrumented
/// function's tapes (an async one's): they travel beside the record, and the box stays
/// with the thread ([`send_taped_in`]). Says what `send_in` says. Inlined as a whole, as
/// `send_in` is: out of line it cost an async span 20 instructions (callgrind).
#[inline(always)]
pub(crate) fn send_ended_in(cache: &RefCell<Cached>, slot: &mut Option<SpanRecord>) -> bool {
    match slot.as_mut().and_then(SpanRecord::take_tapes_only) {
        Some(tapes) => send_taped_in(cache, slot, tapes),
        None => send_in(cache, slot),
    }
}

/// [`send_from`] through this thread's cache, which the caller holds, for a record that
/// is not a provisional copy (the end of a span). True when the record left `slot` (sent,
/// or rejected and counted); known without a test on the lane's path, so the end of a
/// span does not test the slot again.
#[inline(always)]
pub(crate) fn send_in(cache: &RefCell<Cached>, slot: &mut Option<SpanRecord>) -> bool {
    // Inlined as a whole: on every span's end.
    fresh_in(
        cache,
        #[inline(always)]
        |c| {
            let Cached { client, lane, .. } = c;
            // A lane is made from the cached client and dropped with it, so a thread
            // with a lane has that client: only the first push looks at it.
            match lane {
                Some(lane) => lane.push_from(slot),
                None => first_push(lane, client.as_deref()?, slot),
            }
            Some(())
        },
    );
    slot.is_none()
}

/// [`send_in`] for a span that kept its captured tapes in `tapes`, a box holding nothing
/// else (see `Lane::push_taped`). A body of its own: one shared with `send_in`, the box
/// an `Option` known to be `None` there, cost a span that captures nothing 10
/// instructions (callgrind, `hot nothing`: 376 → 386).
#[inline(always)]
pub(crate) fn send_taped_in(
    cache: &RefCell<Cached>,
    slot: &mut Option<SpanRecord>,
    tapes: ExtrasBox,
) -> bool {
    fresh_in(
        cache,
        #[inline(always)]
        |c| {
            let Cached { client, lane, .. } = c;
            match lane {
                Some(lane) => lane.push_taped(slot, tapes),
                None => {
                    if let Some(r) = slot.as_mut() {
                        r.keep_tapes(tapes);
                    }
                    first_push(lane, client.as_deref()?, slot)
                }
            }
            Some(())
        },
    );
    slot.is_none()
}

/// A box for the tapes of a span this thread captures: one its lane kept (see
/// `Lane::scratch`), else one from the pool.
#[inline]
pub(crate) fn scratch_box() -> ExtrasBox {
    crate::local::context::with_client_cache(|c| {
        Some(c.try_borrow_mut().ok()?.lane.as_mut()?.scratch())
    })
    .unwrap_or_else(ExtrasBox::take)
}

/// This thread's first span for this client: its lane is made, then the span pushed.
#[cold]
#[inline(never)]
fn first_push(lane: &mut Option<Lane>, client: &ClientState, slot: &mut Option<SpanRecord>) {
    lane.insert(client.queue.lane()).push_from(slot);
}

/// Every thread compares its cached client with the global one again at its next span
/// (the client changed, or its queue was closed).
pub(crate) fn changed() {
    GENERATION.fetch_add(1, AcqRel);
}

fn set_global(inner: Option<Arc<ClientState>>) -> Option<Arc<ClientState>> {
    let mut g = match GLOBAL.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    set_active(inner.as_ref().is_some_and(|i| i.config.enabled));
    let old = std::mem::replace(&mut *g, inner);
    changed();
    old
}

fn unset_global(inner: &Arc<ClientState>) {
    let mut g = match GLOBAL.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if g.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, inner)) {
        *g = None;
        set_active(false);
        changed();
    }
}

/// This thread's handle on the current client's configuration (made at the thread's first
/// capture under this client); `None` without a client. One visit of the thread's cache.
#[inline]
pub(crate) fn thread_config() -> Option<ThreadConfig> {
    with_fresh(|c| {
        let Cached { client, config, .. } = c;
        let client = client.as_deref()?;
        Some(
            config
                .get_or_insert_with(|| std::rc::Rc::new(client.config.clone()))
                .clone(),
        )
    })
}

/// The current client's configuration (for the capture decisions of the macros).
pub(crate) fn with_config<R>(f: impl FnOnce(&Config) -> R) -> Option<R> {
    with_client(|c| f(&c.config))
}

/// Starts the client from `options`, with environment variables filling what is unset.
/// Replaces (and shuts down) a client started before.
///
/// Side effects, each with an option to turn it off: a panic hook is chained in front of
/// the one installed (`install_panic_hook`; it keeps the panic message for the span the
/// panic unwinds through and then calls the previous hook), and an `atexit` hook flushes
/// within `shutdown_timeout` at process exit (`install_exit_hook`).
pub fn init(options: Options) -> Result<Client, InitError> {
    init_with_env(options, &ProcessEnv)
}

/// [`init`] reading fallbacks from `env` instead of the process environment (for tests).
pub fn init_with_env(options: Options, env: &dyn Env) -> Result<Client, InitError> {
    let config = Arc::new(crate::config::resolve(&options, env)?);
    crate::diag::set_debug(config.debug);
    // The clock's one-time calibration happens here, not in the first span.
    crate::local::clock::calibrate();
    if config.install_panic_hook {
        crate::panic::install_hook();
    }
    if config.install_exit_hook {
        crate::exit::register(shutdown_at_exit);
    }
    crate::registry::warn_duplicate_agents();
    let destinations = if config.enabled {
        crate::export::destination::names(&config)
    } else {
        Vec::new()
    };
    let queue = Arc::new(
        Queue::new(config.max_queue_size, config.batch_size, &destinations)
            .with_max_bytes(config.max_queue_bytes),
    );
    let batcher = if config.enabled {
        Some(batcher::spawn(queue.clone(), config.clone()).map_err(InitError::Runtime)?)
    } else {
        None
    };
    let inner = Arc::new(ClientState {
        config,
        queue,
        batcher,
        final_report: Mutex::new(None),
    });
    let mut to = Vec::new();
    if inner.config.staso_ingest {
        to.push(inner.config.base_url.clone());
    }
    if let Some(o) = &inner.config.otlp {
        to.push(format!("{} (OTLP, {})", o.endpoint, o.protocol));
    }
    crate::diag::debug(&format!(
        "staso: initialised for agent {:?} sending to {} (tracing {})",
        inner.config.agent_name,
        to.join(" and "),
        if inner.config.enabled { "on" } else { "off" }
    ));
    let previous =
        set_global(Some(inner.clone())).map(|old| old.shutdown(old.config.shutdown_timeout));
    if inner.config.enabled {
        prepare_thread();
    }
    Ok(Client { inner, previous })
}

/// Sets up, on the thread that called `init` (usually the one that runs the agent), what
/// its first span would otherwise pay for: the per-thread client cache and queue lane,
/// the id generator's seed and room on the frame stack (~15 µs, once).
fn prepare_thread() {
    with_cached(|c, lane| {
        lane.get_or_insert_with(|| c.queue.lane());
    });
    crate::local::ids::seed();
    crate::local::context::reserve();
}

fn global() -> Option<Arc<ClientState>> {
    GLOBAL.read().ok().and_then(|g| g.clone())
}

/// Waits up to `timeout` for the spans accepted before this call to be delivered, and
/// reports. Without a client (or with tracing disabled) it returns at once and the report
/// says `disabled`.
pub fn flush(timeout: Duration) -> DeliveryReport {
    match global() {
        Some(c) => c.flush(timeout),
        None => DeliveryReport::disabled(),
    }
}

/// Shuts the current client down (idempotent); see [`Client::shutdown`].
pub fn shutdown(timeout: Duration) -> DeliveryReport {
    match global() {
        Some(c) => {
            let r = c.shutdown(timeout);
            unset_global(&c);
            r
        }
        None => DeliveryReport::disabled(),
    }
}

/// Shuts the current client down from the exit hook, bounded by its `shutdown_timeout`.
fn shutdown_at_exit() {
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

/// Steps the wall clock the SDK sees by `by_ns` and re-anchors at once, as the batcher
/// does every minute (tests of NTP steps).
#[cfg(feature = "test-faults")]
pub fn step_wall_clock(by_ns: i64) {
    crate::local::clock::step_wall_clock(by_ns);
    crate::local::clock::reanchor();
}

/// How many times the current client's batcher has parked, having had nothing to do for
/// a while (tests of its wake-up; 0 without a client).
#[cfg(feature = "test-faults")]
pub fn batcher_parks() -> u64 {
    global().as_ref().map_or(0, |c| c.queue.wake.parks())
}

#[cfg(feature = "test-faults")]
/// Makes the batcher thread panic once (tests of its recovery).
pub fn inject_batcher_panic() {
    if let Some(b) = global().as_ref().and_then(|c| c.batcher.as_ref()) {
        b.inject_panic();
    }
}

//! The background thread that turns queued spans into delivered batches: sends when
//! `batch_size` spans wait, when `flush_interval` passes, on flush and on shutdown; keeps
//! failed retryable batches (within `max_queue_size`, oldest dropped first) and retries
//! them with backoff for as long as it takes. It owns a small current-thread tokio
//! runtime, so it works the same under a user's runtime or none. Up to `MAX_IN_FLIGHT`
//! requests per destination run at once and complete independently: a stalled one holds
//! nothing else.
//!
//! Every batch goes to every destination (the Staso ingest, an OTLP endpoint), each with
//! its own retry state (`destination`). A span holds its credit until all of them have
//! settled it: it is delivered when every one acknowledged it, failed when one gave up.

use super::annotations::AnnotationSender;
use super::destination::{self, Delivery, Destination, Outcome, MAX_IN_FLIGHT};
use super::held::{Held, PROVISIONAL_IDS};
use super::queue::{LaneEnd, Queue};
use super::transport::{backoff, Failure};
use crate::config::Config;
use crate::local::capture::RulesHandle;
use crate::local::record::SpanRecord;
use staso_types::{DeliveryReport, FailureKind};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

use super::handle::Command;

mod wait;
pub(crate) use super::handle::Handle;

/// How often the wall-clock offset is measured again (see `clock`).
const REANCHOR_EVERY: Duration = Duration::from_secs(60);

/// Bytes of one slot of the batcher's store of spans.
pub(crate) const HELD_SLOT_BYTES: usize = std::mem::size_of::<Option<Holding>>();

/// Bytes of a span the store holds outside its ring (see `held::map_bytes`).
pub(crate) const HOLDING_BYTES: usize = std::mem::size_of::<Holding>();

/// A span taken from the queue, until every destination that takes it has settled it.
/// It holds its credit until then.
struct Holding {
    record: SpanRecord,
    /// Destinations that have not settled it yet; 0 while it is in no batch yet (a span
    /// every destination is done with is let go at once).
    waiting: u8,
    /// Some destination gave up on it.
    gave_up: bool,
}

struct Waiter {
    barrier: u64,
    /// The last annotation accepted before the call (see `AnnotationSender::barrier`).
    annotations: u64,
    deadline: Instant,
    reply: mpsc::Sender<DeliveryReport>,
    shutdown: bool,
}

type Joined = Result<(tokio::task::Id, Outcome), tokio::task::JoinError>;

struct Batcher {
    queue: Arc<Queue>,
    /// The batcher's ends of the threads' lanes.
    lanes: Vec<LaneEnd>,
    config: Arc<Config>,
    commands: Arc<Mutex<Vec<Command>>>,
    #[cfg(feature = "test-faults")]
    inject_panic: Arc<std::sync::atomic::AtomicBool>,
    destinations: Vec<Destination>,
    rt: tokio::runtime::Runtime,
    /// Provisional root copies waiting to ride along with the next batch. No flush waits
    /// for them and they are outside `max_queue_size`; as many as their queue holds at
    /// most (see `Queue::take_provisional`), allocated at `init`.
    provisional: Vec<SpanRecord>,
    /// Every span taken from the queue, by sequence number, until every destination has
    /// settled it: those in no batch yet (`first_unsent..next_seq`, the newest) and those
    /// of the batches in delivery; provisional copies from `PROVISIONAL_IDS` on. One store,
    /// so a span is moved once on its way (lane to here) and what the batcher keeps is
    /// one ring within the bound.
    held: Held<Holding>,
    /// The sequence number of the oldest span in no batch yet (`next_seq` when none).
    first_unsent: u64,
    next_provisional: u64,
    in_flight: JoinSet<Outcome>,
    /// The deliveries being sent, with their destination, by their request's task (kept
    /// here, not in the task, so a request that panics or is cancelled still gives its
    /// delivery back).
    sent_by_task: HashMap<tokio::task::Id, (usize, Delivery)>,
    next_seq: u64,
    last_send: Instant,
    last_reanchor: Instant,
    /// When the batcher last had spans to move: until `IDLE` after it, it ticks rather
    /// than parks (see `queue::wake`).
    last_busy: Instant,
    waiters: Vec<Waiter>,
    /// The shutdown request has been answered: the thread ends.
    shutdown_answered: bool,
    buf: Vec<u8>,
    annotations: AnnotationSender,
}

/// Starts the batcher thread that delivers what `queue` takes in (to the destinations of
/// `config`, in the order the queue counts them: see `destination::names`).
pub(crate) fn spawn(queue: Arc<Queue>, config: Arc<Config>) -> Result<Handle, String> {
    let destinations = destination::build(&config)?;
    let annotations = AnnotationSender::new(&config, queue.wake.signal())?;
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
        destinations,
        rt,
        provisional: Vec::with_capacity(queue.provisional_capacity()),
        held: Held::within(queue.max()),
        first_unsent: 1,
        next_provisional: PROVISIONAL_IDS,
        in_flight: JoinSet::new(),
        sent_by_task: HashMap::new(),
        next_seq: 1,
        last_send: Instant::now(),
        last_reanchor: Instant::now(),
        last_busy: Instant::now(),
        waiters: Vec::new(),
        shutdown_answered: false,
        buf: Vec::with_capacity(destination::BODY_BYTES),
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
        // Spare lane segments, allocated here rather than on a thread whose lane fills.
        self.queue.make_spares();
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
        let wanted = self.queue.wake.take_wanted();
        self.take_commands();
        let batch_size = self.config.batch_size;
        let interval_passed = self.last_send.elapsed() >= self.config.flush_interval;
        let urgent = !self.waiters.is_empty();
        // Spans stay in their lanes until there is a reason to send them (a lane filled a
        // batch, the interval, a flush): the lanes are the buffer.
        let seen = self.next_seq;
        if urgent || interval_passed || wanted {
            self.drain();
        }
        // Oldest first: deliveries that fell due (retries), then new batches, each while
        // some destination may start a request (a batch waits at a busy one).
        self.launch_due();
        let mut batches = 0;
        while batches < MAX_IN_FLIGHT * self.destinations.len()
            && self.destinations.iter().any(Destination::has_room)
            && (self.unsent() >= batch_size
                || ((self.unsent() > 0 || !self.provisional.is_empty())
                    && (urgent || interval_passed)))
        {
            self.form_batch(batch_size);
            self.launch_due();
            batches += 1;
            // Encoding a batch takes a while: empty the lanes before they fill up.
            self.drain();
        }
        if interval_passed || urgent {
            self.last_send = Instant::now();
        }
        if wanted || self.next_seq != seen || !self.in_flight.is_empty() {
            self.last_busy = Instant::now();
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

    /// Moves every span waiting in the lanes into `held`, numbering it (in no batch yet).
    /// The bound needs no check here: every span held anywhere holds a credit (see
    /// `queue`).
    fn drain(&mut self) {
        let before = self.provisional.len();
        self.queue.take_provisional(&mut self.provisional);
        for r in &mut self.provisional[before..] {
            r.resolve_tapes(|| RulesHandle::Shared(self.config.clone()));
        }
        let (held, next_seq) = (&mut self.held, &mut self.next_seq);
        let config = &self.config;
        self.queue.drain(&mut self.lanes, |mut record| {
            record.resolve_tapes(|| RulesHandle::Shared(config.clone()));
            let h = Holding {
                record,
                waiting: 0,
                gave_up: false,
            };
            held.insert(*next_seq, h);
            *next_seq += 1;
        });
        self.enforce_bound();
    }

    /// How many spans are in no batch yet.
    fn unsent(&self) -> usize {
        (self.next_seq - self.first_unsent) as usize
    }

    /// During an outage, retries must not starve new spans: when the pool of credits runs
    /// low, the oldest spans waiting for a *retry* are dropped (counted as failed) at every
    /// destination that retries them, and their credits go back to the pool once no
    /// destination holds them. A span a destination has not tried yet is never dropped
    /// there: one destination's outage never costs another its spans.
    fn enforce_bound(&mut self) {
        let low_water = (self.queue.max() / 16).max(1);
        let mut dropped = 0usize;
        while self.queue.available() < low_water {
            let oldest = self
                .destinations
                .iter()
                .flat_map(|d| d.waiting.iter())
                .filter(|w| w.attempts > 0)
                .filter_map(|w| w.ids.iter().min())
                .min()
                .copied();
            let Some(id) = oldest else { break };
            for d in 0..self.destinations.len() {
                if self.destinations[d].drop_retry(id) {
                    self.queue.note_failure_at(d, FailureKind::QueueFull, true);
                    self.settle(d, &[id], true);
                }
            }
            dropped += usize::from(id < PROVISIONAL_IDS);
        }
        if dropped > 0 {
            crate::diag::warn(&format!(
                "staso: dropped the {dropped} oldest span(s) waiting for a retry to stay within max_queue_size"
            ));
        }
    }

    /// Makes a batch of the provisional copies and the oldest spans waiting, holds its
    /// spans, and hands it to every destination that takes them.
    fn form_batch(&mut self, batch_size: usize) {
        let p = self.provisional.len().min(batch_size);
        let n = self.unsent().min(batch_size - p);
        let mut ids: Vec<Vec<u64>> = vec![Vec::with_capacity(p + n); self.destinations.len()];
        let Batcher {
            provisional,
            held,
            destinations,
            next_provisional,
            first_unsent,
            ..
        } = self;
        // Every destination that takes it waits for it.
        let mut take = |id: u64, h: &mut Holding| {
            for (d, dest) in destinations.iter().enumerate() {
                if dest.accepts(&h.record) {
                    ids[d].push(id);
                    h.waiting += 1;
                }
            }
        };
        for record in provisional.drain(..p) {
            let id = *next_provisional;
            *next_provisional += 1;
            let mut h = Holding {
                record,
                waiting: 0,
                gave_up: false,
            };
            take(id, &mut h);
            // A provisional copy no destination takes is dropped here.
            if h.waiting > 0 {
                held.insert(id, h);
            }
        }
        // The spans stay where they are held; only their count of destinations changes.
        for id in *first_unsent..*first_unsent + n as u64 {
            held.update(id, |h| {
                take(id, h);
                // Every destination takes a final span, so none is let go here.
                h.waiting == 0
            });
        }
        *first_unsent += n as u64;
        for (dest, ids) in self.destinations.iter_mut().zip(ids) {
            if !ids.is_empty() {
                dest.schedule(Delivery::new(ids));
            }
        }
    }

    /// Starts every delivery that is due, at each destination with room for it.
    fn launch_due(&mut self) {
        let now = Instant::now();
        for d in 0..self.destinations.len() {
            while let Some(delivery) = self.destinations[d].next_due(now) {
                self.launch(d, delivery);
            }
        }
    }

    /// Encodes a delivery and starts sending it to destination `d`.
    fn launch(&mut self, d: usize, mut delivery: Delivery) {
        let held = &self.held;
        let records: Vec<&SpanRecord> = delivery
            .ids
            .iter()
            .filter_map(|id| held.get(*id).map(|h| &h.record))
            .collect();
        if records.is_empty() {
            return;
        }
        delivery.attempts += 1;
        let dest = &mut self.destinations[d];
        let request = dest.request(&records, &delivery.key, &self.config, &mut self.buf);
        dest.in_flight += 1;
        let _guard = self.rt.enter();
        let handle = self.in_flight.spawn(request);
        self.sent_by_task.insert(handle.id(), (d, delivery));
    }

    /// Takes back the delivery of a finished request and files its outcome.
    fn joined(&mut self, joined: Joined) {
        let (id, result) = match joined {
            Ok((id, r)) => (id, r),
            Err(e) => (e.id(), Err(super::transport::cut_short())),
        };
        if let Some((d, delivery)) = self.sent_by_task.remove(&id) {
            self.destinations[d].in_flight -= 1;
            self.finished(d, delivery, result);
        }
    }

    /// Files the outcome of one request to destination `d`.
    fn finished(&mut self, d: usize, delivery: Delivery, result: Outcome) {
        let refused = match result {
            Ok(refused) => refused,
            Err(f) => return self.failed(d, delivery, f),
        };
        crate::diag::debug(&format!(
            "staso: delivered {} span(s) to {} (attempt {})",
            delivery.ids.len(),
            self.destinations[d].name,
            delivery.attempts
        ));
        if refused == 0 {
            return self.settle(d, &delivery.ids, false);
        }
        // A partial success: the receiver took the request but refused some spans (it
        // does not say which: the count is what the report can be exact about).
        let finals: Vec<u64> = delivery
            .ids
            .iter()
            .copied()
            .filter(|id| *id < PROVISIONAL_IDS)
            .collect();
        let cut = finals.len().saturating_sub(refused as usize);
        let f = Failure {
            kind: FailureKind::MalformedResponse,
            status: None,
            retryable: false,
            retry_after: None,
            too_large: false,
            detail: format!("the receiver refused {refused} span(s) of the batch"),
        };
        self.destinations[d].log_failure(&f);
        self.queue.note_failure_at(d, f.kind, false);
        self.settle(d, &finals[..cut], false);
        self.settle(d, &finals[cut..], true);
        let provisional: Vec<u64> = delivery
            .ids
            .iter()
            .copied()
            .filter(|id| *id >= PROVISIONAL_IDS)
            .collect();
        self.settle(d, &provisional, false);
    }

    fn failed(&mut self, d: usize, mut delivery: Delivery, f: Failure) {
        self.destinations[d].log_failure(&f);
        self.queue.note_failure_at(d, f.kind, f.retryable);
        let dest = &mut self.destinations[d];
        if f.too_large && delivery.ids.len() > 1 {
            // Split and retry the halves at once: one oversized span must not hold the
            // others back.
            let second = delivery.ids.split_off(delivery.ids.len() / 2);
            dest.waiting.push_front(Delivery::new(second));
            dest.waiting.push_front(Delivery::new(delivery.ids));
            return;
        }
        if !f.retryable {
            return self.settle(d, &delivery.ids, true);
        }
        delivery.not_before = Instant::now() + backoff(delivery.attempts, f.retry_after);
        dest.schedule(delivery);
        self.enforce_bound();
    }

    /// Destination `d` is done with the spans `ids` (acknowledged, or `gave_up`). A span
    /// every destination is done with leaves: counted (delivered only if none gave up)
    /// and its credit returned.
    fn settle(&mut self, d: usize, ids: &[u64], gave_up: bool) {
        let (mut here, mut delivered, mut failed) = (0u64, 0u64, 0u64);
        for id in ids {
            let mut failed_somewhere = false;
            // One lookup; a span done with is dropped where it is held.
            let done = self.held.update(*id, |h| {
                h.gave_up |= gave_up;
                h.waiting = h.waiting.saturating_sub(1);
                failed_somewhere = h.gave_up;
                h.waiting == 0
            });
            let Some(done) = done else {
                continue;
            };
            let span = *id < PROVISIONAL_IDS;
            here += u64::from(span);
            if done && span && failed_somewhere {
                failed += 1;
            } else if done && span {
                delivered += 1;
            }
        }
        let (ok, lost) = if gave_up { (0, here) } else { (here, 0) };
        self.queue.settled_at(d, ok, lost);
        self.queue.delivered(delivered);
        self.queue.gave_up(failed);
        self.queue.release((delivered + failed) as usize);
    }

    /// The smallest sequence number not yet delivered or failed.
    fn oldest_outstanding(&self) -> u64 {
        // Spans in no batch yet are held too.
        self.held.oldest_span().unwrap_or(u64::MAX)
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
}

//! How the batcher learns that a lane filled a batch without the caller's thread paying
//! for a wake-up.
//!
//! Waking a parked thread is a system call on the waker's side (tokio's `Notify` unparks
//! the batcher's runtime through an eventfd write): about 2.4 µs of the caller's CPU here
//! (`wake_cost` in `benches/examples`), the price of some 60 spans. So the batcher, while
//! it has been busy lately, does not park: it looks at the lanes every [`TICK`] on its own,
//! and a lane that fills a batch only raises a flag. Only a batcher idle for [`IDLE`]
//! parks, and says so first; a lane that fills a batch then wakes it, once. A full
//! batch thus leaves within a tick, and a thread that ends spans while the SDK is busy
//! never makes a system call for it.
//!
//! The handshake is the usual one for a sleeper and a flag, each side's store and load
//! separated by a sequentially consistent fence: the batcher clears `awake` and then
//! reads `wanted`; a lane sets `wanted` and then reads `awake`. Either the batcher sees
//! the flag and stays up, or the lane sees it parked and notifies it (`Notify` keeps the
//! permit if the batcher has not started waiting yet): no wake-up is lost. (Fences rather
//! than `SeqCst` accesses: loom checks the fences, and treats `SeqCst` accesses as
//! acquire/release, under which it finds the lost wake-up.) `tests/loom` compiles this
//! file under loom (`--cfg loom`, with a permit flag for the signal) and checks every
//! interleaving.

#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering::*};
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

#[cfg(not(loom))]
type Signal = tokio::sync::Notify;

/// Under loom: the permit `Notify` keeps for a waiter, as a flag.
#[cfg(loom)]
pub(crate) struct Signal(AtomicBool);

#[cfg(loom)]
impl Signal {
    fn new() -> Signal {
        Signal(AtomicBool::new(false))
    }
    fn notify_one(&self) {
        self.0.store(true, SeqCst);
    }
    /// Whether a waiter would be woken now.
    pub(crate) fn has_permit(&self) -> bool {
        self.0.load(SeqCst)
    }
}

/// How often a busy batcher looks at the lanes on its own.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// How long a batcher that has nothing to do keeps ticking before it parks.
pub(crate) const IDLE: Duration = Duration::from_millis(50);

/// The flag, the sleeper's state and the signal that wakes it.
pub(crate) struct Wake {
    /// A lane filled a batch since the batcher last looked.
    wanted: AtomicBool,
    /// The batcher is not parked (it ticks, or works): lanes need not notify it.
    awake: AtomicBool,
    signal: Arc<Signal>,
    /// How many times the batcher parked (tests wait for it).
    parks: AtomicU64,
}

impl Wake {
    pub(crate) fn new() -> Wake {
        Wake {
            wanted: AtomicBool::new(false),
            awake: AtomicBool::new(true),
            signal: Arc::new(Signal::new()),
            parks: AtomicU64::new(0),
        }
    }

    /// A lane filled a batch: raise the flag, and wake the batcher only if it is parked.
    #[cold]
    pub(crate) fn want_drain(&self) {
        self.wanted.store(true, Release);
        fence(SeqCst);
        if !self.awake.load(Relaxed) {
            self.signal.notify_one();
        }
    }

    /// Wakes the batcher whatever it does (a flush, a shutdown, a thread's last spans).
    pub(crate) fn wake(&self) {
        self.signal.notify_one();
    }

    /// Whether a lane asked for a drain since the last call.
    pub(crate) fn take_wanted(&self) -> bool {
        self.wanted.swap(false, AcqRel)
    }

    /// The batcher is about to park: false (and still awake) when a lane asked for a
    /// drain meanwhile, true when it may park and lanes will notify it.
    pub(crate) fn may_park(&self) -> bool {
        self.awake.store(false, Relaxed);
        fence(SeqCst);
        if self.wanted.load(Relaxed) {
            self.awake.store(true, Relaxed);
            return false;
        }
        self.parks.fetch_add(1, Relaxed);
        true
    }

    /// How many times the batcher parked (read by `batcher_parks`, under `test-faults`).
    #[allow(dead_code)]
    pub(crate) fn parks(&self) -> u64 {
        self.parks.load(Relaxed)
    }

    /// The batcher is up again.
    pub(crate) fn woke(&self) {
        self.awake.store(true, Relaxed);
    }

    /// What the batcher waits on.
    pub(crate) fn signal(&self) -> Arc<Signal> {
        self.signal.clone()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_ticking_batcher_is_not_notified_and_a_parked_one_is() {
        let w = Wake::new();
        // Awake: the flag only; no permit is stored for the batcher's next wait.
        w.want_drain();
        assert!(w.take_wanted());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let notified = |w: &Wake| {
            let signal = w.signal();
            rt.block_on(async {
                tokio::time::timeout(Duration::from_millis(20), signal.notified())
                    .await
                    .is_ok()
            })
        };
        assert!(!notified(&w), "a lane does not notify a batcher that ticks");
        // Parked: the lane notifies.
        assert!(w.may_park());
        w.want_drain();
        assert!(notified(&w), "a lane wakes a parked batcher");
        w.woke();
        assert!(w.take_wanted());
    }

    #[test]
    fn a_request_that_races_the_park_keeps_the_batcher_up() {
        let w = Wake::new();
        w.want_drain();
        assert!(
            !w.may_park(),
            "the flag was raised before the batcher parked"
        );
        assert!(w.take_wanted());
        assert!(w.may_park());
    }
}

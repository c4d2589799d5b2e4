//! The callers' end of the batcher thread: flush and shutdown requests, answered by the
//! thread with a `DeliveryReport`, and the join of the thread at shutdown.

use super::queue::Queue;
use staso_types::DeliveryReport;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Extra time a caller waits for the batcher's own answer past its timeout.
const REPLY_MARGIN: Duration = Duration::from_millis(50);

/// What callers ask of the batcher.
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

/// The callers' end of a running batcher: flush and shutdown requests, and its thread.
pub(crate) struct Handle {
    pub(super) queue: Arc<Queue>,
    pub(super) commands: Arc<Mutex<Vec<Command>>>,
    pub(super) join: Mutex<Option<JoinHandle<()>>>,
    #[cfg(feature = "test-faults")]
    pub(super) inject_panic: Arc<std::sync::atomic::AtomicBool>,
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

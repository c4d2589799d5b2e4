//! Change notification for the public wait API: a generation counter with a condvar
//! (blocking waiters) and a `tokio::sync::Notify` (async waiters). No polling.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(crate) struct Signal {
    generation: Mutex<u64>,
    cv: Condvar,
    notify: Notify,
}

impl Signal {
    /// Something changed (a request was recorded, spans were stored): wake every waiter.
    pub(crate) fn bump(&self) {
        {
            let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
            *g = g.wrapping_add(1);
        }
        self.cv.notify_all();
        self.notify.notify_waiters();
    }

    /// Blocks until `pred` holds (checked now and after every change), at most `timeout`.
    pub(crate) fn wait_until(&self, timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if pred() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = self
                .cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until `pred` holds (checked now and after every change), at most `timeout`.
    pub(crate) async fn wait_until_async(
        &self,
        timeout: Duration,
        mut pred: impl FnMut() -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if pred() {
                return true;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() || tokio::time::timeout(remaining, notified).await.is_err() {
                return pred();
            }
        }
    }
}

//! When the batcher sleeps, and until what: the next timed event (the flush interval, a
//! retry falling due, a caller's deadline), a request that finishes, or a wake-up; in
//! ticks while it has been busy lately, so that lanes need not wake it (see
//! `queue::wake`).

use super::{Batcher, REANCHOR_EVERY};
use crate::export::destination::Destination;
use crate::export::queue::{IDLE, TICK};
use std::time::{Duration, Instant};

impl Batcher {
    /// Sleeps until a request finishes, a producer or caller wakes us, or the next timed
    /// event (flush interval, a retry falling due, a deadline).
    pub(super) fn wait_for_news(&mut self) {
        let sleep = self.sleep_for();
        if sleep.is_zero() {
            return;
        }
        // Busy lately: tick, and lanes that fill a batch only raise a flag. Idle: park,
        // and say so first, so that they wake it (see `queue::wake`).
        let parks = self.last_busy.elapsed() >= IDLE;
        let sleep = if !parks {
            sleep.min(TICK)
        } else if self.queue.wake.may_park() {
            sleep
        } else {
            return;
        };
        let wake = self.queue.wake.signal();
        let in_flight = &mut self.in_flight;
        let joined = self.rt.block_on(async {
            tokio::select! {
                Some(joined) = in_flight.join_next_with_id(), if !in_flight.is_empty() => Some(joined),
                _ = wake.notified() => None,
                _ = tokio::time::sleep(sleep) => None,
            }
        });
        if parks {
            self.queue.wake.woke();
        }
        if let Some(joined) = joined {
            self.joined(joined);
        }
    }

    /// Until the next thing to do: a retry falling due, the flush interval, a deadline.
    fn sleep_for(&self) -> Duration {
        let now = Instant::now();
        let room = self.destinations.iter().any(Destination::has_room);
        if room
            && !self.waiters.is_empty()
            && (self.unsent() > 0
                || !self.provisional.is_empty()
                || !self.queue.is_empty(&self.lanes))
        {
            return Duration::ZERO;
        }
        let mut until =
            (self.last_send + self.config.flush_interval).min(self.last_reanchor + REANCHOR_EVERY);
        for due in self
            .destinations
            .iter()
            .filter_map(Destination::next_due_at)
        {
            until = until.min(due);
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

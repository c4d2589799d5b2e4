//! The bound's second half: the bytes of captured content that queued spans hold.
//!
//! `max_queue_size` counts spans, and a record is the same size whatever its span
//! captured; what it captured lives behind a pointer, up to `max_field_bytes` a field.
//! Most spans stay within a fixed allowance: their pooled box, with up to 120 bytes of
//! text inline, a tape buffer of up to 256 bytes and a few small fields ([`ALLOWANCE`]).
//! A span that holds more is charged its heap bytes against `max_queue_bytes` as it
//! enters the queue, and the charge goes back when its box is dropped (by the batcher,
//! once the span was sent or given up on). A span whose charge does not fit is dropped
//! and counted, as at a full queue: what is held stays within the bound, and the report
//! says what was refused.
//!
//! One count for the process, against the bound of the queue a span enters: the boxes of
//! a client that was replaced still hold their memory until the batcher drops them, so
//! they still count. A box keeps its charge in 4 bytes of its own padding (a field that
//! grew the box cost the capture path 4.5 ns a span in `hot`, bursts of 4 000: a larger
//! allocation), so a charge is at most 4 GiB less a byte; a box that holds more is charged
//! that much.

use crate::local::extras;
use std::sync::atomic::{AtomicUsize, Ordering::*};

/// What one queued span may hold without a charge.
pub(crate) const ALLOWANCE: usize = extras::SMALL_BOX_BYTES;

/// Bytes charged and not given back yet, all queues together.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// Charges `n` bytes if the total stays within `max`; false, with nothing charged,
/// otherwise. One compare-and-swap, on the path of a span that captured more than its
/// allowance (and copied at least as many bytes to capture it).
pub(crate) fn charge(max: usize, n: u32) -> bool {
    HELD.fetch_update(AcqRel, Acquire, |held| {
        held.checked_add(n as usize).filter(|&total| total <= max)
    })
    .is_ok()
}

/// Gives back a charge [`charge`] made (when the box that holds it is dropped).
pub(crate) fn release(n: u32) {
    HELD.fetch_sub(n as usize, Release);
}

/// Bytes charged now (by spans queued, or held by the batcher).
pub(crate) fn held() -> usize {
    HELD.load(Acquire)
}

/// The most bytes what spans captured takes at the bound: the allowance of every span
/// `max_queue_size` counts, of every root's provisional copy that may wait (see
/// [`provisional_copies`]: they are not counted in `max_queue_size`) and of every box in
/// the pool of empty ones, and `max_queue_bytes`.
pub(crate) fn bytes_at_bound(
    max_queue_size: usize,
    batch_size: usize,
    max_queue_bytes: usize,
) -> usize {
    let copies = provisional_copies(max_queue_size, batch_size);
    (max_queue_size + copies) * ALLOWANCE
        + extras::POOLED * extras::POOLED_BOX_BYTES
        + max_queue_bytes
}

/// The most provisional root copies held at once: the queue's store of them, the
/// batcher's list (as many, see `Queue::take_provisional`), and those in the batches of
/// the requests in flight.
fn provisional_copies(max_queue_size: usize, batch_size: usize) -> usize {
    2 * super::provisional_capacity(max_queue_size)
        + crate::export::destination::MAX_IN_FLIGHT * batch_size
}

#[cfg(test)]
mod tests {
    use super::super::Queue;
    use crate::local::extras::ExtrasBox;
    use crate::local::record::SpanRecord;
    use staso_types::FailureKind;
    use std::sync::{Arc, Mutex, MutexGuard};

    /// One test at a time: the count is the process's.
    fn serial() -> MutexGuard<'static, ()> {
        static SERIAL: Mutex<()> = Mutex::new(());
        SERIAL.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A span whose input is `bytes` bytes of JSON.
    fn captured(n: u64, bytes: usize) -> Option<SpanRecord> {
        let mut extras = ExtrasBox::take();
        extras.set_input(&format!("\"{}\"", "x".repeat(bytes - 2)), None);
        let mut r = SpanRecord::test_tool(n);
        r.extras = Some(extras);
        Some(r)
    }

    /// Spans that captured more than their allowance are charged as they enter the
    /// queue; the one that does not fit is rejected and counted as at a full queue, small
    /// ones still pass, and the charge goes back when the spans are dropped.
    #[test]
    fn captured_bytes_beyond_the_allowance_are_bounded() {
        let _s = serial();
        let q = Arc::new(Queue::new(1_000, 100, &[]).with_max_bytes(100_000));
        let mut lane = q.lane();
        for n in 0..3 {
            lane.push_from(&mut captured(n, 30_000));
        }
        let held = super::held();
        assert!(
            (90_000..=100_000).contains(&held),
            "three spans of 30 000 bytes charged: {held}"
        );
        let mut refused = captured(3, 30_000);
        lane.push_from(&mut refused);
        assert!(refused.is_none(), "taken out of the slot and dropped");
        assert_eq!(super::held(), held, "nothing charged for it");
        // Small captures stay within the allowance, whatever the ledger holds.
        lane.push_from(&mut captured(4, 100));
        let r = q.report(false);
        assert_eq!((r.accepted, r.rejected), (4, 1), "{r:?}");
        assert_eq!(r.last_failure, Some(FailureKind::QueueFull));

        let mut lanes = Vec::new();
        let mut ids = Vec::new();
        q.drain(&mut lanes, |r| ids.push(r.span_id.to_u64() - 1));
        assert_eq!(ids, [0, 1, 2, 4]);
        assert_eq!(super::held(), 0, "dropped spans give their bytes back");
        lane.push_from(&mut captured(5, 30_000));
        assert!(super::held() >= 30_000, "and the next one fits again");
    }

    /// A copy of a charged box (a root's provisional copy) is not charged with it, and
    /// the copy that does not fit is dropped without a count: it is best effort.
    #[test]
    fn copies_are_charged_on_their_own() {
        let _s = serial();
        let q = Arc::new(Queue::new(1_000, 100, &[]).with_max_bytes(50_000));
        let mut lane = q.lane();
        let mut first = captured(0, 40_000);
        let mut copy = first.clone().expect("a record");
        copy.provisional = true;
        lane.push_from(&mut first);
        let held = super::held();
        assert!(held >= 40_000, "{held}");
        q.push_provisional(copy);
        assert_eq!(super::held(), held, "the copy did not fit and was dropped");
        let mut out = Vec::new();
        q.take_provisional(&mut out);
        assert!(out.is_empty());
        assert_eq!(
            q.report(false).rejected,
            0,
            "a provisional copy is not a span"
        );
    }
}

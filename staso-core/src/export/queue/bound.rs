//! The memory bound in bytes: what the structures that hold queued spans keep, computed
//! from their sizes (the README's figures and the memory tests use it).

use super::{lane_capacity, provisional_capacity, TAPE_BYTES_PER_SLOT};
use crate::local::record::SpanRecord;

/// The bytes `init` allocates for a queue of `max` credits: the overflow, the queue of
/// provisional copies and the batcher's list of them, and the batcher's store of `max`
/// slots, whole (resident once used; the overflow is as large as the bound so that a full
/// lane never makes the caller allocate, and the store so that it never holds two buffers
/// while it grows, see `held`).
pub(crate) fn bytes_at_init(max: usize) -> usize {
    // A crossbeam `ArrayQueue` slot is the value and a stamp, padded to the value's
    // alignment (144 bytes).
    let stamped = std::mem::size_of::<(usize, SpanRecord)>();
    let record = std::mem::size_of::<SpanRecord>();
    (max + provisional_capacity(max)) * stamped
        + provisional_capacity(max) * record
        + max * crate::export::batcher::HELD_SLOT_BYTES
}

/// The bytes the structures that hold queued spans keep when `threads` threads end spans
/// and `max` spans are held, excluding what spans captured in boxes (behind a pointer) and
/// the request bodies: what `init` allocates, every lane (allocated whole when its thread
/// ends its first span) with the empty boxes it keeps for its thread's captured spans
/// (see `Lane::scratch`), the segments lanes grew into (`max` slots at most, all lanes
/// together), each slot with its share of the segment's tape (see `segment`), and
/// [`store_map_bytes`].
pub(crate) fn bytes_at_bound(max: usize, batch_size: usize, threads: usize) -> usize {
    let slot = std::mem::size_of::<SpanRecord>() + TAPE_BYTES_PER_SLOT;
    let scratch = crate::export::lane::SCRATCH * crate::local::extras::POOLED_BOX_BYTES;
    bytes_at_init(max)
        + threads * (lane_capacity(max, batch_size) * slot + scratch)
        + max * slot
        + store_map_bytes(max, batch_size)
}

/// The most bytes the batcher's store keeps outside its ring (`held`): when a batch is
/// retried while later ones are delivered, its spans move into an ordered map as the
/// ring moves on (up to `max` spans), beside the provisional copies of the batches in
/// delivery (a batch's worth in each of a destination's requests). The ring keeps its
/// slots meanwhile, so this is on top of them.
pub(crate) fn store_map_bytes(max: usize, batch_size: usize) -> usize {
    let entries = max + crate::export::destination::MAX_IN_FLIGHT * batch_size;
    crate::export::held::map_bytes(entries, crate::export::batcher::HOLDING_BYTES)
}

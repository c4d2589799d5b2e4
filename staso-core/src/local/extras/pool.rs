//! The box an [`Extras`] travels in, and the pool shared by all threads that boxes go back
//! to once their span is sent.

use super::{Extras, TAPES_KEEP};
use crossbeam_queue::ArrayQueue;
use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::OnceLock;

/// A span's [`Extras`], in a box that goes back to a pool shared by all threads when the
/// span is dropped (by the batcher, once sent). A span that captures something then costs
/// its thread a pop from the pool rather than a `malloc` whose memory another thread freed
/// (glibc's slow path, and most of what capturing small values cost).
///
/// The pool is a queue: a box comes back into use thousands of spans after the batcher
/// emptied it, by which time its memory has left the batcher's own cache. (A per-thread
/// stash fed a chunk at a time saved 5 instructions a span, but it reused boxes the
/// batcher had just written, and the caller's CPU time did not go down with it.)
pub(crate) struct ExtrasBox(ManuallyDrop<Box<Extras>>);

/// Boxes kept for reuse (about 450 bytes each, and a tape buffer of up to [`TAPES_KEEP`]):
/// enough for the spans in flight of a busy process (the default queue holds 10 000),
/// 2.8 MiB at most.
pub(crate) const POOLED: usize = 4096;

fn pool() -> &'static ArrayQueue<Box<Extras>> {
    static POOL: OnceLock<ArrayQueue<Box<Extras>>> = OnceLock::new();
    POOL.get_or_init(|| ArrayQueue::new(POOLED))
}

impl ExtrasBox {
    pub(crate) fn take() -> ExtrasBox {
        // A pooled box is empty already (see `Drop`).
        let b = pool().pop().unwrap_or_default();
        ExtrasBox(ManuallyDrop::new(b))
    }
}

impl Drop for ExtrasBox {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once, and nothing uses the box after it is taken here.
        let mut b = unsafe { ManuallyDrop::take(&mut self.0) };
        // The charge goes back with the memory it stood for (a box in the pool owns none).
        let charged = std::mem::take(&mut b.charged.0);
        if charged != 0 {
            crate::export::queue::captured::release(charged);
        }
        // What a big span held goes back to the allocator, here, off the caller's thread
        // (a span is dropped by the batcher once sent). A plain one is emptied here too,
        // so that a thread taking it from the pool only writes what it captures: its old
        // value holds no heap, so it is forgotten, not dropped (no drop glue).
        // The tape buffer, when small, stays with the box for its next span.
        let mut tapes = std::mem::take(&mut b.tapes);
        tapes.clear();
        if tapes.capacity() > TAPES_KEEP {
            tapes = Vec::new();
        }
        if b.holds_heap() {
            // Dropped here, on the thread that drops the span (the batcher).
            *b = Extras::default();
        } else {
            std::mem::forget(std::mem::take(&mut *b));
        }
        b.tapes = tapes;
        let _ = pool().push(b);
    }
}

impl std::ops::Deref for ExtrasBox {
    type Target = Extras;
    fn deref(&self) -> &Extras {
        &self.0
    }
}

impl std::ops::DerefMut for ExtrasBox {
    fn deref_mut(&mut self) -> &mut Extras {
        &mut self.0
    }
}

impl Clone for ExtrasBox {
    fn clone(&self) -> Self {
        let mut b = ExtrasBox::take();
        Extras::clone_from(&mut b, self);
        b
    }
}

impl fmt::Debug for ExtrasBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.0, f)
    }
}

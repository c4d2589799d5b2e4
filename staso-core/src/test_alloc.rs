//! The unit tests' allocator: the system's, counting the bytes each thread has live, so
//! that a test can check what a structure takes on the heap against what the SDK says it
//! takes (tests run on threads of their own, so they do not disturb each other's counts).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

#[global_allocator]
static ALLOC: Counting = Counting;

thread_local! {
    // Const-initialised, without a destructor: safe to touch from inside the allocator.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: isize) {
    let _ = LIVE.try_with(|l| {
        let now = l.get() + bytes;
        l.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The old block and the new one, both live during the copy.
        add(new_size as isize);
        add(-(layout.size() as isize));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Bytes this thread allocated and has not freed (frees of other threads' blocks count
/// on the thread that frees).
pub(crate) fn live() -> isize {
    LIVE.with(Cell::get)
}

/// The most [`live`] was since the last [`reset_peak`].
pub(crate) fn peak() -> isize {
    PEAK.with(Cell::get)
}

/// Starts a new peak from what is live now.
pub(crate) fn reset_peak() {
    PEAK.with(|p| p.set(live()));
}

//! What a thread keeps for its spans: the frame stack and its view of the client, in one
//! thread-local that every span visits twice, and how that thread-local is emptied when
//! the thread ends.
//!
//! A `thread_local!` whose type has drop glue checks, on every access, whether its
//! destructor is registered yet (a load, a compare and a branch, at the opening and at the
//! end of every span). [`LOCAL`] has no drop glue, so an access is an address computation;
//! what it holds is dropped by [`Cleanup`], a second thread-local whose destructor is
//! registered on the cold paths that first store something in `LOCAL` (the stack's first
//! allocation, the first look at the client). After it ran, `LOCAL` refuses every
//! borrow, as a destroyed thread-local refuses access, so nothing stored later leaks.

use super::context::Frame;
use crate::client::Cached;
use std::cell::{Cell, RefCell};
use std::mem::ManuallyDrop;

/// A thread's frames and client view (see `context` and `client`).
pub(super) struct Local {
    pub(super) stack: RefCell<Vec<Frame>>,
    pub(super) client: RefCell<Cached>,
    /// Whether the innermost frame records nothing (a trace not sampled, or below a
    /// discarded span), kept beside the stack so the entry points can skip a span there
    /// for the price of a disabled one: one load, no borrow. Beside the stack rather than
    /// in a thread-local of its own, so the end of a span that sets it has its address.
    pub(super) quiet: Cell<bool>,
}

thread_local! {
    /// No drop glue (see the module): emptied by [`Cleanup`].
    static LOCAL: ManuallyDrop<Local> = const {
        ManuallyDrop::new(Local {
            stack: RefCell::new(Vec::new()),
            client: RefCell::new(Cached::EMPTY),
            quiet: Cell::new(false),
        })
    };
    /// Empties [`LOCAL`] when the thread ends; registered by [`arm`].
    static CLEANUP: Cleanup = const { Cleanup };
}

/// Runs `f` on this thread's locals. Always there: a borrow that fails says they are in
/// use, or emptied at the thread's end.
#[inline(always)]
pub(super) fn with<R>(f: impl FnOnce(&Local) -> R) -> R {
    // Only the address leaves the tiny closure: `LocalKey::with` is not always inlined
    // around a large one, which would put a call and a frame on every span.
    let l: *const Local = LOCAL.with(|l| &**l as *const Local);
    // SAFETY: `LOCAL` has no destructor, so its storage is valid for as long as this
    // thread runs, and `l` is used only here, on this thread, within this call. Only
    // shared references to it are made; its cells govern mutation.
    f(unsafe { &*l })
}

/// Makes sure what is about to be stored in [`LOCAL`] is dropped at the thread's end: true
/// when it will be, false when the thread's end has emptied `LOCAL` already (nothing may
/// be stored then). Called on cold paths only: the stack's growth and a client refresh.
#[cold]
pub(crate) fn arm() -> bool {
    CLEANUP.try_with(|_| ()).is_ok()
}

/// Drops what [`LOCAL`] holds when the thread ends (the lane's credits go back to the
/// queue and its ring to the batcher, as `Lane`'s drop says) and leaves both cells
/// borrowed for good, so later spans on this thread (from other thread-locals'
/// destructors) are not recorded, as when a thread-local is gone.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        LOCAL.with(|l| {
            let frames = l
                .stack
                .try_borrow_mut()
                .map(|mut s| std::mem::take(&mut *s));
            let client = l
                .client
                .try_borrow_mut()
                .map(|mut c| std::mem::replace(&mut *c, Cached::EMPTY));
            // Borrowed for good: every later `try_borrow_mut` fails.
            std::mem::forget(l.stack.try_borrow_mut());
            std::mem::forget(l.client.try_borrow_mut());
            // Dropped outside the borrows: a record's drop may reach other thread-locals.
            drop(frames);
            drop(client);
            l.quiet.set(true);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread's locals are emptied at its end, and a span started afterwards (from
    /// another thread-local's destructor) finds them refused rather than storing
    /// something that would leak.
    #[test]
    fn the_threads_end_empties_the_locals_and_refuses_later_use() {
        struct Late(std::sync::mpsc::Sender<(bool, bool)>);
        impl Drop for Late {
            fn drop(&mut self) {
                let usable = with(|l| l.stack.try_borrow_mut().is_ok());
                let _ = self.0.send((usable, with(|l| l.quiet.get())));
            }
        }
        thread_local! {
            static LATE: RefCell<Option<Late>> = const { RefCell::new(None) };
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            LATE.with(|l| *l.borrow_mut() = Some(Late(tx)));
            // Registered after `LATE`: on Linux, destructors run in the reverse order of
            // registration, so `Cleanup` runs first.
            assert!(arm());
            with(|l| l.stack.borrow_mut().reserve(4));
        })
        .join()
        .expect("thread");
        let (usable, quiet) = rx.recv().expect("the late destructor ran");
        if cfg!(target_os = "linux") {
            assert!(!usable, "the stack is refused after the thread's cleanup");
            assert!(quiet, "and the entry points skip spans at once");
        }
    }
}

//! The SDK's panic hook, chained in front of the one already installed (at `init` unless
//! `install_panic_hook = false`, and by `testing`). It does two things:
//! - keeps the message of the last panic of each thread, for the span that the panic
//!   unwinds through (a span's `Drop` cannot see the payload);
//! - keeps quiet about panics that a capture contains (a `Serialize`, `Debug` or `Display`
//!   impl, or the mask hook, panicking while a value is captured): while [`contain`] runs
//!   on a thread, a panic there is not passed on to the previous hook, so the program's
//!   stderr shows no "thread panicked" message or backtrace for it. The capture logs one
//!   warning per call site instead. Every other panic goes to the previous hook as before.
//!
//! Limit: the hook is ours only while it is in the chain. A hook installed after `init`
//! (with `std::panic::set_hook`) replaces ours unless it calls the one it took, and with
//! `install_panic_hook = false` there is no hook of ours: contained panics are then printed
//! by whatever hook is installed (they are still contained).

use std::cell::{Cell, RefCell};
use std::sync::Once;

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Captures running on this thread whose panics are contained (nested captures count).
    static CONTAINING: Cell<u32> = const { Cell::new(0) };
}

/// Installs the hook once per process; the previous hook still runs after it.
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CONTAINING.try_with(Cell::get).unwrap_or(0) > 0 {
                return;
            }
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic with a non-string payload".to_string());
            let _ = LAST.try_with(|l| {
                if let Ok(mut l) = l.try_borrow_mut() {
                    *l = Some(msg);
                }
            });
            previous(info);
        }));
    });
}

/// Runs `f` (user code called by a capture), catching a panic: the hook stays silent
/// about it, and the caller turns it into a placeholder.
pub(crate) fn contain<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            let _ = CONTAINING.try_with(|c| c.set(c.get().saturating_sub(1)));
        }
    }
    let _ = CONTAINING.try_with(|c| c.set(c.get() + 1));
    let _leave = Leave;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
}

/// The message of the panic unwinding on this thread now.
pub(crate) fn message() -> String {
    LAST.try_with(|l| l.try_borrow().ok().and_then(|l| l.clone()))
        .ok()
        .flatten()
        .unwrap_or_else(|| "panicked".to_string())
}

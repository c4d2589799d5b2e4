//! A bounded flush when the process exits without shutting the client down: returning
//! from `main` and `std::process::exit` both run the C library's `atexit` handlers, while
//! the batcher thread is still alive to deliver. (Signals such as SIGTERM do not: see the
//! README's "Delivery guarantees".)

use std::sync::{Once, OnceLock};

/// What the hook runs (the client's bounded shutdown), given once at registration.
static ON_EXIT: OnceLock<fn()> = OnceLock::new();

extern "C" {
    fn atexit(cb: extern "C" fn()) -> std::os::raw::c_int;
}

extern "C" fn at_exit() {
    // A panic must not unwind into the C library.
    if let Some(f) = ON_EXIT.get() {
        let _ = std::panic::catch_unwind(f);
    }
}

/// Registers the hook once per process; it runs `on_exit`.
pub(crate) fn register(on_exit: fn()) {
    let _ = ON_EXIT.set(on_exit);
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `atexit` is the C standard library's, with the signature declared above;
        // `at_exit` is a plain `extern "C" fn` with no arguments that never unwinds (it
        // catches panics), as `atexit` requires. It is registered once.
        let rc = unsafe { atexit(at_exit) };
        if rc != 0 {
            crate::diag::warn(
                "staso: could not register the exit hook; call staso::shutdown before exiting",
            );
        }
    });
}

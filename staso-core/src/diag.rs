//! The SDK's own messages, through the `log` facade (the lowest common denominator: a
//! `tracing` subscriber receives them through `tracing-log`, and the SDK does not emit
//! `tracing` events that a user's staso bridge could feed back into itself). With
//! `debug = true` and no logger installed, they also go to stderr, so `debug` is never
//! silent. Nothing logged here holds the API key or span content.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

static DEBUG: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_debug(on: bool) {
    DEBUG.store(on, Relaxed);
}

fn no_logger() -> bool {
    log::max_level() == log::LevelFilter::Off
}

/// A problem worth the user's attention (delivery failures, dropped spans).
pub(crate) fn warn(msg: &str) {
    log::warn!(target: "staso", "{msg}");
    if DEBUG.load(Relaxed) && no_logger() {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("[staso WARN] {msg}");
        }
    }
}

/// A detail shown only with `debug = true`.
pub(crate) fn debug(msg: &str) {
    if DEBUG.load(Relaxed) {
        log::info!(target: "staso", "{msg}");
        if no_logger() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("[staso] {msg}");
            }
        }
    }
}

/// Something the SDK itself got wrong (a panic in the batcher).
pub(crate) fn error(msg: &str) {
    log::error!(target: "staso", "{msg}");
    if no_logger() {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("[staso ERROR] {msg}");
        }
    }
}

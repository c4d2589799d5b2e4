//! Git facts of the crate being compiled, read when `#[staso::main]` expands, so that a
//! deployed binary knows its commit without a checkout beside it. The reading itself is
//! `staso_types::read_checkout`, shared with the runtime.

use staso_types::Checkout;
use std::path::Path;

/// Reads the checkout around `CARGO_MANIFEST_DIR`; empty outside a checkout (or without
/// `git`).
pub(crate) fn facts() -> Checkout {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|dir| staso_types::read_checkout(Path::new(&dir)))
        .unwrap_or_default()
}

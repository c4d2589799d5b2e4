//! What the attribute macros expand to. Not a stable API: only the macros call it.

pub use crate::local::capture::{
    Capture, CaptureDebug, CaptureOpaque, CaptureScalar, CaptureSerialize, Input, Out,
    SiteDecision, TextOut,
};
pub use crate::local::record::CallSite;
pub use crate::registry::Entry;
pub use inventory;
pub use serde_json;
pub use staso_types::{Kind, Options, Registered};

mod fn_span;
mod guard_input;
mod main_fn;
mod outcome;
mod wants;

pub use fn_span::{enter, start, start_here, AsyncFnFrame, AsyncFnSpan, FnSpan};
pub use guard_input::{FromGuardBlocked, GuardInput};
pub use main_fn::{baked_git, block_on, main_init, MainGuard};
pub use outcome::{record_error, record_output, ErrorDebug, ErrorDisplay, ErrorOpaque, ErrorText};

use crate::local::capture;
use crate::local::record::SpanRecord;

/// Bytes of one queued span in the queue and the batcher (`size_of` of the record; what
/// it captured lives behind a pointer). For the benchmarks' memory bound.
pub const SPAN_RECORD_BYTES: usize = std::mem::size_of::<SpanRecord>();

/// Bytes the SDK keeps for spans at the bound: `threads` threads ending spans, a queue
/// of `max_queue_size` full, batches of `batch_size` spans of `span_json_bytes` each on
/// the wire to one destination (what spans captured, behind pointers, not included).
/// Includes [`bytes_at_init`]. For the benchmarks' memory bound.
pub fn bytes_at_bound(
    max_queue_size: usize,
    batch_size: usize,
    threads: usize,
    span_json_bytes: usize,
) -> usize {
    crate::export::queue::bytes_at_bound(max_queue_size, batch_size, threads)
        + crate::export::destination::body_bytes(batch_size, span_json_bytes)
}

/// Bytes what spans captured takes at the bound, beside [`bytes_at_bound`]: the
/// allowance of every span `max_queue_size` counts, of every root's provisional copy that
/// may wait, and of the pooled empty boxes (a box, 120 bytes of text inline, a 256-byte
/// tape buffer and a few small fields), and `max_queue_bytes`, which bounds the rest. For
/// the benchmarks' memory bound.
pub fn captured_bytes_at_bound(
    max_queue_size: usize,
    batch_size: usize,
    max_queue_bytes: usize,
) -> usize {
    crate::export::queue::captured::bytes_at_bound(max_queue_size, batch_size, max_queue_bytes)
}

/// Bytes of captured content charged against `max_queue_bytes` now, by the spans the
/// process's queues hold.
pub fn captured_bytes_held() -> usize {
    crate::export::queue::captured::held()
}

/// The part of [`bytes_at_bound`] that the batcher's store keeps outside its ring, for
/// spans of a batch retried while later ones were delivered (an outage, which fails every
/// batch alike, leaves it empty). For the benchmarks' memory bound.
pub fn store_map_bytes_at_bound(max_queue_size: usize, batch_size: usize) -> usize {
    crate::export::queue::store_map_bytes(max_queue_size, batch_size)
}

/// The part of [`bytes_at_bound`] that `init` allocates (so a measurement that starts
/// after `init` leaves it out).
pub fn bytes_at_init(max_queue_size: usize) -> usize {
    crate::export::queue::bytes_at_init(max_queue_size)
}

/// The one check the disabled path pays: one relaxed load, no TLS.
#[inline(always)]
pub fn enabled() -> bool {
    crate::client::started()
}

/// Whether the value of an argument named `name` is redacted (when redaction is on): the
/// SDK's rule for secret-looking keys, which the attributes evaluate in a constant for
/// each argument of a function, so that no call asks it again.
///
/// ```
/// const SECRET: bool = staso_core::__private::is_secret_name("api_key");
/// assert!(SECRET);
/// assert!(!staso_core::__private::is_secret_name("query"));
/// ```
pub const fn is_secret_name(name: &str) -> bool {
    capture::is_secret_key(name)
}

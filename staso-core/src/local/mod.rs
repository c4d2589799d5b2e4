//! The caller's thread: opening and ending spans, the per-thread context stack, capture of
//! values, the clock and new ids. Nothing here waits on anything.

pub(crate) mod capture;
pub(crate) mod clock;
pub(crate) mod context;
pub(crate) mod conversation;
pub(crate) mod extras;
#[cfg(feature = "tracing")]
pub(crate) mod foreign;
pub(crate) mod ids;
pub(crate) mod instrument;
pub(crate) mod lifecycle;
pub(crate) mod locals;
pub(crate) mod record;
pub(crate) mod remote;
pub(crate) mod span;

//! Delivery, off the caller's thread: the bounded queue and its counts, the batcher
//! thread and its destinations, the encoding of the contract's request body (and, with
//! the `otlp` feature, of OTLP's), and the HTTP transports.

pub(crate) mod annotations;
mod attributes;
pub(crate) mod batcher;
pub(crate) mod destination;
pub(crate) mod encode;
#[cfg(feature = "otlp")]
pub(crate) mod fields;
mod handle;
mod held;
pub(crate) mod http;
mod lane;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;
#[cfg(feature = "otlp")]
pub(crate) mod otlp_http;
pub(crate) mod queue;
mod ring;
pub(crate) mod sanitize;
pub(crate) mod transport;

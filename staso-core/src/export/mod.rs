//! Delivery, off the caller's thread: the bounded queue and its counts, the batcher
//! thread, the encoding of the contract's request body, and the HTTP transport.

pub(crate) mod annotations;
pub(crate) mod batcher;
pub(crate) mod encode;
pub(crate) mod http;
pub(crate) mod queue;
pub(crate) mod sanitize;
pub(crate) mod transport;

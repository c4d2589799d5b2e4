//! Integrations with other libraries, each behind its feature of `staso`.

#[cfg(feature = "tracing")]
pub(crate) mod tracing_fields;
#[cfg(feature = "tracing")]
pub(crate) mod tracing_layer;

//! Integrations with other libraries and the clients people use, each behind its feature
//! of `staso`.

#[cfg(feature = "async-openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-openai")))]
pub mod async_openai;
#[cfg(feature = "tracing")]
pub(crate) mod tracing_fields;
#[cfg(feature = "tracing")]
pub(crate) mod tracing_layer;

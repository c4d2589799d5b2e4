//! Integrations with the clients people use, each behind its feature.

#[cfg(feature = "async-openai")]
pub mod async_openai;

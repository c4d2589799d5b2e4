//! Attribute macros of the Staso Rust SDK (placeholder).

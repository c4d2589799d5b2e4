//! Benchmarks of the staso hot path (see BENCHMARKS.md).

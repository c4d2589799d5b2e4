//! Sustained delivery (target 5 of BENCHMARKS.md); written next.
fn main() {}

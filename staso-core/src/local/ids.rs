//! New trace and span ids: random bits from a per-thread generator (no lock, no syscall).
//! Their text forms are written on the batcher thread (`staso_types::{TraceId, SpanId}`).

use staso_types::{SpanId, TraceId};
use std::cell::Cell;

thread_local! {
    /// This thread's wyrand state (0: not seeded yet). A const-initialised `Cell` without
    /// a destructor is a plain load and store; going through `fastrand`'s own thread-local
    /// was a call per id.
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// 64 random bits from this thread's generator (wyrand, as fastrand; seeded from fastrand,
/// which seeds each thread differently).
#[inline]
fn random_u64() -> u64 {
    RNG.try_with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = fastrand::u64(1..);
        }
        x = x.wrapping_add(0xa076_1d64_78bd_642f);
        s.set(x);
        let t = u128::from(x).wrapping_mul(u128::from(x ^ 0xe703_7ed1_a0b4_28db));
        (t as u64) ^ ((t >> 64) as u64)
    })
    .unwrap_or_else(|_| fastrand::u64(..))
}

/// Seeds this thread's generator now rather than at its first id.
pub(crate) fn seed() {
    let _ = random_u64();
}

/// Draws until `draw` gives an id (only zero is refused, one draw in 2⁶⁴).
#[inline]
fn draw<T>(mut draw: impl FnMut() -> Option<T>) -> T {
    loop {
        if let Some(id) = draw() {
            return id;
        }
    }
}

/// A new trace id.
#[inline]
pub(crate) fn trace_id() -> TraceId {
    draw(|| TraceId::from_u128((u128::from(random_u64()) << 64) | u128::from(random_u64())))
}

/// A new span id.
#[inline]
pub(crate) fn span_id() -> SpanId {
    let x = random_u64();
    // Zero is not an id: one draw in 2⁶⁴ takes 1 instead, with no branch.
    match SpanId::from_u64(x | u64::from(x == 0)) {
        Some(id) => id,
        None => draw(|| SpanId::from_u64(random_u64())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_do_not_repeat_within_or_across_threads() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(span_id()));
            let _ = trace_id();
        }
        let other = std::thread::spawn(span_id).join().expect("thread");
        assert!(!seen.contains(&other), "threads draw different ids");
    }
}

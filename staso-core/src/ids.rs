//! Trace and span ids: random bits from a per-thread generator (no lock, no syscall),
//! written as hyphenated UUIDs on the batcher thread.

use std::cell::Cell;
use std::fmt;

/// A trace id: 128 random bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub u128);

/// A span id: 64 random bits, never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub u64);

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

impl TraceId {
    #[inline]
    pub(crate) fn random() -> Self {
        let v = (u128::from(random_u64()) << 64) | u128::from(random_u64());
        TraceId(v.max(1))
    }
}

impl SpanId {
    #[inline]
    pub(crate) fn random() -> Self {
        SpanId(random_u64().max(1))
    }
}

/// Writes 128 bits as `8-4-4-4-12` lowercase hex.
fn write_uuid(v: u128, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    fmt::Display::fmt(&uuid::Uuid::from_u128(v).hyphenated(), f)
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_uuid(self.0, f)
    }
}

impl fmt::Display for SpanId {
    /// `00000000-0000-0000-xxxx-xxxxxxxxxxxx`, as the reference client writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_uuid(self.0 as u128, f)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_zero_and_do_not_repeat() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let s = SpanId::random();
            assert_ne!(s.0, 0);
            assert!(seen.insert(s.0));
            assert_ne!(TraceId::random().0, 0);
        }
        let other = std::thread::spawn(SpanId::random).join().expect("thread");
        assert!(!seen.contains(&other.0), "threads draw different ids");
    }

    #[test]
    fn span_id_is_left_padded_to_a_uuid() {
        assert_eq!(
            SpanId(0xabcdef0123456789).to_string(),
            "00000000-0000-0000-abcd-ef0123456789"
        );
        assert_eq!(
            SpanId(1).to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
    }

    #[test]
    fn trace_id_is_a_lowercase_hyphenated_uuid() {
        let s = TraceId(0x0123456789ABCDEF0123456789ABCDEF).to_string();
        assert_eq!(s, "01234567-89ab-cdef-0123-456789abcdef");
    }
}

//! Trace and span ids: random bits from a per-thread generator (no lock, no syscall),
//! written as hyphenated UUIDs on the batcher thread.

use std::fmt;

/// A trace id: 128 random bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub u128);

/// A span id: 64 random bits, never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub u64);

impl TraceId {
    pub(crate) fn random() -> Self {
        TraceId(fastrand::u128(1..))
    }
}

impl SpanId {
    pub(crate) fn random() -> Self {
        SpanId(fastrand::u64(1..))
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

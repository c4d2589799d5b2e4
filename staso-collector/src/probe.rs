//! The ingest path of the HTTP handler without HTTP, for measuring it (the
//! `ingest_hot` example under callgrind): a count-only store, and per body what the
//! handler does once the headers are checked. Not a stable API.

use crate::contract::ValidationError;
use crate::formats::{is_uuid_v4, lower_uuid_u128};
use crate::store::Store;

/// A count-only store fed as the ingest handler feeds it.
#[doc(hidden)]
pub struct IngestProbe {
    store: Store,
}

impl IngestProbe {
    /// A fresh count-only store (what the throughput benchmark's collector uses).
    ///
    /// # Panics
    /// If the in-memory SQLite database cannot be opened.
    #[allow(clippy::expect_used)]
    pub fn count_only() -> Self {
        Self {
            store: Store::open(None, false).expect("in-memory store"),
        }
    }

    /// Validates `body` and stores it under `idempotency_key` (a UUID v4) as the ingest
    /// handler does: returns the number of traces acknowledged, or the refusal.
    #[inline(never)]
    pub fn ingest(&self, idempotency_key: &str, body: &[u8]) -> Result<usize, ValidationError> {
        if !is_uuid_v4(idempotency_key) {
            return Err(ValidationError::new(
                "headers.Idempotency-Key",
                "expected a lowercase hyphenated UUID v4",
            ));
        }
        let traces = crate::ingest::parse(body, self.store.keeps_spans())?;
        let key = lower_uuid_u128(idempotency_key).unwrap_or_default();
        self.store
            .ingest(key, idempotency_key, &traces)
            .map_err(|e| ValidationError::new("store", e.to_string()))?;
        Ok(traces.len())
    }

    /// The number of distinct spans stored so far.
    pub fn spans(&self) -> usize {
        self.store.span_count(false)
    }
}

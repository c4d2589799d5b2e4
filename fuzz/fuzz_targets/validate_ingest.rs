//! The collector's request validation never panics, whatever the body: arbitrary bytes,
//! and arbitrary JSON (the seed corpus holds valid batches for libFuzzer to mutate).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = staso_collector::validate_ingest_body(&value);
    }
});

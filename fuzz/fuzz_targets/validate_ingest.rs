//! The collector's one ingest validator never panics, whatever the bytes (the seed
//! corpus holds valid batches for libFuzzer to mutate); what it accepts is JSON, and
//! what it refuses it refuses naming a field.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match staso_collector::validate_ingest_body(data) {
        Ok(()) => assert!(
            serde_json::from_slice::<serde_json::Value>(data).is_ok(),
            "accepted a body that is not JSON"
        ),
        Err(e) => assert!(!e.field.is_empty() && !e.error.is_empty(), "{e:?}"),
    }
});

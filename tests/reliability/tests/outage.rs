//! A 10 s outage loses nothing: spans keep queueing (within max_queue_size), failed
//! batches are retried with backoff, and after the service returns every span is stored
//! exactly once and the report's counts add up.

use staso_collector::{Collector, CollectorConfig};
use staso_core::{init, span, Kind};
use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One test at a time: each installs the global client and counts what it sent.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn an_outage_loses_nothing() {
    let _s = serial();
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let client = init(
        staso_reliability_tests::local_options(c.url())
            .batch_size(100)
            .flush_interval(Duration::from_millis(200))
            .max_queue_size(10_000)
            .request_timeout(Duration::from_secs(2)),
    )
    .expect("init");

    c.faults().go_down_for(Duration::from_secs(10));
    let mut produced = HashSet::new();
    let started = Instant::now();
    // A steady 200 spans/s for 12 s: 2 400 spans, well below the bound.
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(12) {
        let due = started.elapsed().as_millis() as u64 / 5;
        while n < due {
            let s = span("steady", Kind::Tool);
            produced.insert(s.span_id().expect("recording").to_string());
            drop(s);
            n += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let report = client.flush(Duration::from_secs(90));
    assert!(report.ok(), "{report:?}");
    let total = produced.len() as u64;
    assert_eq!(
        report.delivered + report.rejected + report.failed + report.pending,
        total,
        "produced = delivered + rejected + failed + pending: {report:?}"
    );
    assert_eq!(report.delivered, total);
    let stored = c.spans();
    let stored_ids: HashSet<String> = stored.iter().map(|s| s.span_id.clone()).collect();
    assert_eq!(stored_ids, produced, "every span stored");
    assert!(
        stored.iter().all(|s| s.final_copies_received == 1),
        "exactly once"
    );
    let refused = c.requests().ingest().len();
    assert!(
        report.last_failure.is_some(),
        "the outage was seen: {report:?}, {refused} requests"
    );
}

#[staso::tool]
fn read_document(doc: String) -> usize {
    doc.len()
}

/// During an outage, spans that captured big values are held within `max_queue_bytes`:
/// those that do not fit are refused and counted at once (as at a full queue), and the
/// ones held are delivered whole once the service is back.
#[test]
fn an_outage_holds_big_captures_within_max_queue_bytes() {
    let _s = serial();
    const ARGUMENT: usize = 64 * 1024;
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let client = init(
        staso_reliability_tests::local_options(c.url())
            .batch_size(10)
            .flush_interval(Duration::from_millis(100))
            .max_queue_bytes(1024 * 1024)
            .request_timeout(Duration::from_secs(2)),
    )
    .expect("init");
    c.faults().go_down_for(Duration::from_secs(2));
    let doc = "r".repeat(ARGUMENT);
    for _ in 0..40 {
        read_document(doc.clone());
    }
    let held = staso_core::__private::captured_bytes_held();
    assert!(
        (ARGUMENT..=1024 * 1024).contains(&held),
        "what the held spans captured is charged, within the bound: {held}"
    );
    let report = client.flush(Duration::from_secs(60));
    assert_eq!(report.accepted + report.rejected, 40, "{report:?}");
    assert!(
        (1..40).contains(&report.rejected),
        "some spans fit, the rest were refused: {report:?}"
    );
    assert_eq!(report.delivered, report.accepted, "{report:?}");
    assert_eq!(report.pending + report.failed, 0, "{report:?}");
    let stored = c.spans();
    assert_eq!(stored.finals().count() as u64, report.delivered);
    for s in stored.finals() {
        let input: serde_json::Value =
            serde_json::from_str(s.str_field("input")).expect("JSON input");
        assert_eq!(
            input["doc"].as_str().map(str::len),
            Some(ARGUMENT),
            "delivered whole"
        );
    }
    assert_eq!(
        staso_core::__private::captured_bytes_held(),
        0,
        "delivered spans give their bytes back"
    );
}

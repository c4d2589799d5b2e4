//! Delivery to an OTLP receiver keeps the Staso ingest's guarantees: retried on 5xx, 429
//! (after its `Retry-After`) and connection failures, counted per destination, bounded by
//! `max_queue_size`; instead of the ingest (nothing reaches it) or alongside it (both get
//! the same spans), each destination on its own: one that is down or refuses holds
//! nothing back from the other.

use staso::{span, FailureKind, Kind, Options, OtlpProtocol, SpanId};
use staso_collector::{Collector, CollectorConfig};
use staso_otlp_tests::{closed_port_url, serial, Received, Receiver};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Ends `n` spans and returns their ids (W3C hex).
fn produce(n: usize) -> BTreeSet<String> {
    (0..n)
        .map(|i| {
            let s = span(format!("step-{i}"), Kind::Tool);
            s.span_id().expect("recording").to_w3c()
        })
        .collect()
}

fn otlp_ids(spans: &[Received]) -> BTreeSet<String> {
    spans
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .flat_map(Received::spans)
        .map(|s| hex(&s.span_id))
        .collect()
}

fn stored_ids(c: &Collector) -> BTreeSet<String> {
    c.spans()
        .iter()
        .map(|s| s.span_id.parse::<SpanId>().expect("a span id").to_w3c())
        .collect()
}

fn base(r_url: String) -> Options {
    Options::new()
        .agent_name("bot")
        .otlp_endpoint(r_url)
        .capture_git(false)
        .batch_size(10)
        .flush_interval(Duration::from_millis(50))
        .request_timeout(Duration::from_secs(5))
}

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig::default()).expect("collector")
}

#[test]
fn instead_of_the_ingest_nothing_reaches_it() {
    let _g = serial();
    let c = collector();
    let r = Receiver::start();
    let client = staso::init(
        base(r.url())
            .api_key("test-key")
            .base_url(c.url())
            .staso_ingest(false),
    )
    .expect("init");
    let made = produce(25);
    let report = client.flush(WAIT);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.delivered, 25);
    assert_eq!(otlp_ids(&r.requests()), made);
    let names: Vec<&str> = report.destinations.iter().map(|d| d.name).collect();
    assert_eq!(names, ["otlp"]);
    client.shutdown(WAIT);
    assert_eq!(
        c.requests().ingest().len(),
        0,
        "no request reached the ingest"
    );
}

#[test]
fn alongside_the_ingest_both_get_the_same_spans() {
    let _g = serial();
    let c = collector();
    let r = Receiver::start();
    let client = staso::init(base(r.url()).api_key("test-key").base_url(c.url())).expect("init");
    let made = produce(25);
    let report = client.flush(WAIT);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.delivered, 25);
    for name in ["staso", "otlp"] {
        let d = report.destination(name).expect(name);
        assert_eq!((d.delivered, d.failed, d.pending), (25, 0, 0), "{name}");
    }
    assert_eq!(otlp_ids(&r.requests()), made);
    assert_eq!(stored_ids(&c), made);
    client.shutdown(WAIT);
}

#[test]
fn a_500_is_retried_with_the_same_spans_and_delivered() {
    let _g = serial();
    let r = Receiver::start();
    r.answer_next(1, 500, None);
    let client = staso::init(base(r.url()).staso_ingest(false)).expect("init");
    let made = produce(5);
    let report = client.flush(WAIT);
    assert!(report.ok(), "{report:?}");
    let otlp = report.destination("otlp").expect("otlp");
    assert_eq!((otlp.delivered, otlp.failed, otlp.pending), (5, 0, 0));
    assert_eq!(otlp.last_failure, Some(FailureKind::BackendUnavailable));
    let requests = r.requests();
    assert_eq!(requests[0].status, 500);
    let refused: BTreeSet<String> = requests[0]
        .spans()
        .iter()
        .map(|s| hex(&s.span_id))
        .collect();
    assert!(!refused.is_empty());
    assert!(
        refused.is_subset(&otlp_ids(&requests)),
        "the refused spans were sent again"
    );
    assert_eq!(otlp_ids(&requests), made);
    client.shutdown(WAIT);
}

#[test]
fn a_429_is_retried_after_its_retry_after() {
    let _g = serial();
    let r = Receiver::start();
    r.answer_next(1, 429, Some(1));
    let client = staso::init(base(r.url()).staso_ingest(false)).expect("init");
    let made = produce(3);
    let report = client.flush(WAIT);
    assert!(report.ok(), "{report:?}");
    assert_eq!(
        report.destination("otlp").map(|d| d.last_failure),
        Some(Some(FailureKind::RateLimited))
    );
    let requests = r.requests();
    assert_eq!(requests[0].status, 429);
    let retry = requests
        .iter()
        .find(|q| {
            q.status == 200
                && q.spans()
                    .iter()
                    .any(|s| s.span_id == requests[0].spans()[0].span_id)
        })
        .expect("the refused batch sent again");
    assert!(
        retry.at.duration_since(requests[0].at) >= Duration::from_millis(900),
        "not before Retry-After: {:?}",
        retry.at.duration_since(requests[0].at)
    );
    assert_eq!(otlp_ids(&requests), made);
    client.shutdown(WAIT);
}

#[test]
fn a_receiver_that_is_down_holds_nothing_back_from_the_ingest() {
    let _g = serial();
    let c = collector();
    let client = staso::init(
        base(closed_port_url())
            .api_key("test-key")
            .base_url(c.url()),
    )
    .expect("init");
    let made = produce(20);
    let report = client.flush(Duration::from_secs(2));
    let staso = report.destination("staso").expect("staso");
    assert_eq!((staso.delivered, staso.failed, staso.pending), (20, 0, 0));
    let otlp = report.destination("otlp").expect("otlp");
    assert_eq!((otlp.delivered, otlp.failed, otlp.pending), (0, 0, 20));
    assert_eq!(otlp.last_failure, Some(FailureKind::NetworkUnavailable));
    assert!(otlp.retryable && report.timed_out && !report.ok());
    assert_eq!(stored_ids(&c), made, "the ingest got every span");
    let end = client.shutdown(Duration::from_millis(300));
    assert_eq!(end.destination("staso").map(|d| d.delivered), Some(20));
}

#[test]
fn a_refused_batch_is_counted_failed_at_that_destination_only() {
    let _g = serial();
    let c = collector();
    let r = Receiver::start();
    r.answer_next(1, 400, None);
    let client = staso::init(
        base(r.url())
            .api_key("test-key")
            .base_url(c.url())
            .batch_size(100),
    )
    .expect("init");
    let made = produce(8);
    let report = client.flush(WAIT);
    let otlp = report.destination("otlp").expect("otlp");
    assert_eq!((otlp.delivered, otlp.failed, otlp.pending), (0, 8, 0));
    assert_eq!(otlp.last_failure, Some(FailureKind::MalformedResponse));
    assert!(!otlp.retryable);
    let staso = report.destination("staso").expect("staso");
    assert_eq!((staso.delivered, staso.failed, staso.pending), (8, 0, 0));
    assert_eq!(stored_ids(&c), made);
    // Overall a span counts as delivered only where every destination took it.
    assert_eq!((report.delivered, report.failed), (0, 8));
    assert_eq!(r.requests().len(), 1, "a 400 is not retried");
    client.shutdown(WAIT);
}

#[test]
fn an_outage_stays_within_max_queue_size_dropping_the_oldest_retries() {
    let _g = serial();
    let c = collector();
    let client = staso::init(
        base(closed_port_url())
            .api_key("test-key")
            .base_url(c.url())
            .max_queue_size(32),
    )
    .expect("init");
    let made = produce(32);
    // The bound is full of spans the ingest has but the OTLP side retries: its oldest
    // are given up on (counted failed there) so that new spans find room.
    let deadline = Instant::now() + WAIT;
    let report = loop {
        let report = client.flush(Duration::from_millis(100));
        let dropped = report.destination("otlp").map_or(0, |d| d.failed);
        if dropped > 0 || Instant::now() >= deadline {
            break report;
        }
    };
    assert_eq!(report.rejected, 0, "{report:?}");
    let otlp = report.destination("otlp").expect("otlp");
    assert!(otlp.failed >= 1, "{report:?}");
    assert_eq!(otlp.delivered, 0);
    assert_eq!(otlp.failed + otlp.pending, 32, "{report:?}");
    let staso = report.destination("staso").expect("staso");
    assert_eq!((staso.delivered, staso.failed), (32, 0), "{report:?}");
    assert_eq!(stored_ids(&c), made);
    let more = produce(1);
    let report = client.flush(WAIT.min(Duration::from_secs(2)));
    assert_eq!(report.rejected, 0, "room was made: {report:?}");
    assert!(stored_ids(&c).is_superset(&more));
    client.shutdown(Duration::from_millis(300));
}

#[test]
fn annotations_are_refused_and_counted_when_only_otlp_is_on() {
    let _g = serial();
    let c = collector();
    let r = Receiver::start();
    let client = staso::init(
        base(r.url())
            .api_key("test-key")
            .base_url(c.url())
            .staso_ingest(false),
    )
    .expect("init");
    let trace = {
        let s = span("scored", Kind::Agent);
        s.trace_id().expect("recording")
    };
    // Accepted by the API (the call never fails for this), refused by the client: there
    // is no Staso service to take it.
    assert!(staso::annotate(trace, "helpfulness", 0.9).is_ok());
    let report = client.flush(WAIT);
    assert_eq!(report.annotations.rejected, 1, "{report:?}");
    assert_eq!(report.annotations.last_failure, Some(FailureKind::Disabled));
    assert_eq!(report.delivered, 1);
    client.shutdown(WAIT);
    assert_eq!(c.requests().annotations().len(), 0);
}

#[test]
fn a_partial_success_counts_the_rejected_spans_failed() {
    let _g = serial();
    for protocol in [OtlpProtocol::HttpProtobuf, OtlpProtocol::HttpJson] {
        let r = Receiver::start();
        r.reject_next(2);
        let options = base(r.url())
            .staso_ingest(false)
            .batch_size(100)
            .otlp_protocol(protocol);
        let client = staso::init(options).expect("init");
        produce(5);
        let report = client.flush(WAIT);
        let otlp = report.destination("otlp").expect("otlp");
        let counts = (otlp.delivered, otlp.failed, otlp.pending);
        assert_eq!(counts, (3, 2, 0), "{protocol}: {report:?}");
        assert_eq!((report.delivered, report.failed), (3, 2));
        let sent: usize = r.requests().iter().map(|q| q.spans().len()).sum();
        assert_eq!(sent, 5, "a partial success is not retried");
        client.shutdown(WAIT);
    }
}

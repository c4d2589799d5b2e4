//! Annotations over loopback HTTP (tests/support/loopback.rs): the request of the
//! contract, the checks made before queueing, retries under one Idempotency-Key, failures
//! and rejections counted in the delivery report, and what `enabled = false` means. The
//! client is process-wide, so the tests take turns.

#[path = "support/loopback.rs"]
mod loopback;

use loopback::{Recorded, Reply, Server};
use serde_json::{json, Value};
use staso_core::testing::{capture, init_with_env};
use staso_core::{
    annotate, annotate_with, current_span, span, Annotation, AnnotationError, Client, FailureKind,
    Kind, Options, SpanId, TraceId,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

const KEY: &str = "ak_annotations";
const FLUSH: Duration = Duration::from_secs(10);

fn start(url: &str, o: Options) -> Client {
    let none: HashMap<&str, &str> = HashMap::new();
    init_with_env(
        o.api_key(KEY)
            .agent_name("annotating-bot")
            .base_url(url)
            .capture_git(false)
            .flush_interval(Duration::from_secs(60))
            .install_exit_hook(false),
        &none,
    )
    .expect("init")
}

/// Acknowledges ingest requests, answers annotations with `answer(request, n)`.
fn server(answer: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Server {
    let n = Arc::new(AtomicUsize::new(0));
    Server::start(move |req, _| {
        if req.path == "/v1/traces/ingest" {
            let traces = req.json()["traces"].as_array().map_or(0, Vec::len);
            return Reply::json(
                200,
                &json!({"accepted": traces, "rejected": 0, "spans_dropped": 0,
                        "receipt_id": req.header("idempotency-key").unwrap_or("")}),
            );
        }
        answer(req, n.fetch_add(1, Ordering::SeqCst))
    })
}

fn ok_server() -> Server {
    server(|_, _| Reply::json(200, &json!({"ok": true, "annotation_id": 1})))
}

fn annotation_requests(s: &Server) -> Vec<Recorded> {
    s.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/annotations"))
        .collect()
}

fn trace() -> TraceId {
    "0af7651916cd43dd8448eb211c80319c"
        .parse()
        .expect("trace id")
}

#[test]
fn the_request_is_the_contracts_and_it_is_counted_apart_from_spans() {
    let _s = serial();
    let s = ok_server();
    let client = start(&s.url(), Options::new());
    let span_id = SpanId::from_u64(0x00f067aa0ba902b7).expect("id");
    annotate(trace(), "helpfulness", 0.9).expect("valid");
    annotate_with(
        trace(),
        Annotation::new("label", "wrong-tool")
            .span_id(span_id)
            .comment("picked search"),
    )
    .expect("valid");
    annotate(trace(), "resolved", true).expect("valid");
    let report = client.flush(FLUSH);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.accepted, 0, "span counts stay exact");
    let a = &report.annotations;
    assert_eq!((a.accepted, a.delivered, a.failed, a.pending), (3, 3, 0, 0));
    let reqs = annotation_requests(&s);
    assert_eq!(reqs.len(), 3);
    let mut bodies: Vec<Value> = Vec::new();
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.path,
            "/v1/traces/0af76519-16cd-43dd-8448-eb211c80319c/annotations"
        );
        assert_eq!(r.header("x-api-key"), Some(KEY));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r
            .header("user-agent")
            .is_some_and(|u| u.starts_with("staso-rust/")));
        let key = r.header("idempotency-key").expect("idempotency key");
        assert!(uuid::Uuid::parse_str(key).is_ok(), "{key}");
        bodies.push(r.json());
    }
    bodies.sort_by_key(|b| b["name"].as_str().unwrap_or("").to_string());
    assert_eq!(
        bodies,
        [
            json!({"name": "helpfulness", "value": 0.9, "data_type": "numeric"}),
            json!({"name": "label", "value": "wrong-tool", "data_type": "categorical",
                   "span_id": "00000000-0000-0000-00f0-67aa0ba902b7", "comment": "picked search"}),
            json!({"name": "resolved", "value": true, "data_type": "boolean"}),
        ]
    );
    let _ = client.shutdown(FLUSH);
}

#[test]
fn bad_annotations_are_refused_before_anything_is_queued() {
    let _s = serial();
    let s = ok_server();
    let client = start(&s.url(), Options::new());
    assert_eq!(annotate(trace(), "", 1), Err(AnnotationError::EmptyName));
    assert_eq!(annotate(trace(), "  ", 1), Err(AnnotationError::EmptyName));
    let e = annotate(trace(), "score", f64::NAN).expect_err("NaN");
    assert!(e.to_string().contains("not finite"), "{e}");
    let report = client.flush(FLUSH);
    assert_eq!(report.annotations.accepted, 0);
    assert!(annotation_requests(&s).is_empty());
    let _ = client.shutdown(FLUSH);
}

#[test]
fn a_retryable_failure_is_retried_under_the_same_idempotency_key() {
    let _s = serial();
    let s = server(|_, n| {
        if n < 2 {
            Reply::json(503, &json!({"error": "down"}))
        } else {
            Reply::json(200, &json!({"ok": true}))
        }
    });
    let client = start(&s.url(), Options::new());
    annotate(trace(), "helpfulness", 1).expect("valid");
    let report = client.flush(FLUSH);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.annotations.delivered, 1);
    let reqs = annotation_requests(&s);
    assert_eq!(reqs.len(), 3);
    let keys: Vec<&str> = reqs
        .iter()
        .filter_map(|r| r.header("idempotency-key"))
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    let _ = client.shutdown(FLUSH);
}

#[test]
fn a_refused_annotation_fails_once_and_is_reported() {
    let _s = serial();
    let s = server(|_, _| Reply::json(404, &json!({"error": "unknown trace"})));
    let client = start(&s.url(), Options::new());
    annotate(trace(), "helpfulness", 1).expect("valid");
    let report = client.flush(FLUSH);
    assert!(!report.ok());
    let a = &report.annotations;
    assert_eq!((a.accepted, a.delivered, a.failed, a.pending), (1, 0, 1, 0));
    assert_eq!(a.last_failure, Some(FailureKind::MalformedResponse));
    assert_eq!(annotation_requests(&s).len(), 1, "not retried");
    let _ = client.shutdown(FLUSH);
}

#[test]
fn shutdown_delivers_what_was_annotated() {
    let _s = serial();
    let s = server(|_, _| Reply::json(200, &json!({"ok": true})).after(Duration::from_millis(50)));
    let client = start(&s.url(), Options::new());
    for i in 0..10 {
        annotate(trace(), format!("n{i}"), i).expect("valid");
    }
    let report = client.shutdown(FLUSH);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.annotations.delivered, 10);
    // After shutdown there is no client: nothing more is sent.
    annotate(trace(), "late", 1).expect("valid");
    assert_eq!(annotation_requests(&s).len(), 10);
}

#[test]
fn the_queue_is_bounded_and_what_does_not_fit_is_rejected() {
    let _s = serial();
    let s = server(|_, _| Reply::hang());
    let client = start(
        &s.url(),
        Options::new().request_timeout(Duration::from_secs(30)),
    );
    let total = 3000;
    for i in 0..total {
        annotate(trace(), "n", i).expect("valid");
    }
    let report = client.flush(Duration::from_millis(200));
    let a = &report.annotations;
    // The queue and the sender each hold at most 1024.
    assert!(a.accepted <= 2048, "{a:?}");
    assert_eq!(a.accepted + a.rejected, total as u64, "{a:?}");
    assert_eq!(a.last_failure, Some(FailureKind::QueueFull));
    assert!(!report.ok());
    let _ = client.shutdown(Duration::from_millis(200));
}

#[test]
fn spans_annotate_themselves() {
    let _s = serial();
    let s = ok_server();
    let client = start(&s.url(), Options::new());
    let (trace_id, span_id) = {
        let agent = span("agent", Kind::Agent);
        agent.annotate("quality", 4).expect("valid");
        current_span()
            .annotate_with(Annotation::new("tone", "polite").comment("qa"))
            .expect("valid");
        (
            agent.trace_id().expect("recorded"),
            agent.span_id().expect("recorded"),
        )
    };
    let report = client.flush(FLUSH);
    assert_eq!(report.annotations.delivered, 2, "{report:?}");
    for r in annotation_requests(&s) {
        assert_eq!(r.path, format!("/v1/traces/{trace_id}/annotations"));
        assert_eq!(r.json()["span_id"], span_id.to_string());
    }
    let _ = client.shutdown(FLUSH);
}

#[test]
fn in_a_test_capture_annotations_are_captured_not_sent() {
    let (_, spans) = capture(|| {
        let s = span("agent", Kind::Agent);
        s.annotate("quality", 4).expect("valid");
    });
    let a = &spans.annotations()[0];
    assert_eq!(a.trace_id.to_string(), spans[0].trace_id());
    assert_eq!(a.annotation.name(), "quality");
    assert_eq!(
        a.annotation.target_span().map(|s| s.to_string()).as_deref(),
        Some(spans[0].span_id())
    );
}

#[test]
fn with_tracing_off_or_no_client_nothing_is_sent() {
    let _s = serial();
    let s = ok_server();
    let client = start(&s.url(), Options::new().enabled(false));
    annotate(trace(), "helpfulness", 1).expect("valid");
    let report = client.flush(FLUSH);
    assert_eq!(report.last_failure, Some(FailureKind::Disabled));
    assert_eq!(report.annotations.accepted, 0);
    let _ = client.shutdown(FLUSH);
    // No client at all: dropped (with one warning), still not an error.
    annotate(trace(), "helpfulness", 1).expect("valid");
    assert!(annotation_requests(&s).is_empty());
}

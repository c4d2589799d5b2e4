//! W3C trace context inside one process, as a user's test sees it: what `inject` writes
//! for the current span, and spans that join an extracted context (sampled or not),
//! synchronously and across `.await`. The two-process test is in tests/integrations.

use staso_core::propagation::{self, TraceContext};
use staso_core::testing::{capture, capture_future};
use staso_core::{span, Kind};
use std::collections::HashMap;

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn headers(traceparent: &str) -> HashMap<String, String> {
    HashMap::from([("traceparent".to_string(), traceparent.to_string())])
}

#[test]
fn inject_writes_the_current_span_and_nothing_outside_one() {
    let ((sent, outside), spans) = capture(|| {
        let mut outside = HashMap::new();
        assert!(!propagation::inject(&mut outside));
        let _call = span("call-tool-server", Kind::Tool);
        let mut h = HashMap::new();
        assert!(propagation::inject(&mut h));
        (h, outside)
    });
    assert!(outside.is_empty());
    let call = spans.named("call-tool-server");
    let ctx = TraceContext::from_carrier(&sent)
        .expect("valid")
        .expect("sent");
    assert_eq!(ctx.trace_id().to_string(), call.trace_id());
    assert_eq!(ctx.span_id().to_string(), call.span_id());
    assert!(ctx.sampled());
    assert!(sent["traceparent"].ends_with("-01"), "{sent:?}");
    assert!(
        !sent.contains_key("tracestate"),
        "nothing came in, nothing goes out"
    );
}

#[test]
fn spans_inside_an_extracted_context_are_its_children() {
    let (_, spans) = capture(|| {
        let parent = propagation::extract(&headers(CALLER)).expect("valid");
        let _joined = propagation::attach(&parent);
        let _handler = span("handle", Kind::Chain);
        drop(span("lookup", Kind::Tool));
    });
    let handler = spans.named("handle");
    assert_eq!(handler.trace_id(), "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
    assert_eq!(
        handler.parent_span_id(),
        Some("00000000-0000-0000-00f0-67aa0ba902b7")
    );
    assert_eq!(
        spans.named("lookup").parent_span_id(),
        Some(handler.span_id())
    );
    assert!(
        spans.provisional().is_empty(),
        "a span with a remote parent is not a root: no provisional copy"
    );
}

#[test]
fn tracestate_travels_on_while_its_context_is_attached() {
    let mut incoming = headers(CALLER);
    incoming.insert("tracestate".into(), "congo=t61rcWkgMzE".into());
    let ((inside, after), _) = capture(|| {
        let parent = propagation::extract(&incoming).expect("valid");
        let inside = {
            let _joined = propagation::attach(&parent);
            let _s = span("handle", Kind::Chain);
            let mut out = HashMap::new();
            propagation::inject(&mut out);
            out
        };
        let _other = span("later", Kind::Chain);
        let mut after = HashMap::new();
        propagation::inject(&mut after);
        (inside, after)
    });
    assert_eq!(inside["tracestate"], "congo=t61rcWkgMzE");
    assert!(inside["traceparent"].starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(!after.contains_key("tracestate"), "{after:?}");
}

#[test]
fn an_unsampled_caller_gets_no_spans_and_its_decision_passes_on() {
    let (sent, spans) = capture(|| {
        let parent = propagation::extract(&headers(&CALLER.replace("-01", "-00"))).expect("valid");
        assert!(!parent.sampled());
        let _joined = propagation::attach(&parent);
        let _handler = span("handle", Kind::Chain);
        let mut out = HashMap::new();
        propagation::inject(&mut out);
        out
    });
    assert_eq!(spans.len(), 0);
    assert_eq!(
        sent["traceparent"],
        CALLER.replace("-01", "-00"),
        "the caller's context is passed on as it came"
    );
}

#[tokio::test]
async fn a_malformed_traceparent_is_ignored_and_the_request_runs_as_a_root() {
    let bad = headers("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01");
    assert_eq!(propagation::extract(&bad), None);
    assert!(TraceContext::from_carrier(&bad)
        .expect_err("uppercase hex")
        .to_string()
        .contains("lowercase hex"));
    let (_, spans) = capture_future(propagation::continue_from(&bad, async {
        drop(span("handle", Kind::Chain));
    }))
    .await;
    assert_eq!(spans.named("handle").parent_span_id(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_future_stays_in_its_context_across_await() {
    let incoming = headers(CALLER);
    let ((), spans) = capture_future(propagation::continue_from(&incoming, async {
        let _ = tokio::spawn(async { tokio::task::yield_now().await }).await;
        tokio::task::yield_now().await;
        drop(span("after-await", Kind::Tool));
    }))
    .await;
    assert_eq!(
        spans.named("after-await").parent_span_id(),
        Some("00000000-0000-0000-00f0-67aa0ba902b7")
    );
}

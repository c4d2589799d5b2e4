//! Ingest over real loopback HTTP: acks, storage, validation errors, auth, idempotency,
//! the provisional/final upsert rule.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn valid_request_is_acked_and_stored() {
    let c = start();
    let http = client();
    let (t, body) = three_span_body();
    let key = new_key();
    let (status, ack) = status_json(post_with_key(&http, &c.url(), &body, &key).expect("send"));
    assert_eq!(status, 200, "{ack}");
    assert_eq!(
        ack,
        json!({"accepted": 1, "rejected": 0, "spans_dropped": 0, "receipt_id": key})
    );
    assert!(c.wait_until(Duration::from_secs(5), |n| n.spans >= 3));
    let spans = c.spans();
    assert_eq!(spans.len(), 3);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["agent_run", "search", "ask"]);
    assert_eq!(
        spans[1].parent_span_id.as_deref(),
        Some(spans[0].span_id.as_str())
    );
    assert!(spans.iter().all(|s| s.trace_id == t
        && s.environment == "default"
        && s.workspace_slug == "default"
        && s.final_copies_received == 1
        && !s.provisional));
    assert_eq!(spans[2].str_field("model"), "gpt-x");
    assert_eq!(spans[0].attributes()["code.function"], "f");
    assert_eq!(spans[0].input(), Some(json!({"q": 1})));

    let traces = c.traces();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].timestamp, "2026-11-26T06:10:01.123456+00:00");

    let reqs = c.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].status, Some(200));
    assert_eq!(reqs[0].idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(reqs[0].api_key_valid, Some(true));
    assert_eq!(reqs[0].header("x-api-key"), Some("<redacted>"));
    assert_eq!(reqs[0].header("User-Agent"), Some("staso-rust/0.1.0"));
    assert_eq!(reqs[0].body.as_ref(), Some(&body));
    assert!(reqs[0].validation_error.is_none());

    let tree = staso_collector::render_traces(&c.traces());
    assert!(tree.contains("└─ agent_run [agent] 12.50 ms ok"), "{tree}");
    assert!(tree.contains("      └─ ask [llm] 12.50 ms ok"), "{tree}");
}

#[test]
fn several_traces_in_one_batch_are_counted() {
    let c = start();
    let (a, b) = (span_id(), span_id());
    let body = json!({"traces": [
        trace(&trace_id(), vec![span(&a, None, "one", "chain", 1)]),
        trace(&trace_id(), vec![span(&b, None, "two", "custom", 2)]),
    ]});
    let (status, ack) = status_json(post(&client(), &c.url(), &body).expect("send"));
    assert_eq!((status, ack["accepted"].clone()), (200, json!(2)));
    assert_eq!(c.traces().len(), 2);
}

#[test]
fn wrong_or_missing_api_key_is_401() {
    let c = start();
    let (_, body) = three_span_body();
    for key in [Some("wrong-key"), None] {
        let mut r = client()
            .post(format!("{}/v1/traces/ingest", c.url()))
            .header("Content-Type", "application/json")
            .header("User-Agent", "staso-rust/0.1.0")
            .header("Idempotency-Key", new_key())
            .body(body.to_string());
        if let Some(k) = key {
            r = r.header("X-API-Key", k);
        }
        let (status, err) = status_json(r.send().expect("send"));
        assert_eq!(status, 401);
        assert_eq!(err["field"], "headers.X-API-Key");
        assert!(!err.to_string().contains(KEY), "the key is never echoed");
    }
    assert_eq!(c.counts().spans, 0);
    let reqs = c.requests();
    assert_eq!(reqs[0].api_key_valid, Some(false));
    assert_eq!(reqs[1].api_key_valid, None);
}

#[test]
fn idempotent_retry_is_acked_but_stored_once() {
    let c = start();
    let http = client();
    let (_, body) = three_span_body();
    let key = new_key();
    for _ in 0..3 {
        let (status, ack) = status_json(post_with_key(&http, &c.url(), &body, &key).expect("send"));
        assert_eq!(
            (status, ack["receipt_id"].as_str()),
            (200, Some(key.as_str()))
        );
        assert_eq!(ack["accepted"], 1);
    }
    assert_eq!(c.counts().spans, 3);
    assert!(c
        .spans()
        .iter()
        .all(|s| s.copies_received == 1 && s.final_copies_received == 1));
    let replays: Vec<bool> = c.requests().iter().map(|r| r.replay).collect();
    assert_eq!(replays, [false, true, true]);

    // The same spans under a new key are a second delivery: counted.
    post(&http, &c.url(), &body).expect("send");
    assert!(c.spans().iter().all(|s| s.final_copies_received == 2));
}

fn stored_trace(c: &staso_collector::Collector, id: &str) -> staso_collector::StoredTrace {
    c.traces()
        .into_iter()
        .find(|t| t.trace_id == id)
        .expect("trace stored")
}

#[test]
fn provisional_root_never_replaces_final() {
    let c = start();
    let http = client();
    let t = trace_id();
    let root = span_id();
    let child = span_id();
    let mut final_root = span(&root, None, "agent_run", "agent", 1);
    final_root["duration_ms"] = json!(250.0);
    let send = |spans: Vec<Value>| {
        let (status, ack) = status_json(
            post(&http, &c.url(), &json!({"traces": [trace(&t, spans)]})).expect("send"),
        );
        assert_eq!(status, 200, "{ack}");
    };

    // Provisional first, then the final copy replaces it.
    send(vec![provisional(final_root.clone())]);
    let s = &c.spans()[0];
    assert!(s.provisional && s.duration_ms == 0.0);
    assert_eq!((c.counts().spans, c.counts().final_spans), (1, 0));
    assert!(!c.wait_until(Duration::from_millis(50), |n| n.final_spans >= 1));
    send(vec![
        final_root.clone(),
        span(&child, Some(&root), "tool", "tool", 2),
    ]);
    assert!(c.wait_until(Duration::from_secs(5), |n| n.final_spans >= 2));
    let s = stored_trace(&c, &t).spans;
    assert!(!s[0].provisional);
    assert_eq!(s[0].duration_ms, 250.0);

    // A late provisional copy does not replace the final one, but is counted.
    send(vec![provisional(final_root.clone())]);
    let r = &stored_trace(&c, &t).spans[0];
    assert!(!r.provisional);
    assert_eq!(r.duration_ms, 250.0);
    assert_eq!((r.copies_received, r.final_copies_received), (3, 1));

    // A newer final copy does replace an older final one.
    let mut newer = final_root;
    newer["status"] = json!("error");
    newer["error_message"] = json!("boom");
    send(vec![newer]);
    let r = &stored_trace(&c, &t).spans[0];
    assert_eq!(
        (r.status.as_str(), r.error_message.as_deref()),
        ("error", Some("boom"))
    );
    assert_eq!(r.final_copies_received, 2);
    assert_eq!(c.counts().spans, 2);
    assert!(staso_collector::render_traces(&c.traces())
        .contains("agent_run [agent] 250.00 ms error: boom"));
}

#[test]
fn python_style_variations_are_accepted() {
    let c = start();
    let t = trace_id();
    // Python's isoformat() drops the fraction when microseconds are 0; Python span ids
    // and trace ids are random bits in UUID shape, not v4; workspace_slug may be "".
    let mut root = span("00000000-0000-0000-ffff-000000000001", None, "r", "tool", 1);
    root["timestamp"] = json!("2026-11-26T06:10:01+00:00");
    root["usage_available"] = json!(false);
    root["input"] = json!("");
    root["agent_id"] = json!("");
    let body = json!({"traces": [{
        "trace_id": t, "timestamp": "2026-11-26T06:10:01+00:00",
        "environment": "staging", "workspace_slug": "", "spans": [root]
    }]});
    let (status, err) = status_json(post(&client(), &c.url(), &body).expect("send"));
    assert_eq!(status, 200, "{err}");
    assert_eq!(c.spans()[0].workspace_slug, "");
}

#[test]
fn unknown_paths_and_methods() {
    let c = start();
    let http = client();
    let r = http
        .get(format!("{}/v1/traces/ingest", c.url()))
        .send()
        .expect("send");
    assert_eq!(r.status().as_u16(), 405);
    let r = http
        .post(format!("{}/v2/other", c.url()))
        .send()
        .expect("send");
    assert_eq!(r.status().as_u16(), 404);
}

#[test]
fn wait_api_times_out_without_polling() {
    let c = start();
    let t0 = std::time::Instant::now();
    assert!(!c.wait_until(Duration::from_millis(200), |n| n.spans >= 1));
    assert!(t0.elapsed() >= Duration::from_millis(200));
    let url = c.url();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let (_, body) = three_span_body();
        post(&client(), &url, &body)
            .expect("send")
            .status()
            .as_u16()
    });
    assert!(c.wait_until(Duration::from_secs(5), |n| n.requests >= 1));
    assert!(c.wait_until(Duration::from_secs(5), |n| n.spans >= 3));
    assert_eq!(sender.join().expect("join"), 200);
}

#[tokio::test]
async fn async_start_and_wait() {
    let c = staso_collector::Collector::start(staso_collector::CollectorConfig {
        api_key: KEY.into(),
        ..Default::default()
    })
    .await
    .expect("start");
    let url = c.url();
    let sender = tokio::task::spawn_blocking(move || {
        let (_, body) = three_span_body();
        post(&client(), &url, &body)
            .expect("send")
            .status()
            .as_u16()
    });
    assert!(
        c.wait_until_async(Duration::from_secs(5), |n| n.spans >= 3)
            .await
    );
    assert_eq!(sender.await.expect("join"), 200);
    assert!(
        !c.wait_until_async(Duration::from_millis(100), |n| n.requests >= 2)
            .await
    );
}

//! Annotations over real loopback HTTP: validation, storage, and retries made idempotent
//! by `Idempotency-Key` (stored once, answered the same), with faults on that endpoint.

mod common;

use common::*;
use serde_json::{json, Value};
use staso_collector::{Collector, Endpoint};

fn annotate(c: &Collector, trace_id: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
    let mut r = client()
        .post(format!("{}/v1/traces/{trace_id}/annotations", c.url()))
        .header("X-API-Key", KEY)
        .header("Content-Type", "application/json")
        .header("User-Agent", "staso-rust/0.1.0")
        .body(body.to_string());
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    status_json(r.send().expect("send"))
}

#[test]
fn annotations_are_validated_and_stored() {
    let c = start();
    let http = client();
    let t = trace_id();
    let send = |body: Value, key: &str| {
        status_json(
            http.post(format!("{}/v1/traces/{t}/annotations", c.url()))
                .header("X-API-Key", key)
                .header("Content-Type", "application/json")
                .header("User-Agent", "staso-rust/0.1.0")
                .body(body.to_string())
                .send()
                .expect("send"),
        )
    };
    let (status, _) = send(
        json!({"name": "quality", "value": 0.5, "data_type": "numeric",
               "span_id": span_id(), "comment": "ok"}),
        KEY,
    );
    assert_eq!(status, 200);
    let (status, _) = send(
        json!({"name": "label", "value": "good", "data_type": "categorical"}),
        KEY,
    );
    assert_eq!(status, 200);
    for (body, field) in [
        (
            json!({"name": "q", "value": "0.5", "data_type": "numeric"}),
            "value",
        ),
        (
            json!({"name": "q", "value": 1, "data_type": "boolean"}),
            "value",
        ),
        (
            json!({"name": "", "value": true, "data_type": "boolean"}),
            "name",
        ),
        (
            json!({"name": "q", "value": true, "data_type": "flag"}),
            "data_type",
        ),
        (
            json!({"name": "q", "value": true, "data_type": "boolean", "span_id": "x"}),
            "span_id",
        ),
        (
            json!({"name": "q", "value": true, "data_type": "boolean", "extra": 1}),
            "extra",
        ),
    ] {
        let (status, err) = send(body, KEY);
        assert_eq!((status, err["field"].as_str()), (400, Some(field)), "{err}");
    }
    let (status, _) = send(
        json!({"name": "q", "value": true, "data_type": "boolean"}),
        "nope",
    );
    assert_eq!(status, 401);
    let stored = c.annotations();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].trace_id, t);
    assert_eq!(stored[1].body["value"], "good");
}

#[test]
fn a_replay_with_the_same_key_is_stored_once_and_answered_the_same() {
    let c = start();
    let t = trace_id();
    let body =
        json!({"name": "quality", "value": 0.9, "data_type": "numeric", "span_id": span_id()});
    let key = new_key();
    let first = annotate(&c, &t, &body, Some(&key));
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(annotate(&c, &t, &body, Some(&key)), first);
    assert_eq!(c.annotations().len(), 1);
    let replays: Vec<bool> = c
        .requests()
        .annotations()
        .iter()
        .map(|r| r.replay)
        .collect();
    assert_eq!(replays, [false, true]);

    // The same annotation under another key, or with none, is another annotation.
    let second = annotate(&c, &t, &body, Some(&new_key()));
    assert_ne!(second.1["annotation_id"], first.1["annotation_id"]);
    annotate(&c, &t, &body, None);
    assert_eq!(c.annotations().len(), 3);

    // A key reused for something else is a conflict, and stores nothing.
    let other = json!({"name": "quality", "value": 0.1, "data_type": "numeric"});
    let (status, err) = annotate(&c, &t, &other, Some(&key));
    assert_eq!(
        (status, err["field"].as_str(), err["code"].as_str()),
        (
            409,
            Some("headers.Idempotency-Key"),
            Some("idempotency_conflict")
        )
    );
    let (status, err) = annotate(&c, &trace_id(), &body, Some(&key));
    assert_eq!(status, 409, "{err}");
    let (status, err) = annotate(&c, &t, &body, Some("not-a-uuid"));
    assert_eq!(
        (status, err["field"].as_str()),
        (400, Some("headers.Idempotency-Key"))
    );
    assert_eq!(c.annotations().len(), 3);
    assert_eq!(c.annotations()[0].body, body);
}

#[test]
fn a_retry_after_a_fault_is_stored_once() {
    let c = start();
    let faults = c.faults().on(Endpoint::Annotations);
    faults.fail_next(1, 503);
    faults.drop_next(1);
    let t = trace_id();
    let body = json!({"name": "ok", "value": true, "data_type": "boolean"});
    let key = new_key();
    assert_eq!(annotate(&c, &t, &body, Some(&key)).0, 503);
    let dropped = client()
        .post(format!("{}/v1/traces/{t}/annotations", c.url()))
        .header("X-API-Key", KEY)
        .header("Content-Type", "application/json")
        .header("User-Agent", "staso-rust/0.1.0")
        .header("Idempotency-Key", &key)
        .body(body.to_string())
        .send();
    assert!(
        dropped.is_err(),
        "the connection is closed without an answer"
    );
    assert!(
        c.annotations().is_empty(),
        "a faulted request stores nothing"
    );
    let (status, ok) = annotate(&c, &t, &body, Some(&key));
    assert_eq!(status, 200, "{ok}");
    assert_eq!(annotate(&c, &t, &body, Some(&key)), (status, ok));
    assert_eq!(c.annotations().len(), 1);
    let requests = c.requests().annotations();
    assert_eq!(requests.len(), 4);
    assert!(requests.iter().all(|r| r.validation_error.is_none()));
}

//! Store modes and request recording: count-only mode validates, dedupes, acks and counts
//! like SQLite mode; the in-memory counts agree with the stored rows, survive a restart
//! on a database file; request bodies are kept within their budget.

mod common;

use common::*;
use serde_json::{json, Value};
use staso_collector::{id_key, Collector, CollectorConfig, Spans, StoreMode};
use std::collections::HashMap;
use std::time::Duration;

fn start_with(config: CollectorConfig) -> Collector {
    Collector::start_blocking(CollectorConfig {
        api_key: KEY.into(),
        ..config
    })
    .expect("collector starts")
}

fn ok(c: &Collector, body: &Value, key: &str) {
    let (status, ack) = status_json(post_with_key(&client(), &c.url(), body, key).expect("send"));
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["receipt_id"], key, "{ack}");
}

/// A one-span trace holding a root copy (provisional or final) of span `id`.
fn root_copy(t: &str, id: &str, provisional_copy: bool) -> Value {
    let s = span(id, None, "root", "agent", 1);
    let s = if provisional_copy { provisional(s) } else { s };
    json!({"traces": [trace(t, vec![s])]})
}

/// The span ids of a body, as numbers.
fn ids(body: &Value) -> Vec<u128> {
    body["traces"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["spans"].as_array().into_iter().flatten())
        .map(|s| id_key(s["span_id"].as_str().expect("id")).expect("id shape"))
        .collect()
}

/// The final copies counted for a span id.
fn final_copies(spans: &Spans, id: u128) -> Option<u32> {
    spans
        .copies()
        .iter()
        .find(|s| s.span_id == id)
        .map(|s| s.final_copies)
}

#[test]
fn count_only_validates_dedupes_acks_and_counts() {
    let c = start_with(CollectorConfig {
        store: StoreMode::CountOnly,
        ..Default::default()
    });
    let (_, body) = three_span_body();
    let key = new_key();
    ok(&c, &body, &key);
    assert!(c.wait_until(Duration::from_secs(5), |n| n.final_spans >= 3));
    assert_eq!((c.counts().spans, c.counts().final_spans), (3, 3));
    assert!(
        c.spans().is_empty() && c.traces().is_empty(),
        "nothing stored"
    );

    // A retry with the same key is acked and not counted again.
    ok(&c, &body, &key);
    let reqs = c.requests().ingest();
    assert_eq!(
        reqs.iter().map(|r| r.replay).collect::<Vec<_>>(),
        [false, true]
    );
    let spans = c.spans();
    assert_eq!(spans.copies().len(), 3);
    assert!(ids(&body)
        .iter()
        .all(|id| final_copies(&spans, *id) == Some(1)));
    assert_eq!(c.counts().duplicated, 0);

    // The same spans under a new key: a second final copy of each.
    ok(&c, &body, &new_key());
    assert_eq!(c.counts().spans, 3);
    assert_eq!(c.counts().duplicated, 3);
    assert!(c.spans().copies().iter().all(|s| s.final_copies == 2));

    // Still strict: 400 naming the field, nothing counted.
    let mut bad = three_span_body().1;
    bad["traces"][0]["spans"][2]["kind"] = json!("banana");
    let (status, err) = status_json(post(&client(), &c.url(), &bad).expect("send"));
    assert_eq!(status, 400);
    assert_eq!(err["field"], "traces[0].spans[2].kind");
    assert_eq!(c.counts().spans, 3);

    // Provisional root, then its final copy, then a late provisional copy.
    let (t, r) = (trace_id(), span_id());
    ok(&c, &root_copy(&t, &r, true), &new_key());
    assert_eq!((c.counts().spans, c.counts().final_spans), (4, 3));
    assert_eq!(final_copies(&c.spans(), id_key(&r).expect("id")), Some(0));
    ok(&c, &root_copy(&t, &r, false), &new_key());
    ok(&c, &root_copy(&t, &r, true), &new_key());
    assert_eq!((c.counts().spans, c.counts().final_spans), (4, 4));
    let copies = c.spans().copies_of(&r).expect("root counted");
    assert_eq!(
        (copies.copies, copies.final_copies, copies.provisional),
        (3, 1, false)
    );
    assert_eq!(copies.trace_id, id_key(&t).expect("id"));
}

#[test]
fn counts_agree_with_the_stored_rows() {
    let c = start();
    let (_, body) = three_span_body();
    ok(&c, &body, &new_key());
    ok(&c, &body, &new_key());
    let (t, r) = (trace_id(), span_id());
    for provisional_copy in [true, false, true] {
        ok(&c, &root_copy(&t, &r, provisional_copy), &new_key());
    }
    let (t2, r2) = (trace_id(), span_id());
    ok(&c, &root_copy(&t2, &r2, true), &new_key());

    let rows: HashMap<(u128, u128), (u64, u64, bool)> = c
        .spans()
        .into_iter()
        .map(|s| {
            (
                (
                    id_key(&s.trace_id).expect("id"),
                    id_key(&s.span_id).expect("id"),
                ),
                (s.copies_received, s.final_copies_received, s.provisional),
            )
        })
        .collect();
    let counted: HashMap<(u128, u128), (u64, u64, bool)> = c
        .spans()
        .copies()
        .iter()
        .map(|s| {
            (
                (s.trace_id, s.span_id),
                (
                    u64::from(s.copies),
                    u64::from(s.final_copies),
                    s.provisional,
                ),
            )
        })
        .collect();
    assert_eq!(rows, counted);
    assert_eq!(rows.len(), 5);
    assert_eq!((c.counts().spans, c.counts().final_spans), (5, 4));
    assert_eq!(c.counts().duplicated, 3);
    let stored_root = c
        .spans()
        .into_iter()
        .find(|s| s.trace_id == t)
        .expect("root stored");
    assert!(!stored_root.provisional && stored_root.duration_ms == 12.5);
}

#[test]
fn a_database_file_is_reloaded_with_its_keys_and_counts() {
    let db = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("reload-{}.db", uuid::Uuid::new_v4()));
    let config = || CollectorConfig {
        db_path: Some(db.clone()),
        ..Default::default()
    };
    let (_, body) = three_span_body();
    let key = new_key();
    {
        let c = start_with(config());
        ok(&c, &body, &key);
        assert_eq!(c.counts().final_spans, 3);
    }
    let c = start_with(config());
    assert_eq!((c.counts().spans, c.counts().final_spans), (3, 3));
    ok(&c, &body, &key);
    assert!(c.requests().ingest()[0].replay, "the key was stored before");
    assert_eq!(c.counts().duplicated, 0);
    ok(&c, &body, &new_key());
    assert_eq!(c.counts().duplicated, 3);
    assert!(c.spans().iter().all(|s| s.final_copies_received == 2));
    drop(c);
    let _ = std::fs::remove_file(&db);
}

#[test]
fn bodies_are_kept_within_the_budget() {
    let (_, body) = three_span_body();
    let size = body.to_string().len();
    let c = start_with(CollectorConfig {
        body_budget_bytes: 2 * size + size / 2,
        ..Default::default()
    });
    for _ in 0..4 {
        ok(&c, &body, &new_key());
    }
    let reqs = c.requests().ingest();
    let kept: Vec<bool> = reqs.iter().map(|r| r.body.is_some()).collect();
    assert_eq!(kept, [false, false, true, true]);
    assert!(reqs[0].body_forgotten && !reqs[3].body_forgotten);
    assert_eq!(reqs[3].body.as_ref(), Some(&body));
    assert!(reqs.iter().all(|r| r.body_len == size));
    assert_eq!(c.counts().final_spans, 3);

    let c = start_with(CollectorConfig {
        record_bodies: false,
        ..Default::default()
    });
    ok(&c, &body, &new_key());
    let r = &c.requests().ingest()[0];
    assert!(r.body.is_none() && r.body_forgotten && r.body_len == size);
    assert_eq!(r.status, Some(200));
}

//! Ingest over real loopback HTTP: acks, storage, validation errors, auth, idempotency,
//! the provisional/final upsert rule, and annotations.

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
    assert!(c.wait_for_spans(3, Duration::from_secs(5)));
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

    let tree = c.render();
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

/// Applies `mutate` to a valid body and expects a 400 naming `field`.
fn expect_400(c: &staso_collector::Collector, mutate: impl FnOnce(&mut Value), field: &str) {
    let (_, mut body) = three_span_body();
    mutate(&mut body);
    let (status, err) = status_json(post(&client(), &c.url(), &body).expect("send"));
    assert_eq!(status, 400, "{field}: {err}");
    assert_eq!(err["field"], field, "{err}");
    assert!(
        err["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{err}"
    );
}

type Mutation = Box<dyn FnOnce(&mut Value)>;

#[test]
fn each_invalid_span_field_is_named() {
    let c = start();
    let s = "traces[0].spans[1]";
    let set = |k: &'static str, v: Value| move |b: &mut Value| b["traces"][0]["spans"][1][k] = v;
    let remove = |k: &'static str| {
        move |b: &mut Value| {
            b["traces"][0]["spans"][1]
                .as_object_mut()
                .map(|o| o.remove(k));
        }
    };
    let cases: Vec<(Mutation, String)> = vec![
        (
            Box::new(set("trace_id", json!("x"))),
            format!("{s}.trace_id"),
        ),
        (Box::new(set("surprise", json!(1))), format!("{s}.surprise")),
        (
            Box::new(set(
                "span_id",
                json!("00000000-0000-0000-ABCD-0123456789AB"),
            )),
            format!("{s}.span_id"),
        ),
        (
            Box::new(set("span_id", json!("12345"))),
            format!("{s}.span_id"),
        ),
        (
            Box::new(set("parent_span_id", json!(7))),
            format!("{s}.parent_span_id"),
        ),
        (Box::new(set("name", Value::Null)), format!("{s}.name")),
        (Box::new(set("kind", json!("banana"))), format!("{s}.kind")),
        (Box::new(set("kind", json!("LLM"))), format!("{s}.kind")),
        (
            Box::new(set("timestamp", json!("2026-11-26 06:10:02"))),
            format!("{s}.timestamp"),
        ),
        (
            Box::new(set("timestamp", json!("2026-11-26T06:10:02.5Z"))),
            format!("{s}.timestamp"),
        ),
        (
            Box::new(set("duration_ms", json!(-1.0))),
            format!("{s}.duration_ms"),
        ),
        (
            Box::new(set("duration_ms", json!("12"))),
            format!("{s}.duration_ms"),
        ),
        (
            Box::new(set("duration_ms", json!(1.2345))),
            format!("{s}.duration_ms"),
        ),
        (
            Box::new(set("status", json!("fine"))),
            format!("{s}.status"),
        ),
        (Box::new(set("model", Value::Null)), format!("{s}.model")),
        (Box::new(set("provider", json!(1))), format!("{s}.provider")),
        (
            Box::new(set("requested_model", json!(false))),
            format!("{s}.requested_model"),
        ),
        (
            Box::new(set("reasoning_effort", Value::Null)),
            format!("{s}.reasoning_effort"),
        ),
        (
            Box::new(set("usage_available", json!("yes"))),
            format!("{s}.usage_available"),
        ),
        (
            Box::new(set("input_tokens", json!(true))),
            format!("{s}.input_tokens"),
        ),
        (
            Box::new(set("output_tokens", json!(-1))),
            format!("{s}.output_tokens"),
        ),
        (
            Box::new(set("total_tokens", json!(1.5))),
            format!("{s}.total_tokens"),
        ),
        (
            Box::new(set("input", json!("not json"))),
            format!("{s}.input"),
        ),
        (
            Box::new(set("output", json!({"result": 1}))),
            format!("{s}.output"),
        ),
        (
            Box::new(set("attributes", json!("[]"))),
            format!("{s}.attributes"),
        ),
        (
            Box::new(set("attributes", json!(""))),
            format!("{s}.attributes"),
        ),
        (
            Box::new(set("error_message", json!(3))),
            format!("{s}.error_message"),
        ),
        (
            Box::new(set("capture", json!("all"))),
            format!("{s}.capture"),
        ),
        (
            Box::new(set("session_id", Value::Null)),
            format!("{s}.session_id"),
        ),
        (
            Box::new(set("agent_name", json!(1))),
            format!("{s}.agent_name"),
        ),
        (
            Box::new(set("agent_id", json!("not-a-uuid"))),
            format!("{s}.agent_id"),
        ),
        (
            Box::new(set(
                "agent_id",
                json!("1b4e28ba-2fa1-41d2-883f-0016d3cca427"),
            )),
            format!("{s}.agent_id"),
        ),
        (
            Box::new(set("agent_version", json!([]))),
            format!("{s}.agent_version"),
        ),
        (
            Box::new(set("user_id", Value::Null)),
            format!("{s}.user_id"),
        ),
    ];
    for (mutate, field) in cases {
        expect_400(&c, mutate, &field);
    }
    for field in [
        "span_id",
        "parent_span_id",
        "name",
        "kind",
        "timestamp",
        "duration_ms",
        "status",
        "model",
        "provider",
        "requested_model",
        "usage_available",
        "reasoning_effort",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "input",
        "output",
        "attributes",
        "error_message",
        "capture",
        "session_id",
        "agent_name",
        "agent_id",
        "agent_version",
        "user_id",
    ] {
        expect_400(&c, remove(field), &format!("{s}.{field}"));
    }
    assert_eq!(c.span_count(), 0, "nothing refused may be stored");
    assert!(c
        .requests()
        .iter()
        .all(|r| r.status == Some(400) && r.validation_error.is_some()));
}

#[test]
fn capture_map_is_checked_category_by_category() {
    let c = start();
    let cap = "traces[0].spans[0].capture";
    let edit = |f: fn(&mut serde_json::Map<String, Value>)| {
        move |b: &mut Value| {
            if let Some(o) = b["traces"][0]["spans"][0]["capture"].as_object_mut() {
                f(o)
            }
        }
    };
    expect_400(
        &c,
        edit(|o| drop(o.remove("output"))),
        &format!("{cap}.output"),
    );
    expect_400(
        &c,
        edit(|o| drop(o.insert("memory".into(), json!("captured")))),
        &format!("{cap}.memory"),
    );
    expect_400(
        &c,
        edit(|o| drop(o.insert("request".into(), json!("on")))),
        &format!("{cap}.request"),
    );
    expect_400(
        &c,
        edit(|o| drop(o.insert("tool_schema".into(), json!(true)))),
        &format!("{cap}.tool_schema"),
    );
}

#[test]
fn trace_and_body_level_errors_are_named() {
    let c = start();
    let t = "traces[0]";
    expect_400(
        &c,
        |b| b["traces"][0]["trace_id"] = json!("abc"),
        &format!("{t}.trace_id"),
    );
    expect_400(
        &c,
        |b| b["traces"][0]["trace_id"] = json!(uuid::Uuid::new_v4().to_string().to_uppercase()),
        &format!("{t}.trace_id"),
    );
    expect_400(
        &c,
        |b| b["traces"][0]["timestamp"] = json!("2026-11-26T06:10:02.123456+00:00"),
        &format!("{t}.timestamp"),
    );
    expect_400(
        &c,
        |b| b["traces"][0]["timestamp"] = json!("yesterday"),
        &format!("{t}.timestamp"),
    );
    expect_400(
        &c,
        |b| {
            drop(
                b["traces"][0]
                    .as_object_mut()
                    .map(|o| o.remove("environment")),
            )
        },
        &format!("{t}.environment"),
    );
    expect_400(
        &c,
        |b| b["traces"][0]["workspace_slug"] = json!(1),
        &format!("{t}.workspace_slug"),
    );
    expect_400(
        &c,
        |b| b["traces"][0]["spans"] = json!([]),
        &format!("{t}.spans"),
    );
    expect_400(
        &c,
        |b| b["traces"][0]["spans"] = json!({}),
        &format!("{t}.spans"),
    );
    expect_400(
        &c,
        |b| b["traces"][0]["extra"] = json!(1),
        &format!("{t}.extra"),
    );
    expect_400(
        &c,
        |b| b["traces"][0]["spans"][2] = json!("span"),
        &format!("{t}.spans[2]"),
    );
    expect_400(
        &c,
        |b| {
            let first = b["traces"][0]["spans"][0].clone();
            b["traces"][0]["spans"][2]["span_id"] = first["span_id"].clone();
        },
        &format!("{t}.spans[2].span_id"),
    );
    expect_400(
        &c,
        |b| {
            let again = b["traces"][0].clone();
            if let Some(a) = b["traces"].as_array_mut() {
                a.push(again);
            }
        },
        "traces[1].trace_id",
    );
    expect_400(&c, |b| *b = json!({"traces": []}), "traces");
    expect_400(&c, |b| *b = json!({"spans": []}), "spans");
    expect_400(&c, |b| *b = json!([]), "body");

    // Not JSON at all.
    let r = client()
        .post(format!("{}/v1/traces/ingest", c.url()))
        .header("X-API-Key", KEY)
        .header("Content-Type", "application/json")
        .header("User-Agent", "staso-rust/0.1.0")
        .header("Idempotency-Key", new_key())
        .body("{\"traces\": [")
        .send()
        .expect("send");
    let (status, err) = status_json(r);
    assert_eq!((status, err["field"].clone()), (400, json!("body")));
    assert_eq!(c.span_count(), 0);
}

#[test]
fn header_errors_are_named() {
    let c = start();
    let (_, body) = three_span_body();
    let send = |ct: Option<&str>, ua: Option<&str>, key: Option<&str>| {
        let mut r = client()
            .post(format!("{}/v1/traces/ingest", c.url()))
            .header("X-API-Key", KEY)
            .body(body.to_string());
        if let Some(v) = ct {
            r = r.header("Content-Type", v);
        }
        if let Some(v) = ua {
            r = r.header("User-Agent", v);
        }
        if let Some(v) = key {
            r = r.header("Idempotency-Key", v);
        }
        status_json(r.send().expect("send"))
    };
    let ok_key = new_key();
    let json_ct = Some("application/json");
    let ua = Some("staso-rust/0.1.0");
    for (ct, ua, key, field) in [
        (None, ua, Some(ok_key.as_str()), "headers.Content-Type"),
        (
            Some("text/plain"),
            ua,
            Some(ok_key.as_str()),
            "headers.Content-Type",
        ),
        (json_ct, None, Some(ok_key.as_str()), "headers.User-Agent"),
        (
            json_ct,
            Some("curl"),
            Some(ok_key.as_str()),
            "headers.User-Agent",
        ),
        (json_ct, ua, None, "headers.Idempotency-Key"),
        (json_ct, ua, Some("not-a-uuid"), "headers.Idempotency-Key"),
        // A UUID, but version 1: the contract says v4.
        (
            json_ct,
            ua,
            Some("1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
            "headers.Idempotency-Key",
        ),
        (
            json_ct,
            ua,
            Some(&ok_key.to_uppercase()),
            "headers.Idempotency-Key",
        ),
    ] {
        let (status, err) = send(ct, ua, key);
        assert_eq!((status, err["field"].as_str()), (400, Some(field)), "{err}");
    }
    let (status, _) = send(Some("application/json; charset=utf-8"), ua, Some(&ok_key));
    assert_eq!(status, 200, "a charset parameter is fine");
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
    assert_eq!(c.span_count(), 0);
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
    assert_eq!(c.span_count(), 3);
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
    send(vec![
        final_root.clone(),
        span(&child, Some(&root), "tool", "tool", 2),
    ]);
    let s = c.trace(&t).expect("trace").spans;
    assert!(!s[0].provisional);
    assert_eq!(s[0].duration_ms, 250.0);

    // A late provisional copy does not replace the final one, but is counted.
    send(vec![provisional(final_root.clone())]);
    let r = &c.trace(&t).expect("trace").spans[0];
    assert!(!r.provisional);
    assert_eq!(r.duration_ms, 250.0);
    assert_eq!((r.copies_received, r.final_copies_received), (3, 1));

    // A newer final copy does replace an older final one.
    let mut newer = final_root;
    newer["status"] = json!("error");
    newer["error_message"] = json!("boom");
    send(vec![newer]);
    let r = &c.trace(&t).expect("trace").spans[0];
    assert_eq!(
        (r.status.as_str(), r.error_message.as_deref()),
        ("error", Some("boom"))
    );
    assert_eq!(r.final_copies_received, 2);
    assert_eq!(c.span_count(), 2);
    assert!(c
        .render()
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
    assert!(!c.wait_for_spans(1, Duration::from_millis(200)));
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
    assert!(c.wait_for_requests(1, Duration::from_secs(5)));
    assert!(c.wait_for_spans(3, Duration::from_secs(5)));
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
    assert!(c.wait_for_spans_async(3, Duration::from_secs(5)).await);
    assert_eq!(sender.await.expect("join"), 200);
    assert!(
        !c.wait_for_requests_async(2, Duration::from_millis(100))
            .await
    );
}

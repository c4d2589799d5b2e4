//! Contract validation over real loopback HTTP: every invalid header, body, trace and
//! span field is answered 400 with a JSON body naming the field, and nothing is stored.

mod common;

use common::*;
use serde_json::{json, Value};

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
    assert_eq!(c.counts().spans, 0, "nothing refused may be stored");
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
    assert_eq!(c.counts().spans, 0);
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

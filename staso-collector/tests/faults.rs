//! Every fault kind, observed by a real HTTP client over loopback.

mod common;

use common::*;
use serde_json::{json, Value};
use staso_collector::{BadAck, Fault, RandomFaults};
use std::time::{Duration, Instant};

#[test]
fn fail_next_answers_statuses_and_stores_nothing() {
    let c = start();
    let http = client();
    for status in [500u16, 502, 503, 401, 402, 403, 413, 422] {
        c.faults().fail_next(1, status);
        let (_, body) = three_span_body();
        let (got, err) = status_json(post(&http, &c.url(), &body).expect("send"));
        assert_eq!(got, status, "{err}");
        assert_eq!(err["error"], "injected fault");
    }
    assert_eq!(c.counts().spans, 0, "failed requests are not stored");
    c.faults().fail_next(2, 500);
    assert_eq!(c.faults().pending(), 2);
    let (_, body) = three_span_body();
    let key = new_key();
    let statuses: Vec<u16> = (0..3)
        .map(|_| {
            post_with_key(&http, &c.url(), &body, &key)
                .expect("send")
                .status()
                .as_u16()
        })
        .collect();
    assert_eq!(statuses, [500, 500, 200]);
    assert_eq!(c.counts().spans, 3);
    let reqs = c.requests().ingest();
    let last3 = &reqs[reqs.len() - 3..];
    assert_eq!(last3[0].fault, Some(Fault::Status(500)));
    assert!(last3.iter().all(|r| r.validation_error.is_none()));
    assert!(
        last3.iter().all(|r| !r.replay),
        "failed attempts did not store the key"
    );
}

#[test]
fn rate_limit_with_and_without_retry_after() {
    let c = start();
    let http = client();
    c.faults().rate_limit_next(2, Some(3));
    c.faults().rate_limit_next(1, None);
    let (_, body) = three_span_body();
    for expected in [Some("3"), Some("3"), None] {
        let r = post(&http, &c.url(), &body).expect("send");
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(
            r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            expected
        );
    }
    assert_eq!(
        post(&http, &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );
    assert_eq!(c.counts().spans, 3);
}

#[test]
fn delays_slow_the_answer_but_store() {
    let c = start();
    let http = client();
    c.faults().delay_next(1, Duration::from_millis(300));
    let (_, body) = three_span_body();
    let t0 = Instant::now();
    assert_eq!(
        post(&http, &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(c.counts().spans, 3);

    c.faults().set_delay(Some(Duration::from_millis(150)));
    let t0 = Instant::now();
    for _ in 0..2 {
        let (_, body) = three_span_body();
        assert_eq!(
            post(&http, &c.url(), &body)
                .expect("send")
                .status()
                .as_u16(),
            200
        );
    }
    assert!(t0.elapsed() >= Duration::from_millis(300));
    c.faults().set_delay(None);

    // A delay longer than the client's timeout is a timeout for the client.
    c.faults().delay_next(1, Duration::from_millis(800));
    let quick = client_with_timeout(Duration::from_millis(200));
    let err = post(&quick, &c.url(), &body).expect_err("times out");
    assert!(err.is_timeout(), "{err}");
}

#[test]
fn a_client_that_gives_up_during_a_delay_is_still_recorded() {
    let c = start();
    let before = c.counts().requests;
    // Far longer than the wait below: the record must come from the client leaving, not
    // from the delay ending.
    c.faults().delay_next(1, Duration::from_secs(60));
    let (_, body) = three_span_body();
    let quick = client_with_timeout(Duration::from_millis(200));
    let err = post(&quick, &c.url(), &body).expect_err("times out");
    assert!(err.is_timeout(), "{err}");
    assert!(
        c.wait_until(Duration::from_secs(10), |n| n.requests > before),
        "the abandoned request is recorded"
    );
    let reqs = c.requests().ingest();
    let last = reqs.last().expect("recorded");
    assert_eq!(last.status, None, "no answer was given");
    assert_eq!(last.fault, Some(Fault::Delay(Duration::from_secs(60))));
    assert_eq!(c.counts().spans, 0, "nothing stored");
}

#[test]
fn hang_never_answers_and_stores_nothing() {
    let c = start();
    c.faults().hang_next(1);
    let quick = client_with_timeout(Duration::from_millis(300));
    let (_, body) = three_span_body();
    let t0 = Instant::now();
    let err = post(&quick, &c.url(), &body).expect_err("no answer");
    assert!(err.is_timeout(), "{err}");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    let reqs = c.requests();
    assert_eq!(
        (reqs[0].status, reqs[0].fault.clone()),
        (None, Some(Fault::Hang))
    );
    assert_eq!(c.counts().spans, 0);
    // The next request is served normally.
    assert_eq!(
        post(&client(), &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );
}

#[test]
fn drop_closes_the_connection_without_an_answer() {
    let c = start();
    c.faults().drop_next(1);
    let http = client();
    let (_, body) = three_span_body();
    let t0 = Instant::now();
    let err = post(&http, &c.url(), &body).expect_err("dropped");
    assert!(!err.is_timeout(), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(c.requests()[0].status, None);
    assert_eq!(c.requests()[0].fault, Some(Fault::Drop));
    assert_eq!(c.counts().spans, 0);
    assert_eq!(
        post(&http, &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );
}

#[test]
fn stall_waits_then_closes() {
    let c = start();
    c.faults().stall_next(1, Duration::from_millis(300));
    let (_, body) = three_span_body();
    let t0 = Instant::now();
    let err = post(&client(), &c.url(), &body).expect_err("stalled");
    assert!(!err.is_timeout(), "{err}");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(c.counts().spans, 0);
}

#[test]
fn bad_acks_are_sent_and_nothing_is_stored() {
    let c = start();
    let http = client();
    let check = |kind: BadAck, key: &str, ack: &Value| match kind {
        BadAck::WrongReceiptId => {
            assert!(ack["receipt_id"].is_string() && ack["receipt_id"] != key)
        }
        BadAck::MissingReceiptId => assert!(ack.get("receipt_id").is_none()),
        BadAck::AcceptedAsBool => assert_eq!(ack["accepted"], true),
        BadAck::WrongAcceptedCount => assert_eq!(ack["accepted"], 2),
        BadAck::NonZeroRejected => assert_eq!(ack["rejected"], 1),
        BadAck::NonZeroSpansDropped => assert_eq!(ack["spans_dropped"], 1),
        BadAck::NotAnObject => assert!(ack.is_array()),
        BadAck::NotJson => assert!(ack.is_null()),
    };
    for kind in [
        BadAck::WrongReceiptId,
        BadAck::MissingReceiptId,
        BadAck::AcceptedAsBool,
        BadAck::WrongAcceptedCount,
        BadAck::NonZeroRejected,
        BadAck::NonZeroSpansDropped,
        BadAck::NotAnObject,
        BadAck::NotJson,
    ] {
        c.faults().bad_ack_next(1, kind);
        let (_, body) = three_span_body();
        let key = new_key();
        let (status, ack) = status_json(post_with_key(&http, &c.url(), &body, &key).expect("send"));
        assert_eq!(status, 200);
        check(kind, &key, &ack);
    }
    assert_eq!(c.counts().spans, 0);
}

#[test]
fn max_body_answers_413() {
    let c = start();
    let http = client();
    c.faults().set_max_body_bytes(Some(200));
    let (_, body) = three_span_body();
    let (status, err) = status_json(post(&http, &c.url(), &body).expect("send"));
    assert_eq!((status, err["field"].as_str()), (413, Some("body")));
    assert_eq!(c.counts().spans, 0);
    c.faults().set_max_body_bytes(None);
    assert_eq!(
        post(&http, &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );
}

#[test]
fn down_refuses_connections_then_resumes_on_the_same_port() {
    let c = start();
    let http = client();
    let port = c.port();
    let (_, body) = three_span_body();
    assert_eq!(
        post(&http, &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );

    c.faults().go_down();
    // The pooled keep-alive connection was closed: the old client fails one way or
    // another; a new connection is refused.
    post(&http, &c.url(), &body).expect_err("closed");
    let err = post(&client(), &c.url(), &body).expect_err("refused");
    assert!(err.is_connect(), "{err}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());

    c.faults().come_up().expect("listens again");
    assert_eq!(c.port(), port);
    let (_, body) = three_span_body();
    assert_eq!(
        post(&http, &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );
    assert_eq!(c.counts().spans, 6);

    // Down for a while, then back by itself.
    c.faults().go_down_for(Duration::from_millis(300));
    assert!(post(&client(), &c.url(), &body)
        .expect_err("refused")
        .is_connect());
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        post(&http, &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );
}

#[test]
fn random_mode_is_seeded_and_failures_are_not_stored() {
    let run = || {
        let c = start();
        c.faults().set_random(Some(RandomFaults {
            seed: 7,
            fraction: 0.5,
            stall: Duration::from_millis(400),
        }));
        let quick = client_with_timeout(Duration::from_millis(250));
        let mut outcomes = Vec::new();
        let mut ok_spans = 0;
        for _ in 0..24 {
            let (_, body) = three_span_body();
            let outcome = match post(&quick, &c.url(), &body) {
                Ok(r) => {
                    let status = r.status().as_u16();
                    if status == 429 {
                        let ra = r.headers().get("retry-after").and_then(|v| v.to_str().ok());
                        assert_eq!(ra, Some("1"));
                    }
                    if status == 200 {
                        ok_spans += 3;
                    }
                    status.to_string()
                }
                Err(e) if e.is_timeout() => "timeout".to_owned(),
                Err(_) => "dropped".to_owned(),
            };
            outcomes.push(outcome);
        }
        assert_eq!(c.counts().spans, ok_spans, "only acked requests are stored");
        outcomes
    };
    let a = run();
    for kind in ["200", "500", "429", "dropped", "timeout"] {
        assert!(a.iter().any(|o| o == kind), "{kind} missing from {a:?}");
    }
    assert_eq!(a, run(), "same seed, same sequence");
}

#[test]
fn control_endpoint_sets_faults() {
    let c = start();
    let http = client();
    let control = |body: Value, key: &str| {
        http.post(format!("{}/_staso/faults", c.url()))
            .header("X-API-Key", key)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .expect("control")
    };
    let r = control(
        json!({"fail_next": {"count": 1, "status": 503},
                           "rate_limit_next": {"count": 1, "retry_after": 2}}),
        KEY,
    );
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().expect("json")["pending"], 2);
    let (_, body) = three_span_body();
    assert_eq!(
        post(&http, &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        503
    );
    let r = post(&http, &c.url(), &body).expect("send");
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(
        post(&http, &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );

    assert_eq!(
        control(json!({"fail_next": {"count": 1, "status": 500}}), "bad")
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        control(json!({"explode": true}), KEY).status().as_u16(),
        400
    );
    assert_eq!(
        control(
            json!({"fail_next": {"count": 1, "status": 500}, "clear": true}),
            KEY
        )
        .status()
        .as_u16(),
        200
    );
    assert_eq!(control(json!({"clear": true}), KEY).status().as_u16(), 200);
    assert_eq!(c.faults().pending(), 0);

    // Down through the endpoint: the answer arrives, then the port refuses.
    let r = control(json!({"down_for_ms": 400}), KEY);
    assert_eq!(r.status().as_u16(), 200);
    assert!(post(&client(), &c.url(), &body)
        .expect_err("down")
        .is_connect());
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        post(&client(), &c.url(), &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );
}

//! HTTPS mode: a client trusting the generated CA gets through; one without it fails.

mod common;

use common::*;
use staso_collector::{Collector, CollectorConfig};
use std::time::Duration;

fn tls_collector() -> Collector {
    Collector::start_blocking(CollectorConfig {
        api_key: KEY.into(),
        tls: true,
        ..Default::default()
    })
    .expect("collector starts")
}

#[test]
fn https_works_with_the_ca_and_fails_without() {
    let c = tls_collector();
    assert!(c.url().starts_with("https://127.0.0.1:"), "{}", c.url());
    let ca_pem = c.ca_pem().expect("CA in TLS mode");
    assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));

    let trusting = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("pem"))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let (_, body) = three_span_body();
    for url in [c.url(), format!("https://localhost:{}", c.port())] {
        let (status, ack) = status_json(post(&trusting, &url, &body).expect("https send"));
        assert_eq!(status, 200, "{ack}");
    }
    assert_eq!(c.counts().spans, 3);

    let untrusting = client();
    let err = post(&untrusting, &c.url(), &body).expect_err("unknown CA");
    assert!(err.is_connect() || err.is_request(), "{err}");

    // Plain HTTP to the TLS port does not get an answer either.
    let plain = post(&client(), &c.url().replace("https://", "http://"), &body);
    assert!(plain.map(|r| r.status().as_u16() != 200).unwrap_or(true));
    assert_eq!(c.counts().spans, 3);
}

#[test]
fn plain_mode_has_no_certificate() {
    let c = start();
    assert!(c.url().starts_with("http://127.0.0.1:"));
    assert!(c.ca_pem().is_none());
}

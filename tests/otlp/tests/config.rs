//! OpenTelemetry's own variables, end to end: which URL the requests reach (the
//! `/v1/traces` rule of the spec), what `init` refuses and how it says so, and the
//! transport rules the Staso ingest follows (redirects never followed).

use staso::{span, FailureKind, InitError, Kind, Options};
use staso_otlp_tests::{serial, Receiver};
use std::collections::HashMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn options() -> Options {
    Options::new()
        .agent_name("bot")
        .capture_git(false)
        .flush_interval(Duration::from_millis(50))
}

/// Sends one span under `vars` and returns the path the receiver saw.
fn path_reached(r: &Receiver, vars: &[(&str, &str)]) -> String {
    let client = staso::testing::init_with_env(options(), &env(vars)).expect("init");
    drop(span("one", Kind::Custom));
    let report = client.flush(WAIT);
    assert!(report.ok(), "{report:?}");
    client.shutdown(WAIT);
    let requests = r.wait_until(WAIT, |q| !q.is_empty());
    requests.last().expect("a request").path.clone()
}

#[test]
fn the_generic_variable_gets_v1_traces_and_the_traces_variable_is_used_as_is() {
    let _g = serial();
    let r = Receiver::start();
    let base = r.url();
    let generic = format!("{base}/otlp/");
    let traces = format!("{base}/custom/spans");
    let off = ("STASO_INGEST", "0");
    assert_eq!(
        path_reached(&r, &[off, ("OTEL_EXPORTER_OTLP_ENDPOINT", &base)]),
        "/v1/traces"
    );
    assert_eq!(
        path_reached(&r, &[off, ("OTEL_EXPORTER_OTLP_ENDPOINT", &generic)]),
        "/otlp/v1/traces"
    );
    assert_eq!(
        path_reached(
            &r,
            &[
                off,
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &generic),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces),
            ]
        ),
        "/custom/spans"
    );
}

type Vars<'a> = &'a [(&'a str, &'a str)];

#[test]
fn init_refuses_what_cannot_work_and_names_the_fix() {
    let _g = serial();
    let cases: [(Vars, &[&str]); 4] = [
        (
            &[
                ("STASO_INGEST", "0"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ],
            &[
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "grpc",
                "http/protobuf",
                "4318",
            ],
        ),
        (
            &[
                ("STASO_INGEST", "0"),
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "http://collector.internal:4318",
                ),
            ],
            &["OTEL_EXPORTER_OTLP_ENDPOINT", "https", "loopback"],
        ),
        (
            &[
                ("STASO_INGEST", "0"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "authorization"),
            ],
            &["OTEL_EXPORTER_OTLP_HEADERS", "key=value"],
        ),
        (&[("STASO_INGEST", "0")], &["otlp_endpoint", "staso_ingest"]),
    ];
    for (vars, needles) in cases {
        let e = staso::testing::init_with_env(options(), &env(vars)).expect_err("refused");
        let text = e.to_string();
        for n in needles {
            assert!(text.contains(n), "{n:?} not in {text}");
        }
    }
    let e = staso::testing::init_with_env(options(), &env(&[("STASO_INGEST", "0")]))
        .expect_err("refused");
    assert_eq!(e, InitError::NoDestination);
}

#[test]
fn a_redirect_is_never_followed() {
    let _g = serial();
    let r = Receiver::start();
    r.answer_next(1, 307, None);
    let client = staso::init(options().otlp_endpoint(r.url()).staso_ingest(false)).expect("init");
    drop(span("one", Kind::Custom));
    let report = client.flush(WAIT);
    let otlp = report.destination("otlp").expect("otlp");
    assert_eq!((otlp.delivered, otlp.failed), (0, 1), "{report:?}");
    assert_eq!(otlp.last_failure, Some(FailureKind::Redirected));
    assert_eq!(r.requests().len(), 1, "not followed, not retried");
    client.shutdown(WAIT);
}

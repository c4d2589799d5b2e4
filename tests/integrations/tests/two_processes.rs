//! W3C trace context across two processes: this test's span calls a tool server (a child
//! process, `src/bin/tool_server.rs`) over HTTP with reqwest, the server runs the request
//! inside the `traceparent` it received, both record to one collector, and the collector
//! holds one trace with the server's span under the client's.
#![allow(clippy::unwrap_used)]

use staso::{Kind, Options};
use staso_collector::{Collector, CollectorConfig};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_span_is_a_child_of_the_client_span_in_one_trace() {
    let collector = Collector::start(CollectorConfig::default()).await.unwrap();
    let client = staso::init(
        Options::new()
            .api_key("test-key")
            .agent_name("caller")
            .base_url(collector.url())
            .capture_git(false)
            .flush_interval(Duration::from_millis(100)),
    )
    .unwrap();

    let mut server = Command::new(env!("CARGO_BIN_EXE_tool_server"))
        .env("STASO_API_KEY", "test-key")
        .env("STASO_BASE_URL", collector.url())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("listening ")
        .unwrap()
        .parse()
        .unwrap();

    let span = staso::Span::new("call-tool-server", Kind::Tool);
    let answer = span
        .instrument(async {
            let mut headers = reqwest::header::HeaderMap::new();
            assert!(staso::propagation::inject(&mut headers));
            reqwest::Client::new()
                .post(format!("http://127.0.0.1:{port}/search"))
                .headers(headers)
                .body("refund policy")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
        .await;
    assert_eq!(answer, "3 documents about refund policy");
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "the tool server delivered its spans: {status}"
    );
    assert!(client.shutdown(Duration::from_secs(5)).ok());

    assert!(collector.wait_until(Duration::from_secs(10), |n| n.final_spans >= 3));
    let spans = collector.spans();
    let named = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n && !s.provisional)
            .unwrap()
    };
    let call = named("call-tool-server");
    let served = named("search-docs");
    let lookup = named("lookup");
    assert_eq!(
        served.trace_id, call.trace_id,
        "one trace across the processes"
    );
    assert_eq!(
        served.parent_span_id.as_deref(),
        Some(call.span_id.as_str())
    );
    assert_eq!(
        lookup.parent_span_id.as_deref(),
        Some(served.span_id.as_str())
    );
    assert_eq!(call.str_field("agent_name"), "caller");
    assert_eq!(served.str_field("agent_name"), "tool-server");
    assert_eq!(collector.traces().len(), 1);
}

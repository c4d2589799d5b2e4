//! One trace across an HTTP call: a client span calls a tool server with reqwest, the
//! server (hyper) runs the request inside the `traceparent` it received. Both sides run in
//! this one process for the demo (the test `two_processes` runs them as two); the local
//! collector prints the trace.
//!
//! ```text
//! cargo run -p staso-integration-tests --example propagation
//! ```
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use staso_collector::{Collector, CollectorConfig};
use std::convert::Infallible;
use std::time::Duration;

/// Server side: the tool, and the handler that joins the caller's trace.
#[staso::tool(name = "search-docs")]
async fn search_docs(query: String) -> String {
    format!("3 documents about {query}")
}

async fn handler(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let headers = req.headers().clone();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let query = String::from_utf8_lossy(&body).into_owned();
    let answer = staso::propagation::continue_from(&headers, search_docs(query)).await;
    Ok(hyper::Response::new(Full::new(Bytes::from(answer))))
}

/// Client side: the agent's tool that calls the server, with the trace in its headers.
#[staso::tool(name = "call-tool-server")]
async fn ask_tool_server(port: u16, query: &str) -> String {
    let mut headers = reqwest::header::HeaderMap::new();
    staso::propagation::inject(&mut headers);
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/search"))
        .headers(headers)
        .body(query.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[staso::agent(name = "researcher")]
async fn research(port: u16) -> String {
    ask_tool_server(port, "refund policy").await
}

#[tokio::main]
async fn main() {
    let collector = Collector::start(CollectorConfig::default()).await.unwrap();
    let client = staso::init(
        staso::Options::new()
            .api_key("test-key")
            .agent_name("researcher")
            .base_url(collector.url())
            .flush_interval(Duration::from_millis(200)),
    )
    .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service_fn(handler))
            .await;
    });

    println!("answer: {}\n", research(port).await);
    client.shutdown(Duration::from_secs(5));
    collector.wait_until(Duration::from_secs(5), |n| n.final_spans >= 3);
    print!("{}", staso_collector::render_traces(&collector.traces()));
}

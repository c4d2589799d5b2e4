//! A tool server for the two-process propagation test: serves one HTTP request with
//! hyper, runs it inside the caller's trace context (`traceparent`), records its spans
//! to the collector named by `STASO_BASE_URL` (with `STASO_API_KEY`), then flushes and
//! exits. Prints `listening <port>` on stdout once it accepts connections.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write;
use std::time::Duration;

#[staso::tool(name = "search-docs")]
async fn search_docs(query: String) -> String {
    lookup(&query).await
}

#[staso::trace(kind = "retriever")]
async fn lookup(query: &str) -> String {
    tokio::task::yield_now().await;
    format!("3 documents about {query}")
}

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let query = String::from_utf8_lossy(&body).into_owned();
    let answer = staso::propagation::continue_from(&headers, search_docs(query)).await;
    Ok(Response::new(Full::new(Bytes::from(answer))))
}

#[tokio::main]
async fn main() {
    let client = staso::init(
        staso::Options::new()
            .agent_name("tool-server")
            .capture_git(false)
            .flush_interval(Duration::from_millis(100)),
    )
    .expect("STASO_API_KEY and STASO_BASE_URL name the collector");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening {}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service_fn(handle))
        .await
        .unwrap();
    let report = client.shutdown(Duration::from_secs(5));
    assert!(report.ok(), "{report:?}");
}

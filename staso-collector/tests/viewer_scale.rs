//! The viewer at scale, in a real browser: a trace of 10 000 spans (virtualized
//! waterfall), and the measurement behind BENCHMARKS.md ("The trace viewer"), which also
//! pages the list over 100 000 stored traces.
//!
//! Needs the `chromium` and `chromium-driver` packages: see `tests/browser/mod.rs`.
#![allow(clippy::print_stderr)]

mod browser;
mod common;

use browser::{run, Browser};
use serde_json::{json, Value};
use staso_collector::{Collector, CollectorConfig};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig {
        api_key: common::KEY.into(),
        ..Default::default()
    })
    .expect("collector")
}

/// `count` spans in one trace: an agent root, chains of 99 children each (tool and llm),
/// starting 1 ms apart. Returns the trace id and the last span's name.
fn big_trace(c: &Collector, count: usize) -> (String, String) {
    let http = common::client();
    let t = common::trace_id();
    let ts = |i: usize| {
        let us = i * 1000;
        format!(
            "2026-11-26T06:{:02}:{:02}.{:06}+00:00",
            us / 60_000_000,
            (us / 1_000_000) % 60,
            us % 1_000_000
        )
    };
    let root = common::span_id();
    let mut spans: Vec<Value> = Vec::with_capacity(count);
    let mut r = common::span(&root, None, "big-agent", "agent", 0);
    r["timestamp"] = json!(ts(0));
    r["duration_ms"] = json!(count as f64);
    spans.push(r);
    let mut chain = root.clone();
    let mut last = String::new();
    for i in 1..count {
        let (id, parent, name, kind) = if i % 100 == 1 {
            chain = common::span_id();
            (chain.clone(), root.clone(), format!("step-{i}"), "chain")
        } else {
            let kind = if i % 2 == 0 { "tool" } else { "llm" };
            (
                common::span_id(),
                chain.clone(),
                format!("{kind}-{i}"),
                kind,
            )
        };
        let mut s = common::span(&id, Some(&parent), &name, kind, 0);
        s["timestamp"] = json!(ts(i));
        s["duration_ms"] = json!(if kind == "chain" { 99.0 } else { 0.8 });
        if i % 997 == 0 {
            s["status"] = json!("error");
            s["error_message"] = json!("boom");
        }
        last = name;
        spans.push(s);
    }
    for chunk in spans.chunks(1000) {
        let body = json!({"traces": [common::trace(&t, chunk.to_vec())]});
        let (status, ack) =
            common::status_json(common::post(&http, &c.url(), &body).expect("send"));
        assert_eq!(status, 200, "{ack}");
    }
    (t, last)
}

async fn open_big(b: &Browser, c: &Collector, t: &str) -> Value {
    b.goto(&format!("{}/traces/{t}", c.url())).await;
    b.ready("trace").await;
    b.until("the render timing", WAIT, "return window.__stasoRender")
        .await
}

#[test]
fn ten_thousand_spans_keep_the_dom_small_and_reach_the_last_span() {
    run(async {
        let c = collector();
        let (t, last) = tokio::task::block_in_place(|| big_trace(&c, 10_000));
        let Some(b) = Browser::start(false).await else {
            return;
        };
        let timing = open_big(&b, &c, &t).await;
        eprintln!("10 000-span trace render (debug build of the collector): {timing}");
        assert_eq!(timing["spans"], 10_000);
        assert_eq!(
            b.js(
                "return document.querySelector('.wf-viewport').dataset.rows",
                vec![]
            )
            .await,
            "10000"
        );
        let in_dom = b
            .js("return document.querySelectorAll('.wf-row').length", vec![])
            .await;
        assert!(
            in_dom.as_u64().expect("n") < 200,
            "{in_dom} rows in the DOM"
        );
        b.js(
            "const v = document.querySelector('.wf-viewport'); v.scrollTop = v.scrollHeight",
            vec![],
        )
        .await;
        b.until("the last span after scrolling to the end", WAIT, &format!(
            "return [...document.querySelectorAll('.wf-label')].some(l => l.textContent === {last:?})"))
            .await;
        b.screenshot("trace-10k-spans").await;
        b.close().await;
    });
}

/// The figures for BENCHMARKS.md: the 10 000-span render, and list pages over 100 000
/// stored traces. Run with `--release --ignored` (see BENCHMARKS.md).
#[test]
#[ignore = "a measurement: run explicitly, in release"]
fn bench_render_10k_spans_and_list_100k_traces() {
    run(async {
        let c = collector();
        let (t, _) = tokio::task::block_in_place(|| big_trace(&c, 10_000));
        let Some(b) = Browser::start(false).await else {
            return;
        };
        let mut runs = Vec::new();
        for _ in 0..5 {
            runs.push(open_big(&b, &c, &t).await);
        }
        for r in &runs {
            eprintln!("render 10k: {r}");
        }

        tokio::task::block_in_place(|| {
            // 100 000 more traces of 3 spans, then page through the list.
            let http = common::client();
            for batch in 0..200 {
                let traces: Vec<Value> = (0..500)
                    .map(|i| {
                        let t = common::trace_id();
                        let root = common::span_id();
                        let n = (batch * 500 + i) as u32;
                        let mut r = common::span(&root, None, &format!("run-{n}"), "agent", n % 60);
                        r["agent_name"] = json!(format!("agent-{}", n % 7));
                        let s1 =
                            common::span(&common::span_id(), Some(&root), "search", "tool", n % 60);
                        let s2 =
                            common::span(&common::span_id(), Some(&root), "ask", "llm", n % 60);
                        common::trace(&t, vec![r, s1, s2])
                    })
                    .collect();
                let (status, _) = common::status_json(
                    common::post(&http, &c.url(), &json!({"traces": traces})).expect("send"),
                );
                assert_eq!(status, 200);
            }
            let timed = |url: String| {
                let start = std::time::Instant::now();
                let (status, body) = common::status_json(http.get(url).send().expect("GET"));
                assert_eq!(status, 200, "{body}");
                (start.elapsed(), body)
            };
            let (first, _) = timed(format!("{}/api/traces?limit=50", c.url()));
            eprintln!("first list request (summarizes 100 001 traces once): {first:?}");
            let mut cursor = String::new();
            let mut times = Vec::new();
            for _ in 0..50 {
                let (d, body) = timed(format!("{}/api/traces?limit=50&cursor={cursor}", c.url()));
                times.push(d);
                cursor = body["next_cursor"].as_str().expect("cursor").to_owned();
            }
            times.sort();
            eprintln!(
                "list page of 50 over 100 001 traces: median {:?}, max {:?}",
                times[25], times[49]
            );
            let (d, body) = timed(format!("{}/api/traces?limit=50&agent=agent-3", c.url()));
            eprintln!("filtered by agent: {d:?} ({} total)", body["total"]);
            let (d, body) = timed(format!("{}/api/traces?limit=50&q=run-99", c.url()));
            eprintln!("text search: {d:?} ({} total)", body["total"]);
        });
        b.goto(&format!("{}/", c.url())).await;
        b.ready("list").await;
        let nav = b
            .js(
                "return performance.getEntriesByType('navigation')[0].duration",
                vec![],
            )
            .await;
        eprintln!("list page load in the browser: {nav} ms");
        b.close().await;
    });
}

//! Ingest load: starts an in-process collector and blasts valid 500-span batches at it
//! from concurrent keep-alive clients, then prints spans/s, the collector's CPU use and
//! the process RSS. A measuring tool, not a test: nothing is asserted about speed.
//!
//! ```sh
//! CARGO_TARGET_DIR=target-collector cargo run --release -p staso-collector \
//!     --example ingest_load -- --mode count-only --secs 5 --clients 4
//! ```
//!
//! Options: `--mode count-only|memory|sqlite|validate` (sqlite: a temporary file;
//! validate: no HTTP, the validator alone on one thread, in ns per span),
//! `--secs N` (default 5), `--clients N` (default 4), `--spans N` per batch (default 500),
//! `--total N` (stop after about N spans), `--no-bodies` (do not keep request bodies).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use staso_collector::{Collector, CollectorConfig, StoreMode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stands for the 12 hex digits that make each batch's ids unique.
const PLACEHOLDER: &str = "QQQQQQQQQQQQ";
const SPANS_PER_TRACE: usize = 10;

struct Template {
    body: Vec<u8>,
    holes: Vec<usize>,
    traces: usize,
    spans: usize,
}

impl Template {
    /// A batch of `spans` spans in traces of ten: an agent root and its tool/llm children.
    fn new(spans: usize) -> Self {
        let traces = spans.div_ceil(SPANS_PER_TRACE);
        let mut out = String::from("{\"traces\":[");
        let mut k = 0usize;
        for t in 0..traces {
            if t > 0 {
                out.push(',');
            }
            let n = SPANS_PER_TRACE.min(spans - t * SPANS_PER_TRACE);
            let trace_id = format!("{t:08x}-0000-4000-8000-{PLACEHOLDER}");
            out.push_str(&format!(
                "{{\"trace_id\":\"{trace_id}\",\"timestamp\":\"2026-11-26T06:10:47.000000+00:00\",\
                 \"environment\":\"default\",\"workspace_slug\":\"default\",\"spans\":["
            ));
            let root = format!("00000000-0000-0000-{k:04x}-{PLACEHOLDER}");
            for j in 0..n {
                if j > 0 {
                    out.push(',');
                }
                let id = format!("00000000-0000-0000-{k:04x}-{PLACEHOLDER}");
                k += 1;
                let (parent, kind) = match j {
                    0 => ("null".to_owned(), "agent"),
                    j if j % 2 == 0 => (format!("\"{root}\""), "llm"),
                    _ => (format!("\"{root}\""), "tool"),
                };
                let llm = kind == "llm";
                out.push_str(&format!(
                    "{{\"span_id\":\"{id}\",\"parent_span_id\":{parent},\"name\":\"step_{j}\",\
                     \"kind\":\"{kind}\",\"timestamp\":\"2026-11-26T06:10:47.{j:06}+00:00\",\
                     \"duration_ms\":12.5,\"status\":\"ok\",\"model\":\"{m}\",\"provider\":\"{p}\",\
                     \"requested_model\":\"{m}\",\"usage_available\":{u},\"reasoning_effort\":\"\",\
                     \"input_tokens\":{it},\"output_tokens\":{ot},\"total_tokens\":{tt},\
                     \"input\":\"{{\\\"query\\\":\\\"what is the weather in Paris\\\",\\\"n\\\":3}}\",\
                     \"output\":\"{{\\\"answer\\\":\\\"sunny, 21 degrees\\\"}}\",\
                     \"attributes\":\"{{\\\"code.function\\\":\\\"step_{j}\\\",\\\"code.lineno\\\":42}}\",\
                     \"error_message\":null,\"capture\":{{\"request\":\"captured\",\
                     \"system_prompt\":\"captured\",\"tool_schema\":\"captured\",\
                     \"tool_arguments\":\"captured\",\"output\":\"captured\"}},\
                     \"session_id\":\"0b0f3e2c-9a51-4a6e-8c1e-2f3d4e5f6a7b\",\"agent_name\":\"load-agent\",\
                     \"agent_id\":\"b7fa038a-6d14-5fc4-8ebc-66e1998cdff6\",\"agent_version\":\"1.0\",\
                     \"user_id\":\"\"}}",
                    m = if llm { "gpt-x" } else { "" },
                    p = if llm { "openai" } else { "" },
                    u = if llm { "true" } else { "null" },
                    it = if llm { 120 } else { 0 },
                    ot = if llm { 30 } else { 0 },
                    tt = if llm { 150 } else { 0 },
                ));
            }
            out.push_str("]}");
        }
        out.push_str("]}");
        let holes = out.match_indices(PLACEHOLDER).map(|(i, _)| i).collect();
        Self {
            body: out.into_bytes(),
            holes,
            traces,
            spans,
        }
    }

    /// The batch numbered `n`: every trace and span id made unique by `n`.
    fn batch(&self, n: u64) -> Vec<u8> {
        let mut body = self.body.clone();
        let hex = format!("{n:012x}");
        for &h in &self.holes {
            body[h..h + 12].copy_from_slice(hex.as_bytes());
        }
        body
    }
}

/// (VmRSS, VmHWM) of this process in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time (user + system, in clock ticks) of this process's threads named like the
/// collector's ("staso-collecto…").
fn collector_ticks() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            if !comm.starts_with("staso-collecto") {
                return None;
            }
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

struct Args {
    mode: String,
    secs: u64,
    clients: usize,
    spans: usize,
    total: u64,
    bodies: bool,
}

fn args() -> Args {
    let mut a = Args {
        mode: "count-only".into(),
        secs: 5,
        clients: 4,
        spans: 500,
        total: u64::MAX,
        bodies: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--mode" => a.mode = it.next().expect("--mode value"),
            "--secs" => a.secs = it.next().and_then(|v| v.parse().ok()).expect("--secs N"),
            "--clients" => a.clients = it.next().and_then(|v| v.parse().ok()).expect("--clients N"),
            "--spans" => a.spans = it.next().and_then(|v| v.parse().ok()).expect("--spans N"),
            "--total" => a.total = it.next().and_then(|v| v.parse().ok()).expect("--total N"),
            "--no-bodies" => a.bodies = false,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn config(a: &Args, db: &std::path::Path) -> CollectorConfig {
    let (store, db_path) = match a.mode.as_str() {
        "count-only" => (StoreMode::CountOnly, None),
        "memory" => (StoreMode::Sqlite, None),
        "sqlite" => (StoreMode::Sqlite, Some(db.to_owned())),
        other => panic!("unknown mode {other}"),
    };
    CollectorConfig {
        store,
        db_path,
        record_bodies: a.bodies,
        ..CollectorConfig::default()
    }
}

/// CPU time (user + system, in clock ticks of 10 ms) of the calling thread.
fn thread_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let Some(end) = stat.rfind(')') else { return 0 };
    let f: Vec<&str> = stat[end + 2..].split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// The validator alone, on this thread: ns per span over `secs`.
fn validate_only(a: &Args) {
    let template = Template::new(a.spans);
    let bodies: Vec<Vec<u8>> = (1..=64).map(|n| template.batch(n)).collect();
    let deadline = Instant::now() + Duration::from_secs(a.secs);
    let start = Instant::now();
    let ticks0 = thread_ticks();
    let mut batches = 0u64;
    while Instant::now() < deadline && batches * (a.spans as u64) < a.total {
        for body in &bodies {
            staso_collector::validate_ingest_body(body).unwrap();
        }
        batches += bodies.len() as u64;
    }
    let spans = batches * a.spans as u64;
    let cpu_ns = (thread_ticks() - ticks0) as f64 * 1e7;
    println!(
        "validator alone: {spans} spans in {:.2} s: {:.0} ns of CPU per span ({} bytes/span)",
        start.elapsed().as_secs_f64(),
        cpu_ns / spans as f64,
        template.body.len() / a.spans
    );
}

fn main() {
    let a = args();
    if a.mode == "validate" {
        return validate_only(&a);
    }
    let db = std::env::temp_dir().join(format!("staso-ingest-load-{}.db", std::process::id()));
    let c = Collector::start_blocking(config(&a, &db)).expect("collector");
    let template = Arc::new(Template::new(a.spans));
    let (rss0, _) = rss_kib();
    println!(
        "mode {} · {} clients · {} spans per batch ({} traces, {} KiB) · {} s",
        a.mode,
        a.clients,
        template.spans,
        template.traces,
        template.body.len() / 1024,
        a.secs
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let next = Arc::new(AtomicU64::new(1));
    let url = format!("{}/v1/traces/ingest", c.url());
    let ticks0 = collector_ticks();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(a.secs);
    let acked: u64 = rt.block_on(async {
        let tasks: Vec<_> = (0..a.clients)
            .map(|_| {
                let (template, next, url) = (template.clone(), next.clone(), url.clone());
                let total = a.total;
                tokio::spawn(async move {
                    let http = reqwest::Client::builder()
                        .pool_max_idle_per_host(1)
                        .build()
                        .expect("client");
                    let mut acked = 0u64;
                    let batches = total.div_ceil(template.spans as u64);
                    while Instant::now() < deadline {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n > batches {
                            break;
                        }
                        let body = template.batch(n);
                        let r = http
                            .post(&url)
                            .header("X-API-Key", "test-key")
                            .header("Content-Type", "application/json")
                            .header("User-Agent", "staso-rust/0.1.0")
                            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                            .body(body)
                            .send()
                            .await
                            .expect("send");
                        let status = r.status().as_u16();
                        let ack: serde_json::Value = r.json().await.expect("ack");
                        assert_eq!(status, 200, "{ack}");
                        assert_eq!(ack["accepted"], template.traces, "{ack}");
                        acked += template.spans as u64;
                    }
                    acked
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("client task");
        }
        total
    });
    let elapsed = start.elapsed().as_secs_f64();
    let ticks = collector_ticks() - ticks0;
    let (rss, hwm) = rss_kib();
    // Linux's USER_HZ is 100 (reading sysconf would need libc).
    let cores = ticks as f64 / 100.0 / elapsed;
    let stored = c.counts().final_spans;
    let duplicates = c.counts().duplicated;
    // Throughput depends on what else the machine runs; spans per second of collector
    // CPU time does much less.
    let per_cpu_second = acked as f64 / (ticks.max(1) as f64 / 100.0);
    println!(
        "{acked} spans acked in {elapsed:.2} s: {:.0} spans/s · collector threads {cores:.2} cores \
         ({per_cpu_second:.0} spans per CPU-second) · RSS {} MiB (start {} MiB, peak {} MiB) · \
         {stored} final spans stored, {duplicates} duplicated",
        acked as f64 / elapsed,
        rss / 1024,
        rss0 / 1024,
        hwm / 1024,
    );
    drop(c);
    let _ = std::fs::remove_file(&db);
}

//! Ingest hot path, for counting instructions: one realistic 500-span request body (the
//! fields, order and compact encoding the Rust SDK writes) validated and stored in a
//! count-only store N times, through the code path the ingest handler runs (no HTTP).
//! Each round gets a fresh Idempotency-Key and fresh trace and span ids (patched into
//! the body outside the measured function), as in the throughput benchmark.
//!
//! ```sh
//! cargo build --release -p staso-collector --example ingest_hot
//! valgrind --tool=callgrind --toggle-collect='staso_collector::probe::IngestProbe::ingest' \
//!     target/release/examples/ingest_hot 20
//! ```
//!
//! Instructions per span: callgrind's total `Ir` / (N * 500). Without valgrind it
//! prints the wall time per span. With a second argument `nodocs`, the spans carry no
//! input and output documents (`""`, what the SDK writes when nothing is captured, as
//! in the throughput benchmark's spans).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use staso_collector::IngestProbe;
use std::time::Instant;

const SPANS: usize = 500;
const SPANS_PER_TRACE: usize = 100;
/// Stands for the 12 hex digits that make each round's ids unique.
const HOLE: &str = "QQQQQQQQQQQQ";

/// The body, and where its id holes are.
fn body(docs: bool) -> (Vec<u8>, Vec<usize>) {
    let mut out = String::from("{\"traces\":[");
    for t in 0..SPANS / SPANS_PER_TRACE {
        if t > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"trace_id\":\"{t:08x}-3c1d-4e2f-9a0b-{HOLE}\",\
             \"timestamp\":\"2026-11-30T01:02:03.456789+00:00\",\
             \"environment\":\"default\",\"workspace_slug\":\"default\",\"spans\":["
        ));
        let root = format!("00000000-0000-0000-{t:04x}-{HOLE}");
        for j in 0..SPANS_PER_TRACE {
            if j > 0 {
                out.push(',');
            }
            let k = t * SPANS_PER_TRACE + j;
            let (id, parent, name, kind, input, output, usage, attrs) = if j == 0 {
                (
                    root.clone(),
                    "null".to_owned(),
                    "run_agent",
                    "agent",
                    r#"{\"agent_name\": \"bench-agent\", \"question\": \"refund policy\"}"#,
                    r#"{\"result\": \"ok\"}"#,
                    "null",
                    r#"{\"code.filepath\": \"src/main.rs\", \"code.lineno\": 42, \"code.function\": \"run_agent\", \"vcs.commit.sha\": \"3f2a9c1\", \"vcs.branch\": \"main\", \"vcs.repo_url\": \"https://example.com/acme/agent\", \"vcs.is_dirty\": false}"#,
                )
            } else {
                (
                    format!("00000000-0000-0000-{:04x}-{HOLE}", 0x8000 + k),
                    format!("\"{root}\""),
                    "tool_nothing_captured",
                    "tool",
                    r#"{\"query\": \"refund policy\", \"i\": 7}"#,
                    r#"{\"result\": 8}"#,
                    "null",
                    r#"{\"code.filepath\": \"src/lib.rs\", \"code.lineno\": 17, \"code.function\": \"tool_nothing_captured\", \"tool_name\": \"tool_nothing_captured\"}"#,
                )
            };
            let (input, output) = if docs { (input, output) } else { ("", "") };
            out.push_str(&format!(
                "{{\"span_id\":\"{id}\",\"parent_span_id\":{parent},\"name\":\"{name}\",\
                 \"kind\":\"{kind}\",\"timestamp\":\"2026-11-30T01:02:03.{:06}+00:00\",\
                 \"duration_ms\":0.01,\"status\":\"ok\",\"model\":\"\",\"provider\":\"\",\
                 \"requested_model\":\"\",\"usage_available\":{usage},\"reasoning_effort\":\"\",\
                 \"input_tokens\":0,\"output_tokens\":0,\"total_tokens\":0,\
                 \"input\":\"{input}\",\"output\":\"{output}\",\"attributes\":\"{attrs}\",\
                 \"error_message\":null,\"capture\":{{\"request\":\"captured\",\
                 \"system_prompt\":\"captured\",\"tool_schema\":\"captured\",\
                 \"tool_arguments\":\"captured\",\"output\":\"captured\"}},\
                 \"session_id\":\"6f1c2a7e-0d4b-4c8e-9b3a-51e2d7c4f809\",\
                 \"agent_name\":\"bench-agent\",\
                 \"agent_id\":\"b7fa038a-6d14-5fc4-8ebc-66e1998cdff6\",\
                 \"agent_version\":\"\",\"user_id\":\"\"}}",
                456_789 + j
            ));
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    let holes = out.match_indices(HOLE).map(|(i, _)| i).collect();
    (out.into_bytes(), holes)
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(20, |n| n.parse().expect("rounds: a number"));
    let docs = match std::env::args().nth(2).as_deref() {
        None => true,
        Some("nodocs") => false,
        Some(other) => panic!("second argument: `nodocs` or nothing, not {other:?}"),
    };
    let (mut body, holes) = body(docs);
    let probe = IngestProbe::count_only();
    let start = Instant::now();
    for round in 0..rounds {
        let id = format!("{:012x}", round + 1);
        for &h in &holes {
            body[h..h + 12].copy_from_slice(id.as_bytes());
        }
        let key = format!("5b8e1f2a-7c3d-4e9f-a1b2-{id}");
        let traces = probe.ingest(&key, &body).unwrap();
        assert_eq!(traces, SPANS / SPANS_PER_TRACE);
    }
    let elapsed = start.elapsed();
    assert_eq!(probe.spans(), rounds * SPANS);
    println!(
        "{rounds} bodies of {SPANS} spans ({} bytes): {:.0} ns per span",
        body.len(),
        elapsed.as_nanos() as f64 / (rounds * SPANS) as f64
    );
}

//! OTLP export: the same spans sent to an OpenTelemetry backend, here a local Jaeger,
//! instead of the Staso ingest. Start Jaeger (its OTLP/HTTP receiver listens on 4318, its
//! UI on 16686), run the example, then open <http://localhost:16686> and pick the service
//! `otlp-demo`:
//!
//! ```text
//! docker run --rm -d --name jaeger -p 16686:16686 -p 4318:4318 jaegertracing/all-in-one:latest
//! cargo run -p staso --example otlp --features otlp
//! ```
//!
//! Any OTLP/HTTP receiver works the same (an OpenTelemetry Collector, Tempo, Langfuse's
//! OTLP endpoint): set `OTEL_EXPORTER_OTLP_ENDPOINT` (and `OTEL_EXPORTER_OTLP_HEADERS` for
//! its credentials) instead of the option. To send to Staso as well, set `STASO_API_KEY`
//! and drop `.staso_ingest(false)`.
#![allow(clippy::print_stdout)]

use staso::llm::{LlmCall, Reply, Usage};
use staso::{Kind, Options};
use std::time::Duration;

/// A tool: its arguments and result become `gen_ai.tool.call.arguments` / `.result`.
#[staso::tool]
fn lookup_order(order_id: u64) -> String {
    format!("order {order_id}: shipped")
}

/// The agent: one model call, one tool call, under one `invoke_agent` span.
#[staso::agent(name = "support")]
fn answer(question: &str) -> String {
    let call = LlmCall::new("openai", "gpt-4o-mini")
        .system("You are a support agent.")
        .user(question)
        .start();
    // ... call the model here; this example answers itself ...
    // A tool call the guard blocked is returned (guard checks are off without the Staso
    // ingest unless `guard_checks` asks for them).
    if let Err(blocked) = call.finish(
        Reply::new()
            .model("gpt-4o-mini-2024-07-18")
            .tool_call("call_1", "lookup_order", r#"{"order_id":42}"#)
            .finish_reason("tool_calls")
            .usage(Usage::new(120, 18)),
    ) {
        return format!("not run: {blocked}");
    }
    lookup_order(42)
}

fn main() -> Result<(), staso::InitError> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .unwrap_or_else(|_| "http://localhost:4318".into());
    let client = staso::init(
        Options::new()
            .agent_name("otlp-demo")
            .otlp_endpoint(endpoint.clone())
            .staso_ingest(false),
    )?;
    {
        let _step = staso::span("warm-up", Kind::Custom);
    }
    println!("{}", answer("Where is order 42?"));
    let report = client.shutdown(Duration::from_secs(10));
    match report.destination("otlp") {
        Some(otlp) if otlp.ok() => println!(
            "sent {} span(s) to {endpoint}: open http://localhost:16686, service otlp-demo",
            otlp.delivered
        ),
        _ => println!("not delivered to {endpoint} (is Jaeger running?): {report:?}"),
    }
    Ok(())
}

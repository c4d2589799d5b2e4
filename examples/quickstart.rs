//! A small support agent, traced end to end against the embedded local collector, which
//! prints every trace it receives as a tree and serves the trace viewer. No account
//! needed:
//!
//! ```text
//! cargo run --example quickstart            # then open the printed /traces/<id> URL
//! cargo run --example quickstart -- --exit  # stop right after (CI; or STASO_QUICKSTART_EXIT=1)
//! ```
//!
//! With a real key, drop the collector and set `STASO_API_KEY` instead.
#![allow(clippy::print_stdout)]

use serde::Serialize;
use staso::Kind;
use std::sync::OnceLock;
use std::time::Duration;

/// The id of the agent's trace, to print its viewer URL at the end.
static TRACE_ID: OnceLock<staso::TraceId> = OnceLock::new();

#[derive(Debug, Serialize)]
struct Order {
    id: u64,
    status: &'static str,
}

#[derive(Debug)]
struct NotFound(u64);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "order {} not found", self.0)
    }
}

impl std::error::Error for NotFound {}

/// A tool: its arguments and result are captured as JSON.
#[staso::tool]
async fn lookup_order(order_id: u64) -> Result<Order, NotFound> {
    tokio::time::sleep(Duration::from_millis(15)).await;
    match order_id {
        42 => Ok(Order {
            id: 42,
            status: "shipped",
        }),
        other => Err(NotFound(other)),
    }
}

/// A tool that fails: the span gets status `error`, the message and the error type;
/// the caller still gets the `Err`.
#[staso::tool(name = "refund.issue")]
fn issue_refund(order_id: u64, amount_cents: u32) -> Result<String, NotFound> {
    Err(NotFound(order_id)).map(|()| format!("refunded {amount_cents}"))
}

/// A retriever: any span kind is one keyword away.
#[staso::trace(kind = "retriever", tags = ["kb"])]
fn search_policies(query: &str) -> Vec<&'static str> {
    let _ = query;
    vec!["Refunds within 30 days.", "Shipping takes 3-5 days."]
}

/// The agent entry point: everything it calls nests under it.
#[staso::agent(name = "support-bot")]
async fn answer(question: String) -> String {
    if let Some(id) = staso::current_span().trace_id() {
        let _ = TRACE_ID.set(id);
    }
    let docs = search_policies(&question);
    let order = lookup_order(42).await;
    if let Err(e) = issue_refund(7, 1999) {
        println!("(the refund tool failed as planned: {e})");
    }

    // A manual LLM span with model and token usage; input and output in the OpenAI chat
    // shape, so the viewer shows them as a transcript.
    let mut llm = staso::span("chat.completions", Kind::Llm);
    llm.set_model("gpt-4o-mini").set_provider("openai");
    llm.set_input(&serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": format!("You answer support questions. Policies: {}", docs.join(" "))},
            {"role": "user", "content": question},
        ],
    }));
    let reply = match order {
        Ok(o) => format!("Your order {} is {}.", o.id, o.status),
        Err(e) => format!("Sorry: {e}"),
    };
    llm.set_output(&serde_json::json!({"role": "assistant", "content": reply}))
        .set_usage(182, 24);
    drop(llm);
    reply
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The embedded collector speaks the same contract as the service and prints trees.
    let collector = staso_collector::Collector::start(staso_collector::CollectorConfig {
        api_key: "local-demo-key".into(),
        print_trees: true,
        ..Default::default()
    })
    .await?;

    let client = staso::init(
        staso::Options::new()
            .api_key("local-demo-key")
            .agent_name("support-bot")
            .base_url(collector.url()),
    )?;

    let reply = staso::conversation("conv-quickstart")
        .user_id("user-alice")
        .scope(answer("Where is my order 42?".into()))
        .await;
    println!("agent: {reply}");

    let report = client.shutdown(Duration::from_secs(5));
    println!(
        "delivery: {} delivered, {} failed, {} pending, {} rejected (ok = {})",
        report.delivered,
        report.failed,
        report.pending,
        report.rejected,
        report.ok()
    );

    let trace = TRACE_ID.get().map_or_else(String::new, |id| id.to_string());
    println!("view this trace: {}/traces/{trace}", collector.url());
    let exit = std::env::args().any(|a| a == "--exit")
        || std::env::var("STASO_QUICKSTART_EXIT").is_ok_and(|v| v == "1" || v == "true");
    if !exit {
        println!("the viewer keeps serving: Ctrl-C to stop (run with --exit to stop at once)");
        tokio::signal::ctrl_c().await?;
    }
    Ok(())
}

//! Two agents in one process: every span names the innermost agent it runs under, so the
//! dashboard routes a triage agent's tools and a billing agent's tools apart, even when
//! one agent calls the other.
//!
//! ```text
//! cargo run --example multi_agent
//! ```
#![allow(clippy::print_stdout)]

use std::time::Duration;

#[staso::tool]
fn classify(message: &str) -> &'static str {
    if message.contains("refund") {
        "billing"
    } else {
        "general"
    }
}

#[staso::tool(name = "ledger.refund")]
fn refund(order_id: u64) -> Result<u64, String> {
    Ok(order_id * 100)
}

/// Runs under agent_name "billing-agent".
#[staso::agent(name = "billing-agent", tags = ["billing"])]
fn billing(order_id: u64) -> String {
    match refund(order_id) {
        Ok(cents) => format!("refunded {cents} cents"),
        Err(e) => format!("refund failed: {e}"),
    }
}

/// Runs under agent_name "triage-agent", and hands billing questions to the billing agent.
#[staso::agent(name = "triage-agent")]
fn triage(message: String) -> String {
    match classify(&message) {
        "billing" => billing(7),
        _ => "let me find someone".to_string(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let collector = staso_collector::Collector::start_blocking(staso_collector::CollectorConfig {
        api_key: "local-demo-key".into(),
        print_trees: true,
        ..Default::default()
    })?;
    let client = staso::init(
        staso::Options::new()
            .api_key("local-demo-key")
            .agent_name("support-desk")
            .base_url(collector.url()),
    )?;

    println!("{}", triage("I want a refund for order 7".into()));
    println!("{}", triage("hello".into()));
    let report = client.shutdown(Duration::from_secs(5));
    println!(
        "delivered {} spans (ok = {})",
        report.delivered,
        report.ok()
    );

    for span in collector.spans() {
        println!(
            "{:<16} {:<8} agent_name = {}",
            span.name,
            span.kind,
            span.str_field("agent_name")
        );
    }
    Ok(())
}

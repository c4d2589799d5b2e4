//! Guard: a tool call is checked before it runs, and a blocked one never runs. Against the
//! embedded local collector, whose rules block `delete_file` and audit `send_email`. No
//! account needed:
//!
//! ```text
//! cargo run --example guard
//! ```
//!
//! With a real key, drop the collector, set `STASO_API_KEY`, and set the rules on the
//! dashboard.
#![allow(clippy::print_stdout)]

use staso_collector::{Collector, CollectorConfig, GuardRule};
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Checked before the body runs: when the guard blocks it, the body does not run and the
/// call returns `Err(GuardBlocked)` (converted into the function's error type).
#[staso::tool(guard)]
async fn delete_file(path: String) -> Result<String, BoxError> {
    Ok(format!("deleted {path}"))
}

#[staso::tool(guard)]
async fn list_files(dir: String) -> Result<Vec<String>, BoxError> {
    Ok(vec![
        format!("{dir}/report.pdf"),
        format!("{dir}/notes.txt"),
    ])
}

/// A tool checked by hand: `staso::guard` returns the decision, `enforce()?` stops here
/// when it blocks. An audit rule allows the call and records a "would block".
#[staso::tool]
async fn send_email(to: String, body: String) -> Result<&'static str, BoxError> {
    let decision = staso::guard("send_email", &serde_json::json!({"to": to, "body": body})).await;
    if decision.would_block() {
        println!(
            "(audit: send_email would be blocked: {})",
            decision.rules_triggered.join(", ")
        );
    }
    decision.enforce()?;
    Ok("sent")
}

#[staso::agent(name = "files-bot")]
async fn clean_up() -> Vec<String> {
    let mut log = Vec::new();
    match list_files("/home/alice".into()).await {
        Ok(files) => log.push(format!("list_files: {files:?}")),
        Err(e) => log.push(format!("list_files: {e}")),
    }
    match delete_file("/home/alice/report.pdf".into()).await {
        Ok(done) => log.push(format!("delete_file: {done}")),
        Err(e) => log.push(format!("delete_file refused: {e}")),
    }
    match send_email("bob@example.com".into(), "the report is gone".into()).await {
        Ok(done) => log.push(format!("send_email: {done}")),
        Err(e) => log.push(format!("send_email refused: {e}")),
    }
    log
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let collector = Collector::start(CollectorConfig {
        api_key: "local-demo-key".into(),
        print_trees: true,
        ..Default::default()
    })
    .await?;
    collector.guard().set(
        "delete_file",
        GuardRule::block("no-deletes", "deleting user files needs a human"),
    );
    collector.guard().set(
        "send_email",
        GuardRule::audit("mail-audit", "outgoing mail is audited"),
    );

    let client = staso::init(
        staso::Options::new()
            .api_key("local-demo-key")
            .agent_name("files-bot")
            .base_url(collector.url()),
    )?;

    for line in clean_up().await {
        println!("{line}");
    }

    let report = client.shutdown(Duration::from_secs(5));
    println!("delivery ok = {}", report.ok());
    Ok(())
}

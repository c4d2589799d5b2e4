//! `#[staso::main]` end to end: a real program (`src/bin/main_e2e.rs`) against a local
//! collector. The guard delivers the spans when `main` returns `Ok`, returns `Err` or
//! panics, and root spans carry the git commit baked in at compile time.

use staso_collector::{Collector, CollectorConfig};
use std::process::Command;
use std::time::Duration;

fn run(mode: &str) -> (std::process::ExitStatus, Collector) {
    let collector = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let out = Command::new(env!("CARGO_BIN_EXE_main_e2e"))
        .arg(mode)
        .env("STASO_API_KEY", "test-key")
        .env("STASO_BASE_URL", collector.url())
        .env_remove("STASO_VCS_COMMIT_SHA")
        // Outside the checkout, so the commit can only come from the binary itself.
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run main_e2e");
    // Nothing may be left to deliver after the process is gone.
    assert!(
        collector.wait_until(Duration::from_secs(5), |n| n.final_spans >= 2),
        "{mode}: spans not delivered before exit; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, collector)
}

fn head() -> Option<String> {
    let out = Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn final_span(c: &Collector, name: &str) -> staso_collector::StoredSpan {
    c.spans()
        .into_iter()
        .find(|s| s.name == name && !s.provisional)
        .unwrap_or_else(|| panic!("no final span {name}"))
}

#[test]
fn ok_main_delivers_at_exit_with_baked_git() {
    let (status, c) = run("ok");
    assert!(status.success(), "{status}");
    let agent = final_span(&c, "e2e-agent");
    assert_eq!(agent.status, "ok");
    let tool = final_span(&c, "lookup");
    assert_eq!(tool.parent_span_id.as_deref(), Some(agent.span_id.as_str()));
    if let Some(sha) = head() {
        let attrs = agent
            .raw
            .get("attributes")
            .map(|a| a.to_string())
            .unwrap_or_default();
        assert!(
            attrs.contains(&sha),
            "vcs.commit.sha {sha} not on the root: {attrs}"
        );
    }
}

#[test]
fn err_main_still_delivers() {
    let (status, c) = run("err");
    assert_eq!(status.code(), Some(1));
    let agent = final_span(&c, "e2e-agent");
    assert_eq!(agent.status, "error");
    assert_eq!(agent.error_message.as_deref(), Some("order 7: refused"));
}

#[test]
fn panicking_main_still_delivers() {
    let (status, c) = run("panic");
    assert_eq!(status.code(), Some(101));
    let agent = final_span(&c, "e2e-agent");
    assert_eq!(agent.status, "error");
    assert_eq!(agent.error_message.as_deref(), Some("handler exploded"));
}

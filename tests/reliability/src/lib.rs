//! Helpers shared by the reliability tests and their child programs.

use std::time::Duration;

/// Options for a child program: everything from the process environment the test set
/// (`STASO_API_KEY`, `STASO_BASE_URL`, ...), short timeouts.
pub fn child_options() -> staso_core::Options {
    staso_core::Options::new()
        .agent_name("exit-child")
        .capture_git(false)
        .flush_interval(Duration::from_secs(60))
        .shutdown_timeout(Duration::from_secs(5))
}

/// Options for a client of the test's own local collector at `url`: a test key, agent
/// `bot`, no git context; each test adds what it varies.
pub fn local_options(url: impl Into<String>) -> staso_core::Options {
    staso_core::Options::new()
        .api_key("test-key")
        .agent_name("bot")
        .base_url(url)
        .capture_git(false)
}

/// A small agent run: one root with three tools.
pub fn produce_spans() {
    let _agent = staso_core::span("agent-run", staso_core::Kind::Agent);
    for i in 0..3 {
        let mut t = staso_core::span(format!("tool-{i}"), staso_core::Kind::Tool);
        t.set_input(&serde_json::json!({"i": i}));
    }
}

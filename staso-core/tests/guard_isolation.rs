//! A guard check never holds up tracing (issue 11, the guard's own HTTP client "never on
//! the hot path / never blocks the batcher"): while a check waits for an answer that does
//! not come, spans still start and end on other threads and a flush delivers them.

#[path = "support/guard_service.rs"]
mod guard_service;
#[path = "support/loopback.rs"]
mod loopback;

use guard_service::{ack, KEY};
use loopback::{Reply, Server};
use serde_json::json;
use staso_core::testing::init_with_env;
use staso_core::{span, GuardOptions, Kind, Options};
use std::collections::HashMap;
use std::time::Duration;

#[test]
fn a_check_waiting_for_its_answer_holds_up_neither_spans_nor_their_delivery() {
    // Ingest is acknowledged; a guard request is never answered.
    let s = Server::start(|req, _| {
        if req.path == "/v1/traces/ingest" {
            ack(req)
        } else {
            Reply::hang()
        }
    });
    let none: HashMap<&str, &str> = HashMap::new();
    let client = init_with_env(
        Options::new()
            .api_key(KEY)
            .agent_name("isolated-bot")
            .base_url(s.url())
            .capture_git(false)
            .flush_interval(Duration::from_secs(60))
            .install_exit_hook(false),
        &none,
    )
    .expect("init");
    // The check can end only at its 60 s deadline.
    let pending = std::thread::spawn(|| {
        staso_core::guard_blocking_with(
            "slow_tool",
            &json!({}),
            GuardOptions::new().timeout(Duration::from_secs(60)),
        )
    });
    assert!(
        s.wait_for(1, Duration::from_secs(30)),
        "the check's request is out"
    );
    {
        let _turn = span("while-checking", Kind::Agent);
    }
    let report = client.flush(Duration::from_secs(30));
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.delivered, 1, "{report:?}");
    assert!(
        !pending.is_finished(),
        "the flush returned while the check still waits"
    );
    let sent: Vec<String> = s
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/traces/ingest")
        .flat_map(|r| {
            r.json()["traces"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .flat_map(|t| t["spans"].as_array().cloned().unwrap_or_default())
                .filter_map(|sp| sp["name"].as_str().map(String::from))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(sent.iter().any(|n| n == "while-checking"), "{sent:?}");
    let _ = client.shutdown(Duration::from_secs(5));
}

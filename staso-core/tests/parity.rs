//! The Python SDK's smaller public features, in Rust shape: a conversation without an id
//! gets one, a re-initialised client hands over the previous one's shutdown report, and
//! `VERSION` is what the User-Agent says (the guard tests check the header).

#[path = "support/guard_service.rs"]
mod guard_service;
#[path = "support/loopback.rs"]
mod loopback;

use staso_core::testing::{capture, init_with_env};
use staso_core::{new_conversation, span, Kind, Options};
use std::collections::HashMap;
use std::time::Duration;

#[test]
fn a_conversation_without_an_id_gets_a_fresh_uuid_that_its_spans_carry() {
    let a = new_conversation();
    let b = new_conversation();
    assert_ne!(a.id(), b.id());
    let id = a.id().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let (_, spans) = capture(|| a.user_id("alice").run(|| drop(span("turn", Kind::Agent))));
    assert_eq!(spans[0].session_id(), id);
    assert_eq!(spans[0].user_id(), "alice");
}

#[test]
fn a_new_client_hands_over_the_previous_ones_shutdown_report() {
    let s = guard_service::service();
    let none: HashMap<&str, &str> = HashMap::new();
    let options = || {
        Options::new()
            .api_key("ak_parity")
            .agent_name("parity-bot")
            .base_url(s.url())
            .capture_git(false)
            .flush_interval(Duration::from_secs(60))
            .install_exit_hook(false)
    };
    let first = init_with_env(options(), &none).expect("init");
    assert_eq!(first.previous_shutdown_report(), None);
    drop(span("before-reinit", Kind::Agent));
    let second = init_with_env(options(), &none).expect("re-init");
    let report = second
        .previous_shutdown_report()
        .expect("the first client's report");
    assert_eq!((report.accepted, report.delivered), (1, 1), "{report:?}");
    assert!(report.ok());
    drop(first);
    let _ = second.shutdown(Duration::from_secs(2));
    assert_eq!(staso_core::VERSION, env!("CARGO_PKG_VERSION"));
}

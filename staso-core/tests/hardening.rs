//! Issue 8's configuration items, each over loopback where delivery is involved: keys read
//! from files, tracing disabled at run time, base URLs that already name the endpoint.

use staso_collector::{Collector, CollectorConfig};
use staso_core::testing::init_with_env;
use staso_core::{init, span, FailureKind, InitError, Kind, Options};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
    pairs.iter().copied().collect()
}

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig {
        api_key: "ak_file_key".into(),
        ..Default::default()
    })
    .expect("collector")
}

/// 8.4: a key read from a file keeps its newline; it is trimmed and delivery works.
#[test]
fn issue8_4_a_key_with_a_trailing_newline_is_trimmed_and_accepted_by_the_service() {
    let _s = serial();
    let c = collector();
    let client = init(
        Options::new()
            .api_key("ak_file_key\n")
            .agent_name("bot")
            .base_url(c.url())
            .capture_git(false),
    )
    .expect("a trimmed key is valid");
    drop(span("tool", Kind::Tool));
    let r = client.shutdown(Duration::from_secs(10));
    assert_eq!((r.delivered, r.failed), (1, 0), "{r:?}");
}

/// 8.4: a key that still cannot be a header value is refused at init, naming the option
/// and its environment variable (before: every attempt failed as "network unavailable").
#[test]
fn issue8_4_a_key_with_a_control_character_inside_is_refused_at_init() {
    let e = init_with_env(
        Options::new().agent_name("bot"),
        &env(&[("STASO_API_KEY", "ak_1\u{1b}[2J")]),
    )
    .expect_err("refused");
    assert!(matches!(e, InitError::InvalidApiKey { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("STASO_API_KEY") && msg.contains("control"),
        "{msg}"
    );
}

/// 8.9: with tracing disabled, flush and shutdown answer at once, empty and ok (before:
/// each waited its whole timeout and reported `timed_out`).
#[test]
fn issue8_9_disabled_tracing_flushes_and_shuts_down_at_once() {
    let _s = serial();
    let client = init(Options::new().enabled(false)).expect("no key needed");
    drop(span("not recorded", Kind::Tool));
    for r in [
        client.flush(Duration::from_secs(30)),
        staso_core::flush(Duration::from_secs(30)),
        client.shutdown(Duration::from_secs(30)),
    ] {
        assert!(!r.timed_out && r.ok(), "{r:?}");
        assert_eq!((r.accepted, r.pending), (0, 0), "{r:?}");
        assert_eq!(r.last_failure, Some(FailureKind::Disabled), "{r:?}");
    }
}

/// 8.9b: `enabled = false` needs neither key nor agent name; `STASO_ENABLED` switches
/// tracing off without a rebuild; a malformed value is still an error.
#[test]
fn issue8_9b_disabled_tracing_needs_no_key_and_staso_enabled_switches_it() {
    let _s = serial();
    assert!(init_with_env(Options::new().enabled(false), &env(&[])).is_ok());
    for off in ["0", "false", "no", "OFF"] {
        let client = init_with_env(Options::new(), &env(&[("STASO_ENABLED", off)]))
            .unwrap_or_else(|e| panic!("STASO_ENABLED={off}: {e}"));
        assert!(!span("x", Kind::Tool).is_recording(), "{off}");
        assert!(client.shutdown(Duration::from_secs(5)).ok());
    }
    let e = init_with_env(Options::new(), &env(&[("STASO_ENABLED", "maybe")]))
        .expect_err("not a boolean");
    assert!(e.to_string().contains("STASO_ENABLED"), "{e}");
    // A key that is there must still be well-formed.
    let e = init_with_env(Options::new().enabled(false).api_key("ak 1"), &env(&[]))
        .expect_err("malformed");
    assert!(matches!(e, InitError::InvalidApiKey { .. }), "{e:?}");
    // Enabled, the key is still required.
    assert_eq!(
        init_with_env(Options::new().agent_name("bot"), &env(&[])).err(),
        Some(InitError::MissingApiKey)
    );
}

/// 8.12: a base URL that already ends in the endpoint path posts to the endpoint once
/// (before: `/v1/traces/ingest/v1/traces/ingest`, a 404 for every batch).
#[test]
fn issue8_12_a_base_url_ending_in_the_endpoint_posts_to_the_endpoint() {
    let _s = serial();
    let c = collector();
    let client = init(
        Options::new()
            .api_key("ak_file_key")
            .agent_name("bot")
            .base_url(format!("{}/v1/traces/ingest", c.url()))
            .capture_git(false),
    )
    .expect("init");
    drop(span("tool", Kind::Tool));
    let r = client.shutdown(Duration::from_secs(10));
    assert_eq!((r.delivered, r.failed), (1, 0), "{r:?}");
    let paths: Vec<String> = c
        .requests()
        .ingest()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, ["/v1/traces/ingest"]);
}

/// 8.12: `STASO_BASE_URL=""` counts as unset (the default address), and an invalid base
/// URL's error never repeats its credentials.
#[test]
fn issue8_12_a_blank_base_url_is_unset_and_errors_hide_credentials() {
    let opts = || {
        Options::new()
            .api_key("ak_1")
            .agent_name("bot")
            .capture_git(false)
            .enabled(false)
    };
    assert!(init_with_env(opts(), &env(&[("STASO_BASE_URL", "")])).is_ok());
    let e = init_with_env(
        opts().base_url("http://user:hunter2@example.com"),
        &env(&[]),
    )
    .expect_err("plain http to a remote host");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

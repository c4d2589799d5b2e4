//! What the SDK says about itself: one warning for a full queue, a TLS failure named as
//! such, a batcher panic survived with one error, and never the API key.

use staso_collector::{Collector, CollectorConfig};
use staso_core::{init, span, FailureKind, Kind, Options};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());
static LOGS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target() == "staso" {
            LOGS.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((record.level(), record.args().to_string()));
        }
    }
    fn flush(&self) {}
}

/// Takes the test's turn and starts from an empty log.
fn serial() -> MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let _ = log::set_logger(&Capture);
    log::set_max_level(log::LevelFilter::Trace);
    LOGS.lock().unwrap_or_else(|p| p.into_inner()).clear();
    g
}

fn logs() -> Vec<(log::Level, String)> {
    LOGS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn options(url: String) -> Options {
    Options::new()
        .api_key("test-key")
        .agent_name("bot")
        .base_url(url)
        .capture_git(false)
        .flush_interval(Duration::from_secs(60))
}

#[test]
fn a_full_queue_warns_once_and_counts_exactly() {
    let _s = serial();
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    c.faults().go_down();
    let client = init(options(c.url()).max_queue_size(10).batch_size(100)).expect("init");
    for _ in 0..100 {
        drop(span("burst", Kind::Tool));
    }
    let report = client.flush(Duration::from_millis(200));
    assert_eq!(report.rejected, 90, "{report:?}");
    let warnings: Vec<_> = logs()
        .into_iter()
        .filter(|(_, m)| m.contains("queue full"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].0, log::Level::Warn);
}

/// Each bound has its own warning: a process that dropped spans at `max_queue_bytes`
/// still hears about `max_queue_size` in the same minute, and the other way round, so the
/// warning always names the option to raise.
#[test]
fn each_bound_reached_warns_by_its_own_name() {
    let _s = serial();
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    c.faults().go_down();
    let client = init(
        options(c.url())
            .max_queue_size(10)
            .batch_size(100)
            .max_field_bytes(16 * 1024)
            .max_queue_bytes(64 * 1024),
    )
    .expect("init");
    // Captured content first: four documents of 16 KiB fill max_queue_bytes.
    let doc = "d".repeat(16 * 1024);
    for _ in 0..8 {
        span("big", Kind::Tool).set_input(&doc);
    }
    // Then spans that capture nothing, past max_queue_size.
    for _ in 0..1_000 {
        drop(span("small", Kind::Tool));
    }
    let report = client.flush(Duration::from_millis(200));
    assert!(report.rejected >= 4 + 900, "{report:?}");
    let warnings = logs();
    let named = |option: &str| {
        warnings
            .iter()
            .filter(|(level, m)| *level == log::Level::Warn && m.contains(option))
            .count()
    };
    assert_eq!(named("reached max_queue_bytes"), 1, "{warnings:?}");
    assert_eq!(named("span queue full (max_queue_size"), 1, "{warnings:?}");
}

#[test]
fn tls_with_the_ca_option_succeeds_and_without_it_fails_clearly() {
    let _s = serial();
    let c = Collector::start_blocking(CollectorConfig {
        tls: true,
        ..Default::default()
    })
    .expect("tls collector");
    let url = format!("https://localhost:{}", c.port());
    let dir = std::env::temp_dir().join(format!("staso-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, c.ca_pem().expect("ca pem")).expect("write ca");

    let trusted = init(options(url.clone()).ca_cert_path(ca.clone())).expect("init");
    drop(span("over-tls", Kind::Tool));
    let report = trusted.flush(Duration::from_secs(10));
    assert!(report.ok(), "{report:?}");
    assert_eq!(c.counts().spans, 1);
    drop(trusted);

    LOGS.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let untrusted = init(options(url).request_timeout(Duration::from_secs(2))).expect("init");
    drop(span("refused", Kind::Tool));
    let report = untrusted.flush(Duration::from_secs(3));
    assert_eq!(
        report.last_failure,
        Some(FailureKind::NetworkUnavailable),
        "{report:?}"
    );
    assert_eq!(c.counts().spans, 1);
    let tls_warnings: Vec<_> = logs()
        .into_iter()
        .filter(|(_, m)| m.contains("TLS"))
        .collect();
    assert!(!tls_warnings.is_empty(), "{:?}", logs());
    assert!(
        tls_warnings[0].1.contains("certificate"),
        "{tls_warnings:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_panic_in_the_batcher_is_survived_with_one_error() {
    let _s = serial();
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let client = init(options(c.url())).expect("init");
    drop(span("before", Kind::Tool));
    staso_core::inject_batcher_panic();
    drop(span("after", Kind::Tool));
    let report = client.flush(Duration::from_secs(10));
    assert!(report.ok(), "{report:?}");
    assert_eq!(c.counts().spans, 2, "delivery goes on after the panic");
    let errors: Vec<_> = logs()
        .into_iter()
        .filter(|(l, _)| *l == log::Level::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.contains("panicked"));
}

#[test]
fn the_api_key_never_appears_in_a_debug_run() {
    let _s = serial();
    let key = "sk-live-0123456789-SECRET";
    let c = Collector::start_blocking(CollectorConfig {
        api_key: key.into(),
        ..Default::default()
    })
    .expect("collector");
    let f = c.faults();
    f.fail_next(2, 500);
    f.fail_next(1, 401);
    f.rate_limit_next(1, None);
    f.drop_next(1);
    f.bad_ack_next(1, staso_collector::BadAck::WrongReceiptId);
    f.fail_next(1, 403);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_debug_child"))
        .env("STASO_API_KEY", key)
        .env("STASO_BASE_URL", c.url())
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("[staso"), "debug mode is verbose: {stderr}");
    assert!(stderr.contains("invalid_key"), "{stderr}");
    assert!(
        !stdout.contains(key) && !stderr.contains(key),
        "the key leaked:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("SECRET") && !stderr.contains("SECRET"));
}

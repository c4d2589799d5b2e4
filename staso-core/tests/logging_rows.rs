//! What the SDK logs (through the `log` facade, target `staso`) about guard checks and
//! annotations, the logging rows of `shared/guard-annotations-contract.md` §3 and §5:
//! a guard check that fails in transport or HTTP is a warning `Guard check failed: <text>
//! (<what>)` (Rust names the HTTP status or the transport failure where Python names the
//! exception type), an answer that fails validation is not logged; an annotation refused
//! with a status is a warning naming the status (its body, up to 300 characters, with
//! `debug`), a transport failure is a warning, and annotating before `init` warns.
//! One logger per process, so the tests take turns.

#[path = "support/guard_service.rs"]
mod guard_service;
#[path = "support/loopback.rs"]
mod loopback;

use guard_service::{check, env, service, KEY};
use loopback::{closed_port_url, Reply, Server};
use serde_json::json;
use staso_core::testing::init_with_env;
use staso_core::{GuardFailureKind, GuardOptions, Options, TraceId};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// Every record logged, as (level, target, message).
struct Recorder(Mutex<Vec<(log::Level, String, String)>>);

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((
            record.level(),
            record.target().to_string(),
            record.args().to_string(),
        ));
    }
    fn flush(&self) {}
}

static LOGGER: OnceLock<&'static Recorder> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// This test's turn, with the records so far cleared.
fn turn() -> (MutexGuard<'static, ()>, &'static Recorder) {
    let t = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let r = *LOGGER.get_or_init(|| {
        let r: &'static Recorder = Box::leak(Box::new(Recorder(Mutex::new(Vec::new()))));
        log::set_logger(r).expect("the only logger");
        log::set_max_level(log::LevelFilter::Trace);
        r
    });
    r.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    (t, r)
}

/// The messages logged at `level` by the SDK.
fn logged(r: &Recorder, level: log::Level) -> Vec<String> {
    r.0.lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|(l, t, _)| *l == level && t == "staso")
        .map(|(_, _, m)| m.clone())
        .collect()
}

#[test]
fn a_guard_check_that_fails_in_transport_or_http_is_a_warning() {
    let (_t, r) = turn();
    let busy = Server::start(|_, _| Reply::json(503, &json!({"error": "down"})));
    let c = check(
        &busy.url(),
        "t",
        &json!({}),
        GuardOptions::new(),
        &env(&busy.url()),
    );
    assert_eq!(c.failure_kind, Some(GuardFailureKind::BackendUnavailable));
    let refused = closed_port_url();
    let _ = check(
        &refused,
        "t",
        &json!({}),
        GuardOptions::new(),
        &env(&refused),
    );
    let hang = Server::start(|_, _| Reply::hang());
    let _ = check(
        &hang.url(),
        "t",
        &json!({}),
        GuardOptions::new().timeout(Duration::from_millis(200)),
        &env(&hang.url()),
    );
    assert_eq!(
        logged(r, log::Level::Warn),
        [
            "Guard check failed: Guard service unavailable (HTTP 503)",
            "Guard check failed: Guard network unavailable (connection error)",
            "Guard check failed: Guard request deadline exceeded (deadline passed)",
        ]
    );
    let all = r.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        all.iter().all(|(_, _, m)| !m.contains(KEY)),
        "the key is never logged: {all:?}"
    );
}

#[test]
fn an_answer_that_fails_validation_is_not_logged() {
    let (_t, r) = turn();
    let s = service();
    let e = env(&s.url());
    for tool in ["not_json", "wrong_id", "modify"] {
        let c = check(&s.url(), tool, &json!({}), GuardOptions::new(), &e);
        assert!(!c.decision_available, "{tool}");
    }
    assert_eq!(s.requests().len(), 3);
    let all = r.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        all.iter()
            .all(|(_, _, m)| !m.contains("Guard check failed")),
        "{all:?}"
    );
}

fn trace() -> TraceId {
    "0af7651916cd43dd8448eb211c80319c"
        .parse()
        .expect("trace id")
}

fn start(url: &str, debug: bool) -> staso_core::Client {
    let none: HashMap<&str, &str> = HashMap::new();
    init_with_env(
        Options::new()
            .api_key(KEY)
            .agent_name("annotating-bot")
            .base_url(url)
            .capture_git(false)
            .debug(debug)
            .flush_interval(Duration::from_secs(60))
            .install_exit_hook(false),
        &none,
    )
    .expect("init")
}

#[test]
fn an_annotation_refused_with_a_status_is_a_warning_naming_it() {
    let (_t, r) = turn();
    // 400 characters of body: the first 300 are shown (with debug), never more.
    let body = format!("{}{}", "u".repeat(300), "v".repeat(100));
    let s = Server::start(move |req, _| {
        if req.path == "/v1/traces/ingest" {
            return guard_service::ack(req);
        }
        Reply::text(404, &body)
    });
    let client = start(&s.url(), true);
    staso_core::annotate(trace(), "quality", 3).expect("valid");
    let report = client.shutdown(Duration::from_secs(10));
    assert_eq!(report.annotations.failed, 1, "{report:?}");
    let warnings = logged(r, log::Level::Warn);
    let refused: Vec<&String> = warnings
        .iter()
        .filter(|m| m.contains("annotation delivery failed"))
        .collect();
    assert_eq!(refused.len(), 1, "{warnings:?}");
    assert!(refused[0].contains("HTTP 404"), "{}", refused[0]);
    let infos = logged(r, log::Level::Info);
    let said = format!(
        "staso: the annotation service answered 404: {}",
        "u".repeat(300)
    );
    assert!(infos.contains(&said), "{infos:?}");
}

#[test]
fn an_annotation_that_cannot_be_delivered_is_a_warning() {
    let (_t, r) = turn();
    let url = closed_port_url();
    let client = start(&url, false);
    staso_core::annotate(trace(), "quality", 3).expect("valid");
    let report = client.shutdown(Duration::from_secs(2));
    assert_eq!(report.annotations.delivered, 0, "{report:?}");
    let warnings = logged(r, log::Level::Warn);
    assert!(
        warnings
            .iter()
            .any(|m| m.contains("annotation delivery failed") && m.contains("network_unavailable")),
        "{warnings:?}"
    );
}

#[test]
fn annotating_before_init_warns() {
    let (_t, r) = turn();
    // No client runs between turns (each test shuts its client down).
    staso_core::annotate(trace(), "quality", 3).expect("valid");
    let warnings = logged(r, log::Level::Warn);
    assert!(
        warnings
            .iter()
            .any(|m| m == "staso: annotate() called before init(); the annotation is dropped"),
        "{warnings:?}"
    );
}

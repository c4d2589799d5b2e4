//! `#[staso::tool(guard)]`: the call is checked (tool name and the arguments the span
//! captures) before the body runs; a block returns `Err(GuardBlocked.into())` and the body
//! never runs; a guard that cannot decide lets the tool run (fail-open). Against the
//! loopback guard service of staso-core's tests; the client is process-wide, so the tests
//! take turns.

extern crate staso as staso_core;

#[path = "../../../staso-core/tests/support/guard_service.rs"]
mod guard_service;
#[path = "../../../staso-core/tests/support/loopback.rs"]
mod loopback;

use guard_service::service;
use loopback::{closed_port_url, Server};
use serde_json::{json, Value};
use staso::testing::{capture_future_with, capture_with, init_with_env};
use staso::{Client, GuardBlocked, Options};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

static SERIAL: Mutex<()> = Mutex::new(());
static RAN: AtomicUsize = AtomicUsize::new(0);

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn start(url: &str) -> Client {
    let none: HashMap<&str, &str> = HashMap::new();
    init_with_env(
        Options::new()
            .api_key("ak_macro")
            .agent_name("macro-bot")
            .base_url(url)
            .capture_git(false)
            .flush_interval(Duration::from_secs(60))
            .install_exit_hook(false),
        &none,
    )
    .expect("init")
}

fn guard_bodies(s: &Server) -> Vec<Value> {
    s.requests()
        .iter()
        .filter(|r| r.path == "/v1/guard/evaluate")
        .map(|r| r.json())
        .collect()
}

#[staso::tool(guard, skip(token))]
fn delete_file(path: &str, token: &str) -> Result<String, BoxError> {
    let _ = token;
    RAN.fetch_add(1, Ordering::SeqCst);
    Ok(format!("deleted {path}"))
}

#[staso::tool(guard)]
fn lookup(order_id: u64) -> Result<u64, BoxError> {
    RAN.fetch_add(1, Ordering::SeqCst);
    Ok(order_id)
}

#[derive(Debug)]
enum ToolError {
    Blocked(GuardBlocked),
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolError::Blocked(b) => write!(f, "refused: {b}"),
        }
    }
}

impl From<GuardBlocked> for ToolError {
    fn from(b: GuardBlocked) -> Self {
        ToolError::Blocked(b)
    }
}

#[staso::tool(name = "delete_file", guard)]
async fn delete_file_async(path: String) -> Result<(), ToolError> {
    let _ = path;
    RAN.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

struct Files;

#[async_trait::async_trait]
trait Remove {
    async fn remove(&self, path: String) -> Result<(), BoxError>;
}

#[async_trait::async_trait]
impl Remove for Files {
    #[staso::tool(name = "delete_file", guard)]
    async fn remove(&self, path: String) -> Result<(), BoxError> {
        let _ = path;
        RAN.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_blocked_call_never_runs_its_body() {
    let _s = serial();
    let s = service();
    let client = start(&s.url());
    let before = RAN.load(Ordering::SeqCst);
    let (out, spans) = capture_with(Options::new().guard_checks(true), || {
        delete_file("/etc", "secret-token")
    });
    let err = out.expect_err("blocked");
    assert_eq!(RAN.load(Ordering::SeqCst), before, "the body did not run");
    assert_eq!(
        err.to_string(),
        "Guard blocked tool 'delete_file': deleting is not allowed"
    );
    let blocked = err.downcast_ref::<GuardBlocked>().expect("a GuardBlocked");
    assert_eq!(blocked.rules_triggered(), ["no-deletes"]);
    let body = &guard_bodies(&s)[0];
    assert_eq!(body["tool_name"], "delete_file");
    assert_eq!(
        body["tool_input"],
        json!({"path": "/etc"}),
        "skipped arguments stay home"
    );
    assert_eq!(body["decision_source"], "sdk");
    // The tool span failed with the block; the decision span is its child.
    let tool = spans.named("delete_file");
    assert_eq!(tool.status(), "error");
    assert_eq!(tool.error_message(), Some(err.to_string().as_str()));
    let decision = spans.named("guard:blocked:delete_file");
    assert_eq!(decision.parent_span_id(), Some(tool.span_id()));
    let out = decision.output().expect("output");
    assert_eq!(out["enforcement_response"]["kind"], "exception");
    assert_eq!(out["enforcement_response"]["type"], "GuardBlocked");
    assert_eq!(tool.output(), None);
    let _ = client.shutdown(Duration::from_secs(1));
}

#[test]
fn an_allowed_call_runs() {
    let _s = serial();
    let s = service();
    let client = start(&s.url());
    let before = RAN.load(Ordering::SeqCst);
    let (out, spans) = capture_with(Options::new().guard_checks(true), || lookup(42));
    assert_eq!(out.expect("allowed"), 42);
    assert_eq!(RAN.load(Ordering::SeqCst), before + 1);
    assert_eq!(guard_bodies(&s)[0]["tool_input"], json!({"order_id": 42}));
    let allowed = spans.named("guard:allowed:lookup");
    assert_eq!(
        allowed.output().expect("output")["enforcement_response"],
        json!({"kind": "continued", "payload": null})
    );
    assert_eq!(spans.named("lookup").status(), "ok");
    let _ = client.shutdown(Duration::from_secs(1));
}

#[test]
fn async_functions_and_async_trait_methods_are_checked_first() {
    let _s = serial();
    let s = service();
    let client = start(&s.url());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let before = RAN.load(Ordering::SeqCst);
    let (out, spans) = rt.block_on(capture_future_with(
        Options::new().guard_checks(true),
        async {
            let a = delete_file_async("/etc".into()).await;
            let b = Files.remove("/etc".into()).await;
            (a, b)
        },
    ));
    let (a, b) = out;
    assert!(matches!(a, Err(ToolError::Blocked(_))));
    assert!(b
        .expect_err("blocked")
        .to_string()
        .contains("deleting is not allowed"));
    assert_eq!(RAN.load(Ordering::SeqCst), before, "neither body ran");
    assert_eq!(guard_bodies(&s).len(), 2);
    assert_eq!(guard_bodies(&s)[1]["tool_input"], json!({"path": "/etc"}));
    let decisions: Vec<_> = spans
        .iter()
        .filter(|s| s.name() == "guard:blocked:delete_file")
        .collect();
    assert_eq!(decisions.len(), 2);
    let _ = client.shutdown(Duration::from_secs(1));
}

#[test]
fn a_guard_that_cannot_decide_lets_the_tool_run() {
    let _s = serial();
    let client = start(&closed_port_url());
    let before = RAN.load(Ordering::SeqCst);
    assert_eq!(
        delete_file("/tmp/x", "t").expect("fail-open"),
        "deleted /tmp/x"
    );
    assert_eq!(RAN.load(Ordering::SeqCst), before + 1);
    let _ = client.shutdown(Duration::from_millis(200));
}

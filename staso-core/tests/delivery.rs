//! The contract over real loopback HTTP: what the collector receives, acknowledges and
//! stores, and how failures are retried and reported.

use serde_json::{json, Value};
use staso_collector::{BadAck, Collector, CollectorConfig};
use staso_core::testing::init_with_env;
use staso_core::{conversation, span, Client, FailureKind, Kind, Options};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Spans go to the process-wide client, so tests that init one take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig::default()).expect("collector")
}

fn options(c: &Collector) -> Options {
    Options::new()
        .api_key("test-key")
        .agent_name("support-bot")
        .agent_version("1.2.3")
        .base_url(c.url())
        .flush_interval(Duration::from_secs(60))
        .capture_git(false)
        .shutdown_timeout(Duration::from_secs(2))
}

fn start(c: &Collector, o: Options) -> Client {
    start_env(c, o, &[])
}

fn start_env(_c: &Collector, o: Options, env: &[(&'static str, &'static str)]) -> Client {
    let env: HashMap<&str, &str> = env.iter().copied().collect();
    init_with_env(o, &env).expect("init")
}

const FLUSH: Duration = Duration::from_secs(10);

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, ch)| match i {
            8 | 13 | 18 | 23 => ch == '-',
            _ => ch.is_ascii_digit() || ('a'..='f').contains(&ch),
        })
}

#[test]
fn a_batch_arrives_exactly_as_the_contract_says() {
    let _s = serial();
    let c = collector();
    let client = start_env(&c, options(&c), &[("STASO_SESSION_ID", "sess-from-env")]);
    conversation("conv-7").user_id("alice").run(|| {
        let mut agent = span("triage", Kind::Agent);
        agent.set_input(&json!({"q": "refund?"}));
        {
            let mut t = span("lookup", Kind::Tool);
            t.set_output(&json!({"result": 1}));
        }
        let mut llm = span("chat", Kind::Llm);
        llm.set_model("gpt-4o")
            .set_provider("openai")
            .set_usage(12, 3);
    });
    drop(span("other-trace", Kind::Chain));
    let report = client.flush(FLUSH);
    assert!(report.ok(), "{report:?}");
    assert_eq!((report.accepted, report.delivered), (4, 4), "{report:?}");

    let reqs = c.requests().ingest();
    assert_eq!(reqs.len(), 1, "one batch");
    let r = &reqs[0];
    let header = |k: &str| {
        r.headers
            .iter()
            .find(|(h, _)| h == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(r.api_key_valid, Some(true));
    assert_eq!(header("content-type"), Some("application/json"));
    assert!(header("user-agent").expect("ua").starts_with("staso-rust/"));
    let key = r.idempotency_key.as_deref().expect("idempotency key");
    assert!(is_uuid(key) && key.as_bytes()[14] == b'4', "uuid v4: {key}");
    assert_eq!(r.status, Some(200));

    let body = r.body.as_ref().expect("json body");
    let traces = body["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 2, "grouped by trace id");
    let main = traces
        .iter()
        .find(|t| t["spans"].as_array().is_some_and(|s| s.len() > 1))
        .expect("agent trace");
    assert_eq!(main["environment"], "default");
    assert_eq!(main["workspace_slug"], "default");
    let spans = main["spans"].as_array().expect("spans");
    assert_eq!(
        spans.len(),
        3,
        "provisional root coalesced with its final copy"
    );
    let earliest = spans
        .iter()
        .map(|s| s["timestamp"].as_str().expect("ts"))
        .min()
        .expect("min");
    assert_eq!(main["timestamp"], earliest);
    let fields = [
        "span_id",
        "parent_span_id",
        "name",
        "kind",
        "timestamp",
        "duration_ms",
        "status",
        "model",
        "provider",
        "requested_model",
        "usage_available",
        "reasoning_effort",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "input",
        "output",
        "attributes",
        "error_message",
        "capture",
        "session_id",
        "agent_name",
        "agent_id",
        "agent_version",
        "user_id",
    ];
    for s in spans {
        let obj = s.as_object().expect("object");
        for f in fields {
            assert!(obj.contains_key(f), "missing {f} in {s}");
        }
        assert!(
            !obj.contains_key("trace_id"),
            "spans do not repeat trace_id"
        );
        assert_eq!(obj.len(), fields.len(), "no extra fields: {s}");
        assert_eq!(s["session_id"], "conv-7");
        assert_eq!(s["user_id"], "alice");
        assert_eq!(s["agent_name"], "triage");
        assert_eq!(s["agent_version"], "1.2.3");
        assert_eq!(
            s["agent_id"], SUPPORT_BOT_ID,
            "the init agent's id, also inside other agents"
        );
        let d = s["duration_ms"].as_f64().expect("duration");
        assert_eq!((d * 100.0).round() / 100.0, d, "2 decimals");
    }
    let by_name = |n: &str| spans.iter().find(|s| s["name"] == n).expect(n);
    let root = by_name("triage");
    assert_eq!(root["parent_span_id"], Value::Null);
    assert_eq!(by_name("lookup")["parent_span_id"], root["span_id"]);
    let llm = by_name("chat");
    assert_eq!(
        (
            llm["total_tokens"].as_u64(),
            llm["usage_available"].as_bool()
        ),
        (Some(15), Some(true))
    );
    assert_eq!(llm["requested_model"], "gpt-4o");
    assert_eq!(
        root["input"]
            .as_str()
            .map(|s| serde_json::from_str::<Value>(s).expect("json")),
        Some(json!({"q": "refund?"}))
    );
    let other = traces
        .iter()
        .find(|t| t["spans"].as_array().is_some_and(|s| s.len() == 1))
        .expect("other");
    assert_eq!(
        other["spans"][0]["session_id"], "sess-from-env",
        "STASO_SESSION_ID outside a conversation"
    );

    assert!(c.wait_until(FLUSH, |n| n.spans >= 4));
    let stored = c.spans();
    assert!(
        stored
            .iter()
            .all(|s| s.final_copies_received == 1 && !s.provisional),
        "{stored:?}"
    );
    drop(client);
}

#[test]
fn agent_id_is_uuid_v5_of_the_agent_name_in_the_staso_namespace() {
    let _s = serial();
    let c = collector();
    let client = start(&c, options(&c));
    drop(span("x", Kind::Tool));
    assert!(client.flush(FLUSH).ok());
    assert_eq!(c.spans()[0].str_field("agent_id"), SUPPORT_BOT_ID);
}

/// `uuid.uuid5(UUID("a1b2c3d4-e5f6-7890-abcd-ef1234567890"), "support-bot")`, computed
/// with Python's uuid module (the reference client's own computation).
const SUPPORT_BOT_ID: &str = "db9640e0-b131-55a4-a5cd-0ded511b7f92";

#[test]
fn a_root_is_announced_while_it_runs() {
    let _s = serial();
    let c = collector();
    let client = start(&c, options(&c));
    let root = span("long-agent", Kind::Agent);
    assert!(client.flush(FLUSH).ok());
    assert!(c.wait_until(FLUSH, |n| n.spans >= 1));
    let early = c.spans();
    assert!(
        early[0].provisional,
        "provisional copy stored while the root runs"
    );
    assert_eq!(early[0].duration_ms, 0.0);
    drop(root);
    assert!(client.flush(FLUSH).ok());
    let late = c.spans();
    assert_eq!(late.len(), 1);
    assert!(!late[0].provisional, "the final copy replaced it");
}

#[test]
fn root_spans_carry_git_attributes() {
    let _s = serial();
    let c = collector();
    let o = options(&c).capture_git(true);
    let client = start_env(
        &c,
        o,
        &[
            (
                "STASO_VCS_COMMIT_SHA",
                "0123456789abcdef0123456789abcdef01234567",
            ),
            ("STASO_VCS_BRANCH", "main"),
            (
                "STASO_VCS_REPO_URL",
                "https://bot:token@github.com/acme/agent",
            ),
        ],
    );
    {
        let _root = span("root", Kind::Agent);
        drop(span("child", Kind::Tool));
    }
    assert!(client.flush(FLUSH).ok());
    let spans = c.spans();
    let root = spans.iter().find(|s| s.name == "root").expect("root");
    let a = root.attributes();
    assert_eq!(
        a["vcs.commit.sha"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(a["vcs.branch"], "main");
    assert_eq!(a["vcs.repo_url"], "https://github.com/acme/agent");
    assert_eq!(a["vcs.is_dirty"], false);
    let child = spans.iter().find(|s| s.name == "child").expect("child");
    assert!(!child.attributes().contains_key("vcs.commit.sha"));
}

#[test]
fn batch_size_triggers_a_send_without_flush() {
    let _s = serial();
    let c = collector();
    let client = start(&c, options(&c).batch_size(5));
    for i in 0..5 {
        drop(span(format!("s{i}"), Kind::Tool));
    }
    assert!(
        c.wait_until(Duration::from_secs(10), |n| n.spans >= 5),
        "sent when batch_size spans waited"
    );
    drop(client);
}

#[test]
fn flush_interval_triggers_a_send() {
    let _s = serial();
    let c = collector();
    let client = start(&c, options(&c).flush_interval(Duration::from_millis(100)));
    drop(span("lonely", Kind::Tool));
    assert!(
        c.wait_until(Duration::from_secs(10), |n| n.spans >= 1),
        "sent after flush_interval"
    );
    drop(client);
}

#[test]
fn server_errors_are_retried_with_the_same_idempotency_key() {
    let _s = serial();
    let c = collector();
    c.faults().fail_next(2, 503);
    let client = start(&c, options(&c));
    drop(span("retry-me", Kind::Tool));
    let report = client.flush(FLUSH);
    assert!(report.ok(), "{report:?}");
    let reqs = c.requests().ingest();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Some(503), Some(503), Some(200)]
    );
    let key = reqs[0].idempotency_key.clone();
    assert!(
        reqs.iter().all(|r| r.idempotency_key == key),
        "one key per batch"
    );
    assert_eq!(c.spans()[0].final_copies_received, 1);
}

#[test]
fn rate_limits_honour_retry_after() {
    let _s = serial();
    let c = collector();
    c.faults().rate_limit_next(1, Some(1));
    let client = start(&c, options(&c));
    drop(span("limited", Kind::Tool));
    let report = client.flush(FLUSH);
    assert!(report.ok(), "{report:?}");
    let reqs = c.requests().ingest();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1]
        .received_at
        .duration_since(reqs[0].received_at)
        .expect("ordered");
    assert!(
        gap >= Duration::from_millis(950),
        "waited Retry-After: {gap:?}"
    );
}

#[test]
fn rate_limit_without_retry_after_is_not_retried() {
    let _s = serial();
    let c = collector();
    c.faults().rate_limit_next(1, None);
    let client = start(&c, options(&c));
    drop(span("limited", Kind::Tool));
    let report = client.flush(FLUSH);
    assert_eq!(
        (report.failed, report.last_failure),
        (1, Some(FailureKind::RateLimited)),
        "{report:?}"
    );
    assert!(!report.ok());
    assert_eq!(c.requests().ingest().len(), 1);
}

#[test]
fn non_retryable_answers_fail_the_batch_once() {
    let _s = serial();
    for (status, kind) in [
        (401, FailureKind::InvalidKey),
        (402, FailureKind::PlanExpired),
        (403, FailureKind::Forbidden),
        (400, FailureKind::MalformedResponse),
    ] {
        let c = collector();
        c.faults().fail_next(1, status);
        let client = start(&c, options(&c));
        drop(span("doomed", Kind::Tool));
        let report = client.flush(FLUSH);
        assert_eq!(report.failed, 1, "{status}: {report:?}");
        assert_eq!(report.last_failure, Some(kind), "{status}");
        assert!(!report.retryable);
        assert_eq!(c.requests().ingest().len(), 1, "{status} is not retried");
        assert_eq!(c.counts().spans, 0);
        drop(client);
    }
}

#[test]
fn a_wrong_api_key_is_invalid_key() {
    let _s = serial();
    let c = collector();
    let client = start(&c, options(&c).api_key("wrong-key"));
    drop(span("x", Kind::Tool));
    let report = client.flush(FLUSH);
    assert_eq!(
        report.last_failure,
        Some(FailureKind::InvalidKey),
        "{report:?}"
    );
}

#[test]
fn a_bad_ack_is_malformed_and_not_retried() {
    let _s = serial();
    let c = collector();
    c.faults().bad_ack_next(1, BadAck::WrongReceiptId);
    let client = start(&c, options(&c));
    drop(span("x", Kind::Tool));
    let report = client.flush(FLUSH);
    assert_eq!(
        (report.failed, report.last_failure),
        (1, Some(FailureKind::MalformedResponse)),
        "{report:?}"
    );
    assert_eq!(c.requests().ingest().len(), 1);
}

#[test]
fn dropped_connections_are_network_errors_and_retried() {
    let _s = serial();
    let c = collector();
    c.faults().drop_next(1);
    let client = start(&c, options(&c));
    drop(span("x", Kind::Tool));
    let report = client.flush(FLUSH);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.last_failure, Some(FailureKind::NetworkUnavailable));
    assert_eq!(c.counts().spans, 1);
}

#[test]
fn a_hanging_server_times_the_flush_out_and_the_batch_is_kept() {
    let _s = serial();
    let c = collector();
    c.faults().hang_next(1);
    let client = start(&c, options(&c).request_timeout(Duration::from_secs(1)));
    drop(span("x", Kind::Tool));
    let started = Instant::now();
    let report = client.flush(Duration::from_millis(500));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "flush respects its timeout"
    );
    assert!(report.timed_out, "{report:?}");
    assert_eq!(report.pending, 1, "still in flight, not lost: {report:?}");
    let report = client.flush(FLUSH);
    assert!(
        report.ok(),
        "retried after the request timed out: {report:?}"
    );
    assert_eq!(report.last_failure, Some(FailureKind::Timeout));
    assert_eq!(c.counts().spans, 1);
    let reqs = c.requests().ingest();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].idempotency_key, reqs[1].idempotency_key);
}

#[test]
fn a_full_queue_rejects_and_counts() {
    let _s = serial();
    let c = collector();
    // batch_size above the queue bound and a long interval: nothing drains meanwhile.
    let client = start(&c, options(&c).max_queue_size(10).batch_size(100));
    for _ in 0..100 {
        drop(span("burst", Kind::Tool));
    }
    let report = client.flush(FLUSH);
    assert_eq!(report.rejected, 90, "{report:?}");
    assert_eq!(report.delivered, 10);
    assert_eq!(report.last_failure, Some(FailureKind::QueueFull));
    assert!(!report.ok());
}

#[test]
fn shutdown_is_idempotent_and_later_spans_are_rejected() {
    let _s = serial();
    let c = collector();
    let client = start(&c, options(&c));
    drop(span("before", Kind::Tool));
    let first = client.shutdown(FLUSH);
    assert!(first.ok() && first.delivered == 1, "{first:?}");
    let again = client.shutdown(FLUSH);
    assert_eq!(again, first);
    assert_eq!(c.counts().spans, 1);
}

#[test]
fn init_again_replaces_and_shuts_down_the_old_client() {
    let _s = serial();
    let (c1, c2) = (collector(), collector());
    let first = start(&c1, options(&c1));
    drop(span("to-first", Kind::Tool));
    let second = start(&c2, options(&c2));
    assert!(
        c1.wait_until(FLUSH, |n| n.spans >= 1),
        "the old client delivered at its shutdown"
    );
    drop(span("to-second", Kind::Tool));
    assert!(second.flush(FLUSH).ok());
    assert_eq!(c2.spans()[0].name, "to-second");
    assert_eq!(c1.counts().spans, 1);
    drop(first);
}

#[test]
fn flush_inside_tokio_runtimes_neither_panics_nor_deadlocks() {
    let _s = serial();
    let c = collector();
    let client = start(&c, options(&c));
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    current.block_on(async {
        drop(span("in-current-thread", Kind::Tool));
        assert!(staso_core::flush(FLUSH).ok());
    });
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    multi.block_on(async {
        tokio::spawn(async {
            drop(span("in-task", Kind::Tool));
            assert!(staso_core::flush(FLUSH).ok());
        })
        .await
        .expect("task");
    });
    assert_eq!(c.counts().spans, 2);
    drop(client);
}

#[test]
fn capture_policy_applies_on_the_wire() {
    let _s = serial();
    let c = collector();
    let client = start_env(&c, options(&c), &[("STASO_CAPTURE_MESSAGES", "off")]);
    {
        let mut s = span("secret-step", Kind::Chain);
        s.set_input(&json!({"prompt": "x"})).set_error("bad");
    }
    assert!(client.flush(FLUSH).ok());
    let s = &c.spans()[0];
    assert_eq!(s.name, "chain span");
    assert_eq!(s.str_field("input"), "");
    assert_eq!(s.error_message, None, "error text needs every category");
    assert_eq!(s.status, "error");
    assert_eq!(s.raw["capture"]["request"], "suppressed");
    assert_eq!(s.raw["capture"]["system_prompt"], "suppressed");
    assert_eq!(s.raw["capture"]["tool_arguments"], "captured");
}

//! Big and hostile values: truncated, split, or replaced by placeholders, and the span
//! is still sent; secrets redacted; the user's mask applied.

use serde::ser::{Serialize, Serializer};
use serde_json::{json, Value};
use staso_collector::{Collector, CollectorConfig};
use staso_core::{init, span, Kind, Options};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn client(c: &Collector, o: Options) -> staso_core::Client {
    init(
        o.api_key("test-key")
            .agent_name("bot")
            .base_url(c.url())
            .capture_git(false)
            .flush_interval(Duration::from_secs(60)),
    )
    .expect("init")
}

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig::default()).expect("collector")
}

#[test]
fn an_oversized_field_is_truncated_with_a_marker() {
    let _s = serial();
    let c = collector();
    let client = client(&c, Options::new().max_field_bytes(1024));
    let big = "é".repeat(10_000);
    let original = serde_json::to_string(&json!({"doc": big}))
        .expect("json")
        .len();
    {
        let mut s = span("big", Kind::Tool);
        s.set_input(&json!({"doc": big}));
        s.set_output(&"small");
    }
    assert!(client.flush(Duration::from_secs(10)).ok());
    let s = &c.spans()[0];
    let input = s.str_field("input");
    assert!(input.len() <= 1024, "truncated: {} bytes", input.len());
    // Still valid JSON, the same shape: the string is cut where the bound fell, and marked.
    let parsed: Value = serde_json::from_str(input).expect("still valid JSON");
    let doc = parsed["doc"].as_str().expect("the cut string");
    assert!(
        doc.starts_with("éé") && doc.ends_with("…[truncated]"),
        "{doc}"
    );
    // At least the original size; exactly it when the cut falls in the last string.
    assert_eq!(s.attributes()["staso.truncated.input"], json!(original));
    assert_eq!(s.output(), Some(json!("small")));
}

#[test]
fn a_413_splits_the_batch_and_one_oversized_span_does_not_block_the_rest() {
    let _s = serial();
    let c = collector();
    c.faults().set_max_body_bytes(Some(16 * 1024));
    let client = client(&c, Options::default());
    for i in 0..20 {
        let mut s = span(format!("small-{i}"), Kind::Tool);
        s.set_input(&json!({"pad": "x".repeat(1000)}));
    }
    {
        let mut s = span("huge", Kind::Tool);
        s.set_input(&json!({"pad": "y".repeat(100_000)}));
    }
    let report = client.flush(Duration::from_secs(20));
    assert_eq!(report.delivered, 20, "{report:?}");
    assert_eq!(
        report.failed, 1,
        "the oversized span alone fails: {report:?}"
    );
    assert!(c.requests().ingest().iter().any(|r| r.status == Some(413)));
    // Only the final copy of the oversized span is lost (its small provisional copy,
    // sent when it opened, went through).
    let finals: Vec<String> = c
        .spans()
        .into_iter()
        .filter(|s| !s.provisional)
        .map(|s| s.name)
        .collect();
    assert_eq!(finals.len(), 20, "{finals:?}");
    assert!(!finals.iter().any(|n| n == "huge"));
}

struct PanicsOnSerialize;

impl Serialize for PanicsOnSerialize {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("user Serialize exploded")
    }
}

struct FailsToSerialize;

impl Serialize for FailsToSerialize {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("not today"))
    }
}

#[derive(serde::Serialize)]
struct Nested {
    inner: Option<Box<Nested>>,
}

#[test]
fn hostile_values_become_placeholders_and_the_span_is_sent() {
    let _s = serial();
    let c = collector();
    let client = client(&c, Options::default());
    let mut deep = Nested { inner: None };
    for _ in 0..200 {
        deep = Nested {
            inner: Some(Box::new(deep)),
        };
    }
    #[cfg(unix)]
    let bad_path = {
        use std::os::unix::ffi::OsStrExt;
        std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/\xff\xfe"))
    };
    #[cfg(not(unix))]
    let bad_path = std::path::PathBuf::from("/tmp/x");
    {
        let mut s = span("hostile", Kind::Tool);
        s.set_input(&PanicsOnSerialize);
        s.set_output(&FailsToSerialize);
        s.set_metadata("nan", &f64::NAN);
        s.set_metadata("inf", &f64::INFINITY);
        s.set_metadata("deep", &deep);
        s.set_metadata("path", &bad_path);
    }
    let report = client.flush(Duration::from_secs(10));
    assert!(report.ok(), "{report:?}");
    let s = &c.spans()[0];
    assert!(
        s.str_field("input").contains("Serialize panicked"),
        "{}",
        s.str_field("input")
    );
    assert!(s.str_field("output").contains("not serializable"));
    let a = s.attributes();
    assert_eq!(a["nan"], Value::Null);
    assert_eq!(a["inf"], Value::Null);
    assert!(a.contains_key("deep"));
    assert!(a["path"].is_string(), "{:?}", a["path"]);
}

#[test]
fn secrets_are_redacted_and_the_mask_runs_on_every_value() {
    let _s = serial();
    let c = collector();
    let seen = Arc::new(Mutex::new(0usize));
    let counter = seen.clone();
    let mask = move |_key: &str, text: &str| {
        *counter.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        text.contains("4111-1111")
            .then(|| text.replace("4111-1111", "****"))
    };
    let client = client(&c, Options::new().mask(mask));
    {
        let mut s = span("pay", Kind::Tool);
        s.set_input(
            &json!({"card": "4111-1111-2222", "Authorization": "Bearer abc", "password": "p"}),
        );
        s.set_output(&"charged 4111-1111-2222");
        s.set_metadata("client_secret", &"shh");
    }
    assert!(client.flush(Duration::from_secs(10)).ok());
    let s = &c.spans()[0];
    assert_eq!(
        s.input(),
        Some(json!({"card": "****-2222", "Authorization": "[REDACTED]", "password": "[REDACTED]"}))
    );
    assert_eq!(s.output(), Some(json!("charged ****-2222")));
    assert_eq!(s.attributes()["client_secret"], "[REDACTED]");
    assert!(*seen.lock().unwrap_or_else(|p| p.into_inner()) >= 2);
}

#[test]
fn redaction_can_be_turned_off() {
    let _s = serial();
    let c = collector();
    let client = client(&c, Options::new().redact_secrets(false));
    {
        let mut s = span("login", Kind::Tool);
        s.set_input(&json!({"token": "t"}));
    }
    assert!(client.flush(Duration::from_secs(10)).ok());
    assert_eq!(c.spans()[0].input(), Some(json!({"token": "t"})));
}

/// A tool whose arguments and result travel beside its record in its thread's ring when
/// they fit there (64 bytes a slot), in a box otherwise.
#[staso::tool]
fn echo(thread: u32, n: u32, text: &str) -> String {
    format!("{thread}:{n}:{}", text.len())
}

/// Two threads' bursts of captured spans, more than a lane's tape holds at once (80 000
/// bytes at the default bound; a burst of 500 spans of ~190 bytes of arguments and result
/// laps it, and fills it when the batcher lags), arguments from none to 300 bytes, every
/// 1 000th far larger than the whole tape: every span arrives, each with its own
/// arguments and result, whichever way they travelled (beside the record, or in a box).
#[test]
fn captured_arguments_arrive_intact_through_bursts_larger_than_the_tape() {
    let _s = serial();
    let c = collector();
    let client = client(&c, Options::default());
    let text = |n: u32| match n % 1_000 {
        999 => "z".repeat(200_000),
        m => "é".repeat((m % 151) as usize),
    };
    std::thread::scope(|s| {
        for thread in 0..2 {
            let client = &client;
            s.spawn(move || {
                for burst in 0..10 {
                    let _agent = span("burst", Kind::Agent);
                    for n in burst * 500..(burst + 1) * 500 {
                        echo(thread, n, &text(n));
                    }
                    drop(_agent);
                    // Between bursts, as an agent between runs (the other thread's spans
                    // may still be arriving: the last flush checks the whole).
                    client.flush(Duration::from_secs(30));
                }
            });
        }
    });
    let report = client.flush(Duration::from_secs(30));
    assert_eq!(report.delivered, 10_020, "{report:?}");
    let spans = c.spans();
    let mut seen = 0;
    for s in spans.finals().filter(|s| s.str_field("name") == "echo") {
        let input = s.input().expect("input");
        let (thread, n) = (input["thread"].as_u64(), input["n"].as_u64());
        let (Some(thread), Some(n)) = (thread, n) else {
            panic!("arguments lost: {input}");
        };
        let n = n as u32;
        let doc = text(n);
        if doc.len() > 64 * 1024 {
            // Cut at `max_field_bytes` (64 KiB by default): what matters is the start.
            assert!(input["text"].as_str().is_some_and(|t| t.starts_with("zzz")));
        } else {
            let want = json!({"thread": thread, "n": n, "text": doc});
            assert_eq!(input, want, "span {thread}:{n}");
        }
        let result = format!("{thread}:{n}:{}", doc.len());
        assert_eq!(
            s.output(),
            Some(json!({ "result": result })),
            "span {thread}:{n}"
        );
        seen += 1;
    }
    assert_eq!(seen, 10_000);
}

fn async_text(n: u32) -> String {
    "ü".repeat((n % 97) as usize)
}

/// An async tool: its record is written on the frame stack in its first poll, and ends
/// there when it completes at once (even `n`) or moves into its future when the poll is
/// pending (odd `n`) and ends on whichever worker completes it; its arguments and result
/// travel beside the record either way.
#[staso::tool]
async fn echo_async(task: u32, n: u32, text: String) -> String {
    if n % 2 == 1 {
        tokio::task::yield_now().await;
    }
    format!("{task}:{n}:{}", text.len())
}

#[staso::agent(name = "echoes")]
async fn echoes(task: u32) -> u32 {
    let mut total = 0;
    for n in 0..500 {
        total += echo_async(task, n, async_text(n)).await.len() as u32;
    }
    total
}

/// Four tasks of 500 async tools each on a two-worker runtime, against the collector:
/// every tool span arrives once, under its own task's agent, with its own arguments and
/// result, whether it completed in its first poll or later on another worker.
#[test]
fn async_tools_arrive_with_their_arguments_under_their_agent_whenever_they_complete() {
    let _s = serial();
    let c = collector();
    let client = client(&c, Options::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (0..4).map(|task| tokio::spawn(echoes(task))).collect();
        for t in tasks {
            t.await.expect("task");
        }
    });
    let report = client.flush(Duration::from_secs(30));
    assert_eq!(report.delivered, 4 * 500 + 4, "{report:?}");
    let spans = c.spans();
    let agents: std::collections::HashMap<u64, String> = spans
        .finals()
        .filter(|s| s.str_field("name") == "echoes")
        .map(|s| {
            let task = s.input().and_then(|i| i["task"].as_u64()).expect("task");
            (task, s.str_field("span_id").to_string())
        })
        .collect();
    assert_eq!(agents.len(), 4);
    let mut seen = std::collections::HashSet::new();
    for s in spans
        .finals()
        .filter(|s| s.str_field("name") == "echo_async")
    {
        let input = s.input().expect("input");
        let (Some(task), Some(n)) = (input["task"].as_u64(), input["n"].as_u64()) else {
            panic!("arguments lost: {input}");
        };
        let text = async_text(n as u32);
        assert_eq!(input, json!({"task": task, "n": n, "text": text}));
        let result = format!("{task}:{n}:{}", text.len());
        assert_eq!(s.output(), Some(json!({ "result": result })), "{task}:{n}");
        assert_eq!(
            s.str_field("parent_span_id"),
            agents[&task],
            "span {task}:{n} is not under its task's agent"
        );
        assert!(seen.insert((task, n)), "span {task}:{n} twice");
    }
    assert_eq!(seen.len(), 4 * 500);
}

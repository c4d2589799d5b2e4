//! Issue 8 ("Hardening"), the capture items, end to end: spans go over loopback to an
//! in-process collector, or the program runs as a child process when its stderr or its
//! exit status is what counts. Each test failed on the capture path it replaced.

use serde_json::{json, Value};
use staso_collector::{Collector, CollectorConfig};
use staso_core::{init, span, Kind, Options};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Counts the bytes each thread asks of the heap (the caller's cost of a capture).
struct CountingAlloc;

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size() as u64));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + new_size as u64));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn allocated() -> u64 {
    ALLOCATED.with(Cell::get)
}

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

const API_KEY: &str = "sk-staso-test-0123456789";

fn client(c: &Collector, o: Options) -> staso_core::Client {
    init(
        o.api_key(API_KEY)
            .agent_name("bot")
            .base_url(c.url())
            .capture_git(false)
            .flush_interval(Duration::from_secs(60)),
    )
    .expect("init")
}

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig {
        api_key: API_KEY.into(),
        ..CollectorConfig::default()
    })
    .expect("collector")
}

fn final_span(c: &Collector, name: &str) -> staso_collector::StoredSpan {
    c.spans()
        .into_iter()
        .find(|s| !s.provisional && s.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

/// Every byte the collector received, as text.
fn all_bodies(c: &Collector) -> String {
    c.requests()
        .ingest()
        .iter()
        .filter_map(|r| r.body.as_ref().map(Value::to_string))
        .collect()
}

// ---------------------------------------------------------------------- 8.2

#[derive(Debug)]
struct Creds {
    #[allow(dead_code)]
    user: &'static str,
    #[allow(dead_code)]
    password: &'static str,
}

#[staso::tool]
fn login(creds: Creds, note: &str) -> Result<u8, String> {
    let _ = (creds, note);
    Err(format!(
        "denied; retry with Authorization: Bearer {API_KEY}"
    ))
}

#[test]
fn issue8_2_secrets_in_debug_text_strings_and_errors_are_redacted() {
    let _s = serial();
    let c = collector();
    let client = client(&c, Options::default());
    let _ = login(
        Creds {
            user: "bob",
            password: "hunter2",
        },
        "token=abc123; key sk-proj-abcdefghijklmnopqrst and bearer eyJhbGciOiJIUzI1NiJ9",
    );
    {
        let mut s = span("keys", Kind::Tool);
        s.set_input(&json!({
            "api_keys": ["k1"], "passwords": ["p"], "pwd": "p", "bearer": "b",
            "secret_token": "s", "client_secret": "s", "private_key": "k",
            "access_key": "a", "nested": {"x-api-key": "k"}, "max_tokens": 5,
            "echo": format!("the key is {API_KEY}"),
        }));
    }
    assert!(client.flush(Duration::from_secs(10)).ok());
    let bodies = all_bodies(&c);
    for secret in [
        "hunter2",
        "abc123",
        "sk-proj-abcdefghijklmnopqrst",
        "eyJhbGciOiJIUzI1NiJ9",
        API_KEY,
    ] {
        assert!(!bodies.contains(secret), "{secret} left the process");
    }
    let s = final_span(&c, "login");
    assert_eq!(
        s.input(),
        Some(json!({
            "creds": "Creds { user: \"bob\", password: \"[REDACTED]\" }",
            "note": "token=[REDACTED]; key [REDACTED] and bearer [REDACTED]",
        }))
    );
    assert_eq!(
        s.field("error_message"),
        Some(&json!("denied; retry with Authorization: [REDACTED]"))
    );
    let keys = final_span(&c, "keys").input().expect("input");
    for k in [
        "api_keys",
        "passwords",
        "pwd",
        "bearer",
        "secret_token",
        "client_secret",
        "private_key",
        "access_key",
    ] {
        assert_eq!(keys[k], json!("[REDACTED]"), "{k}");
    }
    assert_eq!(keys["nested"]["x-api-key"], json!("[REDACTED]"));
    assert_eq!(keys["max_tokens"], json!(5));
    assert_eq!(keys["echo"], json!("the key is [REDACTED]"));
}

// ---------------------------------------------------------------------- 8.3

#[staso::tool]
fn fails_big(n: usize) -> Result<(), String> {
    Err("x".repeat(n))
}

#[test]
fn issue8_3_error_messages_names_tags_and_metadata_are_bounded_and_redacted() {
    let _s = serial();
    let c = collector();
    let client = client(&c, Options::new().max_field_bytes(1024));
    let _ = fails_big(5 * 1024 * 1024);
    {
        let mut s = span("manual", Kind::Tool);
        s.set_error(&"upstream said: Bearer sk-live-abcdefghijklmnopqrstuvwx");
        s.add_tag(format!("t-{}", "y".repeat(5000)));
        s.add_tag("password=hunter2");
        s.set_metadata("note", &"z".repeat(5000));
        s.set_metadata("why", &"Authorization: Bearer abcdefghijklmnop");
    }
    {
        let mut s = span("renamed", Kind::Tool);
        s.set_name(format!("n-{}-password=hunter2", "w".repeat(5000)));
    }
    assert!(client.flush(Duration::from_secs(10)).ok());
    let biggest = c
        .requests()
        .ingest()
        .iter()
        .map(|r| r.body_len)
        .max()
        .unwrap_or(0);
    assert!(biggest < 64 * 1024, "a request of {biggest} bytes");

    let s = final_span(&c, "fails_big");
    let msg = s
        .field("error_message")
        .and_then(Value::as_str)
        .expect("message");
    assert!(
        msg.len() <= 1024 && msg.ends_with("…[truncated]"),
        "{}",
        msg.len()
    );
    assert_eq!(
        s.attributes()["staso.truncated.error_message"],
        json!(5 * 1024 * 1024)
    );

    let s = final_span(&c, "manual");
    assert_eq!(
        s.field("error_message"),
        Some(&json!("upstream said: Bearer [REDACTED]"))
    );
    let a = s.attributes();
    let tags = a["tags"].as_array().expect("tags");
    assert!(tags[0]
        .as_str()
        .is_some_and(|t| t.len() <= 1024 && t.ends_with("…[truncated]")));
    assert_eq!(tags[1], json!("password=[REDACTED]"));
    assert_eq!(a["staso.truncated.tags"], json!(5002));
    let note = a["note"].as_str().expect("note");
    assert!(note.len() <= 1024 && note.ends_with("…[truncated]"));
    assert_eq!(a["staso.truncated.metadata.note"], json!(5002));
    assert_eq!(a["why"], json!("Authorization: [REDACTED]"));

    let renamed = c
        .spans()
        .into_iter()
        .find(|s| !s.provisional && s.name.starts_with("n-www"))
        .expect("renamed span");
    assert!(renamed.name.len() <= 1024 && renamed.name.ends_with("…[truncated]"));
    assert!(renamed.attributes()["staso.truncated.name"].as_u64() > Some(5000));
}

// ---------------------------------------------------------------------- 8.5

fn run_child(mode: &str, c: &Collector) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hostile_child"))
        .arg(mode)
        .env("STASO_API_KEY", API_KEY)
        .env("STASO_BASE_URL", c.url())
        .output()
        .expect("child runs")
}

#[test]
fn issue8_5_a_15000_deep_value_does_not_abort_the_process() {
    let c = collector();
    let out = run_child("deep-json", &c);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let spans: Vec<_> = c
        .spans()
        .into_iter()
        .filter(|s| !s.provisional && s.name == "take_json")
        .collect();
    assert_eq!(spans.len(), 2, "main thread and spawned thread");
    for s in spans {
        let input = s.str_field("input");
        assert!(
            input.contains("nested deeper than 64 levels"),
            "{input:.200}"
        );
    }
}

#[test]
fn issue8_5_a_deep_debug_value_does_not_overflow_the_stack() {
    let c = collector();
    let out = run_child("deep-debug", &c);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let s = final_span(&c, "take_nest");
    let nest = s.input().expect("input")["nest"].clone();
    let nest = nest.as_str().expect("Debug text");
    assert!(nest.starts_with("Nest(Some(Nest(") && nest.ends_with("…[too deep]"));
}

// ---------------------------------------------------------------------- 8.6

#[staso::tool]
fn take_text(doc: String) -> usize {
    doc.len()
}

#[test]
fn issue8_6_a_100_mb_argument_costs_the_caller_what_the_bound_allows() {
    let _s = serial();
    let c = collector();
    let client = client(&c, Options::default()); // max_field_bytes: 256 KiB
    let doc = "a".repeat(100 * 1024 * 1024);
    let warm = take_text("warm-up".into());
    let before = allocated();
    let n = take_text(doc);
    let cost = allocated() - before;
    assert_eq!((warm, n), (7, 100 * 1024 * 1024));
    // The bound and a few copies of it (the capture buffer, the span's own copy, and the
    // provisional copy of this root span), never the value: 205 MB before.
    assert!(
        cost < 2 * 1024 * 1024,
        "{cost} bytes allocated by the caller"
    );
    assert!(client.flush(Duration::from_secs(10)).ok());
    let s = c
        .spans()
        .into_iter()
        .find(|s| !s.provisional && s.name == "take_text" && s.str_field("input").len() > 100)
        .expect("the big call's span");
    assert!(s.str_field("input").len() <= 256 * 1024);
    assert!(s.attributes()["staso.truncated.input"].as_u64() > Some(100 * 1024 * 1024));
}

// ---------------------------------------------------------------------- 8.7

#[test]
fn issue8_7_contained_panics_are_silent_and_real_ones_still_print() {
    let c = collector();
    let out = run_child("panics", &c);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for quiet in [
        "Serialize exploded",
        "Debug exploded",
        "Display exploded",
        "mask exploded",
    ] {
        assert!(!stderr.contains(quiet), "{quiet} was printed: {stderr}");
    }
    // The user's hook still sees the real panic, through ours.
    assert_eq!(stderr.matches("USER HOOK").count(), 1, "{stderr}");
    assert!(stderr.contains("a real panic"), "{stderr}");
    // One warning per call site: the tool (its arguments and its error) and the setters
    // (set_input, and the mask hook at set_output), however many calls.
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("LOG WARN") && l.contains("while a value was captured"))
        .collect();
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(stdout.contains("REPORT delivered=6 failed=0"), "{stdout}");
    let hostile = final_span(&c, "hostile");
    let input = hostile.input().expect("input");
    assert!(input["a"]
        .as_str()
        .is_some_and(|p| p.ends_with("PanicsInSerialize: Serialize panicked>")));
    assert!(input["b"]
        .as_str()
        .is_some_and(|p| p.ends_with("PanicsInDebug: Debug panicked>")));
    assert!(hostile
        .field("error_message")
        .and_then(Value::as_str)
        .is_some_and(|m| m.ends_with("PanicsInDisplay: Display panicked>")));
    let manual = final_span(&c, "manual");
    assert_eq!(manual.output(), Some(json!("<mask hook panicked>")));
}

// ------------------------------------------------------- values recorded, JSON written later

#[derive(serde::Serialize)]
struct Order {
    id: u32,
    api_key: &'static str,
    items: Vec<&'static str>,
    note: Option<String>,
}

/// `while_running` runs inside the span (the test reads the root's provisional copy there).
#[staso::agent(skip(while_running))]
fn support(question: &str, order: Order, attempt: u8, while_running: &dyn Fn()) -> Vec<String> {
    while_running();
    vec![format!("{question} #{}", order.id), attempt.to_string()]
}

/// An instrumented function's arguments and result are recorded on the caller's thread
/// and written as JSON by the batcher: over the wire, both the root's provisional copy
/// (sent while it runs) and its final copy carry the same input, redacted, and the final
/// copy the result.
#[test]
fn recorded_arguments_and_results_arrive_as_json_in_both_copies_of_a_root() {
    let _s = serial();
    let c = collector();
    let client = client(&c, Options::default());
    let order = Order {
        id: 7,
        api_key: "never-sent",
        items: vec!["mug", "tea \"green\""],
        note: Some(format!("call back, key {API_KEY}")),
    };
    let early = std::cell::RefCell::new(None);
    let read_early = || {
        assert!(client.flush(Duration::from_secs(10)).ok());
        assert!(c.wait_until(Duration::from_secs(10), |n| n.spans >= 1));
        let copy = c.spans().into_iter().find(|s| s.name == "support");
        *early.borrow_mut() = copy;
    };
    let out = support("where is my parcel?", order, 2, &read_early);
    assert_eq!(out, vec!["where is my parcel? #7".to_string(), "2".into()]);
    assert!(client.flush(Duration::from_secs(10)).ok());
    let provisional = early
        .into_inner()
        .expect("the root's copy, sent while it ran");
    assert!(provisional.provisional);
    let fin = final_span(&c, "support");
    let input = fin.input().expect("input");
    assert_eq!(provisional.input(), Some(input.clone()));
    assert_eq!(input["question"], json!("where is my parcel?"));
    assert_eq!(input["attempt"], json!(2));
    assert_eq!(input["order"]["id"], json!(7));
    assert_eq!(input["order"]["api_key"], json!("[REDACTED]"));
    assert_eq!(input["order"]["items"], json!(["mug", "tea \"green\""]));
    let note = input["order"]["note"].as_str().expect("note");
    assert!(
        note.starts_with("call back, key ") && !note.contains(API_KEY),
        "{note}"
    );
    assert_eq!(
        fin.output(),
        Some(json!({"result": ["where is my parcel? #7", "2"]}))
    );
    assert!(!all_bodies(&c).contains("never-sent"));
}

// ------------------------------------------------- the call site's decision per client

#[staso::tool]
fn lookup(token: &str, query: &str) -> u32 {
    let _ = token;
    query.len() as u32
}

/// What a call site may capture is kept in the call site, per client: after the client
/// changes, the same call site follows the new client's capture policy, bound and
/// redaction switch, not the first client's.
#[test]
fn a_call_site_follows_the_capture_rules_of_the_client_that_is_running() {
    let _s = serial();
    let long = "q".repeat(300);

    let c = collector();
    let first = client(&c, Options::default());
    assert_eq!(lookup("tok-1", &long), 300);
    assert!(first.shutdown(Duration::from_secs(10)).ok());
    let span = final_span(&c, "lookup");
    let input = span.input().expect("input under the first client");
    assert_eq!(input["token"], json!("[REDACTED]"));
    assert_eq!(input["query"], json!(long));
    assert_eq!(span.output(), Some(json!({"result": 300})));

    // A small bound and no redaction.
    let c = collector();
    let second = client(
        &c,
        Options::default().max_field_bytes(64).redact_secrets(false),
    );
    assert_eq!(lookup("tok-2", &long), 300);
    assert!(second.shutdown(Duration::from_secs(10)).ok());
    let span = final_span(&c, "lookup");
    let text = span.str_field("input");
    assert!(
        !text.is_empty() && text.len() <= 64,
        "cut at the second client's bound: {text}"
    );
    assert!(text.contains("tok-2"), "not redacted: {text}");
    assert!(
        span.attributes().contains_key("staso.truncated.input"),
        "{:?}",
        span.attributes()
    );

    // No tool arguments, no outputs.
    let c = collector();
    let third = client(
        &c,
        Options::default()
            .capture_tool_arguments(false)
            .capture_output(false),
    );
    assert_eq!(lookup("tok-3", &long), 300);
    assert!(third.shutdown(Duration::from_secs(10)).ok());
    let span = final_span(&c, "lookup");
    assert_eq!(span.input(), None);
    assert_eq!(span.output(), None);
    assert!(!all_bodies(&c).contains("tok-3"));
}

//! Parentage, agent names, conversations, provisional roots and the capture policy, as a
//! user's test sees them through `staso_core::testing` (in memory).

use serde_json::json;
use staso_core::testing::{capture, capture_future, capture_with};
use staso_core::{conversation, current_span, span, InstrumentExt, Kind, Options, Span, Status};

#[test]
fn children_take_their_parents_trace_and_id() {
    let (_, spans) = capture(|| {
        let _agent = span("root", Kind::Agent);
        let _tool = span("child", Kind::Tool);
        let _leaf = span("leaf", Kind::Llm);
    });
    assert_eq!(spans.len(), 3);
    let (root, child, leaf) = (
        spans.named("root"),
        spans.named("child"),
        spans.named("leaf"),
    );
    assert_eq!(root.parent_span_id(), None);
    assert_eq!(child.parent_span_id(), Some(root.span_id()));
    assert_eq!(leaf.parent_span_id(), Some(child.span_id()));
    assert_eq!(child.trace_id(), root.trace_id());
    assert_eq!(leaf.trace_id(), root.trace_id());
}

#[test]
fn ids_have_the_contract_shapes() {
    let (_, spans) = capture(|| drop(span("s", Kind::Custom)));
    let s = &spans[0];
    let span_id = s.span_id();
    assert!(span_id.starts_with("00000000-0000-0000-"), "{span_id}");
    assert_eq!(span_id.len(), 36);
    let trace_id = s.trace_id();
    assert_eq!(trace_id.len(), 36);
    assert_eq!(trace_id.matches('-').count(), 4);
    assert!(trace_id
        .chars()
        .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let ts = s.json()["timestamp"].as_str().expect("timestamp");
    assert!(ts.ends_with("+00:00") && ts.len() == 32, "{ts}");
}

#[test]
fn siblings_are_separate_traces_at_the_root() {
    let (_, spans) = capture(|| {
        drop(span("a", Kind::Chain));
        drop(span("b", Kind::Chain));
    });
    assert_ne!(spans.named("a").trace_id(), spans.named("b").trace_id());
}

#[test]
fn agent_spans_name_the_agent_of_everything_inside() {
    let (_, spans) = capture_with(Options::new().agent_name("default-bot"), || {
        drop(span("outside", Kind::Tool));
        let _a = span("billing", Kind::Agent);
        let _t = span("refund", Kind::Tool);
    });
    assert_eq!(spans.named("outside").agent_name(), "default-bot");
    assert_eq!(spans.named("billing").agent_name(), "billing");
    assert_eq!(spans.named("refund").agent_name(), "billing");
}

#[test]
fn a_root_sends_a_provisional_copy_first() {
    let (_, spans) = capture(|| {
        let _root = span("root", Kind::Agent);
        drop(span("child", Kind::Tool));
    });
    let prov = spans.provisional();
    assert_eq!(prov.len(), 1, "only the root has a provisional copy");
    let p = &prov[0];
    assert_eq!(p.span_id(), spans.named("root").span_id());
    assert_eq!(p.json()["duration_ms"], json!(0.0));
    assert_eq!(p.json()["usage_available"], json!(false));
    assert_eq!(p.attribute("staso.provisional_root"), Some(json!(true)));
    assert_eq!(
        spans.named("root").attribute("staso.provisional_root"),
        None
    );
}

#[test]
fn conversation_sets_session_and_user() {
    let (_, spans) = capture(|| {
        conversation("conv-42")
            .user_id("alice")
            .run(|| drop(span("in", Kind::Chain)));
        drop(span("out", Kind::Chain));
    });
    let inside = spans.named("in");
    assert_eq!(
        (inside.session_id(), inside.user_id()),
        ("conv-42", "alice")
    );
    let outside = spans.named("out");
    assert_ne!(outside.session_id(), "conv-42");
    assert!(
        !outside.session_id().is_empty(),
        "default session per process"
    );
    assert_eq!(outside.user_id(), "");
}

#[test]
fn manual_llm_span_fields() {
    let (_, spans) = capture(|| {
        let mut s = span("chat", Kind::Llm);
        s.set_model("gpt-4o-mini")
            .set_model("gpt-4o")
            .set_provider("openai");
        s.set_reasoning_effort("low").set_usage(100, 20);
        s.set_input(&json!({"messages": ["hi"]}))
            .set_output(&"hello");
    });
    let s = &spans[0].json();
    assert_eq!(s["model"], "gpt-4o");
    assert_eq!(s["requested_model"], "gpt-4o-mini");
    assert_eq!(s["provider"], "openai");
    assert_eq!(s["reasoning_effort"], "low");
    assert_eq!(
        (
            s["input_tokens"].as_u64(),
            s["output_tokens"].as_u64(),
            s["total_tokens"].as_u64()
        ),
        (Some(100), Some(20), Some(120))
    );
    assert_eq!(s["usage_available"], json!(true));
    assert_eq!(spans[0].input(), Some(json!({"messages": ["hi"]})));
}

#[test]
fn non_llm_spans_have_null_usage_available_and_empty_llm_fields() {
    let (_, spans) = capture(|| drop(span("t", Kind::Tool)));
    let s = spans[0].json();
    assert_eq!(s["usage_available"], json!(null));
    assert_eq!(s["model"], "");
    assert_eq!(s["input"], "");
    assert_eq!(s["output"], "");
    assert_eq!(s["attributes"], "{}");
    assert_eq!(s["error_message"], json!(null));
    let llm = capture(|| drop(span("l", Kind::Llm))).1;
    assert_eq!(llm[0].json()["usage_available"], json!(false));
}

#[test]
fn errors_set_status_message_and_type() {
    let (_, spans) = capture(|| {
        let mut s = span("fails", Kind::Tool);
        let err = std::io::Error::other("disk on fire");
        s.set_error(&err);
    });
    let s = &spans[0];
    assert_eq!(s.status(), "error");
    assert_eq!(s.error_message(), Some("disk on fire"));
    assert!(s
        .attribute("exception.type")
        .expect("type")
        .as_str()
        .expect("str")
        .contains("Error"));
}

#[test]
fn a_panic_ends_the_span_as_error_with_its_message() {
    let (_, spans) = capture(|| {
        let r = std::panic::catch_unwind(|| {
            let _s = span("boom", Kind::Tool);
            panic!("out of cheese");
        });
        assert!(r.is_err());
    });
    let s = spans.named("boom");
    assert_eq!(s.status(), "error");
    assert_eq!(s.error_message(), Some("out of cheese"));
    assert_eq!(s.attribute("exception.type"), Some(json!("panic")));
}

#[test]
fn discarded_spans_and_their_children_are_not_sent() {
    let (_, spans) = capture(|| {
        let mut s = span("cache-hit", Kind::Retriever);
        s.discard();
        drop(span("inner", Kind::Tool));
        drop(s);
        drop(span("kept", Kind::Tool));
    });
    let names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["kept"]);
}

#[test]
fn current_span_edits_the_innermost_span() {
    let (_, spans) = capture(|| {
        let _outer = span("outer", Kind::Agent);
        let _inner = span("llm", Kind::Llm);
        current_span().set_usage(3, 4).set_status(Status::Timeout);
    });
    assert_eq!(spans.named("llm").json()["total_tokens"], 7);
    assert_eq!(spans.named("llm").status(), "timeout");
    assert_eq!(spans.named("outer").status(), "ok");
}

#[test]
fn request_capture_off_hides_names_inputs_and_user_metadata() {
    let opts = Options::new().capture_request(false);
    let (_, spans) = capture_with(opts, || {
        let mut s = span("secret-plan", Kind::Chain);
        s.set_input(&json!({"q": "x"}))
            .set_metadata("team", &"ops")
            .add_tag("t");
        let mut t = span("lookup", Kind::Tool);
        t.set_input(&json!({"id": 1}));
    });
    let chain = &spans[1];
    assert_eq!(chain.name(), "chain span");
    assert_eq!(chain.json()["input"], "");
    assert_eq!(chain.attribute("team"), None);
    assert_eq!(chain.attribute("tags"), None);
    let tool = spans.named("lookup");
    assert_eq!(
        tool.input(),
        Some(json!({"id": 1})),
        "tool input needs tool_arguments only"
    );
    assert_eq!(chain.json()["capture"]["request"], "suppressed");
    assert_eq!(chain.json()["capture"]["output"], "captured");
}

#[test]
fn error_message_needs_all_five_categories() {
    let opts = Options::new().capture_tool_schema(false);
    let (_, spans) = capture_with(opts, || {
        let mut s = span("t", Kind::Tool);
        s.set_error("nope");
    });
    assert_eq!(spans[0].status(), "error");
    assert_eq!(spans[0].error_message(), None);
}

#[test]
fn output_capture_off_hides_outputs() {
    let opts = Options::new().capture_output(false);
    let (_, spans) = capture_with(opts, || {
        let mut s = span("t", Kind::Tool);
        s.set_output(&"result");
    });
    assert_eq!(spans[0].json()["output"], "");
}

#[test]
fn secrets_are_redacted_before_leaving() {
    let (_, spans) = capture(|| {
        let mut s = span("login", Kind::Tool);
        s.set_input(&json!({"user": "bob", "password": "hunter2"}));
        s.set_metadata("api_key", &"sk-live");
    });
    assert_eq!(
        spans[0].input(),
        Some(json!({"user": "bob", "password": staso_core::REDACTED}))
    );
    assert_eq!(
        spans[0].attribute("api_key"),
        Some(json!(staso_core::REDACTED))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parentage_survives_await_and_thread_hops() {
    let (_, spans) = capture_future(async {
        let root = Span::new("agent", Kind::Agent);
        root.instrument(async {
            tokio::task::yield_now().await;
            let child = Span::new("step", Kind::Chain);
            child
                .instrument(async {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                })
                .await;
            // Spawned work keeps its parent when bound to the current span.
            tokio::spawn(async { drop(span("spawned", Kind::Tool)) }.in_current_context())
                .await
                .expect("task");
        })
        .await;
    })
    .await;
    let root = spans.named("agent");
    assert_eq!(spans.named("step").parent_span_id(), Some(root.span_id()));
    assert_eq!(
        spans.named("spawned").parent_span_id(),
        Some(root.span_id())
    );
    assert_eq!(spans.named("spawned").agent_name(), "agent");
}

#[tokio::test]
async fn a_dropped_future_ends_its_span_as_cancelled() {
    let (_, spans) = capture_future(async {
        let fut = Span::new("slow", Kind::Tool).instrument(std::future::pending::<()>());
        let _ = tokio::time::timeout(std::time::Duration::from_millis(5), fut).await;
    })
    .await;
    let s = spans.named("slow");
    assert_eq!(s.status(), "error");
    assert!(s.error_message().expect("message").contains("cancelled"));
}

#[test]
fn parallel_captures_do_not_see_each_other() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let (_, spans) = capture(|| {
                    for _ in 0..50 {
                        drop(span(format!("t{i}"), Kind::Tool));
                    }
                });
                assert_eq!(spans.len(), 50);
                assert!(spans.iter().all(|s| s.name() == format!("t{i}")));
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
}

#[test]
fn nothing_is_recorded_without_a_client_or_capture() {
    let mut s = span("nowhere", Kind::Tool);
    assert!(!s.is_recording());
    s.set_input(&1).set_usage(1, 1);
}

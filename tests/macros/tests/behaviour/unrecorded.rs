//! Spans inside a trace that is not recorded (left out by the sampler, or below a
//! discarded span) are skipped at the entry point; what follows on the same thread is
//! recorded again, sync and async.

use staso::testing::{capture_future_with, capture_with};
use staso::{Kind, Options};

fn keep_only_kept_roots() -> Options {
    Options::new().sampler(|i| i.name.starts_with("kept"))
}

#[staso::agent(name = "kept-agent")]
fn kept_agent() -> u32 {
    tool(1) + tool(2)
}

#[staso::agent(name = "dropped-agent")]
fn dropped_agent() -> u32 {
    tool(3) + tool(4)
}

#[staso::tool]
fn tool(n: u32) -> u32 {
    leaf(n)
}

#[staso::trace]
fn leaf(n: u32) -> u32 {
    n * 2
}

#[test]
fn traces_left_out_send_nothing_and_the_next_trace_is_whole() {
    let (total, spans) = capture_with(keep_only_kept_roots(), || {
        dropped_agent() + kept_agent() + dropped_agent() + kept_agent() + tool(5)
    });
    assert_eq!(total, 14 + 6 + 14 + 6 + 10, "the functions ran");
    let mut names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    names.sort_unstable();
    // Two kept traces of five spans; the two dropped ones and the root `tool(5)` (a root
    // the sampler leaves out) send nothing.
    assert_eq!(
        names,
        [
            "kept-agent",
            "kept-agent",
            "leaf",
            "leaf",
            "leaf",
            "leaf",
            "tool",
            "tool",
            "tool",
            "tool"
        ]
    );
    for s in spans.iter() {
        assert_eq!(s.agent_name(), "kept-agent", "{}", s.json());
    }
}

#[staso::agent(name = "kept-async")]
async fn kept_async() -> u32 {
    async_tool(1).await
}

#[staso::agent(name = "dropped-async")]
async fn dropped_async() -> u32 {
    async_tool(2).await
}

#[staso::tool]
async fn async_tool(n: u32) -> u32 {
    tokio::task::yield_now().await;
    tool(n)
}

#[tokio::test]
async fn async_traces_left_out_do_not_silence_the_next_one() {
    let (total, spans) = capture_future_with(keep_only_kept_roots(), async {
        dropped_async().await + kept_async().await + dropped_async().await
    })
    .await;
    assert_eq!(total, 4 + 2 + 4);
    let mut names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["async_tool", "kept-async", "leaf", "tool"]);
}

#[test]
fn below_a_discarded_span_nothing_is_sent_and_after_it_spans_are() {
    let (_, spans) = capture_with(Options::new(), || {
        let _agent = staso::span("kept-root", Kind::Agent);
        {
            let mut cache = staso::span("cache-hit", Kind::Retriever);
            tool(1);
            cache.discard();
            tool(2);
            leaf(3);
        }
        tool(4);
    });
    let mut names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    names.sort_unstable();
    // `tool(1)` ran before the discard and was sent; nothing after it inside `cache-hit`.
    assert_eq!(names, ["kept-root", "leaf", "leaf", "tool", "tool"]);
    let tools: Vec<_> = spans.iter().filter(|s| s.name() == "tool").collect();
    let root = spans.named("kept-root");
    assert!(tools
        .iter()
        .any(|t| t.parent_span_id() == Some(root.span_id())));
}

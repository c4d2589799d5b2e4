//! Parentage and agent-name propagation: agent → tool → trace, sync and async, across
//! `.await` and on a multi-thread runtime.

use staso::testing::{capture, capture_future};

#[staso::agent(name = "support-bot")]
fn support(q: &str) -> usize {
    lookup(q)
}

#[staso::tool]
fn lookup(q: &str) -> usize {
    normalize(q).len()
}

#[staso::trace]
fn normalize(q: &str) -> String {
    q.trim().to_lowercase()
}

#[test]
fn sync_nesting_and_agent_name() {
    let (_, spans) = capture(|| support(" Hi "));
    let agent = spans.named("support-bot");
    let tool = spans.named("lookup");
    let trace = spans.named("normalize");
    assert_eq!(agent.parent_span_id(), None);
    assert_eq!(tool.parent_span_id(), Some(agent.span_id()));
    assert_eq!(trace.parent_span_id(), Some(tool.span_id()));
    for s in [agent, tool, trace] {
        assert_eq!(s.agent_name(), "support-bot");
        assert_eq!(s.trace_id(), agent.trace_id());
    }
    assert_eq!(spans.children_of(agent).len(), 1);
}

#[staso::agent(name = "async-bot")]
async fn async_agent(n: u32) -> u32 {
    let a = async_tool(n).await;
    let b = tokio::spawn(staso::InstrumentExt::in_current_context(async_tool(n + 1)))
        .await
        .unwrap_or(0);
    a + b + sync_in_async(n)
}

#[staso::tool]
async fn async_tool(n: u32) -> u32 {
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    async_trace(n).await
}

#[staso::trace]
async fn async_trace(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n * 10
}

#[staso::trace]
fn sync_in_async(n: u32) -> u32 {
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nesting_across_await_and_threads() {
    let (v, spans) = capture_future(async_agent(1)).await;
    assert_eq!(v, 10 + 20 + 1);
    assert_eq!(spans.len(), 6, "{spans:?}");
    let agent = spans.named("async-bot");
    assert_eq!(agent.parent_span_id(), None);
    let tools: Vec<_> = spans.iter().filter(|s| s.name() == "async_tool").collect();
    assert_eq!(tools.len(), 2);
    for t in &tools {
        assert_eq!(t.parent_span_id(), Some(agent.span_id()));
        let kids = spans.children_of(t);
        assert_eq!(kids.len(), 1);
        assert_eq!(kids[0].name(), "async_trace");
    }
    assert_eq!(
        spans.named("sync_in_async").parent_span_id(),
        Some(agent.span_id())
    );
    for s in spans.iter() {
        assert_eq!(s.agent_name(), "async-bot", "{}", s.json());
        assert_eq!(s.trace_id(), agent.trace_id());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_agents_do_not_mix() {
    let (_, spans) = capture_future(async {
        let a = tokio::spawn(staso::InstrumentExt::in_current_context(async_agent(1)));
        let b = tokio::spawn(staso::InstrumentExt::in_current_context(async_agent(2)));
        let _ = (a.await, b.await);
    })
    .await;
    let agents: Vec<_> = spans.iter().filter(|s| s.name() == "async-bot").collect();
    assert_eq!(agents.len(), 2);
    for agent in agents {
        let under = spans
            .iter()
            .filter(|s| s.trace_id() == agent.trace_id())
            .count();
        assert_eq!(under, 6);
    }
}

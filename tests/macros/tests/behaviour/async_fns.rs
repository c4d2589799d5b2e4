//! `async fn`, `fn -> impl Future`, `#[async_trait]`, cancellation, `.await` and
//! multi-thread runtimes.

use crate::{input, result};
use serde_json::json;
use staso::testing::capture_future;
use std::future::Future;
use std::time::Duration;

#[staso::tool]
async fn fetch(url: String, retries: u8) -> Result<usize, String> {
    tokio::task::yield_now().await;
    if url.is_empty() {
        return Err("empty url".into());
    }
    let n: usize = url.len().checked_add(retries as usize).ok_or("overflow")?;
    Ok(n)
}

#[tokio::test]
async fn async_tool_span() {
    let (v, spans) = capture_future(fetch("abc".into(), 1)).await;
    assert_eq!(v, Ok(4));
    let s = spans.named("fetch");
    assert_eq!(s.kind(), "tool");
    assert_eq!(input(s), json!({"url": "abc", "retries": 1}));
    assert_eq!(result(s), json!(4));
}

#[tokio::test]
async fn async_err_and_early_return() {
    let (v, spans) = capture_future(fetch(String::new(), 0)).await;
    assert_eq!(v, Err("empty url".to_string()));
    let s = spans.named("fetch");
    assert_eq!(s.status(), "error");
    assert_eq!(s.error_message(), Some("empty url"));
    assert!(s
        .attribute("exception.type")
        .is_some_and(|t| t.to_string().contains("String")));
}

#[staso::trace]
async fn no_return_type(x: u8) {
    let _ = x;
}

#[staso::trace]
async fn question(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    Ok(n)
}

#[tokio::test]
async fn async_question_mark_and_unit() {
    let ((), spans) = capture_future(async {
        no_return_type(1).await;
        assert!(question("x").await.is_err());
        assert_eq!(question("7").await, Ok(7));
    })
    .await;
    assert_eq!(result(&spans[0]), json!(null));
    assert_eq!(spans[1].status(), "error");
    assert_eq!(result(&spans[2]), json!(7));
}

#[staso::tool]
fn returns_future(n: u64) -> impl Future<Output = u64> + Send {
    async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        inner_step(n).await * 2
    }
}

#[staso::trace]
async fn inner_step(n: u64) -> u64 {
    n + 1
}

#[staso::tool]
fn returns_result_future(fail: bool) -> impl Future<Output = Result<u8, String>> {
    async move {
        if fail {
            Err("nope".to_string())
        } else {
            Ok(1)
        }
    }
}

#[tokio::test]
async fn impl_future_return_is_wrapped() {
    // The span starts when the function is called (as with tracing's #[instrument]), so
    // the call goes inside the capture.
    let (v, spans) = capture_future(async { returns_future(3).await }).await;
    assert_eq!(v, 8);
    let outer = spans.named("returns_future");
    assert_eq!(input(outer), json!({"n": 3}));
    assert_eq!(result(outer), json!(8));
    // The future's own spans are children of the function's span.
    let inner = spans.named("inner_step");
    assert_eq!(inner.parent_span_id(), Some(outer.span_id()));
    let (v, spans) = capture_future(async { returns_result_future(true).await }).await;
    assert_eq!(v, Err("nope".into()));
    assert_eq!(spans[0].status(), "error");
    assert_eq!(spans[0].error_message(), Some("nope"));
}

#[staso::trace]
async fn slow() -> u8 {
    tokio::time::sleep(Duration::from_secs(30)).await;
    1
}

#[tokio::test]
async fn dropped_future_is_cancelled() {
    let (timed_out, spans) = capture_future(async {
        tokio::time::timeout(Duration::from_millis(5), slow())
            .await
            .is_err()
    })
    .await;
    assert!(timed_out);
    let s = spans.named("slow");
    assert_eq!(s.status(), "error", "{}", s.json());
    assert!(
        s.error_message()
            .is_some_and(|m| m.starts_with("cancelled")),
        "{}",
        s.json()
    );
    assert_eq!(s.attribute("exception.type"), Some(json!("cancelled")));
    assert_eq!(s.output(), None);
}

#[async_trait::async_trait]
trait Store {
    async fn get(&self, key: &str) -> Result<String, String>;
    async fn put(&mut self, key: String, value: String);
    async fn pair(&self, (a, b): (u8, u8), _: u8) -> u8;
}

struct Mem(Vec<(String, String)>);

#[async_trait::async_trait]
impl Store for Mem {
    #[staso::tool(name = "store.get")]
    async fn get(&self, key: &str) -> Result<String, String> {
        let v = self
            .0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone());
        let v = v.ok_or_else(|| format!("no key {key}"))?;
        Ok(v)
    }

    #[staso::tool(skip(value))]
    async fn put(&mut self, key: String, value: String) {
        tokio::task::yield_now().await;
        self.0.push((key, value));
    }

    #[staso::trace]
    async fn pair(&self, (a, b): (u8, u8), _: u8) -> u8 {
        a + b
    }
}

#[tokio::test]
async fn async_trait_methods_are_instrumented_inside_the_boxed_future() {
    let mut m = Mem(vec![]);
    let ((), spans) = capture_future(async {
        m.put("k".into(), "v".into()).await;
        assert_eq!(m.get("k").await, Ok("v".into()));
        assert!(m.get("x").await.is_err());
        assert_eq!(m.pair((1, 2), 3).await, 3);
    })
    .await;
    assert_eq!(spans.len(), 4, "{spans:?}");
    assert_eq!(spans[0].name(), "put");
    assert_eq!(input(&spans[0]), json!({"key": "k"}));
    assert_eq!(spans[1].name(), "store.get");
    assert_eq!(input(&spans[1]), json!({"key": "k"}));
    assert_eq!(result(&spans[1]), json!("v"));
    assert_eq!(spans[2].status(), "error");
    assert_eq!(spans[2].error_message(), Some("no key x"));
    assert_eq!(spans[3].name(), "pair");
    assert_eq!(input(&spans[3]), json!({"a": 1, "b": 2}));
    assert_eq!(result(&spans[3]), json!(3));
}

#[staso::tool]
async fn ready_at_once(n: u64) -> u64 {
    n + 1
}

#[staso::tool]
async fn pending_first(n: u64) -> u64 {
    tokio::task::yield_now().await;
    n + 2
}

#[staso::tool]
fn after_the_agent() -> u8 {
    3
}

#[staso::agent(name = "mixed")]
async fn mixed_agent() -> u64 {
    let a = ready_at_once(1).await;
    let b = pending_first(a).await;
    // Each of its two children's frames is gone: this one nests under the agent too.
    let c = ready_at_once(b).await;
    a + b + c
}

/// An async fn's span is opened in its first poll and stays on the thread's stack while
/// that poll runs its body: whether the body completes in that poll or is pending first,
/// its children nest under it, it ends once, and nothing of it stays current afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_fns_ready_at_once_or_pending_first_nest_alike_and_leave_nothing_current() {
    let (v, spans) = capture_future(async {
        let v = mixed_agent().await;
        (v, after_the_agent())
    })
    .await;
    assert_eq!(v, (2 + 4 + 5, 3));
    let agent = spans.named("mixed");
    assert_eq!(spans.len(), 5, "{spans:?}");
    let children = spans.children_of(agent);
    let names: Vec<&str> = children.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["ready_at_once", "pending_first", "ready_at_once"]);
    assert!(children.iter().all(|s| s.trace_id() == agent.trace_id()));
    // The root announced itself when it opened, from the same frame.
    let announced = &spans.provisional()[0];
    assert_eq!(announced.span_id(), agent.span_id());
    assert_eq!(result(spans.named("pending_first")), json!(4));
    // Opened after the agent's future completed: not inside it.
    let after = spans.named("after_the_agent");
    assert_eq!(after.parent_span_id(), None, "{}", after.json());
    assert_ne!(after.trace_id(), agent.trace_id());
}

#[staso::tool]
async fn explodes(wait_first: bool) -> u8 {
    if wait_first {
        tokio::task::yield_now().await;
    }
    panic!("async tool exploded");
}

/// An async fn that panics fails with the panic, as a sync function does, whether it
/// panics in its first poll (its frame opened on the stack there) or after a pending one
/// (carried by its future), also under an executor that catches the panic and drops the
/// future only afterwards (tokio drops it while unwinding): not "cancelled" then.
/// Nothing of it stays current.
#[test]
fn an_async_fn_that_panics_fails_with_the_panic_and_leaves_nothing_current() {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::task::{Context, Poll, Waker};
    let (after, spans) = staso::testing::capture(|| {
        for wait_first in [false, true] {
            let mut fut = Box::pin(explodes(wait_first));
            let mut cx = Context::from_waker(Waker::noop());
            let caught = catch_unwind(AssertUnwindSafe(|| loop {
                if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                    break v;
                }
            }));
            assert!(caught.is_err());
            // Dropped after the panic was caught, as some executors do.
            drop(fut);
        }
        // A manual span on the future an executor polls (nothing above it drops it while
        // the panic unwinds, as an async fn's own future does with the futures it awaits).
        let mut fut = Box::pin(
            staso::Span::new("explodes", staso::Kind::Tool)
                .instrument(async { panic!("async tool exploded") }),
        );
        let mut cx = Context::from_waker(Waker::noop());
        let caught = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)));
        assert!(caught.is_err());
        drop(fut);
        after_the_agent()
    });
    assert_eq!(after, 3);
    let failed: Vec<_> = spans.iter().filter(|s| s.name() == "explodes").collect();
    assert_eq!(failed.len(), 3, "{spans:?}");
    for s in failed {
        assert_eq!(s.status(), "error", "{}", s.json());
        assert_eq!(s.attribute("exception.type"), Some(json!("panic")));
        assert_eq!(
            s.error_message(),
            Some("async tool exploded"),
            "{}",
            s.json()
        );
    }
    assert_eq!(spans.named("after_the_agent").parent_span_id(), None);
}

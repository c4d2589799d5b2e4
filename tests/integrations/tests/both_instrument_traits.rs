//! `staso::InstrumentExt` and `tracing::Instrument` imported together: their methods have
//! different names (`in_current_context` / `in_current_span`), so neither call is
//! ambiguous (E0034) and each does its own job on the same future.

use staso::testing::capture_future;
use staso::{InstrumentExt, Kind};
use tracing::Instrument;

#[test]
fn both_traits_in_scope_each_keeps_its_own_context() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let ((), spans) = rt.block_on(capture_future(async {
        let _agent = staso::span("agent", Kind::Agent);
        // Both adapters on one future: tracing's current span and staso's context.
        let child = async {
            drop(staso::span("child", Kind::Tool));
        }
        .in_current_span()
        .in_current_context();
        tokio::spawn(child).await.expect("task")
    }));
    assert_eq!(
        spans.named("child").parent_span_id(),
        Some(spans.named("agent").span_id()),
        "the spawned child joined the agent's trace through in_current_context"
    );
}

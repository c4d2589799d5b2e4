//! A context from elsewhere: the span of another process (a W3C `traceparent`), which
//! spans started here join as children, and the way back (the current span as a
//! `traceparent` to send on).

use super::context::{self, Ctx};
use staso_types::{SpanId, TraceContext, TraceId};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Whether spans that join a remote parent are recorded. Parent-based: a caller that did
/// not sample its trace (flags `00`) gets no spans from us either, and one that did gets
/// them all (the trace's decision was made at its root; see `sampling`). The one place
/// a rule for remote parents would go; a root's own decision is `lifecycle::sample_root`.
#[inline]
fn joins(parent_sampled: bool) -> bool {
    parent_sampled
}

/// The context that spans started under the remote span `parent` inherit: its trace, the
/// remote span as their parent, and what the current context carries besides (where
/// spans go, the conversation, the agent). An unsampled parent gives a context that
/// records nothing, like a discarded span's.
pub(crate) fn joining(parent: &TraceContext) -> Ctx {
    context::with_current(|cur| Ctx {
        link: Some((parent.trace_id(), parent.span_id())),
        agent: cur.agent.clone(),
        conversation: cur.conversation.clone(),
        sink: cur.sink.clone(),
        recording: cur.recording && joins(parent.sampled()),
        // This process's part of the trace starts here: it takes the current offset,
        // as a root does.
        offset: super::clock::offset(),
    })
}

/// The trace and span a span started now would have as parent, and whether that parent
/// is recorded (the `sampled` flag sent on): `None` outside any span or remote context.
pub(crate) fn current_link() -> Option<(TraceId, SpanId, bool)> {
    context::with_current_shallow(|c| c.link.map(|(t, s)| (t, s, c.recording)))
}

/// `tracestate` values of the remote contexts in use, by trace: passed on by the spans
/// that join them. An entry lives while a context that brought it is attached; it is not
/// kept in `Ctx` so that the frame of every span stays the size it is.
fn states() -> &'static Mutex<HashMap<u128, (String, usize)>> {
    static STATES: OnceLock<Mutex<HashMap<u128, (String, usize)>>> = OnceLock::new();
    STATES.get_or_init(Default::default)
}

/// Keeps a remote context's `tracestate` available to `inject` while it is alive.
#[derive(Debug)]
pub(crate) struct StateHold(Option<u128>);

impl StateHold {
    /// Holds nothing.
    pub(crate) fn none() -> StateHold {
        StateHold(None)
    }

    /// Registers `parent`'s `tracestate`, if it has one.
    pub(crate) fn new(parent: &TraceContext) -> StateHold {
        let Some(ts) = parent.tracestate() else {
            return StateHold(None);
        };
        let key = parent.trace_id().to_u128();
        if let Ok(mut m) = states().lock() {
            let e = m.entry(key).or_insert_with(|| (ts.to_string(), 0));
            e.1 += 1;
        }
        StateHold(Some(key))
    }
}

impl Drop for StateHold {
    fn drop(&mut self) {
        let Some(key) = self.0 else { return };
        if let Ok(mut m) = states().lock() {
            if let Some(e) = m.get_mut(&key) {
                e.1 -= 1;
                if e.1 == 0 {
                    m.remove(&key);
                }
            }
        }
    }
}

/// The `tracestate` that came in with trace `trace`, while a context that brought it is
/// attached.
pub(crate) fn tracestate(trace: TraceId) -> Option<String> {
    let m = states().lock().ok()?;
    m.get(&trace.to_u128()).map(|(s, _)| s.clone())
}

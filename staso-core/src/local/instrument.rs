//! Futures that carry their span (or context) with them: pushed on this thread's stack
//! for the length of every poll, so parentage survives `.await` and work-stealing.

use super::context::{self, Ctx, Frame, ScopeGuard};
use super::lifecycle;
use super::record::SpanRecord;
use super::span::Span;
use staso_types::{SpanId, Status};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

// `Span::instrument` lives here, with the future it builds, so `span` does not depend on
// this module.
impl Span {
    /// Runs `fut` with this span current on every poll; the span ends when the future
    /// completes (or, with status `error` and a `cancelled` message, when it is dropped
    /// before completing).
    pub fn instrument<F: Future>(self, fut: F) -> Instrumented<F> {
        Instrumented::new(self, fut)
    }
}

pin_project_lite::pin_project! {
    /// A future whose span is current while it runs; see [`Span::instrument`].
    pub struct Instrumented<F> {
        span: Span,
        #[pin]
        fut: F,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            // Still holding the span: the future was dropped before it completed.
            let this = this.project();
            if let Some((mut record, ctx)) = this.span.inner.take() {
                if !std::thread::panicking() && record.status == Status::Ok {
                    record.status = Status::Error;
                    let e = record.extras();
                    e.error_message =
                        Some("cancelled: the future was dropped before it completed".into());
                    e.exception_type = Some(Cow::Borrowed("cancelled"));
                }
                lifecycle::end(&mut Some(record), &ctx);
            }
        }
    }
}

impl<F> Instrumented<F> {
    pub(crate) fn new(span: Span, fut: F) -> Self {
        Instrumented { span, fut }
    }

    /// The span, to set fields on before the first poll.
    pub fn span_mut(&mut self) -> &mut Span {
        &mut self.span
    }
}

/// Puts the span back into the future when a poll ends, also when the poll panics.
struct Reclaim<'a> {
    slot: &'a mut Option<(SpanRecord, Ctx)>,
    depth: usize,
    span: SpanId,
}

impl Drop for Reclaim<'_> {
    fn drop(&mut self) {
        if let Some(frame) = context::pop(self.depth, Some(self.span)) {
            if let Some(record) = frame.record {
                *self.slot = Some((record, frame.ctx));
            }
        }
    }
}

/// Runs `f` with the span in `slot` current on this thread (its frame pushed for the call,
/// and put back into `slot` afterwards, also when `f` panics). An empty slot runs `f`
/// alone. What LLM streams use on every poll.
pub(crate) fn in_frame<R>(slot: &mut Option<(SpanRecord, Ctx)>, f: impl FnOnce() -> R) -> R {
    let Some((record, ctx)) = slot.take() else {
        return f();
    };
    let span = record.span_id;
    let depth = context::push(Frame {
        ctx,
        record: Some(record),
    });
    let _reclaim = Reclaim { slot, depth, span };
    f()
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = this.fut;
        let Some((record, ctx)) = this.span.inner.take() else {
            return fut.poll(cx);
        };
        let id = record.span_id;
        let depth = context::push(Frame {
            ctx,
            record: Some(record),
        });
        let reclaim = Reclaim {
            slot: &mut this.span.inner,
            depth,
            span: id,
        };
        let out = fut.poll(cx);
        drop(reclaim);
        if out.is_ready() {
            if let Some((record, ctx)) = this.span.inner.take() {
                lifecycle::end(&mut Some(record), &ctx);
            }
        }
        out
    }
}

pin_project_lite::pin_project! {
    /// A future that runs inside a captured context (a conversation, or the span current
    /// when it was created); see [`InstrumentExt::in_current_context`].
    pub struct WithContext<F> {
        ctx: Ctx,
        #[pin]
        fut: F,
    }
}

impl<F> WithContext<F> {
    pub(crate) fn new(ctx: Ctx, fut: F) -> Self {
        WithContext { ctx, fut }
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _scope = ScopeGuard::enter(this.ctx.clone());
        this.fut.poll(cx)
    }
}

/// Carries the current span into a future that will run elsewhere (`tokio::spawn`, a
/// thread pool): spans it starts become children of the span current now. Named so that
/// it can be in scope beside `tracing::Instrument` (whose method is `in_current_span`).
///
/// ```
/// use staso_core::InstrumentExt;
/// # async fn work() {}
/// # fn spawn<F: std::future::Future>(_f: F) {}
/// spawn(work().in_current_context());
/// ```
pub trait InstrumentExt: Future + Sized {
    /// Binds the future to the context current now.
    fn in_current_context(self) -> WithContext<Self> {
        WithContext::new(context::current(), self)
    }
}

impl<F: Future> InstrumentExt for F {}

/// Runs `f` on another thread (or later) in the context current now: spans it starts
/// become children of the span current here.
pub fn bind_current<R>(f: impl FnOnce() -> R) -> impl FnOnce() -> R {
    let ctx = context::current();
    move || {
        let _scope = ScopeGuard::enter(ctx);
        f()
    }
}

//! Futures that carry their span (or context) with them: pushed on this thread's stack
//! for the length of every poll, so parentage survives `.await` and work-stealing.

use super::context::{self, Ctx, Frame, ScopeGuard};
use super::lifecycle;
use super::record::SpanRecord;
use super::span::{Span, SpanGuard};
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

    /// Runs `fut` in the span whose frame `pushed` guards, on this thread's stack now:
    /// the future's first poll, which must follow before anything else is pushed or
    /// popped here, runs it there (an `async fn`'s body, see `AsyncFnFrame`). `self`
    /// carries nothing.
    pub(crate) fn instrument_pushed<F: Future>(self, pushed: SpanGuard, fut: F) -> Instrumented<F> {
        Instrumented {
            span: self,
            pushed: pushed.into_frame(),
            fut,
        }
    }
}

pin_project_lite::pin_project! {
    /// A future whose span is current while it runs; see [`Span::instrument`].
    pub struct Instrumented<F> {
        span: Span,
        // The span's frame on this thread's stack, until the first poll (see
        // `Span::instrument_pushed`).
        pushed: Option<(usize, SpanId)>,
        #[pin]
        fut: F,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            // Still holding the span: the future was dropped before it completed.
            let this = this.project();
            if let Some((depth, span)) = this.pushed.take() {
                // Never polled: its frame is still on the stack.
                context::pop_into(depth, span, &mut this.span.inner);
            }
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
        Instrumented {
            span,
            pushed: None,
            fut,
        }
    }

    /// The span, to set fields on before the first poll.
    pub fn span_mut(&mut self) -> &mut Span {
        &mut self.span
    }
}

/// A future's span, current on this thread for one poll: put back into the future when
/// the poll is pending, ended where it lies when the future completes. A panic that
/// unwinds out of the poll drops it: an instrumented future's span then fails with the
/// panic, as a sync function's does (its record left in the future would end later as
/// "cancelled", when the runtime drops the future); an LLM stream's goes back into its
/// stream, which ends it (`fails_on_panic` false).
struct Reclaim<'a> {
    slot: &'a mut Option<(SpanRecord, Ctx)>,
    depth: usize,
    span: SpanId,
    fails_on_panic: bool,
}

impl Drop for Reclaim<'_> {
    /// Reached only by unwinding: the normal ends are [`Reclaim::put_back`] and
    /// [`Reclaim::end`].
    fn drop(&mut self) {
        if self.fails_on_panic {
            close_in_place::<false>(self.depth, self.span);
        } else {
            context::pop_into(self.depth, self.span, self.slot);
        }
    }
}

impl<'a> Reclaim<'a> {
    /// Makes the span in `slot` current for a poll (see [`in_frame`]); `None` when the
    /// slot is empty or there is no stack to push it on.
    #[inline]
    fn push(slot: &'a mut Option<(SpanRecord, Ctx)>, fails_on_panic: bool) -> Option<Self> {
        let span = slot.as_ref()?.0.span_id;
        let depth = context::push_carried(slot)?;
        Some(Reclaim {
            slot,
            depth,
            span,
            fails_on_panic,
        })
    }

    /// Polls `fut` with the span current: ended if it completes, else put back.
    #[inline(always)]
    fn poll<F: Future>(self, fut: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = fut.poll(cx);
        if out.is_ready() {
            self.end();
        } else {
            self.put_back();
        }
        out
    }

    /// Moves the span back into the future (the poll is over, the future is not).
    #[inline]
    fn put_back(self) {
        let mut this = std::mem::ManuallyDrop::new(self);
        context::pop_into(this.depth, this.span, &mut *this.slot);
    }

    /// Ends the span where the poll left it, on the frame stack: the future completed,
    /// so its record moves once more, into the queue, instead of back into the future
    /// and out again. It ran to its end: the thread's panic count is not read (see
    /// `FnSpan::returned`).
    #[inline]
    fn end(self) {
        let this = std::mem::ManuallyDrop::new(self);
        close_in_place::<true>(this.depth, this.span);
    }
}

/// Ends span `span`'s frame, pushed at `depth`, where it lies; `RETURNED` as in
/// `lifecycle::end_with` (false: a panic unwinding marks it failed).
#[inline]
fn close_in_place<const RETURNED: bool>(depth: usize, span: SpanId) {
    context::pop_span(depth, span, |frame, client| {
        let Frame { ctx, record } = frame;
        lifecycle::end_with::<RETURNED>(record, ctx, |slot| {
            crate::client::send_ended_in(client, slot)
        })
    });
}

/// Runs `f` with the span in `slot` current on this thread (its frame pushed for the call,
/// and put back into `slot` afterwards, also when `f` panics). An empty slot runs `f`
/// alone. What LLM streams use on every poll.
pub(crate) fn in_frame<R>(slot: &mut Option<(SpanRecord, Ctx)>, f: impl FnOnce() -> R) -> R {
    let Some(reclaim) = Reclaim::push(slot, false) else {
        return f();
    };
    let out = f();
    reclaim.put_back();
    out
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = this.fut;
        if let Some((depth, span)) = this.pushed.take() {
            // The first poll of an async fn's body: its frame is on the stack already.
            let slot = &mut this.span.inner;
            let fails_on_panic = true;
            return Reclaim {
                slot,
                depth,
                span,
                fails_on_panic,
            }
            .poll(fut, cx);
        }
        if this.span.inner.is_none() {
            return fut.poll(cx);
        }
        if let Some(reclaim) = Reclaim::push(&mut this.span.inner, true) {
            return reclaim.poll(fut, cx);
        }
        // No stack to push it on (the thread's end emptied it): the span is not current,
        // but it still ends with its future.
        let out = fut.poll(cx);
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

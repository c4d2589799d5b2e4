//! The span handles users hold: [`span`] and its [`SpanGuard`] (current on this thread),
//! [`Span`] (not current yet; `Send`, for futures), and [`CurrentSpan`] (the innermost
//! span, from anywhere inside it). Opening and ending belong to `lifecycle`.

use super::capture::{self, RulesHandle};
use super::context::{self, Ctx, Frame, Parent};
use super::lifecycle;
use super::record::{ExtrasBox, SharedStr, SpanRecord};
use serde::Serialize;
use staso_types::{Kind, SpanId, Status, TraceId};
use std::borrow::Cow;
use std::marker::PhantomData;
use std::panic::Location;

/// Sets fields of a span. Shared by [`SpanGuard`], [`Span`] and [`CurrentSpan`].
///
/// Captured values (input, output, metadata, error message, name, tags) are encoded here,
/// on the caller's thread, under the capture policy, the size bound, the redaction rule and
/// the mask hook (see `capture`); values are captured before the record is touched, so a
/// value's own code may open spans.
macro_rules! setters {
    ($ty:ty) => {
        impl $ty {
            /// Sets the span's input (any `Serialize` value; sent as JSON).
            #[track_caller]
            pub fn set_input<T: Serialize + ?Sized>(&mut self, input: &T) -> &mut Self {
                if let Some((rules, _)) = self.rules() {
                    let c = capture::document(rules, Some(Location::caller()), "", |o| {
                        o.serialize(input)
                    });
                    self.edit(|r| r.extras().set_input(c.text(), c.truncated));
                }
                self
            }
            /// Sets the span's output (any `Serialize` value; sent as JSON).
            #[track_caller]
            pub fn set_output<T: Serialize + ?Sized>(&mut self, output: &T) -> &mut Self {
                if let Some((rules, _)) = self.rules() {
                    let c = capture::document(rules, Some(Location::caller()), "", |o| {
                        o.serialize(output)
                    });
                    self.edit(|r| r.extras().set_output(c.text(), c.truncated));
                }
                self
            }
            /// Adds a metadata attribute.
            #[track_caller]
            pub fn set_metadata<T: Serialize + ?Sized>(
                &mut self,
                key: impl Into<String>,
                value: &T,
            ) -> &mut Self {
                let site = Location::caller();
                if let Some((rules, _)) = self.rules() {
                    let k = key.into();
                    let c = capture::document(rules, Some(site), &k, |o| o.serialize(value));
                    self.edit(|r| r.extras().set_metadata(&k, c.text(), c.truncated));
                }
                self
            }
            /// Adds a tag (sent in the `tags` attribute).
            #[track_caller]
            pub fn add_tag(&mut self, tag: impl Into<String>) -> &mut Self {
                let site = Location::caller();
                if let Some((rules, _)) = self.rules() {
                    let t = tag.into();
                    let c = capture::text(rules, Some(site), "tags", |o| o.text(&t));
                    self.edit(|r| r.extras().push_tag(c.text(), c.truncated));
                }
                self
            }
            /// Renames the span.
            #[track_caller]
            pub fn set_name(&mut self, name: impl Into<String>) -> &mut Self {
                let site = Location::caller();
                if let Some((rules, _)) = self.rules() {
                    let n = name.into();
                    let c = capture::text(rules, Some(site), "name", |o| o.text(&n));
                    let text = if c.text() == n {
                        n
                    } else {
                        c.text().to_string()
                    };
                    let truncated = c.truncated;
                    let n = SharedStr::from(text);
                    self.edit(|r| {
                        r.name = n;
                        if truncated.is_some() || r.extras.is_some() {
                            r.extras().set_name_truncated(truncated);
                        }
                    });
                }
                self
            }
            /// Sets the status.
            pub fn set_status(&mut self, status: Status) -> &mut Self {
                self.edit(|r| r.status = status);
                self
            }
            /// Marks the span as failed with `error`'s message; `exception.type` is the
            /// error's type name.
            #[track_caller]
            pub fn set_error<E: std::fmt::Display + ?Sized>(&mut self, error: &E) -> &mut Self {
                let site = Location::caller();
                let ty = std::any::type_name::<E>();
                let msg = self.rules().map(|(rules, _)| {
                    capture::text(rules, Some(site), "error_message", |o| o.display(error))
                });
                self.edit(|r| {
                    r.status = Status::Error;
                    let e = r.extras();
                    if let Some(m) = &msg {
                        e.set_error_text(m.text(), m.truncated);
                    }
                    e.exception_type = Some(Cow::Borrowed(ty));
                });
                self
            }
            /// Sets the model; the first model set is also the `requested_model`.
            pub fn set_model(&mut self, model: impl Into<String>) -> &mut Self {
                let m = model.into();
                self.edit(|r| {
                    let llm = &mut r.extras().llm;
                    if llm.requested_model.is_empty() {
                        llm.requested_model = m.clone();
                    }
                    llm.model = m;
                });
                self
            }
            /// Sets the model provider (`openai`, `anthropic`, ...).
            pub fn set_provider(&mut self, provider: impl Into<String>) -> &mut Self {
                let p = provider.into();
                self.edit(|r| r.extras().llm.provider = p);
                self
            }
            /// Sets the reasoning effort label.
            pub fn set_reasoning_effort(&mut self, effort: impl Into<String>) -> &mut Self {
                let p = effort.into();
                self.edit(|r| r.extras().llm.reasoning_effort = p);
                self
            }
            /// Records token usage; total is their sum and `usage_available` becomes true.
            pub fn set_usage(&mut self, input_tokens: u64, output_tokens: u64) -> &mut Self {
                self.edit(|r| {
                    let llm = &mut r.extras().llm;
                    llm.input_tokens = input_tokens;
                    llm.output_tokens = output_tokens;
                    llm.total_tokens = input_tokens + output_tokens;
                    llm.usage_available = true;
                });
                self
            }
            /// Records token usage with the total the provider reported (some count more
            /// than input + output); `usage_available` becomes true.
            pub fn set_usage_total(
                &mut self,
                input_tokens: u64,
                output_tokens: u64,
                total_tokens: u64,
            ) -> &mut Self {
                self.edit(|r| {
                    let llm = &mut r.extras().llm;
                    llm.input_tokens = input_tokens;
                    llm.output_tokens = output_tokens;
                    llm.total_tokens = total_tokens;
                    llm.usage_available = true;
                });
                self
            }
            /// Marks the span as failed with `message`, naming the error's kind in
            /// `exception.type` (e.g. `RateLimitError`) where `set_error` would use the
            /// Rust type name.
            pub fn set_exception(
                &mut self,
                exception_type: impl Into<Cow<'static, str>>,
                message: impl Into<String>,
            ) -> &mut Self {
                let ty = exception_type.into();
                let msg = message.into();
                self.edit(|r| {
                    r.status = Status::Error;
                    let e = r.extras();
                    e.error_message = Some(msg);
                    e.exception_type = Some(ty);
                });
                self
            }
            /// Skips sending this span (for work that turned out to be a no-op). Spans
            /// started inside it afterwards are not sent either.
            pub fn discard(&mut self) {
                self.edit(|r| r.discarded = true);
                self.on_discard();
            }
            /// Scores or labels this span (its trace and span id filled in); see
            /// [`annotate`](crate::annotate). Does nothing when the span is not recorded.
            pub fn annotate(
                &self,
                name: impl Into<String>,
                value: impl Into<staso_types::AnnotationValue>,
            ) -> Result<(), staso_types::AnnotationError> {
                self.annotate_with(staso_types::Annotation::new(name, value))
            }
            /// [`annotate`](Self::annotate) with a comment (its span id is this span's).
            pub fn annotate_with(
                &self,
                annotation: staso_types::Annotation,
            ) -> Result<(), staso_types::AnnotationError> {
                annotation.check()?;
                match self.read(|r| (r.trace_id, r.span_id)) {
                    Some((t, s)) => crate::annotate::annotate_with(t, annotation.span_id(s)),
                    None => Ok(()),
                }
            }
            /// The span's trace id, when it is recorded.
            pub fn trace_id(&self) -> Option<TraceId> {
                self.read(|r| r.trace_id)
            }
            /// The span's id, when it is recorded.
            pub fn span_id(&self) -> Option<SpanId> {
                self.read(|r| r.span_id)
            }
        }
    };
}

/// A span that is current on this thread until dropped; dropping it ends the span.
/// Returned by [`span`]. It cannot cross threads or `.await` points in a `Send` future:
/// for async code use [`Span::instrument`].
///
/// ```
/// let mut llm = staso_core::span("gpt-4o call", staso_core::Kind::Llm);
/// llm.set_model("gpt-4o").set_provider("openai").set_usage(120, 30);
/// drop(llm); // ends the span
/// ```
#[must_use = "the span ends when this guard is dropped"]
pub struct SpanGuard {
    /// Where its frame is on the stack (see [`depth_of`]: a frame not found there is
    /// searched).
    depth: u32,
    span: Option<SpanId>,
    capture: bool,
    _not_send: PhantomData<*const ()>,
}

/// Starts a span named `name` as a child of the current span and makes it current.
pub fn span(name: impl Into<Cow<'static, str>>, kind: Kind) -> SpanGuard {
    Span::new(name, kind).entered()
}

impl SpanGuard {
    /// The guard of a span that is not recorded.
    pub(crate) const OFF: SpanGuard = SpanGuard {
        depth: 0,
        span: None,
        capture: false,
        _not_send: PhantomData,
    };

    /// The guard of the span whose frame was pushed at `depth`.
    #[inline]
    pub(crate) fn on_stack(depth: usize, span: SpanId) -> SpanGuard {
        SpanGuard {
            depth: depth_of(depth),
            span: Some(span),
            capture: true,
            _not_send: PhantomData,
        }
    }

    /// The capture rules of this span and its kind (`None` when it is not recorded).
    fn rules(&self) -> Option<(RulesHandle, Kind)> {
        if !self.capture {
            return None;
        }
        let (sink, kind) = context::with_frame(self.span?, |fr| {
            let kind = fr.record.as_ref().map(|r| r.kind);
            (fr.ctx.sink.clone(), kind)
        })?;
        Some((RulesHandle::of(sink.as_ref())?, kind?))
    }
    fn edit(&mut self, f: impl FnOnce(&mut SpanRecord)) {
        if let Some(id) = self.span {
            context::with_frame(id, |fr| fr.record.as_mut().map(f));
        }
    }
    fn read<R>(&self, f: impl FnOnce(&SpanRecord) -> R) -> Option<R> {
        context::with_frame(self.span?, |fr| fr.record.as_ref().map(f)).flatten()
    }
    fn on_discard(&mut self) {
        if let Some(id) = self.span {
            context::stop_recording(id);
        }
    }

    /// Whether the span is recorded (tracing on, and not below a discarded span).
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.span.is_some()
    }

    /// The id of the span, when it is recorded (without visiting the stack).
    #[inline]
    pub(crate) fn id(&self) -> Option<SpanId> {
        self.span
    }

    /// The depth and id of the span's frame, which stays on the stack for another owner
    /// (an instrumented future's first poll) to end; `None` when it is not recorded.
    #[inline]
    pub(crate) fn into_frame(mut self) -> Option<(usize, SpanId)> {
        let id = self.span.take()?;
        Some((self.depth as usize, id))
    }

    /// Runs `f` on this span's frame: found at the depth it was pushed at (the usual
    /// case), else searched for.
    #[inline]
    pub(crate) fn with_frame<R>(&self, f: impl FnOnce(&mut Frame) -> R) -> Option<R> {
        context::with_frame_at(self.depth as usize, self.span?, f)
    }
}

setters!(SpanGuard);

impl SpanGuard {
    /// Ends the span now, its record given `captured` (what an instrumented function
    /// captured of its arguments and result, kept off the record until now): the whole
    /// box when the record has none, else its tapes (the input unless one was set since,
    /// the result in any case: it was recorded last).
    #[inline]
    pub(crate) fn close_with<const RETURNED: bool>(&mut self, captured: ExtrasBox) {
        if let Some(id) = self.span.take() {
            close_captured::<RETURNED>(self.depth as usize, id, captured);
        }
    }
}

/// [`close`] for a span that kept what it captured: the record is given `captured`
/// first (see [`SpanGuard::close_with`]). Out of line with its arguments in registers,
/// as `close` is.
#[inline(never)]
fn close_captured<const RETURNED: bool>(depth: usize, id: SpanId, captured: ExtrasBox) {
    context::pop_span(depth, id, |frame, client| {
        let Frame { ctx, record } = frame;
        if ctx.sink.is_some() || record.as_ref().is_some_and(|r| r.discarded) {
            // A test capture takes the record whole; a discarded one is not sent.
            if let Some(r) = record.as_mut() {
                r.keep_tapes(captured);
            }
            return lifecycle::end_with::<RETURNED>(record, ctx, |_| false);
        }
        // Inlined: out of line, this closure cost a call and a frame of its own.
        lifecycle::end_with::<RETURNED>(
            record,
            ctx,
            #[inline(always)]
            |slot| crate::client::send_taped_in(client, slot, captured),
        )
    });
}

impl SpanGuard {
    /// Ends the span now (what dropping the guard does).
    #[inline(always)]
    pub(crate) fn end(&mut self) {
        self.end_as::<false>();
    }

    /// Ends the span now; `RETURNED`: because its function returned (see
    /// `lifecycle::end_with`).
    #[inline(always)]
    pub(crate) fn end_as<const RETURNED: bool>(&mut self) {
        // Not recording (tracing off): nothing on the stack, nothing to do.
        if let Some(id) = self.span.take() {
            close::<RETURNED>(self.depth as usize, id);
        }
    }
}

impl Drop for SpanGuard {
    #[inline]
    fn drop(&mut self) {
        self.end();
    }
}

/// A frame's depth as a guard keeps it: truncated, not saturated (one instruction fewer
/// on every span). A stack of 2^32 frames would take 900 GiB; and a depth that is wrong
/// only costs a search, since the end checks the frame there holds the span.
#[inline(always)]
fn depth_of(depth: usize) -> u32 {
    depth as u32
}

/// Ends the span of the frame at `depth`. Not inlined: the guard's drop stays a field
/// check and a call, which the disabled path (no span) then skips entirely.
#[inline(never)]
fn close<const RETURNED: bool>(depth: usize, id: SpanId) {
    context::pop_span(depth, id, |frame, client| {
        let Frame { ctx, record } = frame;
        lifecycle::end_with::<RETURNED>(record, ctx, |slot| crate::client::send_in(client, slot))
    });
}

/// A span that is not current anywhere yet: build it, then enter it on a thread
/// ([`Span::entered`]) or attach it to a future ([`Span::instrument`]). It is `Send`.
///
/// ```
/// # async fn fetch() -> u32 { 7 }
/// # async fn demo() {
/// use staso_core::{Kind, Span};
/// let mut span = Span::new("fetch-docs", Kind::Retriever);
/// span.set_input(&"refund policy");
/// let docs = span.instrument(fetch()).await;
/// # }
/// ```
#[must_use = "a span is sent when it ends: enter it or instrument a future with it"]
pub struct Span {
    pub(crate) inner: Option<(SpanRecord, Ctx)>,
    capture: bool,
}

impl Span {
    /// A span named `name` whose parent is the span current on this thread now.
    pub fn new(name: impl Into<Cow<'static, str>>, kind: Kind) -> Span {
        let name = name.into().into();
        let inner = context::with_parent(|parent| lifecycle::open(parent, name, kind, None));
        let mut span = Span::from_parts(inner);
        span.announce();
        span
    }

    /// A span whose parent is `parent` (trace, span, the trace's clock offset) when given
    /// (an LLM call continuing a tool call proposed in another span), else the current
    /// span. Not announced: no provisional
    /// copy is sent even at a root.
    pub(crate) fn open_under(
        name: Cow<'static, str>,
        kind: Kind,
        parent: Option<(TraceId, SpanId, i64)>,
    ) -> Span {
        let name = SharedStr::from(name);
        let inner = context::with_parent(|current| match parent {
            None => lifecycle::open(current, name, kind, None),
            Some((trace, span, offset)) => {
                // The parent's trace, and its clock offset, whatever the current trace.
                let mut ctx = current.to_ctx();
                ctx.link = Some((trace, span));
                ctx.offset = offset;
                lifecycle::open(Parent::of(&ctx), name, kind, None)
            }
        });
        Span::from_parts(inner)
    }

    /// A span that is not recorded.
    pub(crate) const OFF: Span = Span {
        inner: None,
        capture: false,
    };

    #[inline]
    pub(crate) fn from_parts(inner: Option<(SpanRecord, Ctx)>) -> Span {
        let capture = inner.is_some();
        Span { inner, capture }
    }

    pub(crate) fn announce(&mut self) {
        if let Some((record, ctx)) = &self.inner {
            lifecycle::announce(record, ctx);
        }
    }

    fn rules(&self) -> Option<(RulesHandle, Kind)> {
        if !self.capture {
            return None;
        }
        let (record, ctx) = self.inner.as_ref()?;
        Some((RulesHandle::of(ctx.sink.as_ref())?, record.kind))
    }
    fn edit(&mut self, f: impl FnOnce(&mut SpanRecord)) {
        if let Some((r, _)) = &mut self.inner {
            f(r)
        }
    }
    fn read<R>(&self, f: impl FnOnce(&SpanRecord) -> R) -> Option<R> {
        self.inner.as_ref().map(|(r, _)| f(r))
    }
    fn on_discard(&mut self) {
        if let Some((_, ctx)) = &mut self.inner {
            ctx.recording = false;
        }
    }

    /// Makes the span current on this thread until the returned guard is dropped.
    pub fn entered(mut self) -> SpanGuard {
        let capture = self.capture;
        match self.inner.take() {
            Some((record, ctx)) => {
                let id = record.span_id;
                let depth = context::push(Frame {
                    ctx,
                    record: Some(record),
                });
                SpanGuard {
                    depth: depth_of(depth),
                    span: Some(id),
                    capture,
                    _not_send: PhantomData,
                }
            }
            None => SpanGuard {
                depth: 0,
                span: None,
                capture: false,
                _not_send: PhantomData,
            },
        }
    }

    /// Whether the span is recorded.
    pub fn is_recording(&self) -> bool {
        self.inner.is_some()
    }
}

setters!(Span);

impl Drop for Span {
    fn drop(&mut self) {
        if let Some((record, ctx)) = self.inner.take() {
            lifecycle::end(&mut Some(record), &ctx);
        }
    }
}

/// The innermost span being recorded on this thread (inside an instrumented function or
/// an entered span); its setters do nothing when there is none.
///
/// ```
/// #[allow(dead_code)]
/// fn record_usage() {
///     staso_core::current_span().set_model("gpt-4o").set_usage(10, 5);
/// }
/// ```
pub struct CurrentSpan {
    _not_send: PhantomData<*const ()>,
}

/// A handle on the innermost span being recorded on this thread.
pub fn current_span() -> CurrentSpan {
    CurrentSpan {
        _not_send: PhantomData,
    }
}

impl CurrentSpan {
    fn rules(&self) -> Option<(RulesHandle, Kind)> {
        let kind = self.read(|r| r.kind)?;
        Some((RulesHandle::current()?, kind))
    }
    fn edit(&mut self, f: impl FnOnce(&mut SpanRecord)) {
        context::with_innermost_record(f);
    }
    fn read<R>(&self, f: impl FnOnce(&SpanRecord) -> R) -> Option<R> {
        context::with_innermost_record(|r| f(r))
    }
    fn on_discard(&mut self) {}
}

setters!(CurrentSpan);

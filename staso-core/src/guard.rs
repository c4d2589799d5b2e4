//! Starting and ending spans: the manual API (`span`, `Span`, `SpanGuard`,
//! `current_span`) and the functions the attribute macros call. The caller's thread reads
//! the clock, picks ids and moves owned data; everything else waits for the batcher.

use crate::clock;
use crate::context::{self, Ctx, Frame};
use crate::ids::{SpanId, TraceId};
use crate::span::{CallSite, Kind, SharedStr, SpanRecord, Status};
use serde::Serialize;
use std::borrow::Cow;
use std::marker::PhantomData;

/// Whether a span started under `parent` is recorded: not below a discarded span, and
/// going to a test capture or a running client.
#[inline(always)]
pub(crate) fn records(parent: &Ctx) -> bool {
    parent.recording && (parent.sink.is_some() || crate::client::active())
}

/// Begins a span under `parent`, or returns `None` when nothing would record it.
///
/// The record leaves `agent` and `conversation` empty: they are in the child context, and
/// [`finish`] (or `close`, which moves them) puts them into the record when it
/// ends, so a span costs one reference count on the conversation rather than three.
#[inline(always)]
pub(crate) fn begin(
    parent: &Ctx,
    name: SharedStr,
    kind: Kind,
    callsite: Option<&'static CallSite>,
) -> Option<(SpanRecord, Ctx)> {
    if !records(parent) {
        return None;
    }
    let (trace_id, parent_id) = match parent.link {
        Some((t, s)) => (t, std::num::NonZeroU64::new(s.0)),
        None => (TraceId::random(), None),
    };
    let span_id = SpanId::random();
    let agent = if kind == Kind::Agent {
        Some(name.clone())
    } else {
        parent.agent.clone()
    };
    let child = Ctx {
        link: Some((trace_id, span_id)),
        agent,
        conversation: parent.conversation.clone(),
        sink: parent.sink.clone(),
        recording: true,
    };
    let record = SpanRecord {
        trace_id,
        span_id,
        parent: parent_id,
        start: clock::now(),
        end: clock::Tick(0),
        name,
        kind,
        status: Status::Ok,
        provisional: false,
        discarded: false,
        callsite,
        agent: None,
        conversation: None,
        extras: None,
    };
    Some((record, child))
}

/// Sends the provisional copy of a root span (duration 0), so the dashboard shows a
/// long-running agent while it runs.
pub(crate) fn announce(record: &SpanRecord, ctx: &Ctx) {
    if record.parent.is_none() && !record.discarded {
        let mut copy = record.clone();
        copy.provisional = true;
        copy.end = copy.start;
        inherit(&mut copy, ctx);
        dispatch(copy, ctx);
    }
}

/// Fills what a record takes from its context when it is sent.
fn inherit(record: &mut SpanRecord, ctx: &Ctx) {
    if record.agent.is_none() {
        record.agent = ctx.agent.clone();
    }
    if record.conversation.is_none() {
        record.conversation = ctx.conversation.clone();
    }
}

/// Ends a span: stamps the end time and hands it to the test sink or the client.
pub(crate) fn finish(mut record: SpanRecord, ctx: &Ctx) {
    if record.discarded {
        return;
    }
    record.end = clock::now();
    inherit(&mut record, ctx);
    ended(record, ctx);
}

#[inline]
fn ended(mut record: SpanRecord, ctx: &Ctx) {
    if std::thread::panicking() {
        panicked(&mut record);
    }
    dispatch(record, ctx);
}

/// A span that ends while its thread unwinds failed, unless it already says how.
#[cold]
fn panicked(record: &mut SpanRecord) {
    if record.status == Status::Ok {
        record.status = Status::Error;
        let e = record.extras();
        e.error_message = Some(crate::panic::message());
        e.exception_type = Some(Cow::Borrowed("panic"));
    }
}

#[inline]
fn dispatch(record: SpanRecord, ctx: &Ctx) {
    match &ctx.sink {
        Some(sink) => sink.push(record),
        None => crate::client::enqueue(record),
    }
}

/// Sets fields of a span. Shared by [`SpanGuard`], [`Span`] and [`CurrentSpan`].
macro_rules! setters {
    ($ty:ty) => {
        impl $ty {
            /// Sets the span's input (any `Serialize` value; sent as JSON).
            pub fn set_input<T: Serialize + ?Sized>(&mut self, input: &T) -> &mut Self {
                if self.capturing() {
                    let v = crate::capture::to_value_safely(input);
                    self.edit(|r| r.extras().input = Some(v));
                }
                self
            }
            /// Sets the span's output (any `Serialize` value; sent as JSON).
            pub fn set_output<T: Serialize + ?Sized>(&mut self, output: &T) -> &mut Self {
                if self.capturing() {
                    let v = crate::capture::to_value_safely(output);
                    self.edit(|r| r.extras().output = Some(v));
                }
                self
            }
            /// Adds a metadata attribute.
            pub fn set_metadata<T: Serialize + ?Sized>(
                &mut self,
                key: impl Into<String>,
                value: &T,
            ) -> &mut Self {
                if self.capturing() {
                    let v = crate::capture::to_value_safely(value);
                    let k = key.into();
                    self.edit(|r| {
                        r.extras().metadata.insert(k, v);
                    });
                }
                self
            }
            /// Adds a tag (sent in the `tags` attribute).
            pub fn add_tag(&mut self, tag: impl Into<String>) -> &mut Self {
                let t = tag.into();
                self.edit(|r| r.extras().tags.push(t));
                self
            }
            /// Renames the span.
            pub fn set_name(&mut self, name: impl Into<String>) -> &mut Self {
                let n = SharedStr::from(name.into());
                self.edit(|r| r.name = n);
                self
            }
            /// Sets the status.
            pub fn set_status(&mut self, status: Status) -> &mut Self {
                self.edit(|r| r.status = status);
                self
            }
            /// Marks the span as failed with `error`'s message; `exception.type` is the
            /// error's type name.
            pub fn set_error<E: std::fmt::Display + ?Sized>(&mut self, error: &E) -> &mut Self {
                let msg = error.to_string();
                let ty = std::any::type_name::<E>();
                self.edit(|r| {
                    r.status = Status::Error;
                    let e = r.extras();
                    e.error_message = Some(msg);
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
            /// Skips sending this span (for work that turned out to be a no-op). Spans
            /// started inside it afterwards are not sent either.
            pub fn discard(&mut self) {
                self.edit(|r| r.discarded = true);
                self.on_discard();
            }
            /// Same as [`discard`](Self::discard), under the reference client's name.
            pub fn drop_span(&mut self) {
                self.discard()
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
    depth: usize,
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
            depth,
            span: Some(span),
            capture: true,
            _not_send: PhantomData,
        }
    }

    fn capturing(&self) -> bool {
        self.capture
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
            context::with_frame(id, |fr| fr.ctx.recording = false);
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
}

setters!(SpanGuard);

impl Drop for SpanGuard {
    #[inline]
    fn drop(&mut self) {
        // Not recording (tracing off): nothing on the stack, nothing to do.
        if let Some(id) = self.span {
            close(self.depth, id);
        }
    }
}

/// Ends the span of the frame at `depth`. Not inlined: the guard's drop stays a field
/// check and a call, which the disabled path (no span) then skips entirely.
#[inline(never)]
fn close(depth: usize, id: SpanId) {
    context::pop_span(depth, id, |frame| {
        let Frame { ctx, record } = frame;
        if let Some(r) = record.as_mut().filter(|r| !r.discarded) {
            r.end = clock::now();
            if r.agent.is_none() {
                r.agent = ctx.agent.take();
            }
            if r.conversation.is_none() {
                r.conversation = ctx.conversation.take();
            }
            if std::thread::panicking() {
                panicked(r);
            }
            match &ctx.sink {
                Some(sink) => {
                    if let Some(r) = record.take() {
                        sink.push(r);
                    }
                }
                // Taken out of the frame only at the push: one move, stack to queue.
                None => crate::client::enqueue_from(record),
            }
        }
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
        let inner = context::with_current(|parent| begin(parent, name, kind, None));
        let mut span = Span::from_parts(inner);
        span.announce();
        span
    }

    #[inline]
    pub(crate) fn from_parts(inner: Option<(SpanRecord, Ctx)>) -> Span {
        let capture = inner.is_some();
        Span { inner, capture }
    }

    pub(crate) fn announce(&mut self) {
        if let Some((record, ctx)) = &self.inner {
            announce(record, ctx);
        }
    }

    fn capturing(&self) -> bool {
        self.capture
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
                    depth,
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

    /// Runs `fut` with this span current on every poll; the span ends when the future
    /// completes (or, with status `error` and a `cancelled` message, when it is dropped
    /// before completing).
    pub fn instrument<F: std::future::Future>(self, fut: F) -> crate::instrument::Instrumented<F> {
        crate::instrument::Instrumented::new(self, fut)
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
            finish(record, &ctx);
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
    fn capturing(&self) -> bool {
        true
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

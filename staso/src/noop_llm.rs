//! `staso::llm` as inline no-ops, for builds without the `enable` feature: the same names
//! and signatures as the runtime's. Wrapped streams and iterators yield their items
//! unchanged; nothing is serialized, nothing is recorded.

use futures_core::Stream;
use serde::Serialize;
use staso_types::{SpanId, TraceId};
use std::borrow::Cow;
use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use staso_types::GuardBlocked;
pub use staso_types::{Api, Usage};

/// `Send + Sync`, not unwind-safe, like the runtime's types (they hold the span's shared
/// context); checked by scripts/api_parity.sh.
type NotUnwindSafe = PhantomData<Box<dyn Fn() + Send + Sync>>;

/// An LLM call (inert in this build).
#[must_use = "the call is recorded when its reply is given: finish_json / finish / fail"]
#[derive(Debug)]
pub struct LlmSpan(NotUnwindSafe);

impl LlmSpan {
    /// Does nothing.
    #[inline(always)]
    pub fn start_json<T: Serialize + ?Sized>(api: Api, request: &T) -> LlmSpan {
        LlmSpan(PhantomData)
    }
    /// Does nothing.
    #[inline(always)]
    pub fn set_provider(&mut self, provider: impl Into<String>) -> &mut Self {
        self
    }
    /// Does nothing: `Ok(())`.
    #[inline(always)]
    pub fn finish_json<T: Serialize + ?Sized>(self, response: &T) -> Result<(), GuardBlocked> {
        Ok(())
    }
    /// Does nothing: `Ok(())`.
    #[inline(always)]
    pub fn finish(self, reply: Reply) -> Result<(), GuardBlocked> {
        Ok(())
    }
    /// Does nothing.
    #[inline(always)]
    pub fn fail<E: Display + ?Sized>(self, error: &E) {}
    /// Does nothing.
    #[inline(always)]
    pub fn fail_as(self, exception_type: impl Into<Cow<'static, str>>, message: impl Display) {}
    /// Does nothing.
    #[inline(always)]
    pub fn event_json<T: Serialize + ?Sized>(&mut self, event: &T) {}
    /// Does nothing.
    #[inline(always)]
    pub fn sse_bytes(&mut self, bytes: &[u8]) {}
    /// Does nothing.
    #[inline(always)]
    pub fn first_token(&mut self) {}
    /// Does nothing.
    #[inline(always)]
    pub fn end(self) {}
    /// Always false.
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        false
    }
    crate::noop::no_ids!();
    /// Returns the stream, wrapped in nothing that costs.
    #[inline(always)]
    pub fn stream<S>(self, stream: S) -> LlmStream<S> {
        LlmStream {
            marker: PhantomData,
            inner: stream,
        }
    }
    /// Returns the iterator, wrapped in nothing that costs.
    #[inline(always)]
    pub fn iter<I: IntoIterator>(self, iter: I) -> LlmIter<I::IntoIter> {
        LlmIter {
            marker: PhantomData,
            inner: iter.into_iter(),
        }
    }
    /// Returns the body, wrapped in nothing that costs.
    #[inline(always)]
    pub fn sse_stream<S>(self, body: S) -> SseStream<S> {
        SseStream {
            marker: PhantomData,
            inner: body,
        }
    }
}

/// Awaits `call` and returns its result unchanged.
pub async fn trace_json<Req, F, T, E>(api: Api, request: &Req, call: F) -> Result<T, E>
where
    Req: Serialize + ?Sized,
    F: Future<Output = Result<T, E>>,
    T: Serialize,
    E: Display,
{
    call.await
}

/// Builder methods whose arguments are all text: they do nothing in this build.
macro_rules! inert_text_setters {
    ($($f:ident($($arg:ident),*)),*) => {$(
        /// Does nothing.
        #[inline(always)]
        pub fn $f(self, $($arg: impl Into<String>),*) -> Self {
            self
        }
    )*};
}

/// A request description (inert in this build).
#[must_use = "a call is recorded once started: call .start()"]
#[derive(Debug)]
pub struct LlmCall(());

impl LlmCall {
    /// Does nothing.
    #[inline(always)]
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> LlmCall {
        LlmCall(())
    }
    inert_text_setters!(
        reasoning_effort(effort),
        system(text),
        developer(text),
        user(text),
        assistant(text),
        tool_call(id, name, arguments),
        tool_result(call_id, content)
    );
    /// Does nothing.
    #[inline(always)]
    pub fn message<T: Serialize + ?Sized>(self, message: &T) -> Self {
        self
    }
    /// Does nothing.
    #[inline(always)]
    pub fn tool<T: Serialize + ?Sized>(
        self,
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: &T,
    ) -> Self {
        self
    }
    /// Does nothing.
    #[inline(always)]
    pub fn param<T: Serialize + ?Sized>(self, key: &str, value: &T) -> Self {
        self
    }
    /// Does nothing.
    #[inline(always)]
    pub fn tool_choice<T: Serialize + ?Sized>(self, choice: &T) -> Self {
        self
    }
    /// Does nothing.
    #[inline(always)]
    pub fn response_format<T: Serialize + ?Sized>(self, format: &T) -> Self {
        self
    }
    /// Does nothing.
    #[inline(always)]
    pub fn name(self, name: impl Into<Cow<'static, str>>) -> Self {
        self
    }
    /// Does nothing.
    #[inline(always)]
    pub fn start(self) -> LlmSpan {
        LlmSpan(PhantomData)
    }
}

/// A reply description (inert in this build).
#[must_use = "a reply is recorded by LlmSpan::finish"]
#[derive(Debug, Default)]
pub struct Reply(());

impl Reply {
    /// Does nothing.
    #[inline(always)]
    pub fn new() -> Reply {
        Reply(())
    }
    inert_text_setters!(
        model(model),
        content(text),
        tool_call(id, name, arguments),
        finish_reason(reason),
        response_id(id),
        service_tier(tier)
    );
    /// Does nothing.
    #[inline(always)]
    pub fn usage(self, usage: Usage) -> Self {
        self
    }
}

pin_project_lite::pin_project! {
    /// A stream passed through unchanged (this build records nothing).
    pub struct LlmStream<S> {
        marker: NotUnwindSafe,
        #[pin]
        inner: S,
    }
}

impl<S> LlmStream<S> {
    /// The wrapped stream.
    #[inline(always)]
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, T, E> Stream for LlmStream<S>
where
    S: Stream<Item = Result<T, E>>,
    T: Serialize,
    E: Display,
{
    type Item = Result<T, E>;
    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project().inner.poll_next(cx)
    }
    #[inline(always)]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// An iterator passed through unchanged (this build records nothing).
#[derive(Debug)]
pub struct LlmIter<I> {
    marker: NotUnwindSafe,
    inner: I,
}

impl<I> LlmIter<I> {
    /// The wrapped iterator.
    #[inline(always)]
    pub fn get_ref(&self) -> &I {
        &self.inner
    }
}

impl<I, T, E> Iterator for LlmIter<I>
where
    I: Iterator<Item = Result<T, E>>,
    T: Serialize,
    E: Display,
{
    type Item = Result<T, E>;
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
    #[inline(always)]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// A body passed through unchanged (this build records nothing).
    pub struct SseStream<S> {
        marker: NotUnwindSafe,
        #[pin]
        inner: S,
    }
}

impl<S, B, E> Stream for SseStream<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: Display,
{
    type Item = Result<B, E>;
    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project().inner.poll_next(cx)
    }
}

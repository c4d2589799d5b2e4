//! Streamed replies: a `Stream` (async) or `Iterator` (blocking) of chunks or events, or
//! the raw bytes of a server-sent-events body, passed through unchanged while the span
//! records them. The span is current while the stream is polled and, between chunks, is
//! the parent of spans started by the code that consumes it; it ends when the stream
//! ends, fails, or is dropped (also before its first poll).

use super::call::Call;
use crate::local::capture::to_value_safely;
use crate::local::instrument::in_frame;
use futures_core::Stream;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt::Display;
use std::pin::Pin;
use std::task::{Context, Poll};

/// `exception.type` of an error: its type's name without the module path, like the
/// Python SDK's class names — with the crate (or std module) in front of a bare `Error`:
/// `reqwest::Error`, `io::Error`.
pub(crate) fn short_type_name<E: ?Sized>() -> Cow<'static, str> {
    let full = std::any::type_name::<E>();
    let base = full.split('<').next().unwrap_or(full);
    let mut parts = base.split("::");
    let first = parts.next().unwrap_or(base);
    let last = base.rsplit("::").next().unwrap_or(base);
    if last != "Error" || first == last {
        return Cow::Borrowed(last);
    }
    let owner = match first {
        "std" | "core" | "alloc" => parts.next().unwrap_or(first),
        _ => first,
    };
    Cow::Owned(format!("{owner}::Error"))
}

/// What one polled item does to the call. `None` ends the recording.
fn observe<T: Serialize, E: Display>(call: &mut Option<Box<Call>>, item: Option<&Result<T, E>>) {
    let Some(c) = call.as_mut() else {
        return;
    };
    match item {
        Some(Ok(chunk)) => c.event(&to_value_safely(chunk)),
        Some(Err(e)) => {
            c.fail(short_type_name::<E>(), e.to_string());
            *call = None;
        }
        None => {
            // The post-reply hook cannot turn a generic stream's end into an error item
            // (the wrapper cannot make an `E`); the span still records its decision.
            let _ = c.finish_stream();
            *call = None;
        }
    }
}

pin_project_lite::pin_project! {
    /// A stream of chunks or events (`Result<T, E>` items, `T` serializable as the
    /// provider's JSON: a `serde_json::Value`, or a client's chunk type) whose LLM span
    /// records them; made by [`LlmSpan::stream`](super::LlmSpan::stream). Items pass
    /// through unchanged.
    pub struct LlmStream<S> {
        call: Option<Box<Call>>,
        #[pin]
        inner: S,
    }
}

impl<S> LlmStream<S> {
    pub(crate) fn new(call: Option<Box<Call>>, inner: S) -> Self {
        LlmStream { call, inner }
    }

    /// The wrapped stream.
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

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let Some(call) = this.call.as_mut() else {
            return this.inner.poll_next(cx);
        };
        let inner = this.inner;
        let out = in_frame(&mut call.span.inner, || inner.poll_next(cx));
        if let Poll::Ready(item) = &out {
            observe(this.call, item.as_ref());
        }
        out
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// A blocking iterator of chunks or events whose LLM span records them; made by
/// [`LlmSpan::iter`](super::LlmSpan::iter). Items pass through unchanged.
#[derive(Debug)]
pub struct LlmIter<I> {
    call: Option<Box<Call>>,
    inner: I,
}

impl<I> LlmIter<I> {
    pub(crate) fn new(call: Option<Box<Call>>, inner: I) -> Self {
        LlmIter { call, inner }
    }

    /// The wrapped iterator.
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

    fn next(&mut self) -> Option<Self::Item> {
        let Some(call) = self.call.as_mut() else {
            return self.inner.next();
        };
        let inner = &mut self.inner;
        let out = in_frame(&mut call.span.inner, || inner.next());
        observe(&mut self.call, out.as_ref());
        out
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// The body of a streaming HTTP response, as bytes (`reqwest::Response::bytes_stream`),
    /// passed through unchanged while its server-sent events are read into the LLM span;
    /// made by [`LlmSpan::sse_stream`](super::LlmSpan::sse_stream). Parse the events
    /// downstream as you would without it.
    pub struct SseStream<S> {
        call: Option<Box<Call>>,
        #[pin]
        inner: S,
    }
}

impl<S> SseStream<S> {
    pub(crate) fn new(call: Option<Box<Call>>, inner: S) -> Self {
        SseStream { call, inner }
    }
}

impl<S, B, E> Stream for SseStream<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: Display,
{
    type Item = Result<B, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let Some(call) = this.call.as_mut() else {
            return this.inner.poll_next(cx);
        };
        let inner = this.inner;
        let out = in_frame(&mut call.span.inner, || inner.poll_next(cx));
        match &out {
            Poll::Ready(Some(Ok(bytes))) => call.sse_bytes(bytes.as_ref()),
            Poll::Ready(Some(Err(e))) => {
                call.fail(short_type_name::<E>(), e.to_string());
                *this.call = None;
            }
            Poll::Ready(None) => {
                let _ = call.finish_stream();
                *this.call = None;
            }
            Poll::Pending => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_named_without_their_path() {
        assert_eq!(short_type_name::<std::io::Error>(), "io::Error");
        assert_eq!(short_type_name::<serde_json::Error>(), "serde_json::Error");
        assert_eq!(short_type_name::<String>(), "String");
        assert_eq!(short_type_name::<Vec<u8>>(), "Vec");
    }
}

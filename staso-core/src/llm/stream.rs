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

/// What one polled item does to the call: `record` takes an item in; an error or the end
/// ends the recording.
fn observe<T, E: Display>(
    call: &mut Option<Box<Call>>,
    item: Option<&Result<T, E>>,
    record: impl FnOnce(&mut Call, &T),
) {
    let Some(c) = call.as_mut() else {
        return;
    };
    match item {
        Some(Ok(chunk)) => record(c, chunk),
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

/// A chunk or event of the provider's JSON, recorded by the call.
fn record_chunk<T: Serialize>(c: &mut Call, chunk: &T) {
    c.event(&to_value_safely(chunk));
}

/// Runs `next` (one poll of the wrapped stream) with the call's span current, so that it
/// parents the spans started there; plainly once the recording is over.
fn in_call_frame<R>(call: &mut Option<Box<Call>>, next: impl FnOnce() -> R) -> R {
    match call {
        Some(c) => in_frame(&mut c.span.inner, next),
        None => next(),
    }
}

/// `new` and `get_ref` of a wrapper whose items its call records.
macro_rules! recording_wrapper {
    ($ty:ident<$inner:ident>, $get_ref_doc:literal) => {
        impl<$inner> $ty<$inner> {
            pub(crate) fn new(call: Option<Box<Call>>, inner: $inner) -> Self {
                $ty { call, inner }
            }

            #[doc = $get_ref_doc]
            pub fn get_ref(&self) -> &$inner {
                &self.inner
            }
        }
    };
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

recording_wrapper!(LlmStream<S>, "The wrapped stream.");

impl<S, T, E> Stream for LlmStream<S>
where
    S: Stream<Item = Result<T, E>>,
    T: Serialize,
    E: Display,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let inner = this.inner;
        let out = in_call_frame(this.call, || inner.poll_next(cx));
        if let Poll::Ready(item) = &out {
            observe(this.call, item.as_ref(), record_chunk);
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

recording_wrapper!(LlmIter<I>, "The wrapped iterator.");

impl<I, T, E> Iterator for LlmIter<I>
where
    I: Iterator<Item = Result<T, E>>,
    T: Serialize,
    E: Display,
{
    type Item = Result<T, E>;

    fn next(&mut self) -> Option<Self::Item> {
        let inner = &mut self.inner;
        let out = in_call_frame(&mut self.call, || inner.next());
        observe(&mut self.call, out.as_ref(), record_chunk);
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
        let inner = this.inner;
        let out = in_call_frame(this.call, || inner.poll_next(cx));
        if let Poll::Ready(item) = &out {
            observe(this.call, item.as_ref(), |c, bytes: &B| {
                c.sse_bytes(bytes.as_ref())
            });
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

//! LLM calls as first-class spans: the prompt that went in, the reply and tool calls that
//! came out, tokens, time to first token, and the call that failed — from any client.
//!
//! - **JSON level** ([`LlmSpan::start_json`], [`trace_json`]): the request and response
//!   bodies of OpenAI chat completions (and every OpenAI-compatible server), OpenAI
//!   Responses and Anthropic Messages, as any `Serialize` value (`serde_json::Value`, a
//!   client's request type, ...).
//! - **Typed** ([`LlmCall`], [`Reply`]): describe the call with builders, for clients
//!   whose types are not provider JSON.
//! - **Streams** ([`LlmSpan::stream`], [`LlmSpan::iter`], [`LlmSpan::sse_stream`]):
//!   chunks accumulate into the span, time to first token is taken when the consumer
//!   pulls the first token, and the span ends when the stream ends, fails or is dropped.
//!
//! What each capture category removes is decided while the request and reply are read,
//! before the span's values are built (§10 of the LLM contract). A call that carries the
//! result of a tool call becomes the child of the LLM span that proposed it.

mod anthropic;
pub(crate) mod call;
mod continuation;
mod filter;
pub(crate) mod hook;
mod keep;
mod openai_chat;
mod openai_responses;
mod sse;
mod stream;
mod typed;
pub(crate) mod view;

use staso_types::GuardBlocked;
pub use staso_types::{Api, Usage};
pub use stream::{LlmIter, LlmStream, SseStream};
pub use typed::{LlmCall, Reply};

pub(crate) use call::Call;
pub(crate) use stream::short_type_name;

use crate::local::capture::to_value_safely;
use serde::Serialize;
use staso_types::{SpanId, TraceId};
use std::fmt::Display;
use std::future::Future;

/// An LLM call being recorded, from its request to its reply (or failure). It is `Send`;
/// dropping it ends the span (a non-streaming call without a reply is marked cancelled; a
/// stream keeps what it received).
///
/// ```
/// # fn main() -> Result<(), staso_core::GuardBlocked> {
/// use staso_core::llm::{Api, LlmSpan};
/// let request = serde_json::json!({
///     "model": "gpt-4o-mini",
///     "messages": [{"role": "user", "content": "Weather in Paris?"}],
/// });
/// let span = LlmSpan::start_json(Api::OpenAiChat, &request);
/// // let reply: serde_json::Value = http.post(url).json(&request).send()?.json()?;
/// let reply = serde_json::json!({"model": "gpt-4o-mini-2024-07-18",
///     "choices": [{"message": {"role": "assistant", "content": "Sunny."}, "finish_reason": "stop"}],
///     "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}});
/// span.finish_json(&reply)?; // named `chat:reply`, with tokens and output
/// # Ok(()) }
/// ```
#[must_use = "the call is recorded when its reply is given: finish_json / finish / fail"]
#[derive(Debug)]
pub struct LlmSpan {
    call: Option<Box<Call>>,
}

impl LlmSpan {
    pub(crate) fn off() -> LlmSpan {
        LlmSpan { call: None }
    }

    pub(crate) fn from_call(call: Option<Box<Call>>) -> LlmSpan {
        LlmSpan { call }
    }

    /// Starts recording a call whose request body (in `api`'s format) is `request`: a
    /// child of the current span (or of the span that proposed the tool calls whose
    /// results the request carries). `"stream": true` in the body makes it a streaming
    /// call.
    pub fn start_json<T: Serialize + ?Sized>(api: Api, request: &T) -> LlmSpan {
        if !crate::__private::enabled() {
            return LlmSpan::off();
        }
        LlmSpan {
            call: Call::from_json(api, &to_value_safely(request)),
        }
    }

    /// The provider, for an OpenAI-compatible server (`ollama`, `groq`, `vllm`, ...);
    /// the API's own (`openai`, `anthropic`) by default.
    pub fn set_provider(&mut self, provider: impl Into<String>) -> &mut Self {
        if let Some(c) = &mut self.call {
            c.set_provider(provider.into());
        }
        self
    }

    /// Records the reply body (in the call's format) and ends the span.
    ///
    /// `Err` when the guard blocked a tool call the reply proposes (guard checks on; see
    /// the Guard guide): do not run the reply's tool calls. The span already records the
    /// block. Always `Ok` when nothing is recorded or the guard is off.
    ///
    /// ```no_run
    /// # fn f(request: serde_json::Value, reply: serde_json::Value) -> Result<(), staso_core::GuardBlocked> {
    /// use staso_core::llm::{Api, LlmSpan};
    /// let span = LlmSpan::start_json(Api::OpenAiChat, &request);
    /// // ... send `request`, read `reply` ...
    /// span.finish_json(&reply)?;
    /// # Ok(()) }
    /// ```
    pub fn finish_json<T: Serialize + ?Sized>(mut self, response: &T) -> Result<(), GuardBlocked> {
        match &mut self.call {
            Some(c) => c.reply_json(&to_value_safely(response)).into_result(),
            None => Ok(()),
        }
    }

    /// Records a typed reply and ends the span; `Err` as for
    /// [`finish_json`](Self::finish_json).
    pub fn finish(mut self, reply: Reply) -> Result<(), GuardBlocked> {
        if let Some(c) = &mut self.call {
            if let Some(view) = reply.into_view(&c.policy) {
                return c.reply(view).into_result();
            }
        }
        Ok(())
    }

    /// Records the failure (status `error`, the message, `exception.type` = the error's
    /// type name) and ends the span. A stream keeps what it received before.
    pub fn fail<E: Display + ?Sized>(mut self, error: &E) {
        if let Some(c) = &mut self.call {
            c.fail(short_type_name::<E>(), error.to_string());
        }
    }

    /// [`fail`](Self::fail) with the error's kind named by you (`RateLimitError`,
    /// `APIConnectionError`, ...).
    pub fn fail_as(
        mut self,
        exception_type: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Display,
    ) {
        if let Some(c) = &mut self.call {
            c.fail(exception_type.into(), message.to_string());
        }
    }

    /// Feeds one streamed chunk or event (in the call's format) when you drive the
    /// stream yourself; [`end`](Self::end) (or dropping the span) records what they
    /// brought.
    pub fn event_json<T: Serialize + ?Sized>(&mut self, event: &T) {
        if let Some(c) = &mut self.call {
            c.streaming();
            c.event(&to_value_safely(event));
        }
    }

    /// Feeds the next bytes of a server-sent-events body, when you read it yourself.
    pub fn sse_bytes(&mut self, bytes: &[u8]) {
        if let Some(c) = &mut self.call {
            c.streaming();
            c.sse_bytes(bytes);
        }
    }

    /// Records time to first token now (typed streaming; the JSON-level API and the
    /// stream wrappers find the first token themselves).
    pub fn first_token(&mut self) {
        if let Some(c) = &mut self.call {
            c.first_token();
        }
    }

    /// Ends the span: a stream with what it received, a call without a reply as
    /// cancelled.
    pub fn end(self) {}

    /// Whether the call is recorded (tracing on, a client or a test capture).
    pub fn is_recording(&self) -> bool {
        self.call.is_some()
    }

    /// The span's trace id, when recorded.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.call.as_ref().and_then(|c| c.span.trace_id())
    }

    /// The span's id, when recorded.
    pub fn span_id(&self) -> Option<SpanId> {
        self.call.as_ref().and_then(|c| c.span.span_id())
    }

    fn into_streaming(self) -> Option<Box<Call>> {
        let mut call = self.call;
        if let Some(c) = &mut call {
            c.streaming();
            c.adopt();
        }
        call
    }

    /// Wraps the stream of chunks or events of this call: they pass through unchanged and
    /// accumulate into the span (content and tool calls by index, usage from the last
    /// chunk that has it, time to first token when the first token is pulled). The span
    /// is current while the stream is polled and, until the stream ends, the parent of
    /// spans the consuming code starts.
    pub fn stream<S>(self, stream: S) -> LlmStream<S> {
        LlmStream::new(self.into_streaming(), stream)
    }

    /// [`stream`](Self::stream) for a blocking iterator (or anything iterable).
    pub fn iter<I: IntoIterator>(self, iter: I) -> LlmIter<I::IntoIter> {
        LlmIter::new(self.into_streaming(), iter.into_iter())
    }

    /// Wraps the raw bytes of a streaming HTTP body (server-sent events), e.g.
    /// `response.bytes_stream()` of reqwest: passed through unchanged, read into the span.
    pub fn sse_stream<S>(self, body: S) -> SseStream<S> {
        SseStream::new(self.into_streaming(), body)
    }
}

/// Records one non-streaming call made by `call` with the request body `request`: the
/// reply (`Ok`) or the failure (`Err`, returned unchanged). One line around an HTTP call.
///
/// A guard block of a tool call the reply proposes is recorded on the span but cannot be
/// returned (`E` is the caller's error type): with guard checks on, use
/// [`LlmSpan::start_json`] and [`LlmSpan::finish_json`], which return it.
///
/// ```
/// # async fn demo() -> Result<(), std::io::Error> {
/// use staso_core::llm::{trace_json, Api};
/// let body = serde_json::json!({"model": "llama3.1", "messages": [{"role": "user", "content": "hi"}]});
/// let reply = trace_json(Api::OpenAiChat, &body, async {
///     // http.post(url).json(&body).send().await?.json::<serde_json::Value>().await
///     Ok::<_, std::io::Error>(serde_json::json!({"choices": []}))
/// })
/// .await?;
/// # let _ = reply; Ok(()) }
/// ```
pub async fn trace_json<Req, F, T, E>(api: Api, request: &Req, call: F) -> Result<T, E>
where
    Req: Serialize + ?Sized,
    F: Future<Output = Result<T, E>>,
    T: Serialize,
    E: Display,
{
    let span = LlmSpan::start_json(api, request);
    match call.await {
        Ok(reply) => {
            // A guard block stays on the span: `E` cannot carry it. Callers that must not
            // run blocked tool calls use `start_json` + `finish_json`, which return it.
            let _ = span.finish_json(&reply);
            Ok(reply)
        }
        Err(e) => {
            span.fail(&e);
            Err(e)
        }
    }
}

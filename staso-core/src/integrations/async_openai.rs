//! LLM spans for [async-openai](https://docs.rs/async-openai): chat completions (`create`,
//! `create_stream`), Responses (`create`, `create_stream`) and embeddings (`create`).
//!
//! One line changes: wrap the client. Every other call site stays as it is — the wrapper's
//! `chat()`, `responses()` and `embeddings()` shadow the client's, and everything else
//! goes through `Deref` to the client itself.
//!
//! ```no_run
//! # async fn demo() -> Result<(), async_openai::error::OpenAIError> {
//! use async_openai::types::chat::CreateChatCompletionRequestArgs;
//! let client = staso_core::integrations::async_openai::traced(async_openai::Client::new());
//! let request = CreateChatCompletionRequestArgs::default()
//!     .model("gpt-4o-mini")
//!     .messages(vec![])
//!     .build()?;
//! let reply = client.chat().create(request).await?; // an LLM span
//! # let _ = reply; Ok(()) }
//! ```
//!
//! Why a wrapper and not async-openai's tower hook (`with_http_service`): the library
//! reads a stream's SSE body in a task of its own (`tokio::spawn`), so at the HTTP layer
//! time to first token, the span's end and the spans nested "between chunks" would
//! describe that background reader, not the code consuming the stream as the contract
//! says. The wrapper sits where the caller pulls chunks. A span covers the whole call,
//! including the library's own retries (as the Python SDK's does); `Err` values are
//! returned unchanged.

use crate::llm::{self, hook::Outcome, Api, Call};
use crate::local::capture::to_value_safely;
use crate::local::instrument::in_frame;
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::traits::RequestOptionsBuilder;
use async_openai::types::chat::{
    ChatCompletionResponseStream, CreateChatCompletionRequest, CreateChatCompletionResponse,
};
use async_openai::types::embeddings::{CreateEmbeddingRequest, CreateEmbeddingResponse};
use async_openai::types::responses::{CreateResponse, Response, ResponseStream};
use async_openai::RequestOptions;
use futures_core::Stream;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Wraps an async-openai client so its chat completions, Responses and embeddings calls
/// are LLM spans.
pub fn traced<C: Config>(client: async_openai::Client<C>) -> Traced<C> {
    Traced { inner: client }
}

/// An async-openai client whose LLM calls are traced; see [`traced`]. Derefs to the
/// client for every other API group.
pub struct Traced<C: Config> {
    inner: async_openai::Client<C>,
}

impl<C: Config> Clone for Traced<C>
where
    async_openai::Client<C>: Clone,
{
    fn clone(&self) -> Self {
        Traced {
            inner: self.inner.clone(),
        }
    }
}

impl<C: Config> std::fmt::Debug for Traced<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traced").finish_non_exhaustive()
    }
}

impl<C: Config> From<async_openai::Client<C>> for Traced<C> {
    fn from(client: async_openai::Client<C>) -> Self {
        traced(client)
    }
}

impl<C: Config> Deref for Traced<C> {
    type Target = async_openai::Client<C>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<C: Config> Traced<C> {
    /// The wrapped client.
    pub fn into_inner(self) -> async_openai::Client<C> {
        self.inner
    }

    /// Chat completions, traced.
    pub fn chat(&self) -> Chat<'_, C> {
        Chat {
            inner: self.inner.chat(),
        }
    }

    /// Responses, traced.
    pub fn responses(&self) -> Responses<'_, C> {
        Responses {
            inner: self.inner.responses(),
        }
    }

    /// Embeddings, traced.
    pub fn embeddings(&self) -> Embeddings<'_, C> {
        Embeddings {
            inner: self.inner.embeddings(),
        }
    }
}

/// Implements `Deref` to the library's API group and its request-options builder.
macro_rules! group {
    ($name:ident) => {
        impl<'c, C: Config> Deref for $name<'c, C> {
            type Target = async_openai::$name<'c, C>;
            fn deref(&self) -> &Self::Target {
                &self.inner
            }
        }

        impl<'c, C: Config> DerefMut for $name<'c, C> {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.inner
            }
        }

        impl<'c, C: Config> RequestOptionsBuilder for $name<'c, C> {
            fn options_mut(&mut self) -> &mut RequestOptions {
                self.inner.options_mut()
            }
            fn options(&self) -> &RequestOptions {
                self.inner.options()
            }
        }
    };
}

/// The chat completions group of a [`Traced`] client; derefs to async-openai's `Chat`.
pub struct Chat<'c, C: Config> {
    inner: async_openai::Chat<'c, C>,
}
group!(Chat);

/// The Responses group of a [`Traced`] client; derefs to async-openai's `Responses`.
pub struct Responses<'c, C: Config> {
    inner: async_openai::Responses<'c, C>,
}
group!(Responses);

/// The embeddings group of a [`Traced`] client; derefs to async-openai's `Embeddings`.
pub struct Embeddings<'c, C: Config> {
    inner: async_openai::Embeddings<'c, C>,
}
group!(Embeddings);

/// `exception.type` of an async-openai error: the Python openai library's class name for
/// the same failure, so both SDKs' errors group together on the dashboard.
pub(crate) fn exception_type(e: &OpenAIError) -> &'static str {
    match e {
        OpenAIError::ApiError(r) => match r.status_code.as_u16() {
            400 => "BadRequestError",
            401 => "AuthenticationError",
            403 => "PermissionDeniedError",
            404 => "NotFoundError",
            409 => "ConflictError",
            422 => "UnprocessableEntityError",
            429 => "RateLimitError",
            s if s >= 500 => "InternalServerError",
            _ => "APIStatusError",
        },
        OpenAIError::Reqwest(e) if e.is_timeout() => "APITimeoutError",
        OpenAIError::Reqwest(_) | OpenAIError::StreamError(_) => "APIConnectionError",
        OpenAIError::JSONDeserialize(..) => "APIResponseValidationError",
        OpenAIError::InvalidArgument(_) => "InvalidArgument",
        _ => "OpenAIError",
    }
}

fn fail(call: &mut Option<Box<Call>>, e: &OpenAIError) {
    if let Some(c) = call {
        c.fail(Cow::Borrowed(exception_type(e)), e.to_string());
    }
}

/// Records a reply; the post-reply hook may turn it into an error.
fn reply<T: Serialize>(call: &mut Option<Box<Call>>, r: T) -> Result<T, OpenAIError> {
    if let Some(c) = call {
        if let Outcome::Block(blocked) = c.reply_json(&to_value_safely(&r)) {
            return Err(OpenAIError::InvalidArgument(blocked.to_string()));
        }
    }
    Ok(r)
}

/// Awaits the library's call `sent` while `call` records it: `done` takes the success in
/// (records a reply, or wraps a stream); an error fails the span and is returned unchanged.
async fn recorded<T, U>(
    mut call: Option<Box<Call>>,
    sent: impl Future<Output = Result<T, OpenAIError>>,
    done: impl FnOnce(&mut Option<Box<Call>>, T) -> Result<U, OpenAIError>,
) -> Result<U, OpenAIError> {
    match sent.await {
        Ok(r) => done(&mut call, r),
        Err(e) => {
            fail(&mut call, &e);
            Err(e)
        }
    }
}

/// Starts the span of a request (nothing when tracing is off: no serialization).
fn start<T: Serialize>(api: Api, request: &T, stream: bool) -> Option<Box<Call>> {
    if !crate::__private::enabled() {
        return None;
    }
    // Through the JSON text, as on the wire: a direct `to_value` widens the library's
    // `f32` parameters (0.2 becomes 0.20000000298023224).
    let mut body = serde_json::to_vec(request)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .unwrap_or_else(|| to_value_safely(request));
    if stream {
        if let Some(m) = body.as_object_mut() {
            m.insert("stream".into(), Value::Bool(true));
        }
    }
    Call::from_json(api, &body)
}

impl<C: Config> Chat<'_, C> {
    /// `Chat::create`, traced.
    pub async fn create(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, OpenAIError> {
        let call = start(Api::OpenAiChat, &request, false);
        recorded(call, self.inner.create(request), reply).await
    }

    /// `Chat::create_stream`, traced. Asks for usage in the stream
    /// (`stream_options.include_usage: true`) unless the request says otherwise.
    pub async fn create_stream(
        &self,
        mut request: CreateChatCompletionRequest,
    ) -> Result<ChatCompletionResponseStream, OpenAIError> {
        if crate::__private::enabled() {
            let mut options = request.stream_options.take().unwrap_or_default();
            options.include_usage.get_or_insert(true);
            request.stream_options = Some(options);
        }
        let call = start(Api::OpenAiChat, &request, true);
        recorded(call, self.inner.create_stream(request), |call, stream| {
            Ok(wrap(call.take(), stream))
        })
        .await
    }
}

impl<C: Config> Responses<'_, C> {
    /// `Responses::create`, traced.
    pub async fn create(&self, request: CreateResponse) -> Result<Response, OpenAIError> {
        let call = start(Api::OpenAiResponses, &request, false);
        recorded(call, self.inner.create(request), reply).await
    }

    /// `Responses::create_stream`, traced.
    pub async fn create_stream(
        &self,
        request: CreateResponse,
    ) -> Result<ResponseStream, OpenAIError> {
        let call = start(Api::OpenAiResponses, &request, true);
        recorded(call, self.inner.create_stream(request), |call, stream| {
            Ok(wrap(call.take(), stream))
        })
        .await
    }
}

impl<C: Config> Embeddings<'_, C> {
    /// `Embeddings::create`, traced: an `llm` span named `openai.embeddings.create` with
    /// the model, the input (capture category `request`), token usage, and the count and
    /// size of the vectors (the Python SDK does not trace embeddings).
    pub async fn create(
        &self,
        request: CreateEmbeddingRequest,
    ) -> Result<CreateEmbeddingResponse, OpenAIError> {
        let call = start_embeddings(&request);
        recorded(call, self.inner.create(request), |call, r| {
            if let Some(c) = call {
                let _ = c.reply(embeddings_reply(&r, &c.policy));
            }
            Ok(r)
        })
        .await
    }
}

fn start_embeddings(request: &CreateEmbeddingRequest) -> Option<Box<Call>> {
    let (policy, scope) = llm::call::recording_context()?;
    let body = to_value_safely(request);
    let mut view = llm::view::RequestView {
        model: request.model.clone(),
        ..Default::default()
    };
    view.input
        .insert("model".into(), Value::String(request.model.clone()));
    if policy.request {
        if let Some(input) = body.get("input") {
            view.input.insert("input".into(), input.clone());
        }
        for key in ["encoding_format", "dimensions"] {
            if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
                view.params.push((Cow::Borrowed(key), v.clone()));
            }
        }
    }
    Call::start(
        Api::OpenAiChat,
        view,
        policy,
        scope,
        None,
        Some(Cow::Borrowed("openai.embeddings.create")),
    )
}

fn embeddings_reply(
    r: &CreateEmbeddingResponse,
    p: &staso_types::CapturePolicy,
) -> llm::view::ReplyView {
    let mut out = Map::new();
    if p.output {
        out.insert("embeddings".into(), r.data.len().into());
        out.insert(
            "dimensions".into(),
            r.data.first().map_or(0, |e| e.embedding.len()).into(),
        );
    }
    let (i, t) = (
        u64::from(r.usage.prompt_tokens),
        u64::from(r.usage.total_tokens),
    );
    llm::view::ReplyView {
        model: Some(r.model.clone()).filter(|m| !m.is_empty()),
        output: (!out.is_empty()).then(|| json!(out)),
        usage: Some((i, 0, t)),
        ..Default::default()
    }
}

/// A library stream, traced, as the library's own stream type.
fn wrap<T>(
    call: Option<Box<Call>>,
    stream: Pin<Box<dyn Stream<Item = Result<T, OpenAIError>> + Send>>,
) -> Pin<Box<dyn Stream<Item = Result<T, OpenAIError>> + Send>>
where
    T: Serialize + Send + 'static,
{
    match call {
        None => stream,
        Some(mut c) => {
            c.streaming();
            c.adopt();
            Box::pin(TracedStream {
                call: Some(c),
                inner: stream,
                blocked: None,
            })
        }
    }
}

/// A chat or Responses stream whose span records its chunks (see `llm::LlmStream`); a
/// reply blocked by the post-reply hook ends with that error as its last item.
struct TracedStream<T> {
    call: Option<Box<Call>>,
    inner: Pin<Box<dyn Stream<Item = Result<T, OpenAIError>> + Send>>,
    blocked: Option<String>,
}

impl<T: Serialize> Stream for TracedStream<T> {
    type Item = Result<T, OpenAIError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(message) = this.blocked.take() {
            return Poll::Ready(Some(Err(OpenAIError::InvalidArgument(message))));
        }
        let Some(call) = this.call.as_mut() else {
            return this.inner.as_mut().poll_next(cx);
        };
        let inner = &mut this.inner;
        let out = in_frame(&mut call.span.inner, || inner.as_mut().poll_next(cx));
        match &out {
            Poll::Ready(Some(Ok(chunk))) => call.event(&to_value_safely(chunk)),
            Poll::Ready(Some(Err(e))) => {
                fail(&mut this.call, e);
                this.call = None;
            }
            Poll::Ready(None) => {
                let outcome = call.finish_stream();
                this.call = None;
                if let Outcome::Block(blocked) = outcome {
                    return Poll::Ready(Some(Err(OpenAIError::InvalidArgument(
                        blocked.to_string(),
                    ))));
                }
            }
            Poll::Pending => {}
        }
        out
    }
}

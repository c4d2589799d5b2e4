//! W3C trace context across services: the caller writes its current span into a
//! `traceparent` header ([`inject`]), the service it calls reads it ([`extract`]) and runs
//! the request inside it ([`scope`], [`attach`], [`continue_from`]), so the server's spans
//! are children of the caller's span in one trace.
//!
//! Carriers are `http::HeaderMap` (feature `http`), `HashMap<String, String>` and
//! `BTreeMap<String, String>`, or anything implementing [`Injector`] / [`Extractor`].
//!
//! A caller that did not record its trace sends flags `00`; spans that join such a
//! context are not recorded, and what they send on says `00` too.
//!
//! ```
//! use std::collections::HashMap;
//! // Client side, inside a span: the headers of the outgoing request.
//! let (_, spans) = staso_core::testing::capture(|| {
//!     let _call = staso_core::span("call-tool-server", staso_core::Kind::Tool);
//!     let mut headers: HashMap<String, String> = HashMap::new();
//!     staso_core::propagation::inject(&mut headers);
//!
//!     // Server side: the request runs inside the caller's context.
//!     let parent = staso_core::propagation::extract(&headers).expect("sent");
//!     let _joined = staso_core::propagation::attach(&parent);
//!     let _handler = staso_core::span("handle", staso_core::Kind::Chain);
//! });
//! let call = spans.named("call-tool-server");
//! assert_eq!(spans.named("handle").parent_span_id(), Some(call.span_id()));
//! ```

use crate::local::context::ScopeGuard;
use crate::local::remote::{self, StateHold};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use staso_types::{
    Extractor, Injector, TraceContext, TraceparentError, TRACEPARENT, TRACESTATE,
};

/// The context of the span current on this thread (or of the remote context it runs
/// in), to send to another service; `None` outside any span. Its `sampled` flag says
/// whether the span is recorded.
pub fn current() -> Option<TraceContext> {
    let (trace, span, recording) = remote::current_link()?;
    let ctx = TraceContext::new(trace, span, recording);
    Some(match remote::tracestate(trace) {
        Some(ts) => ctx.with_tracestate(ts),
        None => ctx,
    })
}

/// Writes the current context into `carrier` as `traceparent` (and `tracestate` when the
/// trace came in with one). Returns whether anything was written: nothing is outside
/// any span.
///
/// With the `http` feature, `carrier` can be the `http::HeaderMap` of a reqwest request:
/// `let mut h = HeaderMap::new(); inject(&mut h); client.post(url).headers(h)`.
pub fn inject<C: Injector + ?Sized>(carrier: &mut C) -> bool {
    match current() {
        Some(ctx) => {
            ctx.inject_into(carrier);
            true
        }
        None => false,
    }
}

/// Reads the caller's context from `carrier`. `None` when there is no `traceparent` or
/// it is not valid (the reason is logged at debug level: a malformed header from a
/// client is no reason to fail its request). [`TraceContext::from_carrier`] returns
/// the error instead.
pub fn extract<C: Extractor + ?Sized>(carrier: &C) -> Option<TraceContext> {
    match TraceContext::from_carrier(carrier) {
        Ok(ctx) => ctx,
        Err(e) => {
            crate::diag::debug(&format!("ignoring an incoming {e}"));
            None
        }
    }
}

/// Makes `parent` the context of this thread until the guard is dropped: spans started
/// meanwhile are its children (or are not recorded, when `parent` is not sampled).
/// For synchronous code; in async code use [`scope`].
pub fn attach(parent: &TraceContext) -> RemoteGuard {
    RemoteGuard {
        _state: StateHold::new(parent),
        _scope: ScopeGuard::enter(remote::joining(parent)),
    }
}

/// Runs `fut` inside `parent` (on every poll, on whatever thread polls it).
///
/// ```
/// # async fn handle() -> u16 { 200 }
/// # async fn demo(headers: std::collections::HashMap<String, String>) {
/// use staso_core::propagation;
/// let status = match propagation::extract(&headers) {
///     Some(parent) => propagation::scope(&parent, handle()).await,
///     None => handle().await,
/// };
/// # }
/// ```
pub fn scope<F: Future>(parent: &TraceContext, fut: F) -> Joined<F> {
    Joined {
        parent: Some(parent.clone()),
        _state: StateHold::new(parent),
        fut,
    }
}

/// Runs `fut` inside the context found in `carrier`, or as it is when there is none: the
/// one line a request handler needs.
///
/// ```
/// # async fn handle() -> u16 { 200 }
/// # async fn demo(headers: std::collections::HashMap<String, String>) {
/// let status = staso_core::propagation::continue_from(&headers, handle()).await;
/// # }
/// ```
pub fn continue_from<C: Extractor + ?Sized, F: Future>(carrier: &C, fut: F) -> Joined<F> {
    match extract(carrier) {
        Some(parent) => scope(&parent, fut),
        None => Joined {
            parent: None,
            _state: StateHold::none(),
            fut,
        },
    }
}

/// Keeps a remote context current on this thread; see [`attach`]. Not `Send`.
#[must_use = "the context is current only while the guard lives"]
pub struct RemoteGuard {
    // Dropped in this order: the frame first, then the tracestate.
    _scope: ScopeGuard,
    _state: StateHold,
}

impl std::fmt::Debug for RemoteGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemoteGuard")
    }
}

pin_project_lite::pin_project! {
    /// A future that runs inside a remote context; see [`scope`]. What the remote
    /// context does not say (where spans go, the conversation) comes from where it is
    /// polled.
    pub struct Joined<F> {
        parent: Option<TraceContext>,
        _state: StateHold,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for Joined<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _scope = this
            .parent
            .as_ref()
            .map(|p| ScopeGuard::enter(remote::joining(p)));
        this.fut.poll(cx)
    }
}

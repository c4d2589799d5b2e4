//! W3C trace context across services: the caller writes its current span into a
//! `traceparent` header ([`inject`]), the service it calls reads it ([`extract`]) and
//! runs the request inside it ([`continue_from`], [`scope`], [`attach`]), so the
//! server's spans are children of the caller's span, in one trace.
//!
//! Carriers: `http::HeaderMap` (feature `http`: reqwest, axum, hyper), `HashMap<String,
//! String>`, `BTreeMap<String, String>`, or your own [`Injector`] / [`Extractor`].
//!
//! ```
//! use std::collections::HashMap;
//! # async fn call_tool_server(headers: HashMap<String, String>) {}
//! # async fn handle() {}
//! #[staso::tool]
//! async fn search(query: String) {
//!     let mut headers: HashMap<String, String> = HashMap::new();
//!     staso::propagation::inject(&mut headers); // traceparent: 00-<trace>-<this span>-01
//!     call_tool_server(headers).await;
//! }
//!
//! // In the tool server's request handler:
//! # async fn server(headers: HashMap<String, String>) {
//! staso::propagation::continue_from(&headers, handle()).await;
//! # }
//! ```
//!
//! Without the `enable` feature these are inline no-ops (nothing is injected, contexts
//! are parsed but joined by nothing).

pub use staso_types::{
    Extractor, Injector, TraceContext, TraceparentError, TRACEPARENT, TRACESTATE,
};

#[cfg(feature = "enable")]
pub use staso_core::propagation::{
    attach, continue_from, current, extract, inject, scope, Joined, RemoteGuard,
};

#[cfg(not(feature = "enable"))]
pub use off::*;

#[cfg(not(feature = "enable"))]
mod off {
    use super::{Extractor, Injector, TraceContext};
    use std::future::Future;
    use std::marker::PhantomData;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Always `None` in this build (there are no spans).
    #[inline(always)]
    pub fn current() -> Option<TraceContext> {
        None
    }

    /// Writes nothing in this build; returns `false`.
    #[inline(always)]
    pub fn inject<C: Injector + ?Sized>(carrier: &mut C) -> bool {
        false
    }

    /// Parses the caller's context (the same in both builds); nothing joins it here.
    #[inline]
    pub fn extract<C: Extractor + ?Sized>(carrier: &C) -> Option<TraceContext> {
        TraceContext::from_carrier(carrier).ok().flatten()
    }

    /// Does nothing in this build.
    #[inline(always)]
    pub fn attach(parent: &TraceContext) -> RemoteGuard {
        RemoteGuard(PhantomData)
    }

    /// Returns the future, wrapped in nothing that costs.
    #[inline(always)]
    pub fn scope<F: Future>(parent: &TraceContext, fut: F) -> Joined<F> {
        Joined { fut }
    }

    /// Returns the future, wrapped in nothing that costs.
    #[inline(always)]
    pub fn continue_from<C: Extractor + ?Sized, F: Future>(carrier: &C, fut: F) -> Joined<F> {
        Joined { fut }
    }

    /// A remote context kept current (inert in this build). Not `Send`, as in the
    /// enabled build.
    #[must_use = "the context is current only while the guard lives"]
    #[derive(Debug)]
    pub struct RemoteGuard(PhantomData<*const ()>);

    pin_project_lite::pin_project! {
        /// A future inside a remote context (inert in this build: polls the future).
        pub struct Joined<F> {
            #[pin]
            fut: F,
        }
    }

    impl<F: Future> Future for Joined<F> {
        type Output = F::Output;
        #[inline(always)]
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            self.project().fut.poll(cx)
        }
    }
}

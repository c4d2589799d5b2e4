//! The behaviour of the public API as inline no-ops, for builds without the `enable`
//! feature: the same names and signatures as the runtime's, so user code needs no `cfg`,
//! and nothing that would pull in a runtime dependency. The plain data types are not
//! here: they come from `staso-types` in both builds. `scripts/api_parity.sh` checks that
//! the two builds expose the same items.

use serde::Serialize;
use staso_types::{
    Annotation, AnnotationError, AnnotationValue, DecisionId, DeliveryReport, GuardResult,
    InitError, Kind, Options, Registered, SpanId, Status, TraceId,
};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

// Markers that give the no-op types the auto traits of the runtime's (checked by
// scripts/api_parity.sh), so code that compiles in one build compiles in the other.
/// `Send + Sync`, not unwind-safe (the runtime's hold hooks and shared state).
type NotUnwindSafe = PhantomData<Box<dyn Fn() + Send + Sync>>;
/// Neither `Send` nor `Sync` (the runtime's guards refer to this thread's span stack).
type ThisThread = PhantomData<*const ()>;

/// A running client (inert in this build).
#[must_use = "dropping the client shuts it down; keep it alive while the program runs"]
#[derive(Debug)]
pub struct Client(NotUnwindSafe);

impl Drop for Client {
    #[inline(always)]
    fn drop(&mut self) {}
}

impl Client {
    /// Reports `disabled` at once.
    #[inline(always)]
    pub fn flush(&self, timeout: Duration) -> DeliveryReport {
        DeliveryReport::disabled()
    }
    /// Reports `disabled` at once.
    #[inline(always)]
    pub fn shutdown(&self, timeout: Duration) -> DeliveryReport {
        DeliveryReport::disabled()
    }
    /// Always `None`.
    #[inline(always)]
    pub fn previous_shutdown_report(&self) -> Option<&DeliveryReport> {
        None
    }
}

/// Does nothing; never fails in this build.
#[inline(always)]
pub fn init(options: Options) -> Result<Client, InitError> {
    Ok(Client(PhantomData))
}

/// Reports `disabled` at once.
#[inline(always)]
pub fn flush(timeout: Duration) -> DeliveryReport {
    DeliveryReport::disabled()
}

/// Reports `disabled` at once.
#[inline(always)]
pub fn shutdown(timeout: Duration) -> DeliveryReport {
    DeliveryReport::disabled()
}

/// Empty in this build (the attributes register nothing).
#[inline(always)]
pub fn registry() -> Vec<&'static Registered> {
    Vec::new()
}

/// `trace_id` and `span_id` of a span that is never recorded (the span types here and
/// `llm::LlmSpan`).
macro_rules! no_ids {
    () => {
        /// Always `None`.
        #[inline(always)]
        pub fn trace_id(&self) -> Option<TraceId> {
            None
        }
        /// Always `None`.
        #[inline(always)]
        pub fn span_id(&self) -> Option<SpanId> {
            None
        }
    };
}
pub(crate) use no_ids;

macro_rules! noop_setters {
    ($ty:ty) => {
        impl $ty {
            /// No-op.
            #[inline(always)]
            pub fn set_input<T: Serialize + ?Sized>(&mut self, input: &T) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_output<T: Serialize + ?Sized>(&mut self, output: &T) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_metadata<T: Serialize + ?Sized>(
                &mut self,
                key: impl Into<String>,
                value: &T,
            ) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn add_tag(&mut self, tag: impl Into<String>) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_name(&mut self, name: impl Into<String>) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_status(&mut self, status: Status) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_error<E: fmt::Display + ?Sized>(&mut self, error: &E) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_model(&mut self, model: impl Into<String>) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_provider(&mut self, provider: impl Into<String>) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_reasoning_effort(&mut self, effort: impl Into<String>) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_usage(&mut self, input_tokens: u64, output_tokens: u64) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_usage_total(
                &mut self,
                input_tokens: u64,
                output_tokens: u64,
                total_tokens: u64,
            ) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn set_exception(
                &mut self,
                exception_type: impl Into<Cow<'static, str>>,
                message: impl Into<String>,
            ) -> &mut Self {
                self
            }
            /// No-op.
            #[inline(always)]
            pub fn discard(&mut self) {}
            /// Does nothing (nothing is sent in this build).
            #[inline(always)]
            pub fn annotate(
                &self,
                name: impl Into<String>,
                value: impl Into<AnnotationValue>,
            ) -> Result<(), AnnotationError> {
                Ok(())
            }
            /// Does nothing (nothing is sent in this build).
            #[inline(always)]
            pub fn annotate_with(&self, annotation: Annotation) -> Result<(), AnnotationError> {
                Ok(())
            }
            no_ids!();
        }
    };
}

/// An entered span (inert in this build).
#[must_use = "the span ends when this guard is dropped"]
pub struct SpanGuard(ThisThread);

impl Drop for SpanGuard {
    #[inline(always)]
    fn drop(&mut self) {}
}

impl SpanGuard {
    /// Always false.
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        false
    }
}

noop_setters!(SpanGuard);

/// Does nothing.
#[inline(always)]
pub fn span(name: impl Into<Cow<'static, str>>, kind: Kind) -> SpanGuard {
    SpanGuard(PhantomData)
}

/// A span not yet entered (inert in this build).
#[must_use = "a span is sent when it ends: enter it or instrument a future with it"]
pub struct Span(NotUnwindSafe);

impl Drop for Span {
    #[inline(always)]
    fn drop(&mut self) {}
}

impl Span {
    /// Does nothing.
    #[inline(always)]
    pub fn new(name: impl Into<Cow<'static, str>>, kind: Kind) -> Span {
        Span(PhantomData)
    }
    /// Does nothing.
    #[inline(always)]
    pub fn entered(self) -> SpanGuard {
        SpanGuard(PhantomData)
    }
    /// Returns the future, wrapped in nothing that costs.
    #[inline(always)]
    pub fn instrument<F: Future>(self, fut: F) -> Instrumented<F> {
        Instrumented { span: self, fut }
    }
    /// Always false.
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        false
    }
}

noop_setters!(Span);

/// The innermost span (inert in this build).
pub struct CurrentSpan(ThisThread);

/// Does nothing.
#[inline(always)]
pub fn current_span() -> CurrentSpan {
    CurrentSpan(PhantomData)
}

noop_setters!(CurrentSpan);

/// A conversation (inert in this build).
#[must_use = "a conversation does nothing until `.run(..)` or `.scope(..)`"]
#[derive(Debug, Clone)]
pub struct ConversationBuilder {
    id: String,
}

/// Keeps the id (for [`ConversationBuilder::id`]); nothing else.
#[inline(always)]
pub fn conversation(id: impl Into<String>) -> ConversationBuilder {
    ConversationBuilder { id: id.into() }
}

/// A conversation whose id is empty in this build (no random ids are drawn).
#[inline(always)]
pub fn new_conversation() -> ConversationBuilder {
    ConversationBuilder { id: String::new() }
}

impl ConversationBuilder {
    /// Does nothing.
    #[inline(always)]
    pub fn user_id(self, user: impl Into<String>) -> Self {
        self
    }
    /// The id given to [`conversation`].
    #[inline(always)]
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Runs `f`.
    #[inline(always)]
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        f()
    }
    /// Returns the future, wrapped in nothing that costs.
    #[inline(always)]
    pub fn scope<F: Future>(self, fut: F) -> WithContext<F> {
        WithContext {
            marker: PhantomData,
            fut,
        }
    }
}

pin_project_lite::pin_project! {
    /// A future with a span (inert in this build: polls the future, nothing else).
    pub struct Instrumented<F> {
        span: Span,
        #[pin]
        fut: F,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        #[inline(always)]
        fn drop(this: Pin<&mut Self>) {}
    }
}

impl<F> Instrumented<F> {
    /// The span, to set fields on before the first poll.
    #[inline(always)]
    pub fn span_mut(&mut self) -> &mut Span {
        &mut self.span
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().fut.poll(cx)
    }
}

pin_project_lite::pin_project! {
    /// A future in a context (inert in this build: polls the future, nothing else).
    pub struct WithContext<F> {
        marker: NotUnwindSafe,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().fut.poll(cx)
    }
}

/// Binds a future to the current context (inert in this build).
pub trait InstrumentExt: Future + Sized {
    /// Returns the future, wrapped in nothing that costs.
    #[inline(always)]
    fn in_current_context(self) -> WithContext<Self> {
        WithContext {
            marker: PhantomData,
            fut: self,
        }
    }
}

impl<F: Future> InstrumentExt for F {}

/// Returns `f` unchanged.
#[inline(always)]
pub fn bind_current<R>(f: impl FnOnce() -> R) -> impl FnOnce() -> R {
    f
}

/// Does nothing (nothing is sent in this build).
#[inline(always)]
pub fn annotate(
    trace_id: TraceId,
    name: impl Into<String>,
    value: impl Into<AnnotationValue>,
) -> Result<(), AnnotationError> {
    Ok(())
}

/// Does nothing (nothing is sent in this build).
#[inline(always)]
pub fn annotate_with(trace_id: TraceId, annotation: Annotation) -> Result<(), AnnotationError> {
    Ok(())
}

/// The options of a guard check (inert in this build).
#[derive(Debug, Clone, Default)]
#[must_use = "options do nothing until given to `guard_with` or `guard_blocking_with`"]
pub struct GuardOptions(());

impl GuardOptions {
    /// No options.
    #[inline(always)]
    pub fn new() -> Self {
        GuardOptions(())
    }
    /// Ignored in this build.
    #[inline(always)]
    pub fn context<T: Serialize + ?Sized>(self, key: impl Into<String>, value: &T) -> Self {
        self
    }
    /// Ignored in this build.
    #[inline(always)]
    pub fn decision_id(self, id: DecisionId) -> Self {
        self
    }
    /// Ignored in this build.
    #[inline(always)]
    pub fn timeout(self, timeout: Duration) -> Self {
        self
    }
    /// Ignored in this build.
    #[inline(always)]
    pub fn fail_closed(self, fail_closed: bool) -> Self {
        self
    }
}

/// Compiled out: nothing is checked. Answers at once with an allow whose evaluation is
/// `skipped` ([`GuardResult::compiled_out`]).
#[inline(always)]
pub fn guard<T: Serialize + ?Sized>(
    tool_name: &str,
    input: &T,
) -> impl Future<Output = GuardResult> + Send + 'static {
    std::future::ready(GuardResult::compiled_out(tool_name))
}

/// Compiled out: nothing is checked (see [`guard`]).
#[inline(always)]
pub fn guard_with<T: Serialize + ?Sized>(
    tool_name: &str,
    input: &T,
    options: GuardOptions,
) -> impl Future<Output = GuardResult> + Send + 'static {
    std::future::ready(GuardResult::compiled_out(tool_name))
}

/// Compiled out: nothing is checked (see [`guard`]).
#[inline(always)]
pub fn guard_blocking<T: Serialize + ?Sized>(tool_name: &str, input: &T) -> GuardResult {
    GuardResult::compiled_out(tool_name)
}

/// Compiled out: nothing is checked (see [`guard`]).
#[inline(always)]
pub fn guard_blocking_with<T: Serialize + ?Sized>(
    tool_name: &str,
    input: &T,
    options: GuardOptions,
) -> GuardResult {
    GuardResult::compiled_out(tool_name)
}

//! What the attribute macros expand to. Not a stable API: only the macros call it.

pub use crate::local::capture::{Capture, CaptureDebug, CaptureOpaque, CaptureSerialize};
pub use crate::local::record::CallSite;
pub use crate::registry::Entry;
pub use inventory;
pub use serde_json;
pub use staso_types::{Kind, Options, Registered};

use crate::local::context::{self, Frame};
use crate::local::instrument::Instrumented;
use crate::local::lifecycle::{announce, open, records};
use crate::local::record::{SharedStr, SpanRecord};
use crate::local::span::{Span, SpanGuard};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::future::Future;

/// Bytes of one queued span in the queue and the batcher (`size_of` of the record; what
/// it captured lives behind a pointer). For the benchmarks' memory bound.
pub const SPAN_RECORD_BYTES: usize = std::mem::size_of::<SpanRecord>();

/// The one check the disabled path pays: a relaxed load or two, no TLS.
#[inline(always)]
pub fn enabled() -> bool {
    crate::client::active() || crate::testing::capturing()
}

/// Decides, once per call, whether arguments and result are captured. A function whose
/// attribute captures nothing does not look at the policy at all.
#[inline]
fn wants(cs: &'static CallSite, sink: Option<&dyn context::Sink>) -> (bool, bool) {
    if !cs.capture_input && !cs.capture_output {
        return (false, false);
    }
    let policy = match sink {
        Some(s) => Some(s.config().capture),
        None => crate::client::with_config(|c| c.capture),
    };
    let Some(p) = policy else {
        return (false, false);
    };
    (
        cs.capture_input && p.allows_input(cs.kind),
        cs.capture_output && p.allows_output(),
    )
}

/// Fields common to the sync and async forms, set while the span is being opened.
struct Opening {
    input: Option<Map<String, Value>>,
    want_in: bool,
    want_out: bool,
}

impl Opening {
    const OFF: Opening = Opening {
        input: None,
        want_in: false,
        want_out: false,
    };

    /// Adds an argument to the input being built (nothing when input is not captured).
    fn arg(&mut self, name: &'static str, value: Value) {
        if let Some(m) = &mut self.input {
            m.insert(name.to_string(), value);
        }
    }

    fn new(cs: &'static CallSite, ctx: &context::Ctx) -> Opening {
        let (want_in, want_out) = wants(cs, ctx.sink.as_deref());
        let input = want_in.then(|| {
            let mut m = Map::new();
            if cs.kind == Kind::Agent {
                m.insert("agent_name".into(), Value::String(cs.name.to_string()));
            }
            m
        });
        Opening {
            input,
            want_in,
            want_out,
        }
    }
}

/// A sync function's span: current on this thread from `enter` until dropped.
pub struct FnSpan {
    guard: SpanGuard,
    opening: Opening,
    /// A root span: `opened` sends its provisional copy.
    root: bool,
}

impl FnSpan {
    const OFF: FnSpan = FnSpan {
        guard: SpanGuard::OFF,
        opening: Opening::OFF,
        root: false,
    };
}

/// Opens the span of a sync instrumented function and makes it current. When tracing is
/// off this is two relaxed loads and a branch, inlined into the caller.
#[inline]
pub fn enter(cs: &'static CallSite) -> FnSpan {
    if enabled() {
        enter_recording(cs)
    } else {
        FnSpan::OFF
    }
}

/// `enter` with tracing on: the inherited context is read, the record built and its frame
/// pushed in one visit of the per-thread stack; nothing is cloned but what the child keeps.
fn enter_recording(cs: &'static CallSite) -> FnSpan {
    let opened = context::push_child(|parent| {
        if !records(parent) {
            return None;
        }
        // Decided on the parent (the child has the same sink), before the record exists:
        // the new context must not be lent to a call, or it is built aside and copied.
        let opening = if cs.capture_input || cs.capture_output {
            Opening::new(cs, parent)
        } else {
            Opening::OFF
        };
        let (record, ctx) = open(parent, SharedStr::Static(cs.name), cs.kind, Some(cs))?;
        let id = record.span_id;
        let root = record.parent.is_none();
        let frame = Frame {
            ctx,
            record: Some(record),
        };
        Some((frame, (id, root, opening)))
    });
    match opened {
        Some((depth, (id, root, opening))) => FnSpan {
            guard: SpanGuard::on_stack(depth, id),
            opening,
            root,
        },
        None => FnSpan::OFF,
    }
}

impl FnSpan {
    /// Whether arguments are captured for this call.
    #[inline]
    pub fn wants_input(&self) -> bool {
        self.opening.want_in
    }
    /// Whether the result is captured for this call.
    #[inline]
    pub fn wants_output(&self) -> bool {
        self.opening.want_out
    }
    /// Whether the span is recorded at all.
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.guard.is_recording()
    }
    /// Adds an argument to the input.
    pub fn arg(&mut self, name: &'static str, value: Value) {
        self.opening.arg(name, value);
    }
    /// Adds a metadata attribute.
    pub fn metadata(&mut self, key: &'static str, value: Value) {
        if self.is_recording() {
            self.guard.set_metadata(key, &value);
        }
    }
    /// Ends the opening: the input is stored and a root's provisional copy is sent. A
    /// nested span with no input has nothing to do here.
    #[inline]
    pub fn opened(&mut self) {
        if self.opening.input.is_some() || self.root {
            self.store_opening();
        }
    }

    fn store_opening(&mut self) {
        let input = self.opening.input.take();
        if let Some(id) = self.guard.id() {
            current_frame(id, |record, ctx| {
                if let Some(m) = input {
                    record.extras().input = Some(Value::Object(m));
                }
                announce(record, ctx);
            });
        }
    }
}

fn current_frame(id: staso_types::SpanId, f: impl FnOnce(&mut SpanRecord, &context::Ctx)) {
    context::with_frame(id, |frame: &mut Frame| {
        if let Some(r) = frame.record.as_mut() {
            f(r, &frame.ctx)
        }
    });
}

/// An async function's span: built at the first poll, then carried by the future.
pub struct AsyncFnSpan {
    span: Span,
    opening: Opening,
}

/// Opens the span of an async instrumented function (not current until instrumented).
#[inline]
pub fn start(cs: &'static CallSite) -> AsyncFnSpan {
    if enabled() {
        start_recording(cs)
    } else {
        AsyncFnSpan {
            span: Span::from_parts(None),
            opening: Opening::OFF,
        }
    }
}

fn start_recording(cs: &'static CallSite) -> AsyncFnSpan {
    let started =
        context::with_current(|parent| open(parent, SharedStr::Static(cs.name), cs.kind, Some(cs)));
    let opening = match &started {
        Some((_, ctx)) => Opening::new(cs, ctx),
        None => Opening::OFF,
    };
    AsyncFnSpan {
        span: Span::from_parts(started),
        opening,
    }
}

impl AsyncFnSpan {
    /// Whether the span is recorded at all.
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.span.is_recording()
    }
    /// Whether arguments are captured for this call.
    #[inline]
    pub fn wants_input(&self) -> bool {
        self.opening.want_in
    }
    /// Whether the result is captured for this call.
    #[inline]
    pub fn wants_output(&self) -> bool {
        self.opening.want_out
    }
    /// Adds an argument to the input.
    pub fn arg(&mut self, name: &'static str, value: Value) {
        self.opening.arg(name, value);
    }
    /// Adds a metadata attribute.
    pub fn metadata(&mut self, key: &'static str, value: Value) {
        if self.span.is_recording() {
            self.span.set_metadata(key, &value);
        }
    }
    /// Stores the input, sends a root's provisional copy, and wraps the body.
    pub fn instrument<F: Future>(mut self, fut: F) -> Instrumented<F> {
        if let Some((record, ctx)) = &mut self.span.inner {
            if let Some(m) = self.opening.input.take() {
                record.extras().input = Some(Value::Object(m));
            }
            announce(record, ctx);
        }
        self.span.instrument(fut)
    }
}

/// Records a returned value as the output `{"result": value}` of the current span.
pub fn record_output(value: Value) {
    context::with_innermost_record(|r| {
        let mut m = Map::new();
        m.insert("result".into(), value);
        r.extras().output = Some(Value::Object(m));
    });
}

/// Records an `Err` on the current span: status `error`, its message, and its type name as
/// `exception.type`.
pub fn record_error<E: ?Sized>(message: String, _err: &E) {
    let ty = short_type_name(std::any::type_name::<E>());
    context::with_innermost_record(|r| {
        r.status = staso_types::Status::Error;
        let e = r.extras();
        e.error_message = Some(message);
        e.exception_type = Some(Cow::Owned(ty));
    });
}

/// `std::io::error::Error` → `io::Error`-like short names are ambiguous; keep the full
/// path but drop the `alloc::`/`core::` prefixes rustc adds for std types.
fn short_type_name(full: &str) -> String {
    full.replace("alloc::", "").replace("core::", "")
}

/// An error's message: `Display` when it has one, else `Debug`, else a placeholder.
pub struct ErrorText<'a, T: ?Sized>(pub &'a T);

/// Chosen for `Display` errors.
pub trait ErrorDisplay {
    /// The message.
    fn __staso_error_text(&self) -> String;
}
/// Chosen for `Debug`-only errors.
pub trait ErrorDebug {
    /// The message.
    fn __staso_error_text(&self) -> String;
}
/// Chosen for anything else.
pub trait ErrorOpaque {
    /// The message.
    fn __staso_error_text(&self) -> String;
}
impl<T: std::fmt::Display + ?Sized> ErrorDisplay for &&ErrorText<'_, T> {
    fn __staso_error_text(&self) -> String {
        self.0.to_string()
    }
}
impl<T: std::fmt::Debug + ?Sized> ErrorDebug for &ErrorText<'_, T> {
    fn __staso_error_text(&self) -> String {
        format!("{:?}", self.0)
    }
}
impl<T: ?Sized> ErrorOpaque for ErrorText<'_, T> {
    fn __staso_error_text(&self) -> String {
        format!("<{}>", std::any::type_name::<T>())
    }
}

/// Keeps the client of `#[staso::main]` alive until `main` returns (or unwinds), then
/// shuts it down within its `shutdown_timeout`.
pub struct MainGuard {
    _client: crate::client::Client,
}

/// Initialises from the `#[staso::main]` attribute's options; on a configuration error,
/// prints it and exits with status 1 before `main`'s body runs.
pub fn main_init(options: Options) -> MainGuard {
    match crate::client::init(options) {
        Ok(client) => MainGuard { _client: client },
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{e}");
            }
            std::process::exit(1)
        }
    }
}

/// The git facts baked in at compile time; `None` outside a checkout.
pub fn baked_git(
    sha: &str,
    branch: &str,
    dirty: bool,
    repo_url: &str,
) -> Option<staso_types::GitContext> {
    (!sha.is_empty()).then(|| staso_types::GitContext {
        commit_sha: sha.to_string(),
        branch: branch.to_string(),
        repo_url: repo_url.to_string(),
        is_dirty: dirty,
    })
}

/// Runs an `async fn main` on a multi-thread tokio runtime (for `#[staso::main]` without
/// `#[tokio::main]`).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => panic!("staso: cannot start a tokio runtime for async main: {e}"),
    }
}

/// The arguments `#[staso::tool(guard)]` sends to the guard: those the span would capture
/// (`skip` and `capture_input = false` apply), when the capture policy lets tool
/// arguments leave the process.
pub struct GuardInput {
    name: &'static str,
    input: Option<Map<String, Value>>,
}

impl GuardInput {
    /// Decides, once per call, whether arguments are collected.
    #[inline]
    pub fn new(cs: &'static CallSite) -> GuardInput {
        let policy = context::with_current(|ctx| match &ctx.sink {
            Some(s) => Some(s.config().capture),
            None => crate::client::with_config(|c| c.capture),
        });
        let wanted = cs.capture_input && policy.map_or(true, |p| p.tool_arguments);
        GuardInput {
            name: cs.name,
            input: wanted.then(Map::new),
        }
    }

    /// Whether arguments are collected for this call.
    #[inline]
    pub fn wants_args(&self) -> bool {
        self.input.is_some()
    }

    /// Adds an argument.
    pub fn arg(&mut self, name: &'static str, value: Value) {
        if let Some(m) = &mut self.input {
            m.insert(name.to_string(), value);
        }
    }

    fn input(&mut self) -> Value {
        Value::Object(self.input.take().unwrap_or_default())
    }

    /// The check, on this thread: `Err` when the tool must not run.
    pub fn check_blocking(mut self) -> Result<(), staso_types::GuardBlocked> {
        let input = self.input();
        crate::guard::tool_check_blocking(self.name, input)
    }

    /// The check, as a future: `Err` when the tool must not run.
    pub fn check(
        mut self,
    ) -> impl Future<Output = Result<(), staso_types::GuardBlocked>> + Send + 'static {
        let input = self.input();
        crate::guard::tool_check(self.name, input)
    }
}

/// The error type a `#[staso::tool(guard)]` function returns must be able to carry a
/// blocked call.
#[diagnostic::on_unimplemented(
    message = "`#[staso::tool(guard)]` returns `Err(staso::GuardBlocked)` converted with `From`, and `{Self}` has no `From<staso::GuardBlocked>`",
    label = "this error type cannot carry a `staso::GuardBlocked`",
    note = "implement `From<staso::GuardBlocked>` for it, or return `Result<_, Box<dyn std::error::Error + Send + Sync>>` or `anyhow::Result<_>`"
)]
pub trait FromGuardBlocked {
    /// The error for a blocked call.
    fn from_guard_blocked(blocked: staso_types::GuardBlocked) -> Self;
}

impl<E: From<staso_types::GuardBlocked>> FromGuardBlocked for E {
    #[inline]
    fn from_guard_blocked(blocked: staso_types::GuardBlocked) -> Self {
        E::from(blocked)
    }
}

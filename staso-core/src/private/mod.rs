//! What the attribute macros expand to. Not a stable API: only the macros call it.

pub use crate::local::capture::{
    Capture, CaptureDebug, CaptureOpaque, CaptureScalar, CaptureSerialize, Input, Out,
    SiteDecision, TextOut,
};
pub use crate::local::record::CallSite;
pub use crate::registry::Entry;
pub use inventory;
pub use serde_json;
pub use staso_types::{Kind, Options, Registered};

use crate::local::capture::{self, RulesHandle};
use crate::local::context::{self, Frame};
use crate::local::instrument::Instrumented;
use crate::local::lifecycle::{announce, open, open_into, records};
use crate::local::record::{ExtrasBox, Field, SharedStr, SpanRecord};
use crate::local::span::{Span, SpanGuard};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;

/// Bytes of one queued span in the queue and the batcher (`size_of` of the record; what
/// it captured lives behind a pointer). For the benchmarks' memory bound.
pub const SPAN_RECORD_BYTES: usize = std::mem::size_of::<SpanRecord>();

/// Bytes the SDK keeps for spans at the bound: `threads` threads ending spans, a queue
/// of `max_queue_size` full, batches of `batch_size` spans of `span_json_bytes` each on
/// the wire to one destination (what spans captured, behind pointers, not included).
/// Includes [`bytes_at_init`]. For the benchmarks' memory bound.
pub fn bytes_at_bound(
    max_queue_size: usize,
    batch_size: usize,
    threads: usize,
    span_json_bytes: usize,
) -> usize {
    crate::export::queue::bytes_at_bound(max_queue_size, batch_size, threads)
        + crate::export::destination::body_bytes(batch_size, span_json_bytes)
}

/// The part of [`bytes_at_bound`] that `init` allocates (so a measurement that starts
/// after `init` leaves it out).
pub fn bytes_at_init(max_queue_size: usize) -> usize {
    crate::export::queue::bytes_at_init(max_queue_size)
}

/// The one check the disabled path pays: one relaxed load, no TLS.
#[inline(always)]
pub fn enabled() -> bool {
    crate::client::started()
}

/// Fields common to the sync and async forms, set while the span is being opened: whether
/// arguments and result are captured (decided once per call, before any value is built).
struct Wants {
    want_in: bool,
    want_out: bool,
    /// The input is yet to be stored (an agent's holds its name even without arguments).
    input_pending: bool,
    /// The span goes to a test capture (else to the client, whose rules are in this
    /// thread's cache). Meaningful when something is wanted.
    to_sink: bool,
}

impl Wants {
    const OFF: Wants = Wants {
        want_in: false,
        want_out: false,
        input_pending: false,
        to_sink: false,
    };

    /// A function whose attribute captures nothing does not look at the policy at all.
    #[inline(always)]
    fn new(cs: &'static CallSite, ctx: &context::Ctx) -> Wants {
        if !cs.capture_input && !cs.capture_output {
            return Wants::OFF;
        }
        Wants::decide(cs, ctx)
    }

    /// What the policy lets this call capture: a test capture's, else the client's,
    /// read from the call site's word (see `SiteDecision`).
    #[inline(never)]
    fn decide(cs: &'static CallSite, ctx: &context::Ctx) -> Wants {
        let (input, output) = match &ctx.sink {
            Some(s) => sink_allows(cs, s),
            None => match cs.decided.get(cs.kind) {
                d if d.rules.is_some() => (d.input, d.output),
                _ => return Wants::OFF,
            },
        };
        let want_in = cs.capture_input && input;
        Wants {
            want_in,
            want_out: cs.capture_output && output,
            input_pending: want_in && cs.kind == Kind::Agent,
            to_sink: ctx.sink.is_some(),
        }
    }

    /// Captures the input of the span of `cs` going to `sink` (or the client); `f` adds
    /// the arguments. Kept out of the span so that it stays small for the spans that
    /// capture nothing.
    fn input(
        &mut self,
        cs: &'static CallSite,
        rules: capture::TapeRules,
        site: &'static Location<'static>,
        f: impl FnOnce(&mut Input<'_>),
    ) -> Option<capture::Taped> {
        if !self.want_in {
            return None;
        }
        let agent = self.input_stored(cs);
        Some(capture::input_tape(rules, Some(site), agent, f))
    }

    /// The input of call site `cs` is being stored: nothing is pending any more, and an
    /// agent's name goes first in it.
    #[inline]
    fn input_stored(&mut self, cs: &'static CallSite) -> Option<&'static str> {
        self.input_pending = false;
        (cs.kind == Kind::Agent).then_some(cs.name)
    }

    /// What recording needs of the rules of span `id` (of call site `cs`), on this
    /// thread: its test capture's, else the client's, from the call site's word (looked
    /// up here rather than kept in every handle, which would grow the handle of a span
    /// that captures nothing).
    #[inline(always)]
    fn tape_rules(
        &self,
        cs: &'static CallSite,
        id: staso_types::SpanId,
    ) -> Option<capture::TapeRules> {
        if self.to_sink {
            sink_tape_rules(id)
        } else {
            cs.decided.get(cs.kind).rules
        }
    }
}

/// What a test capture's policy lets call site `cs` capture (input, output). Out of line:
/// the client's case is the one that counts.
#[cold]
#[inline(never)]
fn sink_allows(cs: &'static CallSite, sink: &std::sync::Arc<dyn context::Sink>) -> (bool, bool) {
    let p = sink.config().capture;
    (p.allows_input(cs.kind), p.allows_output())
}

/// The rules of span `id`'s test capture, read from its frame.
#[cold]
#[inline(never)]
fn sink_tape_rules(id: staso_types::SpanId) -> Option<capture::TapeRules> {
    frame_rules(id).map(|r| capture::TapeRules::of(r.config()))
}

/// What recording needs of the rules of spans of call site `cs` that go to `sink`, or
/// to the client (from the call site's word).
fn tape_rules_of(
    sink: Option<&std::sync::Arc<dyn context::Sink>>,
    cs: &'static CallSite,
) -> Option<capture::TapeRules> {
    match sink {
        Some(s) => Some(capture::TapeRules::of(s.config())),
        None => cs.decided.get(cs.kind).rules,
    }
}

/// Whether the value of an argument named `name` is redacted (when redaction is on): the
/// SDK's rule for secret-looking keys, which the attributes evaluate in a constant for
/// each argument of a function, so that no call asks it again.
///
/// ```
/// const SECRET: bool = staso_core::__private::is_secret_name("api_key");
/// assert!(SECRET);
/// assert!(!staso_core::__private::is_secret_name("query"));
/// ```
pub const fn is_secret_name(name: &str) -> bool {
    capture::is_secret_key(name)
}

/// A sync function's span: current on this thread from `enter` until dropped.
pub struct FnSpan {
    /// Ended by `drop` (one test when tracing is off).
    guard: ManuallyDrop<SpanGuard>,
    wants: Wants,
    /// A root span: `opened` sends its provisional copy.
    root: bool,
    /// What the call captured of its arguments and result, kept here until the span
    /// ends rather than in its record: neither recording visits the thread's frame
    /// stack, and the end, which visits it anyway, hands the box to the record. A root's
    /// input goes into its record at once (its provisional copy shows it). Emptied by
    /// `drop` (so a span that captures nothing has no drop glue for it).
    captured: ManuallyDrop<Option<ExtrasBox>>,
}

impl FnSpan {
    const OFF: FnSpan = FnSpan {
        guard: ManuallyDrop::new(SpanGuard::OFF),
        wants: Wants::OFF,
        root: false,
        captured: ManuallyDrop::new(None),
    };
}

impl Drop for FnSpan {
    #[inline(always)]
    fn drop(&mut self) {
        // The guard's test first: the disabled path tests one field.
        if self.guard.is_recording() {
            if self.captured.is_some() {
                self.end_captured();
            } else {
                self.guard.end();
            }
        }
    }
}

impl FnSpan {
    /// Ends the span with what it captured (out of line: a span that captures nothing
    /// pays a test).
    #[inline(never)]
    fn end_captured(&mut self) {
        if let Some(b) = self.captured.take() {
            self.guard.close_with(b);
        }
    }
}

/// An entry point the macros expand to: when tracing is off it is one relaxed load and a
/// branch, inlined into the caller, and returns `$span::OFF`; inside a trace that is not
/// recorded (not sampled, or below a discarded span) it is one thread-local load more;
/// `$recording` opens the span otherwise.
macro_rules! entry_point {
    ($(#[$doc:meta])* $name:ident -> $span:ident, $recording:ident) => {
        $(#[$doc])*
        #[inline]
        pub fn $name(cs: &'static CallSite) -> $span {
            if enabled() && !context::quiet() {
                $recording(cs)
            } else {
                $span::OFF
            }
        }
    };
}

/// What the span's `Wants` decided for the arguments and the result (the same for sync
/// and async functions).
macro_rules! opening_wants {
    () => {
        /// Whether arguments are captured for this call.
        #[inline]
        pub fn wants_input(&self) -> bool {
            self.wants.want_in
        }
        /// Whether the result is captured for this call.
        #[inline]
        pub fn wants_output(&self) -> bool {
            self.wants.want_out
        }
    };
}

entry_point!(
    /// Opens the span of a sync instrumented function and makes it current.
    enter -> FnSpan, enter_recording
);

/// `enter` with tracing on: the inherited context is read, the record built and its frame
/// pushed in one visit of the per-thread stack; nothing is cloned but what the child keeps.
fn enter_recording(cs: &'static CallSite) -> FnSpan {
    let opened = context::push_child(|parent, slot| {
        if !records(parent) {
            return None;
        }
        // Decided on the parent (the child has the same sink).
        let wants = Wants::new(cs, parent);
        let (id, root) = open_into(parent, SharedStr::Static(cs.name), cs.kind, Some(cs), slot)?;
        Some((id, root, wants))
    });
    match opened {
        Some((depth, (id, root, wants))) => FnSpan {
            guard: ManuallyDrop::new(SpanGuard::on_stack(depth, id)),
            wants,
            root,
            captured: ManuallyDrop::new(None),
        },
        None => FnSpan::OFF,
    }
}

impl FnSpan {
    opening_wants!();
    /// Whether the span is recorded at all.
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.guard.is_recording()
    }
    /// Captures the arguments of call site `cs`: `f` adds them to the input (called only
    /// when input is captured).
    #[track_caller]
    pub fn args<F: FnOnce(&mut Input<'_>)>(&mut self, cs: &'static CallSite, f: F) {
        self.args_at(cs, Location::caller(), f);
    }

    fn args_at(
        &mut self,
        cs: &'static CallSite,
        site: &'static Location<'static>,
        f: impl FnOnce(&mut Input<'_>),
    ) {
        let Some(id) = self.guard.id().filter(|_| self.wants.want_in) else {
            return;
        };
        let Some(rules) = self.wants.tape_rules(cs, id) else {
            return;
        };
        let agent = self.wants.input_stored(cs);
        self.record_kept(Field::Input, site, |tapes| {
            capture::input_tape_after(tapes, rules, Some(site), agent, f)
        });
        if !self.root {
            return;
        }
        // A root's input moves into its record now (unless something else was set on
        // the span first: then the tape is copied into its box).
        if let Some(b) = self.captured.take() {
            current_frame(&self.guard, move |r, _| match &mut r.extras {
                None => r.extras = Some(b),
                Some(e) => b.move_input_into(e),
            });
        }
    }

    /// Records the tape of `field` with `record`, after what the box the span keeps
    /// holds (a box is taken when it keeps none yet).
    #[inline(always)]
    fn record_kept(
        &mut self,
        field: Field,
        site: &'static Location<'static>,
        record: impl FnOnce(Vec<u8>) -> Vec<u8>,
    ) {
        let mut b = self.captured.take().unwrap_or_else(ExtrasBox::take);
        let tapes = b.lend_tapes();
        let start = tapes.len();
        let tapes = record(tapes);
        b.keep_tape(field, tapes, start, Some(site));
        *self.captured = Some(b);
    }

    /// Adds a metadata attribute, written by `f`.
    #[track_caller]
    pub fn metadata<F: FnOnce(&mut Out<'_>)>(&mut self, key: &'static str, f: F) {
        if self.is_recording() {
            let site = Location::caller();
            if let Some(id) = self.guard.id() {
                if let Some(c) = metadata(frame_rules(id), site, key, f) {
                    current_frame(&self.guard, |r, _| {
                        r.extras().set_metadata(key, c.text(), c.truncated)
                    });
                }
            }
        }
    }
    /// Records the returned value, written by `f`, as the output (`{"result": value}`)
    /// of this span of call site `cs`, when the output is captured.
    #[track_caller]
    pub fn output<F: FnOnce(&mut Out<'_>)>(&mut self, cs: &'static CallSite, f: F) {
        let site = Location::caller();
        let Some(id) = self.guard.id().filter(|_| self.wants.want_out) else {
            return;
        };
        let Some(rules) = self.wants.tape_rules(cs, id) else {
            return;
        };
        // After the input, in the box the span keeps until it ends (a root's too: its
        // record takes the result when the span ends).
        self.record_kept(Field::Output, site, |tapes| {
            capture::result_tape_after(tapes, rules, Some(site), f)
        });
    }
    /// Records an `Err` on this span: status `error`, its message (written by `f`; the
    /// encoder sends it when the policy allows), and its type name as `exception.type`.
    #[track_caller]
    pub fn error<E: ?Sized, F: FnOnce(&mut TextOut<'_>)>(&self, _err: &E, f: F) {
        let site = Location::caller();
        let Some(id) = self.guard.id() else { return };
        let msg = frame_rules(id).map(|rules| capture::text(rules, Some(site), "error_message", f));
        current_frame(&self.guard, |r, _| {
            set_error(r, std::any::type_name::<E>(), msg)
        });
    }
    /// Ends the opening: an agent's input is stored when no argument was, and a root's
    /// provisional copy is sent. A nested span with nothing pending has nothing to do here.
    #[inline]
    #[track_caller]
    pub fn opened(&mut self) {
        if self.wants.input_pending || self.root {
            self.store_opening(Location::caller());
        }
    }

    #[inline(never)]
    fn store_opening(&mut self, site: &'static Location<'static>) {
        if self.wants.input_pending {
            // An agent's input (its name) with no argument stored: its call site is in its
            // record.
            let cs = self
                .guard
                .with_frame(|fr| fr.record.as_ref().and_then(|r| r.callsite))
                .flatten();
            if let Some(cs) = cs {
                self.args_at(cs, site, |_| {});
            }
        }
        if self.root {
            current_frame(&self.guard, |record, ctx| announce(record, ctx));
        }
    }
}

/// The capture rules of span `id`'s frame on this thread: its test capture's, else the
/// client's.
fn frame_rules(id: staso_types::SpanId) -> Option<RulesHandle> {
    let sink = context::with_frame(id, |fr| fr.ctx.sink.clone()).flatten();
    RulesHandle::of(sink.as_ref())
}

fn current_frame(guard: &SpanGuard, f: impl FnOnce(&mut SpanRecord, &context::Ctx)) {
    guard.with_frame(|frame: &mut Frame| {
        if let Some(r) = frame.record.as_mut() {
            f(r, &frame.ctx)
        }
    });
}

/// An async function's span: built at the first poll, then carried by the future.
pub struct AsyncFnSpan {
    span: Span,
    wants: Wants,
}

entry_point!(
    /// Opens the span of an async instrumented function (not current until instrumented).
    start -> AsyncFnSpan, start_recording
);

fn start_recording(cs: &'static CallSite) -> AsyncFnSpan {
    let started =
        context::with_current(|parent| open(parent, SharedStr::Static(cs.name), cs.kind, Some(cs)));
    let wants = match &started {
        Some((_, ctx)) => Wants::new(cs, ctx),
        None => Wants::OFF,
    };
    AsyncFnSpan {
        span: Span::from_parts(started),
        wants,
    }
}

impl AsyncFnSpan {
    const OFF: AsyncFnSpan = AsyncFnSpan {
        span: Span::OFF,
        wants: Wants::OFF,
    };

    /// Whether the span is recorded at all.
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.span.is_recording()
    }
    opening_wants!();
    /// Captures the arguments: `f` adds them to the input (called only when input is
    /// captured).
    #[track_caller]
    pub fn args<F: FnOnce(&mut Input<'_>)>(&mut self, cs: &'static CallSite, f: F) {
        self.args_at(cs, f);
    }

    #[track_caller]
    fn args_at(&mut self, cs: &'static CallSite, f: impl FnOnce(&mut Input<'_>)) {
        let site = Location::caller();
        let Some((record, ctx)) = &mut self.span.inner else {
            return;
        };
        let Some(rules) = tape_rules_of(ctx.sink.as_ref(), cs) else {
            return;
        };
        if let Some(c) = self.wants.input(cs, rules, site, f) {
            record.extras().set_input_tape(c.tape(), Some(site));
        }
    }
    /// Adds a metadata attribute, written by `f`.
    #[track_caller]
    pub fn metadata<F: FnOnce(&mut Out<'_>)>(&mut self, key: &'static str, f: F) {
        let site = Location::caller();
        let Some((_, ctx)) = &self.span.inner else {
            return;
        };
        let c = metadata(RulesHandle::of(ctx.sink.as_ref()), site, key, f);
        if let (Some(c), Some((record, _))) = (c, &mut self.span.inner) {
            record.extras().set_metadata(key, c.text(), c.truncated);
        }
    }
    /// Stores an agent's input when no argument was, sends a root's provisional copy, and
    /// wraps the body.
    #[track_caller]
    pub fn instrument<F: Future>(mut self, fut: F) -> Instrumented<F> {
        // An agent's input (its name) with no argument stored: its call site is in its
        // record.
        let cs = self.span.inner.as_ref().and_then(|(r, _)| r.callsite);
        if let (true, Some(cs)) = (self.wants.input_pending, cs) {
            self.args_at(cs, |_| {});
        }
        if let Some((record, ctx)) = &self.span.inner {
            announce(record, ctx);
        }
        self.span.instrument(fut)
    }
}

/// Captures metadata `key` (the encoder applies the capture policy, as to every attribute).
fn metadata(
    rules: Option<RulesHandle>,
    site: &'static Location<'static>,
    key: &'static str,
    f: impl FnOnce(&mut Out<'_>),
) -> Option<capture::Captured> {
    Some(capture::document(rules?, Some(site), key, f))
}

/// Records a returned value, written by `f`, as the output `{"result": value}` of the
/// current span.
#[track_caller]
pub fn record_output<F: FnOnce(&mut Out<'_>)>(f: F) {
    let site = Location::caller();
    let Some(rules) = RulesHandle::current() else {
        return;
    };
    let t = capture::result_tape(capture::TapeRules::of(rules.config()), Some(site), f);
    context::with_innermost_record(|r| r.extras().set_output_tape(t.tape(), Some(site)));
}

/// Records an `Err` on the current span: status `error`, its message (written by `f`; the
/// encoder sends it when the policy allows), and its type name as `exception.type`.
#[track_caller]
pub fn record_error<E: ?Sized, F: FnOnce(&mut TextOut<'_>)>(_err: &E, f: F) {
    let site = Location::caller();
    let ty = std::any::type_name::<E>();
    let msg =
        RulesHandle::current().map(|rules| capture::text(rules, Some(site), "error_message", f));
    context::with_innermost_record(|r| set_error(r, ty, msg));
}

/// Marks `r` as failed with the error's message (when captured) and type name.
fn set_error(r: &mut SpanRecord, type_name: &str, msg: Option<capture::Captured>) {
    r.status = staso_types::Status::Error;
    let e = r.extras();
    if let Some(m) = &msg {
        e.set_error_text(m.text(), m.truncated);
    }
    e.exception_type = Some(Cow::Owned(short_type_name(type_name)));
}

/// `std::io::error::Error` → `io::Error`-like short names are ambiguous; keep the full
/// path but drop the `alloc::`/`core::` prefixes rustc adds for std types.
fn short_type_name(full: &str) -> String {
    full.replace("alloc::", "").replace("core::", "")
}

/// An error's message: `Display` when it has one, else `Debug`, else a placeholder. The
/// macros write `(&&&ErrorText(err)).__staso_error_text(out)`.
pub struct ErrorText<'a, T: ?Sized>(pub &'a T);

/// Chosen for `Display` errors.
pub trait ErrorDisplay {
    /// Writes the message.
    fn __staso_error_text(&self, out: &mut TextOut<'_>);
}
/// Chosen for `Debug`-only errors.
pub trait ErrorDebug {
    /// Writes the message.
    fn __staso_error_text(&self, out: &mut TextOut<'_>);
}
/// Chosen for anything else.
pub trait ErrorOpaque {
    /// Writes the message.
    fn __staso_error_text(&self, out: &mut TextOut<'_>);
}
impl<T: std::fmt::Display + ?Sized> ErrorDisplay for &&ErrorText<'_, T> {
    fn __staso_error_text(&self, out: &mut TextOut<'_>) {
        out.display(self.0);
    }
}
impl<T: std::fmt::Debug + ?Sized> ErrorDebug for &ErrorText<'_, T> {
    fn __staso_error_text(&self, out: &mut TextOut<'_>) {
        out.debug(self.0);
    }
}
impl<T: ?Sized> ErrorOpaque for ErrorText<'_, T> {
    fn __staso_error_text(&self, out: &mut TextOut<'_>) {
        out.placeholder::<T>();
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

    /// Adds an argument, written by `f` (bounded and safe like every captured value).
    pub fn arg<F: FnOnce(&mut Out<'_>)>(&mut self, name: &'static str, f: F) {
        if let Some(m) = &mut self.input {
            m.insert(name.to_string(), capture::value(f));
        }
    }

    /// [`GuardInput::arg`], called the way the attributes call `Input::arg_known` (the
    /// guard's input is checked as a whole, so `_secret` is not needed here).
    pub fn arg_known<F: FnOnce(&mut Out<'_>)>(&mut self, name: &'static str, _secret: bool, f: F) {
        self.arg(name, f);
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

//! The spans of instrumented functions, sync and async: the bulk of the expansion's runtime
//! side, kept together because both forms share their opening and their `Wants`.

use super::enabled;
use super::outcome::set_error;
use super::wants::{frame_rules, Wants};
use crate::local::capture::{self, Input, Out, RulesHandle, TextOut};
use crate::local::context::{self, Frame};
use crate::local::instrument::Instrumented;
use crate::local::lifecycle::{announce, open, open_into};
use crate::local::record::{CallSite, ExtrasBox, Field, SharedStr, SpanRecord};
use crate::local::span::{Span, SpanGuard};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;

/// A sync function's span: current on this thread from `enter` until dropped.
pub struct FnSpan {
    /// Ended by `drop` (one test when tracing is off).
    guard: ManuallyDrop<SpanGuard>,
    /// With whether it is a root (`opened` then sends its provisional copy).
    wants: Wants,
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
        captured: ManuallyDrop::new(None),
    };
}

impl Drop for FnSpan {
    /// The end of a call that did not return (it unwinds, or never returns): the span
    /// fails if its thread is unwinding.
    #[inline(always)]
    fn drop(&mut self) {
        self.end::<false>();
    }
}

impl FnSpan {
    /// Ends the span of a call that returned: its function's code ran to the end, so it
    /// did not fail by unwinding, and the thread's panic count is not read (a function
    /// that returns while its thread unwinds, called from a destructor, did not fail
    /// either). The expansion calls it after recording the result.
    #[inline(always)]
    pub fn returned(self) {
        let mut this = ManuallyDrop::new(self);
        this.end::<true>();
    }

    #[inline(always)]
    fn end<const RETURNED: bool>(&mut self) {
        // The guard's test first: the disabled path tests one field.
        if self.guard.is_recording() {
            if self.captured.is_some() {
                self.end_captured::<RETURNED>();
            } else {
                self.guard.end_as::<RETURNED>();
            }
        }
    }

    /// Ends the span with what it captured (a span that captures nothing pays a test;
    /// the work is out of line in `close_with`).
    #[inline]
    fn end_captured<const RETURNED: bool>(&mut self) {
        if let Some(b) = self.captured.take() {
            self.guard.close_with::<RETURNED>(b);
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
            self.wants.want_in()
        }
        /// Whether the result is captured for this call.
        #[inline]
        pub fn wants_output(&self) -> bool {
            self.wants.want_out()
        }
    };
}

entry_point!(
    /// Opens the span of a sync instrumented function and makes it current.
    enter -> FnSpan, enter_recording
);

/// Opens the span of call site `$cs` on this thread's stack and makes it current (what
/// `enter` and `start_here` do): the inherited context is read, the record built and its
/// frame pushed in one visit of the per-thread stack; nothing is cloned but what the child
/// keeps. The frame's depth, the span's id and its `Wants`; `None` when nothing records it.
///
/// A macro, not a function: each caller gets its own closure, and so its own copy of
/// `push_child` inlined. One function shared by both had the compiler keep that closure
/// apart and call it (21 instructions more a span, callgrind `hot nothing`).
macro_rules! open_on_stack {
    ($cs:expr) => {{
        let cs: &'static CallSite = $cs;
        context::push_child(|parent, slot| {
            // `open_into` decides whether the span is recorded; the capture decision only
            // then, on the parent (the child has the same sink).
            let (id, root, records) =
                open_into(parent, SharedStr::Static(cs.name), cs.kind, Some(cs), slot)?;
            let wants = Wants::new(cs, parent.ctx);
            // 16 bytes: returned in registers.
            Some(((id, wants.rooted(root)), records))
        })
    }};
}

/// `enter` with tracing on (see `open_on_stack!`).
fn enter_recording(cs: &'static CallSite) -> FnSpan {
    match open_on_stack!(cs) {
        Some((depth, (id, wants))) => FnSpan {
            guard: ManuallyDrop::new(SpanGuard::on_stack(depth, id)),
            wants,
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

    #[inline(always)]
    fn args_at(
        &mut self,
        cs: &'static CallSite,
        site: &'static Location<'static>,
        f: impl FnOnce(&mut Input<'_>),
    ) {
        if self.guard.id().is_none() || !self.wants.want_in() {
            return;
        }
        let rules = self.wants.tape_rules();
        let agent = self.wants.input_stored(cs);
        self.record_kept(Field::Input, site, |tapes| {
            capture::input_tape_after(tapes, rules, Some(site), agent, f)
        });
        if !self.wants.root() {
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
        record: impl FnOnce(&mut Vec<u8>),
    ) {
        // A box the thread keeps (see `Lane::scratch`): its tapes travel beside the
        // record when the span ends, and the box stays.
        let b = self.captured.get_or_insert_with(crate::client::scratch_box);
        let tapes = b.tapes_mut();
        let start = tapes.len();
        record(tapes);
        b.keep_tape(field, start, Some(site));
    }

    /// Adds a metadata attribute, written by `f`.
    #[track_caller]
    pub fn metadata<F: FnOnce(&mut Out<'_>)>(&mut self, key: &'static str, f: F) {
        metadata_on_stack(&self.guard, Location::caller(), key, f);
    }
    /// Records the returned value, written by `f`, as the output (`{"result": value}`)
    /// of this span, when the output is captured (under the rules it opened with).
    #[track_caller]
    #[inline(always)]
    pub fn output<F: FnOnce(&mut Out<'_>)>(&mut self, f: F) {
        let site = Location::caller();
        if self.guard.id().is_none() || !self.wants.want_out() {
            return;
        }
        let rules = self.wants.tape_rules();
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
        if self.wants.input_pending() || self.wants.root() {
            self.store_opening(Location::caller());
        }
    }

    #[inline(never)]
    fn store_opening(&mut self, site: &'static Location<'static>) {
        if self.wants.input_pending() {
            // An agent's input (its name) with no argument stored.
            if let Some(cs) = frame_callsite(&self.guard) {
                self.args_at(cs, site, |_| {});
            }
        }
        if self.wants.root() {
            current_frame(&self.guard, |record, ctx| announce(record, ctx));
        }
    }
}

/// The call site of the span `guard` keeps on the stack, from its record.
fn frame_callsite(guard: &SpanGuard) -> Option<&'static CallSite> {
    guard
        .with_frame(|fr| fr.record.as_ref().and_then(|r| r.callsite))
        .flatten()
}

/// Adds metadata `key`, written by `f`, to the span `guard` keeps on the stack, under the
/// rules it opened under (nothing when it is not recorded).
fn metadata_on_stack(
    guard: &SpanGuard,
    site: &'static Location<'static>,
    key: &'static str,
    f: impl FnOnce(&mut Out<'_>),
) {
    let Some(id) = guard.id() else {
        return;
    };
    if let Some(c) = metadata(frame_rules(id), site, key, f) {
        current_frame(guard, |r, _| {
            r.extras().set_metadata(key, c.text(), c.truncated)
        });
    }
}

fn current_frame(guard: &SpanGuard, f: impl FnOnce(&mut SpanRecord, &context::Ctx)) {
    guard.with_frame(|frame: &mut Frame| {
        if let Some(r) = frame.record.as_mut() {
            f(r, &frame.ctx)
        }
    });
}

/// The span of a function returning `impl Future`: opened where the future is made,
/// carried by it, current on every poll wherever it is polled.
pub struct AsyncFnSpan {
    span: Span,
    wants: Wants,
}

entry_point!(
    /// Opens the span of a function returning `impl Future` (not current until
    /// instrumented).
    start -> AsyncFnSpan, start_recording
);

fn start_recording(cs: &'static CallSite) -> AsyncFnSpan {
    let started =
        context::with_parent(|parent| open(parent, SharedStr::Static(cs.name), cs.kind, Some(cs)));
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
        let Some((record, _)) = &mut self.span.inner else {
            return;
        };
        if let Some(c) = self.wants.input(cs, site, f) {
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
        if let (true, Some(cs)) = (self.wants.input_pending(), cs) {
            self.args_at(cs, |_| {});
        }
        if let Some((record, ctx)) = &self.span.inner {
            announce(record, ctx);
        }
        self.span.instrument(fut)
    }
}

/// The span of an `async fn`, opened in its first poll, which goes on at once into the
/// body's first poll: its frame is left on the thread's stack, where that poll finds it.
/// The record is written once, in place, as a sync function's is, and moves into the
/// future only if that poll is pending. 16 bytes (the record is on the stack), so that
/// returning it and handing it over moves little.
pub struct AsyncFnFrame {
    /// Dropping it ends the span (a panic before the body's first poll).
    guard: Pushed,
    wants: Wants,
}

/// The guard of an async fn's frame, from `start_here` to the body's first poll.
struct Pushed(SpanGuard);

// SAFETY: a `SpanGuard` holds a depth and an id, nothing shared between threads; it is not
// `Send` only so that sync code cannot end a span of this thread's stack from another.
// This one lives within one poll (made by `start_here`, taken by `instrument` before the
// body is polled). It must be `Send` all the same: the compiler takes the handle holding
// it to be live across the body's `.await` (it is moved before), and without this no
// instrumented async fn's future would be `Send` (`tokio::spawn` of one does not compile).
unsafe impl Send for Pushed {}

entry_point!(
    /// Opens the span of an `async fn` at its first poll and makes it current: the
    /// body's first poll, which follows at once, runs in it (see [`AsyncFnFrame`]).
    start_here -> AsyncFnFrame, start_here_recording
);

/// `start_here` with tracing on: opened as `enter` opens a sync function's span.
fn start_here_recording(cs: &'static CallSite) -> AsyncFnFrame {
    match open_on_stack!(cs) {
        Some((depth, (id, wants))) => AsyncFnFrame {
            guard: Pushed(SpanGuard::on_stack(depth, id)),
            wants,
        },
        None => AsyncFnFrame::OFF,
    }
}

impl AsyncFnFrame {
    const OFF: AsyncFnFrame = AsyncFnFrame {
        guard: Pushed(SpanGuard::OFF),
        wants: Wants::OFF,
    };

    /// Whether the span is recorded at all.
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.guard.0.is_recording()
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
        // Not wanted when the span is not recorded.
        if let Some(c) = self.wants.input(cs, site, f) {
            current_frame(&self.guard.0, |r, _| {
                r.extras().set_input_tape(c.tape(), Some(site))
            });
        }
    }
    /// Adds a metadata attribute, written by `f`.
    #[track_caller]
    pub fn metadata<F: FnOnce(&mut Out<'_>)>(&mut self, key: &'static str, f: F) {
        metadata_on_stack(&self.guard.0, Location::caller(), key, f);
    }
    /// Stores an agent's input when no argument was, sends a root's provisional copy, and
    /// wraps the body, whose first poll must follow at once (the `.await` the macro
    /// writes after it).
    #[track_caller]
    pub fn instrument<F: Future>(mut self, fut: F) -> Instrumented<F> {
        if self.wants.input_pending() || self.wants.root() {
            self.store_opening();
        }
        Span::OFF.instrument_pushed(self.guard.0, fut)
    }

    /// An agent's input when no argument was stored, a root's provisional copy.
    #[inline(never)]
    #[track_caller]
    fn store_opening(&mut self) {
        if self.wants.input_pending() {
            if let Some(cs) = frame_callsite(&self.guard.0) {
                self.args_at(cs, |_| {});
            }
        }
        if self.wants.root() {
            current_frame(&self.guard.0, |record, ctx| announce(record, ctx));
        }
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

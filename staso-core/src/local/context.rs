//! Which span is current: a per-thread stack of frames (no lock, no allocation once the
//! stack has grown), plus what nested spans inherit (trace, agent, conversation, and
//! where spans go). Futures carry their frame with them and push it on every poll.

use super::locals::{self, Local};
use super::record::{Conversation, SharedStr, SpanRecord};
use crate::client::Cached;
use crate::config::Config;
use staso_types::{SpanId, TraceId};
use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::sync::Arc;

/// Where the spans of a context go instead of the global client (a test capture, see
/// `testing`): one branch on the end path when there is none.
pub(crate) trait Sink: Send + Sync + std::fmt::Debug {
    /// Takes a finished (or provisional) span.
    fn accept(&self, record: SpanRecord);
    /// The configuration spans are captured under.
    fn config(&self) -> &Config;
    /// Takes an annotation made inside the context (a test capture keeps it).
    fn annotation(&self, _trace_id: TraceId, _annotation: staso_types::Annotation) {}
}

/// What a new span inherits from where it starts.
///
/// In a span's own context (its frame's, or what `open` returns beside its record),
/// `agent` and `conversation` are empty: the span's record holds them from its opening,
/// since it is sent with them, and [`Parent`] reads them there. Every other context (a
/// scope's, or one made whole by [`current`]) holds them.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    /// Trace and span id of the parent; `None` at a root.
    pub link: Option<(TraceId, SpanId)>,
    pub agent: Option<SharedStr>,
    pub conversation: Option<Arc<Conversation>>,
    pub sink: Option<Arc<dyn Sink>>,
    /// False below a discarded span (or in a trace not sampled): children are not
    /// recorded either.
    pub recording: bool,
    /// The wall-clock offset of the trace (see `clock`); set by its root.
    pub offset: i64,
}

impl Ctx {
    /// The context of a thread with no span: what a root inherits.
    pub(crate) const ROOT: Ctx = Ctx {
        link: None,
        agent: None,
        conversation: None,
        sink: None,
        recording: true,
        offset: 0,
    };
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx::ROOT
    }
}

/// What a span opened under a frame inherits, read where it lies (see [`Ctx`]): a span's
/// agent and conversation from its record, the rest from its context. Nothing is cloned
/// to make one.
///
/// It points at the fields themselves, not at their values: making one is two address
/// computations, and the test of whether there is a value waits until one is cloned.
#[derive(Clone, Copy)]
pub(crate) struct Parent<'a> {
    pub(crate) ctx: &'a Ctx,
    agent: &'a Option<SharedStr>,
    conversation: &'a Option<Arc<Conversation>>,
}

impl<'a> Parent<'a> {
    /// A context that holds all it passes on (a scope's, or one [`current`] made).
    pub(crate) fn of(ctx: &'a Ctx) -> Self {
        Parent {
            ctx,
            agent: &ctx.agent,
            conversation: &ctx.conversation,
        }
    }

    /// A span's context and its record.
    #[inline(always)]
    pub(crate) fn span(ctx: &'a Ctx, record: &'a SpanRecord) -> Self {
        Parent {
            ctx,
            agent: &record.agent,
            conversation: &record.conversation,
        }
    }

    #[inline(always)]
    fn of_frame(frame: &'a Frame) -> Self {
        match &frame.record {
            Some(r) => Parent::span(&frame.ctx, r),
            None => Parent::of(&frame.ctx),
        }
    }

    /// The innermost enclosing agent's name.
    #[inline(always)]
    pub(crate) fn agent(self) -> Option<&'a SharedStr> {
        self.agent.as_ref()
    }

    /// The conversation spans opened here belong to.
    #[inline(always)]
    pub(crate) fn conversation(self) -> Option<&'a Arc<Conversation>> {
        self.conversation.as_ref()
    }

    /// The whole context, owned (what a future or a scope carries elsewhere).
    pub(crate) fn to_ctx(self) -> Ctx {
        Ctx {
            agent: self.agent.clone(),
            conversation: self.conversation.clone(),
            ..self.ctx.clone()
        }
    }
}

/// One entry of the per-thread stack: the context in force, and the span being built when
/// the frame belongs to a span (a conversation or propagated context has none).
pub(crate) struct Frame {
    pub ctx: Ctx,
    pub record: Option<SpanRecord>,
}

/// Runs `f` on this thread's frame stack (see `locals`).
#[inline(always)]
fn stack<R>(f: impl FnOnce(&RefCell<Vec<Frame>>) -> R) -> R {
    locals::with(|l| f(&l.stack))
}

/// Runs `f` on this thread's view of the client.
#[inline(always)]
pub(crate) fn with_client_cache<R>(f: impl FnOnce(&RefCell<Cached>) -> Option<R>) -> Option<R> {
    locals::with(|l| f(&l.client))
}

/// Whether a span started now on this thread would not be recorded because the innermost
/// frame says so (see `Local::quiet`). `false` says nothing: the full check still runs.
#[inline(always)]
pub(crate) fn quiet() -> bool {
    locals::with(|l| l.quiet.get())
}

/// Room for one more frame, or false when there can be none: the stack's first
/// allocation (and every growth) arms the thread's cleanup first, and fails once the
/// thread's end has emptied its locals.
#[inline(always)]
fn room(s: &mut Vec<Frame>) -> bool {
    s.len() < s.capacity() || grow(s, 1)
}

#[cold]
#[inline(never)]
fn grow(s: &mut Vec<Frame>, n: usize) -> bool {
    if !locals::arm() {
        return false;
    }
    s.reserve(n.max(4));
    true
}

/// Brings `quiet` in line with the innermost frame after the stack changed.
#[inline(always)]
fn settle(stack: &[Frame]) {
    locals::with(|l| settle_in(l, stack));
}

/// [`settle`] with the locals at hand.
#[inline(always)]
fn settle_in(l: &Local, stack: &[Frame]) {
    l.quiet.set(stack.last().is_some_and(|f| !f.ctx.recording));
}

/// The context a span started now would inherit.
pub(crate) fn current() -> Ctx {
    with_top(|top| {
        top.map(|f| Parent::of_frame(f).to_ctx())
            .unwrap_or_default()
    })
}

/// The context of a thread with no span, to lend by reference.
static NO_CONTEXT: Ctx = Ctx::ROOT;

/// Runs `f` on this thread's innermost frame, `None` when there is none (or the stack is
/// borrowed elsewhere, or emptied at the thread's end: a span then inherits nothing).
#[inline(always)]
fn with_top<R>(f: impl FnOnce(Option<&Frame>) -> R) -> R {
    stack(|s| f(s.try_borrow().ok().as_ref().and_then(|s| s.last())))
}

/// Runs `f` on the context a span started now would inherit, borrowed: unlike
/// [`current`], no `Arc` in it is cloned (and dropped again).
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&Ctx) -> R) -> R {
    with_top(|top| match top {
        None => f(&NO_CONTEXT),
        Some(top) if top.record.is_none() => f(&top.ctx),
        // A span's frame: its agent and conversation are in its record.
        Some(top) => f(&Parent::of_frame(top).to_ctx()),
    })
}

/// Runs `f` on the innermost frame's context as it lies, for what reads its link, sink,
/// `recording` or offset: a span's frame holds its agent and conversation in its record,
/// not there (see [`Ctx`]), and unlike [`with_current`] nothing is cloned to fill them in.
#[inline]
pub(crate) fn with_current_shallow<R>(f: impl FnOnce(&Ctx) -> R) -> R {
    with_top(|top| f(top.map_or(&NO_CONTEXT, |top| &top.ctx)))
}

/// Runs `f` on what a span started now would inherit, where it lies (see [`Parent`]):
/// unlike [`with_current`], a span's frame is not made into a whole context first.
#[inline]
pub(crate) fn with_parent<R>(f: impl FnOnce(Parent<'_>) -> R) -> R {
    with_top(|top| match top {
        None => f(Parent::of(&NO_CONTEXT)),
        Some(top) => f(Parent::of_frame(top)),
    })
}

/// Opens a span and makes it current in one visit of the stack: `f` sees the inherited
/// context (borrowed, nothing cloned) and writes the new frame into the stack's next
/// entry, which is then counted in. `f` returns a value and whether the new frame records
/// (its `ctx.recording`). Returns the new frame's depth (for [`pop`]) and that value;
/// `None` when `f` returns `None` (nothing records the span; it must then leave the entry
/// unwritten) or the stack is gone.
#[inline]
pub(crate) fn push_child<R>(
    f: impl FnOnce(Parent<'_>, &mut MaybeUninit<Frame>) -> Option<(R, bool)>,
) -> Option<(usize, R)> {
    locals::with(|l| {
        let mut s = l.stack.try_borrow_mut().ok()?;
        if !room(&mut s) {
            return None;
        }
        let len = s.len();
        let base = s.as_mut_ptr();
        let parent = match len {
            0 => Parent::of(&NO_CONTEXT),
            // SAFETY: `len - 1 < len`: an initialised frame. It is borrowed only while
            // `f` runs, which writes the entry at `len` (a different one) and does not
            // reach the stack otherwise.
            _ => Parent::of_frame(unsafe { &*base.add(len - 1) }),
        };
        // SAFETY: `room` made room for index `len`: allocated, aligned, and
        // past the length, so nothing else refers to it; `MaybeUninit` says it may
        // hold anything.
        let slot = unsafe { &mut *base.add(len).cast::<MaybeUninit<Frame>>() };
        let (r, records) = f(parent, slot)?;
        debug_assert_eq!(
            // SAFETY: `f` returned `Some`, so it initialised the entry at `len`.
            unsafe { slot.assume_init_ref() }.ctx.recording,
            records
        );
        // SAFETY: `f` returned `Some`, so it initialised the entry at `len`, which is
        // within the capacity.
        unsafe { s.set_len(len + 1) };
        // `quiet` was false: a span opens only under a frame that records (`open_into`),
        // so it changes only when the new frame does not record (an unsampled root).
        if !records {
            l.quiet.set(true);
        }
        Some((len + 1, r))
    })
}

/// Makes the span a future carries (in `slot`) current: its record and context move from
/// `slot` into the stack's next entry. Returns the frame's depth (for [`pop_into`] or
/// [`pop_span`]); `None`, leaving `slot` as it was, when it is empty or the stack is gone.
#[inline]
pub(crate) fn push_carried(slot: &mut Option<(SpanRecord, Ctx)>) -> Option<usize> {
    slot.as_ref()?;
    // Not through `push_child`: a future's span may be pushed under a frame that does not
    // record, so `quiet` is set either way here, where `push_child` sets it only for a
    // new frame that does not record (one store fewer on every sync span: sharing it
    // cost `hot nothing` 2 instructions a span, callgrind).
    locals::with(|l| {
        let mut s = l.stack.try_borrow_mut().ok()?;
        if !room(&mut s) {
            return None;
        }
        let (record, ctx) = slot.take()?;
        let records = ctx.recording;
        let len = s.len();
        // SAFETY: `room` made room for index `len`: allocated, aligned and past the length,
        // so nothing else refers to it; `write` does not read or drop what was there.
        // The entry is initialised before the length counts it.
        unsafe {
            s.as_mut_ptr().add(len).write(Frame {
                ctx,
                record: Some(record),
            });
            s.set_len(len + 1);
        }
        l.quiet.set(!records);
        Some(len + 1)
    })
}

/// Moves the frame of span `span`, pushed at `depth` by [`push_carried`], back into the
/// future's `slot` (a poll ended without ending the span). Nothing when it is gone.
#[inline]
pub(crate) fn pop_into(depth: usize, span: SpanId, slot: &mut Option<(SpanRecord, Ctx)>) {
    if let Some(Frame {
        ctx,
        record: Some(record),
    }) = pop(depth, Some(span))
    {
        *slot = Some((record, ctx));
    }
}

/// Makes room for a few frames on this thread's stack now rather than at its first span.
pub(crate) fn reserve() {
    stack(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            if s.capacity() < 8 {
                grow(&mut s, 8);
            }
        }
    });
}

/// Pushes a frame; returns its depth, which `pop` checks.
pub(crate) fn push(frame: Frame) -> usize {
    stack(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        if !room(&mut s) {
            return None;
        }
        s.push(frame);
        settle(&s);
        Some(s.len())
    })
    .unwrap_or(0)
}

/// Removes the frame pushed at `depth`. Frames are normally popped in order; a guard
/// dropped out of order removes its own frame and leaves the others as they were.
#[inline]
pub(crate) fn pop(depth: usize, span: Option<SpanId>) -> Option<Frame> {
    stack(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        if depth == 0 {
            return None;
        }
        let same = |f: &Frame| f.record.as_ref().map(|r| r.span_id) == span;
        let frame = if s.len() == depth && s.last().is_some_and(same) {
            s.pop()
        } else {
            let pos = s.iter().rposition(same)?;
            Some(s.remove(pos))
        };
        settle(&s);
        frame
    })
}

/// Ends span `span`'s frame (pushed at `depth`): `end` gets the frame in place, takes the
/// record out of it and sends it, and says whether the frame owns nothing after that (see
/// [`Frame::span_owns_nothing`]); then the frame is removed. The usual case is the top
/// frame: it is finished where it lies and dropped in place, so the record is moved once,
/// from the stack towards the queue, and the frame itself never (a frame is too large to
/// move without a call to `memcpy`). `end` must not visit the stack.
#[inline]
pub(crate) fn pop_span(
    depth: usize,
    span: SpanId,
    end: impl FnOnce(&mut Frame, &RefCell<Cached>) -> bool,
) {
    locals::with(|l| {
        let Ok(mut s) = l.stack.try_borrow_mut() else {
            return;
        };
        let len = s.len();
        let top = len.wrapping_sub(1);
        let pos = match s.get(top) {
            Some(f) if len == depth && holds(f, span) => top,
            _ => match s.iter().rposition(|f| holds(f, span)) {
                Some(pos) => pos,
                None => return,
            },
        };
        // SAFETY: `pos < len` on both paths: `get` found the frame at `top`, `rposition`
        // returns an index of the slice.
        let frame = unsafe { s.get_unchecked_mut(pos) };
        let owns_nothing = end(frame, &l.client);
        debug_assert!(!owns_nothing || frame.span_owns_nothing());
        if pos == top {
            if owns_nothing {
                // SAFETY: `pos < len`, so the new length is within the initialised frames.
                // The frame left past it is never read or dropped again (a frame not dropped
                // would be leaked, which is safe); it owns nothing (no record, no `Arc`), so
                // nothing leaks.
                unsafe { s.set_len(pos) };
            } else {
                s.truncate(pos);
            }
        } else {
            s.remove(pos);
        }
        settle_in(l, &s);
    });
}

impl Frame {
    /// Nothing left to drop: a span's frame after `end` moved its record out (the usual
    /// case; dropping it in place would be a call to its drop glue, a tenth of what ending
    /// a span costs). Only for a span's frame, whose context holds no agent and no
    /// conversation (its record does, see [`Ctx`]). What `pop_span`'s `end` says, checked
    /// in debug builds.
    fn span_owns_nothing(&self) -> bool {
        // Every field named: a field added to either struct must be added here.
        let Frame {
            ctx:
                Ctx {
                    link: _,
                    agent,
                    conversation,
                    sink,
                    recording: _,
                    offset: _,
                },
            record,
        } = self;
        record.is_none() && sink.is_none() && agent.is_none() && conversation.is_none()
    }
}

/// Whether `frame` holds the record of span `span`.
#[inline(always)]
fn holds(frame: &Frame, span: SpanId) -> bool {
    frame.record.as_ref().is_some_and(|r| r.span_id == span)
}

/// The frame of span `span` in `stack`, searched from the top: stacks are shallow and the
/// span is almost always the top frame.
fn span_frame(stack: &mut [Frame], span: SpanId) -> Option<&mut Frame> {
    stack.iter_mut().rev().find(|f| holds(f, span))
}

/// Runs `f` on the frame of span `span` on this thread.
pub(crate) fn with_frame<R>(span: SpanId, f: impl FnOnce(&mut Frame) -> R) -> Option<R> {
    stack(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        span_frame(&mut s, span).map(f)
    })
}

/// [`with_frame`] for a frame pushed at `depth` (see [`push_child`]): looked at there
/// first, which is where it is unless frames were removed out of order below it.
#[inline]
pub(crate) fn with_frame_at<R>(
    depth: usize,
    span: SpanId,
    f: impl FnOnce(&mut Frame) -> R,
) -> Option<R> {
    stack(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        let at = depth
            .checked_sub(1)
            .filter(|&i| s.get(i).is_some_and(|fr| holds(fr, span)));
        let frame = match at {
            Some(i) => &mut s[i],
            None => span_frame(&mut s, span)?,
        };
        Some(f(frame))
    })
}

/// Stops recording below span `span` (it was discarded): its children are not recorded.
pub(crate) fn stop_recording(span: SpanId) {
    stack(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        if let Some(frame) = span_frame(&mut s, span) {
            frame.ctx.recording = false;
        }
        settle(&s);
    });
}

/// Runs `f` on the innermost span being built on this thread.
pub(crate) fn with_innermost_record<R>(f: impl FnOnce(&mut SpanRecord) -> R) -> Option<R> {
    stack(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        let frame = s.iter_mut().rev().find(|fr| fr.record.is_some())?;
        frame.record.as_mut().map(f)
    })
}

/// Keeps a context frame (no span of its own) on this thread's stack until dropped.
pub(crate) struct ScopeGuard {
    depth: usize,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl ScopeGuard {
    pub(crate) fn enter(ctx: Ctx) -> Self {
        ScopeGuard {
            depth: push(Frame { ctx, record: None }),
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        pop(self.depth, None);
    }
}

/// Whether a frame for span `span`'s context (one whose `ctx.link` names it) is on this
/// thread's stack: the span, or something carried from inside it, is current here. The
/// tracing bridge uses it to tell whether the innermost context lies inside a span.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn linked(span: SpanId) -> bool {
    stack(|s| {
        s.try_borrow()
            .map(|s| {
                s.iter()
                    .any(|f| f.ctx.link.is_some_and(|(_, id)| id == span))
            })
            .unwrap_or(false)
    })
}

/// Removes the topmost frame for span `span`'s context (one whose `ctx.link` names it)
/// that holds no record or the record of span `own`, and returns it. For spans whose
/// enter and exit another system drives (a `tracing` span): each enter pushes one such
/// frame, each exit pops the topmost, so nested and repeated enters pair up; a frame
/// holding another span's record is never taken.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn pop_linked(span: SpanId, own: Option<SpanId>) -> Option<Frame> {
    stack(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        let pos = s.iter().rposition(|f| {
            f.ctx.link.is_some_and(|(_, id)| id == span)
                && f.record.as_ref().map_or(true, |r| Some(r.span_id) == own)
        })?;
        let frame = s.remove(pos);
        settle(&s);
        Some(frame)
    })
}

/// A parent link and its trace's clock offset, as a context holds them.
pub(crate) type Link = (Option<(TraceId, SpanId)>, i64);

/// Makes spans started from now on in the innermost *span* frame of this thread children
/// of `link` (trace, span) on the clock `offset` of its trace (an LLM stream between two
/// chunks: the Python SDK keeps a stream's span current until the stream ends). Returns
/// what it replaced, to give back with [`release_link`]; `None` when the innermost frame
/// is not a span's (a scope's context is re-pushed from a copy on every poll, so a change
/// there would not last).
pub(crate) fn adopt_link(link: (TraceId, SpanId), offset: i64) -> Option<Link> {
    stack(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        let top = s.last_mut()?;
        top.record.as_ref()?;
        let previous = (top.ctx.link.replace(link), top.ctx.offset);
        top.ctx.offset = offset;
        Some(previous)
    })
}

/// Gives back what [`adopt_link`] replaced, in the innermost frame on this thread that
/// still carries `link`. Nothing when none does (the stream ended on another thread than
/// the one its caller runs on: spans there keep nesting under the ended span).
pub(crate) fn release_link(link: (TraceId, SpanId), previous: Link) {
    stack(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        if let Some(frame) = s
            .iter_mut()
            .rev()
            .find(|f| f.record.is_some() && f.ctx.link == Some(link))
        {
            (frame.ctx.link, frame.ctx.offset) = previous;
        }
    });
}

//! Opening and ending a span: the one place that decides whether a span is recorded,
//! builds its record, and sends it when it ends (one end path for guards, spans, futures
//! and streams). The caller's thread reads the clock, picks ids and moves owned data;
//! everything else waits for the batcher.

use super::clock;
use super::context::{Ctx, Frame, Parent};
use super::ids;
use super::record::{CallSite, SharedStr, SpanRecord};
use staso_types::{Kind, SamplingInput, SpanId, Status, TraceId};
use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::ptr::addr_of_mut;

/// Whether a span started under `parent` is recorded: not below a discarded span, and
/// going to a test capture or a running client.
#[inline(always)]
pub(crate) fn records(parent: &Ctx) -> bool {
    parent.recording && (parent.sink.is_some() || crate::client::active())
}

/// Opens a span under `parent`: its record and the context its children inherit, or
/// `None` when nothing would record it.
///
/// The record holds the span's agent and conversation from here on (it is sent with
/// them); the context leaves them empty, and children read them from the record (see
/// `context::Parent`). A span costs one reference count on the conversation.
#[inline]
pub(crate) fn open(
    parent: Parent<'_>,
    name: SharedStr,
    kind: Kind,
    callsite: Option<&'static CallSite>,
) -> Option<(SpanRecord, Ctx)> {
    let mut slot = MaybeUninit::uninit();
    open_into(parent, name, kind, callsite, &mut slot)?;
    // SAFETY: `open_into` returned `Some`, so it initialised every field of the frame.
    let Frame { ctx, record } = unsafe { slot.assume_init() };
    Some((record?, ctx))
}

/// [`open`] written into `slot` (on the hot path of the attributes, the frame stack's
/// next entry). Returns the span's id, whether it is a root, and whether its children are
/// recorded (false for a root that sampling left out); or `None`, leaving `slot`
/// untouched, when nothing records the span.
#[inline(always)]
pub(crate) fn open_into(
    parent: Parent<'_>,
    name: SharedStr,
    kind: Kind,
    callsite: Option<&'static CallSite>,
    slot: &mut MaybeUninit<Frame>,
) -> Option<(SpanId, bool, bool)> {
    let ctx = parent.ctx;
    if !records(ctx) {
        return None;
    }
    // A child (most spans): recorded, and its frame's flags are constants.
    let Some((trace_id, parent_id)) = ctx.link else {
        return Some(open_root_into(parent, name, kind, callsite, slot));
    };
    let span_id = write_frame(
        parent,
        Opening {
            trace_id,
            parent: Some(parent_id),
            offset: ctx.offset,
            sampled: true,
        },
        name,
        kind,
        callsite,
        slot,
    );
    Some((span_id, false, true))
}

/// [`open_into`] for a root: a new trace, sampled or not. Out of line: one span in many
/// is a root.
#[cold]
#[inline(never)]
fn open_root_into(
    parent: Parent<'_>,
    name: SharedStr,
    kind: Kind,
    callsite: Option<&'static CallSite>,
    slot: &mut MaybeUninit<Frame>,
) -> (SpanId, bool, bool) {
    let trace_id = ids::trace_id();
    let sampled = sample_root(parent, trace_id, name.as_str(), kind, callsite);
    let opening = Opening {
        trace_id,
        parent: None,
        offset: clock::offset(),
        sampled,
    };
    let span_id = write_frame(parent, opening, name, kind, callsite, slot);
    (span_id, true, sampled)
}

/// What a span's opening decided before its frame is written.
struct Opening {
    trace_id: TraceId,
    parent: Option<SpanId>,
    /// The wall-clock offset of the trace (see `clock`).
    offset: i64,
    /// False for a root that sampling left out.
    sampled: bool,
}

/// Picks the span's id, reads the clock and writes the frame into `slot`; returns the id.
///
/// Field by field, through the pointer: a frame (~220 bytes) built as one value and then
/// moved costs a `memcpy` per move, and whether the compiler elides those moves shifted
/// from build to build (530 or 610 instructions per span for the same source).
#[inline(always)]
fn write_frame(
    parent: Parent<'_>,
    o: Opening,
    name: SharedStr,
    kind: Kind,
    callsite: Option<&'static CallSite>,
    slot: &mut MaybeUninit<Frame>,
) -> SpanId {
    let span_id = ids::span_id();
    let start = clock::stamp(o.offset);
    // Read from the parent last: fewer values live across the clock and the id.
    let agent = if kind == Kind::Agent {
        Some(name.clone())
    } else {
        parent.agent().cloned()
    };
    let p = slot.as_mut_ptr();
    // SAFETY: `p` comes from a `&mut MaybeUninit<Frame>`, so it is valid and aligned for a
    // frame and nothing else aliases it. Each field is written once with `write`, which
    // neither reads nor drops the uninitialised memory; after the two writes every field
    // of the frame is initialised, which is what callers rely on when this returns.
    unsafe {
        addr_of_mut!((*p).ctx).write(Ctx {
            link: Some((o.trace_id, span_id)),
            agent: None,
            conversation: None,
            sink: parent.ctx.sink.clone(),
            recording: o.sampled,
            offset: o.offset,
        });
        addr_of_mut!((*p).record).write(Some(SpanRecord {
            trace_id: o.trace_id,
            span_id,
            parent: o.parent,
            start,
            end: clock::Stamp(0),
            name,
            kind,
            status: Status::Ok,
            provisional: false,
            // An unsampled root is opened like a discarded span: it is never sent, and
            // its children are not recorded.
            discarded: !o.sampled,
            callsite,
            agent,
            conversation: parent.conversation().cloned(),
            extras: None,
            tape_bytes: 0,
        }));
    }
    span_id
}

/// The sampling decision of a new trace, under the sampling rule of where its spans go.
/// Counts a trace left out.
#[inline]
fn sample_root(
    parent: Parent<'_>,
    trace_id: TraceId,
    name: &str,
    kind: Kind,
    callsite: Option<&'static CallSite>,
) -> bool {
    let decide = |config: &crate::config::Config| {
        let Some(rule) = &config.sampling else {
            return true;
        };
        let agent = match kind {
            Kind::Agent => name,
            _ => parent
                .agent()
                .map_or(config.agent_name.as_str(), |a| a.as_str()),
        };
        let mut input = SamplingInput::new(trace_id, name, kind, agent);
        if let Some(cs) = callsite {
            input.tags = cs.tags;
        }
        rule.keeps(&input)
    };
    match &parent.ctx.sink {
        Some(sink) => decide(sink.config()),
        None => crate::client::with_client(|c| {
            let keep = decide(&c.config);
            if !keep {
                c.queue.sampled_out();
            }
            keep
        })
        .unwrap_or(true),
    }
}

/// Sends the provisional copy of a root span (duration 0), so the dashboard shows a
/// long-running agent while it runs. A test inline: most spans are not roots.
#[inline]
pub(crate) fn announce(record: &SpanRecord, ctx: &Ctx) {
    if record.parent.is_none() && !record.discarded {
        announce_root(record, ctx);
    }
}

#[cold]
#[inline(never)]
fn announce_root(record: &SpanRecord, ctx: &Ctx) {
    let mut copy = record.clone();
    copy.provisional = true;
    copy.end = copy.start;
    send(copy, ctx);
}

/// Ends the span in `slot`: stamps the end time, marks a span ended by unwinding as
/// failed, and sends it. The record leaves `slot` only at the push, so a span on the frame
/// stack is moved once, stack to queue. A discarded span (or an empty slot) is left as it
/// is.
#[inline]
pub(crate) fn end(slot: &mut Option<SpanRecord>, ctx: &Ctx) {
    end_with::<false>(slot, ctx, |slot| {
        crate::client::send_from(slot);
        slot.is_none()
    });
}

/// [`end`], sending through `send` when the span goes to the client (the frame stack's
/// end path hands over the client cache it already holds; `send` says whether the record
/// left `slot`). True when the record was sent and `ctx` has no sink: a span's frame then
/// owns nothing more (see `context::pop_span`). False says nothing. `RETURNED`: the span
/// is known to end because its function returned, not because its thread unwinds (an
/// instrumented function's normal exit), so the thread's panic count is not read.
#[inline(always)]
pub(crate) fn end_with<const RETURNED: bool>(
    slot: &mut Option<SpanRecord>,
    ctx: &Ctx,
    send: impl FnOnce(&mut Option<SpanRecord>) -> bool,
) -> bool {
    let Some(r) = slot.as_mut().filter(|r| !r.discarded) else {
        return false;
    };
    r.end = clock::stamp(ctx.offset);
    if !RETURNED && std::thread::panicking() {
        panicked(r);
    }
    match &ctx.sink {
        Some(sink) => {
            if let Some(r) = slot.take() {
                sink.accept(r);
            }
            false
        }
        None => send(slot),
    }
}

/// A span that ends while its thread unwinds failed, unless it already says how.
#[cold]
fn panicked(record: &mut SpanRecord) {
    if record.status == Status::Ok {
        record.status = Status::Error;
        let e = record.extras();
        e.error_message = Some(crate::panic::message());
        e.exception_type = Some(Cow::Borrowed("panic"));
    }
}

/// Hands a record to the context's sink or to the client.
fn send(record: SpanRecord, ctx: &Ctx) {
    match &ctx.sink {
        Some(sink) => sink.accept(record),
        None => crate::client::send_from(&mut Some(record)),
    }
}

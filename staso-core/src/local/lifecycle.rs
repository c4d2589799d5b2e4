//! Opening and ending a span: the one place that decides whether a span is recorded,
//! builds its record, and sends it when it ends (one end path for guards, spans, futures
//! and streams). The caller's thread reads the clock, picks ids and moves owned data;
//! everything else waits for the batcher.

use super::clock;
use super::context::{Ctx, Frame};
use super::ids;
use super::record::{CallSite, SharedStr, SpanRecord};
use staso_types::{Kind, SamplingInput, Status, TraceId};
use std::borrow::Cow;

/// Whether a span started under `parent` is recorded: not below a discarded span, and
/// going to a test capture or a running client.
#[inline(always)]
pub(crate) fn records(parent: &Ctx) -> bool {
    parent.recording && (parent.sink.is_some() || crate::client::active())
}

/// Opens a span under `parent`: its record and the context its children inherit, or
/// `None` when nothing would record it.
///
/// The record leaves `agent` and `conversation` empty: they are in the child context, and
/// [`end`] moves them into the record, so a span costs one reference count on the
/// conversation rather than three.
#[inline(always)]
pub(crate) fn open(
    parent: &Ctx,
    name: SharedStr,
    kind: Kind,
    callsite: Option<&'static CallSite>,
) -> Option<(SpanRecord, Ctx)> {
    let Frame { ctx, record } = open_frame(parent, name, kind, callsite)?;
    Some((record?, ctx))
}

/// [`open`] as the frame that makes the span current: built in one expression, so that
/// a caller writing it into the frame stack writes it in place (the hot path of the
/// attributes: a frame is too large to build aside and copy without a `memcpy`).
#[inline(always)]
pub(crate) fn open_frame(
    parent: &Ctx,
    name: SharedStr,
    kind: Kind,
    callsite: Option<&'static CallSite>,
) -> Option<Frame> {
    if !records(parent) {
        return None;
    }
    let (trace_id, parent_id, offset, sampled) = match parent.link {
        Some((t, s)) => (t, Some(s), parent.offset, true),
        None => root(parent, &name, kind, callsite),
    };
    let span_id = ids::span_id();
    Some(Frame {
        ctx: Ctx {
            link: Some((trace_id, span_id)),
            agent: if kind == Kind::Agent {
                Some(name.clone())
            } else {
                parent.agent.clone()
            },
            conversation: parent.conversation.clone(),
            sink: parent.sink.clone(),
            recording: sampled,
            offset,
        },
        record: Some(SpanRecord {
            trace_id,
            span_id,
            parent: parent_id,
            start: clock::stamp(offset),
            end: clock::Stamp(0),
            name,
            kind,
            status: Status::Ok,
            provisional: false,
            // An unsampled root is opened like a discarded span: it is never sent, and
            // its children are not recorded.
            discarded: !sampled,
            callsite,
            agent: None,
            conversation: None,
            extras: None,
        }),
    })
}

/// A new trace: its id, the clock offset it keeps, and whether it is sampled. Out of
/// line: one span in many is a root.
#[cold]
#[inline(never)]
fn root(
    parent: &Ctx,
    name: &SharedStr,
    kind: Kind,
    callsite: Option<&'static CallSite>,
) -> (TraceId, Option<staso_types::SpanId>, i64, bool) {
    let t = ids::trace_id();
    let sampled = sample_root(parent, t, name, kind, callsite);
    (t, None, clock::offset(), sampled)
}

/// The sampling decision of a new trace, under the sampling rule of where its spans go.
/// Counts a trace left out.
#[inline]
fn sample_root(
    parent: &Ctx,
    trace_id: TraceId,
    name: &SharedStr,
    kind: Kind,
    callsite: Option<&'static CallSite>,
) -> bool {
    let decide = |config: &crate::config::Config| {
        let Some(rule) = &config.sampling else {
            return true;
        };
        let agent = match kind {
            Kind::Agent => name.as_str(),
            _ => parent
                .agent
                .as_ref()
                .map_or(config.agent_name.as_str(), |a| a.as_str()),
        };
        let mut input = SamplingInput::new(trace_id, name.as_str(), kind, agent);
        if let Some(cs) = callsite {
            input.tags = cs.tags;
        }
        rule.keeps(&input)
    };
    match &parent.sink {
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
/// long-running agent while it runs.
pub(crate) fn announce(record: &SpanRecord, ctx: &Ctx) {
    if record.parent.is_none() && !record.discarded {
        let mut copy = record.clone();
        copy.provisional = true;
        copy.end = copy.start;
        copy.agent = ctx.agent.clone();
        copy.conversation = ctx.conversation.clone();
        send(copy, ctx);
    }
}

/// Ends the span in `slot`: stamps the end time, takes agent and conversation from its
/// context, marks a span ended by unwinding as failed, and sends it. The record leaves
/// `slot` only at the push, so a span on the frame stack is moved once, stack to queue.
/// A discarded span (or an empty slot) is left as it is.
#[inline]
pub(crate) fn end(slot: &mut Option<SpanRecord>, ctx: &mut Ctx) {
    let Some(r) = slot.as_mut().filter(|r| !r.discarded) else {
        return;
    };
    r.end = clock::stamp(ctx.offset);
    if r.agent.is_none() {
        r.agent = ctx.agent.take();
    }
    if r.conversation.is_none() {
        r.conversation = ctx.conversation.take();
    }
    if std::thread::panicking() {
        panicked(r);
    }
    match &ctx.sink {
        Some(sink) => {
            if let Some(r) = slot.take() {
                sink.accept(r);
            }
        }
        None => crate::client::send_from(slot),
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

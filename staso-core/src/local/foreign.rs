//! Spans whose lifetime another system drives (a `tracing` span, through the bridge):
//! opened under an explicit parent context without being entered, made current on
//! whichever thread enters them — as often as that happens, nested, or on several
//! threads at once — and ended when that system closes them. Opening and ending stay
//! `lifecycle`'s; this only moves the record between its owner and the frame stacks.

use super::context::{self, Ctx, Frame, Parent};
use super::lifecycle;
use super::record::{SharedStr, SpanRecord};
use super::span::Span;
use staso_types::{CapturePolicy, Kind, SpanId, Status};
use std::borrow::Cow;

/// A span opened for another system's span.
#[derive(Debug)]
pub(crate) struct Foreign {
    /// The record and the context its children inherit; `None` while lent to the frame
    /// of a thread that entered the span, and for a span that is not recorded.
    held: Option<(SpanRecord, Ctx)>,
    /// What children inherit (a copy, made once): for children that find it through the
    /// other system's parentage, and for enters while `held` is lent. For a span that is
    /// not recorded, its parent's context: children skip it (or are not recorded either,
    /// below an unsampled or discarded span).
    link: Ctx,
    /// The span's own id, when it is recorded.
    own: Option<SpanId>,
}

impl Foreign {
    /// Opens a span under `parent` (sending the provisional copy of a root). A span
    /// that nothing would record is kept as its parent's context, so that what starts
    /// inside it inherits that.
    pub(crate) fn open(parent: Ctx, name: SharedStr, kind: Kind) -> Foreign {
        match lifecycle::open(Parent::of(&parent), name, kind, None) {
            Some((record, ctx)) => {
                lifecycle::announce(&record, &ctx);
                Foreign {
                    // Whole: a thread that enters the span while another holds its
                    // record has only this to pass on.
                    link: Parent::span(&ctx, &record).to_ctx(),
                    own: Some(record.span_id),
                    held: Some((record, ctx)),
                }
            }
            None => Foreign {
                held: None,
                link: parent,
                own: None,
            },
        }
    }

    /// What a child opened through the other system's parentage inherits.
    pub(crate) fn context(&self) -> &Ctx {
        &self.link
    }

    /// The span whose frames this span pushes (its own id; its parent's when it is not
    /// recorded); `None` when it pushes none.
    fn key(&self) -> Option<SpanId> {
        self.link.link.map(|(_, s)| s)
    }

    /// Makes the span current on this thread: its frame holds the record when no other
    /// thread has it, only its context otherwise.
    pub(crate) fn enter(&mut self) {
        if self.key().is_none() {
            return;
        }
        let frame = match self.held.take() {
            Some((record, ctx)) => Frame {
                ctx,
                record: Some(record),
            },
            None => Frame {
                ctx: self.link.clone(),
                record: None,
            },
        };
        context::push(frame);
    }

    /// Undoes this thread's latest [`enter`](Self::enter) and takes the record back if
    /// that frame held it.
    pub(crate) fn exit(&mut self) {
        let Some(key) = self.key() else { return };
        if let Some(Frame {
            ctx,
            record: Some(record),
        }) = context::pop_linked(key, self.own)
        {
            self.held = Some((record, ctx));
        }
    }

    /// The capture policy the span is recorded under (its sink's, or the client's).
    pub(crate) fn policy(&self) -> Option<CapturePolicy> {
        match &self.link.sink {
            Some(s) => Some(s.config().capture),
            None => crate::client::with_config(|c| c.capture),
        }
    }

    /// Ends the span: `edit` sets its fields first, through the setters of [`Span`];
    /// then it ends on `lifecycle`'s one end path. A span that is not recorded, or whose
    /// record is still lent to a thread's frame, has nothing to end here.
    pub(crate) fn end(self, edit: impl FnOnce(&mut Span)) {
        if let Some(inner) = self.held {
            let mut span = Span::from_parts(Some(inner));
            edit(&mut span);
        }
    }
}

/// Sets a span's kind after it opened (a field recorded later can say what it is).
pub(crate) fn set_kind(span: &mut Span, kind: Kind) {
    if let Some((r, _)) = &mut span.inner {
        r.kind = kind;
    }
}

/// Marks a span failed with an error that is text, not a Rust value: its message and its
/// type as the other system named them.
pub(crate) fn set_failed(span: &mut Span, message: Option<String>, exception_type: Option<String>) {
    if let Some((r, _)) = &mut span.inner {
        r.status = Status::Error;
        let e = r.extras();
        if message.is_some() {
            e.error_message = message;
        }
        if let Some(t) = exception_type {
            e.exception_type = Some(Cow::Owned(t));
        }
    }
}

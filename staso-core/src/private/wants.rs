//! The capture decision taken at a span's opening, apart from the spans that carry it so
//! that what a call may capture reads in one place.

use crate::local::capture::{self, Input, RulesHandle};
use crate::local::context;
use crate::local::record::CallSite;
use staso_types::Kind;
use std::panic::Location;

/// Fields common to the sync and async forms, set while the span is being opened: whether
/// arguments and result are captured (decided once per call, before any value is built).
pub(super) struct Wants {
    pub(super) want_in: bool,
    pub(super) want_out: bool,
    /// The input is yet to be stored (an agent's holds its name even without arguments).
    pub(super) input_pending: bool,
    /// The span goes to a test capture (else to the client, whose rules are in this
    /// thread's cache). Meaningful when something is wanted.
    to_sink: bool,
}

impl Wants {
    pub(super) const OFF: Wants = Wants {
        want_in: false,
        want_out: false,
        input_pending: false,
        to_sink: false,
    };

    /// A function whose attribute captures nothing does not look at the policy at all.
    #[inline(always)]
    pub(super) fn new(cs: &'static CallSite, ctx: &context::Ctx) -> Wants {
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
    pub(super) fn input(
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
    pub(super) fn input_stored(&mut self, cs: &'static CallSite) -> Option<&'static str> {
        self.input_pending = false;
        (cs.kind == Kind::Agent).then_some(cs.name)
    }

    /// What recording needs of the rules of span `id` (of call site `cs`), on this
    /// thread: its test capture's, else the client's, from the call site's word (looked
    /// up here rather than kept in every handle, which would grow the handle of a span
    /// that captures nothing).
    #[inline(always)]
    pub(super) fn tape_rules(
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
pub(super) fn tape_rules_of(
    sink: Option<&std::sync::Arc<dyn context::Sink>>,
    cs: &'static CallSite,
) -> Option<capture::TapeRules> {
    match sink {
        Some(s) => Some(capture::TapeRules::of(s.config())),
        None => cs.decided.get(cs.kind).rules,
    }
}

/// The capture rules of span `id`'s frame on this thread: its test capture's, else the
/// client's.
pub(super) fn frame_rules(id: staso_types::SpanId) -> Option<RulesHandle> {
    let sink = context::with_frame(id, |fr| fr.ctx.sink.clone()).flatten();
    RulesHandle::of(sink.as_ref())
}

//! The capture decision taken at a span's opening, apart from the spans that carry it so
//! that what a call may capture reads in one place.

use crate::local::capture::{self, Input, RulesHandle};
use crate::local::context;
use crate::local::record::CallSite;
use staso_types::Kind;
use std::panic::Location;

/// Fields common to the sync and async forms, set while the span is being opened: whether
/// arguments and result are captured (decided once per call, before any value is built),
/// and what recording needs of the rules the span opened under (its test capture's, else
/// the client's), read once for the arguments and the result alike.
///
/// Packed in 8 bytes (flags and the bound): a sync span's handle stays 32 bytes, which
/// the disabled path writes in two stores.
#[derive(Clone, Copy)]
pub(super) struct Wants {
    flags: u8,
    /// `max_field_bytes` of the rules (meaningful when something is wanted).
    max_field_bytes: u32,
}

/// Arguments are captured.
const IN: u8 = 1;
/// The result is captured.
const OUT: u8 = 2;
/// The input is yet to be stored (an agent's holds its name even without arguments).
const PENDING: u8 = 4;
/// The rules redact secret-looking names.
const REDACT: u8 = 8;
/// The span is a root (its opening sends the provisional copy); set by the sync form.
const ROOT: u8 = 16;

impl Wants {
    pub(super) const OFF: Wants = Wants {
        flags: 0,
        max_field_bytes: 0,
    };

    /// Whether arguments are captured.
    #[inline(always)]
    pub(super) fn want_in(self) -> bool {
        self.flags & IN != 0
    }

    /// Whether the result is captured.
    #[inline(always)]
    pub(super) fn want_out(self) -> bool {
        self.flags & OUT != 0
    }

    /// Whether the input is yet to be stored.
    #[inline(always)]
    pub(super) fn input_pending(self) -> bool {
        self.flags & PENDING != 0
    }

    /// Whether the span is a root (see [`Wants::rooted`]).
    #[inline(always)]
    pub(super) fn root(self) -> bool {
        self.flags & ROOT != 0
    }

    /// These wants, for a span that is a root when `root` says so.
    #[inline(always)]
    pub(super) fn rooted(mut self, root: bool) -> Wants {
        self.flags |= u8::from(root) * ROOT;
        self
    }

    /// A function whose attribute captures nothing does not look at the policy at all.
    #[inline(always)]
    pub(super) fn new(cs: &'static CallSite, ctx: &context::Ctx) -> Wants {
        if !cs.capture_input && !cs.capture_output {
            return Wants::OFF;
        }
        // The client's answer, when the call site's word holds it, without a call.
        if ctx.sink.is_none() {
            if let Some((flags, max_field_bytes)) = cs.decided.cached() {
                return Wants {
                    flags,
                    max_field_bytes,
                };
            }
        }
        Wants::decide(cs, ctx)
    }

    /// What the policy lets this call capture: a test capture's, else the client's,
    /// read from the call site's word (see `SiteDecision`).
    #[inline(never)]
    fn decide(cs: &'static CallSite, ctx: &context::Ctx) -> Wants {
        let (flags, max_field_bytes) = match &ctx.sink {
            Some(s) => Wants::answer(cs, sink_allows(cs, s)),
            // The call site's word holds this answer (see `SiteDecision`).
            None => cs.decided.get(cs.kind, |d| Wants::answer(cs, d)),
        };
        Wants {
            flags,
            max_field_bytes,
        }
    }

    /// What a call of `cs` captures under decision `d` (no flag at all when nothing is
    /// captured or there is no client).
    fn answer(cs: &'static CallSite, d: capture::Decided) -> capture::Packed {
        let Some(rules) = d.rules else {
            return (0, 0);
        };
        let want_in = cs.capture_input && d.input;
        let want_out = cs.capture_output && d.output;
        if !want_in && !want_out {
            return (0, 0);
        }
        let flag = |on: bool, f: u8| if on { f } else { 0 };
        let flags = flag(want_in, IN)
            | flag(want_out, OUT)
            | flag(want_in && cs.kind == Kind::Agent, PENDING)
            | flag(rules.redact, REDACT);
        (flags, rules.max_field_bytes)
    }

    /// Captures the input of the span of `cs` going to `sink` (or the client); `f` adds
    /// the arguments. Kept out of the span so that it stays small for the spans that
    /// capture nothing.
    pub(super) fn input(
        &mut self,
        cs: &'static CallSite,
        site: &'static Location<'static>,
        f: impl FnOnce(&mut Input<'_>),
    ) -> Option<capture::Taped> {
        if !self.want_in() {
            return None;
        }
        let agent = self.input_stored(cs);
        Some(capture::input_tape(self.tape_rules(), Some(site), agent, f))
    }

    /// The input of call site `cs` is being stored: nothing is pending any more, and an
    /// agent's name goes first in it.
    #[inline]
    pub(super) fn input_stored(&mut self, cs: &'static CallSite) -> Option<&'static str> {
        self.flags &= !PENDING;
        (cs.kind == Kind::Agent).then_some(cs.name)
    }

    /// What recording needs of the rules the span opened under.
    #[inline(always)]
    pub(super) fn tape_rules(self) -> capture::TapeRules {
        capture::TapeRules {
            max_field_bytes: self.max_field_bytes,
            redact: self.flags & REDACT != 0,
        }
    }
}

/// What a test capture's policy lets call site `cs` capture, and its rules. Out of line:
/// the client's case is the one that counts.
#[cold]
#[inline(never)]
fn sink_allows(
    cs: &'static CallSite,
    sink: &std::sync::Arc<dyn context::Sink>,
) -> capture::Decided {
    let c = sink.config();
    capture::Decided {
        input: c.capture.allows_input(cs.kind),
        output: c.capture.allows_output(),
        rules: Some(capture::TapeRules::of(c)),
    }
}

/// The capture rules of span `id`'s frame on this thread: its test capture's, else the
/// client's.
pub(super) fn frame_rules(id: staso_types::SpanId) -> Option<RulesHandle> {
    let sink = context::with_frame(id, |fr| fr.ctx.sink.clone()).flatten();
    RulesHandle::of(sink.as_ref())
}

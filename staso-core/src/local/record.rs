//! The span record: what a span holds from its start to the batcher. Kept small and
//! allocation-free when nothing is captured; optional content lives behind one `Box`.

use super::capture::RulesHandle;
use super::clock::Stamp;
pub(crate) use super::extras::{Extras, ExtrasBox, Field, Llm};
use staso_types::{Kind, SpanId, Status, TraceId};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A conversation's identity, shared by every span inside it (a record holds it; the
/// context hands it to the spans opened inside).
#[derive(Debug)]
pub(crate) struct Conversation {
    pub(crate) session_id: String,
    pub(crate) user_id: Option<String>,
}

/// A string that is usually `'static` (names from attributes) and cheap to clone when not.
#[derive(Clone, PartialEq, Eq)]
pub enum SharedStr {
    /// Known at compile time.
    Static(&'static str),
    /// Made at run time.
    Shared(Arc<str>),
}

impl SharedStr {
    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            SharedStr::Static(s) => s,
            SharedStr::Shared(s) => s,
        }
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&'static str> for SharedStr {
    fn from(s: &'static str) -> Self {
        SharedStr::Static(s)
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> Self {
        SharedStr::Shared(s.into())
    }
}

impl From<Cow<'static, str>> for SharedStr {
    fn from(s: Cow<'static, str>) -> Self {
        match s {
            Cow::Borrowed(s) => SharedStr::Static(s),
            Cow::Owned(s) => SharedStr::Shared(s.into()),
        }
    }
}

/// Where an instrumented function lives and how its attribute was configured; one
/// `static` per function, written by the macros.
#[derive(Debug)]
pub struct CallSite {
    /// Span name (the function name unless `name = ".."`).
    pub name: &'static str,
    /// Span kind.
    pub kind: Kind,
    /// The function's own name (`code.function`).
    pub function: &'static str,
    /// `module_path!()` of the function.
    pub module_path: &'static str,
    /// `file!()` (`code.filepath`).
    pub file: &'static str,
    /// Line of the function (`code.lineno`).
    pub line: u32,
    /// `tags = [..]`.
    pub tags: &'static [&'static str],
    /// `capture_input = false` turns argument capture off for this function.
    pub capture_input: bool,
    /// `capture_output = false` turns result capture off for this function.
    pub capture_output: bool,
    /// What the client's capture policy decided for this call site (the SDK fills it;
    /// written as [`SiteDecision::NEW`](crate::__private::SiteDecision::NEW)).
    pub decided: super::capture::SiteDecision,
}

/// A span as it travels from the caller's thread to the batcher.
///
/// Kept within 128 bytes (a test says so): a move of up to 128 bytes is a few vector
/// moves, a larger one a call to `memcpy`, and a record is moved several times between
/// the stack and the queue. The same size is what a queued span costs in memory
/// (`max_queue_size` of them at most), plus what its `extras` and strings hold.
#[derive(Debug, Clone)]
pub(crate) struct SpanRecord {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// The parent's span id; `None` at a root (ids are never zero, so the option costs
    /// no tag).
    pub parent: Option<SpanId>,
    /// Wall-clock start and end, in the offset of the span's trace (see `clock`).
    pub start: Stamp,
    pub end: Stamp,
    pub name: SharedStr,
    pub kind: Kind,
    pub status: Status,
    /// The copy of a root sent when it opens; replaced by the final copy.
    pub provisional: bool,
    /// Set by `discard()`: ended without being sent.
    pub discarded: bool,
    pub callsite: Option<&'static CallSite>,
    /// The innermost enclosing agent's name; the client's default when `None`.
    pub agent: Option<SharedStr>,
    pub conversation: Option<Arc<Conversation>>,
    pub extras: Option<ExtrasBox>,
    /// How many bytes of captured tapes travel with the record in its lane's ring (see
    /// `export::lane::Lane::push_taped`); 0 anywhere else, and once the batcher has put
    /// them in a box. In the record's padding.
    pub tape_bytes: u32,
}

impl SpanRecord {
    /// The span's box, made when it has none: one the thread's lane keeps when there is
    /// one (see `Lane::scratch`), else one from the pool.
    pub(crate) fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(crate::client::scratch_box)
    }

    /// The span's box, taken out, when it holds only the tapes an instrumented function
    /// recorded (an async one's: its arguments and result), in the order that travels
    /// beside the record (see `Lane::push_taped`).
    pub(crate) fn take_tapes_only(&mut self) -> Option<ExtrasBox> {
        let e = self.extras.as_ref()?;
        if e.only_tapes() && e.trailer().is_some() {
            self.extras.take()
        } else {
            None
        }
    }

    /// Takes the tapes a span kept in `tapes` (a box holding nothing else): the box
    /// becomes the record's, or its tapes move into the record's own box.
    pub(crate) fn keep_tapes(&mut self, tapes: ExtrasBox) {
        match &mut self.extras {
            None => self.extras = Some(tapes),
            Some(e) => tapes.move_tapes_into(e),
        }
    }

    /// Writes what the span recorded as tapes as JSON (see [`Extras::resolve`]); `rules`
    /// is called only when there is something to write.
    #[inline]
    pub(crate) fn resolve_tapes(&mut self, rules: impl FnOnce() -> RulesHandle) {
        if let Some(e) = self.extras.as_deref_mut().filter(|e| e.has_tapes()) {
            e.resolve(&rules());
        }
    }
}

#[cfg(test)]
impl SpanRecord {
    /// A finished tool span, the `n`-th of trace 7 (id `n + 1`): what the queue's tests
    /// push.
    pub(crate) fn test_tool(n: u64) -> SpanRecord {
        SpanRecord {
            trace_id: TraceId::from_u128(7).expect("non-zero"),
            span_id: SpanId::from_u64(n + 1).expect("non-zero"),
            parent: None,
            start: Stamp(1),
            end: Stamp(2),
            name: SharedStr::Static("step"),
            kind: Kind::Tool,
            status: Status::Ok,
            provisional: false,
            discarded: false,
            callsite: None,
            agent: None,
            conversation: None,
            extras: None,
            tape_bytes: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_moves_without_memcpy() {
        // 128 bytes: moved with vector moves, not a call to memcpy (see SpanRecord).
        assert!(
            std::mem::size_of::<SpanRecord>() <= 128,
            "{}",
            std::mem::size_of::<SpanRecord>()
        );
    }
}

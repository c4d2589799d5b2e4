//! The span record: what a span holds from its start to the batcher. Kept small and
//! allocation-free when nothing is captured; optional content lives behind one `Box`.

use super::clock::Stamp;
use crossbeam_queue::ArrayQueue;
use smallvec::SmallVec;
use staso_types::{Kind, SpanId, Status, TraceId};
use std::borrow::Cow;
use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::{Arc, OnceLock};

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
}

/// The LLM fields of a span.
#[derive(Debug, Clone, Default)]
pub(crate) struct Llm {
    pub model: String,
    pub provider: String,
    pub requested_model: String,
    pub reasoning_effort: String,
    pub usage_available: bool,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
    /// Input and output were filtered per capture category by an LLM integration
    /// (`crate::llm`): sent even when some categories are off.
    pub prefiltered: bool,
}

impl Llm {
    pub(crate) const EMPTY: Llm = Llm {
        model: String::new(),
        provider: String::new(),
        requested_model: String::new(),
        reasoning_effort: String::new(),
        usage_available: false,
        input_tokens: 0,
        output_tokens: 0,
        total_tokens: 0,
        prefiltered: false,
    };

    /// No LLM field is set (what a span that is not an LLM call has).
    pub(crate) fn is_empty(&self) -> bool {
        self.model.is_empty()
            && self.provider.is_empty()
            && self.requested_model.is_empty()
            && self.reasoning_effort.is_empty()
            && !self.usage_available
            && (self.input_tokens, self.output_tokens, self.total_tokens) == (0, 0, 0)
    }
}

/// Where a field's text lies in [`Extras`]' buffer (a span's captured text stays far below
/// 4 GiB: each field is bounded by `max_field_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    start: u32,
    end: u32,
}

/// A metadata attribute: its key (plain text) and value (a JSON document), and when the
/// value was cut at the bound, at least the size it would have had (else 0).
#[derive(Debug, Clone, Copy)]
struct Meta {
    key: Piece,
    value: Piece,
    truncated: u32,
}

/// Bytes of captured text kept inside [`Extras`] itself: a span with small captured
/// values (a few arguments, a result) costs one allocation, the `Box` of its extras.
const INLINE: usize = 120;

/// A size for a `staso.truncated.*` attribute: saturated, it is still a lower bound.
fn size(n: Option<usize>) -> u32 {
    n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// The fields that may be cut at the bound, for their `staso.truncated.<field>` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Input = 0,
    Output = 1,
    ErrorMessage = 2,
    Name = 3,
    Tags = 4,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::Input,
        Field::Output,
        Field::ErrorMessage,
        Field::Name,
        Field::Tags,
    ];

    /// The attribute naming the field's original size.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Field::Input => "staso.truncated.input",
            Field::Output => "staso.truncated.output",
            Field::ErrorMessage => "staso.truncated.error_message",
            Field::Name => "staso.truncated.name",
            Field::Tags => "staso.truncated.tags",
        }
    }
}

/// Content that only some spans have. What was captured is encoded already, on the
/// caller's thread, and kept as text in one buffer: JSON documents for the input, output
/// and metadata values, plain text for the error message, tags and metadata keys. The
/// encoder copies it into the request body as it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extras {
    text: SmallVec<[u8; INLINE]>,
    input: Option<Piece>,
    output: Option<Piece>,
    error: Option<Piece>,
    metadata: Vec<Meta>,
    tags: Vec<Piece>,
    /// Per [`Field`]: at least the original size when it was cut at the bound, else 0.
    truncated: [u32; 5],
    /// A message the SDK wrote itself (a panic's, a cancellation's): cleaned (cut,
    /// scrubbed, masked) when encoded. When set, it is newer than a captured one.
    pub error_message: Option<String>,
    pub exception_type: Option<Cow<'static, str>>,
    pub llm: Llm,
    /// A span id written in place of `span_id` on the wire: the full UUID v5 of a guard
    /// decision span (the one documented exception to the 64-bit span id rule; see
    /// `guard::span`). Retried decisions then land on the same span.
    pub wire_span_id: Option<String>,
}

impl Extras {
    /// Whether it owns memory besides itself. Every field is named: a field added to
    /// `Extras` must be added here (a pooled box is reused without dropping its old value).
    fn holds_heap(&self) -> bool {
        let Extras {
            text,
            input: _,
            output: _,
            error: _,
            metadata,
            tags,
            truncated: _,
            error_message,
            exception_type,
            llm,
            wire_span_id,
        } = self;
        let Llm {
            model,
            provider,
            requested_model,
            reasoning_effort,
            usage_available: _,
            input_tokens: _,
            output_tokens: _,
            total_tokens: _,
            prefiltered: _,
        } = llm;
        text.spilled()
            || metadata.capacity() > 0
            || tags.capacity() > 0
            || error_message.is_some()
            || wire_span_id.is_some()
            || matches!(exception_type, Some(Cow::Owned(_)))
            || [model, provider, requested_model, reasoning_effort]
                .iter()
                .any(|s| s.capacity() > 0)
    }

    fn push(&mut self, s: &str) -> Piece {
        let offset = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let start = offset(self.text.len());
        if self.text.len() + s.len() > INLINE {
            // A big field: exactly what it needs, not the next power of two.
            self.text.reserve_exact(s.len());
        }
        self.text.extend_from_slice(s.as_bytes());
        Piece {
            start,
            end: offset(self.text.len()),
        }
    }

    fn get(&self, p: Piece) -> &str {
        // Only whole `str`s are pushed, and pieces are cut where they were pushed.
        let bytes = self.text.get(p.start as usize..p.end as usize);
        std::str::from_utf8(bytes.unwrap_or_default()).unwrap_or_default()
    }

    fn mark(&mut self, field: Field, truncated: Option<usize>) {
        self.truncated[field as usize] = size(truncated);
    }

    /// Stores the input (a JSON document).
    pub(crate) fn set_input(&mut self, doc: &str, truncated: Option<usize>) {
        self.input = Some(self.push(doc));
        self.mark(Field::Input, truncated);
    }

    /// Stores the output (a JSON document).
    pub(crate) fn set_output(&mut self, doc: &str, truncated: Option<usize>) {
        self.output = Some(self.push(doc));
        self.mark(Field::Output, truncated);
    }

    /// Stores a captured error message (plain text); it replaces one the SDK wrote.
    pub(crate) fn set_error_text(&mut self, text: &str, truncated: Option<usize>) {
        self.error = Some(self.push(text));
        self.error_message = None;
        self.mark(Field::ErrorMessage, truncated);
    }

    /// Notes that the span's name was cut at the bound.
    pub(crate) fn set_name_truncated(&mut self, truncated: Option<usize>) {
        self.mark(Field::Name, truncated);
    }

    /// Sets metadata `key` (its value a JSON document), replacing an earlier value.
    pub(crate) fn set_metadata(&mut self, key: &str, doc: &str, truncated: Option<usize>) {
        let value = self.push(doc);
        let truncated = size(truncated);
        if let Some(i) = self.metadata.iter().position(|m| self.get(m.key) == key) {
            self.metadata[i].value = value;
            self.metadata[i].truncated = truncated;
        } else {
            let key = self.push(key);
            self.metadata.push(Meta {
                key,
                value,
                truncated,
            });
        }
    }

    /// Adds a tag (plain text).
    pub(crate) fn push_tag(&mut self, tag: &str, truncated: Option<usize>) {
        let p = self.push(tag);
        self.tags.push(p);
        let t = &mut self.truncated[Field::Tags as usize];
        *t = (*t).max(size(truncated));
    }

    /// The input document, if one was captured.
    pub(crate) fn input(&self) -> Option<&str> {
        self.input.map(|p| self.get(p))
    }

    /// The output document, if one was captured.
    pub(crate) fn output(&self) -> Option<&str> {
        self.output.map(|p| self.get(p))
    }

    /// The captured error message (the SDK's own is [`Extras::error_message`]).
    pub(crate) fn error_text(&self) -> Option<&str> {
        self.error.map(|p| self.get(p))
    }

    /// Metadata: key, value document, and the original size when the value was cut.
    pub(crate) fn metadata(&self) -> impl Iterator<Item = (&str, &str, Option<usize>)> {
        self.metadata.iter().map(|m| {
            (
                self.get(m.key),
                self.get(m.value),
                (m.truncated > 0).then_some(m.truncated as usize),
            )
        })
    }

    /// The value document of metadata `key`, if set.
    pub(crate) fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|m| self.get(m.key) == key)
            .map(|m| self.get(m.value))
    }

    /// Tags added at run time.
    pub(crate) fn tags(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(|p| self.get(*p))
    }

    /// The fields cut at the bound, with at least their original size.
    pub(crate) fn truncated(&self) -> impl Iterator<Item = (Field, usize)> + '_ {
        Field::ALL
            .into_iter()
            .map(|f| (f, self.truncated[f as usize] as usize))
            .filter(|(_, n)| *n > 0)
    }
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
}

impl SpanRecord {
    pub(crate) fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(ExtrasBox::take)
    }
}

/// A span's [`Extras`], in a box that goes back to a pool shared by all threads when the
/// span is dropped (by the batcher, once sent). A span that captures something then costs
/// its thread a pop from the pool rather than a `malloc` whose memory another thread freed
/// (glibc's slow path, and most of what capturing small values cost).
pub(crate) struct ExtrasBox(ManuallyDrop<Box<Extras>>);

/// Boxes kept for reuse (about 400 bytes each): enough for the spans in flight of a busy
/// process (the default queue holds 10 000), 1.6 MiB at most.
const POOLED: usize = 4096;

fn pool() -> &'static ArrayQueue<Box<Extras>> {
    static POOL: OnceLock<ArrayQueue<Box<Extras>>> = OnceLock::new();
    POOL.get_or_init(|| ArrayQueue::new(POOLED))
}

impl ExtrasBox {
    fn take() -> ExtrasBox {
        let b = match pool().pop() {
            Some(mut b) => {
                // A pooled box holds no heap (see `Drop`): its old value is forgotten, not
                // dropped, which leaks nothing and skips the drop glue.
                std::mem::forget(std::mem::take(&mut *b));
                b
            }
            None => Box::default(),
        };
        ExtrasBox(ManuallyDrop::new(b))
    }
}

impl Drop for ExtrasBox {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once, and nothing uses the box after it is taken here.
        let b = unsafe { ManuallyDrop::take(&mut self.0) };
        // What a big span held goes back to the allocator, here, off the caller's thread;
        // a plain one is pooled as it is (written again only when reused, so that its
        // memory is not made dirty in this thread's cache).
        if b.holds_heap() {
            drop(b);
        } else {
            let _ = pool().push(b);
        }
    }
}

impl std::ops::Deref for ExtrasBox {
    type Target = Extras;
    fn deref(&self) -> &Extras {
        &self.0
    }
}

impl std::ops::DerefMut for ExtrasBox {
    fn deref_mut(&mut self) -> &mut Extras {
        &mut self.0
    }
}

impl Clone for ExtrasBox {
    fn clone(&self) -> Self {
        let mut b = ExtrasBox::take();
        Extras::clone_from(&mut b, self);
        b
    }
}

impl fmt::Debug for ExtrasBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_stay_small() {
        // One allocation per span for what it captured: small captures inline.
        assert!(
            std::mem::size_of::<Extras>() <= 512,
            "{}",
            std::mem::size_of::<Extras>()
        );
    }

    #[test]
    fn a_record_moves_without_memcpy() {
        // 128 bytes: moved with vector moves, not a call to memcpy (see SpanRecord).
        assert!(
            std::mem::size_of::<SpanRecord>() <= 128,
            "{}",
            std::mem::size_of::<SpanRecord>()
        );
    }

    #[test]
    fn captured_text_lives_in_one_buffer() {
        let mut e = Extras::default();
        e.set_input(r#"{"q":"a"}"#, None);
        e.set_metadata("team", r#""cx""#, None);
        e.set_metadata("team", r#""search""#, Some(900));
        e.push_tag("beta", None);
        e.set_output(r#"{"result":1}"#, Some(12));
        assert_eq!(e.input(), Some(r#"{"q":"a"}"#));
        assert_eq!(e.output(), Some(r#"{"result":1}"#));
        let meta: Vec<_> = e.metadata().collect();
        assert_eq!(meta, vec![("team", r#""search""#, Some(900))]);
        assert_eq!(e.tags().collect::<Vec<_>>(), vec!["beta"]);
        assert_eq!(e.truncated().collect::<Vec<_>>(), vec![(Field::Output, 12)]);
        assert!(!e.text.spilled(), "small captures stay inline");
    }
}

//! What only some spans have, behind one pooled `Box`: captured text (JSON documents,
//! or tapes the batcher writes as JSON), the error, LLM fields.

use super::capture::{self, RulesHandle, Site};
use smallvec::SmallVec;
use std::borrow::Cow;

mod pool;
mod trailer;
pub(crate) use pool::{ExtrasBox, POOLED};

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
    /// Bits [`TAPED_INPUT`] and [`TAPED_OUTPUT`]: that field holds a tape recorded on the
    /// caller's thread (the attributes' arguments and result), not JSON yet; the batcher
    /// (or a test capture) writes it as JSON with [`Extras::resolve`] before anything
    /// reads it.
    taped: u8,
    /// Where the tapes were recorded (for the one warning of a mask hook that panics).
    tape_site: Option<&'static std::panic::Location<'static>>,
    /// The tapes: `input` and `output` are pieces of this buffer while their bit in
    /// `taped` is set. Recorded into directly (see [`Extras::tapes_mut`]), so a tape is
    /// not copied; a pooled box keeps its capacity, up to [`TAPES_KEEP`].
    tapes: Vec<u8>,
    /// What was charged against `max_queue_bytes` when the span entered the queue
    /// holding more than its allowance (see `export::queue::captured`); given back when
    /// the box is dropped. 0 otherwise, and in a copy. In the struct's padding: it does
    /// not make the box larger (see `extras_stay_small`).
    charged: Charged,
}

/// A box's charge: not copied with the box (a copy is charged when it is queued).
#[derive(Debug, Default)]
struct Charged(u32);

impl Clone for Charged {
    fn clone(&self) -> Self {
        Charged(0)
    }
}

/// Capacity of the tape buffer a pooled box keeps (most spans' arguments and result fit):
/// 1 MiB over the 4 096 pooled boxes at most.
const TAPES_KEEP: usize = 256;

/// The heap a box may own without a charge besides its tape buffer: what the small
/// fields take when its text is inline (the indexes of up to 60 metadata entries or 120
/// tags, whose keys and values share the 120 inline bytes, an exception type, a wire
/// span id, LLM model and provider names).
const SMALL_FIELDS: usize = 2_560;

/// What a box in the pool holds: itself and a kept tape buffer.
pub(crate) const POOLED_BOX_BYTES: usize = std::mem::size_of::<Extras>() + TAPES_KEEP;

/// What a queued span's box holds at most without a charge against `max_queue_bytes`:
/// a pooled box's bytes and [`SMALL_FIELDS`].
pub(crate) const SMALL_BOX_BYTES: usize = POOLED_BOX_BYTES + SMALL_FIELDS;

/// The piece of a buffer from `start` to `end` (offsets past `u32::MAX` saturate).
fn piece(start: usize, end: usize) -> Piece {
    let offset = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Piece {
        start: offset(start),
        end: offset(end),
    }
}

/// See [`Extras::taped`](Extras).
const TAPED_INPUT: u8 = 1;
const TAPED_OUTPUT: u8 = 2;

impl Extras {
    /// Whether it owns memory besides itself and a tape buffer the pool keeps (a pooled
    /// box is reused without dropping its old value, so one that does is emptied).
    fn holds_heap(&self) -> bool {
        let kept = self.tapes.capacity();
        let kept = if kept <= TAPES_KEEP { kept } else { 0 };
        self.heap_bytes() > kept
    }

    /// Whether the box may own more than a queued span's allowance (see
    /// `export::queue::captured`): text spilled out of the box, a tape buffer grown past
    /// what a pooled box keeps, or a message the SDK wrote. Three compares on the end of
    /// a span that has a box; [`Extras::admit`] then counts.
    #[inline(always)]
    pub(crate) fn maybe_beyond_allowance(&self) -> bool {
        self.text.spilled() || self.tapes.capacity() > TAPES_KEEP || self.error_message.is_some()
    }

    /// Admits the box into a queue whose spans may hold `max_queue_bytes` of captured
    /// content beyond their allowance: charges what it owns when that is more
    /// than [`SMALL_FIELDS`] and a kept tape buffer. False, with nothing charged, when
    /// that does not fit.
    #[cold]
    #[inline(never)]
    pub(crate) fn admit(&mut self, max_queue_bytes: usize) -> bool {
        if self.charged.0 != 0 {
            return true;
        }
        let heap = self.heap_bytes();
        if heap <= TAPES_KEEP + SMALL_FIELDS {
            return true;
        }
        let n = u32::try_from(heap).unwrap_or(u32::MAX);
        if !crate::export::queue::captured::charge(max_queue_bytes, n) {
            return false;
        }
        self.charged.0 = n;
        true
    }

    /// The heap the box's content owns (not the box itself). Every field is named: a
    /// field added to `Extras` must be counted here (what the pool empties, and what the
    /// byte bound charges, are decided from it).
    pub(crate) fn heap_bytes(&self) -> usize {
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
            taped: _,
            tape_site: _,
            tapes,
            charged: _,
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
        let spilled = if text.spilled() { text.capacity() } else { 0 };
        let owned = |s: Option<&String>| s.map_or(0, String::capacity);
        let exception = match exception_type {
            Some(Cow::Owned(t)) => t.capacity(),
            _ => 0,
        };
        spilled
            + tapes.capacity()
            + metadata.capacity() * std::mem::size_of::<Meta>()
            + tags.capacity() * std::mem::size_of::<Piece>()
            + owned(error_message.as_ref())
            + owned(wire_span_id.as_ref())
            + exception
            + [model, provider, requested_model, reasoning_effort]
                .iter()
                .map(|s| s.capacity())
                .sum::<usize>()
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

    /// A piece of the tape buffer.
    fn tape(&self, p: Piece) -> &[u8] {
        self.tapes
            .get(p.start as usize..p.end as usize)
            .unwrap_or_default()
    }

    /// Appends `tape` to the tape buffer.
    fn push_tape(&mut self, tape: &[u8]) -> Piece {
        let start = self.tapes.len();
        self.tapes.extend_from_slice(tape);
        piece(start, self.tapes.len())
    }

    /// Stores the input as a tape (see `capture::tape`), for [`Extras::resolve`].
    pub(crate) fn set_input_tape(&mut self, tape: &[u8], site: Site) {
        let p = self.push_tape(tape);
        self.mark_tape(Field::Input, p, site);
    }

    /// Stores the output as a tape, for [`Extras::resolve`].
    pub(crate) fn set_output_tape(&mut self, tape: &[u8], site: Site) {
        let p = self.push_tape(tape);
        self.mark_tape(Field::Output, p, site);
    }

    /// Piece `p` of the tape buffer is the tape of `field` (the input or the output).
    #[inline]
    fn mark_tape(&mut self, field: Field, p: Piece, site: Site) {
        match field {
            Field::Output => {
                self.output = Some(p);
                self.taped |= TAPED_OUTPUT;
            }
            _ => {
                self.input = Some(p);
                self.taped |= TAPED_INPUT;
            }
        }
        self.tape_site = site;
    }

    /// The tape buffer, to record a document at its end; then mark it with
    /// [`Extras::keep_tape`].
    #[inline]
    pub(crate) fn tapes_mut(&mut self) -> &mut Vec<u8> {
        if self.tapes.capacity() == 0 {
            // A new box: room for the usual arguments and result at once, rather than
            // growing from nothing.
            self.tapes.reserve_exact(TAPES_KEEP / 2);
        }
        &mut self.tapes
    }

    /// Copies the tapes into `into` (the box of the record they belong to, which had
    /// one of its own by the time the span ended): the input unless `into` has one (set
    /// after the arguments were recorded: the later value wins), the result in any case.
    pub(crate) fn move_tapes_into(&self, into: &mut Extras) {
        if into.input.is_none() {
            self.move_input_into(into);
        }
        if let Some(p) = self.output.filter(|_| self.taped & TAPED_OUTPUT != 0) {
            into.set_output_tape(self.tape(p), self.tape_site);
        }
    }

    /// Copies the input's tape into `into` (a record that already has a box).
    pub(crate) fn move_input_into(&self, into: &mut Extras) {
        if let Some(p) = self.input.filter(|_| self.taped & TAPED_INPUT != 0) {
            into.set_input_tape(self.tape(p), self.tape_site);
        }
    }

    /// Marks the bytes of the tape buffer from `start` as the tape of `field` (the input
    /// or the output).
    #[inline]
    pub(crate) fn keep_tape(&mut self, field: Field, start: usize, site: Site) {
        let p = piece(start, self.tapes.len());
        self.mark_tape(field, p, site);
    }

    /// Whether a field still holds a tape.
    #[inline]
    pub(crate) fn has_tapes(&self) -> bool {
        self.taped != 0
    }

    /// Writes the tapes as JSON documents under `rules` (the rules they were recorded
    /// under: the client's, or the test capture's).
    pub(crate) fn resolve(&mut self, rules: &RulesHandle) {
        for (bit, field) in [(TAPED_INPUT, Field::Input), (TAPED_OUTPUT, Field::Output)] {
            if self.taped & bit == 0 {
                continue;
            }
            let piece = match field {
                Field::Input => self.input,
                _ => self.output,
            };
            let Some(p) = piece else { continue };
            let doc = capture::replay(rules.clone(), self.tape_site, self.tape(p));
            match field {
                Field::Input => self.set_input(doc.text(), doc.truncated),
                _ => self.set_output(doc.text(), doc.truncated),
            }
        }
        // The tapes are dead now: a big buffer is not kept beside the JSON.
        self.tapes.clear();
        if self.tapes.capacity() > TAPES_KEEP {
            self.tapes = Vec::new();
        }
        self.taped = 0;
    }

    fn get(&self, p: Piece) -> &str {
        // Only whole `str`s are pushed, and pieces are cut where they were pushed.
        let bytes = self.text.get(p.start as usize..p.end as usize);
        std::str::from_utf8(bytes.unwrap_or_default()).unwrap_or_default()
    }

    fn mark(&mut self, field: Field, truncated: Option<usize>) {
        self.truncated[field as usize] = size(truncated);
    }

    /// `field` was cut, and what it was made from was `n` bytes larger than what was
    /// written (a streamed reply's text the SDK did not keep): its cut size grows by `n`.
    pub(crate) fn add_cut(&mut self, field: Field, n: usize) {
        let cut = &mut self.truncated[field as usize];
        if *cut > 0 {
            *cut = size(Some((*cut as usize).saturating_add(n)));
        }
    }

    /// Stores the input (a JSON document).
    pub(crate) fn set_input(&mut self, doc: &str, truncated: Option<usize>) {
        self.taped &= !TAPED_INPUT;
        self.input = Some(self.push(doc));
        self.mark(Field::Input, truncated);
    }

    /// Stores the output (a JSON document).
    pub(crate) fn set_output(&mut self, doc: &str, truncated: Option<usize>) {
        self.taped &= !TAPED_OUTPUT;
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
        debug_assert!(self.taped & TAPED_INPUT == 0, "read before `resolve`");
        self.input
            .filter(|_| self.taped & TAPED_INPUT == 0)
            .map(|p| self.get(p))
    }

    /// The output document, if one was captured.
    pub(crate) fn output(&self) -> Option<&str> {
        debug_assert!(self.taped & TAPED_OUTPUT == 0, "read before `resolve`");
        self.output
            .filter(|_| self.taped & TAPED_OUTPUT == 0)
            .map(|p| self.get(p))
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

#[cfg(test)]
mod tests;

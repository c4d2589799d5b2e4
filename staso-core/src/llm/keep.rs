//! How much of a streamed reply's text the SDK keeps while the stream runs.
//!
//! The span shows at most `max_field_bytes` of a field, cut where the capture cuts it. An
//! accumulator that kept every delta held the whole reply until the stream ended (a
//! 10 MB reply, 10 MB), where a span still open is meant to hold at most what it can
//! show. Text beyond [`Keep`] is not kept: a little more than `max_field_bytes`, so the
//! capture still sees the text was longer and cuts it exactly as it cut the whole. (A
//! document is cut by the bytes it writes, and a string's escaped form is never shorter
//! than the string, so its first `max_field_bytes` bytes and "there was more" are all the
//! cut reads.) Tool-call arguments are kept whole: the guard checks the calls a reply
//! proposes, and a cut argument would not parse. Whole up to [`ARGUMENTS_MAX`] for all a
//! reply's calls together, which no real reply reaches: a stream that never stops adding
//! to them (broken, or hostile) is not held past it.

/// The bytes of tool-call arguments a streamed reply keeps, all its calls together: as
/// much as the SSE decoder holds of one event (see [`super::sse::MAX_EVENT_BYTES`]).
pub(crate) const ARGUMENTS_MAX: usize = super::sse::MAX_EVENT_BYTES;

/// The most tool calls (or Anthropic content blocks) a streamed reply keeps: far more than
/// a model proposes at once; a stream that keeps opening new ones is not held past it.
pub(crate) const MAX_CALLS: usize = 1024;

/// Whether a streamed reply that keeps `kept` calls, `index` among them or not, may keep
/// `index`'s.
pub(crate) fn room_for_call<V>(kept: &std::collections::BTreeMap<u64, V>, index: u64) -> bool {
    kept.len() < MAX_CALLS || kept.contains_key(&index)
}

/// What a streamed reply has kept of its tool calls' arguments so far.
#[derive(Debug, Default)]
pub(crate) struct ArgumentsKept(usize);

impl ArgumentsKept {
    /// Appends `piece` to the arguments `s` of one call, as much of it as the reply's
    /// [`ARGUMENTS_MAX`] still allows (cut on a character boundary).
    pub(crate) fn push(&mut self, s: &mut String, piece: &str) {
        let before = s.len();
        let room = ARGUMENTS_MAX.saturating_sub(self.0);
        let _ = Keep(before.saturating_add(room)).push(s, piece);
        self.0 += s.len() - before;
    }

    /// Keeps `s`, a call's arguments repeated whole after its deltas (as a Responses
    /// `done` item repeats them), in place of the `before` bytes the deltas kept: cut to
    /// what the bound allows then.
    pub(crate) fn replace(&mut self, before: usize, s: &mut String) {
        self.0 = self.0.saturating_sub(before);
        let whole = std::mem::take(s);
        self.push(s, &whole);
    }
}

/// The bytes of streamed text an accumulator keeps, per text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keep(usize);

impl Default for Keep {
    /// Everything (a call nothing records, and tests).
    fn default() -> Keep {
        Keep(usize::MAX)
    }
}

impl Keep {
    /// For a capture that shows `max_field_bytes` of a field: that, and 4 bytes more (a
    /// cut on a character boundary still leaves more than `max_field_bytes`).
    pub(crate) fn for_field(max_field_bytes: usize) -> Keep {
        Keep(max_field_bytes.saturating_add(4))
    }

    /// Appends `piece` to `s`, as much of it as stays within the bound (cut on a
    /// character boundary); returns the bytes left out. The span's cut size
    /// (`staso.truncated.output`) adds them back, so it still says how large the reply was.
    #[must_use]
    pub(crate) fn push(self, s: &mut String, piece: &str) -> usize {
        let room = self.0.saturating_sub(s.len());
        if piece.len() <= room {
            s.push_str(piece);
            return 0;
        }
        let mut at = room;
        while !piece.is_char_boundary(at) {
            at -= 1;
        }
        s.push_str(&piece[..at]);
        piece.len() - at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_the_bound_and_cuts_on_a_character_boundary() {
        let keep = Keep::for_field(6);
        let mut s = String::new();
        assert_eq!(keep.push(&mut s, "abcd"), 0);
        // 10 bytes kept at most; "é" is 2 bytes: 4 + 3 × 2, one left out.
        assert_eq!(keep.push(&mut s, "éééé"), 2);
        assert_eq!(s, "abcdééé");
        assert_eq!(keep.push(&mut s, "more"), 4);
        assert_eq!(s, "abcdééé");
        let mut all = String::new();
        assert_eq!(Keep::default().push(&mut all, "abcdéééé"), 0);
        assert_eq!(all, "abcdéééé");
    }

    /// The arguments of all a reply's calls together stay within the bound, whatever the
    /// number of calls and deltas; below it they are kept whole.
    #[test]
    fn arguments_are_whole_up_to_the_bound_for_all_calls_together() {
        let mut kept = ArgumentsKept::default();
        let (mut a, mut b) = (String::new(), String::new());
        kept.push(&mut a, "{\"x\":");
        kept.push(&mut b, "{}");
        kept.push(&mut a, "1}");
        assert_eq!((a.as_str(), b.as_str()), ("{\"x\":1}", "{}"));
        let piece = "é".repeat(64 * 1024);
        for _ in 0..(ARGUMENTS_MAX / piece.len() + 2) {
            kept.push(&mut a, &piece);
            kept.push(&mut b, &piece);
        }
        assert!(a.len() + b.len() <= ARGUMENTS_MAX, "{}", a.len() + b.len());
        assert!(
            a.len() + b.len() > ARGUMENTS_MAX - 2,
            "{}",
            a.len() + b.len()
        );
        assert!(a.ends_with('é') && b.ends_with('é'));
        // A call repeated whole takes the place of what its deltas kept.
        let mut again = "{}".to_string();
        kept.replace(b.len(), &mut again);
        assert_eq!(again, "{}");
        kept.push(&mut a, "abc");
        assert!(a.ends_with("abc"));
    }
}

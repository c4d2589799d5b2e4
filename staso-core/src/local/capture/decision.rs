//! What the client's capture policy and rules decide for one call site, kept in the call
//! site under the client's generation: a call that captures reads one word of its own
//! `static` instead of visiting the thread's client cache to ask the policy (at the
//! opening) and the rules (for each document). The word is recomputed after any change of
//! client (`init`, `shutdown`), the first time a call site is reached under the new one.
//!
//! Spans that go to a test capture ask its configuration directly, uncached.

use super::TapeRules;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Per call site: the client's capture decision, packed in one word with the generation
/// it was made under (see the module doc). Written by the attributes as
/// [`SiteDecision::NEW`]; the SDK fills it.
pub struct SiteDecision(AtomicU64);

impl std::fmt::Debug for SiteDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SiteDecision")
            .field(&self.get_raw())
            .finish()
    }
}

/// The client's decision for a call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decided {
    /// The policy lets this call site's kind capture its arguments.
    pub input: bool,
    /// The policy lets outputs be captured.
    pub output: bool,
    /// The rules a recording follows; `None` without a client.
    pub rules: Option<TapeRules>,
}

impl Decided {
    const NONE: Decided = Decided {
        input: false,
        output: false,
        rules: None,
    };
}

/// What a call at the site does, as the caller keeps it: a byte of flags (its own
/// encoding; 0 for "nothing to capture") and `max_field_bytes`.
pub(crate) type Packed = (u8, u32);

// The word: bits 0..32 `max_field_bytes`, bits 32..40 the caller's flags, then "the word
// is filled" and the generation's low bits above. The word holds the call site's final
// answer, not the policy's parts: the attributes' part of it (what the call site captures
// at all, its kind) is the same on every call, so a call reads its answer in a load, a
// compare and two shifts. Two generations share a word only 2^23 client changes apart,
// and a stale word is only ever read by a call racing the change that made it stale.
const FILLED: u64 = 1 << 40;
const GEN_SHIFT: u32 = 41;

fn pack((flags, max): Packed, generation: u64) -> u64 {
    FILLED | (generation << GEN_SHIFT) | (u64::from(flags) << 32) | u64::from(max)
}

fn unpack(w: u64) -> Packed {
    ((w >> 32) as u8, w as u32)
}

impl SiteDecision {
    /// Nothing decided yet.
    #[allow(clippy::declare_interior_mutable_const)]
    pub const NEW: SiteDecision = SiteDecision(AtomicU64::new(0));

    fn get_raw(&self) -> u64 {
        self.0.load(Relaxed)
    }

    /// What a call at a site of `kind` does under the current client: from the word when
    /// it was made under the current generation, else `answer` applied to the client's
    /// decision (made now and kept; the same `answer` for every call of the site).
    #[inline]
    pub(crate) fn get(
        &self,
        kind: staso_types::Kind,
        answer: impl FnOnce(Decided) -> Packed,
    ) -> Packed {
        if let Some(p) = self.cached() {
            return p;
        }
        let generation = crate::client::generation();
        let p = answer(Self::decide(kind));
        self.0.store(pack(p, generation), Relaxed);
        p
    }

    /// The answer the word holds, when it was made under the current generation: a load,
    /// a compare and two shifts, inlined into the opening of a span that captures.
    #[inline(always)]
    pub(crate) fn cached(&self) -> Option<Packed> {
        let generation = crate::client::generation();
        let w = self.0.load(Relaxed);
        (w & FILLED != 0 && w >> GEN_SHIFT == generation & (u64::MAX >> GEN_SHIFT))
            .then(|| unpack(w))
    }

    #[cold]
    #[inline(never)]
    fn decide(kind: staso_types::Kind) -> Decided {
        crate::client::with_config(|c| Decided {
            input: c.capture.allows_input(kind),
            output: c.capture.allows_output(),
            rules: Some(TapeRules::of(c)),
        })
        .unwrap_or(Decided::NONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reads_back_as_it_was_packed() {
        for flags in [0u8, 1, 0x1f, 0xff] {
            for max in [0u32, 1, 65_536, u32::MAX] {
                let w = pack((flags, max), u64::MAX);
                assert_eq!(unpack(w), (flags, max));
                assert_ne!(w & FILLED, 0);
                assert_eq!(w >> GEN_SHIFT, u64::MAX >> GEN_SHIFT);
            }
        }
    }
}

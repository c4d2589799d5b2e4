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

// The word: bits 0..32 `max_field_bytes`, then `redact`, input allowed, output allowed, a
// client was there, the word is filled; the generation's low bits above. Two generations
// share a word only 2^27 client changes apart, and a stale word is only ever read by a
// call racing the change that made it stale.
const REDACT: u64 = 1 << 32;
const INPUT: u64 = 1 << 33;
const OUTPUT: u64 = 1 << 34;
const CLIENT: u64 = 1 << 35;
const FILLED: u64 = 1 << 36;
const GEN_SHIFT: u32 = 37;

fn pack(d: Decided, generation: u64) -> u64 {
    let mut w = FILLED | (generation << GEN_SHIFT);
    if d.input {
        w |= INPUT;
    }
    if d.output {
        w |= OUTPUT;
    }
    if let Some(r) = d.rules {
        w |= CLIENT | u64::from(r.max_field_bytes);
        if r.redact {
            w |= REDACT;
        }
    }
    w
}

fn unpack(w: u64) -> Decided {
    Decided {
        input: w & INPUT != 0,
        output: w & OUTPUT != 0,
        rules: (w & CLIENT != 0).then_some(TapeRules {
            max_field_bytes: w as u32,
            redact: w & REDACT != 0,
        }),
    }
}

impl SiteDecision {
    /// Nothing decided yet.
    #[allow(clippy::declare_interior_mutable_const)]
    pub const NEW: SiteDecision = SiteDecision(AtomicU64::new(0));

    fn get_raw(&self) -> u64 {
        self.0.load(Relaxed)
    }

    /// The decision of the current client for a call site of `kind`: from the word when
    /// it was made under the current generation, else made now and kept.
    #[inline]
    pub(crate) fn get(&self, kind: staso_types::Kind) -> Decided {
        let generation = crate::client::generation();
        let w = self.0.load(Relaxed);
        if w & FILLED != 0 && w >> GEN_SHIFT == generation & (u64::MAX >> GEN_SHIFT) {
            return unpack(w);
        }
        self.decide(kind, generation)
    }

    #[cold]
    #[inline(never)]
    fn decide(&self, kind: staso_types::Kind, generation: u64) -> Decided {
        let d = crate::client::with_config(|c| Decided {
            input: c.capture.allows_input(kind),
            output: c.capture.allows_output(),
            rules: Some(TapeRules::of(c)),
        })
        .unwrap_or(Decided::NONE);
        self.0.store(pack(d, generation), Relaxed);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_reads_back_as_it_was_packed() {
        for input in [false, true] {
            for output in [false, true] {
                for rules in [
                    None,
                    Some(TapeRules {
                        max_field_bytes: 0,
                        redact: true,
                    }),
                    Some(TapeRules {
                        max_field_bytes: u32::MAX,
                        redact: false,
                    }),
                    Some(TapeRules {
                        max_field_bytes: 65_536,
                        redact: true,
                    }),
                ] {
                    let d = Decided {
                        input,
                        output,
                        rules,
                    };
                    let w = pack(d, u64::MAX);
                    assert_eq!(unpack(w), d);
                    assert_eq!(w >> GEN_SHIFT, u64::MAX >> GEN_SHIFT);
                }
            }
        }
    }
}

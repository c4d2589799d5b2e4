//! Which traces are recorded: decided once, when a trace's root opens, and inherited by
//! every span of the trace through the context (an unsampled root's children see
//! `recording = false` and cost one branch). Sampling never applies to a span joining a
//! trace from elsewhere: that trace's decision was made at its own root.

use staso_types::{ratio_keeps, SamplerFn, SamplingInput};
use std::fmt;

/// A client's sampling rule; absent from the configuration when every trace is kept.
#[derive(Clone)]
pub(crate) struct Sampling {
    rate: f64,
    sampler: Option<SamplerFn>,
}

impl fmt::Debug for Sampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sampling")
            .field("rate", &self.rate)
            .field("sampler", &self.sampler.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

impl Sampling {
    /// The rule of `rate` and `sampler`; `None` when it keeps everything.
    pub(crate) fn new(rate: f64, sampler: Option<SamplerFn>) -> Option<Sampling> {
        (rate < 1.0 || sampler.is_some()).then_some(Sampling { rate, sampler })
    }

    /// Whether the trace whose root is `input` is recorded. A panicking sampler keeps it.
    pub(crate) fn keeps(&self, input: &SamplingInput<'_>) -> bool {
        match &self.sampler {
            Some(f) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(input))).unwrap_or(true)
            }
            None => ratio_keeps(input.trace_id, self.rate),
        }
    }
}

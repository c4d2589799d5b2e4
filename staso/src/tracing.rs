//! The `tracing` bridge (feature `tracing`): `tracing` spans that carry OpenTelemetry
//! GenAI fields — the spans of rig and genai, or your own — become staso spans, in the
//! same traces as the attribute spans, the tree intact both ways.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//! tracing_subscriber::registry()
//!     .with(staso::tracing::layer())
//!     .init();
//! ```
//!
//! By default only spans with a `gen_ai.*` or `staso.*` field are taken; [`builder`] adds
//! targets or takes every span. Other layers (fmt, opentelemetry) see exactly what they
//! saw before. Without the `enable` feature the layer exists and does nothing.

#[cfg(feature = "enable")]
pub use staso_core::tracing::{builder, layer, Builder};

#[cfg(not(feature = "enable"))]
pub use off::*;

#[cfg(not(feature = "enable"))]
mod off {
    use tracing_core::Subscriber;
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::Layer;

    /// A layer that does nothing in this build.
    #[inline(always)]
    pub fn layer<S>() -> impl Layer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        Off
    }

    /// A builder whose layer does nothing in this build.
    #[inline(always)]
    pub fn builder() -> Builder {
        Builder(())
    }

    /// Chooses which `tracing` spans become staso spans (inert in this build).
    #[derive(Debug, Clone, Default)]
    pub struct Builder(());

    impl Builder {
        /// Does nothing in this build.
        #[inline(always)]
        pub fn target(self, target: impl Into<String>) -> Builder {
            self
        }
        /// Does nothing in this build.
        #[inline(always)]
        pub fn all_spans(self, all: bool) -> Builder {
            self
        }
        /// A layer that does nothing.
        #[inline(always)]
        pub fn build<S>(self) -> impl Layer<S>
        where
            S: Subscriber + for<'a> LookupSpan<'a>,
        {
            Off
        }
    }

    /// Every callback is the trait's empty default.
    struct Off;

    impl<S: Subscriber> Layer<S> for Off {}
}

//! The `tracing` bridge: a `tracing_subscriber` layer that turns `tracing` spans (the
//! GenAI spans of rig, genai, or your own) into staso spans, in the same traces as the
//! attribute spans, with the tree intact both ways.
//!
//! How a span travels: it is chosen once per callsite by a per-layer filter (the layer
//! never sees spans not taken; `tracing-subscriber` checks their filter bit); a taken
//! span opens a staso span when it is created (its parent decided as below), lends its
//! record to the staso frame stack of each thread that enters it (so attribute spans
//! started inside are its children), gathers its fields as they are recorded, and ends
//! when it closes. Mapping of fields: `tracing_fields`.
//!
//! The parent of a new span: the staso context current on this thread when the span
//! has no taken `tracing` ancestor, or when that ancestor (or a context carried from
//! inside it) is current here; otherwise the taken ancestor, wherever it runs.

use super::tracing_fields::{is_exception_field, is_marker, EventFailure, Fields};
use crate::local::context::{self, Ctx};
use crate::local::foreign::Foreign;
use crate::local::record::SharedStr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The layer with the default selection: spans that carry `gen_ai.*` or `staso.*`
/// fields become staso spans. See [`builder`] to add targets or take every span.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// let subscriber = tracing_subscriber::registry().with(staso_core::tracing::layer());
/// tracing::subscriber::with_default(subscriber, || {
///     let _chat = tracing::info_span!("chat", gen_ai.operation.name = "chat").entered();
/// });
/// ```
pub fn layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    builder().build()
}

/// A layer with another selection of spans.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// let layer = staso_core::tracing::builder().target("my_agent").build();
/// let subscriber = tracing_subscriber::registry().with(layer);
/// # drop(subscriber);
/// ```
pub fn builder() -> Builder {
    Builder::default()
}

/// Chooses which `tracing` spans become staso spans; see [`builder`].
#[derive(Debug, Clone, Default)]
pub struct Builder {
    targets: Vec<String>,
    all_spans: bool,
}

impl Builder {
    /// Also takes every span of `target` and of its submodules (`my_agent` takes
    /// `my_agent::tools` too), whatever its fields.
    pub fn target(mut self, target: impl Into<String>) -> Builder {
        self.targets.push(target.into());
        self
    }

    /// Takes every span (except the SDK's own, target `staso`): your whole `tracing`
    /// output becomes the agent's trace.
    pub fn all_spans(mut self, all: bool) -> Builder {
        self.all_spans = all;
        self
    }

    /// The layer.
    pub fn build<S>(self) -> impl Layer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        Bridge.with_filter(Select {
            targets: Arc::from(self.targets),
            all_spans: self.all_spans,
            decided: Arc::new(Decided::default()),
        })
    }
}

/// Whether `target` is the SDK's own (its diagnostics must never become spans).
fn is_own(target: &str) -> bool {
    target == "staso" || target.starts_with("staso::") || target.starts_with("staso_")
}

/// Whether `target` is `t` or one of its submodules.
fn under(target: &str, t: &str) -> bool {
    target
        .strip_prefix(t)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// The per-layer filter: which spans become staso spans, and which events can mark
/// them failed. Decided per callsite and cached by `tracing`.
#[derive(Debug, Clone)]
struct Select {
    targets: Arc<[String]>,
    all_spans: bool,
    decided: Arc<Decided>,
}

/// Span callsites already decided, by the address of their metadata, so that a span not
/// taken costs a load and a compare here. `Filter::enabled` runs for every new span of a
/// callsite another layer wants (the interest cached per callsite is shared by all
/// layers), and `takes` compares the target and every field name.
///
/// Direct-mapped: a slot holds the address with the decision in its low bit (metadata is
/// at least 8-byte aligned); a collision only means deciding again. Span metadata is
/// always `'static` (`Span::new` and `Attributes::new` take `&'static Metadata`), so an
/// address names one callsite for the life of the process. Events are not cached: a
/// bridge from `log` builds their metadata on the stack.
#[derive(Debug)]
struct Decided([AtomicUsize; 64]);

impl Default for Decided {
    fn default() -> Self {
        Decided(std::array::from_fn(|_| AtomicUsize::new(0)))
    }
}

impl Select {
    fn takes(&self, meta: &Metadata<'_>) -> bool {
        if is_own(meta.target()) {
            return false;
        }
        if meta.is_span() {
            self.all_spans
                || meta.fields().iter().any(|f| is_marker(f.name()))
                || self.targets.iter().any(|t| under(meta.target(), t))
        } else {
            *meta.level() == Level::ERROR
                || meta.fields().iter().any(|f| is_exception_field(f.name()))
        }
    }
}

impl<S> Filter<S> for Select {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        if !meta.is_span() {
            return self.takes(meta);
        }
        let key = std::ptr::from_ref(meta) as usize;
        let slot = &self.decided.0[(key >> 3) % self.decided.0.len()];
        let seen = slot.load(Relaxed);
        if seen & !1 == key {
            return seen & 1 == 1;
        }
        let takes = self.takes(meta);
        if key & 1 == 0 {
            slot.store(key | usize::from(takes), Relaxed);
        }
        takes
    }

    /// `sometimes`, not `always`, for a callsite the bridge takes: `tracing-subscriber`
    /// carries a per-layer filter's decision from `enabled` to `on_new_span` in a
    /// thread-local, and a callsite cached as `always` skips `enabled`, so the span would be
    /// judged by whatever the thread's previous `enabled` call left there and could be
    /// dropped (tokio-rs/tracing#2519, fix proposed in #3572). Asking every time costs a
    /// lookup in [`Decided`].
    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.takes(meta) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }
}

/// What a taken span keeps in its extensions.
struct Bridged {
    span: Foreign,
    fields: Fields,
    /// The name it opened with, when not its `tracing` name.
    renamed: Option<String>,
}

/// The layer itself; only sees the spans and events [`Select`] takes.
struct Bridge;

impl Bridge {
    /// The context a new span opens under; see the module's documentation.
    fn parent<S>(attrs: &Attributes<'_>, id: &Id, cx: &Context<'_, S>) -> Ctx
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let here = context::current();
        let ancestor = cx.span(id).and_then(|span| {
            span.scope().skip(1).find_map(|p| {
                p.extensions()
                    .get::<Bridged>()
                    .map(|b| b.span.context().clone())
            })
        });
        let Some(ancestor) = ancestor else {
            return here;
        };
        let Some((trace, span)) = ancestor.link else {
            return here;
        };
        // The ancestor is current here, with what runs inside it on top.
        if context::linked(span) {
            return here;
        }
        // A context carried from inside the ancestor's trace (`in_current_context`).
        match here.link {
            Some((t, _)) if t == trace && attrs.is_contextual() => here,
            _ => ancestor,
        }
    }
}

impl<S> Layer<S> for Bridge
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, cx: Context<'_, S>) {
        // Nothing records anywhere (no client, no test capture): a relaxed load or two.
        if !crate::__private::enabled() {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let meta = attrs.metadata();
        let renamed = fields.name_override(meta.name());
        let name = match &renamed {
            Some(n) => SharedStr::from(n.clone()),
            None => SharedStr::Static(meta.name()),
        };
        let parent = Bridge::parent(attrs, id, &cx);
        // Opened with no lock held: a root's provisional copy is sent from here.
        let span = Foreign::open(parent, name, fields.kind());
        if let Some(s) = cx.span(id) {
            s.extensions_mut().insert(Bridged {
                span,
                fields,
                renamed,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, cx: Context<'_, S>) {
        if let Some(s) = cx.span(id) {
            if let Some(b) = s.extensions_mut().get_mut::<Bridged>() {
                values.record(&mut b.fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, cx: Context<'_, S>) {
        let Some(s) = cx.event_span(event) else {
            return;
        };
        let mut ext = s.extensions_mut();
        let Some(b) = ext.get_mut::<Bridged>() else {
            return;
        };
        let mut f = EventFailure::default();
        event.record(&mut f);
        b.fields.fail_with(f.finish());
    }

    fn on_enter(&self, id: &Id, cx: Context<'_, S>) {
        if let Some(s) = cx.span(id) {
            if let Some(b) = s.extensions_mut().get_mut::<Bridged>() {
                b.span.enter();
            }
        }
    }

    fn on_exit(&self, id: &Id, cx: Context<'_, S>) {
        if let Some(s) = cx.span(id) {
            if let Some(b) = s.extensions_mut().get_mut::<Bridged>() {
                b.span.exit();
            }
        }
    }

    fn on_close(&self, id: Id, cx: Context<'_, S>) {
        let Some(s) = cx.span(&id) else { return };
        let name = s.name();
        let taken = s.extensions_mut().remove::<Bridged>();
        drop(s);
        // Ended with no lock held: ending sends the span (and may log).
        if let Some(Bridged {
            span,
            fields,
            renamed,
        }) = taken
        {
            let policy = span.policy();
            span.end(|st| fields.apply(st, name, renamed.as_deref(), policy));
        }
    }
}

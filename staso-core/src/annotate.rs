//! Annotations: checked on the caller's thread, then queued for the batcher (never a
//! network call on the caller's thread, unlike the Python SDK's 10-second blocking one).
//! Delivery, retries and counts live in `export::annotations`.
//!
//! What `enabled = false` means here: nothing is sent (annotations are observability data,
//! like spans). Without a client the annotation is dropped with one warning.

use crate::export::annotations;
use crate::local::context;
use staso_types::{Annotation, AnnotationError, AnnotationValue, TraceId};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Scores or labels a trace after the fact: `numeric` for numbers, `categorical` for
/// strings, `boolean` for `bool` (the value's type is the data type, so they cannot
/// disagree).
///
/// Returns at once: the annotation is sent by the background delivery (retried under one
/// Idempotency-Key, counted in `DeliveryReport::annotations`, flushed by `flush` and
/// `shutdown`). Only an empty name or a non-finite number is refused here.
///
/// ```no_run
/// # fn demo(trace_id: staso_core::TraceId) -> Result<(), staso_core::AnnotationError> {
/// staso_core::annotate(trace_id, "helpfulness", 0.9)?;
/// staso_core::annotate(trace_id, "resolved", true)?;
/// # Ok(()) }
/// ```
pub fn annotate(
    trace_id: TraceId,
    name: impl Into<String>,
    value: impl Into<AnnotationValue>,
) -> Result<(), AnnotationError> {
    annotate_with(trace_id, Annotation::new(name, value))
}

/// [`annotate`] with the optional parts: the span it is about, a comment.
///
/// ```no_run
/// # fn demo(trace_id: staso_core::TraceId, span_id: staso_core::SpanId) -> Result<(), staso_core::AnnotationError> {
/// use staso_core::Annotation;
/// staso_core::annotate_with(
///     trace_id,
///     Annotation::new("label", "wrong-tool").span_id(span_id).comment("picked search"),
/// )?;
/// # Ok(()) }
/// ```
pub fn annotate_with(trace_id: TraceId, annotation: Annotation) -> Result<(), AnnotationError> {
    annotation.check()?;
    // Inside a test capture the annotation is captured with the spans.
    let sink = context::with_current_shallow(|ctx| ctx.sink.clone());
    if let Some(sink) = sink {
        sink.annotation(trace_id, annotation);
        return Ok(());
    }
    let queued = crate::client::with_client(|c| {
        if !c.config.enabled {
            return;
        }
        if !c.config.staso_ingest {
            // Annotations are the Staso service's: with spans sent only over OTLP they
            // have nowhere to go. Refused and counted.
            c.queue
                .annotations
                .reject(staso_types::FailureKind::Disabled);
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Relaxed) {
                crate::diag::warn(
                    "staso: annotate() with `staso_ingest = false`: annotations go only to the Staso service; this one is refused",
                );
            }
            return;
        }
        if c.queue
            .annotations
            .push(annotations::encode(trace_id, &annotation))
        {
            c.queue.wake();
        }
    });
    if queued.is_none() {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Relaxed) {
            crate::diag::warn("staso: annotate() called before init(); the annotation is dropped");
        }
    }
    Ok(())
}

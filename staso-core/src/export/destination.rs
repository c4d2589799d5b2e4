//! Where batches go: the Staso ingest, an OTLP endpoint, or both. Each destination has
//! its own sends waiting (new batches and retries, by the time they may go), its own
//! requests in flight and its own warnings, so one that is down or slow holds nothing of
//! the other back. The batcher hands every batch to each destination and settles a span
//! once all of them are done with it (see `batcher`).

use super::transport::{Failure, Transport};
use crate::config::Config;
use crate::local::record::SpanRecord;
use staso_types::FailureKind;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// Requests in flight at once, per destination: enough to keep up with a fast producer
/// over one keep-alive pool, few enough not to hammer a struggling service.
pub(crate) const MAX_IN_FLIGHT: usize = 4;

/// What the first request body is written into.
pub(crate) const BODY_BYTES: usize = 64 * 1024;

/// The most bytes the request bodies keep, for batches of `batch_size` spans of
/// `span_json_bytes` each: one body per request in flight and the one being written,
/// each with the capacity of the largest so far (see `request`: a buffer of `BODY_BYTES`
/// doubled as needed).
pub(crate) fn body_bytes(batch_size: usize, span_json_bytes: usize) -> usize {
    let body = (batch_size * span_json_bytes)
        .next_power_of_two()
        .max(BODY_BYTES);
    (MAX_IN_FLIGHT + 1) * body
}

/// What an attempt came to: the number of spans the receiver refused although it took the
/// request (an OTLP partial success; always 0 from the Staso ingest), or the failure.
pub(crate) type Outcome = Result<u64, Failure>;

/// One attempt, ready to run on the batcher's runtime.
pub(crate) type Request = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// How a destination sends.
#[derive(Clone)]
enum Sender {
    Staso(Transport),
    #[cfg(feature = "otlp")]
    Otlp(super::otlp_http::OtlpTransport),
}

/// A batch on its way to one destination.
pub(crate) struct Delivery {
    /// Reused by every retry (the ingest's `Idempotency-Key`), so it is stored once.
    pub key: String,
    /// The spans, by their id in the batcher's hold.
    pub ids: Vec<u64>,
    pub attempts: u32,
    pub not_before: Instant,
}

impl Delivery {
    pub(crate) fn new(ids: Vec<u64>) -> Self {
        Delivery {
            key: uuid::Uuid::new_v4().to_string(),
            ids,
            attempts: 0,
            not_before: Instant::now(),
        }
    }
}

pub(crate) struct Destination {
    /// `staso` or `otlp`, as the report names it.
    pub name: &'static str,
    sender: Sender,
    /// Not in flight: due now or waiting for a retry, by the time they may go.
    pub waiting: VecDeque<Delivery>,
    pub in_flight: usize,
    warned: HashSet<FailureKind>,
}

/// The destinations of a configuration, in the report's order (Staso first).
pub(crate) fn names(cfg: &Config) -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg.staso_ingest {
        names.push("staso");
    }
    if cfg!(feature = "otlp") && cfg.otlp.is_some() {
        names.push("otlp");
    }
    names
}

/// The destinations of a configuration, in the order of [`names`].
pub(crate) fn build(cfg: &Config) -> Result<Vec<Destination>, String> {
    let mut out = Vec::new();
    if cfg.staso_ingest {
        out.push(Destination::new(
            "staso",
            Sender::Staso(Transport::new(cfg)?),
        ));
    }
    #[cfg(feature = "otlp")]
    if let Some(otlp) = &cfg.otlp {
        let t = super::otlp_http::OtlpTransport::new(cfg, otlp)?;
        out.push(Destination::new("otlp", Sender::Otlp(t)));
    }
    Ok(out)
}

impl Destination {
    fn new(name: &'static str, sender: Sender) -> Self {
        Destination {
            name,
            sender,
            waiting: VecDeque::new(),
            in_flight: 0,
            warned: HashSet::new(),
        }
    }

    /// Whether this destination takes the record: OTLP has no provisional copies (a span
    /// is written once there), the ingest takes everything.
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
    pub(crate) fn accepts(&self, r: &SpanRecord) -> bool {
        match self.sender {
            Sender::Staso(_) => true,
            #[cfg(feature = "otlp")]
            Sender::Otlp(_) => !r.provisional,
        }
    }

    /// Takes span `id` out of the deliveries waiting here for a retry (never out of one
    /// not tried yet); whether it was in one.
    pub(crate) fn drop_retry(&mut self, id: u64) -> bool {
        let mut found = false;
        for w in self.waiting.iter_mut().filter(|w| w.attempts > 0) {
            if let Some(pos) = w.ids.iter().position(|i| *i == id) {
                w.ids.remove(pos);
                found = true;
            }
        }
        self.waiting.retain(|w| !w.ids.is_empty());
        found
    }

    /// Whether another request may start.
    pub(crate) fn has_room(&self) -> bool {
        self.in_flight < MAX_IN_FLIGHT
    }

    /// Files a delivery by the time it may go.
    pub(crate) fn schedule(&mut self, d: Delivery) {
        let pos = self
            .waiting
            .partition_point(|w| w.not_before <= d.not_before);
        self.waiting.insert(pos, d);
    }

    /// The next delivery that may go now, when a request may start.
    pub(crate) fn next_due(&mut self, now: Instant) -> Option<Delivery> {
        if self.has_room() && self.waiting.front().is_some_and(|d| d.not_before <= now) {
            self.waiting.pop_front()
        } else {
            None
        }
    }

    /// When the next delivery falls due, if one waits and a request could start.
    pub(crate) fn next_due_at(&self) -> Option<Instant> {
        self.waiting
            .front()
            .filter(|_| self.has_room())
            .map(|d| d.not_before)
    }

    /// Encodes `records` into `buf` and returns the attempt that sends them. The body
    /// leaves with the request (no copy of it: a batch is hundreds of kilobytes), and
    /// `buf` gets a new buffer as large, so the next batch is written without growing.
    pub(crate) fn request(
        &self,
        records: &[&SpanRecord],
        key: &str,
        cfg: &Config,
        buf: &mut Vec<u8>,
    ) -> Request {
        let body = |buf: &mut Vec<u8>| {
            let next = Vec::with_capacity(buf.capacity());
            std::mem::replace(buf, next)
        };
        match &self.sender {
            Sender::Staso(t) => {
                let traces = super::encode::encode_batch(records.iter().copied(), cfg, buf);
                let (t, body, key) = (t.clone(), body(buf), key.to_string());
                Box::pin(async move { t.send(body, &key, traces).await.map(|()| 0) })
            }
            #[cfg(feature = "otlp")]
            Sender::Otlp(t) => {
                super::otlp::encode(records, cfg, t.protocol, buf);
                let (t, body) = (t.clone(), body(buf));
                Box::pin(async move { t.send(body).await.map(|a| a.rejected) })
            }
        }
    }

    /// One warning per failure kind (then debug), naming the destination, kind and
    /// status only.
    pub(crate) fn log_failure(&mut self, f: &Failure) {
        let status = f.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        let to = match self.name {
            "staso" => String::new(),
            other => format!(" to {other}"),
        };
        let msg = format!(
            "staso: trace delivery{to} failed{status}: {}: {}",
            f.kind, f.detail
        );
        if self.warned.insert(f.kind) {
            crate::diag::warn(&msg);
        } else {
            crate::diag::debug(&msg);
        }
    }
}

//! What happened to the spans: the delivery report and the failure kinds of the contract.

use crate::kind::named_enum;
use serde::ser::SerializeStruct;

named_enum! {
    /// Why a span or a batch was not delivered. The names are the contract's, so a report
    /// reads the same from the Rust and the Python SDK.
    FailureKind {
        /// Tracing is switched off (`enabled = false`) or no client is initialised.
        Disabled = "disabled",
        /// A span ended after `shutdown`.
        Shutdown = "shutdown",
        /// The bound on held spans (`max_queue_size`) was reached; the span was dropped.
        QueueFull = "queue_full",
        /// 401: the API key was refused.
        InvalidKey = "invalid_key",
        /// 402: the plan has expired.
        PlanExpired = "plan_expired",
        /// 403: the key may not write to this workspace.
        Forbidden = "forbidden",
        /// 429: the service asked us to slow down.
        RateLimited = "rate_limited",
        /// Another 4xx, or a 2xx whose acknowledgement did not match the request.
        MalformedResponse = "malformed_response",
        /// 5xx: the service is down or overloaded.
        BackendUnavailable = "backend_unavailable",
        /// The connection could not be made or was cut.
        NetworkUnavailable = "network_unavailable",
        /// The request took longer than its timeout.
        Timeout = "timeout",
        /// A 3xx: the endpoint answered with a redirect, which is never followed (it would
        /// send the key and the spans elsewhere). Fix `base_url`.
        Redirected = "redirected",
    }
}

impl FailureKind {
    /// A small number standing for the kind (its position + 1; 0 is "none"), for atomics.
    #[doc(hidden)]
    pub fn code(self) -> u8 {
        let pos = FailureKind::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or(0);
        pos as u8 + 1
    }

    /// The kind of a [`code`](Self::code); `None` for 0 or an unknown code.
    #[doc(hidden)]
    pub fn from_code(code: u8) -> Option<FailureKind> {
        FailureKind::ALL
            .get(usize::from(code).checked_sub(1)?)
            .copied()
    }
}

/// An honest account of delivery, returned by `flush` and `shutdown`.
///
/// Counts are of spans (a root span's provisional copy is not counted separately). For
/// every span that ended: `accepted = delivered + failed + pending`; spans refused at the
/// door are `rejected`, spans a sampler left out are `sampled_out`.
///
/// ```
/// # use staso_types::DeliveryReport;
/// let report = DeliveryReport::default();
/// assert!(report.ok());
/// assert_eq!(report.produced(), 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// Spans taken in for delivery.
    pub accepted: u64,
    /// Spans the service acknowledged.
    pub delivered: u64,
    /// Spans given up on: a non-retryable answer, or dropped (oldest first) to stay within
    /// `max_queue_size` while the service was unreachable.
    pub failed: u64,
    /// Spans accepted but neither delivered nor failed yet.
    pub pending: u64,
    /// Spans refused when they ended: the bound was reached, or they ended after shutdown.
    pub rejected: u64,
    /// Spans not recorded because their trace was not sampled (`sample_rate`, `sampler`).
    pub sampled_out: u64,
    /// The call returned because its timeout passed, not because the work was done.
    pub timed_out: bool,
    /// The most recent failure or rejection kind, if any.
    pub last_failure: Option<FailureKind>,
    /// Whether the last failure is of a kind that a retry may cure.
    pub retryable: bool,
    /// The annotations sent through the same delivery, counted apart so the span counts
    /// stay exact.
    pub annotations: AnnotationReport,
    /// Per destination (the Staso ingest, an OTLP endpoint), in that order: what each one
    /// acknowledged or gave up on. The span counts above are across all of them: a span is
    /// `delivered` once every destination acknowledged it, `failed` once every destination
    /// settled it and at least one gave up. Empty when nothing is sent.
    pub destinations: Vec<DestinationReport>,
}

/// What one destination did with the spans: every span accepted goes to every
/// destination, so for each one `accepted = delivered + failed + pending`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationReport {
    /// `staso` (the ingest service) or `otlp` (the OpenTelemetry endpoint).
    pub name: &'static str,
    /// Spans this destination acknowledged.
    pub delivered: u64,
    /// Spans this destination gave up on.
    pub failed: u64,
    /// Spans accepted that this destination has not settled yet.
    pub pending: u64,
    /// The most recent failure kind of this destination, if any.
    pub last_failure: Option<FailureKind>,
    /// Whether that failure is of a kind that a retry may cure.
    pub retryable: bool,
}

impl DestinationReport {
    /// A destination's counts.
    pub fn new(name: &'static str, delivered: u64, failed: u64, pending: u64) -> Self {
        DestinationReport {
            name,
            delivered,
            failed,
            pending,
            ..Default::default()
        }
    }

    /// True when this destination has nothing failed or pending.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.pending == 0
    }
}

impl serde::Serialize for DestinationReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("DestinationReport", 6)?;
        st.serialize_field("name", self.name)?;
        st.serialize_field("delivered", &self.delivered)?;
        st.serialize_field("failed", &self.failed)?;
        st.serialize_field("pending", &self.pending)?;
        st.serialize_field("last_failure", &self.last_failure)?;
        st.serialize_field("retryable", &self.retryable)?;
        st.end()
    }
}

impl DeliveryReport {
    /// The report of destination `name` (`"staso"` or `"otlp"`), if it is one.
    ///
    /// ```
    /// # use staso_types::DeliveryReport;
    /// assert!(DeliveryReport::default().destination("otlp").is_none());
    /// ```
    pub fn destination(&self, name: &str) -> Option<&DestinationReport> {
        self.destinations.iter().find(|d| d.name == name)
    }
}

/// What happened to the annotations (`staso::annotate`): the same accounting as spans.
/// For every annotation accepted: `accepted = delivered + failed + pending`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AnnotationReport {
    /// Annotations taken in for delivery.
    pub accepted: u64,
    /// Annotations the service acknowledged (a 2xx answer).
    pub delivered: u64,
    /// Annotations given up on: a non-retryable answer (e.g. 404 for an unknown trace).
    pub failed: u64,
    /// Annotations accepted but neither delivered nor failed yet.
    pub pending: u64,
    /// Annotations refused at the door: the annotation queue was full, or the client was
    /// shut down.
    pub rejected: u64,
    /// The most recent failure or rejection kind, if any.
    pub last_failure: Option<FailureKind>,
}

impl AnnotationReport {
    /// True when nothing failed, is pending or was rejected.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.pending == 0 && self.rejected == 0
    }
}

impl serde::Serialize for AnnotationReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("AnnotationReport", 6)?;
        st.serialize_field("accepted", &self.accepted)?;
        st.serialize_field("delivered", &self.delivered)?;
        st.serialize_field("failed", &self.failed)?;
        st.serialize_field("pending", &self.pending)?;
        st.serialize_field("rejected", &self.rejected)?;
        st.serialize_field("last_failure", &self.last_failure)?;
        st.end()
    }
}

impl DeliveryReport {
    /// True when nothing failed, nothing is pending, nothing was rejected and the call did
    /// not time out (sampling is not a failure), annotations included.
    pub fn ok(&self) -> bool {
        !self.timed_out
            && self.failed == 0
            && self.pending == 0
            && self.rejected == 0
            && self.annotations.ok()
    }

    /// Every span that ended and was meant to be sent: `accepted + rejected`, which is
    /// `delivered + failed + pending + rejected`.
    pub fn produced(&self) -> u64 {
        self.accepted + self.rejected
    }

    /// The report of a client that sends nothing (not initialised, or `enabled = false`).
    pub fn disabled() -> Self {
        DeliveryReport {
            last_failure: Some(FailureKind::Disabled),
            ..Default::default()
        }
    }
}

impl serde::Serialize for DeliveryReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("DeliveryReport", 12)?;
        st.serialize_field("accepted", &self.accepted)?;
        st.serialize_field("delivered", &self.delivered)?;
        st.serialize_field("failed", &self.failed)?;
        st.serialize_field("pending", &self.pending)?;
        st.serialize_field("rejected", &self.rejected)?;
        st.serialize_field("sampled_out", &self.sampled_out)?;
        st.serialize_field("timed_out", &self.timed_out)?;
        st.serialize_field("last_failure", &self.last_failure)?;
        st.serialize_field("retryable", &self.retryable)?;
        st.serialize_field("annotations", &self.annotations)?;
        st.serialize_field("destinations", &self.destinations)?;
        st.serialize_field("ok", &self.ok())?;
        st.end()
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;

    #[test]
    fn ok_means_nothing_failed_pending_rejected_or_timed_out() {
        assert!(DeliveryReport::default().ok());
        let mut r = DeliveryReport::default();
        r.sampled_out = 5;
        assert!(r.ok(), "sampling is not a failure");
        for f in [
            |r: &mut DeliveryReport| r.failed = 1,
            |r: &mut DeliveryReport| r.pending = 1,
            |r: &mut DeliveryReport| r.rejected = 1,
            |r: &mut DeliveryReport| r.timed_out = true,
        ] {
            let mut r = DeliveryReport::default();
            f(&mut r);
            assert!(!r.ok(), "{r:?}");
        }
    }

    #[test]
    fn serializes_with_contract_names_and_ok() {
        let mut r = DeliveryReport::default();
        r.accepted = 3;
        r.delivered = 2;
        r.failed = 1;
        r.last_failure = Some(FailureKind::RateLimited);
        let v = serde_json::to_value(&r).expect("serialize");
        assert_eq!(
            v,
            serde_json::json!({"accepted": 3, "delivered": 2, "failed": 1, "pending": 0,
                "rejected": 0, "sampled_out": 0, "timed_out": false,
                "last_failure": "rate_limited", "retryable": false,
                "annotations": {"accepted": 0, "delivered": 0, "failed": 0, "pending": 0,
                    "rejected": 0, "last_failure": null},
                "destinations": [],
                "ok": false})
        );
    }

    #[test]
    fn failure_kinds_round_trip_through_their_code() {
        for k in FailureKind::ALL {
            assert_eq!(FailureKind::from_code(k.code()), Some(*k));
        }
        assert_eq!(FailureKind::from_code(0), None);
        assert_eq!(FailureKind::from_code(200), None);
    }
}

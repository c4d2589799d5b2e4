//! What happened to the spans: the delivery report and the failure kinds of the contract.

use serde::Serialize;
use std::fmt;

/// Why a span or a batch was not delivered. The names are the contract's, so a report
/// reads the same from the Rust and the Python SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// Tracing is switched off (`enabled = false`) or no client is initialised.
    Disabled,
    /// A span ended after `shutdown`.
    Shutdown,
    /// The bounded queue was full; the span was dropped.
    QueueFull,
    /// 401: the API key was refused.
    InvalidKey,
    /// 402: the plan has expired.
    PlanExpired,
    /// 403: the key may not write to this workspace.
    Forbidden,
    /// 429: the service asked us to slow down.
    RateLimited,
    /// Another 4xx, or a 2xx whose acknowledgement did not match the request.
    MalformedResponse,
    /// 5xx: the service is down or overloaded.
    BackendUnavailable,
    /// The connection could not be made or was cut.
    NetworkUnavailable,
    /// The request took longer than its timeout.
    Timeout,
}

impl FailureKind {
    /// The contract's name of the kind, e.g. `"rate_limited"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Disabled => "disabled",
            FailureKind::Shutdown => "shutdown",
            FailureKind::QueueFull => "queue_full",
            FailureKind::InvalidKey => "invalid_key",
            FailureKind::PlanExpired => "plan_expired",
            FailureKind::Forbidden => "forbidden",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::MalformedResponse => "malformed_response",
            FailureKind::BackendUnavailable => "backend_unavailable",
            FailureKind::NetworkUnavailable => "network_unavailable",
            FailureKind::Timeout => "timeout",
        }
    }

    pub(crate) fn to_u8(self) -> u8 {
        self as u8 + 1
    }

    pub(crate) fn from_u8(v: u8) -> Option<FailureKind> {
        use FailureKind::*;
        const ALL: [FailureKind; 11] = [
            Disabled,
            Shutdown,
            QueueFull,
            InvalidKey,
            PlanExpired,
            Forbidden,
            RateLimited,
            MalformedResponse,
            BackendUnavailable,
            NetworkUnavailable,
            Timeout,
        ];
        ALL.get((v as usize).checked_sub(1)?).copied()
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An honest account of delivery, returned by `flush` and `shutdown`.
///
/// Counts are of spans (a root span's provisional copy is not counted separately).
/// `accepted = delivered + failed + pending`; spans refused at enqueue are `rejected`.
///
/// ```
/// # use staso_core::DeliveryReport;
/// let report = DeliveryReport::default();
/// assert!(report.ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Spans taken into the queue.
    pub accepted: u64,
    /// Spans the service acknowledged.
    pub delivered: u64,
    /// Spans given up on: a non-retryable answer, or dropped (oldest first) to stay within
    /// `max_queue_size` while the service was unreachable.
    pub failed: u64,
    /// Spans accepted but neither delivered nor failed yet.
    pub pending: u64,
    /// Spans refused at enqueue: queue full, or ended after shutdown.
    pub rejected: u64,
    /// The call returned because its timeout passed, not because the work was done.
    pub timed_out: bool,
    /// The most recent failure or rejection kind, if any.
    pub last_failure: Option<FailureKind>,
    /// Whether the last failure is of a kind that a retry may cure.
    pub retryable: bool,
}

impl Serialize for DeliveryReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("DeliveryReport", 9)?;
        st.serialize_field("accepted", &self.accepted)?;
        st.serialize_field("delivered", &self.delivered)?;
        st.serialize_field("failed", &self.failed)?;
        st.serialize_field("pending", &self.pending)?;
        st.serialize_field("rejected", &self.rejected)?;
        st.serialize_field("timed_out", &self.timed_out)?;
        st.serialize_field("last_failure", &self.last_failure)?;
        st.serialize_field("retryable", &self.retryable)?;
        st.serialize_field("ok", &self.ok())?;
        st.end()
    }
}

impl DeliveryReport {
    /// True when nothing failed, nothing is pending, nothing was rejected and the call did
    /// not time out.
    pub fn ok(&self) -> bool {
        !self.timed_out && self.failed == 0 && self.pending == 0 && self.rejected == 0
    }

    pub(crate) fn disabled() -> Self {
        DeliveryReport {
            last_failure: Some(FailureKind::Disabled),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_means_nothing_failed_pending_rejected_or_timed_out() {
        assert!(DeliveryReport::default().ok());
        for r in [
            DeliveryReport {
                failed: 1,
                ..Default::default()
            },
            DeliveryReport {
                pending: 1,
                ..Default::default()
            },
            DeliveryReport {
                rejected: 1,
                ..Default::default()
            },
            DeliveryReport {
                timed_out: true,
                ..Default::default()
            },
        ] {
            assert!(!r.ok(), "{r:?}");
        }
    }

    #[test]
    fn serializes_with_contract_names_and_ok() {
        let r = DeliveryReport {
            accepted: 3,
            delivered: 2,
            failed: 1,
            last_failure: Some(FailureKind::RateLimited),
            ..Default::default()
        };
        let v = serde_json::to_value(&r).expect("serialize");
        assert_eq!(
            v,
            serde_json::json!({"accepted": 3, "delivered": 2, "failed": 1, "pending": 0,
                "rejected": 0, "timed_out": false, "last_failure": "rate_limited",
                "retryable": false, "ok": false})
        );
    }

    #[test]
    fn failure_kinds_round_trip_through_their_counter_form() {
        for v in 1..=11u8 {
            let k = FailureKind::from_u8(v).expect("kind");
            assert_eq!(k.to_u8(), v);
        }
        assert_eq!(FailureKind::from_u8(0), None);
    }
}

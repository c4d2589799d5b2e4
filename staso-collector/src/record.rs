//! The requests the collector received, as tests read them: each with its headers,
//! body, answer and contract check, kept in arrival order within a body budget.

use crate::contract::ValidationError;
use crate::faults::Fault;
use hyper::body::Bytes;
use serde_json::Value;
use std::time::SystemTime;

/// The endpoints an SDK talks to; faults target one of them (see
/// [`crate::Faults::on`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /v1/traces/ingest`.
    #[default]
    Ingest,
    /// `POST /v1/traces/{trace_id}/annotations`.
    Annotations,
    /// `POST /v1/guard/evaluate`.
    Guard,
}

/// One request the collector received, whatever its outcome.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// When it was received.
    pub received_at: SystemTime,
    /// HTTP method.
    pub method: String,
    /// Request path (no query).
    pub path: String,
    /// The SDK endpoint it was sent to; `None` for the control endpoints.
    pub endpoint: Option<Endpoint>,
    /// Headers, lower-case names, in arrival order. The `x-api-key` value is redacted to
    /// `"<redacted>"`: see [`RecordedRequest::api_key_valid`].
    pub headers: Vec<(String, String)>,
    /// Whether `X-API-Key` matched the configured key (`None` when absent).
    pub api_key_valid: Option<bool>,
    /// The `Idempotency-Key` header, if sent.
    pub idempotency_key: Option<String>,
    /// The body parsed as JSON, if it was JSON and was kept (see
    /// [`RecordedRequest::body_forgotten`]).
    pub body: Option<Value>,
    /// The body was received but not kept, so [`RecordedRequest::body`] is `None` whatever
    /// it was: `record_bodies` is off, or it was among the oldest once the kept bodies
    /// exceeded `body_budget_bytes` (see [`crate::CollectorConfig`]).
    pub body_forgotten: bool,
    /// Body length in bytes (as read; a refused oversized body may be partial).
    pub body_len: usize,
    /// The status answered; `None` when no answer was sent (dropped, hung, stalled).
    pub status: Option<u16>,
    /// The fault that answered this request, if any (e.g. `Status(500)`, `Drop`).
    pub fault: Option<Fault>,
    /// What the contract check found wrong, if anything — filled in even when a fault
    /// answered instead, so tests can assert that every request an SDK sent was valid.
    pub validation_error: Option<ValidationError>,
    /// The Idempotency-Key was already stored: answered again, not stored again.
    pub replay: bool,
}

impl RecordedRequest {
    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The requests received, in arrival order (a snapshot: see [`crate::Collector::requests`]).
/// Derefs to a slice; the filters keep the requests of one endpoint.
///
/// ```no_run
/// # let c = staso_collector::Collector::start_blocking(Default::default())?;
/// let ingest = c.requests().ingest();
/// assert!(ingest.iter().all(|r| r.validation_error.is_none()));
/// assert_eq!(c.requests().guard().len(), 0);
/// # Ok::<(), staso_collector::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Requests(Vec<RecordedRequest>);

impl Requests {
    /// Only the requests sent to `endpoint`.
    pub fn on(self, endpoint: Endpoint) -> Requests {
        Requests(
            self.0
                .into_iter()
                .filter(|r| r.endpoint == Some(endpoint))
                .collect(),
        )
    }

    /// Only the ingest requests (`POST /v1/traces/ingest`).
    pub fn ingest(self) -> Requests {
        self.on(Endpoint::Ingest)
    }

    /// Only the guard requests (`POST /v1/guard/evaluate`).
    pub fn guard(self) -> Requests {
        self.on(Endpoint::Guard)
    }

    /// Only the annotation requests (`POST /v1/traces/{trace_id}/annotations`).
    pub fn annotations(self) -> Requests {
        self.on(Endpoint::Annotations)
    }
}

impl std::ops::Deref for Requests {
    type Target = [RecordedRequest];
    fn deref(&self) -> &[RecordedRequest] {
        &self.0
    }
}

impl IntoIterator for Requests {
    type Item = RecordedRequest;
    type IntoIter = std::vec::IntoIter<RecordedRequest>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Requests {
    type Item = &'a RecordedRequest;
    type IntoIter = std::slice::Iter<'a, RecordedRequest>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The recorded requests, and their raw bodies while they fit the budget.
#[derive(Default)]
pub(crate) struct Recorder {
    list: Vec<(RecordedRequest, Option<Bytes>)>,
    /// Total size of the bodies kept.
    body_bytes: usize,
    /// No entry before this one holds a body any more.
    oldest_body: usize,
}

impl Recorder {
    pub(crate) fn push(&mut self, mut r: RecordedRequest, body: Option<Bytes>, budget: usize) {
        r.seq = self.list.len() as u64 + 1;
        self.body_bytes += body.as_ref().map_or(0, Bytes::len);
        self.list.push((r, body));
        while self.body_bytes > budget && self.oldest_body < self.list.len() {
            let (r, body) = &mut self.list[self.oldest_body];
            if let Some(b) = body.take() {
                self.body_bytes -= b.len();
                r.body_forgotten = true;
            }
            self.oldest_body += 1;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn clear(&mut self) {
        *self = Recorder::default();
    }

    /// Every record with its kept body (cheap: the bodies are shared, not copied).
    pub(crate) fn snapshot(&self) -> Vec<(RecordedRequest, Option<Bytes>)> {
        self.list.clone()
    }
}

/// A snapshot's records, their kept bodies parsed as JSON.
pub(crate) fn with_bodies(records: Vec<(RecordedRequest, Option<Bytes>)>) -> Requests {
    Requests(
        records
            .into_iter()
            .map(|(mut r, body)| {
                r.body = body.and_then(|b| serde_json::from_slice(&b).ok());
                r
            })
            .collect(),
    )
}
